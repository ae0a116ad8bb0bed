package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/onramp-dev/onramp/orgconfig"
	"github.com/onramp-dev/onramp/store"
)

// maxACLEntries bounds each list of the access control list.
const maxACLEntries = 500

// JIT holds the onboarding switches (DESIGN's jit.emailDomains and
// jit.ssoConnections).
type JIT struct {
	EmailDomains   bool `json:"emailDomains"`
	SSOConnections bool `json:"ssoConnections"`
}

// AccessControl is the organization's access control list.
type AccessControl struct {
	// EmailDomains are DNS names, lower case, sorted.
	EmailDomains []string `json:"emailDomains"`
	// SSOConnections are slugs of the organization's connections, sorted.
	SSOConnections []string `json:"ssoConnections"`
}

// Onboarding is the organization's user onboarding section: the JIT switches
// and the access control list, with the version that If-Match compares.
type Onboarding struct {
	JIT           JIT           `json:"jit"`
	AccessControl AccessControl `json:"accessControl"`
	Version       string        `json:"version"`
}

func onboardingOf(o store.Org) Onboarding {
	return Onboarding{
		JIT:           JIT{EmailDomains: o.Onboarding.JITEmailDomains, SSOConnections: o.Onboarding.JITSSOConnections},
		AccessControl: accessOf(o.Access),
		Version:       version(o.UpdatedAt),
	}
}

func accessOf(a store.AccessControl) AccessControl {
	return AccessControl{EmailDomains: nonNil(a.EmailDomains), SSOConnections: nonNil(a.SSOConnections)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Onboarding returns the organization's onboarding settings.
func (s *Service) Onboarding(ctx context.Context, a Actor) (Onboarding, error) {
	o, err := s.org(ctx, a)
	if err != nil {
		return Onboarding{}, err
	}
	return onboardingOf(o), nil
}

// UpdateOnboarding replaces the JIT switches and the access control list
// (in.Version is ignored; ifMatch, if not "", must be the current version).
// Domains are normalised (lower case, no trailing dot); every connection
// named must be one of the organization's. An unchanged request writes nothing.
func (s *Service) UpdateOnboarding(ctx context.Context, a Actor, in Onboarding, ifMatch string) (Onboarding, error) {
	acl, err := s.validateAccess(ctx, a, in.AccessControl, "accessControl.")
	if err != nil {
		return Onboarding{}, err
	}
	detail := aclDetail("accessControl.", acl)
	detail["jit.emailDomains"] = strconv.FormatBool(in.JIT.EmailDomains)
	detail["jit.ssoConnections"] = strconv.FormatBool(in.JIT.SSOConnections)
	o, err := s.updateOrg(ctx, a, ifMatch, AuditOnboardingUpdated, "accessControl.ssoConnections", detail, func(o *store.Org) {
		o.Onboarding = store.Onboarding{JITEmailDomains: in.JIT.EmailDomains, JITSSOConnections: in.JIT.SSOConnections}
		o.Access = acl
	})
	if err != nil {
		return Onboarding{}, err
	}
	return onboardingOf(o), nil
}

// AccessControl returns the organization's access control list and its version.
func (s *Service) AccessControl(ctx context.Context, a Actor) (AccessControl, string, error) {
	o, err := s.org(ctx, a)
	if err != nil {
		return AccessControl{}, "", err
	}
	return accessOf(o.Access), version(o.UpdatedAt), nil
}

// UpdateAccessControl replaces the access control list only, validated as
// UpdateOnboarding does. It returns the list and its new version.
func (s *Service) UpdateAccessControl(ctx context.Context, a Actor, in AccessControl, ifMatch string) (AccessControl, string, error) {
	acl, err := s.validateAccess(ctx, a, in, "")
	if err != nil {
		return AccessControl{}, "", err
	}
	o, err := s.updateOrg(ctx, a, ifMatch, AuditAccessControlUpdated, "ssoConnections", aclDetail("", acl), func(o *store.Org) {
		o.Access = acl
	})
	if err != nil {
		return AccessControl{}, "", err
	}
	return accessOf(o.Access), version(o.UpdatedAt), nil
}

// validateAccess checks and normalises an access control list; prefix is the
// fields' path in the request.
func (s *Service) validateAccess(ctx context.Context, a Actor, in AccessControl, prefix string) (store.AccessControl, error) {
	fe := fieldErrors{}
	var out store.AccessControl
	if len(in.EmailDomains) > maxACLEntries {
		fe.add(prefix+"emailDomains", "at most %d domains", maxACLEntries)
	}
	for i, d := range in.EmailDomains {
		nd, problem := orgconfig.NormalizeDomain(d)
		if problem != "" {
			fe.add(fmt.Sprintf("%semailDomains[%d]", prefix, i), "%q: %s", d, problem)
			continue
		}
		out.EmailDomains = append(out.EmailDomains, nd)
	}
	if len(in.SSOConnections) > maxACLEntries {
		fe.add(prefix+"ssoConnections", "at most %d connections", maxACLEntries)
	}
	if len(in.SSOConnections) > 0 {
		conns, err := s.st.ListConnections(ctx, a.org.ID)
		if err != nil {
			return store.AccessControl{}, fmt.Errorf("admin: list connections: %w", err)
		}
		for i, slug := range in.SSOConnections {
			if !slices.ContainsFunc(conns, func(c store.Connection) bool { return c.Slug == slug }) {
				fe.add(fmt.Sprintf("%sssoConnections[%d]", prefix, i), "%q is not an SSO connection of this organization", slug)
				continue
			}
			out.SSOConnections = append(out.SSOConnections, slug)
		}
	}
	if err := fe.err(); err != nil {
		return store.AccessControl{}, err
	}
	slices.Sort(out.EmailDomains)
	slices.Sort(out.SSOConnections)
	out.EmailDomains = slices.Compact(out.EmailDomains)
	out.SSOConnections = slices.Compact(out.SSOConnections)
	return out, nil
}

// updateOrg applies set to the organization in one checked write, audited as
// action with detail (the settings the request set). A connection that
// disappeared between validation and the write is reported on aclField.
func (s *Service) updateOrg(ctx context.Context, a Actor, ifMatch, action, aclField string, detail map[string]string, set func(*store.Org)) (store.Org, error) {
	o, err := s.st.UpdateOrgChecked(ctx, a.org.ID, func(o *store.Org) error {
		if err := checkVersion(ifMatch, o.UpdatedAt); err != nil {
			return err
		}
		before := *o
		set(o)
		if o.Onboarding == before.Onboarding && slices.Equal(o.Access.EmailDomains, before.Access.EmailDomains) &&
			slices.Equal(o.Access.SSOConnections, before.Access.SSOConnections) {
			return errUnchanged
		}
		return nil
	}, a.event(action, detail))
	switch {
	case errors.Is(err, errUnchanged):
		return s.org(ctx, a)
	case errors.Is(err, store.ErrInvalidReference):
		return store.Org{}, &ValidationError{Fields: map[string]string{aclField: "a connection in the list was deleted meanwhile; reload and try again"}, err: err}
	case err != nil:
		return store.Org{}, fmt.Errorf("admin: update organization: %w", err)
	}
	return o, nil
}

func aclDetail(prefix string, acl store.AccessControl) map[string]string {
	return map[string]string{
		prefix + "emailDomains":   strings.Join(acl.EmailDomains, ","),
		prefix + "ssoConnections": strings.Join(acl.SSOConnections, ","),
	}
}
