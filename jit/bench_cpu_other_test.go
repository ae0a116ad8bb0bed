//go:build !unix

package jit

import "time"

// processCPU is not measured here; the CPU columns of BenchmarkACS are left
// out.
func processCPU() time.Duration { return 0 }
