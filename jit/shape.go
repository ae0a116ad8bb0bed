package jit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	saml2 "github.com/russellhaering/gosaml2"
)

// maxShapeDepth is how deeply elements may nest: etree's default read
// limit, which the shape check used to parse with (deeper is malformed).
const maxShapeDepth = 1024

// precheckShape is the part of step 1 of Verify that reads the document's
// structure: the root must be a samlp:Response; there must be no comment
// (xml_comment), no directive (doctype), no processing instruction other
// than an xml declaration outside the root, no element with an attribute
// twice (malformed); elements named Response, Assertion or
// EncryptedAssertion are counted whatever their prefix or namespace, so that
// no prefix trick hides one: exactly one Response and one assertion, a child
// of the root (assertion_count, unless countAssertions is false). It returns
// the NameID the assertion's Subject claims (its text before any child
// element, trimmed), unverified, or "" (an encrypted assertion claims
// nothing readable).
//
// # Why a scanner
//
// It reads raw in one pass, without building a tree: the check used to parse
// the document with etree, which cost as much as a second copy of gosaml2's
// own parse (gosaml2 parses the same bytes again right after), about 130 µs
// and 600 allocations for a 7 KB response; the scanner takes a tenth of that
// time. It allocates its state (one object) and the NameID it returns, and
// more only for unusual documents (nesting deeper than 64 elements, more
// than 16 attributes on one element). BenchmarkShape compares the two.
//
// # Why it is safe
//
// The scanner does not make any document trusted: a response is trusted only
// if gosaml2, which runs next, also accepts the very same bytes (it parses
// them with etree and runs mattermost's XML round-trip check on them before
// it trusts anything; that check is not repeated here). The scanner only has
// to refuse what the etree-based check refused, with the same reason (the
// reasons are stable codes for the page and the audit log), and it does: it
// tokenizes as
// encoding/xml's strict decoder does (which etree uses) — names, attributes
// with either quote, a '>' or '/' inside a quoted value being data, entity
// and character references and the characters XML allows, CDATA sections,
// comments, directives and processing instructions delimited exactly as the
// decoder delimits them, end tags matching their start tags, etree's nesting
// limit — and it reports the same reason for every document: a document that
// is not well-formed is malformed whatever else it holds, a wrong root is
// malformed, and otherwise the first offending comment, directive,
// processing instruction or repeated attribute in document order decides.
// FuzzShape checks this against the etree-based check, kept in the tests as
// the reference, from the FuzzVerify seeds and the table of TestShape.
//
// It is stricter than encoding/xml in one respect, as XML 1.0 is: nothing
// but white space, comments, processing instructions and directives may
// stand outside the root element (a byte order mark only at the start). Text,
// CDATA or a second element there is malformed; etree ignored text and
// counted a second element's assertions. Element, attribute and
// processing-instruction names outside ASCII, which no SAML vocabulary uses,
// are checked by encoding/xml itself, once for the whole document, so that
// the scanner needs no copy of XML's Unicode name tables.
func precheckShape(raw []byte, countAssertions bool) (claimedNameID string, err error) {
	c, err := precheckShapeClaims(raw, countAssertions)
	return c.NameID, err
}

// shapeClaims is what a document that passed the shape check claims,
// before any signature is checked: guesses at what the verified assertion
// will say, which nothing may trust (see prefetched).
type shapeClaims struct {
	// NameID is the claimed NameID, as precheckShape returns it.
	NameID string
	// AttributeStatement is the first AttributeStatement child of the
	// assertion, start tag to end tag, as it stands in the document (its
	// namespace prefixes are declared outside it); nil if there is none
	// (an encrypted assertion, or one without attributes).
	AttributeStatement []byte
	// Document is the whole response, as decoded (set by Verify); read
	// only.
	Document []byte
}

