package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// errClosed is returned for writes submitted after Close.
var errClosed = errors.New("sqlstore: store is closed")

// writer runs the store's writes. Every write method hands it one function that
// does the write's statements in a transaction; do returns nil only after that
// transaction committed. There are two: groupWriter (SQLite: one connection, one
// goroutine, many writes per COMMIT) and txWriter (PostgreSQL: a transaction of
// its own per write on the shared pool, retried on serialization failures and
// deadlocks). fn may run more than once, each run in a new transaction of which
// only the last can commit, so it must not have effects outside tx other than
// setting the results it reports.
type writer interface {
	do(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error
	// doDeferred is do for a sign-in (doc.go, "Deferred durability"): it may
	// return once the write is committed and survives a crash of the
	// process, before it would survive an OS crash; durable tells when it
	// does.
	doDeferred(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error
	// doHeld is doDeferred for a sign-in held for its verdict
	// (store.SignIn.Verdict): once fn has succeeded, the transaction stays
	// open until a value comes from verdict, and commits only on true. It
	// returns an error wrapping store.ErrNotHeld, with nothing written, if
	// the verdict is false or late, or if the writer has other writes to
	// make; fn runs at most once.
	doHeld(ctx context.Context, name string, verdict <-chan bool, fn func(ctx context.Context, tx *sql.Tx) error) error
	// durable returns once every write committed, or being committed, when
	// it is called is durable.
	durable(ctx context.Context) error
	// close stops accepting writes, lets the ones under way finish and releases
	// what the writer owns.
	close() error
}

// A job is one write: one store method call. fn runs inside the batch's
// transaction, between SAVEPOINT and RELEASE.
type job struct {
	ctx  context.Context
	name string
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan result // buffered: the writer never blocks on a caller
	// deferred: the job may be answered before its commit is fsynced
	// (doDeferred). A batch commits with synchronous=NORMAL only if all its
	// jobs are.
	deferred bool
	// verdict, if set, holds the job's transaction open after fn for a
	// value from it (doHeld); such a job only runs alone in its batch.
	verdict <-chan bool
}

type result struct {
	err   error
	panic any // a panic in fn, re-raised in the caller's goroutine
}

// groupWriter owns the one write connection. Its goroutine takes queued jobs, runs up to
// maxBatch of them in one transaction, each inside its own savepoint, commits once
// and then answers every caller: group commit, one fsync for many writes.
type groupWriter struct {
	db       *sql.DB
	d        *dialect
	log      *slog.Logger
	maxBatch int
	ckpt     *checkpointer // told of every COMMIT; closed with the writer
	syncer   *walSyncer    // told of every COMMIT; makes deferred ones durable
	// normal: the connection is at synchronous=NORMAL (the last batch was
	// deferred jobs only). Only the writer's goroutine uses it.
	normal bool

	// commits and committed count batches and the jobs they committed, for the
	// benchmarks' jobs/commit figure.
	commits, committed atomic.Int64

	mu     sync.RWMutex // guards closed against sends on a closed jobs channel
	closed bool
	jobs   chan *job
	// arrived is signalled (without waiting) after every job queued, so that
	// a held job gives the writer back as soon as another write waits.
	arrived chan struct{}
	exited  chan struct{}
}

// maxHold bounds how long a held sign-in keeps the writer waiting for its
// verdict. The verdict comes when the response's signature check ends,
// about a millisecond after the hold starts for a typical response and a
// few for one with hundreds of attributes; a verdict later than this finds
// the sign-in rolled back (store.ErrNotHeld), and the ACS writes it again.
const maxHold = 50 * time.Millisecond

func startGroupWriter(db *sql.DB, d *dialect, log *slog.Logger, maxBatch int, ckpt *checkpointer, syncer *walSyncer) *groupWriter {
	w := &groupWriter{
		db:       db,
		d:        d,
		log:      log,
		maxBatch: maxBatch,
		ckpt:     ckpt,
		syncer:   syncer,
		jobs:     make(chan *job, 4*maxBatch),
		arrived:  make(chan struct{}, 1),
		exited:   make(chan struct{}),
	}
	go w.loop()
	return w
}

// do queues fn and waits for the outcome of the batch it ran in. It returns nil
// only after the COMMIT that made fn's writes durable has returned. If ctx ends
// while the job is still queued, the job is dropped and ctx's error returned;
// once the writer has started the job, do waits for the true outcome (so a
// returned error never hides a committed write).
func (w *groupWriter) do(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return w.submit(ctx, name, false, fn)
}

// doDeferred is do, except that it returns once the COMMIT returned, which
// the batch may have made with synchronous=NORMAL: the write survives a crash
// of the process from then on, and an OS crash once the syncer has fsynced
// the WAL, right after (durable waits for that).
func (w *groupWriter) doDeferred(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return w.submit(ctx, name, true, fn)
}

// doHeld is doDeferred, with the job held for its verdict (see writer).
func (w *groupWriter) doHeld(ctx context.Context, name string, verdict <-chan bool, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return w.submit(ctx, name, true, fn, verdict)
}

func (w *groupWriter) durable(ctx context.Context) error { return w.syncer.wait(ctx) }

func (w *groupWriter) submit(ctx context.Context, name string, deferred bool, fn func(ctx context.Context, tx *sql.Tx) error, verdict ...<-chan bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	j := &job{ctx: ctx, name: name, fn: fn, done: make(chan result, 1), deferred: deferred}
	if len(verdict) > 0 {
		j.verdict = verdict[0]
	}
	if err := w.enqueue(ctx, j); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r := <-j.done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

func (w *groupWriter) enqueue(ctx context.Context, j *job) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return errClosed
	}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case w.arrived <- struct{}{}:
	default: // already signalled
	}
	return nil
}

