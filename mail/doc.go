// Package mail sends onramp's email: sign-in links and codes, and
// invitations. A Message is one email with a plain-text and an HTML body of
// the same content; a Sender delivers it.
//
// Two senders:
//
//   - SMTP, configured by a URL (onramp serve --smtp-url):
//     smtp://user:pass@host:port speaks SMTP on port 587 by default and
//     upgrades the connection with STARTTLS whenever the server offers it;
//     adding ?starttls=required refuses to send without it.
//     smtps://user:pass@host:port speaks SMTP inside TLS from the first byte
//     (port 465 by default). The server certificate is verified. A user name
//     and password turn on SMTP AUTH, with the strongest mechanism the server
//     offers; PLAIN and LOGIN are never used over a connection that is not
//     encrypted. Each Send uses a connection of its own, so an SMTP is safe
//     for concurrent use. The mail is built and sent by
//     github.com/wneessen/go-mail (MIME multipart/alternative, encoded
//     headers, SMTP extensions), which is kept up and handles the details
//     that net/smtp leaves to its callers.
//   - Log, for local use without an SMTP server: it writes the whole text
//     body of each message, links included, to the log at level WARN. It is
//     the one place where onramp logs a secret, on purpose and only when no
//     SMTP server is configured (README says so).
//
// Errors never contain the SMTP password: the URL is reported redacted.
package mail
