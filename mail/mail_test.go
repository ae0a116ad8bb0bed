package mail_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/mail"
	"github.com/onramp-dev/onramp/mail/mailtest"
)

func message() mail.Message {
	return mail.Message{
		To:      "ann@example.com",
		Subject: "Sign in to Acmé Corp",
		Text:    "Hello,\n\nSign in: https://onramp.example/login/link?token=abc\n",
		HTML:    `<p>Hello,</p><p><a href="https://onramp.example/login/link?token=abc">Sign in</a> to Acmé Corp</p>`,
	}
}

func newSMTP(t *testing.T, srv *mailtest.Server, rawURL string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(mail.SMTPConfig{URL: rawURL, From: "onramp <noreply@onramp.example>", TLS: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSendOverSTARTTLSWithAuth(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: true, User: "mailer", Password: "s3cret"})
	if err := newSMTP(t, srv, srv.URL()).Send(t.Context(), message()); err != nil {
		t.Fatal(err)
	}
	m := srv.Last(t)
	if !m.TLS || !m.Authenticated {
		t.Errorf("TLS %v, authenticated %v: want both", m.TLS, m.Authenticated)
	}
	if m.From != "noreply@onramp.example" || len(m.To) != 1 || m.To[0] != "ann@example.com" {
		t.Errorf("envelope from %q to %v", m.From, m.To)
	}
	if m.Subject != "Sign in to Acmé Corp" {
		t.Errorf("subject %q", m.Subject)
	}
	if m.Header.Get("From") == "" || m.Header.Get("Message-Id") == "" || m.Header.Get("Date") == "" {
		t.Errorf("headers %v", m.Header)
	}
	if !strings.Contains(m.Header.Get("Content-Type"), "multipart/alternative") {
		t.Errorf("content type %q", m.Header.Get("Content-Type"))
	}
	if m.Text != message().Text {
		t.Errorf("text %q", m.Text)
	}
	if !strings.Contains(m.HTML, `href="https://onramp.example/login/link?token=abc"`) || !strings.Contains(m.HTML, "Acmé Corp") {
		t.Errorf("html %q", m.HTML)
	}
}

func TestSendWithoutSTARTTLSWhenNotOffered(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	if err := newSMTP(t, srv, srv.URL()).Send(t.Context(), message()); err != nil {
		t.Fatal(err)
	}
	if m := srv.Last(t); m.TLS || m.Text != message().Text {
		t.Errorf("message %+v", m)
	}
}

func TestSendRefusals(t *testing.T) {
	plain := mailtest.Start(t, mailtest.Options{})
	insecure := mailtest.Start(t, mailtest.Options{User: "mailer", Password: "hunter2", InsecureAuth: true})
	authTLS := mailtest.Start(t, mailtest.Options{TLS: true, User: "mailer", Password: "s3cret"})
	tests := []struct {
		name   string
		srv    *mailtest.Server
		url    string
		trust  bool
		secret string // must not appear in the error
	}{
		{"STARTTLS required but not offered", plain, "smtp://" + plain.Addr() + "?starttls=required", true, ""},
		{"password over an unencrypted connection", plain, "smtp://mailer:hunter2@" + plain.Addr(), true, "hunter2"},
		{"password never sent in clear, even if the server asks", insecure, insecure.URL(), true, "hunter2"},
		{"wrong password", authTLS, "smtp://mailer:wrong-pw@" + authTLS.Addr(), true, "wrong-pw"},
		{"untrusted certificate is not a reason to go plain", authTLS, authTLS.URL(), false, "s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mail.SMTPConfig{URL: tc.url, From: "noreply@onramp.example"}
			if tc.trust {
				cfg.TLS = tc.srv.ClientTLS()
			}
			s, err := mail.NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			before := len(tc.srv.Messages())
			err = s.Send(t.Context(), message())
			if err == nil {
				t.Fatal("sent")
			}
			t.Logf("refused: %v", err)
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error shows the password: %v", err)
			}
			if n := len(tc.srv.Messages()); n != before {
				t.Errorf("%d messages delivered", n-before)
			}
			if tc.srv == insecure && insecure.AuthAttempts() != 0 {
				t.Errorf("the client tried AUTH over a plain connection %d times", insecure.AuthAttempts())
			}
		})
	}
}

func TestSendCancelled(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := newSMTP(t, srv, srv.URL()).Send(ctx, message()); err == nil {
		t.Error("sent with a cancelled context")
	}
}

func TestBadMessage(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	s := newSMTP(t, srv, srv.URL())
	for _, m := range []mail.Message{
		{To: "not an address", Subject: "x", Text: "x"},
		{To: "ann@example.com", Subject: "x\r\nBcc: eve@example.com", Text: "x"},
	} {
		if err := s.Send(t.Context(), m); err == nil {
			t.Errorf("sent %+v", m)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d delivered", n)
	}
}

func TestValidateURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"smtp://mail.example.com":                          true,
		"smtp://user:pw1@mail.example.com:2525":            true,
		"smtps://user:pw2@mail.example.com":                true,
		"smtp://mail.example.com?starttls=required":        true,
		"smtps://mail.example.com?starttls=required":       false,
		"smtp://mail.example.com?tls=off":                  false,
		"http://mail.example.com":                          false,
		"smtp://":                                          false,
		"smtp://mail.example.com:99999":                    false,
		"smtp://mail.example.com/path":                     false,
		"mail.example.com:25":                              false,
		"smtp://user:pa%ss@mail.example.com":               false,
		"smtp://user:p%40ss@mail.example.com?starttls=yes": false,
	} {
		err := mail.ValidateURL(raw)
		if (err == nil) != ok {
			t.Errorf("ValidateURL(%q) = %v, want ok %v", raw, err, ok)
		}
		if err != nil && (strings.Contains(err.Error(), "pa%ss") || strings.Contains(err.Error(), "p%40ss") || strings.Contains(err.Error(), "p@ss")) {
			t.Errorf("ValidateURL(%q) error shows the password: %v", raw, err)
		}
	}
	if _, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://mail.example.com", From: "not an address"}); err == nil {
		t.Error("bad From accepted")
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	l := mail.NewLog(slog.New(slog.NewTextHandler(&buf, nil)))
	if err := l.Send(t.Context(), message()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"level=WARN", "ann@example.com", "https://onramp.example/login/link?token=abc", "--smtp-url"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}
