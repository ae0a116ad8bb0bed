package replicas

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReplicas deploys onramp as docs/operations.md describes, on a fresh
// PostgreSQL schema: `onramp migrate` twice at once, `onramp apply`, `onramp
// token create`, then two `onramp serve` replicas, A and B, with the same
// --base-url (the balancer's URL) and the same --saml-key. Each subtest steers
// requests to one replica or the other and checks that they behave as one
// server.
func TestReplicas(t *testing.T) {
	dsn, _ := freshSchema(t)
	d := deploy(t, deployConfig{db: dsn, migrateTwice: true, replicas: []string{"a", "b"}})

	t.Run("SignInStartedOnACompletesOnB", func(t *testing.T) { testSignInCrossesReplicas(t, d) })
	t.Run("AssertionUsedOnAIsReplayOnB", func(t *testing.T) { testReplayAcrossReplicas(t, d) })
	t.Run("ReplicaWithAnotherSAMLKeyFailsClosed", func(t *testing.T) { testOtherSAMLKey(t, d) })
	t.Run("ReplicasWithoutSAMLKeyShareTheStoredOne", func(t *testing.T) { testStoredSAMLKey(t, d) })
	t.Run("ReplicaWithAnotherBaseURLFailsClosed", func(t *testing.T) { testOtherBaseURL(t, d) })
	t.Run("SCIMKeepsUserNameUniqueAcrossReplicas", func(t *testing.T) { testSCIMUniqueUserName(t, d) })
	t.Run("SCIMVersionsAgreeAcrossReplicas", func(t *testing.T) { testSCIMVersions(t, d) })
	t.Run("JITOnAAndSCIMOnBMakeOneAccount", func(t *testing.T) { testJITAndSCIMRace(t, d) })
	t.Run("SessionIsSharedAndEndsOnDeactivation", func(t *testing.T) { testSessionAcrossReplicas(t, d) })
	t.Run("SignOutOnOneReplicaEndsTheSessionOnAll", func(t *testing.T) { testSignOutAcrossReplicas(t, d) })
	t.Run("MigrateWhileServing", func(t *testing.T) { testMigrateWhileServing(t, d) })
}

// testSignInCrossesReplicas: the AuthnRequest is issued (and its tracking
// cookie signed) by A; the IdP's response is posted to B, which checks the
// cookie with the shared --saml-key, creates the account (JIT) and starts a
// session that both replicas honour.
func testSignInCrossesReplicas(t *testing.T, d *deployment) {
	b := d.browser(t)
	resp, relay := d.startLogin(t, b, "a", "/app/welcome", person("00u-cross", "cross@acme-corp.com"))

	res := b.do(t, "b", http.MethodPost, acsPath, acsForm(resp, relay))
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/app/welcome" {
		t.Fatalf("ACS on b: %s, want 303 to /app/welcome", res)
	}
	// The balancer's word is checked against B's own log: B served the ACS.
	if rec := d.replicas["b"].waitRequest(t, res.requestID()); rec["path"] != acsPath || rec["status"] != float64(http.StatusSeeOther) {
		t.Fatalf("b logged %v for the ACS request", rec)
	}
	for _, on := range []string{"a", "b"} {
		if code, me := b.me(t, on); code != http.StatusOK || me.UserName != "00u-cross" || me.Email != "cross@acme-corp.com" {
			t.Fatalf("me on %s: %d %+v", on, code, me)
		}
	}
}

