package emaillogin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// AdminLinkStore is the part of the store NewAdminLink uses.
type AdminLinkStore interface {
	GetOrgBySlug(ctx context.Context, slug string) (store.Org, error)
	CreateUser(ctx context.Context, u store.User, ev store.AuditEvent) (store.User, error)
	UpdateUser(ctx context.Context, org store.OrgID, id store.UserID, fn func(*store.User) error, ev store.AuditEvent) (store.User, error)
	ListUsersByEmail(ctx context.Context, email string) ([]store.User, error)
	CreateLoginLink(ctx context.Context, l store.LoginLink, ev store.AuditEvent) error
}

// AdminLinkRequest asks for an admin sign-in link.
type AdminLinkRequest struct {
	BaseURL string
	OrgSlug string
	Email   string
	TTL     time.Duration // default DefaultLinkTTL
	Now     func() time.Time
	Actor   string // audit actor; default "operator"
}

// AdminLink is an issued admin sign-in link.
type AdminLink struct {
	URL       string
	Org       store.Org
	User      store.User
	Created   bool // the account was made for the link
	Promoted  bool // the account was given the Admin role
	ExpiresAt time.Time
}

// Errors of NewAdminLink.
var (
	// ErrDeprovisioned: the organization's account with the address is
	// deactivated; the operator must reactivate it first.
	ErrDeprovisioned = errors.New("emaillogin: the account is deactivated or deleted")
	// ErrAmbiguous: several live accounts of the organization have the address.
	ErrAmbiguous = errors.New("emaillogin: several accounts have the address")
)

// audit actions of NewAdminLink.
const auditLinkIssued = "login_link.issued"

// NewAdminLink issues a one-time sign-in link for an Admin of an
// organization, to bootstrap one that has no SSO yet (onramp admin
// login-link). The organization's account with the address is made an
// Admin, or, if it has none, one is created: active, role Admin, source
// "invitation" (an operator's invitation), userName and primary email the
// address. A deactivated account is refused (ErrDeprovisioned), not
// reactivated behind the IdP's back; a deleted one (a tombstone) does not
// stop the operator from creating a new account, which is a deliberate act,
// unlike JIT. The link is bound to that account and needs no email:
// following it within TTL signs the account in, once. Every change, and the
// link, is an audit event by the actor.
func NewAdminLink(ctx context.Context, st AdminLinkStore, req AdminLinkRequest) (AdminLink, error) {
	if req.Now == nil {
		req.Now = time.Now
	}
	if req.TTL <= 0 {
		req.TTL = DefaultLinkTTL
	}
	if req.Actor == "" {
		req.Actor = "operator"
	}
	u, err := url.Parse(req.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return AdminLink{}, fmt.Errorf("emaillogin: base url %q is not an http(s) URL", req.BaseURL)
	}
	email, _, err := parseEmail(req.Email)
	if err != nil {
		return AdminLink{}, &InputError{Field: "email", Message: err.Error()}
	}
	org, err := st.GetOrgBySlug(ctx, req.OrgSlug)
	if err != nil {
		return AdminLink{}, fmt.Errorf("emaillogin: organization %q: %w", req.OrgSlug, err)
	}
	all, err := st.ListUsersByEmail(ctx, email)
	if err != nil {
		return AdminLink{}, fmt.Errorf("emaillogin: accounts with the address: %w", err)
	}
	var live []store.User
	for _, x := range all {
		if x.OrgID == org.ID && x.DeletedAt == nil {
			live = append(live, x)
		}
	}
	out := AdminLink{Org: org}
	switch {
	case len(live) > 1:
		return AdminLink{}, fmt.Errorf("%w: %d accounts of %s", ErrAmbiguous, len(live), org.Slug)
	case len(live) == 1 && !live[0].Active:
		return AdminLink{}, fmt.Errorf("%w: user %s; reactivate it first", ErrDeprovisioned, live[0].ID)
	case len(live) == 1 && attributes.CanonicalRole(live[0].Role) == attributes.RoleAdmin:
		out.User = live[0]
	case len(live) == 1:
		out.User, err = st.UpdateUser(ctx, org.ID, live[0].ID, func(x *store.User) error {
			x.Role = attributes.RoleAdmin
			return nil
		}, store.AuditEvent{Actor: req.Actor, Detail: map[string]string{"fields": "role", "via": "admin login-link"}})
		if err != nil {
			return AdminLink{}, fmt.Errorf("emaillogin: make user %s an Admin: %w", live[0].ID, err)
		}
		out.Promoted = true
	default:
		out.User, err = st.CreateUser(ctx, newAccount(org.ID, email, attributes.RoleAdmin, store.SourceInvitation),
			store.AuditEvent{Actor: req.Actor, Detail: map[string]string{"via": "admin login-link"}})
		if err != nil {
			return AdminLink{}, fmt.Errorf("emaillogin: create admin account: %w", err)
		}
		out.Created = true
	}
	token, hash, err := newSecret()
	if err != nil {
		return AdminLink{}, err
	}
	now := req.Now()
	out.ExpiresAt = now.Add(req.TTL).UTC().Truncate(time.Microsecond)
	l := store.LoginLink{IDHash: hash, Email: email, OrgID: org.ID, UserID: out.User.ID, ReturnTo: adminConsolePath, CreatedAt: now, ExpiresAt: out.ExpiresAt}
	ev := store.AuditEvent{Actor: req.Actor, Action: auditLinkIssued, Detail: map[string]string{"expires_at": out.ExpiresAt.Format(time.RFC3339)}}
	if err := st.CreateLoginLink(ctx, l, ev); err != nil {
		return AdminLink{}, fmt.Errorf("emaillogin: store link: %w", err)
	}
	out.URL = strings.TrimSuffix(req.BaseURL, "/") + PathLoginLink + "?token=" + url.QueryEscape(token)
	return out, nil
}

// adminConsolePath is where an operator's admin sign-in link lands: the admin
// console (package console), which is what the Admin came for.
const adminConsolePath = "/admin"
