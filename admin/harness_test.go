package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/mail"
	"github.com/onramp-dev/onramp/mail/mailtest"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

const baseURL = "https://onramp.example"

// syncBuffer is a log sink safe for the server's goroutines.
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

// cred is how a test request authenticates.
type cred struct {
	name   string
	bearer string
	cookie *http.Cookie
	// csrf sends the session's CSRF token (computed as a browser would get it).
	csrf bool
}

// harness serves onramp's routes as `onramp serve` does (the server front,
// the SAML endpoints, the email sign-in, whose invitation and domain-route
// endpoints are part of the admin API, and the admin API) over a real SQLite
// file, with two organizations and credentials of every kind.
type harness struct {
	url    string
	st     *sqlstore.Store
	echo   *echo.Echo
	logs   *syncBuffer
	router routers.Router
	smtp   *mailtest.Server

	acme, other store.Org
	// Credentials.
	none, adminToken, adminSession, memberSession, otherAdminToken, otherAdminSession, scimToken, revokedToken cred
	adminUser, memberUser                                                                                      store.User
	okta                                                                                                       store.Connection
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	logs := &syncBuffer{}
	logger := slog.New(server.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	e, err := server.New(server.Config{Store: st, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	samlHandler, err := jit.NewHandler(jit.HandlerConfig{Store: st, BaseURL: baseURL, RequestKey: bytes.Repeat([]byte("k"), 32), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	samlHandler.Register(e)
	svc, err := admin.NewService(admin.Config{Store: st, BaseURL: baseURL, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	admin.NewAPI(svc, logger).Register(e)
	smtpSrv := mailtest.Start(t, mailtest.Options{TLS: true})
	mailer, err := mail.NewSMTP(mail.SMTPConfig{URL: smtpSrv.URL(), From: "onramp <noreply@onramp.test>", TLS: smtpSrv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	email, err := emaillogin.New(emaillogin.Config{Store: st, Mailer: mailer, BaseURL: baseURL,
		CodeKey: bytes.Repeat([]byte("c"), emaillogin.MinCodeKeyLen), Admin: svc, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	email.Register(e)
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)

	h := &harness{url: ts.URL, st: st, echo: e, logs: logs, router: openAPIRouter(t), smtp: smtpSrv}
	h.acme = h.org(t, "acme")
	h.other = h.org(t, "other")
	h.okta = h.conn(t, h.acme, "okta")

	h.none = cred{name: "no credentials"}
	h.adminToken = cred{name: "admin token", bearer: h.token(t, h.acme, "", store.TokenAdmin)}
	h.otherAdminToken = cred{name: "admin token of another org", bearer: h.token(t, h.other, "", store.TokenAdmin)}
	h.scimToken = cred{name: "SCIM token", bearer: h.token(t, h.acme, h.okta.ID, store.TokenSCIM)}
	revoked := h.token(t, h.acme, "", store.TokenAdmin)
	id, _, _ := apitoken.Parse(revoked)
	if err := st.RevokeToken(ctx, h.acme.ID, id, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	h.revokedToken = cred{name: "revoked admin token", bearer: revoked}

	h.adminUser = h.user(t, h.acme, "ada", "Admin")
	h.memberUser = h.user(t, h.acme, "max", "Member")
	h.adminSession = cred{name: "admin session", cookie: h.session(t, h.adminUser), csrf: true}
	h.memberSession = cred{name: "member session", cookie: h.session(t, h.memberUser), csrf: true}
	h.otherAdminSession = cred{name: "admin session of another org", cookie: h.session(t, h.user(t, h.other, "oscar", "Admin")), csrf: true}
	return h
}

func (h *harness) org(t *testing.T, slug string) store.Org {
	t.Helper()
	o, err := h.st.CreateOrg(context.Background(), store.Org{Slug: slug, Name: slug + " Inc."}, store.AuditEvent{Actor: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (h *harness) conn(t *testing.T, o store.Org, slug string) store.Connection {
	t.Helper()
	c, err := h.st.CreateConnection(context.Background(), store.Connection{OrgID: o.ID, Slug: slug, Name: strings.ToUpper(slug), MappingPreset: "okta"},
		store.AuditEvent{Actor: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) token(t *testing.T, o store.Org, conn store.ConnectionID, kind store.TokenKind) string {
	t.Helper()
	plain, tok, err := apitoken.New()
	if err != nil {
		t.Fatal(err)
	}
	tok.OrgID, tok.ConnectionID, tok.Kind = o.ID, conn, kind
	if _, err := h.st.CreateToken(context.Background(), tok, store.AuditEvent{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	return plain
}

func (h *harness) user(t *testing.T, o store.Org, name, role string) store.User {
	t.Helper()
	u, err := h.st.CreateUser(context.Background(), store.User{OrgID: o.ID, UserName: name, Active: true, Role: role, Source: store.SourceSCIM,
		Emails: []store.Email{{Value: name + "@" + o.Slug + ".example", Primary: true}}}, store.AuditEvent{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// session starts a browser session for u as the SAML endpoints would, and
// returns its cookie.
func (h *harness) session(t *testing.T, u store.User) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := jit.NewSessions(jit.SessionConfig{Store: h.st}).Start(context.Background(), rec, u.OrgID, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == jit.SessionCookieName {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// response is an answer, read and closed.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorBody is the admin API's error answer.
type errorBody struct {
	Error     string            `json:"error"`
	Fields    map[string]string `json:"fields"`
	RequestID string            `json:"request_id"`
}

func (r response) errorBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return e
}

// decode unmarshals the body into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

// do sends a request to path (under /api/v1) as c, with body (if not nil) as
// JSON. Every answer is checked against the OpenAPI document.
func (h *harness) do(t *testing.T, c cred, method, path string, body any, hdr ...string) response {
	t.Helper()
	if body == nil {
		return h.send(t, c, method, path, "", nil, hdr...)
	}
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return h.send(t, c, method, path, "application/json", bytes.NewReader(data), hdr...)
}

// doRaw sends body as is, with contentType.
func (h *harness) doRaw(t *testing.T, c cred, method, path, contentType string, body []byte, hdr ...string) response {
	t.Helper()
	return h.send(t, c, method, path, contentType, bytes.NewReader(body), hdr...)
}

func (h *harness) send(t *testing.T, c cred, method, path, contentType string, rd io.Reader, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, h.url+admin.Prefix+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
		if c.csrf && req.Header.Get(admin.CSRFHeader) == "" {
			req.Header.Set(admin.CSRFHeader, admin.CSRFToken(req))
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: data}
	h.checkAgainstDocument(t, req, r)
	return r
}

// want fails the test unless r has status code.
func (r response) want(t *testing.T, code int) response {
	t.Helper()
	if r.status != code {
		t.Fatalf("status %d, want %d; body %s", r.status, code, r.body)
	}
	return r
}

// openAPIRouter loads and validates the embedded OpenAPI document.
func openAPIRouter(t *testing.T) routers.Router {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(admin.OpenAPI())
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkAgainstDocument fails the test if the answer to req is not one the
// OpenAPI document describes (status, headers, JSON body schema).
func (h *harness) checkAgainstDocument(t *testing.T, req *http.Request, r response) {
	t.Helper()
	u := *req.URL
	u.Scheme, u.Host = "", "" // the document's server is relative (/api/v1)
	probe := req.Clone(context.Background())
	probe.URL = &u
	route, params, err := h.router.FindRoute(probe)
	if err != nil {
		t.Errorf("%s %s is not in openapi.json: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if strings.HasPrefix(r.header.Get("Content-Type"), "application/samlmetadata+xml") {
		in.Options.ExcludeResponseBody = true
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match openapi.json: %v\nbody: %.500s", req.Method, req.URL.Path, r.status, err, r.body)
	}
}

// events returns the organization's audit events with action, newest first.
func (h *harness) events(t *testing.T, o store.Org, action string) []store.AuditEvent {
	t.Helper()
	evs, err := h.st.ListEvents(context.Background(), o.ID, store.AuditQuery{Action: action, Limit: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (h *harness) getOrg(t *testing.T, o store.Org) store.Org {
	t.Helper()
	got, err := h.st.GetOrg(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// actorOf is the audit actor a credential acts as.
func (h *harness) actorOf(t *testing.T, c cred) string {
	t.Helper()
	switch {
	case c.bearer != "":
		id, _, err := apitoken.Parse(c.bearer)
		if err != nil {
			t.Fatal(err)
		}
		return "token:" + string(id)
	case c.cookie == h.adminSession.cookie:
		return "user:" + string(h.adminUser.ID)
	}
	t.Fatalf("no actor for %s", c.name)
	return ""
}
