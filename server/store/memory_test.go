package store_test

import (
	"testing"

	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return store.NewMemory() })
}
