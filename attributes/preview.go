package attributes

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxPreviewInput bounds what Preview reads (1 MiB): real SAML responses and
// SCIM bodies are a few KiB.
const MaxPreviewInput = 1 << 20

// Preview input errors, wrapped with detail. All are the admin's input at fault
// (HTTP 400 at the admin API).
var (
	// ErrPreviewInput: the input is none of the accepted forms.
	ErrPreviewInput = errors.New("attributes: preview input is not a SAML response, assertion or attribute statement (base64 or XML), nor a SCIM user (JSON)")
	// ErrPreviewTooLarge: the input is longer than MaxPreviewInput.
	ErrPreviewTooLarge = errors.New("attributes: preview input too large")
	// ErrDoctype: the XML has a DOCTYPE or another directive; SAML never does,
	// and entity declarations are an attack vector.
	ErrDoctype = errors.New("attributes: XML with a DOCTYPE or directive is refused")
	// ErrEncryptedAssertion: the assertion is encrypted; preview cannot decrypt it.
	ErrEncryptedAssertion = errors.New("attributes: the assertion is encrypted; paste the decrypted assertion or its attribute statement")
)

// PreviewResult is what a mapping makes of a pasted input.
type PreviewResult struct {
	// Source is SideSAML or SideSCIM.
	Source  string  `json:"source"`
	Profile Profile `json:"profile"`
	Trace   Trace   `json:"trace"`
	// Missing lists the fields that got no value (required or not).
	Missing []string `json:"missing,omitempty"`
	// NameID is the SAML Subject NameID (empty for SCIM and for a bare attribute
	// statement). JIT keys identities by (connection, NameID).
	NameID string `json:"nameID,omitempty"`
	// EmailDomain is Profile.EmailDomain(): what the JIT email-domain rule
	// compares with the organization's accessControl.emailDomains.
	EmailDomain string `json:"emailDomain,omitempty"`
	// Blockers lists why a sign-in with this input would be refused whatever the
	// organization's policy: missing required fields, and for SAML an empty
	// NameID. Empty means the mapping side allows JIT; the organization's policy
	// (package jit) decides the rest.
	Blockers []string `json:"blockers,omitempty"`
}

// Preview applies m to a pasted input and explains the result. The input may be:
//
//   - a SAML Response as an IdP posts it to the ACS: base64 (line breaks allowed),
//     URL-encoded base64, or a "SAMLResponse=…" form body;
//   - the XML of a samlp:Response, a saml:Assertion or a bare
//     saml:AttributeStatement (namespace declarations may be missing from a
//     fragment; the element names decide);
//   - a SCIM User resource as JSON.
//
// Preview does NOT verify signatures, audiences, times or anything else about a
// SAML response: it previews the mapping only and must never be used to sign
// anyone in. XML with a DOCTYPE is refused; an encrypted assertion cannot be
// previewed. A missing required field is not an error here: it is reported in
// Missing and Blockers. Errors are returned for input Preview cannot read
// (ErrPreviewInput, ErrPreviewTooLarge, ErrDoctype, ErrEncryptedAssertion,
// wrapped) and for an invalid mapping (*ValidationError).
func Preview(m Mapping, input []byte) (PreviewResult, error) {
	c, err := m.Compile()
	if err != nil {
		return PreviewResult{}, err
	}
	if len(input) > MaxPreviewInput {
		return PreviewResult{}, fmt.Errorf("%w: %d bytes, at most %d", ErrPreviewTooLarge, len(input), MaxPreviewInput)
	}
	kind, data, err := detect(input)
	if err != nil {
		return PreviewResult{}, err
	}
	var (
		res   PreviewResult
		trace Trace
	)
	switch kind {
	case SideSCIM:
		resource, err := decodeSCIMUser(data)
		if err != nil {
			return PreviewResult{}, err
		}
		res.Source = SideSCIM
		res.Profile, trace, _ = c.FromSCIM(resource)
	default:
		st, err := parseSAML(data)
		if err != nil {
			return PreviewResult{}, err
		}
		res.Source, res.NameID = SideSAML, st.nameID
		res.Profile, trace, _ = c.FromSAML(st.nameID, st.attrs)
		if st.nameID == "" {
			if st.bare {
				res.Blockers = append(res.Blockers, "no NameID: a bare attribute statement has no subject (paste the whole assertion to check it)")
			} else {
				res.Blockers = append(res.Blockers, "the assertion has no NameID; sign-ins without one are refused")
			}
		}
	}
	res.Trace = trace
	res.Missing = trace.Missing()
	res.EmailDomain = res.Profile.EmailDomain()
	for _, f := range trace {
		if f.Status == StatusMissing && f.Required {
			res.Blockers = append(res.Blockers, fmt.Sprintf("required field %s is missing (tried %s)", f.Field, strings.Join(f.Tried, ", ")))
		}
	}
	return res, nil
}

