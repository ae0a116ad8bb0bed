package main

import (
	"fmt"
	"runtime/debug"
)

type versionCmd struct{}

// Run prints the module version and, for builds from a git checkout, the commit.
// The version comes from the build information the Go toolchain embeds, so no
// linker flags (and no package variable) are needed.
func (versionCmd) Run(e *env) error {
	fmt.Fprintln(e.stdout, versionString())
	return nil
}

func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "onramp (unknown version)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	out := "onramp " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " " + rev + modified
	}
	return out + " " + info.GoVersion
}
