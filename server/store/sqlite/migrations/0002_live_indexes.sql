-- Schema version 2: index only the live deliveries (queued or sent).
--
-- Acked and expired rows, which are nearly all of them, leave the
-- indexes: acking a broadcast recipient then writes one row in the
-- primary key, next to the broadcast's other rows, instead of also one
-- entry at a random place in a per-user index. What reads by user reads
-- live rows only (Pending: queued; Unsent: sent). Deleting an account
-- now scans the deliveries for its rows (ON DELETE CASCADE), which is
-- rare and was the price of keeping every row indexed by user.

DROP INDEX deliveries_user_state;
DROP INDEX deliveries_state;

CREATE INDEX deliveries_queued ON deliveries (username) WHERE state = 'queued';
CREATE INDEX deliveries_sent ON deliveries (username) WHERE state = 'sent';
CREATE INDEX deliveries_live ON deliveries (state, notification_id)
	WHERE state IN ('queued', 'sent');
