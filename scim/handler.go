package scim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/throttle"
)

// Limits and defaults.
const (
	// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0;
	// larger bodies get 413.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultPageSize is the page size of a list request without count.
	DefaultPageSize = 100
	// MaxPageSize is the largest page a list request gets, whatever its count
	// (advertised as filter.maxResults in /ServiceProviderConfig).
	MaxPageSize = store.MaxPageSize
)

// Store is the part of the store the SCIM endpoint uses.
type Store interface {
	store.Users
	// UpdateUserGuarded and DeleteUserGuarded are the user writes the
	// handlers make: they count de-provisioning against the token's limit.
	UpdateUserGuarded(ctx context.Context, org store.OrgID, id store.UserID, fn func(*store.User) error, ev store.AuditEvent, g store.DeprovisionGuard) (store.User, error)
	DeleteUserGuarded(ctx context.Context, org store.OrgID, id store.UserID, ev store.AuditEvent, g store.DeprovisionGuard, pre store.VersionCheck) error
	store.Groups
	apitoken.Getter // GetToken, to verify bearer tokens
	// GetConnection reads the token's connection, for its attribute mapping.
	GetConnection(ctx context.Context, id store.ConnectionID) (store.Connection, error)
}

// Config configures the SCIM endpoint.
type Config struct {
	Store Store
	// BaseURL is the absolute SCIM base URL, e.g. "http://localhost:8080/scim/v2".
	// Its path is where the handler expects to be mounted; meta.location and
	// members' $ref are built from it.
	BaseURL string
	Logger  *slog.Logger
	// Now is the clock for audit events and the mapping cache; nil means
	// time.Now.
	Now func() time.Time
	// MaxBodyBytes limits request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MappingRecheck is how long a connection's compiled attribute mapping is
	// used before the connection is read again for changes; 0 means
	// DefaultMappingRecheck.
	MappingRecheck time.Duration
	// Limits bounds each token's requests and de-provisioning (limits.go);
	// the zero value bounds nothing. onramp serve starts from DefaultLimits.
	Limits Limits
}

// Handler is the SCIM 2.0 endpoint, an http.Handler for every path under the
// base URL's path. Mount it with Mount, or wrap it with echo.WrapHandler on
// BASEPATH and BASEPATH/* (it strips the base path itself).
type Handler struct {
	store    Store
	base     string // BaseURL without trailing slash
	prefix   string // its path, e.g. "/scim/v2"
	log      *slog.Logger
	now      func() time.Time
	maxBody  int64
	server   elimity.Server
	schemas  resourceSchemas
	patchers patchers
	quirks   *quirks
	mappings *mappings
	// rawQuirks switches the vendor normalisation off; only tests set it, to
	// show which shapes elimity itself rejects.
	rawQuirks bool
	// noFastList sends every list through elimity; only tests set it, to compare
	// the fast lookup's answers with elimity's.
	noFastList atomic.Bool
	// tokens bounds each token's request rate and requests in flight;
	// deprovision is the mass de-provisioning safety rail (limits.go).
	tokens      *throttle.Limiter
	deprovision store.DeprovisionLimit
}

// New builds the SCIM endpoint.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("scim: Config.Store is nil")
	}
	if cfg.Logger == nil {
		return nil, errors.New("scim: Config.Logger is nil")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("scim: BaseURL %q is not an absolute URL", cfg.BaseURL)
	}
	h := &Handler{
		store:   cfg.Store,
		base:    strings.TrimRight(cfg.BaseURL, "/"),
		prefix:  strings.TrimRight(base.Path, "/"),
		log:     cfg.Logger,
		now:     cfg.Now,
		maxBody: cfg.MaxBodyBytes,
		schemas: newResourceSchemas(),
	}
	if err := h.setLimits(cfg.Limits); err != nil {
		return nil, err
	}
	h.quirks = newQuirks(h.schemas)
	h.patchers = newPatchers(h.schemas)
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	recheck := cfg.MappingRecheck
	if recheck <= 0 {
		recheck = DefaultMappingRecheck
	}
	if h.mappings, err = newMappings(cfg.Store, cfg.Logger, h.now, recheck); err != nil {
		return nil, err
	}
	h.server, err = elimity.NewServer(&elimity.ServerArgs{
		ServiceProviderConfig: &elimity.ServiceProviderConfig{
			MaxResults:       MaxPageSize,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []elimity.ResourceType{
			{
				ID:          optional.NewString("User"),
				Name:        "User",
				Endpoint:    "/Users",
				Description: optional.NewString("User Account"),
				Schema:      h.schemas.user,
				SchemaExtensions: []elimity.SchemaExtension{
					{Schema: h.schemas.enterprise},
				},
				Handler: userHandler{h},
			},
			{
				ID:          optional.NewString("Group"),
				Name:        "Group",
				Endpoint:    "/Groups",
				Description: optional.NewString("Group"),
				Schema:      h.schemas.group,
				Handler:     groupHandler{h},
			},
		},
	}, elimity.WithBaseURL(h.base), elimity.WithLogger(elimityLogger{h.log}))
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	return h, nil
}

