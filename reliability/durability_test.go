package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
	"time"
)

// durabilityConfig declares the organization of the durability test; its
// connection has no IdP (SCIM only).
const durabilityConfig = `organizations:
  - slug: acme
    name: Acme Corp
    connections:
      - slug: okta
        name: Okta
        mapping: { preset: okta }
`

// TestAcknowledgedWritesSurviveSIGKILL is issue 7's "nothing acknowledged is
// lost", end to end: 12 clients load `onramp serve` (the built binary, on a
// SQLite file) with SCIM user creates, PATCHes that change two attributes
// at once, deactivations that change three, and group PATCHes that change
// the display name and add and remove members at once, and the server is
// killed with SIGKILL after 50 ms, 300 ms and 1 s of load, after 300
// acknowledged requests, and after 50 ms again. After
// every restart every resource is read back (verifyDurability): every
// request answered with a 2xx is there in full, the one request per
// resource that got no answer (cut off by the kill) is there in full or not
// at all, and nothing else exists. The state read back is the next round's
// starting point, so the rounds check each other too. scim's
// TestAcknowledgedWritesSurviveAKill does a smaller version in-process
// (creates and deactivations); this one goes through the real binary and
// covers multi-attribute PATCHes and group membership.
//
// A SIGKILL ends the process but not the machine: what the operating system
// had accepted is written. It catches a server that answers before its
// transaction commits, or commits half a request; it cannot catch a missing
// fsync.
func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "onramp.db")
	if err := os.WriteFile(filepath.Join(dir, "onramp.yaml"), []byte(durabilityConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	onramp(t, dir, "apply", "--db", db, "-f", "onramp.yaml")
	port := freePort(t)
	m := &durabilityModel{clients: make([]*durabilityClient, 12)}
	for i := range m.clients {
		m.clients[i] = &durabilityClient{n: i, rng: rand.New(rand.NewPCG(uint64(i), 7))}
	}
	// The kill comes after a time of load, or (the fourth round) after a
	// number of acknowledged requests, so that even on a machine too busy
	// to acknowledge much within a second every kind of write is exercised.
	kills := []killPoint{{after: 50 * time.Millisecond}, {after: 300 * time.Millisecond}, {after: time.Second},
		{acks: 300}, {after: 50 * time.Millisecond}}
	for round, kp := range kills {
		// A new SCIM token each round, made by the CLI while the server is
		// down: each token may de-provision only so many users an hour
		// before the safety rail holds it.
		token := lastLine(onramp(t, dir, "token", "create", "--db", db, "--org", "acme", "--scim", "okta"))
		srv := startServer(t, dir, db, port)
		if round > 0 {
			verifyDurability(t, srv.url, token, m)
		}
		acked, elapsed := m.load(t, srv, token, kp)
		t.Logf("round %d: killed after %s of load; %d requests acknowledged before the kill", round+1, elapsed.Round(time.Millisecond), acked)
	}
	token := lastLine(onramp(t, dir, "token", "create", "--db", db, "--org", "acme", "--scim", "okta"))
	srv := startServer(t, dir, db, port)
	verifyDurability(t, srv.url, token, m)
	srv.stop(t)

	// The test is only worth something if every kind of write was
	// acknowledged, and cut off, at least once over the rounds.
	var sum durabilityCounts
	for _, c := range m.clients {
		sum.add(c.counts)
	}
	t.Logf("acknowledged: %d creates, %d user PATCHes, %d deactivations, %d group changes, %d groups; cut off and found applied / not applied: %d / %d; 429s: %d",
		sum.creates, sum.patches, sum.deactivations, sum.groupChanges, sum.groups, sum.cutApplied, sum.cutNotApplied, sum.throttled)
	if sum.creates < 20 || sum.patches < 20 || sum.deactivations < 3 || sum.groupChanges < 10 || sum.cutApplied+sum.cutNotApplied < 5 {
		t.Errorf("too little was exercised to show anything: %+v", sum)
	}
}

// durabilityModel is what the clients were told: per client, the resources
// it made and the state each must be in.
type durabilityModel struct {
	clients []*durabilityClient
}

// durabilityClient owns its users and its group, so that its requests never
// race another client's on the same resource: the state each resource is in
// follows from this client's requests alone.
type durabilityClient struct {
	n      int
	rng    *rand.Rand
	seq    int
	users  []*userModel
	group  *groupModel
	counts durabilityCounts

	// A create that got no answer: the user may or may not exist.
	pendingCreate string // userName
	// A group create that got no answer.
	pendingGroup string // displayName
}

type durabilityCounts struct {
	creates, patches, deactivations, groupChanges, groups int
	cutApplied, cutNotApplied, throttled                  int
}

func (c *durabilityCounts) add(o durabilityCounts) {
	c.creates += o.creates
	c.patches += o.patches
	c.deactivations += o.deactivations
	c.groupChanges += o.groupChanges
	c.groups += o.groups
	c.cutApplied += o.cutApplied
	c.cutNotApplied += o.cutNotApplied
	c.throttled += o.throttled
}

// userModel is one user. Version k is the state after its k-th PATCH:
// displayName "<userName> v<k>" and name.familyName "fam v<k>", set by the
// same request; the PATCH that deactivates it also sets active=false.
type userModel struct {
	id, userName string
	version      int  // the version it is known to be at
	pending      bool // PATCH version+1 got no answer
	pendingDeact bool // and it was the deactivation
	deactivated  bool // as of version
}

// groupModel is the client's group. Version k is its state after its k-th
// PATCH: displayName "<name> v<k>" and members[k], set by the same request.
type groupModel struct {
	id, name string
	version  int
	pending  bool
	members  [][]string // members[k]: the member IDs after PATCH k, sorted
}

func userDisplay(userName string, v int) string { return userName + " v" + strconv.Itoa(v) }
func groupDisplay(name string, v int) string    { return name + " v" + strconv.Itoa(v) }

// killPoint is when a round's kill comes: after a time of load, or once
// acks requests have been acknowledged.
type killPoint struct {
	after time.Duration
	acks  int64
}

// load runs the clients against srv until it is killed at kp, and returns
// how many requests were acknowledged and how long the load ran.
func (m *durabilityModel) load(t *testing.T, srv *server, token string, kp killPoint) (int64, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	client := newClient(len(m.clients))
	defer client.CloseIdleConnections()
	var acked atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(m.clients))
	for _, c := range m.clients {
		wg.Go(func() {
			if err := c.run(ctx, client, srv.url, token, &acked); err != nil {
				errs <- err
			}
		})
	}
	start := time.Now()
	if kp.acks > 0 {
		for acked.Load() < kp.acks && time.Since(start) < waitBound {
			time.Sleep(time.Millisecond)
		}
	} else {
		time.Sleep(kp.after)
	}
	elapsed := time.Since(start)
	srv.kill(t)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return acked.Load(), elapsed
}

