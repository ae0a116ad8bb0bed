package jit

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/onramp-dev/onramp/jit/samltest"
)

// Responses that must verify.

func TestVerify_SPInitiated(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	if samltest.Child(samltest.Decode(t, resp).Root(), "Signature") == nil {
		t.Fatal("the IdP did not sign the Response")
	}

	a := f.mustVerify(t, resp, "some-other-request", reqID)

	if a.NameID != "00u1alice" {
		t.Errorf("NameID = %q", a.NameID)
	}
	if a.NameIDFormat != string(saml.PersistentNameIDFormat) {
		t.Errorf("NameIDFormat = %q", a.NameIDFormat)
	}
	if a.Issuer != f.idp.EntityID() {
		t.Errorf("Issuer = %q, want %q", a.Issuer, f.idp.EntityID())
	}
	if a.InResponseTo != reqID {
		t.Errorf("InResponseTo = %q, want %q", a.InResponseTo, reqID)
	}
	if a.ID == "" || a.SessionIndex == "" || a.AuthnInstant.IsZero() {
		t.Errorf("ID %q, SessionIndex %q, AuthnInstant %v: want all set", a.ID, a.SessionIndex, a.AuthnInstant)
	}
	if until := time.Until(a.NotOnOrAfter); until <= 0 || until > 10*time.Minute {
		t.Errorf("NotOnOrAfter %v is not shortly after now", a.NotOnOrAfter)
	}
	for name, want := range alice().Attributes {
		if got := a.Attributes[name]; !slices.Equal(got, want) {
			t.Errorf("attribute %s = %q, want %q", name, got, want)
		}
	}
}

func TestVerify_SPInitiatedEncrypted(t *testing.T) {
	f := newFixture(t, fixtureOpts{encrypt: true})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	root := samltest.Decode(t, resp).Root()
	if samltest.Child(root, "EncryptedAssertion") == nil || samltest.Child(root, "Assertion") != nil {
		t.Fatal("the IdP did not encrypt the assertion")
	}

	a := f.mustVerify(t, resp, reqID)

	if a.NameID != "00u1alice" || a.Attributes["email"][0] != "alice@acme-corp.com" {
		t.Errorf("decrypted assertion: NameID %q, attributes %v", a.NameID, a.Attributes)
	}
}

func TestVerify_EncryptedToAnotherKey(t *testing.T) {
	f := newFixture(t, fixtureOpts{encrypt: true, allowIdPInitiated: true})
	// The IdP holds metadata of the same entity with another SP key, as
	// after a rotation the IdP was not told about.
	rotated := newConn(t, f.conn.ID, "okta", f.idp.MetadataXML(t), false)
	f.register(t, rotated, true)
	resp := f.idp.IdPInitiated(t, f.conn.URLs.EntityID, "", samltest.Login{User: alice()})

	a, err := f.verify(t, resp)

	wantReason(t, a, err, ReasonDecryptionFailed)
}

func TestVerify_IdPInitiatedAllowed(t *testing.T) {
	f := newFixture(t, fixtureOpts{allowIdPInitiated: true})
	resp := f.idp.IdPInitiated(t, f.conn.URLs.EntityID, "/app", samltest.Login{User: alice()})

	a := f.mustVerify(t, resp)

	if a.InResponseTo != "" || a.NameID != "00u1alice" {
		t.Errorf("InResponseTo %q, NameID %q", a.InResponseTo, a.NameID)
	}
}

func TestVerify_150Groups(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypt=%v", encrypt), func(t *testing.T) {
			f := newFixture(t, fixtureOpts{encrypt: encrypt})
			u := alice()
			var groups []string
			for i := range 150 {
				groups = append(groups, fmt.Sprintf("Group %03d with a realistically long display name", i))
			}
			u.Attributes["groups"] = groups
			resp, reqID := f.login(t, samltest.Login{User: u})

			a := f.mustVerify(t, resp, reqID)

			if !slices.Equal(a.Attributes["groups"], groups) {
				t.Fatalf("got %d groups, want the 150 sent in order", len(a.Attributes["groups"]))
			}
		})
	}
}

