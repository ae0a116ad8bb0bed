package jit

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"
	rtvalidator "github.com/mattermost/xml-roundtrip-validator"
	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/onramp-dev/onramp/store"
)

// Defaults of VerifierConfig.
const (
	DefaultClockSkew          = 2 * time.Minute
	DefaultMaxIssueInstantAge = 5 * time.Minute
	// DefaultMaxResponseSize bounds the base64 SAMLResponse form value. A
	// response with 150 groups is about 30 KiB; IdPs that would send more
	// send a "groups overage" claim instead.
	DefaultMaxResponseSize = 512 << 10
)

// maxXMLTokens bounds the tokens of a response, as gosaml2 counts them
// (3 per "<", plus 1). It is gosaml2's default, set explicitly so that the
// pre-check can report it as too_large before gosaml2 sees the document.
const maxXMLTokens = 50000

// VerifierConfig configures a Verifier. Zero values take the defaults.
type VerifierConfig struct {
	Logger *slog.Logger
	Now    func() time.Time
	// ClockSkew is the tolerance for the IdP's clock on every time check
	// (NotBefore, NotOnOrAfter, IssueInstant). Default DefaultClockSkew.
	ClockSkew time.Duration
	// MaxIssueInstantAge is how old an assertion's IssueInstant may be,
	// beyond the skew, even if its NotOnOrAfter is later. Default
	// DefaultMaxIssueInstantAge.
	MaxIssueInstantAge time.Duration
	// MaxResponseSize bounds the base64 SAMLResponse, in bytes. Default
	// DefaultMaxResponseSize.
	MaxResponseSize int
}

// Verifier verifies SAML responses for any number of connections. It keeps a
// gosaml2 service provider per connection, rebuilt when the connection's
// configuration changes. It is safe for concurrent use.
type Verifier struct {
	logger  *slog.Logger
	now     func() time.Time
	skew    time.Duration
	maxAge  time.Duration
	maxSize int

	mu  sync.Mutex
	sps map[store.ConnectionID]*connSP
}

// connSP is a connection's pair of gosaml2 service providers. They differ
// only in their clock: validator's runs ClockSkew behind ours, which applies
// the skew to the expiry checks gosaml2 makes itself (SubjectConfirmationData
// NotOnOrAfter, the IdP certificate's validity); requester's is ours, for the
// IssueInstant of AuthnRequests and the validUntil of metadata.
type connSP struct {
	fingerprint [32]byte
	validator   *saml2.SAMLServiceProvider
	requester   *saml2.SAMLServiceProvider
	// secondValidator is validator with the second SP key of a rollover
	// (ConnectionConfig.SPSecond), nil without one: gosaml2 decrypts with
	// one key only, so an assertion that the active key cannot decrypt is
	// validated again with it. secondFirst records that the last encrypted
	// assertion needed the second key, so that an IdP that moved to it
	// costs one validation per sign-in, not two.
	secondValidator *saml2.SAMLServiceProvider
	secondFirst     atomic.Bool
}

// validate runs gosaml2's validation of encoded with the active SP key and,
// during a rollover, with the second one if the first cannot decrypt.
func (sp *connSP) validate(encoded string) (*types.Response, error) {
	if sp.secondValidator == nil {
		return sp.validator.ValidateEncodedResponse(encoded)
	}
	first, second := sp.validator, sp.secondValidator
	if sp.secondFirst.Load() {
		first, second = second, first
	}
	resp, err := first.ValidateEncodedResponse(encoded)
	if err == nil || !isDecryptionError(err) {
		return resp, err
	}
	resp, err2 := second.ValidateEncodedResponse(encoded)
	if err2 != nil {
		if isDecryptionError(err2) {
			return nil, err // neither key decrypts: the first one's error says so
		}
		return nil, err2 // the other key decrypted it; what failed next is the reason
	}
	sp.secondFirst.Store(second == sp.secondValidator)
	return resp, nil
}

