package jit

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/store"
)

// HandlerStore is the part of the store the SAML endpoints use.
type HandlerStore interface {
	ProvisionStore
	store.Connections
	store.Users
	store.Sessions
	store.Audit
}

// Audit actions of the endpoints (the Provisioner records the decisions).
const (
	AuditSAMLRejected   = "saml.rejected"
	AuditSPKeyGenerated = "connection.sp_key_generated"
	AuditSignedOut      = "user.signed_out"
)

// HandlerConfig configures the SAML endpoints.
type HandlerConfig struct {
	Store HandlerStore
	// BaseURL is onramp's public URL (--base-url).
	BaseURL string
	// RequestKey signs the AuthnRequest tracking cookie; at least 32 bytes,
	// the same on every replica.
	RequestKey []byte
	// ReturnToOrigins are the origins return_to may point at, besides
	// onramp's own paths.
	ReturnToOrigins []string
	Logger          *slog.Logger
	Now             func() time.Time
	// Verifier options; zero values take the defaults.
	ClockSkew          time.Duration
	MaxIssueInstantAge time.Duration
	MaxResponseSize    int
	SessionTTL         time.Duration
	SessionIdle        time.Duration
	// Metrics, if set, counts the ACS's decisions and rejections.
	Metrics Metrics
}

// Metrics counts what the ACS decides, for monitoring; *metrics.Metrics is
// one. Its arguments are stable codes: an Action and a Rule, a VerifyError
// Reason.
type Metrics interface {
	JITDecision(outcome, rule string)
	SAMLRejected(reason string)
	// Speculation counts a speculative sign-in (see Speculation) by its
	// outcome, one of the Speculation* constants.
	Speculation(outcome string)
}

// noMetrics counts nothing.
type noMetrics struct{}

func (noMetrics) JITDecision(string, string) {}
func (noMetrics) SAMLRejected(string)        {}
func (noMetrics) Speculation(string)         {}

// Handler serves the SAML endpoints of DESIGN's operator contract and the
// session API:
//
//	GET  /saml/:org/:connection/metadata  SP metadata (entity ID = this URL)
//	GET  /saml/:org/:connection/login     SP-initiated login (?return_to=)
//	POST /saml/:org/:connection/acs       assertion consumer (HTTP-POST)
//	GET  /api/v1/me                       the session's user as JSON (401 without)
//	POST /logout                          ends the session (?return_to=, then 303)
//
// A connection gets its SP key pair the first time one of its endpoints is
// used, if it has none yet. What the login and ACS endpoints parse from a
// connection (IdP metadata, SP key pair) is cached per connection and
// rebuilt when the stored connection changes (see configCache); the ACS
// also keeps the organization and connection it read per path, checked
// against the store at every sign-in (see targetCache).
type Handler struct {
	st          HandlerStore
	base        string
	secure      bool
	verifier    *Verifier
	tracker     *RequestTracker
	sessions    *Sessions
	provisioner *Provisioner
	returnTo    ReturnToPolicy
	logger      *slog.Logger
	now         func() time.Time
	page        *template.Template
	maxBody     int64
	configs     configCache
	targets     targetCache
	metrics     Metrics
	// verifying counts the responses being verified, for prefetchWorthIt;
	// consuming the sign-ins under way in consume (verification and
	// provisioning), for speculateWorthIt.
	verifying, consuming atomic.Int64
}

// NewHandler returns the SAML endpoints.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	var problems []error
	if cfg.Store == nil {
		problems = append(problems, errors.New("jit: handler: no store"))
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("jit: handler: base url %q is not an http(s) URL", cfg.BaseURL))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	tracker, err := NewRequestTracker(RequestTrackerConfig{Key: cfg.RequestKey, Now: cfg.Now})
	if err != nil {
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	verifier, err := NewVerifier(VerifierConfig{
		Logger:             cfg.Logger,
		Now:                cfg.Now,
		ClockSkew:          cfg.ClockSkew,
		MaxIssueInstantAge: cfg.MaxIssueInstantAge,
		MaxResponseSize:    cfg.MaxResponseSize,
	})
	if err != nil {
		return nil, err
	}
	secure := u.Scheme == "https"
	return &Handler{
		st:          cfg.Store,
		base:        strings.TrimSuffix(cfg.BaseURL, "/"),
		secure:      secure,
		verifier:    verifier,
		tracker:     tracker,
		sessions:    NewSessions(SessionConfig{Store: cfg.Store, Now: cfg.Now, TTL: cfg.SessionTTL, Idle: cfg.SessionIdle, Secure: secure}),
		provisioner: NewProvisioner(cfg.Store, cfg.Now, cfg.Logger),
		returnTo:    ReturnToPolicy{AllowedOrigins: cfg.ReturnToOrigins},
		logger:      cfg.Logger,
		now:         cfg.Now,
		page:        template.Must(template.New("page").Parse(pageTemplate)),
		// The form holds the SAMLResponse, URL-encoded ('+' and '/' triple
		// in size), and a RelayState of at most a few hundred bytes; anything
		// larger is refused before it is parsed.
		maxBody: 2*int64(verifier.maxSize) + 16<<10,
		metrics: cfg.Metrics,
	}, nil
}

