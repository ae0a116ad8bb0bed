package demo

import (
	"context"
	"embed"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/apply"
	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// The demo organization and connection.
const (
	OrgSlug        = "demo"
	OrgName        = "Demo Org"
	ConnectionSlug = "demo-idp"
	ConnectionName = "Demo IdP"
	// EmailDomain is the domain of every demo person, and the one in the
	// organization's access control list.
	EmailDomain = "example.com"
	// AdminGroup is the group the demo mapping makes role Admin.
	AdminGroup = "admins"
)

// Paths served by Register.
const (
	LandingPath = "/"
	// LogoutPath is jit's sign-out endpoint, which the landing page posts
	// to; the demo serves no sign-out of its own.
	LogoutPath      = "/logout"
	IdPMetadataPath = "/demo/idp/metadata"
	IdPSSOPath      = "/demo/idp/sso"
	IdPLoginPath    = "/demo/idp/login"
	IdPStartPath    = "/demo/idp/start"
)

// Audit actions of the demo's own writes (apply's are its own).
const (
	AuditSPKeyGenerated = jit.AuditSPKeyGenerated
	AuditMappingSet     = "connection.mapping_updated"
)

// auditActor is the audit actor of the demo's writes.
const auditActor = "system:demo"

// Store is the part of the store the demo uses.
type Store interface {
	store.Orgs
	store.Connections
	store.Users
	store.Sessions
}

// Config configures the demo.
type Config struct {
	Store Store
	// BaseURL is onramp's public URL (--base-url), without a path.
	BaseURL string
	// KeyFile is where the demo IdP's key pair is kept (PEM, created mode
	// 0600 if missing).
	KeyFile string
	Logger  *slog.Logger
	// Now is the clock for certificates, metadata and sessions; time.Now if
	// nil. crewjam's IdP signs at the real time (it has its own clock).
	Now func() time.Time
}

// URLs are the demo's URLs under the base URL.
type URLs struct {
	Landing     string // BASE/
	SignIn      string // SP-initiated sign-in of the demo connection, back to /
	IdPStart    string // IdP-initiated sign-in
	IdPMetadata string // the demo IdP's metadata and entity ID
	IdPSSO      string // the demo IdP's SSO URL
	SPMetadata  string // the demo connection's SP metadata and entity ID
}

// Setup says what New found and changed.
type Setup struct {
	Applied    apply.Result // the organization and connection
	NewIdPKey  bool         // the IdP key file was created
	NewSPKey   bool         // the connection got its SP key pair
	MappingSet bool         // the connection got the demo role rule
}

// Demo is the demo organization's IdP and landing page.
type Demo struct {
	st       Store
	base     string
	secure   bool
	urls     URLs
	sp       jit.SPURLs
	idp      *saml.IdentityProvider
	sessions *jit.Sessions
	logger   *slog.Logger
	now      func() time.Time
	pages    *template.Template
	setup    Setup
}

//go:embed templates/*.html
var templateFiles embed.FS

// New makes the store hold the demo organization and connection (see the
// package doc) and returns the demo, ready to Register. It reads or creates
// the IdP key file. Running it again on the same store and key file changes
// nothing.
func New(ctx context.Context, cfg Config) (*Demo, error) {
	var problems []error
	if cfg.Store == nil {
		problems = append(problems, errors.New("demo: no store"))
	}
	if cfg.KeyFile == "" {
		problems = append(problems, errors.New("demo: no idp key file"))
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		problems = append(problems, fmt.Errorf("demo: base url %q: want http(s)://host[:port]", cfg.BaseURL))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sp, err := jit.NewSPURLs(base, OrgSlug, ConnectionSlug)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	pages, err := template.ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("demo: templates: %w", err)
	}
	secure := u.Scheme == "https"
	d := &Demo{
		st:     cfg.Store,
		base:   base,
		secure: secure,
		urls: URLs{
			Landing:     base + LandingPath,
			SignIn:      sp.Login + "?return_to=" + url.QueryEscape(LandingPath),
			IdPStart:    base + IdPStartPath,
			IdPMetadata: base + IdPMetadataPath,
			IdPSSO:      base + IdPSSOPath,
			SPMetadata:  sp.EntityID,
		},
		sp:       sp,
		sessions: jit.NewSessions(jit.SessionConfig{Store: cfg.Store, Now: cfg.Now, Secure: secure}),
		logger:   cfg.Logger,
		now:      cfg.Now,
		pages:    pages,
	}

	kp, created, err := loadOrCreateKeyPair(cfg.KeyFile, cfg.Now())
	if err != nil {
		return nil, err
	}
	d.setup.NewIdPKey = created
	if d.idp, err = d.newIdentityProvider(kp); err != nil {
		return nil, err
	}
	if err := d.ensureOrg(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// URLs returns the demo's URLs.
func (d *Demo) URLs() URLs { return d.urls }

// Setup says what New found and changed.
func (d *Demo) Setup() Setup { return d.setup }

// Register adds the landing page and the demo IdP to e.
func (d *Demo) Register(e *echo.Echo) {
	e.GET(LandingPath, d.landing)
	e.GET(IdPMetadataPath, echo.WrapHandler(http.HandlerFunc(d.idp.ServeMetadata)))
	e.GET(IdPSSOPath, echo.WrapHandler(http.HandlerFunc(d.idp.ServeSSO)))
	e.POST(IdPLoginPath, d.pick)
	e.GET(IdPStartPath, d.idpInitiated)
}

// idpMetadataXML is the demo IdP's metadata as the connection stores it:
// without validUntil and cacheDuration, so that it is the same on every
// start with the same key and base URL, and applying it changes nothing.
func (d *Demo) idpMetadataXML() (string, error) {
	md := d.idp.Metadata()
	md.ValidUntil = time.Time{}
	md.CacheDuration = 0
	out, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return "", fmt.Errorf("demo: idp metadata: %w", err)
	}
	return xml.Header + string(out) + "\n", nil
}

// ensureOrg applies the demo organization and connection, then gives the
// connection its SP key pair and the demo role rule if it has none.
func (d *Demo) ensureOrg(ctx context.Context) error {
	md, err := d.idpMetadataXML()
	if err != nil {
		return err
	}
	cfg := &apply.Config{Orgs: []apply.OrgConfig{{
		Slug:       OrgSlug,
		Name:       OrgName,
		Onboarding: store.Onboarding{JITEmailDomains: true, JITSSOConnections: true},
		Access:     store.AccessControl{EmailDomains: []string{EmailDomain}, SSOConnections: []string{ConnectionSlug}},
		Connections: []apply.ConnectionConfig{{
			Slug:              ConnectionSlug,
			Name:              ConnectionName,
			IdPMetadataXML:    md,
			JITProvisioning:   true,
			AllowIdPInitiated: true,
			MappingPreset:     attributes.PresetGeneric,
		}},
	}}}
	if d.setup.Applied, err = apply.Apply(ctx, d.st, cfg); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	org, err := d.st.GetOrgBySlug(ctx, OrgSlug)
	if err != nil {
		return fmt.Errorf("demo: read organization: %w", err)
	}
	conn, err := d.st.GetConnectionBySlug(ctx, org.ID, ConnectionSlug)
	if err != nil {
		return fmt.Errorf("demo: read connection: %w", err)
	}
	if conn.SPCertPEM == "" || conn.SPKeyPEM == "" {
		certPEM, keyPEM, err := jit.NewSPKeyPair(d.now())
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		// As jit does: a pair another process stored first is kept.
		_, err = d.st.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
			if c.SPCertPEM == "" || c.SPKeyPEM == "" {
				c.SPCertPEM, c.SPKeyPEM = certPEM, keyPEM
			}
			return nil
		}, store.AuditEvent{OrgID: org.ID, Actor: auditActor, Action: AuditSPKeyGenerated, ConnectionID: conn.ID})
		if err != nil {
			return fmt.Errorf("demo: store sp key pair: %w", err)
		}
		d.setup.NewSPKey = true
	}
	if len(conn.Mapping) == 0 {
		overrides, err := demoMapping()
		if err != nil {
			return err
		}
		_, err = d.st.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
			if len(c.Mapping) == 0 {
				c.Mapping = overrides
			}
			return nil
		}, store.AuditEvent{OrgID: org.ID, Actor: auditActor, Action: AuditMappingSet, ConnectionID: conn.ID,
			Detail: map[string]string{"fields": "roleRules"}})
		if err != nil {
			return fmt.Errorf("demo: store mapping: %w", err)
		}
		d.setup.MappingSet = true
	}
	return nil
}

// demoMapping is the demo connection's mapping overrides: on top of the
// generic preset, members of AdminGroup get role Admin.
func demoMapping() ([]byte, error) {
	m := attributes.Mapping{RoleRules: []attributes.RoleRule{{Group: AdminGroup, Role: attributes.RoleAdmin}}}
	b, err := m.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("demo: mapping: %w", err)
	}
	if _, err := attributes.Resolve(attributes.PresetGeneric, b); err != nil {
		return nil, fmt.Errorf("demo: mapping: %w", err)
	}
	return b, nil
}
