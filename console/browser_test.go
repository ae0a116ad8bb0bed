package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive a real Chromium (github.com/chromedp/chromedp)
// against a real `onramp serve --demo` (the binary, built once per test run)
// on a SQLite file, with the demo's built-in SAML identity provider (crewjam's
// IdP behind a "Pick a demo person" page) as the IdP people sign in with.
//
// Without Chromium they skip, except under CI (CI set), where they fail:
// .ci/run installs Chromium. ONRAMP_CHROMIUM names the browser binary if it
// is not chromium, chromium-browser or google-chrome on PATH.
// ONRAMP_UPDATE_SCREENSHOTS=1 rewrites docs/screenshots/console-*.png.

// screenshotDir is where the README's screenshots live, from this package.
const screenshotDir = "../docs/screenshots"

// stepTimeout bounds one browser step (a page load, a sign-in round trip); it
// is a hang guard, not a timing assertion.
const stepTimeout = 60 * time.Second

// chromium returns the browser binary, or skips (fails under CI) without one.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ONRAMP_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed, and CI is set: the console's browser tests must run in CI (.ci/run installs the chromium package)")
	}
	t.Skip("skipping the console's browser tests: no Chromium found (install the chromium package, or set ONRAMP_CHROMIUM)")
	return ""
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestMain removes the onramp binary the browser tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// onrampBinary builds cmd/onramp once per test binary run.
func onrampBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "onramp-console-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "onramp")
		cmd := exec.Command("go", "build", "-o", builtBin, "github.com/onramp-dev/onramp/cmd/onramp")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// syncBuffer collects a process's output.
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

// onrampServer is a running `onramp serve --demo`.
type onrampServer struct {
	bin, db, url string
	// adminToken is an admin API token of the demo organization, for
	// arranging and checking state through the JSON API.
	adminToken string
}

// freePort returns a port that was free a moment ago (--demo needs a fixed
// port: the demo IdP sends the browser to --base-url).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startOnramp starts `onramp serve --demo` on a new SQLite file and waits
// until it is ready; it stops (SIGTERM) when the test ends.
func startOnramp(t *testing.T) *onrampServer {
	t.Helper()
	bin := onrampBinary(t)
	dir := t.TempDir()
	port := freePort(t)
	s := &onrampServer{bin: bin, db: filepath.Join(dir, "onramp.db"), url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "serve", "--demo", "--db", s.db, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--base-url", s.url)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("onramp serve did not exit cleanly: %v", err)
		}
		if t.Failed() {
			t.Logf("onramp serve output:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("onramp serve exited before it was ready: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("onramp serve not ready: %v\n%s", ctx.Err(), logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	out, err := exec.Command(bin, "token", "create", "--db", s.db, "--org", "demo", "--admin").Output()
	if err != nil {
		t.Fatalf("onramp token create --admin: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	s.adminToken = strings.TrimSpace(lines[len(lines)-1])
	return s
}

// api calls the admin JSON API of the demo organization with the admin
// token and decodes the answer into out (if not nil).
func (s *onrampServer) api(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+"/api/v1/orgs/demo"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// apiUser is a user as the admin API lists it.
type apiUser struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Source   string `json:"source"`
	Role     string `json:"role"`
}

// usersNamed returns the demo organization's users whose name or email
// contains q.
func (s *onrampServer) usersNamed(t *testing.T, q string) []apiUser {
	t.Helper()
	var list struct {
		Users []apiUser `json:"users"`
	}
	s.api(t, http.MethodGet, "/users?q="+q, nil, &list)
	return list.Users
}

// browser is one browser profile (its own cookies) in a shared Chromium.
type browser struct {
	t   *testing.T
	ctx context.Context
	url string
}

// newChromium starts Chromium with the flags this machine needs (root, no
// GPU, no network of its own) and a fresh profile directory.
func newChromium(t *testing.T, exe, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first action starts the browser, for the lifetime of the context
	// it runs with: ctx itself, not one of do's shorter ones.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, url: base}
}

// profile returns a new, empty browser profile (an incognito-like browser
// context) in the same Chromium: another person at another computer.
func (b *browser) profile() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil { // opens the tab (see newChromium)
		b.t.Fatalf("new browser profile: %v", err)
	}
	return &browser{t: b.t, ctx: ctx, url: b.url}
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.t.Fatalf("browser at %s: %v", loc, err)
	}
}

// open loads a page of onramp.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.url + path))
}

// follow clicks the element that xpath finds and waits until the page it
// leads to has loaded (a link, or a form's submit button).
func (b *browser) follow(xpath string) {
	b.t.Helper()
	b.do(
		chromedp.Evaluate[chromedp.Void](`window.__onrampPage = true`),
		chromedp.Click(xpath, chromedp.NodeVisible),
	)
	b.waitFor(`!window.__onrampPage && document.readyState === "complete"`)
}

// waitFor waits until the JavaScript predicate is true in the current page.
// It evaluates the predicate again and again from Go, not in the page
// (chromedp.Poll), because the page it would run in is replaced when the
// browser navigates.
func (b *browser) waitFor(predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+predicate+")"))
		if err == nil && ok {
			return
		}
		if ctx.Err() != nil {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			b.t.Fatalf("browser at %s: waiting for %s: %v (last: %v)", loc, predicate, ctx.Err(), err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// click clicks what xpath finds, on the same page.
func (b *browser) click(xpath string) {
	b.t.Helper()
	b.do(chromedp.Click(xpath, chromedp.NodeVisible))
}

// typeInto empties the field that xpath finds and types text into it, key
// by key.
func (b *browser) typeInto(xpath, text string) {
	b.t.Helper()
	clear := fmt.Sprintf(`(() => { const n = document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		if (!n) { return false; } n.value = ""; return true; })()`, jsString(xpath))
	b.do(chromedp.WaitVisible(xpath))
	ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](clear))
	if err != nil || !ok {
		b.t.Fatalf("clear %s: %v", xpath, err)
	}
	b.do(chromedp.SendKeys(xpath, text, chromedp.NodeVisible))
}

// text returns the visible text of what xpath finds.
func (b *browser) text(xpath string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(xpath, chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", xpath, err)
	}
	return strings.TrimSpace(s)
}

// checked reports whether the checkbox xpath finds is checked.
func (b *browser) checked(xpath string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[bool](xpath, "checked", chromedp.NodeReady))
	if err != nil {
		b.t.Fatalf("checked of %s: %v", xpath, err)
	}
	return v
}

