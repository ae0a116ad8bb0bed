package jit

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/onramp-dev/onramp/jit/samltest"
)

func certB64(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

// idpEntity is an IdP EntityDescriptor in the shape vendors publish, with
// KeyDescriptors given as use → certificate.
func idpEntity(entityID string, keys [][2]string, sso string) string {
	var kds strings.Builder
	for _, k := range keys {
		use := ""
		if k[0] != "" {
			use = fmt.Sprintf(` use="%s"`, k[0])
		}
		// Line-wrapped base64, as Okta and ADFS publish it.
		var wrapped strings.Builder
		for i := 0; i < len(k[1]); i += 64 {
			wrapped.WriteString("\n          " + k[1][i:min(i+64, len(k[1]))])
		}
		fmt.Fprintf(&kds, `
    <md:KeyDescriptor%s>
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>%s
        </ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>`, use, wrapped.String())
	}
	return fmt.Sprintf(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="%s">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">%s
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%s/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`, entityID, kds.String(), sso, sso)
}

func TestParseIdPMetadata(t *testing.T) {
	_, c1 := samltest.NewKeyPair(t, "one")
	_, c2 := samltest.NewKeyPair(t, "two")
	_, enc := samltest.NewKeyPair(t, "encryption")
	const id, sso = "http://www.okta.com/exk1", "https://acme.okta.example/app/sso/saml"
	one := idpEntity(id, [][2]string{{"signing", certB64(c1)}}, sso)

	tests := []struct {
		name      string
		xml       string
		wantCerts []*x509.Certificate
		wantErr   string
	}{
		{name: "one signing certificate", xml: one, wantCerts: []*x509.Certificate{c1}},
		{
			name:      "rollover: two signing certificates, encryption key ignored",
			xml:       idpEntity(id, [][2]string{{"signing", certB64(c1)}, {"encryption", certB64(enc)}, {"signing", certB64(c2)}}, sso),
			wantCerts: []*x509.Certificate{c1, c2},
		},
		{
			name:      "no use attribute means both uses",
			xml:       idpEntity(id, [][2]string{{"", certB64(c1)}, {"signing", certB64(c1)}}, sso),
			wantCerts: []*x509.Certificate{c1},
		},
		{
			name:      "EntitiesDescriptor with one IdP",
			xml:       `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><EntitiesDescriptor>` + one + `</EntitiesDescriptor></EntitiesDescriptor>`,
			wantCerts: []*x509.Certificate{c1},
		},
		{name: "two IdPs", xml: `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + one + one + `</EntitiesDescriptor>`, wantErr: "found 2 identity providers"},
		{name: "no signing certificate", xml: idpEntity(id, [][2]string{{"encryption", certB64(enc)}}, sso), wantErr: "no signing certificate"},
		{name: "bad certificate", xml: idpEntity(id, [][2]string{{"signing", "bm90IGEgY2VydA=="}}, sso), wantErr: "signing certificate"},
		{name: "no entity id", xml: idpEntity("", [][2]string{{"signing", certB64(c1)}}, sso), wantErr: "no entityID"},
		{name: "DTD", xml: `<!DOCTYPE x [<!ENTITY e "x">]>` + one, wantErr: "DTD"},
		{name: "SP metadata", xml: `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><SPSSODescriptor/></EntityDescriptor>`, wantErr: "found 0 identity providers"},
		{name: "not metadata", xml: `<html/>`, wantErr: "want an EntityDescriptor"},
		{name: "not xml", xml: `{"json": true}`, wantErr: "no root element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := ParseIdPMetadata([]byte(tt.xml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if md.EntityID != id || md.SSOURL != sso {
				t.Errorf("EntityID %q SSOURL %q, want %q %q (the HTTP-Redirect endpoint)", md.EntityID, md.SSOURL, id, sso)
			}
			if len(md.SigningCerts) != len(tt.wantCerts) {
				t.Fatalf("%d signing certificates, want %d", len(md.SigningCerts), len(tt.wantCerts))
			}
			for i, c := range tt.wantCerts {
				if !md.SigningCerts[i].Equal(c) {
					t.Errorf("certificate %d is not the expected one", i)
				}
			}
		})
	}
}

func TestParseIdPMetadata_Crewjam(t *testing.T) {
	idp := samltest.New(t, samltest.Options{})

	md, err := ParseIdPMetadata(idp.MetadataXML(t))
	if err != nil {
		t.Fatal(err)
	}
	if md.EntityID != idp.EntityID() || md.SSOURL != idp.IdP.SSOURL.String() || len(md.SigningCerts) != 1 || !md.SigningCerts[0].Equal(idp.Cert) {
		t.Fatalf("got %+v", md)
	}
}

