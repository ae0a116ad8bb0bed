package attributes

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTransforms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ts    []Transform
		in    []string
		multi bool
		want  []string
		stat  Status
	}{
		{"none keeps first", nil, []string{"A", "B"}, false, []string{"A"}, StatusMapped},
		{"lower", []Transform{{Op: OpLower}}, []string{"Ada@Example.COM"}, false, []string{"ada@example.com"}, StatusMapped},
		{"upper", []Transform{{Op: OpUpper}}, []string{"fr"}, false, []string{"FR"}, StatusMapped},
		{"first", []Transform{{Op: OpFirst}}, []string{"a", "b"}, true, []string{"a"}, StatusMapped},
		{"split", []Transform{{Op: OpSplit, Arg: ";"}}, []string{"a; b;;c ", "d"}, true, []string{"a", "b", "c", "d"}, StatusMapped},
		{"split then first", []Transform{{Op: OpSplit, Arg: ","}, {Op: OpFirst}}, []string{"x,y"}, true, []string{"x"}, StatusMapped},
		{"join", []Transform{{Op: OpJoin, Arg: ", "}}, []string{"a", "b"}, false, []string{"a, b"}, StatusMapped},
		{"split then join", []Transform{{Op: OpSplit, Arg: "|"}, {Op: OpJoin, Arg: "+"}}, []string{"a|b|c"}, false, []string{"a+b+c"}, StatusMapped},
		{"email keeps addresses", []Transform{{Op: OpEmail}}, []string{"opaque-id-123", "Ada <ada@x.test>", "ada@x.test"}, false, []string{"ada@x.test"}, StatusMapped},
		{"email drops all", []Transform{{Op: OpEmail}}, []string{"not an address"}, false, nil, StatusMissing},
		{"default unused", []Transform{{Op: OpDefault, Arg: "Member"}}, []string{"x"}, false, []string{"x"}, StatusMapped},
		{"default used", []Transform{{Op: OpDefault, Arg: "n/a"}}, nil, false, []string{"n/a"}, StatusDefault},
		{"default after email drops", []Transform{{Op: OpEmail}, {Op: OpDefault, Arg: "nobody@x.test"}}, []string{"zzz"}, false, []string{"nobody@x.test"}, StatusDefault},
		{"values trimmed, empty dropped", nil, []string{"  ", " v "}, false, []string{"v"}, StatusMapped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Rule{SAML: []string{"a"}, Transforms: tc.ts}
			m := Mapping{Custom: map[string]Rule{"f": r}}
			if tc.multi {
				m = Mapping{Groups: &r}
			}
			c, err := m.Compile()
			if err != nil {
				t.Fatal(err)
			}
			p, tr, err := c.FromSAML("", map[string][]string{"a": tc.in})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			field := "custom.f"
			if tc.multi {
				got, field = p.Groups, FieldGroups
			} else if v, ok := p.Custom["f"]; ok {
				got = []string{v}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			ft, _ := tr.Field(field)
			if ft.Status != tc.stat {
				t.Errorf("status %q, want %q (%+v)", ft.Status, tc.stat, ft)
			}
		})
	}
}

