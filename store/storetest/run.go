package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// Capabilities declares what a backend can do beyond the contract's minimum.
type Capabilities struct {
	// Parallel lets the subtests run in parallel with t.Parallel (each has its
	// own store anyway). Leave it off for an engine whose stores share a scarce
	// resource.
	Parallel bool
}

// Open returns a new, empty, migrated store. Run closes it.
type Open func(t *testing.T) store.Store

type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs every contract test, each on a store of its own from open.
func Run(t *testing.T, open Open, caps Capabilities) {
	suites := []struct {
		name  string
		tests []test
	}{
		{"Orgs", orgTests()},
		{"Connections", connectionTests()},
		{"Users", userTests()},
		{"Groups", groupTests()},
		{"Identities", identityTests()},
		{"Tokens", tokenTests()},
		{"Sessions", sessionTests()},
		{"Assertions", assertionTests()},
		{"SignIns", signInTests()},
		{"Audit", auditTests()},
		{"Race", raceTests()},
		{"EmailLogin", emailLoginTests()},
		{"Admin", adminTests()},
		{"Secrets", secretTests()},
		{"Holds", holdTests()},
	}
	for _, suite := range suites {
		t.Run(suite.name, func(t *testing.T) {
			for _, tc := range suite.tests {
				t.Run(tc.name, func(t *testing.T) {
					if caps.Parallel {
						t.Parallel()
					}
					tc.fn(t, openStore(t, open))
				})
			}
		})
	}
	t.Run("Timezones", func(t *testing.T) {
		if caps.Parallel {
			t.Parallel()
		}
		testTimezones(t, openStore(t, open))
	})
}

func openStore(t *testing.T, open Open) store.Store {
	t.Helper()
	s := open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// Fixtures and checks shared by the tests.

func ctx(t *testing.T) context.Context { return t.Context() }

// must(f())(t) returns f's value, failing the test if f returned an error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func newOrg(t *testing.T, s store.Store, slug string) store.Org {
	t.Helper()
	return must(s.CreateOrg(ctx(t), store.Org{Slug: slug, Name: slug + " Inc."}, store.AuditEvent{Actor: "operator"}))(t)
}

func newConn(t *testing.T, s store.Store, org store.OrgID, slug string) store.Connection {
	t.Helper()
	return must(s.CreateConnection(ctx(t), store.Connection{
		OrgID: org, Slug: slug, Name: slug, IdPMetadataXML: "<EntityDescriptor/>", JITProvisioning: true,
		MappingPreset: "okta", SPCertPEM: "cert", SPKeyPEM: "key",
	}, store.AuditEvent{Actor: "operator"}))(t)
}

func newUser(t *testing.T, s store.Store, org store.OrgID, userName string, mods ...func(*store.User)) store.User {
	t.Helper()
	u := store.User{OrgID: org, UserName: userName, Active: true, Source: store.SourceSCIM}
	for _, m := range mods {
		m(&u)
	}
	return must(s.CreateUser(ctx(t), u, store.AuditEvent{Actor: "test"}))(t)
}

func newGroup(t *testing.T, s store.Store, org store.OrgID, name string, members ...store.UserID) store.Group {
	t.Helper()
	return must(s.CreateGroup(ctx(t), store.Group{OrgID: org, DisplayName: name}, members, store.AuditEvent{Actor: "test"}))(t)
}

// events returns the organization's audit events with the given action.
func events(t *testing.T, s store.Store, org store.OrgID, action string) []store.AuditEvent {
	t.Helper()
	return must(s.ListEvents(ctx(t), org, store.AuditQuery{Action: action, Limit: store.MaxPageSize}))(t)
}

func userNames(us []store.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.UserName
	}
	return out
}

func memberIDs(ms []store.Member) []store.UserID {
	out := make([]store.UserID, len(ms))
	for i, m := range ms {
		out[i] = m.UserID
	}
	return out
}

func fmtIDs[T ~string](ids []T) string { return fmt.Sprint(ids) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }
