package replicas

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/onramp-dev/onramp/jit/samltest"
)

// postgresEnv names the variable that points the tests at a PostgreSQL server,
// for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable. The tests
// create and drop schemas of their own in that database.
const postgresEnv = "ONRAMP_TEST_POSTGRES_DSN"

// Headers of the test's load balancer.
const (
	// steerHeader names the replica a request is sent to; without it the
	// balancer takes turns. It is removed before the request is forwarded.
	steerHeader = "X-Test-Replica"
	// servedHeader is added to every answer: the replica that gave it.
	servedHeader = "X-Test-Served-By"
	// requestIDHeader is onramp's request ID header: the balancer sets it, the
	// replica logs it and echoes it back.
	requestIDHeader = "X-Request-ID"
)

// waitBound bounds every wait for a process (start, a log record, exit). It is
// a bound against hanging, not a timing assertion.
const waitBound = 2 * time.Minute

// build holds the onramp binary, built once per test process on first use.
var build struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary returns the path of the onramp binary, building it on first use.
func binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "onramp-replicas-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "onramp")
		out, err := exec.Command("go", "build", "-o", build.bin, "github.com/onramp-dev/onramp/cmd/onramp").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.bin
}

// postgresDSN returns the test server's DSN. Without it the test is skipped on a
// laptop, but fails when CI is set, so that CI never passes by skipping.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(postgresEnv)
	switch {
	case dsn != "" && !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://"):
		tb.Fatalf("%s must be a postgres:// URL", postgresEnv)
	case dsn != "":
		return dsn
	case os.Getenv("CI") != "":
		tb.Fatalf("%s is not set, and CI is: the replica tests must run in CI", postgresEnv)
	default:
		tb.Skipf("%s is not set: skipping the replica tests, which need PostgreSQL (see CONTRIBUTING.md)", postgresEnv)
	}
	return ""
}

// freshSchema creates a schema with a random name in the test database, drops it
// when the test ends (after the replicas, whose clean-ups are registered later
// and so run first), and returns a DSN whose connections work in it.
func freshSchema(tb testing.TB) (dsn, schema string) {
	tb.Helper()
	base := postgresDSN(tb)
	schema = "onramp_replicas_" + randomHex(tb, 8)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		tb.Fatalf("%s: %v", postgresEnv, err)
	}
	admin := stdlib.OpenDB(*cfg)
	admin.SetMaxOpenConns(1)
	if _, err := admin.ExecContext(tb.Context(), "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", postgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// openSchema opens a one-connection pool on a schema's DSN, for checks.
func openSchema(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// cleanEnv is the test's environment without ONRAMP_* variables, so that the
// developer's own settings cannot change what the processes see.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ONRAMP_") {
			out = append(out, kv)
		}
	}
	return out
}

// outcome is how a finished onramp command went.
type outcome struct {
	stdout, stderr string
	code           int
}

// runOnramp runs the binary to completion in dir. It may be called from any
// goroutine; err is only for a process that could not be run.
func runOnramp(ctx context.Context, bin, dir string, args ...string) (outcome, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	out := outcome{stdout: o.String(), stderr: e.String()}
	switch {
	case errors.As(err, &ee):
		out.code = ee.ExitCode()
	case err != nil:
		return out, fmt.Errorf("run onramp %s: %w", args[0], err)
	}
	return out, nil
}

// onramp runs the binary to completion and fails the test unless it exits 0.
func onramp(tb testing.TB, dir string, args ...string) outcome {
	tb.Helper()
	out, err := runOnramp(tb.Context(), binary(tb), dir, args...)
	if err != nil {
		tb.Fatal(err)
	}
	if out.code != 0 {
		tb.Fatalf("onramp %s: exit %d\nstdout: %s\nstderr: %s", args[0], out.code, out.stdout, out.stderr)
	}
	return out
}

// replica is a running `onramp serve`.
type replica struct {
	name string
	url  string // http://127.0.0.1:PORT, where it listens

	cmd  *exec.Cmd
	mu   sync.Mutex
	recs []map[string]any // its log records (JSON on stderr), in order
	done chan struct{}    // closed once it has exited and its log is read
	code int              // exit code, once done is closed
}

