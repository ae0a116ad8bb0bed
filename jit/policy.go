package jit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onramp-dev/onramp/store"
)

// Action is what the JIT policy decides to do with a verified sign-in.
type Action string

const (
	ActionSignIn Action = "sign_in" // rule 1: the identity is linked to a live account
	ActionLink   Action = "link"    // rule 2: link the identity to an existing account, then sign in
	ActionCreate Action = "create"  // rule 3: create the account just in time, linked, then sign in
	ActionRefuse Action = "refuse"  // rule 4 (or a safety refusal of rules 1–2)
)

// Rules, the stable names recorded in the audit log (AuditEvent.Rule) and
// shown on the refusal page. Never rename one.
const (
	RuleLinkedIdentity      = "linked_identity"       // 1: signed in through the linked identity
	RuleDeprovisioned       = "deprovisioned"         // 1: the linked account was deactivated or deleted
	RuleEmptyNameID         = "empty_name_id"         // identities are keyed by NameID; none was sent
	RuleLinkExisting        = "link_existing_account" // 2: linked to the account with the same userName/email
	RuleMatchDeactivated    = "matching_account_deactivated"
	RuleAmbiguousMatch      = "ambiguous_match"            // 2: userName and email match different accounts
	RuleLinkedElsewhere     = "linked_to_other_connection" // 2: the account signs in through another connection
	RuleLinkNotTrusted      = "link_not_trusted"           // 2: not provisioned through C, email domain not allowed
	RuleJITSSOConnection    = "jit_sso_connection"         // 3: created: JIT by SSO connection
	RuleJITEmailDomain      = "jit_email_domain"           // 3: created: JIT by email domain
	RuleJITNotAllowed       = "jit_not_allowed"            // 4: no account and no JIT route allows one
	RuleMissingConnectionID = "missing_connection"         // the input names no connection (a bug, refused)
)

// Decision is the policy's verdict. Rule names the rule that decided; Hint,
// for refusals, tells the person what to ask their organization's Admin for.
type Decision struct {
	Action Action
	Rule   string
	Hint   string
}

// PolicyConnection is the SSO connection C the sign-in came through.
type PolicyConnection struct {
	ID              store.ConnectionID
	Slug            string // as listed in accessControl.ssoConnections
	Name            string // for hints
	JITProvisioning bool   // authentication.jitProvisioning
}

// AccountState is an existing account and the connections whose identities
// are linked to it.
type AccountState struct {
	User              store.User
	LinkedConnections []store.ConnectionID
}

// PolicyInput is everything the policy looks at; the provisioner gathers it
// from the store.
type PolicyInput struct {
	OrgName    string
	Onboarding store.Onboarding
	Access     store.AccessControl
	Connection PolicyConnection
	// NameID is the verified assertion's NameID (C, NameID is the identity).
	NameID string
	// Email is the verified email address from the assertion, mapped by the
	// connection's attribute mapping; "" if there is none.
	Email string
	// Linked is the account linked to (C, NameID), tombstones included; nil
	// if the identity is new.
	Linked *AccountState
	// Matches are the accounts of the organization with the same userName
	// or email, deactivated ones included, tombstones excluded. They are
	// consulted only when Linked is nil.
	Matches []AccountState
}

