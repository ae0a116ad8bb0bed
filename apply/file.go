package apply

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/onramp-dev/onramp/orgconfig"
	"github.com/onramp-dev/onramp/store"
)

// File is the YAML document as written. Field names follow DESIGN.md.
type File struct {
	Organizations []Organization `yaml:"organizations"`
}

// Organization declares one organization.
type Organization struct {
	Slug        string       `yaml:"slug"`
	Name        string       `yaml:"name"`
	Onboarding  Onboarding   `yaml:"onboarding"`
	Connections []Connection `yaml:"connections"`
}

// Onboarding declares the organization's JIT switches and access control list.
type Onboarding struct {
	JIT           JIT           `yaml:"jit"`
	AccessControl AccessControl `yaml:"accessControl"`
}

// JIT declares which just-in-time routes are on.
type JIT struct {
	EmailDomains   bool `yaml:"emailDomains"`
	SSOConnections bool `yaml:"ssoConnections"`
}

// AccessControl declares the organization's access control list.
type AccessControl struct {
	EmailDomains   []string `yaml:"emailDomains"`
	SSOConnections []string `yaml:"ssoConnections"`
}

// Connection declares one SSO connection.
type Connection struct {
	Slug           string         `yaml:"slug"`
	Name           string         `yaml:"name"`
	IdP            IdP            `yaml:"idp"`
	Authentication Authentication `yaml:"authentication"`
	Mapping        Mapping        `yaml:"mapping"`
}

// IdP holds the identity provider's SAML metadata: a file (relative to the YAML
// file's directory) or the XML inline. At most one may be set.
type IdP struct {
	MetadataFile string `yaml:"metadataFile"`
	Metadata     string `yaml:"metadata"`
}

// Authentication declares a connection's sign-in settings.
type Authentication struct {
	JITProvisioning   bool `yaml:"jitProvisioning"`
	AllowIdPInitiated bool `yaml:"allowIdpInitiated"`
}

// Mapping names the connection's attribute-mapping preset.
type Mapping struct {
	Preset string `yaml:"preset"`
}

// Presets returns the attribute-mapping presets a connection may name.
func Presets() []string {
	return []string{"okta", "entra", "google", "onelogin", "jumpcloud", "generic"}
}

// DefaultPreset is used when a connection names no preset.
const DefaultPreset = "generic"

// maxMetadataSize bounds an IdP metadata document.
const maxMetadataSize = 1 << 20

// Config is a validated, normalised file: the desired state that Apply writes.
type Config struct {
	Orgs []OrgConfig
}

// OrgConfig is the desired state of one organization.
type OrgConfig struct {
	Slug        string
	Name        string
	Onboarding  store.Onboarding
	Access      store.AccessControl
	Connections []ConnectionConfig
}

// ConnectionConfig is the desired state of one connection.
type ConnectionConfig struct {
	Slug              string
	Name              string
	IdPMetadataXML    string
	JITProvisioning   bool
	AllowIdPInitiated bool
	MappingPreset     string
}

// Problem is one thing wrong with a file.
type Problem struct {
	Line int    // 1-based; 0 if unknown
	Path string // where in the document, e.g. organizations[0].connections[1].idp
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// InvalidError reports every problem found in a file.
type InvalidError struct {
	File     string
	Problems []Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apply: %s is not valid (%d problem", e.File, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  " + e.File + ":" + p.String())
	}
	return b.String()
}

// Load reads, decodes and validates the file at path. Metadata files are resolved
// relative to the file's directory. Problems are returned as *InvalidError.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the file to apply
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	return Parse(data, path, filepath.Dir(path))
}

// Parse decodes and validates a document. name labels problems; baseDir resolves
// relative metadata file paths.
func Parse(data []byte, name, baseDir string) (*Config, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &InvalidError{File: name, Problems: []Problem{{Msg: "the file is empty"}}}
		}
		return nil, decodeError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &InvalidError{File: name, Problems: []Problem{{Line: extra.Line, Msg: "only one YAML document is allowed"}}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, decodeError(name, err)
	}
	v := validator{root: &root, baseDir: baseDir}
	cfg := v.file(f)
	if len(v.problems) > 0 {
		slices.SortStableFunc(v.problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &InvalidError{File: name, Problems: v.problems}
	}
	return cfg, nil
}

