package emaillogin

import (
	"errors"
	"fmt"
	"net/http"
	netmail "net/mail"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/store"
)

// maxEmailLen is the longest address accepted (RFC 5321's path limit).
const maxEmailLen = 254

// parseEmail checks that s is a bare address (no display name, no comments)
// and returns it trimmed, with its lower-case domain.
func parseEmail(s string) (addr, domain string, err error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmailLen {
		return "", "", errors.New("enter your email address")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", "", errors.New("that does not look like an email address")
	}
	at := strings.LastIndexByte(s, '@')
	domain = strings.TrimSuffix(strings.ToLower(s[at+1:]), ".")
	if at <= 0 || domain == "" {
		return "", "", errors.New("that does not look like an email address")
	}
	return s, domain, nil
}

// loginPage is GET /login.
func (s *Service) loginPage(c echo.Context) error {
	returnTo := c.QueryParam("return_to")
	if _, err := s.returnTo.Validate(returnTo); err != nil {
		return s.render(c, messagePage(http.StatusBadRequest, "Invalid sign-in link", ReasonBadReturnTo,
			"The page to return to after signing in is not allowed. Start again from the application."))
	}
	orgSlug := c.QueryParam("org")
	title := "Sign in"
	if orgSlug != "" {
		o, err := s.st.GetOrgBySlug(c.Request().Context(), orgSlug)
		if errors.Is(err, store.ErrNotFound) {
			return s.render(c, unknownOrgPage())
		}
		if err != nil {
			return s.fail(c, err)
		}
		title = "Sign in to " + o.Name
	}
	return s.render(c, page{Kind: "login", Title: title, ReturnTo: returnTo, Org: orgSlug})
}

func unknownOrgPage() page {
	return messagePage(http.StatusNotFound, "Unknown organization", ReasonUnknownOrg,
		"This organization does not exist. Check the link, or ask your Admin for the right one.")
}

// loginSubmit is POST /login: home-realm discovery, or a link and code by
// email. The page after sending does not depend on whether the address has
// an account: nothing here looks.
func (s *Service) loginSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	if ok, err := s.parseForm(c); !ok {
		return err
	}
	returnTo, orgSlug := c.FormValue("return_to"), c.FormValue("org")
	rt, err := s.returnTo.Validate(returnTo)
	if err != nil {
		return s.render(c, messagePage(http.StatusBadRequest, "Invalid sign-in link", ReasonBadReturnTo,
			"The page to return to after signing in is not allowed. Start again from the application."))
	}
	var bound store.Org
	if orgSlug != "" {
		if bound, err = s.st.GetOrgBySlug(ctx, orgSlug); errors.Is(err, store.ErrNotFound) {
			return s.render(c, unknownOrgPage())
		} else if err != nil {
			return s.fail(c, err)
		}
	}
	email, domain, err := parseEmail(c.FormValue("email"))
	if err != nil {
		return s.render(c, page{Kind: "login", Status: http.StatusBadRequest, Title: "Sign in", Reason: ReasonInvalidEmail,
			Error: upperFirst(err.Error()) + ".", Email: c.FormValue("email"), ReturnTo: returnTo, Org: orgSlug})
	}

	if to, err := s.discover(c, domain, bound.ID, rt); err != nil {
		return s.fail(c, err)
	} else if to != "" {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.Redirect(http.StatusSeeOther, to)
	}

	if l, err := s.allow(ctx, "login", email, s.clientIP(c.Request())); err != nil {
		return s.fail(c, err)
	} else if l != nil {
		return s.tooMany(c, l, "sign-in emails")
	}
	if err := s.sendSignIn(c, email, bound, rt); err != nil {
		s.logger.ErrorContext(ctx, "emaillogin: sign-in email not sent", "domain", domain, "err", err)
		return s.render(c, messagePage(http.StatusBadGateway, "The email could not be sent", ReasonSendFailed,
			"We could not send the sign-in email just now. Try again in a few minutes."))
	}
	return s.render(c, page{Kind: "sent", Title: "Check your email", Email: email, Minutes: int(s.linkTTL.Minutes())})
}

