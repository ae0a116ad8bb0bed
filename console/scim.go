package console

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
)

// scimData is the data of scim.html.
type scimData struct {
	frame
	Conn   admin.Connection
	Tab    string
	Tokens []admin.SCIMToken
	// New is the token just created: its plaintext is shown this once.
	New         *admin.NewSCIMToken
	Description string
	Errors      map[string]string
	Holds       []admin.SCIMHold // open holds: the banner (holds.go)
}

func (cn *Console) scimPage(c echo.Context, p *req, slug string) (scimData, error) {
	ctx := c.Request().Context()
	conn, err := cn.svc.Connection(ctx, p.actor, slug)
	if err != nil {
		return scimData{}, err
	}
	toks, err := cn.svc.ListSCIMTokens(ctx, p.actor, slug)
	if err != nil {
		return scimData{}, err
	}
	holds, err := cn.openHolds(ctx, p)
	if err != nil {
		return scimData{}, err
	}
	return scimData{frame: cn.frame(p, "SCIM provisioning · "+conn.Name, "sso"), Conn: conn, Tab: "scim", Tokens: toks, Holds: holds}, nil
}

// scim is GET /admin/{org}/sso/{conn}/scim.
func (cn *Console) scim(c echo.Context, p *req) error {
	d, err := cn.scimPage(c, p, c.Param("conn"))
	if err != nil {
		return err
	}
	d.Notice = notice(c)
	return cn.render(c, http.StatusOK, "scim", d)
}

// createToken is POST /admin/{org}/sso/{conn}/scim/tokens. The answer shows
// the new token's plaintext, once: it is not redirected to a page that could
// be reloaded or kept in the history (and pages are sent with no-store).
func (cn *Console) createToken(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	slug := c.Param("conn")
	desc := strings.TrimSpace(c.Request().PostFormValue("description"))
	tok, err := cn.svc.CreateSCIMToken(ctx, p.actor, slug, desc)
	fields, invalid := validation(err)
	if err != nil && !invalid {
		return err
	}
	d, err := cn.scimPage(c, p, slug)
	if err != nil {
		return err
	}
	if invalid {
		d.Description, d.Errors = desc, fields
		d.Error = "No token was created: correct the field marked below."
		return cn.render(c, http.StatusBadRequest, "scim", d)
	}
	d.New = &tok
	return cn.render(c, http.StatusOK, "scim", d)
}

// revokeToken is POST /admin/{org}/sso/{conn}/scim/tokens/{id}/revoke.
func (cn *Console) revokeToken(c echo.Context, p *req) error {
	slug := c.Param("conn")
	if err := cn.svc.RevokeSCIMToken(c.Request().Context(), p.actor, slug, c.Param("token")); err != nil {
		return err
	}
	return seeOther(c, orgPath(p.actor.Org().Slug, "sso", slug, "scim"), "revoked", "tokens")
}
