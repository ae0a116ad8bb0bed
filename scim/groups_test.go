package scim

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	elimity "github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

func TestSplitMemberOps(t *testing.T) {
	path := func(s string) *filter.Path {
		p, err := filter.ParsePath([]byte(s))
		if err != nil {
			t.Fatalf("parse path %q: %v", s, err)
		}
		return &p
	}
	members := func(ids ...string) []any {
		var out []any
		for _, id := range ids {
			out = append(out, map[string]any{"value": id})
		}
		return out
	}
	rename := elimity.PatchOperation{Op: "replace", Path: path("displayName"), Value: "New name"}
	tests := []struct {
		name     string
		ops      []elimity.PatchOperation
		want     store.MemberChange
		restLen  int
		wantType string // scimType of the expected error
	}{
		{
			name: "okta: remove by filter, then add",
			ops: []elimity.PatchOperation{
				{Op: "remove", Path: path(`members[value eq "u2"]`)},
				{Op: "add", Path: path("members"), Value: members("u1")},
			},
			want: store.MemberChange{Add: []store.UserID{"u1"}, Remove: []store.UserID{"u2"}},
		},
		{
			name: "okta: replace with an empty list",
			ops:  []elimity.PatchOperation{{Op: "replace", Path: path("members"), Value: []any(nil)}},
			want: store.MemberChange{Replace: true, Set: []store.UserID{}},
		},
		{
			name: "entra: rename and several changes in one request, capitalised ops",
			ops: []elimity.PatchOperation{
				rename,
				{Op: "add", Path: path("members"), Value: members("u1", "u2")},
				{Op: "remove", Path: path("members"), Value: members("u1")},
				{Op: "add", Path: path("members"), Value: members("u3")},
			},
			want:    store.MemberChange{Add: []store.UserID{"u2", "u3"}, Remove: []store.UserID{"u1"}},
			restLen: 1,
		},
		{
			name: "replace then add and remove accumulate on the set",
			ops: []elimity.PatchOperation{
				{Op: "replace", Path: path("members"), Value: members("u1", "u2")},
				{Op: "add", Path: path("members"), Value: members("u3")},
				{Op: "remove", Path: path(`members[value eq "u1" or value eq "u9"]`)},
			},
			want: store.MemberChange{Replace: true, Set: []store.UserID{"u2", "u3"}},
		},
		{
			name: "remove without value empties the group",
			ops:  []elimity.PatchOperation{{Op: "remove", Path: path("members")}},
			want: store.MemberChange{Replace: true, Set: []store.UserID{}},
		},
		{
			name: "no-path value map with members and displayName",
			ops: []elimity.PatchOperation{
				{Op: "add", Value: map[string]any{"members": members("u1"), "displayName": "X"}},
			},
			want:    store.MemberChange{Add: []store.UserID{"u1"}},
			restLen: 1,
		},
		{
			name:     "filter on display is refused",
			ops:      []elimity.PatchOperation{{Op: "remove", Path: path(`members[display eq "Babs"]`)}},
			wantType: "invalidPath",
		},
		{
			name:     "member sub-attribute is refused",
			ops:      []elimity.PatchOperation{{Op: "replace", Path: path(`members[value eq "u1"].display`), Value: "B"}},
			wantType: "invalidPath",
		},
		{
			name:     "member without value",
			ops:      []elimity.PatchOperation{{Op: "add", Path: path("members"), Value: []any{map[string]any{"display": "B"}}}},
			wantType: "invalidValue",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mc, rest, err := splitMemberOps(tt.ops)
			if tt.wantType != "" {
				var bad *badRequest
				if !errors.As(err, &bad) || string(bad.scimType) != tt.wantType {
					t.Fatalf("err = %v, want %s", err, tt.wantType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := mc.toStore()
			if !reflect.DeepEqual(normalizeMC(got), normalizeMC(tt.want)) {
				t.Errorf("member change = %+v, want %+v", got, tt.want)
			}
			if len(rest) != tt.restLen {
				raw, _ := json.Marshal(rest)
				t.Errorf("rest = %s, want %d operations", raw, tt.restLen)
			}
		})
	}
}

// normalizeMC makes empty and nil lists compare equal.
func normalizeMC(c store.MemberChange) store.MemberChange {
	for _, l := range []*[]store.UserID{&c.Add, &c.Remove} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return c
}
