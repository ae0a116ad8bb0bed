// Package apitoken makes and checks onramp's API bearer tokens (SCIM and admin).
//
// A token reads "onramp_<id>_<secret>": id is 16 random bytes and secret 32 random
// bytes, both base32 (lower case, no padding). The id is public and is the token's
// primary key in the store; the secret is shown once and only its SHA-256 is
// stored. SHA-256 rather than a slow password hash is deliberate: the secret has 256
// bits of entropy, so there is nothing to brute-force, and every SCIM request must
// be checked quickly. Hashes are compared in constant time. The fixed prefix lets
// secret scanners recognise leaked tokens.
package apitoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/onramp-dev/onramp/store"
)

// Prefix starts every token.
const Prefix = "onramp_"

// ErrInvalid means the bearer token is malformed, unknown, revoked or of the wrong
// kind. Callers answer 401 and do not say which.
var ErrInvalid = errors.New("apitoken: invalid token")

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// New returns a token's plaintext and the store record for it (ID and Hash set;
// the caller fills OrgID, ConnectionID, Kind, Description).
func New() (plaintext string, t store.Token, err error) {
	var id [16]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", store.Token{}, fmt.Errorf("apitoken: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", store.Token{}, fmt.Errorf("apitoken: %w", err)
	}
	idText := strings.ToLower(encoding.EncodeToString(id[:]))
	secretText := strings.ToLower(encoding.EncodeToString(secret[:]))
	sum := sha256.Sum256([]byte(secretText))
	return Prefix + idText + "_" + secretText, store.Token{ID: store.TokenID(idText), Hash: sum[:]}, nil
}

// Parse splits a plaintext token into its ID and secret.
func Parse(plaintext string) (store.TokenID, string, error) {
	rest, ok := strings.CutPrefix(plaintext, Prefix)
	if !ok {
		return "", "", ErrInvalid
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 26 || len(secret) != 52 {
		return "", "", ErrInvalid
	}
	return store.TokenID(id), secret, nil
}

// Getter is the part of the store Verify needs.
type Getter interface {
	GetToken(ctx context.Context, id store.TokenID) (store.Token, error)
}

// Verify checks a plaintext token of the given kind against the store and returns
// its record. Unknown, revoked, malformed and wrong-kind tokens all give ErrInvalid;
// store failures are returned wrapped, so that callers can answer 503 rather than
// 401.
func Verify(ctx context.Context, g Getter, kind store.TokenKind, plaintext string) (store.Token, error) {
	id, secret, err := Parse(plaintext)
	if err != nil {
		return store.Token{}, err
	}
	t, err := g.GetToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, ErrInvalid
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("apitoken: look up token: %w", err)
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], t.Hash) != 1 || t.RevokedAt != nil || t.Kind != kind {
		return store.Token{}, ErrInvalid
	}
	return t, nil
}
