package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/jit/samltest"
)

// contentionConfig declares an organization whose SSO connection (the
// crewjam IdP in the test process) allows IdP-initiated sign-in and JIT.
const contentionConfig = `organizations:
  - slug: acme
    name: Acme Corp
    onboarding:
      jit: { emailDomains: false, ssoConnections: true }
      accessControl:
        emailDomains: [acme-corp.com]
        ssoConnections: [okta]
    connections:
      - slug: okta
        name: Okta
        idp: { metadataFile: idp.xml }
        authentication: { jitProvisioning: true, allowIdpInitiated: true }
        mapping: { preset: okta }
`

// Paths of the connection's SAML endpoints and the admin API's ACL.
const (
	acsPath         = "/saml/acme/okta/acs"
	spMetadataPath  = "/saml/acme/okta/metadata"
	accessCtrlPath  = "/api/v1/orgs/acme/access-control"
	contentionUsers = 50
)

// Kinds of request in the contention test.
const (
	kindCreate      = "SCIM create user"
	kindPatch       = "SCIM patch user"
	kindDeactivate  = "SCIM deactivate user"
	kindLookup      = "SCIM lookup"
	kindGroupCreate = "SCIM create group"
	kindGroupChange = "SCIM group members"
	kindSignInJIT   = "sign-in, JIT create"
	kindSignIn      = "sign-in, returning"
	kindAdminRead   = "admin GET access-control"
	kindAdminWrite  = "admin PUT access-control"
)

// noLimits are the serve flags that turn off its rate and in-flight limits
// and the mass de-provisioning safety rail.
var noLimits = []string{"--scim-token-rate", "0", "--scim-token-inflight", "0", "--saml-rate", "0",
	"--api-token-rate", "0", "--scim-hold-percent", "0"}

// lockWords are what SQLite's lock errors say ("database is locked",
// "database table is locked", SQLITE_BUSY, SQLITE_LOCKED): none may reach a
// client or the log.
var lockWords = regexp.MustCompile(`(?i)locked|busy`)