// NewVerifier returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.ClockSkew < 0 || cfg.MaxIssueInstantAge < 0 || cfg.MaxResponseSize < 0 {
		return nil, errors.New("jit: verifier: negative skew, age or size")
	}
	v := &Verifier{
		logger:  cfg.Logger,
		now:     cfg.Now,
		skew:    cfg.ClockSkew,
		maxAge:  cfg.MaxIssueInstantAge,
		maxSize: cfg.MaxResponseSize,
		sps:     make(map[store.ConnectionID]*connSP),
	}
	if v.logger == nil {
		v.logger = slog.New(slog.DiscardHandler)
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.skew == 0 {
		v.skew = DefaultClockSkew
	}
	if v.maxAge == 0 {
		v.maxAge = DefaultMaxIssueInstantAge
	}
	if v.maxSize == 0 {
		v.maxSize = DefaultMaxResponseSize
	}
	return v, nil
}

// Assertion is a verified SAML assertion: what the IdP vouches for.
type Assertion struct {
	// ID is the assertion's ID. Whoever acts on the assertion records it in
	// the replay cache, until ReplayUntil, in the same transaction as what
	// the assertion grants (see Verify).
	ID           string
	Issuer       string // the IdP entity ID
	NameID       string // never empty
	NameIDFormat string
	// Attributes maps each attribute Name to its values, in document order.
	Attributes   map[string][]string
	SessionIndex string
	AuthnInstant time.Time // zero if the IdP did not say
	// IssueInstant is when the IdP issued the assertion (never zero).
	IssueInstant time.Time
	// NotOnOrAfter is the end of the assertion's validity: the earlier of
	// the Conditions and the bearer SubjectConfirmationData limits.
	NotOnOrAfter time.Time
	// InResponseTo is the AuthnRequest ID the assertion answers, from the
	// signed assertion; empty for an IdP-initiated sign-in.
	InResponseTo string
	// ReplayUntil is how long the ID must stay in the replay cache:
	// NotOnOrAfter plus the clock skew, as long as any replica could still
	// accept the assertion.
	ReplayUntil time.Time
}

// used is a's entry in the replay cache of connection conn.
func (a Assertion) used(conn store.ConnectionID) store.UsedAssertion {
	until := a.ReplayUntil
	if a.NotOnOrAfter.After(until) {
		until = a.NotOnOrAfter
	}
	return store.UsedAssertion{ConnectionID: conn, ID: a.ID, NotOnOrAfter: until, IssuedAt: a.IssueInstant}
}

// Verify decodes and verifies samlResponse (the base64 SAMLResponse form
// value posted to conn's ACS). pending holds the IDs of the AuthnRequests
// this browser has outstanding for conn (see RequestTracker).
//
// It returns the Assertion only if every check passes, in this order:
//
//  1. size (too_large), base64 and XML well-formedness, including
//     duplicate attributes (malformed), no DTD (doctype), no comments
//     (xml_comment), a samlp:Response root with exactly one Assertion or
//     EncryptedAssertion anywhere in the document, as its child
//     (assertion_count). Signature wrapping needs a second assertion or
//     response somewhere in the document, so it fails here whatever its
//     signatures say. This step builds no tree, and all of it runs before
//     gosaml2 sees the document: the scans of the bytes (encoding,
//     declarations, the token bound), then one pass of a scanner that reads
//     the structure as encoding/xml tokenizes it (precheckShape). The
//     scanner only refuses; what it lets through, step 2 parses and
//     round-trip-checks again.
//  2. gosaml2: mattermost's XML round-trip check on the same bytes, before
//     anything else it does (malformed); signatures by this connection's IdP
//     certificates only (unsigned, signature_invalid), decryption with the
//     SP key (decryption_failed), Status Success, and its own Destination,
//     Issuer and Recipient checks.
//  3. our checks on the verified response: exactly one assertion; Destination
//     present and equal to the ACS URL; the Issuers equal the IdP entity ID;
//     a NameID; a bearer SubjectConfirmation whose Recipient is the ACS URL;
//     our entity ID in every AudienceRestriction (and at least one);
//     NotBefore, NotOnOrAfter and IssueInstant within the clock skew and the
//     maximum age; gosaml2's WarningInfo flags (InvalidTime, NotInAudience)
//     as failures.
//  4. InResponseTo, taken from the signed assertion: it must be one of
//     pending; an unsigned envelope that names a different request is
//     refused; an assertion that answers no request is accepted only if the
//     connection allows IdP-initiated sign-in.
//
// Every failure is a *VerifyError.
//
// Verify does not record the assertion ID: it touches no store, and a
// response it accepts is accepted again. The replay check is the caller's,
// and belongs in the transaction that acts on the assertion: the ACS's
// Provisioner records the ID (Assertion.ReplayUntil) in the same store
// transaction as the sign-in and its session (store.SignIn), and a refusal
// burns it in the refusal's audit write. Recorded apart, before the sign-in,
// it would cost a commit of its own; recorded together, a used ID and the
// session it yielded become durable at once or not at all, so a replay
// (store.ErrAssertionUsed, reported as ReasonReplayed) never yields a
// second session, on any replica.
func (v *Verifier) Verify(conn ConnectionConfig, samlResponse string, pending []string) (Assertion, error) {
	return v.verify(conn, samlResponse, pending, true, nil)
}

