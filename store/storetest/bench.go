package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// BenchOpen returns a new, empty, migrated store for a benchmark. Bench closes it.
type BenchOpen func(b *testing.B) store.Store

// BenchConfig sizes the benchmarks.
type BenchConfig struct {
	// Prefill is how many users GetByUserName's organization holds (default 10000).
	Prefill int
	// Clients is the number of concurrent callers of the parallel benchmarks
	// (default 64, like a busy IdP pushing with many connections).
	Clients int
	// Settle, if set, runs after a benchmark's bulk load and before its timer
	// starts, to bring the engine to the state it reaches on its own soon after
	// such a load (PostgreSQL: the planner statistics autovacuum gathers within
	// a minute), so that the benchmarks measure the steady state.
	Settle func(b *testing.B, s store.Store)
	// Filled and OpenFilled add the write benchmarks of a big directory:
	// CreateUser/parallel<Clients>/filled=<Filled>,
	// Deactivate/parallel<Clients>/filled=<Filled> and
	// Sync/parallel<SyncClients>/filled=<Filled>. OpenFilled returns a new store
	// whose organization with slug FilledOrg already holds n users, put there by
	// whatever is quickest for the engine (not through the store); their
	// userNames, externalIds and email addresses must be spread over the key
	// space (FilledUserName's are), as real directories' are, and must not be
	// FilledUserName's. nil leaves these benchmarks out.
	Filled     int
	OpenFilled func(b *testing.B, n int) store.Store
	// SyncClients is the number of concurrent callers of the Sync benchmark
	// (default 16, as in `onramp bench scim`'s sync).
	SyncClients int
}

// FilledOrg is the slug of the organization OpenFilled fills.
const FilledOrg = "bench"