// precheckShapeClaims is precheckShape, returning the claimed
// AttributeStatement too.
func precheckShapeClaims(raw []byte, countAssertions bool) (shapeClaims, error) {
	// One allocation: the scanner's slices start on its own arrays, of the
	// size most documents need.
	s := &shapeScanner{raw: raw, assertionDepth: -1}
	s.open, s.attrs, s.nameIDText = s.openBuf[:0], s.attrBuf[:0], s.nameIDTextBuf[:0]
	if err := s.scan(); err != nil {
		return shapeClaims{}, err
	}
	if s.nonASCIIName {
		if err := decodesStrictly(raw); err != nil {
			return shapeClaims{}, reject(ReasonMalformed, fmt.Errorf("xml: %w", err))
		}
	}
	if s.deferred != nil {
		return shapeClaims{}, s.deferred
	}
	if !countAssertions {
		return shapeClaims{}, nil
	}
	if s.responses != 1 || s.assertions != 1 {
		return shapeClaims{}, reject(ReasonAssertionCount, fmt.Errorf("document has %d Response and %d assertion elements, want 1 and 1", s.responses, s.assertions))
	}
	if s.assertionDepth != 1 {
		return shapeClaims{}, reject(ReasonAssertionCount, errors.New("the assertion is not a child of the Response"))
	}
	c := shapeClaims{NameID: s.claimed()}
	if s.attrStmt.end > s.attrStmt.start {
		c.AttributeStatement = raw[s.attrStmt.start:s.attrStmt.end]
	}
	return c, nil
}

// maxListedAttrs is how many attribute names of a start tag the scanner
// compares one by one; beyond that it puts them in a map.
const maxListedAttrs = 16

// span is a part raw[start:end] of the document.
type span struct{ start, end int }

// textSpan is character data of the claimed NameID: text, whose references
// are decoded, or the content of a CDATA section, which is taken as it is.
type textSpan struct {
	span
	cdata bool
}

// shapeScanner is the state of precheckShape's pass over the document.
type shapeScanner struct {
	raw []byte
	// open holds the qualified names of the open elements, the root first;
	// an element's depth is its index.
	open []span
	// attrs holds the attribute names of the start tag being read, up to
	// maxListedAttrs of them; then attrSet holds them all.
	attrs    []span
	attrSet  map[string]struct{}
	rootSeen bool
	// deferred is the first comment or directive. It is the verdict only if
	// the rest of the document is well-formed: a parse failure anywhere
	// makes the document malformed instead, as the etree-based check, which
	// parsed the whole document first, said.
	deferred     *VerifyError
	nonASCIIName bool

	responses, assertions int
	assertionDepth        int // of the first assertion, -1 before it

	// Where the claimed NameID is: the first Subject child of the first
	// assertion, the first NameID child of that Subject (etree's
	// SelectElement), and the character data before its first child element
	// (etree's Text).
	inAssertion, inSubject, inNameID bool
	subjectTaken, nameIDTaken        bool
	subjectDepth, nameIDDepth        int
	nameIDText                       []textSpan

	// Where the claimed AttributeStatement is: the first one among the
	// first assertion's children, from the start of its start tag (tagStart,
	// set before enter) to the end of its end tag (set by leave).
	tagStart                  int
	inAttrStmt, attrStmtTaken bool
	attrStmtDepth             int
	attrStmt                  span

	openBuf       [64]span
	attrBuf       [maxListedAttrs]span
	nameIDTextBuf [2]textSpan
}

// scan reads the whole document.
func (s *shapeScanner) scan() error {
	raw := s.raw
	i := 0
	if bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) {
		i = 3
	}
	for i < len(raw) {
		if raw[i] != '<' {
			end, err := s.text(i)
			if err != nil {
				return err
			}
			switch {
			case len(s.open) == 0:
				if !isXMLSpace(raw[i:end]) {
					return s.malformed(i, "text outside the root element")
				}
			case s.inNameID && len(s.open) == s.nameIDDepth+1:
				s.addNameIDText(i, end, false)
			}
			i = end
			continue
		}
		if i+1 >= len(raw) {
			return s.malformed(i, "unexpected end after <")
		}
		var err error
		switch raw[i+1] {
		case '/':
			i, err = s.endTag(i)
		case '?':
			i, err = s.procInst(i)
		case '!':
			i, err = s.markup(i)
		default:
			i, err = s.startTag(i)
		}
		if err != nil {
			return err
		}
	}
	if len(s.open) > 0 {
		return s.malformed(len(raw), "element "+s.excerpt(s.open[len(s.open)-1])+" is not closed")
	}
	if !s.rootSeen {
		return s.malformed(len(raw), "no root element")
	}
	return nil
}

// excerpt is the text of a name for an error message: a copy, so that no
// error holds on to the document, of at most 64 bytes.
func (s *shapeScanner) excerpt(n span) string {
	if n.end-n.start > 64 {
		return string(s.raw[n.start:n.start+64]) + "…"
	}
	return string(s.raw[n.start:n.end])
}

