package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/store"
)

// Invitations is what the Users → Invitations page calls; *emaillogin.Service
// is one. The console calls it directly, as it calls the admin service, so
// the page and the API (BASE/api/v1/orgs/{org}/invitations) share one
// implementation of the rules (allowed domains, one pending invitation per
// address, the audit events).
type Invitations interface {
	Invite(ctx context.Context, a admin.Actor, email, role string) (emaillogin.Invitation, error)
	Resend(ctx context.Context, a admin.Actor, id store.InvitationID) (emaillogin.Invitation, error)
	Revoke(ctx context.Context, a admin.Actor, id store.InvitationID) error
	Invitations(ctx context.Context, a admin.Actor) ([]emaillogin.Invitation, error)
}

var _ Invitations = (*emaillogin.Service)(nil)

// invitationRoles are the roles the form offers.
func invitationRoles() []string { return []string{attributes.RoleMember, attributes.RoleAdmin} }

// invitationsData is the data of invitations.html.
type invitationsData struct {
	frame
	// Pending can be resent or revoked (an expired one too: resending gives
	// it a new link); Past were accepted or revoked.
	Pending, Past []emaillogin.Invitation
	Roles         []string
	Email, Role   string
	Errors        map[string]string
}

func (cn *Console) invitationsPage(ctx context.Context, p *req) (invitationsData, error) {
	d := invitationsData{frame: cn.frame(p, "Invitations", "invitations"), Roles: invitationRoles(), Role: attributes.RoleMember,
		Errors: map[string]string{}}
	list, err := cn.inv.Invitations(ctx, p.actor)
	if err != nil {
		return invitationsData{}, err
	}
	for _, inv := range list {
		if inv.Status == "pending" || inv.Status == "expired" {
			d.Pending = append(d.Pending, inv)
		} else {
			d.Past = append(d.Past, inv)
		}
	}
	return d, nil
}

// invitations is GET /admin/{org}/users/invitations.
func (cn *Console) invitations(c echo.Context, p *req) error {
	d, err := cn.invitationsPage(c.Request().Context(), p)
	if err != nil {
		return err
	}
	d.Notice = notice(c)
	return cn.render(c, http.StatusOK, "invitations", d)
}

// invite is POST /admin/{org}/users/invitations: email and role. A refusal is
// shown next to the field it is about, with what was typed kept.
func (cn *Console) invite(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	r := c.Request()
	email := strings.TrimSpace(r.PostFormValue("email"))
	role := r.PostFormValue("role")
	_, err := cn.inv.Invite(ctx, p.actor, email, role)
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "users", "invitations"), "invited", "pending")
	}
	status, field, msg := inviteRefusal(p.actor.Org(), email, err)
	if status == 0 {
		return err
	}
	d, derr := cn.invitationsPage(ctx, p)
	if derr != nil {
		return derr
	}
	d.Email, d.Role = email, role
	if field != "" {
		d.Errors[field] = msg
		d.Error = "No invitation was sent: correct the field marked below."
	} else {
		d.Error = msg
	}
	return cn.render(c, status, "invitations", d)
}

// inviteRefusal says how the page shows an error of Invite, Resend or Revoke:
// the status, the field it is about ("" for the page) and the message. A
// zero status is an error the page does not explain (an error page).
func inviteRefusal(org store.Org, email string, err error) (status int, field, msg string) {
	var in *emaillogin.InputError
	switch {
	case errors.As(err, &in):
		return http.StatusBadRequest, in.Field, in.Message
	case errors.Is(err, emaillogin.ErrDomainNotAllowed):
		domain := strings.ToLower(email[strings.LastIndexByte(email, '@')+1:])
		return http.StatusUnprocessableEntity, "email", fmt.Sprintf(
			"%s is not one of %s's allowed email domains (accessControl.emailDomains). Add it under Organization → User onboarding first.", domain, org.Name)
	case errors.Is(err, emaillogin.ErrHasAccount):
		return http.StatusConflict, "email", "This address already has an account in " + org.Name + "."
	case errors.Is(err, emaillogin.ErrAlreadyInvited):
		return http.StatusConflict, "email", "This address already has a pending invitation: resend or revoke it below."
	case errors.Is(err, emaillogin.ErrNotPending):
		return http.StatusConflict, "", "That invitation was already accepted or revoked. Nothing was changed."
	case errors.Is(err, emaillogin.ErrNotSent):
		return http.StatusBadGateway, "", "The invitation is saved, but its email could not be sent. Try Resend; if it keeps failing, ask your operator to check onramp's mail settings."
	}
	return 0, "", ""
}

// resendInvitation is POST /admin/{org}/users/invitations/{id}/resend.
func (cn *Console) resendInvitation(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	_, err := cn.inv.Resend(ctx, p.actor, store.InvitationID(c.Param("invitation")))
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "users", "invitations"), "resent", "pending")
	}
	return cn.invitationRefused(c, p, err)
}

// revokeInvitation is POST /admin/{org}/users/invitations/{id}/revoke.
func (cn *Console) revokeInvitation(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	err := cn.inv.Revoke(ctx, p.actor, store.InvitationID(c.Param("invitation")))
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "users", "invitations"), "invitation-revoked", "pending")
	}
	return cn.invitationRefused(c, p, err)
}

// invitationRefused shows the page with why a Resend or Revoke did nothing
// (or, for an unsent email, what is left to do).
func (cn *Console) invitationRefused(c echo.Context, p *req, err error) error {
	status, _, msg := inviteRefusal(p.actor.Org(), "", err)
	if status == 0 {
		return err
	}
	d, derr := cn.invitationsPage(c.Request().Context(), p)
	if derr != nil {
		return derr
	}
	d.Error = msg
	return cn.render(c, status, "invitations", d)
}
