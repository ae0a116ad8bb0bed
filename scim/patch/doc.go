// Package patch applies SCIM PATCH operations (RFC 7644 section 3.5.2).
package patch
