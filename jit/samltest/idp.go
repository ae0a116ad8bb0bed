package samltest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"html"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// loginHeader names the Login a harness request is for.
const loginHeader = "X-Samltest-Login"

// User is the person the IdP asserts.
type User struct {
	NameID       string
	NameIDFormat string // default: persistent
	// Attributes become saml:Attribute elements (Name = key, unspecified
	// NameFormat), in key order.
	Attributes map[string][]string
}

// Login is one sign-in at the IdP: who, and what to do differently from a
// well-behaved IdP. Changes made here happen before signing, so the result
// carries valid signatures.
type Login struct {
	User User
	// MutateAssertion edits the assertion before it is signed.
	MutateAssertion func(*saml.Assertion)
	// Destination, if non-nil, replaces the Response Destination ("" leaves
	// it out).
	Destination *string
	// UnsignedAssertion signs only the Response, not the assertion (some
	// IdPs do this). The assertion is then never encrypted.
	UnsignedAssertion bool
}

// Options configures an IdP.
type Options struct {
	// EntityID overrides the IdP's entity ID (default: its metadata URL on
	// the test server).
	EntityID string
	// Key and Cert are the signing key pair (default: a new one). Two IdPs
	// with the same EntityID and different keys model a key rollover or an
	// attacker's IdP.
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
	// ExtraCerts are published in the metadata as further signing
	// certificates (they sign nothing).
	ExtraCerts []*x509.Certificate
}

// IdP is a running crewjam identity provider.
type IdP struct {
	Key    *rsa.PrivateKey
	Cert   *x509.Certificate
	IdP    *saml.IdentityProvider
	Server *httptest.Server

	mu     sync.Mutex
	sps    map[string]*saml.EntityDescriptor
	logins map[string]Login
	seq    int
}

// New starts an IdP; it stops when the test ends.
func New(t testing.TB, opts Options) *IdP {
	t.Helper()
	i := &IdP{
		Key:    opts.Key,
		Cert:   opts.Cert,
		sps:    map[string]*saml.EntityDescriptor{},
		logins: map[string]Login{},
	}
	if i.Key == nil || i.Cert == nil {
		i.Key, i.Cert = NewKeyPair(t, "samltest IdP")
	}
	mux := http.NewServeMux()
	i.Server = httptest.NewServer(mux)
	t.Cleanup(i.Server.Close)

	metadataURL := mustURL(t, i.Server.URL+"/metadata")
	ssoURL := mustURL(t, i.Server.URL+"/sso")
	if opts.EntityID != "" {
		metadataURL = mustURL(t, opts.EntityID)
	}
	i.IdP = &saml.IdentityProvider{
		Key:                     i.Key,
		Certificate:             i.Cert,
		ExtraCertificates:       opts.ExtraCerts,
		Logger:                  log.New(testWriter{t}, "crewjam: ", 0),
		MetadataURL:             metadataURL,
		SSOURL:                  ssoURL,
		ServiceProviderProvider: i,
		SessionProvider:         i,
		AssertionMaker:          assertionMaker{i},
		ResponseWriter:          responseWriter{i},
		NameIDFormats:           []saml.NameIDFormat{saml.PersistentNameIDFormat},
		OnError: func(w http.ResponseWriter, _ *http.Request, status int, err error) {
			http.Error(w, err.Error(), status)
		},
	}
	mux.Handle("/", i.IdP.Handler())
	mux.HandleFunc("/idp-initiated", func(w http.ResponseWriter, r *http.Request) {
		i.IdP.ServeIDPInitiated(w, r, r.URL.Query().Get("sp"), r.URL.Query().Get("RelayState"))
	})
	return i
}

// EntityID is the IdP's entity ID, the Issuer of its responses.
func (i *IdP) EntityID() string { return i.IdP.MetadataURL.String() }

// MetadataXML is the IdP's metadata, as an admin would download it.
func (i *IdP) MetadataXML(t testing.TB) []byte {
	t.Helper()
	b, err := xml.MarshalIndent(i.IdP.Metadata(), "", "  ")
	if err != nil {
		t.Fatalf("samltest: idp metadata: %v", err)
	}
	return b
}