// Decide applies DESIGN's JIT policy, its four rules in order:
//
//  1. An account linked to (C, NameID) signs in, unless it was
//     de-provisioned (inactive or deleted): then refuse; JIT never
//     resurrects an account.
//  2. Else an active account with the same userName/email gets the identity
//     linked (if the userName and the email match two different accounts,
//     refuse rather than guess), only if it has no identity of another connection and it was
//     provisioned through C or its email domain is in
//     accessControl.emailDomains; otherwise refuse. A deactivated match is
//     refused too (creating a second account beside it would resurrect the
//     person).
//  3. Else create the account iff (jit.ssoConnections and C in
//     accessControl.ssoConnections and C's jitProvisioning) or
//     (jit.emailDomains and the email's domain in accessControl.emailDomains).
//  4. Else refuse.
//
// An empty NameID is refused before any rule: identities are keyed by it.
// Decide is pure.
func Decide(in PolicyInput) Decision {
	conn := connLabel(in.Connection)
	switch {
	case in.Connection.ID == "" || in.Connection.Slug == "":
		return refuse(RuleMissingConnectionID, "Sign-in failed because of a configuration problem. Ask your Admin to check the organization's SSO connections.")
	case strings.TrimSpace(in.NameID) == "":
		return refuse(RuleEmptyNameID, fmt.Sprintf("Your identity provider did not send a user identifier (NameID). Ask your Admin to check the NameID setting of the %s SAML app.", conn))
	}

	// Rule 1.
	if in.Linked != nil {
		if !live(in.Linked.User) {
			return refuse(RuleDeprovisioned, fmt.Sprintf("Your account in %s has been deactivated. Ask your Admin to reactivate it.", orgLabel(in.OrgName)))
		}
		return Decision{Action: ActionSignIn, Rule: RuleLinkedIdentity}
	}

	// Rule 2.
	if len(in.Matches) > 1 {
		return refuse(RuleAmbiguousMatch, fmt.Sprintf("Your name and your email belong to two different accounts in %s. Ask your Admin to merge or correct them.", orgLabel(in.OrgName)))
	}
	if len(in.Matches) == 1 {
		m := in.Matches[0]
		if !live(m.User) {
			return refuse(RuleMatchDeactivated, fmt.Sprintf("Your account in %s has been deactivated. Ask your Admin to reactivate it.", orgLabel(in.OrgName)))
		}
		if slices.ContainsFunc(m.LinkedConnections, func(c store.ConnectionID) bool { return c != in.Connection.ID }) {
			return refuse(RuleLinkedElsewhere, fmt.Sprintf("Your account in %s signs in through another SSO connection. Sign in with that connection, or ask your Admin to link your account to %s.", orgLabel(in.OrgName), conn))
		}
		domain := emailDomain(m.User.PrimaryEmail())
		if m.User.ConnectionID == in.Connection.ID || (domain != "" && slices.Contains(normalizedDomains(in.Access.EmailDomains), domain)) {
			return Decision{Action: ActionLink, Rule: RuleLinkExisting}
		}
		hint := fmt.Sprintf("An account with your name or email already exists in %s, but it was not provisioned through %s. Ask your Admin to link your account to %s", orgLabel(in.OrgName), conn, conn)
		if domain != "" {
			hint += fmt.Sprintf(", or to add %s to the organization's allowed email domains", domain)
		}
		return refuse(RuleLinkNotTrusted, hint+".")
	}

	// Rule 3.
	if in.Onboarding.JITSSOConnections && slices.Contains(in.Access.SSOConnections, in.Connection.Slug) && in.Connection.JITProvisioning {
		return Decision{Action: ActionCreate, Rule: RuleJITSSOConnection}
	}
	domain := emailDomain(in.Email)
	if in.Onboarding.JITEmailDomains && domain != "" && slices.Contains(normalizedDomains(in.Access.EmailDomains), domain) {
		return Decision{Action: ActionCreate, Rule: RuleJITEmailDomain}
	}

	// Rule 4.
	return refuse(RuleJITNotAllowed, jitHint(in, conn, domain))
}

// jitHint names what the Admin would have to change for rule 3 to create
// the account: every missing setting of the SSO route, and the email route
// if the person has an email address.
func jitHint(in PolicyInput, conn, domain string) string {
	var sso []string
	if !in.Onboarding.JITSSOConnections {
		sso = append(sso, "turn on just-in-time provisioning by SSO connection")
	}
	if !slices.Contains(in.Access.SSOConnections, in.Connection.Slug) {
		sso = append(sso, fmt.Sprintf("add %s to the organization's allowed SSO connections", conn))
	}
	if !in.Connection.JITProvisioning {
		sso = append(sso, fmt.Sprintf("turn on just-in-time provisioning for %s", conn))
	}
	hint := fmt.Sprintf("You do not have an account in %s yet, and it does not create accounts on first sign-in through %s. Ask your Admin to invite you, or to %s", orgLabel(in.OrgName), conn, joinAnd(sso))
	if domain != "" {
		var email []string
		if !in.Onboarding.JITEmailDomains {
			email = append(email, "turn on just-in-time provisioning by email domain")
		}
		if !slices.Contains(normalizedDomains(in.Access.EmailDomains), domain) {
			email = append(email, fmt.Sprintf("add %s to the allowed email domains", domain))
		}
		hint += ", or to " + joinAnd(email)
	}
	return hint + "."
}

func refuse(rule, hint string) Decision {
	return Decision{Action: ActionRefuse, Rule: rule, Hint: hint}
}

// live reports whether an account may sign in: active and not deleted.
func live(u store.User) bool { return u.Active && u.DeletedAt == nil }

// emailDomain returns the lower-case domain of an email address, or "" if it
// does not look like one.
func emailDomain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(email[at+1:])), ".")
}

func normalizedDomains(ds []string) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), "."))
	}
	return out
}

func connLabel(c PolicyConnection) string {
	if c.Name != "" {
		return fmt.Sprintf("the %q connection", c.Name)
	}
	return fmt.Sprintf("the %q connection", c.Slug)
}

func orgLabel(name string) string {
	if name == "" {
		return "this organization"
	}
	return name
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
