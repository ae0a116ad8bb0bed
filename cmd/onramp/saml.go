package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// minSAMLKeyLen is the shortest --saml-key accepted, in bytes.
const minSAMLKeyLen = 32

// decodeSAMLKey reads --saml-key: hex or standard base64 (padded or not) of at
// least 32 bytes.
func decodeSAMLKey(s string) ([]byte, error) {
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString,
		base64.RawURLEncoding.DecodeString,
	} {
		if b, err := dec(s); err == nil {
			if len(b) < minSAMLKeyLen {
				return nil, fmt.Errorf("is %d bytes, want at least %d", len(b), minSAMLKeyLen)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("is neither hex nor base64 (make one with: openssl rand -hex %d)", minSAMLKeyLen)
}

// validateOrigins checks the --return-to-origin values: scheme and host only.
func validateOrigins(origins []string) []string {
	var ps []string
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.TrimRight(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			ps = append(ps, fmt.Sprintf("--return-to-origin (ONRAMP_RETURN_TO_ORIGINS) %q: want an origin such as https://app.example.com", o))
		}
	}
	return ps
}

// newSAMLHandler builds the SAML endpoints (metadata, login, ACS) and /api/v1/me.
// key signs the request-tracking cookies (see serveCmd.serverKey).
func newSAMLHandler(st store.Store, baseURL string, key []byte, origins []string, m jit.Metrics, logger *slog.Logger) (*jit.Handler, error) {
	k := key
	for i, o := range origins {
		origins[i] = strings.TrimRight(o, "/")
	}
	h, err := jit.NewHandler(jit.HandlerConfig{
		Store: st, BaseURL: baseURL, RequestKey: k, ReturnToOrigins: origins, Logger: logger, Metrics: m,
	})
	if err != nil {
		return nil, fmt.Errorf("saml: %w", err)
	}
	return h, nil
}
