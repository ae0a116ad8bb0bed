package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// CreateConnection creates an SSO connection; ErrConflict if its slug is taken in
// the organization, ErrInvalidReference if the organization does not exist.
func (s *Store) CreateConnection(ctx context.Context, c store.Connection, ev store.AuditEvent) (store.Connection, error) {
	if c.Slug == "" || c.OrgID == "" {
		return store.Connection{}, errors.New("sqlstore: create connection: empty slug or organization")
	}
	id, err := newID()
	if err != nil {
		return store.Connection{}, err
	}
	c.ID = store.ConnectionID(id)
	err = s.write(ctx, "sqlstore: create connection", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		c.CreatedAt, c.UpdatedAt = now, now
		_, err := tx.ExecContext(ctx, s.q.insertConn, string(c.ID), string(c.OrgID), c.Slug, c.Name,
			c.IdPMetadataXML, c.JITProvisioning, c.AllowIdPInitiated, c.MappingPreset, nullRaw(c.Mapping),
			c.SPCertPEM, c.SPKeyPEM, c.SPNextCertPEM, c.SPNextKeyPEM, micros(now), micros(now))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: create connection %q", c.Slug))
		}
		ev.OrgID, ev.ConnectionID = c.OrgID, c.ID
		return s.insertEvent(ctx, tx, ev, now, "connection.created")
	})
	if err != nil {
		return store.Connection{}, err
	}
	return c, nil
}

// GetConnection returns a connection by ID.
func (s *Store) GetConnection(ctx context.Context, id store.ConnectionID) (store.Connection, error) {
	return s.getConn(ctx, s.read, s.q.getConn, id)
}

func (s *Store) getConn(ctx context.Context, q querier, query string, id store.ConnectionID) (store.Connection, error) {
	c, err := scanConn(q.QueryRowContext(ctx, query, string(id)))
	if err != nil {
		return store.Connection{}, s.d.classify(err, fmt.Sprintf("sqlstore: get connection %s", id))
	}
	return c, nil
}

// GetConnectionBySlug returns an organization's connection by slug.
func (s *Store) GetConnectionBySlug(ctx context.Context, org store.OrgID, slug string) (store.Connection, error) {
	c, err := scanConn(s.read.QueryRowContext(ctx, s.q.getConnBySlug, string(org), slug))
	if err != nil {
		return store.Connection{}, s.d.classify(err, fmt.Sprintf("sqlstore: get connection %q", slug))
	}
	return c, nil
}

// ListConnections returns an organization's connections, ordered by slug.
func (s *Store) ListConnections(ctx context.Context, org store.OrgID) ([]store.Connection, error) {
	rows, err := s.read.QueryContext(ctx, s.q.listConns, string(org))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list connections: %w", err)
	}
	return collect(rows, scanConn, "sqlstore: list connections")
}

// UpdateConnection applies fn to the connection and writes it. fn runs inside the
// write transaction and may run more than once. ID, OrgID and CreatedAt cannot be
// changed. A new slug replaces the old one in the organization's access control
// list.
func (s *Store) UpdateConnection(ctx context.Context, id store.ConnectionID, fn func(*store.Connection) error, ev store.AuditEvent) (store.Connection, error) {
	var out store.Connection
	err := s.write(ctx, "sqlstore: update connection", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		cur, err := s.getConn(ctx, tx, s.q.getConnLocked, id)
		if err != nil {
			return err
		}
		next := cur
		next.Mapping = slices.Clone(cur.Mapping)
		if err := fn(&next); err != nil {
			return fmt.Errorf("sqlstore: update connection %s: %w", id, err)
		}
		if next.Slug == "" {
			return fmt.Errorf("sqlstore: update connection %s: empty slug", id)
		}
		next.ID, next.OrgID, next.CreatedAt, next.UpdatedAt = cur.ID, cur.OrgID, cur.CreatedAt, now
		_, err = tx.ExecContext(ctx, s.q.updateConn, next.Slug, next.Name, next.IdPMetadataXML,
			next.JITProvisioning, next.AllowIdPInitiated, next.MappingPreset, nullRaw(next.Mapping),
			next.SPCertPEM, next.SPKeyPEM, next.SPNextCertPEM, next.SPNextKeyPEM, micros(now), string(id))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: update connection %q", next.Slug))
		}
		if next.Slug != cur.Slug {
			err := s.editOrgConnections(ctx, tx, cur.OrgID, now, func(slugs []string) []string {
				if i := slices.Index(slugs, cur.Slug); i >= 0 {
					slugs[i] = next.Slug
				}
				return slugs
			})
			if err != nil {
				return err
			}
		}
		ev.OrgID, ev.ConnectionID = next.OrgID, next.ID
		out = next
		return s.insertEvent(ctx, tx, ev, now, "connection.updated")
	})
	if err != nil {
		return store.Connection{}, err
	}
	return out, nil
}

// DeleteConnection deletes the connection with its tokens, identities and replay
// cache entries, and removes it from the organization's access control list. The
// accounts it provisioned stay.
func (s *Store) DeleteConnection(ctx context.Context, id store.ConnectionID, ev store.AuditEvent) error {
	return s.write(ctx, "sqlstore: delete connection", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		cur, err := s.getConn(ctx, tx, s.q.getConnLocked, id)
		if err != nil {
			return err
		}
		for _, q := range []string{s.q.deleteConnTokens, s.q.deleteConnIdentities, s.q.deleteConnAssertions, s.q.deleteConn} {
			if _, err := tx.ExecContext(ctx, q, string(id)); err != nil {
				return s.d.classify(err, fmt.Sprintf("sqlstore: delete connection %s", id))
			}
		}
		err = s.editOrgConnections(ctx, tx, cur.OrgID, now, func(slugs []string) []string {
			return slices.DeleteFunc(slugs, func(v string) bool { return v == cur.Slug })
		})
		if err != nil {
			return err
		}
		ev.OrgID, ev.ConnectionID = cur.OrgID, cur.ID
		return s.insertEvent(ctx, tx, ev, now, "connection.deleted")
	})
}

// editOrgConnections rewrites the organization's accessControl.ssoConnections
// with edit, writing only if it changed.
func (s *Store) editOrgConnections(ctx context.Context, tx *sql.Tx, org store.OrgID, now time.Time, edit func([]string) []string) error {
	o, err := s.getOrg(ctx, tx, s.q.getOrgLocked, string(org))
	if err != nil {
		return err
	}
	before := slices.Clone(o.Access.SSOConnections)
	o.Access.SSOConnections = edit(o.Access.SSOConnections)
	o.Access = normalizeAccess(o.Access)
	if slices.Equal(before, o.Access.SSOConnections) {
		return nil
	}
	o.UpdatedAt = now
	return s.putOrg(ctx, tx, o)
}

func scanConn(sc scanner) (store.Connection, error) {
	var (
		c                store.Connection
		mapping          []byte
		created, updated int64
	)
	err := sc.Scan(&c.ID, &c.OrgID, &c.Slug, &c.Name, &c.IdPMetadataXML, &c.JITProvisioning,
		&c.AllowIdPInitiated, &c.MappingPreset, &mapping, &c.SPCertPEM, &c.SPKeyPEM, &c.SPNextCertPEM, &c.SPNextKeyPEM,
		&created, &updated)
	if err != nil {
		return store.Connection{}, err
	}
	c.Mapping = rawOrNil(mapping)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}
