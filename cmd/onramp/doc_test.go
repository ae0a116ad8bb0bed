package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestEveryPackageHasADocComment walks the repository and checks that every Go
// package has a package doc comment that starts the way godoc expects: "Package
// <name> …", or "Command <name> …" for a main package.
func TestEveryPackageHasADocComment(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	docs := map[string]string{}  // dir -> doc comment found
	names := map[string]string{} // dir -> package name
	seen := map[string]bool{}    // dirs with non-test Go files
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		seen[dir] = true
		names[dir] = f.Name.Name
		if f.Doc != nil && docs[dir] == "" {
			docs[dir] = f.Doc.Text()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 5 {
		t.Fatalf("found only %d packages; is the walk broken?", len(seen))
	}
	var dirs []string
	for dir := range seen {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		rel, _ := filepath.Rel(root, dir)
		doc := docs[dir]
		want := "Package " + names[dir] + " "
		if names[dir] == "main" {
			want = "Command "
		}
		switch {
		case doc == "":
			t.Errorf("%s: package %s has no package doc comment (add a doc.go)", rel, names[dir])
		case !strings.HasPrefix(doc, want):
			t.Errorf("%s: package doc comment should start with %q, starts with %q", rel, want, firstLine(doc))
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
