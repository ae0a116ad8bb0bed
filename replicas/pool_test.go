package replicas

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDBMaxConnsBoundsThePool: `onramp serve --db-max-conns 2` opens at most
// two PostgreSQL connections however many requests it serves at once.
// PostgreSQL's own view (pg_stat_activity, by the application_name this
// test gives the replica's DSN) is sampled while 32 clients hit /readyz,
// whose store ping runs a read and a write transaction.
func TestDBMaxConnsBoundsThePool(t *testing.T) {
	dsn, _ := freshSchema(t)
	app := "onramp_pool_" + randomHex(t, 6)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	r := startReplica(t, "pool", t.TempDir(), "--db", u.String(), "--db-max-conns", "2")

	check := openSchema(t, dsn)
	count := func() int {
		var n int
		if err := check.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	var (
		wg     sync.WaitGroup
		served atomic.Int64
	)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer hc.CloseIdleConnections()
	for range 32 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/readyz", nil)
				if err != nil {
					return
				}
				res, err := hc.Do(req)
				if err != nil {
					return
				}
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					served.Add(1)
				}
			}
		})
	}
	most := 0
	for ctx.Err() == nil {
		most = max(most, count())
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	t.Logf("%d readiness checks served; at most %d connections seen", served.Load(), most)
	if served.Load() < 32 {
		t.Fatalf("only %d readiness checks served", served.Load())
	}
	if most < 1 || most > 2 {
		t.Errorf("the replica held %d connections at once, want 1 or 2", most)
	}
}
