package scim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// DefaultMappingRecheck is how long a connection's compiled mapping is used
// before the connection is read again to see whether it changed
// (Config.MappingRecheck).
const DefaultMappingRecheck = time.Second

// userMapping is a connection's attribute mapping, compiled, as the SCIM side
// applies it.
type userMapping struct {
	c *attributes.Compiled
	// manageRole: the mapping has role rules, so every write sets the role they
	// give; without rules only a create sets the (default) role.
	manageRole bool
	// manageCustom: the mapping has custom fields, so every write sets them;
	// without any, the account's custom fields are left alone.
	manageCustom bool
}

func compileMapping(m attributes.Mapping) (userMapping, error) {
	c, err := m.Compile()
	if err != nil {
		return userMapping{}, err
	}
	return userMapping{c: c, manageRole: len(m.RoleRules) > 0, manageCustom: len(m.Custom) > 0}, nil
}

// connectionGetter reads a connection (store.Connections.GetConnection).
type connectionGetter interface {
	GetConnection(ctx context.Context, id store.ConnectionID) (store.Connection, error)
}

// mappings caches each connection's compiled mapping, so that a write costs no
// connection read and no compilation. An entry is trusted for recheck; the next
// write after that reads the connection and compiles again only if its
// UpdatedAt moved. While one request re-reads, the others keep using the entry
// they have.
//
// A connection whose mapping does not resolve (an unknown preset, overrides
// that no longer validate) or that no longer exists maps with the generic
// preset, and the problem is logged: a broken mapping must never stop an IdP's
// pushes, least of all a deactivation. Only a failing store read is an error.
type mappings struct {
	store    connectionGetter
	log      *slog.Logger
	now      func() time.Time
	recheck  time.Duration
	fallback userMapping

	mu     sync.Mutex
	byConn map[store.ConnectionID]*mappingEntry
}

type mappingEntry struct {
	m         userMapping
	updatedAt time.Time // the connection's, when m was compiled
	checkedAt time.Time
}

func newMappings(st connectionGetter, log *slog.Logger, now func() time.Time, recheck time.Duration) (*mappings, error) {
	generic, err := attributes.Preset(attributes.PresetGeneric)
	if err != nil {
		return nil, fmt.Errorf("scim: generic mapping: %w", err)
	}
	fallback, err := compileMapping(generic)
	if err != nil {
		return nil, fmt.Errorf("scim: generic mapping: %w", err)
	}
	return &mappings{store: st, log: log, now: now, recheck: recheck, fallback: fallback,
		byConn: map[store.ConnectionID]*mappingEntry{}}, nil
}

// get returns the connection's mapping.
func (ms *mappings) get(ctx context.Context, id store.ConnectionID) (userMapping, error) {
	now := ms.now()
	ms.mu.Lock()
	e := ms.byConn[id]
	if e != nil && now.Sub(e.checkedAt) < ms.recheck {
		m := e.m
		ms.mu.Unlock()
		return m, nil
	}
	if e != nil {
		e.checkedAt = now // the others use e while this request re-reads
	}
	ms.mu.Unlock()

	conn, err := ms.store.GetConnection(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ms.log.WarnContext(ctx, "scim: token's connection not found, mapping with the generic preset",
			"request_id", requestIDFrom(ctx), "connection", id)
		return ms.fallback, nil
	case err != nil:
		if e != nil {
			ms.log.WarnContext(ctx, "scim: re-reading connection failed, keeping its cached mapping",
				"request_id", requestIDFrom(ctx), "connection", id, "error", err)
			return e.m, nil
		}
		return userMapping{}, fmt.Errorf("scim: read connection %s: %w", id, err)
	}
	if e != nil && e.updatedAt.Equal(conn.UpdatedAt) {
		return e.m, nil
	}
	m, err := resolveMapping(conn)
	if err != nil {
		ms.log.ErrorContext(ctx, "scim: connection's mapping does not resolve, mapping with the generic preset",
			"request_id", requestIDFrom(ctx), "connection", id, "error", err)
		m = ms.fallback
	}
	ms.mu.Lock()
	ms.byConn[id] = &mappingEntry{m: m, updatedAt: conn.UpdatedAt, checkedAt: now}
	ms.mu.Unlock()
	return m, nil
}

func resolveMapping(conn store.Connection) (userMapping, error) {
	m, err := attributes.Resolve(conn.MappingPreset, conn.Mapping)
	if err != nil {
		return userMapping{}, err
	}
	return compileMapping(m)
}
