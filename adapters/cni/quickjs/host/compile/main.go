// Command compile turns the esbuild bundle of adapters/cni/quickjs/main.ts into QuickJS bytecode for
// the host to embed: `go run ./compile <bundle.js> <out.qbc>`. Bytecode is tied to the QuickJS
// version, which is why the host and this program share one go.mod.
//
// The bytecode is stripped of debug information and source (JS_SetStripInfo): a third of the size
// (80 instead of 262 KB for the bundle today), so less for the host to read at every start. The
// cost: a script error's stack has no line numbers. Like the host, this uses the engine's C API as
// translated to Go (modernc.org/libquickjs).
package main

import (
	"fmt"
	"os"
	"unsafe"

	"modernc.org/libc"
	lib "modernc.org/libquickjs"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compile: "+format+"\n", args...)
	os.Exit(1)
}

func compile(src []byte) []byte {
	tls := libc.NewTLS()
	defer tls.Close()
	rt := lib.XJS_NewRuntime(tls)
	if rt == 0 {
		fail("cannot create a runtime")
	}
	defer lib.XJS_FreeRuntime(tls, rt)
	lib.XJS_SetStripInfo(tls, rt, int32(lib.MJS_STRIP_DEBUG|lib.MJS_STRIP_SOURCE))
	ctx := lib.XJS_NewContext(tls, rt)
	if ctx == 0 {
		fail("cannot create a context")
	}
	defer lib.XJS_FreeContext(tls, ctx)
	// JS_Eval needs a NUL after the source.
	code, err := libc.CString(string(src))
	if err != nil {
		fail("%v", err)
	}
	defer libc.Xfree(tls, code)
	name, err := libc.CString("coil.js")
	if err != nil {
		fail("%v", err)
	}
	defer libc.Xfree(tls, name)
	fn := lib.XJS_Eval(tls, ctx, code, libc.Tsize_t(len(src)), name, int32(lib.MJS_EVAL_TYPE_GLOBAL|lib.MJS_EVAL_FLAG_COMPILE_ONLY))
	if fn.Ftag == lib.EJS_TAG_EXCEPTION { // amd64 layout (the only target the build script makes)
		exc := lib.XJS_GetException(tls, ctx)
		fail("the bundle does not compile: %s", libc.GoString(lib.XToCString(tls, ctx, exc)))
	}
	defer lib.XFreeValue(tls, ctx, fn)
	var n libc.Tsize_t
	p := lib.XJS_WriteObject(tls, ctx, uintptr(unsafe.Pointer(&n)), fn, int32(lib.MJS_WRITE_OBJ_BYTECODE))
	if p == 0 {
		fail("cannot write the bytecode")
	}
	defer lib.Xjs_free(tls, ctx, p)
	return append([]byte(nil), libc.GoBytes(p, int(n))...) // a copy: p is freed on return
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: compile <bundle.js> <out.qbc>")
		os.Exit(2)
	}
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	code := compile(src)
	tmp := os.Args[2] + ".tmp"
	if err := os.WriteFile(tmp, code, 0o644); err != nil {
		fail("%v", err)
	}
	if err := os.Rename(tmp, os.Args[2]); err != nil {
		fail("%v", err)
	}
}
