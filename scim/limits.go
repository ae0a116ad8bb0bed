package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/throttle"
)

// MaxFilterLength bounds a list request's filter, in bytes; a longer one is
// refused with 400 invalidFilter before it is parsed. Real IdP filters are a
// few dozen bytes (userName eq "…").
const MaxFilterLength = 4 << 10

// HeldRetryAfter is the Retry-After of a de-provisioning refused by a hold.
// Releasing takes an Admin, so IdPs are asked to come back in minutes, not
// seconds.
const HeldRetryAfter = 5 * time.Minute

// Limits bounds each SCIM token. The zero value bounds nothing.
type Limits struct {
	// TokenRate is the sustained requests per second one token may make to
	// this process, TokenBurst the burst (0: twice TokenRate); beyond, 429
	// with Retry-After. 0 means no rate limit.
	TokenRate  float64
	TokenBurst int
	// TokenInFlight is how many requests of one token this process serves at
	// once; beyond, 429 with Retry-After: 1. 0 means no limit.
	TokenInFlight int
	// Deprovision is the mass de-provisioning safety rail (store.Holds); its
	// zero value turns the rail off.
	Deprovision store.DeprovisionLimit
}

// DefaultLimits returns onramp serve's defaults.
//
//   - 16 requests in flight per token and process: Okta and Entra push with a
//     handful of connections each and back off on 429; more than 16 at once
//     from one token is a runaway client, and would only queue on the store.
//   - No per-second rate by default: the in-flight cap already bounds the
//     share of the process (and of the store's one writer) one token can
//     take, however fast it is answered, while a rate would slow an idle
//     server's initial import for nothing (100,000 users are 200,000
//     requests, a lookup and a create each: over half an hour at 100/s,
//     about a minute unthrottled). Set TokenRate to meter tokens, e.g. where
//     several organizations' IdPs share one server and one must not take
//     more than a fixed pace.
//   - Mass de-provisioning is held past 10% of the organization's active users
//     within an hour, but never before 20 users: an offboarding day
//     de-provisions a few people an hour, while an IdP mistake (a deleted
//     group assignment, a broken sync scope, a wrong filter) de-provisions
//     much of a directory within minutes. The minimum keeps small
//     organizations, where 10% is one or two people, out of it.
func DefaultLimits() Limits {
	return Limits{
		TokenInFlight: 16,
		Deprovision:   store.DeprovisionLimit{Share: 0.10, Minimum: 20, Window: time.Hour},
	}
}

// setLimits checks and installs l.
func (h *Handler) setLimits(l Limits) error {
	var problems []error
	if l.TokenRate < 0 || l.TokenBurst < 0 || l.TokenInFlight < 0 {
		problems = append(problems, errors.New("scim: Limits: negative token rate, burst or in-flight limit"))
	}
	if d := l.Deprovision; d.Share < 0 || d.Share > 1 || d.Minimum < 0 || d.Window < 0 {
		problems = append(problems, fmt.Errorf("scim: Limits.Deprovision: share must be from 0 to 1, minimum and window not negative (got %+v)", d))
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	h.tokens = throttle.New(throttle.Config{Rate: l.TokenRate, Burst: l.TokenBurst, MaxInFlight: l.TokenInFlight, Now: h.now})
	h.deprovision = l.Deprovision
	return nil
}

// admit applies the token's rate and in-flight limits. Refused, it has
// written the 429.
func (h *Handler) admit(ctx context.Context, w http.ResponseWriter, t Tenant) (release func(), ok bool) {
	release, retry, inFlight, ok := h.tokens.Acquire(string(t.Token))
	if ok {
		return release, true
	}
	detail := "Too many requests with this token; retry after " + throttle.Seconds(retry) + " s."
	if inFlight {
		detail = "Too many concurrent requests with this token; retry after " + throttle.Seconds(retry) + " s."
	}
	h.log.InfoContext(ctx, "scim: token limit", "request_id", requestIDFrom(ctx), "token", t.Token, "in_flight", inFlight)
	w.Header().Set("Retry-After", throttle.Seconds(retry))
	writeError(w, scimerrors.ScimError{Detail: detail, Status: http.StatusTooManyRequests})
	return nil, false
}

// guard is what the tenant's user writes carry for the safety rail.
func (h *Handler) guard(t Tenant) store.DeprovisionGuard {
	return store.DeprovisionGuard{Token: t.Token, ConnectionID: t.Connection, Limit: h.deprovision, At: h.now()}
}

// heldError is the answer to a de-provisioning refused by a hold: 429, which
// Okta and Entra treat as "not now" and retry with back-off (a 4xx such as
// 403 would make them record the change as failed and never send it again),
// so once an Admin releases the hold, the held changes arrive by themselves.
// It goes out as an override (with Retry-After: HeldRetryAfter), because
// elimity allows no 429.
func heldError(h store.Hold) scimerrors.ScimError {
	return scimerrors.ScimError{
		Status: http.StatusTooManyRequests,
		Detail: fmt.Sprintf("De-provisioning by this token is held: it de-provisioned %d of the organization's %d active users "+
			"within %s, more than the %d allowed. Nothing was changed. An Admin of the organization must release the hold "+
			"(onramp console, SSO & SCIM page; hold %s) before users can be deactivated or deleted with this token again; "+
			"other changes are not affected.", h.Deprovisioned, h.ActiveUsers, h.Window, h.Allowed, h.ID),
	}
}

// Elimity refuses to send a status it does not expect of an operation (429
// for a PATCH becomes its own 500), so a handler that must answer with one
// records the answer in the request's override and returns a plain error;
// overrideWriter then writes the recorded answer in place of elimity's.

// override is a request's answer that replaces elimity's.
type override struct {
	err        *scimerrors.ScimError
	retryAfter string
}

type overrideKey struct{}

func withOverride(ctx context.Context, ov *override) context.Context {
	return context.WithValue(ctx, overrideKey{}, ov)
}

// setOverride records e, with a Retry-After, as the request's answer. It
// reports false outside a request served by ServeHTTP.
func setOverride(ctx context.Context, e scimerrors.ScimError, retryAfter string) bool {
	ov, ok := ctx.Value(overrideKey{}).(*override)
	if !ok || ov == nil {
		return false
	}
	ov.err, ov.retryAfter = &e, retryAfter
	return true
}

// overrideWriter writes the request's override, if one was recorded by the
// time the answer starts, instead of what elimity writes.
type overrideWriter struct {
	http.ResponseWriter
	ov      *override
	started bool
	dropped bool
}

func (w *overrideWriter) WriteHeader(status int) {
	if w.started {
		return
	}
	w.started = true
	if w.ov.err != nil {
		w.dropped = true
		if w.ov.retryAfter != "" {
			w.Header().Set("Retry-After", w.ov.retryAfter)
		}
		w.Header().Del("Content-Length")
		writeError(w.ResponseWriter, *w.ov.err)
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *overrideWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.dropped {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *overrideWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
