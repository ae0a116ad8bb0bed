// Package apply reads onramp's declarative configuration (the YAML that
// `onramp apply -f` takes) and makes the store match it.
//
// The format uses the names of DESIGN.md:
//
//	organizations:
//	  - slug: acme
//	    name: Acme Corp
//	    onboarding:
//	      jit: { emailDomains: true, ssoConnections: true }
//	      accessControl:
//	        emailDomains: [acme-corp.com]
//	        ssoConnections: [okta]
//	    connections:
//	      - slug: okta
//	        name: Okta
//	        idp: { metadataFile: okta-idp.xml }
//	        authentication: { jitProvisioning: true, allowIdpInitiated: false }
//	        mapping: { preset: okta }
//
// Load decodes strictly (an unknown or misspelt key such as jitProvisoning is an
// error naming its line) and validates the whole file before anything is written,
// reporting every problem it finds at once, each with its line. Apply then creates
// or updates the declared organizations and connections. It compares each entity
// with what the store holds and writes only when something differs, so applying
// the same file twice writes nothing and records no audit events the second time.
//
// What a file declares, it declares completely: an omitted onboarding switch is
// off, an omitted list is empty, an omitted idp clears the connection's IdP
// metadata, an omitted mapping preset is "generic". What a file does not mention is
// left alone: organizations and connections that exist in the store but not in the
// file are neither changed nor deleted, and neither are the parts of a connection
// that the format does not carry (mapping overrides made by an Admin, the SP key
// pair, SCIM tokens). Every write is audited with the actor "operator".
//
// Apply is not one transaction: each entity is written in its own. A store failure
// part-way leaves the entities before it applied; running apply again finishes the
// job, because every step is idempotent.
package apply
