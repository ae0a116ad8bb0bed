package orgconfig

import (
	"strings"
	"testing"
)

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want, problem string // problem: a substring of the message, "" if valid
	}{
		{"acme-corp.com", "acme-corp.com", ""},
		{"  ACME-Corp.COM. ", "acme-corp.com", ""},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", ""},
		{"a.b.c.example.org", "a.b.c.example.org", ""},
		{"", "", "empty"},
		{"https://acme.com", "", "scheme"},
		{"alice@acme.com", "", "email address"},
		{"acme.com:443", "", "port or path"},
		{"acme.com/login", "", "port or path"},
		{"localhost", "", "fully qualified"},
		{"-acme.com", "", "not a valid DNS name"},
		{"acme-.com", "", "not a valid DNS name"},
		{"acme..com", "", "not a valid DNS name"},
		{"acme_corp.com", "", "not a valid DNS name"},
		{"bücher.example", "", "xn--"},
		{strings.Repeat("a", 64) + ".com", "", "not a valid DNS name"},
		{strings.Repeat("abcdefghi.", 26) + "com", "", "longer than 253"},
	}
	for _, tt := range tests {
		got, problem := NormalizeDomain(tt.in)
		if got != tt.want {
			t.Errorf("NormalizeDomain(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if (tt.problem == "") != (problem == "") || !strings.Contains(problem, tt.problem) {
			t.Errorf("NormalizeDomain(%q) problem = %q, want one containing %q", tt.in, problem, tt.problem)
		}
	}
}

func TestCheckSlug(t *testing.T) {
	for s, ok := range map[string]bool{
		"okta": true, "entra-id": true, "a": true, "0-1": true, strings.Repeat("a", 63): true,
		"": false, "Okta": false, "-okta": false, "okta-": false, "ok_ta": false, "ok ta": false,
		"ökta": false, strings.Repeat("a", 64): false,
	} {
		if got := CheckSlug(s) == ""; got != ok {
			t.Errorf("CheckSlug(%q) valid = %v, want %v (%s)", s, got, ok, CheckSlug(s))
		}
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name     string
		required bool
		ok       bool
	}{
		{"Acme Corp", true, true},
		{"", false, true},
		{"", true, false},
		{"Acme\nCorp", false, false},
		{strings.Repeat("x", MaxNameLen), true, true},
		{strings.Repeat("x", MaxNameLen+1), true, false},
	}
	for _, tt := range tests {
		if got := CheckName(tt.name, tt.required) == ""; got != tt.ok {
			t.Errorf("CheckName(%q, %v) valid = %v, want %v", tt.name, tt.required, got, tt.ok)
		}
	}
}
