package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
)

type mappingJSON struct {
	Preset    string
	Overrides json.RawMessage
	Effective map[string]any
	Problem   string
	Version   string
}

func TestMappingGetPutPreset(t *testing.T) {
	h := newHarness(t)
	path := "/orgs/acme/connections/okta/mapping"
	var m mappingJSON
	h.do(t, h.adminToken, http.MethodGet, path, nil).want(t, http.StatusOK).decode(t, &m)
	if m.Preset != "okta" || string(m.Overrides) != "null" || m.Effective["email"] == nil {
		t.Fatalf("mapping %+v", m)
	}

	// An override of one field, and a role rule.
	override := map[string]any{"preset": "okta", "overrides": map[string]any{
		"givenName": map[string]any{"saml": []string{"first_name"}},
		"roleRules": []map[string]string{{"group": "onramp-admins", "role": "Admin"}},
	}}
	h.do(t, h.adminSession, http.MethodPut, path, override).want(t, http.StatusOK).decode(t, &m)
	if !strings.Contains(string(m.Overrides), "first_name") || !strings.Contains(toJSON(t, m.Effective), "onramp-admins") {
		t.Errorf("after PUT %+v", m)
	}
	c, _ := h.st.GetConnection(context.Background(), h.okta.ID)
	resolved, err := attributes.Resolve(c.MappingPreset, c.Mapping)
	if err != nil || resolved.GivenName.SAML[0] != "first_name" {
		t.Errorf("stored mapping resolves to %+v (%v)", resolved.GivenName, err)
	}
	evs := h.events(t, h.acme, admin.AuditMappingUpdated)
	if len(evs) != 1 || evs[0].Actor != "user:"+string(h.adminUser.ID) || evs[0].Detail["mappingOverrides"] != "replaced" {
		t.Errorf("mapping events %+v", evs)
	}

	// Invalid mappings are refused field by field, and change nothing.
	bad := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown key", map[string]any{"preset": "okta", "overrides": map[string]any{"emial": map[string]any{}}}, "overrides"},
		{"unknown transform", map[string]any{"preset": "okta", "overrides": map[string]any{"email": map[string]any{"transforms": []map[string]string{{"op": "nope"}}}}}, "overrides.email"},
		{"bad SCIM path", map[string]any{"preset": "okta", "overrides": map[string]any{"givenName": map[string]any{"scim": []string{"name[[given"}}}}, "overrides.givenName"},
		{"unknown preset", map[string]any{"preset": "auth0"}, "preset"},
	}
	for _, tt := range bad {
		r := h.do(t, h.adminSession, http.MethodPut, path, tt.body).want(t, http.StatusBadRequest)
		if e := r.errorBody(t); e.Fields[tt.field] == "" {
			t.Errorf("%s: fields %v, want %s", tt.name, e.Fields, tt.field)
		}
	}
	if n := len(h.events(t, h.acme, admin.AuditMappingUpdated)); n != 1 {
		t.Errorf("refused mappings wrote %d events", n-1)
	}

	// Choosing a preset starts fresh, unless the overrides are kept.
	h.do(t, h.adminSession, http.MethodPut, path+"/preset", map[string]any{"preset": "entra", "keepOverrides": true}).want(t, http.StatusOK).decode(t, &m)
	if m.Preset != "entra" || !strings.Contains(string(m.Overrides), "first_name") {
		t.Errorf("keepOverrides: %+v", m)
	}
	h.do(t, h.adminSession, http.MethodPut, path+"/preset", map[string]any{"preset": "google"}).want(t, http.StatusOK).decode(t, &m)
	if m.Preset != "google" || string(m.Overrides) != "null" {
		t.Errorf("new preset: %+v", m)
	}

	var presets struct{ Presets []admin.Preset }
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/mapping-presets", nil).want(t, http.StatusOK).decode(t, &presets)
	if len(presets.Presets) != len(attributes.PresetNames()) {
		t.Errorf("presets %d, want %d", len(presets.Presets), len(attributes.PresetNames()))
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type previewJSON struct {
	Source      string
	Profile     attributes.Profile
	NameID      string
	EmailDomain string
	Blockers    []string
	JIT         admin.JITVerdict
}

// TestPreviewAgreesWithSignIn previews a real signed SAML response from a
// crewjam IdP under the organization's policy, then posts the same response
// to the ACS: what the preview said is what happens.
func TestPreviewAgreesWithSignIn(t *testing.T) {
	h := newHarness(t)
	idp := samltest.New(t, samltest.Options{})
	conn := "/orgs/acme/connections/okta"
	h.do(t, h.adminToken, http.MethodPatch, conn, map[string]any{
		"idpMetadataXml": string(idp.MetadataXML(t)), "authentication": map[string]bool{"allowIdpInitiated": true},
	}).want(t, http.StatusOK)
	idp.RegisterSP(t, h.do(t, h.adminToken, http.MethodGet, conn+"/sp-metadata", nil).want(t, http.StatusOK).body, false)
	login := samltest.Login{User: samltest.User{NameID: "alice@acme-corp.com", Attributes: map[string][]string{
		"email": {"alice@acme-corp.com"}, "firstName": {"Alice"}, "lastName": {"Smith"},
	}}}
	response := func() string { return idp.IdPInitiated(t, baseURL+"/saml/acme/okta/metadata", "", login) }
	preview := func(input string) previewJSON {
		t.Helper()
		var p previewJSON
		h.do(t, h.adminToken, http.MethodPost, conn+"/mapping/preview", map[string]any{"input": input}).want(t, http.StatusOK).decode(t, &p)
		return p
	}

	// JIT is off: the preview says no, and why; the ACS refuses.
	p := preview(response())
	if p.Source != "saml" || p.Profile.Email != "alice@acme-corp.com" || p.Profile.GivenName != "Alice" || p.NameID != "alice@acme-corp.com" {
		t.Errorf("preview profile %+v", p)
	}
	if !p.JIT.Applies || p.JIT.Allowed || p.JIT.Rule != jit.RuleJITNotAllowed || !strings.Contains(p.JIT.Reason, "Ask your Admin") {
		t.Errorf("JIT off: verdict %+v", p.JIT)
	}
	if status := h.postACS(t, response()); status != http.StatusForbidden {
		t.Errorf("ACS with JIT off = %d, want 403", status)
	}
	if evs := h.events(t, h.acme, jit.AuditRefused); len(evs) != 1 || evs[0].Rule != p.JIT.Rule {
		t.Errorf("the ACS refused for another reason than the preview's %s: %+v", p.JIT.Rule, evs)
	}

	// JIT by SSO connection, as the console's flow 1 and 2 set it.
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/onboarding", map[string]any{
		"jit": map[string]bool{"ssoConnections": true}, "accessControl": map[string]any{"ssoConnections": []string{"okta"}},
	}).want(t, http.StatusOK)
	h.do(t, h.adminToken, http.MethodPut, conn+"/authentication", map[string]bool{"jitProvisioning": true, "allowIdpInitiated": true}).want(t, http.StatusOK)
	p = preview(response())
	if !p.JIT.Allowed || p.JIT.Decision != "create" || p.JIT.Rule != jit.RuleJITSSOConnection {
		t.Errorf("JIT on: verdict %+v", p.JIT)
	}
	if n := countUsers(t, h); n != 2 {
		t.Fatalf("the preview created an account: %d users", n)
	}
	if status := h.postACS(t, response()); status != http.StatusSeeOther && status != http.StatusFound && status != http.StatusOK {
		t.Fatalf("ACS with JIT on = %d", status)
	}
	if n := countUsers(t, h); n != 3 {
		t.Fatalf("ACS did not create the account: %d users", n)
	}
	// Now the identity is linked: the preview says the person signs in.
	if p = preview(response()); !p.JIT.Allowed || p.JIT.Rule != jit.RuleLinkedIdentity {
		t.Errorf("linked: verdict %+v", p.JIT)
	}

	// An unsaved mapping is previewed without being saved.
	var withMapping previewJSON
	h.do(t, h.adminToken, http.MethodPost, conn+"/mapping/preview", map[string]any{"input": response(), "mapping": map[string]any{
		"preset": "okta", "overrides": map[string]any{"givenName": map[string]any{"saml": []string{"lastName"}}},
	}}).want(t, http.StatusOK).decode(t, &withMapping)
	if withMapping.Profile.GivenName != "Smith" {
		t.Errorf("unsaved mapping: givenName %q", withMapping.Profile.GivenName)
	}
	if c, _ := h.st.GetConnection(context.Background(), h.okta.ID); len(c.Mapping) != 0 {
		t.Errorf("preview saved the mapping: %s", c.Mapping)
	}
}

