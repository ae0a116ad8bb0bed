package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// querier is what reads need from *sql.DB (the reader pool) and *sql.Tx (inside
// a write job).
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// Times are stored as INTEGER microseconds since the Unix epoch (UTC): compact,
// the same in both dialects, and compared as plain integers by indexes.

// stamp is t as the store keeps it: UTC, truncated to microseconds.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func stampPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := stamp(*t)
	return &s
}

// nullString stores "" as NULL (externalId, optional references).
func nullString[S ~string](s S) any {
	if s == "" {
		return nil
	}
	return string(s)
}

// nullRaw stores an empty JSON document as NULL.
func nullRaw(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// rawOrNil copies a scanned JSON column; NULL reads back as nil.
func rawOrNil(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// jsonOrNull encodes v, storing a nil or empty value as NULL.
func jsonOrNull[T any](v []T) (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func mapOrNull(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func decodeMap(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// newID returns a random (version 4) UUID in its canonical text form.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sqlstore: random id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:]), nil
}

// insertEvent writes the audit event that goes with a change, in the change's
// transaction. The caller has filled the target IDs; insertEvent fills Time (if
// zero) and default Actor and Action.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, ev store.AuditEvent, now time.Time, defaultAction string) error {
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if ev.Actor == "" {
		ev.Actor = "system"
	}
	if ev.Action == "" {
		ev.Action = defaultAction
	}
	detail, err := mapOrNull(ev.Detail)
	if err != nil {
		return fmt.Errorf("audit detail: %w", err)
	}
	_, err = tx.ExecContext(ctx, s.q.insertEvent, string(ev.OrgID), micros(stamp(ev.Time)), ev.Actor, ev.Action,
		string(ev.UserID), string(ev.GroupID), string(ev.ConnectionID), ev.Rule, detail)
	if err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// affected returns how many rows res changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}
