package coilbench

// The loops mirror bench/ipam.ts's in-block rows: a /27 block (with a /123 for dual stack) kept
// half full (16 of 32); each step allocates and then frees the offset allocated the step before.
// Coil's allocator type is unexported, so its functions are reached by symbol name (go:linkname)
// from the module in the module cache (Coil v2.15.0, v2/pkg/ipam/allocator.go).

import (
	"net"
	"testing"
	"unsafe"
)

// allocator is Coil's *allocator, held opaquely.
type allocator = unsafe.Pointer

//go:linkname newAllocator github.com/cybozu-go/coil/v2/pkg/ipam.newAllocator
func newAllocator(ipv4, ipv6 *string) allocator

//go:linkname allocate github.com/cybozu-go/coil/v2/pkg/ipam.(*allocator).allocate
func allocate(a allocator) (ipv4, ipv6 net.IP, idx uint, ok bool)

//go:linkname free github.com/cybozu-go/coil/v2/pkg/ipam.(*allocator).free
func free(a allocator, idx uint)

func benchStr(s string) *string { return &s }

var sinkIP net.IP
var sinkStr string

func benchInBlock(b *testing.B, ipv4, ipv6 *string, format bool) {
	a := newAllocator(ipv4, ipv6)
	for i := 0; i < 16; i++ {
		if _, _, _, ok := allocate(a); !ok {
			b.Fatal("full")
		}
	}
	victim := uint(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v4, v6, idx, ok := allocate(a)
		if !ok {
			b.Fatal("full")
		}
		if format {
			// What coild does before answering the CNI plugin: the addresses as text.
			if v4 != nil {
				sinkStr = v4.String()
			}
			if v6 != nil {
				sinkStr = v6.String()
			}
		} else {
			sinkIP = v4
			sinkIP = v6
		}
		free(a, victim)
		victim = idx
	}
}

func BenchmarkCoilInBlockV4(b *testing.B) { benchInBlock(b, benchStr("10.2.0.0/27"), nil, false) }

func BenchmarkCoilInBlockDual(b *testing.B) {
	benchInBlock(b, benchStr("10.2.0.0/27"), benchStr("fd02::/123"), false)
}

func BenchmarkCoilInBlockV4Text(b *testing.B) { benchInBlock(b, benchStr("10.2.0.0/27"), nil, true) }

func BenchmarkCoilInBlockDualText(b *testing.B) {
	benchInBlock(b, benchStr("10.2.0.0/27"), benchStr("fd02::/123"), true)
}

// TestLinked checks that the linked functions behave as Coil's allocator (first addresses of a block).
func TestLinked(t *testing.T) {
	a := newAllocator(benchStr("10.2.0.0/27"), benchStr("fd02::/123"))
	v4, v6, idx, ok := allocate(a)
	if !ok || idx != 0 || v4.String() != "10.2.0.0" || v6.String() != "fd02::" {
		t.Fatalf("got %v %v %d %v", v4, v6, idx, ok)
	}
	v4, v6, idx, ok = allocate(a)
	if !ok || idx != 1 || v4.String() != "10.2.0.1" || v6.String() != "fd02::1" {
		t.Fatalf("got %v %v %d %v", v4, v6, idx, ok)
	}
	free(a, 0)
	_, _, idx, _ = allocate(a)
	if idx != 2 {
		t.Fatalf("after free(0) the next is 2 (from lastAllocIdx), got %d", idx)
	}
}
