package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	elimity "github.com/elimity-com/scim"

	"github.com/onramp-dev/onramp/store"
)

// userHandler serves /Users. Each method is a thin shell over a Handler method
// that returns a plain error, mapped by fail; it never returns an unmapped error.
type userHandler struct{ h *Handler }

func (u userHandler) Create(r *http.Request, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	ctx := r.Context()
	res, err := u.h.createUser(ctx, r, attrs)
	return res, u.h.fail(ctx, err)
}

func (u userHandler) Get(r *http.Request, id string) (elimity.Resource, error) {
	ctx := r.Context()
	res, err := u.h.getUser(ctx, r, id)
	return res, u.h.fail(ctx, err)
}

func (u userHandler) GetAll(r *http.Request, params elimity.ListRequestParams) (elimity.Page, error) {
	ctx := r.Context()
	page, err := u.h.listUsers(ctx, r, params)
	return page, u.h.fail(ctx, err)
}

func (u userHandler) Replace(r *http.Request, id string, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	ctx := r.Context()
	res, err := u.h.updateUser(ctx, r, id, func(doc map[string]any) (map[string]any, error) {
		return attrs, nil
	})
	return res, u.h.fail(ctx, err)
}

func (u userHandler) Patch(r *http.Request, id string, ops []elimity.PatchOperation) (elimity.Resource, error) {
	ctx := r.Context()
	res, err := u.h.updateUser(ctx, r, id, func(doc map[string]any) (map[string]any, error) {
		return u.h.patchers.user.Apply(doc, ops)
	})
	return res, u.h.fail(ctx, err)
}

func (u userHandler) Delete(r *http.Request, id string) error {
	ctx := r.Context()
	return u.h.fail(ctx, u.h.deleteUser(ctx, r, id))
}

func (h *Handler) createUser(ctx context.Context, r *http.Request, attrs map[string]any) (elimity.Resource, error) {
	t, err := tenant(ctx)
	if err != nil {
		return elimity.Resource{}, err
	}
	doc, raw, err := normalizeDoc(resourceDoc(attrs))
	if err != nil {
		return elimity.Resource{}, err
	}
	m, err := h.mappings.get(ctx, t.Connection)
	if err != nil {
		return elimity.Resource{}, err
	}
	p, err := profileFromResource(doc, m)
	if err != nil {
		return elimity.Resource{}, err
	}
	u := store.User{
		OrgID:        t.Org,
		Source:       store.SourceSCIM,
		ConnectionID: t.Connection,
		Resource:     raw,
	}
	p.applyTo(&u)
	created, err := h.store.CreateUser(ctx, u, h.event(ctx, t, "user.created"))
	if err != nil {
		return elimity.Resource{}, fmt.Errorf("scim: create user: %w", err)
	}
	// A new account is in no group yet, and its document is doc: render it
	// without a group lookup or decoding the stored resource again.
	doc["active"] = created.Active
	return renderDoc(userProjection(r), created, doc, nil), nil
}

// liveUser returns the organization's user id; tombstones are not found.
func (h *Handler) liveUser(ctx context.Context, t Tenant, id string) (store.User, error) {
	u, err := h.store.GetUser(ctx, t.Org, store.UserID(id))
	if err != nil {
		return store.User{}, fmt.Errorf("scim: get user %s: %w", id, err)
	}
	if u.DeletedAt != nil {
		return store.User{}, fmt.Errorf("scim: user %s is deleted: %w", id, store.ErrNotFound)
	}
	return u, nil
}

func (h *Handler) getUser(ctx context.Context, r *http.Request, id string) (elimity.Resource, error) {
	t, err := tenant(ctx)
	if err != nil {
		return elimity.Resource{}, err
	}
	u, err := h.liveUser(ctx, t, id)
	if err != nil {
		return elimity.Resource{}, err
	}
	return h.userResource(ctx, r, u)
}

func (h *Handler) listUsers(ctx context.Context, r *http.Request, params elimity.ListRequestParams) (elimity.Page, error) {
	var f store.Filter
	if params.FilterValidator != nil {
		var err error
		if f, err = toStoreFilter(params.FilterValidator.GetFilter(), userResource); err != nil {
			return elimity.Page{}, err
		}
	}
	return h.listUsersBy(ctx, r, f, params.StartIndex, params.Count)
}