// decodeError turns yaml.v3's errors, which already name lines, into problems.
func decodeError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		ie := &InvalidError{File: name}
		for _, msg := range te.Errors {
			ie.Problems = append(ie.Problems, yamlProblem(msg))
		}
		return ie
	}
	return &InvalidError{File: name, Problems: []Problem{yamlProblem(strings.TrimPrefix(err.Error(), "yaml: "))}}
}

// yamlProblem splits yaml.v3's "line N: message" into a Problem.
func yamlProblem(msg string) Problem {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return Problem{Msg: msg}
	}
	num, text, ok := strings.Cut(rest, ": ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return Problem{Msg: msg}
	}
	return Problem{Line: n, Msg: text}
}

// validator collects every problem in a decoded file.
type validator struct {
	root     *yaml.Node
	baseDir  string
	problems []Problem
}

func (v *validator) add(path []any, format string, args ...any) {
	v.problems = append(v.problems, Problem{Line: lineOf(v.root, path), Path: pathString(path), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) file(f File) *Config {
	cfg := &Config{}
	if len(f.Organizations) == 0 {
		v.add([]any{"organizations"}, "declare at least one organization")
	}
	seen := map[string]int{}
	for i, o := range f.Organizations {
		path := []any{"organizations", i}
		oc := v.org(path, o)
		if j, dup := seen[oc.Slug]; dup && oc.Slug != "" {
			v.add(with(path, "slug"), "organization %q is declared twice (also organizations[%d])", oc.Slug, j)
		}
		seen[oc.Slug] = i
		cfg.Orgs = append(cfg.Orgs, oc)
	}
	return cfg
}

func (v *validator) org(path []any, o Organization) OrgConfig {
	oc := OrgConfig{
		Slug: o.Slug,
		Name: strings.TrimSpace(o.Name),
		Onboarding: store.Onboarding{
			JITEmailDomains:   o.Onboarding.JIT.EmailDomains,
			JITSSOConnections: o.Onboarding.JIT.SSOConnections,
		},
	}
	if msg := orgconfig.CheckSlug(o.Slug); msg != "" {
		v.add(with(path, "slug"), "%s", msg)
	}
	if msg := orgconfig.CheckName(oc.Name, true); msg != "" {
		v.add(with(path, "name"), "%s", msg)
	}

	declared := map[string]int{}
	for i, c := range o.Connections {
		cpath := with(path, "connections", i)
		cc := v.connection(cpath, c)
		if j, dup := declared[cc.Slug]; dup && cc.Slug != "" {
			v.add(with(cpath, "slug"), "connection %q is declared twice in this organization (also connections[%d])", cc.Slug, j)
		}
		declared[cc.Slug] = i
		oc.Connections = append(oc.Connections, cc)
	}

	acl := with(path, "onboarding", "accessControl")
	domains := map[string]bool{}
	for i, d := range o.Onboarding.AccessControl.EmailDomains {
		nd, msg := orgconfig.NormalizeDomain(d)
		if msg != "" {
			v.add(with(acl, "emailDomains", i), "%q: %s", d, msg)
			continue
		}
		domains[nd] = true
	}
	oc.Access.EmailDomains = sortedKeys(domains)
	conns := map[string]bool{}
	for i, s := range o.Onboarding.AccessControl.SSOConnections {
		if _, ok := declared[s]; !ok {
			v.add(with(acl, "ssoConnections", i), "%q is not a connection declared in this organization's connections", s)
			continue
		}
		conns[s] = true
	}
	oc.Access.SSOConnections = sortedKeys(conns)
	return oc
}

func (v *validator) connection(path []any, c Connection) ConnectionConfig {
	cc := ConnectionConfig{
		Slug:              c.Slug,
		Name:              strings.TrimSpace(c.Name),
		JITProvisioning:   c.Authentication.JITProvisioning,
		AllowIdPInitiated: c.Authentication.AllowIdPInitiated,
		MappingPreset:     strings.ToLower(strings.TrimSpace(c.Mapping.Preset)),
	}
	if msg := orgconfig.CheckSlug(c.Slug); msg != "" {
		v.add(with(path, "slug"), "%s", msg)
	}
	if cc.Name == "" {
		cc.Name = c.Slug
	}
	if msg := orgconfig.CheckName(cc.Name, false); msg != "" {
		v.add(with(path, "name"), "%s", msg)
	}
	if cc.MappingPreset == "" {
		cc.MappingPreset = DefaultPreset
	}
	if !slices.Contains(Presets(), cc.MappingPreset) {
		v.add(with(path, "mapping", "preset"), "unknown preset %q (one of: %s)", c.Mapping.Preset, strings.Join(Presets(), ", "))
	}

	idp := with(path, "idp")
	switch {
	case c.IdP.MetadataFile != "" && c.IdP.Metadata != "":
		v.add(idp, "set metadataFile or metadata, not both")
	case c.IdP.MetadataFile != "":
		p := c.IdP.MetadataFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(v.baseDir, p)
		}
		data, err := readMetadataFile(p, c.IdP.MetadataFile)
		if err != nil {
			v.add(with(idp, "metadataFile"), "%v", err)
			break
		}
		if err := checkMetadata(data); err != nil {
			v.add(with(idp, "metadataFile"), "%s: %v", c.IdP.MetadataFile, err)
			break
		}
		cc.IdPMetadataXML = string(data)
	case c.IdP.Metadata != "":
		if len(c.IdP.Metadata) > maxMetadataSize {
			v.add(with(idp, "metadata"), "larger than %d bytes", maxMetadataSize)
			break
		}
		if err := checkMetadata([]byte(c.IdP.Metadata)); err != nil {
			v.add(with(idp, "metadata"), "%v", err)
			break
		}
		cc.IdPMetadataXML = c.IdP.Metadata
	}
	return cc
}

// readMetadataFile reads the metadata file at path, which the YAML file names as
// written.
func readMetadataFile(path, written string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the operator's YAML names the metadata file
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("metadata file %s does not exist (paths are relative to the YAML file's directory)", written)
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetadataSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("metadata file %s is larger than %d bytes", written, maxMetadataSize)
	}
	return data, nil
}

