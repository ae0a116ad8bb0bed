package patch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/onramp-dev/onramp/scim/patch"
)

type fuzzResource struct {
	kind resourceKind
	raw  []byte // the stored document; decoded afresh for every input
}

func decodeDoc(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// oneOperation builds a PATCH body with one operation, so that the fuzzer can
// vary op, path and value separately and get past elimity's JSON decoding more
// often than with whole bodies. It returns nil when value is not JSON.
func oneOperation(opName, path string, value []byte) []byte {
	o := map[string]any{"op": opName}
	if path != "" {
		o["path"] = path
	}
	if len(value) > 0 {
		if !json.Valid(value) {
			return nil
		}
		o["value"] = json.RawMessage(value)
	}
	body, err := json.Marshal(map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{o},
	})
	if err != nil {
		return nil
	}
	return body
}

// FuzzApply sends arbitrary PATCH bodies through elimity's parser and
// validator, as the SCIM endpoint does, and applies whatever elimity accepts
// to one of the stored resources of testdata/resources. Apply must not panic,
// must leave its input untouched, must be deterministic, and must either
// return a document that encodes as JSON or a *patch.Error of a known type.
// An input is either a whole body or, when body is empty, one operation's op,
// path and value. The seed corpus is every request body in testdata/requests,
// whole and split into its operations, against every resource.
func FuzzApply(f *testing.F) {
	kinds := map[resourceKind]bool{}
	var resources []fuzzResource
	for _, tc := range goldenCases {
		raw := readFile(f, filepath.Join("testdata", "resources", tc.resource+".json"))
		if !slices.ContainsFunc(resources, func(r fuzzResource) bool { return bytes.Equal(r.raw, raw) }) {
			resources = append(resources, fuzzResource{kind: tc.kind, raw: raw})
			kinds[tc.kind] = true
		}
	}
	if len(resources) == 0 || !kinds[users] || !kinds[groups] {
		f.Fatal("no users or no groups among the fuzz resources")
	}
	requests, err := filepath.Glob(filepath.Join("testdata", "requests", "*", "*.json"))
	if err != nil || len(requests) == 0 {
		f.Fatalf("no seed requests: %v", err)
	}
	for _, path := range requests {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var req struct {
			Operations []struct {
				Op    string          `json:"op"`
				Path  string          `json:"path"`
				Value json.RawMessage `json:"value"`
			}
		}
		if err := json.Unmarshal(body, &req); err != nil {
			f.Fatalf("%s: %v", path, err)
		}
		for i := range resources {
			f.Add(body, "", "", []byte(nil), uint8(i))
			for _, o := range req.Operations {
				f.Add([]byte(nil), o.Op, o.Path, []byte(o.Value), uint8(i))
			}
		}
	}

	srv := newElimityServer(f)
	known := []string{patch.ScimTypeInvalidPath, patch.ScimTypeNoTarget, patch.ScimTypeInvalidValue, patch.ScimTypeMutability}

	f.Fuzz(func(t *testing.T, body []byte, opName, path string, value []byte, pick uint8) {
		res := resources[int(pick)%len(resources)]
		if len(body) == 0 {
			if body = oneOperation(opName, path, value); body == nil {
				return
			}
		}
		ops, rej, err := opsInProcess(t.Context(), srv, res.kind, body)
		if err != nil {
			t.Fatal(err)
		}
		if rej != nil {
			return // elimity refused the body; Apply never sees it
		}
		s, exts := schemasFor(res.kind)
		doc := decodeDoc(t, res.raw)
		pristine := marshal(t, doc)

		out, err := patch.Apply(doc, ops, s, exts...)
		if !bytes.Equal(marshal(t, doc), pristine) {
			t.Fatal("Apply modified its input document")
		}
		again, errAgain := patch.Apply(doc, ops, s, exts...)
		if err != nil {
			var perr *patch.Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T %v is not a *patch.Error", err, err)
			}
			if !slices.Contains(known, perr.ScimType) || perr.Detail == "" {
				t.Fatalf("error %+v: unknown scimType or no detail", perr)
			}
			if out != nil {
				t.Fatal("a document returned with an error")
			}
			if errAgain == nil || errAgain.Error() != err.Error() {
				t.Fatalf("not deterministic: %v, then %v", err, errAgain)
			}
			return
		}
		if out == nil {
			t.Fatal("nil document without error")
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("result does not encode as JSON: %v", err)
		}
		if errAgain != nil || !bytes.Equal(marshal(t, again), marshal(t, out)) {
			t.Fatalf("not deterministic:\n%s\nthen\n%s (%v)", marshal(t, out), marshal(t, again), errAgain)
		}
	})
}
