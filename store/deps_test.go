package store_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// forbidden are modules no package under store/ may depend on: the store knows
// no HTTP framework, SCIM library or SAML library.
var forbidden = []string{
	"github.com/labstack/echo",
	"github.com/elimity-com/scim",
	"github.com/russellhaering/gosaml2",
	"github.com/crewjam/saml",
}

const module = "github.com/onramp-dev/onramp"

// goListDeps returns the non-test dependencies of the packages matching pattern,
// as go list -deps prints them (the packages themselves included).
func goListDeps(t *testing.T, pattern string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", pattern).Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pattern, err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps %s listed nothing", pattern)
	}
	return deps
}

// TestDependencies keeps the store free of protocol packages (DESIGN: data flows
// HTTP → protocol → attributes → store, never back).
func TestDependencies(t *testing.T) {
	deps := goListDeps(t, "./...") // run from store/: the store and its sub-packages
	var sawSQLStore bool
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("store/... depends on %s", d)
			}
		}
		if d == module || strings.HasPrefix(d, module+"/") {
			if d != module+"/store" && !strings.HasPrefix(d, module+"/store/") {
				t.Errorf("store/... depends on %s, a package outside store/", d)
			}
		}
		sawSQLStore = sawSQLStore || d == module+"/store/sqlstore"
	}
	if !sawSQLStore {
		t.Errorf("go list -deps ./... did not list %s/store/sqlstore; the check looks at the wrong packages", module)
	}
	for _, d := range goListDeps(t, ".") {
		if d == "net/http" {
			t.Error("the store contract package depends on net/http")
		}
	}
}
