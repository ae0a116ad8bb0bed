// Package samltest runs a real SAML identity provider in tests: the
// IdentityProvider of github.com/crewjam/saml, served by an httptest server,
// issuing really signed (and, where the SP asks for it, encrypted) responses
// to onramp's service provider. It also has the tools to take such a response
// apart for attack tests (mutate.go).
//
// The IdP runs on the real clock: crewjam's package globals (saml.TimeNow,
// saml.Clock) are never touched. Give the code under test a clock near
// time.Now to verify, or one far from it to see expiry.
package samltest
