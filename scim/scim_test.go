package scim

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/store"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()

	// An admin token of the same organization is the wrong kind.
	adminPlain, admin, err := apitoken.New()
	if err != nil {
		t.Fatal(err)
	}
	admin.OrgID, admin.Kind = h.acme.org, store.TokenAdmin
	if _, err := h.st.CreateToken(ctx, admin, store.AuditEvent{Actor: "operator", Action: "test.setup"}); err != nil {
		t.Fatal(err)
	}
	// A revoked SCIM token.
	revoked := h.newTenant("revoked")
	if err := h.st.RevokeToken(ctx, revoked.org, revoked.tokenID, store.AuditEvent{Actor: "operator", Action: "test.setup"}); err != nil {
		t.Fatal(err)
	}
	// The right ID with a wrong secret.
	id, _, _ := apitoken.Parse(h.acme.token)
	forged := apitoken.Prefix + string(id) + "_" + strings.Repeat("a", 52)

	for _, tt := range []struct {
		name, header string
	}{
		{"no header", ""},
		{"basic scheme", "Basic dXNlcjpwYXNz"},
		{"bearer without token", "Bearer "},
		{"malformed token", "Bearer not-a-token"},
		{"unknown token", "Bearer " + strings.Replace(h.acme.token, string(id), strings.Repeat("b", 26), 1)},
		{"wrong secret", "Bearer " + forged},
		{"revoked", "Bearer " + revoked.token},
		{"admin token", "Bearer " + adminPlain},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.header == "" {
				r = h.do("", http.MethodGet, "/Users", nil)
			} else {
				r = h.do("", http.MethodGet, "/Users", nil, "Authorization", tt.header)
			}
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401: %s", r.status, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			doc := r.json(t)
			if doc["status"] != "401" || !slices.Contains(anyStrings(doc["schemas"]), "urn:ietf:params:scim:api:messages:2.0:Error") {
				t.Errorf("body = %s", r.body)
			}
		})
	}
	t.Run("scheme is case-insensitive", func(t *testing.T) {
		if r := h.do("", http.MethodGet, "/Users", nil, "Authorization", "bearer "+h.acme.token); r.status != http.StatusOK {
			t.Fatalf("status = %d: %s", r.status, r.body)
		}
	})
	t.Run("discovery endpoints need a token too", func(t *testing.T) {
		for _, p := range []string{"/ServiceProviderConfig", "/Schemas", "/ResourceTypes"} {
			if r := h.do("", http.MethodGet, p, nil); r.status != http.StatusUnauthorized {
				t.Errorf("%s without token = %d", p, r.status)
			}
		}
	})
}

func TestStoreDownIs503(t *testing.T) {
	h := newHarness(t)
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	r := h.do(h.acme.token, http.MethodGet, "/Users", nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503: %s", r.status, r.body)
	}
	if doc := r.json(t); doc["status"] != "503" {
		t.Errorf("body = %s", r.body)
	}
}

