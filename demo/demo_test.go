package demo

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

func openStore(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func newDemo(t *testing.T, st Store, base, keyFile string) *Demo {
	t.Helper()
	d, err := New(context.Background(), Config{Store: st, BaseURL: base, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func demoOrg(t *testing.T, st store.Store) (store.Org, store.Connection) {
	t.Helper()
	ctx := context.Background()
	org, err := st.GetOrgBySlug(ctx, OrgSlug)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := st.GetConnectionBySlug(ctx, org.ID, ConnectionSlug)
	if err != nil {
		t.Fatal(err)
	}
	return org, conn
}

func events(t *testing.T, st store.Store, org store.OrgID) []string {
	t.Helper()
	evs, err := st.ListEvents(context.Background(), org, store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return out
}

func TestNewSetsUpTheDemoOrganization(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "onramp.db"))
	keyFile := filepath.Join(dir, "onramp.db.demo-idp.pem")
	d := newDemo(t, st, "http://onramp.test:8080", keyFile)

	s := d.Setup()
	if !s.NewIdPKey || !s.NewSPKey || !s.MappingSet || !s.Applied.Changed() {
		t.Errorf("first New: setup = %+v, want everything new", s)
	}
	org, conn := demoOrg(t, st)
	if org.Name != OrgName || !org.Onboarding.JITSSOConnections || !org.Onboarding.JITEmailDomains {
		t.Errorf("org = %+v", org)
	}
	if strings.Join(org.Access.EmailDomains, ",") != EmailDomain || strings.Join(org.Access.SSOConnections, ",") != ConnectionSlug {
		t.Errorf("org access = %+v", org.Access)
	}
	if !conn.JITProvisioning || !conn.AllowIdPInitiated || conn.MappingPreset != "generic" || conn.Name != ConnectionName {
		t.Errorf("connection = %+v", conn)
	}
	if _, err := jit.ParseSPKeyPair(conn.SPCertPEM, conn.SPKeyPEM); err != nil {
		t.Errorf("connection sp key pair: %v", err)
	}
	md, err := jit.ParseIdPMetadata([]byte(conn.IdPMetadataXML))
	if err != nil {
		t.Fatalf("stored idp metadata: %v", err)
	}
	if md.EntityID != "http://onramp.test:8080/demo/idp/metadata" || md.SSOURL != "http://onramp.test:8080/demo/idp/sso" {
		t.Errorf("idp metadata: entity %q, sso %q", md.EntityID, md.SSOURL)
	}
	kp, err := readKeyPair(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.SigningCerts) != 1 || !md.SigningCerts[0].Equal(kp.cert) {
		t.Error("stored idp metadata does not carry the key file's certificate")
	}
	if strings.Contains(conn.IdPMetadataXML, "validUntil") {
		t.Error("stored idp metadata has a validUntil, which would change on every start")
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	u := d.URLs()
	if u.SignIn != "http://onramp.test:8080/saml/demo/demo-idp/login?return_to=%2F" || u.Landing != "http://onramp.test:8080/" {
		t.Errorf("urls = %+v", u)
	}
}

func TestNewTwiceChangesNothing(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "onramp.db"))
	keyFile := filepath.Join(dir, "key.pem")
	newDemo(t, st, "http://localhost:8080", keyFile)
	org, conn1 := demoOrg(t, st)
	key1, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	evs1 := events(t, st, org.ID)

	d := newDemo(t, st, "http://localhost:8080/", keyFile) // a trailing slash is the same base
	if s := d.Setup(); s.NewIdPKey || s.NewSPKey || s.MappingSet || s.Applied.Changed() {
		t.Errorf("second New: setup = %+v, want nothing new", s)
	}
	_, conn2 := demoOrg(t, st)
	if conn2.IdPMetadataXML != conn1.IdPMetadataXML || conn2.SPCertPEM != conn1.SPCertPEM || !conn2.UpdatedAt.Equal(conn1.UpdatedAt) {
		t.Error("second New changed the connection")
	}
	key2, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key1, key2) {
		t.Error("second New changed the key file")
	}
	if evs2 := events(t, st, org.ID); len(evs2) != len(evs1) {
		t.Errorf("second New wrote audit events: %v, then %v", evs1, evs2)
	}
	orgs, err := st.ListOrgs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 {
		t.Errorf("%d organizations, want 1", len(orgs))
	}
}

func TestNewPutsSettingsBackAndKeepsOverrides(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "onramp.db"))
	keyFile := filepath.Join(dir, "key.pem")
	newDemo(t, st, "http://localhost:8080", keyFile)
	org, conn := demoOrg(t, st)
	ctx := context.Background()
	ev := store.AuditEvent{Actor: "test", Action: "test.change"}
	if _, err := st.UpdateOrg(ctx, org.ID, func(o *store.Org) error {
		o.Onboarding = store.Onboarding{}
		return nil
	}, ev); err != nil {
		t.Fatal(err)
	}
	custom := []byte(`{"defaultRole":"Viewer"}`)
	if _, err := st.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		c.JITProvisioning = false
		c.Mapping = custom
		return nil
	}, ev); err != nil {
		t.Fatal(err)
	}

	d := newDemo(t, st, "http://localhost:8080", keyFile)
	if !d.Setup().Applied.Changed() || d.Setup().MappingSet {
		t.Errorf("setup = %+v, want the org and connection updated and the mapping left alone", d.Setup())
	}
	org, conn = demoOrg(t, st)
	if !org.Onboarding.JITSSOConnections || !org.Onboarding.JITEmailDomains || !conn.JITProvisioning {
		t.Error("New did not put the demo's JIT settings back")
	}
	if string(conn.Mapping) != string(custom) {
		t.Errorf("mapping = %s, want the override %s kept", conn.Mapping, custom)
	}
}

