package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/demo"
	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/metrics"
	"github.com/onramp-dev/onramp/scim"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// HTTP server timeouts. WriteTimeout bounds a whole response, so it is generous
// enough for a 1000-user SCIM page on a slow disk.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	// maxHeaderBytes bounds a request's headers (net/http's default is 1 MiB):
	// onramp's largest are a few cookies and a bearer token.
	maxHeaderBytes = 64 << 10
)

type serveCmd struct {
	dbFlag
	Addr            string        `name:"addr" env:"ONRAMP_ADDR" default:"localhost:8080" placeholder:"HOST:PORT" help:"Address to listen on (default: ${default})."`
	BaseURL         string        `name:"base-url" env:"ONRAMP_BASE_URL" default:"http://localhost:8080" placeholder:"URL" help:"Public URL of this server, as identity providers reach it; the SCIM base is BASE/scim/v2 (default: ${default})."`
	SAMLKey         string        `name:"saml-key" env:"ONRAMP_SAML_KEY" placeholder:"HEX_OR_BASE64" help:"Secret (at least 32 bytes, hex or base64) that signs SAML request-tracking cookies; the same on every replica. Unset: a random key made once and kept in the store, shared by every replica of the database."`
	ReturnToOrigins []string      `name:"return-to-origin" env:"ONRAMP_RETURN_TO_ORIGINS" placeholder:"ORIGIN" help:"Origin (e.g. https://app.example.com) that SAML sign-in may send the browser back to with return_to; repeatable, or comma-separated in the environment."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" env:"ONRAMP_SHUTDOWN_TIMEOUT" default:"25s" placeholder:"DURATION" help:"How long SIGTERM waits for in-flight requests before giving up (default: ${default})."`
	SMTPURL         string        `name:"smtp-url" env:"ONRAMP_SMTP_URL" placeholder:"URL" help:"SMTP server for sign-in links and invitations: smtp://user:pass@host:port (STARTTLS when offered; ?starttls=required to insist) or smtps://… (TLS). Without it, they are written to the log."`
	MailFrom        string        `name:"mail-from" env:"ONRAMP_MAIL_FROM" placeholder:"ADDRESS" help:"From address of the emails, e.g. \"Acme sign-in <signin@acme.example>\"; required with --smtp-url."`
	// Limits (README, "Limits"): 0 turns each off.
	AuditRetention    time.Duration `name:"audit-retention" env:"ONRAMP_AUDIT_RETENTION" default:"8760h" placeholder:"DURATION" help:"How long audit events are kept; older ones are purged in the background. 0 keeps them forever (default: ${default}, a year)."`
	SCIMHoldPercent   float64       `name:"scim-hold-percent" env:"ONRAMP_SCIM_HOLD_PERCENT" default:"10" placeholder:"PERCENT" help:"Mass de-provisioning safety rail: a SCIM token that deactivates or deletes more than this share of its organization's active users (and more than --scim-hold-minimum) within --scim-hold-window is held until an Admin releases it in the console. 0 turns the rail off (default: ${default})."`
	SCIMHoldMinimum   int           `name:"scim-hold-minimum" env:"ONRAMP_SCIM_HOLD_MINIMUM" default:"20" placeholder:"N" help:"De-provisionings a SCIM token may always make within the window, whatever the share (default: ${default})."`
	SCIMHoldWindow    time.Duration `name:"scim-hold-window" env:"ONRAMP_SCIM_HOLD_WINDOW" default:"1h" placeholder:"DURATION" help:"The safety rail's sliding window (default: ${default})."`
	SCIMTokenInFlight int           `name:"scim-token-inflight" env:"ONRAMP_SCIM_TOKEN_INFLIGHT" default:"16" placeholder:"N" help:"SCIM requests of one token served at once by this process; more get 429 with Retry-After: 1. 0: no limit (default: ${default})."`
	SCIMTokenRate     float64       `name:"scim-token-rate" env:"ONRAMP_SCIM_TOKEN_RATE" default:"0" placeholder:"PER_SECOND" help:"SCIM requests per second one token may make to this process (bursts of twice as many); more get 429 with Retry-After. 0: no limit; --scim-token-inflight bounds the token's share anyway (default: ${default})."`
	SAMLRate          float64       `name:"saml-rate" env:"ONRAMP_SAML_RATE" default:"50" placeholder:"PER_SECOND" help:"SAML sign-in requests (login, ACS) per second one client address may make to this process (bursts of twice as many); more get 429. Behind a proxy every client shares its address. 0: no limit (default: ${default})."`
	TrustedProxies    []string      `name:"trusted-proxy" env:"ONRAMP_TRUSTED_PROXIES" placeholder:"CIDR" help:"Network (10.0.0.0/8) or address of a proxy or load balancer in front of onramp: requests from it are counted by --saml-rate against the client address in its X-Forwarded-For. Repeatable, or comma-separated in the environment. Unset: the TCP peer."`
	APITokenRate      float64       `name:"api-token-rate" env:"ONRAMP_API_TOKEN_RATE" default:"20" placeholder:"PER_SECOND" help:"Admin API requests per second one bearer token may make to this process (bursts of twice as many); more get 429. 0: no limit (default: ${default})."`
	DBMaxConns        int           `name:"db-max-conns" env:"ONRAMP_DB_MAX_CONNS" default:"16" placeholder:"N" help:"PostgreSQL only: connections this process opens at most, shared by reads and writes; see docs/operations.md, Pool sizing (default: ${default})."`
	Demo              bool          `name:"demo" env:"ONRAMP_DEMO" help:"Also set up and serve a demo: organization demo with a built-in SAML IdP at BASE/demo/idp and JIT sign-up, a landing page at BASE/, and a new SCIM token printed as the last line of stdout. SQLite only; the IdP key is kept in DB.demo-idp.pem."`

	// emailLogin is the email sign-in, made by handler; serve runs its sweeper.
	emailLogin *emaillogin.Service
	// metrics, made by serve, is served at /metrics (observe.go).
	metrics *metrics.Metrics
}

