package attributes

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// scimResource decodes a SCIM body the way the SCIM handler does (UseNumber).
func scimResource(t testing.TB, body string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("test body: %v", err)
	}
	return m
}

const pathTestUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "userName": "bjensen@example.com",
  "name": {"givenName": "Barbara", "familyName": "Jensen"},
  "emails": [
    {"value": "babs@jensen.org", "type": "home"},
    {"value": "bjensen@example.com", "type": "work", "primary": true},
    {"value": "b.jensen@example.com", "type": "Work", "primary": "False"}
  ],
  "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
  "groups": [{"value": "g1", "display": "Tour Guides"}, {"value": "g2", "display": "Employees"}],
  "x509Certificates": [{"value": {"nested": "object"}}],
  "active": true,
  "employeeAge": 42,
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "department": "Tour Operations",
    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
  },
  "urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter": "4130"
}`

func TestSCIMPathEval(t *testing.T) {
	user := scimResource(t, pathTestUser)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"userName", []string{"bjensen@example.com"}},
		{"USERNAME", []string{"bjensen@example.com"}},
		{"name.givenName", []string{"Barbara"}},
		{"Name.GivenName", []string{"Barbara"}},
		{"name", nil}, // complex without "value"
		{"name.middleName", nil},
		{"missing", nil},
		{"emails[primary eq true].value", []string{"bjensen@example.com"}},
		{`emails[type eq "work"].value`, []string{"bjensen@example.com", "b.jensen@example.com"}},
		{`emails[type eq "WORK" and primary eq false].value`, []string{"b.jensen@example.com"}},
		{`emails[not (primary eq true)].value`, []string{"babs@jensen.org", "b.jensen@example.com"}},
		{`emails[type eq "home" or primary eq true].value`, []string{"babs@jensen.org", "bjensen@example.com"}},
		{`emails[value ew "example.com"].value`, []string{"bjensen@example.com", "b.jensen@example.com"}},
		{`emails[value sw "BABS"].value`, []string{"babs@jensen.org"}},
		{`emails[value co "jensen"].type`, []string{"home", "work", "Work"}},
		{`emails[primary pr].value`, []string{"bjensen@example.com", "b.jensen@example.com"}},
		{`emails[primary ne true].value`, []string{"babs@jensen.org", "b.jensen@example.com"}},
		{`emails[type eq "other"].value`, nil},
		{"emails.value", []string{"babs@jensen.org", "bjensen@example.com", "b.jensen@example.com"}},
		{"emails", []string{"babs@jensen.org", "bjensen@example.com", "b.jensen@example.com"}},
		{`emails[type eq "work"]`, []string{"bjensen@example.com", "b.jensen@example.com"}},
		{"groups.display", []string{"Tour Guides", "Employees"}},
		{"groups", []string{"g1", "g2"}},
		{"x509Certificates", nil}, // value is an object: not a leaf
		{"active", []string{"true"}},
		{"employeeAge", []string{"42"}},
		{`phoneNumbers[type eq "work"].value`, []string{"555-555-5555"}},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", []string{"Tour Operations"}},
		{"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department", []string{"Tour Operations"}},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", []string{"26118915-6090-4610-87e4-49d8ca9f808d"}},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", []string{"26118915-6090-4610-87e4-49d8ca9f808d"}},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", nil},
		{"urn:ietf:params:scim:schemas:core:2.0:User:userName", []string{"bjensen@example.com"}},
		{"urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter", []string{"4130"}}, // flat key
		{`employeeAge[value gt 5]`, nil},                                                      // a filter on a scalar selects nothing
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[displayName eq "john smith"].value`, []string{"26118915-6090-4610-87e4-49d8ca9f808d"}},
		{`name[givenName pr].familyName`, []string{"Jensen"}}, // a single complex value is a list of one
		{`name[givenName eq "Other"].familyName`, nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p, err := compileSCIMPath(tc.path)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if got := p.eval(user); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("eval = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSCIMPathWithoutUseNumber(t *testing.T) {
	var res map[string]any
	if err := json.Unmarshal([]byte(`{"n": 42, "f": 1.5, "items": [{"n": 7, "s": "x"}]}`), &res); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{"n": {"42"}, "f": {"1.5"}, "items[n eq 7].s": {"x"}} {
		p, err := compileSCIMPath(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.eval(res); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

func TestSCIMPathFilterNumbersAndBooleans(t *testing.T) {
	res := scimResource(t, `{"items": [
		{"n": 1, "b": "True", "s": "a"},
		{"n": 5, "b": false, "s": "b"},
		{"n": 10, "b": true, "s": "c"}
	]}`)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"items[n gt 1].s", []string{"b", "c"}},
		{"items[n ge 5].s", []string{"b", "c"}},
		{"items[n lt 5].s", []string{"a"}},
		{"items[n le 5].s", []string{"a", "b"}},
		{"items[n eq 10].s", []string{"c"}},
		{"items[b eq true].s", []string{"a", "c"}}, // "True" string counts (Entra)
		{"items[b eq false].s", []string{"b"}},
		{`items[s gt "a"].s`, []string{"b", "c"}},
		{`items[n eq "5"].s`, nil}, // number vs string: not comparable
		{"items[n eq null].s", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p, err := compileSCIMPath(tc.path)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if got := p.eval(res); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("eval = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSCIMPathSyntaxErrors(t *testing.T) {
	for _, path := range []string{
		"",
		" userName",
		"userName ",
		"a.b.c",
		"groups[].display",
		"emails[type eq]",
		`emails[type eq "work"`,
		`emails[type eq "work"].value.more`,
		`emails[type zz "work"].value`,
		"emails[]",
		"[type eq 1]",
		`emails[type eq "work"]extra`,
		`emails[urn:ietf:params:scim:schemas:core:2.0:User:type eq "work"].value`,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value.x",
		strings.Repeat("a", maxPathLen+1),
	} {
		t.Run(path, func(t *testing.T) {
			_, err := compileSCIMPath(path)
			if !errors.Is(err, ErrPathSyntax) {
				t.Fatalf("compileSCIMPath(%q) error = %v, want ErrPathSyntax", path, err)
			}
		})
	}
}

// FuzzSCIMPath checks that compiling any string either fails with ErrPathSyntax
// or yields a path that evaluates, without panicking, to trimmed-or-not but
// non-empty strings, deterministically, on any JSON object.
func FuzzSCIMPath(f *testing.F) {
	for _, s := range []string{
		"userName", "name.givenName", "emails[primary eq true].value", `emails[type eq "work"].value`,
		"groups.display", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
		`emails[type eq "work" and (primary eq true or value pr)].value`, `x[not (a eq 1)].b`,
		"urn:a:b:c", "a[b eq null]", "a.b.c", "emails[", `a[b eq "\"]`, "a[b gt 1.5e3].c",
	} {
		f.Add(s, pathTestUser)
	}
	f.Add("items[n gt 1].s", `{"items":[{"n":1,"s":"a"},{"n":2,"s":"b"}]}`)
	f.Add("a", `{"a":[[1,2],{"value":{"value":3}},null,"",true]}`)
	f.Fuzz(func(t *testing.T, path, body string) {
		p, err := compileSCIMPath(path)
		if err != nil {
			if !errors.Is(err, ErrPathSyntax) {
				t.Fatalf("error %v is not ErrPathSyntax", err)
			}
			return
		}
		if p.attr == "" {
			t.Fatalf("compiled path %q has no attribute", path)
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(body)))
		dec.UseNumber()
		var res map[string]any
		if dec.Decode(&res) != nil {
			return
		}
		got := p.eval(res)
		for _, v := range got {
			if v == "" {
				t.Fatalf("eval(%q) returned an empty string", path)
			}
		}
		if again := p.eval(res); !reflect.DeepEqual(got, again) {
			t.Fatalf("eval(%q) is not deterministic: %q then %q", path, got, again)
		}
	})
}