func TestVerify_ResponseSignedAssertionUnsigned(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice(), UnsignedAssertion: true})
	if samltest.Child(samltest.Assertion(t, samltest.Decode(t, resp)), "Signature") != nil {
		t.Fatal("the assertion is signed")
	}

	f.mustVerify(t, resp, reqID)
}

func TestVerify_AssertionSignedResponseUnsigned(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	resp = samltest.Edit(t, resp, func(doc *etree.Document) { samltest.StripSignature(doc.Root()) })

	f.mustVerify(t, resp, reqID)
}

func TestVerify_IdPKeyRollover(t *testing.T) {
	f := newFixture(t, fixtureOpts{allowIdPInitiated: true})
	// The IdP announces its next certificate beside the current one; the
	// connection imports both; then the IdP switches keys.
	nextKey, nextCert := samltest.NewKeyPair(t, "next")
	announcing := samltest.New(t, samltest.Options{EntityID: f.idp.EntityID(), Key: f.idp.Key, Cert: f.idp.Cert, ExtraCerts: []*x509.Certificate{nextCert}})
	md, err := ParseIdPMetadata(announcing.MetadataXML(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(md.SigningCerts) != 2 {
		t.Fatalf("imported %d signing certificates, want 2", len(md.SigningCerts))
	}
	f.conn.IdP = md
	rolled := samltest.New(t, samltest.Options{EntityID: f.idp.EntityID(), Key: nextKey, Cert: nextCert})

	for _, idp := range []*samltest.IdP{announcing, rolled} {
		f.idp = idp
		f.register(t, f.conn, false)
		resp := idp.IdPInitiated(t, f.conn.URLs.EntityID, "", samltest.Login{User: alice()})
		f.mustVerify(t, resp)
	}
}

func TestVerify_WithinClockSkew(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	// crewjam's SubjectConfirmationData expires saml.MaxIssueDelay (90s)
	// after issue. Our clock 60s past that is within the 2 minute skew.
	f.clock.Set(saml.MaxIssueDelay + time.Minute)

	f.mustVerify(t, resp, reqID)
}

func TestVerify_Base64LineWrapped(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	var wrapped strings.Builder
	for i := 0; i < len(resp); i += 76 {
		wrapped.WriteString(resp[i:min(i+76, len(resp))])
		wrapped.WriteString("\r\n")
	}

	f.mustVerify(t, wrapped.String(), reqID)
}

// Attacks and broken responses: each must fail with its reason.

func TestVerify_AttributeTamperedAfterSigning(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	resp = samltest.Edit(t, resp, func(doc *etree.Document) {
		v := samltest.Descendant(samltest.Assertion(t, doc), "AttributeValue")
		v.SetText("mallory@evil.example")
	})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonSignatureInvalid)
}

func TestVerify_AttributeTamperedResponseSignatureStripped(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	resp = samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		samltest.SetNameID(t, samltest.Assertion(t, doc), samltest.Evil)
	})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonSignatureInvalid)
}

func testXSW(t *testing.T, n int) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	forged := samltest.XSW(t, n, resp)

	a, err := f.verify(t, forged, reqID)

	wantReason(t, a, err, ReasonAssertionCount)

	// Defence in depth: without the assertion count the signature checks
	// must still refuse the forged identity.
	a, err = f.v.verify(f.conn, forged, []string{reqID}, false, nil)
	if err == nil {
		t.Fatalf("without the assertion count, XSW%d verified with NameID %q", n, a.NameID)
	}
	t.Logf("without the assertion count: %s", ReasonOf(err))
}

func TestVerify_XSW1(t *testing.T) { testXSW(t, 1) }
func TestVerify_XSW2(t *testing.T) { testXSW(t, 2) }
func TestVerify_XSW3(t *testing.T) { testXSW(t, 3) }
func TestVerify_XSW4(t *testing.T) { testXSW(t, 4) }
func TestVerify_XSW5(t *testing.T) { testXSW(t, 5) }
func TestVerify_XSW6(t *testing.T) { testXSW(t, 6) }
func TestVerify_XSW7(t *testing.T) { testXSW(t, 7) }
func TestVerify_XSW8(t *testing.T) { testXSW(t, 8) }

func TestVerify_SignatureStripped(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	resp = samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		samltest.StripSignature(samltest.Assertion(t, doc))
	})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonUnsigned)
}

