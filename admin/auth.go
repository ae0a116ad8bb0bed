package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// Principal is an authenticated caller, before it is authorized for an
// organization.
type Principal struct {
	OrgID store.OrgID
	// Name is the audit actor: "token:<id>" or "user:<id>".
	Name string
	// Admin: an admin API token, or the session of a live user whose role is
	// Admin. False for a SCIM token or a Member's session.
	Admin bool
	// Session: authenticated by the browser session cookie.
	Session bool
}

// Authenticate identifies the caller of r: by its Authorization: Bearer token
// if it sends one (a token that is not a valid admin or SCIM token is
// ErrUnauthenticated, whatever cookie comes with it), else by its session
// cookie. Without either it returns ErrUnauthenticated. Store failures are
// returned wrapped (a 500, not a 401).
func (s *Service) Authenticate(ctx context.Context, r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, ErrUnauthenticated
		}
		return s.authenticateToken(ctx, strings.TrimSpace(token))
	}
	sess, err := s.sessions.Current(ctx, r)
	if errors.Is(err, jit.ErrNoSession) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("admin: session: %w", err)
	}
	u, err := s.st.GetUser(ctx, sess.OrgID, sess.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!u.Active || u.DeletedAt != nil)) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("admin: session user: %w", err)
	}
	return Principal{
		OrgID:   sess.OrgID,
		Name:    "user:" + string(u.ID),
		Admin:   attributes.CanonicalRole(u.Role) == attributes.RoleAdmin,
		Session: true,
	}, nil
}

func (s *Service) authenticateToken(ctx context.Context, plaintext string) (Principal, error) {
	t, err := apitoken.Verify(ctx, s.st, store.TokenAdmin, plaintext)
	if err == nil {
		return Principal{OrgID: t.OrgID, Name: "token:" + string(t.ID), Admin: true}, nil
	}
	if !errors.Is(err, apitoken.ErrInvalid) {
		return Principal{}, fmt.Errorf("admin: %w", err)
	}
	// A live SCIM token is someone known who may not administer: 403, not 401.
	t, err = apitoken.Verify(ctx, s.st, store.TokenSCIM, plaintext)
	if errors.Is(err, apitoken.ErrInvalid) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("admin: %w", err)
	}
	return Principal{OrgID: t.OrgID, Name: "token:" + string(t.ID)}, nil
}

// Authorize checks that p may administer the organization with slug orgSlug.
// An organization other than p's is store.ErrNotFound whether it exists or
// not, so that the API does not tell which organizations exist; p's own
// organization without the Admin role is ErrForbidden.
func (s *Service) Authorize(ctx context.Context, p Principal, orgSlug string) (Actor, error) {
	o, err := s.st.GetOrgBySlug(ctx, orgSlug)
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.ID != p.OrgID) {
		return Actor{}, fmt.Errorf("admin: organization %q: %w", orgSlug, store.ErrNotFound)
	}
	if err != nil {
		return Actor{}, fmt.Errorf("admin: read organization: %w", err)
	}
	if !p.Admin {
		return Actor{}, fmt.Errorf("admin: %s is not an Admin of %q: %w", p.Name, orgSlug, ErrForbidden)
	}
	return Actor{org: o, name: p.Name, session: p.Session}, nil
}

// CSRF protection for cookie-authenticated requests.
//
// The scheme is a synchronizer token bound to the session, without server
// state: the token is HMAC-SHA256, keyed with the session cookie's 32-byte
// secret, of a fixed label, in unpadded base64url. Only someone who holds the
// cookie can compute it, and a cross-site page can neither read the cookie
// (HttpOnly) nor read the token from GET /api/v1/csrf-token (no CORS). Each
// session has its own token, valid for its lifetime, on every replica.
// Cookie-authenticated requests with an unsafe method (anything but GET, HEAD,
// OPTIONS) must send it in the X-CSRF-Token header (HTML forms: the csrf_token
// field); bearer-token requests are exempt, since a browser never adds an
// Authorization header on its own. The SameSite=Lax session cookie is a second
// line of defence, not the only one.
const (
	// CSRFHeader carries the CSRF token of API requests.
	CSRFHeader = "X-CSRF-Token"
	// CSRFField carries the CSRF token of HTML form posts (the console).
	CSRFField = "csrf_token"
	csrfLabel = "onramp admin csrf v1"
)

// CSRFToken returns the CSRF token of the session whose cookie r carries, or
// "" if it carries none.
func CSRFToken(r *http.Request) string {
	c, err := r.Cookie(jit.SessionCookieName)
	if err != nil {
		return ""
	}
	secret, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(secret) != 32 {
		return ""
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(csrfLabel))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF returns ErrCSRF unless token is the CSRF token of r's session.
func CheckCSRF(r *http.Request, token string) error {
	want := CSRFToken(r)
	if want == "" || token == "" || subtle.ConstantTimeCompare([]byte(want), []byte(token)) != 1 {
		return ErrCSRF
	}
	return nil
}

// safeMethod reports whether a request with this method changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
