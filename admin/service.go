package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// Config configures a Service.
type Config struct {
	// Store is required.
	Store store.AdminStore
	// BaseURL is onramp's public URL (--base-url), for the SAML and SCIM URLs
	// the API reports. Required.
	BaseURL string
	// Logger receives the causes of internal errors; discarded if nil.
	Logger *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// SessionTTL and SessionIdle must match the SAML handler's (jit) session
	// settings; zero values take jit's defaults, as the handler does.
	SessionTTL  time.Duration
	SessionIdle time.Duration
}

// Service is the admin API without HTTP: every operation an organization's
// Admin can perform, as Go methods that the JSON API (API) and server-rendered
// console pages both call. Methods take an Actor, which only Authorize makes,
// so an operation cannot run for someone who was not checked to be an Admin
// of the organization. Every change is one store write carrying the audit event
// that names the actor; input is validated completely before it, so a refused
// request changes nothing. Invalid input is a *ValidationError.
type Service struct {
	st          store.AdminStore
	base        string
	sessions    *jit.Sessions
	provisioner *jit.Provisioner
	logger      *slog.Logger
	now         func() time.Time
}

// NewService returns a Service.
func NewService(cfg Config) (*Service, error) {
	var problems []error
	if cfg.Store == nil {
		problems = append(problems, errors.New("admin: Config.Store is required"))
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("admin: base url %q is not an http(s) URL", cfg.BaseURL))
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
	return &Service{
		st:   cfg.Store,
		base: strings.TrimSuffix(cfg.BaseURL, "/"),
		sessions: jit.NewSessions(jit.SessionConfig{
			Store: cfg.Store, Now: cfg.Now, TTL: cfg.SessionTTL, Idle: cfg.SessionIdle, Secure: u.Scheme == "https",
		}),
		provisioner: jit.NewProvisioner(cfg.Store, cfg.Now, cfg.Logger),
		logger:      cfg.Logger,
		now:         cfg.Now,
	}, nil
}

// Actor is someone authorized to administer one organization: an admin API
// token of the organization, or a browser session of one of its Admins. Only
// Service.Authorize makes one.
type Actor struct {
	org     store.Org
	name    string
	session bool
}

// Org returns the organization the actor administers, as read when the actor
// was authorized.
func (a Actor) Org() store.Org { return a.org }

// Name is the actor as the audit log names it: "token:<id>" or "user:<id>".
func (a Actor) Name() string { return a.name }

// Session reports whether the actor was authenticated by a session cookie
// (then unsafe requests need the CSRF token).
func (a Actor) Session() bool { return a.session }

// event returns an audit event by the actor.
func (a Actor) event(action string, detail map[string]string) store.AuditEvent {
	return store.AuditEvent{OrgID: a.org.ID, Actor: a.name, Action: action, Detail: detail}
}

// Audit actions the service records (besides the store's defaults).
const (
	AuditOnboardingUpdated    = "org.onboarding_updated"
	AuditAccessControlUpdated = "org.access_control_updated"
	AuditConnectionCreated    = "connection.created"
	AuditConnectionUpdated    = "connection.updated"
	AuditConnectionDeleted    = "connection.deleted"
	AuditAuthenticationSet    = "connection.authentication_updated"
	AuditMappingUpdated       = "connection.mapping_updated"
	AuditTokenCreated         = "token.created"
	AuditTokenRevoked         = "token.revoked"
)

// errUnchanged aborts an update whose closure finds nothing to change: nothing
// is written and no event recorded, and the caller answers with the current
// state.
var errUnchanged = errors.New("admin: unchanged")

// version is the opaque version (ETag value) of a resource last changed at t.
func version(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 36) }

// checkVersion is the If-Match precondition: "" matches anything.
func checkVersion(want string, updated time.Time) error {
	if want != "" && want != version(updated) {
		return fmt.Errorf("admin: version %s is not the current %s: %w", want, version(updated), store.ErrVersionMismatch)
	}
	return nil
}

// org re-reads the actor's organization.
func (s *Service) org(ctx context.Context, a Actor) (store.Org, error) {
	o, err := s.st.GetOrg(ctx, a.org.ID)
	if err != nil {
		return store.Org{}, fmt.Errorf("admin: read organization: %w", err)
	}
	return o, nil
}