// close stops accepting jobs, lets the writer run the queued ones, and closes the
// write connection.
func (w *groupWriter) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.exited
		return nil
	}
	w.closed = true
	close(w.jobs)
	w.mu.Unlock()
	<-w.exited
	serr := w.syncer.close()
	cerr := w.ckpt.close()
	if err := w.db.Close(); err != nil {
		return fmt.Errorf("sqlstore: close writer: %w", errors.Join(err, serr, cerr))
	}
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

func (w *groupWriter) loop() {
	defer close(w.exited)
	batch := make([]*job, 0, w.maxBatch)
	for first := range w.jobs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < w.maxBatch {
			select {
			case j, ok := <-w.jobs:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		w.run(batch)
		clear(batch)
	}
}

// run executes one batch and answers its callers.
func (w *groupWriter) run(batch []*job) {
	results := make([]result, len(batch))
	live := make([]bool, len(batch)) // jobs whose fn succeeded: they wait on COMMIT
	pending := 0
	deferred := true // every live job may have its commit fsynced after it is answered
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i].err = fmt.Errorf("%s: %w", j.name, err)
			continue
		}
		if j.verdict != nil && len(batch) > 1 {
			// Holding it would delay the rest of the batch.
			results[i].err = fmt.Errorf("%s: other writes waiting: %w", j.name, store.ErrNotHeld)
			continue
		}
		live[i] = true
		pending++
		deferred = deferred && j.deferred
	}
	if pending == 0 {
		w.answer(batch, results)
		return
	}
	if err := w.synchronous(deferred); err != nil {
		w.fail(batch, results, live, err)
		return
	}

	tx, err := w.begin()
	if err != nil {
		w.fail(batch, results, live, fmt.Errorf("sqlstore: begin: %w", err))
		return
	}
	// A FULL commit that writes covers the sign-ins whose fsync is still to
	// come; whether it writes is told by the connection's count of changed
	// rows, read only when that matters (see walSyncer.endCommit).
	before := int64(-1)
	if !deferred && w.syncer.deferredPending() {
		before = totalChanges(tx)
	}
	if pending == 1 {
		// One job: the transaction is its own, and needs no savepoint to
		// roll back alone.
		for i, j := range batch {
			if !live[i] {
				continue
			}
			res := w.call(context.WithoutCancel(j.ctx), tx, j)
			if res.err == nil && res.panic == nil && j.verdict != nil {
				if err := w.hold(tx, j.verdict); err != nil {
					res.err = fmt.Errorf("%s: %w", j.name, err)
				}
			}
			if res.err != nil || res.panic != nil {
				if err := tx.Rollback(); err != nil {
					w.log.Error("sqlstore: rollback of a failed write", "job", j.name, "err", err)
				}
				results[i] = res
				w.answer(batch, results)
				return
			}
		}
		w.commit(tx, batch, results, live, before)
		return
	}
	for i, j := range batch {
		if !live[i] {
			continue
		}
		res, fatal := w.runJob(tx, j)
		if fatal != nil {
			// The transaction is unusable (a savepoint could not be rolled back):
			// nothing of this batch is committed.
			_ = tx.Rollback()
			w.log.Error("sqlstore: write batch aborted", "job", j.name, "err", fatal)
			results[i] = res
			live[i] = false
			w.fail(batch, results, live, fmt.Errorf("sqlstore: batch aborted: %w", fatal))
			return
		}
		if res.err != nil || res.panic != nil {
			results[i] = res
			live[i] = false
		}
	}
	w.commit(tx, batch, results, live, before)
}

