package main

import (
	"fmt"

	"github.com/onramp-dev/onramp/store/sqlstore"
)

type migrateCmd struct {
	dbFlag
}

func (c *migrateCmd) validate() []string { return c.dbFlag.validate() }

func (c *migrateCmd) Run(e *env) error {
	// Each migration applied is logged (stderr) with its version; sqlstore.Migrate
	// does not return the resulting version, so stdout says only that it is latest.
	if err := sqlstore.Migrate(e.ctx, c.DB, e.logger); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s: schema migrated to the latest version\n", redactDSN(c.DB))
	return nil
}
