package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func raceTests() []test {
	return []test{
		{"ManyCreatesSamePersonOneWins", testRaceSamePerson},
		{"CreateLinkedUserVsCreateUser", testRaceLinkedVsSCIM},
		{"SameIdentityTwoUsersOneWins", testRaceSameIdentity},
	}
}

// together runs fns at once (as far as the scheduler allows) and returns their errors.
func together(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins checks that exactly one error is nil and the others are ErrConflict,
// and returns the winner's index.
func oneWins(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("two winners: %d and %d", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("loser %d: err = %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("nobody won: %v", errs)
	}
	return winner
}

// mixCase returns name with the case of its letters set by the bits of i.
func mixCase(name string, i int) string {
	var b strings.Builder
	for j, r := range name {
		if i>>(j%16)&1 == 1 {
			b.WriteString(strings.ToUpper(string(r)))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func testRaceSamePerson(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	const n = 32
	for round := range 5 {
		name := fmt.Sprintf("zoe.%d@acme.com", round)
		fns := make([]func() error, n)
		for i := range fns {
			fns[i] = func() error {
				_, err := s.CreateUser(ctx(t), store.User{OrgID: o.ID, UserName: mixCase(name, i), Active: true}, store.AuditEvent{})
				return err
			}
		}
		oneWins(t, together(fns...))
		p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Filter: cmp(store.FieldUserName, store.OpEq, name), Count: 10}))(t)
		if p.Total != 1 {
			t.Fatalf("round %d: %d accounts for %s, want 1", round, p.Total, name)
		}
	}
}

// testRaceLinkedVsSCIM races a JIT login (CreateLinkedUser) against a SCIM push
// (CreateUser) for the same person: exactly one account, and the identity exists
// exactly when JIT won.
func testRaceLinkedVsSCIM(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	for round := range 20 {
		name := fmt.Sprintf("person%d@acme.com", round)
		var jitUser, scimUser store.User
		errs := together(
			func() (err error) {
				jitUser, err = s.CreateLinkedUser(ctx(t), store.User{OrgID: o.ID, UserName: name, Source: store.SourceJIT, Active: true},
					store.Identity{ConnectionID: c.ID, NameID: name}, store.AuditEvent{Action: "jit.created"})
				return err
			},
			func() (err error) {
				scimUser, err = s.CreateUser(ctx(t), store.User{OrgID: o.ID, UserName: strings.ToUpper(name), Source: store.SourceSCIM, Active: true},
					store.AuditEvent{Action: "scim.created"})
				return err
			},
		)
		winner := oneWins(t, errs)
		p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Filter: cmp(store.FieldUserName, store.OpEq, name), Count: 10}))(t)
		if p.Total != 1 {
			t.Fatalf("round %d: %d accounts, want 1", round, p.Total)
		}
		id, err := s.GetIdentity(ctx(t), c.ID, name)
		if winner == 0 {
			if err != nil || id.UserID != jitUser.ID || p.Items[0].ID != jitUser.ID {
				t.Fatalf("round %d: JIT won but identity = %+v, %v", round, id, err)
			}
		} else {
			if !errors.Is(err, store.ErrNotFound) || p.Items[0].ID != scimUser.ID {
				t.Fatalf("round %d: SCIM won but the losing JIT left identity %+v (err %v)", round, id, err)
			}
		}
	}
}

func testRaceSameIdentity(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	const n = 8
	fns := make([]func() error, n)
	for i := range fns {
		fns[i] = func() error {
			_, err := s.CreateLinkedUser(ctx(t), store.User{OrgID: o.ID, UserName: fmt.Sprintf("user%d", i)},
				store.Identity{ConnectionID: c.ID, NameID: "same-nameid"}, store.AuditEvent{})
			return err
		}
	}
	winner := oneWins(t, together(fns...))
	p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 100}))(t)
	if p.Total != 1 || p.Items[0].UserName != fmt.Sprintf("user%d", winner) {
		t.Errorf("users = %v, want only user%d", userNames(p.Items), winner)
	}
}
