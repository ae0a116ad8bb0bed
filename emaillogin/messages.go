package emaillogin

import (
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/onramp-dev/onramp/mail"
)

// The emails, in plain text and HTML with the same content. html/template
// escapes the organization's name and the link; the text version is plain.

const signInText = `Hello,

Use this link to sign in to {{.Org}}:

{{.URL}}

Or enter this code on the sign-in page: {{.Code}}

The link and the code work once, for {{.Minutes}} minutes. If you did not ask to sign in, ignore this email: nobody can sign in without it.
`

const signInHTML = `<!doctype html>
<html><body style="font-family: system-ui, sans-serif; line-height: 1.5">
<p>Hello,</p>
<p><a href="{{.URL}}">Sign in to {{.Org}}</a></p>
<p>Or enter this code on the sign-in page: <strong style="font-size: 1.3em; letter-spacing: .15em">{{.Code}}</strong></p>
<p>The link and the code work once, for {{.Minutes}} minutes. If you did not ask to sign in, ignore this email: nobody can sign in without it.</p>
</body></html>
`

const inviteText = `Hello,

You are invited to join {{.Org}} as {{.Role}}.

Accept the invitation:

{{.URL}}

The link works once, until {{.Expires}}. If you did not expect this invitation, ignore this email.
`

const inviteHTML = `<!doctype html>
<html><body style="font-family: system-ui, sans-serif; line-height: 1.5">
<p>Hello,</p>
<p>You are invited to join <strong>{{.Org}}</strong> as {{.Role}}.</p>
<p><a href="{{.URL}}">Accept the invitation to {{.Org}}</a></p>
<p>The link works once, until {{.Expires}}. If you did not expect this invitation, ignore this email.</p>
</body></html>
`

type messageData struct {
	Org     string
	URL     string
	Code    string
	Minutes int
	Role    string
	Expires string
}

func renderMessage(to, subject, textTmpl, htmlTmpl string, d messageData) (mail.Message, error) {
	tt, err := texttemplate.New("text").Parse(textTmpl)
	if err != nil {
		return mail.Message{}, fmt.Errorf("emaillogin: message template: %w", err)
	}
	ht, err := htmltemplate.New("html").Parse(htmlTmpl)
	if err != nil {
		return mail.Message{}, fmt.Errorf("emaillogin: message template: %w", err)
	}
	var text, html strings.Builder
	if err := tt.Execute(&text, d); err != nil {
		return mail.Message{}, fmt.Errorf("emaillogin: message: %w", err)
	}
	if err := ht.Execute(&html, d); err != nil {
		return mail.Message{}, fmt.Errorf("emaillogin: message: %w", err)
	}
	return mail.Message{To: to, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

func signInMessage(to, org, url, code string, ttl time.Duration) (mail.Message, error) {
	return renderMessage(to, "Sign in to "+oneLine(org), signInText, signInHTML,
		messageData{Org: org, URL: url, Code: code, Minutes: int(ttl / time.Minute)})
}

func inviteMessage(to, org, role, url string, expires time.Time) (mail.Message, error) {
	return renderMessage(to, "You are invited to join "+oneLine(org), inviteText, inviteHTML,
		messageData{Org: org, URL: url, Role: role, Expires: expires.UTC().Format("2 January 2006, 15:04 MST")})
}

// oneLine keeps a header value on one line whatever an organization's name
// holds.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
