package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// maxMetadataFile bounds an uploaded IdP metadata file (as the admin API does).
const maxMetadataFile = 1 << 20

// ssoData is the data of sso.html.
type ssoData struct {
	frame
	Connections []admin.Connection
	Holds       []admin.SCIMHold // open holds: the banner (holds.go)
}

// ssoList is GET /admin/{org}/sso: the table of connections.
func (cn *Console) ssoList(c echo.Context, p *req) error {
	conns, err := cn.svc.ListConnections(c.Request().Context(), p.actor)
	if err != nil {
		return err
	}
	holds, err := cn.openHolds(c.Request().Context(), p)
	if err != nil {
		return err
	}
	d := ssoData{frame: cn.frame(p, "SSO", "sso"), Connections: conns, Holds: holds}
	d.Notice = notice(c)
	return cn.render(c, http.StatusOK, "sso", d)
}

// connectionForm is what the connection forms (new, details) hold.
type connectionForm struct {
	Slug, Name, MetadataXML string
	Preset                  string
	Authentication          admin.Authentication
}

// newConnectionData is the data of sso-new.html.
type newConnectionData struct {
	frame
	Form    connectionForm
	Presets []string
	Errors  map[string]string
}

// newConnection is GET /admin/{org}/sso/new.
func (cn *Console) newConnection(c echo.Context, p *req) error {
	d := newConnectionData{frame: cn.frame(p, "New SSO connection", "sso"), Presets: attributes.PresetNames(),
		Form: connectionForm{Preset: attributes.PresetGeneric}}
	return cn.render(c, http.StatusOK, "sso-new", d)
}

// metadataInput is the IdP metadata of a connection form: the uploaded file
// if one was chosen, else the text area.
func metadataInput(c echo.Context) (string, error) {
	r := c.Request()
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["idp_metadata_file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			if fhs[0].Size > maxMetadataFile {
				return "", &admin.ValidationError{Fields: map[string]string{"idpMetadataXml": fmt.Sprintf("the file is larger than %d bytes", maxMetadataFile)}}
			}
			f, err := fhs[0].Open()
			if err != nil {
				return "", fmt.Errorf("console: open upload: %w", err)
			}
			defer f.Close()
			data, err := io.ReadAll(io.LimitReader(f, maxMetadataFile+1))
			if err != nil {
				return "", fmt.Errorf("console: read upload: %w", err)
			}
			return string(data), nil
		}
	}
	return r.PostFormValue("idp_metadata_xml"), nil
}

// createConnection is POST /admin/{org}/sso.
func (cn *Console) createConnection(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	r := c.Request()
	f := connectionForm{
		Slug: strings.TrimSpace(r.PostFormValue("slug")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Preset: r.PostFormValue("preset"),
		Authentication: admin.Authentication{
			JITProvisioning:   r.PostFormValue("jit_provisioning") == "on",
			AllowIdPInitiated: r.PostFormValue("allow_idp_initiated") == "on",
		},
	}
	d := newConnectionData{frame: cn.frame(p, "New SSO connection", "sso"), Presets: attributes.PresetNames()}
	md, err := metadataInput(c)
	if err == nil {
		f.MetadataXML = md
		_, err = cn.svc.CreateConnection(ctx, p.actor, admin.ConnectionInput{
			Slug: f.Slug, Name: f.Name, IdPMetadataXML: md, Authentication: f.Authentication,
			Mapping: &admin.MappingInput{Preset: f.Preset},
		})
	}
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "sso", f.Slug), "created", "")
	}
	fields, ok := validation(err)
	if !ok {
		return err
	}
	d.Form, d.Errors = f, fields
	d.Error = "Nothing was saved: correct the fields marked below."
	return cn.render(c, http.StatusBadRequest, "sso-new", d)
}

// connectionData is the data of connection.html.
type connectionData struct {
	frame
	Conn admin.Connection
	Tab  string
	// JIT is the organization's onboarding, for what the toggle depends on.
	JIT        admin.Onboarding
	EditAuth   bool
	EditDetail bool
	Auth       admin.Authentication
	Details    connectionForm
	Errors     map[string]string
	// SP is the connection's SP certificates and where a rollover of them
	// stands (sprollover.go).
	SP admin.SPCertificates
}

// JITBlockers says what else JIT provisioning through this connection needs.
func (d connectionData) JITBlockers() []string {
	var out []string
	if !d.JIT.JIT.SSOConnections {
		out = append(out, "JIT Provisioning by SSO connections is off (Organization → User onboarding).")
	}
	if !d.Conn.InAccessControl {
		out = append(out, d.Conn.Name+" is not in the access control list (Organization → User onboarding).")
	}
	return out
}

