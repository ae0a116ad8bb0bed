package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	elimity "github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

// groupHandler serves /Groups: the group's own attributes go to
// store.Group.Resource, its members through store.MemberChange.
type groupHandler struct{ h *Handler }

func (g groupHandler) Create(r *http.Request, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	ctx := r.Context()
	res, err := g.h.createGroup(ctx, r, attrs)
	return res, g.h.fail(ctx, err)
}

func (g groupHandler) Get(r *http.Request, id string) (elimity.Resource, error) {
	ctx := r.Context()
	res, err := g.h.getGroup(ctx, r, id)
	return res, g.h.fail(ctx, err)
}

func (g groupHandler) GetAll(r *http.Request, params elimity.ListRequestParams) (elimity.Page, error) {
	ctx := r.Context()
	page, err := g.h.listGroups(ctx, r, params)
	return page, g.h.fail(ctx, err)
}

func (g groupHandler) Replace(r *http.Request, id string, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	ctx := r.Context()
	res, err := g.h.replaceGroup(ctx, r, id, attrs)
	return res, g.h.fail(ctx, err)
}

func (g groupHandler) Patch(r *http.Request, id string, ops []elimity.PatchOperation) (elimity.Resource, error) {
	ctx := r.Context()
	res, err := g.h.patchGroup(ctx, r, id, ops)
	return res, g.h.fail(ctx, err)
}

func (g groupHandler) Delete(r *http.Request, id string) error {
	ctx := r.Context()
	return g.h.fail(ctx, g.h.deleteGroup(ctx, r, id))
}

// groupDocFields splits a group body into the stored document (without members)
// and the member IDs.
func groupDocFields(attrs map[string]any) (doc map[string]any, members []store.UserID, err error) {
	doc = resourceDoc(attrs)
	if k, ok := findKey(doc, "members"); ok {
		members, err = memberIDs(doc[k])
		if err != nil {
			return nil, nil, err
		}
		delete(doc, k)
	}
	return doc, members, nil
}

// memberIDs reads a members value (a list of {"value": id, …}).
func memberIDs(v any) ([]store.UserID, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	ids := make([]store.UserID, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, invalidValue("members must be a list of objects with a value")
		}
		k, _ := findKey(m, "value")
		id := str(m[k])
		if strings.TrimSpace(id) == "" {
			return nil, invalidValue("every member needs a value: the user's id")
		}
		ids = append(ids, store.UserID(id))
	}
	return ids, nil
}

// groupFields derives the indexed group fields from its document.
func groupFields(doc map[string]any) (displayName, externalID string, err error) {
	displayName = strings.TrimSpace(str(doc["displayName"]))
	if displayName == "" {
		return "", "", invalidValue("displayName is required and must not be empty")
	}
	return displayName, str(doc["externalId"]), nil
}

func (h *Handler) createGroup(ctx context.Context, r *http.Request, attrs map[string]any) (elimity.Resource, error) {
	t, err := tenant(ctx)
	if err != nil {
		return elimity.Resource{}, err
	}
	doc, members, err := groupDocFields(attrs)
	if err != nil {
		return elimity.Resource{}, err
	}
	_, raw, err := normalizeDoc(doc)
	if err != nil {
		return elimity.Resource{}, err
	}
	name, ext, err := groupFields(doc)
	if err != nil {
		return elimity.Resource{}, err
	}
	g := store.Group{OrgID: t.Org, DisplayName: name, ExternalID: ext, ConnectionID: t.Connection, Resource: raw}
	created, err := h.store.CreateGroup(ctx, g, members, h.event(ctx, t, "group.created"))
	if err != nil {
		return elimity.Resource{}, fmt.Errorf("scim: create group: %w", err)
	}
	return h.groupResource(ctx, r, created)
}

func (h *Handler) getGroup(ctx context.Context, r *http.Request, id string) (elimity.Resource, error) {
	t, err := tenant(ctx)
	if err != nil {
		return elimity.Resource{}, err
	}
	g, err := h.store.GetGroup(ctx, t.Org, store.GroupID(id))
	if err != nil {
		return elimity.Resource{}, fmt.Errorf("scim: get group %s: %w", id, err)
	}
	return h.groupResource(ctx, r, g)
}

func (h *Handler) listGroups(ctx context.Context, r *http.Request, params elimity.ListRequestParams) (elimity.Page, error) {
	t, err := tenant(ctx)
	if err != nil {
		return elimity.Page{}, err
	}
	q := store.GroupQuery{StartIndex: params.StartIndex, Count: params.Count}
	if params.FilterValidator != nil {
		if q.Filter, err = toStoreFilter(params.FilterValidator.GetFilter(), groupResource); err != nil {
			return elimity.Page{}, err
		}
	}
	page, err := h.store.ListGroups(ctx, t.Org, q)
	if err != nil {
		return elimity.Page{}, fmt.Errorf("scim: list groups: %w", err)
	}
	out := elimity.Page{TotalResults: page.Total, Resources: make([]elimity.Resource, 0, len(page.Items))}
	for _, g := range page.Items {
		res, err := h.groupResource(ctx, r, g)
		if err != nil {
			return elimity.Page{}, err
		}
		out.Resources = append(out.Resources, res)
	}
	return out, nil
}

