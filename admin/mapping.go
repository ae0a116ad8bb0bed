package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// MappingInput is a connection's attribute mapping as an Admin sets it: a
// preset and field-by-field overrides in package attributes' JSON form (see
// attributes.Mapping; null or absent: the preset alone).
type MappingInput struct {
	Preset    string          `json:"preset"`
	Overrides json.RawMessage `json:"overrides,omitempty"`
}

// Mapping is a connection's mapping: what is stored, and the effective
// mapping (the preset overlaid with the overrides) that both SCIM and SAML
// sign-ins apply.
type Mapping struct {
	Preset    string              `json:"preset"`
	Overrides json.RawMessage     `json:"overrides"` // null when none
	Effective *attributes.Mapping `json:"effective"` // null if the stored mapping does not compile (Problem says why)
	Problem   string              `json:"problem,omitempty"`
	Version   string              `json:"version"`
}

// Preset is a named preset and the mapping it stands for.
type Preset struct {
	Name    string             `json:"name"`
	Mapping attributes.Mapping `json:"mapping"`
}

// PreviewInput asks what a mapping makes of a pasted SAML response, assertion,
// attribute statement or SCIM User body. Without Mapping, the connection's
// stored mapping is previewed; with it, that (unsaved) mapping.
type PreviewInput struct {
	Input   string        `json:"input"`
	Mapping *MappingInput `json:"mapping,omitempty"`
}

