package apply_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/onramp-dev/onramp/apply"
	"github.com/onramp-dev/onramp/orgconfig"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// FuzzParse feeds arbitrary documents to Parse (metadata files resolve in
// testdata/, which holds idp-metadata.xml) and checks that:
//
//   - it returns a Config or an *InvalidError with at least one problem, each
//     with a message, never both and never a panic;
//   - it is deterministic;
//   - a Config it accepts is normalised and consistent: slugs valid and
//     unique, presets known, email domains normalised, sorted and unique,
//     the ACL's connections declared in the organization, sorted and unique;
//   - a Config it accepts, written back as YAML (metadata inline), parses to
//     the same Config: the normalisation is a fixed point;
//   - applied to a real SQLite store, a Config it accepts applies, and
//     applying it again changes nothing. The store is shared by the
//     iterations of one fuzzing process, so each file meets whatever the
//     earlier ones left, as an operator's edited file does.
//
// Seeds are in testdata/fuzz/FuzzParse. Run it with
//
//	go test ./apply -run '^$' -fuzz '^FuzzParse$' -fuzztime 2m
func FuzzParse(f *testing.F) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(f.TempDir(), "onramp.db"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		if !localMetadataFiles(data) {
			return // the fuzzer must not read /dev/stdin or a FIFO
		}
		cfg, err := apply.Parse(bytes.Clone(data), "fuzz.yaml", "testdata")
		var ie *apply.InvalidError
		switch {
		case err == nil && cfg == nil:
			t.Fatal("Parse returned neither a Config nor an error")
		case err != nil && cfg != nil:
			t.Fatalf("Parse returned a Config and an error %v", err)
		case err != nil && !errors.As(err, &ie):
			t.Fatalf("Parse error %T %v is not an *InvalidError", err, err)
		case err != nil:
			if len(ie.Problems) == 0 {
				t.Fatal("InvalidError without problems")
			}
			for _, p := range ie.Problems {
				if p.Msg == "" || p.Line < 0 {
					t.Fatalf("problem %+v has no message or a negative line", p)
				}
			}
		}
		cfg2, err2 := apply.Parse(bytes.Clone(data), "fuzz.yaml", "testdata")
		if !reflect.DeepEqual(cfg, cfg2) || !reflect.DeepEqual(err, err2) {
			t.Fatalf("Parse is not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			return
		}
		checkConfig(t, cfg)

		again, err := yaml.Marshal(toFile(cfg))
		if err != nil {
			t.Fatalf("marshal the accepted config: %v", err)
		}
		cfg3, err := apply.Parse(again, "again.yaml", "testdata")
		if err != nil {
			t.Fatalf("the accepted config, written back, does not parse: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(cfg, cfg3) {
			t.Fatalf("the accepted config, written back, parses differently:\n%#v\n%#v\n%s", cfg, cfg3, again)
		}

		if _, err := apply.Apply(ctx, st, cfg); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		res, err := apply.Apply(ctx, st, cfg)
		if err != nil {
			t.Fatalf("Apply again: %v", err)
		}
		if res.Changed() {
			t.Fatalf("applying the same file twice changed %+v", res.Changes)
		}
	})
}

// localMetadataFiles reports whether every metadataFile the document names
// (as a lenient decode reads it) is a local path: the fuzzer may name files
// that do not exist, but nothing outside testdata/.
func localMetadataFiles(data []byte) bool {
	// A document that does not decode fails in Parse before any file is
	// read; the fields decoded before an error are checked all the same.
	var f apply.File
	_ = yaml.Unmarshal(data, &f)
	for _, o := range f.Organizations {
		for _, c := range o.Connections {
			if p := c.IdP.MetadataFile; p != "" && !filepath.IsLocal(p) {
				return false
			}
		}
	}
	return true
}

// checkConfig checks what a valid Config promises.
func checkConfig(t *testing.T, cfg *apply.Config) {
	t.Helper()
	if len(cfg.Orgs) == 0 {
		t.Fatal("a valid config without organizations")
	}
	orgs := map[string]bool{}
	for _, o := range cfg.Orgs {
		if msg := orgconfig.CheckSlug(o.Slug); msg != "" || orgs[o.Slug] {
			t.Fatalf("organization slug %q: %s (or declared twice)", o.Slug, msg)
		}
		orgs[o.Slug] = true
		conns := map[string]bool{}
		for _, c := range o.Connections {
			if msg := orgconfig.CheckSlug(c.Slug); msg != "" || conns[c.Slug] {
				t.Fatalf("connection slug %q: %s (or declared twice)", c.Slug, msg)
			}
			conns[c.Slug] = true
			if !slices.Contains(apply.Presets(), c.MappingPreset) {
				t.Fatalf("connection %q: preset %q", c.Slug, c.MappingPreset)
			}
			if c.Name == "" {
				t.Fatalf("connection %q has no name", c.Slug)
			}
		}
		if !slices.IsSorted(o.Access.EmailDomains) || len(slices.Compact(slices.Clone(o.Access.EmailDomains))) != len(o.Access.EmailDomains) {
			t.Fatalf("email domains %q are not sorted and unique", o.Access.EmailDomains)
		}
		for _, d := range o.Access.EmailDomains {
			if nd, msg := orgconfig.NormalizeDomain(d); msg != "" || nd != d {
				t.Fatalf("email domain %q is not normalised (%q, %s)", d, nd, msg)
			}
		}
		if !slices.IsSorted(o.Access.SSOConnections) || len(slices.Compact(slices.Clone(o.Access.SSOConnections))) != len(o.Access.SSOConnections) {
			t.Fatalf("ACL connections %q are not sorted and unique", o.Access.SSOConnections)
		}
		for _, s := range o.Access.SSOConnections {
			if !conns[s] {
				t.Fatalf("ACL connection %q is not declared", s)
			}
		}
	}
}

// toFile writes a Config back in the file format, with metadata inline.
func toFile(cfg *apply.Config) apply.File {
	var f apply.File
	for _, o := range cfg.Orgs {
		org := apply.Organization{
			Slug: o.Slug,
			Name: o.Name,
			Onboarding: apply.Onboarding{
				JIT:           apply.JIT{EmailDomains: o.Onboarding.JITEmailDomains, SSOConnections: o.Onboarding.JITSSOConnections},
				AccessControl: apply.AccessControl{EmailDomains: o.Access.EmailDomains, SSOConnections: o.Access.SSOConnections},
			},
		}
		for _, c := range o.Connections {
			org.Connections = append(org.Connections, apply.Connection{
				Slug:           c.Slug,
				Name:           c.Name,
				IdP:            apply.IdP{Metadata: c.IdPMetadataXML},
				Authentication: apply.Authentication{JITProvisioning: c.JITProvisioning, AllowIdPInitiated: c.AllowIdPInitiated},
				Mapping:        apply.Mapping{Preset: c.MappingPreset},
			})
		}
		f.Organizations = append(f.Organizations, org)
	}
	return f
}
