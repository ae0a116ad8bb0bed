package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

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

func mustSQLiteDialect(t testing.TB) *dialect {
	t.Helper()
	d, err := sqliteDialect()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// benchOpen opens a store on a new file for a benchmark.
func benchOpen(opts ...Option) storetest.BenchOpen {
	return func(b *testing.B) store.Store {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "onramp.db"), nil, opts...)
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		return s
	}
}

// benchPrefill reads GetByUserName's organization size from
// ONRAMP_BENCH_PREFILL (default 10000).
func benchPrefill(b *testing.B) int {
	v := os.Getenv("ONRAMP_BENCH_PREFILL")
	if v == "" {
		return 10000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("ONRAMP_BENCH_PREFILL=%q: want a positive integer", v)
	}
	return n
}

// BenchmarkSQLite runs the shared store benchmarks on a SQLite file.
func BenchmarkSQLite(b *testing.B) {
	storetest.Bench(b, benchOpen(), storetest.BenchConfig{Prefill: benchPrefill(b),
		Filled: benchFilled(b), OpenFilled: filledSQLite(b.TempDir())})
}

// BenchmarkRawInsert is the baseline for CreateUser: single-row insert
// transactions of a users row into the same schema, with the same pragmas,
// through plain database/sql and no store. Compare its ops/s with
// BenchmarkSQLite/CreateUser/parallel64 and BenchmarkGroupCommit.
func BenchmarkRawInsert(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "onramp.db")
			if err := Migrate(context.Background(), path, nil); err != nil {
				b.Fatal(err)
			}
			db, err := sql.Open("sqlite3", path+sqliteWriter)
			if err != nil {
				b.Fatal(err)
			}
			db.SetMaxOpenConns(1) // SQLite has one writer at a time
			b.Cleanup(func() { _ = db.Close() })
			ctx := context.Background()
			if _, err := db.ExecContext(ctx, `INSERT INTO orgs (id, slug, name, jit_email_domains, jit_sso_connections,
				access_email_domains, access_sso_connections, created_at, updated_at) VALUES ('o1', 'o1', 'o1', 0, 0, '[]', '[]', 0, 0)`); err != nil {
				b.Fatal(err)
			}
			q := newQueries(mustSQLiteDialect(b)).insertUser
			var n atomic.Int64
			insert := func() error {
				i := n.Add(1)
				name := fmt.Sprintf("raw.user%07d@example.com", i)
				now := time.Now().UnixMicro()
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				_, err = tx.ExecContext(ctx, q, fmt.Sprint("u", i), "o1", name, name, fmt.Sprint("00u", i), "Bench User",
					"bench user", "Bench", "User", `[{"value":"`+name+`","type":"work","primary":true}]`, true, "Member", nil,
					"scim", "", `{"userName":"`+name+`","active":true}`, 1, now, now, nil, nil)
				if err != nil {
					_ = tx.Rollback()
					return err
				}
				return tx.Commit()
			}
			b.ResetTimer()
			if clients == 1 {
				for b.Loop() {
					if err := insert(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := insert(); err != nil {
							b.Error(err)
						}
					}
				})
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkGroupCommit is CreateUser from 64 clients with group commit on (the
// default batch cap) and off (one transaction per create), reporting how many
// creates shared each COMMIT.
func BenchmarkGroupCommit(b *testing.B) {
	for _, batch := range []int{128, 1} {
		b.Run(fmt.Sprintf("maxBatch=%d", batch), func(b *testing.B) {
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), "onramp.db"), nil, WithMaxBatch(batch))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			o, err := s.CreateOrg(context.Background(), store.Org{Slug: "bench"}, store.AuditEvent{})
			if err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			commits, jobs := groupOf(b, s).commits.Load(), groupOf(b, s).committed.Load()
			b.ResetTimer()
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					name := fmt.Sprintf("gc.user%07d@example.com", n.Add(1))
					_, err := s.CreateUser(context.Background(), store.User{OrgID: o.ID, UserName: name, Active: true,
						Emails: []store.Email{{Value: name, Primary: true}}}, store.AuditEvent{Actor: "bench"})
					if err != nil {
						b.Error(err)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			if c := groupOf(b, s).commits.Load() - commits; c > 0 {
				b.ReportMetric(float64(groupOf(b, s).committed.Load()-jobs)/float64(c), "jobs/commit")
			}
		})
	}
}
