package jit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
)

// regenerateVerifyFuzz rewrites the fixture and seeds of FuzzVerify:
//
//	go test ./jit -run '^TestVerifyFuzzFixture$' -regenerate-verify-fuzz
//
// It runs crewjam's IdP (jit/samltest), registers a connection with a new SP
// key pair, has the IdP sign responses for it (SP-initiated, IdP-initiated,
// encrypted, assertion unsigned, many attributes) and attack variants of them
// (XSW1–8, stripped signatures), and writes the connection, the verifier's
// fixed clock (the time of signing), what the IdP signed, and the documents as
// seeds. Old seeds written by it are removed; seeds the fuzzer found (named by
// their hash, without the "seed-" prefix) are kept.
var regenerateVerifyFuzz = flag.Bool("regenerate-verify-fuzz", false, "rewrite testdata/fuzz/verify-connection and the FuzzVerify seeds")

// Where FuzzVerify's connection and seeds live.
const (
	verifyFuzzFixtureDir = "testdata/fuzz/verify-connection"
	verifyFuzzSeedDir    = "testdata/fuzz/FuzzVerify"
)

// verifyFuzzFixture is the connection FuzzVerify verifies against, the
// verifier's clock, and every assertion the IdP signed for the seeds.
type verifyFuzzFixture struct {
	BaseURL           string          `json:"baseURL"`
	Org               string          `json:"org"`
	Connection        string          `json:"connection"`
	AllowIdPInitiated bool            `json:"allowIdpInitiated"`
	Now               time.Time       `json:"now"`
	Pending           []string        `json:"pending"` // the AuthnRequest IDs the browser holds
	Signed            []signedSubject `json:"signed"`
	// Seeds describes the generator's seed files, by file name.
	Seeds map[string]seedNote `json:"seeds"`
}

// seedNote says what a seed is, and whether it is a well-formed response
// that verifies.
type seedNote struct {
	Note  string `json:"note"`
	Valid bool   `json:"valid"`
}

// signedSubject is what the IdP vouched for in one signed assertion.
type signedSubject struct {
	NameID       string              `json:"nameID"`
	Attributes   map[string][]string `json:"attributes"`
	InResponseTo string              `json:"inResponseTo"`
}

// FuzzVerify feeds SAML response documents (the XML; the target
// base64-encodes it as a browser posts it) to Verify, with a real connection
// (crewjam IdP metadata, SP key pair; allowIdpInitiated) and a clock fixed at
// the time the seeds were signed. solicited says whether the browser holds the
// request IDs the SP-initiated seeds answer. It checks that:
//
//   - every refusal is a *VerifyError with one of the documented reasons;
//   - whatever Verify accepts is something the IdP signed: its NameID,
//     attributes and InResponseTo are those of one assertion the IdP signed
//     for the seeds (no mutation may change what is vouched for), it answers
//     a request the browser holds or none, and its ID and times are set.
//
// Regenerate the fixture and seeds with TestVerifyFuzzFixture (see
// regenerateVerifyFuzz); run it with
//
//	go test ./jit -run '^$' -fuzz '^FuzzVerify$' -fuzztime 2m
func FuzzVerify(f *testing.F) {
	fx, conn := loadVerifyFuzzFixture(f)
	v, err := NewVerifier(VerifierConfig{Now: func() time.Time { return fx.Now }})
	if err != nil {
		f.Fatal(err)
	}
	reasons := []string{ReasonTooLarge, ReasonMalformed, ReasonDoctype, ReasonXMLComment, ReasonAssertionCount,
		ReasonUnsigned, ReasonSignatureInvalid, ReasonDecryptionFailed, ReasonStatusNotSuccess, ReasonIssuerMismatch,
		ReasonAudienceMismatch, ReasonDestinationMismatch, ReasonRecipientMismatch, ReasonSubjectConfirmation,
		ReasonNameIDMissing, ReasonExpired, ReasonNotYetValid, ReasonIssueInstantTooOld, ReasonInResponseToUnknown,
		ReasonInResponseToMismatch, ReasonIdPInitiatedNotAllowed}

	f.Fuzz(func(t *testing.T, doc []byte, solicited bool) {
		var pending []string
		if solicited {
			pending = fx.Pending
		}
		a, err := v.Verify(conn, base64.StdEncoding.EncodeToString(doc), pending)
		if err != nil {
			reason := ReasonOf(err)
			if !slices.Contains(reasons, reason) {
				t.Fatalf("Verify error %v has reason %q, not a documented one", err, reason)
			}
			if a.ID != "" || a.NameID != "" {
				t.Fatalf("Verify returned an assertion (%+v) with its error %v", a, err)
			}
			return
		}
		got := signedSubject{NameID: a.NameID, Attributes: a.Attributes, InResponseTo: a.InResponseTo}
		if !slices.ContainsFunc(fx.Signed, func(s signedSubject) bool { return sameSubject(s, got) }) {
			t.Fatalf("Verify accepted an assertion the IdP never signed: %+v", got)
		}
		if a.InResponseTo != "" && !slices.Contains(pending, a.InResponseTo) {
			t.Fatalf("Verify accepted an answer to request %q, which the browser does not hold (%q)", a.InResponseTo, pending)
		}
		if a.ID == "" || a.Issuer != conn.IdP.EntityID || a.NotOnOrAfter.IsZero() || a.ReplayUntil.Before(a.NotOnOrAfter) {
			t.Fatalf("Verify accepted an assertion without ID, issuer or times: %+v", a)
		}
	})
}

