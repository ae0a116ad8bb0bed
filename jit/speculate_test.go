package jit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// TestAssertionEqual: equal tells apart two assertions that differ in any
// one field. The fields are walked by reflection, so that a field added to
// Assertion and forgotten by equal fails here (a speculation would then
// commit on a claim that differs from the verified assertion in it).
func TestAssertionEqual(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	base := Assertion{
		ID: "id-1", Issuer: "https://idp.example", NameID: "alice@acme-corp.com", NameIDFormat: "email",
		Attributes:   map[string][]string{"email": {"alice@acme-corp.com"}, "groups": {"a", "b"}},
		SessionIndex: "s1", AuthnInstant: at, IssueInstant: at, NotOnOrAfter: at.Add(5 * time.Minute),
		InResponseTo: "req-1", ReplayUntil: at.Add(7 * time.Minute),
	}
	if !base.equal(base) {
		t.Fatal("an assertion is not equal to itself")
	}
	same := base
	same.Attributes = map[string][]string{"groups": {"a", "b"}, "email": {"alice@acme-corp.com"}}
	same.IssueInstant = at.In(time.FixedZone("CET", 3600)) // the same instant
	if !base.equal(same) {
		t.Error("equal assertions (another map, another time zone) are not equal")
	}

	typ := reflect.TypeFor[Assertion]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		other := base
		other.Attributes = map[string][]string{"email": {"alice@acme-corp.com"}, "groups": {"a", "b"}}
		v := reflect.ValueOf(&other).Elem().Field(i)
		switch x := v.Interface().(type) {
		case string:
			v.SetString(x + "x")
		case time.Time:
			v.Set(reflect.ValueOf(x.Add(time.Second)))
		case map[string][]string:
			x["groups"] = []string{"a", "b", "admins"}
		default:
			t.Fatalf("field %s has a type (%s) this test does not vary: teach it, and equal", field.Name, field.Type)
		}
		if base.equal(other) || other.equal(base) {
			t.Errorf("assertions differing in %s are equal", field.Name)
		}
	}
	noAttrs := base
	noAttrs.Attributes = nil
	empty := base
	empty.Attributes = map[string][]string{}
	if noAttrs.equal(empty) {
		t.Error("nil and empty Attributes are equal")
	}
}

// TestVerifierClaim: what the unverified document claims, read as gosaml2
// reads a verified one, is exactly the assertion Verify returns for real
// responses (so that speculations commit), and nothing for an encrypted
// one.
func TestVerifierClaim(t *testing.T) {
	f := newFixture(t, fixtureOpts{allowIdPInitiated: true})
	many := alice()
	for i := range 150 {
		many.Attributes["groups"] = append(many.Attributes["groups"], fmt.Sprintf("group-%03d", i))
	}
	spResp, reqID := f.login(t, samltest.Login{User: alice()})
	manyResp, manyReqID := f.login(t, samltest.Login{User: many})
	idpResp := f.idp.IdPInitiated(t, f.conn.URLs.EntityID, "", samltest.Login{User: alice()})
	for _, tc := range []struct {
		name, resp string
		pending    []string
	}{
		{"SP-initiated", spResp, []string{reqID}},
		{"150 groups", manyResp, []string{manyReqID}},
		{"IdP-initiated", idpResp, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verified := f.mustVerify(t, tc.resp, tc.pending...)
			claimed, ok := f.v.claim(f.conn, decoded(t, tc.resp), tc.pending)
			if !ok {
				t.Fatal("no claim")
			}
			if !claimed.equal(verified) {
				t.Errorf("claimed %+v\nverified %+v", claimed, verified)
			}
		})
	}

	t.Run("for another browser", func(t *testing.T) {
		if _, ok := f.v.claim(f.conn, decoded(t, spResp), nil); ok {
			t.Error("a claim for a response to a request this browser did not make")
		}
	})
	t.Run("encrypted", func(t *testing.T) {
		fe := newFixture(t, fixtureOpts{encrypt: true})
		resp, reqID := fe.login(t, samltest.Login{User: alice()})
		fe.mustVerify(t, resp, reqID)
		if a, ok := fe.v.claim(fe.conn, decoded(t, resp), []string{reqID}); ok {
			t.Errorf("claim of an encrypted assertion: %+v", a)
		}
	})
}

