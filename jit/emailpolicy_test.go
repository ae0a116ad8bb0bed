package jit

import (
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func TestDecideEmail(t *testing.T) {
	deleted := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	active := store.User{ID: "u1", Active: true}
	inactive := store.User{ID: "u2", Active: false}
	tomb := store.User{ID: "u3", Active: true, DeletedAt: &deleted}
	allowed := store.AccessControl{EmailDomains: []string{"acme.com"}}
	on := store.Onboarding{JITEmailDomains: true}
	tests := []struct {
		name     string
		in       EmailPolicyInput
		action   Action
		rule     string
		hintHas  []string
		hintLack []string
	}{
		{"active account signs in whatever the settings", EmailPolicyInput{Email: "ann@other.com", Accounts: []store.User{active}},
			ActionSignIn, RuleVerifiedEmail, nil, nil},
		{"active account beside a tombstone signs in", EmailPolicyInput{Email: "ann@acme.com", Accounts: []store.User{tomb, active}},
			ActionSignIn, RuleVerifiedEmail, nil, nil},
		{"deactivated account refused even where JIT would allow", EmailPolicyInput{OrgName: "Acme", Onboarding: on, Access: allowed, Email: "ann@acme.com", Accounts: []store.User{inactive}},
			ActionRefuse, RuleDeprovisioned, []string{"Acme", "reactivate"}, nil},
		{"tombstone is not resurrected by JIT", EmailPolicyInput{OrgName: "Acme", Onboarding: on, Access: allowed, Email: "ann@acme.com", Accounts: []store.User{tomb}},
			ActionRefuse, RuleDeprovisioned, []string{"deleted", "invite"}, nil},
		{"two live accounts are ambiguous", EmailPolicyInput{Email: "ann@acme.com", Accounts: []store.User{active, inactive}},
			ActionRefuse, RuleAmbiguousMatch, nil, nil},
		{"JIT by email domain", EmailPolicyInput{Onboarding: on, Access: allowed, Email: "Ann@ACME.com"},
			ActionCreate, RuleJITEmailDomain, nil, nil},
		{"JIT by email domain, trailing dot and case in the ACL", EmailPolicyInput{Onboarding: on, Access: store.AccessControl{EmailDomains: []string{" Acme.COM. "}}, Email: "ann@acme.com"},
			ActionCreate, RuleJITEmailDomain, nil, nil},
		{"JIT by SSO connection alone does not create by email", EmailPolicyInput{OrgName: "Acme", Onboarding: store.Onboarding{JITSSOConnections: true}, Access: store.AccessControl{SSOConnections: []string{"okta"}}, Email: "ann@acme.com"},
			ActionRefuse, RuleJITNotAllowed, []string{"turn on just-in-time provisioning by email domain", "add acme.com"}, nil},
		{"domain allowed but JIT off", EmailPolicyInput{Access: allowed, Email: "ann@acme.com"},
			ActionRefuse, RuleJITNotAllowed, []string{"turn on just-in-time provisioning by email domain", "invite you"}, []string{"add acme.com"}},
		{"JIT on but domain not allowed", EmailPolicyInput{Onboarding: on, Access: allowed, Email: "ann@evil.com"},
			ActionRefuse, RuleJITNotAllowed, []string{"add evil.com"}, []string{"turn on"}},
		{"subdomain is not the domain", EmailPolicyInput{Onboarding: on, Access: allowed, Email: "ann@eu.acme.com"},
			ActionRefuse, RuleJITNotAllowed, []string{"add eu.acme.com"}, nil},
		{"not an address", EmailPolicyInput{Onboarding: on, Access: allowed, Email: "acme.com"},
			ActionRefuse, RuleJITNotAllowed, []string{"your email domain"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideEmail(tc.in)
			if d.Action != tc.action || d.Rule != tc.rule {
				t.Fatalf("DecideEmail = %+v, want %s/%s", d, tc.action, tc.rule)
			}
			if (d.Action == ActionRefuse) != (d.Hint != "") {
				t.Errorf("hint %q for action %s", d.Hint, d.Action)
			}
			for _, s := range tc.hintHas {
				if !strings.Contains(d.Hint, s) {
					t.Errorf("hint %q lacks %q", d.Hint, s)
				}
			}
			for _, s := range tc.hintLack {
				if strings.Contains(d.Hint, s) {
					t.Errorf("hint %q has %q", d.Hint, s)
				}
			}
		})
	}
}
