package jit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// RequestCookieName is the cookie that carries a browser's outstanding
// AuthnRequests for one connection.
const RequestCookieName = "onramp_saml_requests"

// Defaults of RequestTracker.
const (
	// DefaultRequestTTL is how long a login may take at the IdP.
	DefaultRequestTTL = 10 * time.Minute
	// maxTrackedRequests bounds the requests kept per connection (a person
	// who clicks "sign in" several times, or signs in from several tabs).
	maxTrackedRequests = 5
	// maxReturnToLength bounds a stored return_to, to keep the cookie well
	// under the 4 KiB browsers allow.
	maxReturnToLength = 512
	minTrackerKeyLen  = 32
)

// TrackedRequest is an AuthnRequest a browser is waiting on.
type TrackedRequest struct {
	ID       string    `json:"i"`
	ReturnTo string    `json:"r,omitempty"` // validated before it is tracked
	Expires  time.Time `json:"e"`
}

// RequestTracker binds AuthnRequests to the browser that started them, the
// way crewjam's CookieRequestTracker does: their IDs live in a cookie signed
// with HMAC-SHA256 under a server secret, so any replica can check that a
// response answers a request this very browser made (which stops login CSRF
// with a response obtained elsewhere), and no server state is needed.
//
// Cookie attributes. The IdP returns the response with a cross-site POST,
// which carries a cookie only if it is SameSite=None, and browsers keep a
// SameSite=None cookie only if it is Secure, which needs https. So:
//
//   - https base URL: HttpOnly; Secure; SameSite=None.
//   - http base URL (development on localhost): HttpOnly, no SameSite
//     attribute. SameSite=None without Secure would be dropped outright.
//     Without the attribute, Firefox and Safari send the cookie on the
//     cross-site POST, and Chrome treats it as Lax but still sends it on a
//     top-level cross-site POST made within two minutes of setting it
//     ("Lax+POST"). An IdP on another port of localhost is same-site anyway
//     (ports do not count), so the built-in demo IdP always works. Where the
//     cookie does not arrive, Verify finds no pending request and refuses
//     with in_response_to_unknown: it fails closed, never open. Run
//     production over https.
//
// The cookie's Path is the connection's /saml/{org}/{connection}/ prefix, so
// it is sent only to that connection's endpoints, and its payload names the
// connection as well.
type RequestTracker struct {
	key []byte
	now func() time.Time
	ttl time.Duration
}

// RequestTrackerConfig configures a RequestTracker.
type RequestTrackerConfig struct {
	// Key is the HMAC secret, at least 32 bytes, the same on every replica.
	Key []byte
	Now func() time.Time
	TTL time.Duration // default DefaultRequestTTL
}

// NewRequestTracker returns a RequestTracker.
func NewRequestTracker(cfg RequestTrackerConfig) (*RequestTracker, error) {
	if len(cfg.Key) < minTrackerKeyLen {
		return nil, fmt.Errorf("jit: request tracker: key is %d bytes, want at least %d", len(cfg.Key), minTrackerKeyLen)
	}
	t := &RequestTracker{key: append([]byte(nil), cfg.Key...), now: cfg.Now, ttl: cfg.TTL}
	if t.now == nil {
		t.now = time.Now
	}
	if t.ttl <= 0 {
		t.ttl = DefaultRequestTTL
	}
	return t, nil
}

type trackerPayload struct {
	Conn     store.ConnectionID `json:"c"`
	Requests []TrackedRequest   `json:"q"`
}