func decoded(t *testing.T, samlResponse string) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(samlResponse)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestHandler_ForgedResponsesLeaveNothingOfTheirSpeculation: a response
// whose signature fails is speculated on like any other (one browser, an
// idle store) with what it claims, and nothing of that is ever written: no
// account, no session, no event, and its assertion ID is not used up, so
// that the genuine response it was forged from still signs its person in.
func TestHandler_ForgedResponsesLeaveNothingOfTheirSpeculation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forge  func(t *testing.T, doc *etree.Document)
		reason string
	}{
		{"attribute tampered after signing", func(t *testing.T, doc *etree.Document) {
			samltest.Descendant(samltest.Assertion(t, doc), "AttributeValue").SetText(samltest.Evil)
		}, ReasonSignatureInvalid},
		{"NameID swapped, signature stripped", func(t *testing.T, doc *etree.Document) {
			samltest.StripSignature(doc.Root())
			samltest.StripSignature(samltest.Assertion(t, doc))
			samltest.SetNameID(t, samltest.Assertion(t, doc), samltest.Evil)
		}, ReasonUnsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, jitBySSO())
			m := &countingMetrics{}
			s.h.metrics = m
			b := s.newBrowser(t)
			resp, relay := s.startLogin(t, b, "/", samltest.Login{User: alice()})
			forged := samltest.Edit(t, resp, func(doc *etree.Document) { tc.forge(t, doc) })

			res, body := s.post(t, b, forged, relay)
			wantPage(t, res, body, http.StatusForbidden, tc.reason)
			if users := s.users(t); len(users) != 0 {
				t.Fatalf("accounts after a forged response: %+v", users)
			}
			if code, _ := s.me(t, b); code != http.StatusUnauthorized {
				t.Fatalf("/me after a forged response: %d, want 401", code)
			}
			for _, action := range []string{AuditCreated, AuditSignedIn} {
				if evs := s.events(t, action); len(evs) != 0 {
					t.Fatalf("%s events after a forged response: %+v", action, evs)
				}
			}

			// The genuine response: its ID was not used up by the forgery.
			res, body = s.post(t, b, resp, relay)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("genuine response after the forged one: %s %s", res.Status, body)
			}
			users := s.users(t)
			if len(users) != 1 || users[0].UserName != alice().NameID {
				t.Fatalf("accounts after the genuine response: %+v", users)
			}
			if got := users[0].Emails; len(got) != 1 || got[0].Value != "alice@acme-corp.com" {
				t.Errorf("Alice's emails %+v", got)
			}
			m.mu.Lock()
			specs := slices.Clone(m.specs)
			m.mu.Unlock()
			if len(specs) != 2 || specs[0] != SpeculationAbandoned || !speculatedOK(specs[1]) {
				t.Errorf("speculations %q, want %q then %q (or %q)", specs, SpeculationAbandoned, SpeculationCommitted, SpeculationLate)
			}
		})
	}
}

// writing waits until spec has begun to write, as it has when a signature
// check ends later than the speculation's reads and claim.
func writing(t *testing.T, spec *speculation) {
	t.Helper()
	waitPhase(t, spec, phaseWriting)
}

