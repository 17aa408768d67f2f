package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql from fsys; the numbers
// must run 1, 2, 3... without gaps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	var ms []migration
	for _, file := range files {
		base := path.Base(file)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("postgres: migration %s: name is not NNNN_name.sql", base)
		}
		text, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("postgres: migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(text)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations the schema lacks, each in its own
// transaction together with the version bump. Each transaction holds the
// store's advisory lock exclusively and reads the version again under
// it, so that two xpushd starting at once on a new schema do not both
// apply a migration, and no store operation runs half-way through one.
func (db *DB) migrate(ctx context.Context) error {
	return db.migrateFS(ctx, migrationFiles)
}

func (db *DB) migrateFS(ctx context.Context, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	for {
		var done bool
		err := db.write(ctx, "migrate", exclusiveLock, func(tx pgx.Tx) error {
			var err error
			done, err = migrateOne(ctx, tx, ms)
			return err
		})
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, tx pgx.Tx, ms []migration) (done bool, err error) {
	// One row: the number of migrations applied.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version integer NOT NULL,
		only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row)
	)`); err != nil {
		return false, fmt.Errorf("schema_version: %w", err)
	}
	var v int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if err == pgx.ErrNoRows {
		v = 0
	} else if err != nil {
		return false, fmt.Errorf("schema_version: %w", err)
	}
	switch {
	case v > len(ms):
		var schema string
		_ = tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema)
		return false, fmt.Errorf("%w: schema %q has version %d, this program knows versions up to %d; use a newer xpushd",
			ErrNewerSchema, schema, v, len(ms))
	case v == len(ms):
		return true, nil
	}
	m := ms[v]
	// No arguments: the simple protocol, which runs a file of several
	// statements.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)
		ON CONFLICT (only_row) DO UPDATE SET version = excluded.version`, m.version); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	return false, nil
}
