package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/onramp-dev/onramp/store"
)

var _ store.AdminStore = (*Store)(nil)

// SearchUsers returns a page of the organization's users that match q, in
// creation order, and the number of all matches. The text search is a
// substring match (LIKE with the text's wildcards escaped) over the lower-cased
// userName, displayName and email columns, so it scans the organization's rows:
// fine for an Admin's search box, not for a protocol's hot path.
func (s *Store) SearchUsers(ctx context.Context, org store.OrgID, q store.UserSearch) (store.Page[store.User], error) {
	lq, err := searchWhere(org, q)
	if err != nil {
		return store.Page[store.User]{}, fmt.Errorf("sqlstore: search users: %w", err)
	}
	offset, limit := page(q.StartIndex, q.Count)
	count := s.d.rebind("SELECT COUNT(*) FROM users u WHERE " + lq.where)
	list := s.d.rebind("SELECT " + userCols + " FROM users u WHERE " + lq.where + " ORDER BY u.seq LIMIT ? OFFSET ?")
	return listPage(ctx, s.read, count, list, lq.args, limit, offset, scanUser, "sqlstore: search users")
}

// searchWhere builds a UserSearch's WHERE clause from the typed filter language
// (which userWhere compiles) plus the two conditions it cannot say: the source,
// and tombstones only.
func searchWhere(org store.OrgID, q store.UserSearch) (listQuery, error) {
	var f store.Filter
	switch q.Status {
	case store.StatusLive, store.StatusDeleted:
	case store.StatusActive:
		f = store.Compare{Field: store.FieldActive, Op: store.OpEq, Value: true}
	case store.StatusInactive:
		f = store.Compare{Field: store.FieldActive, Op: store.OpEq, Value: false}
	default:
		return listQuery{}, fmt.Errorf("%w: status %q", errFilter, q.Status)
	}
	if text := strings.TrimSpace(q.Text); text != "" {
		var t store.Filter = store.Or{
			Left: store.Compare{Field: store.FieldID, Op: store.OpEq, Value: text},
			Right: store.Or{
				Left: store.Compare{Field: store.FieldUserName, Op: store.OpCo, Value: text},
				Right: store.Or{
					Left:  store.Compare{Field: store.FieldDisplayName, Op: store.OpCo, Value: text},
					Right: store.Compare{Field: store.FieldEmailValue, Op: store.OpCo, Value: text},
				},
			},
		}
		if f != nil {
			t = store.And{Left: f, Right: t}
		}
		f = t
	}
	lq, err := userWhere(org, store.UserQuery{Filter: f, IncludeDeleted: q.Status == store.StatusDeleted})
	if err != nil {
		return listQuery{}, err
	}
	if q.Status == store.StatusDeleted {
		lq.where += " AND u.deleted_at IS NOT NULL"
	}
	if q.Source != "" {
		lq.where += " AND u.source = ?"
		lq.args = append(lq.args, string(q.Source))
	}
	return lq, nil
}