// Mount registers the handler on e at the base URL's path, for every method.
func (h *Handler) Mount(e *echo.Echo) {
	wrapped := echo.WrapHandler(h)
	e.Any(h.prefix, wrapped)
	e.Any(h.prefix+"/*", wrapped)
}

// ServeHTTP authenticates the request, enforces the body limit, normalises
// vendor quirks and hands the request to elimity.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := requestID(w, r)
	ctx := withRequestID(r.Context(), rid)
	defer func() {
		if v := recover(); v != nil {
			h.log.ErrorContext(ctx, "scim: panic", "request_id", rid, "panic", fmt.Sprint(v))
			writeError(w, internalError(ctx))
		}
	}()

	rel, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok || (rel != "" && rel[0] != '/') {
		writeError(w, scimerrors.ScimError{Detail: "Specified endpoint does not exist.", Status: http.StatusNotFound})
		return
	}
	if rel == "" {
		rel = "/"
	}

	tenant, scimErr := h.authenticate(ctx, r)
	if scimErr != nil {
		if scimErr.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		}
		writeError(w, *scimErr)
		return
	}
	ctx = WithTenant(ctx, tenant)
	release, ok := h.admit(ctx, w, tenant)
	if !ok {
		return
	}
	defer release()
	ov := &override{}
	ctx = withOverride(ctx, ov)
	w = &overrideWriter{ResponseWriter: w, ov: ov}

	body, scimErr := h.readBody(r)
	if scimErr != nil {
		writeError(w, *scimErr)
		return
	}

	req := r.Clone(ctx)
	req.URL.Path, req.URL.RawPath = rel, ""
	if scimErr := h.prepare(req, &body); scimErr != nil {
		writeError(w, *scimErr)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))

	if req.Method == http.MethodGet && rel == "/ServiceProviderConfig" {
		h.serviceProviderConfig(w)
		return
	}
	if req.Method == http.MethodGet && req.URL.Path == "/Users" && !h.noFastList.Load() && h.serveFastUserList(w, req) {
		return
	}
	if req.Method == http.MethodGet && (req.URL.Path == "/Users" || req.URL.Path == "/Groups") {
		lw := &listWriter{header: w.Header()}
		h.server.ServeHTTP(lw, req)
		lw.flush(w)
		return
	}
	h.server.ServeHTTP(w, req)
}

// listWriter holds a list response back to correct it: elimity reports the
// requested count as itemsPerPage, RFC 7644 section 3.4.2 wants the number of
// resources in the page, and it writes an empty page as "Resources": null.
type listWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (lw *listWriter) Header() http.Header { return lw.header }

func (lw *listWriter) WriteHeader(status int) {
	if lw.status == 0 {
		lw.status = status
	}
}

func (lw *listWriter) Write(b []byte) (int, error) {
	lw.WriteHeader(http.StatusOK)
	return lw.body.Write(b)
}

func (lw *listWriter) flush(w http.ResponseWriter) {
	body := lw.body.Bytes()
	if lw.status == http.StatusOK {
		if fixed, ok := fixListResponse(body); ok {
			body = fixed
		}
	}
	if lw.status == 0 {
		lw.status = http.StatusOK
	}
	w.WriteHeader(lw.status)
	_, _ = w.Write(body)
}

func fixListResponse(body []byte) ([]byte, bool) {
	doc, ok := decodeObject(body)
	if !ok {
		return nil, false
	}
	resources, _ := doc["Resources"].([]any)
	if resources == nil {
		resources = []any{}
	}
	doc["Resources"] = resources
	doc["itemsPerPage"] = len(resources)
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, false
	}
	return out, true
}

// requestID returns the request's ID: the one an outer middleware (the server's
// request-ID middleware) already set on the response, else a well-formed incoming
// X-Request-ID, else a new one, echoed in the response.
func requestID(w http.ResponseWriter, r *http.Request) string {
	const header = "X-Request-ID"
	if id := w.Header().Get(header); validRequestID(id) {
		return id
	}
	id := r.Header.Get(header)
	if !validRequestID(id) {
		var b [16]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		id = hex.EncodeToString(b[:])
	}
	w.Header().Set(header, id)
	return id
}