// verify is Verify. countAssertions=false switches off the assertion count
// of step 1, only so that tests can show that signature wrapping also fails
// in the later steps (defence in depth).
//
// claimed, if set, is told the NameID and the AttributeStatement the
// document claims as soon as step 1 has passed, before any signature is
// checked (before step 2 starts, on the caller's goroutine): the ACS starts
// reading the account of that identity, or the accounts that person could
// be linked to, meanwhile (see prefetched). Nothing may trust them: they are
// only a guess at what the verified assertion will say.
func (v *Verifier) verify(conn ConnectionConfig, samlResponse string, pending []string, countAssertions bool, claimed func(shapeClaims)) (Assertion, error) {
	if len(samlResponse) > v.maxSize {
		return Assertion{}, reject(ReasonTooLarge, fmt.Errorf("response is %d bytes, limit %d", len(samlResponse), v.maxSize))
	}
	raw, err := decodeBase64(samlResponse)
	if err != nil {
		return Assertion{}, reject(ReasonMalformed, fmt.Errorf("base64: %w", err))
	}
	if err := precheckBytes(raw); err != nil {
		return Assertion{}, err
	}
	sp, err := v.serviceProvider(conn)
	if err != nil {
		return Assertion{}, reject(ReasonConnectionMisconfigured, err)
	}
	// The shape check is a single pass over the bytes (see precheckShape),
	// a small fraction of gosaml2's parse and signature checks, so it runs
	// here, before them, and the account read it lets the caller start
	// (claimed) overlaps all of gosaml2's work.
	claims, err := precheckShapeClaims(raw, countAssertions)
	if err != nil {
		return Assertion{}, err
	}
	if claimed != nil && claims.NameID != "" {
		claims.Document = raw
		claimed(claims)
	}
	// gosaml2 decodes the same base64 again; it is re-encoded only when it
	// has the white space decodeBase64 removed.
	encoded := samlResponse
	if strings.ContainsAny(samlResponse, " \t\r\n") {
		encoded = base64.StdEncoding.EncodeToString(raw)
	}
	resp, err := sp.validate(encoded)
	if err != nil {
		// gosaml2 runs the round-trip check only after it has parsed the
		// document, and reports its failure as plain text; it is checked
		// again here, on the failure path only, to name the reason.
		if rtErr := rtvalidator.Validate(bytes.NewReader(raw)); rtErr != nil {
			return Assertion{}, reject(ReasonMalformed, fmt.Errorf("xml round trip: %w", rtErr))
		}
		return Assertion{}, classifyGosaml2(err)
	}
	a, err := v.check(conn, resp)
	if err != nil {
		return Assertion{}, err
	}
	if err := v.checkInResponseTo(conn, resp, a, pending); err != nil {
		return Assertion{}, err
	}
	// Keep the ID for as long as any replica could still accept the assertion.
	a.ReplayUntil = a.NotOnOrAfter.Add(v.skew)
	return a, nil
}

// decodeBase64 decodes the form value. Some IdPs wrap base64 at 76 columns,
// so ASCII whitespace is removed first.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n':
				return -1
			}
			return r
		}, s)
	}
	if s == "" {
		return nil, errors.New("empty")
	}
	return base64.StdEncoding.DecodeString(s)
}

