package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xpush/xpush/server/store"
)

// CreateAPIToken implements store.Tokens.
func (db *DB) CreateAPIToken(ctx context.Context, t store.Token) error {
	if t.Name == "" || len(t.Hash) == 0 {
		return fmt.Errorf("sqlite: API token needs a name and a hash: %w", store.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx,
		`INSERT INTO api_tokens (name, hash, created, expires) VALUES (?, ?, ?, ?)`,
		t.Name, t.Hash, ns(t.Created), ns(t.Expires))
	if isUnique(err) {
		return fmt.Errorf("sqlite: API token %q: %w", t.Name, store.ErrExists)
	}
	return wrap("create API token", err)
}

func scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var created, expires, used int64
	err := row.Scan(&t.Name, &t.Hash, &created, &expires, &used)
	t.Created, t.Expires, t.Used = fromNS(created), fromNS(expires), used != 0
	return t, err
}

// APIToken implements store.Tokens.
func (db *DB) APIToken(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(db.st.apiToken.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, fmt.Errorf("sqlite: API token: %w", store.ErrNotFound)
	}
	return t, wrap("API token", err)
}

// ListAPITokens implements store.Tokens.
func (db *DB) ListAPITokens(ctx context.Context) ([]store.Token, error) {
	return db.tokens(ctx, "list API tokens",
		`SELECT name, hash, created, expires, 0 FROM api_tokens ORDER BY name`)
}

func (db *DB) tokens(ctx context.Context, op, query string) ([]store.Token, error) {
	rows, err := db.r.QueryContext(ctx, query)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	out := []store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, t)
	}
	return out, wrap(op, rows.Err())
}

// RevokeAPIToken implements store.Tokens.
func (db *DB) RevokeAPIToken(ctx context.Context, name string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM api_tokens WHERE name = ?`, name)
	return affected(fmt.Sprintf("API token %q", name), res, err)
}

// CreateInvite implements store.Tokens.
func (db *DB) CreateInvite(ctx context.Context, t store.Token) error {
	if len(t.Hash) == 0 {
		return fmt.Errorf("sqlite: invite needs a hash: %w", store.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx,
		`INSERT INTO invites (hash, name, created, expires) VALUES (?, ?, ?, ?)`,
		t.Hash, t.Name, ns(t.Created), ns(t.Expires))
	if isUnique(err) {
		return fmt.Errorf("sqlite: invite %q: %w", t.Name, store.ErrExists)
	}
	return wrap("create invite", err)
}

// UseInvite implements store.Tokens.
func (db *DB) UseInvite(ctx context.Context, hash []byte, now time.Time) error {
	at := max(ns(now), 1) // 0 means unused
	res, err := db.w.ExecContext(ctx, `UPDATE invites SET used = ?1
		WHERE hash = ?2 AND used = 0 AND (expires = 0 OR expires > ?3)`,
		at, hash, ns(now))
	return affected("invite (unknown, used or expired)", res, err)
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
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, adminHashKey).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: admin password: %w", store.ErrNotFound)
	}
	return h, wrap("admin password", err)
}

// SetAdminHash implements store.Tokens.
func (db *DB) SetAdminHash(ctx context.Context, hash []byte) error {
	if len(hash) == 0 {
		return fmt.Errorf("sqlite: empty admin password hash: %w", store.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, adminHashKey, hash)
	return wrap("set admin password", err)
}
