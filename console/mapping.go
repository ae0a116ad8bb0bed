package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// blankRoleRows is how many empty group-to-role rows the form offers for
// new rules (no script needed to add one).
const blankRoleRows = 2

// mappingField is a standard profile field the form maps field by field.
type mappingField struct {
	Name, Label string
	rule        func(*attributes.Mapping) **attributes.Rule
}

func mappingFields() []mappingField {
	return []mappingField{
		{attributes.FieldEmail, "Email", func(m *attributes.Mapping) **attributes.Rule { return &m.Email }},
		{attributes.FieldUserName, "User name", func(m *attributes.Mapping) **attributes.Rule { return &m.UserName }},
		{attributes.FieldGivenName, "Given name", func(m *attributes.Mapping) **attributes.Rule { return &m.GivenName }},
		{attributes.FieldFamilyName, "Family name", func(m *attributes.Mapping) **attributes.Rule { return &m.FamilyName }},
		{attributes.FieldDisplayName, "Display name", func(m *attributes.Mapping) **attributes.Rule { return &m.DisplayName }},
		{attributes.FieldGroups, "Groups", func(m *attributes.Mapping) **attributes.Rule { return &m.Groups }},
	}
}

// mappingRow is one field of the overrides form.
type mappingRow struct {
	Field, Label           string
	PresetSAML, PresetSCIM string
	// SAML and SCIM are the overrides, comma-separated; empty inherits the
	// preset's sources.
	SAML, SCIM string
	// Extra describes what the field has besides sources (transforms, a
	// template, required), from the preset or overrides.
	Extra string
	Error string
}

// roleRow is a group-to-role rule of the form.
type roleRow struct {
	Group, Role, Error string
}

// previewRow is a field of the previewed user.
type previewRow struct {
	Field, Value, How string
	Missing, Required bool
}

// mappingData is the data of mapping.html.
type mappingData struct {
	frame
	Conn    admin.Connection
	Tab     string
	Mapping admin.Mapping
	Presets []string
	Rows    []mappingRow
	// OverrideRoles replaces the preset's group-to-role rules with Roles.
	OverrideRoles     bool
	PresetRoles       []attributes.RoleRule
	Roles             []roleRow
	DefaultRole       string
	PresetDefaultRole string
	// Errors are the problems not shown next to a row.
	Errors        map[string]string
	Input         string
	Preview       *admin.Preview
	PreviewRows   []previewRow
	PreviewError  string
	OverridesJSON string
	JSONError     string
	EffectiveJSON string
}

// mapping is GET /admin/{org}/sso/{conn}/mapping.
func (cn *Console) mapping(c echo.Context, p *req) error {
	d, err := cn.mappingPage(c, p, c.Param("conn"))
	if err != nil {
		return err
	}
	d.Notice = notice(c)
	if err := d.fillFromStored(); err != nil {
		return err
	}
	return cn.render(c, http.StatusOK, "mapping", d)
}

// mappingPage reads what every state of the mapping page shows.
func (cn *Console) mappingPage(c echo.Context, p *req, slug string) (mappingData, error) {
	ctx := c.Request().Context()
	conn, err := cn.svc.Connection(ctx, p.actor, slug)
	if err != nil {
		return mappingData{}, err
	}
	m, err := cn.svc.Mapping(ctx, p.actor, slug)
	if err != nil {
		return mappingData{}, err
	}
	d := mappingData{frame: cn.frame(p, "Attribute mapping · "+conn.Name, "sso"), Conn: conn, Tab: "mapping", Mapping: m,
		Presets: attributes.PresetNames(), Errors: map[string]string{}}
	if m.Effective != nil {
		if b, err := json.MarshalIndent(m.Effective, "", "  "); err == nil {
			d.EffectiveJSON = string(b)
		}
	}
	d.OverridesJSON = indentJSON(m.Overrides)
	return d, nil
}

