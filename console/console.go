package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/store"
)

// Prefix is where the console is served (BASE/admin).
const Prefix = "/admin"

// maxForm bounds a form post; maxUpload one that carries IdP metadata or a
// pasted SAML response (1 MiB each, URL- or multipart-encoded).
const (
	maxForm   = 256 << 10
	maxUpload = 4 << 20
)

// errBadForm wraps a form body that cannot be read (400, unless it is too
// large: 413).
var errBadForm = errors.New("console: unreadable form")

// headerRequestID is the response header the server's request-ID middleware
// sets (package server); error pages quote it.
const headerRequestID = "X-Request-ID"

// contentSecurityPolicy allows the console's own assets only.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Store is what the console reads besides the admin service: the session's
// organization and user (for the page header and the redirect from /admin),
// and an organization's connections for the sign-in page.
type Store interface {
	GetOrg(ctx context.Context, id store.OrgID) (store.Org, error)
	GetOrgBySlug(ctx context.Context, slug string) (store.Org, error)
	ListConnections(ctx context.Context, org store.OrgID) ([]store.Connection, error)
	GetUser(ctx context.Context, org store.OrgID, id store.UserID) (store.User, error)
}

// Config configures a Console.
type Config struct {
	// Service is the admin service the pages call. Required.
	Service *admin.Service
	// Store is required.
	Store Store
	// Invitations, if set, adds Users → Invitations (invite by email with a
	// role, resend, revoke); *emaillogin.Service is one.
	Invitations Invitations
	// Logger receives the causes of internal errors; discarded if nil.
	Logger *slog.Logger
}

// Console serves the admin console's pages.
type Console struct {
	svc    *admin.Service
	st     Store
	inv    Invitations // nil: no invitations page
	logger *slog.Logger
	pages  map[string]*template.Template
	assets fs.FS
}

// New returns a Console.
func New(cfg Config) (*Console, error) {
	var problems []error
	if cfg.Service == nil {
		problems = append(problems, errors.New("console: Config.Service is required"))
	}
	if cfg.Store == nil {
		problems = append(problems, errors.New("console: Config.Store is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, fmt.Errorf("console: assets: %w", err)
	}
	return &Console{svc: cfg.Service, st: cfg.Store, inv: cfg.Invitations, logger: cfg.Logger, pages: pages, assets: assets}, nil
}

// parseTemplates parses every page with the layout and the shared parts.
func parseTemplates() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" || base == "parts.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs()).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", base, err)
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}

// Register adds the console's routes to e. Each is added on its own (no echo
// group with middleware, which would add catch-all routes).
func (cn *Console) Register(e *echo.Echo) {
	e.GET(Prefix, cn.home)
	e.GET(Prefix+"/", cn.home)
	e.GET(Prefix+"/sign-in", cn.signIn)
	e.GET(Prefix+"/assets/:file", cn.asset)
	for _, r := range cn.routes() {
		limit := int64(maxForm)
		if r.upload {
			limit = maxUpload
		}
		e.Add(r.method, Prefix+"/:org"+r.path, cn.org(limit, r.fn))
	}
}

// route is a page of an organization's console.
type route struct {
	method, path string
	fn           func(c echo.Context, p *req) error
	// upload: the form may carry IdP metadata or a pasted SAML response
	// (maxUpload rather than maxForm).
	upload bool
}

