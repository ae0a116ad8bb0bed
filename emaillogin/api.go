package emaillogin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/store"
)

// apiPrefix is the admin API's prefix (package admin serves the rest of it).
const apiPrefix = admin.Prefix + "/orgs/:org"

// maxAPIBody bounds the JSON bodies.
const maxAPIBody = 16 << 10

func (s *Service) registerAPI(e *echo.Echo) {
	for _, r := range []struct {
		method, path string
		fn           func(c echo.Context, a admin.Actor) error
	}{
		{http.MethodGet, "/invitations", s.apiListInvitations},
		{http.MethodPost, "/invitations", s.apiInvite},
		{http.MethodGet, "/invitations/:invitation", s.apiGetInvitation},
		{http.MethodPost, "/invitations/:invitation/resend", s.apiResend},
		{http.MethodDelete, "/invitations/:invitation", s.apiRevoke},
		{http.MethodGet, "/domain-routes", s.apiListRoutes},
		{http.MethodPut, "/domain-routes/:domain", s.apiSetRoute},
		{http.MethodDelete, "/domain-routes/:domain", s.apiDeleteRoute},
	} {
		e.Add(r.method, apiPrefix+r.path, s.authorized(r.fn))
	}
}

// authorized wraps an operation with the admin API's authentication,
// authorization and CSRF check (package admin), and renders its errors.
func (s *Service) authorized(fn func(c echo.Context, a admin.Actor) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ctx := r.Context()
		c.Response().Header().Set("Cache-Control", "no-store")
		p, err := s.admin.Authenticate(ctx, r)
		if err != nil {
			return s.apiError(c, err)
		}
		a, err := s.admin.Authorize(ctx, p, c.Param("org"))
		if err != nil {
			return s.apiError(c, err)
		}
		if a.Session() && r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := admin.CheckCSRF(r, r.Header.Get(admin.CSRFHeader)); err != nil {
				return s.apiError(c, err)
			}
		}
		if err := fn(c, a); err != nil {
			return s.apiError(c, err)
		}
		return nil
	}
}

// errorJSON is the body of every error answer, as the rest of the admin API's.
type errorJSON struct {
	Error      string            `json:"error"`
	Fields     map[string]string `json:"fields,omitempty"`
	RequestID  string            `json:"request_id"`
	Invitation *Invitation       `json:"invitation,omitempty"`
}

// notSentError carries the invitation whose email could not be sent.
type notSentError struct {
	inv Invitation
	err error
}

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// errUnsupportedMediaType: a body that is not JSON.
var errUnsupportedMediaType = errors.New("emaillogin: the body must be application/json")

// errBadBody: a body that is not the expected JSON document.
var errBadBody = errors.New("emaillogin: the body is not a valid JSON document of the expected shape")

// apiStatus maps an error to the status and message of its answer. It is the
// only place that looks at the sentinels for the API.
func apiStatus(err error) (int, string) {
	var in *InputError
	switch {
	case errors.As(err, &in):
		return http.StatusBadRequest, "invalid input"
	case errors.Is(err, errBadBody):
		return http.StatusBadRequest, errBadBody.Error()
	case errors.Is(err, errUnsupportedMediaType):
		return http.StatusUnsupportedMediaType, errUnsupportedMediaType.Error()
	case errors.Is(err, admin.ErrUnauthenticated):
		return http.StatusUnauthorized, "authentication required"
	case errors.Is(err, admin.ErrCSRF):
		return http.StatusForbidden, "missing or wrong CSRF token"
	case errors.Is(err, admin.ErrForbidden):
		return http.StatusForbidden, "forbidden: the Admin role is required"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, ErrDomainNotAllowed), errors.Is(err, ErrHasAccount), errors.Is(err, ErrAlreadyInvited),
		errors.Is(err, ErrNotPending), errors.Is(err, ErrDomainRouted):
		// These messages are written for the Admin and hold no internals.
		code := http.StatusConflict
		if errors.Is(err, ErrDomainNotAllowed) {
			code = http.StatusUnprocessableEntity
		}
		return code, publicMessage(err)
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, ErrNotSent):
		return http.StatusBadGateway, "saved, but the email could not be sent; try resending"
	}
	return http.StatusInternalServerError, ""
}

// publicMessage strips the package prefix from an error written for the
// Admin.
func publicMessage(err error) string {
	const prefix = "emaillogin: "
	msg := err.Error()
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return msg
}

func (s *Service) apiError(c echo.Context, err error) error {
	ctx := c.Request().Context()
	id := c.Response().Header().Get(echo.HeaderXRequestID)
	code, msg := apiStatus(err)
	body := errorJSON{Error: msg, RequestID: id}
	if code >= http.StatusInternalServerError && code != http.StatusBadGateway {
		s.logger.ErrorContext(ctx, "emaillogin: api request failed", "path", c.Path(), "err", err)
		body.Error = "internal error, reference " + id
	}
	var in *InputError
	if errors.As(err, &in) {
		body.Fields = map[string]string{in.Field: in.Message}
	}
	var ns *notSentError
	if errors.As(err, &ns) {
		body.Invitation = &ns.inv
	}
	return c.JSON(code, body)
}

// decode reads a JSON body into v, strictly.
func decode(c echo.Context, v any) error {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errUnsupportedMediaType
	}
	d := json.NewDecoder(io.LimitReader(r.Body, maxAPIBody))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", errBadBody, err)
	}
	return nil
}