func (c *serveCmd) validate() []string {
	ps := c.dbFlag.validate()
	ps = append(ps, validateAddr("--addr (ONRAMP_ADDR)", c.Addr)...)
	ps = append(ps, validateBaseURL("--base-url (ONRAMP_BASE_URL)", c.BaseURL)...)
	if c.SAMLKey != "" {
		if _, err := decodeSAMLKey(c.SAMLKey); err != nil {
			ps = append(ps, "--saml-key (ONRAMP_SAML_KEY) "+err.Error())
		}
	}
	ps = append(ps, validateOrigins(c.ReturnToOrigins)...)
	if c.ShutdownTimeout <= 0 {
		ps = append(ps, "--shutdown-timeout (ONRAMP_SHUTDOWN_TIMEOUT) must be positive")
	}
	if c.DBMaxConns < 1 {
		ps = append(ps, "--db-max-conns (ONRAMP_DB_MAX_CONNS) must be at least 1")
	}
	if _, err := c.trustedProxies(); err != nil {
		ps = append(ps, "--trusted-proxy (ONRAMP_TRUSTED_PROXIES) "+err.Error())
	}
	ps = append(ps, c.validateLimits()...)
	ps = append(ps, c.validateDemo()...)
	ps = append(ps, c.validateMail()...)
	return ps
}

// trustedProxies parses --trusted-proxy: CIDR networks, or single addresses
// (a /32 or /128).
func (c *serveCmd) trustedProxies() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, v := range c.TrustedProxies {
		v = strings.TrimSpace(v)
		if ip := net.ParseIP(v); ip != nil {
			bits := 8 * net.IPv6len
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 8*net.IPv4len
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(v)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR network", v)
		}
		out = append(out, n)
	}
	return out, nil
}

