package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// CreateGroup creates a group with its first members; ErrConflict if the display
// name is taken (case-insensitively), ErrInvalidReference if a member is not a
// live user of the organization.
func (s *Store) CreateGroup(ctx context.Context, g store.Group, members []store.UserID, ev store.AuditEvent) (store.Group, error) {
	if g.OrgID == "" || g.DisplayName == "" {
		return store.Group{}, errors.New("sqlstore: create group: empty organization or displayName")
	}
	id, err := newID()
	if err != nil {
		return store.Group{}, err
	}
	g.ID, g.Version = store.GroupID(id), 1
	g.Resource = slices.Clone(g.Resource)
	err = s.write(ctx, "sqlstore: create group", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		g.CreatedAt, g.UpdatedAt = now, now
		_, err := tx.ExecContext(ctx, s.q.insertGroup, string(g.ID), string(g.OrgID), g.DisplayName,
			strings.ToLower(g.DisplayName), nullString(g.ExternalID), string(g.ConnectionID), nullRaw(g.Resource),
			g.Version, micros(now), micros(now))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: create group %q", g.DisplayName))
		}
		if err := s.addMembers(ctx, tx, g, members); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, groupEvent(ev, g), now, "group.created")
	})
	if err != nil {
		return store.Group{}, err
	}
	return g, nil
}

func groupEvent(ev store.AuditEvent, g store.Group) store.AuditEvent {
	ev.OrgID, ev.GroupID = g.OrgID, g.ID
	if ev.ConnectionID == "" {
		ev.ConnectionID = g.ConnectionID
	}
	return ev
}

// addMembers adds live users of the group's organization; present members are
// left where they are.
func (s *Store) addMembers(ctx context.Context, tx *sql.Tx, g store.Group, ids []store.UserID) error {
	for _, id := range ids {
		var one int
		err := tx.QueryRowContext(ctx, s.q.isLiveUser, string(g.OrgID), string(id)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: group %s: member %q is not a user of the organization: %w", g.ID, id, store.ErrInvalidReference)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: group %s: check member: %w", g.ID, err)
		}
		if _, err := tx.ExecContext(ctx, s.q.addMember, string(g.ID), string(id), string(g.OrgID)); err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: group %s: add member", g.ID))
		}
	}
	return nil
}

func (s *Store) removeMembers(ctx context.Context, tx *sql.Tx, g store.GroupID, ids []store.UserID) error {
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, s.q.removeMember, string(g), string(id)); err != nil {
			return fmt.Errorf("sqlstore: group %s: remove member: %w", g, err)
		}
	}
	return nil
}

// GetGroup returns a group of the organization.
func (s *Store) GetGroup(ctx context.Context, org store.OrgID, id store.GroupID) (store.Group, error) {
	return s.getGroup(ctx, s.read, s.q.getGroup, org, id)
}

func (s *Store) getGroup(ctx context.Context, q querier, query string, org store.OrgID, id store.GroupID) (store.Group, error) {
	g, err := scanGroup(q.QueryRowContext(ctx, query, string(org), string(id)))
	if err != nil {
		return store.Group{}, s.d.classify(err, fmt.Sprintf("sqlstore: get group %s", id))
	}
	return g, nil
}

// ListGroups returns a page of the organization's groups that match q.Filter, in
// creation order, and the number of all matches.
func (s *Store) ListGroups(ctx context.Context, org store.OrgID, q store.GroupQuery) (store.Page[store.Group], error) {
	lq, err := groupWhere(org, q)
	if err != nil {
		return store.Page[store.Group]{}, fmt.Errorf("sqlstore: list groups: %w", err)
	}
	offset, limit := page(q.StartIndex, q.Count)
	count := s.d.rebind("SELECT COUNT(*) FROM groups g WHERE " + lq.where)
	list := s.d.rebind("SELECT " + groupCols + " FROM groups g WHERE " + lq.where + " ORDER BY g.seq LIMIT ? OFFSET ?")
	return listPage(ctx, s.read, count, list, lq.args, limit, offset, scanGroup, "sqlstore: list groups")
}

// ListMembers returns the group's members in the order they were added; Display is
// the user's displayName, or userName when that is empty.
func (s *Store) ListMembers(ctx context.Context, org store.OrgID, id store.GroupID) ([]store.Member, error) {
	tx, err := s.read.BeginTx(ctx, snapshot())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list members: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	if err := tx.QueryRowContext(ctx, s.q.groupExists, string(org), string(id)).Scan(&one); err != nil {
		return nil, s.d.classify(err, fmt.Sprintf("sqlstore: list members of group %s", id))
	}
	rows, err := tx.QueryContext(ctx, s.q.listMembers, string(id))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list members: %w", err)
	}
	return collect(rows, func(sc scanner) (store.Member, error) {
		var m store.Member
		var userName string
		if err := sc.Scan(&m.UserID, &m.Display, &userName); err != nil {
			return store.Member{}, err
		}
		if m.Display == "" {
			m.Display = userName
		}
		return m, nil
	}, "sqlstore: list members")
}