func (s *shapeScanner) malformed(at int, what string) error {
	return reject(ReasonMalformed, fmt.Errorf("xml: %s at byte %d", what, at))
}

// walkFailure reports a comment or directive (the first one decides, see
// deferred), or a processing instruction or repeated attribute, which is
// malformed: if nothing before it failed, nothing after it can change that
// verdict, so the scan stops there.
func (s *shapeScanner) walkFailure(reason string, err error) error {
	if s.deferred != nil {
		return nil
	}
	if reason == ReasonMalformed {
		return reject(reason, err)
	}
	s.deferred = reject(reason, err)
	return nil
}

// startTag reads the start tag at raw[i] ('<' and a byte that is not '/',
// '?' or '!') and returns the index after it.
func (s *shapeScanner) startTag(i int) (int, error) {
	raw := s.raw
	nameEnd, ok := s.qname(i + 1)
	if !ok {
		return 0, s.malformed(i, "bad element name")
	}
	name := span{i + 1, nameEnd}
	prefix, local := splitQName(raw[name.start:name.end])
	depth := len(s.open)
	isRoot := depth == 0
	if isRoot && s.rootSeen {
		return 0, s.malformed(i, "a second element outside the root element")
	}
	var nsValue span
	nsFound := false
	s.attrs, s.attrSet = s.attrs[:0], nil
	k := nameEnd
	empty := false
	for {
		k = skipXMLSpace(raw, k)
		if k >= len(raw) {
			return 0, s.malformed(k, "unexpected end in a start tag")
		}
		if c := raw[k]; c == '>' {
			k++
			break
		} else if c == '/' {
			if k+1 >= len(raw) || raw[k+1] != '>' {
				return 0, s.malformed(k, "expected /> in a start tag")
			}
			k += 2
			empty = true
			break
		}
		attrEnd, ok := s.qname(k)
		if !ok {
			return 0, s.malformed(k, "bad attribute name")
		}
		attr := span{k, attrEnd}
		k = skipXMLSpace(raw, attrEnd)
		if k >= len(raw) || raw[k] != '=' {
			return 0, s.malformed(k, "attribute without =")
		}
		k = skipXMLSpace(raw, k+1)
		if k >= len(raw) || (raw[k] != '"' && raw[k] != '\'') {
			return 0, s.malformed(k, "unquoted attribute value")
		}
		valueEnd, err := s.attrValue(k+1, raw[k])
		if err != nil {
			return 0, err
		}
		value := span{k + 1, valueEnd}
		k = valueEnd + 1
		if s.repeated(attr) {
			if err := s.walkFailure(ReasonMalformed, fmt.Errorf("element %s has attribute %s twice", s.excerpt(name), s.excerpt(attr))); err != nil {
				return 0, err
			}
		}
		if isRoot && !nsFound && isNamespaceDecl(raw[attr.start:attr.end], prefix) {
			nsValue, nsFound = value, true
		}
	}
	if isRoot {
		s.rootSeen = true
		if string(local) != "Response" || !nsFound || !s.valueEquals(nsValue, saml2.SAMLProtocolNamespace) {
			return 0, s.malformed(i, "root element is not a samlp:Response")
		}
	}
	if depth >= maxShapeDepth {
		return 0, s.malformed(i, fmt.Sprintf("elements nested deeper than %d", maxShapeDepth))
	}
	s.tagStart = i
	s.enter(depth, local)
	s.open = append(s.open, name)
	if empty {
		s.leave(k)
	}
	return k, nil
}

// enter counts the element named local that starts at depth, and follows
// the way to the claimed NameID.
func (s *shapeScanner) enter(depth int, local []byte) {
	if s.inNameID && depth == s.nameIDDepth+1 {
		s.inNameID = false // its text ends at its first child element
	}
	switch string(local) {
	case "Response":
		s.responses++
	case "Assertion", "EncryptedAssertion":
		s.assertions++
		if s.assertions == 1 {
			s.assertionDepth = depth
			s.inAssertion = true
		}
	case "Subject":
		if s.inAssertion && !s.subjectTaken && depth == s.assertionDepth+1 {
			s.subjectTaken, s.inSubject, s.subjectDepth = true, true, depth
		}
	case "NameID":
		if s.inSubject && !s.nameIDTaken && depth == s.subjectDepth+1 {
			s.nameIDTaken, s.inNameID, s.nameIDDepth = true, true, depth
		}
	case "AttributeStatement":
		if s.inAssertion && !s.attrStmtTaken && depth == s.assertionDepth+1 {
			s.attrStmtTaken, s.inAttrStmt, s.attrStmtDepth = true, true, depth
			s.attrStmt.start = s.tagStart
		}
	}
}

