package sqlstore

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// checkpointer copies committed transactions from SQLite's WAL into the
// database file on a connection of its own, beside the writer, so that the
// writer does not stop for it (see doc.go, "Checkpoints").
//
// After each COMMIT the writer calls committed; the checkpointer then runs a
// PASSIVE checkpoint, which takes no lock a writer or reader waits for, and
// rests for pause before it looks again, so that one checkpoint covers the
// commits of that time.
type checkpointer struct {
	db    *sql.DB // one connection
	log   *slog.Logger
	pause time.Duration

	kick   chan struct{} // buffered, 1: a commit since the last checkpoint
	stop   chan struct{}
	exited chan struct{}
}

func startCheckpointer(db *sql.DB, log *slog.Logger, pause time.Duration) *checkpointer {
	c := &checkpointer{
		db:     db,
		log:    log,
		pause:  pause,
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go c.loop()
	return c
}

// committed tells the checkpointer that the WAL has grown. It never blocks.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.exited)
	rest := time.NewTimer(0)
	defer rest.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		c.checkpoint()
		rest.Reset(c.pause)
		select {
		case <-c.stop:
			return
		case <-rest.C:
		}
	}
}

func (c *checkpointer) checkpoint() {
	// PASSIVE copies what no reader still needs and never waits: a
	// checkpoint already under way (the writer's own, see
	// sqliteWriterPragmas) makes it return at once, and the next commit asks
	// again.
	var busy, walFrames, copied int
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &walFrames, &copied)
	if err != nil {
		c.log.Warn("sqlstore: checkpoint failed", "err", err)
	}
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.exited
	return c.db.Close()
}
