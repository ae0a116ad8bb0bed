package attributes

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
)

// Status says how a field got its value.
type Status string

const (
	StatusMapped   Status = "mapped"   // from a SAML attribute, the NameID or a SCIM path
	StatusTemplate Status = "template" // built from other fields by the rule's template
	StatusDefault  Status = "default"  // the rule's default value, or the default role
	StatusRule     Status = "rule"     // the role, from a role rule
	StatusMissing  Status = "missing"  // no value
)

// FieldTrace records how one profile field was produced. It names sources, never
// values, so it is safe to log.
type FieldTrace struct {
	Field    string `json:"field"`
	Status   Status `json:"status"`
	Required bool   `json:"required,omitempty"`
	// Source is what produced the value: "saml:<attribute name>", "saml:NameID",
	// "scim:<path>", "template:<template>", "default", "roleRules[<i>]" or
	// "defaultRole".
	Source string `json:"source,omitempty"`
	// Tried lists the sources that were tried before Source, or all of them when
	// the field is missing.
	Tried []string `json:"tried,omitempty"`
	// Transforms lists the transforms applied.
	Transforms []string `json:"transforms,omitempty"`
	Note       string   `json:"note,omitempty"`
}

// Trace records, field by field in a fixed order, how a profile was produced.
type Trace []FieldTrace

// Field returns the trace of one field ("email", "custom.department", "role").
func (t Trace) Field(name string) (FieldTrace, bool) {
	for _, f := range t {
		if f.Field == name {
			return f, true
		}
	}
	return FieldTrace{}, false
}

// Missing returns the names of the fields that got no value, in trace order.
func (t Trace) Missing() []string {
	var out []string
	for _, f := range t {
		if f.Status == StatusMissing {
			out = append(out, f.Field)
		}
	}
	return out
}

// Sides of a mapping.
const (
	SideSAML = "saml"
	SideSCIM = "scim"
)

// MissingFieldError reports a required field that no source filled. It carries
// the field, the side (SideSAML or SideSCIM) and the sources tried, never values.
// Find it with errors.As; several missing fields are reported with errors.Join.
type MissingFieldError struct {
	Field   string
	Side    string
	Sources []string
}

func (e *MissingFieldError) Error() string {
	side := "SAML"
	if e.Side == SideSCIM {
		side = "SCIM"
	}
	if len(e.Sources) == 0 {
		return fmt.Sprintf("attributes: required field %q has no %s source", e.Field, side)
	}
	return fmt.Sprintf("attributes: required field %q not found in %s (tried %s)", e.Field, side, strings.Join(e.Sources, ", "))
}

// FromSAML maps a SAML assertion's NameID and attribute statement (attribute
// Name → values) to a Profile. See (*Compiled).FromSAML.
func (m Mapping) FromSAML(nameID string, attrs map[string][]string) (Profile, Trace, error) {
	c, err := m.Compile()
	if err != nil {
		return Profile{}, nil, err
	}
	return c.FromSAML(nameID, attrs)
}

// FromSCIM maps a SCIM User resource (decoded JSON) to a Profile. See
// (*Compiled).FromSCIM.
func (m Mapping) FromSCIM(resource map[string]any) (Profile, Trace, error) {
	c, err := m.Compile()
	if err != nil {
		return Profile{}, nil, err
	}
	return c.FromSCIM(resource)
}

// FromSAML maps a SAML assertion's NameID and attribute statement to a Profile.
// Attribute names match exactly, else case-insensitively; values are trimmed of
// surrounding white space and empty ones dropped. The profile and trace are
// returned even when a required field is missing, together with the
// *MissingFieldError(s), so that callers can show what was found.
func (c *Compiled) FromSAML(nameID string, attrs map[string][]string) (Profile, Trace, error) {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	source := func(cr compiledRule) []candidate {
		out := make([]candidate, 0, len(cr.rule.SAML))
		for _, name := range cr.rule.SAML {
			cand := candidate{label: SideSAML + ":" + name}
			if name == SourceNameID {
				cand.values = cleanValues([]string{nameID})
			} else {
				cand.values = cleanValues(samlValues(attrs, keys, name))
			}
			out = append(out, cand)
		}
		return out
	}
	return c.apply(SideSAML, source)
}

// samlValues looks an attribute up by name: exactly, else case-insensitively
// (the first such name in byte order).
func samlValues(attrs map[string][]string, sortedKeys []string, name string) []string {
	if v, ok := attrs[name]; ok {
		return v
	}
	for _, k := range sortedKeys {
		if strings.EqualFold(k, name) {
			return attrs[k]
		}
	}
	return nil
}

// FromSCIM maps a SCIM User resource, as decoded by encoding/json (with or
// without UseNumber), to a Profile. Path rules are those of the SCIM path
// evaluator (see doc.go). Like FromSAML, it returns the partial profile and trace
// with any *MissingFieldError.
func (c *Compiled) FromSCIM(resource map[string]any) (Profile, Trace, error) {
	source := func(cr compiledRule) []candidate {
		out := make([]candidate, 0, len(cr.scim))
		for _, p := range cr.scim {
			var vals []string
			if resource != nil {
				vals = p.eval(resource)
			}
			out = append(out, candidate{label: SideSCIM + ":" + p.String(), values: cleanValues(vals)})
		}
		return out
	}
	return c.apply(SideSCIM, source)
}

type candidate struct {
	label  string
	values []string
}

