package attributes

import (
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gotest.tools/v3/golden"
)

func readFixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// wrap76 breaks base64 into lines as some IdPs and tools do.
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

func TestPreviewSAMLResponseInEveryForm(t *testing.T) {
	m, _ := Preset(PresetOkta)
	xmlResp := readFixture(t, "preview", "okta_response.xml")
	b64 := base64.StdEncoding.EncodeToString(xmlResp)
	for _, tc := range []struct {
		name  string
		input []byte
	}{
		{"raw XML", xmlResp},
		{"base64 as posted", []byte(b64)},
		{"base64 with line breaks", []byte(wrap76(b64))},
		{"URL-encoded base64", []byte(url.QueryEscape(b64))},
		{"form body", []byte("SAMLResponse=" + url.QueryEscape(b64) + "&RelayState=%2Fhome")},
		{"XML with BOM and spaces", append([]byte("\xef\xbb\xbf\n  "), xmlResp...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Preview(m, tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != SideSAML || res.NameID != "test.user@okta.local" {
				t.Errorf("source %q nameID %q", res.Source, res.NameID)
			}
			// The same person as the Okta SCIM/SAML fixtures: same golden profile.
			golden.Assert(t, profileJSON(t, res.Profile), filepath.Join(PresetOkta, "profile.golden.json"))
			if res.EmailDomain != "okta.local" {
				t.Errorf("email domain %q", res.EmailDomain)
			}
			if len(res.Blockers) != 0 {
				t.Errorf("blockers %q", res.Blockers)
			}
			// groups has only an xsi:nil value.
			if !reflect.DeepEqual(res.Missing, []string{FieldGroups}) {
				t.Errorf("missing %q", res.Missing)
			}
			if ft, _ := res.Trace.Field(FieldEmail); ft.Source != "saml:email" {
				t.Errorf("email source %q", ft.Source)
			}
		})
	}
}

func TestPreviewBareAttributeStatement(t *testing.T) {
	m, _ := Preset(PresetEntra)
	m.RoleRules = []RoleRule{{Group: "07DD8A60-BF6D-4E17-8844-230B77145381", Role: "admin"}}
	res, err := Preview(m, readFixture(t, "preview", "entra_attribute_statement.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != SideSAML || res.NameID != "" {
		t.Fatalf("source %q nameID %q", res.Source, res.NameID)
	}
	// userName falls back from NameID to the name claim.
	if res.Profile.UserName != "AdeleV@contoso.com" || res.Profile.DisplayName != "Adele Vance" {
		t.Errorf("profile %+v", res.Profile)
	}
	if res.Profile.Role != RoleAdmin || len(res.Profile.Groups) != 2 {
		t.Errorf("role %q groups %q", res.Profile.Role, res.Profile.Groups)
	}
	if len(res.Blockers) != 1 || !strings.Contains(res.Blockers[0], "NameID") {
		t.Errorf("blockers %q, want the missing NameID", res.Blockers)
	}
}

func TestPreviewSCIM(t *testing.T) {
	m, _ := Preset(PresetEntra)
	res, err := Preview(m, readFixture(t, PresetEntra, "scim_user.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != SideSCIM || res.NameID != "" || len(res.Blockers) != 0 {
		t.Errorf("%+v", res)
	}
	golden.Assert(t, profileJSON(t, res.Profile), filepath.Join(PresetEntra, "profile.golden.json"))

	// A SCIM user without any email: reported, not an error.
	res, err = Preview(m, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"opaque-42"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Missing, []string{FieldEmail, FieldGivenName, FieldFamilyName, FieldDisplayName, FieldGroups}) {
		t.Errorf("missing %q", res.Missing)
	}
	if len(res.Blockers) != 1 || !strings.Contains(res.Blockers[0], "email") || res.EmailDomain != "" {
		t.Errorf("blockers %q domain %q", res.Blockers, res.EmailDomain)
	}
}

func TestPreviewRejects(t *testing.T) {
	m, _ := Preset(PresetGeneric)
	okta := readFixture(t, "preview", "okta_response.xml")
	encrypted := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">` +
		`<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion></samlp:Response>`
	twoAssertions := strings.Replace(string(okta), "</saml2:Assertion>",
		`</saml2:Assertion><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"><saml2:Subject><saml2:NameID>admin@evil.test</saml2:NameID></saml2:Subject></saml2:Assertion>`, 1)
	for _, tc := range []struct {
		name  string
		input string
		want  error
		text  string
	}{
		{"empty", "  \n", ErrPreviewInput, "empty"},
		{"garbage", "hello, world!", ErrPreviewInput, "not base64"},
		{"base64 of text", base64.StdEncoding.EncodeToString([]byte("just text")), ErrPreviewInput, "does not decode to XML"},
		{"DOCTYPE", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`, ErrDoctype, ""},
		{"DOCTYPE in base64", base64.StdEncoding.EncodeToString([]byte(`<!DOCTYPE x><x/>`)), ErrDoctype, ""},
		{"malformed XML", `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><a></b></samlp:Response>`, ErrPreviewInput, "malformed"},
		{"other XML", `<html><body/></html>`, ErrPreviewInput, "<html>"},
		{"wrong namespace", `<Response xmlns="urn:example:not-saml"/>`, ErrPreviewInput, "<Response>"},
		{"error response", `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><samlp:Status/></samlp:Response>`, ErrPreviewInput, "no assertion"},
		{"encrypted assertion", encrypted, ErrEncryptedAssertion, ""},
		{"encrypted assertion base64", base64.StdEncoding.EncodeToString([]byte(encrypted)), ErrEncryptedAssertion, ""},
		{"two assertions", twoAssertions, ErrPreviewInput, "more than one assertion"},
		{"JSON array", `[{"userName":"a"}]`, ErrPreviewInput, "array"},
		{"bad JSON", `{"userName": }`, ErrPreviewInput, "invalid JSON"},
		{"SCIM PATCH", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, ErrPreviewInput, "PATCH"},
		{"SCIM group", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g"}`, ErrPreviewInput, "group"},
		{"SCIM list", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"Resources":[]}`, ErrPreviewInput, "list"},
		{"JSON not SCIM", `{"hello":"world"}`, ErrPreviewInput, "not a SCIM user"},
		{"too large", "<" + strings.Repeat("a", MaxPreviewInput), ErrPreviewTooLarge, ""},
		{"not UTF-8", "<a>\xff</a>", ErrPreviewInput, "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Preview(m, []byte(tc.input))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Preview error = %v, want %v", err, tc.want)
			}
			if tc.text != "" && !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
		})
	}
	t.Run("invalid mapping", func(t *testing.T) {
		var ve *ValidationError
		if _, err := Preview(Mapping{Ownership: "x"}, okta); !errors.As(err, &ve) {
			t.Fatalf("error = %v, want *ValidationError", err)
		}
	})
}

func TestPreviewSubjectNameIDOnly(t *testing.T) {
	// A NameID elsewhere (in an attribute value, eduPersonTargetedID style) is not
	// the subject's, and attribute values with child elements keep their text.
	in := `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">
	  <saml:Subject><saml:NameID>subject@acme.test</saml:NameID></saml:Subject>
	  <saml:AttributeStatement>
	    <saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.10">
	      <saml:AttributeValue><saml:NameID>targeted-id</saml:NameID></saml:AttributeValue>
	    </saml:Attribute>
	    <saml:Attribute Name="mail"><saml:AttributeValue> a@acme.test </saml:AttributeValue><saml:AttributeValue/></saml:Attribute>
	  </saml:AttributeStatement>
	</saml:Assertion>`
	m, _ := Preset(PresetGeneric)
	m.Custom = map[string]Rule{"tid": {SAML: []string{"urn:oid:1.3.6.1.4.1.5923.1.1.1.10"}}}
	res, err := Preview(m, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if res.NameID != "subject@acme.test" || res.Profile.Email != "a@acme.test" || res.Profile.Custom["tid"] != "targeted-id" {
		t.Errorf("%+v", res)
	}
}
