package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// WithObserver has observe called after every write the store makes, with the
// write's name (for example "sqlstore: create user"; a fixed set, never an ID),
// how long it took from submission to the end of its transaction (on SQLite
// the time queued for the one writer included, which is where contention
// shows) and its error (nil once committed). Reads are not observed: they run
// on their own pool and do not wait for one another. observe runs on the
// caller's goroutine and must be quick and safe for concurrent use; package
// metrics' ObserveStore is one.
func WithObserver(observe func(op string, d time.Duration, err error)) Option {
	return func(o *options) { o.observe = observe }
}

// observe wraps w so that each write is reported to fn; without fn, w.
func observe(w writer, fn func(op string, d time.Duration, err error)) writer {
	if fn == nil {
		return w
	}
	return observedWriter{w: w, fn: fn}
}

// observedWriter reports each write to fn. The clock is the monotonic one:
// WithNow's clock, which tests fix, stamps rows and is no stopwatch.
type observedWriter struct {
	w  writer
	fn func(op string, d time.Duration, err error)
}

func (o observedWriter) do(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	start := time.Now()
	err := o.w.do(ctx, name, fn)
	o.fn(name, time.Since(start), err)
	return err
}

func (o observedWriter) doDeferred(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	start := time.Now()
	err := o.w.doDeferred(ctx, name, fn)
	o.fn(name, time.Since(start), err)
	return err
}

func (o observedWriter) doHeld(ctx context.Context, name string, verdict <-chan bool, fn func(ctx context.Context, tx *sql.Tx) error) error {
	start := time.Now()
	err := o.w.doHeld(ctx, name, verdict, fn)
	o.fn(name, time.Since(start), err)
	return err
}

func (o observedWriter) durable(ctx context.Context) error { return o.w.durable(ctx) }

func (o observedWriter) close() error { return o.w.close() }
