package store

import "context"

// Secrets keeps the server secrets every replica must share — the key that
// signs SAML request-tracking cookies and the key of emailed codes' hashes — so
// that an operator need not configure them: the first process to ask creates
// one, and every later process (on any replica of the same database) gets the
// same bytes. An operator who sets a key explicitly (--saml-key) overrides the
// stored one. Whoever can read the database can read these secrets; they protect
// nothing the database does not already hold.
type Secrets interface {
	// Secret returns the secret called name, first creating it from size
	// random bytes if it does not exist. Concurrent first calls, also from
	// other processes, all return the same secret.
	Secret(ctx context.Context, name string, size int) ([]byte, error)
}
