package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type harness struct {
	url   string
	logs  *syncBuffer
	store *sqlstore.Store
	echo  *echo.Echo
}

// start serves onramp's routes over a real SQLite store, plus extra routes.
func start(t *testing.T, scim http.Handler, extra func(e *echo.Echo)) *harness {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	logs := &syncBuffer{}
	logger := slog.New(server.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	e, err := server.New(server.Config{Store: st, SCIM: scim, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if extra != nil {
		extra(e)
	}
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return &harness{url: ts.URL, logs: logs, store: st, echo: e}
}

// response is what get returns: the body is read and closed already.
type response struct {
	StatusCode int
	Header     http.Header
}

func get(t *testing.T, url string, hdr map[string]string) (response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{StatusCode: resp.StatusCode, Header: resp.Header}, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	h := start(t, nil, nil)
	if resp, body := get(t, h.url+"/healthz", nil); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, h.url+"/readyz", nil); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("/readyz = %d %q", resp.StatusCode, body)
	}
	// With the store gone, the process is still up but not ready.
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, h.url+"/readyz", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz after store close = %d, want 503", resp.StatusCode)
	}
	if resp, _ := get(t, h.url+"/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz after store close = %d, want 200", resp.StatusCode)
	}
}

func TestRequestID(t *testing.T) {
	seen := make(chan string, 1)
	h := start(t, nil, func(e *echo.Echo) {
		e.GET("/id", func(c echo.Context) error {
			seen <- server.RequestID(c.Request().Context())
			return c.NoContent(http.StatusNoContent)
		})
	})
	tests := []struct {
		name, incoming string
		honoured       bool
	}{
		{"well-formed is honoured", "abc-123_DEF.4", true},
		{"absent is made", "", false},
		{"spaces are replaced", "abc def", false},
		{"log forgery is replaced", "x\" level=ERROR msg=\"forged", false},
		{"too long is replaced", strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := get(t, h.url+"/id", map[string]string{server.HeaderRequestID: tt.incoming})
			got := resp.Header.Get(server.HeaderRequestID)
			if ctxID := <-seen; got != ctxID {
				t.Errorf("header %q differs from the context's %q", got, ctxID)
			}
			if tt.honoured && got != tt.incoming {
				t.Errorf("got %q, want the incoming %q", got, tt.incoming)
			}
			if !tt.honoured && (got == tt.incoming || len(got) != 32) {
				t.Errorf("got %q, want a new 32-character ID", got)
			}
		})
	}
}

func TestPanicBecomesOpaque500(t *testing.T) {
	h := start(t, nil, func(e *echo.Echo) {
		e.GET("/boom", func(echo.Context) error { panic("secret database password hunter2") })
	})
	resp, body := get(t, h.url+"/boom", map[string]string{server.HeaderRequestID: "req-1"})
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", resp.StatusCode)
	}
	var eb struct {
		Error     string `json:"error"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if eb.Error != "internal error, reference req-1" || eb.RequestID != "req-1" {
		t.Errorf("body = %+v", eb)
	}
	if strings.Contains(body, "hunter2") {
		t.Errorf("500 body leaks the panic: %s", body)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "hunter2") || !strings.Contains(logs, `"request_id":"req-1"`) {
		t.Errorf("the log should hold the panic and request ID:\n%s", logs)
	}
	// The server survives.
	if resp, _ := get(t, h.url+"/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz after panic = %d", resp.StatusCode)
	}
}

func TestErrorsAreJSON(t *testing.T) {
	h := start(t, nil, func(e *echo.Echo) {
		e.GET("/teapot", func(echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") })
		e.GET("/plain", func(echo.Context) error { return io.ErrUnexpectedEOF })
	})
	tests := []struct {
		path   string
		status int
		msg    string
	}{
		{"/nowhere", 404, "Not Found"},
		{"/teapot", 418, "short and stout"},
		{"/plain", 500, "internal error, reference "},
	}
	for _, tt := range tests {
		resp, body := get(t, h.url+tt.path, nil)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.msg) {
			t.Errorf("%s = %d %s, want %d with %q", tt.path, resp.StatusCode, body, tt.status, tt.msg)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s content type %q", tt.path, ct)
		}
		if strings.Contains(body, "unexpected EOF") {
			t.Errorf("%s leaks the cause: %s", tt.path, body)
		}
	}
}

func TestRequestLogHasNoSecrets(t *testing.T) {
	h := start(t, nil, nil)
	get(t, h.url+"/readyz?token=sekrit-query", map[string]string{
		"Authorization":        "Bearer onramp_sekrit",
		server.HeaderRequestID: "log-test",
	})
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no request log line:\n%s", h.logs.String())
	}
	want := map[string]any{"method": "GET", "path": "/readyz", "status": float64(200), "request_id": "log-test"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["latency"]; !ok {
		t.Error("log lacks latency")
	}
	if s := h.logs.String(); strings.Contains(s, "sekrit") {
		t.Errorf("log leaks the query string or token:\n%s", s)
	}
}

func TestSCIMIsMounted(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	scim := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	h := start(t, scim, nil)
	for _, p := range []string{"/scim/v2", "/scim/v2/Users", "/scim/v2/Users/abc"} {
		if resp, body := get(t, h.url+p, nil); resp.StatusCode != 200 || body != `{"ok":true}` {
			t.Errorf("%s = %d %q", p, resp.StatusCode, body)
		}
	}
	want := []string{"/scim/v2", "/scim/v2/Users", "/scim/v2/Users/abc"}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Errorf("SCIM handler saw %q, want %q", paths, want)
	}
	if resp, _ := get(t, h.url+"/scim/v1/Users", nil); resp.StatusCode != 404 {
		t.Errorf("/scim/v1/Users = %d, want 404", resp.StatusCode)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := server.New(server.Config{})
	if err == nil || !strings.Contains(err.Error(), "Store") || !strings.Contains(err.Error(), "Logger") {
		t.Errorf("New(empty) = %v, want both missing fields named", err)
	}
}

func TestLogHandlerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(server.LogHandler(slog.NewTextHandler(&buf, nil))).With("component", "x")
	logger.InfoContext(server.WithRequestID(context.Background(), "rid-9"), "hello")
	logger.InfoContext(context.Background(), "bye")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "request_id=rid-9") || strings.Contains(lines[1], "request_id") {
		t.Errorf("log:\n%s", buf.String())
	}
}
