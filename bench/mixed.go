package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of request in the mixed workload, as the report names them.
const (
	KindCreateUser  = "SCIM POST /Users"
	KindLookup      = "SCIM GET /Users?filter=userName eq"
	KindPatchUser   = "SCIM PATCH /Users (2 attributes)"
	KindDeactivate  = "SCIM PATCH /Users active=false"
	KindCreateGroup = "SCIM POST /Groups"
	KindGroupChange = "SCIM PATCH /Groups members"
	KindSignInJIT   = "SAML ACS, JIT create"
	KindSignIn      = "SAML ACS, returning user"
	KindAdminRead   = "admin GET access-control"
	KindAdminWrite  = "admin PUT access-control"
)

// Defaults and bounds of the mixed workload.
const (
	DefaultMixedDuration = time.Minute
	DefaultMixedClients  = 16
	MaxMixedDuration     = 24 * time.Hour
	// maxRetries bounds how often one operation is retried after a 429.
	maxRetries = 20
	// maxRetryWait bounds one wait for Retry-After.
	maxRetryWait = 5 * time.Second
	// drainBound is how long requests in flight at the end of the duration
	// may take before the run gives up on them.
	drainBound = 2 * time.Minute
)

// MixedConfig says what mixed workload to run against which server.
type MixedConfig struct {
	// URL is the server's base URL (its --base-url).
	URL string
	// SCIMTokens are SCIM bearer tokens of the organization; the clients use
	// them in turn (several tokens model several IdPs, and spread a
	// per-token limit on concurrent requests).
	SCIMTokens []string
	// AdminToken, if set, is an admin API token of the organization; admin
	// changes to its access control list join the mix.
	AdminToken string
	// Org is the organization's slug; required with AdminToken or IdP.
	Org string
	// Connection is the slug of the SSO connection whose IdP metadata is
	// IdP's (onramp bench mixed --print-idp-metadata); required with IdP.
	// It must allow IdP-initiated sign-in and JIT provisioning (JIT by SSO on
	// in the organization, the connection in its access control list).
	Connection string
	// IdP, if set, signs the sign-ins of the mix; without it there are none.
	IdP *IdP
	// Duration is how long requests are started; Clients how many run at
	// once, each waiting for its answer before it sends the next.
	Duration time.Duration
	Clients  int
	// AllowRemote permits a target that is not a loopback address.
	AllowRemote bool
	// Logger receives progress; nothing is logged if nil.
	Logger *slog.Logger
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
	// Observe, if set, is called with every answer the server gives (from
	// any client goroutine): for tests that inspect every response.
	Observe func(Exchange)
}

// Exchange is one answer of the server, as Observe sees it.
type Exchange struct {
	Kind    string
	Method  string
	Path    string // without the query
	Status  int    // 0 if the request failed without an answer
	Body    []byte
	Latency time.Duration
}

// MixedRow is one kind's line of the report.
type MixedRow struct {
	Kind      string
	N         int // answered requests, errors included, 429s not
	Errors    int
	Throttled int // 429 answers, retried after Retry-After
	Rate      float64
	P50       time.Duration
	P90       time.Duration
	P99       time.Duration
	Max       time.Duration
	Note      string // the first error
}

// MixedReport is the result of a mixed run.
type MixedReport struct {
	Target  string
	Run     string
	Clients int
	Wall    time.Duration
	Rows    []MixedRow // in the order of the Kind constants, kinds that ran
	Total   MixedRow
}

// Errors is the number of failed requests of the run.
func (rep MixedReport) Errors() int { return rep.Total.Errors }

