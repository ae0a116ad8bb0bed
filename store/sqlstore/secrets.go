package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Secret implements store.Secrets: the insert does nothing when the name is
// taken, so whichever process inserted first wins and every caller reads its
// bytes back in the same transaction.
func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	if name == "" || size <= 0 {
		return nil, errors.New("sqlstore: secret: empty name or size")
	}
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("sqlstore: secret %s: %w", name, err)
	}
	var out []byte
	err := s.write(ctx, "sqlstore: secret", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
			name, fresh, micros(now)); err != nil {
			return s.d.classify(err, "sqlstore: secret "+name)
		}
		return tx.QueryRowContext(ctx, s.d.rebind(`SELECT value FROM secrets WHERE name = ?`), name).Scan(&out)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: secret %s: %w", name, err)
	}
	return out, nil
}
