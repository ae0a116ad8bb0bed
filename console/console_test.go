package console_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
)

func TestNotSignedInGoesToSignInPage(t *testing.T) {
	h := newHarness(t)
	h.get(t, nil, "/admin").redirect(t, "/admin/sign-in")
	h.get(t, nil, "/admin/acme/organization").redirect(t, "/admin/sign-in?org=acme&return_to=%2Fadmin%2Facme%2Forganization")
	h.get(t, nil, "/admin/acme/users?q=x").redirect(t, "/admin/sign-in?org=acme&return_to=%2Fadmin%2Facme%2Fusers%3Fq%3Dx")

	// A form posted after the session ended: the sign-in page, nothing done.
	p := h.post(t, nil, "/admin/acme/organization/onboarding", url.Values{"op": {"save"}, "jit_email_domains": {"on"}}).want(t, http.StatusUnauthorized)
	if !strings.Contains(text(p.doc), "Sign in to the admin console") {
		t.Fatalf("not the sign-in page:\n%s", p.body)
	}
	if h.getOrg(t, h.acme).Onboarding.JITEmailDomains {
		t.Fatal("a post without a session changed the onboarding settings")
	}
}

func TestSignInPageLinksToTheOrganizationsSSO(t *testing.T) {
	h := newHarness(t)
	// okta has no IdP metadata yet: it cannot sign anyone in, so no link.
	p := h.get(t, nil, "/admin/sign-in?org=acme").want(t, http.StatusOK)
	if strings.Contains(p.body, "/saml/acme/okta/login") {
		t.Fatal("links to a connection without IdP metadata")
	}
	idp := samltest.New(t, samltest.Options{})
	md := string(idp.MetadataXML(t))
	if _, err := h.st.UpdateConnection(context.Background(), h.okta.ID, func(c *store.Connection) error {
		c.IdPMetadataXML = md
		return nil
	}, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	p = h.get(t, nil, "/admin/sign-in?org=acme&return_to=/admin/acme/users").want(t, http.StatusOK)
	link := find(p.doc, func(n *html.Node) bool { return n.Data == "a" && text(n) == "Sign in with Okta" })
	if got, want := attr(link, "href"), "/saml/acme/okta/login?return_to=%2Fadmin%2Facme%2Fusers"; got != want {
		t.Fatalf("sign-in link %q, want %q", got, want)
	}
	email := find(p.doc, func(n *html.Node) bool { return n.Data == "a" && text(n) == "Sign in with an email address instead" })
	if got, want := attr(email, "href"), "/login?org=acme&return_to=%2Fadmin%2Facme%2Fusers"; got != want {
		t.Fatalf("email sign-in link %q, want %q", got, want)
	}
	if !strings.Contains(p.body, "onramp admin login-link --org SLUG --email") {
		t.Fatal("the sign-in page does not explain the one-time sign-in link")
	}
	// return_to must stay in this organization's console.
	for _, rt := range []string{"https://evil.example/admin/acme/x", "//evil.example/admin/acme", "/admin/other/organization", "/saml/acme/okta/acs"} {
		p = h.get(t, nil, "/admin/sign-in?org=acme&return_to="+url.QueryEscape(rt)).want(t, http.StatusOK)
		link = find(p.doc, func(n *html.Node) bool { return n.Data == "a" && text(n) == "Sign in with Okta" })
		if got, want := attr(link, "href"), "/saml/acme/okta/login?return_to=%2Fadmin%2Facme%2Forganization"; got != want {
			t.Errorf("return_to %q: link %q, want %q", rt, got, want)
		}
	}
	p = h.get(t, nil, "/admin/sign-in?org=nope").want(t, http.StatusOK)
	p.fieldError(t, "org", "There is no organization nope")
}

func TestMemberGets403Page(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/admin/acme/organization", "/admin/acme/sso", "/admin/acme/sso/okta", "/admin/acme/users", "/admin/acme/users/invitations", "/admin/acme/audit"} {
		p := h.get(t, h.memberC, path).want(t, http.StatusForbidden)
		if got := text(find(p.doc, func(n *html.Node) bool { return n.Data == "h1" })); got != "Only Admins can use the admin console" {
			t.Errorf("%s: a Member sees %q", path, got)
		}
		if !strings.Contains(p.body, `action="/logout"`) {
			t.Errorf("%s: the 403 page offers no way to sign out", path)
		}
	}
	// A Member's form, with the session's own CSRF token, changes nothing.
	h.post(t, h.memberC, "/admin/acme/organization/onboarding", url.Values{"op": {"save"}, "jit_email_domains": {"on"}, "domain": {"acme-corp.com"}}).
		want(t, http.StatusForbidden)
	h.post(t, h.memberC, "/admin/acme/sso/okta/scim/tokens", url.Values{"description": {"sneaky"}}).want(t, http.StatusForbidden)
	if o := h.getOrg(t, h.acme); o.Onboarding.JITEmailDomains || len(o.Access.EmailDomains) != 0 {
		t.Fatalf("a Member changed onboarding: %+v", o)
	}
	toks, err := h.st.ListTokens(context.Background(), h.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 0 {
		t.Fatalf("a Member created tokens: %+v", toks)
	}
	// /admin sends a Member to their organization's console, which says no.
	h.get(t, h.memberC, "/admin").redirect(t, "/admin/acme/organization")
}

func TestOtherOrganizationIsNotFound(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/admin/acme/organization", "/admin/acme/sso/okta", "/admin/nope/organization"} {
		p := h.get(t, h.otherAdminC, path).want(t, http.StatusNotFound)
		if strings.Contains(p.body, "Acme Corp") {
			t.Errorf("%s: the 404 page names the organization", path)
		}
	}
	h.get(t, h.adminC, "/admin/acme/sso/nope").want(t, http.StatusNotFound)
	h.get(t, h.adminC, "/admin/acme/users/nope").want(t, http.StatusNotFound)
}

