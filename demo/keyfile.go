package demo

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// idpCertValidity is how long the demo IdP's certificate is valid. SPs pin
// the certificate from the metadata, so a long life is what IdPs do too.
const idpCertValidity = 10 * 365 * 24 * time.Hour

// keyPair is the demo IdP's signing key and certificate.
type keyPair struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// loadOrCreateKeyPair reads the key pair from path, or, if there is no file,
// makes one and writes it there (mode 0600). The file appears atomically and
// only once: if another process creates it first, its pair is used.
func loadOrCreateKeyPair(path string, now time.Time) (kp keyPair, created bool, err error) {
	kp, err = readKeyPair(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kp, false, err
	}
	kp, pemBytes, err := newKeyPair(now)
	if err != nil {
		return keyPair{}, false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return keyPair{}, false, fmt.Errorf("demo: idp key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pemBytes); err != nil {
		_ = tmp.Close()
		return keyPair{}, false, fmt.Errorf("demo: idp key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return keyPair{}, false, fmt.Errorf("demo: idp key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return keyPair{}, false, fmt.Errorf("demo: idp key file: %w", err)
	}
	// Link fails if path exists, so two first starts racing agree on one key.
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		kp, err = readKeyPair(path)
		return kp, false, err
	} else if err != nil {
		return keyPair{}, false, fmt.Errorf("demo: idp key file: %w", err)
	}
	return kp, true, nil
}

// newKeyPair makes a 2048-bit RSA key and a self-signed certificate valid
// from an hour before now, and returns them with their PEM encoding.
func newKeyPair(now time.Time) (keyPair, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return keyPair{}, nil, fmt.Errorf("demo: generate idp key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return keyPair{}, nil, fmt.Errorf("demo: generate idp certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "onramp demo IdP", Organization: []string{"onramp demo"}},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(idpCertValidity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return keyPair{}, nil, fmt.Errorf("demo: create idp certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, nil, fmt.Errorf("demo: parse idp certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return keyPair{}, nil, fmt.Errorf("demo: marshal idp key: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	return keyPair{key: key, cert: cert}, out, nil
}

// readKeyPair parses the file newKeyPair's PEM was written to. The error
// wraps fs.ErrNotExist if there is no file.
func readKeyPair(path string) (keyPair, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator chooses the database path, and so this one
	if err != nil {
		return keyPair{}, fmt.Errorf("demo: idp key file: %w", err)
	}
	bad := func(err error) (keyPair, error) {
		return keyPair{}, fmt.Errorf("demo: idp key file %s (delete it to make a new key): %w", path, err)
	}
	var kp keyPair
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if kp.cert, err = x509.ParseCertificate(b.Bytes); err != nil {
				return bad(fmt.Errorf("certificate: %w", err))
			}
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return bad(fmt.Errorf("key: %w", err))
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return bad(fmt.Errorf("key is %T, want RSA", k))
			}
			kp.key = rk
		}
	}
	if kp.cert == nil || kp.key == nil {
		return bad(errors.New("want a CERTIFICATE and a PRIVATE KEY block"))
	}
	if pub, ok := kp.cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&kp.key.PublicKey) {
		return bad(errors.New("the key does not belong to the certificate"))
	}
	return kp, nil
}
