package emaillogin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// Errors of the invitation operations; the API maps them to statuses.
var (
	// ErrDomainNotAllowed: the address's domain is not in the organization's
	// accessControl.emailDomains (422).
	ErrDomainNotAllowed = errors.New("emaillogin: email domain not allowed")
	// ErrHasAccount: the organization already has a live account with the
	// address (409).
	ErrHasAccount = errors.New("emaillogin: the address already has an account")
	// ErrAlreadyInvited: the address has a pending invitation (409).
	ErrAlreadyInvited = errors.New("emaillogin: the address already has a pending invitation")
	// ErrNotPending: the invitation was accepted or revoked (409).
	ErrNotPending = errors.New("emaillogin: the invitation is no longer pending")
	// ErrDomainRouted: another organization routes the domain (409).
	ErrDomainRouted = errors.New("emaillogin: another organization routes the domain")
	// ErrNotSent: the change was made but its email could not be sent (502).
	ErrNotSent = errors.New("emaillogin: email not sent")
)

// InputError is invalid input, naming the field (400).
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return "emaillogin: " + e.Field + ": " + e.Message }

// maxRoleLen bounds a role name.
const maxRoleLen = 64

// Invitation is an invitation as the API shows it.
type Invitation struct {
	ID         store.InvitationID `json:"id"`
	Email      string             `json:"email"`
	Role       string             `json:"role"`
	Status     string             `json:"status"` // pending, expired (pending, link expired), accepted, revoked
	InvitedBy  string             `json:"invitedBy"`
	Sends      int                `json:"sends"`
	CreatedAt  time.Time          `json:"createdAt"`
	ExpiresAt  time.Time          `json:"expiresAt"`
	AcceptedAt *time.Time         `json:"acceptedAt,omitempty"`
	UserID     store.UserID       `json:"userId,omitempty"`
	RevokedAt  *time.Time         `json:"revokedAt,omitempty"`
}

func (s *Service) view(inv store.Invitation) Invitation {
	st := "pending"
	switch {
	case inv.AcceptedAt != nil:
		st = "accepted"
	case inv.RevokedAt != nil:
		st = "revoked"
	case !s.now().Before(inv.ExpiresAt):
		st = "expired"
	}
	return Invitation{ID: inv.ID, Email: inv.Email, Role: inv.Role, Status: st, InvitedBy: inv.InvitedBy, Sends: inv.Sends,
		CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt, AcceptedAt: inv.AcceptedAt, UserID: inv.UserID, RevokedAt: inv.RevokedAt}
}

// checkRole returns the role in canonical spelling (Member if empty).
func checkRole(role string) (string, error) {
	role = attributes.CanonicalRole(role)
	if role == "" {
		return attributes.RoleMember, nil
	}
	if len(role) > maxRoleLen || strings.IndexFunc(role, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", &InputError{Field: "role", Message: fmt.Sprintf("must be at most %d printable characters", maxRoleLen)}
	}
	return role, nil
}

// Invite invites an address into the actor's organization with a role
// (Member if empty) and emails the accept link. The address's domain must be
// in the organization's allowed email domains. If the email cannot be sent,
// the invitation is returned with an error wrapping ErrNotSent (resend it).
func (s *Service) Invite(ctx context.Context, a admin.Actor, email, role string) (Invitation, error) {
	org := a.Org()
	addr, domain, err := parseEmail(email)
	if err != nil {
		return Invitation{}, &InputError{Field: "email", Message: err.Error()}
	}
	if role, err = checkRole(role); err != nil {
		return Invitation{}, err
	}
	if !slices.Contains(org.Access.EmailDomains, domain) {
		return Invitation{}, fmt.Errorf("%w: %s is not in the organization's allowed email domains (accessControl.emailDomains); add it first", ErrDomainNotAllowed, domain)
	}
	accounts, err := s.orgAccounts(ctx, org.ID, addr)
	if err != nil {
		return Invitation{}, err
	}
	if u := liveAccount(accounts); u.ID != "" {
		return Invitation{}, fmt.Errorf("%w: user %s", ErrHasAccount, u.ID)
	}
	token, hash, err := newSecret()
	if err != nil {
		return Invitation{}, err
	}
	inv, err := s.st.CreateInvitation(ctx, store.Invitation{OrgID: org.ID, Email: addr, Role: role, TokenHash: hash,
		InvitedBy: a.Name(), ExpiresAt: s.now().Add(s.invTTL)},
		store.AuditEvent{Actor: a.Name(), Detail: map[string]string{"role": role, "email_domain": domain}})
	if errors.Is(err, store.ErrConflict) {
		return Invitation{}, fmt.Errorf("%w: resend or revoke it", ErrAlreadyInvited)
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("emaillogin: create invitation: %w", err)
	}
	return s.view(inv), s.sendInvitation(ctx, org, inv, token)
}