func TestVerify_UnsignedAssertionBesideSignedOne(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	forged := samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		signed := samltest.Assertion(t, doc)
		unsigned := signed.Copy()
		samltest.StripSignature(unsigned)
		unsigned.CreateAttr("ID", "_unsigned")
		samltest.SetNameID(t, unsigned, samltest.Evil)
		doc.Root().AddChild(unsigned)
	})

	a, err := f.verify(t, forged, reqID)

	wantReason(t, a, err, ReasonAssertionCount)

	a, err = f.v.verify(f.conn, forged, []string{reqID}, false, nil)
	wantReason(t, a, err, ReasonUnsigned)
}

func TestVerify_TwoAssertions(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	mallory := samltest.User{NameID: "00u9mallory", Attributes: map[string][]string{"email": {"mallory@acme-corp.com"}}}
	other, _ := f.login(t, samltest.Login{User: mallory})
	// Both assertions are genuinely signed by the IdP.
	second := samltest.Assertion(t, samltest.Decode(t, other)).Copy()
	two := samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		doc.Root().AddChild(second)
	})

	a, err := f.verify(t, two, reqID)

	wantReason(t, a, err, ReasonAssertionCount)

	a, err = f.v.verify(f.conn, two, []string{reqID}, false, nil)
	wantReason(t, a, err, ReasonAssertionCount)
}

func TestVerify_SignedByAnotherKey(t *testing.T) {
	f := newFixture(t, fixtureOpts{allowIdPInitiated: true})
	// An attacker's IdP claims the real IdP's entity ID.
	attacker := samltest.New(t, samltest.Options{EntityID: f.idp.EntityID()})
	f.idp = attacker
	f.register(t, f.conn, false)
	resp := attacker.IdPInitiated(t, f.conn.URLs.EntityID, "", samltest.Login{User: alice()})

	a, err := f.verify(t, resp)

	wantReason(t, a, err, ReasonSignatureInvalid)
}

func TestVerify_CertificateSwappedInKeyInfo(t *testing.T) {
	f := newFixture(t, fixtureOpts{allowIdPInitiated: true})
	real := f.idp
	attacker := samltest.New(t, samltest.Options{EntityID: f.idp.EntityID()})
	f.idp = attacker
	f.register(t, f.conn, false)
	resp := attacker.IdPInitiated(t, f.conn.URLs.EntityID, "", samltest.Login{User: alice()})
	// Signed with the attacker's key, but claiming the trusted certificate.
	trusted := base64.StdEncoding.EncodeToString(real.Cert.Raw)
	resp = samltest.Edit(t, resp, func(doc *etree.Document) {
		n := 0
		for _, el := range doc.FindElements("//X509Certificate") {
			el.SetText(trusted)
			n++
		}
		if n != 2 {
			t.Fatalf("swapped %d certificates, want 2 (Response and Assertion)", n)
		}
	})

	a, err := f.verify(t, resp)

	wantReason(t, a, err, ReasonSignatureInvalid)
}

func TestVerify_WrongIssuer(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	// The same keys, but the connection expects another IdP entity.
	f.conn.IdP.EntityID = "https://other-idp.example/metadata"

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonIssuerMismatch)
}

func TestVerify_WrongAudience(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice(), MutateAssertion: func(a *saml.Assertion) {
		a.Conditions.AudienceRestrictions[0].Audience.Value = "https://some-other-app.example/saml"
	}})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonAudienceMismatch)
}

func TestVerify_NoAudienceRestriction(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice(), MutateAssertion: func(a *saml.Assertion) {
		a.Conditions.AudienceRestrictions = nil
	}})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonAudienceMismatch)
}

func TestVerify_AnotherConnectionsAudience(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	connB := newConn(t, f.connB, "other", f.idp.MetadataXML(t), false)
	resp, reqID := f.login(t, samltest.Login{User: alice(), MutateAssertion: func(a *saml.Assertion) {
		a.Conditions.AudienceRestrictions[0].Audience.Value = connB.URLs.EntityID
	}})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonAudienceMismatch)
}

func TestVerify_AnotherConnectionsResponse(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	// One IdP serves connections A and B; a response made for B is posted
	// to A's ACS.
	connB := newConn(t, f.connB, "other", f.idp.MetadataXML(t), false)
	f.register(t, connB, false)
	resp, reqID := f.loginFor(t, connB, samltest.Login{User: alice()})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonDestinationMismatch)
}

