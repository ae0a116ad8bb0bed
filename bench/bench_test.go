package bench_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/bench"
	"github.com/onramp-dev/onramp/scim"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// startOnramp serves onramp over a real SQLite store and returns its URL and a
// SCIM token for a fresh organization.
func startOnramp(t *testing.T) (string, string) {
	t.Helper()
	return startLimitedOnramp(t, scim.Limits{})
}

// startLimitedOnramp is startOnramp with per-token SCIM limits.
func startLimitedOnramp(t *testing.T, limits scim.Limits) (string, string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ev := store.AuditEvent{Actor: "test", Action: "test"}
	org, err := st.CreateOrg(ctx, store.Org{Slug: "acme", Name: "Acme"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := st.CreateConnection(ctx, store.Connection{OrgID: org.ID, Slug: "okta", Name: "Okta", MappingPreset: "okta"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	plaintext, tok, err := apitoken.New()
	if err != nil {
		t.Fatal(err)
	}
	tok.OrgID, tok.ConnectionID, tok.Kind = org.ID, conn.ID, store.TokenSCIM
	if _, err := st.CreateToken(ctx, tok, ev); err != nil {
		t.Fatal(err)
	}

	logger := slog.New(slog.DiscardHandler)
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	h, err := scim.New(scim.Config{Store: st, BaseURL: base + server.SCIMPrefix, Logger: logger, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	e, err := server.New(server.Config{Store: st, SCIM: h, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = e
	ts.Start()
	t.Cleanup(ts.Close)
	return base, plaintext
}

func TestRunAgainstARealServer(t *testing.T) {
	base, token := startOnramp(t)
	rawDir := t.TempDir()
	rep, err := bench.Run(context.Background(), bench.Config{
		URL: base, Token: token,
		Users: []int{60, 80}, Clients: []int{1, 4}, Ops: 20,
		SyncUsers: 15, SyncClients: []int{2, 3}, PID: os.Getpid(), RawDB: rawDir, Timeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []struct {
		prefix string
		n      int
		users  int
	}{
		{"raw SQLite insert tx, 1 goroutine", 20, 0},
		{"raw SQLite insert tx, 4 goroutines", 20, 0},
		{"POST /Users, 1 client", 20, 0},
		{"POST /Users, 4 clients", 20, 0},
		{"ratio POST/s (4 clients) ÷ raw insert tx/s", 0, 0},
		{"fill (POST /Users)", 20, 60}, // 40 created so far, 20 more to reach 60
		{"GET /Users?filter=userName eq", 20, 60},
		{"server RSS", 0, 60},
		{"fill (POST /Users)", 20, 80},
		{"GET /Users?filter=userName eq", 20, 80},
		{"server RSS", 0, 80},
		{"PATCH active=false, 4 clients", 20, 0},
		{"Okta-style sync (GET filter + POST), 2 clients", 15, 95},
		{"Okta-style sync (GET filter + POST), 3 clients", 15, 110},
		{"server RSS", 0, 110},
	}
	if len(rep.Rows) != len(want) {
		var names []string
		for _, r := range rep.Rows {
			names = append(names, r.Name)
		}
		t.Fatalf("got %d rows %q, want %d", len(rep.Rows), names, len(want))
	}
	for i, w := range want {
		r := rep.Rows[i]
		if !strings.HasPrefix(r.Name, w.prefix) || r.N != w.n || r.Users != w.users {
			t.Errorf("row %d = %q n=%d users=%d, want %q n=%d users=%d", i, r.Name, r.N, r.Users, w.prefix, w.n, w.users)
		}
		if r.Errors != 0 {
			t.Errorf("row %q: %d errors (%s)", r.Name, r.Errors, r.Note)
		}
		if r.N > 0 && (r.Rate <= 0 || r.Wall <= 0) {
			t.Errorf("row %q: rate %v wall %v", r.Name, r.Rate, r.Wall)
		}
		if strings.HasPrefix(r.Name, "server RSS") && !strings.Contains(r.Note, "VmRSS") {
			t.Errorf("RSS row note %q", r.Note)
		}
		if strings.HasPrefix(r.Name, "raw SQLite") && !strings.Contains(r.Note, "journal_mode=wal synchronous=FULL") {
			t.Errorf("raw row note %q lacks the settings read back from SQLite", r.Note)
		}
		if strings.HasPrefix(r.Name, "ratio") && !strings.Contains(r.Note, "× (") {
			t.Errorf("ratio row note %q", r.Note)
		}
	}
	if left, err := os.ReadDir(rawDir); err != nil || len(left) != 0 {
		t.Errorf("raw SQLite scratch files left behind: %v %v", left, err)
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "POST /Users, 4 clients") || !strings.Contains(buf.String(), "p99") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestRunStopsOnABadToken(t *testing.T) {
	base, _ := startOnramp(t)
	_, err := bench.Run(context.Background(), bench.Config{
		URL: base, Token: "onramp_wrong", Users: []int{10}, Clients: []int{1}, Ops: 5,
		SyncClients: []int{1}, Timeout: time.Minute,
	})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Run with a bad token = %v, want a 401 error", err)
	}
}

// A server with its per-token limits on answers 64 clients with 429s; the
// run stops at the first and says which flags turn the limits off, rather
// than printing a table of the limiter's figures.
func TestRunStopsWhenThrottled(t *testing.T) {
	base, token := startLimitedOnramp(t, scim.Limits{TokenInFlight: 1})
	start := time.Now()
	_, err := bench.Run(context.Background(), bench.Config{
		URL: base, Token: token, Users: []int{500}, Clients: []int{16}, Ops: 400,
		SyncClients: []int{1}, Timeout: time.Minute,
	})
	if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "--scim-token-inflight 0") {
		t.Fatalf("Run against a throttling server = %v, want the 429 advice", err)
	}
	t.Logf("stopped after %s: %v", time.Since(start), err)
}

func TestValidate(t *testing.T) {
	cfg := bench.Config{URL: "http://192.0.2.1:8080", Users: []int{5, 2}, Clients: []int{0}, SyncClients: []int{0}, Timeout: time.Minute,
		RawDB: filepath.Join(t.TempDir(), "absent")}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{"not a loopback address", "token is required", "ascending", "clients 0", "ops must be positive", "is not a directory", "sync clients 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	ok := bench.Config{URL: "http://[::1]:8080", Token: "t", Users: []int{1}, Clients: []int{1}, Ops: 1, SyncClients: []int{1}, Timeout: time.Minute}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(loopback) = %v", err)
	}
	ok.URL, ok.AllowRemote = "http://192.0.2.1:8080", true
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(remote allowed) = %v", err)
	}
}

func TestReadRSS(t *testing.T) {
	rss, hwm, err := bench.ReadRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("rss %d hwm %d", rss, hwm)
	}
	if _, _, err := bench.ReadRSS(1 << 30); err == nil {
		t.Error("ReadRSS of a process that does not exist succeeded")
	}
}