// listUsersBy returns one page of the tenant's users matching f (nil: all).
func (h *Handler) listUsersBy(ctx context.Context, r *http.Request, f store.Filter, start, count int) (elimity.Page, error) {
	t, err := tenant(ctx)
	if err != nil {
		return elimity.Page{}, err
	}
	page, err := h.store.ListUsers(ctx, t.Org, store.UserQuery{Filter: f, StartIndex: start, Count: count})
	if err != nil {
		return elimity.Page{}, fmt.Errorf("scim: list users: %w", err)
	}
	out := elimity.Page{TotalResults: page.Total, Resources: make([]elimity.Resource, 0, len(page.Items))}
	for _, u := range page.Items {
		res, err := h.userResource(ctx, r, u)
		if err != nil {
			return elimity.Page{}, err
		}
		out.Resources = append(out.Resources, res)
	}
	return out, nil
}

// userPlan is the outcome of applying a change to a user.
type userPlan struct {
	profile   profile
	raw       []byte
	unchanged bool
}

// planUserUpdate computes the user's new resource with change (PUT: the body;
// PATCH: the patched document) and derives its profile with m. It is a pure
// function of u, so it can run inside the store's update closure.
func planUserUpdate(r *http.Request, u store.User, m userMapping, change func(doc map[string]any) (map[string]any, error)) (userPlan, error) {
	if err := checkIfMatch(r, u.Version); err != nil {
		return userPlan{}, err
	}
	oldDoc, err := userDoc(u)
	if err != nil {
		return userPlan{}, err
	}
	next, err := change(copyDoc(oldDoc))
	if err != nil {
		return userPlan{}, err
	}
	doc, raw, err := normalizeDoc(resourceDoc(next))
	if err != nil {
		return userPlan{}, err
	}
	p, err := profileFromResource(doc, m)
	if err != nil {
		return userPlan{}, err
	}
	return userPlan{profile: p, raw: raw, unchanged: reflect.DeepEqual(doc, oldDoc) && !p.changes(u)}, nil
}

// activeAction is the audit action of an update that takes active from old to new.
func activeAction(old, new bool) string {
	switch {
	case old && !new:
		return "user.deactivated"
	case !old && new:
		return "user.reactivated"
	}
	return "user.updated"
}

// updateUser applies change to the user inside the store's update, so that
// concurrent updates serialise instead of failing.
//
// The plan (decoding the stored resource, applying the PATCH or PUT, mapping
// the profile) is made on a first read, outside the store's writer: on SQLite
// one goroutine runs every write, and work done inside the closure is work no
// other write can do meanwhile. Inside, the closure only checks that the user's
// Version is still the one planned on (every write of a user increments it) and
// applies the plan; if another write came in between, it plans again there, on
// the current value. The audit event, which the store takes before the update
// runs, names the action planned on the first read; only if a concurrent change
// of active makes that action wrong is the update abandoned and planned again.
func (h *Handler) updateUser(ctx context.Context, r *http.Request, id string, change func(doc map[string]any) (map[string]any, error)) (elimity.Resource, error) {
	t, err := tenant(ctx)
	if err != nil {
		return elimity.Resource{}, err
	}
	m, err := h.mappings.get(ctx, t.Connection)
	if err != nil {
		return elimity.Resource{}, err
	}
	for range maxUpdateAttempts {
		pre, err := h.liveUser(ctx, t, id)
		if err != nil {
			return elimity.Resource{}, err
		}
		plan, err := planUserUpdate(r, pre, m, change)
		if err != nil {
			return elimity.Resource{}, err
		}
		if plan.unchanged {
			return h.userResource(ctx, r, pre) // nothing changes: no write, no audit event
		}
		action := activeAction(pre.Active, plan.profile.Active)
		updated, err := h.store.UpdateUserGuarded(ctx, t.Org, pre.ID, func(u *store.User) error {
			p := plan
			if u.Version != pre.Version {
				var err error
				if p, err = planUserUpdate(r, *u, m, change); err != nil {
					return err
				}
			}
			switch {
			case p.unchanged:
				return errUnchanged
			case activeAction(u.Active, p.profile.Active) != action:
				return errRaced
			}
			p.profile.applyTo(u)
			u.Resource = p.raw
			return nil
		}, h.event(ctx, t, action), h.guard(t))
		switch {
		case errors.Is(err, errRaced):
			continue
		case errors.Is(err, errUnchanged):
			cur, err := h.liveUser(ctx, t, id)
			if err != nil {
				return elimity.Resource{}, err
			}
			return h.userResource(ctx, r, cur)
		case err != nil:
			return elimity.Resource{}, fmt.Errorf("scim: update user %s: %w", id, err)
		}
		return h.userResource(ctx, r, updated)
	}
	return elimity.Resource{}, fmt.Errorf("scim: update user %s: gave up after %d attempts: %w", id, maxUpdateAttempts, errRaced)
}

