package jit

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"
	dsig "github.com/russellhaering/goxmldsig"
	dsigtypes "github.com/russellhaering/goxmldsig/types"

	"github.com/onramp-dev/onramp/store"
)

// SP key rollover
//
// A connection's SP key pair signs its AuthnRequests and decrypts the
// assertions its IdP encrypts; the IdP holds the certificate, copied from
// our metadata by its Admin. Replacing the pair in one step would break
// sign-in until the IdP's Admin copies the new certificate: requests signed
// with a key the IdP does not know, assertions encrypted to a key we no
// longer hold. So the certificate is rolled over in three steps, each an
// Admin's action (admin API and console), with a second key pair stored
// beside the first (store.Connection.SPNextCertPEM/SPNextKeyPEM):
//
//  1. StartSPRollover makes a new pair, the incoming one. The metadata
//     publishes both certificates (the active one first) for signing and
//     encryption; assertions encrypted to either decrypt; requests are still
//     signed with the active key. The IdP's Admin re-imports our metadata or
//     adds the new certificate.
//  2. ActivateSPRollover swaps them: the new pair signs from now on and is
//     published first; the old one, now outgoing, still decrypts, for an
//     IdP that goes on encrypting to it.
//  3. FinishSPRollover drops the second pair (the outgoing one, or an
//     incoming one that will not be used after all); the metadata publishes
//     one certificate again.
//
// Whether the second pair is incoming or outgoing is not stored: it is the
// newer certificate (by NotBefore) while incoming, the older once the swap
// made the newer one active.

// Rollover errors, for the admin API's 409s.
var (
	// ErrRolloverUnderWay: the connection has a second key pair already.
	ErrRolloverUnderWay = errors.New("jit: an SP certificate rollover is under way")
	// ErrNoRollover: the connection has no second key pair.
	ErrNoRollover = errors.New("jit: no SP certificate rollover is under way")
	// ErrNoSPKeyPair: the connection has no SP key pair at all yet.
	ErrNoSPKeyPair = errors.New("jit: the connection has no SP key pair yet")
)

// StartSPRollover gives c a new, incoming SP key pair, of key (from
// NewSPKey), beside its active one (step 1). It changes c only; the caller
// stores it. Making the certificate takes a signature, not a key
// generation, so it may run inside the store write that reads c.
func StartSPRollover(c *store.Connection, key *rsa.PrivateKey, now time.Time) error {
	if key == nil {
		return errors.New("jit: start sp rollover: no key")
	}
	if c.SPCertPEM == "" || c.SPKeyPEM == "" {
		return ErrNoSPKeyPair
	}
	if c.SPNextCertPEM != "" || c.SPNextKeyPEM != "" {
		return ErrRolloverUnderWay
	}
	active, err := ParseSPKeyPair(c.SPCertPEM, c.SPKeyPEM)
	if err != nil {
		return fmt.Errorf("jit: connection %s: active SP key pair: %w", c.ID, err)
	}
	// The incoming certificate starts strictly after the active one (a
	// second, at least, in X.509's resolution), which is how
	// DescribeSPCertificates tells incoming from outgoing; only a rollover
	// started within the hour the active pair was made moves it.
	at := now
	if earliest := active.Cert.NotBefore.Add(time.Hour + time.Second); at.Before(earliest) {
		at = earliest
	}
	certPEM, keyPEM, err := spKeyPairWith(key, at)
	if err != nil {
		return err
	}
	c.SPNextCertPEM, c.SPNextKeyPEM = certPEM, keyPEM
	return nil
}

// ActivateSPRollover makes c's incoming pair the active one and keeps the
// old one as outgoing (step 2). It refuses when the second pair is already
// the outgoing one: activating it again would bring back the old key.
func ActivateSPRollover(c *store.Connection) error {
	if c.SPNextCertPEM == "" || c.SPNextKeyPEM == "" {
		return ErrNoRollover
	}
	certs, err := DescribeSPCertificates(*c)
	if err != nil {
		return err
	}
	if len(certs) == 2 && certs[1].Role == SPCertOutgoing {
		return fmt.Errorf("%w: the new certificate is active already; finish the rollover to drop the old one", ErrRolloverUnderWay)
	}
	c.SPCertPEM, c.SPKeyPEM, c.SPNextCertPEM, c.SPNextKeyPEM = c.SPNextCertPEM, c.SPNextKeyPEM, c.SPCertPEM, c.SPKeyPEM
	return nil
}

// FinishSPRollover drops c's second pair (step 3, or cancelling step 1).
func FinishSPRollover(c *store.Connection) error {
	if c.SPNextCertPEM == "" && c.SPNextKeyPEM == "" {
		return ErrNoRollover
	}
	c.SPNextCertPEM, c.SPNextKeyPEM = "", ""
	return nil
}

// Roles of an SP certificate.
const (
	SPCertActive   = "active"   // signs requests, decrypts, published first
	SPCertIncoming = "incoming" // published and decrypts; active once the rollover is activated
	SPCertOutgoing = "outgoing" // published and decrypts until the rollover is finished
)

// SPCertificate describes one of a connection's SP certificates.
type SPCertificate struct {
	Role      string
	PEM       string
	SHA256    string // the certificate's SHA-256 fingerprint, colon-separated upper-case hex, as IdP consoles show it
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
}

