package main

import (
	"fmt"
	"time"

	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// maxAdminLinkTTL bounds --ttl: an admin link is a credential.
const maxAdminLinkTTL = 24 * time.Hour

type adminCmd struct {
	LoginLink adminLoginLinkCmd `cmd:"" name:"login-link" help:"Print a one-time sign-in URL for an Admin of an organization (to bootstrap one that has no SSO yet). The URL is the last line of stdout."`
}

type adminLoginLinkCmd struct {
	dbFlag
	Org     string        `name:"org" required:"" placeholder:"SLUG" help:"Organization slug."`
	Email   string        `name:"email" required:"" placeholder:"ADDRESS" help:"The Admin's email address. An account with the Admin role is created (source invitation) if the organization has none with it; an existing one is given the Admin role."`
	TTL     time.Duration `name:"ttl" default:"15m" placeholder:"DURATION" help:"How long the link works (default: ${default}; at most 24h)."`
	BaseURL string        `name:"base-url" env:"ONRAMP_BASE_URL" default:"http://localhost:8080" placeholder:"URL" help:"Public URL of the server the link points at (default: ${default})."`
}

func (c *adminLoginLinkCmd) validate() []string {
	ps := c.dbFlag.validate()
	ps = append(ps, validateBaseURL("--base-url (ONRAMP_BASE_URL)", c.BaseURL)...)
	if c.TTL <= 0 || c.TTL > maxAdminLinkTTL {
		ps = append(ps, fmt.Sprintf("--ttl %s: want a duration from 1s to %s", c.TTL, maxAdminLinkTTL))
	}
	return ps
}

// Run issues the link. The URL goes alone on the last line of stdout, so that
// URL=$(onramp admin login-link …) works; what was done goes to stderr.
func (c *adminLoginLinkCmd) Run(e *env) error {
	st, err := sqlstore.Open(e.ctx, c.DB, e.logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	l, err := emaillogin.NewAdminLink(e.ctx, st, emaillogin.AdminLinkRequest{
		BaseURL: c.BaseURL, OrgSlug: c.Org, Email: c.Email, TTL: c.TTL, Actor: operator,
	})
	if err != nil {
		return fmt.Errorf("admin login-link: %w", err)
	}
	switch {
	case l.Created:
		fmt.Fprintf(e.stderr, "Created Admin account %s (%s) in organization %s.\n", l.User.ID, l.User.UserName, l.Org.Slug)
	case l.Promoted:
		fmt.Fprintf(e.stderr, "Gave account %s (%s) of organization %s the Admin role.\n", l.User.ID, l.User.UserName, l.Org.Slug)
	default:
		fmt.Fprintf(e.stderr, "Account %s (%s) of organization %s is an Admin.\n", l.User.ID, l.User.UserName, l.Org.Slug)
	}
	fmt.Fprintf(e.stderr, "The link signs it in once, until %s. Open it in a browser:\n", l.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintln(e.stdout, l.URL)
	return nil
}
