package patch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// The tests run PATCH bodies through elimity's own request parsing and
// validation, as onramp's handlers receive them: a real elimity server whose
// ResourceHandler records the []scim.PatchOperation it is given.

// resourceKind names an elimity resource type of the test server.
type resourceKind string

const (
	users  resourceKind = "Users"
	groups resourceKind = "Groups"
)

// schemasFor returns the schema and extensions Apply gets for a resource kind,
// the same ones the elimity test server validates against.
func schemasFor(kind resourceKind) (schema.Schema, []schema.Schema) {
	if kind == groups {
		return schema.CoreGroupSchema(), nil
	}
	return schema.CoreUserSchema(), []schema.Schema{schema.ExtensionEnterpriseUser()}
}

// recording receives the operations elimity hands to Patch.
type recording struct {
	mu     sync.Mutex
	called bool
	ops    []scim.PatchOperation
}

type recordingKey struct{}

// recorder is a scim.ResourceHandler that only implements Patch: it stores
// the operations in the recording found in the request context.
type recorder struct{}

var errNotImplemented = scimerrors.ScimError{Status: http.StatusNotImplemented}

func (recorder) Create(*http.Request, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, errNotImplemented
}

func (recorder) Get(*http.Request, string) (scim.Resource, error) {
	return scim.Resource{}, errNotImplemented
}

func (recorder) GetAll(*http.Request, scim.ListRequestParams) (scim.Page, error) {
	return scim.Page{}, errNotImplemented
}

func (recorder) Replace(*http.Request, string, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, errNotImplemented
}

func (recorder) Delete(*http.Request, string) error { return errNotImplemented }

func (recorder) Patch(r *http.Request, _ string, ops []scim.PatchOperation) (scim.Resource, error) {
	rec, ok := r.Context().Value(recordingKey{}).(*recording)
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorInternal
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.called = true
	rec.ops = ops
	return scim.Resource{}, nil // 204 No Content
}

// newElimityServer builds the elimity server: Users with the enterprise
// extension, and Groups, as onramp serves them.
func newElimityServer(tb testing.TB) scim.Server {
	tb.Helper()
	userSchema, userExts := schemasFor(users)
	groupSchema, _ := schemasFor(groups)
	var exts []scim.SchemaExtension
	for _, e := range userExts {
		exts = append(exts, scim.SchemaExtension{Schema: e})
	}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{SupportPatch: true},
		ResourceTypes: []scim.ResourceType{
			{
				ID:               optional.NewString("User"),
				Name:             "User",
				Endpoint:         "/Users",
				Schema:           userSchema,
				SchemaExtensions: exts,
				Handler:          recorder{},
			},
			{
				ID:       optional.NewString("Group"),
				Name:     "Group",
				Endpoint: "/Groups",
				Schema:   groupSchema,
				Handler:  recorder{},
			},
		},
	})
	if err != nil {
		tb.Fatalf("elimity server: %v", err)
	}
	return srv
}

// withRecording serves h with rec in every request's context.
func withRecording(h http.Handler, rec *recording) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), recordingKey{}, rec)))
	})
}

// rejection is elimity's answer when it refuses a PATCH body before any
// handler sees it.
type rejection struct {
	Status   int    `json:"status"`
	ScimType string `json:"scimType,omitempty"`
}

func newPatchRequest(ctx context.Context, base string, kind resourceKind, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, base+"/"+string(kind)+"/2819c223-7f76-453a-919d-413861904646", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/scim+json")
	return req, nil
}

// opsOverHTTP sends body as a PATCH to a real HTTP server running elimity and
// returns the operations the handler received, or elimity's rejection.
func opsOverHTTP(t *testing.T, kind resourceKind, body []byte) ([]scim.PatchOperation, *rejection) {
	t.Helper()
	rec := &recording{}
	ts := httptest.NewServer(withRecording(newElimityServer(t), rec))
	t.Cleanup(ts.Close)

	req, err := newPatchRequest(t.Context(), ts.URL, kind, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("PATCH: %v", err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	ops, rej, err := outcome(rec, resp.StatusCode, respBody)
	if err != nil {
		t.Fatal(err)
	}
	return ops, rej
}

// opsInProcess is opsOverHTTP without the network, for the fuzz target: the
// same elimity server, called through ServeHTTP.
func opsInProcess(ctx context.Context, srv http.Handler, kind resourceKind, body []byte) ([]scim.PatchOperation, *rejection, error) {
	rec := &recording{}
	req, err := newPatchRequest(ctx, "http://onramp.test", kind, body)
	if err != nil {
		return nil, nil, err
	}
	w := httptest.NewRecorder()
	withRecording(srv, rec).ServeHTTP(w, req)
	return outcome(rec, w.Code, w.Body.Bytes())
}

func outcome(rec *recording, status int, body []byte) ([]scim.PatchOperation, *rejection, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.called {
		if status != http.StatusNoContent {
			return nil, nil, fmt.Errorf("handler ran but elimity answered %d", status)
		}
		return rec.ops, nil, nil
	}
	var scimErr struct {
		ScimType string `json:"scimType"`
	}
	if err := json.Unmarshal(body, &scimErr); err != nil {
		return nil, nil, fmt.Errorf("elimity answered %d with a body that is not a SCIM error: %w", status, err)
	}
	return nil, &rejection{Status: status, ScimType: scimErr.ScimType}, nil
}
