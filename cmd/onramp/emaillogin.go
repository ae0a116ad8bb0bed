package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/mail"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/emaillogin"
	onrampmail "github.com/onramp-dev/onramp/mail"
	"github.com/onramp-dev/onramp/store"
)

// validateMail checks --smtp-url and --mail-from.
func (c *serveCmd) validateMail() []string {
	var ps []string
	if c.SMTPURL != "" {
		if err := onrampmail.ValidateURL(c.SMTPURL); err != nil {
			ps = append(ps, "--smtp-url (ONRAMP_SMTP_URL): "+strings.TrimPrefix(err.Error(), "mail: "))
		}
		if c.MailFrom == "" {
			ps = append(ps, "--mail-from (ONRAMP_MAIL_FROM) is required with --smtp-url, e.g. \"Acme sign-in <signin@acme.example>\"")
		}
	}
	if c.MailFrom != "" {
		if _, err := mail.ParseAddress(c.MailFrom); err != nil {
			ps = append(ps, fmt.Sprintf("--mail-from (ONRAMP_MAIL_FROM) %q: want an address or \"Name <address>\"", c.MailFrom))
		}
	}
	return ps
}

// registerEmailLogin mounts the email sign-in (BASE/login), invitation
// acceptance, and the invitation and domain-route admin API on h, and keeps
// the service for the sweeper. Without --smtp-url, emails go to the log.
func (c *serveCmd) registerEmailLogin(e *env, h *echo.Echo, st store.Store, serverKey []byte) error {
	var mailer onrampmail.Sender
	if c.SMTPURL != "" {
		s, err := onrampmail.NewSMTP(onrampmail.SMTPConfig{URL: c.SMTPURL, From: c.MailFrom})
		if err != nil {
			return fmt.Errorf("email sign-in: %w", err)
		}
		mailer = s
		e.logger.Info("email sign-in: sending through SMTP", "smtp", s.String())
	} else {
		mailer = onrampmail.NewLog(e.logger)
		e.logger.Warn("no --smtp-url (ONRAMP_SMTP_URL): sign-in links, codes and invitations are written to this log instead of emailed")
	}
	key := emailCodeKey(serverKey)
	as, ok := st.(store.AdminStore)
	if !ok {
		return fmt.Errorf("email sign-in: store %T lacks the admin queries", st)
	}
	auth, err := admin.NewService(admin.Config{Store: as, BaseURL: c.baseURL(), Logger: e.logger})
	if err != nil {
		return fmt.Errorf("email sign-in: %w", err)
	}
	svc, err := emaillogin.New(emaillogin.Config{
		Store: linkPurges{st, c.metrics}, Mailer: mailer, BaseURL: c.baseURL(), CodeKey: key, ReturnToOrigins: c.ReturnToOrigins,
		Admin: auth, Logger: e.logger,
		// The server's extractor: the TCP peer, or behind --trusted-proxy the
		// client address its X-Forwarded-For names (server.Limits).
		ClientIP: h.IPExtractor,
	})
	if err != nil {
		return fmt.Errorf("email sign-in: %w", err)
	}
	svc.Register(h)
	c.emailLogin = svc
	return nil
}

// emailCodeKey derives the key of the sign-in codes' hashes from the server key
// (serveCmd.serverKey), which every replica shares, so a code works on any of
// them.
func emailCodeKey(serverKey []byte) []byte {
	m := hmac.New(sha256.New, serverKey)
	m.Write([]byte("onramp email sign-in code key v1"))
	return m.Sum(nil)
}
