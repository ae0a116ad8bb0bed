// Command onramp is the onramp binary: the SCIM and SAML JIT provisioning server and
// the operator's tools around it (apply, token, migrate, bench, version).
//
// Run "onramp --help" for the commands, flags and environment variables; README.md
// documents them with the URLs the server answers on.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
