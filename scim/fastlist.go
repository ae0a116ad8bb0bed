package scim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	elimity "github.com/elimity-com/scim"

	"github.com/onramp-dev/onramp/store"
)

// listResponseURI is the schema of a list response.
const listResponseURI = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// serveFastUserList answers the lookup identity providers send before every
// create and on every sync, GET /Users?filter=userName eq "…" (or externalId,
// or id), without elimity. elimity validates every filter against a schema it
// builds per request, compiling a regular expression per attribute name, and
// parses it with a parser combinator; together that was a third of the
// lookup's time. The response is the one elimity's path gives (a test compares
// them byte for byte). It reports false, having written nothing, for any other
// request, which then takes the general path.
func (h *Handler) serveFastUserList(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	f, ok := simpleEqFilter(strings.TrimSpace(q.Get("filter")), userResource)
	if !ok {
		return false
	}
	count, start, ok := pagination(q)
	if !ok {
		return false // elimity words the 400
	}
	ctx := r.Context()
	page, err := h.listUsersBy(ctx, r, f, start, count)
	if err != nil {
		_ = h.fail(ctx, err) // logs a 500's cause
		writeError(w, toSCIMError(ctx, err))
		return true
	}
	resources := make([]any, 0, len(page.Resources))
	for _, res := range page.Resources {
		resources = append(resources, h.userResponse(res))
	}
	raw, err := json.Marshal(map[string]any{
		"schemas":      []string{listResponseURI},
		"totalResults": page.TotalResults,
		"itemsPerPage": len(resources),
		"startIndex":   start,
		"Resources":    resources,
	})
	if err != nil {
		h.log.ErrorContext(ctx, "scim: encode list response", "request_id", requestIDFrom(ctx), "error", err)
		writeError(w, internalError(ctx))
		return true
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
	return true
}

// userResponse renders a User as elimity does (Resource.response): the
// attributes, id, schemas and meta.
func (h *Handler) userResponse(res elimity.Resource) map[string]any {
	out := make(map[string]any, len(res.Attributes)+3)
	for k, v := range res.Attributes {
		out[k] = v
	}
	out["id"] = res.ID
	out["schemas"] = []string{UserSchemaURI, EnterpriseUserSchemaURI}
	m := map[string]any{
		"resourceType": "User",
		"location":     h.base + "/Users/" + url.PathEscape(res.ID),
	}
	if res.Meta.Created != nil {
		m["created"] = res.Meta.Created.Format(time.RFC3339)
	}
	if res.Meta.LastModified != nil {
		m["lastModified"] = res.Meta.LastModified.Format(time.RFC3339)
	}
	if res.Meta.Version != "" {
		m["version"] = res.Meta.Version
	}
	out["meta"] = m
	return out
}

// simpleEqFilter recognises `ATTR eq "VALUE"` for the attributes every IdP
// looks users up by (userName, externalId, id; any case, with one space on
// either side of eq) and a value without backslashes or control characters,
// and returns the store filter the general path (toStoreFilter) makes of it.
// Anything else is left to the general path.
func simpleEqFilter(f string, kind resourceKind) (store.Filter, bool) {
	name, rest, ok := strings.Cut(f, " ")
	if !ok || kind != userResource {
		return nil, false
	}
	var field store.Field
	switch strings.ToLower(name) {
	case "username":
		field = store.FieldUserName
	case "externalid":
		field = store.FieldExternalID
	case "id":
		field = store.FieldID
	default:
		return nil, false
	}
	op, value, ok := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(op, "eq") || len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return nil, false
	}
	value = value[1 : len(value)-1]
	for _, c := range []byte(value) {
		if c == '"' || c == '\\' || c < 0x20 || c == 0x7f {
			return nil, false
		}
	}
	return store.Compare{Field: field, Op: store.OpEq, Value: value}, true
}

// pagination reads count and startIndex as elimity does (after prepare has set
// a default count): count capped to [0, MaxPageSize], startIndex at least 1. ok
// is false when either is not an integer.
func pagination(q url.Values) (count, start int, ok bool) {
	count, start = DefaultPageSize, 1
	if s := q.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, false
		}
		count = min(max(n, 0), MaxPageSize)
	}
	if s := q.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, false
		}
		start = max(n, 1)
	}
	return count, start, true
}