// hold waits, inside a held job's transaction, for its verdict: nil on
// true; an error wrapping store.ErrNotHeld on false, after maxHold, or as
// soon as another job is queued (or if one already is). While it waits, the
// transaction's pages are written to the WAL ahead of its commit
// (cacheflush.go), unless the verdict is already there.
func (w *groupWriter) hold(tx *sql.Tx, verdict <-chan bool) error {
	// The signal only wakes the hold: enqueue queues a job and signals in
	// two steps, so a signal may be late (its job already taken, even this
	// very job) or stale; the queue itself tells whether a job waits.
	select {
	case <-w.arrived:
	default:
	}
	if len(w.jobs) > 0 {
		return fmt.Errorf("other writes waiting: %w", store.ErrNotHeld)
	}
	if len(verdict) == 0 {
		if _, err := tx.ExecContext(context.Background(), "SELECT onramp_cacheflush()"); err != nil {
			return fmt.Errorf("write pages ahead of the commit: %w (%w)", err, store.ErrNotHeld)
		}
	}
	t := time.NewTimer(maxHold)
	defer t.Stop()
	for {
		select {
		case ok := <-verdict:
			if !ok {
				return fmt.Errorf("verdict false: %w", store.ErrNotHeld)
			}
			return nil
		case <-w.arrived:
			if len(w.jobs) > 0 {
				return fmt.Errorf("another write queued: %w", store.ErrNotHeld)
			}
		case <-t.C:
			return fmt.Errorf("no verdict within %s: %w", maxHold, store.ErrNotHeld)
		}
	}
}

// commit commits the batch's transaction and answers its callers. before,
// unless -1, is totalChanges at the start of the transaction.
func (w *groupWriter) commit(tx *sql.Tx, batch []*job, results []result, live []bool, before int64) {
	wrote := before >= 0 && totalChanges(tx) > before
	w.syncer.beginCommit()
	err := tx.Commit()
	w.syncer.endCommit(err == nil && !w.normal, wrote)
	if err != nil {
		w.fail(batch, results, live, fmt.Errorf("sqlstore: commit: %w", err))
		return
	}
	w.commits.Add(1)
	w.ckpt.committed()
	for i := range batch {
		if live[i] {
			w.committed.Add(1)
		}
	}
	w.answer(batch, results)
}

// totalChanges is the count of rows the writer connection has changed since
// it opened (SQLite's total_changes()), or -1 if it cannot be read. A
// transaction whose count grew changed pages, which its COMMIT writes to the
// WAL (a row changed and then rolled back to a savepoint leaves its page
// dirty too), and with synchronous=FULL fsyncs.
func totalChanges(tx *sql.Tx) int64 {
	var n int64
	if err := tx.QueryRowContext(context.Background(), "SELECT total_changes()").Scan(&n); err != nil {
		return -1
	}
	return n
}

// synchronous sets the connection's synchronous pragma for the next batch:
// NORMAL (no fsync at COMMIT) if deferred, else FULL. A pragma cannot change
// inside a transaction, so it is set between batches, and only when it
// changes. If NORMAL cannot be set the batch commits with FULL, which only
// costs time; if FULL cannot be set, the batch fails rather than commit
// writes that were promised durable without an fsync.
func (w *groupWriter) synchronous(deferred bool) error {
	if deferred == w.normal {
		return nil
	}
	mode := "FULL"
	if deferred {
		mode = "NORMAL"
	}
	if _, err := w.db.ExecContext(context.Background(), "PRAGMA synchronous = "+mode); err != nil {
		if deferred {
			w.log.Warn("sqlstore: cannot defer the fsync of a sign-in batch; committing it with FULL", "err", err)
			return nil
		}
		return fmt.Errorf("sqlstore: set synchronous=FULL: %w", err)
	}
	w.normal = deferred
	return nil
}

// begin starts the batch's transaction (BEGIN IMMEDIATE). The busy timeout makes
// SQLite wait for a writer in another process; if it still reports busy, begin
// keeps trying, so that no caller ever sees SQLITE_BUSY.
func (w *groupWriter) begin() (*sql.Tx, error) {
	backoff := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		// Not the callers' contexts: cancelling a statement interrupts SQLite,
		// which would roll back the whole batch.
		tx, err := w.db.BeginTx(context.Background(), nil)
		if err == nil || !w.d.busy(err) || attempt == 100 {
			return tx, err
		}
		w.log.Warn("sqlstore: database busy, retrying", "attempt", attempt+1)
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// runJob runs one job inside a savepoint. A failing job's savepoint is rolled
// back, leaving the rest of the batch intact. fatal is set when the transaction
// itself is broken.
func (w *groupWriter) runJob(tx *sql.Tx, j *job) (res result, fatal error) {
	ctx := context.WithoutCancel(j.ctx)
	if _, err := tx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
		return result{err: fmt.Errorf("%s: savepoint: %w", j.name, err)}, err
	}
	res = w.call(ctx, tx, j)
	if res.err != nil || res.panic != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT job"); err != nil {
			return res, err
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT job"); err != nil {
		return res, err
	}
	return res, nil
}

func (w *groupWriter) call(ctx context.Context, tx *sql.Tx, j *job) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = result{panic: p}
		}
	}()
	return result{err: j.fn(ctx, tx)}
}

// fail gives err to every job still waiting on the batch's COMMIT and answers all.
func (w *groupWriter) fail(batch []*job, results []result, live []bool, err error) {
	for i := range batch {
		if live[i] {
			results[i].err = fmt.Errorf("%s: %w", batch[i].name, err)
		}
	}
	w.answer(batch, results)
}

func (w *groupWriter) answer(batch []*job, results []result) {
	for i, j := range batch {
		j.done <- results[i]
	}
}
