package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// Retry bounds of txWriter: at most maxAttempts runs of one write, sleeping a
// random time up to a backoff that starts at firstBackoff and doubles up to
// maxBackoff between them (full jitter, so that writers that collided do not
// collide again in step).
const (
	maxAttempts  = 10
	firstBackoff = 2 * time.Millisecond
	maxBackoff   = 250 * time.Millisecond
)

// txWriter runs each write in a transaction of its own on a pool shared with the
// reads (PostgreSQL): several replicas write to one database, so no process can
// own the writes the way groupWriter does, and the server's row locks and unique
// indexes decide between concurrent writers. A write that the server rolled back
// for a serialization failure or a deadlock (dialect.retry) is run again from the
// start, with a bounded, jittered backoff; that is why update closures must be
// pure.
//
// Cancellation: the caller's context covers waiting for a connection and every
// statement (cancelling one rolls the transaction back), but not COMMIT. Once the
// statements have run, the commit runs to its outcome, so that an error returned
// never hides a committed write.
type txWriter struct {
	db   *sql.DB
	d    *dialect
	log  *slog.Logger
	opts *sql.TxOptions

	mu     sync.RWMutex // guards closed against Add on a waited-for inflight
	closed bool
	// inflight counts the writes under way, for close.
	inflight sync.WaitGroup
}

func newTxWriter(db *sql.DB, d *dialect, log *slog.Logger) *txWriter {
	return &txWriter{
		db:  db,
		d:   d,
		log: log,
		// READ COMMITTED: unique indexes decide the races between creates, and
		// the reads a write depends on lock their rows (dialect.forUpdate), so
		// nothing needs SERIALIZABLE's predicate locks, whose false conflicts
		// would turn into retries under load. It is set explicitly, so that a
		// changed server default does not change the store's behaviour.
		opts: &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	}
}

func (w *txWriter) do(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return fmt.Errorf("%s: %w", name, errClosed)
	}
	w.inflight.Add(1)
	w.mu.RUnlock()
	defer w.inflight.Done()

	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := w.once(ctx, fn)
		if err == nil || !w.d.retry(err) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("%s: gave up after %d attempts: %w", name, attempt, err)
		}
		w.log.DebugContext(ctx, "sqlstore: write rolled back by the server, retrying", "op", name, "attempt", attempt, "err", err)
		sleep := rand.N(backoff) + time.Microsecond //nolint:gosec // G404: jitter, not a secret
		t := time.NewTimer(sleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (while retrying after: %w)", name, ctx.Err(), err)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// doDeferred is do: PostgreSQL commits every write synchronously (its own
// group commit shares the WAL flushes of concurrent transactions), so a
// sign-in is durable when it returns, like any write.
func (w *txWriter) doDeferred(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return w.do(ctx, name, fn)
}

// doHeld never holds: a transaction held open on PostgreSQL would keep its
// row locks while the caller decides, for a saving (one sign-in's
// statements) that a pool of connections writing in parallel does not need.
func (w *txWriter) doHeld(_ context.Context, name string, _ <-chan bool, _ func(ctx context.Context, tx *sql.Tx) error) error {
	return fmt.Errorf("%s: %w", name, store.ErrNotHeld)
}

// durable has nothing to wait for: every write was durable when it returned.
func (w *txWriter) durable(context.Context) error { return nil }

// once runs fn in one transaction and commits it. A panic in fn rolls the
// transaction back and goes on up.
func (w *txWriter) once(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: connection: %w", err)
	}
	defer func() { _ = conn.Close() }() // back to the pool
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), w.opts)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	committed = true // from here on, Rollback would only report ErrTxDone
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// close stops accepting writes and waits for the ones under way. The pool is the
// store's (it serves the reads too), so close leaves it open.
func (w *txWriter) close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.inflight.Wait()
	return nil
}
