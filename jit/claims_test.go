package jit

import (
	"reflect"
	"testing"
)

func TestClaimedAttributes(t *testing.T) {
	for _, tc := range []struct {
		name string
		stmt string
		want map[string][]string
	}{
		{"none", ``, nil},
		{"values in order, trimmed", `<saml:AttributeStatement>
			<saml:Attribute Name="groups"><saml:AttributeValue> Everyone </saml:AttributeValue><saml:AttributeValue>Eng</saml:AttributeValue></saml:Attribute>
			<saml:Attribute Name="email"><saml:AttributeValue xsi:type="xs:string">ann@acme.com</saml:AttributeValue></saml:Attribute>
		</saml:AttributeStatement>`, map[string][]string{"groups": {"Everyone", "Eng"}, "email": {"ann@acme.com"}}},
		{"references and CDATA", `<AttributeStatement><Attribute Name="displayName"><AttributeValue>Ann &amp; <![CDATA[<Co>]]></AttributeValue></Attribute></AttributeStatement>`,
			map[string][]string{"displayName": {"Ann & <Co>"}}},
		{"a NameID inside a value", `<AttributeStatement><Attribute Name="manager"><AttributeValue> <NameID>00u2</NameID> </AttributeValue></Attribute></AttributeStatement>`,
			map[string][]string{"manager": {"00u2"}}},
		{"an empty value", `<AttributeStatement><Attribute Name="x"><AttributeValue/></Attribute></AttributeStatement>`,
			map[string][]string{"x": {""}}},
		{"not XML", `<AttributeStatement><Attribute`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := claimedAttributes([]byte(tc.stmt)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestShapeClaimsAttributeStatement: the claimed AttributeStatement is the
// first one among the assertion's children, whole; one elsewhere (inside
// Advice, say, or a second one) is not it.
func TestShapeClaimsAttributeStatement(t *testing.T) {
	const ns = `xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`
	first := `<saml:AttributeStatement><saml:Attribute Name="a"><saml:AttributeValue>1</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"first child statement", `<samlp:Response ` + ns + `><saml:Assertion><saml:Subject><saml:NameID>n</saml:NameID></saml:Subject>` +
			`<saml:Advice><saml:AttributeStatement/></saml:Advice>` + first + `<saml:AttributeStatement/></saml:Assertion></samlp:Response>`, first},
		{"empty element", `<samlp:Response ` + ns + `><saml:Assertion><saml:Subject><saml:NameID>n</saml:NameID></saml:Subject>` +
			`<saml:AttributeStatement/></saml:Assertion></samlp:Response>`, `<saml:AttributeStatement/>`},
		{"none", `<samlp:Response ` + ns + `><saml:Assertion><saml:Subject><saml:NameID>n</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := precheckShapeClaims([]byte(tc.doc), true)
			if err != nil {
				t.Fatal(err)
			}
			if string(c.AttributeStatement) != tc.want || c.NameID != "n" {
				t.Errorf("claims %q %q, want n %q", c.NameID, c.AttributeStatement, tc.want)
			}
		})
	}
}
