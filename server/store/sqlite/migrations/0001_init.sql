-- Schema version 1: accounts, notifications with per-recipient deliveries,
-- API tokens, invites and settings. Times are Unix nanoseconds (UTC);
-- 0 stands for "unset" (no expiry, not expired, unused).

CREATE TABLE users (
	name              TEXT PRIMARY KEY NOT NULL, -- PRECIS-normalized by the server
	sha1_salt         BLOB,
	sha1_iters        INTEGER NOT NULL DEFAULT 0,
	sha1_stored_key   BLOB,
	sha1_server_key   BLOB,
	sha256_salt       BLOB,
	sha256_iters      INTEGER NOT NULL DEFAULT 0,
	sha256_stored_key BLOB,
	sha256_server_key BLOB,
	legacy            TEXT NOT NULL DEFAULT '',
	created           INTEGER NOT NULL
) STRICT;

-- Broadcast recipients are the accounts created no later than the broadcast.
CREATE INDEX users_created ON users (created);

CREATE TABLE notifications (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT, -- delivery order, never reused
	id        TEXT NOT NULL UNIQUE,
	title     TEXT NOT NULL,
	message   TEXT NOT NULL,
	uri       TEXT NOT NULL,
	broadcast INTEGER NOT NULL CHECK (broadcast IN (0, 1)),
	sender    TEXT NOT NULL,
	created   INTEGER NOT NULL,
	expires   INTEGER NOT NULL DEFAULT 0, -- 0: never
	expired   INTEGER NOT NULL DEFAULT 0, -- when Expire passed it; 0: not yet
	-- For a broadcast: how many accounts created no later than it have no
	-- delivery row yet. Kept up to date by every statement that adds or
	-- removes such an account or row, so that counting the queue does not
	-- scan the accounts.
	untouched INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Pending and QueueDepth walk the live broadcasts in delivery order.
CREATE INDEX notifications_live_broadcasts ON notifications (seq)
	WHERE broadcast = 1 AND expired = 0;
-- Creating or deleting an account adjusts the broadcasts since its creation.
CREATE INDEX notifications_broadcasts ON notifications (created)
	WHERE broadcast = 1;
CREATE INDEX notifications_expiring ON notifications (expires)
	WHERE expired = 0 AND expires != 0;

-- One row per recipient of a directed notification, created queued; for a
-- broadcast, a row appears only once a recipient has been touched.
CREATE TABLE deliveries (
	notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
	username        TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	state           TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'acked', 'expired')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	updated         INTEGER NOT NULL,
	PRIMARY KEY (notification_id, username)
) STRICT, WITHOUT ROWID;

CREATE INDEX deliveries_user_state ON deliveries (username, state);
CREATE INDEX deliveries_state ON deliveries (state, notification_id);

CREATE TABLE api_tokens (
	name    TEXT PRIMARY KEY NOT NULL,
	hash    BLOB NOT NULL UNIQUE, -- SHA-256 of the token
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE invites (
	hash    BLOB PRIMARY KEY NOT NULL, -- SHA-256 of the invite
	name    TEXT NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL DEFAULT 0,
	used    INTEGER NOT NULL DEFAULT 0 -- when it was used; 0: unused
) STRICT;

CREATE TABLE settings (
	key   TEXT PRIMARY KEY NOT NULL, -- 'admin_hash'
	value BLOB NOT NULL
) STRICT;