func (cn *Console) routes() []route {
	rs := []route{
		{http.MethodGet, "", cn.orgHome, false},
		{http.MethodGet, "/organization", cn.organization, false},
		{http.MethodPost, "/organization/onboarding", cn.postOnboarding, false},
		{http.MethodGet, "/sso", cn.ssoList, false},
		{http.MethodGet, "/sso/new", cn.newConnection, false},
		{http.MethodPost, "/sso", cn.createConnection, true},
		{http.MethodGet, "/sso/:conn", cn.connection, false},
		{http.MethodPost, "/sso/:conn/details", cn.postDetails, true},
		{http.MethodPost, "/sso/:conn/authentication", cn.postAuthentication, false},
		{http.MethodGet, "/sso/:conn/sp-certificates/:cert", cn.spCertificateFile, false},
		{http.MethodPost, "/sso/:conn/sp-certificates/rollover", cn.startSPRollover, false},
		{http.MethodPost, "/sso/:conn/sp-certificates/activate", cn.activateSPRollover, false},
		{http.MethodPost, "/sso/:conn/sp-certificates/finish", cn.finishSPRollover, false},
		{http.MethodGet, "/sso/:conn/delete", cn.confirmDelete, false},
		{http.MethodPost, "/sso/:conn/delete", cn.deleteConnection, false},
		{http.MethodGet, "/sso/:conn/mapping", cn.mapping, false},
		{http.MethodPost, "/sso/:conn/mapping", cn.postMapping, true},
		{http.MethodPost, "/sso/:conn/mapping/preset", cn.postPreset, false},
		{http.MethodPost, "/sso/:conn/mapping/json", cn.postMappingJSON, true},
		{http.MethodGet, "/sso/:conn/scim", cn.scim, false},
		{http.MethodPost, "/sso/:conn/scim/tokens", cn.createToken, false},
		{http.MethodPost, "/sso/:conn/scim/tokens/:token/revoke", cn.revokeToken, false},
		{http.MethodGet, "/users", cn.users, false},
		{http.MethodGet, "/users/:user", cn.user, false},
		{http.MethodGet, "/audit", cn.audit, false},
		{http.MethodPost, "/scim-holds/:hold/release", cn.releaseHold, false},
	}
	if cn.inv != nil {
		// echo prefers a static segment to a parameter whatever the order
		// of registration, so /users/invitations is never a user's page.
		rs = append(rs,
			route{http.MethodGet, "/users/invitations", cn.invitations, false},
			route{http.MethodPost, "/users/invitations", cn.invite, false},
			route{http.MethodPost, "/users/invitations/:invitation/resend", cn.resendInvitation, false},
			route{http.MethodPost, "/users/invitations/:invitation/revoke", cn.revokeInvitation, false},
		)
	}
	return rs
}

// req is an authorized console request: the Admin and what every page shows
// about them.
type req struct {
	actor admin.Actor
	// user is the signed-in Admin's name for the header.
	user string
	csrf string
}

// frame is what the layout shows around every page. Page data embeds it.
type frame struct {
	Title string
	// Nav is the active item of the Administration menu ("" for none and no
	// menu).
	Nav string
	Org store.Org
	// Me is the signed-in person's name.
	Me     string
	CSRF   string
	Notice string
	Error  string
	// SignOutTo is where signing out leads.
	SignOutTo string
	// Invites shows Users → Invitations in the menu.
	Invites bool
}

func (cn *Console) frame(p *req, title, nav string) frame {
	o := p.actor.Org()
	return frame{Title: title, Nav: nav, Org: o, Me: p.user, CSRF: p.csrf, SignOutTo: signInPath(o.Slug, ""), Invites: cn.inv != nil}
}

// orgPath is the path of an organization's console page.
func orgPath(org string, parts ...string) string {
	var b strings.Builder
	b.WriteString(Prefix + "/" + url.PathEscape(org))
	for _, p := range parts {
		b.WriteString("/" + url.PathEscape(p))
	}
	return b.String()
}

func signInPath(org, returnTo string) string {
	q := url.Values{}
	if org != "" {
		q.Set("org", org)
	}
	if returnTo != "" {
		q.Set("return_to", returnTo)
	}
	if len(q) == 0 {
		return Prefix + "/sign-in"
	}
	return Prefix + "/sign-in?" + q.Encode()
}

// org wraps an organization page: security headers, a bound on the form
// (limit bytes), authentication (a session only), authorization for the
// path's organization, the CSRF check of a POST, and the rendering of any
// error as a page.
func (cn *Console) org(limit int64, fn func(c echo.Context, p *req) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ctx := r.Context()
		headers(c)
		slug := c.Param("org")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		}
		prin, err := cn.svc.Authenticate(ctx, r)
		if err == nil && !prin.Session {
			err = admin.ErrUnauthenticated // the console is for browsers: a session only
		}
		if errors.Is(err, admin.ErrUnauthenticated) {
			if r.Method == http.MethodGet {
				return c.Redirect(http.StatusSeeOther, signInPath(slug, r.URL.RequestURI()))
			}
			return cn.signInPage(c, http.StatusUnauthorized, slug, "")
		}
		if err != nil {
			return cn.fail(c, err)
		}
		a, err := cn.svc.Authorize(ctx, prin, slug)
		if errors.Is(err, admin.ErrForbidden) {
			return cn.forbidden(c, prin)
		}
		if err != nil {
			return cn.fail(c, err)
		}
		if r.Method == http.MethodPost {
			// ParseMultipartForm hides ParseForm's errors (a body too large)
			// behind ErrNotMultipart, so the two are called apart.
			if err := r.ParseForm(); err != nil {
				return cn.fail(c, fmt.Errorf("%w: %w", errBadForm, err))
			}
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				if err := r.ParseMultipartForm(maxUpload); err != nil {
					return cn.fail(c, fmt.Errorf("%w: %w", errBadForm, err))
				}
			}
			if err := admin.CheckCSRF(r, r.PostFormValue(admin.CSRFField)); err != nil {
				return cn.fail(c, err)
			}
		}
		p := &req{actor: a, user: cn.userName(ctx, a.Org().ID, prin.Name), csrf: admin.CSRFToken(r)}
		if err := fn(c, p); err != nil {
			return cn.fail(c, err)
		}
		return nil
	}
}

// userName is the name the header shows for the audit actor "user:<id>".
func (cn *Console) userName(ctx context.Context, org store.OrgID, actor string) string {
	id, ok := strings.CutPrefix(actor, "user:")
	if !ok {
		return actor
	}
	u, err := cn.st.GetUser(ctx, org, store.UserID(id))
	if err != nil {
		cn.logger.DebugContext(ctx, "console: read signed-in user", "user", id, "err", err)
		return "you"
	}
	return displayName(u.DisplayName, u.UserName)
}

func displayName(display, userName string) string {
	if display != "" {
		return display
	}
	return userName
}

// headers sets what every console answer carries.
func headers(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// render writes page with data and status.
func (cn *Console) render(c echo.Context, status int, page string, data any) error {
	t, ok := cn.pages[page]
	if !ok {
		return fmt.Errorf("console: no page %q", page)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("console: render %s: %w", page, err)
	}
	headers(c)
	return c.HTMLBlob(status, b.Bytes())
}

// errorPage is the data of error.html.
type errorPage struct {
	frame
	Status    int
	Heading   string
	Message   string
	RequestID string
	// SignOut offers to sign out (a Member who may want another account).
	SignOut bool
}

// fail renders err as an error page and returns nil, so that echo's JSON
// error handler never sees it. A 5xx page names the request ID only; the
// cause goes to the log.
func (cn *Console) fail(c echo.Context, err error) error {
	ctx := c.Request().Context()
	id := c.Response().Header().Get(headerRequestID)
	p := errorPage{Status: http.StatusInternalServerError, RequestID: id, frame: frame{Title: "Something went wrong"},
		Heading: "Something went wrong", Message: "The console could not complete this request. Try again; if it keeps failing, give your operator the reference below."}
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, admin.ErrCSRF):
		p.Status, p.Title, p.Heading = http.StatusForbidden, "Form expired", "This form has expired"
		p.Message = "The form was not sent from this console page, or your session changed since the page was loaded. Go back, reload the page and try again. Nothing was changed."
	case errors.Is(err, store.ErrNotFound):
		p.Status, p.Title, p.Heading = http.StatusNotFound, "Not found", "Not found"
		p.Message = "There is no such page in your organization's console."
	case errors.As(err, &mbe):
		p.Status, p.Title, p.Heading = http.StatusRequestEntityTooLarge, "Too large", "What you sent is too large"
		p.Message = "The form is larger than the console accepts (1 MiB of IdP metadata or pasted SAML). Nothing was changed."
	case errors.Is(err, errBadForm):
		p.Status, p.Title, p.Heading = http.StatusBadRequest, "Unreadable form", "The form could not be read"
		p.Message = "Go back, reload the page and try again. Nothing was changed."
	default:
		cn.logger.ErrorContext(ctx, "console: request failed", "path", c.Path(), "err", err, "request_id", id)
	}
	if p.Status < http.StatusInternalServerError {
		p.RequestID = ""
		cn.logger.DebugContext(ctx, "console: request refused", "path", c.Path(), "status", p.Status, "err", err)
	}
	if c.Response().Committed {
		return nil
	}
	if rerr := cn.render(c, p.Status, "error", p); rerr != nil {
		cn.logger.ErrorContext(ctx, "console: render error page", "err", rerr)
		return c.String(p.Status, http.StatusText(p.Status))
	}
	return nil
}