// waitPhase waits until spec has reached phase (or a later one).
func waitPhase(t *testing.T, spec *speculation, phase int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for spec.phase.Load() < phase {
		if time.Now().After(deadline) {
			t.Fatalf("the speculation is still in phase %d", spec.phase.Load())
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestProvision_SpeculationLateIsStopped: a speculation that has not begun
// to write when the check ends is stopped, and writes nothing; the sign-in
// is carried out without it.
func TestProvision_SpeculationLateIsStopped(t *testing.T) {
	p, st, org, conn := provisionSetup(t)
	ctx := context.Background()
	a := Assertion{ID: "a1", NameID: "alice@acme-corp.com", Attributes: map[string][]string{"email": {"alice@acme-corp.com"}}}
	release := make(chan struct{})
	spec := p.speculate(ctx, org, conn, false, nil, shapeClaims{NameID: a.NameID}, func() (Assertion, bool) {
		<-release // the claim takes longer than the check
		return a, true
	})
	waitPhase(t, spec, phaseClaiming)
	out, err := p.provision(ctx, org, conn, false, a, nil, nil, spec)
	close(release)
	<-spec.done
	if err != nil || out.Decision.Action != ActionCreate {
		t.Fatalf("sign-in: %+v, %v", out.Decision, err)
	}
	if spec.outcome != SpeculationLate || spec.phase.Load() != phaseStopped {
		t.Errorf("outcome %q in phase %d, want %q, stopped", spec.outcome, spec.phase.Load(), SpeculationLate)
	}
	if users := liveUsers(t, st, org.ID); len(users) != 1 {
		t.Fatalf("%d accounts, want 1", len(users))
	}
}

// TestProvision_SpeculationOnAnotherClaimIsRolledBack: a speculation that
// wrote what the document claimed (Mallory's account) when the verified
// assertion says something else (Alice's) is rolled back, and the sign-in
// is carried out from the verified assertion alone.
func TestProvision_SpeculationOnAnotherClaimIsRolledBack(t *testing.T) {
	p, st, org, conn := provisionSetup(t)
	ctx := context.Background()
	verified := Assertion{ID: "a1", NameID: "alice@acme-corp.com", Attributes: map[string][]string{"email": {"alice@acme-corp.com"}}}
	claimed := Assertion{ID: "a1", NameID: "mallory@evil.example", Attributes: map[string][]string{"email": {"mallory@evil.example"}}}

	spec := p.speculate(ctx, org, conn, false, nil, shapeClaims{NameID: claimed.NameID}, func() (Assertion, bool) { return claimed, true })
	writing(t, spec)
	out, err := p.provision(ctx, org, conn, false, verified, nil, nil, spec)
	if err != nil || out.Decision.Action != ActionCreate || out.User.UserName != "alice@acme-corp.com" {
		t.Fatalf("sign-in: %+v as %q, %v; want Alice's account created", out.Decision, out.User.UserName, err)
	}
	if spec.outcome != SpeculationMismatch {
		t.Errorf("outcome %q, want %q", spec.outcome, SpeculationMismatch)
	}
	users := liveUsers(t, st, org.ID)
	if len(users) != 1 || users[0].UserName != "alice@acme-corp.com" {
		t.Fatalf("accounts %+v, want Alice's only", users)
	}
	if _, _, err := st.GetLinkedUser(ctx, conn.ID, claimed.NameID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the claimed identity is linked: %v", err)
	}
}

// TestProvision_SpeculationCommits: a speculation whose claim is the
// verified assertion is the sign-in: it is written once, with the session.
func TestProvision_SpeculationCommits(t *testing.T) {
	p, st, org, conn := provisionSetup(t)
	ctx := context.Background()
	a := Assertion{ID: "a1", NameID: "alice@acme-corp.com", Attributes: map[string][]string{"email": {"alice@acme-corp.com"}}}
	sess, _, err := NewSessions(SessionConfig{Store: st}).prepare(org.ID, "")
	if err != nil {
		t.Fatal(err)
	}

	spec := p.speculate(ctx, org, conn, false, &sess, shapeClaims{NameID: a.NameID}, func() (Assertion, bool) { return a, true })
	writing(t, spec)
	out, err := p.provision(ctx, org, conn, false, a, &sess, nil, spec)
	if err != nil || out.Decision.Action != ActionCreate {
		t.Fatalf("sign-in: %+v, %v", out.Decision, err)
	}
	if spec.outcome != SpeculationCommitted {
		t.Errorf("outcome %q, want %q", spec.outcome, SpeculationCommitted)
	}
	if users := liveUsers(t, st, org.ID); len(users) != 1 || users[0].ID != out.User.ID {
		t.Fatalf("accounts %+v, want the one signed in (%s)", users, out.User.ID)
	}
	if _, err := st.GetSession(ctx, sess.IDHash); err != nil {
		t.Errorf("the session: %v", err)
	}
	// The assertion ID was recorded with it.
	if _, err := p.Provision(ctx, org, conn, a); ReasonOf(err) != ReasonReplayed {
		t.Errorf("the same assertion again: %v, want %s", err, ReasonReplayed)
	}
}

// notHolding is a store whose writer always has other writes to make: it
// answers every held sign-in store.ErrNotHeld, as SQLite's writer does
// when busy.
type notHolding struct {
	*sqlstore.Store
	held int
}

func (n *notHolding) SignIn(ctx context.Context, in store.SignIn) (store.SignInResult, error) {
	if in.Verdict != nil {
		n.held++
		return store.SignInResult{}, fmt.Errorf("busy: %w", store.ErrNotHeld)
	}
	return n.Store.SignIn(ctx, in)
}

// TestProvision_SpeculationNotHeldFallsBack: when the store does not hold
// the speculation's sign-in, it is carried out after the verdict, once.
func TestProvision_SpeculationNotHeldFallsBack(t *testing.T) {
	_, st, org, conn := provisionSetup(t)
	ns := &notHolding{Store: st.(*sqlstore.Store)}
	p := NewProvisioner(ns, nil, nil)
	ctx := context.Background()
	a := Assertion{ID: "a1", NameID: "alice@acme-corp.com", Attributes: map[string][]string{"email": {"alice@acme-corp.com"}}}

	spec := p.speculate(ctx, org, conn, false, nil, shapeClaims{NameID: a.NameID}, func() (Assertion, bool) { return a, true })
	writing(t, spec)
	out, err := p.provision(ctx, org, conn, false, a, nil, nil, spec)
	if err != nil || out.Decision.Action != ActionCreate {
		t.Fatalf("sign-in: %+v, %v", out.Decision, err)
	}
	if spec.outcome != SpeculationNotHeld || ns.held != 1 {
		t.Errorf("outcome %q after %d held sign-ins, want %q after 1", spec.outcome, ns.held, SpeculationNotHeld)
	}
	if users := liveUsers(t, st, org.ID); len(users) != 1 {
		t.Fatalf("%d accounts, want 1", len(users))
	}
}

// speculatedOK says whether outcome is what a sign-in's speculation may
// come to with one browser and an idle store: committed, or late if the
// machine gave its goroutine no core before the check ended.
func speculatedOK(outcome string) bool {
	return outcome == SpeculationCommitted || outcome == SpeculationLate
}
