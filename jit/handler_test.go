package jit

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// site is onramp's SAML endpoints on a real HTTPS server and a real SQLite
// file, with the crewjam IdP set up for connection "okta" of "acme".
type site struct {
	st     *sqlstore.Store
	dbPath string // st's SQLite file
	srv    *httptest.Server
	h      *Handler
	idp    *samltest.IdP
	clock  *testClock
	org    store.Org
	conn   store.Connection
}

type siteOpts struct {
	onboarding        store.Onboarding
	access            store.AccessControl
	jitProvisioning   bool
	allowIdPInitiated bool
	// plainHTTP serves over HTTP instead of HTTPS (BenchmarkACS: TLS is
	// usually a proxy's, and not what the benchmark compares).
	plainHTTP bool
}

func jitBySSO() siteOpts {
	return siteOpts{
		onboarding:      store.Onboarding{JITSSOConnections: true},
		access:          store.AccessControl{SSOConnections: []string{"okta"}},
		jitProvisioning: true,
	}
}

func newSite(t testing.TB, o siteOpts) *site {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "onramp.db")
	st, connID, _ := openTestStoreAt(t, dbPath)
	s := &site{st: st, dbPath: dbPath, clock: &testClock{}, idp: samltest.New(t, samltest.Options{})}
	ev := store.AuditEvent{Actor: "operator", Action: "test.setup"}
	var err error
	s.org, err = st.GetOrgBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	s.org, err = st.UpdateOrg(ctx, s.org.ID, func(org *store.Org) error {
		org.Onboarding, org.Access = o.onboarding, o.access
		return nil
	}, ev)
	if err != nil {
		t.Fatal(err)
	}
	s.conn, err = st.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		c.Name = "Okta"
		c.IdPMetadataXML = string(s.idp.MetadataXML(t))
		c.JITProvisioning = o.jitProvisioning
		c.AllowIdPInitiated = o.allowIdPInitiated
		c.MappingPreset = "okta"
		return nil
	}, ev)
	if err != nil {
		t.Fatal(err)
	}

	e := echo.New()
	s.srv = httptest.NewUnstartedServer(e)
	if o.plainHTTP {
		s.srv.Start()
	} else {
		s.srv.StartTLS()
	}
	t.Cleanup(s.srv.Close)
	s.h, err = NewHandler(HandlerConfig{
		Store:      st,
		BaseURL:    s.srv.URL,
		RequestKey: []byte(trackerKey),
		Logger:     slog.New(slog.DiscardHandler),
		Now:        s.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.h.Register(e)

	// The Admin gives the IdP our metadata, fetched from the endpoint.
	res, body := s.get(t, s.newBrowser(t), "/saml/acme/okta/metadata")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %s %s", res.Status, body)
	}
	s.idp.RegisterSP(t, []byte(body), false)
	return s
}

