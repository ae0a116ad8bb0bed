package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp-dev/onramp/metrics"
	"github.com/onramp-dev/onramp/metrics/metricstest"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// startWithMetrics serves onramp's routes with metrics over a real SQLite
// store. The SCIM handler answers by method as a SCIM server would (201 for a
// create, 204 for a delete, 404 for an unknown user), so that the statuses
// the metrics see come from the handler.
func startWithMetrics(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	logger := slog.New(server.LogHandler(slog.NewJSONHandler(logs, nil)))
	m, err := metrics.New(prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	scim := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	e, err := server.New(server.Config{Store: st, SCIM: scim, Logger: logger, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/saml/:org/:connection/metadata", func(c echo.Context) error {
		return c.String(http.StatusOK, "metadata")
	})
	e.GET("/boom", func(echo.Context) error { panic("boom") })
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return ts.URL
}

func do(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsCountRequests(t *testing.T) {
	logs := &syncBuffer{}
	base := startWithMetrics(t, logs)
	requests := []struct {
		method, path string
		status       int
	}{
		{"POST", "/scim/v2/Users", 201},
		{"POST", "/scim/v2/Users", 201},
		{"GET", "/scim/v2/Users?filter=userName%20eq%20%22a%22", 200},
		{"GET", "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", 200},
		{"GET", "/scim/v2/Users/missing", 404},
		{"PATCH", "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", 200},
		{"PATCH", "/scim/v2/Users/another-id", 200},
		{"PUT", "/scim/v2/Groups/g1", 200},
		{"DELETE", "/scim/v2/Groups/g1", 204},
		{"POST", "/scim/v2/Groups/.search", 201},
		{"GET", "/scim/v2/ServiceProviderConfig", 200},
		{"GET", "/scim/v2/Schemas", 200},
		{"GET", "/scim/v2/NoSuchThing/x/y", 200},
		{"GET", "/saml/acme/okta/metadata", 200},
		{"GET", "/saml/globex/entra/metadata", 200},
		{"GET", "/no/such/route/12345", 404},
		{"GET", "/boom", 500},
		{"GET", "/healthz", 200},
	}
	for _, r := range requests {
		if got := do(t, r.method, base+r.path); got != r.status {
			t.Fatalf("%s %s = %d, want %d", r.method, r.path, got, r.status)
		}
	}

	f := metricstest.Scrape(t, base+server.MetricsPath)
	scim := []struct {
		op, code string
		n        float64
	}{
		{"Users.create", "201", 2},
		{"Users.list", "200", 1},
		{"Users.get", "200", 1},
		{"Users.get", "404", 1},
		{"Users.patch", "200", 2},
		{"Groups.replace", "200", 1},
		{"Groups.delete", "204", 1},
		{"Groups.search", "201", 1},
		{"ServiceProviderConfig.get", "200", 1},
		{"Schemas.list", "200", 1},
		{"other", "200", 1},
	}
	for _, w := range scim {
		if got, ok := f.Value(t, "onramp_scim_requests_total", "operation", w.op, "code", w.code); !ok || got != w.n {
			t.Errorf("scim_requests_total{operation=%q,code=%q} = %v (present %v), want %v", w.op, w.code, got, ok, w.n)
		}
	}
	latency := []struct {
		method, route, code string
		n                   float64
	}{
		{"PATCH", "/scim/v2/Users/:id", "200", 2},
		{"GET", "/scim/v2/Users/:id", "404", 1},
		{"GET", "/scim/v2/Users", "200", 1},
		{"POST", "/scim/v2/Groups/.search", "201", 1},
		{"GET", "/scim/v2/other", "200", 1},
		{"GET", "/saml/:org/:connection/metadata", "200", 2},
		{"GET", "unmatched", "404", 1},
		{"GET", "/boom", "500", 1},
		{"GET", "/healthz", "200", 1},
	}
	for _, w := range latency {
		if got, ok := f.Value(t, "onramp_http_request_duration_seconds", "method", w.method, "route", w.route, "code", w.code); !ok || got != w.n {
			t.Errorf("http_request_duration_seconds{%s %s %s} count = %v (present %v), want %v", w.method, w.route, w.code, got, ok, w.n)
		}
	}
	// No raw path, and so no ID, became a label value.
	for _, route := range f.LabelValues("onramp_http_request_duration_seconds", "route") {
		if strings.Contains(route, "2819c223") || strings.Contains(route, "acme") || strings.Contains(route, "12345") {
			t.Errorf("route label %q holds a raw path", route)
		}
	}
	if _, ok := f["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// The request log names the organization and connection where the route does.
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"path":"/saml/acme/okta/metadata"`) {
			found = true
			if !strings.Contains(line, `"org":"acme"`) || !strings.Contains(line, `"connection":"okta"`) {
				t.Errorf("request log lacks org and connection: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("no request log for the SAML route:\n%s", logs.String())
	}
}

func TestNoMetricsRouteWithoutMetrics(t *testing.T) {
	h := start(t, nil, nil)
	if resp, _ := get(t, h.url+server.MetricsPath, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics without Config.Metrics = %d, want 404", resp.StatusCode)
	}
}

type tenantKey struct{}

func TestLogHandlerSources(t *testing.T) {
	logs := &syncBuffer{}
	source := func(ctx context.Context) []slog.Attr {
		org, ok := ctx.Value(tenantKey{}).(string)
		if !ok {
			return nil
		}
		return []slog.Attr{slog.String("org", org), slog.String("connection", "okta")}
	}
	logger := slog.New(server.LogHandler(slog.NewTextHandler(logs, nil), source)).WithGroup("g").With("k", "v")
	ctx := context.WithValue(server.WithRequestID(context.Background(), "rid-1"), tenantKey{}, "org-1")
	logger.InfoContext(ctx, "inside")
	logger.InfoContext(context.Background(), "outside")
	logger.InfoContext(ctx, "explicit", "org", "org-2")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("log:\n%s", logs.String())
	}
	if !strings.Contains(lines[0], "org=org-1") || !strings.Contains(lines[0], "connection=okta") || !strings.Contains(lines[0], "request_id=rid-1") {
		t.Errorf("record with a tenant: %s", lines[0])
	}
	if strings.Contains(lines[1], "org") {
		t.Errorf("record without a tenant: %s", lines[1])
	}
	if strings.Count(lines[2], "org=") != 1 || !strings.Contains(lines[2], "org=org-2") {
		t.Errorf("an explicit org is kept and not repeated: %s", lines[2])
	}
}
