// Command compile turns the esbuild bundle of adapters/cni/quickjs/main.ts into QuickJS bytecode for
// the host to embed: `go run ./compile <bundle.js> <out.qbc>`. Bytecode is tied to the QuickJS
// version, which is why the host and this program share one go.mod.
package main

import (
	"fmt"
	"os"

	"modernc.org/quickjs"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: compile <bundle.js> <out.qbc>")
		os.Exit(2)
	}
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "compile:", err)
		os.Exit(1)
	}
	vm, err := quickjs.NewVM()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compile:", err)
		os.Exit(1)
	}
	defer vm.Close()
	code, err := vm.Compile(string(src), quickjs.EvalGlobal)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compile:", err)
		os.Exit(1)
	}
	tmp := os.Args[2] + ".tmp"
	if err := os.WriteFile(tmp, code, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "compile:", err)
		os.Exit(1)
	}
	if err := os.Rename(tmp, os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "compile:", err)
		os.Exit(1)
	}
}