// validRequestID accepts 1 to 64 characters of [A-Za-z0-9._-], so that a client
// cannot forge log lines through its request ID.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// authenticate verifies the bearer token. A missing or bad token is 401; a store
// failure is 503, so that an IdP retries instead of disabling the integration.
func (h *Handler) authenticate(ctx context.Context, r *http.Request) (Tenant, *scimerrors.ScimError) {
	unauthorized := &scimerrors.ScimError{
		Detail: "A valid bearer token is required (Authorization: Bearer <token>).",
		Status: http.StatusUnauthorized,
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		h.log.InfoContext(ctx, "scim: request without bearer token", "request_id", requestIDFrom(ctx))
		return Tenant{}, unauthorized
	}
	t, err := apitoken.Verify(ctx, h.store, store.TokenSCIM, token)
	switch {
	case errors.Is(err, apitoken.ErrInvalid):
		h.log.InfoContext(ctx, "scim: invalid bearer token", "request_id", requestIDFrom(ctx))
		return Tenant{}, unauthorized
	case err != nil:
		h.log.ErrorContext(ctx, "scim: verify bearer token", "request_id", requestIDFrom(ctx), "error", err)
		return Tenant{}, &scimerrors.ScimError{
			Detail: "The service is temporarily unavailable, reference " + requestIDFrom(ctx),
			Status: http.StatusServiceUnavailable,
		}
	case t.OrgID == "" || t.ConnectionID == "":
		h.log.WarnContext(ctx, "scim: token without organization or connection", "request_id", requestIDFrom(ctx), "token", t.ID)
		return Tenant{}, unauthorized
	}
	return Tenant{Org: t.OrgID, Connection: t.ConnectionID, Token: t.ID}, nil
}

// readBody reads the whole body, refusing more than maxBody bytes with 413.
func (h *Handler) readBody(r *http.Request) ([]byte, *scimerrors.ScimError) {
	tooLarge := &scimerrors.ScimError{
		Detail: fmt.Sprintf("The request body is larger than %d bytes.", h.maxBody),
		Status: http.StatusRequestEntityTooLarge,
	}
	if r.ContentLength > h.maxBody {
		return nil, tooLarge
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxBody+1))
	if err != nil {
		return nil, &scimerrors.ScimError{Detail: "The request body could not be read.", Status: http.StatusBadRequest}
	}
	if int64(len(body)) > h.maxBody {
		return nil, tooLarge
	}
	return body, nil
}

// prepare adapts a request for elimity: POST …/.search becomes the equivalent
// GET (elimity validates .search filters without the common attributes id,
// externalId and meta, which IdPs filter on), list requests without count get
// DefaultPageSize (elimity would use its maximum), root queries are refused
// (there is no cross-resource search), and vendor quirks are normalised.
func (h *Handler) prepare(r *http.Request, body *[]byte) *scimerrors.ScimError {
	path := r.URL.Path
	if path == "/Bulk" {
		return &scimerrors.ScimError{Detail: "Bulk operations are not supported.", Status: http.StatusNotImplemented}
	}
	if path == "/" || path == "/.search" {
		return &scimerrors.ScimError{Detail: "Queries against the service provider root are not supported; query /Users or /Groups.", Status: http.StatusNotImplemented}
	}
	if r.Method == http.MethodPost && (path == "/Users/.search" || path == "/Groups/.search") {
		q, scimErr := searchQuery(*body)
		if scimErr != nil {
			return scimErr
		}
		r.Method = http.MethodGet
		r.URL.Path = strings.TrimSuffix(path, "/.search")
		r.URL.RawQuery = q.Encode()
		*body = nil
		path = r.URL.Path
	}
	if r.Method == http.MethodGet && (path == "/Users" || path == "/Groups") {
		q := r.URL.Query()
		if f := q.Get("filter"); len(f) > MaxFilterLength {
			e := scimerrors.ScimErrorInvalidFilter
			e.Detail = fmt.Sprintf("The filter is longer than %d bytes.", MaxFilterLength)
			return &e
		}
		if q.Get("count") == "" {
			q.Set("count", strconv.Itoa(DefaultPageSize))
		}
		if f := q.Get("filter"); f != "" && !h.rawQuirks {
			if nf, changed := h.quirks.filter(f); changed {
				q.Set("filter", nf)
			}
		}
		r.URL.RawQuery = q.Encode()
		return nil
	}
	if h.rawQuirks {
		return nil
	}
	switch {
	case (r.Method == http.MethodPost && path == "/Users") || (r.Method == http.MethodPut && strings.HasPrefix(path, "/Users/")):
		*body, _ = h.quirks.userResource(*body)
	case r.Method == http.MethodPatch && strings.HasPrefix(path, "/Users/"):
		*body, _ = h.quirks.userPatch(*body)
	}
	return nil
}

