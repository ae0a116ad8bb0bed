package jit

import (
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	saml2 "github.com/russellhaering/gosaml2"
)

// This file keeps the shape check as it was before precheckShape replaced
// it: an etree parse of the whole document and a walk of the tree. It is the
// reference that TestShape and FuzzShape hold the scanner to; only the names
// changed (precheckTree became precheckTreeEtree, shape became etreeShape).

// precheckTreeEtree is the part of step 1 that parses the document: one
// Response root, exactly one assertion, its child, no comments, directives,
// stray processing instructions or repeated attributes. It returns the
// NameID the (unencrypted) assertion claims, unverified, or "".
func precheckTreeEtree(raw []byte, countAssertions bool) (claimedNameID string, err error) {
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveDuplicateAttrs = true
	if err := doc.ReadFromBytes(raw); err != nil {
		return "", reject(ReasonMalformed, fmt.Errorf("xml: %w", err))
	}
	root := doc.Root()
	if root == nil || root.Tag != "Response" || root.NamespaceURI() != saml2.SAMLProtocolNamespace {
		return "", reject(ReasonMalformed, errors.New("root element is not a samlp:Response"))
	}
	var s etreeShape
	if err := s.walk(doc.Child, 0); err != nil {
		return "", err
	}
	if !countAssertions {
		return "", nil
	}
	if s.responses != 1 || len(s.assertions) != 1 {
		return "", reject(ReasonAssertionCount, fmt.Errorf("document has %d Response and %d assertion elements, want 1 and 1", s.responses, len(s.assertions)))
	}
	if s.assertions[0].Parent() != root {
		return "", reject(ReasonAssertionCount, errors.New("the assertion is not a child of the Response"))
	}
	if subject := s.assertions[0].SelectElement("Subject"); subject != nil {
		if nameID := subject.SelectElement("NameID"); nameID != nil {
			claimedNameID = strings.TrimSpace(nameID.Text())
		}
	}
	return claimedNameID, nil
}

// etreeShape counts what precheck looks for. Elements are matched on their
// local name whatever their namespace, so that no prefix trick hides an
// assertion.
type etreeShape struct {
	responses  int
	assertions []*etree.Element
}

func (s *etreeShape) walk(tokens []etree.Token, depth int) error {
	for _, tok := range tokens {
		switch t := tok.(type) {
		case *etree.Comment:
			return reject(ReasonXMLComment, errors.New("document has a comment"))
		case *etree.Directive:
			return reject(ReasonDoctype, errors.New("document has a directive"))
		case *etree.ProcInst:
			if depth > 0 || t.Target != "xml" {
				return reject(ReasonMalformed, fmt.Errorf("unexpected processing instruction %q", t.Target))
			}
		case *etree.Element:
			seen := make(map[string]bool, len(t.Attr))
			for _, a := range t.Attr {
				if seen[a.FullKey()] {
					return reject(ReasonMalformed, fmt.Errorf("element %s has attribute %s twice", t.Tag, a.FullKey()))
				}
				seen[a.FullKey()] = true
			}
			switch t.Tag {
			case "Response":
				s.responses++
			case "Assertion", "EncryptedAssertion":
				s.assertions = append(s.assertions, t)
			}
			if err := s.walk(t.Child, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