// startReplica starts `onramp serve` on a free loopback port with the given
// flags and returns once it listens. When the test ends it is sent SIGTERM and
// must exit 0 (DESIGN: SIGTERM drains and exits 0); if the test failed, its
// log is shown.
func startReplica(tb testing.TB, name, dir string, flags ...string) *replica {
	tb.Helper()
	args := append([]string{"--log-format", "json", "serve", "--addr", "127.0.0.1:0"}, flags...)
	cmd := exec.Command(binary(tb), args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				rec = map[string]any{"msg": "unparsed", "line": sc.Text()}
			}
			if rec["msg"] == "listening" {
				addr, _ := rec["addr"].(string)
				select {
				case listening <- addr:
				default:
				}
			}
			r.mu.Lock()
			r.recs = append(r.recs, rec)
			r.mu.Unlock()
		}
		_ = cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	tb.Cleanup(func() {
		r.stop(tb)
		if tb.Failed() {
			r.dump(tb)
		}
	})
	select {
	case addr := <-listening:
		r.url = "http://" + addr
	case <-r.done:
		r.dump(tb)
		tb.Fatalf("replica %s exited (code %d) before listening", name, r.code)
	case <-time.After(waitBound):
		tb.Fatalf("replica %s did not listen within %s", name, waitBound)
	}
	return r
}

// stop sends SIGTERM and waits for the exit, which must be 0. It is
// idempotent.
func (r *replica) stop(tb testing.TB) {
	tb.Helper()
	select {
	case <-r.done:
		return
	default:
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Errorf("replica %s: SIGTERM: %v", r.name, err)
	}
	select {
	case <-r.done:
		if r.code != 0 {
			tb.Errorf("replica %s exited %d after SIGTERM, want 0", r.name, r.code)
		}
	case <-time.After(waitBound):
		_ = r.cmd.Process.Kill()
		<-r.done
		tb.Errorf("replica %s did not exit within %s of SIGTERM", r.name, waitBound)
	}
}

// dump shows the replica's log (request lines carry no bodies or tokens).
func (r *replica) dump(tb testing.TB) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	from := max(0, len(r.recs)-60)
	for _, rec := range r.recs[from:] {
		b, _ := json.Marshal(rec)
		tb.Logf("replica %s: %s", r.name, b)
	}
}

// waitRequest waits until the replica has logged the request with this ID and
// returns its log record: proof that the request reached this very process.
func (r *replica) waitRequest(tb testing.TB, requestID string) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		r.mu.Lock()
		for _, rec := range r.recs {
			if rec["msg"] == "request" && rec["request_id"] == requestID {
				r.mu.Unlock()
				return rec
			}
		}
		r.mu.Unlock()
		select {
		case <-r.done:
			tb.Fatalf("replica %s exited without logging request %s", r.name, requestID)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("replica %s logged no request %s within %s", r.name, requestID, waitBound)
		}
	}
}

// balancer is the load balancer in front of the replicas, as nginx would be:
// the --base-url of every replica is its URL. A request goes to the replica
// named in its steerHeader, or else to each in turn. It sets a request ID of
// its own on each request, which the replica logs.
type balancer struct {
	srv   *httptest.Server
	proxy *httputil.ReverseProxy

	mu       sync.RWMutex
	backends map[string]*url.URL
	names    []string // in the order added, for round-robin
	turn     atomic.Uint64
	seq      atomic.Uint64
}

type backendKey struct{}

// backend is where the balancer sends one request.
type backend struct {
	name string
	url  *url.URL
}

