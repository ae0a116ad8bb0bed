package emaillogin_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// TestLinkSignInCreatesAccountJustInTime: the whole path through a real SMTP
// server, from the sign-in page to the session.
func TestLinkSignInCreatesAccountJustInTime(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	b := v.browser()
	sent, msg := b.signInEmail("Ann.Lee@acme-corp.com", "return_to=/app/home")
	if !strings.Contains(sent.body, "Ann.Lee@acme-corp.com") || len(sent.forms()) != 1 {
		t.Errorf("sent page: %s", sent.body)
	}
	if !msg.TLS || !msg.Authenticated || msg.From != "noreply@onramp.test" {
		t.Errorf("delivery: TLS %v, auth %v, from %q", msg.TLS, msg.Authenticated, msg.From)
	}
	if msg.Subject != "Sign in to onramp" || !strings.Contains(msg.Text, "15 minutes") {
		t.Errorf("message: %q / %q", msg.Subject, msg.Text)
	}
	lnk := link(t, msg)
	code(t, msg)

	// Opening the link changes nothing (mail scanners open links).
	page := b.get(lnk)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Ann.Lee@acme-corp.com") {
		t.Fatalf("link page: %d %s", page.status, page.body)
	}
	if n := len(v.accounts(acme.ID, "ann.lee@acme-corp.com")); n != 0 {
		t.Fatalf("opening the link made %d accounts", n)
	}
	page = b.get(lnk) // still usable
	done := b.submit(page, nil)
	if done.status != http.StatusSeeOther || done.header.Get("Location") != "/app/home" {
		t.Fatalf("sign-in: %d %v %s", done.status, done.header, done.body)
	}

	accts := v.accounts(acme.ID, "ann.lee@acme-corp.com")
	if len(accts) != 1 {
		t.Fatalf("%d accounts", len(accts))
	}
	u := accts[0]
	if u.Source != store.SourceJIT || u.Role != "Member" || u.UserName != "Ann.Lee@acme-corp.com" || !u.Active ||
		u.LastSignInAt == nil || u.PrimaryEmail() != "Ann.Lee@acme-corp.com" {
		t.Errorf("account %+v", u)
	}
	me, status := b.me()
	if status != http.StatusOK || me["id"] != string(u.ID) || me["email"] != "Ann.Lee@acme-corp.com" {
		t.Errorf("/api/v1/me: %d %v", status, me)
	}
	created := v.events(acme.ID, jit.AuditCreated)
	if len(created) != 1 || created[0].Rule != jit.RuleJITEmailDomain || created[0].UserID != u.ID ||
		created[0].Actor != "email" || created[0].Detail["method"] != "email" {
		t.Errorf("jit.created events %+v", created)
	}
	signedIn := v.events(acme.ID, jit.AuditSignedIn)
	if len(signedIn) != 1 || signedIn[0].UserID != u.ID || signedIn[0].Rule != jit.RuleJITEmailDomain {
		t.Errorf("jit.signed_in events %+v", signedIn)
	}

	// The link worked once.
	again := b.follow(lnk)
	if again.status != http.StatusGone || again.reason() != emaillogin.ReasonLinkUsed {
		t.Errorf("second use: %d %q", again.status, again.reason())
	}
	again = b.submit(page, nil) // the old page's form
	if again.status != http.StatusGone || again.reason() != emaillogin.ReasonLinkUsed {
		t.Errorf("second post: %d %q", again.status, again.reason())
	}
	if n := len(v.accounts(acme.ID, "ann.lee@acme-corp.com")); n != 1 {
		t.Errorf("%d accounts after reuse", n)
	}
}

