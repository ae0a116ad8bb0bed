package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSCIM measures the SCIM layer end to end (HTTP client → server →
// SQLite file) in one process, so that `-cpuprofile` shows where a request's time
// goes. onramp bench scim measures a separately running server; this is the
// profiling harness behind it.
//
//	go test ./scim -run XXX -bench SCIM -benchtime 2000x -cpuprofile cpu.out
func BenchmarkSCIM(b *testing.B) {
	const clients = 64
	b.Run(fmt.Sprintf("Create/clients=%d", clients), func(b *testing.B) {
		bc := newBenchClient(b)
		var n atomic.Int64
		bc.parallel(b, clients, b.N, func(int) error {
			_, err := bc.create(fmt.Sprintf("create-%d@example.com", n.Add(1)))
			return err
		})
	})
	b.Run(fmt.Sprintf("PatchDeactivate/clients=%d", clients), func(b *testing.B) {
		bc := newBenchClient(b)
		ids := bc.fill(b, "deact", b.N, clients)
		b.ResetTimer()
		bc.parallel(b, clients, b.N, func(i int) error { return bc.deactivate(ids[i]) })
	})
	for _, c := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("OktaSync/clients=%d", c), func(b *testing.B) {
			bc := newBenchClient(b)
			var mu sync.Mutex
			var gets, posts []time.Duration
			bc.parallel(b, c, b.N, func(i int) error {
				name := fmt.Sprintf("sync-%d@example.com", i)
				var lr struct{ TotalResults int }
				q := url.Values{"filter": {`userName eq "` + name + `"`}}
				t0 := time.Now()
				if err := bc.send(http.MethodGet, "/Users?"+q.Encode(), nil, http.StatusOK, &lr); err != nil {
					return err
				}
				if lr.TotalResults != 0 {
					return fmt.Errorf("%s exists already", name)
				}
				t1 := time.Now()
				_, err := bc.create(name)
				t2 := time.Now()
				mu.Lock()
				gets, posts = append(gets, t1.Sub(t0)), append(posts, t2.Sub(t1))
				mu.Unlock()
				return err
			})
			slices.Sort(gets)
			slices.Sort(posts)
			b.ReportMetric(float64(gets[len(gets)/2].Microseconds()), "GET-p50-µs")
			b.ReportMetric(float64(posts[len(posts)/2].Microseconds()), "POST-p50-µs")
		})
	}
	b.Run("GetUserNameEq/clients=1", func(b *testing.B) {
		bc := newBenchClient(b)
		const users = 5000
		bc.fill(b, "get", users, clients)
		b.ResetTimer()
		bc.parallel(b, 1, b.N, func(i int) error { return bc.lookup(fmt.Sprintf("get-%d@example.com", (i*7919)%users)) })
	})
}

// benchClient drives a harness over keep-alive connections, as an IdP does.
type benchClient struct {
	h      *harness
	client *http.Client
}

func newBenchClient(b *testing.B) *benchClient {
	b.Helper()
	h := newHarness(b, harnessOptions{quiet: true})
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	return &benchClient{h: h, client: &http.Client{Transport: tr}}
}

func (bc *benchClient) send(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, bc.h.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bc.h.acme.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := bc.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (bc *benchClient) create(userName string) (string, error) {
	var res struct{ ID string }
	err := bc.send(http.MethodPost, "/Users", map[string]any{
		"schemas":     []string{UserSchemaURI},
		"userName":    userName,
		"externalId":  "ext-" + userName,
		"displayName": "Bench User",
		"name":        map[string]any{"givenName": "Bench", "familyName": "User"},
		"emails":      []any{map[string]any{"value": userName, "type": "work", "primary": true}},
		"active":      true,
	}, http.StatusCreated, &res)
	return res.ID, err
}

func (bc *benchClient) deactivate(id string) error {
	return bc.send(http.MethodPatch, "/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
	}, http.StatusOK, nil)
}

func (bc *benchClient) lookup(userName string) error {
	var lr struct{ TotalResults int }
	q := url.Values{"filter": {`userName eq "` + userName + `"`}}
	if err := bc.send(http.MethodGet, "/Users?"+q.Encode(), nil, http.StatusOK, &lr); err != nil {
		return err
	}
	if lr.TotalResults != 1 {
		return fmt.Errorf("lookup %s: %d results", userName, lr.TotalResults)
	}
	return nil
}

// fill creates n users named prefix-<i>@example.com outside the timer.
func (bc *benchClient) fill(b *testing.B, prefix string, n, clients int) []string {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	ids := make([]string, n)
	bc.parallel(b, clients, n, func(i int) error {
		id, err := bc.create(fmt.Sprintf("%s-%d@example.com", prefix, i))
		ids[i] = id
		return err
	})
	return ids
}

// parallel runs op(0..n-1) on clients goroutines and reports ops/s.
func (bc *benchClient) parallel(b *testing.B, clients, n int, op func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(i); err != nil && failed.Add(1) == 1 {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, n)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ops/s")
}
