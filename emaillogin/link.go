package emaillogin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// Audit actor and detail of the email sign-ins. The decisions use jit's
// actions (jit.created, jit.signed_in, jit.refused) and rules, as SAML
// sign-ins do, with Actor "email" and Detail "method".
const (
	auditActor   = "email"
	methodEmail  = "email"
	methodAdmin  = "admin_link"
	methodInvite = "invitation"
	// RuleAdminLink: signed in by an operator's admin link.
	RuleAdminLink = "admin_link"
)

// linkState checks a link found by its token; a non-nil page says why it
// cannot be used.
func (s *Service) linkState(l store.LoginLink) *page {
	switch {
	case l.UsedAt != nil:
		p := usedLinkPage()
		return &p
	case !s.now().Before(l.ExpiresAt):
		p := expiredLinkPage()
		return &p
	}
	return nil
}

func usedLinkPage() page {
	return messagePage(http.StatusGone, "This link was already used", ReasonLinkUsed,
		"Each sign-in link works once. Start again from the sign-in page to get a new one.")
}

func expiredLinkPage() page {
	return messagePage(http.StatusGone, "This link has expired", ReasonLinkExpired,
		"Sign-in links work for a short time only. Start again from the sign-in page to get a new one.")
}

func invalidLinkPage() page {
	return messagePage(http.StatusNotFound, "This link is not valid", ReasonLinkInvalid,
		"This sign-in link is not known. Copy the whole link from the email, or start again from the sign-in page.")
}

// lookup finds the link of a token; a non-nil page says why it cannot be
// used.
func (s *Service) lookup(ctx context.Context, token string) (store.LoginLink, *page, error) {
	h := secretHash(token)
	if h == nil {
		p := invalidLinkPage()
		return store.LoginLink{}, &p, nil
	}
	l, err := s.st.GetLoginLink(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		p := invalidLinkPage()
		return store.LoginLink{}, &p, nil
	}
	if err != nil {
		return store.LoginLink{}, nil, fmt.Errorf("emaillogin: read link: %w", err)
	}
	return l, s.linkState(l), nil
}

// linkPage is GET /login/link: a page that posts the token. It changes
// nothing, so a mail scanner that opens the link does not spend it.
func (s *Service) linkPage(c echo.Context) error {
	token := c.QueryParam("token")
	l, p, err := s.lookup(c.Request().Context(), token)
	if err != nil {
		return s.fail(c, err)
	}
	if p != nil {
		return s.render(c, *p)
	}
	return s.render(c, page{Kind: "confirm", Title: "Sign in", Token: token, Action: PathLoginLink, Button: "Continue",
		Message: fmt.Sprintf("Continue to sign in as %s.", l.Email)})
}

// linkSubmit is POST /login/link.
func (s *Service) linkSubmit(c echo.Context) error {
	if ok, err := s.parseForm(c); !ok {
		return err
	}
	token := c.FormValue("token")
	l, p, err := s.lookup(c.Request().Context(), token)
	if err != nil {
		return s.fail(c, err)
	}
	if p != nil {
		return s.render(c, *p)
	}
	return s.proceed(c, token, l, c.FormValue("org"))
}

// option is one organization's decision for a verified address.
type option struct {
	org      store.Org
	accounts []store.User // the organization's accounts with the address
	decision jit.Decision
}

// options returns the decision of every organization the address concerns:
// the link's organization if it is bound to one; otherwise each that has an
// account with the address and each whose allowed email domains hold its
// domain. Ordered by organization slug.
func (s *Service) options(ctx context.Context, l store.LoginLink) ([]option, error) {
	users, err := s.st.ListUsersByEmail(ctx, l.Email)
	if err != nil {
		return nil, fmt.Errorf("emaillogin: accounts with the address: %w", err)
	}
	byOrg := map[store.OrgID][]store.User{}
	for _, u := range users {
		byOrg[u.OrgID] = append(byOrg[u.OrgID], u)
	}
	var orgs []store.Org
	if l.OrgID != "" {
		o, err := s.st.GetOrg(ctx, l.OrgID)
		if err != nil {
			return nil, fmt.Errorf("emaillogin: read organization: %w", err)
		}
		orgs = []store.Org{o}
	} else {
		all, err := s.st.ListOrgs(ctx)
		if err != nil {
			return nil, fmt.Errorf("emaillogin: list organizations: %w", err)
		}
		_, domain, _ := parseEmail(l.Email)
		for _, o := range all {
			if len(byOrg[o.ID]) > 0 || slices.Contains(o.Access.EmailDomains, domain) {
				orgs = append(orgs, o)
			}
		}
	}
	out := make([]option, 0, len(orgs))
	for _, o := range orgs {
		d := jit.DecideEmail(jit.EmailPolicyInput{OrgName: o.Name, Onboarding: o.Onboarding, Access: o.Access,
			Email: l.Email, Accounts: byOrg[o.ID]})
		out = append(out, option{org: o, accounts: byOrg[o.ID], decision: d})
	}
	return out, nil
}

