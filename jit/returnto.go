package jit

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ReturnToPolicy says where a browser may be sent after signing in: a path
// on onramp's own origin, or a URL on one of the configured origins. Anything
// else would make the login endpoint an open redirect.
type ReturnToPolicy struct {
	// AllowedOrigins are "scheme://host[:port]" origins, compared exactly
	// (lower-case scheme and host).
	AllowedOrigins []string
}

// Validate returns the return_to value to use: "/" for an empty value, the
// value itself when it is a safe relative path or a URL on an allowed
// origin, and an error otherwise.
//
// A relative path must start with a single "/" (not "//" or "/\", which
// browsers read as another host), and nothing may contain a backslash or a
// control character (browsers strip or reinterpret them).
func (p ReturnToPolicy) Validate(raw string) (string, error) {
	if raw == "" {
		return "/", nil
	}
	if len(raw) > maxReturnToLength {
		return "", fmt.Errorf("jit: return_to longer than %d bytes", maxReturnToLength)
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "", errors.New("jit: return_to has a control character or backslash")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("jit: return_to: %w", err)
	}
	if u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == "" {
		if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
			return "", errors.New("jit: return_to must be an absolute path such as /app")
		}
		return raw, nil
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", errors.New("jit: return_to must be a path or an http(s) URL")
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	for _, o := range p.AllowedOrigins {
		if strings.ToLower(strings.TrimSuffix(o, "/")) == origin {
			return raw, nil
		}
	}
	return "", fmt.Errorf("jit: return_to origin %s is not allowed", origin)
}
