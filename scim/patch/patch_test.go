package patch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/scim/patch"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCase replays one recorded or hand-written PATCH body (testdata/requests,
// see testdata/README.md) against one stored resource (testdata/resources): the
// body goes through a real elimity server over HTTP, and the operations its
// handler receives go to Apply. want pins the outcome kind in code; the golden
// file pins the exact document or error.
type goldenCase struct {
	name     string
	kind     resourceKind
	resource string // file in testdata/resources
	request  string // file in testdata/requests
	want     string // "ok", "error:<scimType>" (Apply) or "elimity:<scimType>" (rejected before Apply)
}

var goldenCases = []goldenCase{
	// Okta, developer.okta.com/docs/reference/scim/scim-20.
	{"okta/deactivate-user", users, "okta-user", "okta/deactivate-user", "ok"},
	{"okta/rename-group", groups, "okta-group", "okta/rename-group", "ok"},
	{"okta/rename-group-changed", groups, "okta-group-two-members", "okta/rename-group", "ok"},
	{"okta/update-group-membership", groups, "okta-group-two-members", "okta/update-group-membership", "ok"},
	{"okta/replace-group-members", groups, "okta-group", "okta/replace-group-members", "ok"},

	// Microsoft Entra ID, learn.microsoft.com (see testdata/README.md).
	{"entra/disable-user-legacy", users, "entra-user", "entra/disable-user-legacy", "elimity:invalidValue"},
	{"entra/disable-user", users, "entra-user", "entra/disable-user", "ok"},
	{"entra/add-nickname-legacy", users, "entra-user", "entra/add-nickname-legacy", "ok"},
	{"entra/add-nickname", users, "entra-user", "entra/add-nickname", "ok"},
	{"entra/replace-attributes-legacy", users, "entra-user", "entra/replace-attributes-legacy", "ok"},
	{"entra/replace-attributes", users, "entra-user", "entra/replace-attributes", "ok"},
	{"entra/replace-attributes-no-work-email", users, "entra-user-no-work-email", "entra/replace-attributes", "ok"},
	{"entra/remove-member-legacy", groups, "entra-group", "entra/remove-member-legacy", "ok"},
	{"entra/remove-member", groups, "entra-group", "entra/remove-member", "ok"},
	{"entra/update-user-multivalued", users, "entra-user", "entra/update-user-multivalued", "ok"},
	{"entra/update-user-multivalued-no-work-email", users, "entra-user-no-work-email", "entra/update-user-multivalued", "ok"},
	{"entra/update-user-username", users, "entra-user", "entra/update-user-username", "ok"},
	{"entra/update-group-displayname", groups, "entra-group", "entra/update-group-displayname", "ok"},
	{"entra/add-member", groups, "entra-group", "entra/add-member", "ok"},
	{"entra/add-member-new", groups, "okta-group", "entra/add-member", "ok"},
	{"entra/remove-member-tutorial", groups, "entra-group", "entra/remove-member-tutorial", "ok"},
	{"entra/add-manager-string", users, "entra-user", "entra/add-manager-string", "elimity:invalidValue"},

	// onramp: one behaviour each (RFC 7644 section 3.5.2 and the package doc).
	{"onramp/replace-case-insensitive", users, "full-user", "onramp/replace-case-insensitive", "ok"},
	{"onramp/replace-case-insensitive-stored-mixed-case", users, "mixed-case-user", "onramp/replace-case-insensitive", "ok"},
	{"onramp/add-singular", users, "full-user", "onramp/add-singular", "ok"},
	{"onramp/add-emails", users, "full-user", "onramp/add-emails", "ok"},
	{"onramp/add-work-email-filter", users, "full-user", "onramp/add-work-email-filter", "ok"},
	{"onramp/add-work-email-filter-no-match", users, "entra-user-no-work-email", "onramp/add-work-email-filter", "ok"},
	{"onramp/add-phone-filter", users, "full-user", "onramp/add-phone-filter", "ok"},
	{"onramp/replace-element-no-match", users, "full-user", "onramp/replace-element-no-match", "error:noTarget"},
	{"onramp/replace-ne-filter-no-match", users, "entra-user", "onramp/replace-ne-filter-no-match", "error:noTarget"},
	{"onramp/replace-or-filter-no-match", users, "entra-user", "onramp/replace-or-filter-no-match", "error:noTarget"},
	{"onramp/replace-and-filter-creates", users, "entra-user", "onramp/replace-and-filter-creates", "ok"},
	{"onramp/replace-element", users, "full-user", "onramp/replace-element", "ok"},
	{"onramp/replace-element-sub", users, "full-user", "onramp/replace-element-sub", "ok"},
	{"onramp/replace-emails-list", users, "full-user", "onramp/replace-emails-list", "ok"},
	{"onramp/replace-emails-empty", users, "full-user", "onramp/replace-emails-empty", "ok"},
	{"onramp/replace-no-path", users, "full-user", "onramp/replace-no-path", "ok"},
	{"onramp/add-no-path", users, "okta-user", "onramp/add-no-path", "ok"},
	{"onramp/remove-no-path", users, "full-user", "onramp/remove-no-path", "elimity:noTarget"},
	{"onramp/remove-absent", users, "entra-user", "onramp/remove-absent", "ok"},
	{"onramp/remove-sub", users, "full-user", "onramp/remove-sub", "ok"},
	{"onramp/remove-work-email-value", users, "full-user", "onramp/remove-work-email-value", "ok"},
	{"onramp/remove-values", users, "full-user", "onramp/remove-values", "ok"},
	{"onramp/remove-filters", users, "full-user", "onramp/remove-filters", "ok"},
	{"onramp/add-groups", users, "full-user", "onramp/add-groups", "error:mutability"},
	{"onramp/replace-manager-displayname", users, "full-user", "onramp/replace-manager-displayname", "error:mutability"},
	{"onramp/remove-username", users, "full-user", "onramp/remove-username", "error:mutability"},
	{"onramp/replace-member-display", groups, "okta-group", "onramp/replace-member-display", "error:mutability"},
	{"onramp/empty-removes", users, "full-user", "onramp/empty-removes", "ok"},
	{"onramp/manager", users, "full-user", "onramp/manager", "ok"},
	{"onramp/manager-value", users, "entra-user", "onramp/manager-value", "ok"},
	{"onramp/manager-without-urn", users, "full-user", "onramp/manager-without-urn", "elimity:invalidValue"},
	{"onramp/primary-demotion", users, "full-user", "onramp/primary-demotion", "ok"},
	{"onramp/two-primaries", users, "full-user", "onramp/two-primaries", "error:invalidValue"},
	{"onramp/atomic", users, "full-user", "onramp/atomic", "error:mutability"},
	{"onramp/add-extension", users, "okta-user", "onramp/add-extension", "ok"},
	{"onramp/remove-extension-last", users, "mixed-case-user", "onramp/remove-extension-last", "ok"},
	{"onramp/multi-valued-others", users, "full-user", "onramp/multi-valued-others", "ok"},
	{"onramp/sub-without-filter", users, "full-user", "onramp/sub-without-filter", "ok"},
	{"onramp/filter-on-singular", users, "full-user", "onramp/filter-on-singular", "error:invalidPath"},
	{"onramp/unknown-attribute", users, "full-user", "onramp/unknown-attribute", "elimity:invalidPath"},
	{"onramp/string-boolean-in-filter", users, "full-user", "onramp/string-boolean-in-filter", "ok"},
}