// proceed carries a verified-to-be-usable link on: an admin link signs its
// account in; otherwise the organizations the address concerns decide, and
// the person enters the one that lets them in, chooses among several (the
// link is not spent until they have), or sees why none does. orgSlug is the
// person's choice, if made.
func (s *Service) proceed(c echo.Context, token string, l store.LoginLink, orgSlug string) error {
	ctx := c.Request().Context()
	if l.UserID != "" {
		return s.adminLinkSignIn(c, l)
	}
	opts, err := s.options(ctx, l)
	if err != nil {
		return s.fail(c, err)
	}
	if orgSlug != "" {
		i := slices.IndexFunc(opts, func(o option) bool { return o.org.Slug == orgSlug })
		if i < 0 {
			return s.render(c, messagePage(http.StatusBadRequest, "Wrong organization", ReasonWrongOrg,
				"This sign-in link cannot be used for that organization. Start again from the sign-in page."))
		}
		return s.act(c, l, opts[i])
	}
	var open []option
	for _, o := range opts {
		if o.decision.Action != jit.ActionRefuse {
			open = append(open, o)
		}
	}
	switch {
	case len(open) == 1:
		return s.act(c, l, open[0])
	case len(open) > 1:
		p := page{Kind: "choose", Title: "Choose an organization", Token: token,
			Message: fmt.Sprintf("%s can sign in to several organizations. Which one?", l.Email)}
		for _, o := range open {
			p.Choices = append(p.Choices, choice{Slug: o.org.Slug, Name: o.org.Name, Create: o.decision.Action == jit.ActionCreate})
		}
		for _, o := range opts {
			if o.decision.Action == jit.ActionRefuse {
				p.Refusals = append(p.Refusals, refusal{Org: o.org.Name, Rule: o.decision.Rule, Hint: o.decision.Hint})
			}
		}
		return s.render(c, p)
	case len(opts) == 1:
		return s.act(c, l, opts[0])
	}
	// No organization lets the address in: spend the link, record each
	// refusal, and say why.
	if _, p, err := s.use(ctx, l); err != nil {
		return s.fail(c, err)
	} else if p != nil {
		return s.render(c, *p)
	}
	p := messagePage(http.StatusForbidden, "You cannot sign in yet", jit.RuleJITNotAllowed, "")
	if len(opts) == 0 {
		_, domain, _ := parseEmail(l.Email)
		p.Message = fmt.Sprintf("No organization here has an account for %s or lets people with %s addresses sign up. Ask your organization's Admin to invite you, or to allow %s.", l.Email, domain, domain)
		return s.render(c, p)
	}
	p.Message = fmt.Sprintf("None of the organizations you belong to lets %s in:", l.Email)
	for _, o := range opts {
		if err := s.recordRefusal(ctx, o, methodEmail); err != nil {
			return s.fail(c, err)
		}
		p.Refusals = append(p.Refusals, refusal{Org: o.org.Name, Rule: o.decision.Rule, Hint: o.decision.Hint})
	}
	return s.render(c, p)
}

// use spends the link; a non-nil page says why it could not be.
func (s *Service) use(ctx context.Context, l store.LoginLink) (store.LoginLink, *page, error) {
	used, err := s.st.UseLoginLink(ctx, l.IDHash, s.now())
	switch {
	case errors.Is(err, store.ErrConflict):
		p := usedLinkPage()
		return store.LoginLink{}, &p, nil
	case errors.Is(err, store.ErrExpired):
		p := expiredLinkPage()
		return store.LoginLink{}, &p, nil
	case errors.Is(err, store.ErrNotFound):
		p := invalidLinkPage()
		return store.LoginLink{}, &p, nil
	case err != nil:
		return store.LoginLink{}, nil, fmt.Errorf("emaillogin: use link: %w", err)
	}
	return used, nil, nil
}

// act spends the link and carries out an organization's decision.
func (s *Service) act(c echo.Context, l store.LoginLink, o option) error {
	ctx := c.Request().Context()
	used, p, err := s.use(ctx, l)
	if err != nil {
		return s.fail(c, err)
	}
	if p != nil {
		return s.render(c, *p)
	}
	d := o.decision
	switch d.Action {
	case jit.ActionRefuse:
		if err := s.recordRefusal(ctx, o, methodEmail); err != nil {
			return s.fail(c, err)
		}
		return s.render(c, messagePage(http.StatusForbidden, "You cannot sign in yet", d.Rule, d.Hint))
	case jit.ActionSignIn:
		u := liveAccount(o.accounts)
		return s.signIn(c, o.org.ID, u.ID, d.Rule, methodEmail, used.ReturnTo)
	default: // jit.ActionCreate
		u, err := s.st.CreateUser(ctx, newAccount(o.org.ID, l.Email, attributes.RoleMember, store.SourceJIT),
			store.AuditEvent{Actor: auditActor, Action: jit.AuditCreated, Rule: d.Rule, Detail: map[string]string{"method": methodEmail}})
		if errors.Is(err, store.ErrConflict) {
			// A SCIM push or another sign-in made the account meanwhile, or
			// another account has the address as its userName.
			return s.afterConflict(c, l, o.org, used.ReturnTo, err)
		}
		if err != nil {
			return s.fail(c, fmt.Errorf("emaillogin: create user: %w", err))
		}
		return s.signIn(c, o.org.ID, u.ID, d.Rule, methodEmail, used.ReturnTo)
	}
}

