package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// UseAssertion records a SAML assertion ID as used on a connection until
// notOnOrAfter; ErrConflict if it was used before (a replay).
func (s *Store) UseAssertion(ctx context.Context, conn store.ConnectionID, id string, notOnOrAfter time.Time) error {
	if conn == "" || id == "" {
		return errors.New("sqlstore: use assertion: empty connection or assertion ID")
	}
	return s.write(ctx, "sqlstore: use assertion", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, s.q.insertAssertion, string(conn), id, micros(stamp(notOnOrAfter)))
		return s.d.classify(err, fmt.Sprintf("sqlstore: use assertion on connection %s", conn))
	})
}

// PurgeAssertions forgets the assertion IDs whose NotOnOrAfter is at or before now
// and returns how many.
func (s *Store) PurgeAssertions(ctx context.Context, now time.Time) (int, error) {
	return s.deleteInBatches(ctx, "sqlstore: purge assertions", s.q.purgeAssertions, micros(stamp(now)))
}
