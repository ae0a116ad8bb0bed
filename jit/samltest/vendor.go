package samltest

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// excC14N is the exclusive canonicalization (without comments) that Okta and
// Microsoft Entra ID both name in their signatures.
const excC14N = string(dsig.CanonicalXML10ExclusiveAlgorithmId)

// VendorIdP stands in for a real IdP whose responses were recorded from its
// documentation (jit/testdata/saml/<vendor>/): it has a key pair and an entity
// ID, publishes metadata for them, and re-signs the recorded documents. It
// runs no server: the recording is the IdP's output.
type VendorIdP struct {
	EntityID string
	SSOURL   string
	Key      *rsa.PrivateKey
	Cert     *x509.Certificate
}

// NewVendorIdP makes a VendorIdP with a new key pair.
func NewVendorIdP(t testing.TB, entityID, ssoURL string) *VendorIdP {
	t.Helper()
	key, cert := NewKeyPair(t, "samltest vendor IdP "+entityID)
	return &VendorIdP{EntityID: entityID, SSOURL: ssoURL, Key: key, Cert: cert}
}

// MetadataXML is the IdP's metadata (entity ID, HTTP-Redirect and HTTP-POST
// SingleSignOnService, the certificate for signing), as crewjam writes it.
func (v *VendorIdP) MetadataXML(t testing.TB) []byte {
	t.Helper()
	idp := saml.IdentityProvider{
		Key:         v.Key,
		Certificate: v.Cert,
		MetadataURL: mustURL(t, v.EntityID),
		SSOURL:      mustURL(t, v.SSOURL),
	}
	b, err := xml.MarshalIndent(idp.Metadata(), "", "  ")
	if err != nil {
		t.Fatalf("samltest: vendor idp metadata: %v", err)
	}
	return b
}

// SignEnveloped signs el (a Response or an Assertion, found by its ID
// attribute) with an enveloped ds:Signature and inserts the signature as el's
// child token number index, where the vendor put its own (after the Issuer).
// It signs as Okta and Entra document it: exclusive canonicalization,
// RSA-SHA256, SHA-256 digest, the certificate in KeyInfo. prefixList, if
// not empty, is written as the ec:InclusiveNamespaces PrefixList of the
// reference's canonicalization transform (Okta names "xs", the prefix its
// xsi:type values use) and included in the digest.
//
// goxmldsig's SigningContext cannot write an InclusiveNamespaces element, so
// the SignedInfo is built here; its canonicalization and the RSA signature
// are goxmldsig's. Whatever el carries inside it must be final: an assertion
// is signed before the Response that contains it.
func (v *VendorIdP) SignEnveloped(t testing.TB, el *etree.Element, index int, prefixList string) {
	t.Helper()
	id := el.SelectAttrValue("ID", "")
	if id == "" {
		t.Fatalf("samltest: %s has no ID to sign", el.Tag)
	}
	// Digest what a verifier digests: el detached with the namespace
	// declarations in scope, without the (not yet inserted) signature.
	parent, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	detached, err := etreeutils.NSDetatch(parent, el)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	canonical, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixList).Canonicalize(detached)
	if err != nil {
		t.Fatalf("samltest: canonicalize %s: %v", el.Tag, err)
	}
	digest := sha256.Sum256(canonical)

	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", dsig.Namespace)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", excC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", dsig.RSASHA256SignatureMethod)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "#"+id)
	transforms := ref.CreateElement("ds:Transforms")
	transforms.CreateElement("ds:Transform").CreateAttr("Algorithm", string(dsig.EnvelopedSignatureAltorithmId))
	c14n := transforms.CreateElement("ds:Transform")
	c14n.CreateAttr("Algorithm", excC14N)
	if prefixList != "" {
		inc := c14n.CreateElement("ec:InclusiveNamespaces")
		inc.CreateAttr("xmlns:ec", excC14N)
		inc.CreateAttr("PrefixList", prefixList)
	}
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmlenc#sha256")
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest[:]))

	// The signed bytes are the exclusive canonical form of SignedInfo, in
	// which only the ds prefix it uses is declared (ec is declared where it
	// is used), whatever the document around it declares.
	signedInfo := si.Copy()
	signedInfo.CreateAttr("xmlns:ds", dsig.Namespace)
	canonicalSI, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(signedInfo)
	if err != nil {
		t.Fatalf("samltest: canonicalize SignedInfo: %v", err)
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{v.Cert.Raw},
		PrivateKey:  v.Key,
		Leaf:        v.Cert,
	}))
	value, err := ctx.SignString(string(canonicalSI))
	if err != nil {
		t.Fatalf("samltest: sign: %v", err)
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(v.Cert.Raw))

	el.InsertChildAt(index, sig)
}