func TestVerify_WrongDestination(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice(), Destination: samltest.String("https://evil.example/acs")})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonDestinationMismatch)
}

func TestVerify_MissingDestination(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice(), Destination: samltest.String("")})
	if samltest.Decode(t, resp).Root().SelectAttr("Destination") != nil {
		t.Fatal("the response has a Destination")
	}

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonDestinationMismatch)
}

func TestVerify_WrongRecipient(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice(), MutateAssertion: func(a *saml.Assertion) {
		a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = "https://evil.example/acs"
	}})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonRecipientMismatch)
}

func TestVerify_MissingRecipient(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice(), MutateAssertion: func(a *saml.Assertion) {
		a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = ""
	}})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonRecipientMismatch)
}

func TestVerify_Expired(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	// Past the 90s SubjectConfirmationData validity plus the 2 minute skew.
	f.clock.Set(saml.MaxIssueDelay + DefaultClockSkew + time.Second)

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonExpired)
}

func TestVerify_ConditionsExpired(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	// The subject confirmation would still be valid, the conditions not.
	resp, reqID := f.login(t, samltest.Login{User: alice(), MutateAssertion: func(a *saml.Assertion) {
		a.Conditions.NotOnOrAfter = time.Now().Add(-3 * time.Minute)
		a.Conditions.NotBefore = time.Now().Add(-10 * time.Minute)
	}})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonExpired)
}

func TestVerify_NotYetValid(t *testing.T) {
	f := newFixture(t, fixtureOpts{allowIdPInitiated: true})
	resp := f.idp.IdPInitiated(t, f.conn.URLs.EntityID, "", samltest.Login{User: alice()})
	// Our clock an hour behind the IdP's.
	f.clock.Set(-time.Hour)

	a, err := f.verify(t, resp)

	wantReason(t, a, err, ReasonNotYetValid)
}

func TestVerify_IssueInstantTooOld(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	// An IdP that makes assertions valid for a day: the IssueInstant age
	// still bounds them.
	resp, reqID := f.login(t, samltest.Login{User: alice(), MutateAssertion: func(a *saml.Assertion) {
		a.Conditions.NotOnOrAfter = time.Now().Add(24 * time.Hour)
		a.Subject.SubjectConfirmations[0].SubjectConfirmationData.NotOnOrAfter = time.Now().Add(24 * time.Hour)
	}})
	f.clock.Set(DefaultMaxIssueInstantAge + DefaultClockSkew + time.Minute)

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonIssueInstantTooOld)
}

// TestVerify_ReportsTheClaimedNameIDBeforeTheSignature: the shape check
// tells the ACS which identity a response claims, and its attributes (for
// the account reads it starts beside the signature check), also for a
// response whose signature then fails; an encrypted assertion claims
// nothing readable. The claimed attributes, read from the crewjam IdP's
// document, are the ones the verified assertion has.
func TestVerify_ReportsTheClaimedNameIDBeforeTheSignature(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		f := newFixture(t, fixtureOpts{encrypt: encrypt})
		resp, reqID := f.login(t, samltest.Login{User: alice()})
		var (
			claims []string
			stmts  [][]byte
		)
		claim := func(c shapeClaims) {
			claims = append(claims, c.NameID)
			stmts = append(stmts, c.AttributeStatement)
		}

		a, err := f.v.verify(f.conn, resp, []string{reqID}, true, claim)
		if err != nil {
			t.Fatalf("encrypt %t: %v", encrypt, err)
		}
		if encrypt {
			if len(claims) != 0 {
				t.Fatalf("an encrypted assertion claimed %q", claims)
			}
			continue
		}
		if got := claimedAttributes(stmts[0]); len(a.Attributes) == 0 || !reflect.DeepEqual(got, a.Attributes) {
			t.Fatalf("claimed attributes %q, verified %q", got, a.Attributes)
		}
		forged := samltest.Edit(t, resp, func(doc *etree.Document) {
			samltest.SetNameID(t, samltest.Assertion(t, doc), "00u1mallory")
		})
		_, err = f.v.verify(f.conn, forged, []string{reqID}, true, claim)

		if err == nil || !slices.Equal(claims, []string{"00u1alice", "00u1mallory"}) {
			t.Fatalf("claims %q (forged: %v), want Alice's and then Mallory's", claims, err)
		}
	}
}

