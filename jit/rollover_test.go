package jit

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/russellhaering/gosaml2/types"

	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
)

// newRolloverConn is a connection whose SP key pair was made at made.
func newRolloverConn(t *testing.T, made time.Time) store.Connection {
	t.Helper()
	certPEM, keyPEM, err := NewSPKeyPair(made)
	if err != nil {
		t.Fatal(err)
	}
	return store.Connection{ID: "c1", Slug: "okta", SPCertPEM: certPEM, SPKeyPEM: keyPEM}
}

func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := NewSPKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func roles(t *testing.T, c store.Connection) []string {
	t.Helper()
	certs, err := DescribeSPCertificates(c)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cert := range certs {
		out = append(out, cert.Role)
	}
	return out
}

func TestSPRollover_ThreeSteps(t *testing.T) {
	made := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newRolloverConn(t, made)
	original := c.SPCertPEM
	if got := roles(t, c); len(got) != 1 || got[0] != SPCertActive {
		t.Fatalf("before: roles %v", got)
	}

	// Started the very same second the pair was made (a fixed clock): the
	// incoming certificate still starts after the active one.
	if err := StartSPRollover(&c, newKey(t), made); err != nil {
		t.Fatal(err)
	}
	incoming := c.SPNextCertPEM
	if got := roles(t, c); len(got) != 2 || got[0] != SPCertActive || got[1] != SPCertIncoming {
		t.Fatalf("started: roles %v", got)
	}
	if c.SPCertPEM != original || incoming == "" || c.SPNextKeyPEM == "" {
		t.Fatal("start changed the active pair or made no second one")
	}
	if err := StartSPRollover(&c, newKey(t), made); !errors.Is(err, ErrRolloverUnderWay) {
		t.Errorf("second start = %v, want ErrRolloverUnderWay", err)
	}

	if err := ActivateSPRollover(&c); err != nil {
		t.Fatal(err)
	}
	if c.SPCertPEM != incoming || c.SPNextCertPEM != original {
		t.Fatal("activate did not swap the pairs")
	}
	if got := roles(t, c); len(got) != 2 || got[0] != SPCertActive || got[1] != SPCertOutgoing {
		t.Fatalf("activated: roles %v", got)
	}
	if err := ActivateSPRollover(&c); !errors.Is(err, ErrRolloverUnderWay) {
		t.Errorf("second activate = %v, want ErrRolloverUnderWay (it would bring the old key back)", err)
	}

	if err := FinishSPRollover(&c); err != nil {
		t.Fatal(err)
	}
	if c.SPCertPEM != incoming || c.SPNextCertPEM != "" || c.SPNextKeyPEM != "" {
		t.Fatal("finish did not drop the outgoing pair only")
	}
	if err := FinishSPRollover(&c); !errors.Is(err, ErrNoRollover) {
		t.Errorf("second finish = %v, want ErrNoRollover", err)
	}
	if err := ActivateSPRollover(&c); !errors.Is(err, ErrNoRollover) {
		t.Errorf("activate without a rollover = %v, want ErrNoRollover", err)
	}
}

