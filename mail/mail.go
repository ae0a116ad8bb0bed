package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email. Text and HTML carry the same content.
type Message struct {
	To      string // one address
	Subject string
	Text    string
	HTML    string
}

// Sender delivers messages.
type Sender interface {
	// Send delivers m, or returns why not. A nil error means the server
	// accepted the message for delivery.
	Send(ctx context.Context, m Message) error
}

// DefaultTimeout bounds connecting to the SMTP server and each command.
const DefaultTimeout = 30 * time.Second

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// URL is smtp://[user[:pass]@]host[:port][?starttls=required] or
	// smtps://[user[:pass]@]host[:port] (see the package doc).
	URL string
	// From is the sender: an address, or "Name <address>".
	From string
	// TLS, if set, is the base TLS configuration (for example a private
	// root CA); ServerName defaults to the URL's host.
	TLS *tls.Config
	// Timeout defaults to DefaultTimeout.
	Timeout time.Duration
}

// SMTP sends messages through an SMTP server.
type SMTP struct {
	host     string
	port     int
	implicit bool // smtps: TLS from the start
	required bool // STARTTLS required
	user     string
	pass     string
	from     *netmail.Address
	tls      *tls.Config
	timeout  time.Duration
	redacted string
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns an SMTP sender. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	s, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if s.from, err = netmail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	s.timeout = cfg.Timeout
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if cfg.TLS != nil {
		s.tls = cfg.TLS.Clone()
	} else {
		s.tls = &tls.Config{}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	if s.tls.MinVersion == 0 {
		s.tls.MinVersion = tls.VersionTLS12
	}
	return s, nil
}

// ValidateURL reports what is wrong with an SMTP URL, for start-up checks.
// The error never contains the password.
func ValidateURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

func parseURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input, password included: say less.
		return nil, errors.New("mail: SMTP URL is not a URL (want smtp://user:pass@host:port)")
	}
	s := &SMTP{redacted: u.Redacted()}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, fmt.Errorf("mail: SMTP URL %s: scheme must be smtp or smtps", s.redacted)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, fmt.Errorf("mail: SMTP URL %s: no host", s.redacted)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("mail: SMTP URL %s: bad port", s.redacted)
		}
		s.port = n
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, fmt.Errorf("mail: SMTP URL %s: must not have a path or fragment", s.redacted)
	}
	for k, vs := range u.Query() {
		switch {
		case k == "starttls" && len(vs) == 1 && vs[0] == "required" && !s.implicit:
			s.required = true
		default:
			return nil, fmt.Errorf("mail: SMTP URL %s: unknown option %q (smtp:// takes only starttls=required)", s.redacted, k)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	return s, nil
}

// String describes the sender without its password.
func (s *SMTP) String() string { return s.redacted }

// Send delivers m over a connection of its own.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tls),
	}
	switch {
	case s.implicit:
		opts = append(opts, gomail.WithSSL())
	case s.required:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp client for %s: %w", s.redacted, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send through %s: %w", s.redacted, err)
	}
	return nil
}

func (s *SMTP) build(m Message) (*gomail.Msg, error) {
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("mail: recipient: %w", err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("mail: subject has a line break")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to)
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Log is the sender without an SMTP server: it writes each message to the
// log (see the package doc).
type Log struct {
	logger *slog.Logger
}

var _ Sender = (*Log)(nil)

// NewLog returns a Log sender writing to logger.
func NewLog(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{logger: logger}
}

// Send logs m's recipient, subject and text body.
func (l *Log) Send(ctx context.Context, m Message) error {
	l.logger.WarnContext(ctx, "mail: no SMTP server configured (--smtp-url); message logged instead of sent",
		"to", m.To, "subject", m.Subject, "body", m.Text)
	return nil
}
