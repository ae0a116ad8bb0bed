package admin_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
)

func idpMetadata(t *testing.T) string {
	t.Helper()
	return string(samltest.New(t, samltest.Options{}).MetadataXML(t))
}

func TestConnectionLifecycle(t *testing.T) {
	h := newHarness(t)
	md := idpMetadata(t)

	// Create, with the metadata in the JSON body.
	r := h.do(t, h.adminToken, http.MethodPost, "/orgs/acme/connections", map[string]any{
		"slug": "entra", "name": "Microsoft Entra ID", "idpMetadataXml": md,
		"authentication": map[string]bool{"jitProvisioning": true},
		"mapping":        map[string]any{"preset": "entra"},
	}).want(t, http.StatusCreated)
	var c admin.Connection
	r.decode(t, &c)
	if r.header.Get("Location") != "/api/v1/orgs/acme/connections/entra" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	if c.Slug != "entra" || c.Name != "Microsoft Entra ID" || c.IdP == nil || len(c.IdP.SigningCertificates) != 1 || c.IdP.SSOURL == "" ||
		!c.Authentication.JITProvisioning || c.Authentication.AllowIdPInitiated || c.MappingPreset != "entra" || c.InAccessControl ||
		c.SP.ACSURL != baseURL+"/saml/acme/entra/acs" || c.SP.EntityID != baseURL+"/saml/acme/entra/metadata" ||
		c.SCIMBaseURL != baseURL+"/scim/v2" {
		t.Errorf("created %+v", c)
	}
	stored, err := h.st.GetConnectionBySlug(context.Background(), h.acme.ID, "entra")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jit.NewConnectionConfig(baseURL, "acme", stored); err != nil {
		t.Errorf("the created connection cannot sign anyone in: %v", err)
	}
	evs := h.events(t, h.acme, admin.AuditConnectionCreated)
	if len(evs) != 2 || evs[0].Actor != h.actorOf(t, h.adminToken) || evs[0].ConnectionID != stored.ID { // and the harness's okta
		t.Errorf("created events %+v", evs)
	}

	// The same slug again is a conflict on the slug field.
	r = h.do(t, h.adminToken, http.MethodPost, "/orgs/acme/connections", map[string]any{"slug": "entra"}).want(t, http.StatusConflict)
	if e := r.errorBody(t); !strings.Contains(e.Fields["slug"], "already") {
		t.Errorf("conflict fields %v", e.Fields)
	}

	// List, get.
	var list struct{ Connections []admin.Connection }
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections", nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Connections) != 2 || list.Connections[0].Slug != "entra" || list.Connections[1].Slug != "okta" || list.Connections[0].IdPMetadataXML != "" {
		t.Errorf("list %+v", list)
	}
	var got admin.Connection
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/entra", nil).want(t, http.StatusOK).decode(t, &got)
	if got.IdPMetadataXML != md {
		t.Error("GET does not return the imported metadata")
	}
	var okta admin.Connection
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/okta", nil).want(t, http.StatusOK).decode(t, &okta)
	if okta.IdP != nil || !strings.Contains(okta.IdPMetadataError, "no IdP metadata") {
		t.Errorf("connection without metadata: %+v", okta)
	}
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/nope", nil).want(t, http.StatusNotFound)

	// Put it in the ACL, then rename it: the ACL follows.
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/access-control", map[string]any{"ssoConnections": []string{"entra"}}).want(t, http.StatusOK)
	r = h.do(t, h.adminToken, http.MethodPatch, "/orgs/acme/connections/entra", map[string]any{"slug": "entra-id"}).want(t, http.StatusOK)
	if r.header.Get("Location") != "/api/v1/orgs/acme/connections/entra-id" {
		t.Errorf("rename Location %q", r.header.Get("Location"))
	}
	if o := h.getOrg(t, h.acme); !slices.Equal(o.Access.SSOConnections, []string{"entra-id"}) {
		t.Errorf("ACL after rename %v", o.Access.SSOConnections)
	}
	evs = h.events(t, h.acme, admin.AuditConnectionUpdated)
	if len(evs) != 1 || evs[0].Detail["slug"] != "entra->entra-id" {
		t.Errorf("update events %+v", evs)
	}
	// Renaming onto another connection's slug is a conflict.
	h.do(t, h.adminToken, http.MethodPatch, "/orgs/acme/connections/entra-id", map[string]any{"slug": "okta"}).want(t, http.StatusConflict)

	// Authentication settings: the JIT provisioning toggle.
	var auth struct {
		admin.Authentication
		Version string
	}
	h.do(t, h.adminSession, http.MethodGet, "/orgs/acme/connections/entra-id/authentication", nil).want(t, http.StatusOK).decode(t, &auth)
	if !auth.JITProvisioning {
		t.Errorf("authentication %+v", auth)
	}
	h.do(t, h.adminSession, http.MethodPut, "/orgs/acme/connections/entra-id/authentication",
		map[string]bool{"jitProvisioning": false, "allowIdpInitiated": true}).want(t, http.StatusOK).decode(t, &auth)
	if stored, _ := h.st.GetConnection(context.Background(), stored.ID); stored.JITProvisioning || !stored.AllowIdPInitiated {
		t.Errorf("stored settings %+v", stored)
	}
	evs = h.events(t, h.acme, admin.AuditAuthenticationSet)
	if len(evs) != 1 || evs[0].Actor != "user:"+string(h.adminUser.ID) || evs[0].Detail["jitProvisioning"] != "false" {
		t.Errorf("authentication events %+v", evs)
	}

	// PUT replaces the settings it carries and refuses a mapping.
	r = h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/connections/entra-id", map[string]any{
		"slug": "entra-id", "name": "Entra", "idpMetadataXml": md, "mapping": map[string]string{"preset": "okta"},
	}).want(t, http.StatusBadRequest)
	if e := r.errorBody(t); e.Fields["mapping"] == "" {
		t.Errorf("fields %v", e.Fields)
	}
	h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/connections/entra-id", map[string]any{
		"slug": "entra-id", "name": "Entra", "idpMetadataXml": md,
	}).want(t, http.StatusOK).decode(t, &got)
	if got.Name != "Entra" || got.Authentication.AllowIdPInitiated || got.MappingPreset != "entra" {
		t.Errorf("after PUT %+v", got)
	}

	// SP metadata to download.
	r = h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/entra-id/sp-metadata", nil).want(t, http.StatusOK)
	var spmd struct {
		EntityID string `xml:"entityID,attr"`
	}
	if err := xml.Unmarshal(r.body, &spmd); err != nil || spmd.EntityID != baseURL+"/saml/acme/entra-id/metadata" {
		t.Errorf("SP metadata entityID %q (%v)", spmd.EntityID, err)
	}
	if !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("Content-Disposition %q", r.header.Get("Content-Disposition"))
	}
	// A connection made without a key pair (apply) gets one.
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/okta/sp-metadata", nil).want(t, http.StatusOK)
	if c, _ := h.st.GetConnection(context.Background(), h.okta.ID); c.SPCertPEM == "" {
		t.Error("no SP key pair stored")
	}

	// Delete: gone, and out of the ACL.
	h.do(t, h.adminToken, http.MethodDelete, "/orgs/acme/connections/entra-id", nil).want(t, http.StatusNoContent)
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/entra-id", nil).want(t, http.StatusNotFound)
	h.do(t, h.adminToken, http.MethodDelete, "/orgs/acme/connections/entra-id", nil).want(t, http.StatusNotFound)
	if o := h.getOrg(t, h.acme); len(o.Access.SSOConnections) != 0 {
		t.Errorf("ACL after delete %v", o.Access.SSOConnections)
	}
	if evs := h.events(t, h.acme, admin.AuditConnectionDeleted); len(evs) != 1 || evs[0].Actor != h.actorOf(t, h.adminToken) {
		t.Errorf("delete events %+v", evs)
	}
	// Another organization's admin cannot see or delete acme's connections.
	h.do(t, h.otherAdminToken, http.MethodDelete, "/orgs/acme/connections/okta", nil).want(t, http.StatusNotFound)
	h.do(t, h.otherAdminToken, http.MethodDelete, "/orgs/other/connections/okta", nil).want(t, http.StatusNotFound)
}

