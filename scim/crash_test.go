package scim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// crashServerEnv names the database a re-executed test binary serves (see
// TestCrashServerProcess).
const crashServerEnv = "ONRAMP_SCIM_CRASH_SERVER_DB"

// TestCrashServerProcess is not a test of its own: when the crash test
// re-executes this test binary with crashServerEnv set, it serves SCIM over
// that database, prints its address and runs until it is killed. Run normally,
// it returns at once.
func TestCrashServerProcess(t *testing.T) {
	db := os.Getenv(crashServerEnv)
	if db == "" {
		return
	}
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	st, err := sqlstore.Open(ctx, db, logger)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	root := "http://" + ln.Addr().String()
	h, err := New(Config{Store: st, BaseURL: root + server.SCIMPrefix, Logger: logger})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	e, err := server.New(server.Config{Store: st, SCIM: h, Logger: logger})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("listening", root)
	_ = http.Serve(ln, e) // until SIGKILL
	os.Exit(1)
}

// TestAcknowledgedWritesSurviveAKill is the durability half of the speed
// target: group commit answers many writes with one COMMIT, and every write a
// client was told succeeded (201 for a create, 200 for a deactivation) must be
// in the database after the server process is killed with SIGKILL while
// writes are in flight. The server is this test binary re-executed
// (TestCrashServerProcess) over a real SQLite file; the database is then
// opened again, as a restarted server would.
func TestAcknowledgedWritesSurviveAKill(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "onramp.db")
	tf := seedCrashDB(t, db)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashServerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashServerEnv+"="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	root, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("server did not start: %q %v", line, err)
	}
	base := root + server.SCIMPrefix

	// 32 clients create users and deactivate each one they created; the
	// server is killed once 300 deactivations have been acknowledged.
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	send := func(method, path, body string) (int, string, error) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Authorization", "Bearer "+tf.token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var id string
		if resp.StatusCode == http.StatusCreated {
			var res struct{ ID string }
			if err := jsonDecode(resp, &res); err != nil {
				return 0, "", err
			}
			id = res.ID
		}
		return resp.StatusCode, id, nil
	}
	var (
		mu          sync.Mutex
		created     = map[string]string{} // acknowledged creates: id → userName
		deactivated []string              // acknowledged deactivations
		n           atomic.Int64
		acked       atomic.Int64
		killed      = make(chan struct{})
		killOnce    sync.Once
		wg          sync.WaitGroup
	)
	kill := func() {
		killOnce.Do(func() {
			_ = cmd.Process.Signal(os.Kill)
			close(killed)
		})
	}
	for range 32 {
		wg.Go(func() {
			for {
				select {
				case <-killed:
					return
				default:
				}
				userName := fmt.Sprintf("crash-%d@example.com", n.Add(1))
				status, id, err := send(http.MethodPost, "/Users",
					`{"schemas":["`+UserSchemaURI+`"],"userName":"`+userName+`","active":true}`)
				if err != nil || status != http.StatusCreated {
					continue // refused or cut off: nothing was promised
				}
				mu.Lock()
				created[id] = userName
				mu.Unlock()
				status, _, err = send(http.MethodPatch, "/Users/"+id,
					`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
				if err != nil || status != http.StatusOK {
					continue
				}
				mu.Lock()
				deactivated = append(deactivated, id)
				mu.Unlock()
				if acked.Add(1) == 300 {
					kill()
				}
			}
		})
	}
	select {
	case <-killed:
	case <-time.After(2 * time.Minute):
		kill()
		t.Error("300 deactivations were not acknowledged within two minutes")
	}
	wg.Wait()
	if err := cmd.Wait(); err == nil {
		t.Fatal("the server exited cleanly; it should have been killed")
	}

	st, err := sqlstore.Open(ctx, db, nil)
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer func() { _ = st.Close() }()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d creates and %d deactivations acknowledged before the kill", len(created), len(deactivated))
	for id, userName := range created {
		u, err := st.GetUser(ctx, tf.org, store.UserID(id))
		if err != nil || u.UserName != userName {
			t.Errorf("acknowledged create %s (%s) lost: %+v %v", id, userName, u, err)
		}
	}
	for _, id := range deactivated {
		u, err := st.GetUser(ctx, tf.org, store.UserID(id))
		if err != nil || u.Active {
			t.Errorf("acknowledged deactivation of %s lost: active=%v err=%v", id, u.Active, err)
		}
	}
}

// seedCrashDB makes a database with an organization, a connection and a SCIM
// token, and closes it.
func seedCrashDB(t *testing.T, path string) tenantFixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	ev := store.AuditEvent{Actor: "operator", Action: "test.setup"}
	org, err := st.CreateOrg(ctx, store.Org{Slug: "acme", Name: "Acme"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := st.CreateConnection(ctx, store.Connection{OrgID: org.ID, Slug: "okta", Name: "Okta", MappingPreset: "okta"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	plain, tok, err := apitoken.New()
	if err != nil {
		t.Fatal(err)
	}
	tok.OrgID, tok.ConnectionID, tok.Kind = org.ID, conn.ID, store.TokenSCIM
	if _, err := st.CreateToken(ctx, tok, ev); err != nil {
		t.Fatal(err)
	}
	return tenantFixture{org: org.ID, conn: conn.ID, token: plain, tokenID: tok.ID}
}

func jsonDecode(resp *http.Response, v any) error {
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}