// prefetchWorthIt says whether the account reads of a sign-in should start
// beside its signature check (see prefetched), busy being the number of
// responses being verified, this one included. The reads then cost no
// time, as long as a core would otherwise be idle: they take the sign-in's
// account reads off its critical path (measured with one browser: a
// returning person's sign-in 1.50 -> 1.46 times the bare validation, a new
// person's 1.57 -> 1.54). With every core verifying, they only compete with
// the verifications and cost a goroutine each (with 16 browsers: 1.32 ->
// 1.38, 1.40 -> 1.43), so the ACS prefetches while at most half the cores
// verify. The same holds for a speculation (see Speculation), which does the
// reads and the sign-in's write beside the check.
func prefetchWorthIt(busy int64) bool {
	return busy <= max(1, int64(runtime.GOMAXPROCS(0))/2)
}

// speculateWorthIt says whether a sign-in should be speculated on (see
// Speculation), inFlight being the number of sign-ins this process is
// carrying out, this one included: only when it is the only one. A held
// sign-in gives the store's writer back as soon as another write is queued,
// rolling itself back, and a second sign-in in flight queues one within
// the hold more often than not: measured with 16 browsers, three in four
// speculations were rolled back that way, each a write's statements spent
// for nothing on the one writer. The account reads alone (prefetched) are
// still made beside the check then.
func speculateWorthIt(inFlight int64) bool { return inFlight == 1 }

// ACSRoute is the ACS's echo route pattern. Its answer, a redirect with the
// new session's cookie, may go out before the sign-in's commit is fsynced
// (server.Config.AnswerBeforeDurable): it shows nothing else the sign-in
// wrote.
const ACSRoute = "/saml/:org/:connection/acs"

// Register adds the endpoints to e.
func (h *Handler) Register(e *echo.Echo) {
	e.GET("/saml/:org/:connection/metadata", h.metadata)
	e.GET("/saml/:org/:connection/login", h.login)
	e.POST(ACSRoute, h.acs)
	e.GET("/api/v1/me", h.me)
	e.POST("/logout", h.logout)
}

// page is what an error page shows.
type page struct {
	Status    int
	Title     string
	Message   string
	Reason    string
	RequestID string
}

