package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xpush/xpush/server/store"
)

// CreateAPIToken implements store.Tokens.
func (db *DB) CreateAPIToken(ctx context.Context, t store.Token) error {
	if t.Name == "" || len(t.Hash) == 0 {
		return fmt.Errorf("postgres: API token needs a name and a hash: %w", store.ErrInvalid)
	}
	_, err := db.pool.Exec(ctx,
		`INSERT INTO api_tokens (name, hash, created, expires) VALUES ($1, $2, $3, $4)`,
		t.Name, t.Hash, ns(t.Created), ns(t.Expires))
	if isUnique(err) {
		return fmt.Errorf("postgres: API token %q: %w", t.Name, store.ErrExists)
	}
	return wrap("create API token", err)
}

func scanToken(row pgx.Row) (store.Token, error) {
	var t store.Token
	var created, expires, used int64
	err := row.Scan(&t.Name, &t.Hash, &created, &expires, &used)
	t.Created, t.Expires, t.Used = fromNS(created), fromNS(expires), used != 0
	return t, err
}

// APIToken implements store.Tokens.
func (db *DB) APIToken(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(db.pool.QueryRow(ctx,
		`SELECT name, hash, created, expires, 0::bigint FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Token{}, fmt.Errorf("postgres: API token: %w", store.ErrNotFound)
	}
	return t, wrap("API token", err)
}

// ListAPITokens implements store.Tokens.
func (db *DB) ListAPITokens(ctx context.Context) ([]store.Token, error) {
	return db.tokens(ctx, "list API tokens",
		`SELECT name, hash, created, expires, 0::bigint FROM api_tokens ORDER BY name`)
}

func (db *DB) tokens(ctx context.Context, op, query string) ([]store.Token, error) {
	rows, err := db.pool.Query(ctx, query)
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Token, error) { return scanToken(r) })
	if out == nil {
		out = []store.Token{}
	}
	return out, wrap(op, err)
}

// RevokeAPIToken implements store.Tokens.
func (db *DB) RevokeAPIToken(ctx context.Context, name string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM api_tokens WHERE name = $1`, name)
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: API token %q: %w", name, store.ErrNotFound)
	}
	return wrap("revoke API token", err)
}

// CreateInvite implements store.Tokens.
func (db *DB) CreateInvite(ctx context.Context, t store.Token) error {
	if len(t.Hash) == 0 {
		return fmt.Errorf("postgres: invite needs a hash: %w", store.ErrInvalid)
	}
	_, err := db.pool.Exec(ctx,
		`INSERT INTO invites (hash, name, created, expires) VALUES ($1, $2, $3, $4)`,
		t.Hash, t.Name, ns(t.Created), ns(t.Expires))
	if isUnique(err) {
		return fmt.Errorf("postgres: invite %q: %w", t.Name, store.ErrExists)
	}
	return wrap("create invite", err)
}

// UseInvite implements store.Tokens. Of concurrent uses, the row lock
// lets one through; the others find it used.
func (db *DB) UseInvite(ctx context.Context, hash []byte, now time.Time) error {
	at := max(ns(now), 1) // 0 means unused
	tag, err := db.pool.Exec(ctx, `UPDATE invites SET used = $1
		WHERE hash = $2 AND used = 0 AND (expires = 0 OR expires > $3)`,
		at, hash, ns(now))
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: invite (unknown, used or expired): %w", store.ErrNotFound)
	}
	return wrap("use invite", err)
}

// ListInvites implements store.Tokens.
func (db *DB) ListInvites(ctx context.Context) ([]store.Token, error) {
	return db.tokens(ctx, "list invites",
		`SELECT name, hash, created, expires, used FROM invites ORDER BY created, name, hash`)
}

const adminHashKey = "admin_hash"

// AdminHash implements store.Tokens.
func (db *DB) AdminHash(ctx context.Context) ([]byte, error) {
	var h []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, adminHashKey).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: admin password: %w", store.ErrNotFound)
	}
	return h, wrap("admin password", err)
}

// SetAdminHash implements store.Tokens.
func (db *DB) SetAdminHash(ctx context.Context, hash []byte) error {
	if len(hash) == 0 {
		return fmt.Errorf("postgres: empty admin password hash: %w", store.ErrInvalid)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, adminHashKey, hash)
	return wrap("set admin password", err)
}