// JITVerdict says whether a SAML sign-in with the previewed input would get
// an account (or be signed in), under the organization's current policy and
// accounts, and why.
type JITVerdict struct {
	// Applies is false for a SCIM body: SCIM pushes are not subject to JIT.
	Applies bool `json:"applies"`
	Allowed bool `json:"allowed"`
	// Decision is the policy's action (sign_in, link, create, refuse); Rule
	// the rule that decided, as the audit log would name it.
	Decision string `json:"decision,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Reason   string `json:"reason"`
}

// Preview is the previewed profile, how each field was found, and the JIT
// verdict.
type Preview struct {
	attributes.PreviewResult
	JIT JITVerdict `json:"jit"`
}

// Presets returns the mapping presets.
func (s *Service) Presets() ([]Preset, error) {
	var out []Preset
	for _, name := range attributes.PresetNames() {
		m, err := attributes.Preset(name)
		if err != nil {
			return nil, fmt.Errorf("admin: preset %s: %w", name, err)
		}
		out = append(out, Preset{Name: name, Mapping: m})
	}
	return out, nil
}

// validateMapping checks a mapping input: the preset exists and the overrides
// parse and compile on top of it. It returns the preset name and the overrides
// to store (compact JSON, nil for none). prefix is the input's path in the
// request ("", "mapping.").
func validateMapping(in MappingInput, prefix string) (string, []byte, error) {
	preset := strings.ToLower(strings.TrimSpace(in.Preset))
	if preset == "" {
		preset = attributes.PresetGeneric
	}
	if !slices.Contains(attributes.PresetNames(), preset) {
		return "", nil, invalid(prefix+"preset", "unknown preset %q (one of: %s)", in.Preset, strings.Join(attributes.PresetNames(), ", "))
	}
	var overrides []byte
	if raw := bytes.TrimSpace(in.Overrides); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", nil, invalid(prefix+"overrides", "not JSON: %v", err)
		}
		overrides = buf.Bytes()
	}
	if _, err := attributes.Resolve(preset, overrides); err != nil {
		return "", nil, mappingError(err, prefix+"overrides")
	}
	return preset, overrides, nil
}

// mappingError turns attributes' errors about a mapping into field errors
// under field.
func mappingError(err error, field string) error {
	var ve *attributes.ValidationError
	if errors.As(err, &ve) {
		fe := fieldErrors{}
		for _, p := range ve.Problems {
			fe.add(field+"."+p.Field, "%s", p.Message)
		}
		return fe.err()
	}
	// ParseMapping's errors are encoding/json's about the Admin's input
	// (unknown key, wrong type).
	return invalid(field, "not a valid mapping: %s", strings.TrimPrefix(err.Error(), "attributes: "))
}

func mappingOf(c store.Connection) Mapping {
	out := Mapping{Preset: c.MappingPreset, Overrides: c.Mapping, Version: version(c.UpdatedAt)}
	if out.Preset == "" {
		out.Preset = attributes.PresetGeneric
	}
	if len(out.Overrides) == 0 {
		out.Overrides = json.RawMessage("null")
	}
	m, err := attributes.Resolve(c.MappingPreset, c.Mapping)
	if err != nil {
		out.Problem = err.Error()
		return out
	}
	out.Effective = &m
	return out
}

// Mapping returns a connection's attribute mapping.
func (s *Service) Mapping(ctx context.Context, a Actor, slug string) (Mapping, error) {
	c, err := s.connection(ctx, a, slug)
	if err != nil {
		return Mapping{}, err
	}
	return mappingOf(c), nil
}

// SetMapping replaces a connection's preset and overrides.
func (s *Service) SetMapping(ctx context.Context, a Actor, slug string, in MappingInput, ifMatch string) (Mapping, error) {
	preset, overrides, err := validateMapping(in, "")
	if err != nil {
		return Mapping{}, err
	}
	return s.writeMapping(ctx, a, slug, ifMatch, func(c *store.Connection) error {
		c.MappingPreset, c.Mapping = preset, overrides
		return nil
	})
}

// ChoosePreset switches a connection to another preset. Unless keepOverrides,
// the Admin's overrides are cleared (a new preset starts fresh); if they are
// kept, they must compile on the new preset.
func (s *Service) ChoosePreset(ctx context.Context, a Actor, slug, preset string, keepOverrides bool, ifMatch string) (Mapping, error) {
	name, _, err := validateMapping(MappingInput{Preset: preset}, "")
	if err != nil {
		return Mapping{}, err
	}
	return s.writeMapping(ctx, a, slug, ifMatch, func(c *store.Connection) error {
		c.MappingPreset = name
		if !keepOverrides {
			c.Mapping = nil
			return nil
		}
		// The overrides are the stored ones, read in the write transaction.
		if _, err := attributes.Resolve(name, c.Mapping); err != nil {
			return mappingError(err, "overrides")
		}
		return nil
	})
}

// writeMapping applies set (which may refuse with an error) to the connection,
// audited as a mapping change.
func (s *Service) writeMapping(ctx context.Context, a Actor, slug, ifMatch string, set func(*store.Connection) error) (Mapping, error) {
	if _, err := s.updateConnection(ctx, a, slug, ifMatch, AuditMappingUpdated, set); err != nil {
		return Mapping{}, err
	}
	c, err := s.connection(ctx, a, slug)
	if err != nil {
		return Mapping{}, err
	}
	return mappingOf(c), nil
}

// Preview applies a mapping to a pasted input and, for SAML, asks the JIT
// policy what a sign-in with it would get, given the organization's settings
// and accounts as they are now. Nothing is written.
func (s *Service) Preview(ctx context.Context, a Actor, slug string, in PreviewInput) (Preview, error) {
	c, err := s.connection(ctx, a, slug)
	if err != nil {
		return Preview{}, err
	}
	var m attributes.Mapping
	if in.Mapping != nil {
		preset, overrides, err := validateMapping(*in.Mapping, "mapping.")
		if err != nil {
			return Preview{}, err
		}
		m, err = attributes.Resolve(preset, overrides)
		if err != nil { // validateMapping resolved it already
			return Preview{}, fmt.Errorf("admin: resolve mapping: %w", err)
		}
	} else if m, err = attributes.Resolve(c.MappingPreset, c.Mapping); err != nil {
		return Preview{}, mappingError(err, "mapping.overrides")
	}
	if strings.TrimSpace(in.Input) == "" {
		return Preview{}, invalid("input", "paste a SAML response, assertion or attribute statement, or a SCIM User body")
	}
	res, err := attributes.Preview(m, []byte(in.Input))
	if err != nil {
		var ve *attributes.ValidationError
		if errors.As(err, &ve) {
			return Preview{}, mappingError(err, "mapping.overrides")
		}
		return Preview{}, invalid("input", "%s", strings.TrimPrefix(err.Error(), "attributes: "))
	}
	out := Preview{PreviewResult: res}
	if res.Source == attributes.SideSCIM {
		out.JIT = JITVerdict{Reason: "A SCIM push creates and updates accounts whatever the JIT settings; the JIT policy applies to SAML sign-ins only."}
		return out, nil
	}
	o, err := s.org(ctx, a)
	if err != nil {
		return Preview{}, err
	}
	d, err := s.provisioner.Explain(ctx, o, c, res.NameID, res.Profile)
	if err != nil {
		return Preview{}, fmt.Errorf("admin: preview policy: %w", err)
	}
	out.JIT = verdict(d, res)
	return out, nil
}

// verdict explains a policy decision for the preview pane.
func verdict(d jit.Decision, res attributes.PreviewResult) JITVerdict {
	v := JITVerdict{Applies: true, Decision: string(d.Action), Rule: d.Rule, Allowed: d.Action != jit.ActionRefuse}
	if v.Allowed && d.Action != jit.ActionSignIn && len(res.Blockers) > 0 {
		// Creating or linking needs the mapped profile; the ACS would refuse
		// the sign-in with a page naming what is missing.
		v.Allowed = false
		v.Reason = "The sign-in would be refused: " + strings.Join(res.Blockers, "; ") + "."
		return v
	}
	switch d.Rule {
	case jit.RuleLinkedIdentity:
		v.Reason = "This identity is already linked to an active account: the person signs in."
	case jit.RuleLinkExisting:
		v.Reason = "An active account with the same userName or email exists and may be linked (it was provisioned through this connection, or its email domain is allowed): the identity is linked to it and the person signs in."
	case jit.RuleJITSSOConnection:
		v.Reason = "No account exists yet. JIT provisioning by SSO connection is on, this connection is in the access control list and its JIT provisioning toggle is on: the account is created on first sign-in."
	case jit.RuleJITEmailDomain:
		v.Reason = fmt.Sprintf("No account exists yet. JIT provisioning by email domain is on and %s is an allowed email domain: the account is created on first sign-in.", res.EmailDomain)
	default:
		v.Reason = d.Hint
	}
	return v
}
