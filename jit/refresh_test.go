package jit

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// countingStore is the real SQLite store, counting what profile updates
// must not do when nothing changed: read the tokens, write the account.
type countingStore struct {
	*sqlstore.Store
	listTokens, profileWrites atomic.Int64
}

func (c *countingStore) ListTokens(ctx context.Context, org store.OrgID) ([]store.Token, error) {
	c.listTokens.Add(1)
	return c.Store.ListTokens(ctx, org)
}

func (c *countingStore) SignIn(ctx context.Context, in store.SignIn) (store.SignInResult, error) {
	if in.Profile != nil {
		c.profileWrites.Add(1)
	}
	return c.Store.SignIn(ctx, in)
}

// refreshSetup is provisionSetup with a counting store and the okta
// connection's mapping overridden by mappingJSON (with a role rule giving
// Admin to members of "Admins").
type refreshSetup struct {
	p    *Provisioner
	st   *countingStore
	org  store.Org
	conn store.Connection
}

func newRefreshSetup(t *testing.T, mappingJSON string) *refreshSetup {
	t.Helper()
	ctx := context.Background()
	raw, connID, _ := openTestStore(t)
	st := &countingStore{Store: raw}
	ev := store.AuditEvent{Actor: "operator", Action: "test.setup"}
	org, err := st.GetOrgBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	org, err = st.UpdateOrg(ctx, org.ID, func(o *store.Org) error {
		o.Onboarding.JITSSOConnections = true
		o.Access.SSOConnections = []string{"okta"}
		return nil
	}, ev)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := st.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		c.JITProvisioning = true
		c.MappingPreset = "okta"
		c.Mapping = json.RawMessage(mappingJSON)
		return nil
	}, ev)
	if err != nil {
		t.Fatal(err)
	}
	return &refreshSetup{p: NewProvisioner(st, nil, nil), st: st, org: org, conn: conn}
}

const adminRule = `{"roleRules":[{"group":"Admins","role":"Admin"}]}`

// aliceSays is an assertion for Alice (NameID 00u1alice) with attributes
// edited from her usual ones.
func aliceSays(id string, edit func(attrs map[string][]string)) Assertion {
	attrs := alice().Attributes
	if edit != nil {
		edit(attrs)
	}
	return Assertion{ID: id, NameID: "00u1alice", Attributes: attrs}
}

func (r *refreshSetup) provision(t *testing.T, a Assertion) store.User {
	t.Helper()
	out, err := r.p.Provision(context.Background(), r.org, r.conn, a)
	if err != nil {
		t.Fatalf("provision %s: %v", a.ID, err)
	}
	if out.Decision.Action == ActionRefuse {
		t.Fatalf("provision %s refused: %s", a.ID, out.Decision.Rule)
	}
	return out.User
}

