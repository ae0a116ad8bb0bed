package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func openTest(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "onramp.db"), nil, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestPragmas checks the settings doc.go promises on the writer and the readers.
func TestPragmas(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	check := func(name, pragma, want string, q querier) {
		t.Helper()
		var got string
		if err := q.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("%s: PRAGMA %s: %v", name, pragma, err)
		}
		if !strings.EqualFold(got, want) {
			t.Errorf("%s: PRAGMA %s = %q, want %q", name, pragma, got, want)
		}
	}
	check("writer", "journal_mode", "wal", groupOf(t, s).db)
	check("writer", "synchronous", "2", groupOf(t, s).db) // FULL
	check("writer", "foreign_keys", "1", groupOf(t, s).db)
	check("writer", "busy_timeout", "10000", groupOf(t, s).db)
	check("writer", "temp_store", "2", groupOf(t, s).db) // MEMORY
	check("writer", "cache_size", "-32768", groupOf(t, s).db)
	check("writer", "wal_autocheckpoint", "4000", groupOf(t, s).db)
	check("writer", "journal_size_limit", "67108864", groupOf(t, s).db)
	check("checkpointer", "synchronous", "2", groupOf(t, s).ckpt.db)
	check("reader", "journal_mode", "wal", s.read)
	check("reader", "foreign_keys", "1", s.read)
	check("reader", "query_only", "1", s.read)
	if n := groupOf(t, s).db.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool has %d connections, want 1", n)
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{":memory:", "", "x.db?_fk=0", "postgres://u@h/db?sslmode=bogus", "postgresql://u@127.0.0.1:0/db?connect_timeout=5"} {
		s, err := Open(ctx, dsn, nil)
		if err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded, want an error", dsn)
		}
	}
	// The DSN's password never reaches an error.
	for _, dsn := range []string{"postgres://u:s3cr3t@127.0.0.1:0/db?connect_timeout=5", "postgres://u:s3cr3t@h/db?sslmode=bogus"} {
		_, err := Open(ctx, dsn, nil)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Open(postgres with a password) error = %v, want one without the password", err)
		}
	}
}

func TestDollarRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{`x LIKE ? ESCAPE '\' AND y = ?`, `x LIKE $1 ESCAPE '\' AND y = $2`},
		{"s = 'what?' AND t = ?", "s = 'what?' AND t = $1"},
		{"s = 'it''s?' AND t = ?", "s = 'it''s?' AND t = $1"},
		{`"odd?col" = ?`, `"odd?col" = $1`},
		{"a = ? -- why?\nAND b = ?", "a = $1 -- why?\nAND b = $2"},
	} {
		if got := dollarRebind(tc.in); got != tc.want {
			t.Errorf("dollarRebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewIDIsUUIDv7(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := newID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) || strings.Count(id, "-") != 4 {
			t.Fatalf("newID() = %q, not a version 7 UUID", id)
		}
		if seen[id] {
			t.Fatalf("newID() repeated %q", id)
		}
		seen[id] = true
	}
}

// TestUUIDv7Order checks that IDs sort (as text, as the indexes sort them) in
// the order of their times, down to a microsecond, and carry the time's Unix
// milliseconds in their first 48 bits.
func TestUUIDv7Order(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	prev := ""
	for _, d := range []time.Duration{0, time.Microsecond, 2 * time.Microsecond, 999 * time.Microsecond,
		time.Millisecond, time.Second, 24 * time.Hour, 40 * 365 * 24 * time.Hour} {
		at := base.Add(d)
		id, err := uuidV7(at)
		if err != nil {
			t.Fatal(err)
		}
		if id <= prev {
			t.Errorf("uuidV7(%v) = %s, not after %s", at, id, prev)
		}
		prev = id
		ms, err := strconv.ParseUint(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(at.UnixMilli()); ms != want { //nolint:gosec // G115: times after 1970
			t.Errorf("uuidV7(%v) = %s: milliseconds %d, want %d", at, id, ms, want)
		}
	}
}

// TestIndexedLookups runs EXPLAIN QUERY PLAN on the list queries that store.Filter
// promises never scan an organization's rows.
func TestIndexedLookups(t *testing.T) {
	s := openTest(t)
	org := store.OrgID("org")
	for _, tc := range []struct {
		name  string
		group bool
		f     store.Filter
		index string
	}{
		{"userName eq", false, store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "Ann"}, "users_org_user_name"},
		{"externalId eq", false, store.Compare{Field: store.FieldExternalID, Op: store.OpEq, Value: "x1"}, "users_org_external_id"},
		{"emails.value eq", false, store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: "a@b.c"}, "user_emails_org_value"},
		{"members.value eq", true, store.Compare{Field: store.FieldMemberValue, Op: store.OpEq, Value: "u1"}, "group_members_user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var queries []string
			var args []any
			if tc.group {
				lq, err := groupWhere(org, store.GroupQuery{Filter: tc.f})
				if err != nil {
					t.Fatal(err)
				}
				queries = []string{
					"SELECT " + groupCols + " FROM groups g WHERE " + lq.where + " ORDER BY g.seq LIMIT 10 OFFSET 0",
					"SELECT COUNT(*) FROM groups g WHERE " + lq.where,
				}
				args = lq.args
			} else {
				lq, err := userWhere(org, store.UserQuery{Filter: tc.f})
				if err != nil {
					t.Fatal(err)
				}
				queries = []string{
					"SELECT " + userCols + " FROM users u WHERE " + lq.where + " ORDER BY u.seq LIMIT 10 OFFSET 0",
					"SELECT COUNT(*) FROM users u WHERE " + lq.where,
				}
				args = lq.args
			}
			for _, query := range queries {
				plan := explain(t, s, query, args)
				t.Logf("%s\n%s", query, plan)
				if !strings.Contains(plan, tc.index) {
					t.Errorf("plan does not use index %s:\n%s", tc.index, plan)
				}
				// The owners must be looked up by key: a search with only org_id
				// bound walks every row of the organization.
				for _, line := range strings.Split(plan, "\n") {
					if strings.HasPrefix(line, "SCAN") || strings.HasSuffix(line, "(org_id=?)") {
						t.Errorf("plan walks a table: %q in\n%s", line, plan)
					}
				}
			}
		})
	}
}

func explain(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func TestSmoke(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	o, err := s.CreateOrg(ctx, store.Org{Slug: "acme", Name: "Acme"}, store.AuditEvent{Actor: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, store.User{OrgID: o.ID, UserName: "Ann", Active: true,
		Emails: []store.Email{{Value: "Ann@Acme.com", Primary: true}}}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, store.User{OrgID: o.ID, UserName: "ANN"}, store.AuditEvent{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate userName: err = %v, want ErrConflict", err)
	}
	p, err := s.ListUsers(ctx, o.ID, store.UserQuery{Count: 10, Filter: store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: "ann@acme.COM"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 1 || len(p.Items) != 1 || p.Items[0].ID != u.ID {
		t.Fatalf("ListUsers = %+v", p)
	}
}
