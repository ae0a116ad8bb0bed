package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/orgconfig"
	"github.com/onramp-dev/onramp/store"
)

// SCIMToken is a connection's SCIM bearer token, without its secret.
type SCIMToken struct {
	ID          string     `json:"id"`
	Description string     `json:"description"`
	CreatedAt   time.Time  `json:"createdAt"`
	RevokedAt   *time.Time `json:"revokedAt"`
	Active      bool       `json:"active"`
}

// NewSCIMToken is a token just created: the only time its plaintext is shown.
type NewSCIMToken struct {
	SCIMToken
	// Token is the bearer token to paste into the IdP. onramp keeps only its
	// hash: it cannot be shown again.
	Token       string `json:"token"`
	SCIMBaseURL string `json:"scimBaseUrl"`
}

func scimTokenOf(t store.Token) SCIMToken {
	return SCIMToken{ID: string(t.ID), Description: t.Description, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt, Active: t.RevokedAt == nil}
}

// ListSCIMTokens returns a connection's SCIM tokens, revoked ones included,
// oldest first.
func (s *Service) ListSCIMTokens(ctx context.Context, a Actor, conn string) ([]SCIMToken, error) {
	c, err := s.connection(ctx, a, conn)
	if err != nil {
		return nil, err
	}
	ts, err := s.st.ListTokens(ctx, a.org.ID)
	if err != nil {
		return nil, fmt.Errorf("admin: list tokens: %w", err)
	}
	out := []SCIMToken{}
	for _, t := range ts {
		if t.Kind == store.TokenSCIM && t.ConnectionID == c.ID {
			out = append(out, scimTokenOf(t))
		}
	}
	return out, nil
}

// CreateSCIMToken makes a new SCIM token for a connection and returns its
// plaintext, once.
func (s *Service) CreateSCIMToken(ctx context.Context, a Actor, conn, description string) (NewSCIMToken, error) {
	description = strings.TrimSpace(description)
	if p := orgconfig.CheckName(description, false); p != "" {
		return NewSCIMToken{}, invalid("description", "%s", p)
	}
	c, err := s.connection(ctx, a, conn)
	if err != nil {
		return NewSCIMToken{}, err
	}
	plaintext, t, err := apitoken.New()
	if err != nil {
		return NewSCIMToken{}, fmt.Errorf("admin: %w", err)
	}
	t.OrgID, t.ConnectionID, t.Kind, t.Description = a.org.ID, c.ID, store.TokenSCIM, description
	ev := a.event(AuditTokenCreated, map[string]string{"kind": string(store.TokenSCIM), "token": string(t.ID), "connection": c.Slug})
	t, err = s.st.CreateToken(ctx, t, ev)
	if err != nil {
		return NewSCIMToken{}, fmt.Errorf("admin: create token: %w", err)
	}
	return NewSCIMToken{SCIMToken: scimTokenOf(t), Token: plaintext, SCIMBaseURL: s.base + scimPrefix}, nil
}

// RevokeSCIMToken revokes one of a connection's SCIM tokens. Revoking a
// revoked token is not an error.
func (s *Service) RevokeSCIMToken(ctx context.Context, a Actor, conn, id string) error {
	c, err := s.connection(ctx, a, conn)
	if err != nil {
		return err
	}
	t, err := s.st.GetToken(ctx, store.TokenID(id))
	if err == nil && (t.OrgID != a.org.ID || t.ConnectionID != c.ID || t.Kind != store.TokenSCIM) {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("admin: token %s: %w", id, err)
	}
	ev := a.event(AuditTokenRevoked, map[string]string{"kind": string(store.TokenSCIM), "token": id, "connection": c.Slug})
	if err := s.st.RevokeToken(ctx, a.org.ID, t.ID, ev); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("admin: token %s: %w", id, err)
		}
		return fmt.Errorf("admin: revoke token %s: %w", id, err)
	}
	return nil
}
