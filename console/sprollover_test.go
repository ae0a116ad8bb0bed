package console_test

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

const oktaPage = "/admin/acme/sso/okta"

// giveKeyPair stores a first SP key pair on the harness's okta connection
// (made without one, as `onramp apply` makes connections).
func (h *harness) giveKeyPair(t *testing.T) {
	t.Helper()
	certPEM, keyPEM, err := jit.NewSPKeyPair(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.UpdateConnection(context.Background(), h.okta.ID, func(c *store.Connection) error {
		c.SPCertPEM, c.SPKeyPEM = certPEM, keyPEM
		return nil
	}, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// stored reads okta as it is stored.
func (h *harness) stored(t *testing.T) store.Connection {
	t.Helper()
	c, err := h.st.GetConnection(context.Background(), h.okta.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// certRow is a row of the page's SP certificate table.
type certRow struct{ role, fingerprint, download string }

// certRows reads the SP certificate table of a connection's page.
func certRows(p page) []certRow {
	var rows []certRow
	tbody := find(p.byID("sp-certificates"), func(n *html.Node) bool { return n.Data == "tbody" })
	if tbody == nil {
		return nil
	}
	for tr := tbody.FirstChild; tr != nil; tr = tr.NextSibling {
		if tr.Type != html.ElementNode || tr.Data != "tr" {
			continue
		}
		rows = append(rows, certRow{
			role:        text(find(tr, func(n *html.Node) bool { return n.Data == "th" })),
			fingerprint: text(find(tr, func(n *html.Node) bool { return n.Data == "code" })),
			download:    attr(find(tr, func(n *html.Node) bool { return n.Data == "a" && text(n) == "Download" }), "href"),
		})
	}
	return rows
}

func roles(rows []certRow) string {
	var out []string
	for _, r := range rows {
		out = append(out, r.role)
	}
	return strings.Join(out, ",")
}

// spButtons lists the texts of the SP certificate section's buttons.
func spButtons(p page) string {
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "button" {
			out = append(out, text(n))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if s := p.byID("sp-certificate"); s != nil {
		walk(s)
	}
	return strings.Join(out, "|")
}

// formFor returns the action and the expect field of the form of button.
func formFor(t *testing.T, p page, button string) (action string, fields url.Values) {
	t.Helper()
	form := find(p.byID("sp-certificate"), func(n *html.Node) bool {
		return n.Data == "form" && find(n, func(b *html.Node) bool { return b.Data == "button" && text(b) == button }) != nil
	})
	if form == nil {
		t.Fatalf("no %q button in the SP certificate section:\n%s", button, text(p.byID("sp-certificate")))
	}
	if attr(form, "method") != "post" {
		t.Fatalf("the %q form is not a POST", button)
	}
	fields = url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != admin.CSRFField {
			fields.Set(attr(n, "name"), attr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	if find(form, func(n *html.Node) bool { return attr(n, "name") == admin.CSRFField && attr(n, "value") != "" }) == nil {
		t.Fatalf("the %q form carries no CSRF token", button)
	}
	return attr(form, "action"), fields
}

// press posts the form of button on page p, as the browser would.
func (h *harness) press(t *testing.T, p page, button string) page {
	t.Helper()
	action, fields := formFor(t, p, button)
	return h.post(t, h.adminC, action, fields)
}

func TestSPCertificateSection(t *testing.T) {
	h := newHarness(t)
	// No key pair yet: nothing to roll over.
	p := h.get(t, h.adminC, oktaPage).want(t, http.StatusOK)
	if s := text(p.byID("sp-certificate")); !strings.Contains(s, "No certificate yet") || spButtons(p) != "" {
		t.Fatalf("SP certificate section without a key pair: %q, buttons %q", s, spButtons(p))
	}

	h.giveKeyPair(t)
	original := h.stored(t).SPCertPEM
	p = h.get(t, h.adminC, oktaPage).want(t, http.StatusOK)
	rows := certRows(p)
	if roles(rows) != "Active" || len(rows[0].fingerprint) != 95 || !strings.Contains(text(p.byID("sp-certificate")), "Valid until") {
		t.Fatalf("rows %+v", rows)
	}
	if got := text(p.byID("sp-rollover-state")); got != "No rollover under way." || spButtons(p) != "Start rollover" {
		t.Fatalf("state %q, buttons %q", got, spButtons(p))
	}
	// The certificate downloads as a PEM file.
	f := h.get(t, h.adminC, rows[0].download).want(t, http.StatusOK)
	disp, params, _ := mime.ParseMediaType(f.header.Get("Content-Disposition"))
	if f.body != original || f.header.Get("Content-Type") != "application/x-pem-file" ||
		disp != "attachment" || params["filename"] != "onramp-acme-okta-sp-"+strings.ToLower(strings.ReplaceAll(rows[0].fingerprint, ":", ""))[:8]+".pem" {
		t.Fatalf("download: %s %s\n%s", f.header.Get("Content-Type"), f.header.Get("Content-Disposition"), f.body)
	}

	// Step 1.
	startPage := p
	h.press(t, p, "Start rollover").redirect(t, oktaPage+"?done=sp-rollover-started#sp-certificate")
	p = h.get(t, h.adminC, oktaPage+"?done=sp-rollover-started").want(t, http.StatusOK)
	if n := text(find(p.doc, func(n *html.Node) bool { return attr(n, "role") == "status" })); !strings.HasPrefix(n, "SP certificate rollover started") {
		t.Fatalf("notice %q", n)
	}
	rows = certRows(p)
	if roles(rows) != "Active,Incoming" || !strings.HasPrefix(text(p.byID("sp-rollover-state")), "Rollover started.") ||
		spButtons(p) != "Activate new certificate|Cancel rollover" {
		t.Fatalf("after start: %q, %q, buttons %q", roles(rows), text(p.byID("sp-rollover-state")), spButtons(p))
	}
	incoming := h.stored(t).SPNextCertPEM
	if incoming == "" || h.stored(t).SPCertPEM != original {
		t.Fatal("the start did not store an incoming pair beside the active one")
	}
	if f := h.get(t, h.adminC, rows[1].download).want(t, http.StatusOK); f.body != incoming {
		t.Fatal("the incoming certificate's download is not it")
	}
	// The Start form of the page from before, pressed again: 409, the page
	// with what the state is, nothing written.
	p = h.press(t, startPage, "Start rollover").want(t, http.StatusConflict)
	if e := text(find(p.doc, func(n *html.Node) bool { return attr(n, "role") == "alert" })); !strings.Contains(e, "under way") {
		t.Fatalf("stale Start: %q", e)
	}
	if roles(certRows(p)) != "Active,Incoming" {
		t.Fatal("the 409 page does not show the certificates as they are")
	}
	if n := len(h.events(t, h.acme, admin.AuditSPRolloverStarted)); n != 1 {
		t.Fatalf("%d start events, want 1", n)
	}

	// Step 2.
	startedPage := p
	h.press(t, p, "Activate new certificate").redirect(t, oktaPage+"?done=sp-certificate-activated#sp-certificate")
	if c := h.stored(t); c.SPCertPEM != incoming || c.SPNextCertPEM != original {
		t.Fatal("after Activate the stored active certificate is not the one that was incoming")
	}
	p = h.get(t, h.adminC, oktaPage+"?done=sp-certificate-activated").want(t, http.StatusOK)
	if n := text(find(p.doc, func(n *html.Node) bool { return attr(n, "role") == "status" })); !strings.HasPrefix(n, "New SP certificate activated") {
		t.Fatalf("notice %q", n)
	}
	if roles(certRows(p)) != "Active,Outgoing" || !strings.HasPrefix(text(p.byID("sp-rollover-state")), "New certificate active.") ||
		spButtons(p) != "Finish: remove old certificate" || certRows(p)[0].fingerprint != rows[1].fingerprint {
		t.Fatalf("after activate: %+v, %q, buttons %q", certRows(p), text(p.byID("sp-rollover-state")), spButtons(p))
	}
	// Cancel on the page loaded before the activation must not remove the
	// old certificate instead.
	p = h.press(t, startedPage, "Cancel rollover").want(t, http.StatusConflict)
	if e := text(find(p.doc, func(n *html.Node) bool { return attr(n, "role") == "alert" })); !strings.Contains(e, "can no longer be cancelled") {
		t.Fatalf("stale Cancel: %q", e)
	}
	if c := h.stored(t); c.SPCertPEM != incoming || c.SPNextCertPEM != original {
		t.Fatal("a stale Cancel changed the key pairs")
	}

	// Step 3.
	h.press(t, p, "Finish: remove old certificate").redirect(t, oktaPage+"?done=sp-rollover-finished#sp-certificate")
	if c := h.stored(t); c.SPCertPEM != incoming || c.SPNextCertPEM != "" {
		t.Fatal("after Finish the stored pairs are not the new one alone")
	}
	p = h.get(t, h.adminC, oktaPage+"?done=sp-rollover-finished").want(t, http.StatusOK)
	if n := text(find(p.doc, func(n *html.Node) bool { return attr(n, "role") == "status" })); n != "SP certificate rollover finished: the old certificate is removed." {
		t.Fatalf("notice %q", n)
	}
	if roles(certRows(p)) != "Active" || spButtons(p) != "Start rollover" {
		t.Fatalf("after finish: %+v, buttons %q", certRows(p), spButtons(p))
	}
	// The old certificate is gone from the downloads too.
	h.get(t, h.adminC, rows[0].download).want(t, http.StatusNotFound)

	// A rollover cancelled before activation.
	h.press(t, p, "Start rollover").redirect(t, oktaPage+"?done=sp-rollover-started#sp-certificate")
	p = h.get(t, h.adminC, oktaPage).want(t, http.StatusOK)
	h.press(t, p, "Cancel rollover").redirect(t, oktaPage+"?done=sp-rollover-cancelled#sp-certificate")
	if c := h.stored(t); c.SPCertPEM != incoming || c.SPNextCertPEM != "" {
		t.Fatal("Cancel changed the active pair or kept the incoming one")
	}

	// Every step is audited as the Admin.
	for action, n := range map[string]int{admin.AuditSPRolloverStarted: 2, admin.AuditSPCertificateActivated: 1,
		admin.AuditSPRolloverFinished: 1, admin.AuditSPRolloverCancelled: 1} {
		evs := h.events(t, h.acme, action)
		if len(evs) != n {
			t.Errorf("%d %s events, want %d", len(evs), action, n)
		}
		for _, ev := range evs {
			if ev.Actor != "user:"+string(h.ada.ID) || ev.ConnectionID != h.okta.ID {
				t.Errorf("%s event %+v", action, ev)
			}
		}
	}
	// A finish form without its expect field is not one of the page's.
	h.post(t, h.adminC, oktaPage+"/sp-certificates/finish", url.Values{}).want(t, http.StatusBadRequest)
}

func TestSPCertificateStepsAreAdminsOnly(t *testing.T) {
	h := newHarness(t)
	h.giveKeyPair(t)
	before := h.stored(t)
	for _, step := range []string{"rollover", "activate", "finish"} {
		path := oktaPage + "/sp-certificates/" + step
		h.post(t, h.memberC, path, url.Values{"expect": {"started"}}).want(t, http.StatusForbidden)
		h.post(t, h.otherAdminC, path, url.Values{"expect": {"started"}}).want(t, http.StatusNotFound)
	}
	id := strings.ToLower(strings.ReplaceAll(certFingerprint(t, h), ":", ""))
	h.get(t, h.memberC, oktaPage+"/sp-certificates/"+id).want(t, http.StatusForbidden)
	h.get(t, h.otherAdminC, oktaPage+"/sp-certificates/"+id).want(t, http.StatusNotFound)
	h.get(t, h.adminC, oktaPage+"/sp-certificates/"+strings.Repeat("0", 64)).want(t, http.StatusNotFound)
	if after := h.stored(t); after.SPNextCertPEM != "" || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatal("a refused step changed the connection")
	}
}

// certFingerprint is the fingerprint of okta's active certificate.
func certFingerprint(t *testing.T, h *harness) string {
	t.Helper()
	certs, err := jit.DescribeSPCertificates(h.stored(t))
	if err != nil || len(certs) == 0 {
		t.Fatalf("certificates %v, %v", certs, err)
	}
	return certs[0].SHA256
}