// searchQuery turns a SearchRequest body (RFC 7644 section 3.4.3) into the
// query of the equivalent GET.
func searchQuery(body []byte) (url.Values, *scimerrors.ScimError) {
	var sr struct {
		Schemas            []string `json:"schemas"`
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
		Filter             string   `json:"filter"`
		StartIndex         *int     `json:"startIndex"`
		Count              *int     `json:"count"`
	}
	if err := json.Unmarshal(body, &sr); err != nil {
		e := scimerrors.ScimErrorInvalidSyntax
		return nil, &e
	}
	const searchRequest = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	if len(sr.Schemas) != 1 || sr.Schemas[0] != searchRequest {
		e := scimerrors.ScimErrorInvalidValue
		e.Detail = "A search request must have schemas [\"" + searchRequest + "\"]."
		return nil, &e
	}
	q := url.Values{}
	if sr.Filter != "" {
		q.Set("filter", sr.Filter)
	}
	if len(sr.Attributes) > 0 {
		q.Set("attributes", strings.Join(sr.Attributes, ","))
	}
	if len(sr.ExcludedAttributes) > 0 {
		q.Set("excludedAttributes", strings.Join(sr.ExcludedAttributes, ","))
	}
	if sr.StartIndex != nil {
		q.Set("startIndex", strconv.Itoa(*sr.StartIndex))
	}
	if sr.Count != nil {
		q.Set("count", strconv.Itoa(*sr.Count))
	}
	return q, nil
}

// serviceProviderConfig answers GET /ServiceProviderConfig truthfully (elimity's
// own says etag unsupported and advertises bulk limits).
func (h *Handler) serviceProviderConfig(w http.ResponseWriter) {
	doc := map[string]any{
		"schemas":        []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"patch":          map[string]any{"supported": true},
		"bulk":           map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":         map[string]any{"supported": true, "maxResults": MaxPageSize},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": false},
		"etag":           map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "A SCIM bearer token issued by onramp for one SSO connection (onramp token create --scim).",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     h.base + "/ServiceProviderConfig",
		},
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		writeError(w, scimerrors.ScimErrorInternal)
		return
	}
	w.Header().Set("Content-Type", "application/scim+json")
	_, _ = w.Write(raw)
}

// writeError writes a SCIM error body.
func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	raw, err := json.Marshal(e)
	if err != nil {
		raw = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500"}`)
		e.Status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(raw)
}

// fail maps err for elimity (nil stays nil) and logs what the client is not
// told: the full cause of every 500.
func (h *Handler) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	e := toSCIMError(ctx, err)
	var held *store.HeldError
	switch {
	case errors.As(err, &held):
		h.log.WarnContext(ctx, "scim: de-provisioning held", "request_id", requestIDFrom(ctx), "hold", held.Hold.ID,
			"token", held.Hold.TokenID, "new_hold", held.New)
		if setOverride(ctx, e, strconv.Itoa(int(HeldRetryAfter/time.Second))) {
			// What elimity writes is replaced by e; it only needs an error
			// it accepts for every operation.
			return scimerrors.ScimErrorInternal
		}
	case e.Status >= http.StatusInternalServerError:
		h.log.ErrorContext(ctx, "scim: request failed", "request_id", requestIDFrom(ctx), "error", err)
	default:
		h.log.DebugContext(ctx, "scim: request refused", "request_id", requestIDFrom(ctx), "status", e.Status, "scim_type", string(e.ScimType))
	}
	return e
}

// tenant returns the request's tenant; the middleware guarantees one.
func tenant(ctx context.Context) (Tenant, error) {
	t, ok := TenantFrom(ctx)
	if !ok {
		return Tenant{}, errors.New("scim: no tenant in context")
	}
	return t, nil
}

// event is the audit event for a change made by the request's token.
func (h *Handler) event(ctx context.Context, t Tenant, action string) store.AuditEvent {
	return store.AuditEvent{
		Time:         h.now().UTC(),
		Actor:        t.actor(),
		Action:       action,
		ConnectionID: t.Connection,
		Detail:       map[string]string{"request_id": requestIDFrom(ctx)},
	}
}

// elimityLogger adapts slog for elimity. elimity passes whole resources as log
// arguments; only the message and the error are kept, never the data.
type elimityLogger struct{ log *slog.Logger }

func (l elimityLogger) Error(args ...any) {
	msg, attrs := "scim: elimity", []any{}
	if len(args) > 0 {
		if s, ok := args[0].(string); ok {
			msg += ": " + s
		}
	}
	for i := 1; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "error" {
			attrs = append(attrs, "error", args[i+1])
		}
	}
	l.log.Error(msg, attrs...)
}
