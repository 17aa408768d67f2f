// Package storetest is the conformance suite for store.Store
// implementations: [Run] checks the behaviour that package store
// documents (accounts, the delivery state machine, broadcasts stored
// once, TTL expiry, history search and paging, tokens) against any
// implementation, so store.Memory and store/sqlite are held to the same
// contract.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory() })
//	}
//
// Times are passed explicitly: nothing in the suite sleeps or reads the
// clock.
package storetest
