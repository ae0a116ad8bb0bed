package jit

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// acsForm is the body an IdP's auto-submitting form posts: a SAMLResponse
// of size bytes (before base64) and a RelayState.
func acsForm(tb testing.TB, size int) string {
	tb.Helper()
	raw := make([]byte, size)
	if _, err := rand.Read(raw); err != nil {
		tb.Fatal(err)
	}
	return url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"/app?x=1&y=2"}}.Encode()
}

// FuzzParseQuery: parseQuery returns what url.ParseQuery returns, values
// and error, for any query.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		"", "a=b", "a=b&a=c&d", "SAMLResponse=PHNhbWxwOlJlc3BvbnNl%2B%2F%3D%0D%0A&RelayState=%2Fapp",
		"a=%zz", "a=%4", "a=%", "%41=%42", "a+b=c+d", "a=b;c=d", "&&a=1&&", "=x", "a==b", "a=%e2%82%ac",
		"a=b&%=c&d=%zz", "a;b=%zz", acsForm(f, 300),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		got, gotErr := parseQuery(query)
		want, wantErr := url.ParseQuery(query)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseQuery(%q) = %q, url.ParseQuery = %q", query, got, want)
		}
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("parseQuery(%q) error %v, url.ParseQuery %v", query, gotErr, wantErr)
		}
	})
}

// TestParseForm: parseForm leaves a request as r.ParseForm does, for the
// ACS's own form, a form with query parameters too, a multipart form and a
// body with no type; and reports a body over the ACS's limit as
// *http.MaxBytesError.
func TestParseForm(t *testing.T) {
	var multi bytes.Buffer
	mw := multipart.NewWriter(&multi)
	if err := mw.WriteField("SAMLResponse", "abc"); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	form := acsForm(t, 8000)
	for _, tc := range []struct {
		name, target, contentType, body string
	}{
		{"ACS form", "/acs", "application/x-www-form-urlencoded", form},
		{"with a query", "/acs?RelayState=q&z=1", "application/x-www-form-urlencoded; charset=utf-8", form + "&z=2"},
		{"malformed", "/acs?a=%zz", "application/x-www-form-urlencoded", "SAMLResponse=%zz&RelayState=x"},
		{"multipart", "/acs", mw.FormDataContentType(), multi.String()},
		{"no type", "/acs", "", form},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.body))
				if tc.contentType != "" {
					r.Header.Set("Content-Type", tc.contentType)
				}
				return r
			}
			got, want := req(), req()
			gotErr, wantErr := parseForm(got), want.ParseForm()
			if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Errorf("error %v, ParseForm's %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got.PostForm, want.PostForm) || !reflect.DeepEqual(got.Form, want.Form) {
				t.Errorf("PostForm %q Form %q; ParseForm's %q %q", got.PostForm, got.Form, want.PostForm, want.Form)
			}
		})
	}

	t.Run("over the limit", func(t *testing.T) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/acs", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Body = http.MaxBytesReader(rec, r.Body, int64(len(form)/2))
		var tooBig *http.MaxBytesError
		if err := parseForm(r); !errors.As(err, &tooBig) {
			t.Errorf("error %v, want an *http.MaxBytesError", err)
		}
	})
}

// BenchmarkParseQuery compares parseQuery with url.ParseQuery on the form
// of a typical SAML response (11 KB of XML).
func BenchmarkParseQuery(b *testing.B) {
	form := acsForm(b, 11000)
	for _, impl := range []struct {
		name  string
		parse func(string) (url.Values, error)
	}{{"url.ParseQuery", url.ParseQuery}, {"parseQuery", parseQuery}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(form)))
			for b.Loop() {
				if _, err := impl.parse(form); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