// precheckBytes is the part of step 1 that scans the bytes without parsing
// them: it runs before gosaml2 sees the document, so that a declaration or
// a token bomb never reaches a parser.
func precheckBytes(raw []byte) error {
	// Bytes that are not UTF-8 text starting with markup are no XML document
	// at all (for example a deflated response, which the HTTP-POST binding
	// never sends): name them malformed before scanning them for declarations,
	// which random bytes can contain by chance.
	if !utf8.Valid(raw) || !bytes.HasPrefix(bytes.TrimLeft(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")), " \t\r\n"), []byte("<")) {
		return reject(ReasonMalformed, errors.New("not an XML document"))
	}
	if hasMarkupDeclaration(raw) {
		return reject(ReasonDoctype, errors.New("document has a markup declaration"))
	}
	if bound := 3*int64(bytes.Count(raw, []byte("<"))) + 1; bound > maxXMLTokens {
		return reject(ReasonTooLarge, fmt.Errorf("document has up to %d XML tokens, limit %d", bound, maxXMLTokens))
	}
	return nil
}

// classifyGosaml2 maps gosaml2's errors to reasons. gosaml2 types only some
// of them; signature failures from goxmldsig are plain errors, so anything
// unrecognised is a signature failure (which fails closed).
func classifyGosaml2(err error) *VerifyError {
	var inv saml2.ErrInvalidValue
	var miss saml2.ErrMissingElement
	var perr saml2.ErrParsing
	switch {
	case errors.Is(err, dsig.ErrMissingSignature):
		return reject(ReasonUnsigned, err)
	case errors.As(err, &inv):
		switch {
		case inv.Reason == saml2.ReasonExpired:
			return reject(ReasonExpired, err)
		case inv.Key == saml2.DestinationAttr:
			return reject(ReasonDestinationMismatch, err)
		case inv.Key == saml2.IssuerTag:
			return reject(ReasonIssuerMismatch, err)
		case inv.Key == saml2.RecipientAttr:
			return reject(ReasonRecipientMismatch, err)
		case inv.Key == saml2.StatusCodeTag:
			return reject(ReasonStatusNotSuccess, err)
		case inv.Key == saml2.SubjectConfirmationTag:
			return reject(ReasonSubjectConfirmation, err)
		}
		return reject(ReasonMalformed, err)
	case errors.As(err, &miss):
		if miss.Tag == saml2.AssertionTag {
			return reject(ReasonAssertionCount, err)
		}
		if miss.Tag == saml2.SubjectConfirmationTag || miss.Tag == saml2.SubjectConfirmationDataTag {
			return reject(ReasonSubjectConfirmation, err)
		}
		return reject(ReasonMalformed, err)
	case errors.As(err, &perr):
		return reject(ReasonMalformed, err)
	case isDecryptionError(err):
		return reject(ReasonDecryptionFailed, err)
	}
	return reject(ReasonSignatureInvalid, err)
}

// isDecryptionError recognises gosaml2's decryption failures, which it
// reports only as text (formatted with %v, so there is no chain to inspect).
// This is the one place that reads error text; if gosaml2 rewords it, the
// failure is reported as signature_invalid instead, still a rejection.
func isDecryptionError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "decrypt") || strings.Contains(msg, "encrypted assertion")
}

