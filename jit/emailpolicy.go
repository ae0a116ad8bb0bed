package jit

import (
	"fmt"
	"slices"

	"github.com/onramp-dev/onramp/store"
)

// RuleVerifiedEmail: signed in by a verified email address (an emailed link
// or code) to the organization's account with that address. Never rename it.
const RuleVerifiedEmail = "verified_email"

// EmailPolicyInput is what the policy looks at for a sign-in by a verified
// email address (package emaillogin gathers it from the store).
type EmailPolicyInput struct {
	OrgName    string
	Onboarding store.Onboarding
	Access     store.AccessControl
	// Email is the verified address.
	Email string
	// Accounts are the organization's accounts with this address among
	// their emails: active, deactivated and deleted (tombstones) alike.
	Accounts []store.User
}

// DecideEmail applies DESIGN's JIT policy to a sign-in by a verified email
// address e in organization O. The address is the identity, so rules 1 and 2
// collapse into one:
//
//  1. An account of O with the address signs in, unless it was
//     de-provisioned (deactivated, or deleted: JIT never resurrects an
//     account, so a tombstone with the address refuses too). Two live
//     accounts with the address are refused rather than guessed between.
//  2. Else JIT creates the account iff jit.emailDomains is on and e's
//     domain is in accessControl.emailDomains (rule 3's email route; the SSO
//     route needs an SSO sign-in).
//  3. Else refuse, with a hint naming what the Admin would have to change.
//
// DecideEmail is pure.
func DecideEmail(in EmailPolicyInput) Decision {
	org := orgLabel(in.OrgName)
	var live, deleted int
	var active bool
	for _, u := range in.Accounts {
		if u.DeletedAt != nil {
			deleted++
			continue
		}
		live++
		active = u.Active
	}
	switch {
	case live > 1:
		return refuse(RuleAmbiguousMatch, fmt.Sprintf("Your email address belongs to more than one account in %s. Ask your Admin to merge or correct them.", org))
	case live == 1 && !active:
		return refuse(RuleDeprovisioned, fmt.Sprintf("Your account in %s has been deactivated. Ask your Admin to reactivate it.", org))
	case live == 1:
		return Decision{Action: ActionSignIn, Rule: RuleVerifiedEmail}
	case deleted > 0:
		return refuse(RuleDeprovisioned, fmt.Sprintf("Your account in %s has been deleted. Ask your Admin to invite you again.", org))
	}
	domain := emailDomain(in.Email)
	allowed := domain != "" && slices.Contains(normalizedDomains(in.Access.EmailDomains), domain)
	if in.Onboarding.JITEmailDomains && allowed {
		return Decision{Action: ActionCreate, Rule: RuleJITEmailDomain}
	}
	var missing []string
	if !in.Onboarding.JITEmailDomains {
		missing = append(missing, "turn on just-in-time provisioning by email domain")
	}
	if !allowed {
		d := domain
		if d == "" {
			d = "your email domain"
		}
		missing = append(missing, fmt.Sprintf("add %s to the allowed email domains", d))
	}
	return refuse(RuleJITNotAllowed, fmt.Sprintf("You do not have an account in %s yet, and it does not create accounts for your email address on first sign-in. Ask your Admin to invite you, or to %s.", org, joinAnd(missing)))
}
