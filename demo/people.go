package demo

import "strings"

// Person is someone the demo IdP can sign in.
type Person struct {
	Key        string // the picker's form value
	GivenName  string
	FamilyName string
	Email      string
	Groups     []string
}

// DisplayName is the person's full name.
func (p Person) DisplayName() string { return p.GivenName + " " + p.FamilyName }

// GroupList is the person's groups, comma-separated, for pages.
func (p Person) GroupList() string { return strings.Join(p.Groups, ", ") }

// People are the demo IdP's people, in the order the picker shows them. All
// are at EmailDomain; Ada is in the group that the demo mapping makes Admin.
func People() []Person {
	return []Person{
		{Key: "ada", GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@" + EmailDomain, Groups: []string{AdminGroup, "engineering"}},
		{Key: "grace", GivenName: "Grace", FamilyName: "Hopper", Email: "grace@" + EmailDomain, Groups: []string{"engineering"}},
		{Key: "alan", GivenName: "Alan", FamilyName: "Turing", Email: "alan@" + EmailDomain, Groups: []string{"research"}},
		{Key: "katherine", GivenName: "Katherine", FamilyName: "Johnson", Email: "katherine@" + EmailDomain, Groups: []string{"research"}},
	}
}

// personByKey finds a person by Key.
func personByKey(key string) (Person, bool) {
	for _, p := range People() {
		if p.Key == key {
			return p, true
		}
	}
	return Person{}, false
}