// validateLimits checks the limit flags: none negative, a share of at most
// 100%, a window for a rail that is on.
func (c *serveCmd) validateLimits() []string {
	var ps []string
	if c.AuditRetention < 0 {
		ps = append(ps, "--audit-retention (ONRAMP_AUDIT_RETENTION) must not be negative")
	}
	if c.SCIMHoldPercent < 0 || c.SCIMHoldPercent > 100 {
		ps = append(ps, "--scim-hold-percent (ONRAMP_SCIM_HOLD_PERCENT) must be from 0 to 100")
	}
	if c.SCIMHoldMinimum < 0 {
		ps = append(ps, "--scim-hold-minimum (ONRAMP_SCIM_HOLD_MINIMUM) must not be negative")
	}
	if c.SCIMHoldPercent > 0 && c.SCIMHoldWindow <= 0 {
		ps = append(ps, "--scim-hold-window (ONRAMP_SCIM_HOLD_WINDOW) must be positive while the rail is on")
	}
	if c.SCIMTokenInFlight < 0 || c.SCIMTokenRate < 0 || c.SAMLRate < 0 || c.APITokenRate < 0 {
		ps = append(ps, "--scim-token-inflight, --scim-token-rate, --saml-rate and --api-token-rate must not be negative")
	}
	return ps
}

// scimLimits are the SCIM handler's limits from the flags.
func (c *serveCmd) scimLimits() scim.Limits {
	return scim.Limits{
		TokenRate:     c.SCIMTokenRate,
		TokenInFlight: c.SCIMTokenInFlight,
		Deprovision:   store.DeprovisionLimit{Share: c.SCIMHoldPercent / 100, Minimum: c.SCIMHoldMinimum, Window: c.SCIMHoldWindow},
	}
}

// validateAddr checks a HOST:PORT listen address. An empty host listens on every
// interface; port 0 picks a free port.
func validateAddr(name, addr string) []string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{fmt.Sprintf("%s %q: want HOST:PORT, e.g. localhost:8080", name, addr)}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return []string{fmt.Sprintf("%s %q: port must be a number from 0 to 65535", name, addr)}
	}
	return nil
}

// validateBaseURL checks the public base URL: absolute http or https, with a host,
// without query or fragment.
func validateBaseURL(name, raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return []string{fmt.Sprintf("%s %q: %v", name, raw, err)}
	}
	var ps []string
	if u.Scheme != "http" && u.Scheme != "https" {
		ps = append(ps, fmt.Sprintf("%s %q: scheme must be http or https", name, raw))
	}
	if u.Host == "" {
		ps = append(ps, fmt.Sprintf("%s %q: must name a host", name, raw))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		ps = append(ps, fmt.Sprintf("%s %q: must not have user info, a query or a fragment", name, raw))
	}
	// onramp serves its URLs at the root of the host: a path here would announce
	// URLs (SCIM meta.location, SAML endpoints) that the server does not answer.
	if p := strings.TrimRight(u.Path, "/"); p != "" {
		ps = append(ps, fmt.Sprintf("%s %q: must not have a path (onramp serves at the root of its host)", name, raw))
	}
	return ps
}

// baseURL returns the base URL without a trailing slash.
func (c *serveCmd) baseURL() string { return strings.TrimRight(c.BaseURL, "/") }

