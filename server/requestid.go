package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/labstack/echo/v4"
)

// HeaderRequestID is the header that carries the request ID in both directions.
const HeaderRequestID = "X-Request-ID"

// maxRequestIDLen bounds an incoming request ID that is honoured.
const maxRequestIDLen = 64

type requestIDKey struct{}

// WithRequestID returns a context that carries the request ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID reports whether an incoming request ID has a sane shape: 1 to 64
// characters from [A-Za-z0-9._-]. Anything else (spaces, quotes, control characters,
// very long values) would let a client forge log lines, so it is replaced.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+).
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestIDMiddleware honours a well-formed incoming X-Request-ID, else makes one,
// puts it in the request's context and echoes it in the response header.
func requestIDMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		r := c.Request()
		c.SetRequest(r.WithContext(WithRequestID(r.Context(), id)))
		c.Response().Header().Set(HeaderRequestID, id)
		return next(c)
	}
}

// LogHandler wraps h so that every record logged with a context that carries a
// request ID gets a request_id attribute. main builds its logger with it, so that
// packages which log with InfoContext(ctx, …) need not add the ID themselves.
//
// Each of sources returns more attributes that a context carries, for example
// the organization and connection of a SCIM request's bearer token; they are
// added to every record logged with that context, unless the record already
// has an attribute of that key. Sources must return only IDs and such: what
// they return goes into every line.
func LogHandler(h slog.Handler, sources ...func(context.Context) []slog.Attr) slog.Handler {
	return logHandler{h, sources}
}

type logHandler struct {
	slog.Handler
	sources []func(context.Context) []slog.Attr
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" && !hasAttr(r, "request_id") {
		r.AddAttrs(slog.String("request_id", id))
	}
	for _, src := range h.sources {
		for _, a := range src(ctx) {
			if !hasAttr(r, a.Key) {
				r.AddAttrs(a)
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs), h.sources}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name), h.sources}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
