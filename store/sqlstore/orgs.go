package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// write runs fn as one job of the group-committing writer; now is the job's
// clock reading, already in the store's precision.
func (s *Store) write(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx, now time.Time) error) error {
	return s.w.do(ctx, name, func(ctx context.Context, tx *sql.Tx) error {
		return fn(ctx, tx, stamp(s.now()))
	})
}

// writeDeferred is write for a sign-in, whose commit may be fsynced just
// after it returns (doc.go, "Deferred durability").
func (s *Store) writeDeferred(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx, now time.Time) error) error {
	return s.w.doDeferred(ctx, name, func(ctx context.Context, tx *sql.Tx) error {
		return fn(ctx, tx, stamp(s.now()))
	})
}

// CreateOrg creates an organization; ErrConflict if its slug is taken.
func (s *Store) CreateOrg(ctx context.Context, o store.Org, ev store.AuditEvent) (store.Org, error) {
	if o.Slug == "" {
		return store.Org{}, errors.New("sqlstore: create org: empty slug")
	}
	id, err := newID()
	if err != nil {
		return store.Org{}, err
	}
	o.ID = store.OrgID(id)
	o.Access = normalizeAccess(o.Access)
	err = s.write(ctx, "sqlstore: create org", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		o.CreatedAt, o.UpdatedAt = now, now
		domains, conns, err := encodeAccess(o.Access)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q.insertOrg, string(o.ID), o.Slug, o.Name, o.Onboarding.JITEmailDomains,
			o.Onboarding.JITSSOConnections, domains, conns, micros(now), micros(now))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: create org %q", o.Slug))
		}
		ev.OrgID = o.ID
		return s.insertEvent(ctx, tx, ev, now, "org.created")
	})
	if err != nil {
		return store.Org{}, err
	}
	return o, nil
}

// GetOrg returns an organization by ID.
func (s *Store) GetOrg(ctx context.Context, id store.OrgID) (store.Org, error) {
	return s.getOrg(ctx, s.read, s.q.getOrg, string(id))
}

// GetOrgBySlug returns an organization by slug.
func (s *Store) GetOrgBySlug(ctx context.Context, slug string) (store.Org, error) {
	return s.getOrg(ctx, s.read, s.q.getOrgBySlug, slug)
}

func (s *Store) getOrg(ctx context.Context, q querier, query, key string) (store.Org, error) {
	o, err := scanOrg(q.QueryRowContext(ctx, query, key))
	if err != nil {
		return store.Org{}, s.d.classify(err, fmt.Sprintf("sqlstore: get org %q", key))
	}
	return o, nil
}

// ListOrgs returns every organization, ordered by slug.
func (s *Store) ListOrgs(ctx context.Context) ([]store.Org, error) {
	rows, err := s.read.QueryContext(ctx, s.q.listOrgs)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list orgs: %w", err)
	}
	return collect(rows, scanOrg, "sqlstore: list orgs")
}

// UpdateOrg applies fn to the organization and writes it. fn runs inside the
// write transaction and may run more than once; its error aborts the update and is
// returned wrapped. ID and CreatedAt cannot be changed.
func (s *Store) UpdateOrg(ctx context.Context, id store.OrgID, fn func(*store.Org) error, ev store.AuditEvent) (store.Org, error) {
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

func (s *Store) putOrg(ctx context.Context, tx *sql.Tx, o store.Org) error {
	domains, conns, err := encodeAccess(o.Access)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q.updateOrg, o.Slug, o.Name, o.Onboarding.JITEmailDomains,
		o.Onboarding.JITSSOConnections, domains, conns, micros(o.UpdatedAt), string(o.ID))
	if err != nil {
		return s.d.classify(err, fmt.Sprintf("sqlstore: update org %q", o.Slug))
	}
	return nil
}

func scanOrg(sc scanner) (store.Org, error) {
	var (
		o                store.Org
		domains, conns   []byte
		created, updated int64
	)
	err := sc.Scan(&o.ID, &o.Slug, &o.Name, &o.Onboarding.JITEmailDomains, &o.Onboarding.JITSSOConnections,
		&domains, &conns, &created, &updated)
	if err != nil {
		return store.Org{}, err
	}
	if err := json.Unmarshal(domains, &o.Access.EmailDomains); err != nil {
		return store.Org{}, fmt.Errorf("org %s: email domains: %w", o.ID, err)
	}
	if err := json.Unmarshal(conns, &o.Access.SSOConnections); err != nil {
		return store.Org{}, fmt.Errorf("org %s: sso connections: %w", o.ID, err)
	}
	o.Access = normalizeAccess(o.Access)
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return o, nil
}

// normalizeAccess puts an access control list in the form store.AccessControl
// documents: domains lower-cased, both lists sorted without duplicates, nil when
// empty.
func normalizeAccess(a store.AccessControl) store.AccessControl {
	norm := func(in []string, lower bool) []string {
		out := make([]string, 0, len(in))
		for _, v := range in {
			v = strings.TrimSpace(v)
			if lower {
				v = strings.ToLower(v)
			}
			if v != "" {
				out = append(out, v)
			}
		}
		slices.Sort(out)
		out = slices.Compact(out)
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return store.AccessControl{
		EmailDomains:   norm(a.EmailDomains, true),
		SSOConnections: norm(a.SSOConnections, false),
	}
}

func encodeAccess(a store.AccessControl) (domains, conns string, err error) {
	d, err := json.Marshal(nonNil(a.EmailDomains))
	if err != nil {
		return "", "", fmt.Errorf("encode email domains: %w", err)
	}
	c, err := json.Marshal(nonNil(a.SSOConnections))
	if err != nil {
		return "", "", fmt.Errorf("encode sso connections: %w", err)
	}
	return string(d), string(c), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error), what string) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
