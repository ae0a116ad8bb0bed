package admin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/orgconfig"
	"github.com/onramp-dev/onramp/store"
)

// scimPrefix is where onramp serves SCIM (DESIGN's operator contract:
// BASE/scim/v2); the admin API reports the full URL to paste into an IdP.
const scimPrefix = "/scim/v2"

// maxMetadataSize bounds imported IdP metadata, as package jit does.
const maxMetadataSize = 1 << 20

// Authentication is a connection's authentication settings.
type Authentication struct {
	// JITProvisioning: accounts may be created on first sign-in through this
	// connection (with jit.ssoConnections on and the connection in the ACL).
	JITProvisioning bool `json:"jitProvisioning"`
	// AllowIdPInitiated accepts sign-ins started at the IdP (no AuthnRequest).
	AllowIdPInitiated bool `json:"allowIdpInitiated"`
}

// Certificate describes an IdP signing certificate.
type Certificate struct {
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	SHA256    string    `json:"sha256"` // fingerprint of the DER, as jit.Fingerprint writes it (3F:A1:…)
}

// IdP is what onramp read from a connection's IdP metadata.
type IdP struct {
	EntityID            string        `json:"entityId"`
	SSOURL              string        `json:"ssoUrl,omitempty"`
	SigningCertificates []Certificate `json:"signingCertificates"`
}

// SP are the service provider URLs to give the IdP.
type SP struct {
	EntityID    string `json:"entityId"`
	ACSURL      string `json:"acsUrl"`
	LoginURL    string `json:"loginUrl"`
	MetadataURL string `json:"metadataUrl"`
}

