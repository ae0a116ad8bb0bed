package console

import (
	"context"
	"errors"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/store"
)

// Holds of SCIM tokens' de-provisioning (the mass de-provisioning safety
// rail) are shown as a banner, with a Release button, on the SSO page and on
// every connection's SCIM page: an IdP's deactivations are waiting on an
// Admin there.

// openHolds returns the organization's open holds, for the banner.
func (cn *Console) openHolds(ctx context.Context, p *req) ([]admin.SCIMHold, error) {
	return cn.svc.ListSCIMHolds(ctx, p.actor, true)
}

// releaseHold is POST /admin/{org}/scim-holds/{hold}/release.
func (cn *Console) releaseHold(c echo.Context, p *req) error {
	// Released already (another Admin, a second click): what was asked for
	// is done.
	if _, err := cn.svc.ReleaseSCIMHold(c.Request().Context(), p.actor, c.Param("hold")); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return seeOther(c, orgPath(p.actor.Org().Slug, "sso"), "released", "")
}
