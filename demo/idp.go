package demo

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/jit"
)

// pickCookieName is the cookie in which the picker hands the chosen person
// to the SSO endpoint, for one AuthnRequest.
const pickCookieName = "onramp_demo_idp_pick"

const (
	// pickTTL is how long a pick waits for the browser to come back to SSO.
	pickTTL = 5 * time.Minute
	// idpInitiatedKey stands for the AuthnRequest ID in a pick for an
	// IdP-initiated sign-in, which has none.
	idpInitiatedKey = "idp-initiated"
	// anyRequestKey marks a pick for whichever request comes next: the one
	// that replaces an expired request (see idpError).
	anyRequestKey = "*"
	// maxPickForm bounds the picker's form: it carries the AuthnRequest's
	// query, a few KiB.
	maxPickForm = 64 << 10
	// idpSessionTTL is the life of the IdP session crewjam puts in the
	// assertion (SessionNotOnOrAfter).
	idpSessionTTL = time.Hour
)

// SAML attribute names the demo IdP sends, as the generic preset reads them.
const (
	attrEmail       = "email"
	attrGivenName   = "givenName"
	attrSurname     = "surname"
	attrDisplayName = "displayName"
	attrGroups      = "groups"
	attrNameFormat  = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
)

// newIdentityProvider builds crewjam's IdP with the demo's key pair. It
// signs at the real time: crewjam's package clocks are never changed.
func (d *Demo) newIdentityProvider(kp keyPair) (*saml.IdentityProvider, error) {
	metadataURL, err := url.Parse(d.base + IdPMetadataPath)
	if err != nil {
		return nil, fmt.Errorf("demo: idp metadata url: %w", err)
	}
	ssoURL, err := url.Parse(d.base + IdPSSOPath)
	if err != nil {
		return nil, fmt.Errorf("demo: idp sso url: %w", err)
	}
	return &saml.IdentityProvider{
		Key:                     kp.key,
		Certificate:             kp.cert,
		Logger:                  slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
		MetadataURL:             *metadataURL,
		SSOURL:                  *ssoURL,
		ServiceProviderProvider: serviceProviders{d},
		SessionProvider:         picker{d},
		NameIDFormats:           []saml.NameIDFormat{saml.EmailAddressNameIDFormat},
		OnError:                 d.idpError,
	}, nil
}

// serviceProviders is the demo IdP's one service provider: the demo
// connection, with the SP metadata onramp publishes for it.
type serviceProviders struct{ d *Demo }

// GetServiceProvider implements saml.ServiceProviderProvider.
func (s serviceProviders) GetServiceProvider(r *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	d := s.d
	if entityID != d.sp.EntityID {
		return nil, os.ErrNotExist
	}
	ctx := r.Context()
	org, err := d.st.GetOrgBySlug(ctx, OrgSlug)
	if err != nil {
		return nil, fmt.Errorf("demo: read organization: %w", err)
	}
	conn, err := d.st.GetConnectionBySlug(ctx, org.ID, ConnectionSlug)
	if err != nil {
		return nil, fmt.Errorf("demo: read connection: %w", err)
	}
	kp, err := jit.ParseSPKeyPair(conn.SPCertPEM, conn.SPKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("demo: sp key pair: %w", err)
	}
	md, err := jit.SPMetadata(d.sp, kp, d.now())
	if err != nil {
		return nil, fmt.Errorf("demo: sp metadata: %w", err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		return nil, fmt.Errorf("demo: sp metadata: %w", err)
	}
	return &ed, nil
}

// picker is the demo IdP's session provider: "Pick a demo person".
type picker struct{ d *Demo }

// GetSession implements saml.SessionProvider. A request that comes back
// from the picker with the pick cookie for this very AuthnRequest signs
// that person in; any other shows the picker.
func (p picker) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	d := p.d
	reqKey := req.Request.ID
	cont := IdPStartPath
	if reqKey == "" {
		reqKey = idpInitiatedKey
	} else {
		if r.Method != http.MethodGet {
			_ = d.renderError(w, http.StatusBadRequest, "Unsupported sign-in request",
				"The demo IdP takes sign-in requests with the HTTP-Redirect binding only, as onramp sends them.")
			return nil
		}
		cont = IdPSSOPath + "?" + r.URL.RawQuery
	}
	if person, ok := d.pickFrom(r, reqKey); ok {
		http.SetCookie(w, d.pickCookie("", -1))
		return d.session(person)
	}
	d.renderPicker(w, cont, reqKey)
	return nil
}