// indentJSON pretty-prints overrides for the JSON editor ("" for none).
func indentJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// fillFromStored sets the form's rows from the stored preset and overrides.
func (d *mappingData) fillFromStored() error {
	preset, err := attributes.Preset(d.Mapping.Preset)
	if err != nil {
		return fmt.Errorf("console: preset %q: %w", d.Mapping.Preset, err)
	}
	over, err := attributes.ParseMapping(d.Mapping.Overrides)
	if err != nil {
		over = attributes.Mapping{} // a stored mapping that does not parse: the page says so (Mapping.Problem)
	}
	for _, f := range mappingFields() {
		row := mappingRow{Field: f.Name, Label: f.Label}
		if r := *f.rule(&preset); r != nil {
			row.PresetSAML, row.PresetSCIM = strings.Join(r.SAML, ", "), strings.Join(r.SCIM, ", ")
		}
		if r := *f.rule(&over); r != nil {
			if r.SAML != nil {
				row.SAML = strings.Join(r.SAML, ", ")
			}
			if r.SCIM != nil {
				row.SCIM = strings.Join(r.SCIM, ", ")
			}
		}
		if d.Mapping.Effective != nil {
			eff := *d.Mapping.Effective
			if r := *f.rule(&eff); r != nil {
				row.Extra = ruleExtra(*r)
			}
		}
		d.Rows = append(d.Rows, row)
	}
	d.PresetRoles, d.PresetDefaultRole = preset.RoleRules, preset.DefaultRole
	if over.RoleRules != nil {
		d.OverrideRoles = true
		for _, rr := range over.RoleRules {
			d.Roles = append(d.Roles, roleRow{Group: rr.Group, Role: rr.Role})
		}
	}
	d.DefaultRole = over.DefaultRole
	d.padRoles()
	return nil
}

func (d *mappingData) padRoles() {
	for range blankRoleRows {
		d.Roles = append(d.Roles, roleRow{})
	}
}

// ruleExtra describes a rule's transforms, template and required flag.
func ruleExtra(r attributes.Rule) string {
	var parts []string
	if r.Required != nil && *r.Required {
		parts = append(parts, "required")
	}
	if r.Template != nil && *r.Template != "" {
		parts = append(parts, "else "+*r.Template)
	}
	for _, t := range r.Transforms {
		parts = append(parts, t.String())
	}
	return strings.Join(parts, " · ")
}

// mappingForm reads the overrides form into the page (rows as typed) and
// returns the mapping input it stands for: the stored overrides with the
// form's sources, role rules and default role put in. roleIndex maps the
// index of a role rule sent to the service to its row.
func (d *mappingData) mappingForm(r *http.Request) (admin.MappingInput, []int, error) {
	if err := d.fillFromStored(); err != nil {
		return admin.MappingInput{}, nil, err
	}
	over, err := attributes.ParseMapping(d.Mapping.Overrides)
	if err != nil {
		over = attributes.Mapping{}
	}
	for i, f := range mappingFields() {
		row := &d.Rows[i]
		row.SAML = strings.TrimSpace(r.PostFormValue("saml_" + f.Name))
		row.SCIM = strings.TrimSpace(r.PostFormValue("scim_" + f.Name))
		rp := f.rule(&over)
		rule := attributes.Rule{}
		if *rp != nil {
			rule = **rp
		}
		rule.SAML, rule.SCIM = nil, nil
		if row.SAML != "" {
			rule.SAML = splitList(row.SAML)
		}
		if row.SCIM != "" {
			rule.SCIM = splitList(row.SCIM)
		}
		if rule.SAML == nil && rule.SCIM == nil && rule.Transforms == nil && rule.Template == nil && rule.Required == nil {
			*rp = nil
		} else {
			*rp = &rule
		}
	}
	d.OverrideRoles = r.PostFormValue("override_roles") == "on"
	d.Roles = nil
	groups, roles := r.PostForm["role_group"], r.PostForm["role_role"]
	var index []int
	over.RoleRules = nil
	if d.OverrideRoles {
		over.RoleRules = []attributes.RoleRule{}
	}
	for i := range groups {
		row := roleRow{Group: strings.TrimSpace(groups[i])}
		if i < len(roles) {
			row.Role = strings.TrimSpace(roles[i])
		}
		if row.Group == "" && row.Role == "" {
			continue
		}
		d.Roles = append(d.Roles, row)
		if d.OverrideRoles {
			over.RoleRules = append(over.RoleRules, attributes.RoleRule{Group: row.Group, Role: row.Role})
			index = append(index, len(d.Roles)-1)
		}
	}
	d.padRoles()
	d.DefaultRole = strings.TrimSpace(r.PostFormValue("default_role"))
	over.DefaultRole = d.DefaultRole
	raw, err := json.Marshal(over)
	if err != nil {
		return admin.MappingInput{}, nil, fmt.Errorf("console: encode overrides: %w", err)
	}
	if string(raw) == "{}" {
		raw = nil
	}
	return admin.MappingInput{Preset: d.Mapping.Preset, Overrides: raw}, index, nil
}