// Bench measures the store operations behind onramp's performance targets:
//
//	CreateUser/serial        one caller: one transaction per create
//	CreateUser/parallel      Clients callers at once (group commit's case)
//	GetByUserName/prefill=N  the SCIM "userName eq" lookup IdPs do before a create
//	Deactivate/parallel      active=false with a session to end, Clients callers
//	CreateUser/parallel/filled=N  CreateUser into an organization of N users
//	Deactivate/parallel/filled=N  a PATCH of active=false there (Clients callers)
//	Sync/parallel/filled=N   an IdP's initial sync: a userName eq lookup that
//	                         finds nothing, then CreateUser, per user
//
// Each reports ops/s besides ns/op. The filled benchmarks run only when
// cfg.OpenFilled is set; the users they create have userNames, externalIds and
// addresses scattered over the key space (FilledUserName), so that every
// insert lands on a random page of those indexes, as an IdP's users do.
func Bench(b *testing.B, open BenchOpen, cfg BenchConfig) {
	if cfg.Prefill <= 0 {
		cfg.Prefill = 10000
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 64
	}
	if cfg.SyncClients <= 0 {
		cfg.SyncClients = 16
	}
	b.Run("CreateUser/serial", func(b *testing.B) {
		s, org := benchStore(b, open)
		var i int
		for b.Loop() {
			i++
			if _, err := s.CreateUser(context.Background(), benchUser(org, "serial", i), store.AuditEvent{Actor: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
		opsPerSec(b)
	})
	b.Run(fmt.Sprintf("CreateUser/parallel%d", cfg.Clients), func(b *testing.B) {
		s, org := benchStore(b, open)
		var n atomic.Int64
		parallel(b, cfg.Clients, func() {
			if _, err := s.CreateUser(context.Background(), benchUser(org, "par", int(n.Add(1))), store.AuditEvent{Actor: "bench"}); err != nil {
				b.Error(err)
			}
		})
		opsPerSec(b)
	})

	if cfg.OpenFilled != nil && cfg.Filled > 0 {
		benchFilled(b, cfg)
	}

	// One prefilled store serves every run of GetByUserName.
	s, org := benchStore(b, open)
	prefill(b, s, org, "get", cfg.Prefill, cfg.Clients)
	settle(b, cfg, s)
	b.Run(fmt.Sprintf("GetByUserName/prefill=%d", cfg.Prefill), func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: a repeatable benchmark sequence, not a secret
		for b.Loop() {
			name := fmt.Sprintf("GET.USER%07d@EXAMPLE.COM", r.IntN(cfg.Prefill))
			p, err := s.ListUsers(context.Background(), org, store.UserQuery{Count: 1,
				Filter: store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: name}})
			if err != nil || p.Total != 1 {
				b.Fatalf("lookup %s: %d found, err %v", name, p.Total, err)
			}
		}
		opsPerSec(b)
	})

	b.Run(fmt.Sprintf("Deactivate/parallel%d", cfg.Clients), func(b *testing.B) {
		s, org := benchStore(b, open)
		ids := prefill(b, s, org, "deact", b.N, cfg.Clients)
		for i, id := range ids {
			now := time.Now()
			if err := s.CreateSession(context.Background(), store.Session{IDHash: fmt.Appendf(nil, "session-%d", i), OrgID: org,
				UserID: id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
		settle(b, cfg, s)
		var n atomic.Int64
		b.ResetTimer()
		parallel(b, cfg.Clients, func() {
			id := ids[n.Add(1)-1]
			_, err := s.UpdateUser(context.Background(), org, id, func(u *store.User) error { u.Active = false; return nil },
				store.AuditEvent{Actor: "bench"})
			if err != nil {
				b.Error(err)
			}
		})
		opsPerSec(b)
	})
}

// benchFilled runs the write benchmarks of a big directory.
func benchFilled(b *testing.B, cfg BenchConfig) {
	open := func(b *testing.B) (store.Store, store.OrgID) {
		b.Helper()
		b.StopTimer()
		defer b.StartTimer()
		s := cfg.OpenFilled(b, cfg.Filled)
		b.Cleanup(func() {
			if err := s.Close(); err != nil {
				b.Errorf("Close: %v", err)
			}
		})
		o, err := s.GetOrgBySlug(context.Background(), FilledOrg)
		if err != nil {
			b.Fatalf("filled organization: %v", err)
		}
		settle(b, cfg, s)
		return s, o.ID
	}
	b.Run(fmt.Sprintf("CreateUser/parallel%d/filled=%d", cfg.Clients, cfg.Filled), func(b *testing.B) {
		s, org := open(b)
		var n atomic.Int64
		parallel(b, cfg.Clients, func() {
			u := scatteredUser(org, "par", int(n.Add(1)))
			if _, err := s.CreateUser(context.Background(), u, store.AuditEvent{Actor: "bench"}); err != nil {
				b.Error(err)
			}
		})
		opsPerSec(b)
	})
	b.Run(fmt.Sprintf("Deactivate/parallel%d/filled=%d", cfg.Clients, cfg.Filled), func(b *testing.B) {
		s, org := open(b)
		b.StopTimer()
		var ids []store.UserID
		for len(ids) < b.N {
			p, err := s.ListUsers(context.Background(), org, store.UserQuery{StartIndex: len(ids) + 1, Count: store.MaxPageSize})
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Items) == 0 {
				b.Fatalf("deactivate %d users of %d", b.N, cfg.Filled)
			}
			for _, u := range p.Items {
				ids = append(ids, u.ID)
			}
		}
		b.StartTimer()
		var n atomic.Int64
		parallel(b, cfg.Clients, func() {
			id := ids[n.Add(1)-1]
			_, err := s.UpdateUser(context.Background(), org, id, func(u *store.User) error {
				u.Active = false
				u.Resource = fmt.Appendf(nil, `{"userName":%q,"active":false}`, u.UserName)
				return nil
			}, store.AuditEvent{Actor: "bench"})
			if err != nil {
				b.Error(err)
			}
		})
		opsPerSec(b)
	})
	b.Run(fmt.Sprintf("Sync/parallel%d/filled=%d", cfg.SyncClients, cfg.Filled), func(b *testing.B) {
		s, org := open(b)
		var n atomic.Int64
		parallel(b, cfg.SyncClients, func() {
			u := scatteredUser(org, "sync", int(n.Add(1)))
			p, err := s.ListUsers(context.Background(), org, store.UserQuery{Count: 1,
				Filter: store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: u.UserName}})
			if err != nil || p.Total != 0 {
				b.Errorf("lookup %s: %d found, err %v", u.UserName, p.Total, err)
				return
			}
			if _, err := s.CreateUser(context.Background(), u, store.AuditEvent{Actor: "bench"}); err != nil {
				b.Error(err)
			}
		})
		opsPerSec(b)
	})
}

// FilledUserName is the userName of the i-th user of a benchmark's batch
// prefix: a 16-digit hash of prefix and i first, so that consecutive users'
// names land far apart in an index, as people's names do.
func FilledUserName(prefix string, i int) string {
	return fmt.Sprintf("%016x.%s%07d@example.com", scatter(prefix, uint64(i)), prefix, i)
}

// scatteredUser is benchUser with a FilledUserName and an externalId that is
// just as scattered (Okta's are random).
func scatteredUser(org store.OrgID, prefix string, i int) store.User {
	u := benchUser(org, prefix, i)
	name := FilledUserName(prefix, i)
	u.UserName = name
	u.ExternalID = fmt.Sprintf("00u%016x", scatter(prefix+"/ext", uint64(i)))
	u.Emails = []store.Email{{Value: name, Type: "work", Primary: true}}
	u.Resource = fmt.Appendf(nil, `{"userName":%q,"name":{"givenName":"Bench","familyName":"User"},"active":true}`, name)
	return u
}

// scatter is a SplitMix64 finalizer of i salted with prefix: a fixed,
// well-spread 64-bit value per (prefix, i).
func scatter(prefix string, i uint64) uint64 {
	x := i + 0x9e3779b97f4a7c15
	for _, c := range []byte(prefix) {
		x = (x ^ uint64(c)) * 0x100000001b3
	}
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func settle(b *testing.B, cfg BenchConfig, s store.Store) {
	b.Helper()
	if cfg.Settle != nil {
		b.StopTimer()
		cfg.Settle(b, s)
		b.StartTimer()
	}
}

func benchStore(b *testing.B, open BenchOpen) (store.Store, store.OrgID) {
	b.Helper()
	s := open(b)
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	o, err := s.CreateOrg(context.Background(), store.Org{Slug: "bench", Name: "Bench"}, store.AuditEvent{Actor: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return s, o.ID
}

// benchUser is a user as an IdP pushes it: a few emails, a resource body.
func benchUser(org store.OrgID, prefix string, i int) store.User {
	name := fmt.Sprintf("%s.user%07d@example.com", prefix, i)
	return store.User{
		OrgID: org, UserName: name, ExternalID: fmt.Sprintf("00u%s%07d", prefix, i), DisplayName: "Bench User",
		GivenName: "Bench", FamilyName: "User", Active: true, Role: "Member", Source: store.SourceSCIM,
		Emails:   []store.Email{{Value: name, Type: "work", Primary: true}},
		Resource: fmt.Appendf(nil, `{"userName":%q,"name":{"givenName":"Bench","familyName":"User"},"active":true}`, name),
	}
}

// prefill creates n users with clients concurrent callers, outside the timer.
func prefill(b *testing.B, s store.Store, org store.OrgID, prefix string, n, clients int) []store.UserID {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	ids := make([]store.UserID, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range next {
				u, err := s.CreateUser(context.Background(), benchUser(org, prefix, i), store.AuditEvent{Actor: "bench"})
				if err != nil {
					b.Error(err)
					continue
				}
				ids[i] = u.ID
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return ids
}

// parallel runs op b.N times from clients goroutines in total.
func parallel(b *testing.B, clients int, op func()) {
	b.SetParallelism(max(1, (clients+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
}

func opsPerSec(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}
