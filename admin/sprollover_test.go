package admin_test

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/store"
)

const spCertsPath = "/orgs/acme/connections/okta/sp-certificates"

// spCerts is the answer of the sp-certificates routes.
type spCerts struct {
	Certificates []admin.SPCertificate `json:"certificates"`
	Rollover     string                `json:"rollover"`
}

func (r response) spCerts(t *testing.T) spCerts {
	t.Helper()
	var s spCerts
	r.decode(t, &s)
	return s
}

// roles lists the certificates' roles in order, e.g. "active,incoming".
func (s spCerts) roles() string {
	var out []string
	for _, c := range s.Certificates {
		out = append(out, c.Role)
	}
	return strings.Join(out, ",")
}

// der is the base64 DER of a PEM certificate, as metadata carries it.
func der(t *testing.T, certPEM string) string {
	t.Helper()
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		t.Fatalf("not a PEM certificate: %q", certPEM)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes)
}

// metadataCerts downloads the connection's SP metadata from the admin API
// and returns the certificates of its signing and of its encryption key
// descriptors (base64 DER), in document order.
func metadataCerts(t *testing.T, h *harness) (signing, encryption []string) {
	t.Helper()
	r := h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/okta/sp-metadata", nil).want(t, http.StatusOK)
	var md struct {
		SP struct {
			KeyDescriptors []struct {
				Use  string `xml:"use,attr"`
				Cert string `xml:"KeyInfo>X509Data>X509Certificate"`
			} `xml:"KeyDescriptor"`
		} `xml:"SPSSODescriptor"`
	}
	if err := xml.Unmarshal(r.body, &md); err != nil {
		t.Fatalf("SP metadata: %v\n%s", err, r.body)
	}
	for _, kd := range md.SP.KeyDescriptors {
		c := strings.Join(strings.Fields(kd.Cert), "")
		switch kd.Use {
		case "signing":
			signing = append(signing, c)
		case "encryption":
			encryption = append(encryption, c)
		default:
			t.Errorf("KeyDescriptor use %q", kd.Use)
		}
	}
	return signing, encryption
}

// wantMetadata checks that the SP metadata publishes exactly certs (PEM), in
// this order, for signing and for encryption.
func wantMetadata(t *testing.T, h *harness, certs ...string) {
	t.Helper()
	var want []string
	for _, c := range certs {
		want = append(want, der(t, c))
	}
	signing, encryption := metadataCerts(t, h)
	if strings.Join(signing, ",") != strings.Join(want, ",") || strings.Join(encryption, ",") != strings.Join(want, ",") {
		t.Errorf("SP metadata publishes %d signing and %d encryption certificates, want these %d (in order)", len(signing), len(encryption), len(want))
	}
}