func newBalancer(tb testing.TB) *balancer {
	tb.Helper()
	lb := &balancer{backends: map[string]*url.URL{}}
	lb.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			be, _ := pr.In.Context().Value(backendKey{}).(backend)
			pr.SetURL(be.url)
			pr.Out.Host = pr.In.Host // nginx: proxy_set_header Host $host
			pr.SetXForwarded()
			pr.Out.Header.Del(steerHeader)
			pr.Out.Header.Set(requestIDHeader, fmt.Sprintf("lb-%s-%d", be.name, lb.seq.Add(1)))
		},
		ModifyResponse: func(res *http.Response) error {
			be, _ := res.Request.Context().Value(backendKey{}).(backend)
			res.Header.Set(servedHeader, be.name)
			return nil
		},
		// A request cut short (its client gave up) or a replica that is down
		// answers 502, as nginx does; the standard library's default would also
		// print to the process's log.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "balancer: "+err.Error(), http.StatusBadGateway)
		},
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	lb.srv = httptest.NewServer(http.HandlerFunc(lb.serve))
	tb.Cleanup(lb.srv.Close)
	return lb
}

// URL is the balancer's URL: the replicas' --base-url.
func (lb *balancer) URL() string { return lb.srv.URL }

// add puts a replica behind the balancer.
func (lb *balancer) add(name, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if _, ok := lb.backends[name]; !ok {
		lb.names = append(lb.names, name)
	}
	lb.backends[name] = u
	return nil
}

// remove takes a replica out of the balancer.
func (lb *balancer) remove(name string) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if _, ok := lb.backends[name]; !ok {
		return fmt.Errorf("balancer: no replica %q", name)
	}
	delete(lb.backends, name)
	lb.names = slices.DeleteFunc(lb.names, func(n string) bool { return n == name })
	return nil
}

