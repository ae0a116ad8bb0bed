package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/throttle"
)

// Request body limits the server applies before any handler runs, by route.
// Each handler bounds its own body lower still (the SCIM handler 1 MiB, the
// admin API 64 KiB for most routes, console forms 256 KiB, email sign-in
// forms 16 KiB, the ACS twice the SAML response limit); these are the
// backstop, and they answer a request that declares a larger body with 413 in
// the route's format before a byte of it is read.
const (
	// MaxBody bounds every request body outside SCIM: the largest a handler
	// accepts (4 MiB: an admin upload of IdP metadata or a pasted SAML
	// response, base64 and JSON escaping included).
	MaxBody = 4 << 20
	// MaxACSBody bounds a POST to an ACS: a SAML response of up to 512 KiB,
	// base64 and form-encoded, with room for RelayState.
	MaxACSBody = 1 << 20
)

// acsRoute is the ACS's route pattern (package jit registers it).
const acsRoute = "/saml/:org/:connection/acs"

// Limits bounds requests before the handlers see them, in this process
// (package throttle). The zero value limits no rates; the body limits always
// apply.
type Limits struct {
	// SAMLRate is how many requests per second one client address may make
	// to the SAML sign-in endpoints (/saml/{org}/{connection}/login and
	// /acs), SAMLBurst the burst (0: twice SAMLRate). Beyond, 429 with
	// Retry-After and an HTML page. The address is the TCP peer's: behind a
	// proxy or load balancer, every client shares the proxy's allowance,
	// unless TrustedProxies names the proxy.
	SAMLRate  float64
	SAMLBurst int
	// TrustedProxies are the networks of the proxies and load balancers in
	// front of onramp. A request from one of them is counted against the
	// client address its X-Forwarded-For names: the right-most address in
	// the header that is not itself a trusted proxy (each proxy appends the
	// address it received the request from, so everything left of that could
	// have been written by the client). A request from anywhere else, or an
	// unparsable header, counts against the TCP peer, whatever its headers
	// say. Empty: always the TCP peer.
	TrustedProxies []*net.IPNet
	// TokenRate is how many requests per second one bearer token may make to
	// the routes outside SCIM (the admin API), TokenBurst the burst. Beyond,
	// 429 with Retry-After and the JSON error body. Requests are counted by a
	// hash of their Authorization header before the token is verified, so a
	// wrong token spends only its own allowance. SCIM tokens are limited by
	// the SCIM handler, after verification.
	TokenRate  float64
	TokenBurst int
}

// limitPage is the HTML page of a 413 or 429 on the browser routes, in the
// shape of the SAML error pages (package jit).
const limitPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.5">
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p>Reason code: <code id="reason">{{.Reason}}</code>{{if .RequestID}}<br>Reference: <code>{{.RequestID}}</code>{{end}}</p>
</body></html>
`

// Reason codes of the limit pages.
const (
	ReasonRateLimited = "rate_limited"
	ReasonTooLarge    = "too_large"
)

type limitPageData struct {
	Title, Message, Reason, RequestID string
}

// limitsMiddleware applies the body limits and l's rates. It runs after
// routing, so it sees the route pattern.
func limitsMiddleware(l Limits, now func() time.Time) echo.MiddlewareFunc {
	saml := throttle.New(throttle.Config{Rate: l.SAMLRate, Burst: l.SAMLBurst, Now: now})
	client := clientAddress(l.TrustedProxies)
	tokens := throttle.New(throttle.Config{Rate: l.TokenRate, Burst: l.TokenBurst, Now: now})
	page := template.Must(template.New("limit").Parse(limitPage))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			route := c.Path()
			if route == SCIMPrefix || strings.HasPrefix(route, SCIMPrefix+"/") {
				return next(c) // the SCIM handler bounds its own, in SCIM's format
			}
			r := c.Request()
			limit := int64(MaxBody)
			if route == acsRoute {
				limit = MaxACSBody
			}
			if r.ContentLength > limit {
				return refuse(c, page, http.StatusRequestEntityTooLarge, "", ReasonTooLarge, "Too large",
					fmt.Sprintf("The request is larger than the %d bytes this page accepts.", limit))
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			}
			if strings.HasPrefix(route, "/saml/") {
				release, retry, _, ok := saml.Acquire(client(r))
				if !ok {
					return refuse(c, page, http.StatusTooManyRequests, throttle.Seconds(retry), ReasonRateLimited, "Too many sign-in attempts",
						"Too many sign-in requests came from your network in a short time. Wait a moment, then start again from the application.")
				}
				defer release()
			}
			if auth := r.Header.Get(echo.HeaderAuthorization); auth != "" && tokens.Enabled() {
				sum := sha256.Sum256([]byte(auth))
				release, retry, _, ok := tokens.Acquire(hex.EncodeToString(sum[:16]))
				if !ok {
					return refuse(c, page, http.StatusTooManyRequests, throttle.Seconds(retry), ReasonRateLimited, "Too many requests",
						"Too many requests with this token; retry after "+throttle.Seconds(retry)+" s.")
				}
				defer release()
			}
			return next(c)
		}
	}
}

// clientAddress returns how the SAML limit tells clients apart (see
// Limits.TrustedProxies): echo's X-Forwarded-For extractor trusting only
// the given networks (not, as its defaults do, every private, loopback and
// link-local address), or the TCP peer when there are none.
func clientAddress(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// refuse answers a request refused by a limit in its route's format: the
// JSON error body under /api/, an HTML page elsewhere (browsers: the SAML
// endpoints, the console, the sign-in pages).
func refuse(c echo.Context, page *template.Template, status int, retryAfter, reason, title, msg string) error {
	if retryAfter != "" {
		c.Response().Header().Set("Retry-After", retryAfter)
	}
	id := RequestID(c.Request().Context())
	if strings.HasPrefix(c.Path(), "/api/") {
		return c.JSON(status, errorBody{Error: msg, RequestID: id})
	}
	var b strings.Builder
	if err := page.Execute(&b, limitPageData{Title: title, Message: msg, Reason: reason, RequestID: id}); err != nil {
		return fmt.Errorf("server: limit page: %w", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTML(status, b.String())
}
