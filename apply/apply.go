package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/onramp-dev/onramp/store"
)

// Store is the part of store.Store that Apply writes to.
type Store interface {
	store.Orgs
	store.Connections
}

// Actor is the audit actor of every write Apply makes.
const Actor = "operator"

// Action says what Apply did to one entity.
type Action string

// Actions.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
)

// Kinds of entity in a Change.
const (
	KindOrganization = "organization"
	KindConnection   = "connection"
)

// Change is what Apply did to one declared entity.
type Change struct {
	Kind   string   // KindOrganization or KindConnection
	Org    string   // the organization's slug
	Slug   string   // the connection's slug; "" for an organization
	Action Action   // created, updated or unchanged
	Fields []string // for updates: the YAML names of the fields that changed
}

// Result lists a Change per declared entity, in file order.
type Result struct {
	Changes []Change
}

// Changed reports whether Apply wrote anything.
func (r Result) Changed() bool {
	return slices.ContainsFunc(r.Changes, func(c Change) bool { return c.Action != Unchanged })
}

// Count returns how many entities of a kind got an action.
func (r Result) Count(kind string, a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Kind == kind && c.Action == a {
			n++
		}
	}
	return n
}

// WriteSummary writes one line per entity and a count per kind.
func (r Result) WriteSummary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range r.Changes {
		name := c.Org
		if c.Kind == KindConnection {
			name = c.Org + "/" + c.Slug
		}
		action := string(c.Action)
		if len(c.Fields) > 0 {
			action += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Kind, name, action)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("apply: write summary: %w", err)
	}
	for _, kind := range []string{KindOrganization, KindConnection} {
		if _, err := fmt.Fprintf(w, "%ss: %d created, %d updated, %d unchanged\n", kind,
			r.Count(kind, Created), r.Count(kind, Updated), r.Count(kind, Unchanged)); err != nil {
			return fmt.Errorf("apply: write summary: %w", err)
		}
	}
	return nil
}

