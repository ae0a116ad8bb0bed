package admin_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/onramp-dev/onramp/admin"
)

// TestOpenAPIMatchesRoutes checks that every route registered under /api/v1
// (the admin API's and the session API's, as `onramp serve` registers them)
// is in openapi.json, and every documented operation is a registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := newHarness(t)
	doc, err := openapi3.NewLoader().LoadFromData(admin.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	registered := map[string]bool{}
	for _, r := range h.echo.Routes() {
		rest, ok := strings.CutPrefix(r.Path, admin.Prefix+"/")
		if !ok {
			continue
		}
		registered[r.Method+" /"+param.ReplaceAllString(rest, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for k := range registered {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for k := range documented {
		if !registered[k] {
			t.Errorf("openapi.json documents %s, which is not a route", k)
		}
	}
	if len(registered) < 25 {
		t.Errorf("only %d routes under %s: %v", len(registered), admin.Prefix, registered)
	}

	// The document is served.
	resp := h.do(t, h.none, http.MethodGet, "/openapi.json", nil).want(t, http.StatusOK)
	if !strings.Contains(string(resp.body), `"openapi": "3.0.3"`) {
		t.Errorf("served document starts %.100s", resp.body)
	}
}

// TestAuthMatrix checks who may do what: only an Admin of the organization
// (admin token or Admin session), everyone else is refused, with 401 for no
// or invalid credentials, 403 for known callers who are not Admins, and 404
// for another organization, existing or not.
func TestAuthMatrix(t *testing.T) {
	h := newHarness(t)
	body := map[string]any{"jit": map[string]bool{"emailDomains": true}, "accessControl": map[string]any{"emailDomains": []string{"acme-corp.com"}}}
	tests := []struct {
		c         cred
		org       string
		get, put  int
		wantWrite bool
	}{
		{h.none, "acme", 401, 401, false},
		{cred{name: "garbage bearer", bearer: "nope"}, "acme", 401, 401, false},
		{cred{name: "basic auth", bearer: ""}, "acme", 401, 401, false},
		{h.revokedToken, "acme", 401, 401, false},
		{h.scimToken, "acme", 403, 403, false},
		{h.memberSession, "acme", 403, 403, false},
		{h.otherAdminSession, "acme", 404, 404, false},
		{h.otherAdminToken, "acme", 404, 404, false},
		{h.adminToken, "nonexistent", 404, 404, false},
		{h.adminSession, "other", 404, 404, false},
		{h.adminToken, "acme", 200, 200, true},
		{h.adminSession, "acme", 200, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.c.name+" on "+tt.org, func(t *testing.T) {
			before := len(h.events(t, h.acme, admin.AuditOnboardingUpdated))
			path := "/orgs/" + tt.org + "/onboarding"
			var hdr []string
			if tt.c.name == "basic auth" {
				hdr = []string{"Authorization", "Basic YWRhOnB3"}
			}
			if r := h.do(t, tt.c, http.MethodGet, path, nil, hdr...); r.status != tt.get {
				t.Errorf("GET: %d, want %d (%s)", r.status, tt.get, r.body)
			}
			r := h.do(t, tt.c, http.MethodPut, path, body, hdr...)
			if r.status != tt.put {
				t.Errorf("PUT: %d, want %d (%s)", r.status, tt.put, r.body)
			}
			if r.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			evs := h.events(t, h.acme, admin.AuditOnboardingUpdated)
			if wrote := len(evs) > before; wrote != tt.wantWrite {
				t.Errorf("wrote an audit event: %v, want %v", wrote, tt.wantWrite)
			}
			if tt.wantWrite {
				if got, want := evs[0].Actor, h.actorOf(t, tt.c); got != want {
					t.Errorf("audit actor %q, want %q", got, want)
				}
				// Reset, so that the next row's PUT changes something again.
				h.do(t, tt.c, http.MethodPut, path, map[string]any{"jit": map[string]bool{}, "accessControl": map[string]any{}}).want(t, http.StatusOK)
			}
		})
	}
	// Every organization operation is behind the same check.
	for _, r := range h.echo.Routes() {
		if !strings.HasPrefix(r.Path, admin.Prefix+"/orgs/") {
			continue
		}
		path := strings.TrimPrefix(r.Path, admin.Prefix)
		path = strings.NewReplacer(":org", "acme", ":conn", "okta", ":token", "t", ":user", "u", ":group", "g").Replace(path)
		if got := h.do(t, h.none, r.Method, path, nil).status; got != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d, want 401", r.Method, path, got)
		}
		if got := h.do(t, h.memberSession, r.Method, path, nil).status; got != http.StatusForbidden {
			t.Errorf("%s %s as a Member: %d, want 403", r.Method, path, got)
		}
	}
}

// TestCSRF checks that a cookie-authenticated change needs the session's CSRF
// token, and that bearer-token requests do not.
func TestCSRF(t *testing.T) {
	h := newHarness(t)
	body := map[string]any{"jit": map[string]bool{"ssoConnections": true}, "accessControl": map[string]any{"ssoConnections": []string{"okta"}}}
	noToken := h.adminSession
	noToken.csrf = false
	r := h.do(t, noToken, http.MethodPut, "/orgs/acme/onboarding", body).want(t, http.StatusForbidden)
	if e := r.errorBody(t); !strings.Contains(e.Error, "CSRF") {
		t.Errorf("error %q does not mention CSRF", e.Error)
	}
	h.do(t, noToken, http.MethodPut, "/orgs/acme/onboarding", body, admin.CSRFHeader, "forged").want(t, http.StatusForbidden)
	// Another session's token does not do either.
	other := h.session(t, h.adminUser)
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(other)
	h.do(t, noToken, http.MethodPut, "/orgs/acme/onboarding", body, admin.CSRFHeader, admin.CSRFToken(req)).want(t, http.StatusForbidden)
	if o := h.getOrg(t, h.acme); o.Onboarding.JITSSOConnections || len(h.events(t, h.acme, admin.AuditOnboardingUpdated)) != 0 {
		t.Fatalf("a refused request wrote: %+v", o)
	}
	// Safe methods need no token.
	h.do(t, noToken, http.MethodGet, "/orgs/acme/onboarding", nil).want(t, http.StatusOK)

	// The token as the API hands it out works.
	var tok struct{ CSRFToken, Header string }
	h.do(t, noToken, http.MethodGet, "/csrf-token", nil).want(t, http.StatusOK).decode(t, &tok)
	if tok.Header != admin.CSRFHeader || tok.CSRFToken == "" {
		t.Fatalf("csrf-token answer %+v", tok)
	}
	h.do(t, noToken, http.MethodPut, "/orgs/acme/onboarding", body, admin.CSRFHeader, tok.CSRFToken).want(t, http.StatusOK)
	if !h.getOrg(t, h.acme).Onboarding.JITSSOConnections {
		t.Error("the change with the CSRF token was not saved")
	}
	// Bearer requests are exempt, and have no CSRF token to ask for.
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/access-control", map[string]any{"emailDomains": []string{"acme.com"}}).want(t, http.StatusOK)
	h.do(t, h.adminToken, http.MethodGet, "/csrf-token", nil).want(t, http.StatusUnauthorized)
	h.do(t, h.none, http.MethodGet, "/csrf-token", nil).want(t, http.StatusUnauthorized)
}

// TestSessionEnds checks that a session stops working when its user is
// deactivated or demoted.
func TestSessionEnds(t *testing.T) {
	h := newHarness(t)
	h.do(t, h.adminSession, http.MethodGet, "/orgs/acme/users", nil).want(t, http.StatusOK)
	demote(t, h, "Member")
	h.do(t, h.adminSession, http.MethodGet, "/orgs/acme/users", nil).want(t, http.StatusForbidden)
	demote(t, h, "admin") // any spelling of Admin is the Admin role
	h.do(t, h.adminSession, http.MethodGet, "/orgs/acme/users", nil).want(t, http.StatusOK)
	deactivate(t, h)
	h.do(t, h.adminSession, http.MethodGet, "/orgs/acme/users", nil).want(t, http.StatusUnauthorized)
	if !slices.Contains([]int{401}, h.do(t, h.adminSession, http.MethodGet, "/csrf-token", nil).status) {
		t.Error("csrf-token after deactivation is not 401")
	}
}