// run sends one request after another until one gets no answer (the server
// is dead). An answer the test does not expect is returned as an error.
func (c *durabilityClient) run(ctx context.Context, hc *http.Client, base, token string, acked *atomic.Int64) error {
	scim := base + "/scim/v2"
	for ctx.Err() == nil {
		var (
			res reply
			err error
			op  string
		)
		switch {
		case c.group == nil && c.pendingGroup == "":
			op = "create group"
			res, err = c.createGroup(ctx, hc, scim, token)
		case len(c.activeUsers()) < 3 || c.rng.IntN(10) < 3:
			op = "create user"
			res, err = c.createUser(ctx, hc, scim, token)
		case c.rng.IntN(10) < 5:
			deact := c.rng.IntN(12) == 0
			op = "patch user"
			if deact {
				op = "deactivate user"
			}
			res, err = c.patchUser(ctx, hc, scim, token, deact)
		default:
			op = "change group"
			res, err = c.changeGroup(ctx, hc, scim, token)
		}
		if err != nil {
			return nil // no answer: the server was killed
		}
		switch {
		case res.status >= 200 && res.status < 300:
			acked.Add(1)
		case res.status == http.StatusTooManyRequests:
			// A rate limit: nothing was written. Wait a little, as an IdP
			// does (the round ends with the kill anyway).
			c.counts.throttled++
			time.Sleep(100 * time.Millisecond)
		default:
			return fmt.Errorf("client %d: %s: unexpected HTTP %d: %s", c.n, op, res.status, res.body)
		}
	}
	return nil
}

