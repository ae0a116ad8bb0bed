package emaillogin_test

import (
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/mail"
	"github.com/onramp-dev/onramp/mail/mailtest"
	"github.com/onramp-dev/onramp/scim"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// env is a running onramp with the email sign-in, over real parts: a SQLite
// file, the server package's echo (request IDs, error handler), the SCIM and
// SAML handlers, package admin's authorization, and an SMTP server with
// STARTTLS and AUTH that the service sends through.
type env struct {
	t     *testing.T
	st    *sqlstore.Store
	clock *clockwork.FakeClock
	smtp  *mailtest.Server
	base  string
	svc   *emaillogin.Service
}

type envOption func(*emaillogin.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	logger := slog.New(slog.DiscardHandler)
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "onramp.db"), logger, sqlstore.WithNow(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	smtpSrv := mailtest.Start(t, mailtest.Options{TLS: true, User: "onramp", Password: "mail-secret"})
	mailer, err := mail.NewSMTP(mail.SMTPConfig{URL: smtpSrv.URL(), From: "onramp <noreply@onramp.test>", TLS: smtpSrv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	scimHandler, err := scim.New(scim.Config{Store: st, BaseURL: base + server.SCIMPrefix, Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e, err := server.New(server.Config{Store: st, SCIM: scimHandler, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	saml, err := jit.NewHandler(jit.HandlerConfig{Store: st, BaseURL: base, RequestKey: make([]byte, 32), Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	saml.Register(e)
	adm, err := admin.NewService(admin.Config{Store: st, BaseURL: base, Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := emaillogin.Config{
		Store: st, Mailer: mailer, BaseURL: base, CodeKey: []byte("0123456789abcdef0123456789abcdef"),
		Admin: adm, Logger: logger, Now: clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := emaillogin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(e)
	srv := httptest.NewUnstartedServer(e)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, clock: clock, smtp: smtpSrv, base: base, svc: svc}
}

// org creates an organization.
func (v *env) org(slug, name string, jitEmail bool, domains ...string) store.Org {
	v.t.Helper()
	o, err := v.st.CreateOrg(v.t.Context(), store.Org{Slug: slug, Name: name,
		Onboarding: store.Onboarding{JITEmailDomains: jitEmail}, Access: store.AccessControl{EmailDomains: domains}},
		store.AuditEvent{Actor: "operator"})
	if err != nil {
		v.t.Fatal(err)
	}
	return o
}

// user creates an account as SCIM would.
func (v *env) user(org store.OrgID, email string, mods ...func(*store.User)) store.User {
	v.t.Helper()
	u := store.User{OrgID: org, UserName: email, Active: true, Role: "Member", Source: store.SourceSCIM,
		Emails: []store.Email{{Value: email, Type: "work", Primary: true}}}
	for _, m := range mods {
		m(&u)
	}
	u, err := v.st.CreateUser(v.t.Context(), u, store.AuditEvent{Actor: "test"})
	if err != nil {
		v.t.Fatal(err)
	}
	return u
}

// token creates an API token of the organization: an admin token, or a
// SCIM token of conn.
func (v *env) token(org store.OrgID, conn store.ConnectionID) string {
	v.t.Helper()
	plain, tok, err := apitoken.New()
	if err != nil {
		v.t.Fatal(err)
	}
	tok.OrgID, tok.Kind, tok.ConnectionID = org, store.TokenAdmin, conn
	if conn != "" {
		tok.Kind = store.TokenSCIM
	}
	if _, err := v.st.CreateToken(v.t.Context(), tok, store.AuditEvent{Actor: "test"}); err != nil {
		v.t.Fatal(err)
	}
	return plain
}

// events returns the organization's audit events with an action, newest first.
func (v *env) events(org store.OrgID, action string) []store.AuditEvent {
	v.t.Helper()
	evs, err := v.st.ListEvents(v.t.Context(), org, store.AuditQuery{Action: action, Limit: store.MaxPageSize})
	if err != nil {
		v.t.Fatal(err)
	}
	return evs
}

// accounts returns the organization's accounts with an address, tombstones included.
func (v *env) accounts(org store.OrgID, email string) []store.User {
	v.t.Helper()
	all, err := v.st.ListUsersByEmail(v.t.Context(), email)
	if err != nil {
		v.t.Fatal(err)
	}
	var out []store.User
	for _, u := range all {
		if u.OrgID == org {
			out = append(out, u)
		}
	}
	return out
}

// browser is a person's browser: cookies kept, redirects not followed.
type browser struct {
	v *env
	c *http.Client
}

func (v *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return &browser{v: v, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// response is an answer, read.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) reason() string {
	m := regexp.MustCompile(`<code id="reason">([^<]*)</code>`).FindStringSubmatch(r.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (b *browser) do(req *http.Request) response {
	b.v.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.v.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.v.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(rawURL string) response {
	b.v.t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = b.v.base + rawURL
	}
	req, err := http.NewRequestWithContext(b.v.t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		b.v.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.v.t.Helper()
	req, err := http.NewRequestWithContext(b.v.t.Context(), http.MethodPost, b.v.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// form is an HTML form of a page: its action and fields.
type form struct {
	action string
	fields url.Values
}

var (
	formRE  = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*>`)
	nameRE  = regexp.MustCompile(`\bname="([^"]*)"`)
	valueRE = regexp.MustCompile(`\bvalue="([^"]*)"`)
)

// forms returns the page's forms.
func (r response) forms() []form {
	var out []form
	for _, m := range formRE.FindAllStringSubmatch(r.body, -1) {
		f := form{action: html.UnescapeString(m[1]), fields: url.Values{}}
		for _, in := range inputRE.FindAllString(m[2], -1) {
			name := nameRE.FindStringSubmatch(in)
			if name == nil {
				continue
			}
			var value string
			if v := valueRE.FindStringSubmatch(in); v != nil {
				value = html.UnescapeString(v[1])
			}
			f.fields.Set(name[1], value)
		}
		out = append(out, f)
	}
	return out
}

// submit posts the page's only form (or the one whose fields include want),
// with the fields in set changed.
func (b *browser) submit(r response, set url.Values, want ...string) response {
	b.v.t.Helper()
	fs := r.forms()
	var f *form
	for i := range fs {
		ok := true
		for j := 0; j+1 < len(want); j += 2 {
			if fs[i].fields.Get(want[j]) != want[j+1] {
				ok = false
			}
		}
		if ok {
			if f != nil {
				b.v.t.Fatalf("several forms match %v in %s", want, r.body)
			}
			f = &fs[i]
		}
	}
	if f == nil {
		b.v.t.Fatalf("no form matching %v in page (%d): %s", want, r.status, r.body)
	}
	for k, vs := range set {
		f.fields[k] = vs
	}
	return b.post(f.action, f.fields)
}

// me returns the session's user from GET /api/v1/me, or the status if not 200.
func (b *browser) me() (map[string]any, int) {
	b.v.t.Helper()
	r := b.get("/api/v1/me")
	if r.status != http.StatusOK {
		return nil, r.status
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		b.v.t.Fatal(err)
	}
	return m, r.status
}

// signInEmail asks for a sign-in email at /login and returns the page and
// the delivered message.
func (b *browser) signInEmail(email string, query ...string) (response, mailtest.Message) {
	b.v.t.Helper()
	before := len(b.v.smtp.To(email))
	path := "/login"
	if len(query) > 0 {
		path += "?" + query[0]
	}
	login := b.get(path)
	if login.status != http.StatusOK {
		b.v.t.Fatalf("GET %s: %d %s", path, login.status, login.body)
	}
	sent := b.submit(login, url.Values{"email": {email}})
	msgs := b.v.smtp.To(email)
	if sent.status != http.StatusOK || len(msgs) != before+1 {
		b.v.t.Fatalf("POST /login %s: %d, %d new messages: %s", email, sent.status, len(msgs)-before, sent.body)
	}
	return sent, msgs[len(msgs)-1]
}

var (
	linkRE = regexp.MustCompile(`https?://[^\s"<>]+/(?:login/link|invitations/accept)\?token=[A-Za-z0-9_-]+`)
	codeRE = regexp.MustCompile(`code on the sign-in page: (\d{6})`)
)

// link is the message's link, checked to be the same in both bodies.
func link(t *testing.T, m mailtest.Message) string {
	t.Helper()
	text := linkRE.FindString(m.Text)
	if text == "" || !strings.Contains(m.HTML, `href="`+text+`"`) {
		t.Fatalf("no link, or different links, in text %q and html %q", m.Text, m.HTML)
	}
	return text
}

func code(t *testing.T, m mailtest.Message) string {
	t.Helper()
	c := codeRE.FindStringSubmatch(m.Text)
	if c == nil || !strings.Contains(m.HTML, c[1]) {
		t.Fatalf("no code in %q / %q", m.Text, m.HTML)
	}
	return c[1]
}

// follow opens a link and posts its page's button.
func (b *browser) follow(rawURL string) response {
	b.v.t.Helper()
	page := b.get(rawURL)
	if page.status != http.StatusOK {
		return page
	}
	return b.submit(page, nil)
}

// api calls the admin API with a bearer token.
func (v *env) api(method, path, bearer string, body any) (int, map[string]any) {
	v.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			v.t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(v.t.Context(), method, v.base+path, rd)
	if err != nil {
		v.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			v.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, m
}
