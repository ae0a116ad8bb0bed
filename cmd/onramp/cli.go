package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/onramp-dev/onramp/server"
)

// cli is the command line. Every flag that configures the server can also be set
// from the environment (the env tag); a flag given on the command line wins.
type cli struct {
	Help      helpFlag `short:"h" help:"Show help for onramp or a command."`
	LogFormat string   `name:"log-format" env:"ONRAMP_LOG_FORMAT" default:"text" placeholder:"text|json" help:"Log format: text or json. Logs go to stderr (default: ${default})."`
	LogLevel  string   `name:"log-level" env:"ONRAMP_LOG_LEVEL" default:"info" placeholder:"LEVEL" help:"Log level: debug, info, warn or error (default: ${default})."`

	Serve   serveCmd   `cmd:"" help:"Run the HTTP server (SCIM, health). Creates and migrates the SQLite database on first start."`
	Apply   applyCmd   `cmd:"" help:"Create or update organizations and SSO connections from a YAML file (idempotent)."`
	Token   tokenCmd   `cmd:"" help:"Create, list and revoke API bearer tokens."`
	Migrate migrateCmd `cmd:"" help:"Apply database migrations to the latest schema version."`
	Backup  backupCmd  `cmd:"" help:"Copy a SQLite database, consistently, while servers use it (PostgreSQL: use pg_dump)."`
	Bench   benchCmd   `cmd:"" help:"Drive a running server and print throughput and latency."`
	Admin   adminCmd   `cmd:"" help:"Operator tools for an organization's Admins (login-link)."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

// dbFlag is the database flag shared by the commands that open the store.
type dbFlag struct {
	DB string `name:"db" env:"ONRAMP_DB" default:"onramp.db" placeholder:"PATH_OR_DSN" help:"SQLite file path, or a postgres:// DSN (default: ${default})."`
}

// validate reports what is wrong with the database flag.
func (f dbFlag) validate() []string {
	if strings.TrimSpace(f.DB) == "" {
		return []string{"--db (ONRAMP_DB) must not be empty"}
	}
	return nil
}

// env is what every command's Run receives: the process's context, its output
// streams and the logger built from the global flags.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
}

// errHelpShown stops parsing after --help has printed the help.
var errHelpShown = errors.New("help shown")

// helpFlag prints help and stops, without kong's os.Exit.
type helpFlag bool

func (helpFlag) IgnoreDefault() {}

func (helpFlag) BeforeReset(ctx *kong.Context) error {
	if err := ctx.PrintUsage(false); err != nil {
		return err
	}
	return errHelpShown
}

// usageError is a problem with the command line or configuration: exit code 2.
type usageError struct{ problems []string }

func (e *usageError) Error() string {
	if len(e.problems) == 1 {
		return e.problems[0]
	}
	return "invalid configuration:\n  " + strings.Join(e.problems, "\n  ")
}

// problems returns a usageError listing ps, or nil if there are none.
func problems(ps ...[]string) error {
	var all []string
	for _, p := range ps {
		all = append(all, p...)
	}
	if len(all) == 0 {
		return nil
	}
	return &usageError{problems: all}
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// run parses args, runs the command and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("onramp"),
		kong.Description("onramp: SCIM 2.0 provisioning and SAML just-in-time sign-up for a multi-organization application."),
		kong.Writers(stdout, stderr),
		kong.NoDefaultHelp(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		// kong only calls Exit from paths this program does not use; never let it
		// end the process.
		kong.Exit(func(int) {}),
	)
	if err != nil {
		fmt.Fprintf(stderr, "onramp: %v\n", err)
		return exitError
	}
	kctx, err := parser.Parse(args)
	if errors.Is(err, errHelpShown) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "onramp: %v\nRun \"onramp --help\" for usage.\n", err)
		return exitUsage
	}
	// Validate the whole configuration up front and report every problem at once.
	logger, logProblems := newLogger(stderr, c.LogFormat, c.LogLevel)
	var cmdProblems []string
	if node := kctx.Selected(); node != nil && node.Target.CanAddr() {
		if v, ok := node.Target.Addr().Interface().(validator); ok {
			cmdProblems = v.validate()
		}
	}
	if err := problems(logProblems, cmdProblems); err != nil {
		fmt.Fprintf(stderr, "onramp: %v\n", err)
		return exitUsage
	}
	err = kctx.Run(&env{ctx: ctx, stdout: stdout, stderr: stderr, logger: logger})
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "onramp: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// validator is a command whose flags can be checked before it runs.
type validator interface {
	// validate returns every problem with the command's flags.
	validate() []string
}

// newLogger builds the process's logger: text or JSON on w, at the given level,
// adding the request ID from the context to every record. It returns the problems
// with the flags instead if there are any.
func newLogger(w io.Writer, format, level string) (*slog.Logger, []string) {
	var ps []string
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		ps = append(ps, fmt.Sprintf("--log-level (ONRAMP_LOG_LEVEL) %q: want debug, info, warn or error", level))
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		ps = append(ps, fmt.Sprintf("--log-format (ONRAMP_LOG_FORMAT) %q: want text or json", format))
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return slog.New(server.LogHandler(h, scimLogAttrs)), nil
}