// TestVerify_LeavesTheReplayCheckToTheSignIn: Verify records nothing (the
// ACS records the assertion ID in the sign-in's transaction, see
// TestHandler_Replayed*), so verifying twice succeeds twice, and the
// assertion says how long its ID must be kept.
func TestVerify_LeavesTheReplayCheckToTheSignIn(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	first := f.mustVerify(t, resp, reqID)

	again := f.mustVerify(t, resp, reqID)

	if again.ID != first.ID || first.ID == "" {
		t.Fatalf("assertion IDs %q and %q", first.ID, again.ID)
	}
	if want := first.NotOnOrAfter.Add(DefaultClockSkew); !first.ReplayUntil.Equal(want) {
		t.Fatalf("ReplayUntil = %s, want NotOnOrAfter plus the skew, %s", first.ReplayUntil, want)
	}
	if u := first.used(f.conn.ID); u.ID != first.ID || u.ConnectionID != f.conn.ID || !u.NotOnOrAfter.Equal(first.ReplayUntil) {
		t.Fatalf("replay record %+v", u)
	}
}

func TestVerify_InResponseToUnknown(t *testing.T) {
	f := newFixture(t, fixtureOpts{allowIdPInitiated: true})
	resp, _ := f.login(t, samltest.Login{User: alice()})

	// This browser is waiting for another request (or none): the response
	// was obtained by someone else. Allowing IdP-initiated sign-in does not
	// make a solicited response acceptable.
	a, err := f.verify(t, resp, "_a-request-of-this-browser")

	wantReason(t, a, err, ReasonInResponseToUnknown)
}

func TestVerify_InResponseToForgedInUnsignedEnvelope(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, _ := f.login(t, samltest.Login{User: alice()})
	// The victim's browser waits for request "victim"; the attacker rewrites
	// the unsigned envelope of their own response to answer it.
	forged := samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		doc.Root().CreateAttr("InResponseTo", "victim")
	})

	a, err := f.verify(t, forged, "victim")

	wantReason(t, a, err, ReasonInResponseToMismatch)
}

func TestVerify_InResponseToAddedToUnsolicitedResponse(t *testing.T) {
	f := newFixture(t, fixtureOpts{allowIdPInitiated: true})
	resp := f.idp.IdPInitiated(t, f.conn.URLs.EntityID, "", samltest.Login{User: alice()})
	f.conn.AllowIdPInitiated = false
	forged := samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		doc.Root().CreateAttr("InResponseTo", "victim")
	})

	a, err := f.verify(t, forged, "victim")

	wantReason(t, a, err, ReasonInResponseToMismatch)
}

func TestVerify_IdPInitiatedNotAllowed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp := f.idp.IdPInitiated(t, f.conn.URLs.EntityID, "", samltest.Login{User: alice()})

	a, err := f.verify(t, resp)

	wantReason(t, a, err, ReasonIdPInitiatedNotAllowed)
}

func TestVerify_CommentInjectedInNameID(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	// The attacker has an IdP account whose NameID extends the victim's,
	// and splits it with a comment: the signature (made over the
	// comment-free canonical form) still verifies, and a parser that reads
	// only the first text node sees the victim.
	u := alice()
	u.NameID = "admin@victim.example.attacker.example"
	resp, reqID := f.login(t, samltest.Login{User: u})
	forged := samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		n := samltest.Descendant(samltest.Assertion(t, doc), "NameID")
		n.SetText("admin@victim.example")
		n.CreateComment("")
		n.CreateText(".attacker.example")
	})

	a, err := f.verify(t, forged, reqID)

	wantReason(t, a, err, ReasonXMLComment)
}