func (h *Handler) replaceGroup(ctx context.Context, r *http.Request, id string, attrs map[string]any) (elimity.Resource, error) {
	doc, members, err := groupDocFields(attrs)
	if err != nil {
		return elimity.Resource{}, err
	}
	return h.updateGroup(ctx, r, id, func(map[string]any) (map[string]any, error) { return doc, nil },
		memberChange{replace: true, set: members})
}

func (h *Handler) patchGroup(ctx context.Context, r *http.Request, id string, ops []elimity.PatchOperation) (elimity.Resource, error) {
	mc, rest, err := splitMemberOps(ops)
	if err != nil {
		return elimity.Resource{}, err
	}
	return h.updateGroup(ctx, r, id, func(doc map[string]any) (map[string]any, error) {
		if len(rest) == 0 {
			return doc, nil
		}
		return h.patchers.group.Apply(doc, rest)
	}, mc)
}

// updateGroup applies change to the group's document and mc to its members in
// one store update; the change runs inside the update, so concurrent updates
// serialise.
func (h *Handler) updateGroup(ctx context.Context, r *http.Request, id string, change func(map[string]any) (map[string]any, error), mc memberChange) (elimity.Resource, error) {
	t, err := tenant(ctx)
	if err != nil {
		return elimity.Resource{}, err
	}
	updated, err := h.store.UpdateGroup(ctx, t.Org, store.GroupID(id), func(g *store.Group) error {
		if err := checkIfMatch(r, g.Version); err != nil {
			return err
		}
		oldDoc, err := decodeDoc(g.Resource)
		if err != nil {
			return err
		}
		next, err := change(copyDoc(oldDoc))
		if err != nil {
			return err
		}
		next = resourceDoc(next)
		if k, ok := findKey(next, "members"); ok {
			delete(next, k) // members only change through mc
		}
		doc, raw, err := normalizeDoc(next)
		if err != nil {
			return err
		}
		name, ext, err := groupFields(doc)
		if err != nil {
			return err
		}
		if reflect.DeepEqual(doc, oldDoc) && mc.empty() {
			return errUnchanged // Okta re-sends the name with every membership change
		}
		g.DisplayName, g.ExternalID, g.Resource = name, ext, raw
		return nil
	}, mc.toStore(), h.event(ctx, t, "group.updated"))
	if errors.Is(err, errUnchanged) {
		return h.getGroup(ctx, r, id)
	}
	if err != nil {
		return elimity.Resource{}, fmt.Errorf("scim: update group %s: %w", id, err)
	}
	return h.groupResource(ctx, r, updated)
}

func (h *Handler) deleteGroup(ctx context.Context, r *http.Request, id string) error {
	t, err := tenant(ctx)
	if err != nil {
		return err
	}
	g, err := h.store.GetGroup(ctx, t.Org, store.GroupID(id))
	if err != nil {
		return fmt.Errorf("scim: get group %s: %w", id, err)
	}
	if err := checkIfMatch(r, g.Version); err != nil {
		return err
	}
	// Checked again inside the deletion, as for users.
	if err := h.store.DeleteGroup(ctx, t.Org, g.ID, h.event(ctx, t, "group.deleted"), ifMatch(r)); err != nil {
		return fmt.Errorf("scim: delete group %s: %w", id, err)
	}
	return nil
}

// groupResource is the SCIM view of a group; members are read only when the
// response will contain them (Okta and Entra ask with excludedAttributes=members).
func (h *Handler) groupResource(ctx context.Context, r *http.Request, g store.Group) (elimity.Resource, error) {
	doc, err := decodeDoc(g.Resource)
	if err != nil {
		return elimity.Resource{}, err
	}
	doc["displayName"] = g.DisplayName
	p := parseProjection(r.URL.Query(), GroupSchemaURI)
	if p.wants("members") {
		members, err := h.store.ListMembers(ctx, g.OrgID, g.ID)
		if err != nil {
			return elimity.Resource{}, fmt.Errorf("scim: list members of group %s: %w", g.ID, err)
		}
		list := make([]any, 0, len(members))
		for _, m := range members {
			e := map[string]any{
				"value": string(m.UserID),
				"$ref":  h.base + "/Users/" + string(m.UserID),
				"type":  "User",
			}
			if m.Display != "" {
				e["display"] = m.Display
			}
			list = append(list, e)
		}
		doc["members"] = list
	}
	return elimity.Resource{
		ID:         string(g.ID),
		Attributes: p.apply(doc),
		Meta:       meta(g.CreatedAt, g.UpdatedAt, g.Version),
	}, nil
}

// memberChange accumulates the member operations of one PATCH, in order, into
// one net change (Entra sends several in one request; Okta removes one member
// and adds another).
type memberChange struct {
	replace bool
	set     []store.UserID // the whole list, when replace
	add     []store.UserID
	remove  []store.UserID
}

