package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Prefix is where the admin API is served (BASE/api/v1).
const Prefix = "/api/v1"

// Request body limits: small JSON documents, and the two that carry pasted
// XML (IdP metadata, a SAML response to preview) of up to 1 MiB each, base64
// and JSON escaping included.
const (
	maxBody      = 64 << 10
	maxLargeBody = 4 << 20
)

// headerRequestID is the response header the server's request-ID middleware
// sets (package server); errors quote it.
const headerRequestID = "X-Request-ID"

// ErrUnsupportedMediaType: a body that is not JSON (or, where accepted,
// multipart/form-data).
var ErrUnsupportedMediaType = errors.New("admin: unsupported media type")

// API is the admin JSON API over HTTP: the echo edge of a Service. It
// authenticates and authorizes every request under /api/v1/orgs/{org},
// enforces CSRF for cookie-authenticated changes, decodes and bounds bodies,
// and maps errors to status codes (httpStatus) and JSON bodies:
//
//	{"error": "invalid input", "fields": {"slug": "…"}, "request_id": "…"}
//
// A 5xx body is always "internal error, reference <request-id>"; its cause goes
// to the log.
type API struct {
	svc    *Service
	logger *slog.Logger
}

// NewAPI returns the HTTP API of svc; logger may be nil.
func NewAPI(svc *Service, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{svc: svc, logger: logger}
}

// Register adds the API's routes to e. Each route is added on its own (no
// echo group middleware, which would add catch-all routes), so e.Routes()
// lists exactly the documented operations.
func (h *API) Register(e *echo.Echo) {
	e.GET(Prefix+"/openapi.json", h.openAPI)
	e.GET(Prefix+"/csrf-token", h.csrfToken)
	for _, r := range h.routes() {
		e.Add(r.method, Prefix+"/orgs/:org"+r.path, h.org(r.fn))
	}
}

// route is an operation on an organization's resources.
type route struct {
	method, path string
	fn           func(c echo.Context, a Actor) error
}

func (h *API) routes() []route {
	return []route{
		{http.MethodGet, "/onboarding", h.getOnboarding},
		{http.MethodPut, "/onboarding", h.putOnboarding},
		{http.MethodGet, "/access-control", h.getAccessControl},
		{http.MethodPut, "/access-control", h.putAccessControl},
		{http.MethodGet, "/connections", h.listConnections},
		{http.MethodPost, "/connections", h.createConnection},
		{http.MethodGet, "/connections/:conn", h.getConnection},
		{http.MethodPut, "/connections/:conn", h.putConnection},
		{http.MethodPatch, "/connections/:conn", h.patchConnection},
		{http.MethodDelete, "/connections/:conn", h.deleteConnection},
		{http.MethodGet, "/connections/:conn/authentication", h.getAuthentication},
		{http.MethodPut, "/connections/:conn/authentication", h.putAuthentication},
		{http.MethodGet, "/connections/:conn/sp-metadata", h.spMetadata},
		{http.MethodGet, "/connections/:conn/sp-certificates", h.spCertificates},
		{http.MethodPost, "/connections/:conn/sp-certificates/rollover", h.startSPRollover},
		{http.MethodPost, "/connections/:conn/sp-certificates/activate", h.activateSPRollover},
		{http.MethodDelete, "/connections/:conn/sp-certificates/rollover", h.finishSPRollover},
		{http.MethodGet, "/connections/:conn/mapping", h.getMapping},
		{http.MethodPut, "/connections/:conn/mapping", h.putMapping},
		{http.MethodPut, "/connections/:conn/mapping/preset", h.putPreset},
		{http.MethodPost, "/connections/:conn/mapping/preview", h.preview},
		{http.MethodGet, "/connections/:conn/scim-tokens", h.listTokens},
		{http.MethodPost, "/connections/:conn/scim-tokens", h.createToken},
		{http.MethodDelete, "/connections/:conn/scim-tokens/:token", h.revokeToken},
		{http.MethodGet, "/mapping-presets", h.presets},
		{http.MethodGet, "/users", h.listUsers},
		{http.MethodGet, "/users/:user", h.getUser},
		{http.MethodGet, "/groups", h.listGroups},
		{http.MethodGet, "/groups/:group", h.getGroup},
		{http.MethodGet, "/audit-events", h.auditEvents},
		{http.MethodGet, "/scim-holds", h.listHolds},
		{http.MethodPost, "/scim-holds/:hold/release", h.releaseHold},
	}
}

