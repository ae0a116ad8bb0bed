// Package demo is what `onramp serve --demo` adds to the server: a demo
// organization, a built-in SAML identity provider with a few made-up people,
// and a landing page, so that a newcomer sees a just-in-time sign-up end to
// end without setting up an IdP.
//
// New makes the store hold the demo organization, idempotently, through the
// same code path as `onramp apply` (package apply):
//
//	organizations:
//	  - slug: demo
//	    name: Demo Org
//	    onboarding:
//	      jit: { emailDomains: true, ssoConnections: true }
//	      accessControl:
//	        emailDomains: [example.com]
//	        ssoConnections: [demo-idp]
//	    connections:
//	      - slug: demo-idp
//	        name: Demo IdP
//	        idp: <the built-in IdP's metadata>
//	        authentication: { jitProvisioning: true, allowIdpInitiated: true }
//	        mapping: { preset: generic }
//
// Every start puts these settings back, so an experiment with the demo
// organization's policy lasts until the next start. The connection also gets
// its SP key pair, and, if it has no mapping overrides yet, one role rule
// (group "admins" becomes role Admin); an Admin's later overrides are kept.
//
// The identity provider is github.com/crewjam/saml's IdentityProvider, the
// same one the SAML tests use, served under /demo/idp:
//
//	GET  /demo/idp/metadata  its metadata; the URL is also its entity ID
//	GET  /demo/idp/sso       SSO (HTTP-Redirect binding): validates the
//	                         AuthnRequest, then shows "Pick a demo person"
//	POST /demo/idp/login     the picker's form; sends the browser back to SSO,
//	                         which answers with crewjam's auto-posting form
//	                         carrying the signed (and encrypted) response to
//	                         onramp's ACS
//	GET  /demo/idp/start     IdP-initiated sign-in, as an app tile starts it
//
// It trusts one service provider, the demo connection, whose metadata it
// builds from the store. The person picked is remembered in a cookie for one
// AuthnRequest only, so every sign-in asks again. crewjam accepts an
// AuthnRequest for 90 seconds; a person who picks later is sent through one
// fresh sign-in with the same pick instead of an error. It asserts the NameID (the
// email address, emailAddress format) and the attributes email, givenName,
// surname, displayName and groups, which the generic mapping preset reads.
//
// The IdP's signing key and certificate are made on the first start and kept
// in a PEM file (Config.KeyFile; `onramp serve` puts it next to the SQLite
// file, mode 0600), so that the metadata stored on the connection, and so
// every sign-in, stays valid across restarts. Delete the file to get a new
// key: the next start stores the new metadata.
//
// The landing page (GET /) says who is signed in, through the same session
// cookie as /api/v1/me, lists the demo organization's accounts with where
// they came from, and shows the SCIM request that finds them. Its "Sign out"
// posts to jit's POST /logout.
//
// Nothing here is meant for production: the IdP signs anyone in as anyone.
package demo
