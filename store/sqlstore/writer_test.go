package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// writerFixture is a store with a scratch table t(x) and a child table whose
// foreign key is deferrable on demand, for driving the writer directly.
func writerFixture(t *testing.T) *Store {
	t.Helper()
	s := openTest(t)
	err := s.w.do(t.Context(), "fixture", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (x INTEGER PRIMARY KEY);
			CREATE TABLE child (p INTEGER REFERENCES t (x))`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hold occupies the writer until the returned release is called, so that the
// jobs queued meanwhile form one batch.
func hold(t *testing.T, w *groupWriter) (release func()) {
	t.Helper()
	started, done := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- w.do(context.Background(), "hold", func(context.Context, *sql.Tx) error {
			close(started)
			<-done
			return nil
		})
	}()
	<-started
	return func() {
		close(done)
		if err := <-errc; err != nil {
			t.Errorf("hold: %v", err)
		}
	}
}

// queue submits jobs while the writer is held and waits until all are queued.
func queue(t *testing.T, w *groupWriter, ctxs []context.Context, fns ...func(context.Context, *sql.Tx) error) []chan error {
	t.Helper()
	out := make([]chan error, len(fns))
	for i, fn := range fns {
		out[i] = make(chan error, 1)
		ctx := context.Background()
		if ctxs != nil {
			ctx = ctxs[i]
		}
		go func() { out[i] <- w.do(ctx, fmt.Sprintf("job %d", i), fn) }()
		for len(w.jobs) < i+1 { // queued in order, one at a time
			time.Sleep(time.Millisecond)
		}
	}
	return out
}

func insert(x int) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO t (x) VALUES (?)", x)
		return err
	}
}

func rows(t *testing.T, s *Store) []int {
	t.Helper()
	rs, err := s.read.QueryContext(t.Context(), "SELECT x FROM t ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []int
	for rs.Next() {
		var x int
		if err := rs.Scan(&x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// TestGroupCommitIsolatesFailures: jobs queued together commit together, once,
// and a failing job takes back only its own writes.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := writerFixture(t)
	boom := errors.New("boom")
	release := hold(t, groupOf(t, s))
	commits := groupOf(t, s).commits.Load()
	res := queue(t, groupOf(t, s), nil,
		insert(1),
		func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(2)(ctx, tx); err != nil {
				return err
			}
			return boom // after writing: the savepoint must undo the insert
		},
		insert(1), // a unique violation inside the batch
		insert(3),
	)
	release()
	// The writer passes each job's error through as it is: classifying driver
	// errors is the store methods' business, so job 2 fails with the raw
	// unique violation.
	wantFail := []bool{false, true, true, false}
	for i, r := range res {
		err := <-r
		if (err != nil) != wantFail[i] {
			t.Fatalf("job %d: err = %v, want failure %v", i, err, wantFail[i])
		}
		if i == 1 && !errors.Is(err, boom) {
			t.Errorf("job 1: err = %v, want its own error", err)
		}
	}
	if got := rows(t, s); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("rows = %v, want [1 3]", got)
	}
	// The hold's batch and the four jobs' batch.
	if n := groupOf(t, s).commits.Load() - commits; n != 2 {
		t.Errorf("%d commits, want 2 (one for the held job, one for the four queued)", n)
	}
}

// TestCommitFailureFailsWholeBatch: when COMMIT fails, no caller in the batch is
// told its write succeeded, and the writer carries on.
func TestCommitFailureFailsWholeBatch(t *testing.T) {
	s := writerFixture(t)
	release := hold(t, groupOf(t, s))
	res := queue(t, groupOf(t, s), nil,
		insert(10),
		func(ctx context.Context, tx *sql.Tx) error {
			// A deferred foreign key violation is only detected at COMMIT.
			if _, err := tx.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO child (p) VALUES (999)")
			return err
		},
	)
	release()
	for i, r := range res {
		if err := <-r; err == nil {
			t.Errorf("job %d succeeded though its batch's COMMIT failed", i)
		}
	}
	if got := rows(t, s); len(got) != 0 {
		t.Errorf("rows = %v after a failed commit, want none", got)
	}
	if err := s.w.do(t.Context(), "after", insert(11)); err != nil {
		t.Fatalf("writer broken after a failed commit: %v", err)
	}
	if got := rows(t, s); !slices.Equal(got, []int{11}) {
		t.Errorf("rows = %v, want [11]", got)
	}
}

// TestCancelWhileQueued: a job whose context ends while it is queued never runs.
func TestCancelWhileQueued(t *testing.T) {
	s := writerFixture(t)
	release := hold(t, groupOf(t, s))
	ctx, cancel := context.WithCancel(context.Background())
	res := queue(t, groupOf(t, s), []context.Context{ctx, context.Background()}, insert(1), insert(2))
	cancel()
	release()
	if err := <-res[0]; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled job: err = %v, want context.Canceled", err)
	}
	if err := <-res[1]; err != nil {
		t.Errorf("job after a cancelled one: %v", err)
	}
	if got := rows(t, s); !slices.Equal(got, []int{2}) {
		t.Errorf("rows = %v, want [2]", got)
	}
}

// TestPanicReachesCaller: a panicking job (an update closure, say) panics in its
// caller, is rolled back, and leaves the writer and its batch mates working.
func TestPanicReachesCaller(t *testing.T) {
	s := writerFixture(t)
	var got any
	func() {
		defer func() { got = recover() }()
		_ = s.w.do(t.Context(), "panics", func(ctx context.Context, tx *sql.Tx) error {
			_ = insert(5)(ctx, tx)
			panic("fn panicked")
		})
	}()
	if got != "fn panicked" {
		t.Fatalf("recovered %v, want the job's panic", got)
	}
	if err := s.w.do(t.Context(), "after", insert(6)); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, s); !slices.Equal(got, []int{6}) {
		t.Errorf("rows = %v, want [6]", got)
	}
}

// TestCloseDrainsQueue: Close commits what was queued before it, refuses what
// comes after, and the committed writes are in the file.
func TestCloseDrainsQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onramp.db")
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.CreateOrg(t.Context(), store.Org{Slug: "acme"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	release := hold(t, groupOf(t, s))
	const n = 20
	var wg sync.WaitGroup
	created := make([]store.UserID, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			u, err := s.CreateUser(context.Background(), store.User{OrgID: o.ID, UserName: fmt.Sprint("u", i)}, store.AuditEvent{})
			created[i], errs[i] = u.ID, err
		})
	}
	for len(groupOf(t, s).jobs) < n {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for { // Close has marked the writer closed
		w := groupOf(t, s)
		w.mu.RLock()
		c := w.closed
		w.mu.RUnlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := s.CreateUser(context.Background(), store.User{OrgID: o.ID, UserName: "late"}, store.AuditEvent{}); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: err = %v, want errClosed", err)
	}
	release()
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("queued create %d: %v", i, err)
		}
	}

	s2 := openAt(t, path)
	for i, id := range created {
		if _, err := s2.GetUser(t.Context(), o.ID, id); err != nil {
			t.Errorf("user %d not in the file after Close: %v", i, err)
		}
	}
}

// groupOf returns the store's group-commit writer (SQLite).
func groupOf(t testing.TB, s *Store) *groupWriter {
	t.Helper()
	w, ok := s.w.(*groupWriter)
	if !ok {
		t.Fatalf("the store's writer is a %T, want a *groupWriter", s.w)
	}
	return w
}

// writeDB returns the pool the store's writes and migrations use.
func writeDB(t testing.TB, s *Store) *sql.DB {
	t.Helper()
	switch w := s.w.(type) {
	case *groupWriter:
		return w.db
	case *txWriter:
		return w.db
	}
	t.Fatalf("unknown writer %T", s.w)
	return nil
}

func openAt(t *testing.T, path string) *Store { return openDSN(t, path) }

// openDSN opens the store at dsn (a SQLite path or a PostgreSQL URL) and closes
// it when the test ends.
func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestNowOption: the injected clock stamps records and audit events.
func TestNowOption(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", 3600))
	s := openTest(t, WithNow(func() time.Time { return at }))
	o, err := s.CreateOrg(t.Context(), store.Org{Slug: "acme"}, store.AuditEvent{Action: "org.created"})
	if err != nil {
		t.Fatal(err)
	}
	want := at.UTC().Truncate(time.Microsecond)
	if o.CreatedAt != want {
		t.Errorf("CreatedAt = %v, want %v", o.CreatedAt, want)
	}
	evs, err := s.ListEvents(t.Context(), o.ID, store.AuditQuery{})
	if err != nil || len(evs) != 1 || !evs[0].Time.Equal(want) {
		t.Errorf("events = %+v, %v; want one at %v", evs, err, want)
	}
}
