package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// harness is a real onramp HTTP front (package server, as cmd/onramp wires it)
// serving the SCIM handler over a real SQLite file, with one organization, one
// connection and a SCIM token for it.
type harness struct {
	t       testing.TB
	st      *sqlstore.Store
	dbPath  string
	handler *Handler
	url     string // server root
	base    string // SCIM base URL
	logs    *syncBuffer
	acme    tenantFixture
}

type tenantFixture struct {
	org     store.OrgID
	conn    store.ConnectionID
	token   string // plaintext bearer token
	tokenID store.TokenID
}

// syncBuffer is a log sink that tests can read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harnessOptions changes the handler under test.
type harnessOptions struct {
	maxBody   int64
	rawQuirks bool // no vendor normalisation: what elimity alone accepts
	// quiet logs at Info into io.Discard, as a production server logs (formatted,
	// then written), instead of keeping a debug log for the test to read.
	quiet bool
	// now is the handler's clock (audit times, mapping cache); nil: time.Now.
	now func() time.Time
	// limits bounds tokens and de-provisioning; zero: nothing.
	limits Limits
}

func newHarness(t testing.TB, opts ...harnessOptions) *harness {
	t.Helper()
	var o harnessOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.quiet {
		logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	dbPath := filepath.Join(t.TempDir(), "onramp.db")
	st, err := sqlstore.Open(ctx, dbPath, logger)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })

	srv := httptest.NewUnstartedServer(nil)
	root := "http://" + srv.Listener.Addr().String()
	cfg := Config{Store: st, BaseURL: root + server.SCIMPrefix, Logger: logger, MaxBodyBytes: o.maxBody, Now: o.now, Limits: o.limits}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("scim.New: %v", err)
	}
	h.rawQuirks = o.rawQuirks
	e, err := server.New(server.Config{Store: st, SCIM: h, Logger: logger})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	srv.Config.Handler = e
	srv.Start()
	t.Cleanup(srv.Close)

	hs := &harness{t: t, st: st, dbPath: dbPath, handler: h, url: root, base: cfg.BaseURL, logs: logs}
	hs.acme = hs.newTenant("acme")
	return hs
}

// newTenant creates an organization with an SSO connection and a SCIM token.
func (h *harness) newTenant(slug string) tenantFixture {
	h.t.Helper()
	return h.newTenantWithPreset(slug, "")
}

// newTenantWithPreset is newTenant with the connection's mapping preset set.
func (h *harness) newTenantWithPreset(slug, preset string) tenantFixture {
	h.t.Helper()
	ctx := context.Background()
	ev := store.AuditEvent{Actor: "operator", Action: "test.setup"}
	org, err := h.st.CreateOrg(ctx, store.Org{Slug: slug, Name: slug}, ev)
	if err != nil {
		h.t.Fatalf("create org: %v", err)
	}
	conn, err := h.st.CreateConnection(ctx, store.Connection{OrgID: org.ID, Slug: "okta", Name: "Okta", MappingPreset: preset}, ev)
	if err != nil {
		h.t.Fatalf("create connection: %v", err)
	}
	plain, tok, err := apitoken.New()
	if err != nil {
		h.t.Fatal(err)
	}
	tok.OrgID, tok.ConnectionID, tok.Kind, tok.Description = org.ID, conn.ID, store.TokenSCIM, "test"
	if _, err := h.st.CreateToken(ctx, tok, ev); err != nil {
		h.t.Fatalf("create token: %v", err)
	}
	return tenantFixture{org: org.ID, conn: conn.ID, token: plain, tokenID: tok.ID}
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic document.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("response body is not a JSON object: %v: %s", err, r.body)
	}
	return doc
}

// do sends a request to the SCIM base with the tenant's token ("" for none).
func (h *harness) do(token, method, path string, body any, header ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// createUser creates a user over SCIM and returns its id.
func (h *harness) createUser(tf tenantFixture, userName string) string {
	h.t.Helper()
	r := h.do(tf.token, http.MethodPost, "/Users", map[string]any{
		"schemas":  []string{UserSchemaURI},
		"userName": userName,
		"name":     map[string]any{"givenName": "Given", "familyName": "Family"},
		"emails":   []any{map[string]any{"value": userName, "type": "work", "primary": true}},
		"active":   true,
	})
	if r.status != http.StatusCreated {
		h.t.Fatalf("create user %s: %d %s", userName, r.status, r.body)
	}
	return r.json(h.t)["id"].(string)
}

// liveUsers counts the tenant's live users in the store.
func (h *harness) liveUsers(tf tenantFixture) int {
	h.t.Helper()
	page, err := h.st.ListUsers(context.Background(), tf.org, store.UserQuery{})
	if err != nil {
		h.t.Fatal(err)
	}
	return page.Total
}

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