// session is what the IdP asserts about person.
func (d *Demo) session(p Person) *saml.Session {
	now := d.now()
	attr := func(name string, values ...string) saml.Attribute {
		a := saml.Attribute{Name: name, NameFormat: attrNameFormat}
		for _, v := range values {
			a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		return a
	}
	return &saml.Session{
		ID:           randomID(),
		Index:        randomID(),
		CreateTime:   now,
		ExpireTime:   now.Add(idpSessionTTL),
		NameID:       p.Email,
		NameIDFormat: string(saml.EmailAddressNameIDFormat),
		CustomAttributes: []saml.Attribute{
			attr(attrEmail, p.Email),
			attr(attrGivenName, p.GivenName),
			attr(attrSurname, p.FamilyName),
			attr(attrDisplayName, p.DisplayName()),
			attr(attrGroups, p.Groups...),
		},
	}
}

// randomID is a random identifier for crewjam's session.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms (Go 1.24+)
	return "demo-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// pickerPage is the data of picker.html.
type pickerPage struct {
	Action   string
	Continue string
	Request  string
	SP       string
	People   []Person
}

func (d *Demo) renderPicker(w http.ResponseWriter, cont, reqKey string) {
	_ = d.render(w, http.StatusOK, "picker.html", pickerPage{
		Action:   IdPLoginPath,
		Continue: cont,
		Request:  reqKey,
		SP:       OrgName + " (onramp)",
		People:   People(),
	})
}

// pick is the picker's form: it remembers the chosen person for this
// AuthnRequest and sends the browser back to where the request came in.
func (d *Demo) pick(c echo.Context) error {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxPickForm)
	if err := r.ParseForm(); err != nil {
		d.logger.InfoContext(r.Context(), "demo: unreadable picker form", "err", err)
		return d.renderError(c.Response(), http.StatusBadRequest, "Invalid form", "Start again from the demo's page.")
	}
	person, ok := personByKey(r.PostForm.Get("person"))
	cont := r.PostForm.Get("continue")
	reqKey := r.PostForm.Get("request")
	validCont := cont == IdPStartPath || strings.HasPrefix(cont, IdPSSOPath+"?")
	if !ok || !validCont || reqKey == "" || reqKey == anyRequestKey || len(reqKey) > 256 {
		return d.renderError(c.Response(), http.StatusBadRequest, "Invalid form",
			"Pick one of the listed people, starting again from the demo's page.")
	}
	http.SetCookie(c.Response(), d.pickCookie(encodePick(person.Key, reqKey), int(pickTTL/time.Second)))
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusSeeOther, cont)
}

// idpInitiated starts a sign-in at the IdP, as an app tile in an IdP's
// dashboard does: the response is unsolicited, and its RelayState sends the
// browser to the landing page.
func (d *Demo) idpInitiated(c echo.Context) error {
	d.idp.ServeIDPInitiated(c.Response(), c.Request(), d.sp.EntityID, LandingPath)
	return nil
}

// pickCookie is Secure when the base URL is https; the demo usually runs on
// http://localhost, where a Secure cookie would be dropped.
func (d *Demo) pickCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{ //nolint:gosec // G124: Secure follows the base URL's scheme, as jit's cookies do
		Name:     pickCookieName,
		Value:    value,
		Path:     "/demo/idp/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   d.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// pickFrom returns the person the request's pick cookie names for reqKey.
func (d *Demo) pickFrom(r *http.Request, reqKey string) (Person, bool) {
	c, err := r.Cookie(pickCookieName)
	if err != nil {
		return Person{}, false
	}
	key, forReq, ok := decodePick(c.Value)
	if !ok || (forReq != reqKey && forReq != anyRequestKey) {
		return Person{}, false
	}
	return personByKey(key)
}

// encodePick and decodePick are the cookie's value: person key and request
// key, base64url so that any request ID fits in a cookie.
func encodePick(person, reqKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(person + "\n" + reqKey))
}

func decodePick(v string) (person, reqKey string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), "\n")
}

// idpError is crewjam's OnError: the error goes to the log, the browser
// gets a page without it, and a hint for the common set-up mistake.
//
// crewjam accepts an AuthnRequest for 90 seconds after it was issued
// (saml.MaxIssueDelay), and checks it again when the picker sends the
// browser back. A person who took longer to pick is not shown an error:
// the pick is kept for the next request, and the sign-in starts again.
func (d *Demo) idpError(w http.ResponseWriter, r *http.Request, status int, err error) {
	if errors.Is(err, saml.ErrExpired) && r.Method == http.MethodGet {
		if c, cerr := r.Cookie(pickCookieName); cerr == nil {
			if key, forReq, ok := decodePick(c.Value); ok && forReq != anyRequestKey {
				if _, ok := personByKey(key); ok {
					d.logger.InfoContext(r.Context(), "demo: picked after the authn request expired; signing in again")
					http.SetCookie(w, d.pickCookie(encodePick(key, anyRequestKey), int(pickTTL/time.Second)))
					w.Header().Set("Cache-Control", "no-store")
					http.Redirect(w, r, d.urls.SignIn, http.StatusSeeOther)
					return
				}
			}
		}
	}
	d.logger.WarnContext(r.Context(), "demo: idp request failed", "path", r.URL.Path, "status", status, "err", err)
	msg := "The demo IdP could not handle this sign-in request. Start again from the demo's page."
	switch {
	case errors.Is(err, saml.ErrDestinationMismatch):
		msg = fmt.Sprintf("The sign-in request was meant for another address. Open the demo at %s, the server's --base-url.", d.urls.Landing)
	case errors.Is(err, saml.ErrExpired):
		msg = "This sign-in request has expired. Start again from the demo's page."
	}
	_ = d.renderError(w, status, "Demo IdP: sign-in failed", msg)
}

// errorPage is the data of error.html.
type errorPage struct {
	Title   string
	Message string
	Landing string
}

func (d *Demo) renderError(w http.ResponseWriter, status int, title, msg string) error {
	return d.render(w, status, "error.html", errorPage{Title: title, Message: msg, Landing: d.urls.Landing})
}

// render executes a page into a buffer first, so that a template error
// becomes a plain 500 rather than half a page. It returns the error of
// writing the page, which only means the browser went away.
func (d *Demo) render(w http.ResponseWriter, status int, name string, data any) error {
	var b bytes.Buffer
	if err := d.pages.ExecuteTemplate(&b, name, data); err != nil {
		d.logger.Error("demo: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("demo: write page: %w", err)
	}
	return nil
}
