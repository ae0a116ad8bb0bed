package scim

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// quirksPad is a top-level member that makes mayNeedFix let any body through
// without changing what the rewrites do: "true" is a quoted word, and no
// schema has an attribute of this name.
const quirksPad = "zzOnrampFuzzPad"

// FuzzQuirks feeds arbitrary bodies to the vendor normalisation of User
// bodies (POST and PUT) and PATCH requests, and checks that:
//
//   - a rewritten body is a JSON object, and rewriting it again changes
//     nothing (the rewrite is idempotent: a normalised body is RFC shape);
//   - mayNeedFix, which skips decoding for most bodies, never skips one
//     that a rewrite would change: the body with a padding member that
//     forces decoding is rewritten to the same document (without the pad);
//   - a rewrite keeps the body's top-level members, and a PATCH keeps its
//     number of operations.
//
// Seeds (recorded Entra and Okta shapes) are in testdata/fuzz/FuzzQuirks.
// Run it with
//
//	go test ./scim -run '^$' -fuzz '^FuzzQuirks$' -fuzztime 2m
func FuzzQuirks(f *testing.F) {
	q := newQuirks(newResourceSchemas())
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		rewrite, what := q.userResource, "userResource"
		if patch {
			rewrite, what = q.userPatch, "userPatch"
		}
		out, changed := rewrite(bytes.Clone(body))
		if !changed {
			if !bytes.Equal(out, body) {
				t.Fatalf("%s(%s) reported no change but returned %s", what, body, out)
			}
		} else {
			doc, ok := decodeObject(out)
			if !ok {
				t.Fatalf("%s(%s) = %s: not a JSON object", what, body, out)
			}
			if again, changedAgain := rewrite(bytes.Clone(out)); changedAgain {
				t.Fatalf("%s is not idempotent:\n in  %s\n out %s\n again %s", what, body, out, again)
			}
			in, _ := decodeObject(body)
			if !sameKeys(in, doc) {
				t.Fatalf("%s(%s) = %s: the top-level members changed", what, body, out)
			}
			if patch && opCount(in) != opCount(doc) {
				t.Fatalf("%s(%s) = %s: %d operations became %d", what, body, out, opCount(in), opCount(doc))
			}
		}

		// The pre-check must not hide a rewrite. Only bodies that are a JSON
		// object without the pad member can be padded.
		in, ok := decodeObject(body)
		if !ok {
			return
		}
		if _, has := in[quirksPad]; has {
			return
		}
		padded, ok := pad(body)
		if !ok {
			return
		}
		outPadded, _ := rewrite(padded)
		want, ok1 := decodeObject(out)
		got, ok2 := decodeObject(outPadded)
		if !ok1 || !ok2 {
			t.Fatalf("%s: padded %s → %s; unpadded → %s", what, padded, outPadded, out)
		}
		delete(got, quirksPad)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the pre-check (mayNeedFix) skipped a body that a rewrite changes:\n body            %s\n rewritten       %s\n padded, rewritten %s",
				what, body, out, outPadded)
		}
	})
}

// pad adds the member quirksPad: "true" in front of an object's members.
func pad(body []byte) ([]byte, bool) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	rest := bytes.TrimLeft(trimmed[1:], " \t\r\n")
	sep := ","
	if len(rest) > 0 && rest[0] == '}' {
		sep = ""
	}
	out := []byte(`{"` + quirksPad + `":"true"` + sep)
	out = append(out, rest...)
	// The padded body must decode as the body did, plus the pad.
	in, ok1 := decodeObject(body)
	got, ok2 := decodeObject(out)
	if !ok1 || !ok2 {
		return nil, false
	}
	delete(got, quirksPad)
	if !reflect.DeepEqual(in, got) {
		return nil, false
	}
	return out, true
}

func sameKeys(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// opCount is the number of PATCH operations in doc (the Operations member,
// matched case-insensitively as userPatch does), or -1.
func opCount(doc map[string]any) int {
	ops, ok := doc[fieldKey(doc, "Operations")].([]any)
	if !ok {
		return -1
	}
	return len(ops)
}

// The rewritten body must stay JSON that encoding/json reads back as the
// same document it wrote; a sanity check of the test's own helpers.
func TestQuirksPadHelper(t *testing.T) {
	for _, in := range []string{`{}`, ` { "a" : 1 }`, `{"Operations":[]}`} {
		out, ok := pad([]byte(in))
		if !ok {
			t.Fatalf("pad(%s) failed", in)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil || doc[quirksPad] != "true" {
			t.Fatalf("pad(%s) = %s", in, out)
		}
	}
	if _, ok := pad([]byte(`[1]`)); ok {
		t.Fatal("pad accepted an array")
	}
}