// discover returns the SP-initiated login URL of the connection the domain
// is routed to, or "" if it is not routed (or, on a sign-in page of one
// organization, routed to another's).
func (s *Service) discover(c echo.Context, domain string, org store.OrgID, returnTo string) (string, error) {
	ctx := c.Request().Context()
	r, err := s.st.GetDomainRoute(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("emaillogin: domain route: %w", err)
	}
	if org != "" && r.OrgID != org {
		return "", nil
	}
	o, err := s.st.GetOrg(ctx, r.OrgID)
	if err != nil {
		return "", fmt.Errorf("emaillogin: domain route organization: %w", err)
	}
	conn, err := s.st.GetConnection(ctx, r.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil // deleted since: routes go with their connection
	}
	if err != nil {
		return "", fmt.Errorf("emaillogin: domain route connection: %w", err)
	}
	to := s.base + "/saml/" + url.PathEscape(o.Slug) + "/" + url.PathEscape(conn.Slug) + "/login"
	if returnTo != "/" {
		to += "?return_to=" + url.QueryEscape(returnTo)
	}
	s.logger.InfoContext(ctx, "emaillogin: home-realm discovery", "org", o.ID, "connection", conn.ID)
	return to, nil
}

// sendSignIn issues a link and code for the address and emails them.
func (s *Service) sendSignIn(c echo.Context, email string, bound store.Org, returnTo string) error {
	ctx := c.Request().Context()
	token, idHash, err := newSecret()
	if err != nil {
		return err
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	now := s.now()
	l := store.LoginLink{IDHash: idHash, Email: email, OrgID: bound.ID, CodeHash: s.codeHash(email, code),
		ReturnTo: returnTo, CreatedAt: now, ExpiresAt: now.Add(s.linkTTL)}
	if err := s.st.CreateLoginLink(ctx, l, store.AuditEvent{}); err != nil {
		return fmt.Errorf("emaillogin: store link: %w", err)
	}
	name := s.product
	if bound.ID != "" {
		name = bound.Name
	}
	msg, err := signInMessage(email, name, s.linkURL(token), code, s.linkTTL)
	if err != nil {
		return err
	}
	if err := s.mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("emaillogin: send: %w", err)
	}
	return nil
}

func (s *Service) linkURL(token string) string {
	return s.base + PathLoginLink + "?token=" + url.QueryEscape(token)
}

// codeSubmit is POST /login/code: a right code counts as following the link
// it came with.
func (s *Service) codeSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	if ok, err := s.parseForm(c); !ok {
		return err
	}
	email, _, err := parseEmail(c.FormValue("email"))
	if err != nil {
		return s.render(c, page{Kind: "login", Status: http.StatusBadRequest, Title: "Sign in", Reason: ReasonInvalidEmail,
			Error: upperFirst(err.Error()) + "."})
	}
	if l, err := s.allow(ctx, "code", email, s.clientIP(c.Request())); err != nil {
		return s.fail(c, err)
	} else if l != nil {
		return s.tooMany(c, l, "codes")
	}
	wrong := page{Kind: "sent", Status: http.StatusBadRequest, Title: "Check your email", Reason: ReasonWrongCode,
		Email: email, Minutes: int(s.linkTTL.Minutes()),
		Error: "That code is not right, or it has expired or been used. Check the newest email, or start again."}
	code := normalizeCode(c.FormValue("code"))
	if len(code) != codeDigits {
		return s.render(c, wrong)
	}
	token, newHash, err := newSecret()
	if err != nil {
		return s.fail(c, err)
	}
	link, err := s.st.VerifyLoginCode(ctx, email, s.codeHash(email, code), newHash, s.limits.CodeAttempts, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return s.render(c, wrong)
	}
	if err != nil {
		return s.fail(c, err)
	}
	return s.proceed(c, token, link, "")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
