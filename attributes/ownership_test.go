package attributes

import (
	"reflect"
	"testing"
)

func TestDefaultOwnership(t *testing.T) {
	if DefaultOwnership(true) != OwnershipSCIM || DefaultOwnership(false) != OwnershipAssertion {
		t.Fatal("DefaultOwnership: SCIM token → scim, none → assertion")
	}
	if got := (Mapping{}).EffectiveOwnership(true); got != OwnershipSCIM {
		t.Errorf("unset ownership with a SCIM token = %q", got)
	}
	if got := (Mapping{Ownership: OwnershipAssertion}).EffectiveOwnership(true); got != OwnershipAssertion {
		t.Errorf("explicit ownership ignored: %q", got)
	}
}

func TestMerge(t *testing.T) {
	current := Profile{
		Email: "ada@acme.test", UserName: "ada@acme.test", GivenName: "Ada", FamilyName: "", DisplayName: "Ada L.",
		Groups: []string{"admins"}, Role: RoleAdmin, Custom: map[string]string{"department": "R&D", "site": "London"},
	}
	for _, tc := range []struct {
		name  string
		o     Ownership
		login Profile
		want  Profile
	}{
		{
			name:  "assertion: non-empty login fields replace, empty ones never erase",
			o:     OwnershipAssertion,
			login: Profile{Email: "ada@new.test", GivenName: "Augusta", FamilyName: "Lovelace", Role: RoleMember},
			want: Profile{Email: "ada@new.test", UserName: "ada@acme.test", GivenName: "Augusta", FamilyName: "Lovelace", DisplayName: "Ada L.",
				Groups: []string{"admins"}, Role: RoleAdmin, Custom: map[string]string{"department": "R&D", "site": "London"}},
		},
		{
			name:  "assertion: groups present replace groups and role (may demote)",
			o:     OwnershipAssertion,
			login: Profile{Groups: []string{"staff"}, Role: RoleMember, Custom: map[string]string{"department": "Ops"}},
			want: Profile{Email: "ada@acme.test", UserName: "ada@acme.test", GivenName: "Ada", DisplayName: "Ada L.",
				Groups: []string{"staff"}, Role: RoleMember, Custom: map[string]string{"department": "Ops", "site": "London"}},
		},
		{
			name:  "scim: only empty fields are filled",
			o:     OwnershipSCIM,
			login: Profile{Email: "evil@other.test", GivenName: "Eve", FamilyName: "Lovelace", Groups: []string{"staff"}, Role: RoleMember, Custom: map[string]string{"department": "Ops", "badge": "42"}},
			want: Profile{Email: "ada@acme.test", UserName: "ada@acme.test", GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada L.",
				Groups: []string{"admins"}, Role: RoleAdmin, Custom: map[string]string{"department": "R&D", "site": "London", "badge": "42"}},
		},
		{
			name:  "unknown ownership acts as scim",
			o:     Ownership("bogus"),
			login: Profile{Email: "evil@other.test", FamilyName: "Lovelace"},
			want: Profile{Email: "ada@acme.test", UserName: "ada@acme.test", GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada L.",
				Groups: []string{"admins"}, Role: RoleAdmin, Custom: map[string]string{"department": "R&D", "site": "London"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := current.clone()
			got := Merge(current, tc.login, tc.o)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Merge =\n %+v\nwant\n %+v", got, tc.want)
			}
			if !reflect.DeepEqual(current, before) {
				t.Error("Merge modified its argument")
			}
			got.Custom["x"] = "y"
			if _, leaked := current.Custom["x"]; leaked {
				t.Error("Merge result aliases the current profile")
			}
		})
	}
	t.Run("scim ownership fills an empty account", func(t *testing.T) {
		login := Profile{Email: "a@b.test", UserName: "a", Groups: []string{"g"}, Role: RoleMember, Custom: map[string]string{"k": "v"}}
		if got := Merge(Profile{}, login, OwnershipSCIM); !reflect.DeepEqual(got, login) {
			t.Errorf("got %+v", got)
		}
	})
}

func TestEmailDomain(t *testing.T) {
	for in, want := range map[string]string{
		"Ada@ACME-Corp.com": "acme-corp.com",
		"a@b@c.test":        "c.test",
		"nodomain@":         "",
		"@nolocal.test":     "",
		"opaque":            "",
		"":                  "",
	} {
		if got := (Profile{Email: in}).EmailDomain(); got != want {
			t.Errorf("EmailDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
