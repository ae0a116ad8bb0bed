package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// fixture is a recorded request/response sequence in testdata/scim/<vendor>/
// (format: testdata/scim/okta/README.md).
type fixture struct {
	Description string `json:"description"`
	Source      string `json:"source"`
	Steps       []step `json:"steps"`
}

type step struct {
	Name    string `json:"name"`
	Request struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
		Absent  []string          `json:"absent"`
	} `json:"response"`
	Capture map[string]string `json:"capture"`
	Store   []storeCheck      `json:"store"`
}

// storeCheck states what the store must hold after a step.
type storeCheck struct {
	User        string    `json:"user"`
	Group       string    `json:"group"`
	UserName    *string   `json:"userName"`
	DisplayName *string   `json:"displayName"`
	Email       *string   `json:"email"`
	Active      *bool     `json:"active"`
	Deleted     *bool     `json:"deleted"`
	Members     *[]string `json:"members"`
	Users       *int      `json:"users"`
	Groups      *int      `json:"groups"`
	Audit       string    `json:"audit"`
}

var placeholder = regexp.MustCompile(`\{\{([A-Za-z0-9_]+)\}\}`)

func TestReplay(t *testing.T) {
	for _, vendor := range []string{"okta", "entra"} {
		t.Run(vendor, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join("..", "testdata", "scim", vendor, "*.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Fatalf("no fixtures in testdata/scim/%s", vendor)
			}
			for _, file := range files {
				t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
					replay(t, loadFixture(t, file))
				})
			}
		})
	}
}

func loadFixture(t *testing.T, file string) fixture {
	t.Helper()
	raw, err := readFile(file)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	var f fixture
	if err := d.Decode(&f); err != nil {
		t.Fatalf("fixture %s: %v", file, err)
	}
	if f.Source == "" || f.Description == "" || len(f.Steps) == 0 {
		t.Fatalf("fixture %s needs a description, a source and steps", file)
	}
	for i, s := range f.Steps {
		if s.Name == "" || s.Request.Method == "" || s.Request.Path == "" || s.Response.Status == 0 {
			t.Fatalf("fixture %s step %d: name, request.method, request.path and response.status are required", file, i)
		}
	}
	return f
}

func replay(t *testing.T, f fixture) {
	h := newHarness(t)
	vars := map[string]string{"base": h.base}
	for i, s := range f.Steps {
		where := fmt.Sprintf("step %d (%s)", i, s.Name)
		path := substitute(t, where, s.Request.Path, vars)
		var body any
		if len(s.Request.Body) > 0 && string(s.Request.Body) != "null" {
			body = []byte(substitute(t, where, string(s.Request.Body), vars))
		}
		var header []string
		for k, v := range s.Request.Headers {
			header = append(header, k, substitute(t, where, v, vars))
		}
		r := h.do(h.acme.token, s.Request.Method, path, body, header...)
		if r.status != s.Response.Status {
			t.Fatalf("%s: %s %s = %d, want %d: %s", where, s.Request.Method, path, r.status, s.Response.Status, r.body)
		}
		var got any
		if len(r.body) > 0 {
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("%s: response is not JSON: %v: %s", where, err, r.body)
			}
		}
		for name, p := range s.Capture {
			v, ok := lookupPath(got, p)
			str, isStr := v.(string)
			if !ok || !isStr || str == "" {
				t.Fatalf("%s: capture %s: no string at %q in %s", where, name, p, r.body)
			}
			vars[name] = str
		}
		for k, v := range s.Response.Headers {
			want := substitute(t, where, v, vars)
			if gotH := r.header.Get(k); gotH != want {
				t.Errorf("%s: header %s = %q, want %q", where, k, gotH, want)
			}
		}
		if len(s.Response.Body) > 0 {
			var want any
			if err := json.Unmarshal([]byte(substitute(t, where, string(s.Response.Body), vars)), &want); err != nil {
				t.Fatalf("%s: expected body: %v", where, err)
			}
			for _, problem := range match("", want, got) {
				t.Errorf("%s: %s\nbody: %s", where, problem, r.body)
			}
		}
		for _, p := range s.Response.Absent {
			if v, ok := lookupPath(got, p); ok {
				t.Errorf("%s: %s should be absent, is %v", where, p, v)
			}
		}
		for _, c := range s.Store {
			checkStore(t, h, where, c, vars)
		}
		if t.Failed() {
			t.FailNow() // later steps depend on this one
		}
	}
	assertNoSecretsLogged(t, h)
}

// substitute replaces {{name}} with captured values; {{any}} stays (it matches
// any value in expected bodies). An unknown name is a broken fixture.
func substitute(t *testing.T, where, s string, vars map[string]string) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-2]
		if name == "any" {
			return m
		}
		v, ok := vars[name]
		if !ok {
			t.Fatalf("%s: placeholder %s is not captured yet", where, m)
		}
		return v
	})
}