func readJSON(t testing.TB, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber() // as the stored resource would be decoded
	if err := d.Decode(&m); err != nil {
		t.Fatalf("fixture %s: %v", path, err)
	}
	return m
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return raw
}

// marshal renders v as indented JSON with sorted keys, the golden format.
func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return append(b, '\n')
}

func TestApplyGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range goldenCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case %s", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			doc := readJSON(t, filepath.Join("testdata", "resources", tc.resource+".json"))
			pristine := marshal(t, doc)
			body := readFile(t, filepath.Join("testdata", "requests", tc.request+".json"))

			var got any
			kind, scimType, _ := strings.Cut(tc.want, ":")
			ops, rej := opsOverHTTP(t, tc.kind, body)
			switch {
			case rej != nil:
				if kind != "elimity" || rej.ScimType != scimType {
					t.Fatalf("elimity rejected the body (%d %s); want %s", rej.Status, rej.ScimType, tc.want)
				}
				got = map[string]any{"rejectedByElimity": rej}
			case kind == "elimity":
				t.Fatalf("elimity accepted the body; want %s", tc.want)
			default:
				s, exts := schemasFor(tc.kind)
				out, err := patch.Apply(doc, ops, s, exts...)
				if !bytes.Equal(marshal(t, doc), pristine) {
					t.Fatal("Apply modified its input document")
				}
				got = checkOutcome(t, tc.want, out, err)
				if err == nil {
					again, err := patch.Apply(out, ops, s, exts...)
					if err != nil {
						t.Fatalf("applying the request a second time (an IdP retry): %v", err)
					}
					if !reflect.DeepEqual(marshal(t, again), marshal(t, out)) {
						t.Errorf("a retried request changes the result:\nfirst:  %s\nsecond: %s", marshal(t, out), marshal(t, again))
					}
				}
			}
			compareGolden(t, filepath.Join("testdata", "golden", tc.name+".json"), marshal(t, got))
		})
	}
}

