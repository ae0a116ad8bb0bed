package bench

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/crewjam/saml"
)

// IdPEntityID is the entity ID of the benchmark's identity provider, and
// IdPSSOURL the single sign-on URL its metadata names. The benchmark signs in
// IdP-initiated only (as a click on an app tile does), so nothing answers at
// that URL: the .invalid domain says so.
const (
	IdPEntityID = "urn:onramp:bench:idp"
	IdPSSOURL   = "https://onramp-bench.invalid/sso"
)

// idpCertValidity is how long the benchmark IdP's certificate is valid.
const idpCertValidity = 5 * 365 * 24 * time.Hour

// IdP is the benchmark's SAML identity provider: github.com/crewjam/saml's
// IdentityProvider with a key pair kept in a file, so that the metadata an
// operator gives onramp (onramp bench mixed --print-idp-metadata) and the
// responses a later run signs belong together. It signs IdP-initiated
// responses for one service provider, whose metadata it is given (SetSP);
// assertions are signed, not encrypted.
type IdP struct {
	idp *saml.IdentityProvider

	mu sync.Mutex
	sp *saml.EntityDescriptor
}

// LoadIdP reads the key pair from path, or, if there is no such file, makes
// one and writes it there (mode 0600; created reports that). The file holds
// a CERTIFICATE and a PRIVATE KEY PEM block.
func LoadIdP(path string, now time.Time, logger *slog.Logger) (idp *IdP, created bool, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	key, cert, err := readKeyPair(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, cert, err = writeKeyPair(path, now)
		created = err == nil
	}
	if err != nil {
		return nil, false, err
	}
	entityID, err := url.Parse(IdPEntityID)
	if err != nil {
		return nil, false, err
	}
	sso, err := url.Parse(IdPSSOURL)
	if err != nil {
		return nil, false, err
	}
	i := &IdP{}
	i.idp = &saml.IdentityProvider{
		Key:                     key,
		Certificate:             cert,
		Logger:                  slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		MetadataURL:             *entityID,
		SSOURL:                  *sso,
		ServiceProviderProvider: spProvider{i},
		NameIDFormats:           []saml.NameIDFormat{saml.EmailAddressNameIDFormat},
	}
	return i, created, nil
}

// MetadataXML is the IdP's SAML metadata: what the operator gives onramp as
// the connection's IdP metadata.
func (i *IdP) MetadataXML() ([]byte, error) {
	md := i.idp.Metadata()
	// The metadata is kept in onramp's store, not refreshed from a URL: no
	// validUntil (crewjam's is two days), and only the signing key (the IdP
	// decrypts nothing).
	md.ValidUntil, md.CacheDuration = time.Time{}, 0
	for d := range md.IDPSSODescriptors {
		var kept []saml.KeyDescriptor
		for _, kd := range md.IDPSSODescriptors[d].KeyDescriptors {
			if kd.Use != "encryption" {
				kept = append(kept, kd)
			}
		}
		md.IDPSSODescriptors[d].KeyDescriptors = kept
	}
	b, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bench: idp metadata: %w", err)
	}
	return append(b, '\n'), nil
}

