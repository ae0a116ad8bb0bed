package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/bench"
)

type benchCmd struct {
	SCIM benchSCIMCmd `cmd:"" name:"scim" help:"Measure SCIM creates, lookups, deactivations and an Okta-style sync against a running server."`
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