func (h *harness) stored(t *testing.T, id store.ConnectionID) store.Connection {
	t.Helper()
	c, err := h.st.GetConnection(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSPCertificateRollover walks the three steps (and a cancelled
// rollover), checking the answers, the stored key pairs, the SP metadata and
// the audit events after each, and every step that the state refuses.
func TestSPCertificateRollover(t *testing.T) {
	h := newHarness(t)
	// okta was made without a key pair (as `onramp apply` makes it).
	s := h.do(t, h.adminToken, http.MethodGet, spCertsPath, nil).want(t, http.StatusOK).spCerts(t)
	if len(s.Certificates) != 0 || s.Rollover != admin.RolloverNone {
		t.Fatalf("before any key pair: %+v", s)
	}
	// Downloading the metadata makes the first pair.
	wantMetadataCount(t, h, 1)
	s = h.do(t, h.adminToken, http.MethodGet, spCertsPath, nil).want(t, http.StatusOK).spCerts(t)
	if s.roles() != "active" || s.Rollover != admin.RolloverNone {
		t.Fatalf("after the metadata download: %s, rollover %s", s.roles(), s.Rollover)
	}
	original := s.Certificates[0]
	if original.PEM != h.stored(t, h.okta.ID).SPCertPEM || len(original.SHA256) != 32*3-1 || original.Subject == "" ||
		!original.NotAfter.After(original.NotBefore) {
		t.Fatalf("active certificate %+v", original)
	}

	// Step 1, by an Admin's browser session.
	r := h.do(t, h.adminSession, http.MethodPost, spCertsPath+"/rollover", nil).want(t, http.StatusCreated)
	if loc := r.header.Get("Location"); loc != admin.Prefix+spCertsPath {
		t.Errorf("Location %q", loc)
	}
	s = r.spCerts(t)
	if s.roles() != "active,incoming" || s.Rollover != admin.RolloverStarted || s.Certificates[0].SHA256 != original.SHA256 {
		t.Fatalf("after start: %s, rollover %s", s.roles(), s.Rollover)
	}
	incoming := s.Certificates[1]
	if incoming.SHA256 == original.SHA256 || !incoming.NotBefore.After(original.NotBefore) {
		t.Fatalf("incoming certificate %+v", incoming)
	}
	if c := h.stored(t, h.okta.ID); c.SPCertPEM != original.PEM || c.SPNextCertPEM != incoming.PEM || c.SPNextKeyPEM == "" {
		t.Fatal("stored key pairs after start are not the active and the incoming one")
	}
	wantMetadata(t, h, original.PEM, incoming.PEM)
	evs := h.events(t, h.acme, admin.AuditSPRolloverStarted)
	if len(evs) != 1 || evs[0].Actor != h.actorOf(t, h.adminSession) || evs[0].ConnectionID != h.okta.ID ||
		evs[0].Detail["before.active"] != original.SHA256 || evs[0].Detail["after.incoming"] != incoming.SHA256 || evs[0].Detail["rollover"] != "started" {
		t.Fatalf("start events %+v", evs)
	}
	// GET says the same.
	if got := h.do(t, h.adminToken, http.MethodGet, spCertsPath, nil).want(t, http.StatusOK).spCerts(t); got.roles() != "active,incoming" || got.Rollover != "started" {
		t.Fatalf("GET after start: %+v", got)
	}

	// A second start is refused with words that say why.
	e := h.do(t, h.adminToken, http.MethodPost, spCertsPath+"/rollover", nil).want(t, http.StatusConflict).errorBody(t)
	if !strings.Contains(e.Error, "under way") || !strings.Contains(e.Error, "Activate it, or cancel") || e.RequestID == "" {
		t.Errorf("409 of a second start: %+v", e)
	}

	// Step 2: the incoming certificate becomes the active one.
	s = h.do(t, h.adminToken, http.MethodPost, spCertsPath+"/activate", nil).want(t, http.StatusOK).spCerts(t)
	if s.roles() != "active,outgoing" || s.Rollover != admin.RolloverActivated ||
		s.Certificates[0].SHA256 != incoming.SHA256 || s.Certificates[1].SHA256 != original.SHA256 {
		t.Fatalf("after activate: %+v", s)
	}
	if c := h.stored(t, h.okta.ID); c.SPCertPEM != incoming.PEM || c.SPNextCertPEM != original.PEM {
		t.Fatal("after activate the stored active pair is not the one that was incoming")
	}
	wantMetadata(t, h, incoming.PEM, original.PEM)
	evs = h.events(t, h.acme, admin.AuditSPCertificateActivated)
	if len(evs) != 1 || evs[0].Actor != h.actorOf(t, h.adminToken) || evs[0].Detail["after.active"] != incoming.SHA256 ||
		evs[0].Detail["after.outgoing"] != original.SHA256 || evs[0].Detail["rollover"] != "activated" {
		t.Fatalf("activate events %+v", evs)
	}
	e = h.do(t, h.adminToken, http.MethodPost, spCertsPath+"/activate", nil).want(t, http.StatusConflict).errorBody(t)
	if !strings.Contains(e.Error, "active already") {
		t.Errorf("409 of a second activate: %q", e.Error)
	}
	e = h.do(t, h.adminToken, http.MethodPost, spCertsPath+"/rollover", nil).want(t, http.StatusConflict).errorBody(t)
	if !strings.Contains(e.Error, "Finish the rollover") {
		t.Errorf("409 of a start after activate: %q", e.Error)
	}
	if c := h.stored(t, h.okta.ID); c.SPCertPEM != incoming.PEM || c.SPNextCertPEM != original.PEM {
		t.Fatal("a refused step changed the key pairs")
	}

	// Step 3: the old certificate goes.
	s = h.do(t, h.adminSession, http.MethodDelete, spCertsPath+"/rollover", nil).want(t, http.StatusOK).spCerts(t)
	if s.roles() != "active" || s.Rollover != admin.RolloverNone || s.Certificates[0].SHA256 != incoming.SHA256 {
		t.Fatalf("after finish: %+v", s)
	}
	if c := h.stored(t, h.okta.ID); c.SPCertPEM != incoming.PEM || c.SPNextCertPEM != "" || c.SPNextKeyPEM != "" {
		t.Fatal("after finish the stored pairs are not the new one alone")
	}
	wantMetadata(t, h, incoming.PEM)
	evs = h.events(t, h.acme, admin.AuditSPRolloverFinished)
	if len(evs) != 1 || evs[0].Actor != h.actorOf(t, h.adminSession) || evs[0].Detail["before.outgoing"] != original.SHA256 || evs[0].Detail["rollover"] != "none" {
		t.Fatalf("finish events %+v", evs)
	}

	// Nothing to activate or finish now.
	for _, step := range []struct{ method, path, want string }{
		{http.MethodDelete, "/rollover", "no second certificate"},
		{http.MethodPost, "/activate", "Start a rollover first"},
	} {
		e = h.do(t, h.adminToken, step.method, spCertsPath+step.path, nil).want(t, http.StatusConflict).errorBody(t)
		if !strings.Contains(e.Error, "No SP certificate rollover is under way") || !strings.Contains(e.Error, step.want) {
			t.Errorf("%s %s without a rollover: %q", step.method, step.path, e.Error)
		}
	}

	// A rollover cancelled before activation leaves the active pair alone.
	s = h.do(t, h.adminToken, http.MethodPost, spCertsPath+"/rollover", nil).want(t, http.StatusCreated).spCerts(t)
	if s.roles() != "active,incoming" || s.Certificates[0].SHA256 != incoming.SHA256 {
		t.Fatalf("second rollover: %+v", s)
	}
	cancelled := s.Certificates[1]
	s = h.do(t, h.adminToken, http.MethodDelete, spCertsPath+"/rollover", nil).want(t, http.StatusOK).spCerts(t)
	if s.roles() != "active" || s.Certificates[0].SHA256 != incoming.SHA256 {
		t.Fatalf("after cancel: %+v", s)
	}
	wantMetadata(t, h, incoming.PEM)
	evs = h.events(t, h.acme, admin.AuditSPRolloverCancelled)
	if len(evs) != 1 || evs[0].Detail["before.incoming"] != cancelled.SHA256 {
		t.Fatalf("cancel events %+v", evs)
	}

	// One event per step, and none for the refused ones.
	var n int
	for _, action := range []string{admin.AuditSPRolloverStarted, admin.AuditSPCertificateActivated, admin.AuditSPRolloverFinished, admin.AuditSPRolloverCancelled} {
		n += len(h.events(t, h.acme, action))
	}
	if n != 5 {
		t.Errorf("%d rollover events, want 5 (start, activate, finish, start, cancel)", n)
	}

	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/nope/sp-certificates", nil).want(t, http.StatusNotFound)
	h.do(t, h.adminToken, http.MethodPost, "/orgs/acme/connections/nope/sp-certificates/rollover", nil).want(t, http.StatusNotFound)
}

// wantMetadataCount checks how many certificates the SP metadata publishes.
func wantMetadataCount(t *testing.T, h *harness, n int) {
	t.Helper()
	signing, encryption := metadataCerts(t, h)
	if len(signing) != n || len(encryption) != n {
		t.Fatalf("SP metadata publishes %d signing and %d encryption certificates, want %d", len(signing), len(encryption), n)
	}
}

// TestSPRolloverMakesTheFirstKeyPair starts a rollover on a connection that
// has no key pair yet: it gets an active and an incoming one in one write,
// audited once.
func TestSPRolloverMakesTheFirstKeyPair(t *testing.T) {
	h := newHarness(t)
	s := h.do(t, h.adminToken, http.MethodPost, spCertsPath+"/rollover", nil).want(t, http.StatusCreated).spCerts(t)
	if s.roles() != "active,incoming" || s.Rollover != admin.RolloverStarted {
		t.Fatalf("rollover of a connection without a key pair: %+v", s)
	}
	c := h.stored(t, h.okta.ID)
	if c.SPCertPEM != s.Certificates[0].PEM || c.SPKeyPEM == "" || c.SPNextCertPEM != s.Certificates[1].PEM {
		t.Fatal("stored pairs are not the ones answered")
	}
	evs := h.events(t, h.acme, "")
	var rollover int
	for _, ev := range evs {
		if ev.ConnectionID == h.okta.ID && ev.Actor != "operator" { // the harness made the connection and a SCIM token
			rollover++
			if ev.Action != admin.AuditSPRolloverStarted || ev.Detail["before.active"] != "" || ev.Detail["after.active"] != s.Certificates[0].SHA256 {
				t.Errorf("event %+v", ev)
			}
		}
	}
	if rollover != 1 {
		t.Errorf("%d events for the start, want 1", rollover)
	}
	wantMetadata(t, h, s.Certificates[0].PEM, s.Certificates[1].PEM)
}

// TestSPRolloverAuthorization checks that only the organization's Admins
// take the steps (and see the certificates), and that a refused caller
// changes nothing.
func TestSPRolloverAuthorization(t *testing.T) {
	h := newHarness(t)
	noCSRF := h.adminSession
	noCSRF.name, noCSRF.csrf = "admin session without the CSRF token", false
	steps := []struct{ method, path string }{
		{http.MethodGet, ""}, {http.MethodPost, "/rollover"}, {http.MethodPost, "/activate"}, {http.MethodDelete, "/rollover"},
	}
	tests := []struct {
		c      cred
		org    string
		status int
	}{
		{h.none, "acme", http.StatusUnauthorized},
		{h.revokedToken, "acme", http.StatusUnauthorized},
		{h.scimToken, "acme", http.StatusForbidden},
		{h.memberSession, "acme", http.StatusForbidden},
		{h.otherAdminToken, "acme", http.StatusNotFound},
		{h.otherAdminSession, "acme", http.StatusNotFound},
		{h.adminToken, "other", http.StatusNotFound},
		{noCSRF, "acme", http.StatusForbidden},
	}
	for _, tt := range tests {
		for _, st := range steps {
			if tt.c.name == noCSRF.name && st.method == http.MethodGet {
				continue // safe methods need no CSRF token
			}
			path := "/orgs/" + tt.org + "/connections/okta/sp-certificates" + st.path
			if r := h.do(t, tt.c, st.method, path, nil); r.status != tt.status {
				t.Errorf("%s: %s %s: %d, want %d (%s)", tt.c.name, st.method, path, r.status, tt.status, r.body)
			}
		}
	}
	if c := h.stored(t, h.okta.ID); c.SPCertPEM != "" || c.SPNextCertPEM != "" {
		t.Fatal("a refused caller made key pairs")
	}
	for _, action := range []string{admin.AuditSPRolloverStarted, admin.AuditSPCertificateActivated, admin.AuditSPRolloverFinished, admin.AuditSPRolloverCancelled} {
		if evs := h.events(t, h.acme, action); len(evs) != 0 {
			t.Errorf("refused callers wrote %s events: %+v", action, evs)
		}
	}
}

// TestSPRolloverRace has two Admins press the same button at once: one step
// is taken, the other Admin gets a 409 and nothing is written for them.
func TestSPRolloverRace(t *testing.T) {
	h := newHarness(t)
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/okta/sp-metadata", nil).want(t, http.StatusOK)
	for _, step := range []struct {
		method, path string
		ok           int
		action       string
	}{
		{http.MethodPost, "/rollover", http.StatusCreated, admin.AuditSPRolloverStarted},
		{http.MethodPost, "/activate", http.StatusOK, admin.AuditSPCertificateActivated},
		{http.MethodDelete, "/rollover", http.StatusOK, admin.AuditSPRolloverFinished},
	} {
		const n = 4
		var wg sync.WaitGroup
		codes := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := http.NewRequestWithContext(t.Context(), step.method, h.url+admin.Prefix+spCertsPath+step.path, nil)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", "Bearer "+h.adminToken.bearer)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		var ok, conflicts int
		for _, c := range codes {
			switch c {
			case step.ok:
				ok++
			case http.StatusConflict:
				conflicts++
			}
		}
		if ok != 1 || conflicts != n-1 {
			t.Errorf("%s %s by %d Admins at once: %v, want one %d and %d× 409", step.method, step.path, n, codes, step.ok, n-1)
		}
		if evs := h.events(t, h.acme, step.action); len(evs) != 1 {
			t.Errorf("%s: %d events, want 1", step.action, len(evs))
		}
	}
}
