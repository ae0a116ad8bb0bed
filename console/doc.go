// Package console is onramp's admin console: server-rendered HTML pages under
// BASE/admin through which an organization's Admins configure user onboarding
// and the access control list, SSO connections and their authentication
// settings, attribute mappings and SCIM tokens, and read users and the audit
// log.
//
// The pages call package admin's Service directly (no HTTP round trip to the
// JSON API), so the console and the API share one implementation of every
// rule: who may do what (Service.Authorize), validation with field-level
// errors (*admin.ValidationError, shown next to the field it names), and the
// audit event every change writes.
//
// # Flows
//
// The names are the ones organization admins follow from documentation:
//
//   - Administration → Organization: a User onboarding section with Edit.
//     Editing shows JIT Provisioning with the options Email domains and SSO
//     connections, and the Access control list: under Email domains, Add
//     domain, a field for the domain and Save; under SSO connections, Select
//     connection, a choice of the organization's connections and Save. The
//     final Save applies the section. Until then the edits are a draft carried
//     in the form itself (hidden fields), so every step works without
//     JavaScript and nothing is written before the final Save.
//   - Administration → SSO: the connections, each row with an Actions menu
//     (a <details> element: keyboard accessible, no script) holding Edit
//     connection. A connection's page has Authentication settings with Edit,
//     the JIT provisioning toggle, and Save; its attribute mapping (preset,
//     field-by-field overrides, group-to-role rules and a Preview that runs
//     the unsaved mapping on a pasted SAML response or SCIM body, with the JIT
//     verdict) and its SCIM provisioning (base URL, tokens shown once, revoke).
//     Its SP certificate section lists the connection's SP certificates
//     (role, SHA-256 fingerprint, validity, a PEM download) and the button of
//     the next step of a rollover with what it does: Start rollover; then
//     Activate new certificate or Cancel rollover; then Finish: remove old
//     certificate (sprollover.go).
//     While a SCIM token's de-provisioning is held (the mass de-provisioning
//     safety rail, store.Holds), the SSO page and every SCIM page show a
//     banner per hold, with the counts and a Release button.
//   - Users (with the source each came from), a user's page with identities,
//     groups and history, and the audit log.
//   - Users → Invitations (when Config.Invitations is set): Invite people, a
//     form with Email, Role (Member or Admin) and Invite, and the pending
//     invitations, each with Resend and Revoke. The page calls package
//     emaillogin's service directly, as the API does; an address whose
//     domain is not in accessControl.emailDomains is refused next to the
//     field, and nothing is saved or sent.
//
// # Security
//
// Every page under /admin/{org} needs the session cookie (package jit) of a
// live user of that organization. Without one, GET requests are sent to the
// sign-in page (/admin/sign-in), which links to the organization's SSO
// connections and explains the one-time sign-in link for organizations
// without SSO. A user whose role is not Admin gets a 403 page; another
// organization's pages are a 404, whether they exist or not. Every form
// carries the session's CSRF token (admin.CSRFToken) and every POST is checked
// with admin.CheckCSRF before anything else. Pages are sent with
// Cache-Control: no-store and a Content-Security-Policy that allows only
// onramp's own stylesheet and script (embedded in the binary, served from
// /admin/assets/); nothing is loaded from elsewhere. A new SCIM token's
// plaintext appears once, in the answer to the POST that created it, and is
// never logged.
//
// Script is progressive enhancement only: console.js adds copy buttons.
package console