// DescribeSPCertificates returns c's SP certificates, the active one first;
// none if c has no key pair yet.
func DescribeSPCertificates(c store.Connection) ([]SPCertificate, error) {
	if c.SPCertPEM == "" {
		return nil, nil
	}
	active, err := describeSPCert(c.SPCertPEM, c.SPKeyPEM, SPCertActive)
	if err != nil {
		return nil, fmt.Errorf("jit: connection %s: active SP key pair: %w", c.ID, err)
	}
	out := []SPCertificate{active}
	if c.SPNextCertPEM == "" && c.SPNextKeyPEM == "" {
		return out, nil
	}
	second, err := describeSPCert(c.SPNextCertPEM, c.SPNextKeyPEM, SPCertIncoming)
	if err != nil {
		return nil, fmt.Errorf("jit: connection %s: second SP key pair: %w", c.ID, err)
	}
	if !second.NotBefore.After(active.NotBefore) {
		second.Role = SPCertOutgoing
	}
	return append(out, second), nil
}

func describeSPCert(certPEM, keyPEM, role string) (SPCertificate, error) {
	kp, err := ParseSPKeyPair(certPEM, keyPEM)
	if err != nil {
		return SPCertificate{}, err
	}
	return SPCertificate{
		Role:      role,
		PEM:       certPEM,
		SHA256:    Fingerprint(kp.Cert),
		Subject:   kp.Cert.Subject.String(),
		NotBefore: kp.Cert.NotBefore,
		NotAfter:  kp.Cert.NotAfter,
	}, nil
}

// Fingerprint is cert's SHA-256 fingerprint (of its DER) as IdP consoles
// show it, upper-case hex pairs separated by colons (3F:A1:…): the one
// format onramp shows for every certificate, the IdP's and its own.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	hexed := strings.ToUpper(hex.EncodeToString(sum[:]))
	pairs := make([]string, 0, len(sum))
	for i := 0; i < len(hexed); i += 2 {
		pairs = append(pairs, hexed[i:i+2])
	}
	return strings.Join(pairs, ":")
}

// ConnectionSPMetadata is the SP metadata of stored connection c of the
// organization with slug orgSlug under baseURL: its active key pair and,
// during a rollover, its second one (SPMetadataFor). The public metadata
// endpoint and the admin API serve this, so they never differ.
func ConnectionSPMetadata(baseURL, orgSlug string, c store.Connection, now time.Time) ([]byte, error) {
	urls, err := NewSPURLs(baseURL, orgSlug, c.Slug)
	if err != nil {
		return nil, err
	}
	active, err := ParseSPKeyPair(c.SPCertPEM, c.SPKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("jit: connection %s: %w", c.ID, err)
	}
	second, err := parseSecondSPKeyPair(c)
	if err != nil {
		return nil, fmt.Errorf("jit: connection %s: %w", c.ID, err)
	}
	return SPMetadataFor(urls, active, second, now)
}

// parseSecondSPKeyPair parses c's second key pair, nil if it has none.
func parseSecondSPKeyPair(c store.Connection) (*SPKeyPair, error) {
	if c.SPNextCertPEM == "" && c.SPNextKeyPEM == "" {
		return nil, nil
	}
	kp, err := ParseSPKeyPair(c.SPNextCertPEM, c.SPNextKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("second SP key pair: %w", err)
	}
	return &kp, nil
}

// SPMetadataFor is SPMetadata with the second key pair of a rollover, if
// second is not nil: its certificate is published after the active one, for
// signing (an IdP that checks our AuthnRequests' signatures accepts either
// once it has both) and for encryption (we decrypt with either).
func SPMetadataFor(urls SPURLs, active SPKeyPair, second *SPKeyPair, now time.Time) ([]byte, error) {
	if urls.EntityID == "" || urls.ACS == "" || active.Key == nil || active.Cert == nil {
		return nil, errors.New("jit: sp metadata: no urls or key pair")
	}
	gsp := &saml2.SAMLServiceProvider{
		AssertionConsumerServiceURL: urls.ACS,
		ServiceProviderIssuer:       urls.EntityID,
		SPKeyStore:                  dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{active.Cert.Raw}, PrivateKey: active.Key, Leaf: active.Cert}),
		SignAuthnRequests:           true,
		Clock:                       dsig.NewFakeClockAt(now),
	}
	md, err := gsp.Metadata()
	if err != nil {
		return nil, fmt.Errorf("jit: sp metadata: %w", err)
	}
	if second != nil {
		sd := md.SPSSODescriptor
		var extra []types.KeyDescriptor
		for _, kd := range sd.KeyDescriptors {
			kd.KeyInfo.X509Data.X509Certificates = []dsigtypes.X509Certificate{{Data: base64.StdEncoding.EncodeToString(second.Cert.Raw)}}
			extra = append(extra, kd)
		}
		// Signing keys first, then encryption keys, each active first.
		var ordered []types.KeyDescriptor
		for _, use := range []string{"signing", "encryption"} {
			for _, kd := range append(slices.Clone(sd.KeyDescriptors), extra...) {
				if kd.Use == use {
					ordered = append(ordered, kd)
				}
			}
		}
		sd.KeyDescriptors = ordered
	}
	out, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("jit: sp metadata: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}