// TestStoreFailureBodyHasNoSQL breaks the users table under a running server:
// the store's SQL error must reach the log, never the client.
func TestStoreFailureBodyHasNoSQL(t *testing.T) {
	h := newHarness(t)
	h.createUser(h.acme, "bjensen@example.com")
	db, err := sql.Open("sqlite3", h.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE users RENAME TO users_gone`); err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/Users"},
		{http.MethodGet, "/Users?filter=" + url.QueryEscape(`userName eq "bjensen@example.com"`)},
		{http.MethodPost, "/Users"},
	} {
		var body any
		if req.method == http.MethodPost {
			body = map[string]any{"schemas": []string{UserSchemaURI}, "userName": "x@example.com"}
		}
		r := h.do(h.acme.token, req.method, req.path, body, "X-Request-ID", "trace-1234")
		if r.status != http.StatusInternalServerError {
			t.Fatalf("%s %s = %d, want 500: %s", req.method, req.path, r.status, r.body)
		}
		doc := r.json(t)
		if doc["detail"] != "internal error, reference trace-1234" {
			t.Errorf("detail = %v", doc["detail"])
		}
		for _, leak := range []string{"users", "sql", "SQL", "no such table", "store:", "scim: "} {
			if strings.Contains(string(r.body), leak) {
				t.Errorf("%s %s: body %s contains %q", req.method, req.path, r.body, leak)
			}
		}
	}
	if !strings.Contains(h.logs.String(), "trace-1234") {
		t.Error("the cause was not logged with the request ID")
	}
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, harnessOptions{maxBody: 2048})
	big := map[string]any{
		"schemas":     []string{UserSchemaURI},
		"userName":    "big@example.com",
		"displayName": strings.Repeat("x", 4096),
	}
	r := h.do(h.acme.token, http.MethodPost, "/Users", big)
	if r.status != http.StatusRequestEntityTooLarge || r.json(t)["status"] != "413" {
		t.Fatalf("status = %d, want 413: %s", r.status, r.body)
	}
	// Without Content-Length (chunked), the limit still holds.
	req, err := http.NewRequest(http.MethodPost, h.base+"/Users", strings.NewReader(`{"schemas":["`+UserSchemaURI+`"],"userName":"`+strings.Repeat("y", 4096)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+h.acme.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status = %d, want 413", resp.StatusCode)
	}
	if n := h.liveUsers(h.acme); n != 0 {
		t.Errorf("%d users created", n)
	}
	// A body under the limit is fine.
	h.createUser(h.acme, "small@example.com")
}