// Resend gives a pending invitation a new accept link (the old one stops
// working, the lifetime starts again) and emails it.
func (s *Service) Resend(ctx context.Context, a admin.Actor, id store.InvitationID) (Invitation, error) {
	token, hash, err := newSecret()
	if err != nil {
		return Invitation{}, err
	}
	inv, err := s.st.ReissueInvitation(ctx, a.Org().ID, id, hash, s.now().Add(s.invTTL), store.AuditEvent{Actor: a.Name()})
	if errors.Is(err, store.ErrConflict) {
		return Invitation{}, ErrNotPending
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("emaillogin: resend invitation %s: %w", id, err)
	}
	return s.view(inv), s.sendInvitation(ctx, a.Org(), inv, token)
}

// Revoke ends a pending invitation (revoking a revoked one is no change).
func (s *Service) Revoke(ctx context.Context, a admin.Actor, id store.InvitationID) error {
	err := s.st.RevokeInvitation(ctx, a.Org().ID, id, store.AuditEvent{Actor: a.Name()})
	if errors.Is(err, store.ErrConflict) {
		return ErrNotPending
	}
	if err != nil {
		return fmt.Errorf("emaillogin: revoke invitation %s: %w", id, err)
	}
	return nil
}

// Invitations lists the organization's invitations, newest first.
func (s *Service) Invitations(ctx context.Context, a admin.Actor) ([]Invitation, error) {
	list, err := s.st.ListInvitations(ctx, a.Org().ID)
	if err != nil {
		return nil, fmt.Errorf("emaillogin: list invitations: %w", err)
	}
	out := make([]Invitation, 0, len(list))
	for _, inv := range list {
		out = append(out, s.view(inv))
	}
	return out, nil
}

// GetInvitation returns one of the organization's invitations.
func (s *Service) GetInvitation(ctx context.Context, a admin.Actor, id store.InvitationID) (Invitation, error) {
	inv, err := s.st.GetInvitation(ctx, a.Org().ID, id)
	if err != nil {
		return Invitation{}, fmt.Errorf("emaillogin: get invitation %s: %w", id, err)
	}
	return s.view(inv), nil
}