func (lb *balancer) serve(w http.ResponseWriter, r *http.Request) {
	lb.mu.RLock()
	name := r.Header.Get(steerHeader)
	if name == "" && len(lb.names) > 0 {
		name = lb.names[(lb.turn.Add(1)-1)%uint64(len(lb.names))]
	}
	u, ok := lb.backends[name]
	lb.mu.RUnlock()
	if !ok {
		http.Error(w, fmt.Sprintf("balancer: no replica %q", name), http.StatusBadGateway)
		return
	}
	ctx := context.WithValue(r.Context(), backendKey{}, backend{name: name, url: u})
	lb.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// reply is a finished HTTP exchange through the balancer.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) servedBy() string  { return r.header.Get(servedHeader) }
func (r reply) requestID() string { return r.header.Get(requestIDHeader) }

// reason is the reason code on one of onramp's SAML error pages.
func (r reply) reason() string {
	m := regexp.MustCompile(`<code id="reason">([^<]*)</code>`).FindStringSubmatch(r.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (r reply) String() string {
	body := r.body
	if len(body) > 600 {
		body = body[:600] + "…"
	}
	return fmt.Sprintf("%d from replica %q (request %s): %s", r.status, r.servedBy(), r.requestID(), body)
}

// browser is a person's browser: it keeps cookies and does not follow
// redirects. Each request names the replica the balancer sends it to.
type browser struct {
	base   string
	jar    *cookiejar.Jar
	client *http.Client
}

func newBrowser(tb testing.TB, base string) *browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &browser{
		base: base,
		jar:  jar,
		client: &http.Client{
			Jar:           jar,
			Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// send makes a request on replica on; it is safe from any goroutine.
func (b *browser) send(ctx context.Context, on, method, path string, form url.Values) (reply, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return reply{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if on != "" {
		req.Header.Set(steerHeader, on)
	}
	res, err := b.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: res.StatusCode, header: res.Header, body: string(raw)}, nil
}

func (b *browser) do(tb testing.TB, on, method, path string, form url.Values) reply {
	tb.Helper()
	r, err := b.send(tb.Context(), on, method, path, form)
	if err != nil {
		tb.Fatalf("%s %s on %s: %v", method, path, on, err)
	}
	if on != "" && r.servedBy() != on {
		tb.Fatalf("%s %s: served by %q, want %q", method, path, r.servedBy(), on)
	}
	return r
}

// copyCookies gives b the cookies other holds for path, as someone who
// copied them from other's browser would have.
func (b *browser) copyCookies(tb testing.TB, other *browser, path string) {
	tb.Helper()
	u, err := url.Parse(b.base + path)
	if err != nil {
		tb.Fatal(err)
	}
	b.jar.SetCookies(u, other.jar.Cookies(u))
}

// me is GET /api/v1/me on a replica: the status and, on 200, the user.
func (b *browser) me(tb testing.TB, on string) (int, meJSON) {
	tb.Helper()
	r := b.do(tb, on, http.MethodGet, "/api/v1/me", nil)
	var m meJSON
	if r.status == http.StatusOK {
		if err := json.Unmarshal([]byte(r.body), &m); err != nil {
			tb.Fatalf("me on %s: %v: %s", on, err, r.body)
		}
	}
	return r.status, m
}

// meJSON is what the test reads of GET /api/v1/me.
type meJSON struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Email    string `json:"email"`
}

// scimClient is an IdP's SCIM client with the connection's bearer token.
type scimClient struct {
	base   string // the balancer's URL
	token  string
	client *http.Client
}

// scimReply is a SCIM answer: status and JSON body.
type scimReply struct {
	status int
	doc    map[string]any
	served string
}

func (r scimReply) String() string {
	b, _ := json.Marshal(r.doc)
	return fmt.Sprintf("%d from replica %q: %s", r.status, r.served, b)
}

// id returns the body's id.
func (r scimReply) id() string { s, _ := r.doc["id"].(string); return s }

// version returns the body's meta.version (an ETag).
func (r scimReply) version() string {
	meta, _ := r.doc["meta"].(map[string]any)
	v, _ := meta["version"].(string)
	return v
}

// send makes a SCIM request on replica on (or in turn, if on is ""); ifMatch,
// if set, is sent as If-Match. It is safe from any goroutine.
func (c *scimClient) send(ctx context.Context, on, method, path string, body any, ifMatch string) (scimReply, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return scimReply{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/scim/v2"+path, rd)
	if err != nil {
		return scimReply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	if on != "" {
		req.Header.Set(steerHeader, on)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return scimReply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return scimReply{}, err
	}
	out := scimReply{status: res.StatusCode, served: res.Header.Get(servedHeader)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.doc); err != nil {
			return out, fmt.Errorf("%s %s: %d, body is not JSON: %.300s", method, path, res.StatusCode, raw)
		}
	}
	if on != "" && out.served != on {
		return out, fmt.Errorf("%s %s: served by %q, want %q", method, path, out.served, on)
	}
	return out, nil
}

func (c *scimClient) do(tb testing.TB, on, method, path string, body any, ifMatch string) scimReply {
	tb.Helper()
	r, err := c.send(tb.Context(), on, method, path, body, ifMatch)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// lookup is an IdP's pre-create lookup: the live users with this userName.
func (c *scimClient) lookup(tb testing.TB, on, userName string) []map[string]any {
	tb.Helper()
	return c.find(tb, on, `userName eq "`+userName+`"`)
}

// find lists the live users that match a SCIM filter.
func (c *scimClient) find(tb testing.TB, on, filter string) []map[string]any {
	tb.Helper()
	r := c.do(tb, on, http.MethodGet, "/Users?filter="+url.QueryEscape(filter), nil, "")
	if r.status != http.StatusOK {
		tb.Fatalf("filter %s on %s: %s", filter, on, r)
	}
	raw, _ := r.doc["Resources"].([]any)
	var out []map[string]any
	for _, x := range raw {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	if total, _ := r.doc["totalResults"].(float64); int(total) != len(out) {
		tb.Fatalf("filter %s on %s: totalResults %v, %d resources", filter, on, r.doc["totalResults"], len(out))
	}
	return out
}

// scimUser is an Okta-style create body.
func scimUser(userName, email string) map[string]any {
	return map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]any{"givenName": "Pat", "familyName": "Doe"},
		"emails":   []any{map[string]any{"value": email, "type": "work", "primary": true}},
		"active":   true,
	}
}

// patchActive is a PATCH body that sets active.
func patchActive(active bool) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": active}},
	}
}

// deployConfig says what deploy sets up.
type deployConfig struct {
	// db is the database (--db): a schema's DSN, or a SQLite file path.
	db string
	// migrateTwice runs `onramp migrate` twice at once before anything else
	// (PostgreSQL: the advisory lock lets one apply the migrations).
	migrateTwice bool
	// replicas names the `onramp serve` processes to start.
	replicas []string
	// allowIdPInitiated allows IdP-initiated sign-in on the connection.
	allowIdPInitiated bool
}

// deployment is onramp as an operator runs it: an organization "acme" with
// connection "okta" (JIT by SSO on, the okta mapping preset), whose IdP is the
// crewjam IdP in the test process, one or more replicas behind the balancer,
// and a SCIM token of the connection.
type deployment struct {
	dir      string
	db       string
	key      string // --saml-key
	lb       *balancer
	idp      *samltest.IdP
	scim     *scimClient
	replicas map[string]*replica

	// For the benchmarks on PostgreSQL: the application_name of the replicas'
	// connections, and a connection to look their server processes up with.
	pgApp   string
	pgAdmin *sql.DB
}

// Paths of the connection's SAML endpoints.
const (
	loginPath    = "/saml/acme/okta/login"
	acsPath      = "/saml/acme/okta/acs"
	metadataPath = "/saml/acme/okta/metadata"
)

const configYAML = `organizations:
  - slug: acme
    name: Acme Corp
    onboarding:
      jit: { emailDomains: false, ssoConnections: true }
      accessControl:
        emailDomains: []
        ssoConnections: [okta]
    connections:
      - slug: okta
        name: Okta
        idp: { metadataFile: idp.xml }
        authentication: { jitProvisioning: true, allowIdpInitiated: %t }
        mapping: { preset: okta }
`

func deploy(tb testing.TB, cfg deployConfig) *deployment {
	tb.Helper()
	d := &deployment{
		dir:      tb.TempDir(),
		db:       cfg.db,
		key:      randomHex(tb, 32),
		lb:       newBalancer(tb),
		idp:      samltest.New(tb, samltest.Options{}),
		replicas: map[string]*replica{},
	}
	if cfg.migrateTwice {
		d.migrateTwice(tb)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "idp.xml"), d.idp.MetadataXML(tb), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "onramp.yaml"), fmt.Appendf(nil, configYAML, cfg.allowIdPInitiated), 0o600); err != nil {
		tb.Fatal(err)
	}
	onramp(tb, d.dir, "apply", "--db", d.db, "-f", "onramp.yaml")
	out := onramp(tb, d.dir, "token", "create", "--db", d.db, "--org", "acme", "--scim", "okta", "--base-url", d.lb.URL())
	lines := strings.Split(strings.TrimSpace(out.stdout), "\n")
	d.scim = &scimClient{base: d.lb.URL(), token: lines[len(lines)-1], client: &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 128},
		Timeout:   time.Minute,
	}}
	for _, name := range cfg.replicas {
		d.start(tb, name, d.key)
	}
	d.registerSP(tb, cfg.replicas)
	return d
}