func TestSPMetadata(t *testing.T) {
	_, id, _ := openTestStore(t)
	v, err := NewVerifier(VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	idp := samltest.New(t, samltest.Options{})
	conn := newConn(t, id, "okta", idp.MetadataXML(t), false)

	out, err := v.Metadata(conn)
	if err != nil {
		t.Fatal(err)
	}

	// Read it as an IdP does.
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(out, &ed); err != nil {
		t.Fatal(err)
	}
	const entityID = testBaseURL + "/saml/acme/okta/metadata"
	if ed.EntityID != entityID || conn.URLs.EntityID != entityID {
		t.Errorf("entity ID %q (conn %q), want %q", ed.EntityID, conn.URLs.EntityID, entityID)
	}
	if time.Until(ed.ValidUntil) <= 0 {
		t.Errorf("validUntil %v is not in the future", ed.ValidUntil)
	}
	if len(ed.SPSSODescriptors) != 1 {
		t.Fatalf("%d SPSSODescriptors", len(ed.SPSSODescriptors))
	}
	sp := ed.SPSSODescriptors[0]
	if len(sp.AssertionConsumerServices) != 1 {
		t.Fatalf("%d ACS", len(sp.AssertionConsumerServices))
	}
	acs := sp.AssertionConsumerServices[0]
	if acs.Location != testBaseURL+"/saml/acme/okta/acs" || acs.Binding != saml.HTTPPostBinding {
		t.Errorf("ACS %s %s", acs.Binding, acs.Location)
	}
	if sp.AuthnRequestsSigned == nil || !*sp.AuthnRequestsSigned || sp.WantAssertionsSigned == nil || !*sp.WantAssertionsSigned {
		t.Errorf("AuthnRequestsSigned %v WantAssertionsSigned %v, want both true", sp.AuthnRequestsSigned, sp.WantAssertionsSigned)
	}
	uses := map[string]bool{}
	for _, kd := range sp.KeyDescriptors {
		if len(kd.KeyInfo.X509Data.X509Certificates) != 1 {
			t.Fatalf("KeyDescriptor %s has %d certificates", kd.Use, len(kd.KeyInfo.X509Data.X509Certificates))
		}
		c, err := parseBase64Cert(kd.KeyInfo.X509Data.X509Certificates[0].Data)
		if err != nil || !c.Equal(conn.SP.Cert) {
			t.Errorf("KeyDescriptor %s does not hold the connection's SP certificate (%v)", kd.Use, err)
		}
		uses[kd.Use] = true
	}
	if !uses["signing"] || !uses["encryption"] {
		t.Errorf("KeyDescriptor uses %v, want signing and encryption", uses)
	}
}

func TestNewSPURLs(t *testing.T) {
	tests := []struct {
		base, org, conn string
		want            SPURLs
		wantErr         bool
	}{
		{base: "http://localhost:8080", org: "acme", conn: "okta", want: SPURLs{
			EntityID: "http://localhost:8080/saml/acme/okta/metadata",
			ACS:      "http://localhost:8080/saml/acme/okta/acs",
			Login:    "http://localhost:8080/saml/acme/okta/login",
		}},
		{base: "https://id.example.com/onramp/", org: "acme", conn: "entra", want: SPURLs{
			EntityID: "https://id.example.com/onramp/saml/acme/entra/metadata",
			ACS:      "https://id.example.com/onramp/saml/acme/entra/acs",
			Login:    "https://id.example.com/onramp/saml/acme/entra/login",
		}},
		{base: "https://x.example", org: "a b", conn: "c/d", want: SPURLs{
			EntityID: "https://x.example/saml/a%20b/c%2Fd/metadata",
			ACS:      "https://x.example/saml/a%20b/c%2Fd/acs",
			Login:    "https://x.example/saml/a%20b/c%2Fd/login",
		}},
		{base: "ftp://x.example", org: "a", conn: "b", wantErr: true},
		{base: "localhost:8080", org: "a", conn: "b", wantErr: true},
		{base: "https://x.example?q=1", org: "a", conn: "b", wantErr: true},
		{base: "https://x.example", org: "", conn: "b", wantErr: true},
	}
	for _, tt := range tests {
		got, err := NewSPURLs(tt.base, tt.org, tt.conn)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("NewSPURLs(%q, %q, %q) = %+v, %v; want %+v, error %v", tt.base, tt.org, tt.conn, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSPKeyPair(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	certPEM, keyPEM, err := NewSPKeyPair(now)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ParseSPKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if kp.Key.N.BitLen() != 2048 {
		t.Errorf("key is %d bits", kp.Key.N.BitLen())
	}
	if !kp.Cert.NotBefore.Before(now) || !kp.Cert.NotAfter.After(now.Add(5*365*24*time.Hour)) {
		t.Errorf("certificate valid %v to %v", kp.Cert.NotBefore, kp.Cert.NotAfter)
	}
	if err := kp.Cert.CheckSignature(kp.Cert.SignatureAlgorithm, kp.Cert.RawTBSCertificate, kp.Cert.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}

	// A rotation makes a different pair, and halves of two pairs do not mix.
	cert2, key2, err := NewSPKeyPair(now)
	if err != nil {
		t.Fatal(err)
	}
	if cert2 == certPEM || key2 == keyPEM {
		t.Fatal("two key pairs are equal")
	}
	if _, err := ParseSPKeyPair(certPEM, key2); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched pair: err = %v", err)
	}
	if _, err := ParseSPKeyPair("", keyPEM); err == nil {
		t.Error("empty certificate accepted")
	}
	if _, err := ParseSPKeyPair(certPEM, certPEM); err == nil {
		t.Error("a certificate accepted as key")
	}
}
