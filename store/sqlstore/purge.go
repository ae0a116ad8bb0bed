package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// purgeBatch bounds the rows one purge transaction deletes (expired
// sessions and assertion IDs, old audit events). A purge of a million rows
// (say every session of an organization, expired at once) is then many
// short transactions, between which the writer runs everybody else's
// writes, instead of one that holds it for seconds.
const purgeBatch = 2000

// deleteInBatches runs del, a DELETE of at most LIMIT rows whose last
// parameter is that limit, with args and the store's purge batch, each run
// in a transaction of its own, until a run deletes fewer than the batch. It
// returns the rows deleted, also when a later run fails.
func (s *Store) deleteInBatches(ctx context.Context, name, del string, args ...any) (int, error) {
	args = append(args, s.purgeBatch)
	total := 0
	for {
		var n int64
		err := s.write(ctx, name, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
			res, err := tx.ExecContext(ctx, del, args...)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			n, err = affected(res)
			return err
		})
		total += int(n)
		if err != nil || n < int64(s.purgeBatch) {
			return total, err
		}
	}
}