// RegisterSP makes the IdP trust a service provider, from its metadata as
// the SP publishes it. If encrypt is false, the SP's encryption keys are
// left out, so that the IdP sends plain (signed) assertions; if true, crewjam
// encrypts every assertion to the SP's certificate.
func (i *IdP) RegisterSP(t testing.TB, metadata []byte, encrypt bool) {
	t.Helper()
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(metadata, &ed); err != nil {
		t.Fatalf("samltest: sp metadata: %v", err)
	}
	if ed.EntityID == "" || len(ed.SPSSODescriptors) == 0 {
		t.Fatalf("samltest: sp metadata has no entity id or SPSSODescriptor")
	}
	if !encrypt {
		for d := range ed.SPSSODescriptors {
			var kept []saml.KeyDescriptor
			for _, kd := range ed.SPSSODescriptors[d].KeyDescriptors {
				if kd.Use != "encryption" {
					kept = append(kept, kd)
				}
			}
			ed.SPSSODescriptors[d].KeyDescriptors = kept
		}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.sps[ed.EntityID] = &ed
}

// SPInitiated answers an SP-initiated login: it follows authnURL (the
// HTTP-Redirect URL our login endpoint sends the browser to) to the IdP,
// which validates the AuthnRequest (including its signature, against the SP
// metadata), signs in l.User and answers with an auto-posting form. It
// returns the form's SAMLResponse (base64) and RelayState.
func (i *IdP) SPInitiated(t testing.TB, authnURL string, l Login) (samlResponse, relayState string) {
	t.Helper()
	return i.do(t, authnURL, l)
}

// IdPInitiated starts an unsolicited login at the IdP for the SP with
// entity ID spEntityID, as clicking an app tile does.
func (i *IdP) IdPInitiated(t testing.TB, spEntityID, relayState string, l Login) (samlResponse string) {
	t.Helper()
	q := url.Values{"sp": {spEntityID}}
	if relayState != "" {
		q.Set("RelayState", relayState)
	}
	resp, _ := i.do(t, i.Server.URL+"/idp-initiated?"+q.Encode(), l)
	return resp
}

func (i *IdP) do(t testing.TB, target string, l Login) (string, string) {
	t.Helper()
	i.mu.Lock()
	i.seq++
	key := strconv.Itoa(i.seq)
	i.logins[key] = l
	i.mu.Unlock()
	defer func() {
		i.mu.Lock()
		delete(i.logins, key)
		i.mu.Unlock()
	}()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	req.Header.Set(loginHeader, key)
	res, err := i.Server.Client().Do(req)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("samltest: idp answered %s: %s", res.Status, body)
	}
	return formValue(t, body, "SAMLResponse"), formValue(t, body, "RelayState")
}

func formValue(t testing.TB, body []byte, name string) string {
	t.Helper()
	re := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`)
	m := re.FindSubmatch(body)
	if m == nil {
		t.Fatalf("samltest: idp page has no %s field", name)
	}
	return html.UnescapeString(string(m[1]))
}

func (i *IdP) login(r *http.Request) (Login, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	l, ok := i.logins[r.Header.Get(loginHeader)]
	return l, ok
}

// GetServiceProvider implements saml.ServiceProviderProvider.
func (i *IdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if ed, ok := i.sps[id]; ok {
		return ed, nil
	}
	return nil, os.ErrNotExist
}

// GetSession implements saml.SessionProvider: the harness's request names
// the Login, whose user is signed in without a form.
func (i *IdP) GetSession(w http.ResponseWriter, r *http.Request, _ *saml.IdpAuthnRequest) *saml.Session {
	l, ok := i.login(r)
	if !ok {
		http.Error(w, "samltest: no login for this request", http.StatusForbidden)
		return nil
	}
	format := l.User.NameIDFormat
	if format == "" {
		format = string(saml.PersistentNameIDFormat)
	}
	s := &saml.Session{
		ID:           "session-" + r.Header.Get(loginHeader),
		CreateTime:   time.Now(),
		ExpireTime:   time.Now().Add(time.Hour),
		Index:        "index-" + r.Header.Get(loginHeader),
		NameID:       l.User.NameID,
		NameIDFormat: format,
	}
	names := make([]string, 0, len(l.User.Attributes))
	for n := range l.User.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		attr := saml.Attribute{Name: n, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"}
		for _, v := range l.User.Attributes[n] {
			attr.Values = append(attr.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		s.CustomAttributes = append(s.CustomAttributes, attr)
	}
	return s
}

type assertionMaker struct{ i *IdP }

func (m assertionMaker) MakeAssertion(req *saml.IdpAuthnRequest, session *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		return err
	}
	if l, ok := m.i.login(req.HTTPRequest); ok && l.MutateAssertion != nil {
		l.MutateAssertion(req.Assertion)
	}
	return nil
}

type responseWriter struct{ i *IdP }

func (rw responseWriter) WriteResponse(w http.ResponseWriter, req *saml.IdpAuthnRequest) error {
	if l, ok := rw.i.login(req.HTTPRequest); ok {
		if l.Destination != nil {
			ep := *req.ACSEndpoint
			ep.Location = *l.Destination
			req.ACSEndpoint = &ep
		}
		if l.UnsignedAssertion && req.Assertion != nil {
			req.AssertionEl = req.Assertion.Element()
		}
	}
	return req.WriteResponse(w)
}

// NewKeyPair makes an RSA key and a self-signed certificate valid from a day
// ago for a year.
func NewKeyPair(t testing.TB, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-24 * time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	return key, cert
}

func mustURL(t testing.TB, s string) url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	return *u
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

// String helps build Login.Destination.
func String(s string) *string { return &s }