func TestCandidatesInOrderAndTrace(t *testing.T) {
	m := Mapping{Email: &Rule{
		SAML:       []string{"email", "mail", SourceNameID},
		SCIM:       []string{"emails[primary eq true].value", "userName"},
		Transforms: []Transform{{Op: OpEmail}},
		Required:   ptr(true),
	}}
	// "email" is present but not an address: the next candidate is used.
	p, tr, err := m.FromSAML("opaque", map[string][]string{"email": {"n/a"}, "MAIL": {"ada@x.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Email != "ada@x.test" {
		t.Errorf("email = %q", p.Email)
	}
	ft, _ := tr.Field(FieldEmail)
	if ft.Source != "saml:mail" || !reflect.DeepEqual(ft.Tried, []string{"saml:email"}) || ft.Status != StatusMapped {
		t.Errorf("trace = %+v", ft)
	}
	// NameID as the last resort.
	p, tr, err = m.FromSAML("ada@x.test", nil)
	if err != nil || p.Email != "ada@x.test" {
		t.Fatalf("email from NameID = %q, %v", p.Email, err)
	}
	if ft, _ := tr.Field(FieldEmail); ft.Source != "saml:NameID" {
		t.Errorf("source = %q", ft.Source)
	}
	// SCIM: primary missing, userName is an address.
	p, tr, err = m.FromSCIM(map[string]any{"userName": "ada@x.test", "emails": []any{map[string]any{"value": "home@x.test"}}})
	if err != nil || p.Email != "ada@x.test" {
		t.Fatalf("email = %q, %v", p.Email, err)
	}
	if ft, _ := tr.Field(FieldEmail); ft.Source != "scim:userName" {
		t.Errorf("source = %q", ft.Source)
	}
}

func TestTemplate(t *testing.T) {
	m := Mapping{
		GivenName:   &Rule{SAML: []string{"g"}},
		FamilyName:  &Rule{SAML: []string{"f"}},
		DisplayName: &Rule{SAML: []string{"d"}, Template: ptr("{givenName} {familyName}")},
		Custom:      map[string]Rule{"handle": {Template: ptr("@{displayName}"), Transforms: []Transform{{Op: OpLower}}}},
	}
	for _, tc := range []struct {
		name    string
		attrs   map[string][]string
		display string
		status  Status
		handle  string
	}{
		{"source wins", map[string][]string{"d": {"Babs"}, "g": {"Barbara"}}, "Babs", StatusMapped, "@babs"},
		{"template", map[string][]string{"g": {"Barbara"}, "f": {"Jensen"}}, "Barbara Jensen", StatusTemplate, "@barbara jensen"},
		{"one part", map[string][]string{"f": {"Jensen"}}, "Jensen", StatusTemplate, "@jensen"},
		{"nothing", nil, "", StatusMissing, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, tr, err := m.FromSAML("", tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if p.DisplayName != tc.display {
				t.Errorf("displayName = %q, want %q", p.DisplayName, tc.display)
			}
			if ft, _ := tr.Field(FieldDisplayName); ft.Status != tc.status {
				t.Errorf("status = %q, want %q", ft.Status, tc.status)
			}
			if p.Custom["handle"] != tc.handle {
				t.Errorf("handle = %q, want %q", p.Custom["handle"], tc.handle)
			}
		})
	}
}

func TestRolePrecedence(t *testing.T) {
	rules := []RoleRule{
		{Group: "okta-admins", Role: "Admin"},
		{Group: "Billing", Role: "Billing"},
		{Group: "everyone", Role: "member"},
	}
	for _, tc := range []struct {
		name   string
		rules  []RoleRule
		def    string
		groups []string
		want   string
		source string
	}{
		{"no groups: default Member", rules, "", nil, RoleMember, "defaultRole"},
		{"first rule wins over later", rules, "", []string{"everyone", "Billing", "okta-admins"}, RoleAdmin, "roleRules[0]"},
		{"second rule", rules, "", []string{"everyone", "billing"}, "Billing", "roleRules[1]"},
		{"case-insensitive group, canonical role", rules, "", []string{"EVERYONE"}, RoleMember, "roleRules[2]"},
		{"unmatched groups: default", rules, "", []string{"other"}, RoleMember, "defaultRole"},
		{"custom default", nil, "viewer", []string{"x"}, "viewer", "defaultRole"},
		{"default admin canonicalised", nil, " ADMIN ", nil, RoleAdmin, "defaultRole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Mapping{Groups: &Rule{SAML: []string{"groups"}}, RoleRules: tc.rules, DefaultRole: tc.def}
			p, tr, err := m.FromSAML("n", map[string][]string{"groups": tc.groups})
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != tc.want {
				t.Errorf("role = %q, want %q", p.Role, tc.want)
			}
			if ft, _ := tr.Field(FieldRole); ft.Source != tc.source {
				t.Errorf("role source = %q, want %q", ft.Source, tc.source)
			}
			c, _ := m.Compile()
			if got := c.Role(tc.groups); got != tc.want {
				t.Errorf("Compiled.Role = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMissingRequiredFields(t *testing.T) {
	m, _ := Preset(PresetOkta)
	m.Custom = map[string]Rule{"employeeNumber": {
		SAML: []string{"employeeNumber"}, SCIM: []string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"},
		Required: ptr(true),
	}}
	t.Run("SAML: no email anywhere, opaque NameID", func(t *testing.T) {
		p, tr, err := m.FromSAML("00u1abcd", map[string][]string{"firstName": {"Ada"}, "employeeNumber": {"7"}})
		var mf *MissingFieldError
		if !errors.As(err, &mf) {
			t.Fatalf("error = %v, want *MissingFieldError", err)
		}
		if mf.Field != FieldEmail || mf.Side != SideSAML {
			t.Errorf("missing = %+v", mf)
		}
		if !reflect.DeepEqual(mf.Sources, []string{"saml:email", "saml:" + claimEmail, "saml:NameID"}) {
			t.Errorf("sources = %q", mf.Sources)
		}
		if strings.Contains(err.Error(), "00u1abcd") || strings.Contains(err.Error(), "Ada") {
			t.Errorf("error text leaks values: %v", err)
		}
		if p.GivenName != "Ada" || p.UserName != "00u1abcd" {
			t.Errorf("partial profile not returned: %+v", p)
		}
		// displayName is not missing: its template makes "Ada" of the given name.
		if got := tr.Missing(); !reflect.DeepEqual(got, []string{FieldEmail, FieldFamilyName, FieldGroups}) {
			t.Errorf("missing = %q", got)
		}
	})
	t.Run("SCIM: two required fields missing", func(t *testing.T) {
		_, _, err := m.FromSCIM(map[string]any{"name": map[string]any{"givenName": "Ada"}})
		var fields []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var mf *MissingFieldError
			if !errors.As(e, &mf) || mf.Side != SideSCIM {
				t.Fatalf("error %v is not a SCIM *MissingFieldError", e)
			}
			fields = append(fields, mf.Field)
		}
		if want := []string{FieldEmail, FieldUserName, "custom.employeeNumber"}; !reflect.DeepEqual(fields, want) {
			t.Errorf("missing fields = %q, want %q", fields, want)
		}
	})
	t.Run("nil resource", func(t *testing.T) {
		if _, _, err := m.FromSCIM(nil); err == nil {
			t.Fatal("want an error for an empty resource")
		}
	})
	t.Run("optional fields may be missing", func(t *testing.T) {
		if _, _, err := m.FromSAML("ada@x.test", map[string][]string{"employeeNumber": {"7"}}); err != nil {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     Mapping
		field string
		msg   string
	}{
		{"bad SCIM path", Mapping{Email: &Rule{SCIM: []string{"emails[type eq]"}}}, "email", "scim[0]"},
		{"groups[] syntax", Mapping{Groups: &Rule{SCIM: []string{"groups[].display"}}}, "groups", "scim[0]"},
		{"unknown transform", Mapping{Email: &Rule{SAML: []string{"e"}, Transforms: []Transform{{Op: "titlecase"}}}}, "email", "unknown transform"},
		{"split without separator", Mapping{Groups: &Rule{SAML: []string{"g"}, Transforms: []Transform{{Op: OpSplit}}}}, "groups", "separator"},
		{"default without value", Mapping{Custom: map[string]Rule{"x": {SAML: []string{"x"}, Transforms: []Transform{{Op: OpDefault}}}}}, "custom.x", "default"},
		{"lower with argument", Mapping{Email: &Rule{SAML: []string{"e"}, Transforms: []Transform{{Op: OpLower, Arg: "x"}}}}, "email", "no argument"},
		{"required without SAML source", Mapping{Email: &Rule{SCIM: []string{"userName"}, Required: ptr(true)}}, "email", "no SAML source"},
		{"required without SCIM source", Mapping{UserName: &Rule{SAML: []string{SourceNameID}, SCIM: []string{}, Required: ptr(true)}}, "userName", "no SCIM source"},
		{"empty SAML name", Mapping{Email: &Rule{SAML: []string{" "}}}, "email", "saml[0] is empty"},
		{"empty role", Mapping{RoleRules: []RoleRule{{Group: "g", Role: "Admin"}, {Group: "g2", Role: " "}}}, "roleRules[1]", "role is empty"},
		{"empty group", Mapping{RoleRules: []RoleRule{{Group: "", Role: "Admin"}}}, "roleRules[0]", "group is empty"},
		{"blank default role", Mapping{DefaultRole: "  "}, "defaultRole", "blank"},
		{"bad custom name", Mapping{Custom: map[string]Rule{"9lives": {SAML: []string{"x"}}}}, "custom.9lives", "custom field names"},
		{"unknown ownership", Mapping{Ownership: "idp"}, "ownership", "unknown ownership"},
		{"template unknown placeholder", Mapping{DisplayName: &Rule{Template: ptr("{nickName}")}}, "displayName", "unknown placeholder"},
		{"template forward reference", Mapping{GivenName: &Rule{Template: ptr("{displayName}")}}, "givenName", "unknown placeholder"},
		{"template unbalanced", Mapping{DisplayName: &Rule{Template: ptr("{givenName")}}, "displayName", "unmatched"},
		{"groups template", Mapping{Groups: &Rule{SAML: []string{"g"}, Template: ptr("{email}")}}, "groups", "template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want *ValidationError", err)
			}
			found := false
			for _, p := range ve.Problems {
				if p.Field == tc.field && strings.Contains(p.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem %q on %s in %+v", tc.msg, tc.field, ve.Problems)
			}
			if _, _, err := tc.m.FromSAML("n", nil); !errors.As(err, &ve) {
				t.Errorf("FromSAML on an invalid mapping = %v, want *ValidationError", err)
			}
		})
	}
	t.Run("all problems at once", func(t *testing.T) {
		m := Mapping{
			Email:     &Rule{SCIM: []string{"a[", "b]"}},
			RoleRules: []RoleRule{{}},
			Ownership: "x",
		}
		var ve *ValidationError
		if !errors.As(m.Validate(), &ve) || len(ve.Problems) != 5 {
			t.Fatalf("want 5 problems, got %v", m.Validate())
		}
	})
	t.Run("unknown role names are fine", func(t *testing.T) {
		m := Mapping{RoleRules: []RoleRule{{Group: "g", Role: "Auditor"}}, DefaultRole: "Viewer"}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOverlay(t *testing.T) {
	preset, _ := Preset(PresetOkta)
	presetCopy, _ := Preset(PresetOkta)
	overrides := Mapping{
		Email:       &Rule{SAML: []string{"mail"}},
		GivenName:   &Rule{SCIM: []string{}},
		DisplayName: &Rule{Template: ptr("")},
		Groups:      &Rule{Transforms: []Transform{{Op: OpLower}}},
		Custom:      map[string]Rule{"department": {SCIM: []string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}}},
		RoleRules:   []RoleRule{{Group: "admins", Role: RoleAdmin}},
		Ownership:   OwnershipAssertion,
	}
	got := Overlay(preset, overrides)
	if !reflect.DeepEqual(preset, presetCopy) {
		t.Fatal("Overlay modified the preset")
	}
	if !reflect.DeepEqual(got.Email.SAML, []string{"mail"}) || !reflect.DeepEqual(got.Email.SCIM, preset.Email.SCIM) ||
		!reflect.DeepEqual(got.Email.Transforms, preset.Email.Transforms) || !got.Email.required() {
		t.Errorf("email not merged field by field: %+v", got.Email)
	}
	if got.GivenName.SCIM == nil || len(got.GivenName.SCIM) != 0 || !reflect.DeepEqual(got.GivenName.SAML, preset.GivenName.SAML) {
		t.Errorf("an empty list should clear the SCIM side only: %+v", got.GivenName)
	}
	if got.DisplayName.Template == nil || *got.DisplayName.Template != "" {
		t.Errorf("template not cleared: %+v", got.DisplayName)
	}
	if !reflect.DeepEqual(got.Groups.SAML, preset.Groups.SAML) || len(got.Groups.Transforms) != 1 {
		t.Errorf("groups: %+v", got.Groups)
	}
	if _, ok := got.Custom["department"]; !ok {
		t.Error("custom field not added")
	}
	if len(got.RoleRules) != 1 || got.Ownership != OwnershipAssertion {
		t.Errorf("role rules / ownership: %+v %q", got.RoleRules, got.Ownership)
	}
	if !reflect.DeepEqual(Overlay(preset, Mapping{}), preset) {
		t.Error("empty overrides should give the preset back")
	}
	// Role rules: nil inherits, empty clears.
	withRules := Overlay(preset, Mapping{RoleRules: []RoleRule{{Group: "a", Role: "Admin"}}})
	if len(Overlay(withRules, Mapping{}).RoleRules) != 1 {
		t.Error("nil role rules should inherit")
	}
	if r := Overlay(withRules, Mapping{RoleRules: []RoleRule{}}).RoleRules; r == nil || len(r) != 0 {
		t.Errorf("empty role rules should clear, got %#v", r)
	}
	// Overlay output must not alias the overrides.
	overrides.Email.SAML[0] = "changed"
	if got.Email.SAML[0] != "mail" {
		t.Error("Overlay result aliases the overrides")
	}
}

func TestMappingJSONKeepsAbsentApartFromEmpty(t *testing.T) {
	in := `{"email":{"saml":[],"template":""},"givenName":{"required":false},"roleRules":[]}`
	m, err := ParseMapping([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Email.SAML == nil || m.Email.SCIM != nil || m.Email.Template == nil || m.GivenName.Required == nil || m.RoleRules == nil {
		t.Fatalf("decoded %+v %+v %#v", m.Email, m.GivenName, m.RoleRules)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseMapping(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip lost information:\n%s\n%+v\n%+v", out, back, m)
	}
	if out, _ := json.Marshal(Mapping{}); string(out) != "{}" {
		t.Errorf("zero mapping marshals to %s", out)
	}
	if m, err := ParseMapping(nil); err != nil || !reflect.DeepEqual(m, Mapping{}) {
		t.Errorf("empty input: %+v %v", m, err)
	}
	for _, bad := range []string{`{"email":{"saml":"email"}}`, `{"roleRules":[{"group":"a","role":"b","x":1}]}`, `{} {}`, `[]`} {
		if _, err := ParseMapping([]byte(bad)); err == nil {
			t.Errorf("ParseMapping(%s) succeeded", bad)
		}
	}
}

func TestSAMLAttributeNamesMatchCaseInsensitively(t *testing.T) {
	m := Mapping{GivenName: &Rule{SAML: []string{"firstName"}}}
	p, _, err := m.FromSAML("", map[string][]string{"FIRSTNAME": {"b"}, "firstname": {"a"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.GivenName != "a" && p.GivenName != "b" {
		t.Fatalf("givenName = %q", p.GivenName)
	}
	// Deterministic: the first name in byte order ("FIRSTNAME" < "firstname").
	for i := 0; i < 20; i++ {
		q, _, _ := m.FromSAML("", map[string][]string{"FIRSTNAME": {"b"}, "firstname": {"a"}})
		if q.GivenName != "b" {
			t.Fatalf("run %d: givenName = %q, want b", i, q.GivenName)
		}
	}
	// An exact match wins.
	p, _, _ = m.FromSAML("", map[string][]string{"FIRSTNAME": {"b"}, "firstName": {"exact"}})
	if p.GivenName != "exact" {
		t.Errorf("givenName = %q, want the exact match", p.GivenName)
	}
}

// TestCompiledIsSafeForConcurrentUse runs one Compiled from many goroutines (run
// with -race to make it mean something).
func TestCompiledIsSafeForConcurrentUse(t *testing.T) {
	m, _ := Preset(PresetGeneric)
	m.RoleRules = []RoleRule{{Group: "Employees", Role: RoleAdmin}}
	c, err := m.Compile()
	if err != nil {
		t.Fatal(err)
	}
	res := scimResource(t, pathTestUser)
	want, _, err := c.FromSCIM(res)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			for j := 0; j < 50; j++ {
				got, _, err := c.FromSCIM(res)
				if err == nil && !reflect.DeepEqual(got, want) {
					err = errors.New("profile differs between calls")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if want.Role != RoleAdmin {
		t.Errorf("role = %q", want.Role)
	}
}