// TestEveryFormNeedsTheCSRFToken posts every form of the console without the
// session's CSRF token, and with another session's: each is refused with the
// expired-form page before anything is done.
func TestEveryFormNeedsTheCSRFToken(t *testing.T) {
	h := newHarness(t)
	otherToken := csrf(h.otherAdminC)
	paths := []string{
		"/admin/acme/organization/onboarding",
		"/admin/acme/sso",
		"/admin/acme/sso/okta/details",
		"/admin/acme/sso/okta/authentication",
		"/admin/acme/sso/okta/sp-certificates/rollover",
		"/admin/acme/sso/okta/sp-certificates/activate",
		"/admin/acme/sso/okta/sp-certificates/finish",
		"/admin/acme/sso/okta/delete",
		"/admin/acme/sso/okta/mapping",
		"/admin/acme/sso/okta/mapping/preset",
		"/admin/acme/sso/okta/mapping/json",
		"/admin/acme/sso/okta/scim/tokens",
		"/admin/acme/sso/okta/scim/tokens/x/revoke",
		"/admin/acme/scim-holds/x/release",
		"/admin/acme/users/invitations",
		"/admin/acme/users/invitations/x/resend",
		"/admin/acme/users/invitations/x/revoke",
	}
	h.allowDomains(t, h.acme, "acme.example")
	form := url.Values{"email": {"kim@acme.example"}, "role": {"Member"},
		"op": {"save"}, "jit_email_domains": {"on"}, "domain": {"acme-corp.com"}, "slug": {"new"}, "name": {"New"},
		"jit_provisioning": {"on"}, "preset": {"entra"}, "description": {"t"}, "overrides": {`{"defaultRole":"Admin"}`},
	}
	for _, path := range paths {
		for name, token := range map[string]string{"none": "", "another session's": otherToken, "garbage": "abc"} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set(admin.CSRFField, token)
			p := h.post(t, h.adminC, path, f).want(t, http.StatusForbidden)
			if !strings.Contains(text(p.doc), "This form has expired") {
				t.Errorf("%s with %s token: %s", path, name, text(p.doc))
			}
		}
	}
	o := h.getOrg(t, h.acme)
	if o.Onboarding.JITEmailDomains || len(o.Access.EmailDomains) != 1 {
		t.Fatalf("onboarding changed: %+v", o)
	}
	if n := len(h.invitations(t, h.acme)); n != 0 {
		t.Fatalf("%d invitations after refused forms", n)
	}
	c, err := h.st.GetConnection(context.Background(), h.okta.ID)
	if err != nil {
		t.Fatalf("okta: %v", err)
	}
	if c.JITProvisioning || c.MappingPreset != "okta" || len(c.Mapping) != 0 {
		t.Fatalf("okta changed: %+v", c)
	}
	cs, _ := h.st.ListConnections(context.Background(), h.acme.ID)
	toks, _ := h.st.ListTokens(context.Background(), h.acme.ID)
	if len(cs) != 1 || len(toks) != 0 {
		t.Fatalf("connections %d, tokens %d after refused forms", len(cs), len(toks))
	}
}