func (c *durabilityClient) activeUsers() []*userModel {
	var out []*userModel
	for _, u := range c.users {
		if !u.deactivated && !u.pending {
			out = append(out, u)
		}
	}
	return out
}

func (c *durabilityClient) createUser(ctx context.Context, hc *http.Client, scim, token string) (reply, error) {
	c.seq++
	name := fmt.Sprintf("rel-%d-%d@example.com", c.n, c.seq)
	body := mustJSON(map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    name,
		"displayName": userDisplay(name, 0),
		"name":        map[string]any{"givenName": "Rel", "familyName": "fam v0"},
		"emails":      []map[string]any{{"value": name, "type": "work", "primary": true}},
		"active":      true,
	})
	c.pendingCreate = name
	res, err := send(ctx, hc, http.MethodPost, scim+"/Users", scimHeader(token), body)
	if err != nil {
		return res, err
	}
	c.pendingCreate = ""
	if res.status == http.StatusCreated {
		var created struct{ ID string }
		if err := json.Unmarshal(res.body, &created); err != nil || created.ID == "" {
			return reply{status: 599, body: []byte("201 without an id")}, nil
		}
		c.users = append(c.users, &userModel{id: created.ID, userName: name})
		c.counts.creates++
	}
	return res, nil
}

func (c *durabilityClient) patchUser(ctx context.Context, hc *http.Client, scim, token string, deactivate bool) (reply, error) {
	active := c.activeUsers()
	u := active[c.rng.IntN(len(active))]
	v := u.version + 1
	ops := []map[string]any{
		{"op": "replace", "path": "displayName", "value": userDisplay(u.userName, v)},
		{"op": "replace", "path": "name.familyName", "value": "fam v" + strconv.Itoa(v)},
	}
	if deactivate {
		ops = append(ops, map[string]any{"op": "replace", "path": "active", "value": false})
	}
	u.pending, u.pendingDeact = true, deactivate
	res, err := send(ctx, hc, http.MethodPatch, scim+"/Users/"+url.PathEscape(u.id), scimHeader(token), patchOp(ops...))
	if err != nil {
		return res, err
	}
	u.pending, u.pendingDeact = false, false
	if res.status == http.StatusOK || res.status == http.StatusNoContent {
		u.version = v
		u.deactivated = deactivate
		if deactivate {
			c.counts.deactivations++
		} else {
			c.counts.patches++
		}
	}
	return res, nil
}

func (c *durabilityClient) createGroup(ctx context.Context, hc *http.Client, scim, token string) (reply, error) {
	name := fmt.Sprintf("rel-group-%d", c.n)
	body := mustJSON(map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": groupDisplay(name, 0),
	})
	c.pendingGroup = name
	res, err := send(ctx, hc, http.MethodPost, scim+"/Groups", scimHeader(token), body)
	if err != nil {
		return res, err
	}
	c.pendingGroup = ""
	if res.status == http.StatusCreated {
		var created struct{ ID string }
		if err := json.Unmarshal(res.body, &created); err != nil || created.ID == "" {
			return reply{status: 599, body: []byte("201 without an id")}, nil
		}
		c.group = &groupModel{id: created.ID, name: name, members: [][]string{nil}}
		c.counts.groups++
	}
	return res, nil
}

