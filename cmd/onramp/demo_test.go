package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/demo"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// syncBuffer is stdout for a server running in a goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// demoServer is `onramp serve --demo` running in this process, through the
// same serveCmd as the binary, on a listener the test made.
type demoServer struct {
	base   string
	stdout *syncBuffer
	stop   func()
}

// startDemo serves --demo for db on addr ("127.0.0.1:0" for a free port) and
// returns once the SCIM token has been printed.
func startDemo(t *testing.T, db, addr string) *demoServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	c := &serveCmd{dbFlag: dbFlag{DB: db}, Addr: ln.Addr().String(), BaseURL: base, ShutdownTimeout: 10 * time.Second, DBMaxConns: 16, Demo: true}
	if ps := c.validate(); len(ps) > 0 {
		t.Fatalf("serve --demo flags: %v", ps)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &demoServer{base: base, stdout: &syncBuffer{}}
	done := make(chan error, 1)
	e := &env{ctx: ctx, stdout: s.stdout, stderr: io.Discard, logger: slog.New(slog.NewTextHandler(logWriter{t}, nil))}
	go func() { done <- c.serve(e, ln) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve --demo: %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	deadline := time.After(60 * time.Second)
	for !strings.HasPrefix(lastLine(s.stdout.String()), "onramp_") {
		select {
		case err := <-done:
			t.Fatalf("serve --demo ended before printing a token: %v\nstdout:\n%s", err, s.stdout)
		case <-deadline:
			t.Fatalf("serve --demo printed no token within 60s; stdout:\n%s", s.stdout)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func (s *demoServer) token() string { return lastLine(s.stdout.String()) }

// browser is an http.Client with a cookie jar that follows redirects, as a
// browser does (without JavaScript: the test submits crewjam's auto-posting
// form itself).
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: time.Minute}
}

// reply is what a test reads of a response, whose body is already read and
// closed.
type reply struct {
	StatusCode int
	Status     string
	Header     http.Header
	Request    *http.Request // the last request, after redirects
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (reply, string) {
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

// attr returns the first value of an HTML attribute in page, matched by re
// (one group), unescaped.
func attr(t *testing.T, page, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page does not match %s:\n%s", re, page)
	}
	return html.UnescapeString(m[1])
}

// resolve makes a form action absolute against the page it was on.
func resolve(t *testing.T, page *url.URL, ref string) string {
	t.Helper()
	u, err := page.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// signIn follows the landing page's "Sign in" link as person: to the demo
// IdP, through the picker, and back to onramp's ACS with the IdP's form. It
// returns the page the browser ends on.
func signIn(t *testing.T, c *http.Client, base, person string) (reply, string) {
	t.Helper()
	res, page := fetch(t, c, http.MethodGet, base+"/", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %s", res.Status)
	}
	signInURL := attr(t, page, `id="sign-in" href="([^"]*)"`)

	res, page = fetch(t, c, http.MethodGet, signInURL, nil)
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != demo.IdPSSOPath || !strings.Contains(page, "Pick a demo person") {
		t.Fatalf("sign in: %s at %s, want the demo IdP's picker:\n%s", res.Status, res.Request.URL, page)
	}
	action := resolve(t, res.Request.URL, attr(t, page, `<form method="post" action="([^"]*)" id="pick">`))
	form := url.Values{
		"continue": {attr(t, page, `name="continue" value="([^"]*)"`)},
		"request":  {attr(t, page, `name="request" value="([^"]*)"`)},
		"person":   {person},
	}
	if !strings.Contains(page, `name="person" value="`+person+`"`) {
		t.Fatalf("the picker has no button for %q", person)
	}

	res, page = fetch(t, c, http.MethodPost, action, form)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="SAMLResponseForm"`) {
		t.Fatalf("pick %s: %s, want crewjam's response form:\n%s", person, res.Status, page)
	}
	acs := attr(t, page, `<form method="post" action="([^"]*)" id="SAMLResponseForm">`)
	if acs != base+"/saml/demo/demo-idp/acs" {
		t.Fatalf("the IdP posts to %q, want the demo connection's ACS", acs)
	}
	return fetch(t, c, http.MethodPost, acs, url.Values{
		"SAMLResponse": {attr(t, page, `name="SAMLResponse" value="([^"]*)"`)},
		"RelayState":   {attr(t, page, `name="RelayState" value="([^"]*)"`)},
	})
}

type meBody struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Email    string `json:"email"`
	Role     string `json:"role"`
}

func me(t *testing.T, c *http.Client, base string) (int, meBody) {
	t.Helper()
	res, body := fetch(t, c, http.MethodGet, base+"/api/v1/me", nil)
	var m meBody
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("/api/v1/me: %v: %s", err, body)
		}
	}
	return res.StatusCode, m
}

