package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/xpush/xpush/server/store"
)

const userColumns = `name,
	sha1_salt, sha1_iters, sha1_stored_key, sha1_server_key,
	sha256_salt, sha256_iters, sha256_stored_key, sha256_server_key,
	legacy, created`

func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
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
		return fmt.Errorf("sqlite: user needs a name and a creation time: %w", store.ErrInvalid)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.Name,
			u.SHA1.Salt, u.SHA1.Iters, u.SHA1.StoredKey, u.SHA1.ServerKey,
			u.SHA256.Salt, u.SHA256.Iters, u.SHA256.StoredKey, u.SHA256.ServerKey,
			u.Legacy, ns(u.Created))
		if isUnique(err) {
			return fmt.Errorf("sqlite: user %q: %w", u.Name, store.ErrExists)
		}
		if err != nil {
			return wrap("create user", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE notifications SET untouched = untouched + 1
			WHERE broadcast = 1 AND created >= ?`, ns(u.Created))
		return wrap("create user", err)
	})
}

// User implements store.Users.
func (db *DB) User(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(db.st.user.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, fmt.Errorf("sqlite: user %q: %w", name, store.ErrNotFound)
	}
	return u, wrap("user", err)
}

// DeleteUser implements store.Users; the user's deliveries go with it
// (ON DELETE CASCADE).
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	return db.writeTx(ctx, func(tx *wtx) error {
		created, err := userCreated(ctx, tx.stmt(db.st.userCreated), name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notifications AS n SET untouched = untouched - 1
			WHERE n.broadcast = 1 AND n.created >= ?1 AND NOT EXISTS (SELECT 1 FROM deliveries AS d
				WHERE d.notification_id = n.id AND d.username = ?2)`, created, name); err != nil {
			return wrap("delete user", err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
		return wrap("delete user", err)
	})
}

// affected turns "no row changed" into ErrNotFound.
func affected(what string, res sql.Result, err error) error {
	if err != nil {
		return wrap(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(what, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", what, store.ErrNotFound)
	}
	return nil
}

// SetCredentials implements store.Users.
func (db *DB) SetCredentials(ctx context.Context, name string, sha1, sha256 store.Credentials, legacy string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE users SET
		sha1_salt = ?, sha1_iters = ?, sha1_stored_key = ?, sha1_server_key = ?,
		sha256_salt = ?, sha256_iters = ?, sha256_stored_key = ?, sha256_server_key = ?,
		legacy = ?
		WHERE name = ?`,
		sha1.Salt, sha1.Iters, sha1.StoredKey, sha1.ServerKey,
		sha256.Salt, sha256.Iters, sha256.StoredKey, sha256.ServerKey,
		legacy, name)
	return affected(fmt.Sprintf("user %q", name), res, err)
}

// ListUsers implements store.Users.
func (db *DB) ListUsers(ctx context.Context, p store.Page) ([]store.User, error) {
	lim, off := limit(p)
	rows, err := db.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE ?1 = '' OR name LIKE ?2 ESCAPE '\'
		ORDER BY name LIMIT ?3 OFFSET ?4`,
		p.Query, like(p.Query), lim, off)
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	users := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		users = append(users, u)
	}
	return users, wrap("list users", rows.Err())
}

// CountUsers implements store.Users.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, wrap("count users", err)
}