func TestVerify_Doctype(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		t.Fatal(err)
	}
	for name, dtd := range map[string]string{
		"entity":         `<!DOCTYPE samlp:Response [<!ENTITY who "admin@victim.example">]>`,
		"billion laughs": `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`,
		"external":       `<!DOCTYPE r SYSTEM "http://evil.example/x.dtd">`,
	} {
		t.Run(name, func(t *testing.T) {
			doc := dtd + string(raw)

			a, err := f.verify(t, base64.StdEncoding.EncodeToString([]byte(doc)), reqID)

			wantReason(t, a, err, ReasonDoctype)
		})
	}
}

func TestVerify_Oversize(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	padded := resp + strings.Repeat("A", DefaultMaxResponseSize)

	a, err := f.verify(t, padded, reqID)

	wantReason(t, a, err, ReasonTooLarge)
}

func TestVerify_TooManyXMLTokens(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	// Small in bytes, large in elements.
	resp = samltest.Edit(t, resp, func(doc *etree.Document) {
		ext := doc.Root().CreateElement("samlp:Extensions")
		for range maxXMLTokens / 3 {
			ext.CreateElement("x")
		}
	})
	if len(resp) > DefaultMaxResponseSize {
		t.Fatalf("test response is %d bytes, over the size limit", len(resp))
	}

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonTooLarge)
}

func TestVerify_Malformed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, resp := range map[string]string{
		"empty":               "",
		"not base64":          "this is not base64!",
		"not xml":             enc("hello"),
		"deflated":            "88jNyclXyM8vykkBAA==", // HTTP-Redirect encoding is not accepted on the POST binding
		"not a response":      enc(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x"/>`),
		"wrong namespace":     enc(`<Response xmlns="urn:example" ID="x"/>`),
		"duplicate attribute": enc(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a" ID="b"/>`),
	} {
		t.Run(name, func(t *testing.T) {
			a, err := f.verify(t, resp)

			wantReason(t, a, err, ReasonMalformed)
		})
	}
}

func TestVerify_DeflatedResponse(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// gosaml2 would inflate it; the HTTP-POST binding never deflates.
	a, err := f.verify(t, base64.StdEncoding.EncodeToString(buf.Bytes()), reqID)

	wantReason(t, a, err, ReasonMalformed)
}

func TestVerify_StatusNotSuccess(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	resp = samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		samltest.Descendant(doc.Root(), "StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
	})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonStatusNotSuccess)
}

func TestVerify_EmptyNameID(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	u := alice()
	u.NameID = " "
	resp, reqID := f.login(t, samltest.Login{User: u})

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonNameIDMissing)
}

func TestVerify_MisconfiguredConnection(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	f.conn.IdP.SigningCerts = nil

	a, err := f.verify(t, resp, reqID)

	wantReason(t, a, err, ReasonConnectionMisconfigured)
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *VerifyError", err)
	}
	if got := ve.HTTPStatus(); got != 500 {
		t.Errorf("HTTPStatus = %d, want 500", got)
	}
}

func TestVerify_WrappingInsideEncryptedAssertion(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	// XSW4 with a duplicated ID, hidden from the shape check inside an
	// EncryptedAssertion made with the SP's public certificate.
	forged := samltest.Edit(t, resp, func(doc *etree.Document) {
		root := doc.Root()
		samltest.StripSignature(root)
		orig := samltest.Assertion(t, doc)
		ev := orig.Copy()
		samltest.StripSignature(ev)
		samltest.SetNameID(t, ev, samltest.Evil)
		idx := orig.Index()
		root.RemoveChild(orig)
		ev.AddChild(orig)
		root.InsertChildAt(idx, ev)
		samltest.EncryptAssertion(t, doc, f.conn.SP.Cert)
	})
	if samltest.Child(samltest.Decode(t, forged).Root(), "EncryptedAssertion") == nil {
		t.Fatal("not encrypted")
	}

	a, err := f.verify(t, forged, reqID)

	wantReason(t, a, err, ReasonSignatureInvalid)
}

func TestVerify_UnsignedEncryptedAssertion(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, reqID := f.login(t, samltest.Login{User: alice()})
	// Encrypted to us, but signed by no one.
	forged := samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		a := samltest.Assertion(t, doc)
		samltest.StripSignature(a)
		samltest.SetNameID(t, a, samltest.Evil)
		samltest.EncryptAssertion(t, doc, f.conn.SP.Cert)
	})

	a, err := f.verify(t, forged, reqID)

	wantReason(t, a, err, ReasonUnsigned)
}
