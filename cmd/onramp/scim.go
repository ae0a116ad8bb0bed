package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/onramp-dev/onramp/scim"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// newSCIMHandler builds the SCIM endpoint served at BASE/scim/v2.
func newSCIMHandler(st store.Store, baseURL string, limits scim.Limits, logger *slog.Logger) (http.Handler, error) {
	h, err := scim.New(scim.Config{Store: st, BaseURL: baseURL + server.SCIMPrefix, Logger: logger, Limits: limits})
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	return h, nil
}