// Track adds an AuthnRequest to the browser's cookie for conn and returns
// the request as tracked. Expired requests are dropped, and the oldest ones
// when there are more than the tracker keeps.
func (t *RequestTracker) Track(w http.ResponseWriter, r *http.Request, conn ConnectionConfig, id, returnTo string) (TrackedRequest, error) {
	if id == "" {
		return TrackedRequest{}, errors.New("jit: track request: empty id")
	}
	if len(returnTo) > maxReturnToLength {
		return TrackedRequest{}, fmt.Errorf("jit: track request: return_to longer than %d bytes", maxReturnToLength)
	}
	tr := TrackedRequest{ID: id, ReturnTo: returnTo, Expires: t.now().Add(t.ttl).UTC().Truncate(time.Second)}
	reqs := append(t.Pending(r, conn), tr)
	if len(reqs) > maxTrackedRequests {
		reqs = reqs[len(reqs)-maxTrackedRequests:]
	}
	if err := t.write(w, conn, reqs); err != nil {
		return TrackedRequest{}, err
	}
	return tr, nil
}

// Pending returns the browser's unexpired requests for conn. A missing,
// forged or foreign cookie yields none.
func (t *RequestTracker) Pending(r *http.Request, conn ConnectionConfig) []TrackedRequest {
	c, err := r.Cookie(RequestCookieName)
	if err != nil {
		return nil
	}
	p, ok := t.open(c.Value)
	if !ok || p.Conn != conn.ID {
		return nil
	}
	now := t.now()
	var out []TrackedRequest
	for _, q := range p.Requests {
		if now.Before(q.Expires) {
			out = append(out, q)
		}
	}
	return out
}

// PendingIDs returns the IDs of Pending, for Verify.
func (t *RequestTracker) PendingIDs(r *http.Request, conn ConnectionConfig) []string {
	var ids []string
	for _, q := range t.Pending(r, conn) {
		ids = append(ids, q.ID)
	}
	return ids
}

// Forget removes a request (answered, successfully or not) from the cookie,
// so that it cannot be answered twice.
func (t *RequestTracker) Forget(w http.ResponseWriter, r *http.Request, conn ConnectionConfig, id string) error {
	var keep []TrackedRequest
	for _, q := range t.Pending(r, conn) {
		if q.ID != id {
			keep = append(keep, q)
		}
	}
	return t.write(w, conn, keep)
}

func (t *RequestTracker) write(w http.ResponseWriter, conn ConnectionConfig, reqs []TrackedRequest) error {
	path, secure, err := cookieScope(conn)
	if err != nil {
		return err
	}
	c := &http.Cookie{ //nolint:gosec // G124: HttpOnly is set; Secure and SameSite follow the base URL (see RequestTracker)
		Name:     RequestCookieName,
		Path:     path,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteDefaultMode, // no attribute: see RequestTracker
	}
	if secure {
		c.SameSite = http.SameSiteNoneMode
	}
	if len(reqs) == 0 {
		c.MaxAge = -1
	} else {
		v, err := t.seal(trackerPayload{Conn: conn.ID, Requests: reqs})
		if err != nil {
			return err
		}
		c.Value = v
		c.MaxAge = int(t.ttl / time.Second)
	}
	http.SetCookie(w, c)
	return nil
}

// cookieScope derives the cookie's Path (the directory of the ACS URL) and
// whether it must be Secure (an https ACS).
func cookieScope(conn ConnectionConfig) (path string, secure bool, err error) {
	u, err := url.Parse(conn.URLs.ACS)
	if err != nil {
		return "", false, fmt.Errorf("jit: acs url: %w", err)
	}
	p := u.EscapedPath()
	return p[:strings.LastIndex(p, "/")+1], u.Scheme == "https", nil
}

func (t *RequestTracker) mac(payload string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("onramp saml request tracker v1\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (t *RequestTracker) seal(p trackerPayload) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("jit: request cookie: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(t.mac(payload)), nil
}

func (t *RequestTracker) open(v string) (trackerPayload, bool) {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok {
		return trackerPayload{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, t.mac(payload)) {
		return trackerPayload{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return trackerPayload{}, false
	}
	var p trackerPayload
	if err := json.Unmarshal(b, &p); err != nil {
		return trackerPayload{}, false
	}
	return p, true
}