func TestPagesAreNotCachedAndLoadNothingFromElsewhere(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, h.adminC, "/admin/acme/organization").want(t, http.StatusOK)
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
		}
	}
	for _, a := range []struct{ path, ctype string }{{"/admin/assets/console.css", "text/css"}, {"/admin/assets/console.js", "text/javascript"}} {
		ap := h.get(t, nil, a.path).want(t, http.StatusOK)
		if !strings.HasPrefix(ap.header.Get("Content-Type"), a.ctype) || len(ap.body) < 100 {
			t.Errorf("%s: %s, %d bytes", a.path, ap.header.Get("Content-Type"), len(ap.body))
		}
	}
	h.get(t, nil, "/admin/assets/nope.css").want(t, http.StatusNotFound)
	// Every input has a label.
	for _, path := range []string{"/admin/acme/organization?edit=onboarding", "/admin/acme/sso/new", "/admin/acme/sso/okta?edit=authentication",
		"/admin/acme/sso/okta?edit=details", "/admin/acme/sso/okta/mapping", "/admin/acme/sso/okta/scim", "/admin/acme/users", "/admin/acme/users/invitations", "/admin/acme/audit"} {
		p := h.get(t, h.adminC, path).want(t, http.StatusOK)
		checkLabels(t, path, p)
	}
}

// checkLabels fails for a visible form control without a <label for=…>.
func checkLabels(t *testing.T, path string, p page) {
	t.Helper()
	labels := map[string]bool{}
	var controls []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "label":
				labels[attr(n, "for")] = true
			case "input", "select", "textarea":
				if attr(n, "type") != "hidden" {
					controls = append(controls, n)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(p.doc)
	if len(controls) == 0 {
		t.Errorf("%s: no form controls", path)
	}
	for _, c := range controls {
		if id := attr(c, "id"); id == "" || !labels[id] {
			t.Errorf("%s: <%s name=%q> has no label", path, c.Data, attr(c, "name"))
		}
	}
}

// TestOnboardingDraftWritesNothingUntilSave walks flow 1 through HTTP: each
// step answers the draft, the store is untouched until the final Save.
func TestOnboardingDraftWritesNothingUntilSave(t *testing.T) {
	h := newHarness(t)
	before := h.getOrg(t, h.acme)
	p := h.get(t, h.adminC, "/admin/acme/organization?edit=onboarding").want(t, http.StatusOK)
	version := attr(find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "version" }), "value")
	if version == "" {
		t.Fatal("the form carries no version")
	}
	base := url.Values{"version": {version}, "jit_sso_connections": {"on"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return f
	}
	p = h.post(t, h.adminC, "/admin/acme/organization/onboarding", with("op", "add-domain")).want(t, http.StatusOK)
	if p.byID("new_domain") == nil || attr(p.byID("new_domain"), "placeholder") != "acme-corp.com" {
		t.Fatal("Add domain shows no domain field")
	}
	p = h.post(t, h.adminC, "/admin/acme/organization/onboarding", with("op", "save-domain", "adding_domain", "1", "new_domain", " ACME-Corp.com. ")).
		want(t, http.StatusOK)
	hidden := find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "domain" })
	if attr(hidden, "value") != "acme-corp.com" {
		t.Fatalf("the draft holds domain %q, want the normalized acme-corp.com", attr(hidden, "value"))
	}
	if p.byID("new_domain") != nil {
		t.Fatal("the domain field is still open after Save")
	}
	if !strings.Contains(p.body, `id="jit_sso_connections" name="jit_sso_connections" value="on" checked`) {
		t.Fatal("the draft lost the JIT switch")
	}
	p = h.post(t, h.adminC, "/admin/acme/organization/onboarding", with("op", "select-connection", "domain", "acme-corp.com")).want(t, http.StatusOK)
	if opt := find(p.byID("new_connection"), func(n *html.Node) bool { return n.Data == "option" && attr(n, "value") == "okta" }); opt == nil {
		t.Fatal("Select connection offers no okta")
	}
	h.post(t, h.adminC, "/admin/acme/organization/onboarding",
		with("op", "save-connection", "domain", "acme-corp.com", "adding_connection", "1", "new_connection", "okta")).want(t, http.StatusOK)
	// Removing is a draft step too.
	p = h.post(t, h.adminC, "/admin/acme/organization/onboarding", with("op", "remove-domain:0", "domain", "acme-corp.com", "domain", "b.example")).
		want(t, http.StatusOK)
	if hd := find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "domain" }); attr(hd, "value") != "b.example" {
		t.Fatalf("after removing the first domain the draft holds %q", attr(hd, "value"))
	}
	if after := h.getOrg(t, h.acme); !after.UpdatedAt.Equal(before.UpdatedAt) || len(h.events(t, h.acme, admin.AuditOnboardingUpdated)) != 0 {
		t.Fatal("a draft step wrote to the store")
	}

	h.post(t, h.adminC, "/admin/acme/organization/onboarding", with("op", "save", "domain", "acme-corp.com", "connection", "okta")).
		redirect(t, "/admin/acme/organization?done=onboarding#user-onboarding")
	o := h.getOrg(t, h.acme)
	if o.Onboarding.JITEmailDomains || !o.Onboarding.JITSSOConnections ||
		strings.Join(o.Access.EmailDomains, ",") != "acme-corp.com" || strings.Join(o.Access.SSOConnections, ",") != "okta" {
		t.Fatalf("saved onboarding %+v %+v", o.Onboarding, o.Access)
	}
	evs := h.events(t, h.acme, admin.AuditOnboardingUpdated)
	if len(evs) != 1 || evs[0].Actor != "user:"+string(h.ada.ID) {
		t.Fatalf("audit events %+v", evs)
	}
	p = h.get(t, h.adminC, "/admin/acme/organization?done=onboarding").want(t, http.StatusOK)
	if !strings.Contains(text(p.doc), "User onboarding saved.") || !strings.Contains(text(p.doc), "acme-corp.com") {
		t.Fatalf("organization page after Save:\n%s", text(p.doc))
	}
	// The same form again (the page was not reloaded): the version is stale.
	p = h.post(t, h.adminC, "/admin/acme/organization/onboarding", with("op", "save")).want(t, http.StatusConflict)
	if !strings.Contains(text(p.doc), "Someone changed the user onboarding settings") {
		t.Fatalf("stale form:\n%s", text(p.doc))
	}
	if o2 := h.getOrg(t, h.acme); !o2.UpdatedAt.Equal(o.UpdatedAt) {
		t.Fatal("a stale form was saved")
	}
}

