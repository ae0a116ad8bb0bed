package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	elimity "github.com/elimity-com/scim"

	"github.com/onramp-dev/onramp/store"
)

// Sentinels that abort a store update from inside its closure.
var (
	// errRaced: a concurrent change made the planned audit action wrong; the
	// handler plans again.
	errRaced = errors.New("scim: resource changed concurrently")
	// errUnchanged: the request changes nothing; nothing is written.
	errUnchanged = errors.New("scim: no change")
)

// maxUpdateAttempts bounds the re-planning after errRaced.
const maxUpdateAttempts = 5

// resourceDoc copies the attributes elimity validated into the document that is
// stored as the resource "as the IdP sent it": without id, meta and schemas
// (elimity drops them already), without password (never stored) and groups
// (read-only), and without empty values (null and [] mean "no value", RFC 7643
// section 2.5).
func resourceDoc(attrs map[string]any) map[string]any {
	doc := make(map[string]any, len(attrs))
	for k, v := range attrs {
		switch strings.ToLower(k) {
		case "id", "meta", "schemas", "password", "groups":
			continue
		}
		if isEmpty(v) {
			continue
		}
		if m, ok := v.(map[string]any); ok && strings.HasPrefix(k, "urn:") {
			m = resourceDoc(m)
			if len(m) == 0 {
				continue
			}
			v = m
		}
		doc[k] = v
	}
	return doc
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map:
		return rv.Len() == 0
	}
	return false
}

// decodeDoc reads a stored resource.
func decodeDoc(raw json.RawMessage) (map[string]any, error) {
	doc := map[string]any{}
	if len(raw) == 0 {
		return doc, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("scim: decode stored resource: %w", err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	return doc, nil
}

// normalizeDoc round-trips a document through JSON so that documents built in
// memory compare equal to stored ones.
func normalizeDoc(doc map[string]any) (map[string]any, json.RawMessage, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("scim: encode resource: %w", err)
	}
	back, err := decodeDoc(raw)
	if err != nil {
		return nil, nil, err
	}
	return back, raw, nil
}

// etag is the entity tag of a version, as meta.version and the ETag header.
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// checkIfMatch enforces If-Match (RFC 7644 section 3.14) against the current
// version: store.ErrVersionMismatch when no listed tag matches.
func checkIfMatch(r *http.Request, version int64) error {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil
	}
	want := strconv.FormatInt(version, 10)
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		tag = strings.TrimPrefix(tag, "W/")
		if strings.Trim(tag, `"`) == want {
			return nil
		}
	}
	return fmt.Errorf("scim: If-Match %q, current version %d: %w", h, version, store.ErrVersionMismatch)
}

// ifMatch is checkIfMatch as a store.VersionCheck, for the store to run
// inside the write; nil without an If-Match (or with *).
func ifMatch(r *http.Request) store.VersionCheck {
	if h := strings.TrimSpace(r.Header.Get("If-Match")); h == "" || h == "*" {
		return nil
	}
	return func(current int64) error { return checkIfMatch(r, current) }
}

func meta(created, updated time.Time, version int64) elimity.Meta {
	c, u := created.UTC(), updated.UTC()
	return elimity.Meta{Created: &c, LastModified: &u, Version: etag(version)}
}
