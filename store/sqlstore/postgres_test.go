package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// postgresEnv names the variable that points the PostgreSQL tests at a server,
// for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable. The
// tests create and drop schemas of their own in that database.
const postgresEnv = "ONRAMP_TEST_POSTGRES_DSN"

// postgresDSN returns the test server's DSN. Without it the test is skipped on a
// laptop, but fails when CI is set, so that CI never passes by skipping.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(postgresEnv)
	switch {
	case dsn != "" && !isPostgres(dsn):
		t.Fatalf("%s must be a postgres:// URL", postgresEnv)
	case dsn != "":
		return dsn
	case os.Getenv("CI") != "":
		t.Fatalf("%s is not set, and CI is: the PostgreSQL tests must run in CI", postgresEnv)
	default:
		t.Skipf("%s is not set: skipping the PostgreSQL tests (see CONTRIBUTING.md)", postgresEnv)
	}
	return ""
}

// freshSchema creates a schema with a random name in the test database, drops it
// (and everything in it) when the test ends, and returns a DSN whose connections
// work in it: search_path is a run-time parameter pgx passes on from the URL.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := postgresDSN(t)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "onramp_test_" + hex.EncodeToString(b[:])
	admin := adminDB(t, base)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// Registered before the store's Close, so it runs after it.
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// adminDB opens a one-connection pool on dsn for test set-up.
func adminDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	return db
}

func openPostgresTest(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), freshSchema(t), nil, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// TestPostgres runs the conformance suite on PostgreSQL, each test in a schema
// of its own.
func TestPostgres(t *testing.T) {
	postgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		// A small pool per store: the subtests run in parallel, and the race
		// tests' goroutines then also queue for connections, as a replica's
		// requests do.
		return openPostgresTest(t, WithMaxConns(8))
	}, storetest.Capabilities{Parallel: true})
}

// BenchmarkPostgres runs the shared store benchmarks on PostgreSQL. After their
// bulk loads it runs ANALYZE, as autovacuum would within a minute: a table that
// was never analyzed has no statistics, and the planner may then look a user up
// by walking the organization's rows through another index (see doc.go).
func BenchmarkPostgres(b *testing.B) {
	postgresDSN(b)
	storetest.Bench(b, func(b *testing.B) store.Store { return openPostgresTest(b) },
		storetest.BenchConfig{Prefill: benchPrefill(b), Settle: func(b *testing.B, s store.Store) {
			if _, err := s.(*Store).read.ExecContext(context.Background(), "ANALYZE"); err != nil {
				b.Fatal(err)
			}
		}})
}

func TestPostgresMigrationsKeepData(t *testing.T) {
	testMigrationsKeepData(t, freshSchema(t))
}

func TestPostgresMigrate(t *testing.T) {
	testMigrateTwice(t, freshSchema(t))
}

// TestPostgresConcurrentMigrators starts several migrators on one fresh schema
// at once, as replicas starting together do: all succeed, and the schema ends at
// the latest version with each migration applied once.
func TestPostgresConcurrentMigrators(t *testing.T) {
	dsn := freshSchema(t)
	const n = 3
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = Migrate(t.Context(), dsn, nil)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	s := openDSN(t, dsn)
	v, err := schemaVersion(t, s)
	if err != nil {
		t.Fatal(err)
	}
	migrations := mustMigrations(t, s.d)
	if want := int64(len(migrations)); v != want {
		t.Errorf("version %d, want %d", v, want)
	}
	// goose records each applied migration as a row: one each, not one per
	// migrator.
	var applied int
	if err := s.read.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(migrations) {
		t.Errorf("%d migrations recorded, want %d (each once)", applied, len(migrations))
	}
}

