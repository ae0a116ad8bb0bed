package main

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/mail/mailtest"
)

// signInBrowser is a browser for the email sign-in pages: cookies kept,
// redirects not followed.
type signInBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newSignInBrowser(t *testing.T, base string) *signInBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &signInBrowser{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *signInBrowser) do(method, rawURL string, form url.Values) (int, http.Header, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(data)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// submit posts the page's first form with its hidden fields and extra.
func (b *signInBrowser) submit(page, action string, extra url.Values) (int, http.Header, string) {
	b.t.Helper()
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		if form.Get(m[1]) == "" {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	for k, v := range extra {
		form[k] = v
	}
	return b.do(http.MethodPost, b.base+action, form)
}

func (b *signInBrowser) me() map[string]any {
	b.t.Helper()
	status, _, body := b.do(http.MethodGet, b.base+"/api/v1/me", nil)
	if status != http.StatusOK {
		b.t.Fatalf("/api/v1/me: %d %s", status, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		b.t.Fatal(err)
	}
	return m
}

// TestEmailSignInServed drives the operator contract for the email side: `onramp
// admin login-link` prints a URL that signs an Admin in on a running `onramp
// serve`, and /login emails a link through the SMTP server of --smtp-url.
func TestEmailSignInServed(t *testing.T) {
	dir := copyExamples(t)
	db := filepath.Join(dir, "onramp.db")
	if out, errOut, code := onramp(t, dir, nil, "apply", "--db", db, "-f", "onramp.yaml"); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code := onramp(t, dir, nil, "admin", "login-link", "--db", db, "--org", "acme", "--email", "root@acme-corp.com")
	if code != 0 || !strings.Contains(errOut, "Created Admin account") {
		t.Fatalf("admin login-link: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	adminURL := lines[len(lines)-1]
	if !strings.HasPrefix(adminURL, "http://localhost:8080/login/link?token=") {
		t.Fatalf("URL %q", adminURL)
	}

	smtp := mailtest.Start(t, mailtest.Options{})
	s := startServer(t, dir, []string{"ONRAMP_DB=" + db, "ONRAMP_SMTP_URL=smtp://" + smtp.Addr(),
		"ONRAMP_MAIL_FROM=Acme sign-in <signin@acme.test>"})
	base := "http://" + s.addr
	waitReady(t, base)
	// The server's --base-url is the default; the test reaches it on its port.
	local := func(u string) string { return strings.Replace(u, "http://localhost:8080", base, 1) }

	admin := newSignInBrowser(t, base)
	_, _, page := admin.do(http.MethodGet, local(adminURL), nil)
	if status, hdr, body := admin.submit(page, "/login/link", nil); status != http.StatusSeeOther || hdr.Get("Location") != "/admin" {
		t.Fatalf("admin link: %d %s", status, body)
	}
	if me := admin.me(); me["role"] != "Admin" || me["email"] != "root@acme-corp.com" {
		t.Errorf("admin session: %v", me)
	}

	ann := newSignInBrowser(t, base)
	_, _, login := ann.do(http.MethodGet, base+"/login", nil)
	if status, _, body := ann.submit(login, "/login", url.Values{"email": {"ann@acme-corp.com"}}); status != http.StatusOK || !strings.Contains(body, "Check your email") {
		t.Fatalf("POST /login: %d %s", status, body)
	}
	msg := smtp.Last(t)
	if msg.From != "signin@acme.test" || !strings.Contains(msg.Header.Get("From"), "Acme sign-in") || msg.Subject != "Sign in to onramp" {
		t.Errorf("message from %q (%q), subject %q", msg.From, msg.Header.Get("From"), msg.Subject)
	}
	link := regexp.MustCompile(`http://localhost:8080/login/link\?token=[A-Za-z0-9_-]+`).FindString(msg.Text)
	if link == "" {
		t.Fatalf("no link in %q", msg.Text)
	}
	_, _, page = ann.do(http.MethodGet, local(link), nil)
	if status, _, body := ann.submit(page, "/login/link", nil); status != http.StatusSeeOther {
		t.Fatalf("link: %d %s", status, body)
	}
	if me := ann.me(); me["email"] != "ann@acme-corp.com" || me["role"] != "Member" {
		t.Errorf("ann's session: %v", me)
	}
}

func TestEmailSignInFlagProblems(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		env    []string
		want   string
		secret string
	}{
		{[]string{"ONRAMP_SMTP_URL=smtp://mail.example.com"}, "--mail-from (ONRAMP_MAIL_FROM) is required with --smtp-url", ""},
		{[]string{"ONRAMP_SMTP_URL=http://u:hunter2@mail.example.com", "ONRAMP_MAIL_FROM=a@b.c"}, "--smtp-url (ONRAMP_SMTP_URL)", "hunter2"},
		{[]string{"ONRAMP_MAIL_FROM=not an address"}, "--mail-from (ONRAMP_MAIL_FROM)", ""},
	} {
		_, errOut, code := onramp(t, dir, tc.env, "serve", "--db", filepath.Join(dir, "x.db"))
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.env, code, errOut, tc.want)
		}
		if tc.secret != "" && strings.Contains(errOut, tc.secret) {
			t.Errorf("%v: stderr shows the password: %q", tc.env, errOut)
		}
	}
	_, errOut, code := onramp(t, dir, nil, "admin", "login-link", "--db", filepath.Join(dir, "x.db"), "--org", "acme", "--email", "a@b.c", "--ttl", "48h")
	if code != exitUsage || !strings.Contains(errOut, "--ttl") {
		t.Errorf("--ttl 48h: exit %d, %q", code, errOut)
	}
	_, errOut, code = onramp(t, dir, nil, "admin", "login-link", "--db", filepath.Join(dir, "x.db"), "--org", "nope", "--email", "a@b.c")
	if code != exitError || !strings.Contains(errOut, "nope") {
		t.Errorf("unknown org: exit %d, %q", code, errOut)
	}
}
