package sqlstore

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// TestSignInReadsAreIndexLookups runs EXPLAIN QUERY PLAN on the reads of a
// sign-in: none may walk a table, whatever the size of the organization.
func TestSignInReadsAreIndexLookups(t *testing.T) {
	s := openTest(t)
	org := store.OrgID("org")
	match, matchArgs := matchUsersQuery(org, "Ann", "ann@acme.com", 10)
	for _, tc := range []struct {
		name  string
		query string
		args  []any
	}{
		{"GetConnectionByPath", connectionByPathQuery(), []any{"acme", "okta"}},
		{"GetLinkedUser", linkedUserQuery(), []any{"conn", "00u1"}},
		{"MatchUsers", match, matchArgs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := explain(t, s, tc.query, tc.args)
			t.Logf("%s\n%s", tc.query, plan)
			for _, line := range strings.Split(plan, "\n") {
				if strings.HasPrefix(line, "SCAN") || strings.HasSuffix(line, "(org_id=?)") {
					t.Errorf("plan walks a table: %q in\n%s", line, plan)
				}
			}
		})
	}
}

// BenchmarkSignIn measures a sign-in's store calls one at a time, on an
// organization of 1,000 linked users:
//
//	go test ./store/sqlstore -run XXX -bench SignIn
func BenchmarkSignIn(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "onramp.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := b.Context()
	ev := store.AuditEvent{Actor: "bench", Action: "bench"}
	o, err := s.CreateOrg(ctx, store.Org{Slug: "acme", Name: "Acme"}, ev)
	if err != nil {
		b.Fatal(err)
	}
	c, err := s.CreateConnection(ctx, store.Connection{OrgID: o.ID, Slug: "okta", Name: "Okta", IdPMetadataXML: strings.Repeat("x", 4000)}, ev)
	if err != nil {
		b.Fatal(err)
	}
	const people = 1000
	users := make([]store.User, people)
	for i := range users {
		name := fmt.Sprintf("person%04d@acme.com", i)
		users[i], err = s.CreateLinkedUser(ctx, store.User{OrgID: o.ID, UserName: name, Active: true, Source: store.SourceJIT,
			Emails: []store.Email{{Value: name, Primary: true}}, Custom: map[string]string{"groups": `["Everyone"]`}},
			store.Identity{ConnectionID: c.ID, NameID: fmt.Sprintf("00u%04d", i)}, ev)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("GetConnectionByPath", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.GetConnectionByPath(ctx, "acme", "okta"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetLinkedUser", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, _, err := s.GetLinkedUser(ctx, c.ID, fmt.Sprintf("00u%04d", i%people)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("MatchUsers", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.MatchUsers(ctx, o.ID, "nobody", "nobody@acme.com", 10); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SignInLinked", func(b *testing.B) {
		i := 0
		for b.Loop() {
			u := users[i%people]
			_, err := s.SignIn(ctx, store.SignIn{
				OrgID:     o.ID,
				Assertion: store.UsedAssertion{ConnectionID: c.ID, ID: fmt.Sprintf("_b%d", i), NotOnOrAfter: time.Now().Add(time.Minute)},
				NameID:    fmt.Sprintf("00u%04d", i%people),
				Account:   store.SignInAccount{Linked: &u},
				Session:   &store.Session{IDHash: fmt.Appendf(nil, "s%d", i), ExpiresAt: time.Now().Add(time.Hour)},
				Events:    []store.AuditEvent{ev},
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
