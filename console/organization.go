package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/orgconfig"
	"github.com/onramp-dev/onramp/store"
)

// entry is one item of an access control list being edited.
type entry struct {
	Value string // a domain, or a connection's slug
	Name  string // a connection's name
	Error string
}

// onboardingForm is the User onboarding section being edited: a draft that
// travels in the form (hidden fields) until the final Save.
type onboardingForm struct {
	Version           string
	JITEmailDomains   bool
	JITSSOConnections bool
	Domains           []entry
	Connections       []entry
	// AddingDomain shows the domain field (after Add domain).
	AddingDomain   bool
	NewDomain      string
	NewDomainError string
	// AddingConnection shows the choice of connections (after Select
	// connection).
	AddingConnection   bool
	NewConnection      string
	NewConnectionError string
	// Choices are the connections not in the list yet.
	Choices []admin.Connection
}

// organizationData is the data of organization.html.
type organizationData struct {
	frame
	Onboarding admin.Onboarding
	// Names maps connection slugs to names.
	Names   map[string]string
	Editing bool
	Form    onboardingForm
	Action  string
}

func connectionNames(conns []admin.Connection) map[string]string {
	m := make(map[string]string, len(conns))
	for _, c := range conns {
		m[c.Slug] = c.Name
	}
	return m
}

// organization is GET /admin/{org}/organization (?edit=onboarding opens the
// User onboarding section for editing).
func (cn *Console) organization(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	ob, err := cn.svc.Onboarding(ctx, p.actor)
	if err != nil {
		return err
	}
	conns, err := cn.svc.ListConnections(ctx, p.actor)
	if err != nil {
		return err
	}
	d := organizationData{
		frame: cn.frame(p, "Organization", "organization"), Onboarding: ob, Names: connectionNames(conns),
		Editing: c.QueryParam("edit") == "onboarding", Action: orgPath(p.actor.Org().Slug, "organization", "onboarding"),
	}
	d.Notice = notice(c)
	if d.Editing {
		d.Title = "Edit user onboarding"
		d.Form = onboardingForm{Version: ob.Version, JITEmailDomains: ob.JIT.EmailDomains, JITSSOConnections: ob.JIT.SSOConnections}
		for _, dom := range ob.AccessControl.EmailDomains {
			d.Form.Domains = append(d.Form.Domains, entry{Value: dom})
		}
		for _, s := range ob.AccessControl.SSOConnections {
			d.Form.Connections = append(d.Form.Connections, entry{Value: s, Name: d.Names[s]})
		}
		d.Form.Choices = choices(conns, d.Form.Connections)
	}
	return cn.render(c, http.StatusOK, "organization", d)
}

// choices are the connections that are not in list.
func choices(conns []admin.Connection, list []entry) []admin.Connection {
	var out []admin.Connection
	for _, c := range conns {
		if !slices.ContainsFunc(list, func(e entry) bool { return e.Value == c.Slug }) {
			out = append(out, c)
		}
	}
	return out
}

// postOnboarding is the User onboarding form. Every button but the final
// Save (op=save) edits the draft and shows it again, writing nothing:
//
//	add-domain, save-domain, cancel-domain, remove-domain:N
//	select-connection, save-connection, cancel-connection, remove-connection:N
//	enter   implicit submission (Enter in the domain field): save-domain
//	save    applies the section through admin.Service.UpdateOnboarding
func (cn *Console) postOnboarding(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	r := c.Request()
	conns, err := cn.svc.ListConnections(ctx, p.actor)
	if err != nil {
		return err
	}
	names := connectionNames(conns)
	f := onboardingForm{
		Version:           r.PostFormValue("version"),
		JITEmailDomains:   r.PostFormValue("jit_email_domains") == "on",
		JITSSOConnections: r.PostFormValue("jit_sso_connections") == "on",
		AddingDomain:      r.PostFormValue("adding_domain") != "",
		NewDomain:         strings.TrimSpace(r.PostFormValue("new_domain")),
		AddingConnection:  r.PostFormValue("adding_connection") != "",
		NewConnection:     r.PostFormValue("new_connection"),
	}
	for _, v := range r.PostForm["domain"] {
		f.Domains = append(f.Domains, entry{Value: v})
	}
	for _, v := range r.PostForm["connection"] {
		f.Connections = append(f.Connections, entry{Value: v, Name: names[v]})
	}
	d := organizationData{
		frame: cn.frame(p, "Edit user onboarding", "organization"), Names: names, Editing: true,
		Action: orgPath(p.actor.Org().Slug, "organization", "onboarding"),
	}
	status := http.StatusOK
	op := r.PostFormValue("op")
	if op == "enter" && f.AddingDomain {
		op = "save-domain"
	}
	switch {
	case op == "add-domain":
		f.AddingDomain = true
	case op == "cancel-domain":
		f.AddingDomain, f.NewDomain = false, ""
	case op == "save-domain":
		if f.saveDomain() {
			status = http.StatusBadRequest
		}
	case op == "select-connection":
		f.AddingConnection = true
	case op == "cancel-connection":
		f.AddingConnection, f.NewConnection = false, ""
	case op == "save-connection":
		if f.saveConnection(names) {
			status = http.StatusBadRequest
		}
	case strings.HasPrefix(op, "remove-domain:"):
		f.Domains = remove(f.Domains, strings.TrimPrefix(op, "remove-domain:"))
	case strings.HasPrefix(op, "remove-connection:"):
		f.Connections = remove(f.Connections, strings.TrimPrefix(op, "remove-connection:"))
	case op == "save":
		done, st, err := cn.applyOnboarding(c, p, &f, &d)
		if err != nil || done {
			return err
		}
		status = st
	}
	f.Choices = choices(conns, f.Connections)
	d.Form = f
	return cn.render(c, status, "organization", d)
}