const pageTemplate = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.5">
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p>Reason code: <code id="reason">{{.Reason}}</code>{{if .RequestID}}<br>Reference: <code>{{.RequestID}}</code>{{end}}</p>
</body></html>
`

func (h *Handler) render(c echo.Context, p page) error {
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	var b strings.Builder
	if err := h.page.Execute(&b, p); err != nil {
		return fmt.Errorf("jit: render page: %w", err)
	}
	noStore(c)
	return c.HTML(p.Status, b.String())
}

func noStore(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
}

// notFoundPage is the page for an unknown organization or connection.
func notFoundPage() page {
	return page{Status: http.StatusNotFound, Title: "Unknown sign-in link", Reason: "unknown_connection",
		Message: "This organization or SSO connection does not exist. Check the link, or ask your Admin for the right one."}
}

func internalPage() page {
	return page{Status: http.StatusInternalServerError, Title: "Sign-in failed", Reason: "internal_error",
		Message: "Something went wrong on our side. Try again; if it keeps failing, give your Admin the reference below."}
}

// target is a request's organization and connection.
type target struct {
	org  store.Org
	conn store.Connection
}

// resolveACS is resolve for the ACS, from the cache when it holds the path
// (cached reports that). Unknown paths are not cached: each is a fresh read
// and a 404.
func (h *Handler) resolveACS(c echo.Context) (t target, cached bool, p *page, err error) {
	org, conn := c.Param("org"), c.Param("connection")
	if t, ok := h.targets.get(org, conn); ok {
		return t, true, nil, nil
	}
	t, p, err = h.resolve(c)
	if err == nil && p == nil {
		h.targets.put(org, conn, t)
	}
	return t, false, p, err
}

// sameConfig reports whether a and b are the same organization and
// connection at the same state (see store.ConfigRead).
func sameConfig(a, b target) bool {
	return a.org.ID == b.org.ID && a.conn.ID == b.conn.ID &&
		a.org.UpdatedAt.Equal(b.org.UpdatedAt) && a.conn.UpdatedAt.Equal(b.conn.UpdatedAt)
}

// resolve looks up the organization and connection named in the URL (one
// read of the store), and gives the connection its SP key pair if it has
// none yet.
func (h *Handler) resolve(c echo.Context) (target, *page, error) {
	ctx := c.Request().Context()
	org, conn, err := h.st.GetConnectionByPath(ctx, c.Param("org"), c.Param("connection"))
	if errors.Is(err, store.ErrNotFound) {
		p := notFoundPage()
		return target{}, &p, nil
	}
	if err != nil {
		return target{}, nil, fmt.Errorf("jit: read organization and connection: %w", err)
	}
	if conn.SPCertPEM == "" || conn.SPKeyPEM == "" {
		if conn, err = h.ensureSPKeyPair(ctx, conn); err != nil {
			return target{}, nil, err
		}
	}
	return target{org: org, conn: conn}, nil, nil
}

// ensureSPKeyPair generates and stores a key pair for a connection that has
// none. Replicas racing here agree: the update keeps a pair another replica
// stored first.
func (h *Handler) ensureSPKeyPair(ctx context.Context, conn store.Connection) (store.Connection, error) {
	certPEM, keyPEM, err := NewSPKeyPair(h.now())
	if err != nil {
		return store.Connection{}, err
	}
	updated, err := h.st.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		if c.SPCertPEM == "" || c.SPKeyPEM == "" {
			c.SPCertPEM, c.SPKeyPEM = certPEM, keyPEM
		}
		return nil
	}, store.AuditEvent{OrgID: conn.OrgID, Actor: "system", Action: AuditSPKeyGenerated, ConnectionID: conn.ID})
	if err != nil {
		return store.Connection{}, fmt.Errorf("jit: store sp key pair: %w", err)
	}
	return updated, nil
}

func (h *Handler) fail(c echo.Context, err error) error {
	h.logger.ErrorContext(c.Request().Context(), "jit: request failed", "path", c.Path(), "err", err)
	return h.render(c, internalPage())
}

func (h *Handler) metadata(c echo.Context) error {
	t, p, err := h.resolve(c)
	if err != nil {
		return h.fail(c, err)
	}
	if p != nil {
		return h.render(c, *p)
	}
	md, err := ConnectionSPMetadata(h.base, t.org.Slug, t.conn, h.now())
	if err != nil {
		return h.fail(c, err)
	}
	return c.Blob(http.StatusOK, "application/samlmetadata+xml", md)
}

// config parses the connection for the login and ACS endpoints.
func (h *Handler) config(c echo.Context, t target) (ConnectionConfig, *page) {
	cfg, err := h.configs.get(h.base, t.org.Slug, t.conn)
	if err != nil {
		h.logger.WarnContext(c.Request().Context(), "jit: connection cannot sign in", "connection", t.conn.ID, "err", err)
		return ConnectionConfig{}, &page{Status: http.StatusInternalServerError, Title: "SSO is not set up yet", Reason: ReasonConnectionMisconfigured,
			Message: fmt.Sprintf("The %s connection of %s is missing its identity provider settings. Ask your Admin to import the identity provider's SAML metadata.", t.conn.Name, t.org.Name)}
	}
	return cfg, nil
}

func (h *Handler) login(c echo.Context) error {
	t, p, err := h.resolve(c)
	if err != nil {
		return h.fail(c, err)
	}
	if p != nil {
		return h.render(c, *p)
	}
	returnTo, err := h.returnTo.Validate(c.QueryParam("return_to"))
	if err != nil {
		return h.render(c, page{Status: http.StatusBadRequest, Title: "Invalid sign-in link", Reason: "bad_return_to",
			Message: "The page to return to after signing in is not allowed. Start again from the application."})
	}
	cfg, p := h.config(c, t)
	if p != nil {
		return h.render(c, *p)
	}
	if cfg.IdP.SSOURL == "" {
		return h.render(c, page{Status: http.StatusInternalServerError, Title: "Sign in from your identity provider", Reason: ReasonConnectionMisconfigured,
			Message: fmt.Sprintf("The identity provider of the %s connection publishes no sign-in URL, so sign-in can only start from its dashboard. Ask your Admin to import metadata with an HTTP-Redirect SingleSignOnService.", t.conn.Name)})
	}
	req, err := h.verifier.NewAuthnRequest(cfg, "")
	if err != nil {
		return h.fail(c, err)
	}
	if _, err := h.tracker.Track(c.Response(), c.Request(), cfg, req.ID, returnTo); err != nil {
		return h.fail(c, err)
	}
	noStore(c)
	return c.Redirect(http.StatusFound, req.URL)
}

func (h *Handler) acs(c echo.Context) error {
	t, cached, p, err := h.resolveACS(c)
	if err != nil {
		return h.fail(c, err)
	}
	if p != nil {
		return h.render(c, *p)
	}
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, h.maxBody)
	if err := parseForm(r); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return h.rejected(c, t, reject(ReasonTooLarge, err))
		}
		return h.rejected(c, t, reject(ReasonMalformed, err))
	}
	// The organization and connection may come from the cache: a sign-in
	// decided on them is written only if they are unchanged
	// (store.SignIn.Config), and any other answer decided on them is given
	// only once a fresh read shows them unchanged (see targetCache). Read
	// fresh, they are decided on as read, as any read-committed decision.
	answer, stale := h.consume(c, t, cached)
	if !stale {
		return answer()
	}
	fresh, p, err := h.resolve(c)
	if err != nil {
		return h.fail(c, err)
	}
	if p != nil {
		h.targets.drop(c.Param("org"), c.Param("connection")) // gone
		return h.render(c, *p)
	}
	h.targets.put(c.Param("org"), c.Param("connection"), fresh)
	if answer != nil && sameConfig(fresh, t) {
		return answer()
	}
	c.Response().Header().Del(echo.HeaderSetCookie) // the tracking cookie is written again
	answer, _ = h.consume(c, fresh, false)
	return answer()
}

// consume verifies the posted response and carries out the sign-in it
// asks for, as decided on t, and returns the answer to give. If t is
// cached, stale says that the answer must not be given as it is: it is an
// error page decided on t alone, or the store refused the sign-in because t
// is out of date (then answer is nil). A t read fresh is never stale.
// Nothing is written to the response before the answer is called, but for
// the tracking cookie.
func (h *Handler) consume(c echo.Context, t target, cached bool) (answer func() error, stale bool) {
	ctx := c.Request().Context()
	r := c.Request()
	cfg, p := h.config(c, t)
	if p != nil {
		return func() error { return h.render(c, *p) }, cached
	}

	// The session is stored in the sign-in's transaction, together with
	// the assertion ID (see Provisioner); its cookie is set only once that
	// committed. A replay fails there, as ReasonReplayed.
	sess, cookie, err := h.sessions.prepare(t.org.ID, "")
	if err != nil {
		return func() error { return h.fail(c, err) }, false
	}

	// While the response's signature is checked, a core that would be idle
	// carries out the sign-in it claims, held uncommitted for the verdict
	// (see Speculation), or, if another sign-in is under way or the store
	// holds no sign-ins, reads the account of the identity it claims (see
	// prefetched).
	var (
		pf   *prefetched
		spec *speculation
	)
	alone := speculateWorthIt(h.consuming.Add(1))
	defer h.consuming.Add(-1)
	defer func() {
		if spec != nil {
			spec.abandon() // unless provision gave the verdict
			h.metrics.Speculation(spec.outcome)
		}
	}()
	pending := h.tracker.PendingIDs(r, cfg)
	a, err := func() (Assertion, error) {
		busy := h.verifying.Add(1)
		defer h.verifying.Add(-1)
		return h.verifier.verify(cfg, r.PostForm.Get("SAMLResponse"), pending, true, func(claims shapeClaims) {
			switch {
			case !prefetchWorthIt(busy):
			case alone && h.provisioner.holds():
				spec = h.provisioner.speculate(ctx, t.org, t.conn, cached, &sess, claims, func() (Assertion, bool) {
					return h.verifier.claim(cfg, claims.Document, pending)
				})
			default:
				pf = h.provisioner.prefetch(ctx, t.conn, claims)
			}
		})
	}()
	if err != nil {
		spec.abandon()
	}
	var ve *VerifyError
	if errors.As(err, &ve) {
		return func() error { return h.rejected(c, t, ve) }, cached
	}
	if err != nil {
		return func() error { return h.fail(c, err) }, false
	}

	returnTo := "/"
	if a.InResponseTo != "" {
		for _, q := range h.tracker.Pending(r, cfg) {
			if q.ID == a.InResponseTo {
				returnTo = q.ReturnTo
			}
		}
		if err := h.tracker.Forget(c.Response(), r, cfg, a.InResponseTo); err != nil {
			return func() error { return h.fail(c, err) }, false
		}
	} else if rt, err := h.returnTo.Validate(r.PostForm.Get("RelayState")); err == nil {
		// IdP-initiated: the RelayState is the IdP's, validated like any
		// return_to (IdPs send a URL or nothing).
		returnTo = rt
	}

	out, err := h.provisioner.provision(ctx, t.org, t.conn, cached, a, &sess, pf, spec)
	var me *MappingError
	switch {
	case errors.Is(err, store.ErrConfigChanged):
		return nil, true
	case errors.As(err, &ve):
		return func() error { return h.rejected(c, t, ve) }, false
	case errors.As(err, &me):
		return func() error { return h.mappingFailed(c, t, me) }, false
	case err != nil:
		return func() error { return h.fail(c, err) }, false
	}
	return func() error {
		h.metrics.JITDecision(string(out.Decision.Action), out.Decision.Rule)
		if out.Decision.Action == ActionRefuse {
			return h.render(c, page{Status: http.StatusForbidden, Title: "You cannot sign in yet", Reason: out.Decision.Rule, Message: out.Decision.Hint})
		}
		if out.User.ID == "" {
			return h.fail(c, errors.New("jit: a sign-in returned no account"))
		}
		http.SetCookie(c.Response(), cookie)
		noStore(c)
		return c.Redirect(http.StatusSeeOther, returnTo)
	}, false
}

// rejected answers a response that failed verification: audit event, log
// line (reason and detail, never the response) and the error page.
func (h *Handler) rejected(c echo.Context, t target, ve *VerifyError) error {
	ctx := c.Request().Context()
	h.metrics.SAMLRejected(ve.Reason)
	h.logger.InfoContext(ctx, "jit: saml response rejected", "org", t.org.ID, "connection", t.conn.ID, "reason", ve.Reason, "err", ve.Err)
	ev := store.AuditEvent{OrgID: t.org.ID, Actor: "idp:" + t.conn.Slug, Action: AuditSAMLRejected, ConnectionID: t.conn.ID, Rule: ve.Reason,
		Detail: map[string]string{"reason": ve.Reason}}
	if err := h.st.RecordEvent(ctx, ev); err != nil {
		return h.fail(c, err)
	}
	msg := fmt.Sprintf("Your sign-in through %s could not be verified. Ask your Admin to check the SAML set-up of this connection, quoting the reason code and reference below.", t.conn.Name)
	switch ve.Reason {
	case ReasonInResponseToUnknown, ReasonExpired, ReasonReplayed, ReasonIssueInstantTooOld, ReasonIssuedBeforeRecovery:
		msg = "This sign-in has expired or was already used. Start again from the application's sign-in page."
	case ReasonIdPInitiatedNotAllowed:
		msg = fmt.Sprintf("%s does not accept sign-ins started from your identity provider's dashboard. Start from the application's sign-in page, or ask your Admin to allow IdP-initiated sign-in for %s.", t.org.Name, t.conn.Name)
	case ReasonStatusNotSuccess:
		msg = fmt.Sprintf("Your identity provider refused the sign-in. Ask your Admin to assign you to the %s app at the identity provider.", t.conn.Name)
	}
	return h.render(c, page{Status: ve.HTTPStatus(), Title: "Sign-in could not be verified", Reason: ve.Reason, Message: msg})
}

// mappingFailed answers a refusal for missing attributes, which the
// Provisioner has recorded.
func (h *Handler) mappingFailed(c echo.Context, t target, me *MappingError) error {
	ctx := c.Request().Context()
	h.metrics.JITDecision(string(ActionRefuse), RuleAttributeMissing)
	h.logger.InfoContext(ctx, "jit: assertion lacks mapped attributes", "org", t.org.ID, "connection", t.conn.ID, "fields", me.Fields, "err", me.Err)
	msg := fmt.Sprintf("Your identity provider did not send everything %s needs. Ask your Admin to check the attribute mapping of the %s connection", t.org.Name, t.conn.Name)
	if len(me.Fields) > 0 {
		msg += " (missing: " + strings.Join(me.Fields, ", ") + ")"
	}
	return h.render(c, page{Status: http.StatusBadRequest, Title: "Sign-in is missing information", Reason: RuleAttributeMissing, Message: msg + "."})
}

// meJSON is the body of GET /api/v1/me.
type meJSON struct {
	ID          store.UserID      `json:"id"`
	OrgID       store.OrgID       `json:"orgId"`
	UserName    string            `json:"userName"`
	DisplayName string            `json:"displayName,omitempty"`
	GivenName   string            `json:"givenName,omitempty"`
	FamilyName  string            `json:"familyName,omitempty"`
	Email       string            `json:"email,omitempty"`
	Role        string            `json:"role,omitempty"`
	Groups      []string          `json:"groups,omitempty"` // asserted by the latest SAML sign-in (GroupsField)
	Custom      map[string]string `json:"custom,omitempty"`
}

func (h *Handler) me(c echo.Context) error {
	ctx := c.Request().Context()
	noStore(c)
	unauthorized := func() error { return c.JSON(http.StatusUnauthorized, map[string]string{"error": "no session"}) }
	sess, err := h.sessions.Current(ctx, c.Request())
	if errors.Is(err, ErrNoSession) {
		return unauthorized()
	}
	if err != nil {
		return fmt.Errorf("jit: me: %w", err)
	}
	u, err := h.st.GetUser(ctx, sess.OrgID, sess.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !live(u)) {
		return unauthorized()
	}
	if err != nil {
		return fmt.Errorf("jit: me: %w", err)
	}
	p := profileOf(u)
	return c.JSON(http.StatusOK, meJSON{
		ID: u.ID, OrgID: u.OrgID, UserName: u.UserName, DisplayName: u.DisplayName, GivenName: u.GivenName,
		FamilyName: u.FamilyName, Email: u.PrimaryEmail(), Role: u.Role, Groups: p.Groups, Custom: p.Custom,
	})
}

// maxLogoutBody bounds the logout form (it holds at most return_to).
const maxLogoutBody = 16 << 10

// logout ends the request's session, if any: the session is deleted from
// the store (so it ends on every replica at once), its cookie is cleared and
// the browser is sent to return_to (a query or form value, validated like
// the login's; an invalid one is ignored) or "/".
// It is POST only: a GET that signs out could be triggered by any page or
// prefetch, and the SameSite=Lax session cookie is not sent on cross-site
// POSTs, so another site cannot sign a person out either. Ending a session
// that does not exist is not an error. The IdP's own session is left alone
// (no SAML single logout).
func (h *Handler) logout(c echo.Context) error {
	ctx := c.Request().Context()
	noStore(c)
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxLogoutBody)
	returnTo := "/"
	if rt, err := h.returnTo.Validate(c.FormValue("return_to")); err == nil {
		returnTo = rt
	}
	sess, curErr := h.sessions.Current(ctx, r)
	if curErr != nil && !errors.Is(curErr, ErrNoSession) {
		return h.fail(c, curErr)
	}
	if err := h.sessions.End(ctx, c.Response(), r); err != nil {
		return h.fail(c, err)
	}
	if curErr == nil {
		ev := store.AuditEvent{OrgID: sess.OrgID, Actor: "user:" + string(sess.UserID), Action: AuditSignedOut, UserID: sess.UserID}
		if err := h.st.RecordEvent(ctx, ev); err != nil {
			// The session is gone; a missing audit line is not worth an error page.
			h.logger.WarnContext(ctx, "jit: record sign-out", "user", sess.UserID, "err", err)
		}
	}
	return c.Redirect(http.StatusSeeOther, returnTo)
}
