package jit

import (
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func TestDecide(t *testing.T) {
	const c, other store.ConnectionID = "conn-okta", "conn-entra"
	deleted := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	account := func(active bool, provisionedBy store.ConnectionID, email string, linked ...store.ConnectionID) *AccountState {
		u := store.User{ID: "u1", UserName: "alice", Active: active, ConnectionID: provisionedBy}
		if email != "" {
			u.Emails = []store.Email{{Value: email, Primary: true}}
		}
		return &AccountState{User: u, LinkedConnections: linked}
	}
	tombstone := account(true, c, "alice@acme-corp.com", c)
	tombstone.User.DeletedAt = &deleted

	allOn := func() PolicyInput {
		return PolicyInput{
			OrgName:    "Acme Corp",
			Onboarding: store.Onboarding{JITEmailDomains: true, JITSSOConnections: true},
			Access:     store.AccessControl{EmailDomains: []string{"acme-corp.com"}, SSOConnections: []string{"okta"}},
			Connection: PolicyConnection{ID: c, Slug: "okta", Name: "Okta", JITProvisioning: true},
			NameID:     "00u1alice",
			Email:      "alice@acme-corp.com",
		}
	}
	allOff := func() PolicyInput {
		in := allOn()
		in.Onboarding = store.Onboarding{}
		in.Access = store.AccessControl{}
		in.Connection.JITProvisioning = false
		return in
	}
	with := func(in PolicyInput, fn func(*PolicyInput)) PolicyInput { fn(&in); return in }

	tests := []struct {
		name    string
		in      PolicyInput
		action  Action
		rule    string
		hintHas []string
	}{
		// Safety checks before the rules.
		{name: "empty NameID", in: with(allOn(), func(in *PolicyInput) { in.NameID = "" }), action: ActionRefuse, rule: RuleEmptyNameID, hintHas: []string{"NameID", `"Okta"`}},
		{name: "blank NameID", in: with(allOn(), func(in *PolicyInput) { in.NameID = "  \t" }), action: ActionRefuse, rule: RuleEmptyNameID},
		{name: "no connection", in: with(allOn(), func(in *PolicyInput) { in.Connection = PolicyConnection{} }), action: ActionRefuse, rule: RuleMissingConnectionID},

		// Rule 1: the identity is linked.
		{name: "1: linked, active: sign in even with JIT off", in: with(allOff(), func(in *PolicyInput) { in.Linked = account(true, "", "alice@elsewhere.example", c) }), action: ActionSignIn, rule: RuleLinkedIdentity},
		{name: "1: linked wins over a match", in: with(allOn(), func(in *PolicyInput) {
			in.Linked = account(true, c, "alice@acme-corp.com", c)
			in.Matches = []AccountState{*account(false, other, "alice@acme-corp.com")}
		}), action: ActionSignIn, rule: RuleLinkedIdentity},
		{name: "1: linked, deactivated by SCIM: refuse though JIT is on", in: with(allOn(), func(in *PolicyInput) { in.Linked = account(false, c, "alice@acme-corp.com", c) }), action: ActionRefuse, rule: RuleDeprovisioned, hintHas: []string{"deactivated", "Acme Corp", "reactivate"}},
		{name: "1: linked, deleted by SCIM: refuse, never resurrect", in: with(allOn(), func(in *PolicyInput) {
			in.Linked = tombstone
			in.Matches = []AccountState{*account(true, c, "alice@acme-corp.com")}
		}), action: ActionRefuse, rule: RuleDeprovisioned},

		// Rule 2: an account with the same userName/email exists.
		{name: "2: provisioned through C: link, with JIT off and no allowed domain", in: with(allOff(), func(in *PolicyInput) { in.Matches = []AccountState{*account(true, c, "alice@elsewhere.example")} }), action: ActionLink, rule: RuleLinkExisting},
		{name: "2: email domain allowed: link an account provisioned elsewhere", in: with(allOff(), func(in *PolicyInput) {
			in.Access.EmailDomains = []string{"acme-corp.com"}
			in.Matches = []AccountState{*account(true, other, "alice@acme-corp.com")}
		}), action: ActionLink, rule: RuleLinkExisting},
		{name: "2: domains compare case-insensitively", in: with(allOff(), func(in *PolicyInput) {
			in.Access.EmailDomains = []string{"Acme-Corp.COM"}
			in.Matches = []AccountState{*account(true, "", "Alice@ACME-CORP.com")}
		}), action: ActionLink, rule: RuleLinkExisting},
		{name: "2: already linked to C (another NameID): link", in: with(allOn(), func(in *PolicyInput) { in.Matches = []AccountState{*account(true, c, "alice@acme-corp.com", c)} }), action: ActionLink, rule: RuleLinkExisting},
		{name: "2: linked to another connection: refuse, even if provisioned through C", in: with(allOn(), func(in *PolicyInput) { in.Matches = []AccountState{*account(true, c, "alice@acme-corp.com", other)} }), action: ActionRefuse, rule: RuleLinkedElsewhere, hintHas: []string{"another SSO connection", `"Okta"`}},
		{name: "2: not provisioned through C, domain not allowed: refuse, never a duplicate", in: with(allOn(), func(in *PolicyInput) { in.Matches = []AccountState{*account(true, other, "alice@contractor.example")} }), action: ActionRefuse, rule: RuleLinkNotTrusted, hintHas: []string{"contractor.example", "allowed email domains", "link your account"}},
		{name: "2: a subdomain of an allowed domain is not allowed", in: with(allOn(), func(in *PolicyInput) { in.Matches = []AccountState{*account(true, other, "alice@eng.acme-corp.com")} }), action: ActionRefuse, rule: RuleLinkNotTrusted},
		{name: "2: invited account without email: refuse", in: with(allOn(), func(in *PolicyInput) { in.Matches = []AccountState{*account(true, "", "")} }), action: ActionRefuse, rule: RuleLinkNotTrusted},
		{name: "2: userName and email match two accounts: refuse", in: with(allOn(), func(in *PolicyInput) {
			in.Matches = []AccountState{*account(true, c, "alice@acme-corp.com"), *account(true, c, "alice2@acme-corp.com")}
		}), action: ActionRefuse, rule: RuleAmbiguousMatch, hintHas: []string{"two different accounts"}},
		{name: "2: match deactivated: refuse rather than create a second account", in: with(allOn(), func(in *PolicyInput) { in.Matches = []AccountState{*account(false, c, "alice@acme-corp.com")} }), action: ActionRefuse, rule: RuleMatchDeactivated, hintHas: []string{"reactivate"}},

		// Rule 3: create.
		{name: "3: JIT by SSO connection", in: with(allOn(), func(in *PolicyInput) {
			in.Onboarding.JITEmailDomains = false
			in.Email = ""
		}), action: ActionCreate, rule: RuleJITSSOConnection},
		{name: "3: JIT by email domain", in: with(allOn(), func(in *PolicyInput) { in.Onboarding.JITSSOConnections = false }), action: ActionCreate, rule: RuleJITEmailDomain},
		{name: "3: JIT by email domain, upper-case email", in: with(allOn(), func(in *PolicyInput) {
			in.Onboarding.JITSSOConnections = false
			in.Email = "ALICE@ACME-CORP.COM"
		}), action: ActionCreate, rule: RuleJITEmailDomain},
		{name: "3: email route alone, connection not in the ACL", in: with(allOn(), func(in *PolicyInput) {
			in.Access.SSOConnections = nil
			in.Connection.JITProvisioning = false
		}), action: ActionCreate, rule: RuleJITEmailDomain},

		// Rule 4: refuse, naming what is missing.
		{name: "4: everything off", in: allOff(), action: ActionRefuse, rule: RuleJITNotAllowed, hintHas: []string{"invite you", "by SSO connection", `add the "Okta" connection`, "turn on just-in-time provisioning for", "by email domain", "add acme-corp.com"}},
		{name: "4: jit.ssoConnections off", in: with(allOn(), func(in *PolicyInput) {
			in.Onboarding.JITSSOConnections = false
			in.Email = ""
		}), action: ActionRefuse, rule: RuleJITNotAllowed, hintHas: []string{"turn on just-in-time provisioning by SSO connection"}},
		{name: "4: C not in accessControl.ssoConnections", in: with(allOn(), func(in *PolicyInput) {
			in.Access.SSOConnections = []string{"entra"}
			in.Email = ""
		}), action: ActionRefuse, rule: RuleJITNotAllowed, hintHas: []string{`add the "Okta" connection to the organization's allowed SSO connections`}},
		{name: "4: C's jitProvisioning off", in: with(allOn(), func(in *PolicyInput) {
			in.Connection.JITProvisioning = false
			in.Email = ""
		}), action: ActionRefuse, rule: RuleJITNotAllowed, hintHas: []string{`turn on just-in-time provisioning for the "Okta" connection`}},
		{name: "4: jit.emailDomains off", in: with(allOn(), func(in *PolicyInput) {
			in.Onboarding = store.Onboarding{JITEmailDomains: false}
		}), action: ActionRefuse, rule: RuleJITNotAllowed, hintHas: []string{"by email domain"}},
		{name: "4: email domain not allowed", in: with(allOn(), func(in *PolicyInput) {
			in.Onboarding.JITSSOConnections = false
			in.Email = "alice@gmail.example"
		}), action: ActionRefuse, rule: RuleJITNotAllowed, hintHas: []string{"add gmail.example to the allowed email domains"}},
		{name: "4: no email and no SSO route", in: with(allOn(), func(in *PolicyInput) {
			in.Onboarding.JITSSOConnections = false
			in.Email = ""
		}), action: ActionRefuse, rule: RuleJITNotAllowed},
		{name: "4: not an email address", in: with(allOn(), func(in *PolicyInput) {
			in.Onboarding.JITSSOConnections = false
			in.Email = "acme-corp.com"
		}), action: ActionRefuse, rule: RuleJITNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.in)
			if d.Action != tt.action || d.Rule != tt.rule {
				t.Fatalf("Decide = %s/%s, want %s/%s (hint %q)", d.Action, d.Rule, tt.action, tt.rule, d.Hint)
			}
			if (d.Action == ActionRefuse) != (d.Hint != "") {
				t.Errorf("Action %s with hint %q: refusals and only refusals have a hint", d.Action, d.Hint)
			}
			for _, h := range tt.hintHas {
				if !strings.Contains(d.Hint, h) {
					t.Errorf("hint %q lacks %q", d.Hint, h)
				}
			}
		})
	}
}

func TestEmailDomain(t *testing.T) {
	for in, want := range map[string]string{
		"alice@acme-corp.com":  "acme-corp.com",
		"Alice@ACME-Corp.COM.": "acme-corp.com",
		`"a@b"@acme-corp.com`:  "acme-corp.com",
		"acme-corp.com":        "",
		"@acme-corp.com":       "",
		"alice@":               "",
		"":                     "",
	} {
		if got := emailDomain(in); got != want {
			t.Errorf("emailDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
