package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/orgconfig"
	"github.com/onramp-dev/onramp/store"
)

// ssoLink is a "Sign in with …" link of the sign-in page.
type ssoLink struct {
	Name string
	URL  string
}

// signInData is the data of signin.html.
type signInData struct {
	frame
	// OrgSlug is what the person typed (or the link carried).
	OrgSlug string
	OrgName string
	// OrgProblem says why OrgSlug leads nowhere.
	OrgProblem  string
	Connections []ssoLink
	// EmailSignIn is the email sign-in page (package emaillogin) for the
	// organization, coming back to the console.
	EmailSignIn string
	// SignedIn names the current session's user, if any.
	SignedIn string
	Home     string
}

// signIn is GET /admin/sign-in?org=SLUG&return_to=PATH.
func (cn *Console) signIn(c echo.Context) error {
	headers(c)
	return cn.signInPage(c, http.StatusOK, c.QueryParam("org"), c.QueryParam("return_to"))
}

// signInPage renders the sign-in page for organization slug (may be empty)
// with status.
func (cn *Console) signInPage(c echo.Context, status int, slug, returnTo string) error {
	ctx := c.Request().Context()
	d := signInData{frame: frame{Title: "Sign in"}, OrgSlug: strings.TrimSpace(slug)}
	if prin, err := cn.svc.Authenticate(ctx, c.Request()); err == nil && prin.Session {
		if o, err := cn.st.GetOrg(ctx, prin.OrgID); err == nil {
			d.SignedIn = cn.userName(ctx, o.ID, prin.Name) + " (" + o.Name + ")"
			d.Home = orgPath(o.Slug, "organization")
			d.SignOutTo = signInPath("", "")
		}
	} else if err != nil && !errors.Is(err, admin.ErrUnauthenticated) {
		return cn.fail(c, err)
	}
	if d.OrgSlug != "" {
		if p := orgconfig.CheckSlug(d.OrgSlug); p != "" {
			d.OrgProblem = "Organization names in links are lower case letters, digits and dashes, like acme."
		} else if o, err := cn.st.GetOrgBySlug(ctx, d.OrgSlug); errors.Is(err, store.ErrNotFound) {
			d.OrgProblem = "There is no organization " + d.OrgSlug + ". Check the spelling with your Admin."
		} else if err != nil {
			return cn.fail(c, err)
		} else {
			d.OrgName = o.Name
			conns, err := cn.st.ListConnections(ctx, o.ID)
			if err != nil {
				return cn.fail(c, err)
			}
			back := consoleReturnTo(o.Slug, returnTo)
			d.EmailSignIn = emaillogin.PathLogin + "?" + url.Values{"org": {o.Slug}, "return_to": {back}}.Encode()
			for _, conn := range conns {
				if conn.IdPMetadataXML == "" {
					continue // cannot sign anyone in yet
				}
				u := "/saml/" + url.PathEscape(o.Slug) + "/" + url.PathEscape(conn.Slug) + "/login?" + url.Values{"return_to": {back}}.Encode()
				d.Connections = append(d.Connections, ssoLink{Name: conn.Name, URL: u})
			}
		}
	}
	return cn.render(c, status, "signin", d)
}

// consoleReturnTo is where a sign-in from the sign-in page leads: the console
// page that sent the person there if it is one of this organization's, else
// the organization page.
func consoleReturnTo(org, returnTo string) string {
	home := orgPath(org, "organization")
	u, err := url.Parse(returnTo)
	if err != nil || returnTo == "" || u.Scheme != "" || u.Host != "" || strings.HasPrefix(returnTo, "//") {
		return home
	}
	if inConsole := u.Path == orgPath(org) || strings.HasPrefix(u.Path, orgPath(org)+"/"); !inConsole {
		return home
	}
	return returnTo
}
