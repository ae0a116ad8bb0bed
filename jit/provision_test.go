package jit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// provisionSetup returns a store with organization acme (JIT by SSO on for
// connection okta) and the Provisioner.
func provisionSetup(t *testing.T) (*Provisioner, store.Store, store.Org, store.Connection) {
	t.Helper()
	ctx := context.Background()
	st, connID, _ := openTestStore(t)
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
		return nil
	}, ev)
	if err != nil {
		t.Fatal(err)
	}
	return NewProvisioner(st, nil, nil), st, org, conn
}

// oktaAssertion is a verified assertion as Okta sends it by default: the
// NameID is the Okta username, an email address.
func oktaAssertion(id string) Assertion {
	return Assertion{ID: id, NameID: "alice@acme-corp.com", Attributes: map[string][]string{"firstName": {"Alice"}}}
}

func liveUsers(t *testing.T, st store.Store, org store.OrgID) []store.User {
	t.Helper()
	page, err := st.ListUsers(context.Background(), org, store.UserQuery{Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func TestProvision_ConcurrentFirstSignIns(t *testing.T) {
	p, st, org, conn := provisionSetup(t)
	const n = 8
	var wg sync.WaitGroup
	outs := make([]Outcome, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			outs[i], errs[i] = p.Provision(context.Background(), org, conn, oktaAssertion(fmt.Sprintf("a%d", i)))
		})
	}
	wg.Wait()

	users := liveUsers(t, st, org.ID)
	if len(users) != 1 {
		t.Fatalf("%d accounts after %d concurrent first sign-ins, want 1", len(users), n)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("sign-in %d: %v", i, errs[i])
		}
		if outs[i].User.ID != users[0].ID || outs[i].Decision.Action == ActionRefuse {
			t.Errorf("sign-in %d: %s/%s as %q, want user %q", i, outs[i].Decision.Action, outs[i].Decision.Rule, outs[i].User.ID, users[0].ID)
		}
	}
	evs, err := st.ListEvents(context.Background(), org.ID, store.AuditQuery{Action: AuditCreated})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Errorf("%d jit.created events, want 1", len(evs))
	}
}

func TestProvision_RacesSCIMPush(t *testing.T) {
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			p, st, org, conn := provisionSetup(t)
			ctx := context.Background()
			var wg sync.WaitGroup
			var scimErr, jitErr error
			var out Outcome
			wg.Go(func() {
				_, scimErr = st.CreateUser(ctx, store.User{
					OrgID: org.ID, UserName: "alice@acme-corp.com", Active: true, Source: store.SourceSCIM, ConnectionID: conn.ID,
					Emails: []store.Email{{Value: "alice@acme-corp.com", Primary: true}},
				}, store.AuditEvent{Actor: "token:t1", Action: "user.created"})
			})
			wg.Go(func() { out, jitErr = p.Provision(ctx, org, conn, oktaAssertion("a1")) })
			wg.Wait()

			if jitErr != nil {
				t.Fatalf("JIT: %v", jitErr)
			}
			// SCIM either won (JIT linked to its account) or lost with a
			// conflict (it then finds the JIT account by filter and adopts it).
			if scimErr != nil && !errors.Is(scimErr, store.ErrConflict) {
				t.Fatalf("SCIM: %v", scimErr)
			}
			users := liveUsers(t, st, org.ID)
			if len(users) != 1 || out.User.ID != users[0].ID {
				t.Fatalf("%d accounts, JIT signed in %q: want exactly one account", len(users), out.User.ID)
			}
		})
	}
}