// saveDomain adds the typed domain to the draft; it reports a problem (shown
// next to the field) as true.
func (f *onboardingForm) saveDomain() bool {
	dom, problem := orgconfig.NormalizeDomain(f.NewDomain)
	switch {
	case problem != "":
		f.NewDomainError = problem
	case slices.ContainsFunc(f.Domains, func(e entry) bool { return e.Value == dom }):
		f.NewDomainError = dom + " is already in the list"
	default:
		f.Domains = append(f.Domains, entry{Value: dom})
		f.AddingDomain, f.NewDomain = false, ""
		return false
	}
	return true
}

// saveConnection adds the chosen connection to the draft; it reports a
// problem as true.
func (f *onboardingForm) saveConnection(names map[string]string) bool {
	name, ok := names[f.NewConnection]
	switch {
	case f.NewConnection == "":
		f.NewConnectionError = "Choose a connection"
	case !ok:
		f.NewConnectionError = "This connection no longer exists"
	case slices.ContainsFunc(f.Connections, func(e entry) bool { return e.Value == f.NewConnection }):
		f.NewConnectionError = name + " is already in the list"
	default:
		f.Connections = append(f.Connections, entry{Value: f.NewConnection, Name: name})
		f.AddingConnection, f.NewConnection = false, ""
		return false
	}
	return true
}

// remove drops the entry at index (a form value); a bad index changes nothing.
func remove(list []entry, index string) []entry {
	i, err := strconv.Atoi(index)
	if err != nil || i < 0 || i >= len(list) {
		return list
	}
	return slices.Delete(list, i, i+1)
}

// applyOnboarding is the final Save. A domain typed or a connection chosen
// but not saved into its list yet is applied too. It returns done when the
// answer (a redirect) is written; otherwise the form is shown again with
// status and its errors.
func (cn *Console) applyOnboarding(c echo.Context, p *req, f *onboardingForm, d *organizationData) (bool, int, error) {
	ctx := c.Request().Context()
	in := admin.Onboarding{JIT: admin.JIT{EmailDomains: f.JITEmailDomains, SSOConnections: f.JITSSOConnections}}
	in.AccessControl.EmailDomains = []string{}
	in.AccessControl.SSOConnections = []string{}
	for _, e := range f.Domains {
		in.AccessControl.EmailDomains = append(in.AccessControl.EmailDomains, e.Value)
	}
	for _, e := range f.Connections {
		in.AccessControl.SSOConnections = append(in.AccessControl.SSOConnections, e.Value)
	}
	pendingDomain, pendingConn := -1, -1
	if f.AddingDomain && f.NewDomain != "" {
		pendingDomain = len(in.AccessControl.EmailDomains)
		in.AccessControl.EmailDomains = append(in.AccessControl.EmailDomains, f.NewDomain)
	}
	if f.AddingConnection && f.NewConnection != "" {
		pendingConn = len(in.AccessControl.SSOConnections)
		in.AccessControl.SSOConnections = append(in.AccessControl.SSOConnections, f.NewConnection)
	}
	_, err := cn.svc.UpdateOnboarding(ctx, p.actor, in, f.Version)
	if err == nil {
		return true, 0, seeOther(c, orgPath(p.actor.Org().Slug, "organization"), "onboarding", "user-onboarding")
	}
	if errors.Is(err, store.ErrVersionMismatch) {
		cur, rerr := cn.svc.Onboarding(ctx, p.actor)
		if rerr != nil {
			return false, 0, rerr
		}
		f.Version = cur.Version
		d.Error = "Someone changed the user onboarding settings after you started editing. Your edits are still below; check them and Save again to replace the current settings."
		return false, http.StatusConflict, nil
	}
	fields, ok := validation(err)
	if !ok {
		return false, 0, err
	}
	for k, msg := range fields {
		switch i, list := indexOf(k); list {
		case "accessControl.emailDomains":
			switch {
			case i == pendingDomain:
				f.NewDomainError = msg
			case i >= 0 && i < len(f.Domains):
				f.Domains[i].Error = msg
			default:
				d.Error = joinError(d.Error, "Email domains: "+msg)
			}
		case "accessControl.ssoConnections":
			switch {
			case i == pendingConn:
				f.NewConnectionError = msg
			case i >= 0 && i < len(f.Connections):
				f.Connections[i].Error = msg
			default:
				d.Error = joinError(d.Error, "SSO connections: "+msg)
			}
		default:
			d.Error = joinError(d.Error, msg)
		}
	}
	if d.Error == "" {
		d.Error = "Nothing was saved: correct the entries marked below."
	}
	return false, http.StatusBadRequest, nil
}

// indexOf splits a field path like "accessControl.emailDomains[2]" into 2
// and "accessControl.emailDomains"; without an index it returns -1.
func indexOf(field string) (int, string) {
	open := strings.LastIndexByte(field, '[')
	if open < 0 || !strings.HasSuffix(field, "]") {
		return -1, field
	}
	i, err := strconv.Atoi(field[open+1 : len(field)-1])
	if err != nil {
		return -1, field
	}
	return i, field[:open]
}

func joinError(a, b string) string {
	if a == "" {
		return b
	}
	return fmt.Sprintf("%s %s", a, b)
}