// check is step 3 of Verify.
func (v *Verifier) check(conn ConnectionConfig, resp *types.Response) (Assertion, error) {
	if len(resp.Assertions) != 1 || len(resp.EncryptedAssertions) != 0 {
		return Assertion{}, reject(ReasonAssertionCount, fmt.Errorf("verified response has %d assertions and %d still encrypted", len(resp.Assertions), len(resp.EncryptedAssertions)))
	}
	as := resp.Assertions[0]
	if resp.Destination != conn.URLs.ACS {
		return Assertion{}, reject(ReasonDestinationMismatch, fmt.Errorf("destination %q, want %q", resp.Destination, conn.URLs.ACS))
	}
	if resp.Issuer != nil && strings.TrimSpace(resp.Issuer.Value) != conn.IdP.EntityID {
		return Assertion{}, reject(ReasonIssuerMismatch, fmt.Errorf("response issuer %q, want %q", resp.Issuer.Value, conn.IdP.EntityID))
	}
	if as.Issuer == nil || strings.TrimSpace(as.Issuer.Value) != conn.IdP.EntityID {
		return Assertion{}, reject(ReasonIssuerMismatch, fmt.Errorf("assertion issuer is not %q", conn.IdP.EntityID))
	}
	if as.ID == "" {
		return Assertion{}, reject(ReasonMalformed, errors.New("assertion has no ID"))
	}
	if as.Subject == nil || as.Subject.NameID == nil || strings.TrimSpace(as.Subject.NameID.Value) == "" {
		return Assertion{}, reject(ReasonNameIDMissing, errors.New("assertion has no NameID"))
	}
	sc := as.Subject.SubjectConfirmation
	if sc == nil || sc.Method != saml2.SubjMethodBearer || sc.SubjectConfirmationData == nil {
		return Assertion{}, reject(ReasonSubjectConfirmation, errors.New("no bearer SubjectConfirmationData"))
	}
	scd := sc.SubjectConfirmationData
	if scd.Recipient != conn.URLs.ACS {
		return Assertion{}, reject(ReasonRecipientMismatch, fmt.Errorf("recipient %q, want %q", scd.Recipient, conn.URLs.ACS))
	}
	if err := checkAudience(as.Conditions, conn.URLs.EntityID); err != nil {
		return Assertion{}, err
	}
	notOnOrAfter, err := v.checkTimes(&as, scd)
	if err != nil {
		return Assertion{}, err
	}
	if err := v.checkGosaml2Warnings(conn, &as, notOnOrAfter); err != nil {
		return Assertion{}, err
	}

	a := Assertion{
		ID:           as.ID,
		Issuer:       conn.IdP.EntityID,
		NameID:       strings.TrimSpace(as.Subject.NameID.Value),
		NameIDFormat: as.Subject.NameID.Format,
		Attributes:   map[string][]string{},
		IssueInstant: as.IssueInstant.UTC(),
		NotOnOrAfter: notOnOrAfter,
		InResponseTo: scd.InResponseTo,
	}
	if as.AttributeStatement != nil {
		for _, attr := range as.AttributeStatement.Attributes {
			for _, val := range attr.Values {
				s := strings.TrimSpace(val.Value)
				if val.NameID != nil {
					s = strings.TrimSpace(val.NameID.Value)
				}
				a.Attributes[attr.Name] = append(a.Attributes[attr.Name], s)
			}
		}
	}
	if st := as.AuthnStatement; st != nil {
		a.SessionIndex = st.SessionIndex
		if st.AuthnInstant != nil {
			a.AuthnInstant = st.AuthnInstant.UTC()
		}
	}
	return a, nil
}

func checkAudience(c *types.Conditions, entityID string) error {
	if c == nil || len(c.AudienceRestrictions) == 0 {
		return reject(ReasonAudienceMismatch, errors.New("assertion has no AudienceRestriction"))
	}
	for _, ar := range c.AudienceRestrictions {
		if !slices.ContainsFunc(ar.Audiences, func(a types.Audience) bool { return strings.TrimSpace(a.Value) == entityID }) {
			return reject(ReasonAudienceMismatch, fmt.Errorf("an AudienceRestriction does not name %q", entityID))
		}
	}
	return nil
}

// checkTimes checks every validity time of the assertion against our clock,
// with the skew, and returns when the assertion stops being valid.
func (v *Verifier) checkTimes(as *types.Assertion, scd *types.SubjectConfirmationData) (time.Time, error) {
	now := v.now()
	if as.Conditions.NotBefore == "" || as.Conditions.NotOnOrAfter == "" || scd.NotOnOrAfter == "" || as.IssueInstant.IsZero() {
		return time.Time{}, reject(ReasonMalformed, errors.New("assertion lacks NotBefore, NotOnOrAfter or IssueInstant"))
	}
	notBefore, err1 := time.Parse(time.RFC3339, as.Conditions.NotBefore)
	notOnOrAfter, err2 := time.Parse(time.RFC3339, as.Conditions.NotOnOrAfter)
	scdNotOnOrAfter, err3 := time.Parse(time.RFC3339, scd.NotOnOrAfter)
	if err := errors.Join(err1, err2, err3); err != nil {
		return time.Time{}, reject(ReasonMalformed, fmt.Errorf("assertion times: %w", err))
	}
	if !notBefore.Before(notOnOrAfter) {
		return time.Time{}, reject(ReasonMalformed, errors.New("assertion NotBefore is not before its NotOnOrAfter"))
	}
	end := notOnOrAfter
	if scdNotOnOrAfter.Before(end) {
		end = scdNotOnOrAfter
	}
	switch {
	case now.Add(v.skew).Before(notBefore):
		return time.Time{}, reject(ReasonNotYetValid, fmt.Errorf("NotBefore %s is after now %s plus skew %s", notBefore.UTC(), now.UTC(), v.skew))
	case now.Add(v.skew).Before(as.IssueInstant):
		return time.Time{}, reject(ReasonNotYetValid, fmt.Errorf("IssueInstant %s is after now %s plus skew %s", as.IssueInstant.UTC(), now.UTC(), v.skew))
	case !now.Add(-v.skew).Before(end):
		return time.Time{}, reject(ReasonExpired, fmt.Errorf("NotOnOrAfter %s is not after now %s minus skew %s", end.UTC(), now.UTC(), v.skew))
	case now.Sub(as.IssueInstant) > v.maxAge+v.skew:
		return time.Time{}, reject(ReasonIssueInstantTooOld, fmt.Errorf("IssueInstant %s is more than %s before now %s", as.IssueInstant.UTC(), v.maxAge+v.skew, now.UTC()))
	}
	return end.UTC(), nil
}