// detect decides what the input is and returns it decoded (XML or JSON bytes).
func detect(input []byte) (string, []byte, error) {
	s := bytes.TrimSpace(bytes.TrimPrefix(input, []byte("\xef\xbb\xbf")))
	if len(s) == 0 {
		return "", nil, fmt.Errorf("%w: it is empty", ErrPreviewInput)
	}
	switch s[0] {
	case '{':
		return SideSCIM, s, nil
	case '<':
		return SideSAML, s, nil
	case '[':
		return "", nil, fmt.Errorf("%w: a JSON array; paste one SCIM user object", ErrPreviewInput)
	}
	text := string(s)
	if v, err := url.ParseQuery(text); err == nil && v.Has("SAMLResponse") {
		text = v.Get("SAMLResponse")
	} else if strings.Contains(text, "%") {
		if u, err := url.QueryUnescape(text); err == nil {
			text = u
		}
	}
	text = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, text)
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(text, "="))
	}
	if err != nil {
		return "", nil, fmt.Errorf("%w: it does not start with '<' or '{' and is not base64", ErrPreviewInput)
	}
	raw = bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")))
	if len(raw) == 0 || raw[0] != '<' {
		return "", nil, fmt.Errorf("%w: it is base64 but does not decode to XML (a deflated HTTP-Redirect message is not supported; SAML responses are posted)", ErrPreviewInput)
	}
	return SideSAML, raw, nil
}

// decodeSCIMUser decodes a JSON object that must be a SCIM User.
func decodeSCIMUser(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var resource map[string]any
	if err := dec.Decode(&resource); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON: %v", ErrPreviewInput, err) // %v: the JSON error's text is enough
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrPreviewInput)
	}
	schemas, _ := lookupFold(resource, "schemas")
	list, _ := schemas.([]any)
	has := func(urn string) bool {
		return slices.ContainsFunc(list, func(v any) bool { s, _ := v.(string); return strings.EqualFold(s, urn) })
	}
	switch {
	case has("urn:ietf:params:scim:api:messages:2.0:PatchOp"):
		return nil, fmt.Errorf("%w: a SCIM PATCH request, not a user; paste the user as GET /Users/{id} returns it", ErrPreviewInput)
	case has("urn:ietf:params:scim:api:messages:2.0:ListResponse"):
		return nil, fmt.Errorf("%w: a SCIM list response; paste one user", ErrPreviewInput)
	case has("urn:ietf:params:scim:schemas:core:2.0:Group"):
		return nil, fmt.Errorf("%w: a SCIM group, not a user", ErrPreviewInput)
	case has(coreUserURN):
		return resource, nil
	}
	if _, ok := lookupFold(resource, "userName"); ok {
		return resource, nil
	}
	return nil, fmt.Errorf("%w: JSON, but not a SCIM user (no User schema, no userName)", ErrPreviewInput)
}

// SAML namespaces.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"
)

// samlStatement is what Preview reads from SAML XML.
type samlStatement struct {
	nameID string
	attrs  map[string][]string
	bare   bool // the input was a bare AttributeStatement
}

// isSAML reports whether an element name is the SAML element local in namespace
// ns. A fragment pasted without its namespace declarations leaves the prefix
// unresolved ("saml"), which is accepted; a different namespace URI is not.
func isSAML(n xml.Name, ns, local string) bool {
	return n.Local == local && (n.Space == ns || n.Space == "" || !strings.Contains(n.Space, ":"))
}

