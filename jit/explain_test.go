package jit

import (
	"context"
	"testing"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// TestExplain checks that Explain reaches the decisions Provision would, from
// the same store state, and writes nothing.
func TestExplain(t *testing.T) {
	ctx := context.Background()
	p, st, org, conn := provisionSetup(t)
	alice := attributes.Profile{Email: "alice@acme-corp.com", UserName: "alice@acme-corp.com"}

	explain := func(nameID string, prof attributes.Profile) Decision {
		t.Helper()
		d, err := p.Explain(ctx, org, conn, nameID, prof)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	countEvents := func() int {
		t.Helper()
		evs, err := st.ListEvents(ctx, org.ID, store.AuditQuery{Limit: store.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	before := countEvents()

	if d := explain("alice@acme-corp.com", alice); d.Action != ActionCreate || d.Rule != RuleJITSSOConnection {
		t.Errorf("new person: %+v, want create by %s", d, RuleJITSSOConnection)
	}
	if d := explain("", alice); d.Action != ActionRefuse || d.Rule != RuleEmptyNameID {
		t.Errorf("empty NameID: %+v", d)
	}
	if n := len(liveUsers(t, st, org.ID)); n != 0 || countEvents() != before {
		t.Fatalf("Explain wrote: %d users, %d events (had %d)", n, countEvents(), before)
	}

	// An account with the same email, provisioned through the connection: link.
	if _, err := st.CreateUser(ctx, store.User{OrgID: org.ID, UserName: "alice", Active: true, Source: store.SourceSCIM,
		ConnectionID: conn.ID, Emails: []store.Email{{Value: "alice@acme-corp.com", Primary: true}}}, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if d := explain("alice@acme-corp.com", alice); d.Action != ActionLink || d.Rule != RuleLinkExisting {
		t.Errorf("matching SCIM account: %+v, want link", d)
	}

	// Once signed in for real, the identity is linked: sign in.
	if _, err := p.Provision(ctx, org, conn, oktaAssertion("a1")); err != nil {
		t.Fatal(err)
	}
	if d := explain("alice@acme-corp.com", alice); d.Action != ActionSignIn || d.Rule != RuleLinkedIdentity {
		t.Errorf("linked identity: %+v, want sign in", d)
	}

	// Someone else, with JIT by connection switched off on the connection: refuse, with a hint.
	conn.JITProvisioning = false
	if d := explain("bob@acme-corp.com", attributes.Profile{Email: "bob@acme-corp.com", UserName: "bob"}); d.Action != ActionRefuse ||
		d.Rule != RuleJITNotAllowed || d.Hint == "" {
		t.Errorf("JIT off: %+v, want a refusal with a hint", d)
	}
}
