// Package mailtest runs a real SMTP server in a test (github.com/emersion/go-smtp)
// and parses what it receives, so that tests of code that sends mail read the
// delivered message as a mail client would: headers decoded, the
// multipart/alternative parts split and their transfer encoding undone.
//
// The server listens on 127.0.0.1. With TLS it offers STARTTLS with a
// certificate for 127.0.0.1 from a CA made for the test (ClientTLS trusts
// it); with a user name it requires AUTH PLAIN, which it offers only after
// STARTTLS.
package mailtest
