-- Schema version 1: the notification history of one desktop user.
-- Times are Unix nanoseconds.

-- One row per notification shown. The rowid (seq) is the insertion order
-- and breaks ties between entries received in the same nanosecond.
CREATE TABLE entries (
	seq        INTEGER PRIMARY KEY,
	dedupe_key TEXT NOT NULL UNIQUE, -- notification.DedupeKey(), or random
	id         TEXT NOT NULL,
	title      TEXT NOT NULL,
	message    TEXT NOT NULL,
	uri        TEXT NOT NULL,
	uri_unsafe INTEGER NOT NULL CHECK (uri_unsafe IN (0, 1)),
	sender     TEXT NOT NULL,
	kind       TEXT NOT NULL,
	received   INTEGER NOT NULL,
	is_read    INTEGER NOT NULL DEFAULT 0 CHECK (is_read IN (0, 1)),
	-- title, message, uri and sender lower-cased by the program, one per
	-- line: searched with LIKE, so that search ignores case beyond ASCII.
	search     TEXT NOT NULL
) STRICT;

-- Newest first, and retention by age and by count.
CREATE INDEX entries_received ON entries (received, seq);
-- The unread filter and "mark all read".
CREATE INDEX entries_unread ON entries (received, seq) WHERE is_read = 0;

-- Keys the user deleted (Delete, Clear), so that a redelivery of a deleted
-- notification is still a duplicate. Kept as long as entries are (MaxAge,
-- MaxEntries).
CREATE TABLE tombstones (
	dedupe_key TEXT PRIMARY KEY NOT NULL,
	deleted    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX tombstones_deleted ON tombstones (deleted);

-- Exactly one row. version changes with every change to entries (another
-- process polls it to notice them); entries and unread are the counts,
-- kept by the triggers below so that retention and the unread badge need
-- no scan.
CREATE TABLE meta (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	version INTEGER NOT NULL,
	entries INTEGER NOT NULL,
	unread  INTEGER NOT NULL
) STRICT;

INSERT INTO meta (one, version, entries, unread) VALUES (1, 0, 0, 0);

CREATE TRIGGER entries_insert AFTER INSERT ON entries BEGIN
	UPDATE meta SET version = version + 1, entries = entries + 1,
		unread = unread + (NEW.is_read = 0);
END;

CREATE TRIGGER entries_delete AFTER DELETE ON entries BEGIN
	UPDATE meta SET version = version + 1, entries = entries - 1,
		unread = unread - (OLD.is_read = 0);
END;

CREATE TRIGGER entries_update AFTER UPDATE ON entries BEGIN
	UPDATE meta SET version = version + 1,
		unread = unread + (NEW.is_read = 0) - (OLD.is_read = 0);
END;