func TestNewWithAnotherKeyFileUpdatesMetadata(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "onramp.db"))
	newDemo(t, st, "http://localhost:8080", filepath.Join(dir, "a.pem"))
	_, before := demoOrg(t, st)
	d := newDemo(t, st, "http://localhost:8080", filepath.Join(dir, "b.pem"))
	_, after := demoOrg(t, st)
	if !d.Setup().NewIdPKey || before.IdPMetadataXML == after.IdPMetadataXML {
		t.Error("a new IdP key did not reach the stored metadata")
	}
	if before.SPCertPEM != after.SPCertPEM {
		t.Error("the SP key pair changed")
	}
}

func TestKeyFileProblems(t *testing.T) {
	dir := t.TempDir()
	_, pemA, err := newKeyPair(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, pemB, err := newKeyPair(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certA, _, _ := strings.Cut(string(pemA), "-----BEGIN PRIVATE KEY")
	_, keyB, _ := strings.Cut(string(pemB), "-----END CERTIFICATE-----\n")
	for name, content := range map[string]string{
		"garbage":      "not a pem file",
		"cert only":    certA,
		"mismatch":     certA + keyB,
		"corrupt cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + keyB,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".pem")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			st := openStore(t, filepath.Join(t.TempDir(), "onramp.db"))
			_, err := New(context.Background(), Config{Store: st, BaseURL: "http://localhost:8080", KeyFile: path})
			if err == nil || !strings.Contains(err.Error(), "delete it to make a new key") {
				t.Errorf("New with a bad key file: %v", err)
			}
			if _, err := st.GetOrgBySlug(context.Background(), OrgSlug); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("New failed but wrote the organization: %v", err)
			}
		})
	}
	if _, err := New(context.Background(), Config{Store: openStore(t, filepath.Join(dir, "x.db")), BaseURL: "http://localhost:8080",
		KeyFile: filepath.Join(dir, "no-such-dir", "key.pem")}); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New with a key file in a missing directory: %v", err)
	}
}

func TestKeyFileCreatedOnceUnderRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	const n = 4
	var wg sync.WaitGroup
	certs := make([][]byte, n)
	errs := make([]error, n)
	created := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kp, c, err := loadOrCreateKeyPair(path, time.Now())
			errs[i], created[i] = err, c
			if err == nil {
				certs[i] = kp.cert.Raw
			}
		}()
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("loader %d: %v", i, errs[i])
		}
		if !bytes.Equal(certs[i], certs[0]) {
			t.Errorf("loader %d got another certificate", i)
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("%d loaders say they created the file, want 1", nCreated)
	}
	left, err := filepath.Glob(path + ".tmp-*")
	if err != nil || len(left) != 0 {
		t.Errorf("temporary files left: %v %v", left, err)
	}
}

func TestConfigProblems(t *testing.T) {
	_, err := New(context.Background(), Config{BaseURL: "http://localhost:8080/prefix"})
	for _, want := range []string{"no store", "no idp key file", "base url"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with a bad config: %v, want it to mention %q", err, want)
		}
	}
}

