package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/onramp-dev/onramp/apply"
	"github.com/onramp-dev/onramp/demo"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// demoKeySuffix names the file, next to the SQLite database, that keeps the
// demo IdP's key pair.
const demoKeySuffix = ".demo-idp.pem"

// demoNote is the description stored with the SCIM token every --demo start
// makes.
const demoNote = "onramp serve --demo"

// validateDemo reports what stops --demo from working with the other flags.
func (c *serveCmd) validateDemo() []string {
	if !c.Demo {
		return nil
	}
	var ps []string
	if strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://") {
		ps = append(ps, "--demo (ONRAMP_DEMO) needs a SQLite --db: it keeps the demo IdP's key in a file next to the database. "+
			"With PostgreSQL, connect a real IdP with onramp apply")
	}
	// The demo IdP sends the browser to --base-url, so the server must be
	// there: a port picked at random cannot be.
	if _, port, err := net.SplitHostPort(c.Addr); err == nil && port == "0" {
		ps = append(ps, fmt.Sprintf("--demo (ONRAMP_DEMO) needs a fixed port in --addr (ONRAMP_ADDR) %q: "+
			"the demo IdP sends the browser to --base-url, which must reach this server", c.Addr))
	}
	return ps
}

// demoKeyFile is where --demo keeps the demo IdP's key pair for database db.
func demoKeyFile(db string) string {
	return strings.TrimPrefix(db, "file:") + demoKeySuffix
}

// newDemo sets the demo organization up in st (idempotently) and returns the
// demo's handlers.
func newDemo(ctx context.Context, st store.Store, baseURL, db string, logger *slog.Logger) (*demo.Demo, error) {
	d, err := demo.New(ctx, demo.Config{Store: st, BaseURL: baseURL, KeyFile: demoKeyFile(db), Logger: logger})
	if err != nil {
		return nil, err
	}
	s := d.Setup()
	logger.Info("demo: organization ready", "org", demo.OrgSlug, "connection", demo.ConnectionSlug,
		"org_created", s.Applied.Count(apply.KindOrganization, apply.Created) == 1,
		"changed", s.Applied.Changed() || s.NewSPKey || s.MappingSet,
		"new_idp_key", s.NewIdPKey, "idp_key_file", demoKeyFile(db))
	return d, nil
}

// printDemo makes a SCIM token for the demo connection and prints the demo's
// URLs to w, with the token alone on the last line, as token create does.
// Every start makes a new token: onramp keeps only hashes, so it cannot show
// an old one again.
func printDemo(ctx context.Context, w io.Writer, st store.Store, d *demo.Demo, baseURL string) error {
	token, _, err := createToken(ctx, st, demo.OrgSlug, demo.ConnectionSlug, demoNote)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	u := d.URLs()
	_, err = fmt.Fprintf(w, `onramp demo: %s with a built-in SAML IdP and just-in-time sign-up.

  Open in a browser:  %s
  Demo IdP metadata:  %s
  SCIM base URL:      %s%s

SCIM token for connection %s/%s (new on every start; shown once, onramp keeps only its hash):
%s
`, demo.OrgName, u.Landing, u.IdPMetadata, baseURL, server.SCIMPrefix, demo.OrgSlug, demo.ConnectionSlug, token)
	if err != nil {
		return fmt.Errorf("demo: print: %w", err)
	}
	return nil
}