// SetSP makes the IdP sign for the service provider whose metadata this is
// (onramp's BASE/saml/{org}/{connection}/metadata), and returns its entity
// ID.
func (i *IdP) SetSP(metadata []byte) (string, error) {
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(metadata, &ed); err != nil {
		return "", fmt.Errorf("bench: sp metadata: %w", err)
	}
	if ed.EntityID == "" || len(ed.SPSSODescriptors) == 0 {
		return "", errors.New("bench: sp metadata has no entity ID or SPSSODescriptor")
	}
	// Leave out the SP's encryption keys: the assertions are signed only,
	// which costs onramp no decryption per sign-in.
	for d := range ed.SPSSODescriptors {
		var kept []saml.KeyDescriptor
		for _, kd := range ed.SPSSODescriptors[d].KeyDescriptors {
			if kd.Use != "encryption" {
				kept = append(kept, kd)
			}
		}
		ed.SPSSODescriptors[d].KeyDescriptors = kept
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.sp = &ed
	return ed.EntityID, nil
}

// Person is someone the IdP signs in.
type Person struct {
	Email      string // also the NameID
	GivenName  string
	FamilyName string
}

// Response signs person in at the service provider, IdP-initiated, and
// returns the ACS URL and the base64 SAMLResponse to post there.
func (i *IdP) Response(p Person) (acsURL, samlResponse string, err error) {
	i.mu.Lock()
	sp := i.sp
	i.mu.Unlock()
	if sp == nil {
		return "", "", errors.New("bench: idp: no service provider set")
	}
	// crewjam reads the request only for the subject's address.
	r := &http.Request{Method: http.MethodPost, RemoteAddr: "127.0.0.1:0", Header: http.Header{}}
	req, err := i.idp.NewIdpInitiatedRequest(r, sp.EntityID, "")
	if err != nil {
		return "", "", fmt.Errorf("bench: idp: %w", err)
	}
	now := time.Now()
	attr := func(name, value string) saml.Attribute {
		return saml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
			Values: []saml.AttributeValue{{Type: "xs:string", Value: value}}}
	}
	session := &saml.Session{
		ID:           randomHex(16),
		Index:        randomHex(16),
		CreateTime:   now,
		ExpireTime:   now.Add(time.Hour),
		NameID:       p.Email,
		NameIDFormat: string(saml.EmailAddressNameIDFormat),
		CustomAttributes: []saml.Attribute{
			attr("email", p.Email),
			attr("firstName", p.GivenName),
			attr("lastName", p.FamilyName),
		},
	}
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		return "", "", fmt.Errorf("bench: idp: make assertion: %w", err)
	}
	form, err := req.PostBinding()
	if err != nil {
		return "", "", fmt.Errorf("bench: idp: sign response: %w", err)
	}
	return form.URL, form.SAMLResponse, nil
}

// spProvider is the IdP's one service provider.
type spProvider struct{ i *IdP }

// GetServiceProvider implements saml.ServiceProviderProvider.
func (p spProvider) GetServiceProvider(_ *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	p.i.mu.Lock()
	defer p.i.mu.Unlock()
	if p.i.sp == nil || p.i.sp.EntityID != entityID {
		return nil, os.ErrNotExist
	}
	return p.i.sp, nil
}

// writeKeyPair makes a 2048-bit RSA key and a self-signed certificate and
// writes them to path, which must not exist yet.
func writeKeyPair(path string, now time.Time) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: idp key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("bench: idp certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "onramp bench IdP"},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(idpCertValidity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: idp certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: idp certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: idp key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("bench: idp key file: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: the operator names the key file
	if err != nil {
		return nil, nil, fmt.Errorf("bench: idp key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("bench: idp key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, nil, fmt.Errorf("bench: idp key file: %w", err)
	}
	return key, cert, nil
}

// readKeyPair reads what writeKeyPair wrote. The error wraps fs.ErrNotExist
// if there is no file.
func readKeyPair(path string) (*rsa.PrivateKey, *x509.Certificate, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the key file
	if err != nil {
		return nil, nil, fmt.Errorf("bench: idp key file: %w", err)
	}
	var key *rsa.PrivateKey
	var cert *x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if cert, err = x509.ParseCertificate(b.Bytes); err != nil {
				return nil, nil, fmt.Errorf("bench: idp key file %s: certificate: %w", path, err)
			}
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("bench: idp key file %s: key: %w", path, err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, fmt.Errorf("bench: idp key file %s: key is %T, want RSA", path, k)
			}
			key = rk
		}
	}
	if key == nil || cert == nil {
		return nil, nil, fmt.Errorf("bench: idp key file %s: want a CERTIFICATE and a PRIVATE KEY block", path)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, fmt.Errorf("bench: idp key file %s: the key does not belong to the certificate", path)
	}
	return key, cert, nil
}