// match reports how got differs from the expected fragment want: objects need
// the expected keys (null: absent or null), lists match element by element and
// in full, "{{any}}" matches any value.
func match(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %v", path, got)}
		}
		var problems []string
		for k, wv := range w {
			gv, present := g[k]
			if wv == nil {
				if present && gv != nil {
					problems = append(problems, fmt.Sprintf("%s/%s: want null or absent, got %v", path, k, gv))
				}
				continue
			}
			if !present {
				problems = append(problems, fmt.Sprintf("%s/%s: missing", path, k))
				continue
			}
			problems = append(problems, match(path+"/"+k, wv, gv)...)
		}
		return problems
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %d elements, got %v", path, len(w), got)}
		}
		var problems []string
		for i := range w {
			problems = append(problems, match(path+"/"+strconv.Itoa(i), w[i], g[i])...)
		}
		return problems
	case string:
		if w == "{{any}}" {
			if got == nil {
				return []string{fmt.Sprintf("%s: want a value", path)}
			}
			return nil
		}
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: want %v, got %v", path, want, got)}
	}
	return nil
}

// lookupPath follows a "/"-separated path (object keys, list indexes).
func lookupPath(doc any, p string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(p, "/") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func checkStore(t *testing.T, h *harness, where string, c storeCheck, vars map[string]string) {
	t.Helper()
	ctx := context.Background()
	org := h.acme.org
	sub := func(s string) string { return substitute(t, where, s, vars) }
	if c.User != "" {
		id := store.UserID(sub(c.User))
		u, err := h.st.GetUser(ctx, org, id)
		if err != nil {
			t.Fatalf("%s: store: get user %s: %v", where, id, err)
		}
		if c.UserName != nil && u.UserName != *c.UserName {
			t.Errorf("%s: store: userName = %q, want %q", where, u.UserName, *c.UserName)
		}
		if c.DisplayName != nil && u.DisplayName != *c.DisplayName {
			t.Errorf("%s: store: displayName = %q, want %q", where, u.DisplayName, *c.DisplayName)
		}
		if c.Email != nil && u.PrimaryEmail() != *c.Email {
			t.Errorf("%s: store: email = %q, want %q", where, u.PrimaryEmail(), *c.Email)
		}
		if c.Active != nil && u.Active != *c.Active {
			t.Errorf("%s: store: active = %v, want %v", where, u.Active, *c.Active)
		}
		if c.Deleted != nil && (u.DeletedAt != nil) != *c.Deleted {
			t.Errorf("%s: store: deleted = %v, want %v", where, u.DeletedAt != nil, *c.Deleted)
		}
		if u.DeletedAt == nil && (u.Source != store.SourceSCIM || u.ConnectionID != h.acme.conn) {
			t.Errorf("%s: store: source %q connection %q, want scim and the token's", where, u.Source, u.ConnectionID)
		}
		if c.Audit != "" {
			evs, err := h.st.ListEvents(ctx, org, store.AuditQuery{Action: c.Audit, UserID: id})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(evs, func(e store.AuditEvent) bool {
				return e.Actor == "token:"+string(h.acme.tokenID) && e.ConnectionID == h.acme.conn
			}) {
				t.Errorf("%s: store: no %s event by the token for user %s: %+v", where, c.Audit, id, evs)
			}
		}
	}
	if c.Group != "" {
		id := store.GroupID(sub(c.Group))
		g, err := h.st.GetGroup(ctx, org, id)
		switch deleted := c.Deleted != nil && *c.Deleted; {
		case deleted && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: store: group %s still there (%v)", where, id, err)
		case !deleted && err != nil:
			t.Fatalf("%s: store: get group %s: %v", where, id, err)
		}
		if c.DisplayName != nil && g.DisplayName != *c.DisplayName {
			t.Errorf("%s: store: group displayName = %q, want %q", where, g.DisplayName, *c.DisplayName)
		}
		if c.Members != nil {
			members, err := h.st.ListMembers(ctx, org, id)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, m := range members {
				got = append(got, string(m.UserID))
			}
			want := []string{}
			for _, m := range *c.Members {
				want = append(want, sub(m))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: store: members = %v, want %v", where, got, want)
			}
		}
		if c.Audit != "" {
			evs, err := h.st.ListEvents(ctx, org, store.AuditQuery{Action: c.Audit})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(evs, func(e store.AuditEvent) bool {
				return e.GroupID == id && e.Actor == "token:"+string(h.acme.tokenID)
			}) {
				t.Errorf("%s: store: no %s event by the token for group %s", where, c.Audit, id)
			}
		}
	}
	if c.Users != nil {
		if n := h.liveUsers(h.acme); n != *c.Users {
			t.Errorf("%s: store: %d live users, want %d", where, n, *c.Users)
		}
	}
	if c.Groups != nil {
		page, err := h.st.ListGroups(ctx, org, store.GroupQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != *c.Groups {
			t.Errorf("%s: store: %d groups, want %d", where, page.Total, *c.Groups)
		}
	}
}

// assertNoSecretsLogged checks that neither the bearer token's secret nor any
// password sent in a fixture reached the log.
func assertNoSecretsLogged(t *testing.T, h *harness) {
	t.Helper()
	logs := h.logs.String()
	_, secret, _ := strings.Cut(strings.TrimPrefix(h.acme.token, "onramp_"), "_")
	for _, s := range []string{secret, "1mz050nq", "8hq2b1xz"} {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the log contains a secret (%q)", s)
		}
	}
}
