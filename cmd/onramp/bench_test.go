package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/bench"
)

// benchConfig declares an organization whose connection "bench" trusts the
// benchmark's IdP (idp.xml, from --print-idp-metadata).
const benchConfig = `organizations:
  - slug: acme
    name: Acme Corp
    onboarding:
      jit: { emailDomains: false, ssoConnections: true }
      accessControl:
        emailDomains: [acme-corp.com]
        ssoConnections: [bench]
    connections:
      - slug: bench
        name: onramp bench IdP
        idp: { metadataFile: idp.xml }
        authentication: { jitProvisioning: true, allowIdpInitiated: %t }
        mapping: { preset: okta }
`

// TestBenchMixed runs `onramp bench mixed` as the README tells an operator
// to: print the benchmark IdP's metadata, apply a connection with it, make
// two SCIM tokens and an admin token, serve, and run the mix for a few
// seconds. Every kind of request must have run, and none may have failed.
// A connection that does not allow IdP-initiated sign-in is refused before
// the clock starts, with the server's reason.
func TestBenchMixed(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "bench-idp.pem")
	md, stderr, code := onramp(t, dir, nil, "bench", "mixed", "--print-idp-metadata", "--idp-key", key)
	if code != 0 || !strings.Contains(md, bench.IdPEntityID) || !strings.Contains(stderr, "Created the benchmark IdP's key pair") {
		t.Fatalf("--print-idp-metadata: exit %d\nstdout: %s\nstderr: %s", code, md, stderr)
	}
	again, _, _ := onramp(t, dir, nil, "bench", "mixed", "--print-idp-metadata", "--idp-key", key)
	if certOf(t, again) != certOf(t, md) {
		t.Fatal("a second --print-idp-metadata shows another certificate: the key pair was not kept")
	}
	if err := os.WriteFile(filepath.Join(dir, "idp.xml"), []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "onramp.db")
	apply := func(allowIdPInitiated bool) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "onramp.yaml"), fmt.Appendf(nil, benchConfig, allowIdPInitiated), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := onramp(t, dir, nil, "apply", "--db", db, "-f", "onramp.yaml"); code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	token := func(args ...string) string {
		t.Helper()
		out, errOut, code := onramp(t, dir, nil, append([]string{"token", "create", "--db", db, "--org", "acme"}, args...)...)
		if code != 0 {
			t.Fatalf("token create: exit %d\n%s", code, errOut)
		}
		return lastLine(out)
	}
	apply(false)
	scim1, scim2, admin := token("--scim", "bench"), token("--scim", "bench"), token("--admin")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + port
	srv := startServer(t, dir, nil, "--db", db, "--addr", "127.0.0.1:"+port, "--base-url", base)
	if srv.addr != "127.0.0.1:"+port {
		t.Fatalf("the server listens on %s, want port %s", srv.addr, port)
	}
	waitReady(t, base)
	env := []string{"ONRAMP_BENCH_SCIM_TOKEN=" + scim1 + "," + scim2, "ONRAMP_BENCH_ADMIN_TOKEN=" + admin}
	args := []string{"bench", "mixed", "--url", base, "--org", "acme", "--connection", "bench", "--idp-key", key,
		"--duration", "4s", "--clients", "6"}

	// The connection does not allow IdP-initiated sign-in yet: refused
	// before the clock starts, naming the reason.
	out, errOut, code := onramp(t, dir, env, args...)
	if code != 1 || !strings.Contains(errOut, "idp_initiated_not_allowed") || strings.Contains(out, "p99") {
		t.Fatalf("bench mixed against a connection without IdP-initiated sign-in: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	apply(true)
	out, errOut, code = onramp(t, dir, env, args...)
	if code != 0 {
		t.Fatalf("bench mixed: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	t.Logf("bench mixed:\n%s", out)
	for _, kind := range []string{bench.KindCreateUser, bench.KindLookup, bench.KindPatchUser, bench.KindDeactivate,
		bench.KindCreateGroup, bench.KindGroupChange, bench.KindSignInJIT, bench.KindSignIn, bench.KindAdminRead, bench.KindAdminWrite} {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(kind) + `\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no row for %q", kind)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 || m[2] != "0" {
			t.Errorf("%s: n=%s errors=%s, want n > 0 and no errors", kind, m[1], m[2])
		}
	}
	if !strings.Contains(out, "\nerrors: 0\n") {
		t.Errorf("the report does not end with errors: 0:\n%s", out)
	}
	if strings.Contains(out+errOut, scim1) || strings.Contains(out+errOut, admin) {
		t.Error("bench mixed printed a token")
	}
}

// certOf returns the X509Certificate of metadata.
func certOf(t *testing.T, md string) string {
	t.Helper()
	m := regexp.MustCompile(`<X509Certificate[^>]*>([^<]+)</X509Certificate>`).FindStringSubmatch(md)
	if m == nil {
		t.Fatalf("metadata without a certificate:\n%s", md)
	}
	return m[1]
}
