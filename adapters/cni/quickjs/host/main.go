// Command coil-qjs is the `coil` CNI executable's host: a static Go program (CGO_ENABLED=0) that runs
// the TypeScript CNI code, compiled to QuickJS bytecode at build time, in the QuickJS engine
// (modernc.org/libquickjs, QuickJS translated to Go). It holds no CNI logic: it offers the script the
// process's environment, arguments, stdin, stdout/stderr and exit, and two transports to coild (one
// request line over a UNIX socket, and one unary HTTP/2 call for gRPC). Everything else (parsing,
// validation, the protocol messages, error codes, result conversion) is the same TypeScript the
// Bun-compiled executable runs: adapters/cni/quickjs/main.ts is the entry.
//
// Why: a CNI plugin is one process per call, so its start-up is paid on every pod ADD and DEL.
// This host starts in less than half the CPU of the Bun executable and is 5.8 MB instead of 112 MB
// (bench/cni-startup.md). For the same reason it drives the engine through its C API (engine.go)
// rather than the modernc.org/quickjs wrapper, and gives it memory of its own (heap.go).
//
// The bytecode is embedded from bundle.qbc. The committed bundle.qbc is empty; scripts/build-cni.sh
// compiles the bundle (./compile) and builds with `go build -overlay` pointing bundle.qbc at it, so
// the source tree is never written. A host built without it refuses to run.
package main

import (
	_ "embed"
	"fmt"
	"os"
)

//go:embed bundle.qbc
var bundle []byte

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "coil: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(bundle) == 0 {
		die("built without its script: build it with scripts/build-cni.sh --qjs-only")
	}
	e, err := newEngine()
	if err != nil {
		die("cannot start the JavaScript engine: %v", err)
	}
	if err := register(e); err != nil {
		die("cannot register the host functions: %v", err)
	}
	// The script ends the process by calling __coil_exit once its promises have settled.
	if err := e.run(bundle); err != nil {
		die("script failed: %v", err)
	}
	die("the script ended without an exit code")
}
