package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// bootIDFile holds a random ID that Linux draws at every boot. In a
// container it is the host's.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

// readBootID returns this boot's ID, or "" where there is none (not Linux).
func readBootID() string {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// WithBootID replaces the machine's boot ID, which the replay fence
// (openFence) compares with the one the database was last opened on, for
// tests that play a restart of the machine. "" is a boot that cannot be
// told, as on a system without /proc: every open then moves the fence.
func WithBootID(id string) Option {
	return func(o *options) { o.bootID = func() string { return id } }
}

// openFence runs at Open on SQLite, where sign-ins commit without waiting for
// the disk: it reads the replay fence, moving it to now first if the database
// was last opened on another boot of the machine, or on another machine, or
// where the boot cannot be told (bootID ""). A crash of the process loses no
// commit (the WAL it wrote is in the OS's page cache); only a restart of the
// machine can, so only then may replay records be missing, and only those of
// assertions issued before the restart. The fence is returned (zero if never
// set) and refuses them (SignIn). It stays in the table: a later open on the
// same boot keeps it, and a fence in the past refuses only assertions too old
// to pass verification anyway.
func (s *Store) openFence(ctx context.Context, bootID string) (time.Time, error) {
	var fence time.Time
	err := s.write(ctx, "sqlstore: replay fence", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		fence = time.Time{}
		var (
			was      string
			fencedAt sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT boot_id, fenced_at FROM replay_fence WHERE id = 1`).Scan(&was, &fencedAt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// A new database: no sign-in to lose yet.
			_, err = tx.ExecContext(ctx, `INSERT INTO replay_fence (id, boot_id) VALUES (1, ?)`, bootID)
			return err
		case err != nil:
			return err
		}
		if fencedAt.Valid {
			fence = fromMicros(fencedAt.Int64)
		}
		if bootID != "" && bootID == was {
			return nil
		}
		if now.After(fence) {
			fence = now
		}
		_, err = tx.ExecContext(ctx, `UPDATE replay_fence SET boot_id = ?, fenced_at = ? WHERE id = 1`, bootID, micros(fence))
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlstore: replay fence: %w", err)
	}
	return fence, nil
}