func TestOnboardingErrorsNextToFieldsAndNothingSaved(t *testing.T) {
	h := newHarness(t)
	before := h.getOrg(t, h.acme)

	// A domain that is not one, typed and saved into the draft.
	p := h.post(t, h.adminC, "/admin/acme/organization/onboarding", url.Values{"op": {"save-domain"}, "adding_domain": {"1"}, "new_domain": {"https://acme-corp.com"}}).
		want(t, http.StatusBadRequest)
	p.fieldError(t, "new_domain", "no scheme")
	if attr(p.byID("new_domain"), "value") != "https://acme-corp.com" {
		t.Fatal("the typed domain was not kept for correcting")
	}
	// Enter in the domain field presses the first submit button: it saves
	// the domain, and does not remove anything.
	p = h.post(t, h.adminC, "/admin/acme/organization/onboarding", url.Values{"op": {"enter"}, "adding_domain": {"1"}, "new_domain": {"someone@acme-corp.com"}, "domain": {"a.example"}}).
		want(t, http.StatusBadRequest)
	p.fieldError(t, "new_domain", "not an email address")
	if hd := find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "domain" }); attr(hd, "value") != "a.example" {
		t.Fatal("Enter removed a domain")
	}

	// The final Save with a pending invalid domain, and with a tampered
	// draft (an invalid domain, a connection that is not the organization's).
	p = h.post(t, h.adminC, "/admin/acme/organization/onboarding", url.Values{"op": {"save"}, "jit_email_domains": {"on"},
		"domain": {"good.example", "bad_domain.example"}, "connection": {"ghost"}, "adding_domain": {"1"}, "new_domain": {"x"}}).want(t, http.StatusBadRequest)
	p.fieldError(t, "new_domain", "not a fully qualified domain")
	body := text(p.doc)
	for _, want := range []string{"Nothing was saved", `"bad_domain.example": not a valid DNS name`, `"ghost" is not an SSO connection of this organization`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	// The errors sit in the list entries they are about.
	li := find(p.doc, func(n *html.Node) bool {
		return n.Data == "li" && find(n, func(c *html.Node) bool {
			return attr(c, "name") == "domain" && attr(c, "value") == "bad_domain.example"
		}) != nil
	})
	if !strings.Contains(text(li), "not a valid DNS name") {
		t.Errorf("the bad_domain.example entry reads %q", text(li))
	}
	if after := h.getOrg(t, h.acme); !after.UpdatedAt.Equal(before.UpdatedAt) || after.Onboarding.JITEmailDomains {
		t.Fatal("an invalid form was saved")
	}
	if evs := h.events(t, h.acme, admin.AuditOnboardingUpdated); len(evs) != 0 {
		t.Fatalf("audit events for a refused form: %+v", evs)
	}
}

