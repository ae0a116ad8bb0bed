package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Durability is the part of the store that answers wait on
// (store.Store.Durable).
type Durability interface {
	Durable(ctx context.Context) error
}

// notDurableMessage is the body of the 503 sent when the store cannot make
// its recent writes durable.
const notDurableMessage = "service unavailable: the database cannot make recent writes durable; the operator has been told (see the log)\n"

// durableMiddleware holds every answer, just before its status line goes
// out, until every write committed so far is durable (store.Store.Durable):
// the writes the handler read included, which a sign-in may have committed a
// moment before without waiting for the disk. So nothing a client is shown
// (an account a sign-in created, over SCIM or /api/v1/me; an audit event in
// the console) could still be taken back by an OS crash. The wait is nearly
// always none: the store fsyncs a sign-in's commit right after it. Routes in
// exempt (echo route patterns) answer without waiting: the ACS, whose answer
// carries nothing but the new session's cookie and a redirect, and whose
// wait for the disk is the time this saves.
//
// If the store reports that it cannot make its writes durable, the answer
// becomes a 503 whose body says so, and whatever the handler writes after is
// dropped; the cause goes to the log.
func durableMiddleware(d Durability, exempt []string, logger *slog.Logger) echo.MiddlewareFunc {
	skip := make(map[string]bool, len(exempt))
	for _, p := range exempt {
		skip[p] = true
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if skip[c.Path()] {
				return next(c)
			}
			res := c.Response()
			ctx := c.Request().Context()
			res.Before(func() {
				err := d.Durable(ctx)
				if err == nil {
					return
				}
				logger.ErrorContext(ctx, "answer withheld: recent writes are not durable", "err", err)
				h := res.Header()
				for _, k := range [...]string{"Content-Length", "Content-Encoding", "ETag", "Location", "Set-Cookie"} {
					h.Del(k)
				}
				h.Set("Content-Type", "text/plain; charset=utf-8")
				h.Set("Cache-Control", "no-store")
				res.Status = http.StatusServiceUnavailable
				res.Writer = &withheldWriter{ResponseWriter: res.Writer}
			})
			return next(c)
		}
	}
}

// withheldWriter sends notDurableMessage as the body and drops the
// handler's.
type withheldWriter struct {
	http.ResponseWriter
}

func (w *withheldWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	_, _ = w.ResponseWriter.Write([]byte(notDurableMessage))
}

func (w *withheldWriter) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *withheldWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