// changeGroup adds up to two users and removes up to one member, and renames
// the group to its next version, in one PATCH.
func (c *durabilityClient) changeGroup(ctx context.Context, hc *http.Client, scim, token string) (reply, error) {
	g := c.group
	cur := g.members[g.version]
	next := slices.Clone(cur)
	var ops []map[string]any
	v := g.version + 1
	ops = append(ops, map[string]any{"op": "replace", "path": "displayName", "value": groupDisplay(g.name, v)})
	if len(cur) > 0 && c.rng.IntN(3) == 0 {
		gone := cur[c.rng.IntN(len(cur))]
		ops = append(ops, map[string]any{"op": "remove", "path": `members[value eq "` + gone + `"]`})
		next = slices.DeleteFunc(next, func(id string) bool { return id == gone })
	}
	var add []map[string]any
	for _, i := range c.rng.Perm(len(c.users)) {
		u := c.users[i]
		if len(add) == 2 || u.pending || slices.Contains(next, u.id) {
			continue
		}
		add = append(add, map[string]any{"value": u.id})
		next = append(next, u.id)
	}
	if len(add) > 0 {
		ops = append(ops, map[string]any{"op": "add", "path": "members", "value": add})
	}
	slices.Sort(next)
	g.pending = true
	g.members = append(g.members[:g.version+1], next)
	res, err := send(ctx, hc, http.MethodPatch, scim+"/Groups/"+url.PathEscape(g.id), scimHeader(token), patchOp(ops...))
	if err != nil {
		return res, err
	}
	g.pending = false
	if res.status == http.StatusOK || res.status == http.StatusNoContent {
		g.version = v
		c.counts.groupChanges++
	} else {
		g.members = g.members[:g.version+1]
	}
	return res, nil
}

// verifyDurability reads every resource back from a restarted server and
// checks it against the model; then it makes what it read the model's
// state (a request cut off by the kill resolves one way or the other).
func verifyDurability(t *testing.T, base, token string, m *durabilityModel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	hc := newClient(4)
	defer hc.CloseIdleConnections()
	scim := base + "/scim/v2"
	// get reads one resource, waiting out the token's rate limit (reading a
	// whole directory back takes more than its burst).
	get := func(path string) reply {
		t.Helper()
		for {
			res, err := send(ctx, hc, http.MethodGet, scim+path, scimHeader(token), nil)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			if res.status != http.StatusTooManyRequests {
				return res
			}
			wait, err := strconv.Atoi(res.header.Get("Retry-After"))
			if err != nil || wait < 1 {
				wait = 1
			}
			time.Sleep(time.Duration(wait) * time.Second)
		}
	}
	// find returns the resources that match filter (the first page) and
	// how many there are.
	find := func(kind, filter string) ([]json.RawMessage, int) {
		t.Helper()
		res := get("/" + kind + "?count=100&filter=" + url.QueryEscape(filter))
		var lr struct {
			TotalResults int
			Resources    []json.RawMessage
		}
		if res.status != http.StatusOK || json.Unmarshal(res.body, &lr) != nil {
			t.Fatalf("GET /%s filter %s: %d %s", kind, filter, res.status, res.body)
		}
		return lr.Resources, lr.TotalResults
	}

	users, groups := 0, 0
	for _, c := range m.clients {
		// A create cut off by the kill: there in full, or not at all.
		if name := c.pendingCreate; name != "" {
			found, _ := find("Users", `userName eq "`+name+`"`)
			switch len(found) {
			case 0:
				c.counts.cutNotApplied++
			case 1:
				var u struct{ ID string }
				_ = json.Unmarshal(found[0], &u)
				c.users = append(c.users, &userModel{id: u.ID, userName: name})
				c.counts.cutApplied++
			default:
				t.Errorf("user %s, created once, exists %d times", name, len(found))
			}
			c.pendingCreate = ""
		}
		if name := c.pendingGroup; name != "" {
			found, _ := find("Groups", `displayName eq "`+groupDisplay(name, 0)+`"`)
			switch len(found) {
			case 0:
				c.counts.cutNotApplied++
			case 1:
				var g struct{ ID string }
				_ = json.Unmarshal(found[0], &g)
				c.group = &groupModel{id: g.ID, name: name, members: [][]string{nil}}
				c.counts.cutApplied++
			default:
				t.Errorf("group %s, created once, exists %d times", name, len(found))
			}
			c.pendingGroup = ""
		}
		for _, u := range c.users {
			verifyUser(t, get("/Users/"+url.PathEscape(u.id)), u, &c.counts)
			users++
		}
		if g := c.group; g != nil {
			verifyGroup(t, get("/Groups/"+url.PathEscape(g.id)), g, &c.counts)
			groups++
		}
	}
	// Nothing else: every user and group of the test is one the model knows.
	if _, n := find("Users", `userName sw "rel-"`); n != users {
		t.Errorf("the directory has %d test users, the model %d", n, users)
	}
	if _, n := find("Groups", `displayName sw "rel-group-"`); n != groups {
		t.Errorf("the directory has %d test groups, the model %d", n, groups)
	}
}

