package jit

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// SPCertValidity is how long a generated SP certificate is valid. IdPs pin
// the certificate from our metadata rather than checking a chain, so a long
// life is normal; rotate by generating a new pair (NewSPKeyPair), storing it on
// the connection and re-publishing the metadata.
const SPCertValidity = 10 * 365 * 24 * time.Hour

// spKeyBits is the RSA key size. gosaml2 decrypts assertions only with RSA
// keys, so the SP key is RSA; 2048 bits is what IdPs accept everywhere.
const spKeyBits = 2048

// NewSPKeyPair generates a connection's SP key pair: a 2048-bit RSA key and a
// self-signed certificate valid from an hour before now (to tolerate clock
// skew at the IdP) for SPCertValidity. Both are returned PEM-encoded, ready for
// store.Connection's SPCertPEM and SPKeyPEM. The key signs our AuthnRequests
// and decrypts encrypted assertions.
func NewSPKeyPair(now time.Time) (certPEM, keyPEM string, err error) {
	key, err := NewSPKey()
	if err != nil {
		return "", "", err
	}
	return spKeyPairWith(key, now)
}

// NewSPKey generates an SP key, the slow half of NewSPKeyPair (tens to
// hundreds of milliseconds): callers that make the certificate inside a
// store write (StartSPRollover) generate the key before it.
func NewSPKey() (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, spKeyBits)
	if err != nil {
		return nil, fmt.Errorf("jit: generate sp key: %w", err)
	}
	return key, nil
}

// spKeyPairWith is NewSPKeyPair with the key given.
func spKeyPairWith(key *rsa.PrivateKey, now time.Time) (certPEM, keyPEM string, err error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", "", fmt.Errorf("jit: generate sp certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "onramp SAML service provider", Organization: []string{"onramp"}},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(SPCertValidity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("jit: create sp certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("jit: marshal sp key: %w", err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certPEM, keyPEM, nil
}

// SPKeyPair is a connection's parsed SP key pair.
type SPKeyPair struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// ParseSPKeyPair parses the PEM pair made by NewSPKeyPair (PKCS#8 or PKCS#1
// RSA keys are accepted) and checks that the key belongs to the certificate.
func ParseSPKeyPair(certPEM, keyPEM string) (SPKeyPair, error) {
	cb, _ := pem.Decode([]byte(certPEM))
	if cb == nil || cb.Type != "CERTIFICATE" {
		return SPKeyPair{}, errors.New("jit: sp certificate: no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return SPKeyPair{}, fmt.Errorf("jit: sp certificate: %w", err)
	}
	kb, _ := pem.Decode([]byte(keyPEM))
	if kb == nil {
		return SPKeyPair{}, errors.New("jit: sp key: no PEM block")
	}
	var key *rsa.PrivateKey
	switch kb.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return SPKeyPair{}, fmt.Errorf("jit: sp key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return SPKeyPair{}, fmt.Errorf("jit: sp key: %T is not an RSA key (gosaml2 decrypts with RSA only)", k)
		}
		key = rk
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
		if err != nil {
			return SPKeyPair{}, fmt.Errorf("jit: sp key: %w", err)
		}
	default:
		return SPKeyPair{}, fmt.Errorf("jit: sp key: unexpected PEM block %q", kb.Type)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return SPKeyPair{}, errors.New("jit: sp key does not match the sp certificate")
	}
	return SPKeyPair{Key: key, Cert: cert}, nil
}