// TestNoLockErrorsUnderMixedLoad is issue 7's "no lock errors reach
// clients": 50 clients at once, on the built binary over a SQLite file, each
// running the same script of SCIM writes (creates, two-attribute PATCHes, a
// deactivation, group membership changes, lookups), IdP-initiated SAML
// sign-ins (half of them new people that JIT creates, half returning ones;
// responses pre-signed by crewjam's IdP) and admin API changes to the
// organization's access control list (read, then written back), with the
// server's rate limits off. Writes must queue: no answer may be a 5xx or
// anything but the expected success (a 429 would be waited out, counted and
// logged), and
// neither any answer nor the server's log may mention a locked or busy
// database. Every person JIT created has exactly one account afterwards.
// Latencies per kind are logged (p50, p99), never asserted.
func TestNoLockErrorsUnderMixedLoad(t *testing.T) {
	dir, db, idp := ssoSetup(t)
	// Four SCIM tokens, as four IdP connections' worth of pushes: each token's
	// own limits (requests in flight, rate, de-provisioning) stay far away.
	var scimTokens []string
	for range 4 {
		scimTokens = append(scimTokens, lastLine(onramp(t, dir, "token", "create", "--db", db, "--org", "acme", "--scim", "okta")))
	}
	adminToken := lastLine(onramp(t, dir, "token", "create", "--db", db, "--org", "acme", "--admin"))
	// The per-client and per-token limits are off: they exist to turn a
	// runaway client away with 429 before it reaches the store, and this
	// test is about what reaches the store. With them on, most of these
	// requests would be 429s, answered without a transaction.
	srv := startServer(t, dir, db, freePort(t), noLimits...)

	hc := newClient(contentionUsers)
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	registerSP(ctx, t, hc, idp, srv.url)

	// Pre-sign every client's sign-ins, in the order it will post them: the
	// load then measures onramp, not the IdP. Responses are valid for
	// minutes; the load takes seconds.
	spEntityID := srv.url + spMetadataPath
	scripts := make([][]string, contentionUsers)
	responses := make([][]string, contentionUsers)
	for c := range contentionUsers {
		scripts[c] = contentionScript(c)
		var people []string
		for _, kind := range scripts[c] {
			var nameID string
			switch kind {
			case kindSignInJIT:
				nameID = fmt.Sprintf("jit-%d-%d@acme-corp.com", c, len(people))
				people = append(people, nameID)
			case kindSignIn:
				nameID = people[len(responses[c])%len(people)]
			default:
				continue
			}
			responses[c] = append(responses[c], idp.IdPInitiated(t, spEntityID, "", samltest.Login{User: samltest.User{
				NameID:     nameID,
				Attributes: map[string][]string{"email": {nameID}, "firstName": {"Jit"}, "lastName": {fmt.Sprintf("Person %d", c)}},
			}}))
		}
	}

	rec := &contentionLog{lat: map[string][]time.Duration{}, statuses: map[string]map[int]int{}}
	var wg sync.WaitGroup
	start := time.Now()
	for c := range contentionUsers {
		cl := &contentionClient{n: c, hc: hc, base: srv.url, scimToken: scimTokens[c%len(scimTokens)],
			adminToken: adminToken, responses: responses[c], rec: rec}
		wg.Go(func() { cl.run(ctx, scripts[c]) })
	}
	wg.Wait()
	wall := time.Since(start)
	srv.stop(t)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, p := range rec.problems {
		t.Error(p)
	}
	total := 0
	for _, kind := range []string{kindCreate, kindPatch, kindDeactivate, kindLookup, kindGroupCreate, kindGroupChange,
		kindSignInJIT, kindSignIn, kindAdminRead, kindAdminWrite} {
		lat := rec.lat[kind]
		slices.Sort(lat)
		total += len(lat)
		t.Logf("%-26s n=%4d  p50=%8s  p99=%8s  max=%8s  statuses %v", kind, len(lat),
			pct(lat, 0.5).Round(10*time.Microsecond), pct(lat, 0.99).Round(10*time.Microsecond),
			pct(lat, 1).Round(10*time.Microsecond), rec.statuses[kind])
	}
	t.Logf("%d requests from %d clients in %s", total, contentionUsers, wall.Round(time.Millisecond))
	if rec.throttled > 0 {
		t.Logf("%d answers were 429 (waited out and retried)", rec.throttled)
	}
	for _, line := range srv.logLines() {
		if lockWords.MatchString(line) {
			t.Errorf("the server logged a lock error: %s", line)
		}
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("the server logged an error: %s", line)
		}
	}

	// Every person JIT created has exactly one account.
	srv = startServer(t, dir, db, freePort(t), noLimits...)
	defer srv.stop(t)
	res, err := send(ctx, hc, http.MethodGet, srv.url+"/scim/v2/Users?count=1&filter="+url.QueryEscape(`userName sw "jit-"`), scimHeader(scimTokens[0]), nil)
	var lr struct{ TotalResults int }
	if err != nil || res.status != http.StatusOK || json.Unmarshal(res.body, &lr) != nil {
		t.Fatalf("count JIT users: %v %d %s", err, res.status, res.body)
	}
	if want := contentionUsers * strings.Count(strings.Join(scripts[0], "|"), kindSignInJIT); lr.TotalResults != want {
		t.Errorf("%d accounts made by JIT, want %d (one per new person)", lr.TotalResults, want)
	}
}

