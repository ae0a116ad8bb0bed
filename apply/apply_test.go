package apply_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/apply"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// openStore opens a new SQLite store in a temporary directory.
func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return st
}

// writeFiles writes files into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func metadata(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "idp-metadata.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const acmeYAML = `organizations:
  - slug: acme
    name: Acme Corp
    onboarding:
      jit: { emailDomains: true, ssoConnections: true }
      accessControl:
        emailDomains: [Acme-Corp.COM, acme.example]
        ssoConnections: [okta]
    connections:
      - slug: okta
        name: Okta
        idp: { metadataFile: idp/okta.xml }
        authentication: { jitProvisioning: true, allowIdpInitiated: false }
        mapping: { preset: okta }
      - slug: entra
        name: Entra
        mapping: { preset: entra }
`

func load(t *testing.T, dir string) *apply.Config {
	t.Helper()
	cfg, err := apply.Load(filepath.Join(dir, "onramp.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func events(t *testing.T, st store.Store, org store.OrgID) []store.AuditEvent {
	t.Helper()
	evs, err := st.ListEvents(context.Background(), org, store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	return evs
}

func actions(r apply.Result) []string {
	var out []string
	for _, c := range r.Changes {
		name := c.Org
		if c.Slug != "" {
			name += "/" + c.Slug
		}
		out = append(out, c.Kind+" "+name+" "+string(c.Action))
	}
	return out
}

func TestApplyTwiceChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := writeFiles(t, map[string]string{"onramp.yaml": acmeYAML, "idp/okta.xml": metadata(t)})
	st := openStore(t)

	res, err := apply.Apply(ctx, st, load(t, dir))
	if err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	want := []string{"organization acme created", "connection acme/okta created", "connection acme/entra created"}
	if got := actions(res); !slices.Equal(got, want) {
		t.Fatalf("first Apply: got %q, want %q", got, want)
	}

	org, err := st.GetOrgBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if org.Name != "Acme Corp" || !org.Onboarding.JITEmailDomains || !org.Onboarding.JITSSOConnections {
		t.Errorf("org = %+v", org)
	}
	if !slices.Equal(org.Access.EmailDomains, []string{"acme-corp.com", "acme.example"}) {
		t.Errorf("emailDomains = %q, want normalised and sorted", org.Access.EmailDomains)
	}
	if !slices.Equal(org.Access.SSOConnections, []string{"okta"}) {
		t.Errorf("ssoConnections = %q", org.Access.SSOConnections)
	}
	okta, err := st.GetConnectionBySlug(ctx, org.ID, "okta")
	if err != nil {
		t.Fatal(err)
	}
	if okta.Name != "Okta" || !okta.JITProvisioning || okta.AllowIdPInitiated || okta.MappingPreset != "okta" ||
		okta.IdPMetadataXML != metadata(t) {
		t.Errorf("okta connection = %+v", okta)
	}
	entra, err := st.GetConnectionBySlug(ctx, org.ID, "entra")
	if err != nil {
		t.Fatal(err)
	}
	if entra.IdPMetadataXML != "" || entra.MappingPreset != "entra" || entra.JITProvisioning {
		t.Errorf("entra connection = %+v", entra)
	}
	before := events(t, st, org.ID)
	if len(before) == 0 {
		t.Fatal("first Apply recorded no audit events")
	}
	for _, ev := range before {
		if ev.Actor != apply.Actor {
			t.Errorf("audit event %s has actor %q, want %q", ev.Action, ev.Actor, apply.Actor)
		}
	}

	res, err = apply.Apply(ctx, st, load(t, dir))
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if res.Changed() {
		t.Errorf("second Apply changed something: %q", actions(res))
	}
	want = []string{"organization acme unchanged", "connection acme/okta unchanged", "connection acme/entra unchanged"}
	if got := actions(res); !slices.Equal(got, want) {
		t.Errorf("second Apply: got %q, want %q", got, want)
	}
	if after := events(t, st, org.ID); len(after) != len(before) {
		t.Errorf("second Apply: audit log grew from %d to %d events", len(before), len(after))
	}
	org2, err := st.GetOrgBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !org2.UpdatedAt.Equal(org.UpdatedAt) {
		t.Errorf("second Apply touched the organization: UpdatedAt %v -> %v", org.UpdatedAt, org2.UpdatedAt)
	}

	var sum strings.Builder
	if err := res.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"organizations: 0 created, 0 updated, 1 unchanged", "connections: 0 created, 0 updated, 2 unchanged"} {
		if !strings.Contains(sum.String(), line) {
			t.Errorf("summary lacks %q:\n%s", line, sum.String())
		}
	}
}

func TestApplyUpdatesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	dir := writeFiles(t, map[string]string{"onramp.yaml": acmeYAML, "idp/okta.xml": metadata(t)})
	st := openStore(t)
	if _, err := apply.Apply(ctx, st, load(t, dir)); err != nil {
		t.Fatal(err)
	}
	org, err := st.GetOrgBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// A connection that only the store knows must be left alone.
	extra, err := st.CreateConnection(ctx, store.Connection{OrgID: org.ID, Slug: "google", Name: "Google", MappingPreset: "google"},
		store.AuditEvent{Actor: "test", Action: "connection.created"})
	if err != nil {
		t.Fatal(err)
	}
	before := len(events(t, st, org.ID))

	changed := strings.NewReplacer(
		"jitProvisioning: true", "jitProvisioning: false",
		"name: Entra", "name: Microsoft Entra ID",
	).Replace(acmeYAML)
	if err := os.WriteFile(filepath.Join(dir, "onramp.yaml"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := apply.Apply(ctx, st, load(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"organization acme unchanged", "connection acme/okta updated", "connection acme/entra updated"}
	if got := actions(res); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if f := res.Changes[1].Fields; !slices.Equal(f, []string{"authentication.jitProvisioning"}) {
		t.Errorf("okta fields = %q", f)
	}
	if f := res.Changes[2].Fields; !slices.Equal(f, []string{"name"}) {
		t.Errorf("entra fields = %q", f)
	}
	if got := len(events(t, st, org.ID)) - before; got != 2 {
		t.Errorf("audit log gained %d events, want 2 (one per updated connection)", got)
	}
	okta, err := st.GetConnectionBySlug(ctx, org.ID, "okta")
	if err != nil {
		t.Fatal(err)
	}
	if okta.JITProvisioning {
		t.Error("okta jitProvisioning still on")
	}
	got, err := st.GetConnection(ctx, extra.ID)
	if err != nil {
		t.Fatalf("undeclared connection: %v", err)
	}
	if got.Name != "Google" || !got.UpdatedAt.Equal(extra.UpdatedAt) {
		t.Errorf("undeclared connection was changed: %+v", got)
	}
}

func TestApplyInlineMetadata(t *testing.T) {
	ctx := context.Background()
	md := metadata(t)
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(md), "\n", "\n            ")
	doc := "organizations:\n  - slug: beta\n    name: Beta\n    connections:\n      - slug: okta\n        idp:\n          metadata: |\n        " + indented + "\n"
	dir := writeFiles(t, map[string]string{"onramp.yaml": doc})
	st := openStore(t)
	if _, err := apply.Apply(ctx, st, load(t, dir)); err != nil {
		t.Fatal(err)
	}
	org, err := st.GetOrgBySlug(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.GetConnectionBySlug(ctx, org.ID, "okta")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.IdPMetadataXML, "IDPSSODescriptor") {
		t.Errorf("inline metadata not stored: %q", c.IdPMetadataXML)
	}
	if c.Name != "okta" || c.MappingPreset != apply.DefaultPreset {
		t.Errorf("defaults: name %q preset %q", c.Name, c.MappingPreset)
	}
}

// invalid loads doc (with the metadata file beside it) and returns its problems.
func invalid(t *testing.T, doc string) []apply.Problem {
	t.Helper()
	dir := writeFiles(t, map[string]string{"onramp.yaml": doc, "okta.xml": metadata(t), "sp.xml": spMetadata, "junk.xml": "not xml <"})
	_, err := apply.Load(filepath.Join(dir, "onramp.yaml"))
	var ie *apply.InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("Load: got %v, want *apply.InvalidError", err)
	}
	return ie.Problems
}

const spMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="sp">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>
</md:EntityDescriptor>`

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		line     int
		contains string
	}{
		{"typo in a key", `organizations:
  - slug: acme
    name: Acme
    connections:
      - slug: okta
        authentication: { jitProvisoning: true }
`, 6, "jitProvisoning"},
		{"typo at top level", "organisations: []\n", 1, "organisations"},
		{"domain with scheme", `organizations:
  - slug: acme
    name: Acme
    onboarding:
      accessControl:
        emailDomains: [acme.com, "https://acme.com"]
`, 6, "scheme"},
		{"email instead of domain", `organizations:
  - slug: acme
    name: Acme
    onboarding:
      accessControl:
        emailDomains:
          - bob@acme.com
`, 7, "email address"},
		{"single-label domain", `organizations:
  - slug: acme
    name: Acme
    onboarding:
      accessControl:
        emailDomains: [localhost]
`, 6, "two labels"},
		{"ACL names an unknown connection", `organizations:
  - slug: acme
    name: Acme
    onboarding:
      accessControl:
        ssoConnections: [okta, entra]
    connections:
      - slug: okta
`, 6, `"entra" is not a connection declared`},
		{"metadata file missing", `organizations:
  - slug: acme
    name: Acme
    connections:
      - slug: okta
        idp: { metadataFile: missing.xml }
`, 6, "does not exist"},
		{"metadata file not XML", `organizations:
  - slug: acme
    name: Acme
    connections:
      - slug: okta
        idp:
          metadataFile: junk.xml
`, 7, "not well-formed XML"},
		{"SP metadata instead of IdP", `organizations:
  - slug: acme
    name: Acme
    connections:
      - slug: okta
        idp: { metadataFile: sp.xml }
`, 6, "IDPSSODescriptor"},
		{"inline metadata not metadata", `organizations:
  - slug: acme
    name: Acme
    connections:
      - slug: okta
        idp: { metadata: "<html/>" }
`, 6, "EntityDescriptor"},
		{"both metadata forms", `organizations:
  - slug: acme
    name: Acme
    connections:
      - slug: okta
        idp: { metadataFile: okta.xml, metadata: "<x/>" }
`, 6, "not both"},
		{"unknown preset", `organizations:
  - slug: acme
    name: Acme
    connections:
      - slug: okta
        mapping: { preset: auth0 }
`, 6, "unknown preset"},
		{"bad slug", `organizations:
  - slug: Acme_Corp
    name: Acme
`, 2, "slug"},
		{"missing name", `organizations:
  - slug: acme
`, 2, "name is required"},
		{"duplicate organization", `organizations:
  - slug: acme
    name: Acme
  - slug: acme
    name: Acme again
`, 4, "declared twice"},
		{"duplicate connection", `organizations:
  - slug: acme
    name: Acme
    connections:
      - slug: okta
      - slug: okta
`, 6, "declared twice"},
		{"wrong type", `organizations:
  - slug: acme
    name: Acme
    onboarding:
      jit: { emailDomains: "maybe" }
`, 5, "bool"},
		{"empty file", "", 0, "empty"},
		{"no organizations", "organizations: []\n", 1, "at least one organization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := invalid(t, tt.doc)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(ps), ps)
			}
			if ps[0].Line != tt.line || !strings.Contains(ps[0].String(), tt.contains) {
				t.Errorf("got %q (line %d), want line %d containing %q", ps[0].String(), ps[0].Line, tt.line, tt.contains)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	ps := invalid(t, `organizations:
  - slug: acme
    name: Acme
    onboarding:
      accessControl:
        emailDomains: [acme.com, "@acme.com"]
        ssoConnections: [azure]
    connections:
      - slug: okta
        idp: { metadataFile: nope.xml }
        mapping: { preset: auth0 }
`)
	var lines []int
	for _, p := range ps {
		lines = append(lines, p.Line)
	}
	if !slices.Equal(lines, []int{6, 7, 10, 11}) {
		t.Errorf("problem lines = %v, want [6 7 10 11]; problems: %v", lines, ps)
	}
	err := &apply.InvalidError{File: "onramp.yaml", Problems: ps}
	if !strings.Contains(err.Error(), "onramp.yaml:line 6: organizations[0].onboarding.accessControl.emailDomains[1]") {
		t.Errorf("error text lacks file, line and path:\n%v", err)
	}
}

func TestApplyCompletesACLOfNewOrg(t *testing.T) {
	// The ACL of a new organization names connections that the same run creates.
	ctx := context.Background()
	dir := writeFiles(t, map[string]string{"onramp.yaml": acmeYAML, "idp/okta.xml": metadata(t)})
	st := openStore(t)
	res, err := apply.Apply(ctx, st, load(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(apply.KindOrganization, apply.Created) != 1 || res.Count(apply.KindConnection, apply.Created) != 2 {
		t.Errorf("counts: %q", actions(res))
	}
	org, err := st.GetOrgBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(org.Access.SSOConnections, []string{"okta"}) {
		t.Errorf("ssoConnections = %q", org.Access.SSOConnections)
	}
}
