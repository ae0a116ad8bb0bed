package jit

import (
	"sync"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// What a sign-in derives from its stored connection (the parsed IdP
// metadata and SP key pair, the compiled attribute mapping) costs more than
// reading the connection, so it is kept per connection and rebuilt when the
// stored values it came from change. The key is those values themselves
// (compared as strings), not UpdatedAt: a cached entry can never be stale,
// whatever the clock or the store does with timestamps. One entry per
// connection ID, replaced on change; entries of deleted connections stay
// until the process exits (a few KiB each). Failures are not cached.

// configKey is everything NewConnectionConfig reads.
type configKey struct {
	base, orgSlug, slug        string
	idpMetadata, spCert, spKey string
	spNextCert, spNextKey      string
	allowIdPInitiated          bool
}

type configEntry struct {
	key configKey
	cfg ConnectionConfig
}

// configCache caches ConnectionConfig per connection.
type configCache struct {
	mu      sync.Mutex
	entries map[store.ConnectionID]configEntry
}

// get returns NewConnectionConfig(base, orgSlug, c), cached.
func (cc *configCache) get(base, orgSlug string, c store.Connection) (ConnectionConfig, error) {
	k := configKey{
		base: base, orgSlug: orgSlug, slug: c.Slug,
		idpMetadata: c.IdPMetadataXML, spCert: c.SPCertPEM, spKey: c.SPKeyPEM,
		spNextCert: c.SPNextCertPEM, spNextKey: c.SPNextKeyPEM,
		allowIdPInitiated: c.AllowIdPInitiated,
	}
	cc.mu.Lock()
	e, ok := cc.entries[c.ID]
	cc.mu.Unlock()
	if ok && e.key == k {
		return e.cfg, nil
	}
	cfg, err := NewConnectionConfig(base, orgSlug, c)
	if err != nil {
		return ConnectionConfig{}, err
	}
	cc.mu.Lock()
	if cc.entries == nil {
		cc.entries = map[store.ConnectionID]configEntry{}
	}
	cc.entries[c.ID] = configEntry{key: k, cfg: cfg}
	cc.mu.Unlock()
	return cfg, nil
}

// targetCache keeps, per ACS path (organization and connection slugs), the
// organization and connection last read for it, so that a sign-in does not
// read them again: on SQLite every commit empties the page cache of each
// reader connection, so that read costs a sign-in about a tenth of the
// signature check, for rows that change a few times a year.
//
// Entries are never trusted for long: they are checked. A sign-in decided
// on an entry (a session, a link, an account created, a refusal written)
// commits only if the stored organization and connection still carry the
// entry's UpdatedAt (store.SignIn.Config); otherwise the ACS reads them
// again and starts over, verification included. Every other answer decided
// on an entry (a rejected response, a connection without IdP metadata) is
// given only after a fresh read shows the entry current; one that is not is
// replaced and the request starts over. So a change to a connection (a
// certificate removed, JIT turned off, the connection deleted) takes effect
// at the next sign-in on every replica, as without the cache. The second
// attempt, on a fresh read, is decided on what it read, as every sign-in
// was before the cache: an Admin saving settings in a loop makes sign-ins
// read twice, never fail. Paths that do not exist are not cached.
type targetCache struct {
	mu      sync.Mutex
	entries map[[2]string]target
}

// maxCachedTargets bounds the cache; past it, it starts empty again.
const maxCachedTargets = 4096

func (tc *targetCache) get(orgSlug, connSlug string) (target, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t, ok := tc.entries[[2]string{orgSlug, connSlug}]
	return t, ok
}

func (tc *targetCache) put(orgSlug, connSlug string, t target) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.entries == nil || len(tc.entries) >= maxCachedTargets {
		tc.entries = map[[2]string]target{}
	}
	tc.entries[[2]string{orgSlug, connSlug}] = t
}

func (tc *targetCache) drop(orgSlug, connSlug string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	delete(tc.entries, [2]string{orgSlug, connSlug})
}

// connMapping is a connection's resolved and compiled attribute mapping.
type connMapping struct {
	compiled *attributes.Compiled
	// ownership is the mapping's explicit Ownership; "" means
	// attributes.DefaultOwnership decides (by the connection's SCIM tokens).
	ownership attributes.Ownership
	// roleRules: the mapping derives the role from groups. Without rules
	// every login maps to the default role, which says nothing about the
	// person, so a sign-in then never changes an existing account's role.
	roleRules bool
}

type mappingKey struct{ preset, overrides string }

type mappingEntry struct {
	key mappingKey
	m   connMapping
}

// mappingCache caches the compiled mapping per connection.
type mappingCache struct {
	mu      sync.Mutex
	entries map[store.ConnectionID]mappingEntry
}

// get returns the connection's mapping: attributes.Resolve of its preset and
// overrides, compiled.
func (mc *mappingCache) get(c store.Connection) (connMapping, error) {
	k := mappingKey{preset: c.MappingPreset, overrides: string(c.Mapping)}
	mc.mu.Lock()
	e, ok := mc.entries[c.ID]
	mc.mu.Unlock()
	if ok && e.key == k {
		return e.m, nil
	}
	m, err := attributes.Resolve(c.MappingPreset, c.Mapping)
	if err != nil {
		return connMapping{}, err
	}
	compiled, err := m.Compile()
	if err != nil {
		return connMapping{}, err
	}
	cm := connMapping{compiled: compiled, ownership: m.Ownership, roleRules: len(m.RoleRules) > 0}
	mc.mu.Lock()
	if mc.entries == nil {
		mc.entries = map[store.ConnectionID]mappingEntry{}
	}
	mc.entries[c.ID] = mappingEntry{key: k, m: cm}
	mc.mu.Unlock()
	return cm, nil
}
