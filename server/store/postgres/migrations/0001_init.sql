-- Schema version 1: accounts, notifications with per-recipient deliveries,
-- API tokens, invites and settings; the same tables and meaning as the
-- SQLite store's (server/store/sqlite/migrations, versions 1 and 2).
-- Times are Unix nanoseconds (UTC), bigint: timestamptz keeps only
-- microseconds, and the store returns times to the nanosecond. 0 stands
-- for "unset" (no expiry, not expired, unused). Text is COLLATE "C": names
-- sort and compare byte by byte, and ILIKE folds ASCII letters only, as in
-- SQLite, whatever the database's locale.

CREATE TABLE users (
	name              text COLLATE "C" PRIMARY KEY, -- PRECIS-normalized by the server
	sha1_salt         bytea,
	sha1_iters        integer NOT NULL DEFAULT 0,
	sha1_stored_key   bytea,
	sha1_server_key   bytea,
	sha256_salt       bytea,
	sha256_iters      integer NOT NULL DEFAULT 0,
	sha256_stored_key bytea,
	sha256_server_key bytea,
	legacy            text COLLATE "C" NOT NULL DEFAULT '',
	created           bigint NOT NULL
);

-- Broadcast recipients are the accounts created no later than the broadcast.
CREATE INDEX users_created ON users (created);

CREATE TABLE notifications (
	seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- delivery order, never reused
	id        text COLLATE "C" NOT NULL UNIQUE,
	title     text COLLATE "C" NOT NULL,
	message   text COLLATE "C" NOT NULL,
	uri       text COLLATE "C" NOT NULL,
	broadcast boolean NOT NULL,
	sender    text COLLATE "C" NOT NULL,
	created   bigint NOT NULL,
	expires   bigint NOT NULL DEFAULT 0, -- 0: never
	expired   bigint NOT NULL DEFAULT 0, -- when Expire passed it; 0: not yet
	-- For a broadcast: how many accounts created no later than it have no
	-- delivery row yet. Kept up to date by every statement that adds or
	-- removes such an account or row, so that counting the queue does not
	-- scan the accounts.
	untouched bigint NOT NULL DEFAULT 0
);

-- Pending and QueueDepth walk the live broadcasts in delivery order.
CREATE INDEX notifications_live_broadcasts ON notifications (seq)
	WHERE broadcast AND expired = 0;
-- Creating or deleting an account adjusts the broadcasts since its creation.
CREATE INDEX notifications_broadcasts ON notifications (created)
	WHERE broadcast;
CREATE INDEX notifications_expiring ON notifications (expires)
	WHERE expired = 0 AND expires != 0;

-- One row per recipient of a directed notification, created queued; for a
-- broadcast, a row appears only once a recipient has been touched.
--
-- No foreign keys: their checks, a lookup and a row lock in users and in
-- notifications for every row inserted, were half the cost of recording
-- a broadcast's deliveries. The store keeps the references itself: rows
-- are inserted only for a notification and an account that the same
-- statement finds, under the advisory lock that keeps DeleteUser out
-- (doc.go), and DeleteUser deletes the account's rows; notifications are
-- never deleted.
CREATE TABLE deliveries (
	notification_id text COLLATE "C" NOT NULL,
	username        text COLLATE "C" NOT NULL,
	state           text COLLATE "C" NOT NULL CHECK (state IN ('queued', 'sent', 'acked', 'expired')),
	attempts        integer NOT NULL DEFAULT 0,
	updated         bigint NOT NULL,
	PRIMARY KEY (notification_id, username)
);

-- Only the live deliveries (queued or sent) are indexed beyond the primary
-- key: acked and expired rows, nearly all of them, cost one index entry.
-- What reads by user reads live rows only (Pending: queued; Unsent: sent).
-- Deleting an account scans the deliveries for its rows, which is rare.
CREATE INDEX deliveries_queued ON deliveries (username) WHERE state = 'queued';
CREATE INDEX deliveries_sent ON deliveries (username) WHERE state = 'sent';
CREATE INDEX deliveries_live ON deliveries (state, notification_id)
	WHERE state IN ('queued', 'sent');

CREATE TABLE api_tokens (
	name    text COLLATE "C" PRIMARY KEY,
	hash    bytea NOT NULL UNIQUE, -- SHA-256 of the token
	created bigint NOT NULL,
	expires bigint NOT NULL DEFAULT 0
);

CREATE TABLE invites (
	hash    bytea PRIMARY KEY, -- SHA-256 of the invite
	name    text COLLATE "C" NOT NULL,
	created bigint NOT NULL,
	expires bigint NOT NULL DEFAULT 0,
	used    bigint NOT NULL DEFAULT 0 -- when it was used; 0: unused
);

CREATE TABLE settings (
	key   text COLLATE "C" PRIMARY KEY, -- 'admin_hash'
	value bytea NOT NULL
);
