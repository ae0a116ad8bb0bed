package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SCIMPrefix is the SCIM base path under the server's base URL.
const SCIMPrefix = "/scim/v2"

// Defaults.
const (
	DefaultOps         = 2000
	DefaultSyncClients = 4
	DefaultTimeout     = 30 * time.Minute
	requestTimeout     = 30 * time.Second
)

// Config says what to measure and where.
type Config struct {
	// URL is the server's base URL (its --base-url), or its SCIM base ending in
	// /scim/v2.
	URL string
	// Token is a SCIM bearer token of the organization to fill.
	Token string
	// Users are the directory sizes at which lookups are measured, ascending. Before
	// each, the organization is filled up to that many users.
	Users []int
	// Clients are the concurrency levels at which creates are measured.
	Clients []int
	// Ops is the number of requests in each measured phase.
	Ops int
	// SyncUsers is the number of users in the Okta-style sync (0: Users[0]);
	// SyncClients are its concurrency levels: the sync runs once per level,
	// each time with SyncUsers new users.
	SyncUsers   int
	SyncClients []int
	// PID, if not 0, is the server's process ID, to read its memory use.
	PID int
	// RawDB, if set, is a directory (on the server database's file system) for
	// a scratch SQLite file on which the raw rate of single-row insert
	// transactions is measured in the same run, at each Clients level, as the
	// baseline for SCIM creates.
	RawDB string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// AllowRemote permits a target that is not a loopback address.
	AllowRemote bool
	// Logger receives progress; nothing is logged if nil.
	Logger *slog.Logger
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
}

// Row is one line of the result table.
type Row struct {
	Name   string
	Users  int           // directory size when measured (0: not applicable)
	N      int           // requests or users measured
	Errors int           // failed requests
	Rate   float64       // per second (0: not applicable)
	P50    time.Duration // 0: not applicable
	P99    time.Duration
	Wall   time.Duration
	Note   string
}

// Report is the result of a run.
type Report struct {
	Target string
	Run    string
	Rows   []Row
}