// leave closes the innermost open element, whose end tag ends at raw[end].
func (s *shapeScanner) leave(end int) {
	depth := len(s.open) - 1
	s.open = s.open[:depth]
	if s.inAttrStmt && depth == s.attrStmtDepth {
		s.inAttrStmt = false
		s.attrStmt.end = end
	}
	if s.inNameID && depth == s.nameIDDepth {
		s.inNameID = false
	}
	if s.inSubject && depth == s.subjectDepth {
		s.inSubject = false
	}
	if s.inAssertion && depth == s.assertionDepth {
		s.inAssertion = false
	}
}

// repeated records the attribute name a of the current start tag and
// reports whether the tag already had it (prefix and local name alike, as
// etree's FullKey).
func (s *shapeScanner) repeated(a span) bool {
	name := s.raw[a.start:a.end]
	// Compared one by one on the few attributes an element has; a tag with
	// very many is checked with a map instead, lest the check be quadratic.
	if s.attrSet != nil {
		if _, dup := s.attrSet[string(name)]; dup {
			return true
		}
		s.attrSet[string(name)] = struct{}{}
		return false
	}
	for _, b := range s.attrs {
		if bytes.Equal(s.raw[b.start:b.end], name) {
			return true
		}
	}
	s.attrs = append(s.attrs, a)
	if len(s.attrs) == maxListedAttrs {
		s.attrSet = make(map[string]struct{}, 4*len(s.attrs))
		for _, b := range s.attrs {
			s.attrSet[string(s.raw[b.start:b.end])] = struct{}{}
		}
	}
	return false
}

// endTag reads the end tag at raw[i] ("</") and closes its element.
func (s *shapeScanner) endTag(i int) (int, error) {
	raw := s.raw
	nameEnd, ok := s.qname(i + 2)
	if !ok {
		return 0, s.malformed(i, "bad name in an end tag")
	}
	k := skipXMLSpace(raw, nameEnd)
	if k >= len(raw) || raw[k] != '>' {
		return 0, s.malformed(k, "expected > after the name of an end tag")
	}
	if len(s.open) == 0 {
		return 0, s.malformed(i, "end tag outside the root element")
	}
	top := s.open[len(s.open)-1]
	if !bytes.Equal(raw[top.start:top.end], raw[i+2:nameEnd]) {
		return 0, s.malformed(i, fmt.Sprintf("end tag %s does not match start tag %s", s.excerpt(span{i + 2, nameEnd}), s.excerpt(top)))
	}
	s.leave(k + 1)
	return k + 1, nil
}

// procInst reads the processing instruction at raw[i] ("<?"). Only an xml
// declaration outside the root element is allowed; encoding/xml refuses a
// declaration of any version but 1.0.
func (s *shapeScanner) procInst(i int) (int, error) {
	raw := s.raw
	targetEnd, ok := s.name(i + 2)
	if !ok {
		return 0, s.malformed(i, "bad processing instruction target")
	}
	target := raw[i+2 : targetEnd]
	k := skipXMLSpace(raw, targetEnd)
	end := bytes.Index(raw[k:], []byte("?>"))
	if end < 0 {
		return 0, s.malformed(i, "unterminated processing instruction")
	}
	if string(target) == "xml" {
		if v := xmlDeclVersion(raw[k : k+end]); v != "" && v != "1.0" {
			return 0, s.malformed(i, fmt.Sprintf("xml version %q", v))
		}
	}
	if len(s.open) > 0 || string(target) != "xml" {
		if err := s.walkFailure(ReasonMalformed, fmt.Errorf("unexpected processing instruction %q", s.excerpt(span{i + 2, targetEnd}))); err != nil {
			return 0, err
		}
	}
	return k + end + 2, nil
}