// placeErrors puts the service's field errors next to the rows they name;
// the rest go to Errors (shown at the top of the form).
func (d *mappingData) placeErrors(fields map[string]string, roleIndex []int) {
	for k, msg := range fields {
		key := strings.TrimPrefix(strings.TrimPrefix(k, "mapping."), "overrides.")
		switch i, list := indexOf(key); {
		case key == "input":
			d.PreviewError = msg
		case list == "roleRules" && i >= 0 && i < len(roleIndex):
			d.Roles[roleIndex[i]].Error = msg
		default:
			placed := false
			for r := range d.Rows {
				if d.Rows[r].Field == key {
					d.Rows[r].Error, placed = msg, true
				}
			}
			if !placed {
				d.Errors[key] = msg
			}
		}
	}
}

// postMapping is the overrides form: op=preview runs the form's (unsaved)
// mapping on the pasted input; op=save saves it.
func (cn *Console) postMapping(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	r := c.Request()
	slug := c.Param("conn")
	d, err := cn.mappingPage(c, p, slug)
	if err != nil {
		return err
	}
	if v := r.PostFormValue("version"); v != "" && v != d.Mapping.Version {
		d.Error = "Someone changed this mapping after you opened the page. Your edits are below, on top of the current mapping; check them and Save again."
	}
	in, roleIndex, err := d.mappingForm(r)
	if err != nil {
		return err
	}
	d.Input = r.PostFormValue("input")
	if r.PostFormValue("op") == "preview" {
		pv, err := cn.svc.Preview(ctx, p.actor, slug, admin.PreviewInput{Input: d.Input, Mapping: &in})
		if fields, ok := validation(err); ok {
			d.placeErrors(fields, roleIndex)
			return cn.render(c, http.StatusBadRequest, "mapping", d)
		}
		if err != nil {
			return err
		}
		d.Preview, d.PreviewRows = &pv, previewRows(pv)
		return cn.render(c, http.StatusOK, "mapping", d)
	}
	if d.Error != "" {
		return cn.render(c, http.StatusConflict, "mapping", d)
	}
	_, err = cn.svc.SetMapping(ctx, p.actor, slug, in, d.Mapping.Version)
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "sso", slug, "mapping"), "mapping", "")
	}
	fields, ok := validation(err)
	if !ok {
		return err
	}
	d.placeErrors(fields, roleIndex)
	d.Error = "Nothing was saved: correct the fields marked below."
	return cn.render(c, http.StatusBadRequest, "mapping", d)
}

// previewRows lists the previewed user's fields in the trace's order.
func previewRows(pv admin.Preview) []previewRow {
	var out []previewRow
	for _, t := range pv.Trace {
		row := previewRow{Field: t.Field, Value: profileValue(pv.Profile, t.Field), Required: t.Required, Missing: t.Status == attributes.StatusMissing}
		switch t.Status {
		case attributes.StatusMissing:
			row.How = "missing"
			if len(t.Tried) > 0 {
				row.How += " (tried " + strings.Join(t.Tried, ", ") + ")"
			}
		default:
			row.How = describeSource(t.Source, t.Status)
			if len(t.Transforms) > 0 {
				row.How += " · " + strings.Join(t.Transforms, ", ")
			}
		}
		out = append(out, row)
	}
	return out
}

