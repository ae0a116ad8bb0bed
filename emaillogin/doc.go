// Package emaillogin is onramp's sign-in by email address, home-realm
// discovery, invitations and the operator's admin sign-in links.
//
// Sign-in (BASE/login) asks for an email address. If its domain is routed to
// an SSO connection (a DomainRoute, set by an Admin), the browser goes to that
// connection's SP-initiated login (home-realm discovery). Otherwise onramp
// emails a one-time link and a six-digit code for the address. Both are
// single use and expire (LinkTTL, 15 minutes by default); the store keeps
// only the SHA-256 of the link's 256-bit secret and an HMAC of the code keyed
// with CodeKey, which is not in the database. Sending is rate-limited per
// address and per client in the shared store, so the limits hold across
// replicas. The page after sending is the same whether or not the address has
// an account anywhere: onramp does not even look, so neither the answer nor
// its timing tells (no account enumeration).
//
// Following the link (or entering the code) verifies the address. What happens
// then is jit.DecideEmail, DESIGN's JIT policy for a verified address, in each
// organization that has an account with the address or lets its domain sign
// up: an existing account signs in (never a de-provisioned one); without one,
// JIT by email domain creates it where jit.emailDomains is on and the domain
// is in accessControl.emailDomains; where several organizations would let the
// person in, the person chooses; where none would, a 403 page says why and
// what to ask the Admin for. Every decision is an audit event (jit.created,
// jit.signed_in, jit.refused with the rule), and a sign-in starts the same
// session as SAML's (jit.Sessions).
//
// Opening a link changes nothing: its page has a button that posts the link
// back, so that mail scanners that fetch links do not spend them. Every form
// carries a token that must match a SameSite=Strict cookie set when its page
// was shown, so that another site cannot post a link or code of its own into
// a victim's browser and sign it in to the attacker's account.
//
// Invitations: an Admin invites an address with a role through the admin API
// (BASE/api/v1/orgs/{org}/invitations, authenticated and authorized by package
// admin). The address's domain must be in the organization's
// accessControl.emailDomains. The email carries an accept link (single use,
// InvitationTTL, 7 days by default); the Admin can resend it (a new link, the
// old one stops working) or revoke the invitation. Accepting creates the
// account with source "invitation" and the invited role (or, if the
// organization already has an active account with the address, signs that
// one in), and it is visible over SCIM like any other account.
//
// Admin links (onramp admin login-link, see NewAdminLink): the operator's way
// into an organization that has no SSO yet. The link is bound to an account
// with the Admin role, which is created (source "invitation", actor
// "operator") if the organization has no live account with the address, or
// given the Admin role if it has one; a deactivated account is refused. The
// link signs that account in once, within its lifetime, if it is still
// active then.
//
// Without an SMTP server (mail.Log), links, codes and invitations are written
// to the log instead of sent, for local use.
package emaillogin