// ssoSetup is a directory holding a SQLite database to which `onramp apply`
// gave contentionConfig's organization, whose connection trusts the crewjam
// IdP it returns (running in the test process).
func ssoSetup(t *testing.T) (dir, db string, idp *samltest.IdP) {
	t.Helper()
	dir = t.TempDir()
	db = filepath.Join(dir, "onramp.db")
	idp = samltest.New(t, samltest.Options{})
	if err := os.WriteFile(filepath.Join(dir, "idp.xml"), idp.MetadataXML(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "onramp.yaml"), []byte(contentionConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	onramp(t, dir, "apply", "--db", db, "-f", "onramp.yaml")
	return dir, db, idp
}

// registerSP gives the IdP the connection's SP metadata, as the server at
// base serves it.
func registerSP(ctx context.Context, t *testing.T, hc *http.Client, idp *samltest.IdP, base string) {
	t.Helper()
	md, err := send(ctx, hc, http.MethodGet, base+spMetadataPath, nil, nil)
	if err != nil || md.status != http.StatusOK {
		t.Fatalf("SP metadata: %v %d", err, md.status)
	}
	idp.RegisterSP(t, md.body, false)
}

// contentionScript is client c's sequence of requests: the same mix for every
// client, rotated so that the clients do different things at once.
func contentionScript(c int) []string {
	mix := []string{
		kindCreate, kindSignInJIT, kindPatch, kindAdminWrite, kindCreate, kindGroupChange, kindSignIn, kindLookup,
		kindCreate, kindPatch, kindSignInJIT, kindGroupChange, kindAdminWrite, kindCreate, kindSignIn, kindPatch,
		kindDeactivate, kindLookup, kindSignInJIT, kindGroupChange, kindCreate, kindSignIn, kindPatch, kindAdminWrite,
	}
	rot := c % len(mix)
	script := append(slices.Clone(mix[rot:]), mix[:rot]...)
	// Whatever the rotation: a group first, and two users before anything
	// reads or changes one.
	script = append([]string{kindGroupCreate, kindCreate, kindCreate}, script...)
	// A returning sign-in needs someone signed in before it.
	for i, k := range script {
		if k == kindSignInJIT {
			break
		}
		if k == kindSignIn {
			j := slices.Index(script, kindSignInJIT)
			script[i], script[j] = script[j], script[i]
			break
		}
	}
	return script
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

// contentionLog collects what every client saw.
type contentionLog struct {
	mu        sync.Mutex
	lat       map[string][]time.Duration
	statuses  map[string]map[int]int
	throttled int
	problems  []string
}

func (l *contentionLog) add(kind string, res reply, latency time.Duration, err error, want ...int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.problems = append(l.problems, fmt.Sprintf("%s: no answer: %v", kind, err))
		return false
	}
	if l.statuses[kind] == nil {
		l.statuses[kind] = map[int]int{}
	}
	l.statuses[kind][res.status]++
	if res.status == http.StatusTooManyRequests {
		l.throttled++
		return false
	}
	l.lat[kind] = append(l.lat[kind], latency)
	if lockWords.Match(res.body) {
		l.problems = append(l.problems, fmt.Sprintf("%s: HTTP %d mentions a lock: %.300s", kind, res.status, res.body))
	}
	if !slices.Contains(want, res.status) {
		l.problems = append(l.problems, fmt.Sprintf("%s: HTTP %d, want %v: %.300s", kind, res.status, want, res.body))
		return false
	}
	return true
}

// contentionClient runs one script.
type contentionClient struct {
	n                     int
	hc                    *http.Client
	base                  string
	scimToken, adminToken string
	responses             []string // pre-signed, in order
	rec                   *contentionLog

	users    []string // IDs of its active users
	group    string
	members  []string // IDs it added to its group, oldest first
	removing bool     // the group change in flight removes members[0]
	seq      int
}

func (c *contentionClient) run(ctx context.Context, script []string) {
	for _, kind := range script {
		for try := 0; ; try++ {
			res, latency, err, want := c.do(ctx, kind)
			ok := c.rec.add(kind, res, latency, err, want...)
			if res.status != http.StatusTooManyRequests || try == 20 {
				if ok {
					c.applied(kind, res)
				}
				break
			}
			time.Sleep(time.Second) // a 429: wait, as an IdP does, and retry
		}
	}
}

// do makes the kind's request; want are the success statuses.
func (c *contentionClient) do(ctx context.Context, kind string) (reply, time.Duration, error, []int) {
	scim := c.base + "/scim/v2"
	var (
		method, target string
		header         http.Header
		body           []byte
		want           = []int{http.StatusOK, http.StatusNoContent}
	)
	switch kind {
	case kindCreate:
		c.seq++
		name := fmt.Sprintf("scim-%d-%d@acme-corp.com", c.n, c.seq)
		method, target, header, want = http.MethodPost, scim+"/Users", scimHeader(c.scimToken), []int{http.StatusCreated}
		body = mustJSON(map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name,
			"name":   map[string]any{"givenName": "Scim", "familyName": "User"},
			"emails": []map[string]any{{"value": name, "type": "work", "primary": true}}, "active": true,
		})
	case kindPatch:
		c.seq++
		method, target, header = http.MethodPatch, scim+"/Users/"+c.users[c.seq%len(c.users)], scimHeader(c.scimToken)
		body = patchOp(
			map[string]any{"op": "replace", "path": "displayName", "value": fmt.Sprintf("Patched %d", c.seq)},
			map[string]any{"op": "replace", "path": "name.familyName", "value": fmt.Sprintf("Family %d", c.seq)})
	case kindDeactivate:
		method, target, header = http.MethodPatch, scim+"/Users/"+c.users[0], scimHeader(c.scimToken)
		body = patchOp(map[string]any{"op": "replace", "path": "active", "value": false})
	case kindLookup:
		method, header = http.MethodGet, scimHeader(c.scimToken)
		target = scim + "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "scim-%d-1@acme-corp.com"`, c.n))
	case kindGroupCreate:
		method, target, header, want = http.MethodPost, scim+"/Groups", scimHeader(c.scimToken), []int{http.StatusCreated}
		body = mustJSON(map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": fmt.Sprintf("Contention %d", c.n)})
	case kindGroupChange:
		method, target, header = http.MethodPatch, scim+"/Groups/"+c.group, scimHeader(c.scimToken)
		ops := []map[string]any{{"op": "add", "path": "members", "value": []map[string]any{{"value": c.users[len(c.users)-1]}}}}
		c.removing = len(c.members) > 1
		if c.removing {
			ops = append(ops, map[string]any{"op": "remove", "path": `members[value eq "` + c.members[0] + `"]`})
		}
		body = patchOp(ops...)
	case kindSignInJIT, kindSignIn:
		method, target, want = http.MethodPost, c.base+acsPath, []int{http.StatusSeeOther}
		header = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		body = []byte(url.Values{"SAMLResponse": {c.responses[0]}}.Encode())
	case kindAdminWrite:
		// Read the list, then write it back with this client's domain
		// swapped: the read is a request of its own kind.
		read, latency, err := c.timed(ctx, http.MethodGet, c.base+accessCtrlPath, c.adminHeader(), nil)
		if !c.rec.add(kindAdminRead, read, latency, err, http.StatusOK) {
			return read, latency, err, []int{http.StatusOK}
		}
		var acl struct {
			EmailDomains   []string `json:"emailDomains"`
			SSOConnections []string `json:"ssoConnections"`
		}
		if err := json.Unmarshal(read.body, &acl); err != nil {
			return read, latency, fmt.Errorf("access control list: %w", err), want
		}
		c.seq++
		mine := fmt.Sprintf("c%d-", c.n)
		domains := slices.DeleteFunc(acl.EmailDomains, func(d string) bool { return strings.HasPrefix(d, mine) })
		domains = append(domains, fmt.Sprintf("c%d-%d.example", c.n, c.seq))
		method, target, header = http.MethodPut, c.base+accessCtrlPath, c.adminHeader()
		body = mustJSON(map[string]any{"emailDomains": domains, "ssoConnections": acl.SSOConnections})
		want = []int{http.StatusOK}
	}
	res, latency, err := c.timed(ctx, method, target, header, body)
	return res, latency, err, want
}

func (c *contentionClient) adminHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + c.adminToken}, "Content-Type": {"application/json"}}
}

func (c *contentionClient) timed(ctx context.Context, method, target string, header http.Header, body []byte) (reply, time.Duration, error) {
	t0 := time.Now()
	res, err := send(ctx, c.hc, method, target, header, body)
	return res, time.Since(t0), err
}

// applied updates the client's state after a successful request.
func (c *contentionClient) applied(kind string, res reply) {
	switch kind {
	case kindCreate, kindGroupCreate:
		var created struct{ ID string }
		if err := json.Unmarshal(res.body, &created); err != nil || created.ID == "" {
			c.rec.mu.Lock()
			c.rec.problems = append(c.rec.problems, fmt.Sprintf("%s: 201 without an id", kind))
			c.rec.mu.Unlock()
			return
		}
		if kind == kindCreate {
			c.users = append(c.users, created.ID)
		} else {
			c.group = created.ID
		}
	case kindDeactivate:
		c.users = c.users[1:]
	case kindGroupChange:
		if c.removing {
			c.members = c.members[1:]
		}
		c.members = append(c.members, c.users[len(c.users)-1])
	case kindSignInJIT, kindSignIn:
		c.responses = c.responses[1:]
	}
}
