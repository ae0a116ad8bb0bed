package main

import (
	"fmt"
	"strings"

	"github.com/onramp-dev/onramp/apply"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

type applyCmd struct {
	dbFlag
	File   string `name:"file" short:"f" required:"" placeholder:"FILE.yaml" help:"The YAML file to apply. Metadata files are relative to its directory."`
	DryRun bool   `name:"dry-run" help:"Validate the file and stop, without opening the database."`
}

func (c *applyCmd) validate() []string {
	ps := c.dbFlag.validate()
	if strings.TrimSpace(c.File) == "" {
		ps = append(ps, "-f FILE.yaml must not be empty")
	}
	return ps
}

func (c *applyCmd) Run(e *env) error {
	cfg, err := apply.Load(c.File)
	if err != nil {
		return err
	}
	if c.DryRun {
		fmt.Fprintf(e.stdout, "%s is valid: %d organization(s)\n", c.File, len(cfg.Orgs))
		return nil
	}
	st, err := sqlstore.Open(e.ctx, c.DB, e.logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	res, err := apply.Apply(e.ctx, st, cfg)
	if werr := res.WriteSummary(e.stdout); werr != nil && err == nil {
		err = werr
	}
	return err
}
