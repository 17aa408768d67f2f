// Package store is xpushd's persistence: accounts with their SCRAM keys,
// notifications with a delivery state per recipient, API and invite
// tokens, and the console's admin password hash.
//
// [Store] is the interface the server holds; [Memory] implements it in
// memory for tests and for runs that keep nothing, and package
// store/sqlite on an embedded SQLite database (modernc.org/sqlite, no
// cgo) in WAL mode. Both pass the same conformance suite,
// storetest.Run.
//
// Delivery model. A notification is stored once, with either an explicit
// recipient list or Broadcast set. A directed notification gets one
// delivery row per recipient, created queued. A broadcast gets none up
// front: it is pending for every account that existed when it was sent
// (created no later than it) and has no delivery row for it yet; the row
// appears when it is first sent or acked. So a broadcast to 100,000
// users is one row, and each user's state is exact once it has been
// touched.
//
// States move queued → sent → acked, or to expired once the notification's
// TTL passes without an ack. A sent notification goes back to being
// pending when the user's last session ends without an ack (Unsent), so
// it is redelivered on the next login; at startup the server calls
// UnsentAll, since no session survives a restart. Pending also hides a
// notification whose Expires has passed before Expire has run. Expire
// records on a broadcast that it has expired, which turns its untouched
// recipients expired too.
//
// Deleting an account deletes its deliveries. Times are explicit
// arguments (at, now): the store never reads the clock.
package store