// checkOutcome checks Apply's result against want ("ok" or "error:<type>")
// and returns what the golden file holds.
func checkOutcome(t *testing.T, want string, out map[string]any, err error) any {
	t.Helper()
	if err == nil {
		if want != "ok" {
			t.Fatalf("Apply succeeded; want %s", want)
		}
		if out == nil {
			t.Fatal("Apply returned a nil document without error")
		}
		return map[string]any{"result": out}
	}
	var perr *patch.Error
	if !errors.As(err, &perr) {
		t.Fatalf("Apply returned %T %v; want *patch.Error", err, err)
	}
	if out != nil {
		t.Error("Apply returned a document with its error")
	}
	if want != "error:"+perr.ScimType {
		t.Fatalf("Apply failed with %s (%s); want %s", perr.ScimType, perr.Detail, want)
	}
	return map[string]any{"error": map[string]string{"scimType": perr.ScimType, "detail": perr.Detail}}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file missing (run go test ./scim/patch -run TestApplyGolden -update): %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("result differs from %s:\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestGoldenFilesUsed keeps testdata honest: every request, resource and
// golden file belongs to a case.
func TestGoldenFilesUsed(t *testing.T) {
	used := map[string]bool{}
	for _, tc := range goldenCases {
		used[filepath.Join("resources", tc.resource+".json")] = true
		used[filepath.Join("requests", tc.request+".json")] = true
		used[filepath.Join("golden", tc.name+".json")] = true
	}
	for _, dir := range []string{"resources", "requests", "golden"} {
		err := filepath.WalkDir(filepath.Join("testdata", dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel("testdata", p)
			if !used[rel] {
				t.Errorf("testdata/%s is not used by any case", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestParsePathAgreesWithParser checks the hand-split shapes against
// filter.ParsePath, which they stand in for.
func TestParsePathAgreesWithParser(t *testing.T) {
	paths := []string{
		"active", "displayName", "name.givenName", "emails", "$ref", "members.$ref", "x-y_z9",
		"manager", "a.b", "A1.b2",
		// Not hand-split: the parser decides.
		`emails[type eq "work"].value`, `emails[type eq "work"]`,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
		"9lives", "a..b", "a.b.c", "", ".a", "a.", "a$b", "$", "a b", "-a", "_a",
	}
	for _, path := range paths {
		got, gotErr := patch.ParsePath(path)
		want, wantErr := filter.ParsePath([]byte(path))
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("ParsePath(%q) error %v, parser's %v", path, gotErr, wantErr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParsePath(%q) = %#v, parser's %#v", path, got, want)
		}
	}
}
