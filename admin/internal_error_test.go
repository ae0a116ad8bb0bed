package admin_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestInternalErrorHidesCause forces a store failure (the store is closed
// under the server) and checks that the client sees only a reference while
// the log has the cause under the same request ID.
func TestInternalErrorHidesCause(t *testing.T) {
	h := newHarness(t)
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	r := h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/onboarding", nil).want(t, http.StatusInternalServerError)
	e := r.errorBody(t)
	if e.RequestID == "" || e.Error != "internal error, reference "+e.RequestID || len(e.Fields) != 0 {
		t.Errorf("500 body %s", r.body)
	}
	for _, leak := range []string{"sql", "closed", "sqlite", "store:"} {
		if strings.Contains(strings.ToLower(string(r.body)), leak) {
			t.Errorf("500 body %s leaks %q", r.body, leak)
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, e.RequestID) || !strings.Contains(logs, "closed") {
		t.Errorf("the log lacks the cause under request %s:\n%s", e.RequestID, logs)
	}
	if strings.Contains(logs, h.adminToken.bearer) {
		t.Error("the log has the bearer token")
	}
}