// TestConnectionMetadataUpload creates a connection from a multipart upload,
// as an HTML form would send it.
func TestConnectionMetadataUpload(t *testing.T) {
	h := newHarness(t)
	md := idpMetadata(t)
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"slug": "google", "name": "Google Workspace", "jitProvisioning": "on", "mappingPreset": "google"} {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	f, err := w.CreateFormFile("idpMetadata", "GoogleIDPMetadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(md)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := h.doRaw(t, h.adminSession, http.MethodPost, "/orgs/acme/connections", w.FormDataContentType(), buf.Bytes()).want(t, http.StatusCreated)
	var c admin.Connection
	r.decode(t, &c)
	if c.IdP == nil || c.Name != "Google Workspace" || !c.Authentication.JITProvisioning || c.MappingPreset != "google" || c.IdPMetadataXML != md {
		t.Errorf("uploaded connection %+v", c)
	}
}

// TestConnectionValidation is a table of refused connections: each says what
// is wrong, field by field, and nothing is created.
func TestConnectionValidation(t *testing.T) {
	h := newHarness(t)
	idp := samltest.New(t, samltest.Options{})
	good := string(idp.MetadataXML(t))
	noCert := regexp.MustCompile(`(?s)<KeyDescriptor.*?</KeyDescriptor>`).ReplaceAllString(good, "")
	if noCert == good {
		t.Fatal("fixture: no KeyDescriptor to remove")
	}
	sp := h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/connections/okta/sp-metadata", nil).want(t, http.StatusOK).body

	tests := []struct {
		name   string
		body   map[string]any
		fields map[string]string // field → substring
	}{
		{"no slug", map[string]any{"name": "x"}, map[string]string{"slug": "required"}},
		{"bad slug", map[string]any{"slug": "Entra ID"}, map[string]string{"slug": "a-z"}},
		{"control character in name", map[string]any{"slug": "a", "name": "a\x07b"}, map[string]string{"name": "control"}},
		{"not XML", map[string]any{"slug": "a", "idpMetadataXml": "hello"}, map[string]string{"idpMetadataXml": "no root element"}},
		{"broken XML", map[string]any{"slug": "a", "idpMetadataXml": "<EntityDescriptor"}, map[string]string{"idpMetadataXml": "XML syntax error"}},
		{"not metadata", map[string]any{"slug": "a", "idpMetadataXml": "<html/>"}, map[string]string{"idpMetadataXml": "want an EntityDescriptor"}},
		{"SP metadata instead of the IdP's", map[string]any{"slug": "a", "idpMetadataXml": string(sp)}, map[string]string{"idpMetadataXml": "found 0 identity providers"}},
		{"no signing certificate", map[string]any{"slug": "a", "idpMetadataXml": noCert}, map[string]string{"idpMetadataXml": "no signing certificate"}},
		{"DTD", map[string]any{"slug": "a", "idpMetadataXml": `<!DOCTYPE x [<!ENTITY e "e">]>` + good}, map[string]string{"idpMetadataXml": "DTD"}},
		{"unknown preset", map[string]any{"slug": "a", "mapping": map[string]any{"preset": "auth0"}}, map[string]string{"mapping.preset": "unknown preset"}},
		{"mapping does not compile", map[string]any{"slug": "a", "mapping": map[string]any{"preset": "okta", "overrides": map[string]any{"email": map[string]any{"transforms": []map[string]string{{"op": "explode"}}}}}},
			map[string]string{"mapping.overrides.email": "explode"}},
		{"everything at once", map[string]any{"slug": "-", "idpMetadataXml": "x", "mapping": map[string]any{"preset": "nope"}},
			map[string]string{"slug": "slug", "idpMetadataXml": "IdP metadata", "mapping.preset": "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, h.adminToken, http.MethodPost, "/orgs/acme/connections", tt.body).want(t, http.StatusBadRequest)
			e := r.errorBody(t)
			for f, sub := range tt.fields {
				if !strings.Contains(e.Fields[f], sub) {
					t.Errorf("field %s = %q, want it to mention %q (all: %v)", f, e.Fields[f], sub, e.Fields)
				}
			}
			if len(e.Fields) != len(tt.fields) {
				t.Errorf("fields %v, want only %v", e.Fields, tt.fields)
			}
			cs, err := h.st.ListConnections(context.Background(), h.acme.ID)
			if err != nil || len(cs) != 1 {
				t.Errorf("connections after a refused create: %d (%v)", len(cs), err)
			}
		})
	}
	// A bad patch saves none of its good parts either.
	h.do(t, h.adminToken, http.MethodPatch, "/orgs/acme/connections/okta", map[string]any{"name": "New name", "idpMetadataXml": "nope"}).want(t, http.StatusBadRequest)
	if c, _ := h.st.GetConnection(context.Background(), h.okta.ID); c.Name != "OKTA" {
		t.Errorf("refused patch saved the name: %q", c.Name)
	}
	if n := len(h.events(t, h.acme, admin.AuditConnectionUpdated)); n != 0 {
		t.Errorf("refused patch wrote %d events", n)
	}
}

// TestBodyErrors checks how malformed requests are answered.
func TestBodyErrors(t *testing.T) {
	h := newHarness(t)
	path := "/orgs/acme/connections/okta/authentication"
	tests := []struct {
		name, contentType, body string
		status                  int
		field, want             string
	}{
		{"unknown field (a typo)", "application/json", `{"jitProvisoning": true}`, 400, "body", `unknown field "jitProvisoning"`},
		{"wrong type", "application/json", `{"jitProvisioning": "yes"}`, 400, "jitProvisioning", "boolean"},
		{"syntax", "application/json", `{"jitProvisioning": tru}`, 400, "body", "not valid JSON"},
		{"empty", "application/json", ``, 400, "body", "empty"},
		{"two documents", "application/json", `{} {}`, 400, "body", "after the JSON document"},
		{"not JSON", "text/plain", `{}`, 415, "", ""},
		{"too large", "application/json", `{"x":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.doRaw(t, h.adminToken, http.MethodPut, path, tt.contentType, []byte(tt.body)).want(t, tt.status)
			e := r.errorBody(t)
			if tt.field != "" && !strings.Contains(e.Fields[tt.field], tt.want) {
				t.Errorf("fields %v, want %s to mention %q", e.Fields, tt.field, tt.want)
			}
			if e.RequestID == "" || e.RequestID != r.header.Get("X-Request-ID") {
				t.Errorf("request_id %q, header %q", e.RequestID, r.header.Get("X-Request-ID"))
			}
		})
	}
	if c, _ := h.st.GetConnection(context.Background(), h.okta.ID); c.JITProvisioning || c.AllowIdPInitiated {
		t.Errorf("a refused body changed the connection: %+v", c)
	}
	_ = store.ErrNotFound
}