func (h *Handler) deleteUser(ctx context.Context, r *http.Request, id string) error {
	t, err := tenant(ctx)
	if err != nil {
		return err
	}
	u, err := h.liveUser(ctx, t, id)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, u.Version); err != nil {
		return err
	}
	// Checked again inside the deletion: a write between the read and the
	// deletion must not slip past If-Match.
	if err := h.store.DeleteUserGuarded(ctx, t.Org, u.ID, h.event(ctx, t, "user.deleted"), h.guard(t), ifMatch(r)); err != nil {
		return fmt.Errorf("scim: delete user %s: %w", id, err)
	}
	return nil
}

// userDoc is the user's SCIM document: the stored resource, or for an account
// that did not come from SCIM (JIT, invitation) one built from its profile. The
// account's active state is authoritative over the document's.
func userDoc(u store.User) (map[string]any, error) {
	doc, err := decodeDoc(u.Resource)
	if err != nil {
		return nil, err
	}
	if len(doc) == 0 {
		doc["userName"] = u.UserName
		if u.ExternalID != "" {
			doc["externalId"] = u.ExternalID
		}
		if u.DisplayName != "" {
			doc["displayName"] = u.DisplayName
		}
		if u.GivenName != "" || u.FamilyName != "" {
			name := map[string]any{}
			if u.GivenName != "" {
				name["givenName"] = u.GivenName
			}
			if u.FamilyName != "" {
				name["familyName"] = u.FamilyName
			}
			doc["name"] = name
		}
		if len(u.Emails) > 0 {
			emails := make([]any, 0, len(u.Emails))
			for _, e := range u.Emails {
				m := map[string]any{"value": e.Value, "primary": e.Primary}
				if e.Type != "" {
					m["type"] = e.Type
				}
				emails = append(emails, m)
			}
			doc["emails"] = emails
		}
	}
	doc["active"] = u.Active
	return doc, nil
}

// userResource is the SCIM view of a user, projected by the request's
// attributes / excludedAttributes. The read-only groups attribute lists the
// groups the user is a direct member of (left out when there are none).
func (h *Handler) userResource(ctx context.Context, r *http.Request, u store.User) (elimity.Resource, error) {
	p := userProjection(r)
	var groups []any
	if p.wants("groups") {
		gs, err := h.store.ListUserGroups(ctx, u.OrgID, u.ID)
		if err != nil {
			return elimity.Resource{}, fmt.Errorf("scim: list groups of user %s: %w", u.ID, err)
		}
		for _, g := range gs {
			groups = append(groups, map[string]any{
				"value":   string(g.ID),
				"$ref":    h.base + "/Groups/" + string(g.ID),
				"display": g.DisplayName,
				"type":    "direct",
			})
		}
	}
	return renderUser(p, u, groups)
}

func userProjection(r *http.Request) projection {
	return parseProjection(r.URL.Query(), UserSchemaURI, EnterpriseUserSchemaURI)
}

// renderUser is userResource with the user's groups already known.
func renderUser(p projection, u store.User, groups []any) (elimity.Resource, error) {
	doc, err := userDoc(u)
	if err != nil {
		return elimity.Resource{}, err
	}
	return renderDoc(p, u, doc, groups), nil
}

// renderDoc renders u with its document (userDoc) and groups.
func renderDoc(p projection, u store.User, doc map[string]any, groups []any) elimity.Resource {
	if len(groups) > 0 {
		doc["groups"] = groups
	}
	return elimity.Resource{
		ID:         string(u.ID),
		Attributes: p.apply(doc),
		Meta:       meta(u.CreatedAt, u.UpdatedAt, u.Version),
	}
}

// copyDoc copies a document deeply enough for a patch to modify it freely.
func copyDoc(doc map[string]any) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyDoc(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	}
	return v
}
