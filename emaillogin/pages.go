package emaillogin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Reason codes shown on the pages (and, for refusals, the policy's rule).
// They are stable: never rename one.
const (
	ReasonInvalidEmail      = "invalid_email"
	ReasonBadReturnTo       = "bad_return_to"
	ReasonUnknownOrg        = "unknown_organization"
	ReasonRateLimited       = "rate_limited"
	ReasonSendFailed        = "send_failed"
	ReasonWrongCode         = "wrong_code"
	ReasonLinkInvalid       = "link_invalid"
	ReasonLinkUsed          = "link_used"
	ReasonLinkExpired       = "link_expired"
	ReasonWrongOrg          = "wrong_organization"
	ReasonFormExpired       = "form_expired"
	ReasonInvitationInvalid = "invitation_invalid"
	ReasonInvitationUsed    = "invitation_used"
	ReasonInvitationRevoked = "invitation_revoked"
	ReasonInvitationExpired = "invitation_expired"
	ReasonDomainNotAllowed  = "domain_not_allowed"
	ReasonAccountConflict   = "account_conflict"
	ReasonInternal          = "internal_error"
)

// formCookie holds the token every form of these pages posts back.
const (
	formCookie = "onramp_form"
	formField  = "form_token"
)

// maxFormBody bounds the forms (an address, a code, a token, return_to).
const maxFormBody = 16 << 10

// choice is an organization the person may enter.
type choice struct {
	Slug   string
	Name   string
	Create bool // the account would be created just in time
}

// refusal is why an organization does not let the person in.
type refusal struct {
	Org  string
	Rule string
	Hint string
}

// page is what a page shows; Kind picks the template.
type page struct {
	Kind      string // message, login, sent, confirm, choose
	Status    int
	Title     string
	Message   string
	Reason    string
	RequestID string
	FormToken string
	Product   string

	// login, sent
	Email    string
	ReturnTo string
	Org      string
	Error    string
	Minutes  int
	// confirm, choose
	Token    string
	Action   string
	Button   string
	Choices  []choice
	Refusals []refusal
}

const pagesTemplate = `{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"></head>
<body style="font-family: system-ui, sans-serif; max-width: 36em; margin: 4em auto; padding: 0 1em; line-height: 1.5">
<h1>{{.Title}}</h1>{{end}}
{{define "foot"}}{{if .Reason}}<p style="color: #555">Reason code: <code id="reason">{{.Reason}}</code>{{if .RequestID}}<br>Reference: <code>{{.RequestID}}</code>{{end}}</p>{{end}}
</body></html>
{{end}}
{{define "message"}}{{template "head" .}}
<p id="message">{{.Message}}</p>
{{if .Refusals}}<ul>{{range .Refusals}}<li><strong>{{.Org}}</strong> (<code>{{.Rule}}</code>): {{.Hint}}</li>{{end}}</ul>{{end}}
<p><a href="/login">Back to sign-in</a></p>
{{template "foot" .}}{{end}}
{{define "login"}}{{template "head" .}}
{{if .Error}}<p id="error" role="alert" style="color: #a00">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="form_token" value="{{.FormToken}}">
<input type="hidden" name="return_to" value="{{.ReturnTo}}">
<input type="hidden" name="org" value="{{.Org}}">
<label for="email">Work email</label><br>
<input id="email" name="email" type="email" autocomplete="email" required value="{{.Email}}" style="width: 100%; padding: .4em">
<p><button type="submit">Continue</button></p>
</form>
<p style="color: #555">If your organization signs in with SSO, you will be sent to it. Otherwise we email you a sign-in link and code.</p>
{{template "foot" .}}{{end}}
{{define "sent"}}{{template "head" .}}
{{if .Error}}<p id="error" role="alert" style="color: #a00">{{.Error}}</p>{{end}}
<p id="message">We sent an email to <strong>{{.Email}}</strong> with a sign-in link and a code. They work once, for {{.Minutes}} minutes. If the address can sign in, follow the link or enter the code here.</p>
<form method="post" action="/login/code">
<input type="hidden" name="form_token" value="{{.FormToken}}">
<input type="hidden" name="email" value="{{.Email}}">
<label for="code">Code</label><br>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required style="font-size: 1.4em; letter-spacing: .2em; width: 8em">
<p><button type="submit">Sign in</button></p>
</form>
<p style="color: #555">No email? Check the address and your spam folder, or <a href="/login">start again</a>.</p>
{{template "foot" .}}{{end}}
{{define "confirm"}}{{template "head" .}}
<p id="message">{{.Message}}</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="form_token" value="{{.FormToken}}">
<input type="hidden" name="token" value="{{.Token}}">
<p><button type="submit">{{.Button}}</button></p>
</form>
{{template "foot" .}}{{end}}
{{define "choose"}}{{template "head" .}}
<p id="message">{{.Message}}</p>
{{range .Choices}}<form method="post" action="/login/link" style="margin: .5em 0">
<input type="hidden" name="form_token" value="{{$.FormToken}}">
<input type="hidden" name="token" value="{{$.Token}}">
<input type="hidden" name="org" value="{{.Slug}}">
<button type="submit">{{.Name}}{{if .Create}} (create your account){{end}}</button>
</form>{{end}}
{{if .Refusals}}<p>Not available:</p><ul>{{range .Refusals}}<li><strong>{{.Org}}</strong>: {{.Hint}}</li>{{end}}</ul>{{end}}
{{template "foot" .}}{{end}}`

func parsePages() (*template.Template, error) {
	t, err := template.New("pages").Parse(pagesTemplate)
	if err != nil {
		return nil, fmt.Errorf("emaillogin: pages: %w", err)
	}
	return t, nil
}

// render writes p. Pages are never cached and never send a Referer (the
// link pages carry a token in their URL).
func (s *Service) render(c echo.Context, p page) error {
	if p.Kind == "" {
		p.Kind = "message"
	}
	if p.Status == 0 {
		p.Status = http.StatusOK
	}
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	p.Product = s.product
	if p.Kind != "message" {
		p.FormToken = s.formToken(c)
	}
	var b strings.Builder
	if err := s.pages.ExecuteTemplate(&b, p.Kind, p); err != nil {
		return fmt.Errorf("emaillogin: render %s page: %w", p.Kind, err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	return c.HTML(p.Status, b.String())
}

func messagePage(status int, title, reason, message string) page {
	return page{Status: status, Title: title, Reason: reason, Message: message}
}

// fail logs err and shows the internal-error page (never err's text).
func (s *Service) fail(c echo.Context, err error) error {
	s.logger.ErrorContext(c.Request().Context(), "emaillogin: request failed", "path", c.Path(), "err", err)
	return s.render(c, messagePage(http.StatusInternalServerError, "Something went wrong", ReasonInternal,
		"Something went wrong on our side. Try again; if it keeps failing, give your Admin the reference below."))
}

// tooMany answers a rate-limited request: 429 with Retry-After in seconds.
func (s *Service) tooMany(c echo.Context, l *limited, what string) error {
	secs := int((l.retryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	mins := (secs + 59) / 60
	return s.render(c, messagePage(http.StatusTooManyRequests, "Too many attempts", ReasonRateLimited,
		fmt.Sprintf("Too many %s from this address or this network. Try again in %d minute%s.", what, mins, plural(mins))))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// formToken returns the request's form token, setting its cookie if the
// request has none. The cookie is SameSite=Strict: another site cannot make
// a browser send it, so a post with a matching token came from one of these
// pages.
func (s *Service) formToken(c echo.Context) string {
	if ck, err := c.Cookie(formCookie); err == nil && validFormToken(ck.Value) {
		return ck.Value
	}
	if v := c.Get(formCookie); v != nil {
		if tok, ok := v.(string); ok {
			return tok
		}
	}
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	c.Set(formCookie, tok)
	//nolint:gosec // G124: HttpOnly and SameSite=Strict; Secure follows the base URL (plain http is for local use)
	c.SetCookie(&http.Cookie{
		Name: formCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
	return tok
}

func validFormToken(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 24
}

// checkForm reports whether the posted form token matches the cookie.
func checkForm(c echo.Context) bool {
	ck, err := c.Cookie(formCookie)
	if err != nil || !validFormToken(ck.Value) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(ck.Value), []byte(c.FormValue(formField))) == 1
}

// parseForm bounds and parses a posted form, and checks its token. ok false
// means the answer has been written.
func (s *Service) parseForm(c echo.Context) (ok bool, err error) {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return false, s.render(c, messagePage(http.StatusBadRequest, "Invalid form", ReasonFormExpired,
			"The form could not be read. Go back and try again."))
	}
	if !checkForm(c) {
		return false, s.render(c, messagePage(http.StatusForbidden, "This page has expired", ReasonFormExpired,
			"This form was not sent from this browser's sign-in page, or the page is too old. Open the link or the sign-in page again."))
	}
	return true, nil
}
