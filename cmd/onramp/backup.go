package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store/sqlstore"
)

// backupCmd takes a consistent copy of a SQLite store while servers use it.
type backupCmd struct {
	dbFlag
	To string `name:"to" placeholder:"FILE" help:"New file to write the backup to; it must not exist."`
}

func (c *backupCmd) validate() []string {
	ps := c.dbFlag.validate()
	if strings.TrimSpace(c.To) == "" {
		ps = append(ps, "--to is required: the new file to write the backup to")
	}
	if strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://") {
		ps = append(ps, "--db is a PostgreSQL DSN: back it up with pg_dump (e.g. pg_dump --format=custom --file=onramp.dump \"$ONRAMP_DB\"), restore with pg_restore; see README, Backups")
	}
	return ps
}

func (c *backupCmd) Run(e *env) error {
	start := time.Now()
	if err := sqlstore.Backup(e.ctx, c.DB, c.To); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fi, err := os.Stat(c.To)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	e.logger.Info("backup written", "db", c.DB, "to", c.To, "bytes", fi.Size(), "duration", time.Since(start))
	fmt.Fprintf(e.stdout, "%s: backed up to %s (%d bytes, integrity checked)\n", c.DB, c.To, fi.Size())
	return nil
}