// parseSAML reads the NameID and attributes of the one assertion in a Response,
// an Assertion or a bare AttributeStatement, with encoding/xml in strict mode.
// Directives (DOCTYPE, ENTITY) are refused. Nothing is verified.
func parseSAML(data []byte) (samlStatement, error) {
	if !utf8.Valid(data) {
		return samlStatement{}, fmt.Errorf("%w: the XML is not UTF-8", ErrPreviewInput)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	st := samlStatement{attrs: map[string][]string{}}
	var (
		stack      []xml.Name
		assertions int
		root       xml.Name
		attrName   string // Name of the enclosing saml:Attribute
		inValue    bool   // inside an AttributeValue that counts
		value      strings.Builder
		inNameID   bool
		nameID     strings.Builder
		inSubject  bool
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return samlStatement{}, fmt.Errorf("%w: malformed XML: %v", ErrPreviewInput, err) // %v: the parser's text, no chain needed
		}
		switch t := tok.(type) {
		case xml.Directive:
			return samlStatement{}, ErrDoctype
		case xml.StartElement:
			if len(stack) == 0 {
				root = t.Name
				switch {
				case isSAML(t.Name, nsProtocol, "Response"):
				case isSAML(t.Name, nsAssertion, "Assertion"):
					assertions++
				case isSAML(t.Name, nsAssertion, "AttributeStatement"):
					st.bare = true
				case isSAML(t.Name, nsAssertion, "EncryptedAssertion"):
					return samlStatement{}, ErrEncryptedAssertion
				default:
					return samlStatement{}, fmt.Errorf("%w: XML whose root is <%s>, not a SAML Response, Assertion or AttributeStatement", ErrPreviewInput, t.Name.Local)
				}
			} else {
				switch {
				case isSAML(t.Name, nsAssertion, "EncryptedAssertion"):
					return samlStatement{}, ErrEncryptedAssertion
				case isSAML(t.Name, nsAssertion, "Assertion"):
					assertions++
					if assertions > 1 {
						return samlStatement{}, fmt.Errorf("%w: more than one assertion; onramp accepts responses with exactly one", ErrPreviewInput)
					}
				case isSAML(t.Name, nsAssertion, "Subject") && parentIs(stack, "Assertion"):
					inSubject = true
				case isSAML(t.Name, nsAssertion, "NameID") && inSubject && parentIs(stack, "Subject"):
					inNameID = true
					nameID.Reset()
				case isSAML(t.Name, nsAssertion, "EncryptedID") && inSubject:
					return samlStatement{}, fmt.Errorf("%w: the NameID is encrypted; paste the decrypted assertion", ErrEncryptedAssertion)
				case isSAML(t.Name, nsAssertion, "Attribute") && parentIs(stack, "AttributeStatement"):
					attrName = attrValue(t, "Name")
				case isSAML(t.Name, nsAssertion, "EncryptedAttribute"):
					return samlStatement{}, fmt.Errorf("%w: an attribute is encrypted", ErrEncryptedAssertion)
				case isSAML(t.Name, nsAssertion, "AttributeValue") && parentIs(stack, "Attribute") && attrName != "":
					if nilAttr(t) {
						break
					}
					inValue = true
					value.Reset()
				}
			}
			stack = append(stack, t.Name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			switch {
			case inValue && t.Name.Local == "AttributeValue" && parentIs(stack, "Attribute"):
				st.attrs[attrName] = append(st.attrs[attrName], value.String())
				inValue = false
			case t.Name.Local == "Attribute" && parentIs(stack, "AttributeStatement"):
				attrName = ""
			case inNameID && t.Name.Local == "NameID":
				st.nameID = strings.TrimSpace(nameID.String())
				inNameID = false
			case inSubject && t.Name.Local == "Subject":
				inSubject = false
			}
		case xml.CharData:
			if inValue {
				value.Write(t)
			}
			if inNameID {
				nameID.Write(t)
			}
		}
	}
	if root.Local == "" {
		return samlStatement{}, fmt.Errorf("%w: no XML element found", ErrPreviewInput)
	}
	if root.Local == "Response" && assertions == 0 {
		return samlStatement{}, fmt.Errorf("%w: the response has no assertion (an error response from the IdP?)", ErrPreviewInput)
	}
	return st, nil
}

// parentIs reports whether the innermost open element has the given local name.
func parentIs(stack []xml.Name, local string) bool {
	return len(stack) > 0 && stack[len(stack)-1].Local == local
}

func attrValue(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// nilAttr reports xsi:nil="true" (with the prefix resolved or not).
func nilAttr(t xml.StartElement) bool {
	for _, a := range t.Attr {
		if a.Name.Local == "nil" && (a.Name.Space == nsXSI || a.Name.Space == "xsi") {
			return strings.TrimSpace(a.Value) == "true" || strings.TrimSpace(a.Value) == "1"
		}
	}
	return false
}
