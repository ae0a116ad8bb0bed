package jit

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/onramp-dev/onramp/store"
)

// SPURLs are a connection's service provider URLs (DESIGN's operator
// contract). EntityID is also the URL of our metadata.
type SPURLs struct {
	EntityID string // BASE/saml/{org}/{connection}/metadata
	ACS      string // BASE/saml/{org}/{connection}/acs (HTTP-POST)
	Login    string // BASE/saml/{org}/{connection}/login
}

// NewSPURLs builds the URLs of connection connSlug of organization orgSlug
// under baseURL (onramp's --base-url, with or without a path prefix).
func NewSPURLs(baseURL, orgSlug, connSlug string) (SPURLs, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return SPURLs{}, fmt.Errorf("jit: base url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return SPURLs{}, fmt.Errorf("jit: base url %q: want http(s)://host[/path]", baseURL)
	}
	if orgSlug == "" || connSlug == "" {
		return SPURLs{}, errors.New("jit: sp urls: empty organization or connection slug")
	}
	prefix := strings.TrimSuffix(u.String(), "/") + "/saml/" + url.PathEscape(orgSlug) + "/" + url.PathEscape(connSlug) + "/"
	return SPURLs{EntityID: prefix + "metadata", ACS: prefix + "acs", Login: prefix + "login"}, nil
}

// ConnectionConfig is one SSO connection as the service provider needs it.
// Build it with NewConnectionConfig from the stored connection.
type ConnectionConfig struct {
	ID   store.ConnectionID
	URLs SPURLs
	IdP  IdPMetadata
	SP   SPKeyPair
	// SPSecond is the second SP key pair during an SP certificate rollover
	// (see StartSPRollover), nil otherwise: published beside SP, and
	// assertions encrypted to it decrypt; it never signs.
	SPSecond *SPKeyPair
	// AllowIdPInitiated accepts unsolicited responses (no InResponseTo).
	AllowIdPInitiated bool
}

// NewConnectionConfig parses a stored connection: its IdP metadata and SP key
// pair, and its URLs under baseURL.
func NewConnectionConfig(baseURL, orgSlug string, c store.Connection) (ConnectionConfig, error) {
	urls, err := NewSPURLs(baseURL, orgSlug, c.Slug)
	if err != nil {
		return ConnectionConfig{}, err
	}
	idp, err := ParseIdPMetadata([]byte(c.IdPMetadataXML))
	if err != nil {
		return ConnectionConfig{}, fmt.Errorf("jit: connection %s: %w", c.ID, err)
	}
	sp, err := ParseSPKeyPair(c.SPCertPEM, c.SPKeyPEM)
	if err != nil {
		return ConnectionConfig{}, fmt.Errorf("jit: connection %s: %w", c.ID, err)
	}
	second, err := parseSecondSPKeyPair(c)
	if err != nil {
		return ConnectionConfig{}, fmt.Errorf("jit: connection %s: %w", c.ID, err)
	}
	return ConnectionConfig{
		ID:                c.ID,
		URLs:              urls,
		IdP:               idp,
		SP:                sp,
		SPSecond:          second,
		AllowIdPInitiated: c.AllowIdPInitiated,
	}, nil
}

func (c ConnectionConfig) validate() error {
	switch {
	case c.ID == "":
		return errors.New("no connection id")
	case c.URLs.EntityID == "" || c.URLs.ACS == "":
		return errors.New("no sp entity id or acs url")
	case c.IdP.EntityID == "":
		return errors.New("no idp entity id")
	case len(c.IdP.SigningCerts) == 0:
		return errors.New("no idp signing certificate")
	case c.SP.Key == nil || c.SP.Cert == nil:
		return errors.New("no sp key pair")
	}
	return nil
}