func (c *memberChange) addIDs(ids []store.UserID) {
	if c.replace {
		c.set = union(c.set, ids)
		return
	}
	c.add = union(c.add, ids)
	c.remove = minus(c.remove, ids)
}

func (c *memberChange) removeIDs(ids []store.UserID) {
	if c.replace {
		c.set = minus(c.set, ids)
		return
	}
	c.remove = union(c.remove, ids)
	c.add = minus(c.add, ids)
}

func (c *memberChange) replaceWith(ids []store.UserID) {
	*c = memberChange{replace: true, set: union(nil, ids)}
}

func (c memberChange) empty() bool {
	return !c.replace && len(c.add) == 0 && len(c.remove) == 0
}

func (c memberChange) toStore() store.MemberChange {
	if c.replace {
		set := c.set
		if set == nil {
			set = []store.UserID{}
		}
		return store.MemberChange{Replace: true, Set: set}
	}
	return store.MemberChange{Add: c.add, Remove: c.remove}
}

func union(a, b []store.UserID) []store.UserID {
	seen := make(map[store.UserID]bool, len(a)+len(b))
	out := make([]store.UserID, 0, len(a)+len(b))
	for _, id := range append(append([]store.UserID{}, a...), b...) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func minus(a, b []store.UserID) []store.UserID {
	drop := make(map[store.UserID]bool, len(b))
	for _, id := range b {
		drop[id] = true
	}
	out := make([]store.UserID, 0, len(a))
	for _, id := range a {
		if !drop[id] {
			out = append(out, id)
		}
	}
	return out
}

// splitMemberOps turns the operations on members into one memberChange and
// returns the others, which patch the group's document.
func splitMemberOps(ops []elimity.PatchOperation) (memberChange, []elimity.PatchOperation, error) {
	var mc memberChange
	var rest []elimity.PatchOperation
	for _, op := range ops {
		kind := strings.ToLower(op.Op)
		if op.Path == nil {
			m, ok := op.Value.(map[string]any)
			if !ok {
				rest = append(rest, op)
				continue
			}
			k, ok := findKey(m, "members")
			if !ok {
				rest = append(rest, op)
				continue
			}
			ids, err := memberIDs(m[k])
			if err != nil {
				return memberChange{}, nil, err
			}
			if kind == elimity.PatchOperationReplace {
				mc.replaceWith(ids)
			} else {
				mc.addIDs(ids)
			}
			others := make(map[string]any, len(m))
			for key, v := range m {
				if key != k {
					others[key] = v
				}
			}
			if len(others) > 0 {
				rest = append(rest, elimity.PatchOperation{Op: op.Op, Value: others})
			}
			continue
		}
		p := op.Path
		if !strings.EqualFold(p.AttributePath.AttributeName, "members") ||
			(p.AttributePath.URI() != "" && !strings.EqualFold(p.AttributePath.URI(), GroupSchemaURI)) {
			rest = append(rest, op)
			continue
		}
		if p.AttributePath.SubAttribute != nil || p.SubAttribute != nil {
			return memberChange{}, nil, invalidPath("members' sub-attributes cannot be changed; add or remove the member instead")
		}
		if p.ValueExpression != nil {
			if kind != elimity.PatchOperationRemove {
				return memberChange{}, nil, invalidPath("a members[...] filter can only be used to remove members")
			}
			ids, err := filterMemberIDs(p.ValueExpression)
			if err != nil {
				return memberChange{}, nil, err
			}
			mc.removeIDs(ids)
			continue
		}
		ids, err := memberIDs(op.Value)
		if err != nil {
			return memberChange{}, nil, err
		}
		switch kind {
		case elimity.PatchOperationAdd:
			mc.addIDs(ids)
		case elimity.PatchOperationReplace:
			mc.replaceWith(ids)
		case elimity.PatchOperationRemove:
			if op.Value == nil {
				mc.replaceWith(nil) // remove all members (RFC 7644 section 3.5.2.2)
			} else {
				mc.removeIDs(ids) // Entra: the members to remove in value
			}
		}
	}
	return mc, rest, nil
}

// filterMemberIDs reads the IDs of a members[value eq "…" or value eq "…"] filter.
func filterMemberIDs(e filter.Expression) ([]store.UserID, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		id, ok := e.CompareValue.(string)
		if !strings.EqualFold(e.AttributePath.AttributeName, "value") || e.AttributePath.SubAttribute != nil ||
			!strings.EqualFold(string(e.Operator), string(filter.EQ)) || !ok {
			return nil, invalidPath(`members can be selected only by value eq "<user id>"`)
		}
		return []store.UserID{store.UserID(id)}, nil
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(e.Operator), string(filter.OR)) {
			return nil, invalidPath(`members can be selected only by value eq "<user id>", joined with or`)
		}
		left, err := filterMemberIDs(e.Left)
		if err != nil {
			return nil, err
		}
		right, err := filterMemberIDs(e.Right)
		if err != nil {
			return nil, err
		}
		return append(left, right...), nil
	}
	return nil, invalidPath(`members can be selected only by value eq "<user id>"`)
}
