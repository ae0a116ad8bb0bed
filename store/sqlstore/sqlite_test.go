package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// TestSQLite runs the conformance suite on real SQLite files, as production uses
// them (WAL, locking and fsync included).
func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "onramp.db"), nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}, storetest.Capabilities{Parallel: true})
}
