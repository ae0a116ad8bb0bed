package jit

import (
	"context"
	"strings"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// Explain answers "what would the policy decide?" for a sign-in by nameID
// through conn whose assertion maps to profile (under the mapping being
// previewed, which may differ from the stored one). It gathers Decide's input
// from the store exactly as Provision does (the account linked to the
// identity, else the accounts with the same userName or email) and returns the
// decision without acting on it: nothing is written, not even an audit event.
// The admin API's mapping preview uses it. With an empty nameID the decision is
// the refusal Decide gives for it.
func (p *Provisioner) Explain(ctx context.Context, org store.Org, conn store.Connection, nameID string, profile attributes.Profile) (Decision, error) {
	in := PolicyInput{
		OrgName:    org.Name,
		Onboarding: org.Onboarding,
		Access:     org.Access,
		Connection: PolicyConnection{ID: conn.ID, Slug: conn.Slug, Name: conn.Name, JITProvisioning: conn.JITProvisioning},
		NameID:     nameID,
		Email:      profile.Email,
	}
	if strings.TrimSpace(nameID) != "" {
		linked, err := p.linkedAccount(ctx, conn.ID, nameID)
		if err != nil {
			return Decision{}, err
		}
		in.Linked = linked
		if linked == nil {
			if in.Matches, err = p.matches(ctx, org.ID, profile); err != nil {
				return Decision{}, err
			}
		}
	}
	return Decide(in), nil
}