// checkGosaml2Warnings asks gosaml2 for its verdict on the Conditions and
// treats both of its warnings as failures. gosaml2 compares times without a
// skew, so it is asked at the instant nearest to now that lies in the
// assertion's validity window; checkTimes has already made sure that instant
// is within the skew of now. A warning here therefore means gosaml2 read the
// assertion differently from us, and we fail closed.
func (v *Verifier) checkGosaml2Warnings(conn ConnectionConfig, as *types.Assertion, end time.Time) error {
	at := v.now()
	notBefore, err := time.Parse(time.RFC3339, as.Conditions.NotBefore)
	if err != nil {
		return reject(ReasonMalformed, err)
	}
	if at.Before(notBefore) {
		at = notBefore
	}
	if !at.Before(end) {
		at = end.Add(-time.Second)
	}
	probe := &saml2.SAMLServiceProvider{AudienceURI: conn.URLs.EntityID, Clock: dsig.NewFakeClockAt(at)}
	w, err := probe.VerifyAssertionConditions(as)
	if err != nil {
		return reject(ReasonMalformed, err)
	}
	if w.NotInAudience {
		return reject(ReasonAudienceMismatch, errors.New("gosaml2: not in audience"))
	}
	if w.InvalidTime {
		return reject(ReasonExpired, fmt.Errorf("gosaml2: invalid time at %s", at.UTC()))
	}
	return nil
}

// checkInResponseTo is step 4 of Verify.
func (v *Verifier) checkInResponseTo(conn ConnectionConfig, resp *types.Response, a Assertion, pending []string) error {
	// The envelope may be unsigned (only the assertion signed): it can only
	// agree with the assertion, never add a request ID the assertion lacks.
	if resp.InResponseTo != "" && resp.InResponseTo != a.InResponseTo {
		return reject(ReasonInResponseToMismatch, errors.New("response and assertion InResponseTo differ"))
	}
	if a.InResponseTo == "" {
		if !conn.AllowIdPInitiated {
			return reject(ReasonIdPInitiatedNotAllowed, errors.New("unsolicited response"))
		}
		return nil
	}
	if !slices.Contains(pending, a.InResponseTo) {
		return reject(ReasonInResponseToUnknown, fmt.Errorf("InResponseTo %q is not a request this browser started for connection %s", a.InResponseTo, conn.ID))
	}
	return nil
}

// AuthnRequest is an SP-initiated login request.
type AuthnRequest struct {
	ID string
	// URL sends the browser to the IdP (HTTP-Redirect binding, signed with
	// the SP key).
	URL string
}

// NewAuthnRequest makes a signed AuthnRequest for conn. relayState is
// carried through the IdP and posted back to the ACS with the response.
func (v *Verifier) NewAuthnRequest(conn ConnectionConfig, relayState string) (AuthnRequest, error) {
	if conn.IdP.SSOURL == "" {
		return AuthnRequest{}, fmt.Errorf("jit: connection %s: the idp metadata has no HTTP-Redirect SingleSignOnService", conn.ID)
	}
	sp, err := v.serviceProvider(conn)
	if err != nil {
		return AuthnRequest{}, fmt.Errorf("jit: connection %s: %w", conn.ID, err)
	}
	doc, err := sp.requester.BuildAuthRequestDocumentNoSig()
	if err != nil {
		return AuthnRequest{}, fmt.Errorf("jit: build authn request: %w", err)
	}
	id := doc.Root().SelectAttrValue("ID", "")
	if id == "" {
		return AuthnRequest{}, errors.New("jit: build authn request: no ID")
	}
	u, err := sp.requester.BuildAuthURLRedirect(relayState, doc)
	if err != nil {
		return AuthnRequest{}, fmt.Errorf("jit: build authn request url: %w", err)
	}
	return AuthnRequest{ID: id, URL: u}, nil
}