// forbidden is the page for someone signed in who is not an Admin.
func (cn *Console) forbidden(c echo.Context, prin admin.Principal) error {
	ctx := c.Request().Context()
	o, err := cn.st.GetOrg(ctx, prin.OrgID)
	if err != nil {
		return cn.fail(c, err)
	}
	p := errorPage{
		frame:   frame{Title: "Admins only", Org: o, Me: cn.userName(ctx, o.ID, prin.Name), SignOutTo: signInPath(o.Slug, "")},
		Status:  http.StatusForbidden,
		Heading: "Only Admins can use the admin console",
		Message: fmt.Sprintf("You are signed in to %s, but your role is not Admin. Ask one of %s's Admins to give you the Admin role (at your identity provider, through the group that the attribute mapping makes Admin), then sign in again.", o.Name, o.Name),
		SignOut: true,
	}
	return cn.render(c, http.StatusForbidden, "error", p)
}

// home sends a signed-in person to their organization's console, anyone else
// to the sign-in page.
func (cn *Console) home(c echo.Context) error {
	ctx := c.Request().Context()
	headers(c)
	prin, err := cn.svc.Authenticate(ctx, c.Request())
	if errors.Is(err, admin.ErrUnauthenticated) || (err == nil && !prin.Session) {
		return c.Redirect(http.StatusSeeOther, signInPath("", ""))
	}
	if err != nil {
		return cn.fail(c, err)
	}
	o, err := cn.st.GetOrg(ctx, prin.OrgID)
	if err != nil {
		return cn.fail(c, err)
	}
	return c.Redirect(http.StatusSeeOther, orgPath(o.Slug, "organization"))
}

func (cn *Console) orgHome(c echo.Context, p *req) error {
	return c.Redirect(http.StatusSeeOther, orgPath(p.actor.Org().Slug, "organization"))
}

// asset serves the embedded stylesheet and script.
func (cn *Console) asset(c echo.Context) error {
	name := c.Param("file")
	data, err := fs.ReadFile(cn.assets, name)
	if err != nil || strings.Contains(name, "/") {
		return c.NoContent(http.StatusNotFound)
	}
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, ct, data)
}

// notice is the confirmation a page shows after a redirect (?done=key): one
// of these fixed texts, never text from the URL.
func notice(c echo.Context) string {
	switch c.QueryParam("done") {
	case "onboarding":
		return "User onboarding saved."
	case "authentication":
		return "Authentication settings saved."
	case "details":
		return "Connection saved."
	case "created":
		return "Connection created. Give the identity provider the service provider details below, then import its metadata."
	case "deleted":
		return "Connection deleted."
	case "mapping":
		return "Attribute mapping saved."
	case "preset":
		return "Preset applied."
	case "revoked":
		return "Token revoked. The identity provider can no longer push with it."
	case "invited":
		return "Invitation sent."
	case "resent":
		return "Invitation sent again, with a new link; the previous link no longer works."
	case "invitation-revoked":
		return "Invitation revoked. Its link no longer works."
	case "sp-rollover-started":
		return "SP certificate rollover started: the new certificate is published beside the active one. Give it to the identity provider, then activate it."
	case "sp-certificate-activated":
		return "New SP certificate activated: onramp signs with it now. Once the identity provider no longer uses the old one, finish the rollover."
	case "sp-rollover-finished":
		return "SP certificate rollover finished: the old certificate is removed."
	case "sp-rollover-cancelled":
		return "SP certificate rollover cancelled: the new certificate is removed; the active one is unchanged."
	case "released":
		return "Hold released. The token's deactivations and deletions go through again as the identity provider retries them."
	}
	return ""
}

// seeOther redirects to path with a confirmation (see notice) and fragment.
func seeOther(c echo.Context, path, done, fragment string) error {
	u := path
	if done != "" {
		u += "?done=" + url.QueryEscape(done)
	}
	if fragment != "" {
		u += "#" + fragment
	}
	return c.Redirect(http.StatusSeeOther, u)
}

// validation returns err's field errors if it is an *admin.ValidationError.
func validation(err error) (map[string]string, bool) {
	var ve *admin.ValidationError
	if errors.As(err, &ve) {
		return ve.Fields, true
	}
	return nil, false
}
