package jit

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
)

const testBaseURL = "https://onramp.example"

// testClock is the verifier's clock: the real time plus an offset, so that
// it matches the crewjam IdP (which signs at real time) or is moved away
// from it on purpose.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Set(offset time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = offset
}

// fixture is an IdP, a verifier on a real store, and connection A ("okta")
// of organization "acme" registered at the IdP. Connection B ("other")
// exists in the store too, for cross-connection tests.
type fixture struct {
	idp   *samltest.IdP
	v     *Verifier
	clock *testClock
	conn  ConnectionConfig
	connB store.ConnectionID
}

type fixtureOpts struct {
	encrypt           bool
	allowIdPInitiated bool
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	_, connA, connB := openTestStore(t)
	f := &fixture{idp: samltest.New(t, samltest.Options{}), clock: &testClock{}, connB: connB}
	var err error
	f.v, err = NewVerifier(VerifierConfig{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.conn = newConn(t, connA, "okta", f.idp.MetadataXML(t), o.allowIdPInitiated)
	f.register(t, f.conn, o.encrypt)
	return f
}

// newConn builds a connection with a fresh SP key pair, the way an Admin's
// new connection gets one.
func newConn(t *testing.T, id store.ConnectionID, slug string, idpMetadata []byte, allowIdPInitiated bool) ConnectionConfig {
	t.Helper()
	certPEM, keyPEM, err := NewSPKeyPair(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConnectionConfig(testBaseURL, "acme", store.Connection{
		ID:                id,
		Slug:              slug,
		IdPMetadataXML:    string(idpMetadata),
		SPCertPEM:         certPEM,
		SPKeyPEM:          keyPEM,
		AllowIdPInitiated: allowIdPInitiated,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// register publishes conn's SP metadata to the fixture's IdP.
func (f *fixture) register(t *testing.T, conn ConnectionConfig, encrypt bool) {
	t.Helper()
	md, err := f.v.Metadata(conn)
	if err != nil {
		t.Fatal(err)
	}
	f.idp.RegisterSP(t, md, encrypt)
}

func alice() samltest.User {
	return samltest.User{
		NameID: "00u1alice",
		Attributes: map[string][]string{
			"email":     {"alice@acme-corp.com"},
			"firstName": {"Alice"},
			"lastName":  {"Liddell"},
			"groups":    {"Engineering", "Everyone"},
		},
	}
}

// login runs an SP-initiated login for l at the IdP and returns the
// response and the AuthnRequest ID it answers.
func (f *fixture) login(t *testing.T, l samltest.Login) (samlResponse, requestID string) {
	t.Helper()
	return f.loginFor(t, f.conn, l)
}

func (f *fixture) loginFor(t *testing.T, conn ConnectionConfig, l samltest.Login) (samlResponse, requestID string) {
	t.Helper()
	req, err := f.v.NewAuthnRequest(conn, "state-1")
	if err != nil {
		t.Fatal(err)
	}
	resp, relay := f.idp.SPInitiated(t, req.URL, l)
	if relay != "state-1" {
		t.Fatalf("RelayState = %q, want state-1", relay)
	}
	return resp, req.ID
}

// verify verifies with the browser holding requestIDs.
func (f *fixture) verify(t *testing.T, samlResponse string, requestIDs ...string) (Assertion, error) {
	t.Helper()
	return f.v.Verify(f.conn, samlResponse, requestIDs)
}

// mustVerify fails the test unless samlResponse verifies.
func (f *fixture) mustVerify(t *testing.T, samlResponse string, requestIDs ...string) Assertion {
	t.Helper()
	a, err := f.verify(t, samlResponse, requestIDs...)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return a
}

// wantReason fails the test unless err is a *VerifyError with reason.
func wantReason(t *testing.T, a Assertion, err error, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify accepted the response (NameID %q), want rejection %q", a.NameID, reason)
	}
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Verify error %v is not a *VerifyError", err)
	}
	if ve.Reason != reason {
		t.Fatalf("Verify reason = %q, want %q (error: %v)", ve.Reason, reason, err)
	}
	if a.NameID != "" || a.ID != "" {
		t.Fatalf("Verify returned an assertion (%+v) with its error", a)
	}
}
