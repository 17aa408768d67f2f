package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql from fsys (none if fsys
// is nil); the numbers must run 1, 2, 3... without gaps. Errors begin
// with name.
func loadMigrations(name string, fsys fs.FS) ([]migration, error) {
	if fsys == nil {
		return nil, nil
	}
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("%s: migrations: %w", name, err)
	}
	var ms []migration
	for _, file := range files {
		base := path.Base(file)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("%s: migration %s: name is not NNNN_name.sql", name, base)
		}
		text, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("%s: migration %s: %w", name, base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(text)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("%s: migration %s: expected version %d", name, m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations db (at path) lacks, one transaction
// each. Each transaction reads the version again under the write lock,
// so two processes opening a new database at once do not both apply a
// migration.
func migrate(ctx context.Context, db *sql.DB, path string, o *Options, ms []migration) error {
	for {
		done, err := migrateOne(ctx, db, path, o, ms)
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, db *sql.DB, path string, o *Options, ms []migration) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil) // IMMEDIATE: holds the write lock
	if err != nil {
		return false, o.dbErr(path, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, o.dbErr(path, err)
	}
	switch {
	case v > len(ms):
		return false, fmt.Errorf("%w: %s has schema version %d, this program knows versions up to %d; use a newer %s",
			o.NewerSchema, path, v, len(ms), o.Program)
	case v == len(ms):
		return true, nil
	}
	m := ms[v]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, o.dbErr(path, fmt.Errorf("migration %s: %w", m.name, err))
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return false, o.dbErr(path, fmt.Errorf("migration %s: %w", m.name, err))
	}
	if err := tx.Commit(); err != nil {
		return false, o.dbErr(path, fmt.Errorf("migration %s: %w", m.name, err))
	}
	return false, nil
}