// Apply makes the store hold cfg's organizations and connections. It writes only
// what differs, so applying the same Config twice writes nothing the second time.
// On error, the Result says what had been applied before it.
func Apply(ctx context.Context, st Store, cfg *Config) (Result, error) {
	var res Result
	for _, oc := range cfg.Orgs {
		changes, err := applyOrg(ctx, st, oc)
		res.Changes = append(res.Changes, changes...)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func event(action string, fields []string) store.AuditEvent {
	ev := store.AuditEvent{Actor: Actor, Action: action}
	if len(fields) > 0 {
		ev.Detail = map[string]string{"fields": strings.Join(fields, ",")}
	}
	return ev
}

// applyOrg creates or updates one organization and its connections. A new
// organization is created without the connections of its access control list
// (they do not exist yet); the list is completed once the connections are written.
func applyOrg(ctx context.Context, st Store, oc OrgConfig) ([]Change, error) {
	orgChange := Change{Kind: KindOrganization, Org: oc.Slug, Action: Unchanged}
	cur, err := st.GetOrgBySlug(ctx, oc.Slug)
	switch {
	case errors.Is(err, store.ErrNotFound):
		first := store.Org{
			Slug:       oc.Slug,
			Name:       oc.Name,
			Onboarding: oc.Onboarding,
			Access:     store.AccessControl{EmailDomains: oc.Access.EmailDomains},
		}
		cur, err = st.CreateOrg(ctx, first, event("org.created", nil))
		if err != nil {
			return nil, fmt.Errorf("apply: create organization %s: %w", oc.Slug, err)
		}
		orgChange.Action = Created
	case err != nil:
		return nil, fmt.Errorf("apply: read organization %s: %w", oc.Slug, err)
	}

	var changes []Change
	for _, cc := range oc.Connections {
		c, err := applyConnection(ctx, st, cur.ID, oc.Slug, cc)
		if err != nil {
			return append([]Change{orgChange}, changes...), err
		}
		changes = append(changes, c)
	}

	if fields := orgDiff(cur, oc); len(fields) > 0 {
		_, err := st.UpdateOrg(ctx, cur.ID, func(o *store.Org) error {
			o.Name = oc.Name
			o.Onboarding = oc.Onboarding
			o.Access = store.AccessControl{
				EmailDomains:   slices.Clone(oc.Access.EmailDomains),
				SSOConnections: slices.Clone(oc.Access.SSOConnections),
			}
			return nil
		}, event("org.updated", fields))
		if err != nil {
			return append([]Change{orgChange}, changes...), fmt.Errorf("apply: update organization %s: %w", oc.Slug, err)
		}
		if orgChange.Action != Created {
			orgChange.Action = Updated
			orgChange.Fields = fields
		}
	}
	return append([]Change{orgChange}, changes...), nil
}

// orgDiff names the fields in which the stored organization differs from the
// desired one.
func orgDiff(cur store.Org, oc OrgConfig) []string {
	var fields []string
	if cur.Name != oc.Name {
		fields = append(fields, "name")
	}
	if cur.Onboarding.JITEmailDomains != oc.Onboarding.JITEmailDomains {
		fields = append(fields, "onboarding.jit.emailDomains")
	}
	if cur.Onboarding.JITSSOConnections != oc.Onboarding.JITSSOConnections {
		fields = append(fields, "onboarding.jit.ssoConnections")
	}
	if !sameSet(cur.Access.EmailDomains, oc.Access.EmailDomains) {
		fields = append(fields, "onboarding.accessControl.emailDomains")
	}
	if !sameSet(cur.Access.SSOConnections, oc.Access.SSOConnections) {
		fields = append(fields, "onboarding.accessControl.ssoConnections")
	}
	return fields
}

func applyConnection(ctx context.Context, st Store, org store.OrgID, orgSlug string, cc ConnectionConfig) (Change, error) {
	ch := Change{Kind: KindConnection, Org: orgSlug, Slug: cc.Slug, Action: Unchanged}
	cur, err := st.GetConnectionBySlug(ctx, org, cc.Slug)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c := store.Connection{OrgID: org, Slug: cc.Slug}
		setConnection(&c, cc)
		if _, err := st.CreateConnection(ctx, c, event("connection.created", nil)); err != nil {
			return ch, fmt.Errorf("apply: create connection %s/%s: %w", orgSlug, cc.Slug, err)
		}
		ch.Action = Created
		return ch, nil
	case err != nil:
		return ch, fmt.Errorf("apply: read connection %s/%s: %w", orgSlug, cc.Slug, err)
	}
	fields := connectionDiff(cur, cc)
	if len(fields) == 0 {
		return ch, nil
	}
	_, err = st.UpdateConnection(ctx, cur.ID, func(c *store.Connection) error {
		setConnection(c, cc)
		return nil
	}, event("connection.updated", fields))
	if err != nil {
		return ch, fmt.Errorf("apply: update connection %s/%s: %w", orgSlug, cc.Slug, err)
	}
	ch.Action = Updated
	ch.Fields = fields
	return ch, nil
}

// setConnection writes the fields the YAML format carries, and no others.
func setConnection(c *store.Connection, cc ConnectionConfig) {
	c.Name = cc.Name
	c.IdPMetadataXML = cc.IdPMetadataXML
	c.JITProvisioning = cc.JITProvisioning
	c.AllowIdPInitiated = cc.AllowIdPInitiated
	c.MappingPreset = cc.MappingPreset
}

func connectionDiff(cur store.Connection, cc ConnectionConfig) []string {
	var fields []string
	if cur.Name != cc.Name {
		fields = append(fields, "name")
	}
	if cur.IdPMetadataXML != cc.IdPMetadataXML {
		fields = append(fields, "idp")
	}
	if cur.JITProvisioning != cc.JITProvisioning {
		fields = append(fields, "authentication.jitProvisioning")
	}
	if cur.AllowIdPInitiated != cc.AllowIdPInitiated {
		fields = append(fields, "authentication.allowIdpInitiated")
	}
	if cur.MappingPreset != cc.MappingPreset {
		fields = append(fields, "mapping.preset")
	}
	return fields
}

// sameSet reports whether a and b hold the same strings, ignoring order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
