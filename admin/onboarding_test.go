package admin_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/admin"
)

// TestOnboardingValidation is a table of onboarding inputs: valid ones are
// saved normalised, invalid ones are refused field by field and save nothing.
func TestOnboardingValidation(t *testing.T) {
	h := newHarness(t)
	h.conn(t, h.acme, "entra")
	h.conn(t, h.other, "google") // another organization's connection

	type acl struct {
		EmailDomains   []string `json:"emailDomains,omitempty"`
		SSOConnections []string `json:"ssoConnections,omitempty"`
	}
	tests := []struct {
		name       string
		in         acl
		wantFields map[string]string // field → substring of its message; nil: valid
		wantSaved  acl
	}{
		{"normalised", acl{EmailDomains: []string{" Acme-Corp.COM. ", "acme-corp.com", "sub.acme.io"}, SSOConnections: []string{"okta", "entra", "okta"}},
			nil, acl{[]string{"acme-corp.com", "sub.acme.io"}, []string{"entra", "okta"}}},
		{"scheme", acl{EmailDomains: []string{"https://acme.com"}}, map[string]string{"accessControl.emailDomains[0]": "scheme"}, acl{}},
		{"email address", acl{EmailDomains: []string{"ok.com", "ann@acme.com"}}, map[string]string{"accessControl.emailDomains[1]": "email address"}, acl{}},
		{"not a DNS name", acl{EmailDomains: []string{"acme_corp.com"}}, map[string]string{"accessControl.emailDomains[0]": "DNS"}, acl{}},
		{"single label", acl{EmailDomains: []string{"localhost"}}, map[string]string{"accessControl.emailDomains[0]": "fully qualified"}, acl{}},
		{"port", acl{EmailDomains: []string{"acme.com:443"}}, map[string]string{"accessControl.emailDomains[0]": "port"}, acl{}},
		{"unknown connection", acl{SSOConnections: []string{"okta", "nope"}}, map[string]string{"accessControl.ssoConnections[1]": `"nope"`}, acl{}},
		{"another org's connection", acl{SSOConnections: []string{"google"}}, map[string]string{"accessControl.ssoConnections[0]": "not an SSO connection"}, acl{}},
		{"every problem at once", acl{EmailDomains: []string{"a@b.com", "fine.com", "x"}, SSOConnections: []string{"zz"}},
			map[string]string{"accessControl.emailDomains[0]": "email", "accessControl.emailDomains[2]": "qualified", "accessControl.ssoConnections[0]": "zz"}, acl{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from a known state.
			h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/onboarding", map[string]any{"jit": map[string]bool{}, "accessControl": acl{}}).want(t, http.StatusOK)
			before := h.getOrg(t, h.acme)
			events := len(h.events(t, h.acme, admin.AuditOnboardingUpdated))

			r := h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/onboarding", map[string]any{
				"jit": map[string]bool{"emailDomains": true, "ssoConnections": true}, "accessControl": tt.in,
			})
			if tt.wantFields == nil {
				r.want(t, http.StatusOK)
				var got admin.Onboarding
				r.decode(t, &got)
				if !got.JIT.EmailDomains || !got.JIT.SSOConnections || !slices.Equal(got.AccessControl.EmailDomains, tt.wantSaved.EmailDomains) ||
					!slices.Equal(got.AccessControl.SSOConnections, tt.wantSaved.SSOConnections) {
					t.Errorf("answer %+v, want %+v", got, tt.wantSaved)
				}
				if r.header.Get("ETag") != `"`+got.Version+`"` {
					t.Errorf("ETag %q, version %q", r.header.Get("ETag"), got.Version)
				}
				o := h.getOrg(t, h.acme)
				if !slices.Equal(o.Access.EmailDomains, tt.wantSaved.EmailDomains) || !slices.Equal(o.Access.SSOConnections, tt.wantSaved.SSOConnections) {
					t.Errorf("stored %+v", o.Access)
				}
				evs := h.events(t, h.acme, admin.AuditOnboardingUpdated)
				if len(evs) != events+1 || evs[0].Actor != h.actorOf(t, h.adminToken) ||
					evs[0].Detail["accessControl.emailDomains"] != strings.Join(tt.wantSaved.EmailDomains, ",") {
					t.Errorf("audit events %+v", evs)
				}
				return
			}
			r.want(t, http.StatusBadRequest)
			e := r.errorBody(t)
			if len(e.Fields) != len(tt.wantFields) {
				t.Errorf("fields %v, want %v", e.Fields, tt.wantFields)
			}
			for f, sub := range tt.wantFields {
				if !strings.Contains(e.Fields[f], sub) {
					t.Errorf("field %s: %q, want it to mention %q (all: %v)", f, e.Fields[f], sub, e.Fields)
				}
			}
			// Nothing partial: neither the valid parts nor the switches.
			if o := h.getOrg(t, h.acme); o.Onboarding != before.Onboarding || !o.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("refused input changed the organization: %+v", o)
			}
			if n := len(h.events(t, h.acme, admin.AuditOnboardingUpdated)); n != events {
				t.Errorf("refused input wrote %d audit events", n-events)
			}
		})
	}
}