// site is the demo with onramp's SAML endpoints, on a real HTTP server and a
// real SQLite file.
type site struct {
	st   *sqlstore.Store
	srv  *httptest.Server
	base string
	demo *Demo
}

func newSite(t *testing.T, spNow func() time.Time) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{st: openStore(t, filepath.Join(dir, "onramp.db"))}
	e := echo.New()
	s.srv = httptest.NewUnstartedServer(e)
	s.base = "http://" + s.srv.Listener.Addr().String()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	s.demo = newDemo(t, s.st, s.base, filepath.Join(dir, "key.pem"))
	h, err := jit.NewHandler(jit.HandlerConfig{
		Store: s.st, BaseURL: s.base, RequestKey: bytes.Repeat([]byte("k"), 32), Logger: logger, Now: spNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(e)
	s.demo.Register(e)
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: time.Minute}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// reply is what a test reads of a response, whose body is already read and
// closed.
type reply struct {
	StatusCode int
	Status     string
	Header     http.Header
	Request    *http.Request // the last request, after redirects
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values) (reply, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{StatusCode: res.StatusCode, Status: res.Status, Header: res.Header, Request: res.Request}, string(b)
}

func inputValue(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page has no %s input:\n%s", name, page)
	}
	return html.UnescapeString(m[1])
}

// picker opens the sign-in link and returns the picker page's form.
func (s *site) picker(t *testing.T, c *http.Client, start string) url.Values {
	t.Helper()
	res, page := do(t, c, http.MethodGet, start, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Pick a demo person") {
		t.Fatalf("GET %s: %s, want the picker:\n%s", start, res.Status, page)
	}
	return url.Values{"continue": {inputValue(t, page, "continue")}, "request": {inputValue(t, page, "request")}}
}

func TestPickRejectsBadForms(t *testing.T) {
	s := newSite(t, nil)
	c := newBrowser(t)
	good := s.picker(t, c, s.demo.URLs().SignIn)
	for name, change := range map[string]func(url.Values){
		"unknown person":        func(v url.Values) { v.Set("person", "mallory") },
		"no person":             func(v url.Values) { v.Del("person") },
		"continue elsewhere":    func(v url.Values) { v.Set("continue", "https://evil.example/demo/idp/sso?x") },
		"continue another path": func(v url.Values) { v.Set("continue", "/api/v1/me") },
		"no request":            func(v url.Values) { v.Del("request") },
		"any request":           func(v url.Values) { v.Set("request", anyRequestKey) },
	} {
		t.Run(name, func(t *testing.T) {
			v := url.Values{"person": {"ada"}}
			for k, vs := range good {
				v[k] = vs
			}
			change(v)
			res, page := do(t, c, http.MethodPost, s.base+IdPLoginPath, v)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Invalid form") {
				t.Errorf("POST %v = %s, want 400 Invalid form", v, res.Status)
			}
		})
	}
}

// TestPickIsForOneRequest: a pick signs in only the AuthnRequest it was made
// for; another sign-in asks again.
func TestPickIsForOneRequest(t *testing.T) {
	s := newSite(t, nil)
	c := newBrowser(t)
	first := s.picker(t, c, s.demo.URLs().SignIn)
	second := s.picker(t, c, s.demo.URLs().SignIn)
	if first.Get("request") == second.Get("request") {
		t.Fatal("two sign-ins share an AuthnRequest ID")
	}
	// Pick for the first request, but come back with the second.
	v := url.Values{"person": {"ada"}, "request": first["request"], "continue": second["continue"]}
	res, page := do(t, c, http.MethodPost, s.base+IdPLoginPath, v)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Pick a demo person") {
		t.Errorf("a pick for another request: %s, want the picker again", res.Status)
	}
}

