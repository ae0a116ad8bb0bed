package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitBound bounds every wait for a process (start, exit). It is a bound
// against hanging, not a timing assertion.
const waitBound = 2 * time.Minute

// build holds the onramp binary, built once per test process on first use.
var build struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary returns the path of the onramp binary, building it on first use.
func binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "onramp-reliability-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "onramp")
		out, err := exec.Command("go", "build", "-o", build.bin, "github.com/onramp-dev/onramp/cmd/onramp").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.bin
}

// cleanEnv is the test's environment without ONRAMP_* variables, so that the
// developer's own settings cannot change what the processes see.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ONRAMP_") {
			out = append(out, kv)
		}
	}
	return out
}

// onramp runs a command of the binary to completion in dir and returns its
// stdout; it fails the test unless the command exits 0.
func onramp(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(tb), args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("onramp %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// lastLine is the last line of a command's output: where `onramp token
// create` prints the token.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// freePort returns a loopback port that was free a moment ago. The server
// listens on it, and on it again after a restart, so that its --base-url (to
// which SAML responses are addressed) stays right.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		tb.Fatal(err)
	}
	return port
}

// server is a running `onramp serve`.
type server struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited and its log is read
	code int           // exit code, once done is closed

	mu   sync.Mutex
	logs []string // its log lines (JSON), in order
}

// startServer starts `onramp serve` on db at port with JSON logs and returns
// once it listens. When the test ends it is killed if still running.
func startServer(tb testing.TB, dir, db string, port int, flags ...string) *server {
	tb.Helper()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"--log-format", "json", "serve", "--db", db,
		"--addr", "127.0.0.1:" + strconv.Itoa(port), "--base-url", url}, flags...)
	cmd := exec.Command(binary(tb), args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &server{url: url, cmd: cmd, done: make(chan struct{})}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			var rec struct{ Msg string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				once.Do(func() { close(listening) })
			}
			s.mu.Lock()
			s.logs = append(s.logs, line)
			s.mu.Unlock()
		}
		_ = cmd.Wait()
		s.code = cmd.ProcessState.ExitCode()
		close(s.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
		if tb.Failed() {
			s.dump(tb)
		}
	})
	select {
	case <-listening:
	case <-s.done:
		s.dump(tb)
		tb.Fatalf("onramp serve exited (code %d) before listening", s.code)
	case <-time.After(waitBound):
		tb.Fatalf("onramp serve did not listen within %s", waitBound)
	}
	return s
}

// kill sends SIGKILL and waits for the process to end.
func (s *server) kill(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(waitBound):
		tb.Fatalf("onramp serve did not die within %s of SIGKILL", waitBound)
	}
}

// stop sends SIGTERM; the server must drain and exit 0 (DESIGN).
func (s *server) stop(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
		if s.code != 0 {
			tb.Errorf("onramp serve exited %d after SIGTERM, want 0", s.code)
		}
	case <-time.After(waitBound):
		tb.Fatalf("onramp serve did not exit within %s of SIGTERM", waitBound)
	}
}

// logLines returns the server's log so far.
func (s *server) logLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.logs...)
}

// dump shows the end of the server's log (request lines carry no bodies or
// tokens).
func (s *server) dump(tb testing.TB) {
	tb.Helper()
	lines := s.logLines()
	for _, l := range lines[max(0, len(lines)-40):] {
		tb.Logf("onramp serve: %s", l)
	}
}

// newClient is an HTTP client for one test's load: no proxy, enough idle
// connections, no redirects followed (the ACS answers 303 and a cookie).
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// reply is a finished HTTP exchange.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request with a JSON body (or none) and reads the answer.
// err is for a request that got no answer.
func send(ctx context.Context, c *http.Client, method, url string, header http.Header, body []byte) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: res.StatusCode, header: res.Header, body: raw}, nil
}

// scimHeader is the header of a SCIM request with token.
func scimHeader(token string) http.Header {
	return http.Header{
		"Authorization": {"Bearer " + token},
		"Content-Type":  {"application/scim+json"},
		"Accept":        {"application/scim+json"},
	}
}

// mustJSON encodes v or panics (test data only).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// patchOp is a SCIM PatchOp body.
func patchOp(ops ...map[string]any) []byte {
	return mustJSON(map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": ops,
	})
}
