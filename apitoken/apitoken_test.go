package apitoken

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

type getter map[store.TokenID]store.Token

func (g getter) GetToken(_ context.Context, id store.TokenID) (store.Token, error) {
	t, ok := g[id]
	if !ok {
		return store.Token{}, store.ErrNotFound
	}
	return t, nil
}

func TestNewVerify(t *testing.T) {
	ctx := context.Background()
	plain, rec, err := New()
	if err != nil {
		t.Fatal(err)
	}
	rec.Kind = store.TokenSCIM
	g := getter{rec.ID: rec}
	got, err := Verify(ctx, g, store.TokenSCIM, plain)
	if err != nil || got.ID != rec.ID {
		t.Fatalf("Verify(valid) = %v, %v", got.ID, err)
	}
	if strings.Contains(string(rec.Hash), plain) {
		t.Fatal("hash contains the plaintext")
	}

	other, _, _ := New()
	revoked := rec
	now := time.Now()
	revoked.RevokedAt = &now
	tampered := plain[:len(plain)-1] + "a"
	if tampered == plain {
		tampered = plain[:len(plain)-1] + "b"
	}
	for name, tc := range map[string]struct {
		g     getter
		kind  store.TokenKind
		token string
	}{
		"empty":        {g, store.TokenSCIM, ""},
		"no prefix":    {g, store.TokenSCIM, strings.TrimPrefix(plain, Prefix)},
		"wrong secret": {g, store.TokenSCIM, tampered},
		"unknown id":   {g, store.TokenSCIM, other},
		"revoked":      {getter{rec.ID: revoked}, store.TokenSCIM, plain},
		"wrong kind":   {g, store.TokenAdmin, plain},
	} {
		if _, err := Verify(ctx, tc.g, tc.kind, tc.token); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

type failing struct{}

func (failing) GetToken(context.Context, store.TokenID) (store.Token, error) {
	return store.Token{}, errors.New("disk on fire")
}

func TestVerifyStoreFailureIsNotInvalid(t *testing.T) {
	plain, _, _ := New()
	_, err := Verify(context.Background(), failing{}, store.TokenSCIM, plain)
	if err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want a store failure distinct from ErrInvalid", err)
	}
}
