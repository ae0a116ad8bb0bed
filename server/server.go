package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

// SCIMPrefix is where the SCIM handler is mounted.
const SCIMPrefix = "/scim/v2"

// readyTimeout bounds the store ping behind /readyz.
const readyTimeout = 2 * time.Second

// Pinger is the part of the store that readiness needs.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config holds what New needs. Store and Logger are required.
type Config struct {
	// Store answers /readyz.
	Store Pinger
	// SCIM, if set, serves every request under SCIMPrefix. It receives the request
	// with its full path (for example /scim/v2/Users).
	SCIM http.Handler
	// Logger receives the request log and the causes of 5xx answers.
	Logger *slog.Logger
	// Now returns the current time, for request latency; time.Now if nil.
	Now func() time.Time
	// Metrics, if set, receives every request's latency and SCIM operation,
	// and its handler is served at MetricsPath.
	Metrics Metrics
	// Limits bounds request rates outside SCIM (limits.go); body limits
	// apply whatever it holds.
	Limits Limits
	// Durable, if set, holds every answer until the writes committed before
	// it are durable (durable.go), except on the routes in
	// AnswerBeforeDurable (echo route patterns: the ACS).
	Durable             Durability
	AnswerBeforeDurable []string
}

// New returns the echo instance serving onramp's routes. The caller may add more
// routes before serving it.
func New(cfg Config) (*echo.Echo, error) {
	var problems []error
	if cfg.Store == nil {
		problems = append(problems, errors.New("server: Config.Store is required"))
	}
	if cfg.Logger == nil {
		problems = append(problems, errors.New("server: Config.Logger is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(cfg.Logger)
	// c.RealIP() is the address the SAML limit counts (limits.go), never a
	// header from a client that is not a trusted proxy.
	e.IPExtractor = clientAddress(cfg.Limits.TrustedProxies)
	e.Use(requestIDMiddleware, logMiddleware(cfg.Logger, cfg.Now))
	if cfg.Metrics != nil {
		e.Use(metricsMiddleware(cfg.Metrics, cfg.Now))
		e.GET(MetricsPath, echo.WrapHandler(cfg.Metrics.Handler()))
	}
	e.Use(recoverMiddleware(cfg.Logger))
	e.Use(limitsMiddleware(cfg.Limits, cfg.Now))
	if cfg.Durable != nil {
		e.Use(durableMiddleware(cfg.Durable, cfg.AnswerBeforeDurable, cfg.Logger))
	}

	e.GET("/healthz", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok")
	})
	e.GET("/readyz", readyHandler(cfg.Store, cfg.Logger))
	if cfg.SCIM != nil {
		h := echo.WrapHandler(cfg.SCIM)
		e.Any(SCIMPrefix, h)
		e.Any(SCIMPrefix+"/*", h)
	}
	return e, nil
}

func readyHandler(p Pinger, logger *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			logger.ErrorContext(ctx, "readiness: store unreachable", "err", err)
			return c.String(http.StatusServiceUnavailable, "store unreachable")
		}
		return c.String(http.StatusOK, "ok")
	}
}

// logMiddleware logs one line per request once its answer is known.
func logMiddleware(logger *slog.Logger, now func() time.Time) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := now()
			if err := next(c); err != nil {
				// Render the error now, so that the logged status is the one sent.
				c.Error(err)
			}
			r := c.Request()
			status := c.Response().Status
			level := slog.LevelInfo
			if status >= http.StatusInternalServerError {
				level = slog.LevelWarn
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("latency", now().Sub(start)),
				slog.String("request_id", RequestID(r.Context())),
			}
			// Routes that name an organization and connection (the SAML
			// endpoints) say so; the path holds the same slugs.
			for _, p := range [...]string{"org", "connection"} {
				if v := c.Param(p); v != "" {
					attrs = append(attrs, slog.String(p, v))
				}
			}
			logger.LogAttrs(r.Context(), level, "request", attrs...)
			return nil
		}
	}
}

// recoverMiddleware turns a panic into a 500 answer. The panic value and stack go
// to the log; the client sees only the fixed message. http.ErrAbortHandler is
// re-raised, as net/http expects.
func recoverMiddleware(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if e, ok := v.(error); ok && errors.Is(e, http.ErrAbortHandler) {
					panic(v)
				}
				logger.ErrorContext(c.Request().Context(), "panic serving request",
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				err = echo.NewHTTPError(http.StatusInternalServerError).SetInternal(fmt.Errorf("panic: %v", v))
			}()
			return next(c)
		}
	}
}

// errorBody is the JSON shape of every error answer outside SCIM.
type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id"`
}

// errorHandler renders errors as JSON. 4xx answers keep the message that the
// handler chose (echo's HTTPError message, which handlers write for clients); 5xx
// answers and errors that are not HTTPErrors get a fixed message naming the request
// ID, and their cause is logged.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		ctx := c.Request().Context()
		id := RequestID(ctx)
		code := http.StatusInternalServerError
		msg := ""
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = he.Code
			if s, ok := he.Message.(string); ok {
				msg = s
			}
		}
		if code >= http.StatusInternalServerError {
			logger.ErrorContext(ctx, "internal error", "status", code, "err", err, "request_id", id)
			msg = "internal error, reference " + id
		} else if msg == "" {
			msg = http.StatusText(code)
		}
		if c.Response().Committed {
			return
		}
		var werr error
		if c.Request().Method == http.MethodHead {
			werr = c.NoContent(code)
		} else {
			werr = c.JSON(code, errorBody{Error: msg, RequestID: id})
		}
		if werr != nil {
			logger.DebugContext(ctx, "writing error response", "err", werr)
		}
	}
}