func cleanValues(in []string) []string {
	var out []string
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// apply runs every rule of c on one side.
func (c *Compiled) apply(side string, sources func(compiledRule) []candidate) (Profile, Trace, error) {
	var (
		p     Profile
		trace Trace
		errs  []error
	)
	values := map[string]string{}
	run := func(field string, cr compiledRule, multi bool) []string {
		vals, ft := evalRule(field, cr, sources(cr), values, multi)
		trace = append(trace, ft)
		if ft.Status == StatusMissing && cr.rule.required() {
			errs = append(errs, &MissingFieldError{Field: field, Side: side, Sources: ft.Tried})
		}
		return vals
	}
	for _, f := range stringFields() {
		cr, ok := c.fields[f]
		if !ok {
			continue
		}
		if vals := run(f, cr, false); len(vals) > 0 {
			values[f] = vals[0]
		}
	}
	p.Email, p.UserName = values[FieldEmail], values[FieldUserName]
	p.GivenName, p.FamilyName, p.DisplayName = values[FieldGivenName], values[FieldFamilyName], values[FieldDisplayName]
	if cr, ok := c.fields[FieldGroups]; ok {
		p.Groups = dedupe(run(FieldGroups, cr, true))
	}
	for _, name := range c.custom {
		if vals := run("custom."+name, c.fields["custom."+name], false); len(vals) > 0 {
			if p.Custom == nil {
				p.Custom = map[string]string{}
			}
			p.Custom[name] = vals[0]
		}
	}
	var rt FieldTrace
	p.Role, rt = c.role(p.Groups)
	trace = append(trace, rt)
	return p, trace, errors.Join(errs...)
}

// evalRule evaluates one rule. Candidates are tried in order; each one's values
// go through the transforms (default excepted) and the first with a value left
// wins. Then the template, then the default.
func evalRule(field string, cr compiledRule, cands []candidate, known map[string]string, multi bool) ([]string, FieldTrace) {
	ft := FieldTrace{Field: field, Required: cr.rule.required()}
	var def *Transform
	for i, t := range cr.rule.Transforms {
		if t.Op == OpDefault {
			if def == nil {
				def = &cr.rule.Transforms[i]
			}
			continue
		}
		ft.Transforms = append(ft.Transforms, t.String())
	}
	finish := func(vals []string, status Status, src string) ([]string, FieldTrace) {
		ft.Status, ft.Source = status, src
		if !multi && len(vals) > 1 {
			ft.Note = fmt.Sprintf("first of %d values", len(vals))
			vals = vals[:1]
		}
		return vals, ft
	}
	for _, cand := range cands {
		if vals := transform(cr.rule.Transforms, cand.values); len(vals) > 0 {
			return finish(vals, StatusMapped, cand.label)
		}
		ft.Tried = append(ft.Tried, cand.label)
	}
	if len(cr.template) > 0 {
		if v, ok := expand(cr.template, known); ok {
			if vals := transform(cr.rule.Transforms, []string{v}); len(vals) > 0 {
				return finish(vals, StatusTemplate, "template:"+*cr.rule.Template)
			}
		}
		ft.Tried = append(ft.Tried, "template:"+*cr.rule.Template)
	}
	if def != nil {
		return finish([]string{def.Arg}, StatusDefault, "default")
	}
	ft.Status, ft.Transforms = StatusMissing, nil
	return nil, ft
}

// transform runs the pipeline (default excepted) on a copy of vals.
func transform(ts []Transform, vals []string) []string {
	out := slices.Clone(vals)
	for _, t := range ts {
		switch t.Op {
		case OpLower:
			for i := range out {
				out[i] = strings.ToLower(out[i])
			}
		case OpUpper:
			for i := range out {
				out[i] = strings.ToUpper(out[i])
			}
		case OpFirst:
			if len(out) > 1 {
				out = out[:1]
			}
		case OpSplit:
			var parts []string
			for _, v := range out {
				parts = append(parts, strings.Split(v, t.Arg)...)
			}
			out = cleanValues(parts)
		case OpJoin:
			if len(out) > 0 {
				out = []string{strings.Join(out, t.Arg)}
			}
		case OpEmail:
			kept := out[:0]
			for _, v := range out {
				if isBareAddress(v) {
					kept = append(kept, v)
				}
			}
			out = kept
		}
	}
	return out
}

// isBareAddress reports whether s is an addr-spec like "a@b.example", without a
// display name or angle brackets.
func isBareAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1
}

// expand fills a template. It fails when every placeholder is empty.
func expand(parts []templatePart, known map[string]string) (string, bool) {
	var b strings.Builder
	filled := false
	for _, p := range parts {
		if p.field == "" {
			b.WriteString(p.lit)
			continue
		}
		if v := known[p.field]; v != "" {
			filled = true
			b.WriteString(v)
		}
	}
	if !filled {
		return "", false
	}
	return strings.Join(strings.Fields(b.String()), " "), true
}

func dedupe(in []string) []string {
	var out []string
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Role returns the role the mapping's rules give to a member of groups: the
// first rule, in order, whose group is among groups (case-insensitively); else
// the default role (RoleMember unless the mapping says otherwise). Admin and
// Member are returned in canonical spelling.
func (c *Compiled) Role(groups []string) string {
	r, _ := c.role(groups)
	return r
}

func (c *Compiled) role(groups []string) (string, FieldTrace) {
	for i, rr := range c.m.RoleRules {
		for _, g := range groups {
			if strings.EqualFold(strings.TrimSpace(rr.Group), g) {
				return CanonicalRole(rr.Role), FieldTrace{
					Field: FieldRole, Status: StatusRule, Source: fmt.Sprintf("roleRules[%d]", i),
					Note: fmt.Sprintf("member of group %q", rr.Group),
				}
			}
		}
	}
	def := RoleMember
	if c.m.DefaultRole != "" {
		def = CanonicalRole(c.m.DefaultRole)
	}
	return def, FieldTrace{Field: FieldRole, Status: StatusDefault, Source: "defaultRole"}
}
