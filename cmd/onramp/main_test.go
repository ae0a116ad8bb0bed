package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2e holds the onramp binary, built once per test process on first use.
var e2e struct {
	once sync.Once
	bin  string
	err  error
}

func binary(t *testing.T) string {
	t.Helper()
	e2e.once.Do(func() {
		dir, err := os.MkdirTemp("", "onramp-e2e-")
		if err != nil {
			e2e.err = err
			return
		}
		e2e.bin = filepath.Join(dir, "onramp")
		if out, err := exec.Command("go", "build", "-o", e2e.bin, ".").CombinedOutput(); err != nil {
			e2e.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if e2e.err != nil {
		t.Fatal(e2e.err)
	}
	return e2e.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2e.bin != "" {
		_ = os.RemoveAll(filepath.Dir(e2e.bin))
	}
	os.Exit(code)
}

// onramp runs the binary to completion in dir with extra environment variables.
func onramp(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run onramp %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// cleanEnv is the test's environment without ONRAMP_* variables, so that the
// developer's own settings cannot change what the tests see.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ONRAMP_") {
			out = append(out, kv)
		}
	}
	return out
}

// copyExamples puts the example YAML and its metadata file into a new directory.
func copyExamples(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"onramp.yaml", "okta-idp.xml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serveProc is a running `onramp serve`.
type serveProc struct {
	cmd   *exec.Cmd
	addr  string
	lines chan map[string]any // stderr log records, JSON
	done  chan error
}

// startServer starts `onramp serve` on a free loopback port and returns once it
// listens.
func startServer(t *testing.T, dir string, env []string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serveProc{cmd: cmd, lines: make(chan map[string]any, 1000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				rec = map[string]any{"msg": "unparsed", "line": sc.Text()}
			}
			s.lines <- rec
		}
		close(s.lines)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	rec := s.waitLog(t, "listening")
	s.addr, _ = rec["addr"].(string)
	if s.addr == "" {
		t.Fatalf("listening record without addr: %v", rec)
	}
	return s
}

// waitLog returns the next log record with message msg, failing if the server
// exits first or nothing comes within a generous bound.
func (s *serveProc) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case rec, ok := <-s.lines:
			if !ok {
				t.Fatalf("server exited before logging %q", msg)
			}
			if rec["msg"] == msg {
				return rec
			}
		case <-timeout:
			t.Fatalf("no %q log record within 60s", msg)
		}
	}
}

// wait waits for the server to exit and returns its exit code.
func (s *serveProc) wait(t *testing.T) int {
	t.Helper()
	for range s.lines { // drain, so that Wait can finish
	}
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatal("server did not exit within 60s")
		return -1
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("server never became ready")
}

func scimRequest(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("%s %s: decode: %v", method, url, err)
	}
	return resp.StatusCode, out
}