// org wraps an organization operation: authenticate, authorize for the
// path's organization, check CSRF, run, and render any error.
func (h *API) org(fn func(c echo.Context, a Actor) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ctx := r.Context()
		c.Response().Header().Set("Cache-Control", "no-store")
		p, err := h.svc.Authenticate(ctx, r)
		if err != nil {
			return h.fail(c, err)
		}
		a, err := h.svc.Authorize(ctx, p, c.Param("org"))
		if err != nil {
			return h.fail(c, err)
		}
		if a.session && !safeMethod(r.Method) {
			if err := CheckCSRF(r, r.Header.Get(CSRFHeader)); err != nil {
				return h.fail(c, err)
			}
		}
		if err := fn(c, a); err != nil {
			return h.fail(c, err)
		}
		return nil
	}
}

// errorJSON is the body of every error answer.
type errorJSON struct {
	Error     string            `json:"error"`
	Fields    map[string]string `json:"fields,omitempty"`
	RequestID string            `json:"request_id"`
}

// fail renders err. It returns nil: the answer is written here, so that
// echo's error handler never sees the cause.
func (h *API) fail(c echo.Context, err error) error {
	ctx := c.Request().Context()
	code := httpStatus(err)
	id := c.Response().Header().Get(headerRequestID)
	body := errorJSON{Error: errorMessage(code, err), RequestID: id}
	switch {
	case code >= http.StatusInternalServerError:
		h.logger.ErrorContext(ctx, "admin: request failed", "path", c.Path(), "status", code, "err", err, "request_id", id)
		body.Error = "internal error, reference " + id
	default:
		var ve *ValidationError
		if errors.As(err, &ve) {
			body.Fields = ve.Fields
		}
		h.logger.DebugContext(ctx, "admin: request refused", "path", c.Path(), "status", code, "err", err)
	}
	if code == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="onramp admin API"`)
	}
	if c.Response().Committed {
		return nil
	}
	if werr := c.JSON(code, body); werr != nil {
		h.logger.DebugContext(ctx, "admin: writing error response", "err", werr)
	}
	return nil
}

// decodeJSON reads a JSON body of at most limit bytes into v, strictly:
// unknown fields and trailing data are errors naming what is wrong.
func decodeJSON(c echo.Context, limit int64, v any) error {
	r := c.Request()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fmt.Errorf("%w: want application/json", ErrUnsupportedMediaType)
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("body", "unexpected data after the JSON document")
	}
	return nil
}

// jsonError describes a decoding error for the client.
func jsonError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &se):
		return invalid("body", "not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return invalid(field, "must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", "empty or truncated JSON document")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalid("body", "unknown field %s", f)
	}
	return invalid("body", "not a valid request document")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return "a number"
}

// ifMatch returns the If-Match precondition's version ("" for none or "*").
func ifMatch(c echo.Context) string {
	v := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if v == "*" {
		return ""
	}
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

func setETag(c echo.Context, version string) {
	c.Response().Header().Set("ETag", `"`+version+`"`)
}

// queryInt reads an optional integer query parameter.
func queryInt(c echo.Context, fe fieldErrors, name string) int {
	v := c.QueryParam(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fe.add(name, "must be an integer")
	}
	return n
}

// queryTime reads an optional RFC 3339 time query parameter.
func queryTime(c echo.Context, fe fieldErrors, name string) time.Time {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		fe.add(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t
}

// Handlers, one per operation. Each decodes its input, calls the service and
// writes the result; errors go back to org, which renders them.

func (h *API) getOnboarding(c echo.Context, a Actor) error {
	o, err := h.svc.Onboarding(c.Request().Context(), a)
	if err != nil {
		return err
	}
	setETag(c, o.Version)
	return c.JSON(http.StatusOK, o)
}

func (h *API) putOnboarding(c echo.Context, a Actor) error {
	var in struct {
		JIT           JIT           `json:"jit"`
		AccessControl AccessControl `json:"accessControl"`
	}
	if err := decodeJSON(c, maxBody, &in); err != nil {
		return err
	}
	o, err := h.svc.UpdateOnboarding(c.Request().Context(), a, Onboarding{JIT: in.JIT, AccessControl: in.AccessControl}, ifMatch(c))
	if err != nil {
		return err
	}
	setETag(c, o.Version)
	return c.JSON(http.StatusOK, o)
}

// accessControlJSON is the access-control resource: the list and its version.
type accessControlJSON struct {
	AccessControl
	Version string `json:"version"`
}

func (h *API) getAccessControl(c echo.Context, a Actor) error {
	acl, v, err := h.svc.AccessControl(c.Request().Context(), a)
	if err != nil {
		return err
	}
	setETag(c, v)
	return c.JSON(http.StatusOK, accessControlJSON{acl, v})
}

func (h *API) putAccessControl(c echo.Context, a Actor) error {
	var in AccessControl
	if err := decodeJSON(c, maxBody, &in); err != nil {
		return err
	}
	acl, v, err := h.svc.UpdateAccessControl(c.Request().Context(), a, in, ifMatch(c))
	if err != nil {
		return err
	}
	setETag(c, v)
	return c.JSON(http.StatusOK, accessControlJSON{acl, v})
}

func (h *API) listConnections(c echo.Context, a Actor) error {
	cs, err := h.svc.ListConnections(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"connections": cs})
}

func (h *API) connectionURL(a Actor, slug string) string {
	return Prefix + "/orgs/" + a.org.Slug + "/connections/" + slug
}

func (h *API) createConnection(c echo.Context, a Actor) error {
	var in ConnectionInput
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		var err error
		if in, err = connectionForm(c); err != nil {
			return err
		}
	} else if err := decodeJSON(c, maxLargeBody, &in); err != nil {
		return err
	}
	conn, err := h.svc.CreateConnection(c.Request().Context(), a, in)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", h.connectionURL(a, conn.Slug))
	setETag(c, conn.Version)
	return c.JSON(http.StatusCreated, conn)
}

// connectionForm reads a connection from an HTML-style multipart upload:
// fields slug, name, jitProvisioning, allowIdpInitiated, mappingPreset and the
// IdP metadata as the file idpMetadata (or the text field idpMetadataXml).
// A checkbox's "on" counts as true.
func connectionForm(c echo.Context) (ConnectionInput, error) {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxLargeBody)
	if err := r.ParseMultipartForm(maxLargeBody); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ConnectionInput{}, err
		}
		return ConnectionInput{}, invalid("body", "not a valid multipart/form-data body")
	}
	fe := fieldErrors{}
	boolean := func(name string) bool {
		switch strings.ToLower(r.FormValue(name)) {
		case "", "false", "off", "0":
			return false
		case "true", "on", "1":
			return true
		}
		fe.add(name, "must be true or false")
		return false
	}
	in := ConnectionInput{
		Slug: r.FormValue("slug"), Name: r.FormValue("name"), IdPMetadataXML: r.FormValue("idpMetadataXml"),
		Authentication: Authentication{JITProvisioning: boolean("jitProvisioning"), AllowIdPInitiated: boolean("allowIdpInitiated")},
	}
	if p := r.FormValue("mappingPreset"); p != "" {
		in.Mapping = &MappingInput{Preset: p}
	}
	if f, _, err := r.FormFile("idpMetadata"); err == nil {
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxMetadataSize+1))
		if err != nil {
			return ConnectionInput{}, fmt.Errorf("admin: read upload: %w", err)
		}
		if in.IdPMetadataXML != "" {
			fe.add("idpMetadata", "send the metadata as a file or as idpMetadataXml, not both")
		}
		in.IdPMetadataXML = string(data)
	} else if !errors.Is(err, http.ErrMissingFile) {
		fe.add("idpMetadata", "not a readable file upload")
	}
	return in, fe.err()
}

func (h *API) getConnection(c echo.Context, a Actor) error {
	conn, err := h.svc.Connection(c.Request().Context(), a, c.Param("conn"))
	if err != nil {
		return err
	}
	setETag(c, conn.Version)
	return c.JSON(http.StatusOK, conn)
}

func (h *API) putConnection(c echo.Context, a Actor) error {
	var in ConnectionInput
	if err := decodeJSON(c, maxLargeBody, &in); err != nil {
		return err
	}
	return h.connectionResult(c, a)(h.svc.ReplaceConnection(c.Request().Context(), a, c.Param("conn"), in, ifMatch(c)))
}

func (h *API) patchConnection(c echo.Context, a Actor) error {
	var p ConnectionPatch
	if err := decodeJSON(c, maxLargeBody, &p); err != nil {
		return err
	}
	return h.connectionResult(c, a)(h.svc.PatchConnection(c.Request().Context(), a, c.Param("conn"), p, ifMatch(c)))
}

// connectionResult writes an updated connection, with a Location when its
// slug changed.
func (h *API) connectionResult(c echo.Context, a Actor) func(Connection, error) error {
	return func(conn Connection, err error) error {
		if err != nil {
			return err
		}
		if conn.Slug != c.Param("conn") {
			c.Response().Header().Set("Location", h.connectionURL(a, conn.Slug))
		}
		setETag(c, conn.Version)
		return c.JSON(http.StatusOK, conn)
	}
}

func (h *API) deleteConnection(c echo.Context, a Actor) error {
	if err := h.svc.DeleteConnection(c.Request().Context(), a, c.Param("conn")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// authenticationJSON is the authentication resource.
type authenticationJSON struct {
	Authentication
	Version string `json:"version"`
}

func (h *API) getAuthentication(c echo.Context, a Actor) error {
	conn, err := h.svc.Connection(c.Request().Context(), a, c.Param("conn"))
	if err != nil {
		return err
	}
	setETag(c, conn.Version)
	return c.JSON(http.StatusOK, authenticationJSON{conn.Authentication, conn.Version})
}

func (h *API) putAuthentication(c echo.Context, a Actor) error {
	var in Authentication
	if err := decodeJSON(c, maxBody, &in); err != nil {
		return err
	}
	conn, err := h.svc.SetAuthentication(c.Request().Context(), a, c.Param("conn"), in, ifMatch(c))
	if err != nil {
		return err
	}
	setETag(c, conn.Version)
	return c.JSON(http.StatusOK, authenticationJSON{conn.Authentication, conn.Version})
}

func (h *API) spMetadata(c echo.Context, a Actor) error {
	md, err := h.svc.SPMetadata(c.Request().Context(), a, c.Param("conn"))
	if err != nil {
		return err
	}
	name := fmt.Sprintf("onramp-%s-%s-sp-metadata.xml", a.org.Slug, c.Param("conn"))
	c.Response().Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	return c.Blob(http.StatusOK, "application/samlmetadata+xml", md)
}

// The SP certificate rollover: GET the certificates, then POST rollover
// (start), POST activate, DELETE rollover (finish, or cancel before
// activating). Each answers the certificates as they are after it.

func (h *API) spCertificates(c echo.Context, a Actor) error {
	certs, err := h.svc.SPCertificates(c.Request().Context(), a, c.Param("conn"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, certs)
}

func (h *API) startSPRollover(c echo.Context, a Actor) error {
	certs, err := h.svc.StartSPRollover(c.Request().Context(), a, c.Param("conn"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", h.connectionURL(a, c.Param("conn"))+"/sp-certificates")
	return c.JSON(http.StatusCreated, certs)
}

func (h *API) activateSPRollover(c echo.Context, a Actor) error {
	certs, err := h.svc.ActivateSPRollover(c.Request().Context(), a, c.Param("conn"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, certs)
}

func (h *API) finishSPRollover(c echo.Context, a Actor) error {
	certs, err := h.svc.FinishSPRollover(c.Request().Context(), a, c.Param("conn"), "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, certs)
}

func (h *API) getMapping(c echo.Context, a Actor) error {
	m, err := h.svc.Mapping(c.Request().Context(), a, c.Param("conn"))
	if err != nil {
		return err
	}
	setETag(c, m.Version)
	return c.JSON(http.StatusOK, m)
}

func (h *API) putMapping(c echo.Context, a Actor) error {
	var in MappingInput
	if err := decodeJSON(c, maxBody, &in); err != nil {
		return err
	}
	m, err := h.svc.SetMapping(c.Request().Context(), a, c.Param("conn"), in, ifMatch(c))
	if err != nil {
		return err
	}
	setETag(c, m.Version)
	return c.JSON(http.StatusOK, m)
}

func (h *API) putPreset(c echo.Context, a Actor) error {
	var in struct {
		Preset        string `json:"preset"`
		KeepOverrides bool   `json:"keepOverrides"`
	}
	if err := decodeJSON(c, maxBody, &in); err != nil {
		return err
	}
	m, err := h.svc.ChoosePreset(c.Request().Context(), a, c.Param("conn"), in.Preset, in.KeepOverrides, ifMatch(c))
	if err != nil {
		return err
	}
	setETag(c, m.Version)
	return c.JSON(http.StatusOK, m)
}

func (h *API) preview(c echo.Context, a Actor) error {
	var in PreviewInput
	if err := decodeJSON(c, maxLargeBody, &in); err != nil {
		return err
	}
	p, err := h.svc.Preview(c.Request().Context(), a, c.Param("conn"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (h *API) presets(c echo.Context, _ Actor) error {
	ps, err := h.svc.Presets()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"presets": ps})
}

func (h *API) listTokens(c echo.Context, a Actor) error {
	ts, err := h.svc.ListSCIMTokens(c.Request().Context(), a, c.Param("conn"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": ts})
}

func (h *API) createToken(c echo.Context, a Actor) error {
	var in struct {
		Description string `json:"description"`
	}
	if err := decodeJSON(c, maxBody, &in); err != nil {
		return err
	}
	t, err := h.svc.CreateSCIMToken(c.Request().Context(), a, c.Param("conn"), in.Description)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", h.connectionURL(a, c.Param("conn"))+"/scim-tokens/"+t.ID)
	return c.JSON(http.StatusCreated, t)
}

func (h *API) revokeToken(c echo.Context, a Actor) error {
	if err := h.svc.RevokeSCIMToken(c.Request().Context(), a, c.Param("conn"), c.Param("token")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *API) listUsers(c echo.Context, a Actor) error {
	fe := fieldErrors{}
	q := UserQuery{
		Status: c.QueryParam("status"), Source: c.QueryParam("source"), Text: c.QueryParam("q"),
		StartIndex: queryInt(c, fe, "startIndex"), Count: queryInt(c, fe, "count"),
	}
	if err := fe.err(); err != nil {
		return err
	}
	l, err := h.svc.ListUsers(c.Request().Context(), a, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

func (h *API) getUser(c echo.Context, a Actor) error {
	u, err := h.svc.User(c.Request().Context(), a, c.Param("user"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

func (h *API) listGroups(c echo.Context, a Actor) error {
	fe := fieldErrors{}
	start, count := queryInt(c, fe, "startIndex"), queryInt(c, fe, "count")
	if err := fe.err(); err != nil {
		return err
	}
	l, err := h.svc.ListGroups(c.Request().Context(), a, c.QueryParam("q"), start, count)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

func (h *API) getGroup(c echo.Context, a Actor) error {
	g, err := h.svc.Group(c.Request().Context(), a, c.Param("group"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

func (h *API) auditEvents(c echo.Context, a Actor) error {
	fe := fieldErrors{}
	q := AuditQuery{
		Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), User: c.QueryParam("user"),
		Since: queryTime(c, fe, "since"), Until: queryTime(c, fe, "until"),
		Cursor: c.QueryParam("cursor"), Limit: queryInt(c, fe, "limit"),
	}
	if err := fe.err(); err != nil {
		return err
	}
	l, err := h.svc.AuditLog(c.Request().Context(), a, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

// csrfToken answers the CSRF token of the caller's session (401 without a
// live session). Any signed-in user may ask; the token is useless without the
// cookie it is derived from.
func (h *API) csrfToken(c echo.Context) error {
	r := c.Request()
	c.Response().Header().Set("Cache-Control", "no-store")
	p, err := h.svc.Authenticate(r.Context(), r)
	if err == nil && !p.Session {
		err = fmt.Errorf("admin: a bearer token has no CSRF token (it needs none): %w", ErrUnauthenticated)
	}
	if err != nil {
		return h.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"csrfToken": CSRFToken(r), "header": CSRFHeader})
}