// Validate collects every problem with the configuration.
func (c *MixedConfig) Validate() error {
	var ps []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		ps = append(ps, errors.New("bench: a URL is required"))
	case err != nil:
		ps = append(ps, fmt.Errorf("bench: URL: %w", err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		ps = append(ps, fmt.Errorf("bench: URL %q: want http(s)://HOST[:PORT]", c.URL))
	case !c.AllowRemote && !isLoopback(u.Hostname()):
		ps = append(ps, fmt.Errorf("bench: URL %q is not a loopback address (127.0.0.0/8, ::1, localhost); pass AllowRemote to target another host", c.URL))
	}
	if len(c.SCIMTokens) == 0 || slices.Contains(c.SCIMTokens, "") {
		ps = append(ps, errors.New("bench: at least one SCIM token is required, and none may be empty"))
	}
	if (c.AdminToken != "" || c.IdP != nil) && c.Org == "" {
		ps = append(ps, errors.New("bench: the organization's slug is required for admin changes and sign-ins"))
	}
	if c.IdP != nil && c.Connection == "" {
		ps = append(ps, errors.New("bench: the SSO connection's slug is required for sign-ins"))
	}
	if c.Duration <= 0 || c.Duration > MaxMixedDuration {
		ps = append(ps, fmt.Errorf("bench: duration must be positive and at most %s", MaxMixedDuration))
	}
	if c.Clients < 1 || c.Clients > 1024 {
		ps = append(ps, fmt.Errorf("bench: clients %d must be between 1 and 1024", c.Clients))
	}
	return errors.Join(ps...)
}

// RunMixed runs the mixed workload: for Duration, Clients clients each send
// one request after another, in a fixed rotation of SCIM user creates,
// lookups, two-attribute PATCHes and deactivations, PATCHes of the members
// of a group of its own (created first), and, if configured, IdP-initiated
// SAML sign-ins (a new person, made by JIT, or one signed in before) and
// admin changes of the organization's access control list (read, then
// written back with a domain of this run's). A 429 with a Retry-After of at
// most 5 s (a rate or concurrency limit) is waited out and retried, and
// counted apart, not as an error; a longer one (a de-provisioning hold) is an
// error, as is every other unexpected answer.
//
// Before it starts it checks each SCIM token, the admin token and one
// sign-in, and fails with what is wrong; at the end it removes the domains
// it added to the access control list. It returns the report even when it
// fails part-way.
func RunMixed(ctx context.Context, cfg MixedConfig) (MixedReport, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return MixedReport{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+drainBound)
	defer cancel()
	m := &mixed{
		cfg:  cfg,
		base: strings.TrimRight(cfg.URL, "/"),
		run:  randomHex(3),
		client: &http.Client{
			Timeout: requestTimeout,
			Transport: &http.Transport{
				Proxy:               nil, // never send benchmark traffic through a proxy
				MaxIdleConns:        cfg.Clients * 2,
				MaxIdleConnsPerHost: cfg.Clients * 2,
				IdleConnTimeout:     90 * time.Second,
			},
			// The ACS answers a sign-in with 303 and a session cookie: that
			// answer is the result, not a page to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	defer m.client.CloseIdleConnections()
	rep := MixedReport{Target: m.base, Run: "bench-" + m.run, Clients: cfg.Clients}
	if err := m.preflight(ctx); err != nil {
		return rep, err
	}
	cfg.Logger.Info("bench mixed: starting", "target", m.base, "run", rep.Run, "clients", cfg.Clients,
		"duration", cfg.Duration, "sign_ins", cfg.IdP != nil, "admin", cfg.AdminToken != "")

	start := cfg.Now()
	deadline := start.Add(cfg.Duration)
	stats := make([]*clientStats, cfg.Clients)
	var wg sync.WaitGroup
	progress := make(chan struct{})
	go m.logProgress(ctx, start, progress)
	for i := range cfg.Clients {
		stats[i] = &clientStats{lat: map[string][]time.Duration{}, errors: map[string]int{}, throttled: map[string]int{}, notes: map[string]string{}}
		c := &mixedClient{m: m, n: i, token: cfg.SCIMTokens[i%len(cfg.SCIMTokens)], stats: stats[i],
			rng: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))), members: map[string]bool{}}
		wg.Go(func() { c.run(ctx, deadline) })
	}
	wg.Wait()
	close(progress)
	rep.Wall = cfg.Now().Sub(start)
	rep.Rows, rep.Total = summarize(stats, rep.Wall)
	cleanupErr := m.cleanup(context.WithoutCancel(ctx))
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("bench: requests still in flight %s after the end: %w", drainBound, err)
	}
	return rep, cleanupErr
}