// waitPath waits until the browser is on path, with the page loaded.
func (b *browser) waitPath(path string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf(`location.pathname === %s && document.readyState === "complete"`, jsString(path)))
}

// screenshot saves the page as docs/screenshots/console-NAME.png when
// ONRAMP_UPDATE_SCREENSHOTS=1, so that ordinary test runs leave the tree
// alone. It always takes the screenshot, so that taking one is tested too.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		b.t.Fatalf("screenshot %s is not a PNG", name)
	}
	if os.Getenv("ONRAMP_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, "console-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// XPath helpers: elements found by their visible text, as a person finds them.

// xq quotes s as an XPath string literal.
func xq(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

// named is any link or button whose text is name, inside scope ("" for the
// whole page).
func named(scope, name string) string {
	return scope + "//*[self::a or self::button or self::summary][normalize-space()=" + xq(name) + "]"
}

// section is the <section> or <fieldset> headed (h2, h3, legend) by heading.
func section(heading string) string {
	return "//*[self::section or self::fieldset][(h2|h3|legend|div/h2)[normalize-space()=" + xq(heading) + "]]"
}

// labelled is the form control whose <label> reads label, inside scope.
func labelled(scope, label string) string {
	return scope + "//*[@id=" + scope + "//label[normalize-space()=" + xq(label) + "]/@for]"
}

// nav is the Administration menu's item.
func nav(item string) string {
	return named("//nav[@aria-labelledby='nav-administration']", item)
}

// signInWithDemoIdP signs b in as the demo person named person, starting
// from the console's sign-in page, and returns once the browser is back at
// onramp (wherever the sign-in led).
func (b *browser) signInWithDemoIdP(person string) {
	b.t.Helper()
	b.open("/admin/sign-in?org=demo")
	b.follow(named("", "Sign in with Demo IdP"))
	if got := b.text("//h1"); got != "Pick a demo person" {
		b.t.Fatalf("the demo IdP shows %q, want its picker", got)
	}
	b.do(
		chromedp.Evaluate[chromedp.Void](`window.__onrampPage = true`),
		chromedp.Click("//button[@name='person'][.//strong[normalize-space()="+xq(person)+"]]", chromedp.NodeVisible),
	)
	// The IdP answers with a form that posts itself to onramp's ACS, which
	// redirects (signed in) or answers with a page (refused): wait for a
	// loaded page of onramp that is not the IdP's.
	b.waitFor(`!window.__onrampPage && document.readyState === "complete" && location.origin === ` + jsString(b.url) +
		` && !location.pathname.startsWith("/demo/idp")`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// refusedPage checks that b shows the JIT refusal page (package jit's
// explanation of what to ask the Admin for) with reason rule.
func (b *browser) refusedPage(rule string) {
	b.t.Helper()
	if h := b.text("//h1"); h != "You cannot sign in yet" {
		b.t.Fatalf("after sign-in the page says %q, want the refusal page", h)
	}
	if got := b.text("//code[@id='reason']"); got != rule {
		b.t.Fatalf("refusal reason %q, want %q", got, rule)
	}
	if msg := b.text("//p[1]"); !strings.Contains(msg, "Admin") {
		b.t.Fatalf("the refusal page does not tell what to ask the Admin for: %q", msg)
	}
}

// onboardingJSON and authJSON are the admin API's bodies.
type onboardingJSON struct {
	JIT struct {
		EmailDomains   bool `json:"emailDomains"`
		SSOConnections bool `json:"ssoConnections"`
	} `json:"jit"`
	AccessControl struct {
		EmailDomains   []string `json:"emailDomains"`
		SSOConnections []string `json:"ssoConnections"`
	} `json:"accessControl"`
}

type connectionJSON struct {
	Authentication struct {
		JITProvisioning   bool `json:"jitProvisioning"`
		AllowIdPInitiated bool `json:"allowIdpInitiated"`
	} `json:"authentication"`
	InAccessControl bool `json:"inAccessControl"`
}

// TestConsoleFlowsInABrowser performs the console's flows 1 (Administration
// → Organization → User onboarding) and 2 (Administration → SSO → Actions →
// Edit connection → Authentication settings) exactly as documented, and
// proves their effect end to end with first sign-ins through the demo IdP:
// refused before, an account after, refused again once the connection is out
// of the access control list, or its JIT provisioning toggle is off.
func TestConsoleFlowsInABrowser(t *testing.T) {
	exe := chromium(t) // first: skip (or fail under CI) before building anything
	srv := startOnramp(t)
	admin := newChromium(t, exe, srv.url)

	// Ada (group "admins": the demo mapping makes her Admin) signs in to the
	// console through SSO. The demo starts with JIT on, so she gets an account.
	admin.open("/admin")
	admin.waitPath("/admin/sign-in")
	admin.open("/admin/sign-in?org=demo")
	admin.screenshot("sign-in")
	admin.signInWithDemoIdP("Ada Lovelace")
	admin.waitPath("/admin/demo/organization")

	// The starting point of the proof: no JIT at all, as a new organization
	// has it (set through the admin API, not the console under test).
	var off onboardingJSON
	off.AccessControl.EmailDomains, off.AccessControl.SSOConnections = []string{}, []string{}
	srv.api(t, http.MethodPut, "/onboarding", off, nil)
	srv.api(t, http.MethodPut, "/connections/demo-idp/authentication", map[string]bool{"jitProvisioning": false, "allowIdpInitiated": true}, nil)

	grace := admin.profile()
	grace.signInWithDemoIdP("Grace Hopper")
	grace.refusedPage("jit_not_allowed")
	if us := srv.usersNamed(t, "grace"); len(us) != 0 {
		t.Fatalf("refused sign-in made accounts: %+v", us)
	}

	if !t.Run("Flow1_Organization_UserOnboarding", func(t *testing.T) {
		b := *admin
		b.t = t
		b.follow(nav("Organization"))
		onboarding := section("User onboarding")
		b.follow(named(onboarding, "Edit"))
		jit := section("JIT Provisioning")
		for _, option := range []string{"Email domains", "SSO connections"} {
			if b.checked(labelled(jit, option)) {
				t.Fatalf("JIT Provisioning %s is on before the flow", option)
			}
			b.click(jit + "//label[normalize-space()=" + xq(option) + "]")
			if !b.checked(labelled(jit, option)) {
				t.Fatalf("clicking %s did not check it", option)
			}
		}
		acl := section("Access control list")
		domains := acl + section("Email domains")
		b.follow(named(domains, "Add domain"))
		field := domains + "//input[@placeholder='acme-corp.com']"
		b.typeInto(field, "acme-corp.com")
		b.screenshot("organization-edit")
		b.follow(named(domains, "Save"))
		if got := b.text(domains + "//ul/li/span"); got != "acme-corp.com" {
			t.Fatalf("Email domains list shows %q after Save", got)
		}
		conns := acl + section("SSO connections")
		b.follow(named(conns, "Select connection"))
		b.do(chromedp.SetValue(labelled(conns, "Connection"), "demo-idp", chromedp.NodeVisible))
		b.follow(named(conns, "Save"))
		if got := b.text(conns + "//ul/li/span"); !strings.HasPrefix(got, "Demo IdP") {
			t.Fatalf("SSO connections list shows %q after Save", got)
		}
		// The JIT switches survived the round trips of the draft.
		if !b.checked(labelled(jit, "SSO connections")) || !b.checked(labelled(jit, "Email domains")) {
			t.Fatal("the JIT Provisioning options were lost while editing the lists")
		}
		// Nothing is saved before the final Save.
		var before onboardingJSON
		srv.api(t, http.MethodGet, "/onboarding", nil, &before)
		if before.JIT.SSOConnections || len(before.AccessControl.EmailDomains) != 0 {
			t.Fatalf("onboarding changed before the final Save: %+v", before)
		}
		b.follow(named("//div[@class='form-actions']", "Save"))
		b.waitPath("/admin/demo/organization")
		if n := b.text("//p[@role='status']"); n != "User onboarding saved." {
			t.Fatalf("after Save the page says %q", n)
		}
		b.screenshot("organization")
		var got onboardingJSON
		srv.api(t, http.MethodGet, "/onboarding", nil, &got)
		if !got.JIT.EmailDomains || !got.JIT.SSOConnections ||
			strings.Join(got.AccessControl.EmailDomains, ",") != "acme-corp.com" ||
			strings.Join(got.AccessControl.SSOConnections, ",") != "demo-idp" {
			t.Fatalf("onboarding after flow 1: %+v", got)
		}
	}) {
		return
	}

	// JIT by SSO connection also needs the connection's own toggle: still
	// refused after flow 1 alone.
	grace.signInWithDemoIdP("Grace Hopper")
	grace.refusedPage("jit_not_allowed")

	if !t.Run("Flow2_SSO_AuthenticationSettings", func(t *testing.T) {
		b := *admin
		b.t = t
		setJITToggle(&b, true, true)
		var got connectionJSON
		srv.api(t, http.MethodGet, "/connections/demo-idp", nil, &got)
		if !got.Authentication.JITProvisioning || !got.Authentication.AllowIdPInitiated {
			t.Fatalf("authentication after flow 2: %+v", got.Authentication)
		}
	}) {
		return
	}

	if !t.Run("FirstSignInCreatesAnAccount", func(t *testing.T) {
		grace.t = t
		grace.signInWithDemoIdP("Grace Hopper")
		// Grace is a Member: the console answers with its 403 page.
		grace.waitPath("/admin/demo/organization")
		if h := grace.text("//h1"); h != "Only Admins can use the admin console" {
			t.Fatalf("a Member sees %q", h)
		}
		grace.screenshot("403")
		us := srv.usersNamed(t, "grace")
		if len(us) != 1 || us[0].Source != "jit" || us[0].Role != "Member" {
			t.Fatalf("users named grace after her first sign-in: %+v", us)
		}
	}) {
		return
	}

	if !t.Run("RefusedWhenConnectionLeavesTheACL", func(t *testing.T) {
		b := *admin
		b.t = t
		b.follow(nav("Organization"))
		b.follow(named(section("User onboarding"), "Edit"))
		conns := section("Access control list") + section("SSO connections")
		b.follow(named(conns, "Remove"))
		b.follow(named("//div[@class='form-actions']", "Save"))
		b.waitPath("/admin/demo/organization")
		var ob onboardingJSON
		srv.api(t, http.MethodGet, "/onboarding", nil, &ob)
		if len(ob.AccessControl.SSOConnections) != 0 {
			t.Fatalf("ACL still lists %v", ob.AccessControl.SSOConnections)
		}
		alan := admin.profile()
		alan.t = t
		alan.signInWithDemoIdP("Alan Turing")
		alan.refusedPage("jit_not_allowed")
		alan.screenshot("signin-refused")
		if us := srv.usersNamed(t, "alan"); len(us) != 0 {
			t.Fatalf("refused sign-in made accounts: %+v", us)
		}

		// Back in the list (flow 1 again), Alan gets in.
		b.follow(named(section("User onboarding"), "Edit"))
		b.follow(named(conns, "Select connection"))
		b.do(chromedp.SetValue(labelled(conns, "Connection"), "demo-idp", chromedp.NodeVisible))
		b.follow(named(conns, "Save"))
		b.follow(named("//div[@class='form-actions']", "Save"))
		b.waitPath("/admin/demo/organization")
		alan.signInWithDemoIdP("Alan Turing")
		alan.waitPath("/admin/demo/organization")
		if us := srv.usersNamed(t, "alan"); len(us) != 1 {
			t.Fatalf("users named alan after the connection is back in the ACL: %+v", us)
		}
	}) {
		return
	}

	if !t.Run("RefusedWhenToggleIsOff", func(t *testing.T) {
		b := *admin
		b.t = t
		setJITToggle(&b, false, false)
		var got connectionJSON
		srv.api(t, http.MethodGet, "/connections/demo-idp", nil, &got)
		if got.Authentication.JITProvisioning || !got.InAccessControl {
			t.Fatalf("connection after switching the toggle off: %+v", got)
		}
		katherine := admin.profile()
		katherine.t = t
		katherine.signInWithDemoIdP("Katherine Johnson")
		katherine.refusedPage("jit_not_allowed")
		if us := srv.usersNamed(t, "katherine"); len(us) != 0 {
			t.Fatalf("refused sign-in made accounts: %+v", us)
		}
		// The refusals are in the audit log, naming the rule.
		var log struct {
			Events []struct {
				Rule string `json:"rule"`
			} `json:"events"`
		}
		srv.api(t, http.MethodGet, "/audit-events?action=jit.refused", nil, &log)
		if len(log.Events) != 4 { // Grace twice, Alan, Katherine
			t.Fatalf("%d jit.refused events, want 4", len(log.Events))
		}
		for _, ev := range log.Events {
			if ev.Rule != "jit_not_allowed" {
				t.Fatalf("jit.refused with rule %q", ev.Rule)
			}
		}
	}) {
		return
	}

	if !t.Run("OtherPages", func(t *testing.T) {
		b := *admin
		b.t = t
		consolePages(&b, srv)
	}) {
		return
	}

	if !t.Run("SPCertificateRollover", func(t *testing.T) {
		b := *admin
		b.t = t
		spCertificateRollover(&b, srv)
	}) {
		return
	}
}

// evaluate returns the value of the JavaScript expression in the current
// page.
func evaluate[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// spCertificateRollover takes the Demo IdP connection's SP certificate
// through the three steps of a rollover on its page (Connection → SP
// certificate), checking what the page says after each, and that people
// still sign in through the demo IdP (which reads onramp's SP metadata at
// each sign-in) once the new certificate is active and once the old one is
// gone.
func spCertificateRollover(b *browser, srv *onrampServer) {
	t := b.t
	page := "/admin/demo/sso/demo-idp"
	sec := section("SP certificate")
	state := "//*[@id='sp-rollover-state']"
	// rows are the table's rows as "Role fingerprint", in order.
	rows := func() []string {
		return strings.Split(evaluate[string](b, `Array.from(document.querySelectorAll("#sp-certificates tbody tr")).
			map(tr => tr.querySelector("th").textContent.trim() + " " + tr.querySelector("code").textContent.trim()).join("\n")`), "\n")
	}
	roleOf := func(row string) string { r, _, _ := strings.Cut(row, " "); return r }
	fingerprintOf := func(row string) string { _, f, _ := strings.Cut(row, " "); return f }
	notice := func() string { return b.text("//p[@role='status']") }
	signsIn := func(when string) {
		t.Helper()
		p := b.profile()
		p.signInWithDemoIdP("Grace Hopper")
		p.waitPath("/admin/demo/organization")
		if h := p.text("//h1"); h != "Only Admins can use the admin console" { // Grace is a Member: signed in, and the console says no
			t.Fatalf("%s: Grace's sign-in ends at %q", when, h)
		}
	}

	b.open(page)
	if got := b.text(state); got != "No rollover under way." {
		t.Fatalf("before the rollover the page says %q", got)
	}
	before := rows()
	if len(before) != 1 || roleOf(before[0]) != "Active" {
		t.Fatalf("certificates before the rollover: %q", before)
	}
	original := fingerprintOf(before[0])

	// Step 1.
	b.follow(named(sec, "Start rollover"))
	b.waitPath(page)
	if n := notice(); !strings.HasPrefix(n, "SP certificate rollover started") {
		t.Fatalf("after Start rollover the page says %q", n)
	}
	if got := b.text(state); !strings.HasPrefix(got, "Rollover started.") || !strings.Contains(got, "Give the identity provider the new certificate") {
		t.Fatalf("state after Start rollover: %q", got)
	}
	started := rows()
	if len(started) != 2 || roleOf(started[0]) != "Active" || fingerprintOf(started[0]) != original || roleOf(started[1]) != "Incoming" {
		t.Fatalf("certificates after Start rollover: %q", started)
	}
	incoming := fingerprintOf(started[1])
	if b.text(named(sec, "Cancel rollover")) != "Cancel rollover" {
		t.Fatal("no Cancel rollover beside Activate")
	}

	// Step 2.
	b.follow(named(sec, "Activate new certificate"))
	b.waitPath(page)
	if n := notice(); !strings.HasPrefix(n, "New SP certificate activated") {
		t.Fatalf("after Activate the page says %q", n)
	}
	if got := b.text(state); !strings.HasPrefix(got, "New certificate active.") {
		t.Fatalf("state after Activate: %q", got)
	}
	activated := rows()
	if len(activated) != 2 || activated[0] != "Active "+incoming || activated[1] != "Outgoing "+original {
		t.Fatalf("certificates after Activate: %q (incoming was %s)", activated, incoming)
	}
	signsIn("after Activate")

	// Step 3.
	b.follow(named(sec, "Finish: remove old certificate"))
	b.waitPath(page)
	if n := notice(); n != "SP certificate rollover finished: the old certificate is removed." {
		t.Fatalf("after Finish the page says %q", n)
	}
	if got := b.text(state); got != "No rollover under way." {
		t.Fatalf("state after Finish: %q", got)
	}
	if after := rows(); len(after) != 1 || after[0] != "Active "+incoming {
		t.Fatalf("certificates after Finish: %q", after)
	}
	signsIn("after Finish")

	// The three steps are in the audit log, by Ada.
	for _, action := range []string{"connection.sp_rollover_started", "connection.sp_certificate_activated", "connection.sp_rollover_finished"} {
		var log struct {
			Events []struct {
				Actor string `json:"actor"`
			} `json:"events"`
		}
		srv.api(t, http.MethodGet, "/audit-events?action="+action, nil, &log)
		if len(log.Events) != 1 || !strings.HasPrefix(log.Events[0].Actor, "user:") {
			t.Fatalf("%s events: %+v", action, log.Events)
		}
	}
}

// setJITToggle performs flow 2: Administration → SSO, the Demo IdP row's
// Actions → Edit connection, Authentication settings → Edit, the JIT
// provisioning toggle, Save. shots saves the pages' screenshots.
func setJITToggle(b *browser, on, shots bool) {
	b.t.Helper()
	b.follow(nav("SSO"))
	row := "//table[@id='sso-connections']//tr[.//a[normalize-space()='Demo IdP']]"
	b.click(named(row, "Actions"))
	if shots {
		b.screenshot("sso")
	}
	b.follow(named(row, "Edit connection"))
	b.waitPath("/admin/demo/sso/demo-idp")
	auth := section("Authentication settings")
	b.follow(named(auth, "Edit"))
	toggle := labelled(auth, "JIT provisioning")
	if b.checked(toggle) == on {
		b.t.Fatalf("the JIT provisioning toggle is already %v", on)
	}
	b.click(auth + "//label[normalize-space()='JIT provisioning']")
	if b.checked(toggle) != on {
		b.t.Fatal("clicking the JIT provisioning toggle did not switch it")
	}
	if shots {
		b.screenshot("connection-authentication")
	}
	b.follow(named(auth, "Save"))
	b.waitPath("/admin/demo/sso/demo-idp")
	if n := b.text("//p[@role='status']"); n != "Authentication settings saved." {
		b.t.Fatalf("after Save the page says %q", n)
	}
	want := "Off"
	if on {
		want = "On"
	}
	if got := b.text(auth + "//dd[1]"); got != want {
		b.t.Fatalf("Authentication settings show JIT provisioning %q, want %q", got, want)
	}
	if shots {
		b.screenshot("connection")
	}
}

// consolePages visits the pages flows 1 and 2 do not (mapping and preview,
// SCIM tokens, users, a user, the audit log), checks what each must show,
// and saves their screenshots.
func consolePages(b *browser, srv *onrampServer) {
	t := b.t
	b.open("/admin/demo/sso/demo-idp")
	b.follow("//nav[@class='tabs']//a[normalize-space()='Attribute mapping']")
	preview := section("Preview")
	b.typeInto(labelled(preview, "SAML response or SCIM body"), `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"lin@example.com","name":{"givenName":"Lin","familyName":"Chen"},"emails":[{"value":"lin@example.com","primary":true}]}`)
	b.follow(named(preview, "Preview"))
	if got := b.text("//*[@id='preview-result']//tr[th/code='email']/td[1]"); got != "lin@example.com" {
		t.Fatalf("preview shows email %q", got)
	}
	if got := b.text("//*[@id='jit-verdict']"); !strings.Contains(got, "SCIM") {
		t.Fatalf("preview's JIT verdict for a SCIM body: %q", got)
	}
	b.screenshot("mapping")

	b.follow("//nav[@class='tabs']//a[normalize-space()='SCIM provisioning']")
	b.typeInto(labelled(section("Tokens"), "Description"), "Okta production")
	b.follow(named(section("Tokens"), "Create token"))
	token := b.text("//code[@id='token-value']")
	if !strings.HasPrefix(token, "onramp_") {
		t.Fatalf("new token shows %q", token)
	}
	b.screenshot("scim")
	// The token works, once: SCIM answers it.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.url+"/scim/v2/Users?count=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SCIM with the new token: %s", resp.Status)
	}
	b.open("/admin/demo/sso/demo-idp/scim")
	if strings.Contains(b.text("//main"), token) {
		t.Fatal("the token is shown again after reloading the page")
	}

	b.follow(nav("Users"))
	if got := b.text("//table[@id='users']//tr[.//a[normalize-space()='Grace Hopper']]/td[2]"); !strings.HasPrefix(got, "JIT") {
		t.Fatalf("Grace came from %q", got)
	}
	b.screenshot("users")
	b.follow("//table[@id='users']//a[normalize-space()='Grace Hopper']")
	if got := b.text(section("SSO identities") + "//tbody/tr/td[2]"); got != "grace@example.com" {
		t.Fatalf("Grace's identity NameID %q", got)
	}
	if got := b.text(section("History")); !strings.Contains(got, "jit.created") || !strings.Contains(got, "jit_sso_connection") {
		t.Fatalf("Grace's history lacks her creation by JIT through the SSO connection rule:\n%s", got)
	}
	b.screenshot("user")

	b.follow(nav("Audit log"))
	b.typeInto("//input[@id='action']", "jit.refused")
	b.follow(named("//form[@role='search']", "Filter"))
	if got := b.text("//table[@id='events']/tbody"); strings.Count(got, "jit.refused") != 4 {
		t.Fatalf("filtered audit log:\n%s", got)
	}
	b.open("/admin/demo/audit")
	b.screenshot("audit")
}
