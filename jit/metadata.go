package jit

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SAML metadata namespace and bindings.
const (
	metadataNS          = "urn:oasis:names:tc:SAML:2.0:metadata"
	bindingHTTPRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	bindingHTTPPost     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// IdPMetadata is what onramp keeps from an identity provider's metadata.
type IdPMetadata struct {
	// EntityID is the IdP's entity ID; responses and assertions must name it
	// as their Issuer.
	EntityID string
	// SSOURL is the IdP's SingleSignOnService for the HTTP-Redirect binding,
	// where SP-initiated logins send the browser. Empty if the IdP publishes
	// none (then only IdP-initiated sign-in can work).
	SSOURL string
	// SigningCerts are the certificates whose keys may sign responses and
	// assertions: every KeyDescriptor with use="signing" or no use. IdPs
	// publish two during a key rollover; signatures by either verify.
	SigningCerts []*x509.Certificate
}

// Metadata structures, only the parts onramp reads. encoding/xml matches
// the X509Certificate path in any namespace, which is what IdPs emit.
type mdEntities struct {
	Entities []mdEntity   `xml:"urn:oasis:names:tc:SAML:2.0:metadata EntityDescriptor"`
	Nested   []mdEntities `xml:"urn:oasis:names:tc:SAML:2.0:metadata EntitiesDescriptor"`
}

type mdEntity struct {
	EntityID string     `xml:"entityID,attr"`
	IdPSSO   []mdIdPSSO `xml:"urn:oasis:names:tc:SAML:2.0:metadata IDPSSODescriptor"`
}

type mdIdPSSO struct {
	KeyDescriptors []mdKeyDescriptor `xml:"urn:oasis:names:tc:SAML:2.0:metadata KeyDescriptor"`
	SSO            []mdEndpoint      `xml:"urn:oasis:names:tc:SAML:2.0:metadata SingleSignOnService"`
}

type mdKeyDescriptor struct {
	Use   string   `xml:"use,attr"`
	Certs []string `xml:"KeyInfo>X509Data>X509Certificate"`
}

type mdEndpoint struct {
	Binding  string `xml:"Binding,attr"`
	Location string `xml:"Location,attr"`
}

// maxMetadataSize bounds imported metadata. Real IdP metadata is a few KiB.
const maxMetadataSize = 1 << 20

// ParseIdPMetadata imports an identity provider's SAML metadata: an
// EntityDescriptor, or an EntitiesDescriptor holding exactly one identity
// provider. It fails if the metadata has a DTD, names no entity ID or has no
// signing certificate.
func ParseIdPMetadata(data []byte) (IdPMetadata, error) {
	if len(data) > maxMetadataSize {
		return IdPMetadata{}, fmt.Errorf("jit: idp metadata: larger than %d bytes", maxMetadataSize)
	}
	if hasMarkupDeclaration(data) {
		return IdPMetadata{}, errors.New("jit: idp metadata: has a DTD")
	}
	root, err := rootName(data)
	if err != nil {
		return IdPMetadata{}, fmt.Errorf("jit: idp metadata: %w", err)
	}
	var entities []mdEntity
	switch root {
	case xml.Name{Space: metadataNS, Local: "EntityDescriptor"}:
		var e mdEntity
		if err := xml.Unmarshal(data, &e); err != nil {
			return IdPMetadata{}, fmt.Errorf("jit: idp metadata: %w", err)
		}
		entities = []mdEntity{e}
	case xml.Name{Space: metadataNS, Local: "EntitiesDescriptor"}:
		var es mdEntities
		if err := xml.Unmarshal(data, &es); err != nil {
			return IdPMetadata{}, fmt.Errorf("jit: idp metadata: %w", err)
		}
		entities = flattenEntities(es)
	default:
		return IdPMetadata{}, fmt.Errorf("jit: idp metadata: root element is {%s}%s, want an EntityDescriptor", root.Space, root.Local)
	}

	var idps []mdEntity
	for _, e := range entities {
		if len(e.IdPSSO) > 0 {
			idps = append(idps, e)
		}
	}
	if len(idps) != 1 {
		return IdPMetadata{}, fmt.Errorf("jit: idp metadata: found %d identity providers, want exactly 1", len(idps))
	}
	e := idps[0]
	md := IdPMetadata{EntityID: strings.TrimSpace(e.EntityID)}
	if md.EntityID == "" {
		return IdPMetadata{}, errors.New("jit: idp metadata: no entityID")
	}
	for _, sso := range e.IdPSSO {
		for _, kd := range sso.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, c := range kd.Certs {
				cert, err := parseBase64Cert(c)
				if err != nil {
					return IdPMetadata{}, fmt.Errorf("jit: idp metadata: signing certificate: %w", err)
				}
				md.SigningCerts = appendCertOnce(md.SigningCerts, cert)
			}
		}
		for _, ep := range sso.SSO {
			if ep.Binding == bindingHTTPRedirect && md.SSOURL == "" {
				md.SSOURL = strings.TrimSpace(ep.Location)
			}
		}
	}
	if len(md.SigningCerts) == 0 {
		return IdPMetadata{}, errors.New("jit: idp metadata: no signing certificate")
	}
	return md, nil
}

func flattenEntities(es mdEntities) []mdEntity {
	out := append([]mdEntity(nil), es.Entities...)
	for _, n := range es.Nested {
		out = append(out, flattenEntities(n)...)
	}
	return out
}

// rootName returns the name of the document's root element.
func rootName(data []byte) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return xml.Name{}, errors.New("no root element")
		}
		if err != nil {
			return xml.Name{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name, nil
		}
	}
}

func parseBase64Cert(s string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func appendCertOnce(certs []*x509.Certificate, c *x509.Certificate) []*x509.Certificate {
	for _, have := range certs {
		if have.Equal(c) {
			return certs
		}
	}
	return append(certs, c)
}

// hasMarkupDeclaration reports whether data holds a markup declaration
// (<!DOCTYPE, <!ENTITY, …): anything that starts with "<!" and is neither a
// comment nor a CDATA section. SAML messages must not have a DTD
// (saml-core §1.3), and refusing it outright closes entity expansion attacks
// whatever the parser does.
func hasMarkupDeclaration(data []byte) bool {
	for rest := data; ; {
		i := bytes.Index(rest, []byte("<!"))
		if i < 0 {
			return false
		}
		rest = rest[i:]
		if !bytes.HasPrefix(rest, []byte("<!--")) && !bytes.HasPrefix(rest, []byte("<![CDATA[")) {
			return true
		}
		rest = rest[2:]
	}
}