// mixed is one run's shared state.
type mixed struct {
	cfg    MixedConfig
	base   string
	run    string
	client *http.Client
	acs    string // the ACS URL, from the SP metadata
	done   atomic.Int64
	failed atomic.Int64
}

// clientStats is what one client measured.
type clientStats struct {
	lat       map[string][]time.Duration
	errors    map[string]int
	throttled map[string]int
	notes     map[string]string
}

// mixedClient is one simulated client: it owns the users it created, one
// group and the people it signed in, so its operations never race another
// client's (only the server's shared resources do: the database, the
// organization's access control list).
type mixedClient struct {
	m     *mixed
	n     int
	token string
	stats *clientStats
	rng   *rand.Rand

	seq     int
	users   []scimUser // active users it created
	group   string     // its group's ID
	members map[string]bool
	people  []Person // people it signed in
	domain  int
}

type scimUser struct{ id, userName string }

// rotation is the order of operations of a client; each client starts at
// another place in it. Creates outnumber deactivations, so the directory
// grows while about a sixth of what is created is de-provisioned.
var rotation = []string{
	KindCreateUser, KindLookup, KindSignInJIT, KindPatchUser, KindGroupChange,
	KindCreateUser, KindSignIn, KindLookup, KindAdminWrite, KindPatchUser,
	KindCreateUser, KindSignInJIT, KindLookup, KindGroupChange, KindDeactivate,
	KindCreateUser, KindSignIn, KindPatchUser, KindCreateUser, KindLookup,
}

func (c *mixedClient) run(ctx context.Context, deadline time.Time) {
	cfg := c.m.cfg
	if !c.op(ctx, KindCreateGroup) {
		c.group = "" // group changes are skipped without a group
	}
	for i := c.n; cfg.Now().Before(deadline) && ctx.Err() == nil; i++ {
		kind := rotation[i%len(rotation)]
		switch {
		case (kind == KindSignIn || kind == KindSignInJIT) && cfg.IdP == nil:
			kind = KindCreateUser
		case kind == KindSignIn && len(c.people) == 0:
			kind = KindSignInJIT
		case kind == KindAdminWrite && cfg.AdminToken == "":
			kind = KindLookup
		case (kind == KindLookup || kind == KindPatchUser || kind == KindDeactivate) && len(c.users) == 0:
			kind = KindCreateUser
		case kind == KindGroupChange && !c.canChangeGroup():
			kind = KindCreateUser
		}
		c.op(ctx, kind)
	}
}

// op runs one operation of the kind, retrying after 429s, and records it; it
// reports success.
func (c *mixedClient) op(ctx context.Context, kind string) bool {
	for range maxRetries {
		res, err := c.attempt(ctx, kind)
		if res.status == http.StatusTooManyRequests {
			c.stats.throttled[kind]++
			wait, ok := retryAfter(res.header)
			if !ok {
				// Minutes, not seconds: a hold (the mass de-provisioning
				// safety rail), not a rate limit. Benchmark with the rail
				// loosened; see README.
				c.fail(kind, res.latency, fmt.Errorf("HTTP 429 with Retry-After %s: %s", res.header.Get("Retry-After"), reasonOf(res.body)))
				return false
			}
			select {
			case <-ctx.Done():
				c.fail(kind, res.latency, fmt.Errorf("429, and the run ended while waiting: %w", ctx.Err()))
				return false
			case <-time.After(wait):
			}
			continue
		}
		if err != nil {
			c.fail(kind, res.latency, err)
			return false
		}
		c.stats.lat[kind] = append(c.stats.lat[kind], res.latency)
		c.m.done.Add(1)
		return true
	}
	c.fail(kind, 0, fmt.Errorf("still 429 after %d tries", maxRetries))
	return false
}

func (c *mixedClient) fail(kind string, latency time.Duration, err error) {
	c.stats.lat[kind] = append(c.stats.lat[kind], latency)
	c.stats.errors[kind]++
	if c.stats.notes[kind] == "" {
		c.stats.notes[kind] = err.Error()
	}
	c.m.done.Add(1)
	c.m.failed.Add(1)
}

