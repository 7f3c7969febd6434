package coilbench

// Coil v2.15.0's table-119 exporter (pkg/nodenet.RouteExporter, what Coil's coild calls) timed on
// the same workload as our RouteExport in bench/router-scale.ts. Not a Go benchmark: it changes the
// routing table of the network namespace it runs in, so it runs only when bench/router-scale.ts
// starts the test binary inside a fresh namespace with COILBENCH_EXPORT_BLOCKS=N; otherwise it is
// skipped. It prints one JSON line (the same fields as the TypeScript child).

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/cybozu-go/coil/v2/pkg/nodenet"
)

// exportCidr is the k-th /27 of 10.192.0.0/10, as bench/router-scale.ts's child uses.
func exportCidr(k int) *net.IPNet {
	a := uint32(10)<<24 | uint32(192)<<16 + uint32(32*k)
	return &net.IPNet{IP: net.IPv4(byte(a>>24), byte(a>>16), byte(a>>8), byte(a)).To4(), Mask: net.CIDRMask(27, 32)}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func TestRouteExportTiming(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("COILBENCH_EXPORT_BLOCKS"))
	if err != nil || n <= 0 {
		t.Skip("COILBENCH_EXPORT_BLOCKS not set: run through bench/router-scale.ts (it changes the namespace's table 119)")
	}
	exp := nodenet.NewRouteExporter(119, 30, logr.Discard())
	nets := make([]*net.IPNet, 0, n+1)
	for k := 0; k < n; k++ {
		nets = append(nets, exportCidr(k))
	}
	timed := func() float64 {
		t0 := time.Now()
		if err := exp.Sync(nets); err != nil {
			t.Fatalf("sync: %v", err)
		}
		return float64(time.Since(t0).Microseconds()) / 1000
	}
	cpu0 := cpuSeconds()
	full := timed()
	nets = append(nets, exportCidr(n))
	addOne := timed()
	noop := timed()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	out, _ := json.Marshal(map[string]any{
		"blocks": n, "fullMs": full, "addOneMs": addOne, "noopMs": noop,
		"cpuS": cpuSeconds() - cpu0, "childCpuS": 0, "rssMiB": float64(ru.Maxrss) / 1024,
	})
	fmt.Println(string(out))
}
