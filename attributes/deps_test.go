package attributes

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package pure: it may import no other onramp
// package, nothing that speaks HTTP and nothing that talks to a database.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed for this test: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const self = "github.com/onramp-dev/onramp/attributes"
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != self {
		t.Fatalf("unexpected go list output: %q", out)
	}
	for _, d := range deps {
		switch {
		case d == self:
		case strings.HasPrefix(d, "github.com/onramp-dev/onramp"):
			t.Errorf("imports onramp package %s", d)
		case d == "net/http" || strings.HasPrefix(d, "net/http/"):
			t.Errorf("imports %s", d)
		case d == "database/sql" || strings.HasPrefix(d, "database/sql/"):
			t.Errorf("imports %s", d)
		}
	}

	// Directly, not even the means of I/O, time or randomness.
	out, err = exec.Command(goBin, "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list -f: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch imp {
		case "os", "os/exec", "io/ioutil", "net", "time", "math/rand", "math/rand/v2", "crypto/rand", "log", "log/slog", "syscall", "unsafe":
			t.Errorf("imports %s directly; the package is pure", imp)
		}
	}
}
