package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// Default and largest page sizes of the user and group lists.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// UserSummary is a user in a list.
type UserSummary struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName,omitempty"`
	Email       string `json:"email,omitempty"`
	// Status is active, inactive (de-provisioned) or deleted.
	Status string `json:"status"`
	// Source is where the account came from: scim, jit or invitation.
	Source string `json:"source"`
	// Connection is the slug of the connection that provisioned the account;
	// empty for invitations and for accounts of a deleted connection.
	Connection   string     `json:"connection,omitempty"`
	Role         string     `json:"role,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastSignInAt *time.Time `json:"lastSignInAt"`
	DeletedAt    *time.Time `json:"deletedAt,omitempty"`
}

// UserList is a page of users.
type UserList struct {
	TotalResults int           `json:"totalResults"`
	StartIndex   int           `json:"startIndex"`
	ItemsPerPage int           `json:"itemsPerPage"`
	Users        []UserSummary `json:"users"`
}

// Identity is an SSO identity linked to a user.
type Identity struct {
	Connection   string     `json:"connection"` // slug
	NameID       string     `json:"nameId"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastSignInAt *time.Time `json:"lastSignInAt"`
}

// GroupRef names a group.
type GroupRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// User is a user's page: the account, where it came from, its identities,
// groups, and its history (the newest audit events about it).
type User struct {
	UserSummary
	ExternalID  string            `json:"externalId,omitempty"`
	GivenName   string            `json:"givenName,omitempty"`
	FamilyName  string            `json:"familyName,omitempty"`
	Emails      []Email           `json:"emails"`
	Custom      map[string]string `json:"custom,omitempty"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Identities  []Identity        `json:"identities"`
	Groups      []GroupRef        `json:"groups"`
	History     []Event           `json:"history"`
	HistoryNext string            `json:"historyNextCursor,omitempty"`
}

// Email is one of a user's addresses.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary"`
}

// UserQuery selects users for ListUsers.
type UserQuery struct {
	Status     string // active, inactive, deleted; "" for all but deleted
	Source     string // scim, jit, invitation; "" for any
	Text       string // in userName, displayName or an email address, or a user ID
	StartIndex int    // 1-based
	Count      int    // page size; 0 for the default
}

// historySize is how many events a user's page shows; the audit log has more.
const historySize = 50

func statusOf(u store.User) string {
	switch {
	case u.DeletedAt != nil:
		return string(store.StatusDeleted)
	case !u.Active:
		return string(store.StatusInactive)
	}
	return string(store.StatusActive)
}

// slugs maps the organization's connection IDs to slugs.
func (s *Service) slugs(ctx context.Context, org store.OrgID) (map[store.ConnectionID]string, error) {
	cs, err := s.st.ListConnections(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("admin: list connections: %w", err)
	}
	m := make(map[store.ConnectionID]string, len(cs))
	for _, c := range cs {
		m[c.ID] = c.Slug
	}
	return m, nil
}

func summaryOf(u store.User, slugs map[store.ConnectionID]string) UserSummary {
	return UserSummary{
		ID: string(u.ID), UserName: u.UserName, DisplayName: u.DisplayName, Email: u.PrimaryEmail(),
		Status: statusOf(u), Source: string(u.Source), Connection: slugs[u.ConnectionID], Role: u.Role,
		CreatedAt: u.CreatedAt, LastSignInAt: u.LastSignInAt, DeletedAt: u.DeletedAt,
	}
}

// checkPage validates paging parameters into fe and returns them with the
// defaults applied.
func checkPage(fe fieldErrors, start, count int) (int, int) {
	if start < 0 {
		fe.add("startIndex", "must be 1 or more")
	}
	if count < 0 || count > maxPageSize {
		fe.add("count", "must be from 1 to %d", maxPageSize)
	}
	if start < 1 {
		start = 1
	}
	if count == 0 {
		count = defaultPageSize
	}
	return start, count
}

// ListUsers returns a page of the organization's users.
func (s *Service) ListUsers(ctx context.Context, a Actor, q UserQuery) (UserList, error) {
	fe := fieldErrors{}
	status := store.UserStatus(q.Status)
	switch status {
	case store.StatusLive, store.StatusActive, store.StatusInactive, store.StatusDeleted:
	default:
		fe.add("status", "one of active, inactive, deleted")
	}
	source := store.Source(q.Source)
	switch source {
	case "", store.SourceSCIM, store.SourceJIT, store.SourceInvitation:
	default:
		fe.add("source", "one of scim, jit, invitation")
	}
	text := strings.TrimSpace(q.Text)
	if len(text) > 256 {
		fe.add("q", "at most 256 bytes")
	}
	start, count := checkPage(fe, q.StartIndex, q.Count)
	if err := fe.err(); err != nil {
		return UserList{}, err
	}
	p, err := s.st.SearchUsers(ctx, a.org.ID, store.UserSearch{Status: status, Source: source, Text: text, StartIndex: start, Count: count})
	if err != nil {
		return UserList{}, fmt.Errorf("admin: search users: %w", err)
	}
	slugs, err := s.slugs(ctx, a.org.ID)
	if err != nil {
		return UserList{}, err
	}
	out := UserList{TotalResults: p.Total, StartIndex: start, ItemsPerPage: len(p.Items), Users: []UserSummary{}}
	for _, u := range p.Items {
		out.Users = append(out.Users, summaryOf(u, slugs))
	}
	return out, nil
}