func TestExistingAccountSignsInWithoutJIT(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", false) // no JIT, no domains
	ann := v.user(acme.ID, "ann@acme-corp.com")
	b := v.browser()
	_, msg := b.signInEmail("ANN@acme-corp.com")
	done := b.follow(link(t, msg))
	if done.status != http.StatusSeeOther || done.header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d %s", done.status, done.body)
	}
	if me, _ := b.me(); me["id"] != string(ann.ID) {
		t.Errorf("me %v", me)
	}
	evs := v.events(acme.ID, jit.AuditSignedIn)
	if len(evs) != 1 || evs[0].Rule != jit.RuleVerifiedEmail || evs[0].UserID != ann.ID {
		t.Errorf("events %+v", evs)
	}
	if got := v.accounts(acme.ID, "ann@acme-corp.com"); len(got) != 1 || got[0].LastSignInAt == nil || got[0].Version != ann.Version {
		t.Errorf("account after sign-in %+v", got)
	}
}

func TestCodeSignIn(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	b := v.browser()
	sent, msg := b.signInEmail("bob@acme-corp.com")
	c := code(t, msg)
	wrong := "000000"
	if c == wrong {
		wrong = "111111"
	}
	bad := b.submit(sent, url.Values{"code": {wrong}})
	if bad.status != http.StatusBadRequest || bad.reason() != emaillogin.ReasonWrongCode {
		t.Fatalf("wrong code: %d %q", bad.status, bad.reason())
	}
	ok := b.submit(bad, url.Values{"code": {c[:3] + " " + c[3:]}}) // typed with a space
	if ok.status != http.StatusSeeOther {
		t.Fatalf("right code: %d %s", ok.status, ok.body)
	}
	if me, _ := b.me(); me["email"] != "bob@acme-corp.com" {
		t.Errorf("me %v", me)
	}
	// The code and its link are spent.
	again := b.submit(sent, url.Values{"code": {c}})
	if again.status != http.StatusBadRequest || again.reason() != emaillogin.ReasonWrongCode {
		t.Errorf("code reused: %d %q", again.status, again.reason())
	}
	if r := b.follow(link(t, msg)); r.status != http.StatusNotFound || r.reason() != emaillogin.ReasonLinkInvalid {
		// The code rotated the link's secret, so the emailed link is unknown.
		t.Errorf("link after the code: %d %q", r.status, r.reason())
	}
	if n := len(v.accounts(acme.ID, "bob@acme-corp.com")); n != 1 {
		t.Errorf("%d accounts", n)
	}
}

func TestWrongCodesSpendTheCode(t *testing.T) {
	v := newEnv(t, func(c *emaillogin.Config) { c.Limits.CodeAttempts = 3 })
	v.org("acme", "Acme Corp", true, "acme-corp.com")
	b := v.browser()
	sent, msg := b.signInEmail("bob@acme-corp.com")
	c := code(t, msg)
	for i := range 3 {
		wrong := strconv.Itoa(100000 + i)
		if wrong == c {
			wrong = "999999"
		}
		if r := b.submit(sent, url.Values{"code": {wrong}}); r.reason() != emaillogin.ReasonWrongCode {
			t.Fatalf("attempt %d: %d %q", i, r.status, r.reason())
		}
	}
	if r := b.submit(sent, url.Values{"code": {c}}); r.status != http.StatusBadRequest {
		t.Errorf("the right code after three wrong ones: %d", r.status)
	}
	// The link itself is a 256-bit secret: it still works.
	if r := b.follow(link(t, msg)); r.status != http.StatusSeeOther {
		t.Errorf("link: %d %s", r.status, r.body)
	}
}

func TestLinkExpires(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	b := v.browser()
	sent, msg := b.signInEmail("ann@acme-corp.com")
	page := b.get(link(t, msg))
	v.clock.Advance(emaillogin.DefaultLinkTTL)
	for name, r := range map[string]response{
		"open":  b.get(link(t, msg)),
		"post":  b.submit(page, nil),
		"code":  b.submit(sent, url.Values{"code": {code(t, msg)}}),
		"later": b.follow(link(t, msg)),
	} {
		want := emaillogin.ReasonLinkExpired
		if name == "code" {
			want = emaillogin.ReasonWrongCode
		}
		if r.reason() != want || r.status == http.StatusSeeOther {
			t.Errorf("%s after expiry: %d %q, want %q", name, r.status, r.reason(), want)
		}
	}
	if n := len(v.accounts(acme.ID, "ann@acme-corp.com")); n != 0 {
		t.Errorf("%d accounts", n)
	}
	if _, st := b.me(); st != http.StatusUnauthorized {
		t.Errorf("me: %d", st)
	}
}

func TestDeprovisionedAccountIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(v *env, org store.OrgID, u store.User)
	}{
		{"deactivated", func(v *env, org store.OrgID, u store.User) {
			if _, err := v.st.UpdateUser(t.Context(), org, u.ID, func(x *store.User) error { x.Active = false; return nil }, store.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", func(v *env, org store.OrgID, u store.User) {
			if err := v.st.DeleteUser(t.Context(), org, u.ID, store.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			acme := v.org("acme", "Acme Corp", true, "acme-corp.com") // JIT would allow a new account
			ann := v.user(acme.ID, "ann@acme-corp.com")
			tc.modify(v, acme.ID, ann)
			b := v.browser()
			_, msg := b.signInEmail("ann@acme-corp.com")
			r := b.follow(link(t, msg))
			if r.status != http.StatusForbidden || r.reason() != jit.RuleDeprovisioned || !strings.Contains(r.body, "Acme Corp") {
				t.Fatalf("%d %q %s", r.status, r.reason(), r.body)
			}
			if _, st := b.me(); st != http.StatusUnauthorized {
				t.Errorf("me: %d", st)
			}
			if got := v.accounts(acme.ID, "ann@acme-corp.com"); len(got) != 1 {
				t.Errorf("accounts %+v: JIT made a new one", got)
			}
			evs := v.events(acme.ID, jit.AuditRefused)
			if len(evs) != 1 || evs[0].Rule != jit.RuleDeprovisioned || evs[0].UserID != ann.ID || evs[0].Detail["hint"] == "" {
				t.Errorf("events %+v", evs)
			}
		})
	}
}

func TestDisallowedDomainIsRefused(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", false, "acme-corp.com") // domain allowed, JIT by email off
	b := v.browser()
	_, msg := b.signInEmail("ann@acme-corp.com")
	r := b.follow(link(t, msg))
	if r.status != http.StatusForbidden || r.reason() != jit.RuleJITNotAllowed ||
		!strings.Contains(r.body, "turn on just-in-time provisioning by email domain") {
		t.Fatalf("%d %q %s", r.status, r.reason(), r.body)
	}
	if evs := v.events(acme.ID, jit.AuditRefused); len(evs) != 1 || evs[0].Rule != jit.RuleJITNotAllowed {
		t.Errorf("events %+v", evs)
	}
	// An address no organization knows or allows: refused, no event anywhere.
	_, msg = b.signInEmail("eve@elsewhere.example")
	r = b.follow(link(t, msg))
	if r.status != http.StatusForbidden || r.reason() != jit.RuleJITNotAllowed || !strings.Contains(r.body, "elsewhere.example") {
		t.Fatalf("%d %q %s", r.status, r.reason(), r.body)
	}
	if n := len(v.events(acme.ID, jit.AuditRefused)); n != 1 {
		t.Errorf("%d refusals in acme", n)
	}
	if _, st := b.me(); st != http.StatusUnauthorized {
		t.Errorf("me: %d", st)
	}
}

func TestSeveralOrganizationsPersonChooses(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	beta := v.org("beta", "Beta Labs", true, "acme-corp.com")
	v.org("gamma", "Gamma", false, "acme-corp.com") // allows the domain, no JIT: listed as not available
	b := v.browser()
	_, msg := b.signInEmail("ann@acme-corp.com")
	choose := b.follow(link(t, msg))
	if choose.status != http.StatusOK || len(choose.forms()) != 2 || !strings.Contains(choose.body, "Gamma") {
		t.Fatalf("chooser: %d %s", choose.status, choose.body)
	}
	// Choosing did not spend the link before the choice.
	done := b.submit(choose, nil, "org", "beta")
	if done.status != http.StatusSeeOther {
		t.Fatalf("choice: %d %s", done.status, done.body)
	}
	if n := len(v.accounts(beta.ID, "ann@acme-corp.com")); n != 1 {
		t.Errorf("%d accounts in beta", n)
	}
	if n := len(v.accounts(acme.ID, "ann@acme-corp.com")); n != 0 {
		t.Errorf("%d accounts in acme", n)
	}
	if me, _ := b.me(); me["orgId"] != string(beta.ID) {
		t.Errorf("me %v", me)
	}
	// The other choice is gone with the link.
	if r := b.submit(choose, nil, "org", "acme"); r.reason() != emaillogin.ReasonLinkUsed {
		t.Errorf("second choice: %d %q", r.status, r.reason())
	}
}

func TestWrongOrganization(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	v.org("beta", "Beta Labs", true, "acme-corp.com")
	b := v.browser()
	_, msg := b.signInEmail("ann@acme-corp.com", "org=acme")
	if msg.Subject != "Sign in to Acme Corp" || !strings.Contains(msg.HTML, "Acme Corp") {
		t.Errorf("a link for one organization names it: %q", msg.Subject)
	}
	page := b.get(link(t, msg))
	wrong := b.post(emaillogin.PathLoginLink, url.Values{"token": {page.forms()[0].fields.Get("token")},
		"form_token": {page.forms()[0].fields.Get("form_token")}, "org": {"beta"}})
	if wrong.status != http.StatusBadRequest || wrong.reason() != emaillogin.ReasonWrongOrg {
		t.Fatalf("%d %q", wrong.status, wrong.reason())
	}
	// The link is not spent by the attempt, and signs in to its own organization.
	done := b.submit(page, nil)
	if done.status != http.StatusSeeOther {
		t.Fatalf("%d %s", done.status, done.body)
	}
	if me, _ := b.me(); me["orgId"] != string(acme.ID) {
		t.Errorf("me %v", me)
	}
	if r := b.get("/login?org=nope"); r.status != http.StatusNotFound || r.reason() != emaillogin.ReasonUnknownOrg {
		t.Errorf("unknown org: %d %q", r.status, r.reason())
	}
}

func TestRateLimits(t *testing.T) {
	v := newEnv(t, func(c *emaillogin.Config) { c.Limits = emaillogin.Limits{PerAddress: 3, PerClient: 5} })
	v.org("acme", "Acme Corp", true, "acme-corp.com")
	b := v.browser()
	for range 3 {
		b.signInEmail("ann@acme-corp.com")
	}
	login := b.get("/login")
	r := b.submit(login, url.Values{"email": {"ann@acme-corp.com"}})
	if r.status != http.StatusTooManyRequests || r.reason() != emaillogin.ReasonRateLimited {
		t.Fatalf("fourth email: %d %q", r.status, r.reason())
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > int((15*time.Minute)/time.Second) {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if n := len(v.smtp.To("ann@acme-corp.com")); n != 3 {
		t.Errorf("%d emails sent", n)
	}
	// Per client: the fifth request from this address's client is the last.
	b.signInEmail("bob@acme-corp.com")
	r = b.submit(login, url.Values{"email": {"carol@acme-corp.com"}})
	if r.status != http.StatusTooManyRequests {
		t.Errorf("sixth request from one client: %d", r.status)
	}
	// The window ends.
	v.clock.Advance(15 * time.Minute)
	b.signInEmail("ann@acme-corp.com")
}

func TestSameAnswerWhetherOrNotKnown(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	v.user(acme.ID, "known@acme-corp.com")
	if _, err := v.st.UpdateUser(t.Context(), acme.ID, v.user(acme.ID, "off@acme-corp.com").ID,
		func(u *store.User) error { u.Active = false; return nil }, store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	norm := func(r response, email string) string {
		body := strings.ReplaceAll(r.body, email, "EMAIL")
		return strings.ReplaceAll(body, r.forms()[0].fields.Get("form_token"), "TOKEN")
	}
	var want string
	for _, email := range []string{"known@acme-corp.com", "nobody@acme-corp.com", "off@acme-corp.com", "x@elsewhere.example"} {
		b := v.browser()
		sent, _ := b.signInEmail(email)
		got := norm(sent, email)
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("%s: the page differs:\n%s\nwant\n%s", email, got, want)
		}
	}
}

func TestHomeRealmDiscovery(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	beta := v.org("beta", "Beta Labs", true, "beta.example")
	okta, err := v.st.CreateConnection(t.Context(), store.Connection{OrgID: acme.ID, Slug: "okta", Name: "Okta",
		IdPMetadataXML: "<EntityDescriptor/>", MappingPreset: "okta"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	betaConn, err := v.st.CreateConnection(t.Context(), store.Connection{OrgID: beta.ID, Slug: "entra", Name: "Entra",
		IdPMetadataXML: "<EntityDescriptor/>", MappingPreset: "entra"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	adminTok, betaTok := v.token(acme.ID, ""), v.token(beta.ID, "")

	// Routes are set through the admin API, for allowed domains only.
	if st, body := v.api(http.MethodPut, "/api/v1/orgs/acme/domain-routes/ACME-corp.com", adminTok, map[string]string{"connection": "okta"}); st != http.StatusOK || body["domain"] != "acme-corp.com" || body["connection"] != "okta" {
		t.Fatalf("set route: %d %v", st, body)
	}
	if st, body := v.api(http.MethodPut, "/api/v1/orgs/acme/domain-routes/other.example", adminTok, map[string]string{"connection": "okta"}); st != http.StatusUnprocessableEntity || !strings.Contains(body["error"].(string), "other.example") {
		t.Errorf("route of a domain not allowed: %d %v", st, body)
	}
	if st, body := v.api(http.MethodPut, "/api/v1/orgs/acme/domain-routes/acme-corp.com", adminTok, map[string]string{"connection": "nope"}); st != http.StatusBadRequest {
		t.Errorf("unknown connection: %d %v", st, body)
	}
	if _, err := v.st.UpdateOrg(t.Context(), beta.ID, func(o *store.Org) error {
		o.Access.EmailDomains = append(o.Access.EmailDomains, "acme-corp.com")
		return nil
	}, store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if st, body := v.api(http.MethodPut, "/api/v1/orgs/beta/domain-routes/acme-corp.com", betaTok, map[string]string{"connection": "entra"}); st != http.StatusConflict {
		t.Errorf("another organization's domain: %d %v", st, body)
	}
	if st, body := v.api(http.MethodGet, "/api/v1/orgs/acme/domain-routes", betaTok, nil); st != http.StatusNotFound {
		t.Errorf("beta reads acme's routes: %d %v", st, body)
	}
	if st, body := v.api(http.MethodGet, "/api/v1/orgs/acme/domain-routes", adminTok, nil); st != http.StatusOK || len(body["domainRoutes"].([]any)) != 1 {
		t.Errorf("list: %d %v", st, body)
	}
	_ = betaConn

	b := v.browser()
	login := b.get("/login?return_to=/app")
	r := b.submit(login, url.Values{"email": {"ann@ACME-corp.com"}})
	want := v.base + "/saml/acme/okta/login?return_to=%2Fapp"
	if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
		t.Fatalf("discovery: %d %q, want %q", r.status, r.header.Get("Location"), want)
	}
	if n := len(v.smtp.Messages()); n != 0 {
		t.Errorf("%d emails sent for a routed domain", n)
	}
	// On beta's sign-in page, acme's route does not apply: beta emails a link.
	b.signInEmail("ann@acme-corp.com", "org=beta")

	// Deleting the route (or the connection) ends discovery.
	if st, _ := v.api(http.MethodDelete, "/api/v1/orgs/acme/domain-routes/acme-corp.com", adminTok, nil); st != http.StatusNoContent {
		t.Errorf("delete: %d", st)
	}
	b.signInEmail("ann@acme-corp.com")
	if evs := v.events(acme.ID, "domain_route.set"); len(evs) != 1 || evs[0].ConnectionID != okta.ID || !strings.HasPrefix(evs[0].Actor, "token:") {
		t.Errorf("events %+v", evs)
	}
}

func TestFormsNeedThePagesCookie(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	victim := v.browser()
	attacker := v.browser()
	_, msg := attacker.signInEmail("mallory@acme-corp.com")
	page := attacker.get(link(t, msg))
	// The attacker's page posted from the victim's browser (no form cookie there).
	r := victim.post(emaillogin.PathLoginLink, page.forms()[0].fields)
	if r.status != http.StatusForbidden || r.reason() != emaillogin.ReasonFormExpired {
		t.Fatalf("cross-site post: %d %q", r.status, r.reason())
	}
	if _, st := victim.me(); st != http.StatusUnauthorized {
		t.Errorf("the victim was signed in: %d", st)
	}
	if n := len(v.accounts(acme.ID, "mallory@acme-corp.com")); n != 0 {
		t.Errorf("%d accounts", n)
	}
	if r := attacker.submit(page, nil); r.status != http.StatusSeeOther {
		t.Errorf("the link's own browser: %d", r.status)
	}
}

func TestInvalidInput(t *testing.T) {
	v := newEnv(t)
	b := v.browser()
	login := b.get("/login")
	for _, email := range []string{"", "not-an-address", "Ann <ann@acme-corp.com>", "ann@", strings.Repeat("a", 250) + "@x.io"} {
		r := b.submit(login, url.Values{"email": {email}})
		if r.status != http.StatusBadRequest || r.reason() != emaillogin.ReasonInvalidEmail {
			t.Errorf("%q: %d %q", email, r.status, r.reason())
		}
	}
	if r := b.get("/login?return_to=https://evil.example/"); r.status != http.StatusBadRequest || r.reason() != emaillogin.ReasonBadReturnTo {
		t.Errorf("open redirect: %d %q", r.status, r.reason())
	}
	for _, tok := range []string{"", "short", strings.Repeat("A", 43)} {
		if r := b.get("/login/link?token=" + tok); r.status != http.StatusNotFound || r.reason() != emaillogin.ReasonLinkInvalid {
			t.Errorf("token %q: %d %q", tok, r.status, r.reason())
		}
	}
	if n := len(v.smtp.Messages()); n != 0 {
		t.Errorf("%d emails", n)
	}
}

func TestSweep(t *testing.T) {
	v := newEnv(t)
	v.org("acme", "Acme Corp", true, "acme-corp.com")
	b := v.browser()
	_, used := b.signInEmail("ann@acme-corp.com")
	if r := b.follow(link(t, used)); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	_, live := b.signInEmail("bob@acme-corp.com")
	// Nothing has ended yet but the used link.
	links, limits, err := v.svc.Sweep(t.Context())
	if err != nil || links != 1 || limits != 0 {
		t.Fatalf("first sweep: %d links, %d limits, %v", links, limits, err)
	}
	if r := b.get(link(t, live)); r.status != http.StatusOK {
		t.Errorf("the live link was swept: %d", r.status)
	}
	v.clock.Advance(emaillogin.DefaultLinkTTL)
	links, limits, err = v.svc.Sweep(t.Context())
	if err != nil || links != 1 || limits == 0 {
		t.Errorf("second sweep: %d links, %d limits, %v", links, limits, err)
	}
}