// TestOnboardingUnchangedWritesNothing checks that a PUT of the current
// settings records no change.
func TestOnboardingUnchangedWritesNothing(t *testing.T) {
	h := newHarness(t)
	body := map[string]any{"jit": map[string]bool{"emailDomains": true}, "accessControl": map[string]any{"emailDomains": []string{"acme.com"}}}
	var first, second admin.Onboarding
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/onboarding", body).want(t, http.StatusOK).decode(t, &first)
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/onboarding", body).want(t, http.StatusOK).decode(t, &second)
	if first.Version != second.Version {
		t.Errorf("version changed from %s to %s on an unchanged PUT", first.Version, second.Version)
	}
	if n := len(h.events(t, h.acme, admin.AuditOnboardingUpdated)); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// TestIfMatch checks optimistic concurrency on the onboarding settings.
func TestIfMatch(t *testing.T) {
	h := newHarness(t)
	var cur admin.Onboarding
	r := h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/onboarding", nil).want(t, http.StatusOK)
	r.decode(t, &cur)
	etag := r.header.Get("ETag")
	body := map[string]any{"jit": map[string]bool{"emailDomains": true}, "accessControl": map[string]any{}}
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/onboarding", body, "If-Match", etag).want(t, http.StatusOK)
	// The same ETag is stale now.
	stale := map[string]any{"jit": map[string]bool{"ssoConnections": true}, "accessControl": map[string]any{}}
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/onboarding", stale, "If-Match", etag).want(t, http.StatusPreconditionFailed)
	if o := h.getOrg(t, h.acme); o.Onboarding.JITSSOConnections || !o.Onboarding.JITEmailDomains {
		t.Errorf("stale write applied: %+v", o.Onboarding)
	}
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/onboarding", stale, "If-Match", "*").want(t, http.StatusOK)
}

// TestAccessControlResource checks the access control list on its own.
func TestAccessControlResource(t *testing.T) {
	h := newHarness(t)
	h.do(t, h.adminSession, http.MethodPut, "/orgs/acme/onboarding", map[string]any{"jit": map[string]bool{"emailDomains": true}, "accessControl": map[string]any{}}).want(t, http.StatusOK)
	r := h.do(t, h.adminSession, http.MethodPut, "/orgs/acme/access-control", map[string]any{"emailDomains": []string{"ACME.com"}, "ssoConnections": []string{"okta"}}).want(t, http.StatusOK)
	var got struct {
		admin.AccessControl
		Version string
	}
	r.decode(t, &got)
	if !slices.Equal(got.EmailDomains, []string{"acme.com"}) || !slices.Equal(got.SSOConnections, []string{"okta"}) {
		t.Errorf("answer %+v", got)
	}
	if !h.getOrg(t, h.acme).Onboarding.JITEmailDomains {
		t.Error("PUT access-control changed the JIT switches")
	}
	evs := h.events(t, h.acme, admin.AuditAccessControlUpdated)
	if len(evs) != 1 || evs[0].Actor != "user:"+string(h.adminUser.ID) {
		t.Errorf("events %+v", evs)
	}
	r = h.do(t, h.adminSession, http.MethodPut, "/orgs/acme/access-control", map[string]any{"ssoConnections": []string{"ghost"}}).want(t, http.StatusBadRequest)
	if e := r.errorBody(t); !strings.Contains(e.Fields["ssoConnections[0]"], "ghost") {
		t.Errorf("fields %v", e.Fields)
	}
}
