package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

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

// BenchmarkPostgres runs the shared store benchmarks on PostgreSQL.
func BenchmarkPostgres(b *testing.B) {
	postgresDSN(b)
	storetest.Bench(b, func(b *testing.B) store.Store { return openPostgresTest(b) },
		storetest.BenchConfig{Prefill: benchPrefill(b)})
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
	if lockID(a) != lockID(a) {
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