func TestProvision_UserNameAndEmailOfTwoAccountsIsAmbiguous(t *testing.T) {
	p, st, org, conn := provisionSetup(t)
	ctx := context.Background()
	ev := store.AuditEvent{Actor: "token:t1", Action: "user.created"}
	// One account has Alice's userName, another her email address.
	byName, err := st.CreateUser(ctx, store.User{OrgID: org.ID, UserName: "alice@acme-corp.com", Active: true, Source: store.SourceSCIM, ConnectionID: conn.ID}, ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, store.User{OrgID: org.ID, UserName: "a.liddell", Active: true, Source: store.SourceSCIM, ConnectionID: conn.ID,
		Emails: []store.Email{{Value: "Alice@Acme-Corp.com", Primary: true}}}, ev); err != nil {
		t.Fatal(err)
	}
	a := oktaAssertion("a1")
	a.Attributes["email"] = []string{"alice@acme-corp.com"}

	out, err := p.Provision(ctx, org, conn, a)

	if err != nil || out.Decision.Rule != RuleAmbiguousMatch {
		t.Fatalf("Provision = %+v, %v; want a refusal %s", out.Decision, err, RuleAmbiguousMatch)
	}

	// With only the userName account, the same sign-in links to it, found
	// once although it matches by userName and (now) by email.
	if _, err := st.UpdateUser(ctx, org.ID, byName.ID, func(u *store.User) error {
		u.Emails = []store.Email{{Value: "alice@acme-corp.com", Primary: true}}
		return nil
	}, store.AuditEvent{Actor: "token:t1", Action: "user.updated"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range liveUsers(t, st, org.ID) {
		if u.ID != byName.ID {
			if err := st.DeleteUser(ctx, org.ID, u.ID, store.AuditEvent{Actor: "token:t1", Action: "user.deleted"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err = p.Provision(ctx, org, conn, oktaAssertion("a2"))
	if err != nil || out.Decision.Action != ActionLink || out.User.ID != byName.ID {
		t.Fatalf("Provision = %+v as %s, %v; want a link to %s", out.Decision, out.User.ID, err, byName.ID)
	}
}

// linkedReads counts the store's GetLinkedUser calls.
type linkedReads struct {
	store.Store
	n atomic.Int64
}

func (l *linkedReads) GetLinkedUser(ctx context.Context, conn store.ConnectionID, nameID string) (store.Identity, store.User, error) {
	l.n.Add(1)
	return l.Store.GetLinkedUser(ctx, conn, nameID)
}

func TestProvision_UsesTheReadPrefetchedForTheVerifiedIdentityOnly(t *testing.T) {
	_, st, org, conn := provisionSetup(t)
	counted := &linkedReads{Store: st}
	p := NewProvisioner(counted, nil, nil)
	ctx := context.Background()
	alice, err := p.Provision(ctx, org, conn, oktaAssertion("a1"))
	if err != nil {
		t.Fatal(err)
	}
	bob := oktaAssertion("b1")
	bob.NameID = "bob@acme-corp.com"
	if _, err := p.Provision(ctx, org, conn, bob); err != nil {
		t.Fatal(err)
	}

	// The prefetch read Alice's identity: Alice's sign-in takes it and reads
	// no more.
	counted.n.Store(0)
	out, err := p.provision(ctx, org, conn, false, oktaAssertion("a2"), nil, p.prefetch(ctx, conn, shapeClaims{NameID: "alice@acme-corp.com"}), nil)
	if err != nil || out.User.ID != alice.User.ID || out.Decision.Action != ActionSignIn {
		t.Fatalf("Alice with her prefetch: %+v as %s, %v", out.Decision, out.User.ID, err)
	}
	if n := counted.n.Load(); n != 1 {
		t.Fatalf("%d GetLinkedUser calls with a matching prefetch, want 1 (the prefetch's)", n)
	}

	// A response claimed Alice but the verified assertion names Bob (or
	// another connection's Alice): the prefetch is not used.
	other := conn
	other.ID = "another-connection"
	for _, pf := range []*prefetched{p.prefetch(ctx, conn, shapeClaims{NameID: "alice@acme-corp.com"}), p.prefetch(ctx, other, shapeClaims{NameID: "bob@acme-corp.com"})} {
		bob.ID = "b-" + string(pf.conn)
		out, err = p.provision(ctx, org, conn, false, bob, nil, pf, nil)
		if err != nil || out.User.ID == alice.User.ID || out.User.UserName != "bob@acme-corp.com" {
			t.Fatalf("Bob with a prefetch of %s/%s: signed in as %s (%s), %v", pf.conn, pf.nameID, out.User.ID, out.User.UserName, err)
		}
	}
}

// matchReads counts MatchUsers calls.
type matchReads struct {
	store.Store
	n atomic.Int64
}

func (m *matchReads) MatchUsers(ctx context.Context, org store.OrgID, userName, email string, limit int) ([]store.User, error) {
	m.n.Add(1)
	return m.Store.MatchUsers(ctx, org, userName, email, limit)
}

// attributeStatement is an AttributeStatement as an IdP writes it, with
// the prefixes declared on the Response outside it.
func attributeStatement(email string) []byte {
	return []byte(`<saml:AttributeStatement><saml:Attribute Name="email" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">` +
		`<saml:AttributeValue xsi:type="xs:string">` + email + `</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`)
}

// TestProvision_UsesTheMatchesPrefetchedForTheVerifiedProfileOnly: the
// accounts read for a claimed profile decide a first sign-in only if the
// verified assertion maps to the same userName and email. A response that
// claims a victim's email (in its unsigned envelope, say) gets no link to
// the victim's account out of the prefetch.
func TestProvision_UsesTheMatchesPrefetchedForTheVerifiedProfileOnly(t *testing.T) {
	_, st, org, conn := provisionSetup(t)
	ctx := context.Background()
	// Carol's account, pushed over SCIM by this connection: a first sign-in
	// with her email links to it.
	carol, err := st.CreateUser(ctx, store.User{OrgID: org.ID, UserName: "carol@acme-corp.com", Active: true, Source: store.SourceSCIM,
		ConnectionID: conn.ID, Emails: []store.Email{{Value: "carol@acme-corp.com", Primary: true}}}, store.AuditEvent{Actor: "scim", Action: "user.created"})
	if err != nil {
		t.Fatal(err)
	}
	counted := &matchReads{Store: st}
	p := NewProvisioner(counted, nil, nil)
	signIn := func(id, nameID, email string) Assertion {
		return Assertion{ID: id, NameID: nameID, Attributes: map[string][]string{"email": {email}}}
	}

	// The claim is what the verified assertion says: one read, the prefetch's.
	a := signIn("c1", "carol@acme-corp.com", "carol@acme-corp.com")
	pf := p.prefetch(ctx, conn, shapeClaims{NameID: a.NameID, AttributeStatement: attributeStatement("carol@acme-corp.com")})
	out, err := p.provision(ctx, org, conn, false, a, nil, pf, nil)
	if err != nil || out.Decision.Action != ActionLink || out.User.ID != carol.ID {
		t.Fatalf("Carol: %+v as %s, %v; want a link to %s", out.Decision, out.User.ID, err, carol.ID)
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("%d MatchUsers calls with a matching prefetch, want 1 (the prefetch's)", n)
	}

	// The claim names Carol's email, the verified assertion Dave's: the
	// prefetch is not used, and Dave gets an account of his own.
	counted.n.Store(0)
	a = signIn("d1", "dave@acme-corp.com", "dave@acme-corp.com")
	pf = p.prefetch(ctx, conn, shapeClaims{NameID: a.NameID, AttributeStatement: attributeStatement("carol@acme-corp.com")})
	out, err = p.provision(ctx, org, conn, false, a, nil, pf, nil)
	if err != nil || out.Decision.Action != ActionCreate || out.User.ID == carol.ID || out.User.UserName != "dave@acme-corp.com" {
		t.Fatalf("Dave with a prefetch claiming Carol's email: %+v as %s (%s), %v", out.Decision, out.User.ID, out.User.UserName, err)
	}
	if n := counted.n.Load(); n != 2 {
		t.Errorf("%d MatchUsers calls with a prefetch for another profile, want 2 (the prefetch's and the sign-in's own)", n)
	}
}

// TestPrefetchWorthIt: the reads start beside the signature check only
// while at most half the cores (at least one) are verifying.
func TestPrefetchWorthIt(t *testing.T) {
	procs := int64(runtime.GOMAXPROCS(0))
	half := max(1, procs/2)
	if !prefetchWorthIt(1) || !prefetchWorthIt(half) {
		t.Errorf("no prefetch with %d of %d cores verifying", half, procs)
	}
	if prefetchWorthIt(half+1) || prefetchWorthIt(16*procs) {
		t.Errorf("prefetch with more than half of %d cores verifying", procs)
	}
}