// retryAfter reads Retry-After in seconds (one second if absent or
// unreadable); ok is false if it asks for longer than maxRetryWait.
func retryAfter(h http.Header) (wait time.Duration, ok bool) {
	s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || s < 1 {
		return time.Second, true
	}
	wait = time.Duration(s) * time.Second
	return wait, wait <= maxRetryWait
}

// answer is one HTTP exchange.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	latency time.Duration
}

// attempt makes one try at an operation. A 429 answer comes back with a nil
// error for op to retry.
func (c *mixedClient) attempt(ctx context.Context, kind string) (answer, error) {
	switch kind {
	case KindCreateUser:
		return c.createUser(ctx)
	case KindLookup:
		return c.lookup(ctx)
	case KindPatchUser:
		return c.patchUser(ctx)
	case KindDeactivate:
		return c.deactivate(ctx)
	case KindCreateGroup:
		return c.createGroup(ctx)
	case KindGroupChange:
		return c.changeGroup(ctx)
	case KindSignInJIT:
		c.seq++
		p := Person{Email: fmt.Sprintf("bench-%s-%d-jit-%d@example.com", c.m.run, c.n, c.seq), GivenName: "Bench",
			FamilyName: fmt.Sprintf("Person %d-%d", c.n, c.seq)}
		res, err := c.signIn(ctx, kind, p)
		if err == nil && res.status != http.StatusTooManyRequests {
			c.people = append(c.people, p)
		}
		return res, err
	case KindSignIn:
		return c.signIn(ctx, kind, c.people[c.rng.IntN(len(c.people))])
	case KindAdminWrite:
		return c.adminWrite(ctx)
	}
	return answer{}, fmt.Errorf("bench: unknown kind %q", kind)
}