func (s *Service) apiListInvitations(c echo.Context, a admin.Actor) error {
	list, err := s.Invitations(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"invitations": list})
}

type inviteJSON struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

func (s *Service) apiInvite(c echo.Context, a admin.Actor) error {
	var in inviteJSON
	if err := decode(c, &in); err != nil {
		return err
	}
	inv, err := s.Invite(c.Request().Context(), a, in.Email, in.Role)
	if errors.Is(err, ErrNotSent) {
		return &notSentError{inv: inv, err: err}
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", c.Request().URL.Path+"/"+string(inv.ID))
	return c.JSON(http.StatusCreated, inv)
}

func (s *Service) apiGetInvitation(c echo.Context, a admin.Actor) error {
	inv, err := s.GetInvitation(c.Request().Context(), a, store.InvitationID(c.Param("invitation")))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inv)
}

func (s *Service) apiResend(c echo.Context, a admin.Actor) error {
	inv, err := s.Resend(c.Request().Context(), a, store.InvitationID(c.Param("invitation")))
	if errors.Is(err, ErrNotSent) {
		return &notSentError{inv: inv, err: err}
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inv)
}

func (s *Service) apiRevoke(c echo.Context, a admin.Actor) error {
	if err := s.Revoke(c.Request().Context(), a, store.InvitationID(c.Param("invitation"))); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// DomainRoute is a home-realm discovery route as the API shows it.
type DomainRoute struct {
	Domain     string    `json:"domain"`
	Connection string    `json:"connection"` // slug
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// DomainRoutes lists the organization's routes.
func (s *Service) DomainRoutes(ctx context.Context, a admin.Actor) ([]DomainRoute, error) {
	routes, err := s.st.ListDomainRoutes(ctx, a.Org().ID)
	if err != nil {
		return nil, fmt.Errorf("emaillogin: list domain routes: %w", err)
	}
	conns, err := s.st.ListConnections(ctx, a.Org().ID)
	if err != nil {
		return nil, fmt.Errorf("emaillogin: list connections: %w", err)
	}
	out := make([]DomainRoute, 0, len(routes))
	for _, r := range routes {
		i := slices.IndexFunc(conns, func(c store.Connection) bool { return c.ID == r.ConnectionID })
		if i < 0 {
			continue
		}
		out = append(out, DomainRoute{Domain: r.Domain, Connection: conns[i].Slug, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt})
	}
	return out, nil
}

// SetDomainRoute routes the sign-ins of an email domain to one of the
// organization's SSO connections. The domain must be one of the
// organization's allowed email domains; a domain routes to one connection
// of one organization only (ErrConflict). onramp does not check ownership of
// the domain (no DNS challenge): whoever may edit the organization's allowed
// domains may route them.
func (s *Service) SetDomainRoute(ctx context.Context, a admin.Actor, domain, connSlug string) (DomainRoute, error) {
	org := a.Org()
	_, d, err := parseEmail("x@" + domain)
	if err != nil {
		return DomainRoute{}, &InputError{Field: "domain", Message: "not a domain name"}
	}
	if !slices.Contains(org.Access.EmailDomains, d) {
		return DomainRoute{}, fmt.Errorf("%w: %s is not in the organization's allowed email domains (accessControl.emailDomains); add it first", ErrDomainNotAllowed, d)
	}
	if connSlug == "" {
		return DomainRoute{}, &InputError{Field: "connection", Message: "required"}
	}
	conn, err := s.st.GetConnectionBySlug(ctx, org.ID, connSlug)
	if errors.Is(err, store.ErrNotFound) {
		return DomainRoute{}, &InputError{Field: "connection", Message: fmt.Sprintf("the organization has no connection %q", connSlug)}
	}
	if err != nil {
		return DomainRoute{}, fmt.Errorf("emaillogin: read connection: %w", err)
	}
	r, err := s.st.SetDomainRoute(ctx, store.DomainRoute{Domain: d, OrgID: org.ID, ConnectionID: conn.ID}, store.AuditEvent{Actor: a.Name()})
	if errors.Is(err, store.ErrConflict) {
		return DomainRoute{}, fmt.Errorf("%w: %s", ErrDomainRouted, d)
	}
	if err != nil {
		return DomainRoute{}, fmt.Errorf("emaillogin: set domain route %s: %w", d, err)
	}
	return DomainRoute{Domain: r.Domain, Connection: conn.Slug, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

// DeleteDomainRoute removes the organization's route of a domain.
func (s *Service) DeleteDomainRoute(ctx context.Context, a admin.Actor, domain string) error {
	if err := s.st.DeleteDomainRoute(ctx, a.Org().ID, domain, store.AuditEvent{Actor: a.Name()}); err != nil {
		return fmt.Errorf("emaillogin: delete domain route %s: %w", domain, err)
	}
	return nil
}

func (s *Service) apiListRoutes(c echo.Context, a admin.Actor) error {
	routes, err := s.DomainRoutes(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"domainRoutes": routes})
}

func (s *Service) apiSetRoute(c echo.Context, a admin.Actor) error {
	var in struct {
		Connection string `json:"connection"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := s.SetDomainRoute(c.Request().Context(), a, c.Param("domain"), in.Connection)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Service) apiDeleteRoute(c echo.Context, a admin.Actor) error {
	if err := s.DeleteDomainRoute(c.Request().Context(), a, c.Param("domain")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