// describeSource says in words where a previewed field came from (the
// trace's Source: "saml:<name>", "scim:<path>", "template:<t>", "default",
// "roleRules[i]", "defaultRole").
func describeSource(source string, status attributes.Status) string {
	switch {
	case source == "saml:"+attributes.SourceNameID:
		return "SAML NameID"
	case strings.HasPrefix(source, "saml:"):
		return "SAML attribute " + strings.TrimPrefix(source, "saml:")
	case strings.HasPrefix(source, "scim:"):
		return "SCIM " + strings.TrimPrefix(source, "scim:")
	case strings.HasPrefix(source, "template:"):
		return "template " + strings.TrimPrefix(source, "template:")
	case strings.HasPrefix(source, "roleRules["):
		if i, list := indexOf(source); list == "roleRules" {
			return fmt.Sprintf("group-to-role rule %d", i+1)
		}
	case source == "defaultRole":
		return "default role"
	case source != "":
		return source
	}
	return string(status)
}

func profileValue(p attributes.Profile, field string) string {
	switch field {
	case attributes.FieldEmail:
		return p.Email
	case attributes.FieldUserName:
		return p.UserName
	case attributes.FieldGivenName:
		return p.GivenName
	case attributes.FieldFamilyName:
		return p.FamilyName
	case attributes.FieldDisplayName:
		return p.DisplayName
	case attributes.FieldGroups:
		return strings.Join(p.Groups, ", ")
	case attributes.FieldRole:
		return p.Role
	}
	if name, ok := strings.CutPrefix(field, "custom."); ok {
		return p.Custom[name]
	}
	return ""
}

// postPreset is the preset form: switch to another preset.
func (cn *Console) postPreset(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	r := c.Request()
	slug := c.Param("conn")
	_, err := cn.svc.ChoosePreset(ctx, p.actor, slug, r.PostFormValue("preset"), r.PostFormValue("keep_overrides") == "on", r.PostFormValue("version"))
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "sso", slug, "mapping"), "preset", "")
	}
	fields, isValidation := validation(err)
	if !isValidation && !errors.Is(err, store.ErrVersionMismatch) {
		return err
	}
	d, derr := cn.mappingPage(c, p, slug)
	if derr != nil {
		return derr
	}
	if ferr := d.fillFromStored(); ferr != nil {
		return ferr
	}
	status := http.StatusConflict
	d.Error = "Someone changed this mapping after you opened the page; nothing was changed. Check it and apply the preset again."
	if isValidation {
		status = http.StatusBadRequest
		d.Error = "The preset was not applied: " + joinFields(fields)
	}
	return cn.render(c, status, "mapping", d)
}

// postMappingJSON saves the overrides as typed in the JSON editor.
func (cn *Console) postMappingJSON(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	r := c.Request()
	slug := c.Param("conn")
	raw := strings.TrimSpace(r.PostFormValue("overrides"))
	in := admin.MappingInput{Preset: r.PostFormValue("preset")}
	var err error
	if raw != "" {
		var v any
		if jerr := json.Unmarshal([]byte(raw), &v); jerr != nil {
			err = &admin.ValidationError{Fields: map[string]string{"overrides": "not JSON: " + strings.TrimPrefix(jerr.Error(), "json: ")}}
		}
		in.Overrides = json.RawMessage(raw)
	}
	if err == nil {
		_, err = cn.svc.SetMapping(ctx, p.actor, slug, in, r.PostFormValue("version"))
	}
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "sso", slug, "mapping"), "mapping", "")
	}
	fields, isValidation := validation(err)
	if !isValidation && !errors.Is(err, store.ErrVersionMismatch) {
		return err
	}
	d, derr := cn.mappingPage(c, p, slug)
	if derr != nil {
		return derr
	}
	if ferr := d.fillFromStored(); ferr != nil {
		return ferr
	}
	d.OverridesJSON = raw
	status := http.StatusConflict
	d.JSONError = "Someone changed this mapping after you opened the page. Nothing was saved."
	if isValidation {
		status = http.StatusBadRequest
		d.JSONError = joinFields(fields)
	}
	d.Error = "Nothing was saved: see the overrides (JSON) below."
	return cn.render(c, status, "mapping", d)
}

// joinFields lists field errors as one sentence, in a stable order.
func joinFields(fields map[string]string) string {
	err := &admin.ValidationError{Fields: fields}
	return strings.TrimPrefix(err.Error(), "admin: invalid input: ")
}
