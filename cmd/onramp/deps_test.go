package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// dependencyFloors are the lowest versions onramp may build with: each fixes
// a published advisory in code onramp runs (HTTP routing, the SQLite driver,
// SAML response parsing and XML signature checking). Raise a floor when a new
// advisory is fixed; never lower one.
var dependencyFloors = map[string]string{
	"github.com/labstack/echo/v4":         "v4.16.4",
	"github.com/mattn/go-sqlite3":         "v1.14.29",
	"github.com/russellhaering/gosaml2":   "v0.12.0",
	"github.com/russellhaering/goxmldsig": "v1.6.1",
}

// TestDependencyFloors reads the module's go.mod and fails if a dependency
// with a floor is required below it, replaced by a lower version or a local
// copy, or no longer required at all (then its floor is stale: remove it).
func TestDependencyFloors(t *testing.T) {
	path := filepath.Join("..", "..", "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read go.mod: %v", err)
	}
	for _, p := range checkFloors(path, data, dependencyFloors) {
		t.Error(p)
	}
}

// checkFloors returns what in the go.mod data breaks floors.
func checkFloors(name string, data []byte, floors map[string]string) []string {
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return []string{fmt.Sprintf("parse %s: %v", name, err)}
	}
	var problems []string
	for mod, floor := range floors {
		var required string
		for _, r := range f.Require {
			if r.Mod.Path == mod {
				required = r.Mod.Version
			}
		}
		switch {
		case required == "":
			problems = append(problems, fmt.Sprintf("%s is not required any more: remove its floor", mod))
		case semver.Compare(required, floor) < 0:
			problems = append(problems, fmt.Sprintf("%s %s is below its floor %s (known advisories): upgrade it", mod, required, floor))
		}
		for _, r := range f.Replace {
			if r.Old.Path != mod || (r.Old.Version != "" && r.Old.Version != required) {
				continue
			}
			switch {
			case r.New.Version == "":
				problems = append(problems, fmt.Sprintf("%s is replaced by the directory %s, which no floor can check", mod, r.New.Path))
			case r.New.Path != mod:
				problems = append(problems, fmt.Sprintf("%s is replaced by another module, %s %s", mod, r.New.Path, r.New.Version))
			case semver.Compare(r.New.Version, floor) < 0:
				problems = append(problems, fmt.Sprintf("%s is replaced by %s, below its floor %s", mod, r.New.Version, floor))
			}
		}
	}
	return problems
}

// TestCheckFloorsFails shows that the check fails where it should.
func TestCheckFloorsFails(t *testing.T) {
	floors := map[string]string{"example.com/a": "v1.2.3", "example.com/b": "v0.12.0"}
	tests := []struct {
		name, gomod, want string
	}{
		{"at the floors", "require (\n example.com/a v1.2.3\n example.com/b v0.12.1\n)", ""},
		{"below", "require (\n example.com/a v1.2.2\n example.com/b v0.12.0\n)", "example.com/a v1.2.2 is below its floor v1.2.3"},
		{"pre-release below", "require (\n example.com/a v1.2.3-rc.1\n example.com/b v0.12.0\n)", "below its floor"},
		{"pseudo-version below", "require (\n example.com/a v1.2.3\n example.com/b v0.11.1-0.20250101000000-abcdefabcdef\n)", "example.com/b"},
		{"dropped", "require example.com/a v1.3.0", "example.com/b is not required any more"},
		{"replaced lower", "require (\n example.com/a v1.2.3\n example.com/b v0.12.0\n)\nreplace example.com/a => example.com/a v1.0.0", "replaced by v1.0.0"},
		{"replaced by a directory", "require (\n example.com/a v1.2.3\n example.com/b v0.12.0\n)\nreplace example.com/b => ../b", "replaced by the directory"},
		{"replaced by a fork", "require (\n example.com/a v1.2.3\n example.com/b v0.12.0\n)\nreplace example.com/b => example.com/fork v9.9.9", "another module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(checkFloors("go.mod", []byte("module m\n\ngo 1.26\n\n"+tt.gomod+"\n"), floors), "\n")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("problems %q, want one with %q", got, tt.want)
			}
		})
	}
}
