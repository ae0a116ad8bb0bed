package store

import "context"

// UserStatus selects users by state in a UserSearch.
type UserStatus string

const (
	// StatusLive is every user that is not deleted, active or not (the zero value).
	StatusLive     UserStatus = ""
	StatusActive   UserStatus = "active"   // live and Active
	StatusInactive UserStatus = "inactive" // live and not Active (de-provisioned, e.g. SCIM active:false)
	StatusDeleted  UserStatus = "deleted"  // tombstones only
)

// UserSearch selects users the way an organization's Admin looks for them.
// Results are ordered by creation, like UserQuery's.
type UserSearch struct {
	Status UserStatus
	Source Source // "" for any
	// Text, if set, keeps the users whose userName, displayName or one of whose
	// email addresses contains it (case-insensitively), or whose ID equals it.
	Text       string
	StartIndex int // 1-based; < 1 means 1
	Count      int // page size; 0 returns only Total; capped at MaxPageSize
}

// Admin holds what the admin API needs beyond the per-entity interfaces.
type Admin interface {
	// SearchUsers returns a page of the organization's users that match q, and
	// the number of all matches.
	SearchUsers(ctx context.Context, org OrgID, q UserSearch) (Page[User], error)
	// UpdateOrgChecked is UpdateOrg that also checks, in the same transaction,
	// that every slug in the updated Access.SSOConnections names a connection of
	// the organization. If one does not (for example because the connection was
	// deleted meanwhile) nothing is written and the error wraps
	// ErrInvalidReference and names the slug.
	UpdateOrgChecked(ctx context.Context, id OrgID, fn func(*Org) error, ev AuditEvent) (Org, error)
}

// AdminStore is a Store with the Admin queries: what the admin API runs on.
type AdminStore interface {
	Store
	Admin
}
