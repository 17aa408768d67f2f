// Package store is xpushd's persistence: accounts with their SCRAM keys,
// notifications with a delivery state per recipient, API and invite
// tokens, and the console's admin password hash.
//
// [Store] is the interface the server holds; [Memory] implements it in
// memory for tests, and package store/sqlite on an embedded SQLite
// database (modernc.org/sqlite, no cgo) in WAL mode. Both pass the same
// conformance suite, storetest.Run.
//
// Delivery model. A notification is stored once, with either an explicit
// recipient list or Broadcast set. A directed notification gets one
// delivery row per recipient, created queued. A broadcast gets none up
// front: it is pending for every account that existed when it was sent
// (created before it) and has no delivery row for it yet; the row appears
// when it is first sent. So a broadcast to 100,000 users is one row, and
// each user's state is exact once it has been touched.
//
// States move queued → sent → acked, or to expired once the notification's
// TTL passes without an ack. A sent notification goes back to being
// pending when its session ends without an ack (Unsent), so it is
// redelivered on the next login.
package store
