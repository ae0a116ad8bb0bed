package replicas

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onramp-dev/onramp/bench"
	"github.com/onramp-dev/onramp/jit/samltest"
)

// Sizes of BenchmarkSCIM, small enough that the three targets finish in a few
// minutes on a laptop.
var (
	scimUsers = flag.Int("scim-users", 20000, "BenchmarkSCIM: directory size at which lookups are measured")
	scimOps   = flag.Int("scim-ops", 5000, "BenchmarkSCIM: requests in each measured phase")
	scimSync  = flag.Int("scim-sync-users", 2000, "BenchmarkSCIM: users in the Okta-style sync")
)

// benchTarget is one way to run onramp, measured by the benchmarks side by side.
type benchTarget struct {
	name     string
	postgres bool
	replicas []string
}

// benchTargets: one SQLite server, one PostgreSQL replica, two PostgreSQL
// replicas. All three sit behind the same balancer (round-robin when there are
// two), so that each pays the same extra hop.
func benchTargets() []benchTarget {
	return []benchTarget{
		{name: "sqlite", replicas: []string{"a"}},
		{name: "postgres-1", postgres: true, replicas: []string{"a"}},
		{name: "postgres-2", postgres: true, replicas: []string{"a", "b"}},
	}
}

func deployTarget(b *testing.B, tg benchTarget) *deployment {
	b.Helper()
	if !tg.postgres {
		return deploy(b, deployConfig{db: filepath.Join(b.TempDir(), "onramp.db"), replicas: tg.replicas, allowIdPInitiated: true})
	}
	// The replicas' connections carry an application_name of their own, so
	// that their server processes can be found for the CPU they use.
	dsn, _ := freshSchema(b)
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	app := "onramp_bench_" + randomHex(b, 4)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	d := deploy(b, deployConfig{db: u.String(), replicas: tg.replicas, allowIdPInitiated: true})
	d.pgApp = app
	d.pgAdmin = openSchema(b, postgresDSN(b))
	return d
}

// benchClients are the numbers of browsers posting to the ACS at once: one
// shows a sign-in's latency, sixteen a loaded deployment's throughput.
func benchClients() []int { return []int{1, 16} }

// BenchmarkSignIn posts IdP-initiated SAML responses, signed by the crewjam IdP
// before the timer starts, to the ACS through the balancer, for each target, as
// jit's BenchmarkACS does in-process on SQLite: "linked" signs in a person whose
// account exists (verify, replay cache, sign-in record, session), "jit_create"
// a new person each time (verify, policy, account created, session). Besides
// ns/op (wall time per sign-in at that concurrency) it reports logins/s, the
// p50 and p99 latency, and the CPU time per sign-in of the onramp processes
// (onramp-cpu-ns/op, all replicas) and of the PostgreSQL server processes that
// serve their connections (postgres-cpu-ns/op; 0 on SQLite, which runs inside
// onramp), read from /proc: on a shared machine, CPU time is disturbed less by
// other load than wall time.
//
//	ONRAMP_TEST_POSTGRES_DSN=… go test ./replicas -run XXX -bench SignIn -benchtime 5s
func BenchmarkSignIn(b *testing.B) {
	for _, tg := range benchTargets() {
		b.Run(tg.name, func(b *testing.B) {
			d := deployTarget(b, tg)
			spEntityID := d.lb.URL() + metadataPath
			client := &http.Client{
				Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: slices.Max(benchClients())},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			b.Cleanup(client.CloseIdleConnections)
			linked := person("00u-bench-linked", "linked@acme-corp.com")
			if err := postACS(b.Context(), client, d.lb.URL(), d.idp.IdPInitiated(b, spEntityID, "", samltest.Login{User: linked})); err != nil {
				b.Fatalf("first sign-in: %v", err)
			}
			var people atomic.Int64
			respond := map[string]func() string{
				"linked": func() string { return d.idp.IdPInitiated(b, spEntityID, "", samltest.Login{User: linked}) },
				"jit_create": func() string {
					n := people.Add(1)
					u := person(fmt.Sprintf("00u-bench-%07d", n), fmt.Sprintf("bench-%07d@acme-corp.com", n))
					return d.idp.IdPInitiated(b, spEntityID, "", samltest.Login{User: u})
				},
			}
			for _, kind := range []string{"linked", "jit_create"} {
				for _, clients := range benchClients() {
					b.Run(fmt.Sprintf("%s/clients=%d", kind, clients), func(b *testing.B) {
						responses := make([]string, b.N)
						for i := range responses {
							responses[i] = respond[kind]()
						}
						before := d.usage(b)
						b.ResetTimer()
						lat, err := drive(b.Context(), clients, b.N, func(ctx context.Context, i int) error {
							return postACS(ctx, client, d.lb.URL(), responses[i])
						})
						b.StopTimer()
						if err != nil {
							b.Fatal(err)
						}
						onrampCPU, dbCPU := d.usage(b).since(before)
						b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
						b.ReportMetric(ms(percentile(lat, 0.5)), "p50-ms")
						b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
						b.ReportMetric(float64(onrampCPU.Nanoseconds())/float64(b.N), "onramp-cpu-ns/op")
						b.ReportMetric(float64(dbCPU.Nanoseconds())/float64(b.N), "postgres-cpu-ns/op")
					})
				}
			}
		})
	}
}

