package demo

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// maxListedUsers bounds the accounts the landing page lists.
const maxListedUsers = 50

// account is a user as the landing page shows it.
type account struct {
	ID          string
	UserName    string
	DisplayName string
	Email       string
	Role        string
	Source      string
	Active      bool
	Created     string
}

// landingPage is the data of landing.html.
type landingPage struct {
	OrgName       string
	OrgSlug       string
	Connection    string
	EmailDomain   string
	URLs          URLs
	SignOut       string // jit's logout endpoint
	Me            *account
	MeURL         string
	SCIMBase      string
	SCIMCurl      string
	Accounts      []account
	TotalAccounts int
	People        []Person
}

func toAccount(u store.User) account {
	return account{
		ID:          string(u.ID),
		UserName:    u.UserName,
		DisplayName: u.DisplayName,
		Email:       u.PrimaryEmail(),
		Role:        u.Role,
		Source:      string(u.Source),
		Active:      u.Active && u.DeletedAt == nil,
		Created:     u.CreatedAt.UTC().Format(time.DateTime + " MST"),
	}
}

// landing is GET /: who is signed in, the demo organization's accounts and
// how to see them over SCIM.
func (d *Demo) landing(c echo.Context) error {
	ctx := c.Request().Context()
	org, err := d.st.GetOrgBySlug(ctx, OrgSlug)
	if err != nil {
		return fmt.Errorf("demo: landing: read organization: %w", err)
	}
	scimBase := d.base + server.SCIMPrefix
	p := landingPage{
		OrgName:     org.Name,
		OrgSlug:     org.Slug,
		Connection:  ConnectionSlug,
		EmailDomain: EmailDomain,
		URLs:        d.urls,
		SignOut:     LogoutPath,
		MeURL:       d.base + "/api/v1/me",
		SCIMBase:    scimBase,
		SCIMCurl:    scimCurl(scimBase, People()[0].Email),
		People:      People(),
	}

	sess, err := d.sessions.Current(ctx, c.Request())
	switch {
	case errors.Is(err, jit.ErrNoSession):
	case err != nil:
		return fmt.Errorf("demo: landing: %w", err)
	case sess.OrgID == org.ID:
		u, err := d.st.GetUser(ctx, org.ID, sess.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("demo: landing: read user: %w", err)
		}
		if err == nil && u.Active && u.DeletedAt == nil {
			a := toAccount(u)
			p.Me = &a
			p.SCIMCurl = scimCurl(scimBase, u.UserName)
		}
	}

	users, err := d.st.ListUsers(ctx, org.ID, store.UserQuery{Count: maxListedUsers})
	if err != nil {
		return fmt.Errorf("demo: landing: list users: %w", err)
	}
	p.TotalAccounts = users.Total
	for _, u := range users.Items {
		p.Accounts = append(p.Accounts, toAccount(u))
	}
	return d.render(c.Response(), http.StatusOK, "landing.html", p)
}

// scimCurl is the curl command that looks userName up over SCIM, as IdPs
// do before they create a user. The filter is escaped for a query, with
// spaces as %20 and "@" kept, so that it reads as the README's examples.
func scimCurl(scimBase, userName string) string {
	filter := url.QueryEscape(`userName eq "` + userName + `"`)
	filter = strings.NewReplacer("+", "%20", "%40", "@").Replace(filter)
	return fmt.Sprintf(`curl -H "Authorization: Bearer $ONRAMP_TOKEN" '%s/Users?filter=%s'`, scimBase, filter)
}
