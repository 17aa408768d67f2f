-- Schema version 2: delivery claims with leases, for several xpushd
-- sharing the database (claims.go).
--
-- A delivery in state 'sent' with an owner and a lease was claimed by
-- that xpushd instance until lease_until: no other instance claims it
-- before then. Once the lease has passed (the instance died, or lost the
-- database), any instance may claim it again. 'sent' without a lease
-- (lease_until = 0) is the single-server MarkSent, which never lapses:
-- Unsent and UnsentAll put it back to queued.

ALTER TABLE deliveries
	ADD COLUMN owner text COLLATE "C",
	ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;

-- Renew and Release find an instance's claims.
CREATE INDEX deliveries_owned ON deliveries (owner)
	WHERE state = 'sent' AND owner IS NOT NULL;
-- Reclaim finds the lapsed leases, oldest first.
CREATE INDEX deliveries_leases ON deliveries (lease_until)
	WHERE state = 'sent' AND lease_until != 0;
