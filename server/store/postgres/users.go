package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xpush/xpush/server/store"
)

const userColumns = `name,
	sha1_salt, sha1_iters, sha1_stored_key, sha1_server_key,
	sha256_salt, sha256_iters, sha256_stored_key, sha256_server_key,
	legacy, created`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var created int64
	err := row.Scan(&u.Name,
		&u.SHA1.Salt, &u.SHA1.Iters, &u.SHA1.StoredKey, &u.SHA1.ServerKey,
		&u.SHA256.Salt, &u.SHA256.Iters, &u.SHA256.StoredKey, &u.SHA256.ServerKey,
		&u.Legacy, &created)
	u.Created = fromNS(created)
	return u, err
}

// CreateUser implements store.Users. An account created no later than
// an existing broadcast (a back-dated import) becomes its recipient.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	if u.Name == "" || u.Created.IsZero() {
		return fmt.Errorf("postgres: user needs a name and a creation time: %w", store.ErrInvalid)
	}
	return db.write(ctx, "create user", exclusiveLock, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (`+userColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			u.Name,
			u.SHA1.Salt, u.SHA1.Iters, u.SHA1.StoredKey, u.SHA1.ServerKey,
			u.SHA256.Salt, u.SHA256.Iters, u.SHA256.StoredKey, u.SHA256.ServerKey,
			u.Legacy, ns(u.Created))
		if isUnique(err) {
			return fmt.Errorf("postgres: user %q: %w", u.Name, store.ErrExists)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE notifications SET untouched = untouched + 1
			WHERE broadcast AND created >= $1`, ns(u.Created))
		return err
	})
}

// User implements store.Users.
func (db *DB) User(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, fmt.Errorf("postgres: user %q: %w", name, store.ErrNotFound)
	}
	return u, wrap("user", err)
}

// DeleteUser implements store.Users; the user's deliveries go with it.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	return db.write(ctx, "delete user", exclusiveLock, func(tx pgx.Tx) error {
		var created int64
		err := tx.QueryRow(ctx, `SELECT created FROM users WHERE name = $1`, name).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: user %q: %w", name, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE notifications AS n SET untouched = n.untouched - 1
			WHERE n.broadcast AND n.created >= $1 AND NOT EXISTS (SELECT 1 FROM deliveries AS d
				WHERE d.notification_id = n.id AND d.username = $2)`, created, name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM deliveries WHERE username = $1`, name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM users WHERE name = $1`, name)
		return err
	})
}

// SetCredentials implements store.Users.
func (db *DB) SetCredentials(ctx context.Context, name string, sha1, sha256 store.Credentials, legacy string) error {
	n, err := db.exec(ctx, "set credentials", `UPDATE users SET
		sha1_salt = $1, sha1_iters = $2, sha1_stored_key = $3, sha1_server_key = $4,
		sha256_salt = $5, sha256_iters = $6, sha256_stored_key = $7, sha256_server_key = $8,
		legacy = $9
		WHERE name = $10`,
		sha1.Salt, sha1.Iters, sha1.StoredKey, sha1.ServerKey,
		sha256.Salt, sha256.Iters, sha256.StoredKey, sha256.ServerKey,
		legacy, name)
	if err == nil && n == 0 {
		err = fmt.Errorf("postgres: user %q: %w", name, store.ErrNotFound)
	}
	return err
}

// ListUsers implements store.Users.
func (db *DB) ListUsers(ctx context.Context, p store.Page) ([]store.User, error) {
	lim, off := limit(p)
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE $1 = '' OR name ILIKE $2
		ORDER BY name LIMIT $3 OFFSET $4`,
		p.Query, like(p.Query), lim, off)
	if err != nil {
		return nil, wrap("list users", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.User, error) { return scanUser(r) })
	if users == nil {
		users = []store.User{}
	}
	return users, wrap("list users", err)
}

// CountUsers implements store.Users.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, wrap("count users", err)
}