func TestAuthenticationSettings(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, h.adminC, "/admin/acme/sso/okta?edit=authentication").want(t, http.StatusOK)
	if in := p.byID("jit_provisioning"); attr(in, "role") != "switch" || attr(in, "type") != "checkbox" {
		t.Fatal("JIT provisioning is not a toggle")
	}
	version := attr(find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "version" }), "value")
	h.post(t, h.adminC, "/admin/acme/sso/okta/authentication", url.Values{"version": {version}, "jit_provisioning": {"on"}}).
		redirect(t, "/admin/acme/sso/okta?done=authentication#authentication-settings")
	c, err := h.st.GetConnection(context.Background(), h.okta.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !c.JITProvisioning || c.AllowIdPInitiated {
		t.Fatalf("okta after Save: jit %v, idp-initiated %v", c.JITProvisioning, c.AllowIdPInitiated)
	}
	// JIT through okta also needs onboarding: the page says what is missing.
	p = h.get(t, h.adminC, "/admin/acme/sso/okta").want(t, http.StatusOK)
	for _, want := range []string{"JIT Provisioning by SSO connections is off", "Okta is not in the access control list"} {
		if !strings.Contains(text(p.doc), want) {
			t.Errorf("connection page lacks %q", want)
		}
	}
	// The form from before the change is stale: nothing is saved.
	p = h.post(t, h.adminC, "/admin/acme/sso/okta/authentication", url.Values{"version": {version}}).want(t, http.StatusConflict)
	if c2, _ := h.st.GetConnection(context.Background(), h.okta.ID); !c2.JITProvisioning {
		t.Fatal("a stale form switched JIT provisioning off")
	}
}

func TestNewConnection(t *testing.T) {
	h := newHarness(t)
	count := func() int {
		cs, err := h.st.ListConnections(context.Background(), h.acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	// Every field wrong at once: each error next to its field.
	p := h.post(t, h.adminC, "/admin/acme/sso", url.Values{"slug": {"Not A Slug"}, "name": {""}, "idp_metadata_xml": {"<nope"}, "preset": {"okta"}}).
		want(t, http.StatusBadRequest)
	p.fieldError(t, "slug", "slug is 1 to 63 characters")
	p.fieldError(t, "idp_metadata_xml", "not usable IdP metadata")
	if count() != 1 {
		t.Fatal("an invalid connection was created")
	}
	// A slug taken is a field error too.
	h.post(t, h.adminC, "/admin/acme/sso", url.Values{"slug": {"okta"}, "preset": {"okta"}}).want(t, http.StatusBadRequest).
		fieldError(t, "slug", "already has a connection")

	// The IdP's metadata as an uploaded file.
	idp := samltest.New(t, samltest.Options{})
	h.postMultipart(t, h.adminC, "/admin/acme/sso", url.Values{"slug": {"entra"}, "name": {"Entra ID"}, "preset": {"entra"}, "jit_provisioning": {"on"}},
		"idp_metadata_file", "idp.xml", idp.MetadataXML(t)).redirect(t, "/admin/acme/sso/entra?done=created")
	c, err := h.st.GetConnectionBySlug(context.Background(), h.acme.ID, "entra")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Entra ID" || c.MappingPreset != "entra" || !c.JITProvisioning || !strings.Contains(c.IdPMetadataXML, idp.EntityID()) {
		t.Fatalf("created %+v", c)
	}
	p = h.get(t, h.adminC, "/admin/acme/sso").want(t, http.StatusOK)
	row := find(p.byID("sso-connections"), func(n *html.Node) bool { return n.Data == "tr" && strings.Contains(text(n), "Entra ID") })
	if !strings.Contains(text(row), idp.EntityID()) {
		t.Fatalf("row %q lacks the IdP", text(row))
	}
	menu := find(row, func(n *html.Node) bool { return n.Data == "details" })
	if got := text(find(menu, func(n *html.Node) bool { return n.Data == "summary" })); got != "Actions" {
		t.Fatalf("menu summary %q", got)
	}
	edit := find(menu, func(n *html.Node) bool { return n.Data == "a" && text(n) == "Edit connection" })
	if attr(edit, "href") != "/admin/acme/sso/entra" {
		t.Fatalf("Edit connection goes to %q", attr(edit, "href"))
	}

	// Delete, after the confirmation page.
	h.get(t, h.adminC, "/admin/acme/sso/entra/delete").want(t, http.StatusOK)
	h.post(t, h.adminC, "/admin/acme/sso/entra/delete", url.Values{}).redirect(t, "/admin/acme/sso?done=deleted")
	if count() != 1 {
		t.Fatal("the connection was not deleted")
	}
}

func TestConnectionDetails(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, h.adminC, "/admin/acme/sso/okta?edit=details").want(t, http.StatusOK)
	version := attr(find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "version" }), "value")
	p = h.post(t, h.adminC, "/admin/acme/sso/okta/details", url.Values{"version": {version}, "slug": {"okta"}, "name": {"Okta"}, "idp_metadata_xml": {"<EntityDescriptor/>"}}).
		want(t, http.StatusBadRequest)
	p.fieldError(t, "idp_metadata_xml", "not usable IdP metadata")
	idp := samltest.New(t, samltest.Options{})
	h.post(t, h.adminC, "/admin/acme/sso/okta/details", url.Values{"version": {version}, "slug": {"okta-prod"}, "name": {"Okta (production)"},
		"idp_metadata_xml": {string(idp.MetadataXML(t))}}).redirect(t, "/admin/acme/sso/okta-prod?done=details")
	c, err := h.st.GetConnection(context.Background(), h.okta.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Slug != "okta-prod" || c.Name != "Okta (production)" || c.IdPMetadataXML == "" {
		t.Fatalf("after Save: %+v", c)
	}
	// Empty metadata keeps it.
	p = h.get(t, h.adminC, "/admin/acme/sso/okta-prod?edit=details").want(t, http.StatusOK)
	version = attr(find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "version" }), "value")
	h.post(t, h.adminC, "/admin/acme/sso/okta-prod/details", url.Values{"version": {version}, "slug": {"okta-prod"}, "name": {"Okta"}}).
		redirect(t, "/admin/acme/sso/okta-prod?done=details")
	if c2, _ := h.st.GetConnection(context.Background(), h.okta.ID); c2.IdPMetadataXML != c.IdPMetadataXML || c2.Name != "Okta" {
		t.Fatalf("after saving without metadata: name %q, metadata kept %v", c2.Name, c2.IdPMetadataXML == c.IdPMetadataXML)
	}
}

