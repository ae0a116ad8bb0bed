package orgconfig

import (
	"fmt"
	"strings"
	"unicode"
)

// MaxSlugLen bounds slugs; they appear in URLs.
const MaxSlugLen = 63

// MaxNameLen bounds display names, in bytes.
const MaxNameLen = 200

// CheckSlug returns what is wrong with a slug, or "". A slug is 1 to 63 lower-case
// letters, digits and hyphens, starting with a letter or digit and not ending with a
// hyphen.
func CheckSlug(s string) string {
	const rule = "a slug is 1 to 63 characters a-z, 0-9 and '-', starting with a letter or digit and not ending with '-'"
	if s == "" {
		return "slug is required"
	}
	if len(s) > MaxSlugLen || s[0] == '-' || s[len(s)-1] == '-' {
		return fmt.Sprintf("%q: %s", s, rule)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Sprintf("%q: %s", s, rule)
		}
	}
	return ""
}

// CheckName returns what is wrong with a display name, or "": too long, or a
// control character. An empty name is wrong only if required.
func CheckName(s string, required bool) string {
	if s == "" {
		if required {
			return "name is required"
		}
		return ""
	}
	if len(s) > MaxNameLen {
		return fmt.Sprintf("longer than %d bytes", MaxNameLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "contains a control character"
		}
	}
	return ""
}

// NormalizeDomain lower-cases a domain and checks that it is a DNS name: no
// scheme, no '@', no port or path, at least two labels of 1 to 63 characters
// a-z, 0-9 and '-' not starting or ending with '-'. A trailing dot and
// surrounding spaces are dropped. Internationalised names must be written in
// their xn-- (punycode) form. It returns the normalised domain, or "" and what
// is wrong.
func NormalizeDomain(d string) (domain, problem string) {
	s := strings.ToLower(strings.TrimSpace(d))
	s = strings.TrimSuffix(s, ".")
	switch {
	case s == "":
		return "", "empty domain"
	case strings.Contains(s, "://"):
		return "", "a domain has no scheme (write example.com, not https://example.com)"
	case strings.Contains(s, "@"):
		return "", "a domain, not an email address (write example.com, not someone@example.com)"
	case strings.ContainsAny(s, "/:"):
		return "", "a domain has no port or path"
	case len(s) > 253:
		return "", "longer than 253 characters"
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return "", "not a fully qualified domain (want at least two labels, like example.com)"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", "not a valid DNS name"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if c >= 0x80 {
				return "", "not ASCII: write internationalised domains in their xn-- form"
			}
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return "", "not a valid DNS name"
			}
		}
	}
	return s, ""
}