// TestErrors sends one request per error kind and checks the status, the
// scimType, and that nothing changed.
func TestErrors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	alice := h.createUser(h.acme, "alice@example.com")
	h.createUser(h.acme, "bob@example.com")
	gr := h.do(h.acme.token, http.MethodPost, "/Groups", map[string]any{
		"schemas": []string{GroupSchemaURI}, "displayName": "Engineering",
		"members": []any{map[string]any{"value": alice}},
	})
	if gr.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", gr.status, gr.body)
	}
	group := gr.json(t)["id"].(string)
	before, err := h.st.GetUser(ctx, h.acme.org, store.UserID(alice))
	if err != nil {
		t.Fatal(err)
	}
	groupBefore, err := h.st.GetGroup(ctx, h.acme.org, store.GroupID(group))
	if err != nil {
		t.Fatal(err)
	}

	patch := func(ops ...map[string]any) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
	}
	user := func(userName string) map[string]any {
		return map[string]any{"schemas": []string{UserSchemaURI}, "userName": userName}
	}
	tests := []struct {
		name     string
		method   string
		path     string
		body     any
		header   []string
		status   int
		scimType string
	}{
		{"body is not JSON", http.MethodPost, "/Users", `{"schemas":`, nil, 400, "invalidSyntax"},
		{"no schemas", http.MethodPost, "/Users", map[string]any{"userName": "carol@example.com"}, nil, 400, "invalidSyntax"},
		{"no userName", http.MethodPost, "/Users", map[string]any{"schemas": []string{UserSchemaURI}}, nil, 400, "invalidValue"},
		{"empty userName", http.MethodPost, "/Users", user("  "), nil, 400, "invalidValue"},
		{"active is not a boolean", http.MethodPost, "/Users", map[string]any{"schemas": []string{UserSchemaURI}, "userName": "carol@example.com", "active": "maybe"}, nil, 400, "invalidValue"},
		{"unsupported filter attribute", http.MethodGet, "/Users?filter=" + url.QueryEscape(`title eq "Boss"`), nil, nil, 400, "invalidFilter"},
		{"filter syntax", http.MethodGet, "/Users?filter=" + url.QueryEscape(`userName eq`), nil, nil, 400, "invalidFilter"},
		{"filter on unknown attribute", http.MethodGet, "/Users?filter=" + url.QueryEscape(`shoeSize gt 40`), nil, nil, 400, "invalidFilter"},
		{"group filter on userName", http.MethodGet, "/Groups?filter=" + url.QueryEscape(`userName eq "a"`), nil, nil, 400, "invalidFilter"},
		{"patch path names no attribute", http.MethodPatch, "/Users/" + alice, patch(map[string]any{"op": "replace", "path": "shoeSize", "value": "44"}), nil, 400, "invalidPath"},
		{"patch remove without path", http.MethodPatch, "/Users/" + alice, patch(map[string]any{"op": "remove"}), nil, 400, "noTarget"},
		{"patch value of the wrong type", http.MethodPatch, "/Users/" + alice, patch(map[string]any{"op": "replace", "path": "active", "value": 3}), nil, 400, "invalidValue"},
		{"patch unknown op", http.MethodPatch, "/Users/" + alice, patch(map[string]any{"op": "move", "path": "active", "value": false}), nil, 400, "invalidValue"},
		{"patch without operations", http.MethodPatch, "/Users/" + alice, patch(), nil, 400, "invalidValue"},
		{"get unknown user", http.MethodGet, "/Users/no-such-user", nil, nil, 404, ""},
		{"put unknown user", http.MethodPut, "/Users/no-such-user", user("carol@example.com"), nil, 404, ""},
		{"patch unknown user", http.MethodPatch, "/Users/no-such-user", patch(map[string]any{"op": "replace", "path": "active", "value": false}), nil, 404, ""},
		{"delete unknown user", http.MethodDelete, "/Users/no-such-user", nil, nil, 404, ""},
		{"unknown endpoint", http.MethodGet, "/Devices", nil, nil, 404, ""},
		{"create duplicate userName", http.MethodPost, "/Users", user("ALICE@example.com"), nil, 409, "uniqueness"},
		{"put onto a taken userName", http.MethodPut, "/Users/" + alice, user("Bob@Example.com"), nil, 409, "uniqueness"},
		{"patch onto a taken userName", http.MethodPatch, "/Users/" + alice, patch(map[string]any{"op": "replace", "path": "userName", "value": "bob@example.com"}), nil, 409, "uniqueness"},
		{"put with a stale If-Match", http.MethodPut, "/Users/" + alice, user("alice@example.com"), []string{"If-Match", `W/"999"`}, 412, ""},
		{"patch with a stale If-Match", http.MethodPatch, "/Users/" + alice, patch(map[string]any{"op": "replace", "path": "active", "value": false}), []string{"If-Match", `W/"0"`}, 412, ""},
		{"delete with a stale If-Match", http.MethodDelete, "/Users/" + alice, nil, []string{"If-Match", `"7"`}, 412, ""},
		{"group with an unknown member", http.MethodPost, "/Groups", map[string]any{"schemas": []string{GroupSchemaURI}, "displayName": "Sales", "members": []any{map[string]any{"value": "no-such-user"}}}, nil, 400, "invalidValue"},
		{"group member without value", http.MethodPatch, "/Groups/" + group, patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"display": "x"}}}), nil, 400, "invalidValue"},
		{"group patch adds an unknown member", http.MethodPatch, "/Groups/" + group, patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "no-such-user"}}}), nil, 400, "invalidValue"},
		{"group members filter on display", http.MethodPatch, "/Groups/" + group, patch(map[string]any{"op": "remove", "path": `members[display eq "x"]`}), nil, 400, "invalidPath"},
		{"duplicate group name", http.MethodPost, "/Groups", map[string]any{"schemas": []string{GroupSchemaURI}, "displayName": "ENGINEERING"}, nil, 409, "uniqueness"},
		{"search without its schema", http.MethodPost, "/Users/.search", map[string]any{"filter": `userName eq "a"`}, nil, 400, "invalidValue"},
		{"root query", http.MethodGet, "/?filter=" + url.QueryEscape(`userName eq "a"`), nil, nil, 501, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(h.acme.token, tt.method, tt.path, tt.body, tt.header...)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			doc := r.json(t)
			if doc["status"] != fmt.Sprint(tt.status) {
				t.Errorf("status in body = %v", doc["status"])
			}
			if got, _ := doc["scimType"].(string); got != tt.scimType {
				t.Errorf("scimType = %q, want %q (%s)", got, tt.scimType, r.body)
			}
			after, err := h.st.GetUser(ctx, h.acme.org, store.UserID(alice))
			if err != nil {
				t.Fatal(err)
			}
			if after.Version != before.Version || after.UserName != before.UserName || !after.Active {
				t.Errorf("alice changed: %+v", after)
			}
			groupAfter, err := h.st.GetGroup(ctx, h.acme.org, store.GroupID(group))
			if err != nil {
				t.Fatal(err)
			}
			if groupAfter.Version != groupBefore.Version {
				t.Errorf("group changed")
			}
			if n := h.liveUsers(h.acme); n != 2 {
				t.Errorf("%d users, want 2", n)
			}
			if page, err := h.st.ListGroups(ctx, h.acme.org, store.GroupQuery{}); err != nil || page.Total != 1 {
				t.Errorf("groups: %v %v", page.Total, err)
			}
		})
	}
}

