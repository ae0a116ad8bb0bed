package main

import (
	"fmt"
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/store"
)

// registerAdminAPI mounts the admin JSON API (BASE/api/v1/orgs/…, its OpenAPI
// document and the CSRF token endpoint) on e. Sessions are the SAML
// handler's, with the same (default) lifetimes.
func registerAdminAPI(e *echo.Echo, st store.Store, baseURL string, logger *slog.Logger) error {
	as, ok := st.(store.AdminStore)
	if !ok {
		return fmt.Errorf("admin api: store %T lacks the admin queries", st)
	}
	svc, err := admin.NewService(admin.Config{Store: as, BaseURL: baseURL, Logger: logger})
	if err != nil {
		return fmt.Errorf("admin api: %w", err)
	}
	admin.NewAPI(svc, logger).Register(e)
	return nil
}