// verifyUser checks one user against its model: its version is the one
// acknowledged, or the next if that PATCH got no answer, and every
// attribute is that version's.
func verifyUser(t *testing.T, res reply, u *userModel, counts *durabilityCounts) {
	t.Helper()
	if res.status != http.StatusOK {
		t.Errorf("user %s (%s) is lost: GET answered %d", u.userName, u.id, res.status)
		return
	}
	var got struct {
		UserName    string
		DisplayName string
		Active      bool
		Name        struct{ FamilyName string }
	}
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Errorf("user %s: %v", u.id, err)
		return
	}
	ver, ok := strings.CutPrefix(got.DisplayName, u.userName+" v")
	v, err := strconv.Atoi(ver)
	if !ok || err != nil || got.UserName != u.userName {
		t.Errorf("user %s: userName %q displayName %q: not a version the test wrote", u.id, got.UserName, got.DisplayName)
		return
	}
	switch {
	case v == u.version:
		if u.pending {
			counts.cutNotApplied++
		}
	case v == u.version+1 && u.pending:
		counts.cutApplied++
		u.deactivated = u.pendingDeact
	default:
		t.Errorf("user %s is at version %d; acknowledged %d (a PATCH without answer: %v)", u.userName, v, u.version, u.pending)
		return
	}
	if want := "fam v" + strconv.Itoa(v); got.Name.FamilyName != want {
		t.Errorf("user %s: displayName at version %d but name.familyName %q: a PATCH was half applied", u.userName, v, got.Name.FamilyName)
	}
	if got.Active == u.deactivated {
		t.Errorf("user %s: at version %d active=%v, want %v: a deactivation was half applied or lost", u.userName, v, got.Active, !u.deactivated)
	}
	u.version, u.pending, u.pendingDeact = v, false, false
}

// verifyGroup checks the group against its model: the version acknowledged
// (or the next, if that PATCH got no answer), with exactly that version's
// members.
func verifyGroup(t *testing.T, res reply, g *groupModel, counts *durabilityCounts) {
	t.Helper()
	if res.status != http.StatusOK {
		t.Errorf("group %s (%s) is lost: GET answered %d", g.name, g.id, res.status)
		return
	}
	var got struct {
		DisplayName string
		Members     []struct{ Value string }
	}
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Errorf("group %s: %v", g.id, err)
		return
	}
	ver, ok := strings.CutPrefix(got.DisplayName, g.name+" v")
	v, err := strconv.Atoi(ver)
	if !ok || err != nil {
		t.Errorf("group %s: displayName %q is not a version the test wrote", g.id, got.DisplayName)
		return
	}
	switch {
	case v == g.version:
		if g.pending {
			counts.cutNotApplied++
		}
	case v == g.version+1 && g.pending:
		counts.cutApplied++
	default:
		t.Errorf("group %s is at version %d; acknowledged %d (a PATCH without answer: %v)", g.name, v, g.version, g.pending)
		return
	}
	var members []string
	for _, mem := range got.Members {
		members = append(members, mem.Value)
	}
	slices.Sort(members)
	if want := g.members[v]; !slices.Equal(members, want) {
		t.Errorf("group %s at version %d has members %q, want %q: a membership change was half applied or lost", g.name, v, members, want)
	}
	g.version, g.pending = v, false
	g.members = g.members[:v+1]
}
