package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
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

// newID returns a new ID for a row: a time-ordered UUID (uuidV7) from the wall
// clock. Not the store's clock (WithNow): the time in an ID only places the key
// in its index, and a clock a test has fixed would lose that order, while no
// behaviour depends on it.
func newID() (string, error) { return uuidV7(time.Now()) }

// uuidV7 returns a version 7 UUID (RFC 9562) for time t in its canonical text
// form: 48 bits of Unix milliseconds, then 12 bits of the fraction of the
// millisecond (RFC 9562 section 6.2, method 3), so that IDs made in order sort in
// order to about a quarter of a microsecond, then 62 random bits. Rows' IDs are
// keys of unique indexes, and time-ordered keys append to an index's last pages,
// which stay in the page cache, where random (version 4) keys land on a random
// page each, which a big table's index must read, and every COMMIT then write,
// for each insert. The 62 random bits keep IDs unguessable enough for an
// identifier (it is not a secret) and unique across replicas; the time in an ID
// is no secret either, since SCIM shows every resource's meta.created.
func uuidV7(t time.Time) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		return "", fmt.Errorf("sqlstore: random id: %w", err)
	}
	ms := uint64(t.UnixMilli()) & (1<<48 - 1)       //nolint:gosec // G115: the 48-bit field wraps in the year 10889
	frac := uint64(t.Nanosecond()%1e6) * 4096 / 1e6 // 12 bits
	b[0], b[1], b[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	b[3], b[4], b[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(frac>>8) // version 7
	b[7] = byte(frac)
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

// insertEvents writes evs (completed as insertEvent does) in one INSERT of
// several rows: a sign-in's events, one statement instead of one each.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, evs []store.AuditEvent, now time.Time) error {
	if len(evs) == 1 {
		return s.insertEvent(ctx, tx, evs[0], now, "")
	}
	const cols = 9
	var q strings.Builder
	q.WriteString(`INSERT INTO audit_events (org_id, time, actor, action, user_id, group_id, connection_id, rule, detail) VALUES `)
	args := make([]any, 0, cols*len(evs))
	for i, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = now
		}
		if ev.Actor == "" {
			ev.Actor = "system"
		}
		detail, err := mapOrNull(ev.Detail)
		if err != nil {
			return fmt.Errorf("audit detail: %w", err)
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, string(ev.OrgID), micros(stamp(ev.Time)), ev.Actor, ev.Action,
			string(ev.UserID), string(ev.GroupID), string(ev.ConnectionID), ev.Rule, detail)
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(q.String()), args...); err != nil {
		return fmt.Errorf("insert audit events: %w", err)
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