// migrateTwice runs two `onramp migrate` at once on a fresh database: both must
// succeed, and each migration must be recorded once.
func (d *deployment) migrateTwice(tb testing.TB) {
	tb.Helper()
	bin := binary(tb)
	var wg sync.WaitGroup
	outs := make([]outcome, 2)
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range outs {
		wg.Go(func() {
			<-start
			outs[i], errs[i] = runOnramp(tb.Context(), bin, d.dir, "migrate", "--db", d.db)
		})
	}
	close(start)
	wg.Wait()
	for i := range outs {
		if errs[i] != nil {
			tb.Fatal(errs[i])
		}
		if outs[i].code != 0 {
			tb.Fatalf("migrator %d: exit %d\nstderr: %s", i, outs[i].code, outs[i].stderr)
		}
	}
	var rows, versions int
	err := openSchema(tb, d.db).QueryRowContext(tb.Context(),
		"SELECT COUNT(*), COUNT(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0").Scan(&rows, &versions)
	if err != nil {
		tb.Fatal(err)
	}
	if versions == 0 || rows != versions {
		tb.Fatalf("goose_db_version: %d rows for %d versions, want each migration recorded once", rows, versions)
	}
}

// start starts a replica with the deployment's database and base URL, the
// given --saml-key, puts it behind the balancer and waits until it is ready.
func (d *deployment) start(tb testing.TB, name, key string) *replica {
	tb.Helper()
	return d.startWith(tb, name, d.lb.URL(), key)
}

