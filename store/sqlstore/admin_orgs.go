package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// UpdateOrgChecked is UpdateOrg that, in the same write transaction, refuses an
// access control list naming a connection the organization does not have
// (ErrInvalidReference). The connections are read in that transaction, after
// the organization's row lock, and DeleteConnection takes the same lock to
// remove a deleted connection from the list, so a connection deleted
// concurrently is either seen as gone here or removed from the list after this
// write: the list never keeps a slug that a later connection could inherit.
func (s *Store) UpdateOrgChecked(ctx context.Context, id store.OrgID, fn func(*store.Org) error, ev store.AuditEvent) (store.Org, error) {
	var out store.Org
	err := s.write(ctx, "sqlstore: update org", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		cur, err := s.getOrg(ctx, tx, s.q.getOrgLocked, string(id))
		if err != nil {
			return err
		}
		next := cur
		next.Access.EmailDomains = slices.Clone(cur.Access.EmailDomains)
		next.Access.SSOConnections = slices.Clone(cur.Access.SSOConnections)
		if err := fn(&next); err != nil {
			return fmt.Errorf("sqlstore: update org %s: %w", id, err)
		}
		if next.Slug == "" {
			return fmt.Errorf("sqlstore: update org %s: empty slug", id)
		}
		next.ID, next.CreatedAt, next.UpdatedAt = cur.ID, cur.CreatedAt, now
		next.Access = normalizeAccess(next.Access)
		if err := s.checkConnectionSlugs(ctx, tx, next); err != nil {
			return err
		}
		if err := s.putOrg(ctx, tx, next); err != nil {
			return err
		}
		ev.OrgID = next.ID
		out = next
		return s.insertEvent(ctx, tx, ev, now, "org.updated")
	})
	if err != nil {
		return store.Org{}, err
	}
	return out, nil
}

// checkConnectionSlugs fails with ErrInvalidReference if o's access control
// list names a connection o does not have.
func (s *Store) checkConnectionSlugs(ctx context.Context, tx *sql.Tx, o store.Org) error {
	if len(o.Access.SSOConnections) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, s.q.listConns, string(o.ID))
	if err != nil {
		return fmt.Errorf("sqlstore: update org %s: list connections: %w", o.ID, err)
	}
	conns, err := collect(rows, scanConn, "sqlstore: update org: list connections")
	if err != nil {
		return err
	}
	for _, slug := range o.Access.SSOConnections {
		if !slices.ContainsFunc(conns, func(c store.Connection) bool { return c.Slug == slug }) {
			return fmt.Errorf("sqlstore: update org %s: access control names connection %q: %w", o.ID, slug, store.ErrInvalidReference)
		}
	}
	return nil
}
