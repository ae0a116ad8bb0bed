// Package orgconfig checks the names an organization's configuration is made of:
// slugs (of organizations and connections, which appear in URLs), display names
// and email domains for the access control list.
//
// The same rules apply wherever configuration enters onramp: the declarative
// YAML of `onramp apply` (package apply) and the admin API (package admin), so
// that a value one accepts the other accepts too. The checks are pure functions
// that return what is wrong in words an Admin can act on, or "".
package orgconfig