// Validate collects every problem with the configuration.
func (c *Config) Validate() error {
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
	if c.Token == "" {
		ps = append(ps, errors.New("bench: a SCIM token is required"))
	}
	if len(c.Users) == 0 {
		ps = append(ps, errors.New("bench: at least one users size is required"))
	}
	for i, n := range c.Users {
		if n < 1 {
			ps = append(ps, fmt.Errorf("bench: users size %d must be positive", n))
		}
		if i > 0 && n < c.Users[i-1] {
			ps = append(ps, errors.New("bench: users sizes must be ascending"))
		}
	}
	if len(c.Clients) == 0 {
		ps = append(ps, errors.New("bench: at least one clients level is required"))
	}
	for _, n := range c.Clients {
		if n < 1 || n > 1024 {
			ps = append(ps, fmt.Errorf("bench: clients %d must be between 1 and 1024", n))
		}
	}
	if c.Ops < 1 {
		ps = append(ps, errors.New("bench: ops must be positive"))
	}
	if c.SyncUsers < 0 {
		ps = append(ps, errors.New("bench: sync users must be >= 0"))
	}
	if len(c.SyncClients) == 0 {
		ps = append(ps, errors.New("bench: at least one sync clients level is required"))
	}
	for _, n := range c.SyncClients {
		if n < 1 || n > 1024 {
			ps = append(ps, fmt.Errorf("bench: sync clients %d must be between 1 and 1024", n))
		}
	}
	if c.RawDB != "" {
		if fi, err := os.Stat(c.RawDB); err != nil || !fi.IsDir() {
			ps = append(ps, fmt.Errorf("bench: raw-db %q is not a directory", c.RawDB))
		}
	}
	if c.PID < 0 {
		ps = append(ps, errors.New("bench: pid must not be negative"))
	}
	if c.Timeout <= 0 {
		ps = append(ps, errors.New("bench: timeout must be positive"))
	}
	return errors.Join(ps...)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scimBase returns the SCIM base URL for a server or SCIM base URL.
func scimBase(raw string) string {
	s := strings.TrimRight(raw, "/")
	if strings.HasSuffix(s, SCIMPrefix) {
		return s
	}
	return s + SCIMPrefix
}

// Run measures, writing progress to the logger, and returns the table. When the
// timeout ends a phase early, the rows so far are returned with the error.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if cfg.SyncUsers == 0 {
		cfg.SyncUsers = cfg.Users[0]
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	maxClients := max(slices.Max(cfg.Clients), slices.Max(cfg.SyncClients))
	r := &runner{
		cfg:  cfg,
		base: scimBase(cfg.URL),
		run:  randomHex(3),
		client: &http.Client{
			Timeout: requestTimeout,
			Transport: &http.Transport{
				Proxy:               nil, // never send benchmark traffic through a proxy
				MaxIdleConns:        maxClients * 2,
				MaxIdleConnsPerHost: maxClients * 2,
				IdleConnTimeout:     90 * time.Second,
			},
		},
	}
	defer r.client.CloseIdleConnections()
	rep := Report{Target: r.base, Run: "bench-" + r.run}

	total, err := r.total(ctx)
	if err != nil {
		return rep, fmt.Errorf("bench: probe %s/Users: %w", r.base, err)
	}
	cfg.Logger.Info("bench: target reachable", "scim_base", r.base, "users", total, "run", rep.Run)

	phases := []func(context.Context, *Report) error{r.creates, r.lookups, r.deactivations, r.sync, r.memory}
	if cfg.RawDB != "" {
		phases = append([]func(context.Context, *Report) error{r.rawRates}, phases...)
	}
	for _, phase := range phases {
		err := phase(ctx, &rep)
		if r.throttled.Load() {
			return rep, errThrottled
		}
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// errThrottled ends a run whose server answered 429: a rate or concurrency
// limit (or the de-provisioning safety rail) would be measured instead of the
// server, so the run stops at once and says which flags turn them off.
var errThrottled = errors.New("bench: the server answered 429 Too Many Requests: its per-token limits are on; " +
	"start it with --scim-token-inflight 0 --scim-token-rate 0 --scim-hold-percent 0 to benchmark it")

// runner holds one run's state.
type runner struct {
	cfg    Config
	base   string
	run    string
	client *http.Client
	seq    atomic.Int64 // next user number

	// throttled is set by the first 429 answer; every phase then stops.
	throttled atomic.Bool

	// rawBest is the best raw insert rate; createsTop the create rate at the
	// highest concurrency, createsTopClients.
	rawBest, createsTop float64
	createsTopClients   int

	mu    sync.Mutex
	names []int64  // numbers of users created in this run
	ids   []string // IDs of users created in this run, up to Ops of them
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms (Go 1.24+)
	return hex.EncodeToString(b)
}

func (r *runner) userName(n int64) string {
	return "bench-" + r.run + "-" + strconv.FormatInt(n, 10) + "@example.com"
}

// result is the outcome of a batch of requests.
type result struct {
	n      int
	errors int
	first  error
	wall   time.Duration
	lat    []time.Duration // sorted
}

func (res result) pct(p float64) time.Duration {
	if len(res.lat) == 0 {
		return 0
	}
	return res.lat[int(p*float64(len(res.lat)-1))]
}

func (res result) rate() float64 {
	if res.wall <= 0 {
		return 0
	}
	return float64(res.n-res.errors) / res.wall.Seconds()
}

// parallel runs op for i in [0, n) on clients workers and times every call.
func (r *runner) parallel(ctx context.Context, clients, n int, op func(ctx context.Context, i int) error) result {
	var next atomic.Int64
	var mu sync.Mutex
	res := result{}
	start := r.cfg.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var errs int
			var first error
			for ctx.Err() == nil && !r.throttled.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				t0 := r.cfg.Now()
				err := op(ctx, i)
				lat = append(lat, r.cfg.Now().Sub(t0))
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			if res.first == nil {
				res.first = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.wall = r.cfg.Now().Sub(start)
	res.n = len(res.lat)
	slices.Sort(res.lat)
	return res
}

// note explains a phase's errors and early end.
func note(ctx context.Context, res result, want int) string {
	var parts []string
	if res.first != nil {
		parts = append(parts, "first error: "+res.first.Error())
	}
	if res.n < want && ctx.Err() != nil {
		parts = append(parts, fmt.Sprintf("stopped by timeout after %d of %d", res.n, want))
	}
	return strings.Join(parts, "; ")
}

func (r *runner) creates(ctx context.Context, rep *Report) error {
	for _, c := range r.cfg.Clients {
		res := r.parallel(ctx, c, r.cfg.Ops, func(ctx context.Context, _ int) error {
			_, err := r.createUser(ctx)
			return err
		})
		rep.Rows = append(rep.Rows, Row{Name: "POST /Users, " + plural(c, "client"), N: res.n, Errors: res.errors, Rate: res.rate(),
			P50: res.pct(0.5), P99: res.pct(0.99), Wall: res.wall, Note: note(ctx, res, r.cfg.Ops)})
		if c >= r.createsTopClients {
			r.createsTop, r.createsTopClients = res.rate(), c
		}
		r.cfg.Logger.Info("bench: creates done", "clients", c, "n", res.n, "errors", res.errors)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	r.ratioRow(rep)
	return nil
}

func (r *runner) lookups(ctx context.Context, rep *Report) error {
	fillClients := slices.Max(r.cfg.Clients)
	for _, size := range r.cfg.Users {
		total, err := r.total(ctx)
		if err != nil {
			return fmt.Errorf("bench: count users: %w", err)
		}
		if missing := size - total; missing > 0 {
			r.cfg.Logger.Info("bench: filling", "users", total, "target", size, "clients", fillClients)
			res := r.parallel(ctx, fillClients, missing, func(ctx context.Context, _ int) error {
				_, err := r.createUser(ctx)
				return err
			})
			rep.Rows = append(rep.Rows, Row{Name: "fill (POST /Users)", Users: size, N: res.n, Errors: res.errors,
				Rate: res.rate(), Wall: res.wall, Note: note(ctx, res, missing)})
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			if total, err = r.total(ctx); err != nil {
				return fmt.Errorf("bench: count users: %w", err)
			}
		}
		r.mu.Lock()
		names := slices.Clone(r.names)
		r.mu.Unlock()
		if len(names) == 0 {
			return errors.New("bench: no user was created, nothing to look up")
		}
		// One client: latency without queueing. Lookups walk the created users with a
		// stride, so that they touch the whole directory rather than a hot end.
		stride := max(1, len(names)/r.cfg.Ops)
		res := r.parallel(ctx, 1, r.cfg.Ops, func(ctx context.Context, i int) error {
			return r.lookup(ctx, r.userName(names[(i*stride)%len(names)]), 1)
		})
		rep.Rows = append(rep.Rows, Row{Name: "GET /Users?filter=userName eq, 1 client", Users: total, N: res.n,
			Errors: res.errors, Rate: res.rate(), P50: res.pct(0.5), P99: res.pct(0.99), Wall: res.wall,
			Note: note(ctx, res, r.cfg.Ops)})
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		r.memoryRow(rep, total)
	}
	return nil
}

func (r *runner) deactivations(ctx context.Context, rep *Report) error {
	r.mu.Lock()
	ids := slices.Clone(r.ids)
	r.mu.Unlock()
	c := slices.Max(r.cfg.Clients)
	res := r.parallel(ctx, c, len(ids), func(ctx context.Context, i int) error {
		return r.deactivate(ctx, ids[i])
	})
	rep.Rows = append(rep.Rows, Row{Name: fmt.Sprintf("PATCH active=false, %d clients", c), N: res.n, Errors: res.errors,
		Rate: res.rate(), P50: res.pct(0.5), P99: res.pct(0.99), Wall: res.wall, Note: note(ctx, res, len(ids))})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// sync does what Okta and Entra do when an application is first assigned: for
// each user, look it up by userName and, not finding it, create it; once per
// concurrency level.
func (r *runner) sync(ctx context.Context, rep *Report) error {
	n := r.cfg.SyncUsers
	for _, c := range r.cfg.SyncClients {
		res := r.parallel(ctx, c, n, func(ctx context.Context, _ int) error {
			num := r.seq.Add(1) - 1
			if err := r.lookup(ctx, r.userName(num), 0); err != nil {
				return err
			}
			_, err := r.post(ctx, num)
			return err
		})
		total, err := r.total(ctx)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("bench: count users: %w", err)
		}
		rep.Rows = append(rep.Rows, Row{Name: "Okta-style sync (GET filter + POST), " + plural(c, "client"),
			Users: total, N: res.n, Errors: res.errors, Rate: res.rate(), P50: res.pct(0.5), P99: res.pct(0.99),
			Wall: res.wall, Note: note(ctx, res, n)})
		r.cfg.Logger.Info("bench: sync done", "clients", c, "n", res.n, "errors", res.errors)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}

func (r *runner) memory(ctx context.Context, rep *Report) error {
	total, err := r.total(ctx)
	if err != nil {
		return fmt.Errorf("bench: count users: %w", err)
	}
	r.memoryRow(rep, total)
	return nil
}

// memoryRow adds the server's resident memory, if its PID is known.
func (r *runner) memoryRow(rep *Report, users int) {
	if r.cfg.PID == 0 {
		return
	}
	rss, hwm, err := ReadRSS(r.cfg.PID)
	row := Row{Name: "server RSS", Users: users}
	if err != nil {
		row.Note = err.Error()
	} else {
		row.Note = fmt.Sprintf("VmRSS %s, peak VmHWM %s", mib(rss), mib(hwm))
	}
	rep.Rows = append(rep.Rows, row)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// ReadRSS returns a process's resident set size and its peak (VmRSS and VmHWM from
// /proc/PID/status), in bytes. Linux only.
func ReadRSS(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("bench: read memory of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("bench: unexpected %s line %q", key, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: %s: %w", key, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("bench: no VmRSS for process %d", pid)
	}
	return rss, hwm, nil
}

// statusError is a non-2xx answer.
type statusError struct {
	op     string
	status int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s", e.op, e.status, http.StatusText(e.status))
}

// do sends a request and decodes a JSON answer into out (if not nil). The body is
// always read to the end, so that the connection is reused.
func (r *runner) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.cfg.Token)
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests && want != http.StatusTooManyRequests {
		r.throttled.Store(true)
	}
	if resp.StatusCode != want {
		_, _ = io.Copy(io.Discard, resp.Body)
		return &statusError{op: method + " " + strings.SplitN(path, "?", 2)[0], status: resp.StatusCode}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

type listResponse struct {
	TotalResults int `json:"totalResults"`
	Resources    []struct {
		ID string `json:"id"`
	} `json:"Resources"`
}

// total returns the number of users in the token's organization.
func (r *runner) total(ctx context.Context) (int, error) {
	var lr listResponse
	if err := r.do(ctx, http.MethodGet, "/Users?count=1", nil, http.StatusOK, &lr); err != nil {
		return 0, err
	}
	return lr.TotalResults, nil
}

// lookup finds a user by userName and checks that want users matched.
func (r *runner) lookup(ctx context.Context, userName string, want int) error {
	q := url.Values{"filter": {`userName eq "` + userName + `"`}}
	var lr listResponse
	if err := r.do(ctx, http.MethodGet, "/Users?"+q.Encode(), nil, http.StatusOK, &lr); err != nil {
		return err
	}
	if lr.TotalResults != want {
		return fmt.Errorf("GET /Users filter: %d results, want %d", lr.TotalResults, want)
	}
	return nil
}

// createUser creates the next user of the run.
func (r *runner) createUser(ctx context.Context) (string, error) {
	return r.post(ctx, r.seq.Add(1)-1)
}

func (r *runner) post(ctx context.Context, num int64) (string, error) {
	name := r.userName(num)
	n := strconv.FormatInt(num, 10)
	body := map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    name,
		"externalId":  "bench-" + r.run + "-" + n,
		"displayName": "Bench User " + n,
		"name":        map[string]any{"givenName": "Bench", "familyName": "User " + n},
		"emails":      []map[string]any{{"value": name, "type": "work", "primary": true}},
		"active":      true,
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := r.do(ctx, http.MethodPost, "/Users", body, http.StatusCreated, &created); err != nil {
		return "", err
	}
	r.mu.Lock()
	r.names = append(r.names, num)
	if len(r.ids) < r.cfg.Ops {
		r.ids = append(r.ids, created.ID)
	}
	r.mu.Unlock()
	return created.ID, nil
}

// deactivate sends the PATCH Okta sends to deactivate a user.
func (r *runner) deactivate(ctx context.Context, id string) error {
	body := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
	}
	// elimity answers a PATCH with 200 and the resource, or 204 if nothing changed;
	// both are accepted here.
	err := r.do(ctx, http.MethodPatch, "/Users/"+url.PathEscape(id), body, http.StatusOK, nil)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusNoContent {
		return nil
	}
	return err
}
