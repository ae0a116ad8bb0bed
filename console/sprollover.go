package console

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/store"
)

// The SP certificate section of a connection's page (connection.html) shows
// its SP certificates with a download of each, and the button of the next
// step of a rollover (package admin, sprollover.go): Start rollover; then
// Activate new certificate or Cancel rollover; then Finish. Each button is a
// form posted here, answered with a redirect to the page and a notice, or,
// when the rollover is not where the page showed it any more, with the page
// and what the state is now (409).

// postSPRollover runs step on the page's connection and redirects to the
// page with the notice done (see notice); a StateError shows the page with
// its message instead.
func (cn *Console) postSPRollover(c echo.Context, p *req, done string,
	step func(ctx context.Context, a admin.Actor, slug string) (admin.SPCertificates, error)) error {
	slug := c.Param("conn")
	_, err := step(c.Request().Context(), p.actor, slug)
	var se *admin.StateError
	switch {
	case err == nil:
		return seeOther(c, orgPath(p.actor.Org().Slug, "sso", slug), done, "sp-certificate")
	case !errors.As(err, &se):
		return err
	}
	d, err := cn.connectionPage(c, p, slug)
	if err != nil {
		return err
	}
	d.Error = se.Message
	return cn.render(c, http.StatusConflict, "connection", d)
}

// startSPRollover is POST /admin/{org}/sso/{conn}/sp-certificates/rollover.
func (cn *Console) startSPRollover(c echo.Context, p *req) error {
	return cn.postSPRollover(c, p, "sp-rollover-started", cn.svc.StartSPRollover)
}

// activateSPRollover is POST /admin/{org}/sso/{conn}/sp-certificates/activate.
func (cn *Console) activateSPRollover(c echo.Context, p *req) error {
	return cn.postSPRollover(c, p, "sp-certificate-activated", cn.svc.ActivateSPRollover)
}

// finishSPRollover is POST /admin/{org}/sso/{conn}/sp-certificates/finish:
// Finish (the form's expect is "activated") or Cancel rollover ("started").
// The service refuses if the rollover is no longer in the state the page
// showed, so that a Cancel never removes the old certificate instead.
func (cn *Console) finishSPRollover(c echo.Context, p *req) error {
	expect := c.Request().PostFormValue("expect")
	done := "sp-rollover-finished"
	switch expect {
	case admin.RolloverActivated:
	case admin.RolloverStarted:
		done = "sp-rollover-cancelled"
	default:
		return errBadForm // only a tampered form lacks it
	}
	return cn.postSPRollover(c, p, done, func(ctx context.Context, a admin.Actor, slug string) (admin.SPCertificates, error) {
		return cn.svc.FinishSPRollover(ctx, a, slug, expect)
	})
}

// spCertificateFile is GET /admin/{org}/sso/{conn}/sp-certificates/{id}: the
// certificate whose fingerprint is id (certID), PEM-encoded, as a file to
// upload to the identity provider. 404 once it is no longer the
// connection's.
func (cn *Console) spCertificateFile(c echo.Context, p *req) error {
	slug := c.Param("conn")
	certs, err := cn.svc.SPCertificates(c.Request().Context(), p.actor, slug)
	if err != nil {
		return err
	}
	for _, sc := range certs.Certificates {
		if id := certID(sc.SHA256); id == c.Param("cert") {
			name := "onramp-" + p.actor.Org().Slug + "-" + slug + "-sp-" + id[:8] + ".pem"
			c.Response().Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
			return c.Blob(http.StatusOK, "application/x-pem-file", []byte(sc.PEM))
		}
	}
	return store.ErrNotFound
}

// certID is a certificate's ID in URLs: its SHA-256 fingerprint as lower-case
// hex without colons.
func certID(sha256 string) string {
	return strings.ToLower(strings.ReplaceAll(sha256, ":", ""))
}

// spRole names a certificate's role for the table.
func spRole(role string) string {
	switch role {
	case "active":
		return "Active"
	case "incoming":
		return "Incoming"
	case "outgoing":
		return "Outgoing"
	}
	return role
}
