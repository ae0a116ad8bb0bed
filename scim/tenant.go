package scim

import (
	"context"

	"github.com/onramp-dev/onramp/store"
)

// Tenant is what a verified SCIM bearer token selects: the organization whose
// directory the request may read and write, the connection that provisions
// through it, and the token itself (the actor in audit events).
type Tenant struct {
	Org        store.OrgID
	Connection store.ConnectionID
	Token      store.TokenID
}

// actor names the token in audit events.
func (t Tenant) actor() string { return "token:" + string(t.Token) }

type tenantKey struct{}

type requestIDKey struct{}

// WithTenant returns a context carrying the tenant.
func WithTenant(ctx context.Context, t Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

// TenantFrom returns the tenant the request was authenticated as, if any.
func TenantFrom(ctx context.Context) (Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(Tenant)
	return t, ok
}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDFrom returns the request ID set by the handler ("" outside a request).
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
