package attributes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SourceNameID is the SAML source that stands for the assertion's Subject NameID
// rather than an attribute. It is matched exactly (an attribute literally named
// "NameID" is shadowed).
const SourceNameID = "NameID"

// Field names, as used in JSON, traces and errors. Custom fields appear as
// "custom.<name>".
const (
	FieldEmail       = "email"
	FieldUserName    = "userName"
	FieldGivenName   = "givenName"
	FieldFamilyName  = "familyName"
	FieldDisplayName = "displayName"
	FieldGroups      = "groups"
	FieldRole        = "role"
)

// stringFields are the single-valued profile fields in evaluation order. A
// template may only refer to fields before its own.
func stringFields() []string {
	return []string{FieldEmail, FieldUserName, FieldGivenName, FieldFamilyName, FieldDisplayName}
}

// Mapping says how one SSO connection's SAML assertions and SCIM resources map to
// a Profile. The zero value maps nothing; start from a Preset. Mappings are plain
// values, stored per connection as JSON (store.Connection.Mapping holds the
// admin's overrides, store.Connection.MappingPreset the preset name; Resolve
// combines them).
type Mapping struct {
	Email       *Rule `json:"email,omitempty"`
	UserName    *Rule `json:"userName,omitempty"`
	GivenName   *Rule `json:"givenName,omitempty"`
	FamilyName  *Rule `json:"familyName,omitempty"`
	DisplayName *Rule `json:"displayName,omitempty"`
	// Groups is multi-valued: every value found is kept (deduplicated, in order).
	Groups *Rule `json:"groups,omitempty"`
	// Custom maps custom profile field names to rules (single-valued; add a join
	// transform to keep several values).
	Custom map[string]Rule `json:"custom,omitempty"`
	// RoleRules decide Profile.Role from Profile.Groups: the first rule, in order,
	// whose group the user is in wins. A nil list inherits the preset's rules in
	// Overlay; an empty list clears them.
	RoleRules []RoleRule `json:"-"`
	// DefaultRole is the role when no rule matches; empty means RoleMember.
	DefaultRole string `json:"defaultRole,omitempty"`
	// Ownership says who owns the profile fields of accounts of this connection;
	// empty means DefaultOwnership(connection has a SCIM token).
	Ownership Ownership `json:"ownership,omitempty"`
}

// Rule maps one profile field.
//
// Evaluation: the SAML (or SCIM) candidates are tried in order and the first that
// yields a non-empty value wins; if none does and Template is set, the template is
// expanded; then Transforms run in order. A single-valued field takes the first
// remaining value. If nothing remains the field is missing, which is an error
// when Required is set.
//
// In Overlay, a nil list or pointer inherits the preset's value and a non-nil one
// (even empty) replaces it; Rule's JSON form keeps that difference ("saml": []
// clears, an absent "saml" inherits).
type Rule struct {
	// SAML lists candidate attribute names (the Name of a saml:Attribute, exactly,
	// else case-insensitively) or SourceNameID.
	SAML []string
	// SCIM lists candidate attribute paths, e.g. emails[primary eq true].value.
	SCIM []string
	// Transforms run in order on the values found.
	Transforms []Transform
	// Template builds the value from fields evaluated earlier when no source
	// yields one: "{givenName} {familyName}". Placeholders: email, userName,
	// givenName, familyName (and displayName for custom fields). Runs of spaces
	// left by empty placeholders collapse; an all-empty expansion is no value.
	Template *string
	// Required makes a missing value an error (*MissingFieldError).
	Required *bool
}

// ruleJSON is Rule's wire form: pointers keep "absent" apart from "empty".
type ruleJSON struct {
	SAML       *[]string    `json:"saml,omitempty"`
	SCIM       *[]string    `json:"scim,omitempty"`
	Transforms *[]Transform `json:"transforms,omitempty"`
	Template   *string      `json:"template,omitempty"`
	Required   *bool        `json:"required,omitempty"`
}

// MarshalJSON writes nil lists as absent and empty lists as [].
func (r Rule) MarshalJSON() ([]byte, error) {
	var w ruleJSON
	if r.SAML != nil {
		w.SAML = &r.SAML
	}
	if r.SCIM != nil {
		w.SCIM = &r.SCIM
	}
	if r.Transforms != nil {
		w.Transforms = &r.Transforms
	}
	w.Template, w.Required = r.Template, r.Required
	return json.Marshal(w)
}

