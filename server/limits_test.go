package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// startLimited serves onramp's front with limits, a stand-in ACS, an admin
// API route and a SCIM handler, each reading its whole body.
func startLimited(t *testing.T, l server.Limits) string {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) // a still clock: no refill
	readAll := func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, itoa(n))
	}
	e, err := server.New(server.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: l,
		Now: func() time.Time { return at }, SCIM: http.HandlerFunc(readAll)})
	if err != nil {
		t.Fatal(err)
	}
	h := echo.WrapHandler(http.HandlerFunc(readAll))
	e.POST("/saml/:org/:connection/acs", h)
	e.GET("/saml/:org/:connection/login", h)
	e.POST("/api/v1/orgs/:org/thing", h)
	e.GET("/api/v1/orgs/:org/thing", h)
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return ts.URL
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, method, url string, body []byte, header ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func wantPage(t *testing.T, a answer, status int, reason string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %.300s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want HTML", ct)
	}
	if !strings.Contains(a.body, `<code id="reason">`+reason+`</code>`) {
		t.Errorf("page lacks reason %s: %.500s", reason, a.body)
	}
}

func wantJSONError(t *testing.T, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %.300s", a.status, status, a.body)
	}
	var body struct {
		Error     string `json:"error"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(a.body), &body); err != nil || body.Error == "" || body.RequestID == "" {
		t.Errorf("body %q is not the JSON error body (%v)", a.body, err)
	}
}

func TestBodyLimits(t *testing.T) {
	url := startLimited(t, server.Limits{})
	acs := url + "/saml/acme/okta/acs"
	if a := send(t, http.MethodPost, acs, bytes.Repeat([]byte("a"), server.MaxACSBody)); a.status != http.StatusOK || a.body != itoa(server.MaxACSBody) {
		t.Fatalf("ACS at the limit: %d %.100s", a.status, a.body)
	}
	wantPage(t, send(t, http.MethodPost, acs, bytes.Repeat([]byte("a"), server.MaxACSBody+1)), http.StatusRequestEntityTooLarge, server.ReasonTooLarge)

	api := url + "/api/v1/orgs/acme/thing"
	if a := send(t, http.MethodPost, api, bytes.Repeat([]byte("a"), server.MaxBody)); a.status != http.StatusOK {
		t.Fatalf("API at the limit: %d", a.status)
	}
	wantJSONError(t, send(t, http.MethodPost, api, bytes.Repeat([]byte("a"), server.MaxBody+1)), http.StatusRequestEntityTooLarge)

	// A body without a declared length is cut at the limit as it is read.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, acs, io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("a"), server.MaxACSBody+10))))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("chunked oversized ACS body: %d, want the handler's 400 on its read error", resp.StatusCode)
	}

	// SCIM bounds its own bodies, in its own format: the server lets them by.
	if a := send(t, http.MethodPost, url+server.SCIMPrefix+"/Users", bytes.Repeat([]byte("a"), server.MaxBody+1)); a.status != http.StatusOK {
		t.Errorf("SCIM body: %d, want the SCIM handler's answer", a.status)
	}
}

func TestSAMLRateLimitPerClient(t *testing.T) {
	url := startLimited(t, server.Limits{SAMLRate: 1, SAMLBurst: 2})
	for range 2 {
		if a := send(t, http.MethodGet, url+"/saml/acme/okta/login", nil); a.status != http.StatusOK {
			t.Fatalf("within the burst: %d", a.status)
		}
	}
	a := send(t, http.MethodPost, url+"/saml/acme/okta/acs", []byte("SAMLResponse=x"))
	wantPage(t, a, http.StatusTooManyRequests, server.ReasonRateLimited)
	if ra := a.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	// Other routes are not limited by it.
	if a := send(t, http.MethodGet, url+"/api/v1/orgs/acme/thing", nil); a.status != http.StatusOK {
		t.Errorf("API: %d", a.status)
	}
}

// TestSAMLRateLimitBehindTrustedProxy: behind a trusted proxy each client
// address in X-Forwarded-For has its own allowance, a client cannot escape
// its own by writing addresses in front of it, and without trusted proxies
// the header counts for nothing.
func TestSAMLRateLimitBehindTrustedProxy(t *testing.T) {
	_, loopback, err := net.ParseCIDR("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	login := func(url, xff string) int {
		t.Helper()
		return send(t, http.MethodGet, url+"/saml/acme/okta/login", nil, "X-Forwarded-For", xff).status
	}
	url := startLimited(t, server.Limits{SAMLRate: 0.001, SAMLBurst: 1, TrustedProxies: []*net.IPNet{loopback}})
	if got := login(url, "203.0.113.7"); got != http.StatusOK {
		t.Fatalf("first request of 203.0.113.7: %d", got)
	}
	if got := login(url, "203.0.113.7"); got != http.StatusTooManyRequests {
		t.Errorf("second request of 203.0.113.7: %d, want 429", got)
	}
	if got := login(url, "203.0.113.8"); got != http.StatusOK {
		t.Errorf("another client behind the proxy: %d, want its own allowance", got)
	}
	if got := login(url, "203.0.113.9, 198.51.100.1"); got != http.StatusOK {
		t.Fatalf("first request of 198.51.100.1: %d", got)
	}
	if got := login(url, "203.0.113.10, 198.51.100.1"); got != http.StatusTooManyRequests {
		t.Errorf("198.51.100.1 writing another address in front of its own: %d, want 429", got)
	}

	direct := startLimited(t, server.Limits{SAMLRate: 0.001, SAMLBurst: 1})
	if got := login(direct, "203.0.113.7"); got != http.StatusOK {
		t.Fatalf("first request without trusted proxies: %d", got)
	}
	if got := login(direct, "203.0.113.8"); got != http.StatusTooManyRequests {
		t.Errorf("X-Forwarded-For from an untrusted peer got its own allowance: %d, want 429", got)
	}
}

func TestTokenRateLimit(t *testing.T) {
	url := startLimited(t, server.Limits{TokenRate: 1, TokenBurst: 2})
	api := url + "/api/v1/orgs/acme/thing"
	for range 2 {
		if a := send(t, http.MethodGet, api, nil, "Authorization", "Bearer onramp_one"); a.status != http.StatusOK {
			t.Fatalf("within the burst: %d", a.status)
		}
	}
	a := send(t, http.MethodGet, api, nil, "Authorization", "Bearer onramp_one")
	wantJSONError(t, a, http.StatusTooManyRequests)
	if ra := a.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	if a := send(t, http.MethodGet, api, nil, "Authorization", "Bearer onramp_two"); a.status != http.StatusOK {
		t.Errorf("another token: %d", a.status)
	}
	if a := send(t, http.MethodGet, api, nil); a.status != http.StatusOK {
		t.Errorf("no token (a session's request): %d", a.status)
	}
	// SCIM tokens are the SCIM handler's to limit.
	for range 3 {
		if a := send(t, http.MethodGet, url+server.SCIMPrefix+"/Users", nil, "Authorization", "Bearer onramp_one"); a.status != http.StatusOK {
			t.Fatalf("SCIM: %d", a.status)
		}
	}
}
