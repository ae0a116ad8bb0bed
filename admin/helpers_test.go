package admin_test

import (
	"context"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func demote(t *testing.T, h *harness, role string) {
	t.Helper()
	if _, err := h.st.UpdateUser(context.Background(), h.acme.ID, h.adminUser.ID, func(u *store.User) error {
		u.Role = role
		return nil
	}, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

func deactivate(t *testing.T, h *harness) {
	t.Helper()
	if _, err := h.st.UpdateUser(context.Background(), h.acme.ID, h.adminUser.ID, func(u *store.User) error {
		u.Active = false
		return nil
	}, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}
