package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/mattn/go-sqlite3"

	"github.com/onramp-dev/onramp/store"
)

// handle is the sqlite3 handle of conn: the driver keeps it in an unexported
// field, read here by reflection (a test's business only).
func handle(t *testing.T, conn *sqlite3.SQLiteConn) unsafe.Pointer {
	t.Helper()
	f := reflect.ValueOf(conn).Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		t.Fatalf("go-sqlite3's SQLiteConn has no db pointer field any more; update this test")
	}
	return f.UnsafePointer()
}

// stablePlans reports the setting on one connection of db.
func stablePlans(t *testing.T, db *sql.DB) int {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	on := -2
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("driver connection is a %T", dc)
		}
		on = stablePlansOn(handle(t, c))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return on
}

// TestStablePlansOnEveryConnection: the writer, every reader and the
// checkpointer have the query planner stability guarantee on (qpsg.go).
func TestStablePlansOnEveryConnection(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "onramp.db"), nil, WithReaders(3))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gw := s.w.(*groupWriter)
	if got := stablePlans(t, gw.db); got != 1 {
		t.Errorf("writer: stability guarantee = %d, want 1", got)
	}
	if got := stablePlans(t, gw.ckpt.db); got != 1 {
		t.Errorf("checkpointer: stability guarantee = %d, want 1", got)
	}
	// Hold three reader connections at once, so that each is a distinct one.
	var conns []*sql.Conn
	for range 3 {
		c, err := s.read.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		_ = c.Raw(func(dc any) error {
			if got := stablePlansOn(handle(t, dc.(*sqlite3.SQLiteConn))); got != 1 {
				t.Errorf("reader %d: stability guarantee = %d, want 1", i, got)
			}
			return nil
		})
		_ = c.Close()
	}
}

// TestStablePlansKeepIndexes: with the guarantee on, the lookups of a
// sign-in and of an IdP's sync still find their rows through indexes.
func TestStablePlansKeepIndexes(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, args := matchUsersQuery(store.OrgID("o"), "a@b.c", "a@b.c", 5)
	sw, err := userWhere(store.OrgID("o"), store.UserQuery{Filter: store.Compare{Field: store.FieldUserName, Op: store.OpSw, Value: "ann"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		sql  string
		args []any
	}{
		{"linked user", linkedUserQuery(), []any{"c", "n"}},
		{"connection by path", connectionByPathQuery(), []any{"o", "c"}},
		{"match users", q, args},
		{"userName sw", "SELECT u.id FROM users u WHERE " + sw.where + " ORDER BY u.seq LIMIT 10", sw.args},
	} {
		rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+s.d.rebind(c.sql), c.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		_ = rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") || (strings.Contains(step, " USING ") && !strings.Contains(step, "=?")) {
				t.Errorf("%s: plan scans a table: %q", c.name, plan)
			}
		}
		if c.name == "userName sw" && !strings.Contains(strings.Join(plan, "\n"), "user_name_lower>? AND user_name_lower<?") {
			t.Errorf("%s: plan does not use the userName index's range: %q", c.name, plan)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		prefix, end string
		ok          bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"bob@", "bobA", true},
		{"z", "{", true},
		{"é", "ê", true},
		{"a\u007f", "a\u0080", true},
		{"a\ud7ff", "a\ue000", true},
		{"a\U0010ffff", "b", true},
		{"\U0010ffff\U0010ffff", "", false},
		{"a\xff", "", false},
	} {
		end, ok := prefixEnd(c.prefix)
		if end != c.end || ok != c.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", c.prefix, end, ok, c.end, c.ok)
		}
		if !ok {
			continue
		}
		// Every string that starts with the prefix sorts before end, in bytes.
		for _, tail := range []string{"", "a", "\U0010ffff", "\xf4\x8f\xbf\xbf\xff"} {
			if s := c.prefix + tail; !(c.prefix <= s && s < end) {
				t.Errorf("%q starts with %q but is not below %q", s, c.prefix, end)
			}
		}
		if !(c.prefix < end) || strings.HasPrefix(end, c.prefix) {
			t.Errorf("end %q of %q starts with it", end, c.prefix)
		}
	}
}