// UnmarshalJSON reads the form MarshalJSON writes; unknown keys are errors.
func (r *Rule) UnmarshalJSON(data []byte) error {
	var w ruleJSON
	if err := strictUnmarshal(data, &w); err != nil {
		return err
	}
	*r = Rule{Template: w.Template, Required: w.Required}
	if w.SAML != nil {
		r.SAML = nonNil(*w.SAML)
	}
	if w.SCIM != nil {
		r.SCIM = nonNil(*w.SCIM)
	}
	if w.Transforms != nil {
		r.Transforms = *w.Transforms
		if r.Transforms == nil {
			r.Transforms = []Transform{}
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (r Rule) required() bool { return r.Required != nil && *r.Required }

// Transform operations.
const (
	OpLower   = "lower"   // lower-case every value
	OpUpper   = "upper"   // upper-case every value
	OpFirst   = "first"   // keep only the first value
	OpSplit   = "split"   // split every value at Arg (required), drop empty parts
	OpJoin    = "join"    // join all values into one with Arg as separator
	OpDefault = "default" // if there is no value, use Arg (required, non-empty)
	OpEmail   = "email"   // drop values that are not a bare email address
)

// Transform is one step of a rule's pipeline, e.g. {"op":"split","arg":";"}.
type Transform struct {
	Op  string `json:"op"`
	Arg string `json:"arg,omitempty"`
}

func (t Transform) String() string {
	if t.Arg == "" {
		return t.Op
	}
	return fmt.Sprintf("%s(%q)", t.Op, t.Arg)
}

// RoleRule gives Role to members of Group (compared case-insensitively).
type RoleRule struct {
	Group string `json:"group"`
	Role  string `json:"role"`
}

// mappingJSON is Mapping's wire form; RoleRules is a pointer so that an absent
// list (inherit) and an empty one (clear) survive a round trip.
type mappingJSON struct {
	Email       *Rule           `json:"email,omitempty"`
	UserName    *Rule           `json:"userName,omitempty"`
	GivenName   *Rule           `json:"givenName,omitempty"`
	FamilyName  *Rule           `json:"familyName,omitempty"`
	DisplayName *Rule           `json:"displayName,omitempty"`
	Groups      *Rule           `json:"groups,omitempty"`
	Custom      map[string]Rule `json:"custom,omitempty"`
	RoleRules   *[]RoleRule     `json:"roleRules,omitempty"`
	DefaultRole string          `json:"defaultRole,omitempty"`
	Ownership   Ownership       `json:"ownership,omitempty"`
}

// MarshalJSON writes the mapping; a nil RoleRules is absent, an empty one [].
func (m Mapping) MarshalJSON() ([]byte, error) {
	w := mappingJSON{
		Email: m.Email, UserName: m.UserName, GivenName: m.GivenName, FamilyName: m.FamilyName,
		DisplayName: m.DisplayName, Groups: m.Groups, Custom: m.Custom,
		DefaultRole: m.DefaultRole, Ownership: m.Ownership,
	}
	if m.RoleRules != nil {
		w.RoleRules = &m.RoleRules
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the form MarshalJSON writes; unknown keys are errors.
func (m *Mapping) UnmarshalJSON(data []byte) error {
	var w mappingJSON
	if err := strictUnmarshal(data, &w); err != nil {
		return err
	}
	*m = Mapping{
		Email: w.Email, UserName: w.UserName, GivenName: w.GivenName, FamilyName: w.FamilyName,
		DisplayName: w.DisplayName, Groups: w.Groups, Custom: w.Custom,
		DefaultRole: w.DefaultRole, Ownership: w.Ownership,
	}
	if w.RoleRules != nil {
		m.RoleRules = *w.RoleRules
		if m.RoleRules == nil {
			m.RoleRules = []RoleRule{}
		}
	}
	return nil
}

// ParseMapping decodes a mapping (or a set of overrides) from JSON, rejecting
// unknown keys so that a typo fails loudly. Empty input is the zero Mapping. It
// does not validate; see Validate.
func ParseMapping(data []byte) (Mapping, error) {
	var m Mapping
	if len(bytes.TrimSpace(data)) == 0 {
		return m, nil
	}
	if err := strictUnmarshal(data, &m); err != nil {
		return Mapping{}, fmt.Errorf("attributes: parse mapping: %w", err)
	}
	return m, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// Resolve returns the effective mapping of a connection: the named preset
// (empty name: PresetGeneric) overlaid with the overrides stored as JSON
// (empty: none), validated.
func Resolve(preset string, overrides []byte) (Mapping, error) {
	if preset == "" {
		preset = PresetGeneric
	}
	base, err := Preset(preset)
	if err != nil {
		return Mapping{}, err
	}
	o, err := ParseMapping(overrides)
	if err != nil {
		return Mapping{}, err
	}
	m := Overlay(base, o)
	if err := m.Validate(); err != nil {
		return Mapping{}, err
	}
	return m, nil
}

// Overlay returns preset with the admin's overrides applied, field by field:
//
//   - a standard field rule in overrides is merged into the preset's: each of
//     SAML, SCIM, Transforms, Template and Required replaces the preset's when it
//     is set (non-nil; an empty list clears), and is inherited otherwise;
//   - custom fields in overrides replace the preset's of the same name;
//   - RoleRules replace the preset's when non-nil (order is precedence, so lists
//     are never merged);
//   - DefaultRole and Ownership replace the preset's when non-empty.
//
// Neither argument is modified.
func Overlay(preset, overrides Mapping) Mapping {
	out := preset.clone()
	out.Email = mergeRule(out.Email, overrides.Email)
	out.UserName = mergeRule(out.UserName, overrides.UserName)
	out.GivenName = mergeRule(out.GivenName, overrides.GivenName)
	out.FamilyName = mergeRule(out.FamilyName, overrides.FamilyName)
	out.DisplayName = mergeRule(out.DisplayName, overrides.DisplayName)
	out.Groups = mergeRule(out.Groups, overrides.Groups)
	if len(overrides.Custom) > 0 {
		if out.Custom == nil {
			out.Custom = make(map[string]Rule, len(overrides.Custom))
		}
		for k, r := range overrides.Custom {
			out.Custom[k] = r.clone()
		}
	}
	if overrides.RoleRules != nil {
		out.RoleRules = append([]RoleRule{}, overrides.RoleRules...)
	}
	if overrides.DefaultRole != "" {
		out.DefaultRole = overrides.DefaultRole
	}
	if overrides.Ownership != "" {
		out.Ownership = overrides.Ownership
	}
	return out
}

func mergeRule(base, o *Rule) *Rule {
	if o == nil {
		if base == nil {
			return nil
		}
		c := base.clone()
		return &c
	}
	var r Rule
	if base != nil {
		r = base.clone()
	}
	oc := o.clone()
	if oc.SAML != nil {
		r.SAML = oc.SAML
	}
	if oc.SCIM != nil {
		r.SCIM = oc.SCIM
	}
	if oc.Transforms != nil {
		r.Transforms = oc.Transforms
	}
	if oc.Template != nil {
		r.Template = oc.Template
	}
	if oc.Required != nil {
		r.Required = oc.Required
	}
	return &r
}

func (r Rule) clone() Rule {
	c := Rule{}
	if r.SAML != nil {
		c.SAML = append([]string{}, r.SAML...)
	}
	if r.SCIM != nil {
		c.SCIM = append([]string{}, r.SCIM...)
	}
	if r.Transforms != nil {
		c.Transforms = append([]Transform{}, r.Transforms...)
	}
	if r.Template != nil {
		t := *r.Template
		c.Template = &t
	}
	if r.Required != nil {
		b := *r.Required
		c.Required = &b
	}
	return c
}

func (m Mapping) clone() Mapping {
	out := Mapping{DefaultRole: m.DefaultRole, Ownership: m.Ownership}
	for _, p := range []struct {
		dst **Rule
		src *Rule
	}{
		{&out.Email, m.Email}, {&out.UserName, m.UserName}, {&out.GivenName, m.GivenName},
		{&out.FamilyName, m.FamilyName}, {&out.DisplayName, m.DisplayName}, {&out.Groups, m.Groups},
	} {
		if p.src != nil {
			c := p.src.clone()
			*p.dst = &c
		}
	}
	if m.Custom != nil {
		out.Custom = make(map[string]Rule, len(m.Custom))
		for k, r := range m.Custom {
			out.Custom[k] = r.clone()
		}
	}
	if m.RoleRules != nil {
		out.RoleRules = append([]RoleRule{}, m.RoleRules...)
	}
	return out
}

// rule returns the rule of a standard field, or nil.
func (m Mapping) rule(field string) *Rule {
	switch field {
	case FieldEmail:
		return m.Email
	case FieldUserName:
		return m.UserName
	case FieldGivenName:
		return m.GivenName
	case FieldFamilyName:
		return m.FamilyName
	case FieldDisplayName:
		return m.DisplayName
	case FieldGroups:
		return m.Groups
	}
	return nil
}

// FieldProblem is one thing wrong with a mapping.
type FieldProblem struct {
	Field   string `json:"field"` // "email", "custom.department", "roleRules[2]", "ownership"
	Message string `json:"message"`
}

// ValidationError lists every problem found in a mapping, so that an admin sees
// them all at once. Find it with errors.As.
type ValidationError struct {
	Problems []FieldProblem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "attributes: invalid mapping: " + strings.Join(parts, "; ")
}

// validCustomName limits custom field names to what is safe as a JSON key, a
// column label and a template placeholder: a letter, then up to 63 letters,
// digits, '_', '.' or '-'.
func validCustomName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// Validate reports every problem in m as a *ValidationError, or nil.
func (m Mapping) Validate() error {
	_, err := m.Compile()
	return err
}

// Compiled is a validated mapping with its SCIM paths parsed, ready to apply many
// times. It is immutable and safe for concurrent use.
type Compiled struct {
	m      Mapping
	fields map[string]compiledRule // standard fields and "custom.<name>"
	custom []string                // custom field names, sorted
}

type compiledRule struct {
	rule     Rule
	scim     []scimPath
	template []templatePart
}

// Compile validates m and prepares it for use.
func (m Mapping) Compile() (*Compiled, error) {
	var problems []FieldProblem
	add := func(field, format string, args ...any) {
		problems = append(problems, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	c := &Compiled{m: m.clone(), fields: map[string]compiledRule{}}
	compile := func(field string, r Rule, earlier []string) {
		cr := compiledRule{rule: r}
		for i, s := range r.SAML {
			if strings.TrimSpace(s) == "" {
				add(field, "saml[%d] is empty", i)
			}
		}
		for i, s := range r.SCIM {
			p, err := compileSCIMPath(s)
			if err != nil {
				add(field, "scim[%d]: %v", i, err)
				continue
			}
			cr.scim = append(cr.scim, p)
		}
		hasDefault := false
		for i, t := range r.Transforms {
			switch t.Op {
			case OpLower, OpUpper, OpFirst, OpEmail:
				if t.Arg != "" {
					add(field, "transforms[%d]: %q takes no argument", i, t.Op)
				}
			case OpSplit:
				if t.Arg == "" {
					add(field, "transforms[%d]: split needs a separator in arg", i)
				}
			case OpJoin:
			case OpDefault:
				if strings.TrimSpace(t.Arg) == "" {
					add(field, "transforms[%d]: default needs a non-empty arg", i)
				}
				hasDefault = true
			default:
				add(field, "transforms[%d]: unknown transform %q (known: lower, upper, first, split, join, default, email)", i, t.Op)
			}
		}
		if r.Template != nil && *r.Template != "" {
			parts, err := parseTemplate(*r.Template, earlier)
			if err != nil {
				add(field, "template: %v", err)
			}
			cr.template = parts
		}
		if r.required() && !hasDefault && len(cr.template) == 0 {
			if len(r.SAML) == 0 {
				add(field, "required but has no SAML source")
			}
			if len(r.SCIM) == 0 {
				add(field, "required but has no SCIM source")
			}
		}
		c.fields[field] = cr
	}
	order := stringFields()
	for i, f := range order {
		if r := m.rule(f); r != nil {
			compile(f, *r, order[:i])
		}
	}
	if m.Groups != nil {
		if m.Groups.Template != nil && *m.Groups.Template != "" {
			add(FieldGroups, "groups cannot have a template")
		}
		compile(FieldGroups, *m.Groups, nil)
	}
	for name, r := range m.Custom {
		if !validCustomName(name) {
			add("custom."+name, "custom field names start with a letter and use letters, digits, '_', '.', '-' (at most 64)")
			continue
		}
		compile("custom."+name, r, order)
		c.custom = append(c.custom, name)
	}
	slices.Sort(c.custom)
	for i, rr := range m.RoleRules {
		field := fmt.Sprintf("roleRules[%d]", i)
		if strings.TrimSpace(rr.Group) == "" {
			add(field, "group is empty")
		}
		if strings.TrimSpace(rr.Role) == "" {
			add(field, "role is empty")
		}
	}
	if m.DefaultRole != "" && strings.TrimSpace(m.DefaultRole) == "" {
		add("defaultRole", "role is blank")
	}
	switch m.Ownership {
	case "", OwnershipAssertion, OwnershipSCIM:
	default:
		add("ownership", "unknown ownership %q (known: assertion, scim)", m.Ownership)
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b FieldProblem) int { return strings.Compare(a.Field, b.Field) })
		return nil, &ValidationError{Problems: problems}
	}
	return c, nil
}

// Mapping returns a copy of the mapping c was compiled from.
func (c *Compiled) Mapping() Mapping { return c.m.clone() }

// templatePart is a literal or a placeholder of a template.
type templatePart struct {
	lit   string
	field string
}

func parseTemplate(s string, allowed []string) ([]templatePart, error) {
	var parts []templatePart
	for s != "" {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			parts = append(parts, templatePart{lit: s})
			break
		}
		if s[i] == '}' {
			return nil, errors.New("unmatched '}'")
		}
		if i > 0 {
			parts = append(parts, templatePart{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, errors.New("unmatched '{'")
		}
		name := s[i+1 : i+j]
		ok := false
		for _, a := range allowed {
			if a == name {
				ok = true
			}
		}
		if !ok {
			return nil, fmt.Errorf("unknown placeholder {%s} (allowed here: %s)", name, strings.Join(allowed, ", "))
		}
		parts = append(parts, templatePart{field: name})
		s = s[i+j+1:]
	}
	return parts, nil
}
