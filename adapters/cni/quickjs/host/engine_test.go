package main

// Tests of the engine (engine.go) and its memory (heap.go): the globals the bundle needs exist and
// work, values cross between the script and Go as the wrapper converted them, and the bump allocator
// keeps QuickJS's accounting, hands out aligned blocks, and falls back to libc's malloc when its
// mapping is used up.

import (
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"modernc.org/libc"
	lib "modernc.org/libquickjs"
)

// compileJS compiles src (a classic script) to bytecode in a context with every intrinsic, as
// ./compile does at build time.
func compileJS(t *testing.T, src string) []byte {
	t.Helper()
	tls := libc.NewTLS()
	defer tls.Close()
	rt := lib.XJS_NewRuntime(tls)
	defer lib.XJS_FreeRuntime(tls, rt)
	ctx := lib.XJS_NewContext(tls, rt)
	defer lib.XJS_FreeContext(tls, ctx)
	code, err := libc.CString(src)
	if err != nil {
		t.Fatal(err)
	}
	defer libc.Xfree(tls, code)
	name, err := libc.CString("test.js")
	if err != nil {
		t.Fatal(err)
	}
	defer libc.Xfree(tls, name)
	fn := lib.XJS_Eval(tls, ctx, code, libc.Tsize_t(len(src)), name, int32(lib.MJS_EVAL_TYPE_GLOBAL|lib.MJS_EVAL_FLAG_COMPILE_ONLY))
	if fn.Ftag == lib.EJS_TAG_EXCEPTION {
		x := lib.XJS_GetException(tls, ctx)
		t.Fatalf("does not compile: %s", libc.GoString(lib.XToCString(tls, ctx, x)))
	}
	defer lib.XFreeValue(tls, ctx, fn)
	var n libc.Tsize_t
	p := lib.XJS_WriteObject(tls, ctx, uintptr(unsafe.Pointer(&n)), fn, int32(lib.MJS_WRITE_OBJ_BYTECODE))
	if p == 0 {
		t.Fatal("cannot write the bytecode")
	}
	defer lib.Xjs_free(tls, ctx, p)
	return append([]byte(nil), libc.GoBytes(p, int(n))...)
}

// runJS runs src in a new engine with the given host functions and returns what run returned.
func runJS(t *testing.T, src string, fns map[string]hostFunc) error {
	t.Helper()
	bytecode := compileJS(t, src)
	e, err := newEngine()
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range fns {
		if err := e.define(name, fn); err != nil {
			t.Fatal(err)
		}
	}
	return e.run(bytecode)
}

// report is a host function that keeps its arguments.
func report(got *[][]any) hostFunc {
	return func(args []any) (any, error) {
		*got = append(*got, args)
		return nil, nil
	}
}

