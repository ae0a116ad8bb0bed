package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// SP certificate rollover
//
// A connection's SP certificate is rolled over in three steps, each an
// Admin's action, so that sign-in keeps working while the IdP's Admin copies
// the new certificate (package jit, rollover.go, says why):
//
//  1. StartSPRollover: a new, incoming certificate is published beside the
//     active one; onramp still signs with the active one. The IdP's Admin
//     now gives the IdP the new certificate (our metadata again, or the
//     certificate alone).
//  2. ActivateSPRollover: the new certificate becomes the active one and
//     signs from now on; the old one, outgoing, is still published and
//     still decrypts. The IdP's Admin now removes the old certificate at the
//     IdP, or switches the IdP over to the new one.
//  3. FinishSPRollover: the old certificate is removed. Before step 2 the
//     same call cancels the rollover: the incoming certificate is removed.
//
// Each step is one store write whose closure decides on the row as it is in
// the write transaction, with the audit event in the same write: of two
// Admins who press the same button at once, the second gets a StateError
// (409) and nothing is written for them.

// Rollover states (SPCertificates.Rollover).
const (
	RolloverNone      = "none"      // one certificate, the active one (or none yet)
	RolloverStarted   = "started"   // an incoming certificate beside the active one
	RolloverActivated = "activated" // the new certificate is active, the old one outgoing
)

// Audit actions of the rollover steps.
const (
	AuditSPRolloverStarted      = "connection.sp_rollover_started"
	AuditSPCertificateActivated = "connection.sp_certificate_activated"
	AuditSPRolloverFinished     = "connection.sp_rollover_finished"
	AuditSPRolloverCancelled    = "connection.sp_rollover_cancelled"
)

