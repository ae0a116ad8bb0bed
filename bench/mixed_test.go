package bench_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/bench"
)

// RunMixed against a running server with sign-ins and admin changes is
// tested end to end in cmd/onramp (TestBenchMixed) and, at 50 clients, in
// package reliability. Here: the configuration, the IdP's key file and
// responses, and a SCIM-only run.

func TestMixedValidate(t *testing.T) {
	cfg := bench.MixedConfig{URL: "http://192.0.2.1:8080", SCIMTokens: []string{"a", ""}, AdminToken: "x",
		IdP: &bench.IdP{}, Duration: 0, Clients: 0}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{"not a loopback address", "none may be empty", "organization's slug is required",
		"connection's slug is required", "duration must be positive", "clients 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	ok := bench.MixedConfig{URL: "http://localhost:8080", SCIMTokens: []string{"t"}, Duration: time.Second, Clients: 1}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(SCIM only) = %v", err)
	}
	ok.Duration = bench.MaxMixedDuration + time.Second
	if err := ok.Validate(); err == nil {
		t.Error("Validate accepted a duration beyond the maximum")
	}
}

func TestIdPKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "idp.pem")
	idp, created, err := bench.LoadIdP(path, time.Now(), nil)
	if err != nil || !created {
		t.Fatalf("LoadIdP (new): created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v mode %v, want 0600", err, fi.Mode())
	}
	md1, err := idp.MetadataXML()
	if err != nil {
		t.Fatal(err)
	}
	again, created, err := bench.LoadIdP(path, time.Now(), nil)
	if err != nil || created {
		t.Fatalf("LoadIdP (existing): created=%v err=%v", created, err)
	}
	md2, err := again.MetadataXML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(md1, md2) {
		t.Error("the metadata changed between loads of the same key file")
	}
	for _, want := range []string{`entityID="` + bench.IdPEntityID + `"`, `use="signing"`, bench.IdPSSOURL} {
		if !bytes.Contains(md1, []byte(want)) {
			t.Errorf("metadata lacks %s:\n%s", want, md1)
		}
	}
	for _, unwanted := range []string{"validUntil", `use="encryption"`} {
		if bytes.Contains(md1, []byte(unwanted)) {
			t.Errorf("metadata has %s:\n%s", unwanted, md1)
		}
	}

	// A file that is not a key pair is an error, not a new key.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bench.LoadIdP(bad, time.Now(), nil); err == nil || !strings.Contains(err.Error(), "want a CERTIFICATE and a PRIVATE KEY") {
		t.Errorf("LoadIdP(not a key pair) = %v", err)
	}
}

const spMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://onramp.example/saml/acme/bench/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true" WantAssertionsSigned="true">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://onramp.example/saml/acme/bench/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`

func TestIdPResponse(t *testing.T) {
	idp, _, err := bench.LoadIdP(filepath.Join(t.TempDir(), "idp.pem"), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := idp.Response(bench.Person{Email: "a@example.com"}); err == nil {
		t.Fatal("Response without a service provider succeeded")
	}
	entityID, err := idp.SetSP([]byte(spMetadata))
	if err != nil || entityID != "https://onramp.example/saml/acme/bench/metadata" {
		t.Fatalf("SetSP = %q, %v", entityID, err)
	}
	acs, resp, err := idp.Response(bench.Person{Email: "pat@example.com", GivenName: "Pat", FamilyName: "Doe"})
	if err != nil {
		t.Fatal(err)
	}
	if acs != "https://onramp.example/saml/acme/bench/acs" {
		t.Errorf("ACS = %q", acs)
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pat@example.com", "Pat", "Doe", "<ds:Signature", `Destination="https://onramp.example/saml/acme/bench/acs"`, bench.IdPEntityID} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("response lacks %s", want)
		}
	}
	_, resp2, err := idp.Response(bench.Person{Email: "pat@example.com"})
	if err != nil || resp2 == resp {
		t.Errorf("a second response for the same person is not a new one (%v)", err)
	}
}

// TestRunMixedSCIMOnly runs the mix without sign-ins or admin changes
// against the SCIM server of bench_test.go, and sees every answer.
func TestRunMixedSCIMOnly(t *testing.T) {
	base, token := startOnramp(t)
	var mu sync.Mutex // Observe is called from the clients' goroutines
	seen := map[int]int{}
	kinds := map[string]bool{}
	rep, err := bench.RunMixed(context.Background(), bench.MixedConfig{
		URL: base, SCIMTokens: []string{token}, Duration: 2 * time.Second, Clients: 3,
		Observe: func(e bench.Exchange) {
			mu.Lock()
			defer mu.Unlock()
			seen[e.Status]++
			kinds[e.Kind] = true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", buf.String())
	if rep.Errors() != 0 || rep.Total.N == 0 {
		t.Fatalf("errors %d of %d", rep.Errors(), rep.Total.N)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, k := range []string{bench.KindCreateUser, bench.KindLookup, bench.KindPatchUser, bench.KindDeactivate,
		bench.KindCreateGroup, bench.KindGroupChange} {
		if !kinds[k] {
			t.Errorf("no %q request was made", k)
		}
	}
	for _, k := range []string{bench.KindSignInJIT, bench.KindAdminWrite} {
		if kinds[k] {
			t.Errorf("%q made without an IdP or admin token", k)
		}
	}
	answered := 0
	for status, n := range seen {
		if status >= 300 {
			t.Errorf("%d answers with status %d", n, status)
		}
		answered += n
	}
	// Every answer of the run was observed: the report's and the preflight's.
	if answered != rep.Total.N+1 {
		t.Errorf("observed %d answers, the report has %d (+1 preflight)", answered, rep.Total.N)
	}
	if !strings.Contains(buf.String(), "errors: 0") || !strings.Contains(buf.String(), http.MethodPatch) {
		t.Errorf("report:\n%s", buf.String())
	}
}
