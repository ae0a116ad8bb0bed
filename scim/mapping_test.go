package scim

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// twoEmails is a user with a work address and a different address flagged
// primary: the Entra and Okta presets pick different ones.
func twoEmails(userName string) map[string]any {
	return map[string]any{
		"schemas":  []string{UserSchemaURI},
		"userName": userName,
		"name":     map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails": []any{
			map[string]any{"value": "ada.home@example.net", "type": "home", "primary": true},
			map[string]any{"value": "ada@contoso.com", "type": "work"},
		},
	}
}

func (h *harness) storedUser(tf tenantFixture, id string) store.User {
	h.t.Helper()
	u, err := h.st.GetUser(context.Background(), tf.org, store.UserID(id))
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

func (h *harness) createBody(tf tenantFixture, body map[string]any) string {
	h.t.Helper()
	r := h.do(tf.token, http.MethodPost, "/Users", body)
	if r.status != http.StatusCreated {
		h.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.json(h.t)["id"].(string)
}

func TestMappingPicksTheEmailPerPreset(t *testing.T) {
	h := newHarness(t)
	entra := h.newTenantWithPreset("contoso", "entra")
	okta := h.newTenantWithPreset("initech", "okta")

	// Entra's preset reads emails[type eq "work"].value first (its default
	// mapping sends mail there), Okta's emails[primary eq true].value.
	for _, tt := range []struct {
		name string
		tf   tenantFixture
		want string
	}{
		{"entra", entra, "ada@contoso.com"},
		{"okta", okta, "ada.home@example.net"},
	} {
		id := h.createBody(tt.tf, twoEmails("ada@"+tt.name+".example"))
		u := h.storedUser(tt.tf, id)
		if got := u.PrimaryEmail(); got != tt.want {
			t.Errorf("%s: email = %q, want %q (emails %+v)", tt.name, got, tt.want, u.Emails)
		}
		if u.GivenName != "Ada" || u.FamilyName != "Lovelace" || u.DisplayName != "Ada Lovelace" {
			t.Errorf("%s: names %q %q %q", tt.name, u.GivenName, u.FamilyName, u.DisplayName)
		}
		if u.UserName != "ada@"+tt.name+".example" || !u.Active || u.Role != "Member" {
			t.Errorf("%s: userName %q active %v role %q", tt.name, u.UserName, u.Active, u.Role)
		}
		// Every address stays in the store for filters, whichever is the email.
		for _, addr := range []string{"ada.home@example.net", "ada@contoso.com"} {
			r := h.do(tt.tf.token, http.MethodGet, `/Users?filter=emails.value+eq+"`+addr+`"`, nil)
			if r.status != http.StatusOK || r.json(t)["totalResults"] != float64(1) {
				t.Errorf("%s: filter on %s: %d %s", tt.name, addr, r.status, r.body)
			}
		}
		// GET returns what the IdP sent, not the rearranged list.
		r := h.do(tt.tf.token, http.MethodGet, "/Users/"+id, nil)
		emails := r.json(t)["emails"].([]any)
		if first := emails[0].(map[string]any); first["value"] != "ada.home@example.net" || first["primary"] != true {
			t.Errorf("%s: GET emails = %v, want them as sent", tt.name, emails)
		}
	}
}

func TestMappingNeverRejectsAPush(t *testing.T) {
	h := newHarness(t)
	okta := h.newTenantWithPreset("initech", "okta")
	// No email anywhere: the okta preset's required email finds nothing (its
	// userName fallback is not an address), and SCIM only requires userName.
	id := h.createBody(okta, map[string]any{"schemas": []string{UserSchemaURI}, "userName": "jdoe"})
	u := h.storedUser(okta, id)
	if u.UserName != "jdoe" || u.PrimaryEmail() != "" || len(u.Emails) != 0 {
		t.Errorf("user = %+v, want jdoe without email", u)
	}
	// The Okta deactivation still goes through.
	r := h.do(okta.token, http.MethodPatch, "/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
	})
	if r.status != http.StatusOK || h.storedUser(okta, id).Active {
		t.Fatalf("deactivate: %d %s", r.status, r.body)
	}
}

func TestMappingFallbackEmailIsTheAccountsEmail(t *testing.T) {
	h := newHarness(t)
	entra := h.newTenantWithPreset("contoso", "entra")
	// An Entra user without a mailbox: no emails, the UPN as userName. The
	// preset falls back to userName, as its SAML side falls back to the UPN.
	id := h.createBody(entra, map[string]any{"schemas": []string{UserSchemaURI}, "userName": "grace@contoso.com"})
	u := h.storedUser(entra, id)
	if u.PrimaryEmail() != "grace@contoso.com" {
		t.Errorf("email = %q (emails %+v), want the UPN", u.PrimaryEmail(), u.Emails)
	}
}

func TestMappingChangesAreSeenAfterTheRecheck(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	h := newHarness(t, harnessOptions{now: clock.now})
	tf := h.newTenantWithPreset("contoso", "entra")
	id := h.createBody(tf, twoEmails("ada@contoso.com"))
	if got := h.storedUser(tf, id).PrimaryEmail(); got != "ada@contoso.com" {
		t.Fatalf("email = %q", got)
	}

	// The Admin overrides the email rule and adds a custom field and a role
	// rule fed by the SCIM roles attribute.
	ctx := context.Background()
	_, err := h.st.UpdateConnection(ctx, tf.conn, func(c *store.Connection) error {
		c.Mapping = []byte(`{
			"email": {"scim": ["emails[type eq \"home\"].value"]},
			"groups": {"scim": ["roles.value"]},
			"roleRules": [{"group": "it-admins", "role": "admin"}],
			"custom": {"costCenter": {"scim": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"]}}
		}`)
		return nil
	}, store.AuditEvent{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rename := func(name string) {
		t.Helper()
		r := h.do(tf.token, http.MethodPatch, "/Users/"+id, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{
				map[string]any{"op": "replace", "path": "displayName", "value": name},
				map[string]any{"op": "add", "path": "roles", "value": []any{map[string]any{"value": "it-admins"}}},
				map[string]any{"op": "add", "path": EnterpriseUserSchemaURI + ":costCenter", "value": "4130"},
			},
		})
		if r.status != http.StatusOK {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
	}

	// Within the recheck interval the cached mapping still applies.
	rename("Ada L.")
	if u := h.storedUser(tf, id); u.PrimaryEmail() != "ada@contoso.com" || u.Role != "Member" || len(u.Custom) != 0 {
		t.Errorf("before the recheck: email %q role %q custom %v, want the old mapping", u.PrimaryEmail(), u.Role, u.Custom)
	}

	clock.advance(DefaultMappingRecheck + time.Millisecond)
	rename("Ada Lovelace")
	u := h.storedUser(tf, id)
	if u.PrimaryEmail() != "ada.home@example.net" {
		t.Errorf("after the recheck: email = %q, want the home address (emails %+v)", u.PrimaryEmail(), u.Emails)
	}
	if u.Role != "Admin" || u.Custom["costCenter"] != "4130" {
		t.Errorf("after the recheck: role %q custom %v, want Admin and costCenter 4130", u.Role, u.Custom)
	}
	if u.DisplayName != "Ada Lovelace" {
		t.Errorf("displayName = %q", u.DisplayName)
	}
}

func TestBrokenMappingFallsBackAndLogs(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	h := newHarness(t, harnessOptions{now: clock.now})
	tf := h.newTenantWithPreset("contoso", "entra")
	id := h.createBody(tf, twoEmails("ada@contoso.com"))

	_, err := h.st.UpdateConnection(context.Background(), tf.conn, func(c *store.Connection) error {
		c.MappingPreset = "no-such-preset"
		return nil
	}, store.AuditEvent{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(DefaultMappingRecheck + time.Millisecond)
	r := h.do(tf.token, http.MethodPatch, "/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
	})
	if r.status != http.StatusOK {
		t.Fatalf("deactivate with a broken mapping: %d %s", r.status, r.body)
	}
	u := h.storedUser(tf, id)
	if u.Active {
		t.Error("user still active")
	}
	// The generic preset reads emails[primary eq true] first.
	if u.PrimaryEmail() != "ada.home@example.net" {
		t.Errorf("email = %q, want the generic preset's pick", u.PrimaryEmail())
	}
	if !strings.Contains(h.logs.String(), "does not resolve") {
		t.Errorf("the broken mapping was not logged:\n%s", h.logs.String())
	}
}

func TestAccountEmails(t *testing.T) {
	work := store.Email{Value: "w@x.com", Type: "work"}
	home := store.Email{Value: "h@x.com", Type: "home", Primary: true}
	other := store.Email{Value: "o@x.com", Type: "other"}
	tests := []struct {
		name   string
		in     []store.Email
		mapped string
		want   []store.Email
	}{
		{"no mapped email", []store.Email{work, home}, "", []store.Email{work, home}},
		{"mapped is the primary", []store.Email{work, home}, "h@x.com", []store.Email{home, work}},
		{"mapped is not flagged, another is", []store.Email{home, work}, "w@x.com",
			[]store.Email{{Value: "w@x.com", Type: "work", Primary: true}, home}},
		{"none flagged: order alone", []store.Email{other, work}, "W@X.com", []store.Email{work, other}},
		{"mapped not in the list", []store.Email{other}, "upn@x.com", []store.Email{{Value: "upn@x.com"}, other}},
		{"mapped not in the list, one flagged", []store.Email{home}, "upn@x.com",
			[]store.Email{{Value: "upn@x.com", Primary: true}, home}},
		{"empty list", nil, "upn@x.com", []store.Email{{Value: "upn@x.com"}}},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		got := accountEmails(in, tt.mapped)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: accountEmails = %+v, want %+v", tt.name, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("%s: accountEmails modified its input: %+v", tt.name, in)
		}
		if tt.mapped != "" && !strings.EqualFold((store.User{Emails: got}).PrimaryEmail(), tt.mapped) {
			t.Errorf("%s: PrimaryEmail = %q, want the mapped %q", tt.name, (store.User{Emails: got}).PrimaryEmail(), tt.mapped)
		}
	}
}
