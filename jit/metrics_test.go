package jit

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/onramp-dev/onramp/jit/samltest"
)

// countingMetrics records what the handler reports.
type countingMetrics struct {
	mu        sync.Mutex
	decisions []string // outcome/rule
	rejected  []string // reason
	specs     []string // speculation outcomes
}

func (m *countingMetrics) Speculation(outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.specs = append(m.specs, outcome)
}

func (m *countingMetrics) JITDecision(outcome, rule string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.decisions = append(m.decisions, outcome+"/"+rule)
}

func (m *countingMetrics) SAMLRejected(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rejected = append(m.rejected, reason)
}

func (m *countingMetrics) snapshot() (decisions, rejected []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.decisions), slices.Clone(m.rejected)
}

func TestHandler_Metrics(t *testing.T) {
	s := newSite(t, jitBySSO())
	m := &countingMetrics{}
	s.h.metrics = m

	// Created, then signed in through the linked identity.
	for range 2 {
		if res, body := s.signIn(t, s.newBrowser(t), "", samltest.Login{User: alice()}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %s %s", res.Status, body)
		}
	}
	// Unsolicited, which the connection does not allow: rejected.
	resp := s.idp.IdPInitiated(t, s.srv.URL+"/saml/acme/okta/metadata", "", samltest.Login{User: alice()})
	res, body := s.post(t, s.newBrowser(t), resp, "")
	wantPage(t, res, body, http.StatusForbidden, ReasonIdPInitiatedNotAllowed)
	// No email: a refusal by the mapping.
	u := samltest.User{NameID: "00u1bob", Attributes: map[string][]string{"firstName": {"Bob"}}}
	res, body = s.signIn(t, s.newBrowser(t), "", samltest.Login{User: u})
	wantPage(t, res, body, http.StatusBadRequest, RuleAttributeMissing)

	decisions, rejected := m.snapshot()
	wantDecisions := []string{"create/" + RuleJITSSOConnection, "sign_in/" + RuleLinkedIdentity, "refuse/" + RuleAttributeMissing}
	if !slices.Equal(decisions, wantDecisions) {
		t.Errorf("decisions %q, want %q", decisions, wantDecisions)
	}
	if want := []string{ReasonIdPInitiatedNotAllowed}; !slices.Equal(rejected, want) {
		t.Errorf("rejections %q, want %q", rejected, want)
	}
	// One browser at a time: every sign-in is speculated on, and the store
	// is idle, so every one held for its verdict is the sign-in (the
	// mapping's refusal too), unless it was late; the rejected one is
	// abandoned.
	m.mu.Lock()
	specs := slices.Clone(m.specs)
	m.mu.Unlock()
	if len(specs) != 4 || !speculatedOK(specs[0]) || !speculatedOK(specs[1]) || specs[2] != SpeculationAbandoned || !speculatedOK(specs[3]) {
		t.Errorf("speculations %q, want committed (or late) but the third, abandoned", specs)
	}
}