func TestMappingPreviewAndSave(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.st.UpdateOrg(ctx, h.acme.ID, func(o *store.Org) error {
		o.Onboarding.JITEmailDomains = true
		o.Access.EmailDomains = []string{"acme-corp.com"}
		return nil
	}, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	assertion, err := os.ReadFile("testdata/assertion.xml")
	if err != nil {
		t.Fatal(err)
	}
	p := h.get(t, h.adminC, "/admin/acme/sso/okta/mapping").want(t, http.StatusOK)
	version := attr(find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "version" }), "value")
	if ph := attr(p.byID("saml_email"), "placeholder"); !strings.Contains(ph, "email") {
		t.Fatalf("the email row does not show the preset's sources: %q", ph)
	}
	form := url.Values{
		"version": {version}, "input": {string(assertion)},
		"saml_email": {"mail"}, "saml_groups": {"dept_groups"},
		"override_roles": {"on"}, "role_group": {"it-admins", ""}, "role_role": {"Admin", ""},
	}
	form.Set("op", "preview")
	p = h.post(t, h.adminC, "/admin/acme/sso/okta/mapping", form).want(t, http.StatusOK)
	res := p.byID("preview-result")
	cell := func(field string) string {
		row := find(res, func(n *html.Node) bool {
			return n.Data == "tr" && find(n, func(c *html.Node) bool { return c.Data == "code" && text(c) == field }) != nil
		})
		return text(find(row, func(n *html.Node) bool { return n.Data == "td" }))
	}
	if cell("email") != "lin@acme-corp.com" || cell("role") != "Admin" || cell("groups") != "it-admins, staff" {
		t.Fatalf("preview: email %q role %q groups %q\n%s", cell("email"), cell("role"), cell("groups"), text(res))
	}
	if v := text(p.byID("jit-verdict")); !strings.HasPrefix(v, "Allowed") || !strings.Contains(v, "jit_email_domain") {
		t.Fatalf("verdict %q", v)
	}
	// The form's values are kept, and nothing was saved.
	if attr(p.byID("saml_groups"), "value") != "dept_groups" {
		t.Fatal("preview lost the override")
	}
	c, _ := h.st.GetConnection(ctx, h.okta.ID)
	if len(c.Mapping) != 0 {
		t.Fatalf("preview saved the mapping: %s", c.Mapping)
	}

	// An override that does not compile: the error is next to its row.
	bad := url.Values{"version": {version}, "op": {"save"}, "scim_email": {"emails[type eq]"}}
	p = h.post(t, h.adminC, "/admin/acme/sso/okta/mapping", bad).want(t, http.StatusBadRequest)
	if e := p.byID("email-error"); !strings.Contains(text(e), "scim[0]") {
		t.Fatalf("no error next to the email row: %q\n%s", text(e), text(p.doc))
	}
	// A role rule without a role: the error is in its row.
	bad = url.Values{"version": {version}, "op": {"save"}, "override_roles": {"on"}, "role_group": {"it-admins"}, "role_role": {""}}
	p = h.post(t, h.adminC, "/admin/acme/sso/okta/mapping", bad).want(t, http.StatusBadRequest)
	if !strings.Contains(text(p.doc), "role is empty") {
		t.Fatalf("role rule error not shown:\n%s", text(p.doc))
	}
	if c, _ := h.st.GetConnection(ctx, h.okta.ID); len(c.Mapping) != 0 {
		t.Fatalf("an invalid mapping was saved: %s", c.Mapping)
	}

	form.Set("op", "save")
	h.post(t, h.adminC, "/admin/acme/sso/okta/mapping", form).redirect(t, "/admin/acme/sso/okta/mapping?done=mapping")
	c, _ = h.st.GetConnection(ctx, h.okta.ID)
	if got, want := string(c.Mapping), `{"email":{"saml":["mail"]},"groups":{"saml":["dept_groups"]},"roleRules":[{"group":"it-admins","role":"Admin"}]}`; got != want {
		t.Fatalf("saved overrides %s, want %s", got, want)
	}
	// The page shows them back.
	p = h.get(t, h.adminC, "/admin/acme/sso/okta/mapping").want(t, http.StatusOK)
	if attr(p.byID("saml_email"), "value") != "mail" || attr(p.byID("role_group_0"), "value") != "it-admins" {
		t.Fatal("the saved overrides are not shown in the form")
	}

	// Another preset, overrides cleared.
	version = attr(find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "version" }), "value")
	h.post(t, h.adminC, "/admin/acme/sso/okta/mapping/preset", url.Values{"version": {version}, "preset": {"entra"}}).
		redirect(t, "/admin/acme/sso/okta/mapping?done=preset")
	c, _ = h.st.GetConnection(ctx, h.okta.ID)
	if c.MappingPreset != "entra" || len(c.Mapping) != 0 {
		t.Fatalf("after Apply preset: %s %s", c.MappingPreset, c.Mapping)
	}
	// The JSON editor: invalid JSON is refused in place.
	p = h.get(t, h.adminC, "/admin/acme/sso/okta/mapping").want(t, http.StatusOK)
	version = attr(find(p.doc, func(n *html.Node) bool { return attr(n, "name") == "version" }), "value")
	p = h.post(t, h.adminC, "/admin/acme/sso/okta/mapping/json", url.Values{"version": {version}, "preset": {"entra"}, "overrides": {`{"email":`}}).
		want(t, http.StatusBadRequest)
	p.fieldError(t, "overrides", "not JSON")
	h.post(t, h.adminC, "/admin/acme/sso/okta/mapping/json", url.Values{"version": {version}, "preset": {"entra"}, "overrides": {`{"defaultRole": "Member"}`}}).
		redirect(t, "/admin/acme/sso/okta/mapping?done=mapping")
	if c, _ = h.st.GetConnection(ctx, h.okta.ID); string(c.Mapping) != `{"defaultRole":"Member"}` {
		t.Fatalf("JSON overrides saved as %s", c.Mapping)
	}
}