// startWith is start with a --base-url of the caller's choice. An empty key
// leaves --saml-key unset (the replica then uses the key kept in the store).
func (d *deployment) startWith(tb testing.TB, name, baseURL, key string) *replica {
	tb.Helper()
	flags := []string{"--db", d.db, "--base-url", baseURL}
	if key != "" {
		flags = append(flags, "--saml-key", key)
	}
	r := startReplica(tb, name, d.dir, flags...)
	if err := d.lb.add(name, r.url); err != nil {
		tb.Fatal(err)
	}
	d.replicas[name] = r
	b := newBrowser(tb, d.lb.URL())
	if res := b.do(tb, name, http.MethodGet, "/readyz", nil); res.status != http.StatusOK {
		tb.Fatalf("readyz on %s: %s", name, res)
	}
	return r
}

// registerSP gives the IdP the SP metadata, as an Admin would download it (from
// the first replica). Every replica must publish the same entity ID and keys.
func (d *deployment) registerSP(tb testing.TB, names []string) {
	tb.Helper()
	b := newBrowser(tb, d.lb.URL())
	var first []byte
	var firstSum string
	for _, name := range names {
		res := b.do(tb, name, http.MethodGet, metadataPath, nil)
		if res.status != http.StatusOK {
			tb.Fatalf("SP metadata on %s: %s", name, res)
		}
		sum := metadataSummary(tb, []byte(res.body))
		if first == nil {
			first, firstSum = []byte(res.body), sum
			continue
		}
		if sum != firstSum {
			tb.Fatalf("replica %s publishes other SP metadata than %s:\n%s\nvs\n%s", name, names[0], sum, firstSum)
		}
	}
	d.idp.RegisterSP(tb, first, false)
}

// metadataSummary is what must agree between replicas' SP metadata: the entity
// ID, the ACS locations and the certificates.
func metadataSummary(tb testing.TB, raw []byte) string {
	tb.Helper()
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(raw, &ed); err != nil {
		tb.Fatalf("SP metadata: %v", err)
	}
	if len(ed.SPSSODescriptors) != 1 {
		tb.Fatalf("SP metadata: %d SPSSODescriptors", len(ed.SPSSODescriptors))
	}
	sp := ed.SPSSODescriptors[0]
	parts := []string{"entity " + ed.EntityID}
	for _, acs := range sp.AssertionConsumerServices {
		parts = append(parts, "acs "+acs.Location)
	}
	for _, kd := range sp.KeyDescriptors {
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			parts = append(parts, kd.Use+" "+strings.Join(strings.Fields(c.Data), ""))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "\n")
}

// browser returns a new browser in front of the deployment.
func (d *deployment) browser(tb testing.TB) *browser {
	tb.Helper()
	return newBrowser(tb, d.lb.URL())
}

// startLogin starts an SP-initiated sign-in on replica on and has the IdP
// answer it for user: it returns the IdP's SAMLResponse and RelayState.
func (d *deployment) startLogin(tb testing.TB, b *browser, on, returnTo string, user samltest.User) (samlResponse, relayState string) {
	tb.Helper()
	res := b.do(tb, on, http.MethodGet, loginPath+"?return_to="+url.QueryEscape(returnTo), nil)
	if res.status != http.StatusFound {
		tb.Fatalf("login on %s: %s", on, res)
	}
	return d.idp.SPInitiated(tb, res.header.Get("Location"), samltest.Login{User: user})
}

// acsForm is the form the IdP's page posts to the ACS.
func acsForm(samlResponse, relayState string) url.Values {
	return url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relayState}}
}

// person is someone the IdP signs in with the okta preset's attributes:
// NameID (the userName) and email.
func person(nameID, email string) samltest.User {
	return samltest.User{
		NameID: nameID,
		Attributes: map[string][]string{
			"email":     {email},
			"firstName": {"Pat"},
			"lastName":  {"Doe"},
		},
	}
}
