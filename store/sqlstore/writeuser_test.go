package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// TestUpdateAssignsChangedColumns: an update assigns only the columns it
// changes. Triggers declared UPDATE OF a column fire whenever an UPDATE's SET
// names that column, changed or not, so they show which columns, and so which
// of their indexes, each update rewrote.
func TestUpdateAssignsChangedColumns(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	err := s.w.do(ctx, "fixture", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE assigned (col TEXT NOT NULL);
			CREATE TRIGGER assigned_user_name_lower AFTER UPDATE OF user_name_lower ON users
				BEGIN INSERT INTO assigned VALUES ('user_name_lower'); END;
			CREATE TRIGGER assigned_external_id AFTER UPDATE OF external_id ON users
				BEGIN INSERT INTO assigned VALUES ('external_id'); END;
			CREATE TRIGGER assigned_display_name_lower AFTER UPDATE OF display_name_lower ON users
				BEGIN INSERT INTO assigned VALUES ('display_name_lower'); END;
			CREATE TRIGGER assigned_active AFTER UPDATE OF active ON users
				BEGIN INSERT INTO assigned VALUES ('active'); END;
			CREATE TRIGGER assigned_emails AFTER UPDATE OF emails ON users
				BEGIN INSERT INTO assigned VALUES ('emails'); END;
			CREATE TRIGGER deleted_emails AFTER DELETE ON user_emails
				BEGIN INSERT INTO assigned VALUES ('user_emails'); END;`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	assigned := func() []string {
		t.Helper()
		var cols []string
		err := s.w.do(ctx, "read", func(ctx context.Context, tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT DISTINCT col FROM assigned ORDER BY col`)
			if err != nil {
				return err
			}
			defer func() { _ = rows.Close() }()
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					return err
				}
				cols = append(cols, c)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM assigned`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return cols
	}

	o, err := s.CreateOrg(ctx, store.Org{Slug: "acme"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, store.User{OrgID: o.ID, UserName: "ann@acme.com", ExternalID: "00u1",
		DisplayName: "Ann", Active: true, Emails: []store.Email{{Value: "ann@acme.com", Primary: true}},
		Custom: map[string]string{"dept": "ops"}, Resource: json.RawMessage(`{"userName":"ann@acme.com"}`)},
		store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		update func(*store.User)
		want   []string // columns assigned, among those with a trigger
	}{
		{"nothing", func(*store.User) {}, nil},
		{"the same values anew", func(u *store.User) {
			u.Emails = []store.Email{{Value: "ann@acme.com", Primary: true}}
			u.Custom = map[string]string{"dept": "ops"}
			u.Resource = json.RawMessage(`{"userName":"ann@acme.com"}`)
		}, nil},
		{"deactivate", func(u *store.User) {
			u.Active = false
			u.Resource = json.RawMessage(`{"userName":"ann@acme.com","active":false}`)
		}, []string{"active"}},
		{"userName case only", func(u *store.User) { u.UserName = "Ann@Acme.com" }, nil},
		{"userName", func(u *store.User) { u.UserName = "ann.b@acme.com" }, []string{"user_name_lower"}},
		{"externalId removed", func(u *store.User) { u.ExternalID = "" }, []string{"external_id"}},
		{"displayName case only", func(u *store.User) { u.DisplayName = "ANN" }, nil},
		{"displayName", func(u *store.User) { u.DisplayName = "Ann B" }, []string{"display_name_lower"}},
		{"emails", func(u *store.User) {
			u.Emails = append(u.Emails, store.Email{Value: "ann@example.com", Type: "home"})
		}, []string{"emails", "user_emails"}},
		{"custom only", func(u *store.User) { u.Custom = nil }, nil},
	} {
		before, err := s.GetUser(ctx, o.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := cloneUser(before)
		tc.update(&want)
		got, err := s.UpdateUser(ctx, o.ID, u.ID, func(u *store.User) error { tc.update(u); return nil }, store.AuditEvent{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if cols := assigned(); !slices.Equal(cols, tc.want) {
			t.Errorf("%s: assigned %q, want %q", tc.name, cols, tc.want)
		}
		read, err := s.GetUser(ctx, o.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if read.Version != before.Version+1 || !read.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("%s: version %d, updated %v; want %d, %v", tc.name, read.Version, read.UpdatedAt, before.Version+1, got.UpdatedAt)
		}
		want.Version, want.UpdatedAt = read.Version, read.UpdatedAt
		if !equalUsers(read, want) {
			t.Errorf("%s: read back %+v, want %+v", tc.name, read, want)
		}
		// The lower-case copies that carry the indexes follow the values.
		for _, f := range []store.Compare{
			{Field: store.FieldUserName, Op: store.OpEq, Value: want.UserName},
			{Field: store.FieldDisplayName, Op: store.OpEq, Value: want.DisplayName},
			{Field: store.FieldEmailValue, Op: store.OpEq, Value: want.Emails[len(want.Emails)-1].Value},
		} {
			p, err := s.ListUsers(ctx, o.ID, store.UserQuery{Count: 1, Filter: f})
			if err != nil || p.Total != 1 {
				t.Errorf("%s: %s eq %q: %d found, err %v", tc.name, f.Field, f.Value, p.Total, err)
			}
		}
	}

	// A changed userName that another user holds is a conflict, as before.
	if _, err := s.CreateUser(ctx, store.User{OrgID: o.ID, UserName: "bob@acme.com"}, store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateUser(ctx, o.ID, u.ID, func(u *store.User) error { u.UserName = "BOB@acme.com"; return nil }, store.AuditEvent{})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("update to a taken userName: err = %v, want ErrConflict", err)
	}
}

func equalUsers(a, b store.User) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && string(ja) == string(jb)
}
