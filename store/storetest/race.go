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
		{"DeleteUserVsAddToGroupLeavesNoTombstoneMember", testRaceDeleteVsAddMember},
		{"DeleteUserVsLinkIdentity", testRaceDeleteVsLink},
		{"ListTotalAgreesWithItemsUnderWrites", testRaceListSnapshot},
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

// testRaceDeleteVsAddMember races deleting a user against adding it to a group.
// Either order is fine (the add fails with ErrInvalidReference, or the delete
// removes the new membership), but a tombstone never ends up a member: a store
// must not decide "live user" on a snapshot the delete is about to change.
func testRaceDeleteVsAddMember(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	g := newGroup(t, s, o.ID, "staff")
	for round := range 20 {
		u := newUser(t, s, o.ID, fmt.Sprintf("leaver%d", round))
		errs := together(
			func() error { return s.DeleteUser(ctx(t), o.ID, u.ID, store.AuditEvent{}) },
			func() error {
				_, err := s.UpdateGroup(ctx(t), o.ID, g.ID, nil, store.MemberChange{Add: []store.UserID{u.ID}}, store.AuditEvent{})
				return err
			},
		)
		if errs[0] != nil {
			t.Fatalf("round %d: delete: %v", round, errs[0])
		}
		if errs[1] != nil && !errors.Is(errs[1], store.ErrInvalidReference) {
			t.Fatalf("round %d: add: err = %v, want nil or ErrInvalidReference", round, errs[1])
		}
		for _, m := range must(s.ListMembers(ctx(t), o.ID, g.ID))(t) {
			if m.UserID == u.ID {
				t.Fatalf("round %d: the deleted user is a member of %s (add err %v)", round, g.DisplayName, errs[1])
			}
		}
	}
}

// testRaceDeleteVsLink races deleting a user against linking an identity to it:
// if the link wins it is kept (a tombstone keeps its identities); if the delete
// wins, the link fails with ErrInvalidReference. Never does a link succeed on a
// user that was already a tombstone.
func testRaceDeleteVsLink(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	for round := range 20 {
		u := newUser(t, s, o.ID, fmt.Sprintf("leaver%d", round))
		nameID := fmt.Sprintf("nameid-%d", round)
		errs := together(
			func() error { return s.DeleteUser(ctx(t), o.ID, u.ID, store.AuditEvent{}) },
			func() error {
				return s.LinkIdentity(ctx(t), store.Identity{ConnectionID: c.ID, NameID: nameID, OrgID: o.ID, UserID: u.ID}, store.AuditEvent{})
			},
		)
		if errs[0] != nil {
			t.Fatalf("round %d: delete: %v", round, errs[0])
		}
		if errs[1] != nil && !errors.Is(errs[1], store.ErrInvalidReference) {
			t.Fatalf("round %d: link: err = %v, want nil or ErrInvalidReference", round, errs[1])
		}
		deleted := must(s.GetUser(ctx(t), o.ID, u.ID))(t).DeletedAt
		linked := must(s.ListEvents(ctx(t), o.ID, store.AuditQuery{UserID: u.ID, Limit: 10}))(t)
		// The audit log orders the two: a successful link must come before the
		// deletion.
		var linkAt, deleteAt int
		for i, ev := range linked { // newest first
			switch ev.Action {
			case "identity.linked":
				linkAt = len(linked) - i
			case "user.deleted":
				deleteAt = len(linked) - i
			}
		}
		if deleted == nil || deleteAt == 0 {
			t.Fatalf("round %d: user not deleted", round)
		}
		if errs[1] == nil && linkAt > deleteAt {
			t.Fatalf("round %d: an identity was linked to the user after it was deleted", round)
		}
	}
}

// testRaceListSnapshot lists users while others are being created: every page's
// Total must describe the same state as its Items (one snapshot for both).
func testRaceListSnapshot(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	const n = 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range n {
			if _, err := s.CreateUser(ctx(t), store.User{OrgID: o.ID, UserName: fmt.Sprintf("user%d", i)}, store.AuditEvent{}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for lists := 0; ; lists++ {
		select {
		case <-done:
			wg.Wait()
			if lists == 0 {
				t.Log("the creates finished before the first list")
			}
			return
		default:
		}
		p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: store.MaxPageSize}))(t)
		if len(p.Items) != p.Total {
			wg.Wait()
			t.Fatalf("list %d: %d items but Total %d", lists, len(p.Items), p.Total)
		}
	}
}
