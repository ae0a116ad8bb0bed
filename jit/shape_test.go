package jit

import (
	"bytes"
	"encoding/xml"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	rtvalidator "github.com/mattermost/xml-roundtrip-validator"
)

// Parts of the documents of TestShape.
const (
	shapeRootStart = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r" Version="2.0">`
	shapeRootEnd   = `</samlp:Response>`
	shapeIssuer    = `<saml:Issuer>https://idp.example</saml:Issuer>`
)

// shapeResponse is a samlp:Response holding body.
func shapeResponse(body string) string { return shapeRootStart + body + shapeRootEnd }

// shapeAssertion is an assertion whose NameID's content is nameID.
func shapeAssertion(nameID string) string {
	return `<saml:Assertion ID="a">` + shapeIssuer + `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">` +
		nameID + `</saml:NameID></saml:Subject></saml:Assertion>`
}

// shapeSimple is a response with one assertion whose NameID's content is
// nameID.
func shapeSimple(nameID string) string { return shapeResponse(shapeIssuer + shapeAssertion(nameID)) }

// shapeCase is a document and the verdict of the shape check on it.
type shapeCase struct {
	name string
	doc  string
	// reason is the verdict with the assertion count ("" accepts), claimed
	// the NameID then claimed.
	reason, claimed string
	// stricter marks a document that etree's check let through or refused
	// for another reason, and the scanner refuses as malformed: content
	// outside the root element (see precheckShape).
	stricter bool
}

