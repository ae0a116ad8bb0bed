package console

import (
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// timeLayout is how pages show times: UTC, to the minute.
const timeLayout = "2006-01-02 15:04 UTC"

// funcs are the templates' helpers.
func funcs() template.FuncMap {
	return template.FuncMap{
		"when":   when,
		"onoff":  onOff,
		"join":   strings.Join,
		"source": sourceLabel,
		"dict":   dict,
		"short":  short,
		"certID": certID,
		"spRole": spRole,
	}
}

// short abbreviates the long IDs in an audit actor or subject ("user:<uuid>"
// becomes "user:7c43bda7…"), for tables; the full value goes in a title.
func short(s string) string {
	prefix, id, ok := strings.Cut(s, ":")
	if !ok {
		prefix, id = "", s
	} else {
		prefix += ":"
	}
	if len(id) <= 12 {
		return s
	}
	return prefix + id[:8] + "…"
}

// dict makes a map of key-value pairs, to pass several values to a template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("console: dict needs key-value pairs")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("console: dict key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// when formats a time.Time or *time.Time; the zero time and nil are "never".
func when(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	}
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(timeLayout)
}

func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}

// sourceLabel names where an account came from.
func sourceLabel(s string) string {
	switch s {
	case "scim":
		return "SCIM"
	case "jit":
		return "JIT"
	case "invitation":
		return "Invitation"
	}
	return s
}

// splitList reads a comma- or newline-separated list, trimmed, without empty
// items.
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	out := make([]string, 0, len(f))
	for _, x := range f {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
