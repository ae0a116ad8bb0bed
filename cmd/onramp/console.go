package main

import (
	"fmt"
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/console"
	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/store"
)

// registerConsole mounts the admin console (BASE/admin) on e. It calls its
// own admin.Service, built as the admin API's is: sessions are the SAML
// handler's, with the same (default) lifetimes. With the email sign-in's
// service, the console has Users → Invitations.
func registerConsole(e *echo.Echo, st store.Store, baseURL string, invitations *emaillogin.Service, logger *slog.Logger) error {
	as, ok := st.(store.AdminStore)
	if !ok {
		return fmt.Errorf("admin console: store %T lacks the admin queries", st)
	}
	svc, err := admin.NewService(admin.Config{Store: as, BaseURL: baseURL, Logger: logger})
	if err != nil {
		return fmt.Errorf("admin console: %w", err)
	}
	cfg := console.Config{Service: svc, Store: as, Logger: logger}
	if invitations != nil {
		cfg.Invitations = invitations
	}
	cn, err := console.New(cfg)
	if err != nil {
		return fmt.Errorf("admin console: %w", err)
	}
	cn.Register(e)
	return nil
}
