package jit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// SessionCookieName is the browser session cookie.
const SessionCookieName = "onramp_session"

// Session defaults.
const (
	DefaultSessionTTL  = 12 * time.Hour
	DefaultSessionIdle = time.Hour
	// touchEvery limits LastSeenAt writes to one a minute per session.
	touchEvery = time.Minute
)

// ErrNoSession is returned by Sessions.Current when the request carries no
// live session.
var ErrNoSession = errors.New("jit: no session")

// Sessions issues and checks browser sessions. The cookie holds 32 random
// bytes; the store keeps only their SHA-256, so a leaked database does not
// yield usable cookies. Cookies are HttpOnly, SameSite=Lax (sent on
// top-level navigation, not on cross-site subrequests or POSTs) and Secure
// when the base URL is https. A session ends at its absolute expiry or after
// the idle timeout without requests, whichever comes first.
type Sessions struct {
	st     store.Sessions
	now    func() time.Time
	ttl    time.Duration
	idle   time.Duration
	secure bool
}

// SessionConfig configures Sessions.
type SessionConfig struct {
	Store  store.Sessions
	Now    func() time.Time
	TTL    time.Duration // absolute lifetime; default DefaultSessionTTL
	Idle   time.Duration // idle timeout; default DefaultSessionIdle
	Secure bool          // https: mark the cookie Secure
}

// NewSessions returns Sessions.
func NewSessions(cfg SessionConfig) *Sessions {
	s := &Sessions{st: cfg.Store, now: cfg.Now, ttl: cfg.TTL, idle: cfg.Idle, secure: cfg.Secure}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = DefaultSessionTTL
	}
	if s.idle <= 0 {
		s.idle = DefaultSessionIdle
	}
	return s
}

// Start creates a session for user and sets its cookie.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, org store.OrgID, user store.UserID) error {
	c, err := s.create(ctx, org, user)
	if err != nil {
		return err
	}
	http.SetCookie(w, c)
	return nil
}

// create stores a new session for user and returns its cookie.
func (s *Sessions) create(ctx context.Context, org store.OrgID, user store.UserID) (*http.Cookie, error) {
	sess, cookie, err := s.prepare(org, user)
	if err != nil {
		return nil, err
	}
	if err := s.st.CreateSession(ctx, sess); err != nil {
		return nil, fmt.Errorf("jit: create session: %w", err)
	}
	return cookie, nil
}

// prepare makes a new session for user (which may be "" when the account is
// yet to be created: the store fills it in) and its cookie, without storing
// it. The cookie may be given to the browser only once the session is
// stored; the ACS stores it in the sign-in's transaction (store.SignIn).
func (s *Sessions) prepare(org store.OrgID, user store.UserID) (store.Session, *http.Cookie, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return store.Session{}, nil, fmt.Errorf("jit: session secret: %w", err)
	}
	now := s.now()
	sess := store.Session{
		IDHash:     hashSecret(secret[:]),
		OrgID:      org,
		UserID:     user,
		CreatedAt:  now,
		ExpiresAt:  now.Add(s.ttl),
		LastSeenAt: now,
	}
	return sess, s.cookie(base64.RawURLEncoding.EncodeToString(secret[:]), int(s.ttl/time.Second)), nil
}

// Current returns the request's live session, touching it, or ErrNoSession.
func (s *Sessions) Current(ctx context.Context, r *http.Request) (store.Session, error) {
	c, err := r.Cookie(SessionCookieName)
	if err != nil {
		return store.Session{}, ErrNoSession
	}
	secret, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(secret) != 32 {
		return store.Session{}, ErrNoSession
	}
	h := hashSecret(secret)
	sess, err := s.st.GetSession(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrNoSession
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("jit: read session: %w", err)
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.idle {
		if err := s.st.DeleteSession(ctx, h); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Session{}, fmt.Errorf("jit: end expired session: %w", err)
		}
		return store.Session{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.st.TouchSession(ctx, h, now); err != nil {
			return store.Session{}, fmt.Errorf("jit: touch session: %w", err)
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// End deletes the request's session, if any, and clears its cookie.
func (s *Sessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, s.cookie("", -1))
	secret, ok := cookieSecret(r)
	if !ok {
		return nil // no session to end
	}
	if err := s.st.DeleteSession(ctx, hashSecret(secret)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("jit: end session: %w", err)
	}
	return nil
}

// cookieSecret returns the secret in the request's session cookie, if it
// has one that decodes.
func cookieSecret(r *http.Request) ([]byte, bool) {
	c, err := r.Cookie(SessionCookieName)
	if err != nil {
		return nil, false
	}
	secret, err := base64.RawURLEncoding.DecodeString(c.Value)
	return secret, err == nil
}

func (s *Sessions) cookie(value string, maxAge int) *http.Cookie {
	// Secure follows the base URL: plain http only for local development.
	return &http.Cookie{ //nolint:gosec // G124: HttpOnly and SameSite are set; Secure is s.secure
		Name:     SessionCookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

func hashSecret(secret []byte) []byte {
	h := sha256.Sum256(secret)
	return h[:]
}