// samlMetadataNS is the SAML 2.0 metadata namespace.
const samlMetadataNS = "urn:oasis:names:tc:SAML:2.0:metadata"

// checkMetadata is a light check that data is an IdP's SAML metadata: well-formed
// XML whose root is an md:EntityDescriptor containing an IDPSSODescriptor. Package
// jit parses it fully when it builds the service provider.
func checkMetadata(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	root := true
	sawIDP := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root {
			if se.Name.Local != "EntityDescriptor" || se.Name.Space != samlMetadataNS {
				return fmt.Errorf("root element is %s, want a SAML metadata EntityDescriptor (%s)", se.Name.Local, samlMetadataNS)
			}
			root = false
		}
		if se.Name.Local == "IDPSSODescriptor" && se.Name.Space == samlMetadataNS {
			sawIDP = true
		}
	}
	if root {
		return errors.New("no XML element found")
	}
	if !sawIDP {
		return errors.New("no IDPSSODescriptor: is this the identity provider's metadata (not a service provider's)?")
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// with returns path extended by more, never sharing path's backing array.
func with(path []any, more ...any) []any {
	out := make([]any, 0, len(path)+len(more))
	return append(append(out, path...), more...)
}

func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		case string:
			if b.Len() > 0 {
				b.WriteString(".")
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

// lineOf returns the line of the node at path (map keys and sequence indices), or
// of its nearest ancestor present in the document.
func lineOf(root *yaml.Node, path []any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						line = n.Content[i].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