func sameSubject(a, b signedSubject) bool {
	if a.NameID != b.NameID || a.InResponseTo != b.InResponseTo || len(a.Attributes) != len(b.Attributes) {
		return false
	}
	return maps.EqualFunc(a.Attributes, b.Attributes, slices.Equal)
}

// loadVerifyFuzzFixture reads the fixture and builds its connection.
func loadVerifyFuzzFixture(tb testing.TB) (verifyFuzzFixture, ConnectionConfig) {
	tb.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(verifyFuzzFixtureDir, name))
		if err != nil {
			tb.Fatalf("FuzzVerify fixture: %v (regenerate it with -regenerate-verify-fuzz)", err)
		}
		return b
	}
	var fx verifyFuzzFixture
	if err := json.Unmarshal(read("fixture.json"), &fx); err != nil {
		tb.Fatalf("fixture.json: %v", err)
	}
	spPEM := read("sp.pem")
	certPEM, keyPEM := splitPEM(tb, spPEM)
	conn, err := NewConnectionConfig(fx.BaseURL, fx.Org, store.Connection{
		ID:                "conn-fuzz",
		Slug:              fx.Connection,
		IdPMetadataXML:    string(read("idp-metadata.xml")),
		SPCertPEM:         certPEM,
		SPKeyPEM:          keyPEM,
		AllowIdPInitiated: fx.AllowIdPInitiated,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(fx.Signed) == 0 || fx.Now.IsZero() {
		tb.Fatal("fixture.json has no signed assertions or no time")
	}
	return fx, conn
}

// splitPEM splits sp.pem into its certificate and key blocks, as the store
// keeps them.
func splitPEM(tb testing.TB, b []byte) (certPEM, keyPEM string) {
	tb.Helper()
	s := string(b)
	i := strings.Index(s, "-----BEGIN PRIVATE KEY-----")
	if !strings.HasPrefix(s, "-----BEGIN CERTIFICATE-----") || i < 0 {
		tb.Fatal("sp.pem: want a CERTIFICATE block, then a PRIVATE KEY block")
	}
	return s[:i], s[i:]
}

// TestVerifyFuzzFixture checks that FuzzVerify's fixture still verifies its
// well-formed seeds (so that the fuzzer starts from documents that pass every
// check), and rewrites fixture and seeds with -regenerate-verify-fuzz.
func TestVerifyFuzzFixture(t *testing.T) {
	if *regenerateVerifyFuzz {
		writeVerifyFuzzFixture(t)
	}
	fx, conn := loadVerifyFuzzFixture(t)
	v, err := NewVerifier(VerifierConfig{Now: func() time.Time { return fx.Now }})
	if err != nil {
		t.Fatal(err)
	}
	valid := 0
	for name, doc := range readVerifySeeds(t, fx) {
		if !doc.Valid {
			continue
		}
		a, err := v.Verify(conn, base64.StdEncoding.EncodeToString(doc.xml), fx.Pending)
		if err != nil {
			t.Errorf("seed %s (%s) does not verify: %v", name, doc.Note, err)
			continue
		}
		valid++
		if !slices.ContainsFunc(fx.Signed, func(s signedSubject) bool {
			return sameSubject(s, signedSubject{NameID: a.NameID, Attributes: a.Attributes, InResponseTo: a.InResponseTo})
		}) {
			t.Errorf("seed %s verifies as %q, which fixture.json does not list", name, a.NameID)
		}
	}
	if valid < 4 {
		t.Fatalf("%d seeds verify, want at least 4", valid)
	}
	// Moved two hours on, the same documents have expired: the clock is what
	// makes them valid, so the fuzzer's acceptances are not a fluke of time.
	late, err := NewVerifier(VerifierConfig{Now: func() time.Time { return fx.Now.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range readVerifySeeds(t, fx) {
		if _, err := late.Verify(conn, base64.StdEncoding.EncodeToString(doc.xml), fx.Pending); err == nil {
			t.Errorf("seed %s verifies two hours after it was signed", name)
		}
	}
}

// verifySeed is one of the generator's FuzzVerify seeds.
type verifySeed struct {
	xml []byte
	seedNote
}

// readVerifySeeds reads the seeds fixture.json describes.
func readVerifySeeds(t *testing.T, fx verifyFuzzFixture) map[string]verifySeed {
	t.Helper()
	if len(fx.Seeds) == 0 {
		t.Fatal("fixture.json lists no seeds")
	}
	out := map[string]verifySeed{}
	for name, note := range fx.Seeds {
		raw, err := os.ReadFile(filepath.Join(verifyFuzzSeedDir, name))
		if err != nil {
			t.Fatalf("seed listed in fixture.json: %v", err)
		}
		// go test fuzz v1 / []byte("…") / bool(…)
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		q, ok := strings.CutPrefix(lines[min(1, len(lines)-1)], "[]byte(")
		if len(lines) != 3 || lines[0] != "go test fuzz v1" || !ok || !strings.HasSuffix(q, ")") {
			t.Fatalf("seed %s: unexpected layout", name)
		}
		str, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		out[name] = verifySeed{xml: []byte(str), seedNote: note}
	}
	return out
}

// writeVerifyFuzzFixture makes the fixture and seeds (see
// regenerateVerifyFuzz).
func writeVerifyFuzzFixture(t *testing.T) {
	t.Helper()
	const base = "https://onramp.example"
	idp := samltest.New(t, samltest.Options{EntityID: "https://idp.fuzz.example/metadata"})
	// The SP certificate is valid for years: the fixed clock must stay
	// inside it.
	now := time.Now().UTC().Truncate(time.Second)
	certPEM, keyPEM, err := NewSPKeyPair(now)
	if err != nil {
		t.Fatal(err)
	}
	fx := verifyFuzzFixture{BaseURL: base, Org: "acme", Connection: "okta", AllowIdPInitiated: true, Now: now}
	conn, err := NewConnectionConfig(base, fx.Org, store.Connection{ID: "conn-fuzz", Slug: fx.Connection,
		IdPMetadataXML: string(idp.MetadataXML(t)), SPCertPEM: certPEM, SPKeyPEM: keyPEM, AllowIdPInitiated: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := v.Metadata(conn)
	if err != nil {
		t.Fatal(err)
	}

	type seed struct {
		seedNote
		response string
	}
	var seeds []seed
	add := func(note, resp string, u samltest.User, inResponseTo string) {
		valid := strings.HasPrefix(note, "valid:")
		seeds = append(seeds, seed{seedNote{Note: note, Valid: valid}, resp})
		if valid {
			fx.Signed = append(fx.Signed, signedSubject{NameID: u.NameID, Attributes: u.Attributes, InResponseTo: inResponseTo})
		}
	}
	spInitiated := func(l samltest.Login) (string, string) {
		req, err := v.NewAuthnRequest(conn, "state")
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := idp.SPInitiated(t, req.URL, l)
		fx.Pending = append(fx.Pending, req.ID)
		return resp, req.ID
	}

	idp.RegisterSP(t, md, false)
	u := alice()
	resp, reqID := spInitiated(samltest.Login{User: u})
	add("valid: SP-initiated, signed response and assertion", resp, u, reqID)
	for n := 1; n <= 8; n++ {
		add(fmt.Sprintf("attack: XSW%d of the SP-initiated response", n), samltest.XSW(t, n, resp), u, "")
	}
	add("attack: signatures stripped", samltest.Edit(t, resp, func(doc *etree.Document) {
		samltest.StripSignature(doc.Root())
		samltest.StripSignature(samltest.Assertion(t, doc))
	}), u, "")

	bob := samltest.User{NameID: "00u2bob", Attributes: map[string][]string{"email": {"bob@acme-corp.com"}, "groups": {"Sales"}}}
	add("valid: IdP-initiated", idp.IdPInitiated(t, conn.URLs.EntityID, "/app", samltest.Login{User: bob}), bob, "")

	carol := samltest.User{NameID: "carol@acme-corp.com", NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		Attributes: map[string][]string{"email": {"carol@acme-corp.com"}, "firstName": {"Carol"}}}
	resp, reqID = spInitiated(samltest.Login{User: carol, UnsignedAssertion: true})
	add("valid: SP-initiated, response signed, assertion not", resp, carol, reqID)

	dave := samltest.User{NameID: "00u4dave", Attributes: map[string][]string{}}
	for i := range 40 {
		dave.Attributes["groups"] = append(dave.Attributes["groups"], fmt.Sprintf("Group %02d", i))
	}
	add("valid: IdP-initiated, 40 groups", idp.IdPInitiated(t, conn.URLs.EntityID, "", samltest.Login{User: dave}), dave, "")

	idp.RegisterSP(t, md, true)
	erin := samltest.User{NameID: "00u5erin", Attributes: map[string][]string{"email": {"erin@acme-corp.com"}}}
	resp, reqID = spInitiated(samltest.Login{User: erin})
	add("valid: SP-initiated, encrypted assertion", resp, erin, reqID)

	if err := os.MkdirAll(verifyFuzzFixtureDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(verifyFuzzFixtureDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.MkdirAll(verifyFuzzSeedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := filepath.Glob(filepath.Join(verifyFuzzSeedDir, "seed-*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range old {
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range seeds {
		raw, err := base64.StdEncoding.DecodeString(s.response)
		if err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(raw)) + ")\nbool(true)\n"
		sum := sha256.Sum256([]byte(body))
		name := fmt.Sprintf("seed-%x", sum[:8])
		if err := os.WriteFile(filepath.Join(verifyFuzzSeedDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if fx.Seeds == nil {
			fx.Seeds = map[string]seedNote{}
		}
		fx.Seeds[name] = s.seedNote
	}
	fxJSON, err := json.MarshalIndent(fx, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write("fixture.json", append(fxJSON, '\n'))
	write("idp-metadata.xml", idp.MetadataXML(t))
	write("sp.pem", []byte(certPEM+keyPEM))
	t.Logf("wrote %d seeds and the fixture (clock %s)", len(seeds), now.Format(time.RFC3339))
}