// TestSignInAssertsThePerson follows an IdP-initiated sign-in to the ACS and
// checks the account JIT made from what the IdP sent.
func TestSignInAssertsThePerson(t *testing.T) {
	s := newSite(t, nil)
	c := newBrowser(t)
	v := s.picker(t, c, s.demo.URLs().IdPStart)
	if v.Get("request") != idpInitiatedKey || v.Get("continue") != IdPStartPath {
		t.Fatalf("IdP-initiated picker form = %v", v)
	}
	v.Set("person", "grace")
	res, page := do(t, c, http.MethodPost, s.base+IdPLoginPath, v)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("pick: %s\n%s", res.Status, page)
	}
	if got := regexp.MustCompile(`action="([^"]*)"`).FindStringSubmatch(page); got == nil || got[1] != s.base+"/saml/demo/demo-idp/acs" {
		t.Fatalf("response form action = %v, want the demo connection's ACS", got)
	}
	res, page = do(t, c, http.MethodPost, s.base+"/saml/demo/demo-idp/acs",
		url.Values{"SAMLResponse": {inputValue(t, page, "SAMLResponse")}, "RelayState": {inputValue(t, page, "RelayState")}})
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != LandingPath || !strings.Contains(page, "Signed in as Grace Hopper") {
		t.Fatalf("ACS: %s at %s, want the landing page signed in:\n%s", res.Status, res.Request.URL, page)
	}
	org, _ := demoOrg(t, s.st)
	users, err := s.st.ListUsers(context.Background(), org.ID, store.UserQuery{Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Items) != 1 {
		t.Fatalf("%d users, want 1", len(users.Items))
	}
	u := users.Items[0]
	if u.UserName != "grace@example.com" || u.GivenName != "Grace" || u.FamilyName != "Hopper" || u.DisplayName != "Grace Hopper" ||
		u.PrimaryEmail() != "grace@example.com" || u.Source != store.SourceJIT || u.Role != "Member" {
		t.Errorf("user = %+v", u)
	}

	// Signing out ends the session; the landing page offers sign-in again.
	res, page = do(t, c, http.MethodPost, s.base+LogoutPath, url.Values{"return_to": {"/"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="sign-in"`) || strings.Contains(page, "Signed in as") {
		t.Errorf("after sign-out: %s\n%s", res.Status, page)
	}
}

// TestExpiredRequestStartsAgainOnce: crewjam takes an AuthnRequest for 90
// seconds. A pick for an expired one starts the sign-in again, keeping the
// pick; if that request is expired too, the IdP shows an error instead of
// looping. The SP's clock is set back so that its requests are born expired.
func TestExpiredRequestStartsAgainOnce(t *testing.T) {
	s := newSite(t, func() time.Time { return time.Now().Add(-10 * time.Minute) })
	c := newBrowser(t)
	res, page := do(t, c, http.MethodGet, s.demo.URLs().SignIn, nil)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "This sign-in request has expired") {
		t.Fatalf("an expired request without a pick: %s, want 400 expired:\n%s", res.Status, page)
	}

	// A pick made for an expired request (as when the person took long).
	v := url.Values{"person": {"ada"}, "request": {"_expired"}, "continue": {strings.TrimPrefix(res.Request.URL.String(), s.base)}}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 5 {
			return errors.New("redirect loop")
		}
		return nil
	}
	res, page = do(t, c, http.MethodPost, s.base+IdPLoginPath, v)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "This sign-in request has expired") {
		t.Fatalf("pick for an expired request: %s, want one restart then 400:\n%s", res.Status, page)
	}
	// The restart went through the SP's login endpoint once.
	if res.Request.URL.Path != IdPSSOPath {
		t.Errorf("ended at %s", res.Request.URL)
	}
}

func TestLandingWithoutSession(t *testing.T) {
	s := newSite(t, nil)
	res, page := do(t, newBrowser(t), http.MethodGet, s.base+"/", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %s", res.Status)
	}
	for _, want := range []string{
		`href="` + s.base + `/saml/demo/demo-idp/login?return_to=%2F"`,
		`Accounts in Demo Org (0)`,
		`/scim/v2/Users?filter=userName%20eq%20%22ada@example.com%22`,
		s.base + IdPMetadataPath,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
}

func TestIdPMetadataIsServed(t *testing.T) {
	s := newSite(t, nil)
	res, body := do(t, newBrowser(t), http.MethodGet, s.base+IdPMetadataPath, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET metadata = %s", res.Status)
	}
	md, err := jit.ParseIdPMetadata([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	_, conn := demoOrg(t, s.st)
	stored, err := jit.ParseIdPMetadata([]byte(conn.IdPMetadataXML))
	if err != nil {
		t.Fatal(err)
	}
	if md.EntityID != stored.EntityID || md.SSOURL != stored.SSOURL || !md.SigningCerts[0].Equal(stored.SigningCerts[0]) {
		t.Error("served metadata differs from the stored metadata")
	}
}
