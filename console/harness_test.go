package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/console"
	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/mail"
	"github.com/onramp-dev/onramp/mail/mailtest"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

const baseURL = "https://onramp.example"

// harness serves the console as `onramp serve` does (the server front, the
// SAML endpoints, the email sign-in with its invitations, sending through a
// real SMTP server, the admin API and the console) over a real SQLite file,
// with two organizations and sessions of an Admin, a Member and another
// organization's Admin.
type harness struct {
	url  string
	st   *sqlstore.Store
	logs *syncBuffer
	smtp *mailtest.Server

	acme, other                  store.Org
	okta                         store.Connection
	ada, max                     store.User
	adminC, memberC, otherAdminC *http.Cookie
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
	cn, err := console.New(console.Config{Service: svc, Store: st, Invitations: email, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cn.Register(e)
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)

	h := &harness{url: ts.URL, st: st, logs: logs, smtp: smtpSrv}
	h.acme = h.org(t, "acme", "Acme Corp")
	h.other = h.org(t, "other", "Other Inc.")
	h.okta = h.conn(t, h.acme, "okta", "Okta")
	h.ada = h.user(t, h.acme, "ada", "Admin")
	h.max = h.user(t, h.acme, "max", "Member")
	h.adminC = h.session(t, h.ada)
	h.memberC = h.session(t, h.max)
	h.otherAdminC = h.session(t, h.user(t, h.other, "oscar", "Admin"))
	return h
}

func (h *harness) org(t *testing.T, slug, name string) store.Org {
	t.Helper()
	o, err := h.st.CreateOrg(context.Background(), store.Org{Slug: slug, Name: name}, store.AuditEvent{Actor: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (h *harness) conn(t *testing.T, o store.Org, slug, name string) store.Connection {
	t.Helper()
	c, err := h.st.CreateConnection(context.Background(), store.Connection{OrgID: o.ID, Slug: slug, Name: name, MappingPreset: "okta"},
		store.AuditEvent{Actor: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) user(t *testing.T, o store.Org, name, role string) store.User {
	t.Helper()
	u, err := h.st.CreateUser(context.Background(), store.User{OrgID: o.ID, UserName: name, DisplayName: strings.ToUpper(name[:1]) + name[1:],
		Active: true, Role: role, Source: store.SourceSCIM, ConnectionID: h.okta.ID,
		Emails: []store.Email{{Value: name + "@" + o.Slug + ".example", Primary: true}}}, store.AuditEvent{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// session starts a browser session for u as the SAML endpoints would and
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

// csrf is the CSRF token of the session whose cookie is c, as the console's
// forms carry it.
func csrf(c *http.Cookie) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(c)
	return admin.CSRFToken(r)
}

// page is an answer of the console, read and parsed.
type page struct {
	status int
	header http.Header
	body   string
	doc    *html.Node
}

// noRedirects is a client that shows redirects instead of following them.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get requests path as the holder of cookie (nil: nobody).
func (h *harness) get(t *testing.T, cookie *http.Cookie, path string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h.send(t, cookie, req)
}

// post sends form to path as the holder of cookie. The session's CSRF token
// is added unless form sets csrf_token itself.
func (h *harness) post(t *testing.T, cookie *http.Cookie, path string, form url.Values) page {
	t.Helper()
	if cookie != nil && !form.Has(admin.CSRFField) {
		form.Set(admin.CSRFField, csrf(cookie))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.send(t, cookie, req)
}

// postMultipart sends form and one file as multipart/form-data.
func (h *harness) postMultipart(t *testing.T, cookie *http.Cookie, path string, form url.Values, field, filename string, file []byte) page {
	t.Helper()
	if !form.Has(admin.CSRFField) {
		form.Set(admin.CSRFField, csrf(cookie))
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, vs := range form {
		for _, v := range vs {
			if err := w.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	fw, err := w.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(file); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.url+path, &b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	return h.send(t, cookie, req)
}

func (h *harness) send(t *testing.T, cookie *http.Cookie, req *http.Request) page {
	t.Helper()
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirects().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := page{status: resp.StatusCode, header: resp.Header, body: string(data)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if p.doc, err = html.Parse(bytes.NewReader(data)); err != nil {
			t.Fatalf("%s %s: not HTML: %v", req.Method, req.URL.Path, err)
		}
	}
	return p
}

// want fails unless the page has status code.
func (p page) want(t *testing.T, code int) page {
	t.Helper()
	if p.status != code {
		t.Fatalf("status %d, want %d\n%.3000s", p.status, code, p.body)
	}
	return p
}

// redirect fails unless the answer is a 303 to location.
func (p page) redirect(t *testing.T, location string) {
	t.Helper()
	if p.status != http.StatusSeeOther || p.header.Get("Location") != location {
		t.Fatalf("answer %d to %q, want 303 to %q\n%.2000s", p.status, p.header.Get("Location"), location, p.body)
	}
}

// byID returns the element with id, or nil.
func (p page) byID(id string) *html.Node {
	return find(p.doc, func(n *html.Node) bool { return attr(n, "id") == id })
}

// find returns the first element under n that match accepts, or nil.
func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode && match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, match); f != nil {
			return f
		}
	}
	return nil
}

func attr(n *html.Node, name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// text is n's text content, with white space collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// fieldError checks that the control with id is marked invalid and described
// by an error message next to it (in the same .field) that contains want.
func (p page) fieldError(t *testing.T, id, want string) {
	t.Helper()
	in := p.byID(id)
	if in == nil {
		t.Fatalf("no element #%s\n%.3000s", id, p.body)
	}
	if attr(in, "aria-invalid") != "true" {
		t.Errorf("#%s is not marked aria-invalid", id)
	}
	if !strings.Contains(attr(in, "aria-describedby"), id+"-error") {
		t.Errorf("#%s is not described by #%s-error (aria-describedby %q)", id, id, attr(in, "aria-describedby"))
	}
	msg := p.byID(id + "-error")
	if msg == nil {
		t.Fatalf("no error message #%s-error\n%.3000s", id, p.body)
	}
	field := in.Parent
	for field != nil && !strings.Contains(" "+attr(field, "class")+" ", " field ") {
		field = field.Parent
	}
	if field == nil || find(field, func(n *html.Node) bool { return n == msg }) == nil {
		t.Errorf("#%s-error is not next to #%s (in its .field)", id, id)
	}
	if !strings.Contains(text(msg), want) {
		t.Errorf("error next to #%s is %q, want it to contain %q", id, text(msg), want)
	}
}

// events returns the organization's audit events with action.
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