func (c *serveCmd) Run(e *env) error {
	ln, err := (&net.ListenConfig{}).Listen(e.ctx, "tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return c.serve(e, ln)
}

// serve runs the server on ln until e.ctx ends, then drains it. It closes ln.
func (c *serveCmd) serve(e *env, ln net.Listener) error {
	m, err := metrics.New(prometheus.NewRegistry(), e.logger)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	c.metrics = m
	st, err := sqlstore.Open(e.ctx, c.DB, e.logger, sqlstore.WithObserver(c.metrics.ObserveStore), sqlstore.WithMaxConns(c.DBMaxConns))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("open store: %w", err)
	}
	// The store closes last, after the server has drained.
	defer func() {
		if err := st.Close(); err != nil {
			e.logger.Error("closing store", "err", err)
		}
	}()

	h, d, err := c.handler(e, st)
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(e.logger.Handler(), slog.LevelWarn),
	}
	e.logger.Info("listening", "addr", ln.Addr().String(), "base_url", c.baseURL(),
		"scim_base", c.baseURL()+server.SCIMPrefix, "db", redactDSN(c.DB), "demo", c.Demo)
	if d != nil {
		if err := printDemo(e.ctx, e.stdout, st, d, c.baseURL()); err != nil {
			_ = ln.Close()
			return err
		}
	}

	// The janitor purges expired sessions and replay-cache entries until the
	// signal context ends; the store is closed only after it has stopped.
	janitor, err := jit.NewJanitor(jit.JanitorConfig{Store: janitorPurges{st, c.metrics}, Logger: e.logger})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("janitor: %w", err)
	}
	var background sync.WaitGroup
	defer background.Wait()
	background.Go(func() { _ = janitor.Run(e.ctx) })
	background.Go(func() { c.emailLogin.RunSweeper(e.ctx, jit.DefaultJanitorInterval) })
	if c.AuditRetention > 0 {
		retention, err := admin.NewRetentionSweeper(admin.RetentionConfig{Store: st, Keep: c.AuditRetention, Logger: e.logger,
			Purged: func(n int) { c.metrics.Purged("audit_events", n) }})
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("audit retention: %w", err)
		}
		background.Go(func() { retention.Run(e.ctx) })
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-e.ctx.Done():
	}
	e.logger.Info("shutting down: draining in-flight requests", "timeout", c.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	e.logger.Info("stopped")
	return nil
}

// handler builds the server's routes: health, SCIM, SAML and, with --demo,
// the demo (returned too, for its URLs).
func (c *serveCmd) handler(e *env, st store.Store) (*echo.Echo, *demo.Demo, error) {
	scimHandler, err := newSCIMHandler(st, c.baseURL(), c.scimLimits(), e.logger)
	if err != nil {
		return nil, nil, err
	}
	key, err := c.serverKey(e, st)
	if err != nil {
		return nil, nil, err
	}
	samlHandler, err := newSAMLHandler(st, c.baseURL(), key, c.ReturnToOrigins, c.metrics, e.logger)
	if err != nil {
		return nil, nil, err
	}
	proxies, err := c.trustedProxies()
	if err != nil {
		return nil, nil, err
	}
	h, err := server.New(server.Config{Store: st, SCIM: scimHandler, Logger: e.logger, Metrics: c.metrics,
		Limits:  server.Limits{SAMLRate: c.SAMLRate, TokenRate: c.APITokenRate, TrustedProxies: proxies},
		Durable: st, AnswerBeforeDurable: []string{jit.ACSRoute}})
	if err != nil {
		return nil, nil, err
	}
	samlHandler.Register(h)
	if err := c.registerEmailLogin(e, h, st, key); err != nil {
		return nil, nil, err
	}
	if err := registerAdminAPI(h, st, c.baseURL(), e.logger); err != nil {
		return nil, nil, err
	}
	if err := registerConsole(h, st, c.baseURL(), c.emailLogin, e.logger); err != nil {
		return nil, nil, err
	}
	if !c.Demo {
		return h, nil, nil
	}
	d, err := newDemo(e.ctx, st, c.baseURL(), c.DB, e.logger)
	if err != nil {
		return nil, nil, err
	}
	d.Register(h)
	return h, d, nil
}

// serverKeyName names the stored secret used when --saml-key is not set.
const serverKeyName = "server-key"

// serverKey is the secret that signs SAML request-tracking cookies and keys
// emailed codes' hashes: --saml-key when set, else a secret kept in the store,
// made by the first process that asks, so that every replica of one database
// shares it without configuration and sign-ins survive restarts.
func (c *serveCmd) serverKey(e *env, st store.Store) ([]byte, error) {
	if c.SAMLKey != "" {
		k, err := decodeSAMLKey(c.SAMLKey)
		if err != nil {
			return nil, fmt.Errorf("--saml-key: %w", err)
		}
		return k, nil
	}
	k, err := st.Secret(e.ctx, serverKeyName, minSAMLKeyLen)
	if err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	return k, nil
}

// redactDSN hides a password in a postgres:// DSN, for logs.
func redactDSN(dsn string) string {
	if strings.Contains(dsn, "password=") {
		return "(DSN with a password, not shown)"
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.User == nil {
		return dsn
	}
	return u.Redacted()
}
