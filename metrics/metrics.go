package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onramp-dev/onramp/store"
)

// Metrics holds onramp's collectors. Its methods are safe for concurrent use;
// a nil *Metrics is not usable (components that may run without metrics keep
// a nil interface instead, see the package doc).
type Metrics struct {
	reg    *prometheus.Registry
	logger *slog.Logger

	httpDuration  *prometheus.HistogramVec
	scimRequests  *prometheus.CounterVec
	jitDecisions  *prometheus.CounterVec
	samlRejected  *prometheus.CounterVec
	speculations  *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	purged        *prometheus.CounterVec
}

// httpBuckets spans a cached read (a millisecond) to a slow 1000-user SCIM
// page or a sign-in queued behind a write burst (tens of seconds).
func httpBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
}

// storeBuckets spans a write that joins a group commit at once (a fraction of
// a millisecond) to one queued behind a burst of them (seconds).
func storeBuckets() []float64 {
	return []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}
}

// New makes the collectors and registers them, with the Go runtime and process
// collectors, on reg. logger receives the errors of scrapes; it may be nil.
func New(reg *prometheus.Registry, logger *slog.Logger) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: no registry")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg:    reg,
		logger: logger,
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "onramp", Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method, route pattern and status code.",
			Buckets: httpBuckets(),
		}, []string{"method", "route", "code"}),
		scimRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "onramp", Name: "scim_requests_total",
			Help: "SCIM requests by operation (resource type and verb, e.g. Users.patch) and status code.",
		}, []string{"operation", "code"}),
		jitDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "onramp", Name: "jit_decisions_total",
			Help: "JIT policy decisions on verified SAML sign-ins, by outcome (sign_in, link, create, refuse) and rule.",
		}, []string{"outcome", "rule"}),
		samlRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "onramp", Name: "saml_rejections_total",
			Help: "SAML responses the ACS refused to trust, by reason code.",
		}, []string{"reason"}),
		speculations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "onramp", Name: "saml_speculations_total",
			Help: "Sign-ins the ACS carried out beside the signature check, held for its verdict, by outcome (committed; else carried out after the check: late, not_held, mismatch, unclaimed, raced; abandoned: the response was refused).",
		}, []string{"outcome"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "onramp", Name: "store_operation_duration_seconds",
			Help:    "Time of a store write from submission to commit (queueing included), by operation and result.",
			Buckets: storeBuckets(),
		}, []string{"operation", "result"}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "onramp", Name: "purged_total",
			Help: "Rows the background sweepers removed, by kind.",
		}, []string{"what"}),
	}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpDuration, m.scimRequests, m.jitDecisions, m.samlRejected, m.speculations, m.storeDuration, m.purged,
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// Handler serves the registry in the Prometheus exposition format (GET
// /metrics). A collector that fails is logged and left out; the rest are
// served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// ObserveRequest records an answered HTTP request. route is the route
// pattern, "" for a request that matched none.
func (m *Metrics) ObserveRequest(method, route string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.httpDuration.WithLabelValues(methodLabel(method), route, strconv.Itoa(code)).Observe(d.Seconds())
}

// SCIMRequest counts an answered SCIM request.
func (m *Metrics) SCIMRequest(operation string, code int) {
	m.scimRequests.WithLabelValues(operation, strconv.Itoa(code)).Inc()
}

// JITDecision counts a JIT decision: its outcome (jit.Action) and the rule
// that made it.
func (m *Metrics) JITDecision(outcome, rule string) {
	m.jitDecisions.WithLabelValues(outcome, rule).Inc()
}

// SAMLRejected counts a SAML response that failed verification, by its
// reason code (jit.VerifyError.Reason).
func (m *Metrics) SAMLRejected(reason string) {
	m.samlRejected.WithLabelValues(reason).Inc()
}

// Speculation counts a speculative sign-in by its outcome (see jit's
// Speculation).
func (m *Metrics) Speculation(outcome string) {
	m.speculations.WithLabelValues(outcome).Inc()
}

// ObserveStore records a store operation: its name as the store gives it
// ("sqlstore: create user" becomes create_user), how long it took and its
// error. It has the signature of sqlstore.WithObserver.
func (m *Metrics) ObserveStore(op string, d time.Duration, err error) {
	m.storeDuration.WithLabelValues(opLabel(op), resultLabel(err)).Observe(d.Seconds())
}

// Purged counts n rows of kind what removed by a sweep. A sweep that removed
// nothing still makes the series exist, at 0.
func (m *Metrics) Purged(what string, n int) {
	m.purged.WithLabelValues(what).Add(float64(max(n, 0)))
}

// methodLabel keeps the method label to the methods onramp serves; a client
// can send any token as a method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// opLabel turns a store write name into a label value: without the package
// prefix, lower case, words joined by underscores.
func opLabel(op string) string {
	if _, rest, ok := strings.Cut(op, ": "); ok {
		op = rest
	}
	op = strings.ToLower(strings.TrimSpace(op))
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, op)
}

// resultLabel sorts an operation's error into a few kinds: conflicts and
// missing rows are ordinary answers (a 409, a 404); canceled means the
// caller gave up; error is everything else, and is what to alert on.
func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrVersionMismatch):
		return "conflict"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, store.ErrNotHeld):
		return "not_held"
	}
	return "error"
}