func (cn *Console) connectionPage(c echo.Context, p *req, slug string) (connectionData, error) {
	ctx := c.Request().Context()
	conn, err := cn.svc.Connection(ctx, p.actor, slug)
	if err != nil {
		return connectionData{}, err
	}
	ob, err := cn.svc.Onboarding(ctx, p.actor)
	if err != nil {
		return connectionData{}, err
	}
	sp, err := cn.svc.SPCertificates(ctx, p.actor, slug)
	if err != nil {
		return connectionData{}, err
	}
	d := connectionData{frame: cn.frame(p, conn.Name, "sso"), Conn: conn, Tab: "connection", JIT: ob, Auth: conn.Authentication,
		Details: connectionForm{Slug: conn.Slug, Name: conn.Name}, SP: sp}
	return d, nil
}

// connection is GET /admin/{org}/sso/{conn} (?edit=authentication or
// ?edit=details opens a section for editing).
func (cn *Console) connection(c echo.Context, p *req) error {
	d, err := cn.connectionPage(c, p, c.Param("conn"))
	if err != nil {
		return err
	}
	d.EditAuth = c.QueryParam("edit") == "authentication"
	d.EditDetail = c.QueryParam("edit") == "details"
	d.Notice = notice(c)
	return cn.render(c, http.StatusOK, "connection", d)
}

// postAuthentication is the Authentication settings form.
func (cn *Console) postAuthentication(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	r := c.Request()
	slug := c.Param("conn")
	in := admin.Authentication{
		JITProvisioning:   r.PostFormValue("jit_provisioning") == "on",
		AllowIdPInitiated: r.PostFormValue("allow_idp_initiated") == "on",
	}
	_, err := cn.svc.SetAuthentication(ctx, p.actor, slug, in, r.PostFormValue("version"))
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "sso", slug), "authentication", "authentication-settings")
	}
	if !errors.Is(err, store.ErrVersionMismatch) {
		return err
	}
	d, err := cn.connectionPage(c, p, slug)
	if err != nil {
		return err
	}
	d.EditAuth, d.Auth = true, in
	d.Error = "Someone changed this connection after you opened the form. Your choices are still below; check them and Save again."
	return cn.render(c, http.StatusConflict, "connection", d)
}

// postDetails is the connection's name, slug and IdP metadata form. An empty
// metadata field (and no file) keeps the metadata as it is.
func (cn *Console) postDetails(c echo.Context, p *req) error {
	ctx := c.Request().Context()
	r := c.Request()
	slug := c.Param("conn")
	f := connectionForm{Slug: strings.TrimSpace(r.PostFormValue("slug")), Name: strings.TrimSpace(r.PostFormValue("name"))}
	md, err := metadataInput(c)
	if err == nil {
		f.MetadataXML = md
		patch := admin.ConnectionPatch{Slug: &f.Slug, Name: &f.Name}
		if strings.TrimSpace(md) != "" {
			patch.IdPMetadataXML = &md
		}
		_, err = cn.svc.PatchConnection(ctx, p.actor, slug, patch, r.PostFormValue("version"))
	}
	if err == nil {
		return seeOther(c, orgPath(p.actor.Org().Slug, "sso", f.Slug), "details", "")
	}
	fields, isValidation := validation(err)
	if !isValidation && !errors.Is(err, store.ErrVersionMismatch) {
		return err
	}
	d, derr := cn.connectionPage(c, p, slug)
	if derr != nil {
		return derr
	}
	d.EditDetail, d.Details, d.Errors = true, f, fields
	status := http.StatusBadRequest
	d.Error = "Nothing was saved: correct the fields marked below."
	if !isValidation {
		status = http.StatusConflict
		d.Error = "Someone changed this connection after you opened the form. Check the values below and Save again."
	}
	return cn.render(c, status, "connection", d)
}

// deleteData is the data of sso-delete.html.
type deleteData struct {
	frame
	Conn admin.Connection
}

// confirmDelete is GET /admin/{org}/sso/{conn}/delete: are you sure?
func (cn *Console) confirmDelete(c echo.Context, p *req) error {
	conn, err := cn.svc.Connection(c.Request().Context(), p.actor, c.Param("conn"))
	if err != nil {
		return err
	}
	return cn.render(c, http.StatusOK, "sso-delete", deleteData{frame: cn.frame(p, "Delete "+conn.Name, "sso"), Conn: conn})
}

// deleteConnection is POST /admin/{org}/sso/{conn}/delete.
func (cn *Console) deleteConnection(c echo.Context, p *req) error {
	if err := cn.svc.DeleteConnection(c.Request().Context(), p.actor, c.Param("conn")); err != nil {
		return err
	}
	return seeOther(c, orgPath(p.actor.Org().Slug, "sso"), "deleted", "")
}
