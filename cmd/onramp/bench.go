package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/bench"
)

type benchCmd struct {
	SCIM  benchSCIMCmd  `cmd:"" name:"scim" help:"Measure SCIM creates, lookups, deactivations and an Okta-style sync against a running server."`
	Mixed benchMixedCmd `cmd:"" name:"mixed" help:"Run a mixed SCIM, SAML sign-in and admin workload for a while against a running server; exits 1 if any request failed."`
}

type benchSCIMCmd struct {
	URL         string        `name:"url" env:"ONRAMP_BENCH_URL" default:"http://localhost:8080" placeholder:"BASE" help:"Base URL of the running server (loopback only unless --allow-remote) (default: ${default})."`
	Token       string        `name:"token" env:"ONRAMP_BENCH_TOKEN" placeholder:"TOKEN" help:"SCIM bearer token of the organization to fill. Prefer the environment variable: command lines are visible to other users."`
	Users       []int         `name:"users" default:"10000" placeholder:"N,…" help:"Directory sizes at which lookups are measured (the organization is filled up to each) (default: ${default})."`
	Clients     []int         `name:"clients" default:"1,64" placeholder:"N,…" help:"Concurrency levels for POST /Users (default: ${default})."`
	Ops         int           `name:"ops" default:"2000" placeholder:"N" help:"Requests in each measured phase (default: ${default})."`
	SyncUsers   int           `name:"sync-users" default:"0" placeholder:"N" help:"Users in the Okta-style sync (0: the first --users size)."`
	SyncClients []int         `name:"sync-clients" default:"4" placeholder:"N,…" help:"Concurrency levels of the Okta-style sync, each with --sync-users new users (default: ${default})."`
	PID         int           `name:"pid" default:"0" placeholder:"PID" help:"The server's process ID, to report its memory (VmRSS) from /proc."`
	RawDB       string        `name:"raw-db" placeholder:"DIR" help:"Also measure raw SQLite single-row insert transactions (the store's settings) on a scratch file in DIR, on the server database's file system, and print creates/s over that rate."`
	Timeout     time.Duration `name:"timeout" default:"30m" placeholder:"DURATION" help:"Stop after this long (default: ${default})."`
	AllowRemote bool          `name:"allow-remote" help:"Allow a target that is not a loopback address."`
}

func (c *benchSCIMCmd) config(e *env) bench.Config {
	return bench.Config{
		URL: c.URL, Token: c.Token, Users: c.Users, Clients: c.Clients, Ops: c.Ops,
		SyncUsers: c.SyncUsers, SyncClients: c.SyncClients, PID: c.PID, RawDB: c.RawDB, Timeout: c.Timeout,
		AllowRemote: c.AllowRemote, Logger: e.logger,
	}
}

func (c *benchSCIMCmd) validate() []string {
	cfg := c.config(&env{})
	if err := cfg.Validate(); err != nil {
		return strings.Split(err.Error(), "\n")
	}
	return nil
}

func (c *benchSCIMCmd) Run(e *env) error {
	rep, err := bench.Run(e.ctx, c.config(e))
	if len(rep.Rows) > 0 {
		if werr := rep.Write(e.stdout); werr != nil {
			return fmt.Errorf("write report: %w", werr)
		}
	}
	return err
}

type benchMixedCmd struct {
	URL              string        `name:"url" env:"ONRAMP_BENCH_URL" default:"http://localhost:8080" placeholder:"BASE" help:"Base URL of the running server (loopback only unless --allow-remote) (default: ${default})."`
	SCIMTokens       []string      `name:"scim-token" env:"ONRAMP_BENCH_SCIM_TOKEN" placeholder:"TOKEN" help:"SCIM bearer token of the organization; repeat it (or separate with commas) to spread the clients over several tokens. Prefer the environment variable: command lines are visible to other users."`
	AdminToken       string        `name:"admin-token" env:"ONRAMP_BENCH_ADMIN_TOKEN" placeholder:"TOKEN" help:"Admin API token of the organization (onramp token create --admin): adds admin changes to the access control list to the mix."`
	Org              string        `name:"org" placeholder:"SLUG" help:"Organization slug; required with --admin-token or --connection."`
	Connection       string        `name:"connection" placeholder:"SLUG" help:"SSO connection whose IdP metadata is this command's (--print-idp-metadata): adds SAML sign-ins to the mix. It must allow IdP-initiated sign-in and JIT provisioning."`
	IdPKey           string        `name:"idp-key" default:"onramp-bench-idp.pem" placeholder:"FILE" help:"Key pair of the benchmark's SAML IdP, made on first use (default: ${default})."`
	PrintIdPMetadata bool          `name:"print-idp-metadata" help:"Print the benchmark IdP's SAML metadata (for the connection's idp.metadataFile) and exit."`
	Duration         time.Duration `name:"duration" default:"1m" placeholder:"DURATION" help:"How long to send requests (default: ${default})."`
	Clients          int           `name:"clients" default:"16" placeholder:"N" help:"Concurrent clients, each sending one request after another (default: ${default})."`
	AllowRemote      bool          `name:"allow-remote" help:"Allow a target that is not a loopback address."`
}

func (c *benchMixedCmd) config(e *env) bench.MixedConfig {
	return bench.MixedConfig{
		URL: c.URL, SCIMTokens: c.SCIMTokens, AdminToken: c.AdminToken, Org: c.Org, Connection: c.Connection,
		Duration: c.Duration, Clients: c.Clients, AllowRemote: c.AllowRemote, Logger: e.logger,
	}
}

func (c *benchMixedCmd) validate() []string {
	if c.PrintIdPMetadata {
		if c.IdPKey == "" {
			return []string{"--idp-key must not be empty"}
		}
		return nil
	}
	cfg := c.config(&env{})
	var ps []string
	if err := cfg.Validate(); err != nil {
		ps = strings.Split(err.Error(), "\n")
	}
	if c.Connection != "" && c.Org == "" {
		ps = append(ps, "--org is required with --connection")
	}
	if c.Connection != "" && c.IdPKey == "" {
		ps = append(ps, "--idp-key must not be empty")
	}
	return ps
}

func (c *benchMixedCmd) Run(e *env) error {
	if c.PrintIdPMetadata || c.Connection != "" {
		idp, created, err := bench.LoadIdP(c.IdPKey, time.Now(), e.logger)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(e.stderr, "Created the benchmark IdP's key pair in %s.\n", c.IdPKey)
		}
		if c.PrintIdPMetadata {
			md, err := idp.MetadataXML()
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(md)
			return err
		}
		cfg := c.config(e)
		cfg.IdP = idp
		return c.run(e, cfg)
	}
	return c.run(e, c.config(e))
}

func (c *benchMixedCmd) run(e *env, cfg bench.MixedConfig) error {
	rep, err := bench.RunMixed(e.ctx, cfg)
	if len(rep.Rows) > 0 {
		if werr := rep.Write(e.stdout); werr != nil {
			return fmt.Errorf("write report: %w", werr)
		}
	}
	if err != nil {
		return err
	}
	if n := rep.Errors(); n > 0 {
		return fmt.Errorf("bench mixed: %d requests failed (see the table)", n)
	}
	return nil
}
