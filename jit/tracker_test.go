package jit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func trackerConn(t *testing.T, base string, id store.ConnectionID, slug string) ConnectionConfig {
	t.Helper()
	urls, err := NewSPURLs(base, "acme", slug)
	if err != nil {
		t.Fatal(err)
	}
	return ConnectionConfig{ID: id, URLs: urls}
}

type browser struct{ cookies map[string]*http.Cookie }

func newBrowser() *browser { return &browser{cookies: map[string]*http.Cookie{}} }

// store keeps the cookies a response sets, as a browser would.
func (b *browser) store(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	raw := rec.Header().Values("Set-Cookie")
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return raw
}

func (b *browser) request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/saml/acme/okta/acs", nil)
	for _, c := range b.cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func newTestTracker(t *testing.T, clock *testClock, key string) *RequestTracker {
	t.Helper()
	tr, err := NewRequestTracker(RequestTrackerConfig{Key: []byte(key), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

const trackerKey = "0123456789abcdef0123456789abcdef"

func TestRequestTracker_TrackAndForget(t *testing.T) {
	clock := &testClock{}
	tr := newTestTracker(t, clock, trackerKey)
	conn := trackerConn(t, "https://onramp.example", "c1", "okta")
	b := newBrowser()

	for _, id := range []string{"_r1", "_r2"} {
		rec := httptest.NewRecorder()
		if _, err := tr.Track(rec, b.request(), conn, id, "/app/"+id); err != nil {
			t.Fatal(err)
		}
		b.store(t, rec)
	}

	pending := tr.Pending(b.request(), conn)
	if len(pending) != 2 || pending[0].ID != "_r1" || pending[1].ReturnTo != "/app/_r2" {
		t.Fatalf("Pending = %+v", pending)
	}
	if ids := tr.PendingIDs(b.request(), conn); !slices.Equal(ids, []string{"_r1", "_r2"}) {
		t.Fatalf("PendingIDs = %v", ids)
	}

	rec := httptest.NewRecorder()
	if err := tr.Forget(rec, b.request(), conn, "_r1"); err != nil {
		t.Fatal(err)
	}
	b.store(t, rec)
	if ids := tr.PendingIDs(b.request(), conn); !slices.Equal(ids, []string{"_r2"}) {
		t.Fatalf("after Forget(_r1): %v", ids)
	}

	rec = httptest.NewRecorder()
	if err := tr.Forget(rec, b.request(), conn, "_r2"); err != nil {
		t.Fatal(err)
	}
	b.store(t, rec)
	if len(b.cookies) != 0 {
		t.Fatalf("the cookie was not deleted when empty: %v", b.cookies)
	}
}

func TestRequestTracker_CookieAttributes(t *testing.T) {
	tests := []struct {
		base     string
		want     []string
		wantNone []string
	}{
		{
			// The IdP's cross-site POST must carry the cookie: SameSite=None,
			// which browsers accept only with Secure.
			base: "https://onramp.example",
			want: []string{"HttpOnly", "Secure", "SameSite=None", "Path=/saml/acme/okta/"},
		},
		{
			// Over http, SameSite=None would be dropped: no attribute at all.
			base:     "http://localhost:8080",
			want:     []string{"HttpOnly", "Path=/saml/acme/okta/"},
			wantNone: []string{"Secure", "SameSite"},
		},
		{
			base: "https://id.example/prefix",
			want: []string{"Path=/prefix/saml/acme/okta/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			tr := newTestTracker(t, &testClock{}, trackerKey)
			rec := httptest.NewRecorder()
			if _, err := tr.Track(rec, httptest.NewRequest(http.MethodGet, "/", nil), trackerConn(t, tt.base, "c1", "okta"), "_r1", "/"); err != nil {
				t.Fatal(err)
			}
			raw := rec.Header().Get("Set-Cookie")
			for _, w := range tt.want {
				if !strings.Contains(raw, "; "+w) {
					t.Errorf("Set-Cookie %q lacks %q", raw, w)
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(raw, w) {
					t.Errorf("Set-Cookie %q has %q", raw, w)
				}
			}
		})
	}
}

func TestRequestTracker_RejectsForeignCookies(t *testing.T) {
	clock := &testClock{}
	tr := newTestTracker(t, clock, trackerKey)
	okta := trackerConn(t, "https://onramp.example", "c1", "okta")
	b := newBrowser()
	rec := httptest.NewRecorder()
	if _, err := tr.Track(rec, b.request(), okta, "_r1", "/"); err != nil {
		t.Fatal(err)
	}
	b.store(t, rec)
	value := b.cookies[RequestCookieName].Value
	payload, sig, _ := strings.Cut(value, ".")

	withValue := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.AddCookie(&http.Cookie{Name: RequestCookieName, Value: v})
		return r
	}
	flip := func(s string) string {
		c := 'A'
		if s[len(s)/2] == 'A' {
			c = 'B'
		}
		return s[:len(s)/2] + string(c) + s[len(s)/2+1:]
	}

	if got := tr.PendingIDs(withValue(value), okta); !slices.Equal(got, []string{"_r1"}) {
		t.Fatalf("genuine cookie: %v", got)
	}
	other := newTestTracker(t, clock, "another server secret of 32 bytes!")
	cases := map[string]struct {
		tr   *RequestTracker
		r    *http.Request
		conn ConnectionConfig
	}{
		"payload changed":    {tr, withValue(flip(payload) + "." + sig), okta},
		"signature changed":  {tr, withValue(payload + "." + flip(sig)), okta},
		"no signature":       {tr, withValue(payload), okta},
		"another server key": {other, withValue(value), okta},
		"another connection": {tr, withValue(value), trackerConn(t, "https://onramp.example", "c2", "other")},
		"no cookie":          {tr, httptest.NewRequest(http.MethodPost, "/", nil), okta},
		"garbage":            {tr, withValue("%%%.###"), okta},
	}
	for name, c := range cases {
		if got := c.tr.Pending(c.r, c.conn); len(got) != 0 {
			t.Errorf("%s: Pending = %+v, want none", name, got)
		}
	}

	clock.Set(DefaultRequestTTL + time.Second)
	if got := tr.Pending(withValue(value), okta); len(got) != 0 {
		t.Errorf("expired: Pending = %+v, want none", got)
	}
}

func TestRequestTracker_KeepsTheNewest(t *testing.T) {
	tr := newTestTracker(t, &testClock{}, trackerKey)
	conn := trackerConn(t, "https://onramp.example", "c1", "okta")
	b := newBrowser()
	var ids []string
	for i := range maxTrackedRequests + 2 {
		id := fmt.Sprintf("_r%d", i)
		ids = append(ids, id)
		rec := httptest.NewRecorder()
		if _, err := tr.Track(rec, b.request(), conn, id, "/"+strings.Repeat("x", maxReturnToLength-1)); err != nil {
			t.Fatal(err)
		}
		for _, raw := range b.store(t, rec) {
			if len(raw) > 4000 {
				t.Fatalf("cookie is %d bytes, browsers keep at most 4096", len(raw))
			}
		}
	}
	if got := tr.PendingIDs(b.request(), conn); !slices.Equal(got, ids[2:]) {
		t.Fatalf("PendingIDs = %v, want %v", got, ids[2:])
	}
}

func TestRequestTracker_Config(t *testing.T) {
	if _, err := NewRequestTracker(RequestTrackerConfig{Key: []byte("short")}); err == nil {
		t.Error("a 5 byte key was accepted")
	}
	tr := newTestTracker(t, &testClock{}, trackerKey)
	conn := trackerConn(t, "https://onramp.example", "c1", "okta")
	if _, err := tr.Track(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), conn, "_r1", "/"+strings.Repeat("x", maxReturnToLength)); err == nil {
		t.Error("an over-long return_to was tracked")
	}
	if _, err := tr.Track(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), conn, "", "/"); err == nil {
		t.Error("an empty request ID was tracked")
	}
}

func TestReturnToPolicy(t *testing.T) {
	p := ReturnToPolicy{AllowedOrigins: []string{"https://app.acme.example", "http://localhost:3000/"}}
	ok := map[string]string{
		"":                                  "/",
		"/":                                 "/",
		"/app/settings?tab=1#top":           "/app/settings?tab=1#top",
		"https://app.acme.example/welcome":  "https://app.acme.example/welcome",
		"HTTPS://APP.ACME.EXAMPLE/x":        "HTTPS://APP.ACME.EXAMPLE/x",
		"http://localhost:3000/after-login": "http://localhost:3000/after-login",
	}
	for in, want := range ok {
		got, err := p.Validate(in)
		if err != nil || got != want {
			t.Errorf("Validate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"//evil.example/",
		"/\\evil.example",
		"\\\\evil.example",
		"https://evil.example/",
		"https://app.acme.example.evil.example/",
		"https://app.acme.example@evil.example/",
		"https://user@app.acme.example/",
		"http://app.acme.example/", // scheme is part of the origin
		"https://app.acme.example:8443/",
		"javascript:alert(1)",
		"data:text/html,hi",
		"app/relative",
		"/ok\r\nSet-Cookie: x",
		"/tab\tbed",
		"https:evil.example",
		"/" + strings.Repeat("x", maxReturnToLength),
	}
	for _, in := range bad {
		if got, err := p.Validate(in); err == nil {
			t.Errorf("Validate(%q) = %q, want an error", in, got)
		}
	}
	if _, err := (ReturnToPolicy{}).Validate("https://app.acme.example/"); err == nil {
		t.Error("an absolute URL was accepted with no allowed origins")
	}
}
