package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp-dev/onramp/metrics"
	"github.com/onramp-dev/onramp/metrics/metricstest"
	"github.com/onramp-dev/onramp/scim"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// TestMetricsServed drives a running server (serve --demo, in process)
// through SCIM requests, SAML sign-ins and a forged response, then scrapes
// /metrics and checks that each counter moved under the right labels.
func TestMetricsServed(t *testing.T) {
	db := filepath.Join(t.TempDir(), "onramp.db")
	s := startDemo(t, db, "127.0.0.1:0")
	token := s.token()

	// SCIM: a create, the same again (409), a lookup by filter, a read, a
	// deactivation, a group list.
	ada := fmt.Sprintf(adaJSON, "grace@scim.example", "grace@scim.example")
	status, user := scimRequest(t, http.MethodPost, s.base+"/scim/v2/Users", token, ada)
	if status != http.StatusCreated {
		t.Fatalf("POST /Users = %d %v", status, user)
	}
	id, _ := user["id"].(string)
	if status, _ := scimRequest(t, http.MethodPost, s.base+"/scim/v2/Users", token, ada); status != http.StatusConflict {
		t.Fatalf("POST /Users again = %d, want 409", status)
	}
	for _, r := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "grace@scim.example"`), "", 200},
		{http.MethodGet, "/scim/v2/Users/" + id, "", 200},
		{http.MethodPatch, "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, 200},
		{http.MethodGet, "/scim/v2/Groups", "", 200},
	} {
		if status, body := scimRequest(t, r.method, s.base+r.path, token, r.body); status != r.want {
			t.Fatalf("%s %s = %d %v, want %d", r.method, r.path, status, body, r.want)
		}
	}

	// SAML: Ada's first sign-in creates her account, the second signs in
	// through the linked identity; a response that is not XML is rejected.
	for range 2 {
		if res, page := signIn(t, browser(t), s.base, "ada"); res.StatusCode != http.StatusOK {
			t.Fatalf("sign-in: %s\n%s", res.Status, page)
		}
	}
	res, _ := fetch(t, browser(t), http.MethodPost, s.base+"/saml/demo/demo-idp/acs",
		url.Values{"SAMLResponse": {"bm90IGEgU0FNTCByZXNwb25zZQ=="}})
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged response: %s, want 400", res.Status)
	}

	f := scrapeUntil(t, s.base+"/metrics", "onramp_purged_total")
	counts := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"onramp_scim_requests_total", []string{"operation", "Users.create", "code", "201"}, 1},
		{"onramp_scim_requests_total", []string{"operation", "Users.create", "code", "409"}, 1},
		{"onramp_scim_requests_total", []string{"operation", "Users.list", "code", "200"}, 1},
		{"onramp_scim_requests_total", []string{"operation", "Users.get", "code", "200"}, 1},
		{"onramp_scim_requests_total", []string{"operation", "Users.patch", "code", "200"}, 1},
		{"onramp_scim_requests_total", []string{"operation", "Groups.list", "code", "200"}, 1},
		{"onramp_jit_decisions_total", []string{"outcome", "create", "rule", "jit_sso_connection"}, 1},
		{"onramp_jit_decisions_total", []string{"outcome", "sign_in", "rule", "linked_identity"}, 1},
		{"onramp_saml_rejections_total", []string{"reason", "malformed"}, 1},
		{"onramp_http_request_duration_seconds", []string{"method", "PATCH", "route", "/scim/v2/Users/:id", "code", "200"}, 1},
		{"onramp_http_request_duration_seconds", []string{"method", "POST", "route", "/saml/:org/:connection/acs", "code", "400"}, 1},
		{"onramp_store_operation_duration_seconds", []string{"operation", "create_user", "result", "conflict"}, 1},
		{"onramp_store_operation_duration_seconds", []string{"operation", "update_user", "result", "ok"}, 1},
		{"onramp_store_operation_duration_seconds", []string{"operation", "sign_in", "result", "ok"}, 2},
	}
	for _, c := range counts {
		if got, ok := f.Value(t, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%q = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if got, ok := f.Value(t, "onramp_http_request_duration_seconds", "method", "POST", "route", "/saml/:org/:connection/acs", "code", "303"); !ok || got != 2 {
		t.Errorf("ACS sign-ins timed: %v (present %v), want 2", got, ok)
	}
	for _, what := range []string{"assertions", "sessions"} {
		if _, ok := f.Value(t, "onramp_purged_total", "what", what); !ok {
			t.Errorf("no onramp_purged_total{what=%q} after the janitor's first sweep", what)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := f[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for _, route := range f.LabelValues("onramp_http_request_duration_seconds", "route") {
		if strings.Contains(route, id) {
			t.Errorf("route label %q holds a user ID", route)
		}
	}
}

// scrapeUntil scrapes until family name is present (a background sweep
// fills it), for at most 30 seconds.
func scrapeUntil(t *testing.T, u, name string) metricstest.Families {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f := metricstest.Scrape(t, u)
		if _, ok := f[name]; ok || time.Now().After(deadline) {
			return f
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBackupWhileServing takes a backup of a running server's database with
// the backup command and opens it.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "onramp.db")
	s := startDemo(t, db, "127.0.0.1:0")
	status, user := scimRequest(t, http.MethodPost, s.base+"/scim/v2/Users", s.token(), fmt.Sprintf(adaJSON, "kept@scim.example", "kept@scim.example"))
	if status != http.StatusCreated {
		t.Fatalf("POST /Users = %d %v", status, user)
	}

	to := filepath.Join(dir, "backup.db")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"backup", "--db", db, "--to", to}, &stdout, &stderr); code != exitOK {
		t.Fatalf("backup: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "backed up to "+to) {
		t.Errorf("stdout: %s", stdout.String())
	}
	// The server goes on serving.
	if status, _ := scimRequest(t, http.MethodGet, s.base+"/scim/v2/Users", s.token(), ""); status != http.StatusOK {
		t.Errorf("GET /Users after the backup = %d", status)
	}
	// A second backup to the same file is refused; the first is kept.
	if code := run(context.Background(), []string{"backup", "--db", db, "--to", to}, &stdout, &stderr); code != exitError ||
		!strings.Contains(stderr.String(), "exists") {
		t.Errorf("backup onto an existing file: exit %d\n%s", code, stderr.String())
	}

	st, err := sqlstore.Open(context.Background(), to, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := st.GetOrgBySlug(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := user["id"].(string)
	if u, err := st.GetUser(context.Background(), org.ID, store.UserID(id)); err != nil || u.UserName != "kept@scim.example" {
		t.Errorf("the backup lacks the user created before it: %v %v", u, err)
	}
}

func TestBackupFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"backup", "--db", "postgres://u@127.0.0.1:1/x", "--to", filepath.Join(dir, "b.db")}, "pg_dump"},
		{[]string{"backup", "--db", filepath.Join(dir, "onramp.db")}, "--to is required"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s", tt.args, code, exitUsage, tt.want, stderr.String())
		}
	}
	// A missing database is not created by a backup, nor is a partial file
	// left behind.
	var stdout, stderr bytes.Buffer
	missing := filepath.Join(dir, "missing.db")
	if code := run(context.Background(), []string{"backup", "--db", missing, "--to", filepath.Join(dir, "b.db")}, &stdout, &stderr); code != exitError {
		t.Errorf("backup of a missing database: exit %d\n%s", code, stderr.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

func newMetricsServer(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestLogsNameTheSCIMTenant: records logged while a SCIM request is served
// carry its token's organization and connection.
func TestLogsNameTheSCIMTenant(t *testing.T) {
	var buf bytes.Buffer
	logger, ps := newLogger(&buf, "json", "info")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	ctx := scim.WithTenant(context.Background(), scim.Tenant{Org: "org-1", Connection: "conn-1", Token: "tok-1"})
	logger.InfoContext(ctx, "inside")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["org"] != "org-1" || rec["connection"] != "conn-1" {
		t.Errorf("record %v lacks org and connection", rec)
	}
	if strings.Contains(buf.String(), "tok-1") {
		t.Errorf("the token ID went into the log: %s", buf.String())
	}
}

// TestPurgeCounts: the sweepers' stores count what they purge.
func TestPurgeCounts(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := metrics.New(prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn := store.ConnectionID("c1")
	later := time.Now().Add(time.Hour)
	for _, id := range []string{"a1", "a2"} {
		if err := st.UseAssertion(ctx, conn, id, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	j := janitorPurges{st, m}
	if n, err := j.PurgeAssertions(ctx, later); err != nil || n != 2 {
		t.Fatalf("PurgeAssertions = %d, %v", n, err)
	}
	if _, err := j.DeleteExpiredSessions(ctx, later, time.Hour); err != nil {
		t.Fatal(err)
	}
	l := linkPurges{st, m}
	if _, err := l.PurgeLoginLinks(ctx, later); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PurgeRateLimits(ctx, later); err != nil {
		t.Fatal(err)
	}
	srv := newMetricsServer(t, m)
	f := metricstest.Scrape(t, srv)
	for what, want := range map[string]float64{"assertions": 2, "sessions": 0, "login_links": 0, "rate_limits": 0} {
		if got, ok := f.Value(t, "onramp_purged_total", "what", what); !ok || got != want {
			t.Errorf("purged_total{what=%q} = %v (present %v), want %v", what, got, ok, want)
		}
	}
}