func TestIfMatch(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(h.acme, "alice@example.com")
	get := h.do(h.acme.token, http.MethodGet, "/Users/"+id, nil)
	tag := get.header.Get("Etag")
	if tag != `W/"1"` {
		t.Fatalf("ETag = %q", tag)
	}
	patch := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "Alice"}},
	}
	r := h.do(h.acme.token, http.MethodPatch, "/Users/"+id, patch, "If-Match", tag)
	if r.status != http.StatusOK || r.header.Get("Etag") != `W/"2"` {
		t.Fatalf("PATCH with the current ETag: %d %q %s", r.status, r.header.Get("Etag"), r.body)
	}
	if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+id, patch, "If-Match", tag); r.status != http.StatusPreconditionFailed {
		t.Fatalf("PATCH with the old ETag: %d", r.status)
	}
	if r := h.do(h.acme.token, http.MethodDelete, "/Users/"+id, nil, "If-Match", `W/"2"`); r.status != http.StatusNoContent {
		t.Fatalf("DELETE with the current ETag: %d %s", r.status, r.body)
	}
}

func TestCrossOrganization(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	other := h.newTenant("globex")
	alice := h.createUser(h.acme, "alice@example.com")
	h.createUser(other, "gina@globex.example")
	gr := h.do(other.token, http.MethodPost, "/Groups", map[string]any{"schemas": []string{GroupSchemaURI}, "displayName": "Globex"})
	if gr.status != http.StatusCreated {
		t.Fatalf("create group: %d", gr.status)
	}
	globexGroup := gr.json(t)["id"].(string)
	patch := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}},
	}

	for _, tt := range []struct {
		method, path string
		body         any
		status       int
	}{
		{http.MethodGet, "/Users/" + alice, nil, 404},
		{http.MethodPut, "/Users/" + alice, map[string]any{"schemas": []string{UserSchemaURI}, "userName": "mallory@example.com"}, 404},
		{http.MethodPatch, "/Users/" + alice, patch, 404},
		{http.MethodDelete, "/Users/" + alice, nil, 404},
		{http.MethodPatch, "/Groups/" + globexGroup, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": alice}}}},
		}, 400},
	} {
		if r := h.do(other.token, tt.method, tt.path, tt.body); r.status != tt.status {
			t.Errorf("globex %s %s = %d, want %d: %s", tt.method, tt.path, r.status, tt.status, r.body)
		}
	}
	for _, q := range []string{"/Users", "/Users?filter=" + url.QueryEscape(`userName eq "alice@example.com"`), "/Users?filter=" + url.QueryEscape(`id eq "`+alice+`"`)} {
		r := h.do(other.token, http.MethodGet, q, nil)
		if strings.Contains(string(r.body), alice) || strings.Contains(string(r.body), "alice@") {
			t.Errorf("globex %s sees acme's user: %s", q, r.body)
		}
	}
	if r := h.do(h.acme.token, http.MethodGet, "/Groups/"+globexGroup, nil); r.status != http.StatusNotFound {
		t.Errorf("acme reads globex's group: %d", r.status)
	}
	u, err := h.st.GetUser(ctx, h.acme.org, store.UserID(alice))
	if err != nil || !u.Active || u.DeletedAt != nil || u.Version != 1 {
		t.Errorf("acme's user changed: %+v %v", u, err)
	}
}