func TestSCIMTokenShownOnceAndRevoked(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, h.adminC, "/admin/acme/sso/okta/scim").want(t, http.StatusOK)
	if got := text(p.byID("scim-base")); got != baseURL+"/scim/v2" {
		t.Fatalf("SCIM base URL %q", got)
	}
	h.post(t, h.adminC, "/admin/acme/sso/okta/scim/tokens", url.Values{"description": {strings.Repeat("x", 300)}}).want(t, http.StatusBadRequest).
		fieldError(t, "description", "")
	p = h.post(t, h.adminC, "/admin/acme/sso/okta/scim/tokens", url.Values{"description": {"Okta production"}}).want(t, http.StatusOK)
	token := text(p.byID("token-value"))
	if !strings.HasPrefix(token, "onramp_") {
		t.Fatalf("new token %q", token)
	}
	if b := find(p.byID("new-token"), func(n *html.Node) bool { return n.Data == "button" && attr(n, "data-copy") == "#token-value" }); b == nil {
		t.Fatal("no copy button for the token")
	}
	if strings.Contains(h.logs.String(), token) {
		t.Fatal("the token is in the log")
	}
	p = h.get(t, h.adminC, "/admin/acme/sso/okta/scim").want(t, http.StatusOK)
	if strings.Contains(p.body, token) {
		t.Fatal("the token is shown again")
	}
	toks, err := h.st.ListTokens(context.Background(), h.acme.ID)
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens %+v, %v", toks, err)
	}
	if !strings.Contains(text(p.doc), "Okta production") {
		t.Fatal("the token list lacks the description")
	}
	h.post(t, h.adminC, "/admin/acme/sso/okta/scim/tokens/"+string(toks[0].ID)+"/revoke", url.Values{}).
		redirect(t, "/admin/acme/sso/okta/scim?done=revoked#tokens")
	if tok, _ := h.st.GetToken(context.Background(), toks[0].ID); tok.RevokedAt == nil {
		t.Fatal("the token was not revoked")
	}
	h.post(t, h.adminC, "/admin/acme/sso/okta/scim/tokens/nope/revoke", url.Values{}).want(t, http.StatusNotFound)
}

