package storetest

import (
	"bytes"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// secretTests cover store.Secrets: a secret is made once and then shared.
func secretTests() []test {
	return []test{
		{"CreatedOnceThenStable", testSecretStable},
		{"ConcurrentFirstCallsAgree", testSecretRace},
		{"NamesAreIndependent", testSecretNames},
	}
}

func testSecretStable(t *testing.T, s store.Store) {
	a := must(s.Secret(ctx(t), "k", 32))(t)
	if len(a) != 32 || bytes.Equal(a, make([]byte, 32)) {
		t.Fatalf("secret = %x, want 32 random bytes", a)
	}
	b := must(s.Secret(ctx(t), "k", 32))(t)
	if !bytes.Equal(a, b) {
		t.Fatalf("second call returned another secret")
	}
}

func testSecretRace(t *testing.T, s store.Store) {
	const n = 8
	got := make([][]byte, n)
	fns := make([]func() error, n)
	for i := range fns {
		fns[i] = func() error {
			var err error
			got[i], err = s.Secret(ctx(t), "shared", 32)
			return err
		}
	}
	for i, err := range together(fns...) {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("caller %d got a different secret", i)
		}
	}
}

func testSecretNames(t *testing.T, s store.Store) {
	a := must(s.Secret(ctx(t), "a", 32))(t)
	b := must(s.Secret(ctx(t), "b", 32))(t)
	if bytes.Equal(a, b) {
		t.Fatal("two names share a secret")
	}
}
