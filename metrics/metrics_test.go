package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp-dev/onramp/metrics"
	"github.com/onramp-dev/onramp/metrics/metricstest"
	"github.com/onramp-dev/onramp/store"
)

func serve(t *testing.T) (*metrics.Metrics, string) {
	t.Helper()
	m, err := metrics.New(prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(m.Handler())
	t.Cleanup(ts.Close)
	return m, ts.URL
}

func TestSeriesAndLabels(t *testing.T) {
	m, url := serve(t)
	m.ObserveRequest("GET", "/saml/:org/:connection/metadata", 200, 3*time.Millisecond)
	m.ObserveRequest("GET", "/saml/:org/:connection/metadata", 200, time.Millisecond)
	m.ObserveRequest("BREW", "", 404, time.Millisecond)
	m.SCIMRequest("Users.create", 201)
	m.SCIMRequest("Users.create", 409)
	m.SCIMRequest("Users.create", 201)
	m.JITDecision("create", "jit_sso_connection")
	m.SAMLRejected("audience_mismatch")
	m.ObserveStore("sqlstore: create user", time.Millisecond, nil)
	m.ObserveStore("sqlstore: create user", time.Millisecond, fmt.Errorf("sqlstore: create user: %w", store.ErrConflict))
	m.ObserveStore("sqlstore: record sign-in", time.Millisecond, store.ErrNotFound)
	m.ObserveStore("sqlstore: update user", time.Millisecond, fmt.Errorf("x: %w", context.Canceled))
	m.ObserveStore("sqlstore: update user", time.Millisecond, errors.New("disk I/O error"))
	m.Purged("sessions", 3)
	m.Purged("sessions", 2)
	m.Purged("assertions", 0)

	f := metricstest.Scrape(t, url)
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"onramp_http_request_duration_seconds", []string{"method", "GET", "route", "/saml/:org/:connection/metadata", "code", "200"}, 2},
		{"onramp_http_request_duration_seconds", []string{"method", "other", "route", "unmatched", "code", "404"}, 1},
		{"onramp_scim_requests_total", []string{"operation", "Users.create", "code", "201"}, 2},
		{"onramp_scim_requests_total", []string{"operation", "Users.create", "code", "409"}, 1},
		{"onramp_jit_decisions_total", []string{"outcome", "create", "rule", "jit_sso_connection"}, 1},
		{"onramp_saml_rejections_total", []string{"reason", "audience_mismatch"}, 1},
		{"onramp_store_operation_duration_seconds", []string{"operation", "create_user", "result", "ok"}, 1},
		{"onramp_store_operation_duration_seconds", []string{"operation", "create_user", "result", "conflict"}, 1},
		{"onramp_store_operation_duration_seconds", []string{"operation", "record_sign_in", "result", "not_found"}, 1},
		{"onramp_store_operation_duration_seconds", []string{"operation", "update_user", "result", "canceled"}, 1},
		{"onramp_store_operation_duration_seconds", []string{"operation", "update_user", "result", "error"}, 1},
		{"onramp_purged_total", []string{"what", "sessions"}, 5},
		{"onramp_purged_total", []string{"what", "assertions"}, 0},
	}
	for _, w := range want {
		got, ok := f.Value(t, w.name, w.labels...)
		if !ok || got != w.value {
			t.Errorf("%s%q = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
	if got := f.LabelValues("onramp_http_request_duration_seconds", "method"); fmt.Sprint(got) != "[GET other]" {
		t.Errorf("method labels = %q: a client's made-up method must not become a label value", got)
	}
	// The runtime and process collectors are registered too.
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total"} {
		if _, ok := f[name]; !ok {
			t.Errorf("no %s series", name)
		}
	}
}

func TestNewRegistersOnlyOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg, nil); err == nil {
		t.Error("a second New on one registry succeeded; its collectors would clash")
	}
	if _, err := metrics.New(nil, nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// Two Metrics on two registries do not share counts: nothing is global.
func TestRegistriesAreIndependent(t *testing.T) {
	a, urlA := serve(t)
	_, urlB := serve(t)
	a.SAMLRejected("replayed")
	if v, ok := metricstest.Scrape(t, urlA).Value(t, "onramp_saml_rejections_total", "reason", "replayed"); !ok || v != 1 {
		t.Errorf("registry A: %v %v, want 1", v, ok)
	}
	if _, ok := metricstest.Scrape(t, urlB).Value(t, "onramp_saml_rejections_total", "reason", "replayed"); ok {
		t.Error("registry B sees registry A's count")
	}
}