func TestUsersUserAndAuditLog(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, h.adminC, "/admin/acme/users").want(t, http.StatusOK)
	row := find(p.byID("users"), func(n *html.Node) bool { return n.Data == "tr" && strings.Contains(text(n), "max@acme.example") })
	if !strings.Contains(text(row), "SCIM via okta") {
		t.Fatalf("Max's row %q does not say where he came from", text(row))
	}
	if p := h.get(t, h.adminC, "/admin/acme/users?source=jit").want(t, http.StatusOK); strings.Contains(p.body, "max@acme.example") {
		t.Fatal("the source filter lets SCIM users through")
	}
	h.get(t, h.adminC, "/admin/acme/users?status=bogus").want(t, http.StatusBadRequest)

	p = h.get(t, h.adminC, "/admin/acme/users/"+string(h.max.ID)).want(t, http.StatusOK)
	signedIn(t, p, "Ada")
	if !strings.Contains(text(p.doc), "user.created") {
		t.Fatalf("Max's history lacks his creation:\n%s", text(p.doc))
	}

	p = h.get(t, h.adminC, "/admin/acme/audit?actor=test&user="+string(h.max.ID)).want(t, http.StatusOK)
	signedIn(t, p, "Ada")
	if n := strings.Count(text(p.byID("events")), "user.created"); n != 1 {
		t.Fatalf("%d user.created events about Max, want 1", n)
	}
	p = h.get(t, h.adminC, "/admin/acme/audit?actor=test").want(t, http.StatusOK)
	if n := strings.Count(text(p.byID("events")), "user.created"); n != 2 {
		t.Fatalf("%d user.created events by test, want 2 (Ada, Max)", n)
	}
	p = h.get(t, h.adminC, "/admin/acme/audit?since=yesterday").want(t, http.StatusBadRequest)
	p.fieldError(t, "since", "a date like")
	h.get(t, h.adminC, "/admin/acme/audit?since=2026-01-01&until=2025-01-01").want(t, http.StatusBadRequest)
}

// signedIn checks that the page's header names the signed-in person.
func signedIn(t *testing.T, p page, name string) {
	t.Helper()
	header := find(p.doc, func(n *html.Node) bool { return n.Data == "header" })
	if got := text(find(header, func(n *html.Node) bool { return n.Data == "strong" })); got != name {
		t.Errorf("the header names %q as signed in, want %q", got, name)
	}
}

func TestTooLargeFormIsRefused(t *testing.T) {
	h := newHarness(t)
	p := h.post(t, h.adminC, "/admin/acme/organization/onboarding", url.Values{"op": {"save"}, "jit_email_domains": {"on"},
		"domain": {strings.Repeat("a", 300<<10) + ".example"}}).want(t, http.StatusRequestEntityTooLarge)
	if !strings.Contains(text(p.doc), "too large") {
		t.Fatalf("413 page:\n%s", text(p.doc))
	}
	if h.getOrg(t, h.acme).Onboarding.JITEmailDomains {
		t.Fatal("a too large form was saved")
	}
}

func TestUnreadableFormIs400(t *testing.T) {
	h := newHarness(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.url+"/admin/acme/sso", strings.NewReader("--x\r\nnot a part"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "multipart/form-data") // no boundary
	h.send(t, h.adminC, req).want(t, http.StatusBadRequest)
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, h.url+"/admin/acme/organization/onboarding", strings.NewReader("op=save&%zz"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.send(t, h.adminC, req).want(t, http.StatusBadRequest)
}

func TestSignOutLeadsToTheSignInPage(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, h.adminC, "/admin/acme/users").want(t, http.StatusOK)
	form := find(p.doc, func(n *html.Node) bool { return n.Data == "form" && attr(n, "action") == "/logout" })
	returnTo := attr(find(form, func(n *html.Node) bool { return attr(n, "name") == "return_to" }), "value")
	if returnTo != "/admin/sign-in?org=acme" {
		t.Fatalf("sign out returns to %q", returnTo)
	}
	h.post(t, h.adminC, "/logout", url.Values{"return_to": {returnTo}}).redirect(t, returnTo)
	h.get(t, h.adminC, "/admin/acme/users").redirect(t, "/admin/sign-in?org=acme&return_to=%2Fadmin%2Facme%2Fusers")
}