// postACS posts one response, as a browser without cookies, and checks that it
// signed someone in.
func postACS(ctx context.Context, c *http.Client, base, samlResponse string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+acsPath,
		strings.NewReader(url.Values{"SAMLResponse": {samlResponse}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) == 0 {
		return fmt.Errorf("ACS answered %s without a session (replica %q)", res.Status, res.Header.Get(servedHeader))
	}
	return nil
}

// drive runs op for i in [0, n) on clients goroutines and returns the sorted
// latencies, or the first error.
func drive(ctx context.Context, clients, n int, op func(ctx context.Context, i int) error) ([]time.Duration, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var errs []error
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var lat []time.Duration
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(all)
	return all, errors.Join(errs...)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// usage is the CPU time a deployment's processes have used so far.
type usage struct {
	onramp time.Duration         // all replicas
	db     map[int]time.Duration // PostgreSQL backends of the replicas' connections, by PID
}

// since returns the CPU time used between before and u. A backend that
// started in between counts from zero; one that ended in between (pools close
// connections idle for minutes) is missed.
func (u usage) since(before usage) (onramp, db time.Duration) {
	for pid, c := range u.db {
		db += c - before.db[pid]
	}
	return u.onramp - before.onramp, db
}

func (d *deployment) usage(tb testing.TB) usage {
	tb.Helper()
	u := usage{db: map[int]time.Duration{}}
	for _, r := range d.replicas {
		c, err := processCPU(r.cmd.Process.Pid)
		if err != nil {
			tb.Fatal(err)
		}
		u.onramp += c
	}
	if d.pgAdmin == nil {
		return u
	}
	rows, err := d.pgAdmin.QueryContext(tb.Context(), "SELECT pid FROM pg_stat_activity WHERE application_name = $1", d.pgApp)
	if err != nil {
		tb.Fatal(err)
	}
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			tb.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		tb.Fatal(err)
	}
	for _, pid := range pids {
		// The server may run elsewhere (or in a container): then its
		// processes are not ours to read, and the figure stays 0.
		if c, err := processCPU(pid); err == nil {
			u.db[pid] = c
		}
	}
	return u
}

// userHZ is the unit of the times in /proc/PID/stat (USER_HZ, 100 on every
// Linux architecture Go supports).
const userHZ = 100

// processCPU reads a process's utime and stime from /proc/PID/stat. Linux
// only.
func processCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu of process %d: %w", pid, err)
	}
	// The command name, field 2, is in parentheses and may hold spaces; the
	// fields after it start with field 3 (state). utime and stime are 14 and 15.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of process %d: short /proc stat line", pid)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu of process %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// BenchmarkSCIM runs the engine of `onramp bench scim` (package bench) against
