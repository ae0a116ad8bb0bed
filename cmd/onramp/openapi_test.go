package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/metrics"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// TestEveryAPIRouteIsDocumented builds the handler of `onramp serve` as it
// runs (every package's routes, email sign-in included) and checks that the
// routes under /api/v1 are exactly the operations openapi.json documents:
// packages other than admin (emaillogin's invitations and domain routes)
// register endpoints there too. It also checks that the console got the
// email sign-in's invitations.
func TestEveryAPIRouteIsDocumented(t *testing.T) {
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "onramp.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m, err := metrics.New(prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	c := &serveCmd{BaseURL: "http://onramp.test", metrics: m}
	h, _, err := c.handler(&env{ctx: ctx, stdout: io.Discard, stderr: io.Discard, logger: logger}, st)
	if err != nil {
		t.Fatal(err)
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(admin.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for k := range item {
			if slices.Contains(methods, k) {
				documented[strings.ToUpper(k)+" "+path] = true
			}
		}
	}
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	registered := map[string]bool{}
	var console []string
	for _, r := range h.Routes() {
		if rest, ok := strings.CutPrefix(r.Path, admin.Prefix+"/"); ok {
			registered[r.Method+" /"+param.ReplaceAllString(rest, "{$1}")] = true
		}
		if strings.HasPrefix(r.Path, "/admin/") {
			console = append(console, r.Method+" "+r.Path)
		}
	}
	for k := range registered {
		if !documented[k] {
			t.Errorf("onramp serve registers %s (under %s), which openapi.json does not document", k, admin.Prefix)
		}
	}
	for k := range documented {
		if !registered[k] {
			t.Errorf("openapi.json documents %s, which onramp serve does not register", k)
		}
	}
	for _, k := range []string{"POST /orgs/{org}/invitations", "PUT /orgs/{org}/domain-routes/{domain}"} {
		if !registered[k] {
			t.Errorf("onramp serve does not register %s", k)
		}
	}
	for _, k := range []string{"GET /admin/:org/users/invitations", "POST /admin/:org/users/invitations/:invitation/revoke"} {
		if !slices.Contains(console, k) {
			t.Errorf("the console has no %s (is the email sign-in passed to it?)", k)
		}
	}
}
