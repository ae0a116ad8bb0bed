package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/store"
)

// SCIMHold is a hold of a SCIM token's de-provisioning (the mass
// de-provisioning safety rail, store.Holds): while it is open, the token's
// deactivations and deletions of users are refused and change nothing.
type SCIMHold struct {
	ID string `json:"id"`
	// Token is the held token's ID; Connection the slug of its connection
	// ("" if the connection was deleted since).
	Token      string    `json:"token"`
	Connection string    `json:"connection"`
	CreatedAt  time.Time `json:"createdAt"`
	// Deprovisioned of ActiveUsers within Window (a Go duration such as
	// "1h0m0s"), more than the Allowed.
	Deprovisioned int        `json:"deprovisioned"`
	ActiveUsers   int        `json:"activeUsers"`
	Allowed       int        `json:"allowed"`
	Window        string     `json:"window"`
	Open          bool       `json:"open"`
	ReleasedAt    *time.Time `json:"releasedAt"`
	ReleasedBy    string     `json:"releasedBy"`
}

// SCIMHoldList is a list of holds.
type SCIMHoldList struct {
	Holds []SCIMHold `json:"holds"`
}

// AuditHoldReleased is the audit action of an Admin's release.
const AuditHoldReleased = store.ActionDeprovisioningReleased

func (s *Service) holdOf(h store.Hold, slugs map[store.ConnectionID]string) SCIMHold {
	return SCIMHold{
		ID: string(h.ID), Token: string(h.TokenID), Connection: slugs[h.ConnectionID], CreatedAt: h.CreatedAt,
		Deprovisioned: h.Deprovisioned, ActiveUsers: h.ActiveUsers, Allowed: h.Allowed, Window: h.Window.String(),
		Open: h.Open(), ReleasedAt: h.ReleasedAt, ReleasedBy: h.ReleasedBy,
	}
}

func (s *Service) connectionSlugs(ctx context.Context, org store.OrgID) (map[store.ConnectionID]string, error) {
	cs, err := s.st.ListConnections(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("admin: list connections: %w", err)
	}
	slugs := make(map[store.ConnectionID]string, len(cs))
	for _, c := range cs {
		slugs[c.ID] = c.Slug
	}
	return slugs, nil
}

// ListSCIMHolds returns the organization's holds, newest first: only the open
// ones if openOnly.
func (s *Service) ListSCIMHolds(ctx context.Context, a Actor, openOnly bool) ([]SCIMHold, error) {
	hs, err := s.st.ListHolds(ctx, a.org.ID, openOnly)
	if err != nil {
		return nil, fmt.Errorf("admin: list holds: %w", err)
	}
	slugs, err := s.connectionSlugs(ctx, a.org.ID)
	if err != nil {
		return nil, err
	}
	out := make([]SCIMHold, 0, len(hs))
	for _, h := range hs {
		out = append(out, s.holdOf(h, slugs))
	}
	return out, nil
}

// ReleaseSCIMHold releases an open hold: the token may de-provision again,
// up to its limit, and the changes the IdP retries go through. 404 if the
// organization has no such hold, 409 if it was released already.
func (s *Service) ReleaseSCIMHold(ctx context.Context, a Actor, id string) (SCIMHold, error) {
	h, err := s.st.ReleaseHold(ctx, a.org.ID, store.HoldID(id), a.event(AuditHoldReleased, nil))
	if err != nil {
		return SCIMHold{}, fmt.Errorf("admin: release hold %s: %w", id, err)
	}
	slugs, err := s.connectionSlugs(ctx, a.org.ID)
	if err != nil {
		return SCIMHold{}, err
	}
	return s.holdOf(h, slugs), nil
}

func (h *API) listHolds(c echo.Context, a Actor) error {
	open := false
	switch c.QueryParam("state") {
	case "", "all":
	case "open":
		open = true
	default:
		return invalid("state", "must be open or all")
	}
	hs, err := h.svc.ListSCIMHolds(c.Request().Context(), a, open)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, SCIMHoldList{Holds: hs})
}

func (h *API) releaseHold(c echo.Context, a Actor) error {
	hold, err := h.svc.ReleaseSCIMHold(c.Request().Context(), a, c.Param("hold"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, hold)
}