// demoState is what the store holds for the demo organization.
type demoState struct {
	orgs    int
	conns   int
	users   []store.User
	actions []string
	idpMD   string
	spCert  string
}

func readDemoState(t *testing.T, db string) demoState {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orgs, err := st.ListOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	org, err := st.GetOrgBySlug(ctx, demo.OrgSlug)
	if err != nil {
		t.Fatal(err)
	}
	conns, err := st.ListConnections(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	users, err := st.ListUsers(ctx, org.ID, store.UserQuery{Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.ListEvents(ctx, org.ID, store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	s := demoState{orgs: len(orgs), conns: len(conns), users: users.Items}
	for _, ev := range evs {
		s.actions = append(s.actions, ev.Action)
	}
	slices.Sort(s.actions)
	if len(conns) > 0 {
		s.idpMD, s.spCert = conns[0].IdPMetadataXML, conns[0].SPCertPEM
	}
	return s
}

// TestServeDemo is the newcomer's first run: sign in as Ada through the
// demo IdP, see her account, made just in time, over /api/v1/me and SCIM
// with the printed token; then start again on the same database.
func TestServeDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	s := startDemo(t, db, "127.0.0.1:0")
	out := s.stdout.String()
	for _, want := range []string{s.base + "/", s.base + "/demo/idp/metadata", s.base + "/scim/v2"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %s:\n%s", want, out)
		}
	}
	token := s.token()

	c := browser(t)
	res, page := signIn(t, c, s.base, "ada")
	if res.StatusCode != http.StatusOK || res.Request.URL.String() != s.base+"/" || !strings.Contains(page, "Signed in as Ada Lovelace") {
		t.Fatalf("after the ACS: %s at %s, want the landing page signed in:\n%s", res.Status, res.Request.URL, page)
	}
	if got := attr(t, page, `id="me-source">([^<]*)<`); got != "jit" {
		t.Errorf("landing page says the account was made by %q, want jit", got)
	}
	status, ada := me(t, c, s.base)
	if status != http.StatusOK || ada.UserName != "ada@example.com" || ada.Email != "ada@example.com" || ada.Role != "Admin" {
		t.Fatalf("/api/v1/me = %d %+v, want Ada, Admin through the demo role rule", status, ada)
	}

	code, list := scimRequest(t, http.MethodGet, s.base+`/scim/v2/Users?filter=userName%20eq%20%22ada@example.com%22`, token, "")
	if code != http.StatusOK || list["totalResults"] != float64(1) {
		t.Fatalf("SCIM GET Users by userName = %d %v, want exactly one", code, list)
	}
	resources, _ := list["Resources"].([]any)
	if len(resources) != 1 {
		t.Fatalf("SCIM Resources = %v", list["Resources"])
	}
	if id, _ := resources[0].(map[string]any)["id"].(string); id != ada.ID {
		t.Errorf("SCIM found user %q, /api/v1/me says %q", id, ada.ID)
	}

	// Signed out, "Sign in" asks again: the IdP does not remember the pick.
	if res, _ := fetch(t, c, http.MethodPost, s.base+demo.LogoutPath, url.Values{"return_to": {"/"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("sign out: %s", res.Status)
	}
	if status, _ := me(t, c, s.base); status != http.StatusUnauthorized {
		t.Errorf("/api/v1/me after sign-out = %d, want 401", status)
	}
	res, page = signIn(t, c, s.base, "ada") // fails unless the picker is shown again
	if !strings.Contains(page, "Signed in as Ada Lovelace") {
		t.Fatalf("second sign-in as Ada: %s\n%s", res.Status, page)
	}
	s.stop()

	first := readDemoState(t, db)
	if len(first.users) != 1 || first.users[0].Source != store.SourceJIT || string(first.users[0].ID) != ada.ID {
		t.Fatalf("users after two sign-ins = %+v, want Ada once, made by JIT", first.users)
	}
	keyBefore, err := os.ReadFile(db + ".demo-idp.pem")
	if err != nil {
		t.Fatal(err)
	}

	// The same database again, on the same address: nothing is set up twice,
	// the IdP key and its metadata stay, Ada's session is still valid (the
	// cookie jar ignores ports), and the first token still works.
	s2 := startDemo(t, db, strings.TrimPrefix(s.base, "http://"))
	if s2.token() == token {
		t.Error("the second start printed the same token")
	}
	if status, again := me(t, c, s2.base); status != http.StatusOK || again.ID != ada.ID {
		t.Errorf("/api/v1/me after restart = %d %+v, want the same Ada", status, again)
	}
	if res, _ := fetch(t, c, http.MethodPost, s2.base+demo.LogoutPath, url.Values{"return_to": {"/"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("sign out: %s", res.Status)
	}
	res, page = signIn(t, c, s2.base, "ada")
	if !strings.Contains(page, "Signed in as Ada Lovelace") {
		t.Fatalf("sign-in after restart: %s\n%s", res.Status, page)
	}
	for _, tok := range []string{token, s2.token()} {
		if code, list := scimRequest(t, http.MethodGet, s2.base+"/scim/v2/Users", tok, ""); code != http.StatusOK || list["totalResults"] != float64(1) {
			t.Errorf("SCIM GET Users after restart = %d %v", code, list)
		}
	}
	s2.stop()

	second := readDemoState(t, db)
	if second.orgs != 1 || second.conns != 1 || len(second.users) != 1 {
		t.Errorf("after restart: %d orgs, %d connections, %d users; want 1 each", second.orgs, second.conns, len(second.users))
	}
	if second.idpMD != first.idpMD || second.spCert != first.spCert {
		t.Error("the restart changed the connection's IdP metadata or SP certificate")
	}
	keyAfter, err := os.ReadFile(db + ".demo-idp.pem")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(keyBefore, keyAfter) {
		t.Error("the restart changed the demo IdP key file")
	}
	// The restart wrote a token and Ada's sign-out and sign-in, and no
	// set-up: no organization or connection event.
	added := map[string]int{}
	for _, a := range second.actions {
		added[a]++
	}
	for _, a := range first.actions {
		added[a]--
	}
	for a, n := range added {
		if n != 0 && (strings.HasPrefix(a, "org.") || strings.HasPrefix(a, "connection.")) {
			t.Errorf("the restart recorded %d %q events", n, a)
		}
	}
	if added["token.created"] != 1 {
		t.Errorf("the restart recorded %d token.created events, want 1", added["token.created"])
	}
}

// TestServeDemoRefusals: --demo needs SQLite and a fixed port; the binary
// says so before it starts.
func TestServeDemoRefusals(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := onramp(t, dir, []string{"ONRAMP_DEMO=true"}, "serve", "--db", "postgres://u@127.0.0.1:1/x", "--addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(errOut, "needs a SQLite --db") || !strings.Contains(errOut, "needs a fixed port") {
		t.Errorf("serve --demo on PostgreSQL and port 0: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "onramp.db")); err == nil {
		t.Error("a refused serve created a database")
	}
}