func (s *Service) sendInvitation(ctx context.Context, org store.Org, inv store.Invitation, token string) error {
	u := s.base + PathInvitationAccept + "?token=" + url.QueryEscape(token)
	msg, err := inviteMessage(inv.Email, org.Name, inv.Role, u, inv.ExpiresAt)
	if err != nil {
		return err
	}
	if err := s.mailer.Send(ctx, msg); err != nil {
		s.logger.ErrorContext(ctx, "emaillogin: invitation email not sent", "org", org.ID, "invitation", inv.ID, "err", err)
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return nil
}

// orgAccounts returns the organization's accounts with the address,
// tombstones included.
func (s *Service) orgAccounts(ctx context.Context, org store.OrgID, email string) ([]store.User, error) {
	users, err := s.st.ListUsersByEmail(ctx, email)
	if err != nil {
		return nil, fmt.Errorf("emaillogin: accounts with the address: %w", err)
	}
	var out []store.User
	for _, u := range users {
		if u.OrgID == org {
			out = append(out, u)
		}
	}
	return out, nil
}

// invitationByToken finds the invitation of an accept link's token; a
// non-nil page says why it cannot be accepted.
func (s *Service) invitationByToken(ctx context.Context, token string) (store.Invitation, *page, error) {
	invalid := messagePage(http.StatusNotFound, "This invitation link is not valid", ReasonInvitationInvalid,
		"This invitation link is not known: copy the whole link from the newest invitation email, or ask your Admin to resend it.")
	h := secretHash(token)
	if h == nil {
		return store.Invitation{}, &invalid, nil
	}
	inv, err := s.st.GetInvitationByToken(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Invitation{}, &invalid, nil
	}
	if err != nil {
		return store.Invitation{}, nil, fmt.Errorf("emaillogin: read invitation: %w", err)
	}
	var p page
	switch {
	case inv.AcceptedAt != nil:
		p = messagePage(http.StatusGone, "This invitation was already accepted", ReasonInvitationUsed,
			"The account exists: sign in from the sign-in page.")
	case inv.RevokedAt != nil:
		p = messagePage(http.StatusGone, "This invitation was revoked", ReasonInvitationRevoked,
			"Your Admin withdrew this invitation. Ask them if you should have access.")
	case !s.now().Before(inv.ExpiresAt):
		p = messagePage(http.StatusGone, "This invitation has expired", ReasonInvitationExpired,
			"Invitation links work for a limited time. Ask your Admin to resend the invitation.")
	default:
		return inv, nil, nil
	}
	return inv, &p, nil
}

// invitationPage is GET /invitations/accept: the invitation and a button
// that accepts it (opening the link changes nothing).
func (s *Service) invitationPage(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.QueryParam("token")
	inv, p, err := s.invitationByToken(ctx, token)
	if err != nil {
		return s.fail(c, err)
	}
	if p != nil {
		return s.render(c, *p)
	}
	org, err := s.st.GetOrg(ctx, inv.OrgID)
	if err != nil {
		return s.fail(c, err)
	}
	return s.render(c, page{Kind: "confirm", Title: "Join " + org.Name, Token: token, Action: PathInvitationAccept,
		Button:  "Accept the invitation",
		Message: fmt.Sprintf("You are invited to join %s as %s, with the address %s.", org.Name, inv.Role, inv.Email)})
}

// invitationSubmit is POST /invitations/accept: accepting verifies the
// address (the link was sent to it), creates the account with source
// "invitation" (or joins the organization's active account with the
// address) and signs it in.
func (s *Service) invitationSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	if ok, err := s.parseForm(c); !ok {
		return err
	}
	token := c.FormValue("token")
	inv, p, err := s.invitationByToken(ctx, token)
	if err != nil {
		return s.fail(c, err)
	}
	if p != nil {
		return s.render(c, *p)
	}
	org, err := s.st.GetOrg(ctx, inv.OrgID)
	if err != nil {
		return s.fail(c, err)
	}
	refuse := func(rule, hint string, accounts []store.User) error {
		o := option{org: org, accounts: accounts, decision: jit.Decision{Action: jit.ActionRefuse, Rule: rule, Hint: hint}}
		if err := s.recordRefusal(ctx, o, methodInvite); err != nil {
			return s.fail(c, err)
		}
		return s.render(c, messagePage(http.StatusForbidden, "You cannot join yet", rule, hint))
	}
	_, domain, _ := parseEmail(inv.Email)
	if !slices.Contains(org.Access.EmailDomains, domain) {
		return refuse(ReasonDomainNotAllowed, fmt.Sprintf("%s no longer accepts %s addresses. Ask your Admin to add %s to the allowed email domains.", org.Name, domain, domain), nil)
	}
	for attempt := 0; ; attempt++ {
		accounts, err := s.orgAccounts(ctx, org.ID, inv.Email)
		if err != nil {
			return s.fail(c, err)
		}
		var acc store.Acceptance
		switch live := liveAccount(accounts); {
		case live.ID != "" && !live.Active:
			return refuse(jit.RuleDeprovisioned, fmt.Sprintf("Your account in %s has been deactivated. Ask your Admin to reactivate it.", org.Name), accounts)
		case live.ID != "":
			acc.Existing = live.ID
		default:
			acc.NewUser = newAccount(org.ID, inv.Email, inv.Role, store.SourceInvitation)
		}
		_, u, err := s.st.AcceptInvitation(ctx, inv.TokenHash, acc, s.now(),
			store.AuditEvent{Actor: auditActor, Rule: methodInvite, Detail: map[string]string{"role": inv.Role}})
		switch {
		case err == nil:
			return s.signIn(c, org.ID, u.ID, methodInvite, methodInvite, "/")
		case errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrNotFound):
			_, p, rerr := s.invitationByToken(ctx, token)
			if rerr != nil {
				return s.fail(c, rerr)
			}
			if p == nil {
				return s.fail(c, err)
			}
			return s.render(c, *p)
		case (errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalidReference)) && attempt == 0:
			// Accepted or revoked meanwhile, or the account changed under
			// us (a SCIM push made it, or deactivated it): look again.
			cur, p, rerr := s.invitationByToken(ctx, token)
			if rerr != nil {
				return s.fail(c, rerr)
			}
			if p != nil {
				return s.render(c, *p)
			}
			inv = cur
			continue
		case errors.Is(err, store.ErrConflict):
			s.logger.WarnContext(ctx, "emaillogin: invitation account conflicts with another account", "org", org.ID, "invitation", inv.ID, "err", err)
			return s.render(c, messagePage(http.StatusConflict, "Your account could not be created", ReasonAccountConflict,
				fmt.Sprintf("Another account in %s already uses your email address as its user name. Ask your Admin to correct it.", org.Name)))
		default:
			return s.fail(c, err)
		}
	}
}