// afterConflict decides again after a creation lost a race: the account the
// race made signs in if the policy says so; anything else is a conflict page.
func (s *Service) afterConflict(c echo.Context, l store.LoginLink, org store.Org, returnTo string, cause error) error {
	ctx := c.Request().Context()
	l.OrgID = org.ID
	opts, err := s.options(ctx, l)
	if err != nil {
		return s.fail(c, err)
	}
	if len(opts) == 1 && opts[0].decision.Action == jit.ActionSignIn {
		return s.signIn(c, org.ID, liveAccount(opts[0].accounts).ID, opts[0].decision.Rule, methodEmail, returnTo)
	}
	s.logger.WarnContext(ctx, "emaillogin: account creation conflicts with another account", "org", org.ID, "err", cause)
	return s.render(c, messagePage(http.StatusConflict, "Your account could not be created", ReasonAccountConflict,
		fmt.Sprintf("Another account in %s already uses your email address as its user name. Ask your Admin to correct it.", org.Name)))
}

// recordRefusal writes a refusal's audit event.
func (s *Service) recordRefusal(ctx context.Context, o option, method string) error {
	ev := store.AuditEvent{OrgID: o.org.ID, Actor: auditActor, Action: jit.AuditRefused, Rule: o.decision.Rule,
		Detail: map[string]string{"method": method, "hint": o.decision.Hint}}
	var live []store.User
	for _, u := range o.accounts {
		if u.DeletedAt == nil {
			live = append(live, u)
		}
	}
	if len(live) == 1 {
		ev.UserID = live[0].ID
	} else if len(o.accounts) == 1 {
		ev.UserID = o.accounts[0].ID
	}
	if err := s.st.RecordEvent(ctx, ev); err != nil {
		return fmt.Errorf("emaillogin: record refusal: %w", err)
	}
	return nil
}

// signIn records the sign-in, starts the session and sends the browser on.
func (s *Service) signIn(c echo.Context, org store.OrgID, user store.UserID, rule, method, returnTo string) error {
	ctx := c.Request().Context()
	ev := store.AuditEvent{Actor: auditActor, Action: jit.AuditSignedIn, Rule: rule, Detail: map[string]string{"method": method}}
	if err := s.st.RecordUserSignIn(ctx, org, user, s.now(), ev); err != nil {
		return s.fail(c, fmt.Errorf("emaillogin: record sign-in: %w", err))
	}
	if err := s.sessions.Start(ctx, c.Response(), org, user); err != nil {
		return s.fail(c, err)
	}
	to, err := s.returnTo.Validate(returnTo)
	if err != nil {
		to = "/"
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusSeeOther, to)
}

// adminLinkSignIn signs in the account an operator's admin link is bound to,
// if it is still live and active.
func (s *Service) adminLinkSignIn(c echo.Context, l store.LoginLink) error {
	ctx := c.Request().Context()
	used, p, err := s.use(ctx, l)
	if err != nil {
		return s.fail(c, err)
	}
	if p != nil {
		return s.render(c, *p)
	}
	u, err := s.st.GetUser(ctx, l.OrgID, l.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return s.fail(c, err)
	}
	if err != nil || !u.Active || u.DeletedAt != nil {
		d := jit.Decision{Action: jit.ActionRefuse, Rule: jit.RuleDeprovisioned,
			Hint: "The account this link was made for has been deactivated or deleted. Ask your operator for a new link."}
		if err := s.recordRefusal(ctx, option{org: store.Org{ID: l.OrgID}, accounts: []store.User{u}, decision: d}, methodAdmin); err != nil {
			return s.fail(c, err)
		}
		return s.render(c, messagePage(http.StatusForbidden, "You cannot sign in", d.Rule, d.Hint))
	}
	return s.signIn(c, l.OrgID, l.UserID, RuleAdminLink, methodAdmin, used.ReturnTo)
}

// liveAccount is the one account of accounts that is not a tombstone.
func liveAccount(accounts []store.User) store.User {
	for _, u := range accounts {
		if u.DeletedAt == nil {
			return u
		}
	}
	return store.User{}
}

// newAccount is an account made for a verified address: the address is its
// userName and primary email. Its SCIM resource is left empty, so that SCIM
// shows it built from the profile (scim.userDoc) and an IdP can adopt it.
func newAccount(org store.OrgID, email, role string, src store.Source) store.User {
	return store.User{
		OrgID:    org,
		UserName: email,
		Emails:   []store.Email{{Value: email, Type: "work", Primary: true}},
		Active:   true,
		Role:     role,
		Source:   src,
	}
}