// xmlDeclVersion is the version an xml declaration's content declares, read
// as encoding/xml reads it: the value after the first "version=" that a
// quote follows, up to the next such quote ("" if there is none). Like
// encoding/xml, it also finds "version=" at the end of a longer name.
func xmlDeclVersion(content []byte) string {
	const param = "version="
	for i := 0; i < len(content); {
		k := bytes.Index(content[i:], []byte(param))
		if k < 0 || i+k+len(param) >= len(content) {
			return ""
		}
		q := content[i+k+len(param)]
		i += k + len(param) + 1
		if q == '"' || q == '\'' {
			end := bytes.IndexByte(content[i:], q)
			if end < 0 {
				return ""
			}
			return string(content[i : i+end])
		}
	}
	return ""
}

// markup reads what starts at raw[i] with "<!": a comment, a CDATA section
// or a directive.
func (s *shapeScanner) markup(i int) (int, error) {
	raw := s.raw
	if i+2 >= len(raw) {
		return 0, s.malformed(i, "unexpected end after <!")
	}
	switch raw[i+2] {
	case '-':
		// A comment ends at the first "--", which must be followed by '>'.
		if i+3 >= len(raw) || raw[i+3] != '-' {
			return 0, s.malformed(i, "<!- not part of <!--")
		}
		body := i + 4
		end := bytes.Index(raw[body:], []byte("--"))
		if end < 0 {
			return 0, s.malformed(i, "unterminated comment")
		}
		gt := body + end + 2
		if gt >= len(raw) || raw[gt] != '>' {
			return 0, s.malformed(body+end, `"--" in a comment`)
		}
		if err := s.walkFailure(ReasonXMLComment, fmt.Errorf("document has a comment at byte %d", i)); err != nil {
			return 0, err
		}
		return gt + 1, nil
	case '[':
		if !bytes.HasPrefix(raw[i+2:], []byte("[CDATA[")) {
			return 0, s.malformed(i, "<![ not part of <![CDATA[")
		}
		body := i + 9
		end := bytes.Index(raw[body:], []byte("]]>"))
		if end < 0 {
			return 0, s.malformed(i, "unterminated CDATA section")
		}
		if at, ok := checkChars(raw[body : body+end]); !ok {
			return 0, s.malformed(body+at, "character not allowed in XML")
		}
		switch {
		case len(s.open) == 0:
			return 0, s.malformed(i, "CDATA section outside the root element")
		case s.inNameID && len(s.open) == s.nameIDDepth+1:
			s.addNameIDText(body, body+end, true)
		}
		return body + end + 3, nil
	}
	end, err := s.directive(i)
	if err != nil {
		return 0, err
	}
	if err := s.walkFailure(ReasonDoctype, fmt.Errorf("document has a directive at byte %d", i)); err != nil {
		return 0, err
	}
	return end, nil
}

// directive finds the end of the directive at raw[i] ("<!" and a byte that
// starts neither a comment nor a CDATA section) as encoding/xml does: at the
// first '>' outside quotes that closes no nested '<', with comments inside
// it skipped. (Precheck refuses every directive before this scan; the scan
// still delimits one exactly, so that its verdict needs no such help.)
func (s *shapeScanner) directive(i int) (int, error) {
	raw := s.raw
	k := i + 3 // the byte after "<!" is taken as it is
	var quote byte
	depth := 0
	next := func() (byte, bool) {
		if k >= len(raw) {
			return 0, false
		}
		k++
		return raw[k-1], true
	}
	for {
		b, ok := next()
		if !ok {
			return 0, s.malformed(i, "unterminated directive")
		}
		if quote == 0 && b == '>' && depth == 0 {
			return k, nil
		}
		for again := true; again; {
			again = false
			switch {
			case b == quote:
				quote = 0
			case quote != 0:
			case b == '\'' || b == '"':
				quote = b
			case b == '>':
				depth--
			case b == '<':
				for _, want := range []byte("!--") {
					if b, ok = next(); !ok {
						return 0, s.malformed(i, "unterminated directive")
					}
					if b != want {
						// Not a comment: a nested '<', and b is read
						// again as the next byte of the directive.
						depth++
						again = true
						break
					}
				}
				if !again {
					end := bytes.Index(raw[k:], []byte("-->"))
					if end < 0 {
						return 0, s.malformed(i, "unterminated comment in a directive")
					}
					k += end + 3
				}
			}
		}
	}
}