func TestIntrinsicsTheBundleUses(t *testing.T) {
	var got [][]any
	err := runJS(t, `
		for (const name of ["Object", "Function", "Array", "Error", "TypeError", "RangeError", "String", "Number",
			"Boolean", "Symbol", "BigInt", "Math", "Reflect", "JSON", "Date", "RegExp", "Map", "Set", "ArrayBuffer",
			"DataView", "Uint8Array", "Uint32Array", "Promise"]) {
			__report(name, typeof globalThis[name]);
		}
		__report("regexp", new RegExp("^[a-z]+$", "i").test("Abc") && /^\d+$/.test("12"));
		__report("bigint", String(2n ** 64n - 1n));
		__report("dataview", new DataView(new ArrayBuffer(8)).getUint8(0));
		__report("date", typeof Date.now());
		__report("map", new Map([["a", 1]]).get("a") + new Set([1, 1]).size);
		(async () => { await null; __report("async", "done"); })();
	`, map[string]hostFunc{"__report": report(&got)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r[1] == "undefined" {
			t.Errorf("%v is missing in the engine's context", r[0])
		}
	}
	want := map[any]any{"regexp": true, "bigint": "18446744073709551615", "dataview": 0, "date": "number", "map": 2, "async": "done"}
	for _, r := range got {
		if w, ok := want[r[0]]; ok {
			if r[1] != w {
				t.Errorf("%v: got %#v, want %#v", r[0], r[1], w)
			}
			delete(want, r[0])
		}
	}
	if len(want) != 0 {
		t.Errorf("not reported: %v", want)
	}
}

func TestValuesCrossAsTheWrapperConvertedThem(t *testing.T) {
	var got [][]any
	fns := map[string]hostFunc{
		"__report": report(&got),
		"__value": func(args []any) (any, error) {
			switch args[0] {
			case "object":
				return map[string]any{"b": 1, "a": "x", "c": map[string]string{"z": "1", "y": "2"}, "d": nil, "e": true, "f": 1.5}, nil
			case "array":
				return []string{"one", "two"}, nil
			case "big":
				return 1 << 40, nil
			case "invalid utf-8":
				return "a\xffb\xed\xa0\x80c", nil
			case "error":
				return nil, errors.New("host: 100% wrong")
			case "unsupported":
				return struct{}{}, nil
			}
			return nil, nil
		},
	}
	err := runJS(t, `
		const o = __value("object");
		__report(JSON.stringify(o), Object.keys(o).join(","), Object.keys(o.c).join(","));
		__report(JSON.stringify(__value("array")), Array.isArray(__value("array")));
		__report(__value("big"), __value("none"));
		const s = __value("invalid utf-8");
		__report(s.length, [...s].map(c => c.codePointAt(0).toString(16)).join(" "));
		for (const what of ["error", "unsupported"]) {
			try { __value(what); __report("no throw"); } catch (e) { __report(e instanceof TypeError, e.message); }
		}
		__report("x", 1, 2.5, true, null, undefined, {}, "\ud800", "\u00e9\ud83d\ude00");
		__report(__value.length, Object.getOwnPropertyDescriptor(globalThis, "__value").enumerable);
	`, fns)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{`{"a":"x","b":1,"c":{"y":"2","z":"1"},"d":null,"e":true,"f":1.5}`, "a,b,c,d,e,f", "y,z"},
		{`["one","two"]`, true},
		{float64(1 << 40), nil},
		{7, "61 fffd 62 fffd fffd fffd 63"}, // as Go decodes it: U+FFFD per byte that starts no valid sequence
		{true, "host: 100% wrong"},
		{true, "host: cannot convert struct {}"},
		{"x", 1, 2.5, true, nil, undefined{}, unsupported{}, "\uFFFD", "é😀"},
		{0, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%#v\nwant\n%#v", got, want)
	}
}

func TestScriptErrors(t *testing.T) {
	if err := runJS(t, `throw new RangeError("top")`, nil); err == nil || err.Error() != "RangeError: top" {
		t.Errorf("a throw at the top level: got %v", err)
	}
	var got [][]any
	err := runJS(t, `
		Promise.reject(new Error("unhandled"));
		Promise.resolve().then(() => { throw new Error("in a reaction"); });
		Promise.resolve().then(() => __report("ran"));
	`, map[string]hostFunc{"__report": report(&got)})
	if err != nil || len(got) != 1 {
		t.Errorf("rejections are the script's to handle (main.ts catches them): got %v, %v", err, got)
	}
}

func TestScriptMemory(t *testing.T) {
	// Strings, arrays and objects well past the mapping's first populated steps, grown and freed in
	// every order the engine does it (realloc of the last block and of others, frees).
	var got [][]any
	err := runJS(t, `
		let s = "";
		for (let i = 0; i < 20000; i++) s += String(i % 10);
		const parts = [];
		for (let i = 0; i < 2000; i++) parts.push({ i, text: "x".repeat(i % 300) });
		const big = new Uint8Array(8 << 20);
		big[big.length - 1] = 7;
		const json = JSON.stringify(parts);
		__report(s.length, JSON.parse(json).length, big[big.length - 1], json.length > 300000);
	`, map[string]hostFunc{"__report": report(&got)})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]any{{20000, 2000, 7, true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// newState is a JSMallocState in C memory, as the engine keeps one.
func newState(t *testing.T, tls *libc.TLS) *lib.TJSMallocState {
	t.Helper()
	p := libc.Xcalloc(tls, 1, libc.Tsize_t(unsafe.Sizeof(lib.TJSMallocState{})))
	if p == 0 {
		t.Fatal("out of memory")
	}
	t.Cleanup(func() { libc.Xfree(tls, p) })
	st := (*lib.TJSMallocState)(cPtr(p))
	st.Fmalloc_limit = ^libc.Tsize_t(0)
	return st
}

func fill(p uintptr, n int, b byte) {
	for i := range unsafe.Slice((*byte)(cPtr(p)), n) {
		*(*byte)(cPtr(p + uintptr(i))) = b
	}
}

func holds(p uintptr, n int, b byte) bool {
	for _, c := range unsafe.Slice((*byte)(cPtr(p)), n) {
		if c != b {
			return false
		}
	}
	return true
}

func TestHeap(t *testing.T) {
	tls := libc.NewTLS()
	defer tls.Close()
	h := newHeap(1 << 20)
	if h.mem == nil {
		t.Fatal("no mapping")
	}
	st := newState(t, tls)
	check := func(what string, count int, p ...uintptr) {
		t.Helper()
		var size libc.Tsize_t
		for _, q := range p {
			if q%heapAlign != 0 {
				t.Errorf("%s: block %#x is not %d-aligned", what, q, heapAlign)
			}
			size += h.usable(tls, q) + lib.MMALLOC_OVERHEAD
		}
		if int(st.Fmalloc_count) != count || st.Fmalloc_size != size {
			t.Errorf("%s: count %d size %d, want %d %d", what, st.Fmalloc_count, st.Fmalloc_size, count, size)
		}
	}

	a := h.malloc(tls, st, 100)
	b := h.malloc(tls, st, 4136)
	if !h.owns(a) || !h.owns(b) || b < a+100 || h.usable(tls, a) != 112 {
		t.Fatalf("a %#x (%d bytes), b %#x", a, h.usable(tls, a), b)
	}
	fill(a, 100, 'a')
	fill(b, 4136, 'b')
	check("two blocks", 2, a, b)

	// The last block grows in place; another one moves, keeping its bytes.
	if q := h.realloc(tls, st, b, 10000); q != b {
		t.Errorf("the last block moved: %#x → %#x", b, q)
	}
	a2 := h.realloc(tls, st, a, 1000)
	if a2 == a || !holds(a2, 100, 'a') || !holds(b, 4136, 'b') {
		t.Errorf("realloc of a block that is not the last one: %#x → %#x", a, a2)
	}
	check("after realloc", 2, a2, b)
	// Shrinking keeps the block; freeing the last block gives its space back.
	if q := h.realloc(tls, st, b, 10); q != b {
		t.Errorf("shrinking moved the block")
	}
	next := h.next
	h.free(tls, st, a2)
	if h.next >= next {
		t.Errorf("freeing the last block did not give it back")
	}
	if c := h.malloc(tls, st, 1000); c != a2 {
		t.Errorf("the space of the last block freed is not reused: %#x, want %#x", c, a2)
	} else {
		h.free(tls, st, c)
	}
	check("after free", 1, b)

	// Past the mapping, blocks come from libc's malloc, and are freed there.
	big := h.malloc(tls, st, 2<<20)
	if big == 0 || h.owns(big) {
		t.Fatalf("a block larger than the mapping: %#x", big)
	}
	fill(big, 2<<20, 'c')
	big2 := h.realloc(tls, st, big, 3<<20)
	if big2 == 0 || h.owns(big2) || !holds(big2, 2<<20, 'c') {
		t.Fatalf("realloc of a libc block: %#x", big2)
	}
	check("with a libc block", 2, b, big2)
	// A block of the mapping that grows past it moves to libc's malloc.
	moved := h.realloc(tls, st, b, 4<<20)
	if moved == 0 || h.owns(moved) || !holds(moved, 10, 'b') {
		t.Fatalf("a mapped block grown past the mapping: %#x", moved)
	}
	h.free(tls, st, big2)
	h.free(tls, st, moved)
	check("all freed", 0)

	// The limit of JS_SetMemoryLimit holds.
	st.Fmalloc_limit = st.Fmalloc_size + 1000
	if p := h.malloc(tls, st, 2000); p != 0 {
		t.Errorf("malloc past the limit gave %#x", p)
	}
	if h.malloc(tls, st, 0) == 0 || h.realloc(tls, st, 0, 0) != 0 {
		t.Errorf("malloc(0) must give a block, realloc(NULL, 0) none")
	}
	if h.populated < h.next || h.populated > h.next+populateStep {
		t.Errorf("populated up to %#x, next %#x", h.populated, h.next)
	}
}
