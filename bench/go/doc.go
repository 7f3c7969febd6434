// Package coilbench benchmarks Coil v2.15.0's in-block address allocator (the unexported
// allocator of github.com/cybozu-go/coil/v2/pkg/ipam) next to the TypeScript port, without copying
// Coil's code: the benchmark links to the allocator's functions in the module as downloaded
// (`go:linkname`, see allocator_bench_test.go). bench/ipam.ts builds and runs it.
package coilbench

import _ "github.com/cybozu-go/coil/v2/pkg/ipam" // linked into the test binary for the go:linkname pulls