// text checks the character data that starts at raw[i] and returns where it
// ends: at the next '<' or the end of the document.
func (s *shapeScanner) text(i int) (int, error) {
	raw := s.raw
	k := i
	for k < len(raw) {
		c := raw[k]
		if c >= 0x20 && c < utf8.RuneSelf {
			switch c {
			case '<':
				return k, nil
			case '&':
				end, ok := checkReference(raw, k)
				if !ok {
					return 0, s.malformed(k, "bad entity or character reference")
				}
				k = end
				continue
			case '>':
				if k-i >= 2 && raw[k-1] == ']' && raw[k-2] == ']' {
					return 0, s.malformed(k-2, "]]> outside a CDATA section")
				}
			}
			k++
			continue
		}
		size, ok := checkChar(raw[k:])
		if !ok {
			return 0, s.malformed(k, "character not allowed in XML")
		}
		k += size
	}
	return k, nil
}

// attrValue checks the attribute value that starts at raw[i] and is quoted
// with quote, and returns the index of its closing quote.
func (s *shapeScanner) attrValue(i int, quote byte) (int, error) {
	raw := s.raw
	k := i
	for k < len(raw) {
		c := raw[k]
		if c >= 0x20 && c < utf8.RuneSelf {
			switch c {
			case quote:
				return k, nil
			case '<':
				return 0, s.malformed(k, "< in an attribute value")
			case '&':
				end, ok := checkReference(raw, k)
				if !ok {
					return 0, s.malformed(k, "bad entity or character reference")
				}
				k = end
				continue
			}
			k++
			continue
		}
		size, ok := checkChar(raw[k:])
		if !ok {
			return 0, s.malformed(k, "character not allowed in XML")
		}
		k += size
	}
	return 0, s.malformed(i, "unterminated attribute value")
}

// name reads an XML name at raw[i], as encoding/xml delimits it (up to the
// first ASCII byte that no name has), and returns where it ends. Names
// outside ASCII are left to encoding/xml (see precheckShape).
func (s *shapeScanner) name(i int) (int, bool) {
	raw := s.raw
	k := i
	for k < len(raw) {
		c := raw[k]
		if c >= utf8.RuneSelf {
			s.nonASCIIName = true
		} else if !isNameByte(c) {
			break
		}
		k++
	}
	if k == i || k == len(raw) {
		return 0, false
	}
	c := raw[i]
	if c < utf8.RuneSelf && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':') {
		return 0, false // digits, '.' and '-' do not start a name
	}
	return k, true
}

// qname reads an element or attribute name: a name with at most one colon.
func (s *shapeScanner) qname(i int) (int, bool) {
	end, ok := s.name(i)
	if !ok || bytes.Count(s.raw[i:end], []byte(":")) > 1 {
		return 0, false
	}
	return end, true
}

// splitQName splits a name as encoding/xml does: at its colon, if both
// sides are non-empty; otherwise the whole name is the local name.
func splitQName(name []byte) (prefix, local []byte) {
	if p, l, ok := bytes.Cut(name, []byte(":")); ok && len(p) > 0 && len(l) > 0 {
		return p, l
	}
	return nil, name
}

// isNamespaceDecl reports whether the attribute named attr declares the
// namespace of prefix (the default namespace if prefix is empty).
func isNamespaceDecl(attr, prefix []byte) bool {
	if len(prefix) == 0 {
		return string(attr) == "xmlns"
	}
	rest, ok := bytes.CutPrefix(attr, []byte("xmlns:"))
	return ok && bytes.Equal(rest, prefix)
}

// valueEquals reports whether the attribute value at v, with its references
// decoded, is want.
func (s *shapeScanner) valueEquals(v span, want string) bool {
	value := s.raw[v.start:v.end]
	if bytes.IndexByte(value, '&') < 0 && bytes.IndexByte(value, '\r') < 0 {
		return string(value) == want
	}
	return string(appendCharData(nil, value, false)) == want
}

func (s *shapeScanner) addNameIDText(start, end int, cdata bool) {
	s.nameIDText = append(s.nameIDText, textSpan{span{start, end}, cdata})
}

// claimed is the text of the claimed NameID, trimmed.
func (s *shapeScanner) claimed() string {
	if len(s.nameIDText) == 1 {
		t := s.nameIDText[0]
		text := s.raw[t.start:t.end]
		if bytes.IndexByte(text, '\r') < 0 && (t.cdata || bytes.IndexByte(text, '&') < 0) {
			return string(bytes.TrimSpace(text))
		}
	}
	var buf []byte
	for _, t := range s.nameIDText {
		buf = appendCharData(buf, s.raw[t.start:t.end], t.cdata)
	}
	return string(bytes.TrimSpace(buf))
}