// User returns a user's page, deleted users (tombstones) included.
func (s *Service) User(ctx context.Context, a Actor, id string) (User, error) {
	u, err := s.st.GetUser(ctx, a.org.ID, store.UserID(id))
	if err != nil {
		return User{}, fmt.Errorf("admin: user %s: %w", id, err)
	}
	slugs, err := s.slugs(ctx, a.org.ID)
	if err != nil {
		return User{}, err
	}
	out := User{
		UserSummary: summaryOf(u, slugs), ExternalID: u.ExternalID, GivenName: u.GivenName, FamilyName: u.FamilyName,
		Emails: []Email{}, Custom: u.Custom, UpdatedAt: u.UpdatedAt,
		Identities: []Identity{}, Groups: []GroupRef{},
	}
	for _, e := range u.Emails {
		out.Emails = append(out.Emails, Email(e))
	}
	ids, err := s.st.ListIdentities(ctx, a.org.ID, u.ID)
	if err != nil {
		return User{}, fmt.Errorf("admin: identities of %s: %w", id, err)
	}
	for _, i := range ids {
		out.Identities = append(out.Identities, Identity{Connection: slugs[i.ConnectionID], NameID: i.NameID, CreatedAt: i.CreatedAt, LastSignInAt: i.LastSignInAt})
	}
	gs, err := s.st.ListUserGroups(ctx, a.org.ID, u.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return User{}, fmt.Errorf("admin: groups of %s: %w", id, err)
	}
	for _, g := range gs {
		out.Groups = append(out.Groups, GroupRef{ID: string(g.ID), DisplayName: g.DisplayName})
	}
	log, err := s.AuditLog(ctx, a, AuditQuery{User: id, Limit: historySize})
	if err != nil {
		return User{}, err
	}
	out.History, out.HistoryNext = log.Events, log.NextCursor
	return out, nil
}

// GroupSummary is a group in a list.
type GroupSummary struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	ExternalID  string    `json:"externalId,omitempty"`
	Connection  string    `json:"connection,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// GroupList is a page of groups.
type GroupList struct {
	TotalResults int            `json:"totalResults"`
	StartIndex   int            `json:"startIndex"`
	ItemsPerPage int            `json:"itemsPerPage"`
	Groups       []GroupSummary `json:"groups"`
}

// Member is a group member.
type Member struct {
	ID      string `json:"id"`
	Display string `json:"display,omitempty"`
}

// Group is a group with its members, in the order they were added.
type Group struct {
	GroupSummary
	Members []Member `json:"members"`
}

func groupSummaryOf(g store.Group, slugs map[store.ConnectionID]string) GroupSummary {
	return GroupSummary{ID: string(g.ID), DisplayName: g.DisplayName, ExternalID: g.ExternalID, Connection: slugs[g.ConnectionID],
		CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

// ListGroups returns a page of the organization's groups, those whose display
// name contains text if it is not empty.
func (s *Service) ListGroups(ctx context.Context, a Actor, text string, startIndex, count int) (GroupList, error) {
	fe := fieldErrors{}
	text = strings.TrimSpace(text)
	if len(text) > 256 {
		fe.add("q", "at most 256 bytes")
	}
	start, count := checkPage(fe, startIndex, count)
	if err := fe.err(); err != nil {
		return GroupList{}, err
	}
	q := store.GroupQuery{StartIndex: start, Count: count}
	if text != "" {
		q.Filter = store.Compare{Field: store.FieldDisplayName, Op: store.OpCo, Value: text}
	}
	p, err := s.st.ListGroups(ctx, a.org.ID, q)
	if err != nil {
		return GroupList{}, fmt.Errorf("admin: list groups: %w", err)
	}
	slugs, err := s.slugs(ctx, a.org.ID)
	if err != nil {
		return GroupList{}, err
	}
	out := GroupList{TotalResults: p.Total, StartIndex: start, ItemsPerPage: len(p.Items), Groups: []GroupSummary{}}
	for _, g := range p.Items {
		out.Groups = append(out.Groups, groupSummaryOf(g, slugs))
	}
	return out, nil
}

// Group returns a group and its members.
func (s *Service) Group(ctx context.Context, a Actor, id string) (Group, error) {
	g, err := s.st.GetGroup(ctx, a.org.ID, store.GroupID(id))
	if err != nil {
		return Group{}, fmt.Errorf("admin: group %s: %w", id, err)
	}
	ms, err := s.st.ListMembers(ctx, a.org.ID, g.ID)
	if err != nil {
		return Group{}, fmt.Errorf("admin: members of %s: %w", id, err)
	}
	slugs, err := s.slugs(ctx, a.org.ID)
	if err != nil {
		return Group{}, err
	}
	out := Group{GroupSummary: groupSummaryOf(g, slugs), Members: []Member{}}
	for _, m := range ms {
		out.Members = append(out.Members, Member{ID: string(m.UserID), Display: m.Display})
	}
	return out, nil
}