// send makes one request and reads the whole answer.
func (c *mixedClient) send(ctx context.Context, kind, method, path string, header http.Header, body []byte) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.m.base+path, rd)
	if err != nil {
		return answer{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	t0 := c.m.cfg.Now()
	resp, err := c.m.client.Do(req)
	var res answer
	if err == nil {
		res.status, res.header = resp.StatusCode, resp.Header
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		_ = resp.Body.Close()
	}
	res.latency = c.m.cfg.Now().Sub(t0)
	if obs := c.m.cfg.Observe; obs != nil {
		obs(Exchange{Kind: kind, Method: method, Path: strings.SplitN(path, "?", 2)[0], Status: res.status, Body: res.body, Latency: res.latency})
	}
	if err != nil {
		return res, fmt.Errorf("%s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
	}
	return res, nil
}

// expect turns an answer that is not one of want (or a 429) into an error
// naming the status and the server's reason.
func expect(res answer, op string, want ...int) error {
	if res.status == http.StatusTooManyRequests || slices.Contains(want, res.status) {
		return nil
	}
	return fmt.Errorf("%s: HTTP %d: %s", op, res.status, reasonOf(res.body))
}

// reasonCode is the reason on onramp's SAML error pages.
var reasonCode = regexp.MustCompile(`<code id="reason">([^<]{0,100})</code>`)

// reasonOf extracts what the server said was wrong: a SCIM error's detail,
// an admin API error, a SAML error page's reason code. Bodies are never
// quoted whole.
func reasonOf(body []byte) string {
	var doc struct {
		Detail string `json:"detail"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil && (doc.Detail != "" || doc.Error != "") {
		return truncate(strings.TrimSpace(doc.Detail+" "+doc.Error), 200)
	}
	if m := reasonCode.FindSubmatch(body); m != nil {
		return "reason " + string(m[1])
	}
	return fmt.Sprintf("(%d-byte body)", len(body))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (c *mixedClient) scimHeader(withBody bool) http.Header {
	h := http.Header{"Authorization": {"Bearer " + c.token}, "Accept": {"application/scim+json"}}
	if withBody {
		h.Set("Content-Type", "application/scim+json")
	}
	return h
}

func (c *mixedClient) scim(ctx context.Context, kind, method, path string, doc any) (answer, error) {
	var body []byte
	if doc != nil {
		var err error
		if body, err = json.Marshal(doc); err != nil {
			return answer{}, err
		}
	}
	return c.send(ctx, kind, method, SCIMPrefix+path, c.scimHeader(doc != nil), body)
}

func (c *mixedClient) createUser(ctx context.Context) (answer, error) {
	c.seq++
	name := fmt.Sprintf("bench-%s-%d-%d@example.com", c.m.run, c.n, c.seq)
	res, err := c.scim(ctx, KindCreateUser, http.MethodPost, "/Users", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    name,
		"externalId":  fmt.Sprintf("bench-%s-%d-%d", c.m.run, c.n, c.seq),
		"displayName": fmt.Sprintf("Bench User %d-%d", c.n, c.seq),
		"name":        map[string]any{"givenName": "Bench", "familyName": fmt.Sprintf("User %d-%d", c.n, c.seq)},
		"emails":      []map[string]any{{"value": name, "type": "work", "primary": true}},
		"active":      true,
	})
	if err != nil || res.status == http.StatusTooManyRequests {
		return res, err
	}
	if err := expect(res, "POST /Users", http.StatusCreated); err != nil {
		return res, err
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(res.body, &created); err != nil || created.ID == "" {
		return res, fmt.Errorf("POST /Users: 201 without an id")
	}
	c.users = append(c.users, scimUser{id: created.ID, userName: name})
	return res, nil
}

func (c *mixedClient) lookup(ctx context.Context) (answer, error) {
	u := c.users[c.rng.IntN(len(c.users))]
	q := url.Values{"filter": {`userName eq "` + u.userName + `"`}}
	res, err := c.scim(ctx, KindLookup, http.MethodGet, "/Users?"+q.Encode(), nil)
	if err != nil || res.status == http.StatusTooManyRequests {
		return res, err
	}
	if err := expect(res, "GET /Users", http.StatusOK); err != nil {
		return res, err
	}
	var lr listResponse
	if err := json.Unmarshal(res.body, &lr); err != nil || lr.TotalResults != 1 || len(lr.Resources) != 1 || lr.Resources[0].ID != u.id {
		return res, fmt.Errorf("GET /Users filter: want exactly the user %s", u.id)
	}
	return res, nil
}

// patchUser changes two attributes in one PATCH, as an IdP pushing a name
// change does.
func (c *mixedClient) patchUser(ctx context.Context) (answer, error) {
	u := c.users[c.rng.IntN(len(c.users))]
	c.seq++
	res, err := c.scim(ctx, KindPatchUser, http.MethodPatch, "/Users/"+url.PathEscape(u.id), map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{
			{"op": "replace", "path": "displayName", "value": fmt.Sprintf("Bench User %d v%d", c.n, c.seq)},
			{"op": "replace", "path": "name.familyName", "value": fmt.Sprintf("User v%d", c.seq)},
		},
	})
	if err != nil {
		return res, err
	}
	return res, expect(res, "PATCH /Users", http.StatusOK, http.StatusNoContent)
}

// deactivate de-provisions the client's oldest active user, as Okta does.
func (c *mixedClient) deactivate(ctx context.Context) (answer, error) {
	u := c.users[0]
	res, err := c.scim(ctx, KindDeactivate, http.MethodPatch, "/Users/"+url.PathEscape(u.id), map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
	})
	if err != nil || res.status == http.StatusTooManyRequests {
		return res, err
	}
	if err := expect(res, "PATCH /Users active=false", http.StatusOK, http.StatusNoContent); err != nil {
		return res, err
	}
	c.users = c.users[1:]
	return res, nil
}

func (c *mixedClient) createGroup(ctx context.Context) (answer, error) {
	res, err := c.scim(ctx, KindCreateGroup, http.MethodPost, "/Groups", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": fmt.Sprintf("bench-%s-group-%d", c.m.run, c.n),
		"members":     []any{},
	})
	if err != nil || res.status == http.StatusTooManyRequests {
		return res, err
	}
	if err := expect(res, "POST /Groups", http.StatusCreated); err != nil {
		return res, err
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(res.body, &created); err != nil || created.ID == "" {
		return res, fmt.Errorf("POST /Groups: 201 without an id")
	}
	c.group = created.ID
	return res, nil
}

// canChangeGroup reports whether changeGroup has something to do: a group,
// and an active user not in it or more than five members.
func (c *mixedClient) canChangeGroup() bool {
	if c.group == "" {
		return false
	}
	return len(c.members) > 5 || slices.ContainsFunc(c.users, func(u scimUser) bool { return !c.members[u.id] })
}

// changeGroup adds up to two of the client's active users to its group and,
// once the group has more than five members, removes one, in one PATCH.
func (c *mixedClient) changeGroup(ctx context.Context) (answer, error) {
	var add []string
	for _, i := range c.rng.Perm(len(c.users)) {
		if id := c.users[i].id; !c.members[id] {
			add = append(add, id)
			if len(add) == 2 {
				break
			}
		}
	}
	var remove string
	if len(c.members) > 5 {
		for id := range c.members { // any one
			remove = id
			break
		}
	}
	var ops []map[string]any
	if len(add) > 0 {
		var vals []map[string]any
		for _, id := range add {
			vals = append(vals, map[string]any{"value": id})
		}
		ops = append(ops, map[string]any{"op": "add", "path": "members", "value": vals})
	}
	if remove != "" {
		ops = append(ops, map[string]any{"op": "remove", "path": `members[value eq "` + remove + `"]`})
	}
	if len(ops) == 0 {
		return answer{}, errors.New("bench: no group change to make") // run checks canChangeGroup
	}
	res, err := c.scim(ctx, KindGroupChange, http.MethodPatch, "/Groups/"+url.PathEscape(c.group), map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": ops,
	})
	if err != nil || res.status == http.StatusTooManyRequests {
		return res, err
	}
	if err := expect(res, "PATCH /Groups", http.StatusOK, http.StatusNoContent); err != nil {
		return res, err
	}
	for _, id := range add {
		c.members[id] = true
	}
	delete(c.members, remove)
	return res, nil
}

// signIn posts a freshly signed IdP-initiated response for p to the ACS, as
// a browser without cookies, and wants a session: 303 with a cookie.
func (c *mixedClient) signIn(ctx context.Context, kind string, p Person) (answer, error) {
	_, samlResponse, err := c.m.cfg.IdP.Response(p)
	if err != nil {
		return answer{}, err
	}
	form := url.Values{"SAMLResponse": {samlResponse}}.Encode()
	res, err := c.send(ctx, kind, http.MethodPost, c.m.acs, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form))
	if err != nil || res.status == http.StatusTooManyRequests {
		return res, err
	}
	if err := expect(res, "POST ACS", http.StatusSeeOther); err != nil {
		return res, err
	}
	if res.header.Get("Set-Cookie") == "" {
		return res, errors.New("POST ACS: 303 without a session cookie")
	}
	return res, nil
}

// accessControl is the admin API's access control list.
type accessControl struct {
	EmailDomains   []string `json:"emailDomains"`
	SSOConnections []string `json:"ssoConnections"`
}

func (m *mixed) adminPath() string {
	return "/api/v1/orgs/" + url.PathEscape(m.cfg.Org) + "/access-control"
}

func (m *mixed) adminHeader(withBody bool) http.Header {
	h := http.Header{"Authorization": {"Bearer " + m.cfg.AdminToken}, "Accept": {"application/json"}}
	if withBody {
		h.Set("Content-Type", "application/json")
	}
	return h
}

// runDomain reports whether d is an email domain a bench run added; with
// client >= 0, one this client of this run added.
func (m *mixed) runDomain(d string, client int) bool {
	prefix := "bench-" + m.run + "-c"
	if client >= 0 {
		prefix += strconv.Itoa(client) + "-"
	}
	return strings.HasPrefix(d, prefix) && strings.HasSuffix(d, ".example")
}

// adminWrite reads the access control list (KindAdminRead) and writes it back
// with this client's bench domain replaced by a new one (KindAdminWrite).
// Clients race each other here on purpose; the last write wins, and only
// bench domains differ between them.
func (c *mixedClient) adminWrite(ctx context.Context) (answer, error) {
	m := c.m
	read, err := c.send(ctx, KindAdminRead, http.MethodGet, m.adminPath(), m.adminHeader(false), nil)
	if err == nil && read.status != http.StatusTooManyRequests {
		err = expect(read, "GET access-control", http.StatusOK)
	}
	if err != nil || read.status == http.StatusTooManyRequests {
		c.record(KindAdminRead, read, err)
		return read, err
	}
	c.record(KindAdminRead, read, nil)
	var acl accessControl
	if err := json.Unmarshal(read.body, &acl); err != nil {
		return read, fmt.Errorf("GET access-control: %w", err)
	}
	c.domain++
	domains := slices.DeleteFunc(acl.EmailDomains, func(d string) bool { return m.runDomain(d, c.n) })
	domains = append(domains, fmt.Sprintf("bench-%s-c%d-%d.example", m.run, c.n, c.domain))
	body, err := json.Marshal(accessControl{EmailDomains: domains, SSOConnections: acl.SSOConnections})
	if err != nil {
		return answer{}, err
	}
	res, err := c.send(ctx, KindAdminWrite, http.MethodPut, m.adminPath(), m.adminHeader(true), body)
	if err != nil {
		return res, err
	}
	return res, expect(res, "PUT access-control", http.StatusOK)
}

// record counts a request made on the side of an operation (the admin read).
func (c *mixedClient) record(kind string, res answer, err error) {
	switch {
	case res.status == http.StatusTooManyRequests:
		c.stats.throttled[kind]++
	case err != nil:
		c.fail(kind, res.latency, err)
	default:
		c.stats.lat[kind] = append(c.stats.lat[kind], res.latency)
		c.m.done.Add(1)
	}
}

// preflight checks every token and one sign-in before the clock starts, so
// that a misconfiguration fails at once with its reason.
func (m *mixed) preflight(ctx context.Context) error {
	probe := &mixedClient{m: m, n: -1, stats: &clientStats{}}
	for i, tok := range m.cfg.SCIMTokens {
		probe.token = tok
		res, err := probe.send(ctx, "preflight", http.MethodGet, SCIMPrefix+"/Users?count=1", probe.scimHeader(false), nil)
		if err == nil {
			err = expect(res, "GET /Users", http.StatusOK)
		}
		if err != nil {
			return fmt.Errorf("bench: SCIM token %d: %w", i+1, err)
		}
	}
	if m.cfg.AdminToken != "" {
		res, err := probe.send(ctx, "preflight", http.MethodGet, m.adminPath(), m.adminHeader(false), nil)
		if err == nil {
			err = expect(res, "GET access-control", http.StatusOK)
		}
		if err != nil {
			return fmt.Errorf("bench: admin token: %w", err)
		}
	}
	if m.cfg.IdP == nil {
		return nil
	}
	mdPath := "/saml/" + url.PathEscape(m.cfg.Org) + "/" + url.PathEscape(m.cfg.Connection) + "/metadata"
	res, err := probe.send(ctx, "preflight", http.MethodGet, mdPath, nil, nil)
	if err == nil {
		err = expect(res, "GET "+mdPath, http.StatusOK)
	}
	if err != nil {
		return fmt.Errorf("bench: SP metadata of connection %s/%s: %w", m.cfg.Org, m.cfg.Connection, err)
	}
	if _, err := m.cfg.IdP.SetSP(res.body); err != nil {
		return err
	}
	acs, _, err := m.cfg.IdP.Response(Person{Email: "probe@example.com"})
	if err != nil {
		return err
	}
	u, err := url.Parse(acs)
	if err != nil {
		return fmt.Errorf("bench: ACS URL %q: %w", acs, err)
	}
	// Requests go to --url; the ACS path is the server's.
	m.acs = u.EscapedPath()
	p := Person{Email: "bench-" + m.run + "-preflight@example.com", GivenName: "Bench", FamilyName: "Preflight"}
	probe.m = m
	if _, err := probe.signIn(ctx, "preflight", p); err != nil {
		return fmt.Errorf("bench: a sign-in at connection %s/%s failed (it must allow IdP-initiated sign-in and JIT provisioning, with JIT by SSO on and the connection in the access control list): %w",
			m.cfg.Org, m.cfg.Connection, err)
	}
	return nil
}

// cleanup removes the run's domains from the access control list.
func (m *mixed) cleanup(ctx context.Context) error {
	if m.cfg.AdminToken == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	probe := &mixedClient{m: m, n: -1, stats: &clientStats{}}
	res, err := probe.send(ctx, "cleanup", http.MethodGet, m.adminPath(), m.adminHeader(false), nil)
	if err == nil {
		err = expect(res, "GET access-control", http.StatusOK)
	}
	if err != nil {
		return fmt.Errorf("bench: cleanup: %w", err)
	}
	var acl accessControl
	if err := json.Unmarshal(res.body, &acl); err != nil {
		return fmt.Errorf("bench: cleanup: %w", err)
	}
	kept := slices.DeleteFunc(slices.Clone(acl.EmailDomains), func(d string) bool { return m.runDomain(d, -1) })
	if len(kept) == len(acl.EmailDomains) {
		return nil
	}
	body, err := json.Marshal(accessControl{EmailDomains: kept, SSOConnections: acl.SSOConnections})
	if err != nil {
		return err
	}
	res, err = probe.send(ctx, "cleanup", http.MethodPut, m.adminPath(), m.adminHeader(true), body)
	if err == nil {
		err = expect(res, "PUT access-control", http.StatusOK)
	}
	if err != nil {
		return fmt.Errorf("bench: cleanup: %w", err)
	}
	return nil
}

// logProgress logs the request count every 30 seconds until done closes.
func (m *mixed) logProgress(ctx context.Context, start time.Time, done <-chan struct{}) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			m.cfg.Logger.Info("bench mixed: progress", "elapsed", m.cfg.Now().Sub(start).Round(time.Second),
				"requests", m.done.Load(), "errors", m.failed.Load())
		}
	}
}

// summarize merges the clients' measurements into rows, in the order of the
// Kind constants, and a total.
func summarize(stats []*clientStats, wall time.Duration) ([]MixedRow, MixedRow) {
	kinds := []string{KindCreateUser, KindLookup, KindPatchUser, KindDeactivate, KindCreateGroup, KindGroupChange,
		KindSignInJIT, KindSignIn, KindAdminRead, KindAdminWrite}
	var rows []MixedRow
	total := MixedRow{Kind: "total"}
	var all []time.Duration
	for _, kind := range kinds {
		row := MixedRow{Kind: kind}
		var lat []time.Duration
		for _, s := range stats {
			lat = append(lat, s.lat[kind]...)
			row.Errors += s.errors[kind]
			row.Throttled += s.throttled[kind]
			if row.Note == "" {
				row.Note = s.notes[kind]
			}
		}
		if len(lat) == 0 && row.Throttled == 0 {
			continue
		}
		fillRow(&row, lat, wall)
		rows = append(rows, row)
		all = append(all, lat...)
		total.Errors += row.Errors
		total.Throttled += row.Throttled
		if total.Note == "" && row.Note != "" {
			total.Note = row.Kind + ": " + row.Note
		}
	}
	fillRow(&total, all, wall)
	return rows, total
}

func fillRow(row *MixedRow, lat []time.Duration, wall time.Duration) {
	slices.Sort(lat)
	row.N = len(lat)
	if wall > 0 {
		row.Rate = float64(row.N-row.Errors) / wall.Seconds()
	}
	res := result{lat: lat}
	row.P50, row.P90, row.P99 = res.pct(0.5), res.pct(0.9), res.pct(0.99)
	if len(lat) > 0 {
		row.Max = lat[len(lat)-1]
	}
}