// SPCertificate is one of a connection's SP certificates.
type SPCertificate struct {
	// Role is "active" (signs AuthnRequests, decrypts, published first),
	// "incoming" (published and decrypts; active once the rollover is
	// activated) or "outgoing" (published and decrypts until the rollover is
	// finished).
	Role string `json:"role"`
	PEM  string `json:"pem"`
	// SHA256 is the certificate's SHA-256 fingerprint as IdP consoles show
	// it: upper-case hex pairs separated by colons.
	SHA256    string    `json:"sha256"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

// SPCertificates is a connection's SP certificates, the active one first, and
// where a rollover stands.
type SPCertificates struct {
	// Certificates is empty while the connection has no key pair yet (one is
	// made when its SP metadata is first served, or a rollover is started).
	Certificates []SPCertificate `json:"certificates"`
	Rollover     string          `json:"rollover"`
}

// StateError is a request that the current state of what it acts on does not
// allow (HTTP 409), such as activating an SP certificate when no rollover is
// under way. Message says, in words for the Admin, what the state is and what
// to do; it is fixed text of this package, never a cause's. It wraps
// store.ErrConflict.
type StateError struct {
	Message string
	err     error
}

func (e *StateError) Error() string { return "admin: " + e.Message }

// Unwrap returns store.ErrConflict and the cause.
func (e *StateError) Unwrap() []error {
	if e.err == nil {
		return []error{store.ErrConflict}
	}
	return []error{store.ErrConflict, e.err}
}

// spCertificatesOf describes c's SP certificates.
func spCertificatesOf(c store.Connection) (SPCertificates, error) {
	certs, err := jit.DescribeSPCertificates(c)
	if err != nil {
		return SPCertificates{}, fmt.Errorf("admin: %w", err)
	}
	out := SPCertificates{Certificates: make([]SPCertificate, 0, len(certs)), Rollover: RolloverNone}
	for _, sc := range certs {
		out.Certificates = append(out.Certificates, SPCertificate{
			Role: sc.Role, PEM: sc.PEM, SHA256: sc.SHA256, Subject: sc.Subject,
			NotBefore: sc.NotBefore.UTC(), NotAfter: sc.NotAfter.UTC(),
		})
	}
	if len(certs) == 2 {
		out.Rollover = RolloverStarted
		if certs[1].Role == jit.SPCertOutgoing {
			out.Rollover = RolloverActivated
		}
	}
	return out, nil
}

// SPCertificates returns the connection's SP certificates and rollover state.
func (s *Service) SPCertificates(ctx context.Context, a Actor, slug string) (SPCertificates, error) {
	c, err := s.connection(ctx, a, slug)
	if err != nil {
		return SPCertificates{}, err
	}
	return spCertificatesOf(c)
}

// StartSPRollover starts a rollover of the connection's SP certificate (step
// 1): a new, incoming key pair beside the active one. A connection that has
// no key pair yet (made by `onramp apply`) gets its first one in the same
// write. A StateError if a rollover is under way.
func (s *Service) StartSPRollover(ctx context.Context, a Actor, slug string) (SPCertificates, error) {
	cur, err := s.connection(ctx, a, slug)
	if err != nil {
		return SPCertificates{}, err
	}
	// The keys are made before the write transaction (a key takes tens to
	// hundreds of milliseconds, which would hold the store's writer): the
	// first pair, if one is needed, as SPMetadata makes it, and the
	// incoming key, whose certificate jit.StartSPRollover makes in the
	// transaction, on the row as it is there.
	key, err := jit.NewSPKey()
	if err != nil {
		return SPCertificates{}, fmt.Errorf("admin: %w", err)
	}
	var firstCert, firstKey string
	if cur.SPCertPEM == "" || cur.SPKeyPEM == "" {
		if firstCert, firstKey, err = jit.NewSPKeyPair(s.now()); err != nil {
			return SPCertificates{}, fmt.Errorf("admin: %w", err)
		}
	}
	return s.rolloverStep(ctx, a, cur, AuditSPRolloverStarted, func(c *store.Connection, state SPCertificates) error {
		if c.SPCertPEM == "" || c.SPKeyPEM == "" {
			if firstCert == "" { // the row lost its pair since it was read: not a case the API makes
				return fmt.Errorf("admin: connection %q: %w", slug, jit.ErrNoSPKeyPair)
			}
			c.SPCertPEM, c.SPKeyPEM = firstCert, firstKey
		}
		err := jit.StartSPRollover(c, key, s.now())
		switch {
		case errors.Is(err, jit.ErrRolloverUnderWay) && state.Rollover == RolloverActivated:
			return &StateError{Message: "An SP certificate rollover is under way: its new certificate is active and the old one is still published. Finish the rollover (remove the old certificate) before starting another.", err: err}
		case errors.Is(err, jit.ErrRolloverUnderWay):
			return &StateError{Message: "An SP certificate rollover is under way: its new certificate is published but not active yet. Activate it, or cancel the rollover, before starting another.", err: err}
		case err != nil:
			return fmt.Errorf("admin: connection %q: %w", slug, err)
		}
		return nil
	})
}

// ActivateSPRollover makes the incoming certificate the active one (step 2);
// the old one stays, outgoing. A StateError if no rollover is under way or
// its new certificate is active already.
func (s *Service) ActivateSPRollover(ctx context.Context, a Actor, slug string) (SPCertificates, error) {
	cur, err := s.connection(ctx, a, slug)
	if err != nil {
		return SPCertificates{}, err
	}
	return s.rolloverStep(ctx, a, cur, AuditSPCertificateActivated, func(c *store.Connection, _ SPCertificates) error {
		err := jit.ActivateSPRollover(c)
		switch {
		case errors.Is(err, jit.ErrNoRollover):
			return &StateError{Message: "No SP certificate rollover is under way, so there is no new certificate to activate. Start a rollover first.", err: err}
		case errors.Is(err, jit.ErrRolloverUnderWay):
			return &StateError{Message: "The new SP certificate is active already. Finish the rollover to remove the old certificate.", err: err}
		case err != nil:
			return fmt.Errorf("admin: connection %q: %w", slug, err)
		}
		return nil
	})
}

// FinishSPRollover removes the connection's second certificate: the outgoing
// one once the rollover was activated (step 3, audited as
// AuditSPRolloverFinished), or the incoming one before (the rollover is
// cancelled: AuditSPRolloverCancelled). expect is the rollover state the
// caller saw (RolloverStarted to cancel, RolloverActivated to finish), or ""
// for the state as read now; a StateError if the state in the write is
// another, so that a "Cancel" pressed on a page loaded before someone else
// activated the new certificate does not remove the old one instead. A
// StateError if no rollover is under way.
func (s *Service) FinishSPRollover(ctx context.Context, a Actor, slug, expect string) (SPCertificates, error) {
	switch expect {
	case "", RolloverStarted, RolloverActivated:
	default:
		return SPCertificates{}, invalid("expect", "must be %s or %s", RolloverStarted, RolloverActivated)
	}
	cur, err := s.connection(ctx, a, slug)
	if err != nil {
		return SPCertificates{}, err
	}
	if expect == "" {
		read, err := spCertificatesOf(cur)
		if err != nil {
			return SPCertificates{}, err
		}
		expect = read.Rollover
	}
	action := AuditSPRolloverFinished
	if expect == RolloverStarted {
		action = AuditSPRolloverCancelled
	}
	return s.rolloverStep(ctx, a, cur, action, func(c *store.Connection, state SPCertificates) error {
		if state.Rollover != RolloverNone && state.Rollover != expect {
			if state.Rollover == RolloverActivated {
				return &StateError{Message: "Someone activated the new SP certificate in the meantime, so the rollover can no longer be cancelled. Finish it once the identity provider no longer uses the old certificate."}
			}
			return &StateError{Message: "Someone changed the SP certificate rollover in the meantime. Check the certificates and try again."}
		}
		err := jit.FinishSPRollover(c)
		switch {
		case errors.Is(err, jit.ErrNoRollover):
			return &StateError{Message: "No SP certificate rollover is under way: there is no second certificate to remove.", err: err}
		case err != nil:
			return fmt.Errorf("admin: connection %q: %w", slug, err)
		}
		return nil
	})
}

// rolloverStep writes one rollover step: step changes the connection as it
// is in the write transaction (state describes it before the change). The
// audit event is action by the actor, with the fingerprints of the
// certificates before and after.
func (s *Service) rolloverStep(ctx context.Context, a Actor, cur store.Connection, action string,
	step func(c *store.Connection, state SPCertificates) error) (SPCertificates, error) {
	// The closure fills the event's detail in place (the store writes the
	// event after the closure ran, in the same transaction), so that it
	// describes the change actually written even if the closure runs again.
	ev := a.event(action, map[string]string{})
	ev.ConnectionID = cur.ID
	c, err := s.st.UpdateConnection(ctx, cur.ID, func(c *store.Connection) error {
		clear(ev.Detail)
		before, err := spCertificatesOf(*c)
		if err != nil {
			return err
		}
		if err := step(c, before); err != nil {
			return err
		}
		after, err := spCertificatesOf(*c)
		if err != nil {
			return err
		}
		rolloverDetail(ev.Detail, before, after)
		return nil
	}, ev)
	var se *StateError
	switch {
	case errors.As(err, &se):
		return SPCertificates{}, se
	case err != nil:
		return SPCertificates{}, fmt.Errorf("admin: connection %q: sp certificate rollover: %w", cur.Slug, err)
	}
	return spCertificatesOf(c)
}

// rolloverDetail records in d the fingerprints of the certificates before and
// after a step ("before.active", "after.incoming", …) and the rollover state
// after it: public facts only, never a key.
func rolloverDetail(d map[string]string, before, after SPCertificates) {
	for _, side := range []struct {
		name  string
		certs SPCertificates
	}{{"before", before}, {"after", after}} {
		for _, c := range side.certs.Certificates {
			d[side.name+"."+c.Role] = c.SHA256
		}
	}
	d["rollover"] = after.Rollover
}
