package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// The statements of the email sign-in tables (links_*.go, invitations_*.go)
// are rebound when they run rather than held in queries: rebinding is one
// scan of a short string, nothing next to the round trip, and it keeps these
// files apart from the core tables' statements.

const domainRouteCols = `domain, org_id, connection_id, created_at, updated_at`

// normalizeDomain is how domains are keyed: trimmed, lower-case, without a
// trailing dot.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// SetDomainRoute creates or changes the route of r.Domain to r.ConnectionID.
// ErrConflict if another organization routes the domain; ErrInvalidReference
// if the connection is not the organization's.
func (s *Store) SetDomainRoute(ctx context.Context, r store.DomainRoute, ev store.AuditEvent) (store.DomainRoute, error) {
	r.Domain = normalizeDomain(r.Domain)
	if r.Domain == "" || r.OrgID == "" || r.ConnectionID == "" {
		return store.DomainRoute{}, errors.New("sqlstore: set domain route: empty domain, organization or connection")
	}
	var out store.DomainRoute
	err := s.write(ctx, "sqlstore: set domain route", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var org store.OrgID
		err := tx.QueryRowContext(ctx, s.q.connOrg, string(r.ConnectionID)).Scan(&org)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && org != r.OrgID) {
			return fmt.Errorf("sqlstore: set domain route %s: connection %s is not the organization's: %w", r.Domain, r.ConnectionID, store.ErrInvalidReference)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: set domain route %s: %w", r.Domain, err)
		}
		cur, err := scanDomainRoute(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+domainRouteCols+
			` FROM domain_routes WHERE domain = ?`+s.d.forUpdate), r.Domain))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out = store.DomainRoute{Domain: r.Domain, OrgID: r.OrgID, ConnectionID: r.ConnectionID, CreatedAt: now, UpdatedAt: now}
			_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO domain_routes (`+domainRouteCols+`) VALUES (?, ?, ?, ?, ?)`),
				out.Domain, string(out.OrgID), string(out.ConnectionID), micros(now), micros(now))
			if err != nil {
				return s.d.classify(err, fmt.Sprintf("sqlstore: set domain route %s", r.Domain))
			}
		case err != nil:
			return fmt.Errorf("sqlstore: set domain route %s: %w", r.Domain, err)
		case cur.OrgID != r.OrgID:
			return fmt.Errorf("sqlstore: set domain route %s: routed by another organization: %w", r.Domain, store.ErrConflict)
		case cur.ConnectionID == r.ConnectionID:
			out = cur
			return nil // unchanged: no write, no event
		default:
			out = cur
			out.ConnectionID, out.UpdatedAt = r.ConnectionID, now
			_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE domain_routes SET connection_id = ?, updated_at = ? WHERE domain = ?`),
				string(out.ConnectionID), micros(now), out.Domain)
			if err != nil {
				return fmt.Errorf("sqlstore: set domain route %s: %w", r.Domain, err)
			}
		}
		ev.OrgID, ev.ConnectionID = r.OrgID, r.ConnectionID
		ev.Detail = withDetail(ev.Detail, "domain", r.Domain)
		return s.insertEvent(ctx, tx, ev, now, "domain_route.set")
	})
	if err != nil {
		return store.DomainRoute{}, err
	}
	return out, nil
}

// GetDomainRoute returns the route of a domain.
func (s *Store) GetDomainRoute(ctx context.Context, domain string) (store.DomainRoute, error) {
	r, err := scanDomainRoute(s.read.QueryRowContext(ctx, s.d.rebind(`SELECT `+domainRouteCols+
		` FROM domain_routes WHERE domain = ?`), normalizeDomain(domain)))
	if err != nil {
		return store.DomainRoute{}, s.d.classify(err, fmt.Sprintf("sqlstore: get domain route %s", domain))
	}
	return r, nil
}

// ListDomainRoutes returns an organization's routes ordered by domain.
func (s *Store) ListDomainRoutes(ctx context.Context, org store.OrgID) ([]store.DomainRoute, error) {
	rows, err := s.read.QueryContext(ctx, s.d.rebind(`SELECT `+domainRouteCols+
		` FROM domain_routes WHERE org_id = ? ORDER BY domain`), string(org))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list domain routes: %w", err)
	}
	return collect(rows, scanDomainRoute, "sqlstore: list domain routes")
}

// DeleteDomainRoute deletes an organization's route of a domain; ErrNotFound
// if it has none.
func (s *Store) DeleteDomainRoute(ctx context.Context, org store.OrgID, domain string, ev store.AuditEvent) error {
	domain = normalizeDomain(domain)
	return s.write(ctx, "sqlstore: delete domain route", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		cur, err := scanDomainRoute(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+domainRouteCols+
			` FROM domain_routes WHERE domain = ? AND org_id = ?`+s.d.forUpdate), domain, string(org)))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: delete domain route %s", domain))
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM domain_routes WHERE domain = ?`), domain); err != nil {
			return fmt.Errorf("sqlstore: delete domain route %s: %w", domain, err)
		}
		ev.OrgID, ev.ConnectionID = org, cur.ConnectionID
		ev.Detail = withDetail(ev.Detail, "domain", domain)
		return s.insertEvent(ctx, tx, ev, now, "domain_route.deleted")
	})
}

func scanDomainRoute(sc scanner) (store.DomainRoute, error) {
	var (
		r                store.DomainRoute
		created, updated int64
	)
	if err := sc.Scan(&r.Domain, &r.OrgID, &r.ConnectionID, &created, &updated); err != nil {
		return store.DomainRoute{}, err
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

// withDetail returns a copy of detail with k set to v (the caller's map is
// not changed: an update closure may run more than once).
func withDetail(detail map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(detail)+1)
	for dk, dv := range detail {
		out[dk] = dv
	}
	out[k] = v
	return out
}
