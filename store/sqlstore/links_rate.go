package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// CountRate counts one event in a fixed-window bucket in a single statement
// (an upsert), so that concurrent counters on any number of replicas neither
// lose a count nor start two windows: the unique key serialises them on both
// engines. A window that has ended restarts at now.
func (s *Store) CountRate(ctx context.Context, bucket string, window time.Duration, now time.Time) (store.RateCount, error) {
	if bucket == "" || window <= 0 {
		return store.RateCount{}, errors.New("sqlstore: count rate: empty bucket or window")
	}
	at := stamp(now)
	end := micros(at.Add(window))
	var (
		count    int
		resetEnd int64
	)
	err := s.write(ctx, "sqlstore: count rate", func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		// In ON CONFLICT's SET, rate_limits.* are the row's values before the
		// update, in SQLite as in PostgreSQL.
		return tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO rate_limits (bucket, count, window_end) VALUES (?, 1, ?)
			ON CONFLICT (bucket) DO UPDATE SET
				count = CASE WHEN rate_limits.window_end <= ? THEN 1 ELSE rate_limits.count + 1 END,
				window_end = CASE WHEN rate_limits.window_end <= ? THEN excluded.window_end ELSE rate_limits.window_end END
			RETURNING count, window_end`), bucket, end, micros(at), micros(at)).Scan(&count, &resetEnd)
	})
	if err != nil {
		return store.RateCount{}, fmt.Errorf("sqlstore: count rate: %w", err)
	}
	return store.RateCount{Count: count, ResetAt: fromMicros(resetEnd)}, nil
}

// PurgeRateLimits deletes the buckets whose window ended at or before now,
// purgeBatch per transaction.
func (s *Store) PurgeRateLimits(ctx context.Context, now time.Time) (int, error) {
	return s.deleteInBatches(ctx, "sqlstore: purge rate limits", s.d.rebind(`DELETE FROM rate_limits WHERE bucket IN
		(SELECT bucket FROM rate_limits WHERE window_end <= ? LIMIT ?)`), micros(stamp(now)))
}