// shapeCases are the rules of the shape check, one or more documents each.
func shapeCases() []shapeCase {
	const (
		assertionNS = `xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"`
		a           = shapeIssuer // a short element to put documents together with
	)
	deep := func(n int) string {
		return shapeResponse(a + shapeAssertion("alice") + strings.Repeat("<x>", n) + strings.Repeat("</x>", n))
	}
	return []shapeCase{
		{name: "minimal", doc: shapeSimple("alice"), claimed: "alice"},
		{name: "NameID trimmed", doc: shapeSimple("\n  alice@acme.example \t"), claimed: "alice@acme.example"},
		{name: "real-world layout", doc: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + shapeRootStart + "\n  " + a + "\n  " +
			`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` + "\n  " +
			shapeAssertion("alice") + "\n" + shapeRootEnd + "\n", claimed: "alice"},

		// Comments.
		{name: "comment inside NameID", doc: shapeSimple("admin@victim.example<!---->.attacker.example"), reason: ReasonXMLComment},
		{name: "comment between elements", doc: shapeResponse(a + "<!-- hello -->" + shapeAssertion("alice")), reason: ReasonXMLComment},
		{name: "comment before the root", doc: "<!-- x -->" + shapeSimple("alice"), reason: ReasonXMLComment},
		{name: "comment after the root", doc: shapeSimple("alice") + "\n<!--x-->", reason: ReasonXMLComment},
		{name: "comment, then a mismatched end tag", doc: shapeResponse(a + "<!--x--><saml:Foo></saml:Bar>" + shapeAssertion("alice")), reason: ReasonMalformed},
		{name: "comment, then an unclosed root", doc: "<!--x-->" + shapeRootStart + a, reason: ReasonMalformed},
		{name: "comment in a document whose root is wrong", doc: `<samlp:Response xmlns:samlp="urn:example"><!--x--></samlp:Response>`, reason: ReasonMalformed},
		{name: "comment with --", doc: shapeResponse(a + "<!-- a -- b -->" + shapeAssertion("alice")), reason: ReasonMalformed},
		{name: "comment ending in --->", doc: shapeResponse(a + "<!-- a --->" + shapeAssertion("alice")), reason: ReasonMalformed},
		{name: "unterminated comment", doc: shapeResponse(a + "<!-- a " + shapeAssertion("alice")), reason: ReasonMalformed},

		// CDATA sections.
		{name: "CDATA in NameID", doc: shapeSimple("<![CDATA[alice]]>"), claimed: "alice"},
		{name: "CDATA with fake tags in NameID", doc: shapeSimple(`<![CDATA[<saml:Assertion ID="x">evil</saml:Assertion><!-- ]]>`),
			claimed: `<saml:Assertion ID="x">evil</saml:Assertion><!--`},
		{name: "CDATA with a fake assertion in Extensions", doc: shapeResponse(a + `<samlp:Extensions><![CDATA[<saml:Assertion ID="x"><saml:Response>]]></samlp:Extensions>` +
			shapeAssertion("alice")), claimed: "alice"},
		{name: "text and CDATA together", doc: shapeSimple(" al<![CDATA[i]]><![CDATA[]]>ce "), claimed: "alice"},
		{name: "CDATA keeps references", doc: shapeSimple("<![CDATA[a&amp;b]]>"), claimed: "a&amp;b"},
		{name: "unterminated CDATA", doc: shapeSimple("<![CDATA[alice"), reason: ReasonMalformed},
		{name: "CDATA misspelt", doc: shapeSimple("<![CDATA alice]]>"), reason: ReasonMalformed},
		{name: "CDATA after the root", doc: shapeSimple("alice") + "<![CDATA[ ]]>", reason: ReasonMalformed, stricter: true},

		// NameID text.
		{name: "NameID text ends at its first child element", doc: shapeSimple("alice<x/>mallory"), claimed: "alice"},
		{name: "entity and character references in NameID", doc: shapeSimple("a&amp;b&lt;c&gt;d&quot;e&apos;f&#65;&#x42;&#x1f600;&#0000067;"),
			claimed: "a&b<c>d\"e'fAB\U0001F600C"},
		{name: "reference to a surrogate", doc: shapeSimple("a&#xD800;"), claimed: "a\uFFFD"},
		{name: "line ends in NameID", doc: shapeSimple("a\r\nb\rc&#13;\nd"), claimed: "a\nb\nc\r\nd"},
		{name: "empty NameID", doc: shapeSimple(""), claimed: ""},
		{name: "self-closing NameID", doc: shapeResponse(a + `<saml:Assertion><saml:Subject><saml:NameID/></saml:Subject></saml:Assertion>`)},
		{name: "only the first Subject counts", doc: shapeResponse(a + `<saml:Assertion><saml:Subject><saml:Foo/></saml:Subject>` +
			`<saml:Subject><saml:NameID>mallory</saml:NameID></saml:Subject></saml:Assertion>`)},
		{name: "only the first NameID counts", doc: shapeResponse(a + `<saml:Assertion><saml:Subject><saml:NameID>alice</saml:NameID>` +
			`<saml:NameID>mallory</saml:NameID></saml:Subject></saml:Assertion>`), claimed: "alice"},
		{name: "a NameID deeper in the Subject is not claimed", doc: shapeResponse(a + `<saml:Assertion><saml:Subject><saml:Foo><saml:NameID>mallory</saml:NameID></saml:Foo></saml:Subject></saml:Assertion>`)},
		{name: "Subject of an encrypted assertion", doc: shapeResponse(a + `<saml:EncryptedAssertion><saml:Subject><saml:NameID>bob</saml:NameID></saml:Subject></saml:EncryptedAssertion>`),
			claimed: "bob"},
		{name: "unknown entity", doc: shapeSimple("&nbsp;"), reason: ReasonMalformed},
		{name: "entity without semicolon", doc: shapeSimple("a &amp b"), reason: ReasonMalformed},
		{name: "bare ampersand", doc: shapeSimple("a & b"), reason: ReasonMalformed},
		{name: "reference to NUL", doc: shapeSimple("&#0;"), reason: ReasonMalformed},
		{name: "reference to U+FFFE", doc: shapeSimple("&#xFFFE;"), reason: ReasonMalformed},
		{name: "reference beyond Unicode", doc: shapeSimple("&#x110000;"), reason: ReasonMalformed},
		{name: "reference with a capital X", doc: shapeSimple("&#X41;"), reason: ReasonMalformed},
		{name: "empty character reference", doc: shapeSimple("&#;"), reason: ReasonMalformed},
		{name: "]]> in text", doc: shapeSimple("a]]>b"), reason: ReasonMalformed},
		{name: "control character in text", doc: shapeSimple("a\x01b"), reason: ReasonMalformed},
		{name: "U+FFFF in text", doc: shapeSimple("a\uffffb"), reason: ReasonMalformed},
		{name: "invalid UTF-8 in text", doc: shapeSimple("a\xffb"), reason: ReasonMalformed},

		// Attributes.
		{name: "attribute values with > and />", doc: shapeResponse(a + `<samlp:Extensions x="a>b" y='/>' z="&lt;saml:Assertion&gt;" w='"'/>` + shapeAssertion("alice")),
			claimed: "alice"},
		{name: "attribute value with <Assertion", doc: shapeResponse(a + `<samlp:Extensions x='<saml:Assertion ID="x">'/>` + shapeAssertion("alice")),
			reason: ReasonMalformed},
		{name: "attribute value with ]]>", doc: shapeResponse(a + `<samlp:Extensions x="]]>"/>` + shapeAssertion("alice")), claimed: "alice"},
		{name: "duplicate attribute", doc: shapeResponse(a + `<saml:Assertion ID="a" ID="b"><saml:Subject><saml:NameID>x</saml:NameID></saml:Subject></saml:Assertion>`),
			reason: ReasonMalformed},
		{name: "duplicate attribute on the root", doc: `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a" ID="b">` + a + shapeAssertion("x") + shapeRootEnd,
			reason: ReasonMalformed},
		{name: "duplicate prefixed attribute", doc: shapeResponse(a + `<samlp:Extensions xmlns:p="urn:x" p:a="1" p:a="2"/>` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "same local name, other prefixes", doc: shapeResponse(a + `<samlp:Extensions xmlns:p="urn:x" xmlns:q="urn:x" a="0" p:a="1" q:a="2"/>` + shapeAssertion("x")),
			claimed: "x"},
		{name: "duplicate among many attributes", doc: shapeResponse(a + "<samlp:Extensions" + manyAttributes(40) + ` a7="again"/>` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "many attributes", doc: shapeResponse(a + "<samlp:Extensions" + manyAttributes(40) + "/>" + shapeAssertion("x")), claimed: "x"},
		{name: "duplicate attribute after a comment", doc: shapeResponse(a + `<!--x--><samlp:Extensions b="1" b="2"/>` + shapeAssertion("x")), reason: ReasonXMLComment},
		{name: "attributes without white space between them", doc: shapeResponse(a + `<samlp:Extensions a="1"b='2'/>` + shapeAssertion("x")), claimed: "x"},
		{name: "white space around =", doc: shapeResponse(a + "<samlp:Extensions a \t=\n '1' />" + shapeAssertion("x")), claimed: "x"},
		{name: "attribute without value", doc: shapeResponse(a + `<samlp:Extensions a/>` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "unquoted attribute value", doc: shapeResponse(a + `<samlp:Extensions a=1/>` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "unterminated attribute value", doc: shapeResponse(a + `<samlp:Extensions a="1/>` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "control character in an attribute value", doc: shapeResponse(a + "<samlp:Extensions a=\"\x0c\"/>" + shapeAssertion("x")), reason: ReasonMalformed},

		// Namespaces and names.
		{name: "assertion with another prefix", doc: shapeResponse(a + `<saml2:Assertion ` + assertionNS + ` ID="a"><saml2:Subject><saml2:NameID>bob</saml2:NameID></saml2:Subject></saml2:Assertion>`),
			claimed: "bob"},
		{name: "assertion in the default namespace", doc: shapeResponse(a + `<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><Subject><NameID>bob</NameID></Subject></Assertion>`),
			claimed: "bob"},
		{name: "assertion in no namespace", doc: shapeResponse(a + `<Assertion ID="a"><Subject><NameID>bob</NameID></Subject></Assertion>`), claimed: "bob"},
		{name: "root in the default namespace", doc: `<Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol" ID="r"><Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><Subject><NameID>bob</NameID></Subject></Assertion></Response>`,
			claimed: "bob"},
		{name: "root namespace written with references", doc: `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:&#x70;rotocol">` + a + shapeAssertion("x") + shapeRootEnd, claimed: "x"},
		{name: "root prefix bound to another namespace", doc: `<samlp:Response xmlns:samlp="urn:example">` + a + shapeAssertion("x") + shapeRootEnd, reason: ReasonMalformed},
		{name: "root prefix bound twice, first to another namespace", doc: `<samlp:Response xmlns:samlp="urn:example" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` + a + shapeAssertion("x") + shapeRootEnd,
			reason: ReasonMalformed},
		{name: "root prefix not bound", doc: `<samlp:Response ID="r">` + a + shapeAssertion("x") + shapeRootEnd, reason: ReasonMalformed},
		{name: "root prefix bound by the default namespace only", doc: `<samlp:Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol">` + a + shapeAssertion("x") + shapeRootEnd, reason: ReasonMalformed},
		{name: "root is not a Response", doc: `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x"/>`, reason: ReasonMalformed},
		{name: "root named :Response", doc: `<:Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol"/>`, reason: ReasonMalformed},
		{name: "element named :Assertion is no assertion", doc: shapeResponse(a + `<:Assertion/>` + shapeAssertion("x")), claimed: "x"},
		{name: "element named Assertion: is no assertion", doc: shapeResponse(a + `<Assertion:/>` + shapeAssertion("x")), claimed: "x"},
		{name: "name with two colons", doc: shapeResponse(a + `<a:b:c/>` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "name starting with a digit", doc: shapeResponse(a + `<1x/>` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "non-ASCII names", doc: shapeResponse(a + `<samlp:Extensions><é:Ölçü xmlns:é="urn:x" ü="1">t</é:Ölçü></samlp:Extensions>` + shapeAssertion("x")), claimed: "x"},
		{name: "non-ASCII name with a no-break space", doc: shapeResponse(a + "<samlp:Extensions><x\u00a0y/></samlp:Extensions>" + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "non-ASCII name starting with a combining mark", doc: shapeResponse(a + "<samlp:Extensions><\u0301x/></samlp:Extensions>" + shapeAssertion("x")), reason: ReasonMalformed},

		// Assertion and response counts.
		{name: "no assertion", doc: shapeResponse(a), reason: ReasonAssertionCount},
		{name: "encrypted assertion", doc: shapeResponse(a + `<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>`)},
		{name: "two assertions", doc: shapeResponse(a + shapeAssertion("alice") + shapeAssertion("mallory")), reason: ReasonAssertionCount},
		{name: "assertion and encrypted assertion", doc: shapeResponse(a + shapeAssertion("alice") + `<saml:EncryptedAssertion/>`), reason: ReasonAssertionCount},
		{name: "assertion nested in Extensions", doc: shapeResponse(a + `<samlp:Extensions>` + shapeAssertion("mallory") + `</samlp:Extensions>` + shapeAssertion("alice")),
			reason: ReasonAssertionCount},
		{name: "assertion nested in Advice", doc: shapeResponse(a + `<saml:Assertion><saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:Advice>` +
			shapeAssertion("mallory") + `</saml:Advice></saml:Assertion>`), reason: ReasonAssertionCount},
		{name: "assertion nested in a Signature Object", doc: shapeResponse(a + `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:Object>` +
			shapeAssertion("mallory") + `</ds:Object></ds:Signature>` + shapeAssertion("alice")), reason: ReasonAssertionCount},
		{name: "assertion as a grandchild", doc: shapeResponse(a + `<samlp:Extensions>` + shapeAssertion("alice") + `</samlp:Extensions>`), reason: ReasonAssertionCount},
		{name: "two responses", doc: shapeResponse(a + `<samlp:Extensions><samlp:Response/></samlp:Extensions>` + shapeAssertion("alice")), reason: ReasonAssertionCount},
		{name: "response inside the assertion", doc: shapeResponse(a + `<saml:Assertion><saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><Response/></saml:Assertion>`),
			reason: ReasonAssertionCount},
		{name: "a second root element", doc: shapeSimple("alice") + shapeSimple("mallory"), reason: ReasonMalformed, stricter: true},
		{name: "a second root element without assertion", doc: shapeSimple("alice") + "<x/>", reason: ReasonMalformed, stricter: true},

		// Processing instructions and declarations.
		{name: "BOM and xml declaration", doc: "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n" + shapeSimple("alice"), claimed: "alice"},
		{name: "xml declaration in another encoding", doc: "<?xml version='1.0' encoding='ISO-8859-1'?>" + shapeSimple("alice"), claimed: "alice"},
		{name: "xml declaration of version 1.1", doc: `<?xml version="1.1"?>` + shapeSimple("alice"), reason: ReasonMalformed},
		{name: "xml declaration with a version= inside another name", doc: `<?xml xversion="2" version="1.0"?>` + shapeSimple("alice"), reason: ReasonMalformed},
		{name: "xml declaration after the root", doc: shapeSimple("alice") + `<?xml version="1.0"?>`, claimed: "alice"},
		{name: "processing instruction in the body", doc: shapeResponse(a + `<?evil x?>` + shapeAssertion("alice")), reason: ReasonMalformed},
		{name: "xml declaration in the body", doc: shapeResponse(a + `<?xml version="1.0"?>` + shapeAssertion("alice")), reason: ReasonMalformed},
		{name: "processing instruction before the root", doc: `<?xml-stylesheet href="a.xsl"?>` + shapeSimple("alice"), reason: ReasonMalformed},
		{name: "processing instruction after a comment", doc: shapeResponse(a + `<!--x--><?evil?>` + shapeAssertion("alice")), reason: ReasonXMLComment},
		{name: "processing instruction in NameID", doc: shapeSimple("alice<?x?>"), reason: ReasonMalformed},
		{name: "unterminated processing instruction", doc: shapeResponse(a + `<?evil ` + shapeAssertion("alice")), reason: ReasonMalformed},
		{name: "processing instruction without target", doc: shapeResponse(a + `<? x?>` + shapeAssertion("alice")), reason: ReasonMalformed},

		// Directives.
		{name: "DOCTYPE with an internal subset", doc: `<!DOCTYPE r [<!ENTITY e "x>"><!-- c -->]>` + shapeSimple("alice"), reason: ReasonDoctype},
		{name: "directive in the body", doc: shapeResponse(a + `<!ELEMENT x ANY>` + shapeAssertion("alice")), reason: ReasonDoctype},
		{name: "directive with quotes and nested brackets", doc: `<!DOCTYPE r [<!ATTLIST a b CDATA "<>'"> <!x <y>>]>` + shapeSimple("alice"), reason: ReasonDoctype},
		{name: "directive, then a mismatched end tag", doc: `<!DOCTYPE r>` + shapeResponse(a+"</saml:Foo>"), reason: ReasonMalformed},
		{name: "directive after a comment", doc: "<!--x--><!DOCTYPE r>" + shapeSimple("alice"), reason: ReasonXMLComment},
		{name: "comment after a directive", doc: "<!DOCTYPE r><!--x-->" + shapeSimple("alice"), reason: ReasonDoctype},
		{name: "unterminated directive", doc: `<!DOCTYPE r [<!ENTITY e "x">` + shapeSimple("alice"), reason: ReasonMalformed},

		// Structure.
		{name: "mismatched end tag", doc: shapeResponse(a + `<saml:Assertion><saml:Subject></saml2:Subject></saml:Assertion>`), reason: ReasonMalformed},
		{name: "end tag of another case", doc: shapeResponse(a + `<saml:Assertion></saml:assertion>`), reason: ReasonMalformed},
		{name: "end tag with white space", doc: shapeResponse(a + `<saml:Assertion><saml:Subject><saml:NameID>x</saml:NameID  ></saml:Subject ></saml:Assertion>`), claimed: "x"},
		{name: "end tag with an attribute", doc: shapeResponse(a + `<saml:Assertion></saml:Assertion x="1">`), reason: ReasonMalformed},
		{name: "end tag without start tag", doc: shapeSimple("alice") + "</samlp:Response>", reason: ReasonMalformed},
		{name: "unclosed root", doc: shapeRootStart + a + shapeAssertion("alice"), reason: ReasonMalformed},
		{name: "unclosed start tag", doc: shapeRootStart + a + `<saml:Assertion`, reason: ReasonMalformed},
		{name: "self-closing tag with space before />", doc: shapeResponse(a + `<samlp:Extensions />` + shapeAssertion("x")), claimed: "x"},
		{name: "slash not before >", doc: shapeResponse(a + `<samlp:Extensions / >` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "< followed by white space", doc: shapeResponse(a + `< x/>` + shapeAssertion("x")), reason: ReasonMalformed},
		{name: "white space around the root", doc: "\n \t" + shapeSimple("alice") + "\r\n", claimed: "alice"},
		{name: "text before the root", doc: "garbage" + shapeSimple("alice"), reason: ReasonMalformed, stricter: true},
		{name: "text after the root", doc: shapeSimple("alice") + "garbage", reason: ReasonMalformed, stricter: true},
		{name: "reference after the root", doc: shapeSimple("alice") + "&amp;", reason: ReasonMalformed, stricter: true},
		{name: "BOM after the root", doc: shapeSimple("alice") + "\ufeff", reason: ReasonMalformed, stricter: true},
		{name: "empty document", doc: "", reason: ReasonMalformed},
		{name: "white space only", doc: " \n", reason: ReasonMalformed},
		{name: "xml declaration only", doc: `<?xml version="1.0"?>`, reason: ReasonMalformed},
		{name: "nesting at etree's limit", doc: deep(maxShapeDepth - 1), claimed: "alice"},
		{name: "nesting beyond etree's limit", doc: deep(maxShapeDepth), reason: ReasonMalformed},
	}
}

// manyAttributes is n attributes a0="0" … for one start tag.
func manyAttributes(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a" + strconv.Itoa(i) + `="` + strconv.Itoa(i) + `"`)
	}
	return b.String()
}

// TestShape checks each rule of the shape check on the scanner and on the
// etree-based reference: both give the verdict the table names (but for the
// documents the scanner is stricter on), with and without the assertion
// count.
func TestShape(t *testing.T) {
	for _, c := range shapeCases() {
		t.Run(c.name, func(t *testing.T) {
			for _, count := range []bool{true, false} {
				reason, claimed := c.reason, c.claimed
				if !count {
					claimed = ""
					if reason == ReasonAssertionCount {
						reason = ""
					}
				}
				got, err := precheckShape([]byte(c.doc), count)
				if ReasonOf(err) != reason || (err != nil) != (reason != "") || got != claimed {
					t.Fatalf("count %t: precheckShape = %q, %v; want %q, reason %q", count, got, err, claimed, reason)
				}
				ref, refErr := precheckTreeEtree([]byte(c.doc), count)
				if c.stricter {
					if ReasonOf(refErr) == reason || !outsideRootContent([]byte(c.doc)) {
						t.Fatalf("count %t: marked stricter, but etree's check says %v and outsideRootContent says %t", count, refErr, outsideRootContent([]byte(c.doc)))
					}
					continue
				}
				if ReasonOf(refErr) != reason || ref != claimed {
					t.Fatalf("count %t: the etree-based check = %q, %v; want %q, reason %q", count, ref, refErr, claimed, reason)
				}
			}
			compareShape(t, []byte(c.doc))
		})
	}
}

// TestShape_Seeds compares the scanner with the etree-based check on the
// FuzzVerify corpus (responses the crewjam IdP signed: plain, encrypted, 40
// groups; and their XSW variants) and on the vendors' documented responses.
func TestShape_Seeds(t *testing.T) {
	docs := readFuzzCorpus(t, verifyFuzzSeedDir)
	if len(docs) < 10 {
		t.Fatalf("%d documents in %s, want the generator's seeds", len(docs), verifyFuzzSeedDir)
	}
	// And the vendors' documented responses (see vendorsaml_test.go).
	vendor, err := filepath.Glob("testdata/saml/*/*.xml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range vendor {
		doc, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = doc
	}
	claims := 0
	for name, doc := range docs {
		compareShape(t, doc)
		got, err := precheckShape(doc, true)
		ref, refErr := precheckTreeEtree(doc, true)
		if ReasonOf(err) != ReasonOf(refErr) || got != ref {
			t.Errorf("%s: precheckShape = %q, %v; etree's check = %q, %v", name, got, err, ref, refErr)
		}
		if got != "" {
			claims++
		}
	}
	if claims == 0 {
		t.Fatal("no seed claims a NameID")
	}
}

// compareShape holds precheckShape to the etree-based check on doc, with and
// without the assertion count:
//
//   - the scanner accepts only what the reference accepts, and claims the
//     reference's NameID or nothing;
//   - it refuses with the reference's reason, or, on a document with content
//     outside its root element, as malformed.
//
// This holds for any bytes, not only for the documents that etree parses and
// mattermost's round-trip check accepts (those gosaml2 could accept); the
// failure message says which kind doc is.
func compareShape(t testing.TB, doc []byte) {
	t.Helper()
	for _, count := range []bool{true, false} {
		got, err := precheckShape(doc, count)
		ref, refErr := precheckTreeEtree(doc, count)
		reason, refReason := ReasonOf(err), ReasonOf(refErr)
		if (err != nil) != (reason != "") {
			t.Fatalf("count %t: precheckShape error %v is not a *VerifyError", count, err)
		}
		if reason == refReason || reason == ReasonMalformed && outsideRootContent(doc) {
			if err == nil && got != ref && got != "" {
				t.Fatalf("count %t: precheckShape claims %q, the etree-based check %q (%s)", count, got, ref, shapeDocKind(doc))
			}
			continue
		}
		t.Fatalf("count %t: precheckShape says %v, the etree-based check %v (%s)", count, err, refErr, shapeDocKind(doc))
	}
}

// shapeDocKind says whether gosaml2 could accept doc: whether etree parses
// it and mattermost's round-trip check accepts it.
func shapeDocKind(doc []byte) string {
	return "etree parses it: " + strconv.FormatBool(decodesStrictly(doc) == nil) +
		", round-trip check accepts it: " + strconv.FormatBool(rtvalidator.Validate(bytes.NewReader(doc)) == nil)
}

// outsideRootContent reports whether encoding/xml reads doc (as etree does)
// with content outside its first element that XML 1.0 does not allow there:
// a second element, text other than white space (and a byte order mark at
// the very start), or a CDATA section. It is the one kind of document the
// scanner refuses and the etree-based check did not refuse as malformed,
// worked out here independently of the scanner.
func outsideRootContent(doc []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	depth, elements := 0, 0
	for {
		start := d.InputOffset()
		tok, err := d.RawToken()
		if err != nil {
			return false
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				elements++
				if elements > 1 {
					return true
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth != 0 {
				continue
			}
			if bytes.HasPrefix(doc[start:], []byte("<![CDATA[")) {
				return true
			}
			if start == 0 {
				tok = bytes.TrimPrefix(tok, []byte("\ufeff"))
			}
			if len(bytes.Trim(tok, " \t\r\n")) > 0 {
				return true
			}
		}
	}
}

// readFuzzCorpus reads the []byte argument of each "go test fuzz v1" file
// in dir, by file name.
func readFuzzCorpus(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(string(raw), "\n")
		if lines[0] != "go test fuzz v1" {
			tb.Fatalf("%s: not a fuzz corpus file", e.Name())
		}
		for _, l := range lines[1:] {
			if q, ok := strings.CutPrefix(l, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					tb.Fatalf("%s: %v", e.Name(), err)
				}
				out[e.Name()] = []byte(s)
				break
			}
		}
		if _, ok := out[e.Name()]; !ok {
			tb.Fatalf("%s: no []byte argument", e.Name())
		}
	}
	return out
}

// FuzzShape holds the scanner to the etree-based check (see compareShape),
// starting from the FuzzVerify corpus (signed responses and their XSW
// variants) and the documents of TestShape:
//
//	go test ./jit -run '^$' -fuzz '^FuzzShape$' -fuzztime 3m
func FuzzShape(f *testing.F) {
	for _, doc := range readFuzzCorpus(f, verifyFuzzSeedDir) {
		f.Add(doc)
	}
	for _, c := range shapeCases() {
		f.Add([]byte(c.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		compareShape(t, doc)
	})
}

// BenchmarkShape compares the scanner with the etree-based check it
// replaced, on responses the crewjam IdP signed (the FuzzVerify seeds).
//
//	go test ./jit -run '^$' -bench '^BenchmarkShape$' -benchmem
func BenchmarkShape(b *testing.B) {
	corpus := readFuzzCorpus(b, verifyFuzzSeedDir)
	docs := []struct{ name, seed string }{
		{"signed", "seed-a9c57d7eb4df3313"},        // SP-initiated, response and assertion signed
		{"encrypted", "seed-2666145df57521da"},     // SP-initiated, encrypted assertion
		{"40_groups", "seed-f52e64c19009afa0"},     // IdP-initiated, 40 groups
		{"unsigned_part", "seed-2f5dc4195cf1a3eb"}, // SP-initiated, assertion unsigned
	}
	checks := []struct {
		name  string
		check func([]byte, bool) (string, error)
	}{{"scanner", precheckShape}, {"etree", precheckTreeEtree}}
	for _, d := range docs {
		doc, ok := corpus[d.seed]
		if !ok {
			b.Fatalf("no seed %s", d.seed)
		}
		for _, c := range checks {
			b.Run(d.name+"_"+strconv.Itoa(len(doc)/1000)+"KB/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(doc)))
				for b.Loop() {
					if _, err := c.check(doc, true); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestShape_Splices holds the scanner to the etree-based check (see
// compareShape) on documents made by splicing XML fragments (delimiters,
// references, names, namespace declarations) into the documents of
// TestShape, at random places with a fixed seed: a dictionary-driven
// complement of FuzzShape, whose mutations seldom spell out "<![CDATA[" or
// "xmlns:samlp=".
func TestShape_Splices(t *testing.T) {
	fragments := []string{
		"<", ">", "/", "/>", "</", "<!", "<!--", "-->", "--", "-", "<![CDATA[", "]]>", "]", "<?", "?>", "?",
		"<?xml ", `version="1.0"`, `version='1.1'`, "<!DOCTYPE r [", "]>", `"`, "'", "=", " ", "\t", "\r", "\n", "\r\n",
		"&", ";", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#", "&#x", "&#65;", "&#x41;", "&#0;", "&#xD800;", "&#1114111;",
		":", "a", "x:", ":x", "samlp:", "saml:", "Response", "Assertion", "EncryptedAssertion", "Subject", "NameID",
		"<saml:Assertion>", "</saml:Assertion>", "<saml:Subject>", "</saml:Subject>", "<saml:NameID>", "</saml:NameID>",
		"<samlp:Response>", "</samlp:Response>", `xmlns="urn:oasis:names:tc:SAML:2.0:protocol"`,
		`xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`, `xmlns:samlp="urn:x"`, "xmlns", "xmlns:", ` ID="1"`, ` ID='2'`,
		"é", "\u00a0", "\u0301", "\ufeff", "\uffff", "\x00", "\x01", "\xff", "1", ".", "_",
	}
	var docs [][]byte
	for _, c := range shapeCases() {
		docs = append(docs, []byte(c.doc))
	}
	for _, doc := range readFuzzCorpus(t, verifyFuzzSeedDir) {
		docs = append(docs, doc)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		doc := slices.Clone(docs[rng.IntN(len(docs))])
		for range 1 + rng.IntN(4) {
			at := rng.IntN(len(doc) + 1)
			cut := 0
			if rng.IntN(3) == 0 {
				cut = min(rng.IntN(8), len(doc)-at)
			}
			doc = slices.Concat(doc[:at], []byte(fragments[rng.IntN(len(fragments))]), doc[at+cut:])
		}
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("document: %q", doc)
				}
			}()
			compareShape(t, doc)
		})
	}
}
