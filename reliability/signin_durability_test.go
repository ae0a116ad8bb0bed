package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/jit/samltest"
)

// TestAcknowledgedSignInsSurviveSIGKILL: a sign-in is answered before its
// commit is fsynced (store/sqlstore, "Deferred durability"), but once
// answered it survives a crash of the process. 8 browsers sign new people
// in (JIT creates) through the built binary on a SQLite file, with
// IdP-initiated responses from crewjam's IdP, and the server is killed with
// SIGKILL under that load. After the restart, for every sign-in answered
// with the redirect and a session cookie: the cookie's session is there
// (/api/v1/me answers the person), the account is there over SCIM, and the
// response posted again is refused as a replay (the replay record is there,
// and the restart, on the same boot, moved no fence). A sign-in cut off by
// the kill is there in full or not at all.
func TestAcknowledgedSignInsSurviveSIGKILL(t *testing.T) {
	dir, db, idp := ssoSetup(t)
	scimToken := lastLine(onramp(t, dir, "token", "create", "--db", db, "--org", "acme", "--scim", "okta"))
	port := freePort(t)
	srv := startServer(t, dir, db, port, noLimits...)

	hc := newClient(16)
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	registerSP(ctx, t, hc, idp, srv.url)

	// Enough responses, signed ahead, that the browsers are still signing
	// people in when the kill comes.
	const browsers, perBrowser = 8, 40
	type signIn struct {
		nameID, response string
		cookie           *http.Cookie // set once answered with a session
		cut              bool         // posted, and no answer came
	}
	all := make([][]*signIn, browsers)
	for b := range all {
		for i := range perBrowser {
			nameID := fmt.Sprintf("kill-%d-%d@acme-corp.com", b, i)
			all[b] = append(all[b], &signIn{nameID: nameID, response: idp.IdPInitiated(t, srv.url+spMetadataPath, "", samltest.Login{User: samltest.User{
				NameID:     nameID,
				Attributes: map[string][]string{"email": {nameID}, "firstName": {"Kill"}, "lastName": {fmt.Sprint(b)}},
			}})})
		}
	}

	var acked atomic.Int64
	var wg sync.WaitGroup
	for b := range browsers {
		wg.Go(func() {
			for _, s := range all[b] {
				res, err := send(ctx, hc, http.MethodPost, srv.url+acsPath,
					http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(url.Values{"SAMLResponse": {s.response}}.Encode()))
				if err != nil {
					s.cut = true // the kill: this browser is done
					return
				}
				if res.status != http.StatusSeeOther {
					t.Errorf("sign-in of %s: %d %s", s.nameID, res.status, res.body)
					return
				}
				s.cookie = sessionCookie(res.header)
				if s.cookie == nil {
					t.Errorf("sign-in of %s answered without a session cookie", s.nameID)
					return
				}
				acked.Add(1)
			}
		})
	}
	for acked.Load() < 100 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	srv.kill(t)
	wg.Wait()
	t.Logf("killed after %d acknowledged sign-ins", acked.Load())

	srv = startServer(t, dir, db, port, noLimits...)
	defer srv.stop(t)
	var answered, cutThere, cutGone, unsent int
	for b := range all {
		for _, s := range all[b] {
			switch {
			case s.cookie != nil:
				answered++
				me, err := send(ctx, hc, http.MethodGet, srv.url+"/api/v1/me", http.Header{"Cookie": {s.cookie.String()}}, nil)
				var who struct{ UserName string }
				if err != nil || me.status != http.StatusOK || json.Unmarshal(me.body, &who) != nil || who.UserName != s.nameID {
					t.Errorf("acknowledged sign-in of %s: /api/v1/me %v %d %s", s.nameID, err, me.status, me.body)
				}
				if n := accounts(ctx, t, hc, srv.url, scimToken, s.nameID); n != 1 {
					t.Errorf("acknowledged sign-in of %s: %d accounts over SCIM, want 1", s.nameID, n)
				}
				again, err := send(ctx, hc, http.MethodPost, srv.url+acsPath,
					http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(url.Values{"SAMLResponse": {s.response}}.Encode()))
				if err != nil || again.status != http.StatusForbidden || !strings.Contains(string(again.body), `id="reason">`+jit.ReasonReplayed+`<`) {
					t.Errorf("acknowledged sign-in of %s posted again: %v %d, want 403 %s", s.nameID, err, again.status, jit.ReasonReplayed)
				}
			case s.cut:
				switch accounts(ctx, t, hc, srv.url, scimToken, s.nameID) {
				case 0:
					cutGone++
				case 1:
					cutThere++
				default:
					t.Errorf("sign-in of %s cut off by the kill: more than one account", s.nameID)
				}
			default:
				unsent++
				if n := accounts(ctx, t, hc, srv.url, scimToken, s.nameID); n != 0 {
					t.Errorf("%s was never posted but has %d accounts", s.nameID, n)
				}
			}
		}
	}
	t.Logf("acknowledged %d (all there); cut off by the kill: %d there, %d not; never posted %d", answered, cutThere, cutGone, unsent)
	if answered < 100 || unsent == 0 {
		t.Errorf("the kill came too late to show anything: %d acknowledged, %d never posted", answered, unsent)
	}
}

// sessionCookie is the session cookie an answer sets, or nil.
func sessionCookie(h http.Header) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == jit.SessionCookieName && c.Value != "" {
			return c
		}
	}
	return nil
}

// accounts counts the organization's accounts with userName name, over SCIM.
func accounts(ctx context.Context, t *testing.T, hc *http.Client, base, token, name string) int {
	t.Helper()
	res, err := send(ctx, hc, http.MethodGet, base+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), scimHeader(token), nil)
	var lr struct{ TotalResults int }
	if err == nil && res.status != http.StatusOK {
		err = errors.New(string(res.body))
	}
	if err != nil || json.Unmarshal(res.body, &lr) != nil {
		t.Fatalf("SCIM lookup of %s: %v", name, err)
	}
	return lr.TotalResults
}