func TestDeactivationEndsSessionsAndDeleteKeepsTombstone(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	id := h.createUser(h.acme, "alice@example.com")
	now := time.Now().UTC()
	sess := store.Session{IDHash: []byte("session-hash-0001"), OrgID: h.acme.org, UserID: store.UserID(id), CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
	if err := h.st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	r := h.do(h.acme.token, http.MethodPatch, "/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
	})
	if r.status != http.StatusOK {
		t.Fatalf("deactivate: %d %s", r.status, r.body)
	}
	if _, err := h.st.GetSession(ctx, sess.IDHash); err == nil {
		t.Error("the session survived deactivation")
	}

	if r := h.do(h.acme.token, http.MethodDelete, "/Users/"+id, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	u, err := h.st.GetUser(ctx, h.acme.org, store.UserID(id))
	if err != nil || u.DeletedAt == nil {
		t.Fatalf("no tombstone: %+v %v", u, err)
	}
	if r := h.do(h.acme.token, http.MethodDelete, "/Users/"+id, nil); r.status != http.StatusNotFound {
		t.Errorf("second delete: %d", r.status)
	}
	// The IdP may push the same person again: a new account, the tombstone stays.
	again := h.createUser(h.acme, "alice@example.com")
	if again == id {
		t.Fatal("the tombstone was resurrected")
	}
	if r := h.do(h.acme.token, http.MethodGet, "/Users/"+id, nil); r.status != http.StatusNotFound {
		t.Errorf("GET of the deleted id = %d", r.status)
	}
}

func TestUserNameLookupAndTestConnection(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(h.acme, "Barbara.Jensen@Example.com")
	r := h.do(h.acme.token, http.MethodGet, "/Users?filter="+url.QueryEscape(`userName eq "barbara.jensen@example.COM"`)+"&startIndex=1&count=100", nil)
	doc := r.json(t)
	if r.status != http.StatusOK || doc["totalResults"] != float64(1) {
		t.Fatalf("case-insensitive userName eq: %d %s", r.status, r.body)
	}
	if res := doc["Resources"].([]any); res[0].(map[string]any)["id"] != id {
		t.Errorf("found %v", res[0])
	}
	for _, f := range []string{`userName eq "0f3c2b9e-5f42-4b8e-9e39-3c52f8f6a0d1"`, `externalId eq "0f3c2b9e-5f42-4b8e-9e39-3c52f8f6a0d1"`} {
		r := h.do(h.acme.token, http.MethodGet, "/Users?filter="+url.QueryEscape(f), nil)
		doc := r.json(t)
		if r.status != http.StatusOK || doc["totalResults"] != float64(0) || len(anySlice(doc["Resources"])) != 0 {
			t.Errorf("Test Connection %s: %d %s", f, r.status, r.body)
		}
	}
}

func TestPaginationIsStable(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, h.createUser(h.acme, fmt.Sprintf("user%d@example.com", i)))
	}
	var seen []string
	for start := 1; start <= 7; start += 3 {
		r := h.do(h.acme.token, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=3", start), nil)
		doc := r.json(t)
		if doc["totalResults"] != float64(7) || doc["startIndex"] != float64(start) {
			t.Fatalf("page at %d: %s", start, r.body)
		}
		for _, res := range anySlice(doc["Resources"]) {
			seen = append(seen, res.(map[string]any)["id"].(string))
		}
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("pages = %v, want creation order %v", seen, ids)
	}
	// count=0 returns only the total; itemsPerPage is the page's size.
	if doc := h.do(h.acme.token, http.MethodGet, "/Users?count=0", nil).json(t); doc["totalResults"] != float64(7) || len(anySlice(doc["Resources"])) != 0 || doc["itemsPerPage"] != float64(0) {
		t.Errorf("count=0: %v", doc)
	}
	if doc := h.do(h.acme.token, http.MethodGet, "/Users?count=100000", nil).json(t); doc["itemsPerPage"] != float64(7) || len(anySlice(doc["Resources"])) != 7 {
		t.Errorf("count=100000: itemsPerPage %v, %d resources", doc["itemsPerPage"], len(anySlice(doc["Resources"])))
	}
	// Without count, a page has DefaultPageSize resources.
	ctx := context.Background()
	for i := range DefaultPageSize {
		name := fmt.Sprintf("bulk%03d@example.com", i)
		u := store.User{OrgID: h.acme.org, UserName: name, Active: true, Role: "Member", Source: store.SourceSCIM, ConnectionID: h.acme.conn, Resource: []byte(`{"userName":"` + name + `"}`)}
		if _, err := h.st.CreateUser(ctx, u, store.AuditEvent{Actor: "operator", Action: "test.setup"}); err != nil {
			t.Fatal(err)
		}
	}
	doc := h.do(h.acme.token, http.MethodGet, "/Users", nil).json(t)
	if doc["totalResults"] != float64(7+DefaultPageSize) || len(anySlice(doc["Resources"])) != DefaultPageSize || doc["itemsPerPage"] != float64(DefaultPageSize) {
		t.Errorf("no count: total %v, itemsPerPage %v, %d resources", doc["totalResults"], doc["itemsPerPage"], len(anySlice(doc["Resources"])))
	}
}