func TestSPRollover_CancelBeforeActivation(t *testing.T) {
	c := newRolloverConn(t, time.Now().Add(-48*time.Hour))
	original := c.SPCertPEM
	if err := StartSPRollover(&c, newKey(t), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := FinishSPRollover(&c); err != nil {
		t.Fatal(err)
	}
	if c.SPCertPEM != original || c.SPNextCertPEM != "" {
		t.Error("cancelling changed the active pair or kept the incoming one")
	}
	if err := StartSPRollover(&store.Connection{}, newKey(t), time.Now()); !errors.Is(err, ErrNoSPKeyPair) {
		t.Errorf("start without a key pair = %v, want ErrNoSPKeyPair", err)
	}
}

func TestDescribeSPCertificates(t *testing.T) {
	c := newRolloverConn(t, time.Now())
	certs, err := DescribeSPCertificates(c)
	if err != nil || len(certs) != 1 {
		t.Fatalf("certificates %+v, %v", certs, err)
	}
	kp, err := ParseSPKeyPair(c.SPCertPEM, c.SPKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	got := certs[0]
	if len(got.SHA256) != 32*3-1 || got.PEM != c.SPCertPEM || !got.NotBefore.Equal(kp.Cert.NotBefore) ||
		!got.NotAfter.Equal(kp.Cert.NotAfter) || got.Subject == "" {
		t.Errorf("certificate %+v", got)
	}
	if none, err := DescribeSPCertificates(store.Connection{}); err != nil || len(none) != 0 {
		t.Errorf("a connection without a pair: %+v, %v", none, err)
	}
	c.SPNextCertPEM, c.SPNextKeyPEM = c.SPCertPEM, "not a key"
	if _, err := DescribeSPCertificates(c); err == nil {
		t.Error("a broken second pair was described")
	}
}

// During a rollover the metadata publishes both certificates for signing
// and for encryption, the active one first in each use.
func TestSPMetadataFor_PublishesBothCertificates(t *testing.T) {
	c := newRolloverConn(t, time.Now().Add(-time.Hour))
	c.IdPMetadataXML = string(samltest.New(t, samltest.Options{}).MetadataXML(t))
	if err := StartSPRollover(&c, newKey(t), time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg, err := NewConnectionConfig(testBaseURL, "acme", c)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SPSecond == nil {
		t.Fatal("the config has no second pair")
	}
	for _, tc := range []struct {
		name   string
		second *SPKeyPair
		want   []string // use:cert, in order
	}{
		{"one pair", nil, []string{"signing:active", "encryption:active"}},
		{"rollover", cfg.SPSecond, []string{"signing:active", "signing:second", "encryption:active", "encryption:second"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md, err := SPMetadataFor(cfg.URLs, cfg.SP, tc.second, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var ed types.EntityDescriptor
			if err := xml.Unmarshal(md, &ed); err != nil {
				t.Fatal(err)
			}
			name := map[string]string{
				base64.StdEncoding.EncodeToString(cfg.SP.Cert.Raw):       "active",
				base64.StdEncoding.EncodeToString(cfg.SPSecond.Cert.Raw): "second",
			}
			var got []string
			for _, kd := range ed.SPSSODescriptor.KeyDescriptors {
				for _, x := range kd.KeyInfo.X509Data.X509Certificates {
					got = append(got, kd.Use+":"+name[x.Data])
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("key descriptors %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("key descriptors %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// registerEncryptingTo registers the site's SP metadata with its IdP as an
// IdP admin who configured one encryption certificate, cert: every
// assertion is encrypted to it. Signing certificates are kept as published.
func (s *site) registerEncryptingTo(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	res, md := s.get(t, s.newBrowser(t), "/saml/acme/okta/metadata")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %s", res.Status)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(md), &ed); err != nil {
		t.Fatal(err)
	}
	want := base64.StdEncoding.EncodeToString(cert.Raw)
	found := false
	for d := range ed.SPSSODescriptors {
		var kept []saml.KeyDescriptor
		for _, kd := range ed.SPSSODescriptors[d].KeyDescriptors {
			if kd.Use == "encryption" {
				if len(kd.KeyInfo.X509Data.X509Certificates) == 0 || kd.KeyInfo.X509Data.X509Certificates[0].Data != want {
					continue
				}
				found = true
			}
			kept = append(kept, kd)
		}
		ed.SPSSODescriptors[d].KeyDescriptors = kept
	}
	if !found {
		t.Fatal("the SP metadata does not publish the certificate for encryption")
	}
	out, err := xml.Marshal(ed)
	if err != nil {
		t.Fatal(err)
	}
	s.idp.RegisterSP(t, out, true)
}

// rolloverStep applies a rollover step to the site's connection in the
// store, as the admin API does.
func (s *site) rolloverStep(t *testing.T, step func(c *store.Connection) error) store.Connection {
	t.Helper()
	c, err := s.st.UpdateConnection(context.Background(), s.conn.ID, func(c *store.Connection) error { return step(c) },
		store.AuditEvent{Actor: "admin", Action: "test.rollover"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parseCert(t *testing.T, certPEM string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Through a whole rollover, an IdP that encrypts assertions to whichever
// of the published certificates its admin configured goes on signing
// people in: the old one before, during and right after the swap, the new
// one as soon as it is published.
func TestHandler_SPRollover_AssertionsToEitherKeyDecrypt(t *testing.T) {
	s := newSite(t, jitBySSO())
	signIn := func(step string) {
		t.Helper()
		res, body := s.signIn(t, s.newBrowser(t), "", samltest.Login{User: alice()})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %s %s", step, res.Status, body)
		}
	}
	res, _ := s.get(t, s.newBrowser(t), "/saml/acme/okta/metadata") // makes the first pair
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %s", res.Status)
	}
	first, err := s.st.GetConnection(context.Background(), s.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	oldCert := parseCert(t, first.SPCertPEM)
	s.registerEncryptingTo(t, oldCert)
	signIn("before the rollover")

	started := s.rolloverStep(t, func(c *store.Connection) error { return StartSPRollover(c, newKey(t), time.Now()) })
	newCert := parseCert(t, started.SPNextCertPEM)
	signIn("started, IdP still on the old certificate")
	s.registerEncryptingTo(t, newCert)
	signIn("started, IdP on the new certificate")

	s.rolloverStep(t, ActivateSPRollover)
	signIn("activated, IdP on the new certificate")
	s.registerEncryptingTo(t, oldCert)
	signIn("activated, IdP still on the old certificate")

	s.rolloverStep(t, FinishSPRollover)
	res, body := s.signIn(t, s.newBrowser(t), "", samltest.Login{User: alice()})
	wantPage(t, res, body, http.StatusForbidden, ReasonDecryptionFailed)
	s.registerEncryptingTo(t, newCert)
	signIn("finished, IdP on the new certificate")
}

func TestFingerprint(t *testing.T) {
	c := newRolloverConn(t, time.Now())
	kp, err := ParseSPKeyPair(c.SPCertPEM, c.SPKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(kp.Cert.Raw)
	var want []string
	for _, b := range sum {
		want = append(want, fmt.Sprintf("%02X", b))
	}
	if got := Fingerprint(kp.Cert); got != strings.Join(want, ":") {
		t.Errorf("Fingerprint = %q, want %q", got, strings.Join(want, ":"))
	}
}