// appendCharData appends the character data that text (already checked)
// stands for: line ends normalized as encoding/xml does ("\r\n" and "\r"
// become "\n"), and, unless it is CDATA, its references decoded.
func appendCharData(dst, text []byte, cdata bool) []byte {
	for k := 0; k < len(text); {
		switch c := text[k]; {
		case c == '\r':
			dst = append(dst, '\n')
			k++
			if k < len(text) && text[k] == '\n' {
				k++
			}
		case c == '&' && !cdata:
			end, r := decodeReference(text, k)
			dst = utf8.AppendRune(dst, r)
			k = end
		default:
			dst = append(dst, c)
			k++
		}
	}
	return dst
}

// checkReference checks the entity or character reference at raw[k] ('&')
// and returns the index after it. encoding/xml's strict decoder knows the
// five predefined entities and character references to characters XML
// allows.
func checkReference(raw []byte, k int) (int, bool) {
	end, r := decodeReference(raw, k)
	if end < 0 {
		return 0, false
	}
	if r == utf8.RuneError {
		// A reference to a surrogate, which encoding/xml reads as U+FFFD,
		// or to U+FFFD itself.
		return end, true
	}
	return end, isXMLChar(r)
}

// decodeReference decodes the reference at raw[k] ('&'): the index after it
// and the character it stands for, or -1 if it is none encoding/xml reads.
func decodeReference(raw []byte, k int) (int, rune) {
	rest := raw[k+1:]
	if len(rest) == 0 {
		return -1, 0
	}
	if rest[0] != '#' {
		for _, e := range [...]struct {
			name string
			r    rune
		}{{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}} {
			if bytes.HasPrefix(rest, []byte(e.name)) {
				return k + 1 + len(e.name), e.r
			}
		}
		return -1, 0
	}
	j := 1
	base := rune(10)
	if j < len(rest) && rest[j] == 'x' {
		base = 16
		j++
	}
	start := j
	var n rune
	for ; j < len(rest); j++ {
		var d rune
		switch c := rune(rest[j]); {
		case c >= '0' && c <= '9':
			d = c - '0'
		case base == 16 && c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			d = -1
		}
		if d < 0 {
			break
		}
		if n <= utf8.MaxRune {
			n = n*base + d
		}
	}
	if j == start || j >= len(rest) || rest[j] != ';' || n > utf8.MaxRune {
		return -1, 0
	}
	if n >= 0xD800 && n <= 0xDFFF {
		n = utf8.RuneError // as string(rune(n)) makes it
	}
	return k + 1 + j + 1, n
}

// checkChar checks the character at the start of b, which is not printable
// ASCII, and returns its length.
func checkChar(b []byte) (int, bool) {
	if c := b[0]; c < utf8.RuneSelf {
		return 1, c == '\t' || c == '\n' || c == '\r'
	}
	r, size := utf8.DecodeRune(b)
	if r == utf8.RuneError && size == 1 {
		return 1, false
	}
	return size, isXMLChar(r)
}

// checkChars checks that b is UTF-8 text of characters XML allows, and
// returns the index of the first that is not.
func checkChars(b []byte) (int, bool) {
	for k := 0; k < len(b); {
		if c := b[k]; c >= 0x20 && c < utf8.RuneSelf {
			k++
			continue
		}
		size, ok := checkChar(b[k:])
		if !ok {
			return k, false
		}
		k += size
	}
	return 0, true
}

// isXMLChar reports whether XML 1.0 allows the character r (its Char
// production, as encoding/xml applies it).
func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= utf8.MaxRune
}

// isNameByte reports whether the ASCII byte c may be part of a name.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// skipXMLSpace returns the index of the first byte at or after k that is
// not XML white space.
func skipXMLSpace(raw []byte, k int) int {
	for k < len(raw) {
		switch raw[k] {
		case ' ', '\t', '\r', '\n':
			k++
		default:
			return k
		}
	}
	return k
}

func isXMLSpace(b []byte) bool {
	return skipXMLSpace(b, 0) == len(b)
}

// decodesStrictly tokenizes raw with encoding/xml as etree reads it (strict,
// any declared encoding read as UTF-8): the check of names outside ASCII.
func decodesStrictly(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	for {
		if _, err := d.RawToken(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
