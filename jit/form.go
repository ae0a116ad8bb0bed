package jit

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// parseForm is r.ParseForm for the ACS, faster on the one body it gets in
// bulk: a SAMLResponse of tens of kilobytes of base64, URL-encoded, in
// which '+', '/' and '=' are escaped (%2B, %2F, %3D), one byte in twenty
// or so. net/url decodes it a byte at a time through a strings.Builder,
// 60-80 µs for a 15 KB form on the benchmark machine, on the sign-in's
// critical path; parseQuery copies the runs between escapes whole, in
// about a fifth of that (BenchmarkParseQuery). It gives the same result as r.ParseForm, errors included
// (FuzzParseQuery compares it with url.ParseQuery): it sets r.PostForm to
// the body's values and r.Form to those followed by the URL query's. A body
// of any other type than application/x-www-form-urlencoded is left to
// r.ParseForm. The body is read as r.Body gives it (the ACS has wrapped it
// in an http.MaxBytesReader, well below ParseForm's own 10 MB limit).
func parseForm(r *http.Request) error {
	if r.PostForm != nil || r.Method != http.MethodPost || r.Body == nil {
		return r.ParseForm()
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return r.ParseForm()
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	post, err := parseQuery(string(body))
	query, qerr := url.ParseQuery(r.URL.RawQuery)
	if err == nil {
		err = qerr
	}
	r.PostForm = post
	r.Form = make(url.Values, len(post)+len(query))
	for _, vs := range []url.Values{post, query} {
		for k, v := range vs {
			r.Form[k] = append(r.Form[k], v...)
		}
	}
	return err
}

// parseQuery is url.ParseQuery, with queryUnescape: the values of every
// well-formed key=value pair, and the first error met, if any. A query with
// a ';' (an error, whose reporting url.ParseQuery orders its own way) or
// more than maxFastPairs pairs (url.ParseQuery has a limit) is left to
// url.ParseQuery.
func parseQuery(query string) (url.Values, error) {
	if strings.Contains(query, ";") || strings.Count(query, "&") >= maxFastPairs {
		return url.ParseQuery(query)
	}
	m := make(url.Values)
	var first error
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		key, err := queryUnescape(key)
		if err == nil {
			value, err = queryUnescape(value)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		m[key] = append(m[key], value)
	}
	return m, first
}

// maxFastPairs bounds the pairs parseQuery parses itself: an ACS form has
// two (SAMLResponse, RelayState).
const maxFastPairs = 64

// queryUnescape is url.QueryUnescape: %XX is the byte XX, '+' a space. A
// value with a '+' (a space, which base64 never holds) is left to
// url.QueryUnescape; in the others the runs between escapes are found with
// strings.IndexByte and copied whole.
func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '+') >= 0 {
		return url.QueryUnescape(s)
	}
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		b.WriteString(s[:i])
		s = s[i:]
		if len(s) < 3 || !isHex(s[1]) || !isHex(s[2]) {
			return "", url.EscapeError(s[:min(len(s), 3)])
		}
		b.WriteByte(unhex(s[1])<<4 | unhex(s[2]))
		s = s[3:]
		if i = strings.IndexByte(s, '%'); i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