// newBrowser is a client with a cookie jar that does not follow redirects.
func (s *site) newBrowser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := s.srv.Client()
	return &http.Client{
		Transport:     c.Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// answer is a finished HTTP exchange: the response without its body, which
// is read and closed.
type answer struct {
	StatusCode int
	Status     string
	Header     http.Header
	cookies    []*http.Cookie
}

func (a answer) Cookies() []*http.Cookie { return a.cookies }

// finish reads and closes res's body.
func finish(t testing.TB, res *http.Response) (answer, string) {
	t.Helper()
	body := readBody(t, res)
	return answer{StatusCode: res.StatusCode, Status: res.Status, Header: res.Header, cookies: res.Cookies()}, body
}

func (s *site) get(t testing.TB, b *http.Client, path string) (answer, string) {
	t.Helper()
	res, err := b.Get(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return finish(t, res)
}

func readBody(t testing.TB, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startLogin follows the login link to the IdP and returns the response
// the IdP posts back.
func (s *site) startLogin(t testing.TB, b *http.Client, returnTo string, l samltest.Login) (samlResponse, relayState string) {
	t.Helper()
	res, body := s.get(t, b, "/saml/acme/okta/login?return_to="+url.QueryEscape(returnTo))
	if res.StatusCode != http.StatusFound {
		t.Fatalf("login: %s %s", res.Status, body)
	}
	return s.idp.SPInitiated(t, res.Header.Get("Location"), l)
}

// post posts a response to the ACS as the IdP's auto-submitting form does.
func (s *site) post(t testing.TB, b *http.Client, samlResponse, relayState string) (answer, string) {
	t.Helper()
	res, err := b.PostForm(s.srv.URL+"/saml/acme/okta/acs", url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relayState}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return finish(t, res)
}

// signIn runs a whole SP-initiated sign-in and returns the ACS answer.
func (s *site) signIn(t testing.TB, b *http.Client, returnTo string, l samltest.Login) (answer, string) {
	t.Helper()
	resp, relay := s.startLogin(t, b, returnTo, l)
	return s.post(t, b, resp, relay)
}

func (s *site) me(t testing.TB, b *http.Client) (int, meJSON) {
	t.Helper()
	res, body := s.get(t, b, "/api/v1/me")
	var m meJSON
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("me: %v: %s", err, body)
		}
	}
	return res.StatusCode, m
}

func (s *site) events(t testing.TB, action string) []store.AuditEvent {
	t.Helper()
	evs, err := s.st.ListEvents(context.Background(), s.org.ID, store.AuditQuery{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (s *site) users(t testing.TB) []store.User {
	t.Helper()
	page, err := s.st.ListUsers(context.Background(), s.org.ID, store.UserQuery{Count: 100, IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func pageReason(t testing.TB, body string) string {
	t.Helper()
	m := regexp.MustCompile(`<code id="reason">([^<]*)</code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no reason code on the page: %s", body)
	}
	return m[1]
}

func wantPage(t testing.TB, res answer, body string, status int, reason string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %s, want %d: %s", res.Status, status, body)
	}
	if got := pageReason(t, body); got != reason {
		t.Fatalf("reason %q, want %q", got, reason)
	}
}

func TestHandler_JITCreatesAccountThenSignsIn(t *testing.T) {
	s := newSite(t, jitBySSO())
	b := s.newBrowser(t)
	if code, _ := s.me(t, b); code != http.StatusUnauthorized {
		t.Fatalf("me before sign-in: %d, want 401", code)
	}

	res, body := s.signIn(t, b, "/app/welcome", samltest.Login{User: alice()})

	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/app/welcome" {
		t.Fatalf("ACS: %s to %q: %s", res.Status, res.Header.Get("Location"), body)
	}
	code, me := s.me(t, b)
	if code != http.StatusOK || me.UserName != "00u1alice" || me.Email != "alice@acme-corp.com" || me.GivenName != "Alice" {
		t.Fatalf("me: %d %+v", code, me)
	}
	users := s.users(t)
	if len(users) != 1 || users[0].Source != store.SourceJIT || users[0].ConnectionID != s.conn.ID || users[0].LastSignInAt == nil {
		t.Fatalf("users: %+v", users)
	}
	if evs := s.events(t, AuditCreated); len(evs) != 1 || evs[0].Rule != RuleJITSSOConnection || evs[0].Actor != "idp:okta" {
		t.Fatalf("jit.created events: %+v", evs)
	}

	// Second sign-in, another browser: rule 1, the same account.
	b2 := s.newBrowser(t)
	res, body = s.signIn(t, b2, "", samltest.Login{User: alice()})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("second ACS: %s to %q: %s", res.Status, res.Header.Get("Location"), body)
	}
	if _, me2 := s.me(t, b2); me2.ID != me.ID {
		t.Fatalf("second sign-in is user %q, want %q", me2.ID, me.ID)
	}
	if n := len(s.users(t)); n != 1 {
		t.Fatalf("%d users after two sign-ins, want 1", n)
	}
	signedIn := s.events(t, AuditSignedIn)
	if len(signedIn) != 2 || signedIn[0].Rule != RuleLinkedIdentity {
		t.Fatalf("jit.signed_in events (newest first): %+v", signedIn)
	}
}

func TestHandler_RefusedWhenJITIsOff(t *testing.T) {
	s := newSite(t, siteOpts{})
	b := s.newBrowser(t)

	res, body := s.signIn(t, b, "", samltest.Login{User: alice()})

	wantPage(t, res, body, http.StatusForbidden, RuleJITNotAllowed)
	if !strings.Contains(body, "Ask your Admin") {
		t.Errorf("the page does not say what to ask the Admin for: %s", body)
	}
	if code, _ := s.me(t, b); code != http.StatusUnauthorized {
		t.Errorf("me after refusal: %d, want 401", code)
	}
	if n := len(s.users(t)); n != 0 {
		t.Errorf("%d users after a refusal", n)
	}
	if evs := s.events(t, AuditRefused); len(evs) != 1 || evs[0].Rule != RuleJITNotAllowed {
		t.Errorf("jit.refused events: %+v", evs)
	}
}

func TestHandler_LinksAccountProvisionedBySCIM(t *testing.T) {
	s := newSite(t, siteOpts{jitProvisioning: true})
	ctx := context.Background()
	// Okta pushed the person over SCIM before their first login.
	scim, err := s.st.CreateUser(ctx, store.User{
		OrgID: s.org.ID, UserName: "alice@acme-corp.com", Active: true, Source: store.SourceSCIM, ConnectionID: s.conn.ID,
		Emails: []store.Email{{Value: "alice@acme-corp.com", Primary: true}},
	}, store.AuditEvent{Actor: "token:t1", Action: "user.created"})
	if err != nil {
		t.Fatal(err)
	}
	b := s.newBrowser(t)

	res, body := s.signIn(t, b, "", samltest.Login{User: alice()})

	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("ACS: %s %s", res.Status, body)
	}
	if _, me := s.me(t, b); me.ID != scim.ID {
		t.Fatalf("signed in as %q, want the SCIM account %q", me.ID, scim.ID)
	}
	if n := len(s.users(t)); n != 1 {
		t.Fatalf("%d users, want 1: no duplicate", n)
	}
	if evs := s.events(t, AuditLinked); len(evs) != 1 || evs[0].UserID != scim.ID {
		t.Fatalf("jit.linked events: %+v", evs)
	}
}

func TestHandler_DeprovisionedAccountIsRefused(t *testing.T) {
	s := newSite(t, jitBySSO())
	ctx := context.Background()
	b := s.newBrowser(t)
	if res, body := s.signIn(t, b, "", samltest.Login{User: alice()}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first sign-in: %s %s", res.Status, body)
	}
	_, me := s.me(t, b)
	// SCIM sets active:false; the store ends the user's sessions.
	if _, err := s.st.UpdateUser(ctx, s.org.ID, me.ID, func(u *store.User) error { u.Active = false; return nil }, store.AuditEvent{Actor: "token:t1", Action: "user.deactivated"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.me(t, b); code != http.StatusUnauthorized {
		t.Fatalf("me after deactivation: %d, want 401", code)
	}

	res, body := s.signIn(t, b, "", samltest.Login{User: alice()})

	wantPage(t, res, body, http.StatusForbidden, RuleDeprovisioned)
	if n := len(s.users(t)); n != 1 {
		t.Fatalf("%d users: JIT must not create a new account", n)
	}
}

func TestHandler_ResponseFromAnotherBrowserIsRejected(t *testing.T) {
	s := newSite(t, jitBySSO())
	// Login CSRF: the attacker starts a login in their browser and makes the
	// victim's browser post the resulting response.
	attacker, victim := s.newBrowser(t), s.newBrowser(t)
	resp, relay := s.startLogin(t, attacker, "", samltest.Login{User: alice()})

	res, body := s.post(t, victim, resp, relay)

	wantPage(t, res, body, http.StatusForbidden, ReasonInResponseToUnknown)
	if code, _ := s.me(t, victim); code != http.StatusUnauthorized {
		t.Fatalf("victim has a session")
	}
	if evs := s.events(t, AuditSAMLRejected); len(evs) != 1 || evs[0].Rule != ReasonInResponseToUnknown {
		t.Fatalf("saml.rejected events: %+v", evs)
	}
	if n := len(s.users(t)); n != 0 {
		t.Fatalf("%d users after a rejected response", n)
	}
}

func TestHandler_ResponseIsUsedOnce(t *testing.T) {
	s := newSite(t, jitBySSO())
	b := s.newBrowser(t)
	resp, relay := s.startLogin(t, b, "", samltest.Login{User: alice()})
	if res, body := s.post(t, b, resp, relay); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first post: %s %s", res.Status, body)
	}

	res, body := s.post(t, b, resp, relay)

	// The request was answered and forgotten; a replay cannot match it.
	wantPage(t, res, body, http.StatusForbidden, ReasonInResponseToUnknown)
}

func TestHandler_IdPInitiated(t *testing.T) {
	s := newSite(t, func() siteOpts { o := jitBySSO(); o.allowIdPInitiated = true; return o }())
	for relay, want := range map[string]string{
		"/dashboard":             "/dashboard",
		"https://evil.example/x": "/", // not an allowed origin: ignored
		"":                       "/",
	} {
		b := s.newBrowser(t)
		resp := s.idp.IdPInitiated(t, s.srv.URL+"/saml/acme/okta/metadata", relay, samltest.Login{User: alice()})

		res, body := s.post(t, b, resp, relay)

		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Fatalf("RelayState %q: %s to %q, want %q: %s", relay, res.Status, res.Header.Get("Location"), want, body)
		}
	}
}

func TestHandler_IdPInitiatedNotAllowed(t *testing.T) {
	s := newSite(t, jitBySSO())
	resp := s.idp.IdPInitiated(t, s.srv.URL+"/saml/acme/okta/metadata", "", samltest.Login{User: alice()})

	res, body := s.post(t, s.newBrowser(t), resp, "")

	wantPage(t, res, body, http.StatusForbidden, ReasonIdPInitiatedNotAllowed)
}

func TestHandler_MissingRequiredAttribute(t *testing.T) {
	s := newSite(t, jitBySSO())
	// The okta preset requires an email: from "email" or an email-shaped
	// NameID. This IdP sends neither.
	u := samltest.User{NameID: "00u1alice", Attributes: map[string][]string{"firstName": {"Alice"}}}

	res, body := s.signIn(t, s.newBrowser(t), "", samltest.Login{User: u})

	wantPage(t, res, body, http.StatusBadRequest, "attribute_missing")
	if !strings.Contains(body, "email") {
		t.Errorf("the page does not name the missing field: %s", body)
	}
}

func TestHandler_ReturnToMustNotRedirectElsewhere(t *testing.T) {
	s := newSite(t, jitBySSO())
	for _, rt := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		res, body := s.get(t, s.newBrowser(t), "/saml/acme/okta/login?return_to="+url.QueryEscape(rt))
		wantPage(t, res, body, http.StatusBadRequest, "bad_return_to")
	}
}

func TestHandler_OversizeBody(t *testing.T) {
	s := newSite(t, jitBySSO())

	res, body := s.post(t, s.newBrowser(t), strings.Repeat("A", DefaultMaxResponseSize+32<<10), "")

	wantPage(t, res, body, http.StatusBadRequest, ReasonTooLarge)
}

func TestHandler_UnknownConnection(t *testing.T) {
	s := newSite(t, jitBySSO())
	for _, path := range []string{"/saml/acme/nope/metadata", "/saml/nope/okta/login"} {
		res, body := s.get(t, s.newBrowser(t), path)
		wantPage(t, res, body, http.StatusNotFound, "unknown_connection")
	}
}

func TestHandler_MetadataKeyPairIsGeneratedOnce(t *testing.T) {
	s := newSite(t, jitBySSO())
	_, first := s.get(t, s.newBrowser(t), "/saml/acme/okta/metadata")
	_, second := s.get(t, s.newBrowser(t), "/saml/acme/okta/metadata")
	cert := regexp.MustCompile(`<X509Certificate[^>]*>([^<]+)<`)
	if c1, c2 := cert.FindStringSubmatch(first), cert.FindStringSubmatch(second); c1 == nil || c2 == nil || c1[1] != c2[1] {
		t.Fatalf("the SP certificate changed between two metadata requests")
	}
	if evs := s.events(t, AuditSPKeyGenerated); len(evs) != 1 {
		t.Fatalf("%d key generation events, want 1", len(evs))
	}
	// A connection without IdP metadata still has SP metadata (the Admin
	// needs it first), but cannot start a login.
	ctx := context.Background()
	if _, err := s.st.UpdateConnection(ctx, s.conn.ID, func(c *store.Connection) error { c.IdPMetadataXML = ""; return nil }, store.AuditEvent{Actor: "operator", Action: "test"}); err != nil {
		t.Fatal(err)
	}
	if res, body := s.get(t, s.newBrowser(t), "/saml/acme/okta/metadata"); res.StatusCode != http.StatusOK {
		t.Fatalf("metadata without IdP: %s %s", res.Status, body)
	}
	res, body := s.get(t, s.newBrowser(t), "/saml/acme/okta/login")
	wantPage(t, res, body, http.StatusInternalServerError, ReasonConnectionMisconfigured)
}

func TestHandler_SessionIdleTimeout(t *testing.T) {
	s := newSite(t, jitBySSO())
	b := s.newBrowser(t)
	if res, body := s.signIn(t, b, "", samltest.Login{User: alice()}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s %s", res.Status, body)
	}
	s.clock.Set(DefaultSessionIdle - time.Minute)
	if code, _ := s.me(t, b); code != http.StatusOK {
		t.Fatalf("me within the idle timeout: %d", code)
	}
	// Activity moved LastSeenAt; a further idle period ends it.
	s.clock.Set(2*DefaultSessionIdle - 2*time.Minute)
	if code, _ := s.me(t, b); code != http.StatusOK {
		t.Fatalf("me within the idle timeout of the last request: %d", code)
	}
	s.clock.Set(3*DefaultSessionIdle - time.Minute)
	if code, _ := s.me(t, b); code != http.StatusUnauthorized {
		t.Fatalf("me after the idle timeout: %d, want 401", code)
	}
}

// replica is a second onramp replica: its own Handler (verifier, caches,
// provisioner) on its own HTTPS server, with the site's store, base URL and
// request key, as a load balancer's second backend would be.
type replica struct {
	srv *httptest.Server
}

func (s *site) replica(t testing.TB) *replica {
	t.Helper()
	return s.replicaOn(t, s.st)
}

// replicaOn is a replica whose handler uses st, a store of its own on the
// site's database.
func (s *site) replicaOn(t testing.TB, st store.Store) *replica {
	t.Helper()
	e := echo.New()
	srv := httptest.NewUnstartedServer(e)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h, err := NewHandler(HandlerConfig{
		Store:      st,
		BaseURL:    s.srv.URL,
		RequestKey: []byte(trackerKey),
		Logger:     slog.New(slog.DiscardHandler),
		Now:        s.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(e)
	return &replica{srv: srv}
}

// browser is a cookie-less client of the replica (an IdP-initiated post
// needs no cookie) that does not follow redirects.
func (r *replica) browser() *http.Client {
	return &http.Client{
		Transport:     r.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// post posts a response to the replica's ACS with the given cookies (a
// copy of a browser's tracking cookie).
func (r *replica) post(t testing.TB, samlResponse, relayState string, cookies []*http.Cookie) (answer, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+"/saml/acme/okta/acs",
		strings.NewReader(url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relayState}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	res, err := r.browser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return finish(t, res)
}

// sessionCookie returns the session cookie an answer sets, or nil.
func sessionCookie(a answer) *http.Cookie {
	for _, c := range a.Cookies() {
		if c.Name == SessionCookieName && c.Value != "" {
			return c
		}
	}
	return nil
}

// meWith asks /api/v1/me on the site with a session cookie.
func (s *site) meWith(t testing.TB, c *http.Cookie) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/api/v1/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(c)
	res, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := finish(t, res)
	return a.StatusCode
}

func TestHandler_ReplayedOnAnotherReplica(t *testing.T) {
	s := newSite(t, func() siteOpts { o := jitBySSO(); o.allowIdPInitiated = true; return o }())
	b := s.replica(t)
	for _, tc := range []struct {
		name  string
		login func(t *testing.T) (resp, relay string, cookies []*http.Cookie, first func() (answer, string))
	}{
		{"IdPInitiated", func(t *testing.T) (string, string, []*http.Cookie, func() (answer, string)) {
			resp := s.idp.IdPInitiated(t, s.srv.URL+"/saml/acme/okta/metadata", "", samltest.Login{User: alice()})
			return resp, "", nil, func() (answer, string) { return s.post(t, s.newBrowser(t), resp, "") }
		}},
		// The thief copied the browser's tracking cookie before the sign-in,
		// so the request check passes and the replay cache is what refuses.
		{"SPInitiatedWithCopiedCookie", func(t *testing.T) (string, string, []*http.Cookie, func() (answer, string)) {
			browser := s.newBrowser(t)
			resp, relay := s.startLogin(t, browser, "", samltest.Login{User: alice()})
			u, err := url.Parse(s.srv.URL + "/saml/acme/okta/acs")
			if err != nil {
				t.Fatal(err)
			}
			return resp, relay, browser.Jar.Cookies(u), func() (answer, string) { return s.post(t, browser, resp, relay) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, relay, cookies, first := tc.login(t)
			before := len(s.events(t, AuditSignedIn))
			if res, body := first(); res.StatusCode != http.StatusSeeOther || sessionCookie(res) == nil {
				t.Fatalf("sign-in on A: %s %s", res.Status, body)
			}

			res, body := b.post(t, resp, relay, cookies)

			wantPage(t, res, body, http.StatusForbidden, ReasonReplayed)
			if sessionCookie(res) != nil {
				t.Fatal("the replay on B set a session cookie")
			}
			if n := len(s.events(t, AuditSignedIn)) - before; n != 1 {
				t.Fatalf("%d sign-ins recorded, want 1", n)
			}
			if evs := s.events(t, AuditSAMLRejected); len(evs) == 0 || evs[0].Rule != ReasonReplayed {
				t.Fatalf("saml.rejected events: %+v", evs)
			}
		})
	}
}

// TestHandler_IssuedBeforeMachineRestart: after the machine restarts (the
// database is opened on another boot), a response issued before the
// restart is refused, since its replay record may have been among the last
// commits the restart lost; a response issued after it signs in.
func TestHandler_IssuedBeforeMachineRestart(t *testing.T) {
	s := newSite(t, func() siteOpts { o := jitBySSO(); o.allowIdPInitiated = true; return o }())
	metadata := s.srv.URL + "/saml/acme/okta/metadata"
	before := s.idp.IdPInitiated(t, metadata, "", samltest.Login{User: alice()})
	time.Sleep(2 * time.Millisecond) // the fence is in microseconds, IssueInstant in milliseconds

	restarted, err := sqlstore.Open(t.Context(), s.dbPath, slog.New(slog.DiscardHandler), sqlstore.WithBootID("the boot after a power cut"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restarted.Close() })
	r := s.replicaOn(t, restarted)

	res, body := r.post(t, before, "", nil)
	wantPage(t, res, body, http.StatusForbidden, ReasonIssuedBeforeRecovery)
	if sessionCookie(res) != nil {
		t.Fatal("a response issued before the restart set a session cookie")
	}
	if !strings.Contains(body, "Start again") {
		t.Errorf("the page does not tell the person to start again:\n%s", body)
	}
	if evs := s.events(t, AuditSAMLRejected); len(evs) == 0 || evs[0].Rule != ReasonIssuedBeforeRecovery {
		t.Fatalf("saml.rejected events: %+v", evs)
	}

	after := s.idp.IdPInitiated(t, metadata, "", samltest.Login{User: alice()})
	if res, body := r.post(t, after, "", nil); res.StatusCode != http.StatusSeeOther || sessionCookie(res) == nil {
		t.Fatalf("response issued after the restart: %s %s", res.Status, body)
	}
}

func TestHandler_ConcurrentReplaysYieldOneSession(t *testing.T) {
	s := newSite(t, func() siteOpts { o := jitBySSO(); o.allowIdPInitiated = true; return o }())
	b := s.replica(t)
	for _, who := range []string{"new person (JIT create)", "linked account"} {
		// The first round creates Alice's account, the second signs her in.
		resp := s.idp.IdPInitiated(t, s.srv.URL+"/saml/acme/okta/metadata", "", samltest.Login{User: alice()})
		const n = 8
		raw := make([]*http.Response, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			// Half to each replica; the test goroutine reads the answers.
			client, base := s.newBrowser(t), s.srv.URL
			if i%2 == 1 {
				client, base = b.browser(), b.srv.URL
			}
			wg.Go(func() {
				<-start
				raw[i], errs[i] = client.PostForm(base+"/saml/acme/okta/acs", url.Values{"SAMLResponse": {resp}})
			})
		}
		close(start)
		wg.Wait()
		answers := make([]answer, n)
		bodies := make([]string, n)
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("%s: post %d: %v", who, i, errs[i])
			}
			answers[i], bodies[i] = finish(t, raw[i])
		}

		var winners []int
		for i, a := range answers {
			switch {
			case a.StatusCode == http.StatusSeeOther && sessionCookie(a) != nil:
				winners = append(winners, i)
			case a.StatusCode == http.StatusForbidden && pageReason(t, bodies[i]) == ReasonReplayed:
			default:
				t.Fatalf("%s: post %d: %s %s", who, i, a.Status, bodies[i])
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%s: %d posts of one response signed in (%v), want exactly 1", who, len(winners), winners)
		}
		if code := s.meWith(t, sessionCookie(answers[winners[0]])); code != http.StatusOK {
			t.Fatalf("%s: the winner's session: me %d", who, code)
		}
	}
	if n := len(s.users(t)); n != 1 {
		t.Fatalf("%d accounts, want 1", n)
	}
	if n := len(s.events(t, AuditSignedIn)); n != 2 {
		t.Fatalf("%d sign-ins recorded for two responses, want 2", n)
	}
}

func TestHandler_RefusedAssertionCannotBeRetried(t *testing.T) {
	o := siteOpts{allowIdPInitiated: true, jitProvisioning: true, access: store.AccessControl{SSOConnections: []string{"okta"}}}
	s := newSite(t, o) // jit.ssoConnections is off
	resp := s.idp.IdPInitiated(t, s.srv.URL+"/saml/acme/okta/metadata", "", samltest.Login{User: alice()})
	res, body := s.post(t, s.newBrowser(t), resp, "")
	wantPage(t, res, body, http.StatusForbidden, RuleJITNotAllowed)

	// The Admin turns JIT on; the refused response, kept by someone, is
	// still used up.
	if _, err := s.st.UpdateOrg(context.Background(), s.org.ID, func(org *store.Org) error {
		org.Onboarding.JITSSOConnections = true
		return nil
	}, store.AuditEvent{Actor: "operator", Action: "test"}); err != nil {
		t.Fatal(err)
	}
	res, body = s.post(t, s.newBrowser(t), resp, "")

	wantPage(t, res, body, http.StatusForbidden, ReasonReplayed)
	if n := len(s.users(t)); n != 0 {
		t.Fatalf("%d accounts made from a refused assertion", n)
	}
	// A fresh response from the IdP signs in.
	fresh := s.idp.IdPInitiated(t, s.srv.URL+"/saml/acme/okta/metadata", "", samltest.Login{User: alice()})
	if res, body := s.post(t, s.newBrowser(t), fresh, ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("fresh response: %s %s", res.Status, body)
	}
}

func TestHandler_AssertionMissingAttributesIsUsedUp(t *testing.T) {
	s := newSite(t, func() siteOpts { o := jitBySSO(); o.allowIdPInitiated = true; return o }())
	u := samltest.User{NameID: "00u1alice", Attributes: map[string][]string{"firstName": {"Alice"}}}
	resp := s.idp.IdPInitiated(t, s.srv.URL+"/saml/acme/okta/metadata", "", samltest.Login{User: u})
	res, body := s.post(t, s.newBrowser(t), resp, "")
	wantPage(t, res, body, http.StatusBadRequest, RuleAttributeMissing)
	if evs := s.events(t, AuditRefused); len(evs) != 1 || evs[0].Rule != RuleAttributeMissing || evs[0].Detail["fields"] != "email" {
		t.Fatalf("jit.refused events: %+v", evs)
	}

	res, body = s.post(t, s.newBrowser(t), resp, "")

	wantPage(t, res, body, http.StatusForbidden, ReasonReplayed)
	if evs := s.events(t, AuditRefused); len(evs) != 1 {
		t.Fatalf("%d jit.refused events after the replay, want 1", len(evs))
	}
}