func TestPreviewInputs(t *testing.T) {
	h := newHarness(t)
	path := "/orgs/acme/connections/okta/mapping/preview"
	var p previewJSON
	scim := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@acme-corp.com","name":{"givenName":"Bob"},"emails":[{"value":"bob@acme-corp.com","primary":true}]}`
	h.do(t, h.adminSession, http.MethodPost, path, map[string]any{"input": scim}).want(t, http.StatusOK).decode(t, &p)
	if p.Source != "scim" || p.Profile.UserName != "bob@acme-corp.com" || p.Profile.GivenName != "Bob" || p.JIT.Applies || p.JIT.Reason == "" {
		t.Errorf("SCIM preview %+v", p)
	}
	// A bare assertion without an email: the required field blocks JIT.
	assertion := `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Subject><saml:NameID>carol</saml:NameID></saml:Subject></saml:Assertion>`
	h.do(t, h.adminSession, http.MethodPost, path, map[string]any{"input": assertion}).want(t, http.StatusOK).decode(t, &p)
	if len(p.Blockers) == 0 || p.JIT.Allowed {
		t.Errorf("assertion without email: %+v", p)
	}
	for name, tt := range map[string]struct {
		body  map[string]any
		field string
	}{
		"empty":             {map[string]any{"input": " "}, "input"},
		"garbage":           {map[string]any{"input": "hello there"}, "input"},
		"DOCTYPE":           {map[string]any{"input": `<!DOCTYPE x><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>`}, "input"},
		"bad unsaved model": {map[string]any{"input": scim, "mapping": map[string]any{"preset": "okta", "overrides": map[string]any{"email": map[string]any{"template": "{nope}"}}}}, "mapping.overrides.email"},
	} {
		r := h.do(t, h.adminSession, http.MethodPost, path, tt.body).want(t, http.StatusBadRequest)
		if e := r.errorBody(t); e.Fields[tt.field] == "" {
			t.Errorf("%s: fields %v, want %s", name, e.Fields, tt.field)
		}
	}
	if evs, _ := h.st.ListEvents(context.Background(), h.acme.ID, store.AuditQuery{Action: "jit.refused"}); len(evs) != 0 {
		t.Errorf("previews recorded refusals: %+v", evs)
	}
}

func countUsers(t *testing.T, h *harness) int {
	t.Helper()
	p, err := h.st.ListUsers(context.Background(), h.acme.ID, store.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Total
}

// postACS posts a SAML response to the okta connection's ACS as a browser
// would, without following redirects, and returns the status.
func (h *harness) postACS(t *testing.T, samlResponse string) int {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(h.url+"/saml/acme/okta/acs", url.Values{"SAMLResponse": {samlResponse}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