// TestPostgresMigrationLockIsPerSchema: the advisory lock that serialises
// migrators is keyed by database and schema, so that migrators of different
// schemas never wait on one another, and those of one schema share it.
func TestPostgresMigrationLockIsPerSchema(t *testing.T) {
	d, err := postgresDialect()
	if err != nil {
		t.Fatal(err)
	}
	lockID := func(dsn string) string {
		db := adminDB(t, dsn)
		defer db.Close()
		var id string
		// The ID is not exported by goose's locker: take it, and read it back
		// from pg_locks while it is held.
		l, err := d.migrationLock(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := l.SessionLock(t.Context(), conn); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := l.SessionUnlock(context.Background(), conn); err != nil {
				t.Error(err)
			}
		}()
		err = conn.QueryRowContext(t.Context(), `SELECT (classid::bigint << 32 | objid::bigint)::text FROM pg_locks
			WHERE locktype = 'advisory' AND pid = pg_backend_pid()`).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b := freshSchema(t), freshSchema(t)
	if lockID(a) == lockID(b) {
		t.Error("two schemas share a migration lock")
	}
	if first, again := lockID(a), lockID(a); first != again {
		t.Error("one schema's migration lock differs between calls")
	}
}

// TestPostgresNoSchema: a search_path naming no existing schema is refused with
// a clear error, before any table is created anywhere.
func TestPostgresNoSchema(t *testing.T) {
	u, err := url.Parse(postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "onramp_test_absent")
	u.RawQuery = q.Encode()
	s, err := Open(t.Context(), u.String(), nil)
	if err == nil {
		_ = s.Close()
		t.Fatal("Open succeeded without a schema to create tables in")
	}
	if !strings.Contains(err.Error(), "no schema") {
		t.Errorf("err = %v, want it to say there is no schema", err)
	}
}

// TestPostgresClassify: the dialect maps PostgreSQL's error codes to the store's
// sentinels, and says which failures a retry can cure.
func TestPostgresClassify(t *testing.T) {
	s := openPostgresTest(t)
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	o, err := s.CreateOrg(ctx, store.Org{Slug: "acme"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateOrg(ctx, store.Org{Slug: "acme"}, store.AuditEvent{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate slug: err = %v, want ErrConflict", err)
	}
	_, err = s.read.ExecContext(ctx, "INSERT INTO sessions (id_hash, org_id, user_id, created_at, expires_at, last_seen_at) VALUES ($1, $2, 'nobody', 0, 0, 0)",
		[]byte("x"), string(o.ID))
	if !errors.Is(s.d.classify(err, "insert"), store.ErrInvalidReference) {
		t.Errorf("foreign key violation classified as %v, want ErrInvalidReference", s.d.classify(err, "insert"))
	}
	if s.d.retry(err) {
		t.Error("a foreign key violation is retryable")
	}
}

// postgresWriterFixture is a PostgreSQL store with a scratch table t(x) for
// driving its writer directly.
func postgresWriterFixture(t *testing.T) *Store {
	t.Helper()
	s := openPostgresTest(t)
	t.Cleanup(func() { _ = s.Close() })
	err := s.w.do(t.Context(), "fixture", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (x integer PRIMARY KEY, n integer NOT NULL DEFAULT 0)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pgRows(t *testing.T, s *Store) map[int]int {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "SELECT x, n FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var x, n int
		if err := rows.Scan(&x, &n); err != nil {
			t.Fatal(err)
		}
		out[x] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// raise makes the server fail the transaction with the given SQLSTATE.
func raise(ctx context.Context, tx *sql.Tx, code string) error {
	_, err := tx.ExecContext(ctx, `DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '`+code+`'; END $$`)
	return err
}

// TestPostgresRetriesSerializationFailure: a write the server rolls back with a
// serialization failure runs again from the start; only the successful run's
// writes are committed.
func TestPostgresRetriesSerializationFailure(t *testing.T) {
	s := postgresWriterFixture(t)
	runs := 0
	err := s.w.do(t.Context(), "flaky", func(ctx context.Context, tx *sql.Tx) error {
		runs++
		if _, err := tx.ExecContext(ctx, "INSERT INTO t (x, n) VALUES (1, $1)", runs); err != nil {
			return err
		}
		if runs < 3 {
			return raise(ctx, tx, pgSerializationFailure)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 3 {
		t.Errorf("fn ran %d times, want 3", runs)
	}
	if got := pgRows(t, s); len(got) != 1 || got[1] != 3 {
		t.Errorf("rows = %v, want only the third run's {1:3}", got)
	}
}

// TestPostgresRetryIsBounded: a write that keeps failing with a serialization
// failure is given up after maxAttempts runs, with the server's error.
func TestPostgresRetryIsBounded(t *testing.T) {
	s := postgresWriterFixture(t)
	runs := 0
	err := s.w.do(t.Context(), "hopeless", func(ctx context.Context, tx *sql.Tx) error {
		runs++
		return raise(ctx, tx, pgSerializationFailure)
	})
	if err == nil || !s.d.retry(err) {
		t.Fatalf("err = %v, want the serialization failure", err)
	}
	if runs != maxAttempts {
		t.Errorf("fn ran %d times, want %d", runs, maxAttempts)
	}
}

// TestPostgresNoRetryForOtherErrors: constraint violations and the caller's
// errors are answers, not accidents: fn runs once.
func TestPostgresNoRetryForOtherErrors(t *testing.T) {
	s := postgresWriterFixture(t)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		fn   func(ctx context.Context, tx *sql.Tx) error
		want error
	}{
		{"caller's error", func(context.Context, *sql.Tx) error { return boom }, boom},
		{"unique violation", func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO t (x) VALUES (7), (7)")
			return s.d.classify(err, "insert")
		}, store.ErrConflict},
	} {
		runs := 0
		err := s.w.do(t.Context(), tc.name, func(ctx context.Context, tx *sql.Tx) error {
			runs++
			return tc.fn(ctx, tx)
		})
		if !errors.Is(err, tc.want) || runs != 1 {
			t.Errorf("%s: err = %v after %d runs, want %v after 1", tc.name, err, runs, tc.want)
		}
	}
}

// TestPostgresDeadlockIsRetried: two writes that lock two rows in opposite
// orders deadlock; the server aborts one (40P01), the writer runs it again
// (more than once if the retry deadlocks again), and both writes end up
// committed.
func TestPostgresDeadlockIsRetried(t *testing.T) {
	s := postgresWriterFixture(t)
	if err := s.w.do(t.Context(), "seed", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO t (x) VALUES (1), (2)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Each write bumps its first row, waits until the other has bumped its own,
	// then bumps the other's: a lock cycle on the first run. Later runs do not
	// wait.
	var firstLocked sync.WaitGroup
	firstLocked.Add(2)
	var runs [2]int
	write := func(i, first, second int) func() error {
		return func() error {
			return s.w.do(t.Context(), "cross", func(ctx context.Context, tx *sql.Tx) error {
				runs[i]++
				if _, err := tx.ExecContext(ctx, "UPDATE t SET n = n + 1 WHERE x = $1", first); err != nil {
					return err
				}
				if runs[i] == 1 {
					firstLocked.Done()
					firstLocked.Wait()
				}
				_, err := tx.ExecContext(ctx, "UPDATE t SET n = n + 1 WHERE x = $1", second)
				return err
			})
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, fn := range []func() error{write(0, 1, 2), write(1, 2, 1)} {
		wg.Go(func() { errs[i] = fn() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	// The first runs always deadlock. A victim's retry can deadlock again:
	// it may lock its first row before the survivor, woken by the abort,
	// takes that row for its second update. So at least one retry, and
	// possibly more, but both writes end committed.
	if runs[0]+runs[1] < 3 {
		t.Errorf("runs = %v, want a deadlock victim run again", runs)
	}
	if got := pgRows(t, s); got[1] != 2 || got[2] != 2 {
		t.Errorf("rows = %v, want both rows bumped by both writes", got)
	}
}

// TestPostgresCancelAfterStatementsCommits: once fn has run, the commit runs to
// its outcome even if the caller's context ends, so that a write is never
// reported failed after it committed. A context that ends before fn's statements
// rolls the write back.
func TestPostgresCancelAfterStatementsCommits(t *testing.T) {
	s := postgresWriterFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	err := s.w.do(ctx, "late cancel", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO t (x) VALUES (1)")
		cancel()
		return err
	})
	if err != nil {
		t.Errorf("cancelled after the statements: err = %v, want the commit's success", err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	err = s.w.do(ctx, "early cancel", func(ctx context.Context, tx *sql.Tx) error {
		cancel()
		_, err := tx.ExecContext(ctx, "INSERT INTO t (x) VALUES (2)")
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before a statement: err = %v, want context.Canceled", err)
	}
	if got := pgRows(t, s); len(got) != 1 || got[1] != 0 {
		t.Errorf("rows = %v, want only row 1", got)
	}
}

// TestPostgresCloseWaitsForWrites: Close refuses new writes, waits for the ones
// under way, and those commit.
func TestPostgresCloseWaitsForWrites(t *testing.T) {
	s, err := Open(t.Context(), freshSchema(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.CreateOrg(t.Context(), store.Org{Slug: "acme"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.w.do(context.Background(), "held", func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, s.q.insertEvent, string(o.ID), 0, "test", "held", "", "", "", "", nil); err != nil {
				return err
			}
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	tw := s.w.(*txWriter)
	for { // Close has marked the writer closed
		tw.mu.RLock()
		c := tw.closed
		tw.mu.RUnlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := s.CreateUser(context.Background(), store.User{OrgID: o.ID, UserName: "late"}, store.AuditEvent{}); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: err = %v, want errClosed", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a write was under way", err)
	default:
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("held write: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestPostgresIndexedLookups runs EXPLAIN on the list queries that store.Filter
// promises never scan an organization's rows, over a directory of realistic size
// with fresh statistics: each must use its index, and no table may be read
// sequentially or walk all of an organization's.
func TestPostgresIndexedLookups(t *testing.T) {
	s := openPostgresTest(t)
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	const users = 20000
	for _, q := range []string{
		`INSERT INTO orgs (id, slug, name, jit_email_domains, jit_sso_connections, access_email_domains,
			access_sso_connections, created_at, updated_at)
			VALUES ('org', 'org', 'Org', false, false, '[]', '[]', 0, 0), ('other', 'other', 'Other', false, false, '[]', '[]', 0, 0)`,
		`INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name, display_name_lower,
			given_name, family_name, active, role, source, connection_id, version, created_at, updated_at)
			SELECT 'u' || i, CASE WHEN i % 4 = 0 THEN 'other' ELSE 'org' END, 'User' || i, 'user' || i, 'x' || i,
				'', '', '', '', true, '', 'scim', '', 1, i, i
			FROM generate_series(1, $1::integer) i`,
		`INSERT INTO user_emails (user_id, org_id, pos, value_lower, type_lower, "primary")
			SELECT id, org_id, 0, user_name_lower || '@example.com', 'work', true FROM users`,
		`INSERT INTO groups (id, org_id, display_name, display_name_lower, connection_id, version, created_at, updated_at)
			SELECT 'g' || i, CASE WHEN i % 4 = 0 THEN 'other' ELSE 'org' END, 'Group ' || i, 'group ' || i, '', 1, i, i
			FROM generate_series(1, $1::integer / 10) i`,
		`INSERT INTO group_members (group_id, user_id, org_id)
			SELECT 'g' || (seq % ($1::integer / 10) + 1), id, org_id FROM users`,
		`ANALYZE`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{users}
		}
		if _, err := s.read.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	org := store.OrgID("org")
	for _, tc := range []struct {
		name  string
		group bool
		f     store.Filter
		// index lists the indexes of which the plan must use one: either
		// serves the lookup (emails can be found by value alone, an index
		// email sign-in needs across organizations, or by org and value).
		index []string
	}{
		{"userName eq", false, store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "USER42"}, []string{"users_org_user_name"}},
		{"externalId eq", false, store.Compare{Field: store.FieldExternalID, Op: store.OpEq, Value: "x42"}, []string{"users_org_external_id"}},
		{"emails.value eq", false, store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: "user42@example.com"}, []string{"user_emails_org_value", "user_emails_value"}},
		{"members.value eq", true, store.Compare{Field: store.FieldMemberValue, Op: store.OpEq, Value: "u42"}, []string{"group_members_user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var queries []string
			var args []any
			if tc.group {
				lq, err := groupWhere(org, store.GroupQuery{Filter: tc.f})
				if err != nil {
					t.Fatal(err)
				}
				queries = []string{
					"SELECT " + groupCols + " FROM groups g WHERE " + lq.where + " ORDER BY g.seq LIMIT 10 OFFSET 0",
					"SELECT COUNT(*) FROM groups g WHERE " + lq.where,
				}
				args = lq.args
			} else {
				lq, err := userWhere(org, store.UserQuery{Filter: tc.f})
				if err != nil {
					t.Fatal(err)
				}
				queries = []string{
					"SELECT " + userCols + " FROM users u WHERE " + lq.where + " ORDER BY u.seq LIMIT 10 OFFSET 0",
					"SELECT COUNT(*) FROM users u WHERE " + lq.where,
				}
				args = lq.args
			}
			for _, query := range queries {
				plan := pgExplain(t, s, s.d.rebind(query), args)
				t.Logf("%s\n%s", query, plan)
				if !slices.ContainsFunc(tc.index, func(ix string) bool { return strings.Contains(plan, " "+ix+" ") }) {
					t.Errorf("plan uses none of the indexes %v:\n%s", tc.index, plan)
				}
				if strings.Contains(plan, "Seq Scan") {
					t.Errorf("plan reads a table sequentially:\n%s", plan)
				}
				// Nor may it walk the organization's rows by index: an index
				// condition on org_id alone.
				for _, line := range strings.Split(plan, "\n") {
					if strings.HasSuffix(strings.TrimSpace(line), "Index Cond: (org_id = 'org'::text)") {
						t.Errorf("plan walks the organization's rows: %q in\n%s", line, plan)
					}
				}
			}
		})
	}
}

func pgExplain(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