// testReplayAcrossReplicas: a response consumed on A is refused on B as a
// replay, even when posted with a copy of the browser's tracking cookie taken
// before the sign-in (so that the request check passes and the shared replay
// cache is what refuses it).
func testReplayAcrossReplicas(t *testing.T, d *deployment) {
	b := d.browser(t)
	resp, relay := d.startLogin(t, b, "a", "", person("00u-replay", "replay@acme-corp.com"))
	thief := d.browser(t)
	thief.copyCookies(t, b, acsPath)

	if res := b.do(t, "a", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusSeeOther {
		t.Fatalf("ACS on a: %s, want 303", res)
	}
	res := thief.do(t, "b", http.MethodPost, acsPath, acsForm(resp, relay))
	if res.status != http.StatusForbidden || res.reason() != "replayed" {
		t.Fatalf("replay on b: %s, want 403 with reason replayed", res)
	}
	if code, _ := thief.me(t, "b"); code != http.StatusUnauthorized {
		t.Fatalf("me after the refused replay: %d, want 401", code)
	}
	// Replayed on A as well, for symmetry: the same answer.
	if res := thief.do(t, "a", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusForbidden || res.reason() != "replayed" {
		t.Fatalf("replay on a: %s, want 403 with reason replayed", res)
	}
}

// testOtherSAMLKey: a replica started with another --saml-key cannot read the
// tracking cookie A signed, so it refuses the response as answering no request
// of this browser (it fails closed); the refused response was not used up, and
// the same browser completes the sign-in on B.
func testOtherSAMLKey(t *testing.T, d *deployment) {
	d.start(t, "c", randomHex(t, 32))
	b := d.browser(t)
	resp, relay := d.startLogin(t, b, "a", "", person("00u-otherkey", "otherkey@acme-corp.com"))

	res := b.do(t, "c", http.MethodPost, acsPath, acsForm(resp, relay))
	if res.status != http.StatusForbidden || res.reason() != "in_response_to_unknown" {
		t.Fatalf("ACS on c (another --saml-key): %s, want 403 in_response_to_unknown", res)
	}
	if res := b.do(t, "b", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusSeeOther {
		t.Fatalf("ACS on b after c refused: %s, want 303", res)
	}
	d.replicas["c"].stop(t)
	if err := d.lb.remove("c"); err != nil {
		t.Fatal(err)
	}
}

// testStoredSAMLKey: two replicas started without --saml-key use the key the
// first of them kept in the store, so a sign-in started on one completes on
// the other with no key configured at all.
func testStoredSAMLKey(t *testing.T, d *deployment) {
	d.start(t, "e", "")
	d.start(t, "f", "")
	b := d.browser(t)
	resp, relay := d.startLogin(t, b, "e", "", person("00u-storedkey", "storedkey@acme-corp.com"))
	if res := b.do(t, "f", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusSeeOther {
		t.Fatalf("ACS on f, started on e, neither with --saml-key: %s, want 303", res)
	}
	if code, me := b.me(t, "a"); code != http.StatusOK || me.UserName != "00u-storedkey" {
		t.Fatalf("me on a: %d %+v", code, me)
	}
	for _, name := range []string{"e", "f"} {
		d.replicas[name].stop(t)
		if err := d.lb.remove(name); err != nil {
			t.Fatal(err)
		}
	}
}

// testOtherBaseURL: a replica started with another --base-url (the same
// database and key) computes other SAML URLs, so it refuses a response the IdP
// addressed to the deployment's ACS; the same response then completes on B.
func testOtherBaseURL(t *testing.T, d *deployment) {
	d.startWith(t, "d", "https://elsewhere.example.com", d.key)
	b := d.browser(t)
	resp, relay := d.startLogin(t, b, "a", "", person("00u-otherbase", "otherbase@acme-corp.com"))

	res := b.do(t, "d", http.MethodPost, acsPath, acsForm(resp, relay))
	if res.status != http.StatusForbidden || res.reason() != "destination_mismatch" {
		t.Fatalf("ACS on d (another --base-url): %s, want 403 destination_mismatch", res)
	}
	if res := b.do(t, "b", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusSeeOther {
		t.Fatalf("ACS on b after d refused: %s, want 303", res)
	}
	d.replicas["d"].stop(t)
	if err := d.lb.remove("d"); err != nil {
		t.Fatal(err)
	}
}

// testSCIMUniqueUserName: concurrent creates of one userName (in differing
// case) sent to both replicas: exactly one 201, every other a 409 uniqueness
// error, and each replica then finds exactly one user.
func testSCIMUniqueUserName(t *testing.T, d *deployment) {
	const rounds, creates = 4, 16
	for round := range rounds {
		userName := fmt.Sprintf("dup-%d@acme-corp.com", round)
		replies := make([]scimReply, creates)
		errs := make([]error, creates)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range creates {
			on := []string{"a", "b"}[i%2]
			name := userName
			if i%4 >= 2 {
				name = strings.ToUpper(userName[:1]) + userName[1:]
			}
			wg.Go(func() {
				<-start
				replies[i], errs[i] = d.scim.send(t.Context(), on, http.MethodPost, "/Users", scimUser(name, userName), "")
			})
		}
		close(start)
		wg.Wait()
		created, conflicts := 0, 0
		for i, r := range replies {
			switch {
			case errs[i] != nil:
				t.Fatalf("round %d create %d: %v", round, i, errs[i])
			case r.status == http.StatusCreated:
				created++
			case r.status == http.StatusConflict && r.doc["scimType"] == "uniqueness":
				conflicts++
			default:
				t.Fatalf("round %d create %d: %s, want 201 or 409 uniqueness", round, i, r)
			}
		}
		if created != 1 || conflicts != creates-1 {
			t.Fatalf("round %d: %d created, %d conflicts; want 1 and %d", round, created, conflicts, creates-1)
		}
		for _, on := range []string{"a", "b"} {
			if got := d.scim.lookup(t, on, userName); len(got) != 1 {
				t.Fatalf("round %d: %d users named %s on %s, want 1", round, len(got), userName, on)
			}
		}
	}
}

// testSCIMVersions: writes interleaved across the replicas see one another's
// versions: a user created on one replica is updated on the other with the
// version it read there, and an update with a version that is no longer
// current is refused (412) on either.
func testSCIMVersions(t *testing.T, d *deployment) {
	for i := range 6 {
		here, there := []string{"a", "b"}[i%2], []string{"b", "a"}[i%2]
		email := fmt.Sprintf("versions-%d@acme-corp.com", i)
		created := d.scim.do(t, here, http.MethodPost, "/Users", scimUser(email, email), "")
		if created.status != http.StatusCreated || created.version() == "" {
			t.Fatalf("create on %s: %s", here, created)
		}
		path := "/Users/" + created.id()
		read := d.scim.do(t, there, http.MethodGet, path, nil, "")
		if read.status != http.StatusOK || read.version() != created.version() {
			t.Fatalf("read on %s: %s, want version %s", there, read, created.version())
		}
		updated := d.scim.do(t, there, http.MethodPatch, path, patchActive(false), read.version())
		if updated.status != http.StatusOK || updated.version() == read.version() {
			t.Fatalf("PATCH on %s with the current version: %s", there, updated)
		}
		stale := d.scim.do(t, here, http.MethodPatch, path, patchActive(true), created.version())
		if stale.status != http.StatusPreconditionFailed {
			t.Fatalf("PATCH on %s with a stale version: %s, want 412", here, stale)
		}
		for _, on := range []string{"a", "b"} {
			got := d.scim.do(t, on, http.MethodGet, path, nil, "")
			if got.status != http.StatusOK || got.version() != updated.version() || got.doc["active"] != false {
				t.Fatalf("GET on %s: %s, want version %s and active false", on, got, updated.version())
			}
		}
	}
}

// testJITAndSCIMRace: the same person signs in on A (JIT would create the
// account) while the IdP pushes them over SCIM to B, several times. Whichever
// commits first, there is one account: either SCIM created it and the sign-in
// linked to it, or the sign-in created it and the push got 409 (and the IdP's
// lookup then finds the account the person is signed in to).
//
// A sign-in verifies a signature before it writes, so a push sent at the same
// moment usually commits first. To reach both orders, and the collision in
// between, the push is sent later in each round: from at once up to a little
// more than a whole sign-in's time (measured on a first sign-in) after it.
func testJITAndSCIMRace(t *testing.T, d *deployment) {
	const rounds = 10
	b := d.browser(t)
	resp, relay := d.startLogin(t, b, "a", "", person("00u-race-warmup", "race-warmup@acme-corp.com"))
	began := time.Now()
	if res := b.do(t, "a", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusSeeOther {
		t.Fatalf("first sign-in: %s", res)
	}
	signIn := time.Since(began)

	scimFirst := 0
	for round := range rounds {
		nameID := fmt.Sprintf("00u-race-%d", round)
		email := fmt.Sprintf("race-%d@acme-corp.com", round)
		b := d.browser(t)
		resp, relay := d.startLogin(t, b, "a", "", person(nameID, email))
		delay := signIn * time.Duration(round) / (rounds - 2)

		var sso reply
		var push scimReply
		var ssoErr, pushErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			sso, ssoErr = b.send(t.Context(), "a", http.MethodPost, acsPath, acsForm(resp, relay))
		})
		wg.Go(func() {
			<-start
			time.Sleep(delay)
			push, pushErr = d.scim.send(t.Context(), "b", http.MethodPost, "/Users", scimUser(nameID, email), "")
		})
		close(start)
		wg.Wait()
		if ssoErr != nil || pushErr != nil {
			t.Fatalf("round %d: sign-in: %v; push: %v", round, ssoErr, pushErr)
		}
		if sso.status != http.StatusSeeOther {
			t.Fatalf("round %d: sign-in on a: %s, want 303", round, sso)
		}
		switch {
		case push.status == http.StatusCreated:
			scimFirst++
		case push.status == http.StatusConflict && push.doc["scimType"] == "uniqueness":
		default:
			t.Fatalf("round %d: push on b: %s, want 201 or 409 uniqueness", round, push)
		}
		code, me := b.me(t, "b")
		if code != http.StatusOK || me.UserName != nameID {
			t.Fatalf("round %d: me on b: %d %+v", round, code, me)
		}
		for _, on := range []string{"a", "b"} {
			for _, filter := range []string{`userName eq "` + nameID + `"`, `emails.value eq "` + email + `"`} {
				found := d.scim.find(t, on, filter)
				if len(found) != 1 || found[0]["id"] != me.ID {
					t.Fatalf("round %d: %s on %s found %v, want exactly the signed-in account %s", round, filter, on, found, me.ID)
				}
			}
		}
		if push.status == http.StatusCreated && push.id() != me.ID {
			t.Fatalf("round %d: SCIM created %s but the person is signed in to %s", round, push.id(), me.ID)
		}
	}
	t.Logf("SCIM committed first in %d of %d rounds, the sign-in in the others (a sign-in took %s)", scimFirst, rounds, signIn)
}

// testSessionAcrossReplicas: a session started on A is valid on B; when the
// IdP deactivates the user over SCIM on B, the session ends on both, and the
// person cannot sign in again (JIT never resurrects a deprovisioned account).
func testSessionAcrossReplicas(t *testing.T, d *deployment) {
	b := d.browser(t)
	resp, relay := d.startLogin(t, b, "a", "", person("00u-session", "session@acme-corp.com"))
	if res := b.do(t, "a", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusSeeOther {
		t.Fatalf("sign-in on a: %s", res)
	}
	var id string
	for _, on := range []string{"a", "b"} {
		code, me := b.me(t, on)
		if code != http.StatusOK || me.UserName != "00u-session" {
			t.Fatalf("me on %s: %d %+v", on, code, me)
		}
		id = me.ID
	}

	if res := d.scim.do(t, "b", http.MethodPatch, "/Users/"+id, patchActive(false), ""); res.status != http.StatusOK || res.doc["active"] != false {
		t.Fatalf("deactivate on b: %s", res)
	}
	for _, on := range []string{"a", "b"} {
		if code, me := b.me(t, on); code != http.StatusUnauthorized {
			t.Fatalf("me on %s after deactivation: %d %+v, want 401", on, code, me)
		}
	}

	again := d.browser(t)
	resp, relay = d.startLogin(t, again, "b", "", person("00u-session", "session@acme-corp.com"))
	if res := again.do(t, "a", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusForbidden {
		t.Fatalf("sign-in of the deactivated user: %s, want 403", res)
	}
	if code, _ := again.me(t, "b"); code != http.StatusUnauthorized {
		t.Fatalf("me after the refused sign-in: %d, want 401", code)
	}
}

// testSignOutAcrossReplicas: sessions live in the store, so signing out on one
// replica ends the session on the other at once.
func testSignOutAcrossReplicas(t *testing.T, d *deployment) {
	b := d.browser(t)
	resp, relay := d.startLogin(t, b, "b", "", person("00u-signout", "signout@acme-corp.com"))
	if res := b.do(t, "b", http.MethodPost, acsPath, acsForm(resp, relay)); res.status != http.StatusSeeOther {
		t.Fatalf("sign-in on b: %s", res)
	}
	// The cookie as it was while signed in, kept by someone who copied it.
	copied := d.browser(t)
	copied.copyCookies(t, b, "/api/v1/me")
	if code, _ := copied.me(t, "a"); code != http.StatusOK {
		t.Fatalf("me on a with the session cookie: %d, want 200", code)
	}
	if res := b.do(t, "a", http.MethodPost, "/logout", nil); res.status != http.StatusSeeOther {
		t.Fatalf("logout on a: %s", res)
	}
	for _, on := range []string{"a", "b"} {
		if code, _ := copied.me(t, on); code != http.StatusUnauthorized {
			t.Fatalf("me on %s with the old cookie after logout: %d, want 401", on, code)
		}
	}
}

// testMigrateWhileServing: `onramp migrate` run beside the serving replicas (as
// an operator does before a rolling upgrade) succeeds, and SCIM writes to both
// replicas, under way before it starts and until it ends, all succeed.
func testMigrateWhileServing(t *testing.T, d *deployment) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	writes := 0
	started := make(chan struct{}, 2) // one per writer, after its first write
	for _, on := range []string{"a", "b"} {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				email := fmt.Sprintf("migrate-%s-%d@acme-corp.com", on, i)
				r, err := d.scim.send(ctx, on, http.MethodPost, "/Users", scimUser(email, email), "")
				if ctx.Err() != nil {
					return // cut short by the end of the test, not refused
				}
				mu.Lock()
				writes++
				if err != nil || r.status != http.StatusCreated {
					failures = append(failures, fmt.Sprintf("create on %s: %v %s", on, err, r))
				}
				mu.Unlock()
				if i == 0 {
					started <- struct{}{}
				}
			}
		})
	}
	<-started
	<-started
	out := onramp(t, d.dir, "migrate", "--db", d.db)
	if !strings.Contains(out.stdout, "latest version") {
		t.Errorf("migrate said %q", out.stdout)
	}
	cancel()
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d writes failed around the migration, first: %s", len(failures), writes, failures[0])
	}
	t.Logf("%d SCIM writes around the migration, all 201", writes)
	for _, on := range []string{"a", "b"} {
		if res := d.browser(t).do(t, on, http.MethodGet, "/readyz", nil); res.status != http.StatusOK {
			t.Fatalf("readyz on %s after migrate: %s", on, res)
		}
	}
}