const adaJSON = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s",
 "name":{"givenName":"Ada","familyName":"Lovelace"},
 "emails":[{"value":"%s","type":"work","primary":true}],"active":true}`

func TestEndToEnd(t *testing.T) {
	dir := copyExamples(t)
	db := filepath.Join(dir, "data", "onramp.db")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		t.Fatal(err)
	}

	// apply, twice: the second run changes nothing.
	out, errOut, code := onramp(t, dir, nil, "apply", "--db", db, "-f", "onramp.yaml")
	if code != 0 || !strings.Contains(out, "organizations: 1 created") || !strings.Contains(out, "connections: 2 created") {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The database comes from the environment this time.
	out, errOut, code = onramp(t, dir, []string{"ONRAMP_DB=" + db}, "apply", "-f", "onramp.yaml")
	if code != 0 || !strings.Contains(out, "organizations: 0 created, 0 updated, 1 unchanged") ||
		!strings.Contains(out, "connections: 0 created, 0 updated, 2 unchanged") {
		t.Fatalf("second apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// token create: the token is the last line of stdout.
	out, errOut, code = onramp(t, dir, nil, "token", "create", "--db", db, "--org", "acme", "--scim", "okta")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	if !strings.HasPrefix(token, "onramp_") || len(token) < 60 {
		t.Fatalf("token create: last line %q is not a token", token)
	}
	if strings.Contains(errOut, token) {
		t.Error("token create: the token also went to stderr")
	}

	// serve, with the database from the environment.
	s := startServer(t, dir, []string{"ONRAMP_DB=" + db, "ONRAMP_BASE_URL=http://onramp.test"})
	base := "http://" + s.addr
	waitReady(t, base)

	status, user := scimRequest(t, http.MethodPost, base+"/scim/v2/Users", token,
		fmt.Sprintf(adaJSON, "ada@acme-corp.com", "ada@acme-corp.com"))
	if status != http.StatusCreated {
		t.Fatalf("POST /Users = %d %v", status, user)
	}
	meta, _ := user["meta"].(map[string]any)
	if loc, _ := meta["location"].(string); !strings.HasPrefix(loc, "http://onramp.test/scim/v2/Users/") {
		t.Errorf("meta.location = %q, want it under ONRAMP_BASE_URL", loc)
	}
	status, list := scimRequest(t, http.MethodGet, base+`/scim/v2/Users?filter=userName%20eq%20%22ADA@acme-corp.com%22`, token, "")
	if status != http.StatusOK || list["totalResults"] != float64(1) {
		t.Fatalf("GET /Users by userName = %d %v", status, list)
	}
	if status, _ := scimRequest(t, http.MethodGet, base+"/scim/v2/Users", "onramp_wrong", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /Users with a bad token = %d, want 401", status)
	}

	// The SAML endpoints are served for the declared connection.
	resp, err := http.Get(base + "/saml/acme/okta/metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(md), `entityID="http://onramp.test/saml/acme/okta/metadata"`) {
		t.Errorf("GET SP metadata = %d:\n%s", resp.StatusCode, md)
	}
	resp, err = http.Get(base + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/me without a session = %d, want 401", resp.StatusCode)
	}

	// A request in flight when SIGTERM arrives is answered before the server exits
	// 0. "Expect: 100-continue" makes this deterministic: the server sends "100
	// Continue" only once the handler has started reading the body, so the request
	// is provably in flight when the signal is sent; the body is finished only after
	// the server has logged that it is shutting down.
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := fmt.Sprintf(adaJSON, "grace@acme-corp.com", "grace@acme-corp.com")
	head := fmt.Sprintf("POST /scim/v2/Users HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/scim+json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", s.addr, token, len(body))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if err := conn.SetReadDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	interim, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(interim, "HTTP/1.1 100") {
		t.Fatalf("want 100 Continue, got %q, %v", interim, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q, %v", blank, err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "shutting down: draining in-flight requests")
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("finishing the in-flight request: %v", err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request got no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("in-flight POST = %d, want 201", resp.StatusCode)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("serve exit code after SIGTERM = %d, want 0", code)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("database file: %v", err)
	}

	// The drained request's user was committed: a new server finds it.
	s2 := startServer(t, dir, nil, "--db", db)
	waitReady(t, "http://"+s2.addr)
	status, list = scimRequest(t, http.MethodGet, "http://"+s2.addr+`/scim/v2/Users?filter=userName%20eq%20%22grace@acme-corp.com%22`, token, "")
	if status != http.StatusOK || list["totalResults"] != float64(1) {
		t.Errorf("after restart, GET grace = %d %v", status, list)
	}
	if err := s2.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := s2.wait(t); code != 0 {
		t.Errorf("serve exit code after SIGINT = %d, want 0", code)
	}
}

func TestServeCreatesDatabase(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil) // default --db onramp.db, in dir
	waitReady(t, "http://"+s.addr)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "onramp.db")); err != nil {
		t.Errorf("default database not created: %v", err)
	}
}

func TestConfigProblemsAreAllReported(t *testing.T) {
	_, errOut, code := onramp(t, t.TempDir(), []string{"ONRAMP_LOG_LEVEL=loud", "ONRAMP_SAML_KEY=abcd"},
		"serve", "--addr", "no-port", "--base-url", "ftp://example.com/sub", "--db", " ", "--return-to-origin", "https://app.example.com/path")
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	for _, want := range []string{"ONRAMP_LOG_LEVEL", "--addr", "scheme must be http or https", "must not have a path", "--db",
		"--saml-key (ONRAMP_SAML_KEY) is 2 bytes", "--return-to-origin"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	dir := copyExamples(t)
	db := filepath.Join(dir, "onramp.db")
	if _, errOut, code := onramp(t, dir, nil, "apply", "--db", db, "-f", "onramp.yaml"); code != 0 {
		t.Fatalf("apply: %d %s", code, errOut)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, 0, ""},
		{"unknown command", []string{"frobnicate"}, 2, "unexpected argument"},
		{"token needs a kind", []string{"token", "create", "--db", db, "--org", "acme"}, 2, "--scim CONNECTION or --admin"},
		{"token for unknown org", []string{"token", "create", "--db", db, "--org", "nope", "--admin"}, 1, `organization "nope"`},
		{"token for unknown connection", []string{"token", "create", "--db", db, "--org", "acme", "--scim", "nope"}, 1, `connection "nope"`},
		{"apply a typo", []string{"apply", "--db", db, "-f", "typo.yaml"}, 1, "line 6"},
		{"bench refuses a remote target", []string{"bench", "scim", "--url", "http://192.0.2.1:8080", "--token", "x"}, 2, "not a loopback address"},
	}
	typo := "organizations:\n  - slug: acme\n    name: Acme\n    connections:\n      - slug: okta\n        authentication: { jitProvisoning: true }\n"
	if err := os.WriteFile(filepath.Join(dir, "typo.yaml"), []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := onramp(t, dir, nil, tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", code, tt.code, out, errOut, tt.want)
			}
		})
	}
}

func TestTokenListAndRevoke(t *testing.T) {
	dir := copyExamples(t)
	db := filepath.Join(dir, "onramp.db")
	if _, errOut, code := onramp(t, dir, nil, "apply", "--db", db, "-f", "onramp.yaml"); code != 0 {
		t.Fatalf("apply: %d %s", code, errOut)
	}
	out, errOut, code := onramp(t, dir, nil, "token", "create", "--db", db, "--org", "acme", "--scim", "okta")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	token := strings.TrimSpace(out)
	id := strings.SplitN(strings.TrimPrefix(token, "onramp_"), "_", 2)[0]

	s := startServer(t, dir, nil, "--db", db)
	base := "http://" + s.addr
	waitReady(t, base)
	if status, _ := scimRequest(t, http.MethodGet, base+"/scim/v2/Users", token, ""); status != http.StatusOK {
		t.Fatalf("GET /Users with a fresh token = %d", status)
	}

	out, _, code = onramp(t, dir, nil, "token", "list", "--db", db, "--org", "acme")
	if code != 0 || !strings.Contains(out, id) || strings.Contains(out, token) {
		t.Errorf("token list: exit %d, want the ID and not the secret:\n%s", code, out)
	}
	if _, errOut, code := onramp(t, dir, nil, "token", "revoke", "--db", db, "--org", "acme", "--id", id); code != 0 {
		t.Fatalf("token revoke: %d %s", code, errOut)
	}
	if status, _ := scimRequest(t, http.MethodGet, base+"/scim/v2/Users", token, ""); status != http.StatusUnauthorized {
		t.Errorf("GET /Users with a revoked token = %d, want 401", status)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
}