// Metadata returns conn's SP metadata XML (see SPMetadata).
func (v *Verifier) Metadata(conn ConnectionConfig) ([]byte, error) {
	return SPMetadata(conn.URLs, conn.SP, v.now())
}

// SPMetadata returns a connection's SP metadata XML: entity ID, the HTTP-POST
// ACS, and the SP certificate as signing and encryption key, valid for a
// week from now. It needs no IdP: Admins download it before they set the IdP
// up. During a rollover, SPMetadataFor publishes the second certificate too.
func SPMetadata(urls SPURLs, sp SPKeyPair, now time.Time) ([]byte, error) {
	return SPMetadataFor(urls, sp, nil, now)
}

// serviceProvider returns conn's gosaml2 service providers, building them if
// the connection is new or its configuration changed.
func (v *Verifier) serviceProvider(conn ConnectionConfig) (*connSP, error) {
	if err := conn.validate(); err != nil {
		return nil, err
	}
	fp := fingerprint(conn)
	v.mu.Lock()
	defer v.mu.Unlock()
	if sp, ok := v.sps[conn.ID]; ok && sp.fingerprint == fp {
		return sp, nil
	}
	sp := &connSP{
		fingerprint: fp,
		validator:   v.newGosaml2SP(conn, conn.SP, -v.skew),
		requester:   v.newGosaml2SP(conn, conn.SP, 0),
	}
	if conn.SPSecond != nil {
		sp.secondValidator = v.newGosaml2SP(conn, *conn.SPSecond, -v.skew)
	}
	v.sps[conn.ID] = sp
	return sp, nil
}

// newGosaml2SP is gosaml2 set up for conn, with the SP key pair key (which
// decrypts, and signs AuthnRequests), its clock offset by offset.
func (v *Verifier) newGosaml2SP(conn ConnectionConfig, key SPKeyPair, offset time.Duration) *saml2.SAMLServiceProvider {
	keys := dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{key.Cert.Raw},
		PrivateKey:  key.Key,
		Leaf:        key.Cert,
	})
	return &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:      conn.IdP.SSOURL,
		IdentityProviderSSOBinding:  bindingHTTPRedirect,
		IdentityProviderIssuer:      conn.IdP.EntityID,
		AssertionConsumerServiceURL: conn.URLs.ACS,
		ServiceProviderIssuer:       conn.URLs.EntityID,
		AudienceURI:                 conn.URLs.EntityID,
		IDPCertificateStore:         &dsig.MemoryX509CertificateStore{Roots: slices.Clone(conn.IdP.SigningCerts)},
		// gosaml2 decrypts only with SPKeyStore, and signs with it too.
		SPKeyStore:                 keys,
		SignAuthnRequests:          true,
		SignAuthnRequestsAlgorithm: dsig.RSASHA256SignatureMethod,
		AllowMissingAttributes:     true,
		MaximumXMLTokens:           maxXMLTokens,
		Clock:                      dsig.NewFakeClock(offsetClock{Clock: clockwork.NewRealClock(), now: v.now, offset: offset}),
	}
}

// fingerprint identifies everything a gosaml2 service provider is built from.
func fingerprint(conn ConnectionConfig) [32]byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(conn.URLs.EntityID))
	field([]byte(conn.URLs.ACS))
	field([]byte(conn.IdP.EntityID))
	field([]byte(conn.IdP.SSOURL))
	for _, c := range conn.IdP.SigningCerts {
		field(c.Raw)
	}
	field(conn.SP.Cert.Raw)
	if conn.SPSecond != nil {
		field(conn.SPSecond.Cert.Raw)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// offsetClock is a clockwork.Clock whose Now is our injected now plus an
// offset; gosaml2 and goxmldsig read only Now.
type offsetClock struct {
	clockwork.Clock
	now    func() time.Time
	offset time.Duration
}

func (c offsetClock) Now() time.Time                  { return c.now().Add(c.offset) }
func (c offsetClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c offsetClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }
