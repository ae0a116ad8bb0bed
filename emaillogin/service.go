package emaillogin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/mail"
	"github.com/onramp-dev/onramp/store"
)

// Store is the part of the store the email sign-in uses.
type Store interface {
	store.Orgs
	store.Connections
	store.Users
	store.Sessions
	store.Audit
	store.DomainRoutes
	store.LoginLinks
	store.Invitations
	store.RateLimits
}

// AdminAuth authenticates and authorizes the callers of the invitation and
// domain-route API; *admin.Service is one, so that these endpoints accept
// exactly what the rest of the admin API accepts (an admin API token, or the
// session of an Admin with its CSRF token).
type AdminAuth interface {
	Authenticate(ctx context.Context, r *http.Request) (admin.Principal, error)
	Authorize(ctx context.Context, p admin.Principal, orgSlug string) (admin.Actor, error)
}

// Defaults.
const (
	DefaultLinkTTL       = 15 * time.Minute
	DefaultInvitationTTL = 7 * 24 * time.Hour
	DefaultProductName   = "onramp"
)

// Limits bounds what one address and one client may ask for within Window.
// Zero fields take the defaults in DefaultLimits.
type Limits struct {
	Window time.Duration
	// PerAddress and PerClient cap sign-in emails per address and per client
	// IP, and, separately, code entries.
	PerAddress int
	PerClient  int
	// CodeAttempts is how many wrong codes spend the codes of an address's
	// live links.
	CodeAttempts int
}

// DefaultLimits are the limits used for zero Limits fields.
func DefaultLimits() Limits {
	return Limits{Window: 15 * time.Minute, PerAddress: 5, PerClient: 30, CodeAttempts: 5}
}

// MinCodeKeyLen is the shortest CodeKey accepted, in bytes.
const MinCodeKeyLen = 32

// Config configures a Service.
type Config struct {
	Store Store
	// Mailer sends the links; mail.NewLog(logger) without an SMTP server.
	Mailer mail.Sender
	// BaseURL is onramp's public URL (--base-url).
	BaseURL string
	// CodeKey keys the hashes of sign-in codes; at least 32 bytes, the same
	// on every replica (a code entered on another replica fails otherwise).
	CodeKey []byte
	// ReturnToOrigins are the origins return_to may point at, besides
	// onramp's own paths (as jit.HandlerConfig's).
	ReturnToOrigins []string
	// Admin authorizes the invitation and domain-route API; without it those
	// endpoints are not registered.
	Admin  AdminAuth
	Logger *slog.Logger
	Now    func() time.Time
	// LinkTTL (default 15 minutes) and InvitationTTL (7 days).
	LinkTTL       time.Duration
	InvitationTTL time.Duration
	Limits        Limits
	// ClientIP returns the client address that per-client limits count. The
	// default is the TCP peer; behind a proxy, pass one that reads the
	// proxy's header (for example echo.ExtractIPFromXFFHeader with the
	// proxy's ranges).
	ClientIP func(r *http.Request) string
	// SessionTTL and SessionIdle must match the SAML handler's; zero values
	// take jit's defaults, as it does.
	SessionTTL  time.Duration
	SessionIdle time.Duration
	// ProductName names the application in emails about no organization in
	// particular; default "onramp".
	ProductName string
}

// Service is the email sign-in: its pages, the invitation and domain-route
// API, and the operations behind them.
type Service struct {
	st       Store
	mailer   mail.Sender
	base     string
	secure   bool
	codeKey  []byte
	returnTo jit.ReturnToPolicy
	admin    AdminAuth
	sessions *jit.Sessions
	logger   *slog.Logger
	now      func() time.Time
	linkTTL  time.Duration
	invTTL   time.Duration
	limits   Limits
	clientIP func(r *http.Request) string
	product  string
	pages    *template.Template
}

// New checks cfg and returns a Service, reporting every problem at once.
func New(cfg Config) (*Service, error) {
	var problems []error
	if cfg.Store == nil {
		problems = append(problems, errors.New("emaillogin: no store"))
	}
	if cfg.Mailer == nil {
		problems = append(problems, errors.New("emaillogin: no mailer (use mail.NewLog without SMTP)"))
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("emaillogin: base url %q is not an http(s) URL", cfg.BaseURL))
	}
	if len(cfg.CodeKey) < MinCodeKeyLen {
		problems = append(problems, fmt.Errorf("emaillogin: code key is %d bytes, want at least %d", len(cfg.CodeKey), MinCodeKeyLen))
	}
	if cfg.LinkTTL < 0 || cfg.InvitationTTL < 0 || cfg.Limits.Window < 0 || cfg.Limits.PerAddress < 0 ||
		cfg.Limits.PerClient < 0 || cfg.Limits.CodeAttempts < 0 {
		problems = append(problems, errors.New("emaillogin: negative lifetime or limit"))
	}
	pages, err := parsePages()
	if err != nil {
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	s := &Service{
		st:       cfg.Store,
		mailer:   cfg.Mailer,
		base:     strings.TrimSuffix(cfg.BaseURL, "/"),
		secure:   u.Scheme == "https",
		codeKey:  append([]byte(nil), cfg.CodeKey...),
		returnTo: jit.ReturnToPolicy{AllowedOrigins: cfg.ReturnToOrigins},
		admin:    cfg.Admin,
		logger:   cfg.Logger,
		now:      cfg.Now,
		linkTTL:  cfg.LinkTTL,
		invTTL:   cfg.InvitationTTL,
		limits:   cfg.Limits,
		clientIP: cfg.ClientIP,
		product:  cfg.ProductName,
		pages:    pages,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.linkTTL == 0 {
		s.linkTTL = DefaultLinkTTL
	}
	if s.invTTL == 0 {
		s.invTTL = DefaultInvitationTTL
	}
	def := DefaultLimits()
	if s.limits.Window == 0 {
		s.limits.Window = def.Window
	}
	if s.limits.PerAddress == 0 {
		s.limits.PerAddress = def.PerAddress
	}
	if s.limits.PerClient == 0 {
		s.limits.PerClient = def.PerClient
	}
	if s.limits.CodeAttempts == 0 {
		s.limits.CodeAttempts = def.CodeAttempts
	}
	if s.clientIP == nil {
		s.clientIP = peerIP
	}
	if s.product == "" {
		s.product = DefaultProductName
	}
	s.sessions = jit.NewSessions(jit.SessionConfig{Store: cfg.Store, Now: s.now, TTL: cfg.SessionTTL, Idle: cfg.SessionIdle, Secure: s.secure})
	return s, nil
}

// Routes of the sign-in pages.
const (
	PathLogin            = "/login"
	PathLoginCode        = "/login/code"
	PathLoginLink        = "/login/link"
	PathInvitationAccept = "/invitations/accept"
)

// Register adds the endpoints to e:
//
//	GET  /login               the sign-in page (?return_to=, ?org=SLUG)
//	POST /login               email → SSO (home-realm discovery) or a link and code by email
//	POST /login/code          the emailed code, instead of the link
//	GET  /login/link          ?token= → a page that posts it (opening a link changes nothing)
//	POST /login/link          verifies the address, decides, signs in (or lets the person choose)
//	GET  /invitations/accept  ?token= → the invitation, with an accept button
//	POST /invitations/accept  creates the account and signs in
//
// and, with Config.Admin, under /api/v1/orgs/:org:
//
//	GET    /invitations             list
//	POST   /invitations             invite {"email", "role"}
//	GET    /invitations/:id         one
//	POST   /invitations/:id/resend  a new accept link, emailed
//	DELETE /invitations/:id         revoke
//	GET    /domain-routes           list
//	PUT    /domain-routes/:domain   {"connection": SLUG}
//	DELETE /domain-routes/:domain
func (s *Service) Register(e *echo.Echo) {
	e.GET(PathLogin, s.loginPage)
	e.POST(PathLogin, s.loginSubmit)
	e.POST(PathLoginCode, s.codeSubmit)
	e.GET(PathLoginLink, s.linkPage)
	e.POST(PathLoginLink, s.linkSubmit)
	e.GET(PathInvitationAccept, s.invitationPage)
	e.POST(PathInvitationAccept, s.invitationSubmit)
	if s.admin != nil {
		s.registerAPI(e)
	}
}

// Sweep deletes the login links and rate-limit windows that can no longer
// matter and returns how many. Every replica may run it; the deletes are
// idempotent.
func (s *Service) Sweep(ctx context.Context) (links, limits int, err error) {
	now := s.now()
	links, err1 := s.st.PurgeLoginLinks(ctx, now)
	limits, err2 := s.st.PurgeRateLimits(ctx, now)
	return links, limits, errors.Join(err1, err2)
}

// RunSweeper sweeps every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			links, limits, err := s.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				s.logger.WarnContext(ctx, "emaillogin: sweep", "err", err)
				continue
			}
			s.logger.DebugContext(ctx, "emaillogin: swept", "login_links", links, "rate_limits", limits)
		}
	}
}

// Secrets. A link's secret is 32 random bytes in unpadded base64url; the
// store keeps their SHA-256 (nothing to brute-force at 256 bits). A code is
// six random digits; the store keeps an HMAC-SHA256 of the address and the
// code keyed with CodeKey, so that the database alone does not give the code
// away by trying all million.

// newSecret returns a new secret's text and hash.
func newSecret() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("emaillogin: random secret: %w", err)
	}
	h := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]), h[:], nil
}

// secretHash returns the hash of a secret's text, or nil if it is not one.
func secretHash(text string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil || len(b) != 32 {
		return nil
	}
	h := sha256.Sum256(b)
	return h[:]
}

// codeDigits is the length of a sign-in code.
const codeDigits = 6

func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("emaillogin: random code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// normalizeCode keeps the digits of what was typed ("123 456", "123-456").
func normalizeCode(typed string) string {
	var b strings.Builder
	for _, r := range typed {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (s *Service) codeHash(email, code string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	m.Write([]byte("onramp login code v1\x00"))
	m.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// Rate limits.

// limited is a refusal by a rate limit.
type limited struct{ retryAfter time.Duration }

// allow counts one event in each of the buckets and returns a *limited if any
// is over its limit. Addresses are hashed into bucket names, so that the
// table holds no addresses.
func (s *Service) allow(ctx context.Context, kind, email, client string) (*limited, error) {
	now := s.now()
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	buckets := []struct {
		name  string
		limit int
	}{
		{kind + ":addr:" + hex.EncodeToString(sum[:16]), s.limits.PerAddress},
		{kind + ":client:" + client, s.limits.PerClient},
	}
	var worst *limited
	for _, b := range buckets {
		rc, err := s.st.CountRate(ctx, b.name, s.limits.Window, now)
		if err != nil {
			return nil, fmt.Errorf("emaillogin: rate limit: %w", err)
		}
		if rc.Count > b.limit {
			wait := rc.ResetAt.Sub(now)
			if worst == nil || wait > worst.retryAfter {
				worst = &limited{retryAfter: wait}
			}
		}
	}
	return worst, nil
}

// peerIP is the TCP peer's address.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