func TestSearchAndAttributes(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(h.acme, "alice@example.com")
	h.createUser(h.acme, "bob@example.com")
	r := h.do(h.acme.token, http.MethodPost, "/Users/.search", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
		"filter":     `id eq "` + id + `" or meta.lastModified lt "2000-01-01T00:00:00Z"`,
		"attributes": []string{"userName"},
		"startIndex": 1,
		"count":      10,
	})
	if r.status != http.StatusOK {
		t.Fatalf(".search: %d %s", r.status, r.body)
	}
	doc := r.json(t)
	res := anySlice(doc["Resources"])
	if doc["totalResults"] != float64(1) || len(res) != 1 {
		t.Fatalf(".search: %s", r.body)
	}
	got := res[0].(map[string]any)
	if got["id"] != id || got["userName"] != "alice@example.com" || got["meta"] == nil || got["schemas"] == nil {
		t.Errorf("projected resource lacks always-returned attributes: %v", got)
	}
	if _, ok := got["emails"]; ok {
		t.Errorf("attributes=userName returned emails: %v", got)
	}
	// excludedAttributes on a list; the default attributes stay.
	doc = h.do(h.acme.token, http.MethodGet, "/Users?excludedAttributes=emails,name", nil).json(t)
	for _, e := range anySlice(doc["Resources"]) {
		m := e.(map[string]any)
		if m["emails"] != nil || m["name"] != nil || m["userName"] == nil || m["id"] == nil {
			t.Errorf("excludedAttributes: %v", m)
		}
	}
}

func TestDiscovery(t *testing.T) {
	h := newHarness(t)
	spc := h.do(h.acme.token, http.MethodGet, "/ServiceProviderConfig", nil).json(t)
	want := map[string]bool{"patch": true, "bulk": false, "filter": true, "changePassword": false, "sort": false, "etag": true}
	for k, v := range want {
		m, _ := spc[k].(map[string]any)
		if m["supported"] != v {
			t.Errorf("%s.supported = %v, want %v", k, m["supported"], v)
		}
	}
	if f := spc["filter"].(map[string]any); f["maxResults"] != float64(MaxPageSize) {
		t.Errorf("filter.maxResults = %v", f["maxResults"])
	}
	schemes := anySlice(spc["authenticationSchemes"])
	if len(schemes) != 1 || schemes[0].(map[string]any)["type"] != "oauthbearertoken" {
		t.Errorf("authenticationSchemes = %v", schemes)
	}

	schemas := h.do(h.acme.token, http.MethodGet, "/Schemas", nil).json(t)
	var ids []string
	for _, s := range anySlice(schemas["Resources"]) {
		ids = append(ids, s.(map[string]any)["id"].(string))
	}
	for _, want := range []string{UserSchemaURI, EnterpriseUserSchemaURI, GroupSchemaURI} {
		if !slices.Contains(ids, want) {
			t.Errorf("/Schemas lacks %s: %v", want, ids)
		}
	}
	rts := h.do(h.acme.token, http.MethodGet, "/ResourceTypes", nil).json(t)
	if rts["totalResults"] != float64(2) {
		t.Errorf("/ResourceTypes: %v", rts)
	}
}

