// Package delivery is xpushd's store-and-forward engine. A [Hub] takes
// each accepted notification (already durable in the store) to every
// online session of its recipients, records sent and acked states, puts
// unacknowledged ones back in the queue when a session ends, flushes a
// user's queue when one of their sessions comes online, and expires
// notifications whose TTL passed.
//
// The hub owns a fixed set of worker goroutines fed by bounded queues;
// Run starts them and returns when its context ends and they have
// stopped. c2s calls Bound, Unbound, Acked and Nacked from connection
// goroutines; those only enqueue work and never wait on the network.
package delivery