func (r *refreshSetup) user(t *testing.T, id store.UserID) store.User {
	t.Helper()
	u, err := r.st.GetUser(context.Background(), r.org.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (r *refreshSetup) updates(t *testing.T) []store.AuditEvent {
	t.Helper()
	evs, err := r.st.ListEvents(context.Background(), r.org.ID, store.AuditQuery{Action: AuditUserUpdated})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// addSCIMToken gives the connection a SCIM token and returns its ID.
func (r *refreshSetup) addSCIMToken(t *testing.T) store.TokenID {
	t.Helper()
	_, tok, err := apitoken.New()
	if err != nil {
		t.Fatal(err)
	}
	tok.OrgID, tok.ConnectionID, tok.Kind = r.org.ID, r.conn.ID, store.TokenSCIM
	if _, err := r.st.CreateToken(context.Background(), tok, store.AuditEvent{Actor: "operator", Action: "token.created"}); err != nil {
		t.Fatal(err)
	}
	return tok.ID
}

func TestRefresh_JITAccountGetsRoleAndGroupsFromTheAssertion(t *testing.T) {
	r := newRefreshSetup(t, adminRule)

	u := r.provision(t, aliceSays("a1", func(a map[string][]string) { a["groups"] = []string{"Admins", "Everyone"} }))

	got := r.user(t, u.ID)
	if got.Role != attributes.RoleAdmin || !strings.Contains(got.Custom[GroupsField], `"Admins"`) {
		t.Fatalf("JIT account: role %q, groups %q; want Admin from the role rule and the groups kept", got.Role, got.Custom[GroupsField])
	}
	if page, err := r.st.ListGroups(context.Background(), r.org.ID, store.GroupQuery{Count: 10}); err != nil || page.Total != 0 {
		t.Fatalf("SCIM groups after a SAML sign-in: %+v %v; SAML must not create groups", page, err)
	}
}

func TestRefresh_UnchangedSignInWritesNoAccount(t *testing.T) {
	r := newRefreshSetup(t, adminRule)
	u := r.provision(t, aliceSays("a1", nil))
	before := r.user(t, u.ID)
	r.st.listTokens.Store(0)
	r.st.profileWrites.Store(0)

	r.provision(t, aliceSays("a2", nil))

	after := r.user(t, u.ID)
	if after.Version != before.Version || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("version %d→%d, updated %s→%s: an unchanged sign-in changed the account", before.Version, after.Version, before.UpdatedAt, after.UpdatedAt)
	}
	if n, m := r.st.profileWrites.Load(), r.st.listTokens.Load(); n != 0 || m != 0 {
		t.Fatalf("an unchanged sign-in made %d profile writes and %d ListTokens calls, want none", n, m)
	}
	if evs := r.updates(t); len(evs) != 0 {
		t.Fatalf("user.updated events: %+v", evs)
	}
	if after.LastSignInAt == nil || !after.LastSignInAt.After(*before.LastSignInAt) && !after.LastSignInAt.Equal(*before.LastSignInAt) {
		t.Fatalf("LastSignInAt %v → %v", before.LastSignInAt, after.LastSignInAt)
	}
}

func TestRefresh_AssertionOwnsProfileWithoutSCIMToken(t *testing.T) {
	r := newRefreshSetup(t, adminRule)
	u := r.provision(t, aliceSays("a1", nil))
	before := r.user(t, u.ID)
	if before.Role != attributes.RoleMember {
		t.Fatalf("role %q before, want Member", before.Role)
	}

	out := r.provision(t, aliceSays("a2", func(a map[string][]string) {
		a["lastName"] = []string{"Smith"}
		a["groups"] = []string{"Admins"}
	}))

	after := r.user(t, u.ID)
	if after.FamilyName != "Smith" || after.Role != attributes.RoleAdmin || after.Custom[GroupsField] != `["Admins"]` {
		t.Fatalf("after: family %q, role %q, groups %q", after.FamilyName, after.Role, after.Custom[GroupsField])
	}
	if after.Version != before.Version+1 || out.Version != after.Version {
		t.Fatalf("version %d→%d (outcome %d), want one update", before.Version, after.Version, out.Version)
	}
	if name := decodeJSON(t, after.Resource)["name"].(map[string]any); name["familyName"] != "Smith" {
		t.Fatalf("SCIM resource name: %v", name)
	}
	evs := r.updates(t)
	if len(evs) != 1 || evs[0].Actor != "idp:okta" || evs[0].UserID != u.ID || evs[0].Detail["fields"] != "familyName,displayName,groups,role" {
		t.Fatalf("user.updated events: %+v", evs)
	}

	// A sign-in without the groups attribute keeps groups and role (a login
	// that omits an attribute never erases or demotes).
	r.provision(t, aliceSays("a3", func(a map[string][]string) {
		a["lastName"] = []string{"Smith"}
		delete(a, "groups")
	}))
	if again := r.user(t, u.ID); again.Role != attributes.RoleAdmin || again.Version != after.Version {
		t.Fatalf("after a sign-in without groups: role %q, version %d→%d", again.Role, after.Version, again.Version)
	}
}

func TestRefresh_SCIMTokenMakesSCIMOwnTheProfile(t *testing.T) {
	r := newRefreshSetup(t, adminRule)
	ctx := context.Background()
	tokID := r.addSCIMToken(t)
	// Okta pushed Alice before her first sign-in.
	scim, err := r.st.CreateUser(ctx, store.User{
		OrgID: r.org.ID, UserName: "00u1alice", GivenName: "Alicia", Active: true, Role: attributes.RoleMember,
		Source: store.SourceSCIM, ConnectionID: r.conn.ID, Emails: []store.Email{{Value: "alice@acme-corp.com", Type: "work", Primary: true}},
		Resource: json.RawMessage(`{"userName":"00u1alice","name":{"givenName":"Alicia"},"emails":[{"value":"alice@acme-corp.com","type":"work","primary":true}]}`),
	}, store.AuditEvent{Actor: "token:" + string(tokID), Action: "user.created"})
	if err != nil {
		t.Fatal(err)
	}

	// First sign-in links; SCIM's values stay, empty fields are filled.
	u := r.provision(t, aliceSays("a1", func(a map[string][]string) { a["groups"] = []string{"Admins"} }))

	if u.ID != scim.ID {
		t.Fatalf("signed in as %s, want the SCIM account %s", u.ID, scim.ID)
	}
	got := r.user(t, u.ID)
	if got.GivenName != "Alicia" || got.FamilyName != "Liddell" || got.Role != attributes.RoleMember || got.Custom[GroupsField] != `["Admins"]` {
		t.Fatalf("SCIM-owned profile after sign-in: given %q family %q role %q groups %q", got.GivenName, got.FamilyName, got.Role, got.Custom[GroupsField])
	}
	if name := decodeJSON(t, got.Resource)["name"].(map[string]any); name["givenName"] != "Alicia" || name["familyName"] != "Liddell" {
		t.Fatalf("SCIM resource name: %v", name)
	}
	if evs := r.updates(t); len(evs) != 1 || evs[0].Detail["ownership"] != string(attributes.OwnershipSCIM) {
		t.Fatalf("user.updated events: %+v", evs)
	}

	// The token is revoked: the assertion owns the profile again.
	if err := r.st.RevokeToken(ctx, r.org.ID, tokID, store.AuditEvent{Actor: "operator", Action: "token.revoked"}); err != nil {
		t.Fatal(err)
	}
	r.provision(t, aliceSays("a2", func(a map[string][]string) { a["groups"] = []string{"Admins"} }))
	if got := r.user(t, u.ID); got.GivenName != "Alice" || got.Role != attributes.RoleAdmin {
		t.Fatalf("after the token was revoked: given %q role %q, want the assertion's", got.GivenName, got.Role)
	}
}

func TestRefresh_MappingOwnershipOverridesTheDefault(t *testing.T) {
	r := newRefreshSetup(t, `{"ownership":"assertion"}`)
	r.addSCIMToken(t)
	u := r.provision(t, aliceSays("a1", nil))
	r.st.listTokens.Store(0)

	r.provision(t, aliceSays("a2", func(a map[string][]string) { a["firstName"] = []string{"Ally"} }))

	if got := r.user(t, u.ID); got.GivenName != "Ally" {
		t.Fatalf("given name %q: ownership \"assertion\" must update despite the SCIM token", got.GivenName)
	}
	if n := r.st.listTokens.Load(); n != 0 {
		t.Fatalf("%d ListTokens calls with an explicit ownership, want 0", n)
	}
}

func TestRefresh_RenameToATakenUserNameStillSignsIn(t *testing.T) {
	r := newRefreshSetup(t, `{"userName":{"saml":["login"]}}`)
	ctx := context.Background()
	u := r.provision(t, aliceSays("a1", func(a map[string][]string) { a["login"] = []string{"alice"} }))
	if _, err := r.st.CreateUser(ctx, store.User{OrgID: r.org.ID, UserName: "bob", Active: true, Source: store.SourceSCIM},
		store.AuditEvent{Actor: "operator", Action: "user.created"}); err != nil {
		t.Fatal(err)
	}

	out := r.provision(t, aliceSays("a2", func(a map[string][]string) { a["login"] = []string{"bob"} }))

	if out.ID != u.ID || r.user(t, u.ID).UserName != "alice" {
		t.Fatalf("signed in as %s with userName %q; want %s, unrenamed", out.ID, r.user(t, u.ID).UserName, u.ID)
	}
}

func TestRefresh_LinkedSignInWithAMissingRequiredAttributeStillUpdatesTheRest(t *testing.T) {
	r := newRefreshSetup(t, "")
	u := r.provision(t, aliceSays("a1", nil))

	// No email at all: JIT would refuse to create, but the account exists.
	r.provision(t, aliceSays("a2", func(a map[string][]string) {
		delete(a, "email")
		a["lastName"] = []string{"Smith"}
	}))

	got := r.user(t, u.ID)
	if got.FamilyName != "Smith" || got.PrimaryEmail() != "alice@acme-corp.com" {
		t.Fatalf("family %q, email %q: want the new name and the email kept", got.FamilyName, got.PrimaryEmail())
	}
}

func TestRefresh_WithoutRoleRulesSignInKeepsTheRole(t *testing.T) {
	r := newRefreshSetup(t, "")
	ctx := context.Background()
	u := r.provision(t, aliceSays("a1", nil))
	// The organization's Admin made Alice an Admin through the admin API.
	if _, err := r.st.UpdateUser(ctx, r.org.ID, u.ID, func(x *store.User) error { x.Role = attributes.RoleAdmin; return nil },
		store.AuditEvent{Actor: "user:admin", Action: "user.updated"}); err != nil {
		t.Fatal(err)
	}

	r.provision(t, aliceSays("a2", func(a map[string][]string) { a["groups"] = []string{"Sales"} }))

	if got := r.user(t, u.ID); got.Role != attributes.RoleAdmin || got.Custom[GroupsField] != `["Sales"]` {
		t.Fatalf("role %q, groups %q: without role rules a sign-in updates the groups and keeps the role", got.Role, got.Custom[GroupsField])
	}
}

func TestRefresh_WithRoleRulesTheGroupsDecide(t *testing.T) {
	r := newRefreshSetup(t, adminRule)
	u := r.provision(t, aliceSays("a1", func(a map[string][]string) { a["groups"] = []string{"Admins"} }))
	if got := r.user(t, u.ID); got.Role != attributes.RoleAdmin {
		t.Fatalf("role %q, want Admin", got.Role)
	}

	// Removed from the Admins group at the IdP.
	r.provision(t, aliceSays("a2", func(a map[string][]string) { a["groups"] = []string{"Everyone"} }))

	if got := r.user(t, u.ID); got.Role != attributes.RoleMember {
		t.Fatalf("role %q after leaving Admins, want Member", got.Role)
	}
}
