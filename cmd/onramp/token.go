package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// operator is the audit actor of every change made from the command line.
const operator = "operator"

type tokenCmd struct {
	Create tokenCreateCmd `cmd:"" help:"Create a SCIM token for a connection (--scim) or an admin API token (--admin). The token is the last line of stdout."`
	List   tokenListCmd   `cmd:"" help:"List an organization's tokens (IDs only; secrets are never stored)."`
	Revoke tokenRevokeCmd `cmd:"" help:"Revoke a token by its ID."`
}

type tokenCreateCmd struct {
	dbFlag
	Org         string `name:"org" required:"" placeholder:"SLUG" help:"Organization slug."`
	SCIM        string `name:"scim" placeholder:"CONNECTION" help:"Create a SCIM token for this connection slug."`
	Admin       bool   `name:"admin" help:"Create an admin API token for the organization instead."`
	Description string `name:"description" placeholder:"TEXT" help:"A note stored with the token, e.g. who it is for."`
	BaseURL     string `name:"base-url" env:"ONRAMP_BASE_URL" default:"http://localhost:8080" placeholder:"URL" help:"Public URL of the server, to print the SCIM base URL (default: ${default})."`
}

func (c *tokenCreateCmd) validate() []string {
	ps := c.dbFlag.validate()
	switch {
	case c.SCIM == "" && !c.Admin:
		ps = append(ps, "token create: give --scim CONNECTION or --admin")
	case c.SCIM != "" && c.Admin:
		ps = append(ps, "token create: give --scim CONNECTION or --admin, not both")
	}
	ps = append(ps, validateBaseURL("--base-url (ONRAMP_BASE_URL)", c.BaseURL)...)
	return ps
}

// Run creates the token. The plaintext goes alone on the last line of stdout, so
// that TOKEN=$(onramp token create …) works; everything else goes to stderr.
func (c *tokenCreateCmd) Run(e *env) error {
	st, err := sqlstore.Open(e.ctx, c.DB, e.logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	plaintext, t, err := createToken(e.ctx, st, c.Org, c.SCIM, c.Description)
	if err != nil {
		return err
	}
	if t.Kind == store.TokenSCIM {
		fmt.Fprintf(e.stderr, "Created SCIM token %s for connection %s/%s.\nSCIM base URL: %s%s\n",
			t.ID, c.Org, c.SCIM, strings.TrimRight(c.BaseURL, "/"), server.SCIMPrefix)
	} else {
		fmt.Fprintf(e.stderr, "Created admin token %s for organization %s.\n", t.ID, c.Org)
	}
	fmt.Fprintln(e.stderr, "The token is shown only this once; onramp stores only its hash.")
	fmt.Fprintln(e.stdout, plaintext)
	return nil
}

// createToken makes a token for the organization: a SCIM token for the connection
// slug conn, or an admin token if conn is empty.
func createToken(ctx context.Context, st store.Store, orgSlug, conn, description string) (string, store.Token, error) {
	org, err := st.GetOrgBySlug(ctx, orgSlug)
	if err != nil {
		return "", store.Token{}, fmt.Errorf("organization %q: %w", orgSlug, err)
	}
	plaintext, t, err := apitoken.New()
	if err != nil {
		return "", store.Token{}, err
	}
	t.OrgID = org.ID
	t.Kind = store.TokenAdmin
	t.Description = description
	if conn != "" {
		c, err := st.GetConnectionBySlug(ctx, org.ID, conn)
		if err != nil {
			return "", store.Token{}, fmt.Errorf("connection %q of organization %q: %w", conn, orgSlug, err)
		}
		t.Kind = store.TokenSCIM
		t.ConnectionID = c.ID
	}
	ev := store.AuditEvent{Actor: operator, Action: "token.created", ConnectionID: t.ConnectionID,
		Detail: map[string]string{"token_id": string(t.ID), "kind": string(t.Kind)}}
	t, err = st.CreateToken(ctx, t, ev)
	if err != nil {
		return "", store.Token{}, fmt.Errorf("create token: %w", err)
	}
	return plaintext, t, nil
}

type tokenListCmd struct {
	dbFlag
	Org string `name:"org" required:"" placeholder:"SLUG" help:"Organization slug."`
}

func (c *tokenListCmd) validate() []string { return c.dbFlag.validate() }

func (c *tokenListCmd) Run(e *env) error {
	st, err := sqlstore.Open(e.ctx, c.DB, e.logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	org, err := st.GetOrgBySlug(e.ctx, c.Org)
	if err != nil {
		return fmt.Errorf("organization %q: %w", c.Org, err)
	}
	tokens, err := st.ListTokens(e.ctx, org.ID)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	conns, err := st.ListConnections(e.ctx, org.ID)
	if err != nil {
		return fmt.Errorf("list connections: %w", err)
	}
	slugs := map[store.ConnectionID]string{}
	for _, cn := range conns {
		slugs[cn.ID] = cn.Slug
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tCONNECTION\tCREATED\tREVOKED\tDESCRIPTION")
	for _, t := range tokens {
		revoked := "-"
		if t.RevokedAt != nil {
			revoked = t.RevokedAt.UTC().Format(time.RFC3339)
		}
		conn := slugs[t.ConnectionID]
		if conn == "" {
			conn = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, conn,
			t.CreatedAt.UTC().Format(time.RFC3339), revoked, t.Description)
	}
	return tw.Flush()
}

type tokenRevokeCmd struct {
	dbFlag
	Org string `name:"org" required:"" placeholder:"SLUG" help:"Organization slug."`
	ID  string `name:"id" required:"" placeholder:"TOKEN_ID" help:"The token's ID (the part after onramp_, as token list shows it)."`
}

func (c *tokenRevokeCmd) validate() []string { return c.dbFlag.validate() }

func (c *tokenRevokeCmd) Run(e *env) error {
	st, err := sqlstore.Open(e.ctx, c.DB, e.logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	org, err := st.GetOrgBySlug(e.ctx, c.Org)
	if err != nil {
		return fmt.Errorf("organization %q: %w", c.Org, err)
	}
	ev := store.AuditEvent{Actor: operator, Action: "token.revoked", Detail: map[string]string{"token_id": c.ID}}
	if err := st.RevokeToken(e.ctx, org.ID, store.TokenID(c.ID), ev); err != nil {
		return fmt.Errorf("revoke token %s: %w", c.ID, err)
	}
	fmt.Fprintf(e.stdout, "revoked token %s\n", c.ID)
	return nil
}