// TestQuirksAreNeeded replays each vendor shape the normalisation rewrites
// against elimity alone (it must refuse it, else the rewrite is needless) and
// through the full handler (it must succeed); and each shape the normalisation
// deliberately leaves alone against elimity alone (it must succeed).
func TestQuirksAreNeeded(t *testing.T) {
	patchOp := func(ops ...any) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
	}
	type request struct {
		method, path string // path may hold {user}
		body         any
	}
	rewritten := []struct {
		name string
		req  request
	}{
		{"entra string boolean", request{http.MethodPatch, "/Users/{user}", patchOp(map[string]any{"op": "Replace", "path": "active", "value": "False"})}},
		{"entra string boolean in create", request{http.MethodPost, "/Users", map[string]any{"schemas": []string{UserSchemaURI}, "userName": "sb@example.com", "active": "True"}}},
		{"entra manager as bare path with a list", request{http.MethodPatch, "/Users/{user}", patchOp(map[string]any{"op": "Add", "path": "manager", "value": []any{map[string]any{"$ref": nil, "value": "m1"}}})}},
		{"entra manager as bare id on the URN path", request{http.MethodPatch, "/Users/{user}", patchOp(map[string]any{"op": "Add", "path": EnterpriseUserSchemaURI + ":manager", "value": "271"})}},
		{"entra unquoted filter value", request{http.MethodGet, "/Users?filter=" + url.QueryEscape("externalId eq jyoung"), nil}},
		{"entra value-path filter with a sub-attribute", request{http.MethodGet, "/Users?filter=" + url.QueryEscape(`emails[type eq "work"].value eq "a@example.com"`), nil}},
	}
	accepted := []struct {
		name string
		req  request
	}{
		{"capitalised ops", request{http.MethodPatch, "/Users/{user}", patchOp(map[string]any{"op": "Replace", "path": "displayName", "value": "X"})}},
		{"explicit nulls on create", request{http.MethodPost, "/Users", map[string]any{"schemas": []string{UserSchemaURI, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"}, "userName": "jy@example.com", "addresses": nil, "title": nil, "manager": nil, "department": nil, "phoneNumbers": nil}}},
		{"microsoft schema URI on group create", request{http.MethodPost, "/Groups", map[string]any{"schemas": []string{GroupSchemaURI, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"}, "displayName": "G", "externalId": "e1"}}},
		{"okta read-only id in a no-path value", request{http.MethodPatch, "/Users/{user}", patchOp(map[string]any{"op": "replace", "value": map[string]any{"id": "whatever", "displayName": "Y"}})}},
		{"okta password and groups on create", request{http.MethodPost, "/Users", map[string]any{"schemas": []string{UserSchemaURI}, "userName": "ok@example.com", "password": "1mz050nq", "groups": []any{}}}},
		{"entra remove members by value", request{http.MethodPatch, "/Groups/{group}", patchOp(map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": "{user}"}}})}},
	}
	send := func(h *harness, req request) response {
		user := h.createUser(h.acme, fmt.Sprintf("u%d@example.com", time.Now().UnixNano()))
		g := h.do(h.acme.token, http.MethodPost, "/Groups", map[string]any{"schemas": []string{GroupSchemaURI}, "displayName": fmt.Sprintf("g%d", time.Now().UnixNano())})
		group, _ := g.json(h.t)["id"].(string)
		path := strings.NewReplacer("{user}", user, "{group}", group).Replace(req.path)
		body := req.body
		if body != nil {
			raw := fmt.Sprint(mustJSON(h.t, body))
			body = strings.NewReplacer("{user}", user, "{group}", group).Replace(raw)
		}
		return h.do(h.acme.token, req.method, path, body)
	}
	raw := newHarness(t, harnessOptions{rawQuirks: true})
	full := newHarness(t)
	for _, tt := range rewritten {
		t.Run("rewritten/"+tt.name, func(t *testing.T) {
			if r := send(raw, tt.req); r.status != http.StatusBadRequest {
				t.Errorf("elimity alone answered %d, want 400 (is the rewrite still needed?): %s", r.status, r.body)
			}
			if r := send(full, tt.req); r.status >= 300 {
				t.Errorf("with normalisation: %d %s", r.status, r.body)
			}
		})
	}
	for _, tt := range accepted {
		t.Run("accepted/"+tt.name, func(t *testing.T) {
			if r := send(raw, tt.req); r.status >= 300 {
				t.Errorf("elimity alone answered %d: %s", r.status, r.body)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func anyStrings(v any) []string {
	var out []string
	for _, e := range anySlice(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestPasswordIsNeverStoredNorReturned(t *testing.T) {
	h := newHarness(t)
	r := h.do(h.acme.token, http.MethodPost, "/Users", map[string]any{
		"schemas": []string{UserSchemaURI}, "userName": "pw@example.com", "password": "s3cret-Placeholder",
	})
	if r.status != http.StatusCreated || strings.Contains(string(r.body), "s3cret") {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	patch := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "password", "value": "an0ther-Secret"}},
	}
	if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+id, patch); r.status != http.StatusOK || strings.Contains(string(r.body), "an0ther") {
		t.Fatalf("patch password: %d %s", r.status, r.body)
	}
	put := map[string]any{"schemas": []string{UserSchemaURI}, "userName": "pw@example.com", "password": "th1rd-Secret"}
	if r := h.do(h.acme.token, http.MethodPut, "/Users/"+id, put); r.status != http.StatusOK || strings.Contains(string(r.body), "th1rd") {
		t.Fatalf("put password: %d %s", r.status, r.body)
	}
	u, err := h.st.GetUser(context.Background(), h.acme.org, store.UserID(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"s3cret", "an0ther", "th1rd", "password"} {
		if strings.Contains(string(u.Resource), s) {
			t.Errorf("stored resource contains %q: %s", s, u.Resource)
		}
		if strings.Contains(h.logs.String(), s+"-") {
			t.Errorf("log contains %q", s)
		}
	}
}

// TestConcurrentPatches races PATCHes of one user: every one must succeed
// (the handler re-reads and retries when the record changed under it) and
// every change must be counted in the version.
func TestConcurrentPatches(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(h.acme, "race@example.com")
	const n = 8
	statuses := make(chan int, n)
	for i := range n {
		go func() {
			body := map[string]any{
				"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": fmt.Sprintf("title %d", i)}},
			}
			raw, _ := jsonMarshal(body)
			req, _ := http.NewRequest(http.MethodPatch, h.base+"/Users/"+id, strings.NewReader(string(raw)))
			req.Header.Set("Authorization", "Bearer "+h.acme.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range n {
		if s := <-statuses; s != http.StatusOK {
			t.Errorf("a concurrent PATCH answered %d", s)
		}
	}
	u, err := h.st.GetUser(context.Background(), h.acme.org, store.UserID(id))
	if err != nil {
		t.Fatal(err)
	}
	if u.Version != 1+n {
		t.Errorf("version = %d, want %d", u.Version, 1+n)
	}

	// Concurrent member additions to one group all land.
	g := h.do(h.acme.token, http.MethodPost, "/Groups", map[string]any{"schemas": []string{GroupSchemaURI}, "displayName": "Racers"})
	group := g.json(t)["id"].(string)
	var users []string
	for i := range n {
		users = append(users, h.createUser(h.acme, fmt.Sprintf("racer%d@example.com", i)))
	}
	for _, uid := range users {
		go func() {
			body := map[string]any{
				"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": uid}}}},
			}
			raw, _ := jsonMarshal(body)
			req, _ := http.NewRequest(http.MethodPatch, h.base+"/Groups/"+group+"?excludedAttributes=members", strings.NewReader(string(raw)))
			req.Header.Set("Authorization", "Bearer "+h.acme.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range n {
		if s := <-statuses; s != http.StatusOK {
			t.Errorf("a concurrent group PATCH answered %d", s)
		}
	}
	members, err := h.st.ListMembers(context.Background(), h.acme.org, store.GroupID(group))
	if err != nil || len(members) != n {
		t.Errorf("%d members, want %d (%v)", len(members), n, err)
	}
}