// Connection is an SSO connection as the admin API shows it.
type Connection struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
	// IdP is nil when no IdP metadata has been imported yet (then
	// IdPMetadataError says so) or the stored metadata cannot be read.
	IdP              *IdP           `json:"idp"`
	IdPMetadataError string         `json:"idpMetadataError,omitempty"`
	IdPMetadataXML   string         `json:"idpMetadataXml,omitempty"` // in Connection (one), not in ListConnections
	SP               SP             `json:"sp"`
	Authentication   Authentication `json:"authentication"`
	MappingPreset    string         `json:"mappingPreset"`
	SCIMBaseURL      string         `json:"scimBaseUrl"`
	// InAccessControl: the connection is in accessControl.ssoConnections.
	InAccessControl bool      `json:"inAccessControl"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	Version         string    `json:"version"`
}

// ConnectionInput creates a connection (Mapping applies to creation only) or
// replaces one's settings.
type ConnectionInput struct {
	Slug string `json:"slug"`
	Name string `json:"name"` // the slug if empty
	// IdPMetadataXML is the IdP's SAML metadata. It may be empty at first: the
	// IdP often needs the SP's URLs (and metadata) before it publishes its own.
	IdPMetadataXML string         `json:"idpMetadataXml"`
	Authentication Authentication `json:"authentication"`
	Mapping        *MappingInput  `json:"mapping,omitempty"`
}

// AuthenticationPatch changes the settings that are set.
type AuthenticationPatch struct {
	JITProvisioning   *bool `json:"jitProvisioning,omitempty"`
	AllowIdPInitiated *bool `json:"allowIdpInitiated,omitempty"`
}

// ConnectionPatch changes the fields that are set.
type ConnectionPatch struct {
	Slug           *string              `json:"slug,omitempty"`
	Name           *string              `json:"name,omitempty"`
	IdPMetadataXML *string              `json:"idpMetadataXml,omitempty"`
	Authentication *AuthenticationPatch `json:"authentication,omitempty"`
}

func (s *Service) connectionOf(org store.Org, c store.Connection, withXML bool) Connection {
	out := Connection{
		Slug: c.Slug, Name: c.Name,
		Authentication:  Authentication{JITProvisioning: c.JITProvisioning, AllowIdPInitiated: c.AllowIdPInitiated},
		MappingPreset:   c.MappingPreset,
		SCIMBaseURL:     s.base + scimPrefix,
		InAccessControl: slices.Contains(org.Access.SSOConnections, c.Slug),
		CreatedAt:       c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: version(c.UpdatedAt),
	}
	if out.MappingPreset == "" {
		out.MappingPreset = attributes.PresetGeneric
	}
	if urls, err := jit.NewSPURLs(s.base, org.Slug, c.Slug); err == nil {
		out.SP = SP{EntityID: urls.EntityID, ACSURL: urls.ACS, LoginURL: urls.Login, MetadataURL: urls.EntityID}
	}
	if c.IdPMetadataXML == "" {
		out.IdPMetadataError = "no IdP metadata imported yet"
	} else if md, err := jit.ParseIdPMetadata([]byte(c.IdPMetadataXML)); err != nil {
		out.IdPMetadataError = metadataProblem(err)
	} else {
		out.IdP = idpOf(md)
	}
	if withXML {
		out.IdPMetadataXML = c.IdPMetadataXML
	}
	return out
}

func idpOf(md jit.IdPMetadata) *IdP {
	idp := &IdP{EntityID: md.EntityID, SSOURL: md.SSOURL, SigningCertificates: []Certificate{}}
	for _, c := range md.SigningCerts {
		idp.SigningCertificates = append(idp.SigningCertificates, certificateOf(c))
	}
	return idp
}

func certificateOf(c *x509.Certificate) Certificate {
	return Certificate{Subject: c.Subject.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), SHA256: jit.Fingerprint(c)}
}

// metadataProblem turns ParseIdPMetadata's error into words for the Admin. Its
// text is about the Admin's own upload (XML syntax, missing elements), never
// about onramp's internals.
func metadataProblem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "jit: idp metadata: ")
	return "not usable IdP metadata: " + msg
}

// ListConnections returns the organization's connections, ordered by slug.
func (s *Service) ListConnections(ctx context.Context, a Actor) ([]Connection, error) {
	o, err := s.org(ctx, a)
	if err != nil {
		return nil, err
	}
	cs, err := s.st.ListConnections(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("admin: list connections: %w", err)
	}
	out := make([]Connection, 0, len(cs))
	for _, c := range cs {
		out = append(out, s.connectionOf(o, c, false))
	}
	return out, nil
}

// connection reads one of the actor's organization's connections by slug.
func (s *Service) connection(ctx context.Context, a Actor, slug string) (store.Connection, error) {
	c, err := s.st.GetConnectionBySlug(ctx, a.org.ID, slug)
	if err != nil {
		return store.Connection{}, fmt.Errorf("admin: connection %q: %w", slug, err)
	}
	return c, nil
}

// Connection returns one connection, with its IdP metadata XML.
func (s *Service) Connection(ctx context.Context, a Actor, slug string) (Connection, error) {
	o, err := s.org(ctx, a)
	if err != nil {
		return Connection{}, err
	}
	c, err := s.connection(ctx, a, slug)
	if err != nil {
		return Connection{}, err
	}
	return s.connectionOf(o, c, true), nil
}

// checkConnectionFields validates slug, name and metadata into fe and returns
// the name to store.
func checkConnectionFields(fe fieldErrors, slug, name, metadata string) string {
	if p := orgconfig.CheckSlug(slug); p != "" {
		fe.add("slug", "%s", p)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = slug
	}
	if p := orgconfig.CheckName(name, false); p != "" {
		fe.add("name", "%s", p)
	}
	if p := checkMetadata(metadata); p != "" {
		fe.add("idpMetadataXml", "%s", p)
	}
	return name
}

// checkMetadata returns what is wrong with IdP metadata, or "" (empty is
// allowed: not imported yet).
func checkMetadata(xml string) string {
	if strings.TrimSpace(xml) == "" {
		return ""
	}
	if len(xml) > maxMetadataSize {
		return fmt.Sprintf("larger than %d bytes", maxMetadataSize)
	}
	if _, err := jit.ParseIdPMetadata([]byte(xml)); err != nil {
		return metadataProblem(err)
	}
	return ""
}

// CreateConnection creates a connection with a new SP key pair, its IdP
// metadata (if given), authentication settings and mapping (preset "generic"
// unless given).
func (s *Service) CreateConnection(ctx context.Context, a Actor, in ConnectionInput) (Connection, error) {
	fe := fieldErrors{}
	name := checkConnectionFields(fe, in.Slug, in.Name, in.IdPMetadataXML)
	preset, overrides := attributes.PresetGeneric, []byte(nil)
	if in.Mapping != nil {
		var err error
		if preset, overrides, err = validateMapping(*in.Mapping, "mapping."); err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				return Connection{}, err
			}
			for k, v := range ve.Fields {
				fe.add(k, "%s", v)
			}
		}
	}
	if err := fe.err(); err != nil {
		return Connection{}, err
	}
	certPEM, keyPEM, err := jit.NewSPKeyPair(s.now())
	if err != nil {
		return Connection{}, fmt.Errorf("admin: %w", err)
	}
	c, err := s.st.CreateConnection(ctx, store.Connection{
		OrgID: a.org.ID, Slug: in.Slug, Name: name, IdPMetadataXML: strings.TrimSpace(in.IdPMetadataXML),
		JITProvisioning: in.Authentication.JITProvisioning, AllowIdPInitiated: in.Authentication.AllowIdPInitiated,
		MappingPreset: preset, Mapping: overrides, SPCertPEM: certPEM, SPKeyPEM: keyPEM,
	}, a.event(AuditConnectionCreated, map[string]string{
		"slug":              in.Slug,
		"jitProvisioning":   strconv.FormatBool(in.Authentication.JITProvisioning),
		"allowIdpInitiated": strconv.FormatBool(in.Authentication.AllowIdPInitiated),
		"mappingPreset":     preset,
	}))
	if errors.Is(err, store.ErrConflict) {
		return Connection{}, conflict(err, "slug", "this organization already has a connection %q", in.Slug)
	}
	if err != nil {
		return Connection{}, fmt.Errorf("admin: create connection: %w", err)
	}
	o, err := s.org(ctx, a)
	if err != nil {
		return Connection{}, err
	}
	return s.connectionOf(o, c, true), nil
}

// ReplaceConnection replaces a connection's slug, name, IdP metadata and
// authentication settings (its mapping, key pair and tokens stay; in.Mapping
// must be nil). A new slug replaces the old one in the access control list.
func (s *Service) ReplaceConnection(ctx context.Context, a Actor, slug string, in ConnectionInput, ifMatch string) (Connection, error) {
	fe := fieldErrors{}
	name := checkConnectionFields(fe, in.Slug, in.Name, in.IdPMetadataXML)
	if in.Mapping != nil {
		fe.add("mapping", "the mapping is changed through its own resource (…/mapping), not here")
	}
	if err := fe.err(); err != nil {
		return Connection{}, err
	}
	auth := in.Authentication
	return s.updateConnection(ctx, a, slug, ifMatch, AuditConnectionUpdated, func(c *store.Connection) error {
		c.Slug, c.Name, c.IdPMetadataXML = in.Slug, name, strings.TrimSpace(in.IdPMetadataXML)
		c.JITProvisioning, c.AllowIdPInitiated = auth.JITProvisioning, auth.AllowIdPInitiated
		return nil
	})
}

// PatchConnection changes the fields of p that are set.
func (s *Service) PatchConnection(ctx context.Context, a Actor, slug string, p ConnectionPatch, ifMatch string) (Connection, error) {
	fe := fieldErrors{}
	if p.Slug != nil {
		if pr := orgconfig.CheckSlug(*p.Slug); pr != "" {
			fe.add("slug", "%s", pr)
		}
	}
	var name string
	if p.Name != nil {
		name = strings.TrimSpace(*p.Name)
		if pr := orgconfig.CheckName(name, true); pr != "" {
			fe.add("name", "%s", pr)
		}
	}
	if p.IdPMetadataXML != nil {
		if pr := checkMetadata(*p.IdPMetadataXML); pr != "" {
			fe.add("idpMetadataXml", "%s", pr)
		}
	}
	if err := fe.err(); err != nil {
		return Connection{}, err
	}
	return s.updateConnection(ctx, a, slug, ifMatch, AuditConnectionUpdated, func(c *store.Connection) error {
		if p.Slug != nil {
			c.Slug = *p.Slug
		}
		if p.Name != nil {
			c.Name = name
		}
		if p.IdPMetadataXML != nil {
			c.IdPMetadataXML = strings.TrimSpace(*p.IdPMetadataXML)
		}
		if p.Authentication != nil {
			if v := p.Authentication.JITProvisioning; v != nil {
				c.JITProvisioning = *v
			}
			if v := p.Authentication.AllowIdPInitiated; v != nil {
				c.AllowIdPInitiated = *v
			}
		}
		return nil
	})
}

// SetAuthentication replaces a connection's authentication settings.
func (s *Service) SetAuthentication(ctx context.Context, a Actor, slug string, in Authentication, ifMatch string) (Connection, error) {
	return s.updateConnection(ctx, a, slug, ifMatch, AuditAuthenticationSet, func(c *store.Connection) error {
		c.JITProvisioning, c.AllowIdPInitiated = in.JITProvisioning, in.AllowIdPInitiated
		return nil
	})
}

// changedFields names what set changed between two connections, for the audit
// event (names only, never values but the switches').
func changedFields(before, after store.Connection) map[string]string {
	d := map[string]string{}
	if before.Slug != after.Slug {
		d["slug"] = before.Slug + "->" + after.Slug
	}
	if before.Name != after.Name {
		d["name"] = "changed"
	}
	if before.IdPMetadataXML != after.IdPMetadataXML {
		d["idpMetadataXml"] = "replaced"
	}
	if before.JITProvisioning != after.JITProvisioning {
		d["jitProvisioning"] = strconv.FormatBool(after.JITProvisioning)
	}
	if before.AllowIdPInitiated != after.AllowIdPInitiated {
		d["allowIdpInitiated"] = strconv.FormatBool(after.AllowIdPInitiated)
	}
	if before.MappingPreset != after.MappingPreset {
		d["mappingPreset"] = after.MappingPreset
	}
	if string(before.Mapping) != string(after.Mapping) {
		d["mappingOverrides"] = "replaced"
	}
	return d
}

// updateConnection applies set to the connection in one write, audited as
// action with the changed fields as detail; an unchanged connection is not
// written and records nothing. set runs in the write transaction and may run
// more than once; an error from it aborts the write and is returned as is.
func (s *Service) updateConnection(ctx context.Context, a Actor, slug, ifMatch, action string, set func(*store.Connection) error) (Connection, error) {
	cur, err := s.connection(ctx, a, slug)
	if err != nil {
		return Connection{}, err
	}
	// The closure fills the event's Detail in place (the store writes the
	// event after it ran, in the same transaction), so that the detail
	// describes the change actually written even if the closure runs again.
	ev := a.event(action, map[string]string{})
	ev.ConnectionID = cur.ID
	c, err := s.st.UpdateConnection(ctx, cur.ID, func(c *store.Connection) error {
		if err := checkVersion(ifMatch, c.UpdatedAt); err != nil {
			return err
		}
		before := *c
		if err := set(c); err != nil {
			return err
		}
		clear(ev.Detail)
		maps.Copy(ev.Detail, changedFields(before, *c))
		if len(ev.Detail) == 0 {
			return errUnchanged
		}
		return nil
	}, ev)
	switch {
	case errors.Is(err, errUnchanged):
		if c, err = s.st.GetConnection(ctx, cur.ID); err != nil {
			return Connection{}, fmt.Errorf("admin: connection %q: %w", slug, err)
		}
	case errors.Is(err, store.ErrConflict):
		return Connection{}, conflict(err, "slug", "this organization already has a connection with that slug")
	case errors.As(err, new(*ValidationError)):
		return Connection{}, err
	case err != nil:
		return Connection{}, fmt.Errorf("admin: update connection %q: %w", slug, err)
	}
	o, err := s.org(ctx, a)
	if err != nil {
		return Connection{}, err
	}
	return s.connectionOf(o, c, true), nil
}

// DeleteConnection deletes a connection with its SCIM tokens and linked
// identities, and removes it from the access control list. The accounts it
// provisioned stay.
func (s *Service) DeleteConnection(ctx context.Context, a Actor, slug string) error {
	c, err := s.connection(ctx, a, slug)
	if err != nil {
		return err
	}
	ev := a.event(AuditConnectionDeleted, map[string]string{"slug": c.Slug})
	ev.ConnectionID = c.ID
	if err := s.st.DeleteConnection(ctx, c.ID, ev); err != nil {
		return fmt.Errorf("admin: delete connection %q: %w", slug, err)
	}
	return nil
}

// SPMetadata returns the connection's SAML SP metadata (XML), to upload to
// the IdP: during an SP certificate rollover with both certificates, the
// active one first, as the public metadata URL publishes them. A connection
// made without an SP key pair (by `onramp apply`) gets one now, as the SAML
// endpoints would give it.
func (s *Service) SPMetadata(ctx context.Context, a Actor, slug string) ([]byte, error) {
	c, err := s.connection(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if c.SPCertPEM == "" || c.SPKeyPEM == "" {
		certPEM, keyPEM, err := jit.NewSPKeyPair(s.now())
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		ev := store.AuditEvent{OrgID: a.org.ID, Actor: "system", Action: jit.AuditSPKeyGenerated, ConnectionID: c.ID}
		c, err = s.st.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
			if c.SPCertPEM == "" || c.SPKeyPEM == "" { // another replica may have been first
				c.SPCertPEM, c.SPKeyPEM = certPEM, keyPEM
			}
			return nil
		}, ev)
		if err != nil {
			return nil, fmt.Errorf("admin: store sp key pair: %w", err)
		}
	}
	md, err := jit.ConnectionSPMetadata(s.base, a.org.Slug, c, s.now())
	if err != nil {
		return nil, fmt.Errorf("admin: connection %q: %w", slug, err)
	}
	return md, nil
}
