package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/server"
)

// durability is a store's Durable that records what the handler had done
// when it was called.
type durability struct {
	mu      sync.Mutex
	calls   int
	handled []bool // per call: had the handler read its data by then
	read    bool
	err     error
}

func (d *durability) Durable(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	d.handled = append(d.handled, d.read)
	return d.err
}

func (d *durability) handlerRead() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.read = true
}

func durableServer(t *testing.T, d *durability) *httptest.Server {
	t.Helper()
	e, err := server.New(server.Config{Store: pinger{}, Logger: slog.New(slog.DiscardHandler),
		Durable: d, AnswerBeforeDurable: []string{"/saml/:org/:connection/acs"}})
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/api/v1/me", func(c echo.Context) error {
		d.handlerRead() // the read of what a sign-in may have just written
		return c.JSON(http.StatusOK, map[string]string{"id": "u1", "userName": "ann@acme.com"})
	})
	e.DELETE("/thing", func(c echo.Context) error {
		d.handlerRead()
		return c.NoContent(http.StatusNoContent)
	})
	e.POST("/saml/:org/:connection/acs", func(c echo.Context) error {
		return c.Redirect(http.StatusSeeOther, "/app")
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

type pinger struct{}

func (pinger) Ping(context.Context) error { return nil }

func call(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// TestAnswersWaitForDurability: an answer waits on the store's Durable
// after its handler read what it shows (so a sign-in committed meanwhile
// is covered), including a bodiless one; the ACS does not wait.
func TestAnswersWaitForDurability(t *testing.T) {
	d := &durability{}
	srv := durableServer(t, d)

	if res, body := call(t, http.MethodGet, srv.URL+"/api/v1/me"); res.StatusCode != http.StatusOK || !strings.Contains(body, "ann@acme.com") {
		t.Fatalf("GET /api/v1/me: %s %s", res.Status, body)
	}
	if res, _ := call(t, http.MethodDelete, srv.URL+"/thing"); res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %s", res.Status)
	}
	d.mu.Lock()
	calls, handled := d.calls, d.handled
	d.mu.Unlock()
	if calls != 2 {
		t.Fatalf("Durable called %d times for two answers, want 2", calls)
	}
	for i, h := range handled {
		if !h {
			t.Errorf("answer %d: Durable was called before the handler read its data", i)
		}
	}

	if res, _ := call(t, http.MethodPost, srv.URL+"/saml/acme/okta/acs"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("ACS: %s", res.Status)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.calls != 2 {
		t.Errorf("the ACS's answer waited on Durable; it is exempt")
	}
}

// TestAnswerWithheldWhenNotDurable: when the store cannot make its writes
// durable, the answer is a 503 that says so, without the handler's body.
func TestAnswerWithheldWhenNotDurable(t *testing.T) {
	d := &durability{err: errors.New("sqlstore: make recent writes durable: input/output error")}
	srv := durableServer(t, d)
	res, body := call(t, http.MethodGet, srv.URL+"/api/v1/me")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %s, want 503", res.Status)
	}
	if strings.Contains(body, "ann@acme.com") {
		t.Errorf("the handler's body went out: %q", body)
	}
	if !strings.Contains(body, "cannot make recent writes durable") {
		t.Errorf("body %q does not say why", body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
}