// each target through the balancer, and prints the reports side by side.
//
// Before the run, each target's organization is filled with -scim-users users
// over SCIM (16 clients; the "prefill" row) and, on PostgreSQL, ANALYZE gives
// the planner statistics, as autovacuum does within a minute of such a load
// (store/sqlstore/doc.go): without them, lookups right after a bulk load may
// walk the organization's rows instead of using the userName index, which
// measures the minute after an IdP's first push rather than the steady state.
// bench scim then measures creates at 1 and 16 clients, lookups by userName at
// that size (of the users it created), deactivations and the Okta-style sync.
//
// One op is one whole run of bench scim, which takes longer than any usual
// -benchtime, so it runs once (or -benchtime Nx times); the rates of the last
// run are reported as metrics too. Both benchmarks in one run:
//
//	ONRAMP_TEST_POSTGRES_DSN=… go test ./replicas -run XXX -bench . -benchtime 5s -timeout 60m
func BenchmarkSCIM(b *testing.B) {
	var order []string
	reports := map[string]bench.Report{}
	for _, tg := range benchTargets() {
		b.Run(tg.name, func(b *testing.B) {
			d := deployTarget(b, tg)
			fill := prefill(b, d, *scimUsers, slices.Max(benchClients()))
			if tg.postgres {
				analyze(b, d.db)
			}
			before, requests := d.usage(b), d.lb.seq.Load()
			b.ResetTimer()
			var rep bench.Report
			for range b.N {
				var err error
				rep, err = bench.Run(b.Context(), bench.Config{
					URL:         d.lb.URL(),
					Token:       d.scim.token,
					Users:       []int{*scimUsers},
					Clients:     benchClients(),
					Ops:         *scimOps,
					SyncUsers:   *scimSync,
					SyncClients: []int{4},
					Timeout:     20 * time.Minute,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			onrampCPU, dbCPU := d.usage(b).since(before)
			n := float64(d.lb.seq.Load() - requests)
			rep.Rows = append([]bench.Row{fill}, rep.Rows...)
			rep.Rows = append(rep.Rows,
				bench.Row{Name: cpuOnrampRow, Note: fmt.Sprintf("%.0fµs", float64(onrampCPU.Microseconds())/n)},
				bench.Row{Name: cpuDBRow, Note: fmt.Sprintf("%.0fµs", float64(dbCPU.Microseconds())/n)})
			b.ReportMetric(float64(onrampCPU.Nanoseconds())/n, "onramp-cpu-ns/req")
			b.ReportMetric(float64(dbCPU.Nanoseconds())/n, "postgres-cpu-ns/req")
			for _, row := range rep.Rows {
				if row.Errors > 0 {
					b.Errorf("%s: %d errors: %s", row.Name, row.Errors, row.Note)
				}
				if row.Rate > 0 {
					b.ReportMetric(row.Rate, metricName(row.Name)+"/s")
				}
			}
			if _, seen := reports[tg.name]; !seen {
				order = append(order, tg.name)
			}
			reports[tg.name] = rep
		})
	}
	if len(order) > 0 {
		// To stdout: a parent benchmark's b.Log is not shown.
		fmt.Printf("\nSCIM requests per second (p50), by target:\n%s\n", sideBySide(order, reports))
	}
}

// prefill creates n users over SCIM through the balancer, on clients
// connections, and returns the row that describes it.
func prefill(b *testing.B, d *deployment, n, clients int) bench.Row {
	b.Helper()
	run := randomHex(b, 3)
	began := time.Now()
	lat, err := drive(b.Context(), clients, n, func(ctx context.Context, i int) error {
		email := fmt.Sprintf("prefill-%s-%d@example.com", run, i)
		r, err := d.scim.send(ctx, "", http.MethodPost, "/Users", scimUser(email, email), "")
		if err == nil && r.status != http.StatusCreated {
			err = fmt.Errorf("prefill: %s", r)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	wall := time.Since(began)
	return bench.Row{
		Name: fmt.Sprintf("prefill (POST /Users), %d clients", clients), Users: n, N: n,
		Rate: float64(n) / wall.Seconds(), P50: percentile(lat, 0.5), P99: percentile(lat, 0.99), Wall: wall,
	}
}

// analyze runs ANALYZE on the tables of the schema the DSN works in.
func analyze(b *testing.B, dsn string) {
	b.Helper()
	db := openSchema(b, dsn)
	rows, err := db.QueryContext(b.Context(), "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
	if err != nil {
		b.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			b.Fatal(err)
		}
		tables = append(tables, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		b.Fatal(err)
	}
	if len(tables) == 0 {
		b.Fatal("analyze: no tables in the schema")
	}
	for _, t := range tables {
		if _, err := db.ExecContext(b.Context(), "ANALYZE "+pgx.Identifier{t}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
}

// Rows of the side-by-side table that carry a CPU time per request, over the
// whole bench scim run (the prefill excluded).
const (
	cpuOnrampRow = "CPU per request: onramp (all replicas)"
	cpuDBRow     = "CPU per request: PostgreSQL"
)

// metricName turns a row name into a metric unit without spaces.
func metricName(row string) string {
	r := strings.NewReplacer(" ", "", "/", "", "?", "", "=", "-", ",", "_", "(", "", ")", "", "+", "")
	return r.Replace(row)
}

// sideBySide prints the reports' rows as one table, a column per target.
func sideBySide(order []string, reports map[string]bench.Report) string {
	var rows []string
	for _, name := range order {
		for _, row := range reports[name].Rows {
			if !slices.Contains(rows, row.Name) {
				rows = append(rows, row.Name)
			}
		}
	}
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "benchmark\t%s\t\n", strings.Join(order, "\t"))
	for _, name := range rows {
		cells := []string{name}
		for _, target := range order {
			cell := "-"
			for _, row := range reports[target].Rows {
				if row.Name == name && row.Note != "" && (name == cpuOnrampRow || name == cpuDBRow) {
					cell = row.Note
				}
				if row.Name == name && row.Rate > 0 {
					cell = strconv.FormatFloat(row.Rate, 'f', 0, 64)
					if row.P50 > 0 {
						cell += fmt.Sprintf(" (%.2fms)", ms(row.P50))
					}
				}
			}
			cells = append(cells, cell)
		}
		fmt.Fprintf(tw, "%s\t\n", strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	return sb.String()
}