// ListUserGroups returns the groups a user belongs to, in creation order.
func (s *Store) ListUserGroups(ctx context.Context, org store.OrgID, id store.UserID) ([]store.Group, error) {
	rows, err := s.read.QueryContext(ctx, s.q.listUserGroups, string(id), string(org))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list user groups: %w", err)
	}
	return collect(rows, scanGroup, "sqlstore: list user groups")
}

// UpdateGroup applies fn (if not nil) and the member change in one transaction,
// incrementing Version. fn may run more than once; its error aborts the update and
// is returned wrapped. ID, OrgID, Version and CreatedAt are the store's.
func (s *Store) UpdateGroup(ctx context.Context, org store.OrgID, id store.GroupID, fn func(*store.Group) error, mc store.MemberChange, ev store.AuditEvent) (store.Group, error) {
	var out store.Group
	err := s.write(ctx, "sqlstore: update group", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		cur, err := s.getGroup(ctx, tx, s.q.getGroupLocked, org, id)
		if err != nil {
			return err
		}
		next := cur
		next.Resource = slices.Clone(cur.Resource)
		if fn != nil {
			if err := fn(&next); err != nil {
				return fmt.Errorf("sqlstore: update group %s: %w", id, err)
			}
		}
		if next.DisplayName == "" {
			return fmt.Errorf("sqlstore: update group %s: empty displayName", id)
		}
		next.ID, next.OrgID, next.CreatedAt = cur.ID, cur.OrgID, cur.CreatedAt
		next.Version, next.UpdatedAt = cur.Version+1, now
		_, err = tx.ExecContext(ctx, s.q.updateGroup, next.DisplayName, strings.ToLower(next.DisplayName),
			nullString(next.ExternalID), string(next.ConnectionID), nullRaw(next.Resource), next.Version,
			micros(now), string(id))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: update group %q", next.DisplayName))
		}
		if err := s.changeMembers(ctx, tx, next, mc); err != nil {
			return err
		}
		out = next
		return s.insertEvent(ctx, tx, groupEvent(ev, next), now, "group.updated")
	})
	if err != nil {
		return store.Group{}, err
	}
	return out, nil
}

func (s *Store) changeMembers(ctx context.Context, tx *sql.Tx, g store.Group, mc store.MemberChange) error {
	if !mc.Replace {
		if err := s.removeMembers(ctx, tx, g.ID, mc.Remove); err != nil {
			return err
		}
		return s.addMembers(ctx, tx, g, mc.Add)
	}
	rows, err := tx.QueryContext(ctx, s.q.memberIDs, string(g.ID))
	if err != nil {
		return fmt.Errorf("sqlstore: group %s: read members: %w", g.ID, err)
	}
	cur, err := collect(rows, func(sc scanner) (store.UserID, error) {
		var id store.UserID
		return id, sc.Scan(&id)
	}, "sqlstore: read members")
	if err != nil {
		return err
	}
	want := make(map[store.UserID]bool, len(mc.Set))
	for _, id := range mc.Set {
		want[id] = true
	}
	var gone []store.UserID
	for _, id := range cur {
		if !want[id] {
			gone = append(gone, id)
		}
	}
	if err := s.removeMembers(ctx, tx, g.ID, gone); err != nil {
		return err
	}
	// Present members keep their place; new ones are appended in Set's order.
	return s.addMembers(ctx, tx, g, mc.Set)
}

// DeleteGroup deletes a group and its memberships.
func (s *Store) DeleteGroup(ctx context.Context, org store.OrgID, id store.GroupID, ev store.AuditEvent, pre store.VersionCheck) error {
	return s.write(ctx, "sqlstore: delete group", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		cur, err := s.getGroup(ctx, tx, s.q.getGroupLocked, org, id)
		if err != nil {
			return err
		}
		if pre != nil {
			if err := pre(cur.Version); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteGroupMembers, string(id)); err != nil {
			return fmt.Errorf("sqlstore: delete group %s: members: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteGroup, string(org), string(id)); err != nil {
			return fmt.Errorf("sqlstore: delete group %s: %w", id, err)
		}
		return s.insertEvent(ctx, tx, groupEvent(ev, cur), now, "group.deleted")
	})
}

func scanGroup(sc scanner) (store.Group, error) {
	var (
		g                store.Group
		externalID       sql.NullString
		resource         []byte
		created, updated int64
	)
	err := sc.Scan(&g.ID, &g.OrgID, &g.DisplayName, &externalID, &g.ConnectionID, &resource, &g.Version,
		&created, &updated)
	if err != nil {
		return store.Group{}, err
	}
	g.ExternalID = externalID.String
	g.Resource = rawOrNil(resource)
	g.CreatedAt, g.UpdatedAt = fromMicros(created), fromMicros(updated)
	return g, nil
}
