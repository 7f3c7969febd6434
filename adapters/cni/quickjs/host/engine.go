package main

// The engine: QuickJS driven through its C API as translated to Go (modernc.org/libquickjs), without
// the modernc.org/quickjs wrapper. Why: start-up is paid on every CNI call, and the wrapper's costs
// more than the script needs: its host functions go through reflection, its EvalBytecode copies the
// bytecode twice before reading it, its VM has an interrupt handler the engine polls. Here every host
// function is one C function (dispatch, told apart by its magic number), and the bytecode is read
// where it is embedded. The context has every intrinsic, as the wrapper's: one with only those the
// bundle uses (no Proxy, WeakRef, String.prototype.normalize, eval) measured the same.
// bench/cni-startup.md has the figures.
//
// What crosses keeps the wrapper's conversions, so that the script sees the same values: Go strings
// reach the script with each byte that does not start valid UTF-8 replaced by U+FFFD, script strings
// reach Go with a lone surrogate as U+FFFD, maps become objects with their keys in sorted order, an
// error a host function returns is thrown as a TypeError with its text.
//
// Every pointer the engine gets points into C memory (libc.Xmalloc or the TLS's C stack) or at static
// data (the embedded bytecode): the transpiled C holds them as uintptr, which the Go GC does not see,
// and a goroutine stack that grows moves what is on it.

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"unicode/utf8"
	"unsafe"

	"modernc.org/libc"
	lib "modernc.org/libquickjs"
)

// A JSValue is 16 bytes, a payload and a tag, on the 64-bit targets the build makes. The 32-bit
// targets NaN-box it into 8, which the helpers below do not handle: this fails to compile there.
var _ [16 - unsafe.Sizeof(lib.TJSValue{})]byte
var _ [unsafe.Sizeof(lib.TJSValue{}) - 16]byte

var (
	jsNull      = lib.TJSValue{Ftag: lib.EJS_TAG_NULL}
	jsUndefined = lib.TJSValue{Ftag: lib.EJS_TAG_UNDEFINED}
)

// hostFunc is a function the script calls: its arguments converted to Go (string, int, float64,
// bool, nil for null, undefined{} for undefined), its result converted back by toJS; a non-nil error
// is thrown as a TypeError.
type hostFunc func(args []any) (any, error)

// undefined is the Go form of a JavaScript undefined argument.
type undefined struct{}

// unsupported is the Go form of an argument no host function takes (an object, a symbol, a BigInt):
// the function's own type check then names the argument.
type unsupported struct{}

// gcThreshold is the engine's memory use at which it first collects cycles.
const gcThreshold = 32 << 20

type engine struct {
	tls *libc.TLS
	rt  uintptr // JSRuntime*
	ctx uintptr // JSContext*
	fns []hostFunc
}

// theEngine is the one engine of the process: dispatch, called by the engine with only the context,
// finds the host functions through it.
var theEngine *engine

// newEngine makes the runtime, with its own memory (heap.go), and a context with every intrinsic.
func newEngine() (*engine, error) {
	tls := libc.NewTLS()
	rt := newHeapRuntime(tls)
	if rt == 0 {
		return nil, fmt.Errorf("cannot create the runtime")
	}
	// The engine frees memory by reference counting and collects cycles when its memory use passes
	// the GC threshold (256 KB at first, then 1.5 times what survived). The script reaches that a few
	// times while its bytecode is read and evaluated, and each collection walks every object for
	// garbage that a process living for one call need not reclaim (5 % of the instructions of a
	// VERSION call). The threshold stays as a safety net for a script that makes a lot of cyclic
	// garbage.
	lib.XJS_SetGCThreshold(tls, rt, gcThreshold)
	ctx := lib.XJS_NewContext(tls, rt)
	if ctx == 0 {
		return nil, fmt.Errorf("cannot create the context")
	}
	e := &engine{tls: tls, rt: rt, ctx: ctx}
	theEngine = e
	return e, nil
}

// define makes fn the global function name: writable, configurable, not enumerable and of length 0, as
// the wrapper defined its host functions.
func (e *engine) define(name string, fn hostFunc) error {
	magic := int32(len(e.fns))
	e.fns = append(e.fns, fn)
	cName := e.cString(name)
	defer libc.Xfree(e.tls, cName)
	f := lib.XJS_NewCFunction2(e.tls, e.ctx, funcPtr(dispatch), cName, 0, lib.EJS_CFUNC_generic_magic, magic)
	if f.Ftag == lib.EJS_TAG_EXCEPTION {
		return fmt.Errorf("cannot define %s: %s", name, e.takeException())
	}
	g := lib.XJS_GetGlobalObject(e.tls, e.ctx)
	defer lib.XFreeValue(e.tls, e.ctx, g)
	// JS_DefinePropertyValueStr takes over f, also when it fails.
	if lib.XJS_DefinePropertyValueStr(e.tls, e.ctx, g, cName, f, lib.MJS_PROP_WRITABLE|lib.MJS_PROP_CONFIGURABLE|lib.MJS_PROP_THROW) < 0 {
		return fmt.Errorf("cannot define %s: %s", name, e.takeException())
	}
	return nil
}

// funcPtr is what the transpiled C takes for a C function pointer: the Go func value's pointer (as
// ccgo's own __ccgo_fp makes it).
func funcPtr(f any) uintptr {
	type iface [2]uintptr
	return (*iface)(unsafe.Pointer(&f))[1]
}

// cPtr is the C address p as a pointer. C memory is outside the Go heap, which go vet cannot know
// of a uintptr; unsafe.Add from nil is how the transpiled C itself turns its addresses into pointers.
func cPtr(p uintptr) unsafe.Pointer { return unsafe.Add(nil, p) }

// dispatch is the C function behind every host function (JSCFunctionMagic): magic is its index in
// e.fns. A Go panic in a host function is not recovered: it ends the process, as it did under the
// wrapper (which threw an uncatchable error and re-panicked once the engine returned).
func dispatch(tls *libc.TLS, ctx uintptr, this lib.TJSValue, argc int32, argv uintptr, magic int32) lib.TJSValue {
	e := theEngine
	args := make([]any, argc)
	for i := range args {
		v := *(*lib.TJSValue)(cPtr(argv + uintptr(i)*unsafe.Sizeof(lib.TJSValue{})))
		a, ok := e.toGo(v)
		if !ok {
			return lib.TJSValue{Ftag: lib.EJS_TAG_EXCEPTION} // the string conversion threw (out of memory)
		}
		args[i] = a
	}
	r, err := e.fns[magic](args)
	if err != nil {
		return e.throwTypeError(err.Error())
	}
	v, err := e.toJS(r)
	if err != nil {
		return e.throwTypeError(err.Error())
	}
	return v
}

// toGo converts an argument (borrowed, not freed). ok is false when converting a string threw; the
// exception is then pending.
func (e *engine) toGo(v lib.TJSValue) (r any, ok bool) {
	switch v.Ftag {
	case lib.EJS_TAG_STRING, lib.EJS_TAG_STRING_ROPE:
		return e.goString(v)
	case lib.EJS_TAG_INT:
		return int(int32(*(*uint64)(unsafe.Pointer(&v.Fu)))), true
	case lib.EJS_TAG_FLOAT64:
		return *(*float64)(unsafe.Pointer(&v.Fu)), true
	case lib.EJS_TAG_BOOL:
		return int32(*(*uint64)(unsafe.Pointer(&v.Fu))) != 0, true
	case lib.EJS_TAG_NULL:
		return nil, true
	case lib.EJS_TAG_UNDEFINED:
		return undefined{}, true
	}
	return unsupported{}, true
}

// toJS converts a host function's result: nil (null), string, int, float64, bool, []string,
// map[string]string and map[string]any of these. The caller owns the value returned.
func (e *engine) toJS(x any) (lib.TJSValue, error) {
	switch x := x.(type) {
	case nil:
		return jsNull, nil
	case string:
		return e.newString(x)
	case int:
		if int64(x) == int64(int32(x)) {
			var v lib.TJSValue
			*(*uint64)(unsafe.Pointer(&v.Fu)) = uint64(uint32(int32(x)))
			v.Ftag = lib.EJS_TAG_INT
			return v, nil
		}
		return e.toJS(float64(x))
	case float64:
		var v lib.TJSValue
		*(*float64)(unsafe.Pointer(&v.Fu)) = x
		v.Ftag = lib.EJS_TAG_FLOAT64
		return v, nil
	case bool:
		var v lib.TJSValue
		if x {
			*(*uint64)(unsafe.Pointer(&v.Fu)) = 1
		}
		v.Ftag = lib.EJS_TAG_BOOL
		return v, nil
	case []string:
		a := lib.XJS_NewArray(e.tls, e.ctx)
		if a.Ftag == lib.EJS_TAG_EXCEPTION {
			return a, fmt.Errorf("%s", e.takeException())
		}
		for i, s := range x {
			v, err := e.newString(s)
			if err == nil && lib.XJS_SetPropertyUint32(e.tls, e.ctx, a, uint32(i), v) < 0 { // takes over v
				err = fmt.Errorf("%s", e.takeException())
			}
			if err != nil {
				lib.XFreeValue(e.tls, e.ctx, a)
				return jsUndefined, err
			}
		}
		return a, nil
	case map[string]string:
		return e.object(sortedPairs(x))
	case map[string]any:
		return e.object(sortedPairs(x))
	}
	return jsUndefined, fmt.Errorf("host: cannot convert %T", x)
}

type pair struct {
	key   string
	value any
}

// sortedPairs is m in the order of its keys: property order is observable (Object.keys,
// JSON.stringify) and Go's map order is random, so the wrapper sorted them too.
func sortedPairs[V any](m map[string]V) []pair {
	all := make([]pair, 0, len(m))
	for k, v := range m {
		all = append(all, pair{k, v})
	}
	slices.SortFunc(all, func(a, b pair) int { return cmp.Compare(a.key, b.key) })
	return all
}

// object makes an object of the pairs, in their order. The properties are set with
// JS_SetPropertyStr, as the wrapper did.
func (e *engine) object(all []pair) (lib.TJSValue, error) {
	o := lib.XJS_NewObject(e.tls, e.ctx)
	if o.Ftag == lib.EJS_TAG_EXCEPTION {
		return o, fmt.Errorf("%s", e.takeException())
	}
	for _, p := range all {
		v, err := e.toJS(p.value)
		if err == nil {
			key := e.cString(validUTF8(p.key))
			rc := lib.XJS_SetPropertyStr(e.tls, e.ctx, o, key, v) // takes over v, not key
			libc.Xfree(e.tls, key)
			if rc < 0 {
				err = fmt.Errorf("%s", e.takeException())
			}
		}
		if err != nil {
			lib.XFreeValue(e.tls, e.ctx, o)
			return jsUndefined, err
		}
	}
	return o, nil
}

// cString copies s, NUL-terminated, into C memory; the caller frees it with libc.Xfree.
func (e *engine) cString(s string) uintptr {
	p := libc.Xmalloc(e.tls, libc.Tsize_t(len(s)+1))
	if p == 0 {
		panic("host: out of memory")
	}
	b := unsafe.Slice((*byte)(cPtr(p)), len(s)+1)
	copy(b, s)
	b[len(s)] = 0
	return p
}

// newString makes a script string of s (see validUTF8).
func (e *engine) newString(s string) (lib.TJSValue, error) {
	s = validUTF8(s)
	p := e.cString(s)
	defer libc.Xfree(e.tls, p)
	v := lib.XJS_NewStringLen(e.tls, e.ctx, p, libc.Tsize_t(len(s)))
	if v.Ftag == lib.EJS_TAG_EXCEPTION {
		return v, fmt.Errorf("%s", e.takeException())
	}
	return v, nil
}

// goString converts v (borrowed) to a Go string (see wellFormed); any value is converted as by
// String(v). ok is false when that threw, the exception then pending.
func (e *engine) goString(v lib.TJSValue) (s string, ok bool) {
	// The length out-parameter is on the C stack: the callee holds its address as a uintptr.
	plen := e.tls.Alloc(int(unsafe.Sizeof(libc.Tsize_t(0))))
	defer e.tls.Free(int(unsafe.Sizeof(libc.Tsize_t(0))))
	p := lib.XJS_ToCStringLen2(e.tls, e.ctx, plen, v, 0)
	if p == 0 {
		return "", false
	}
	defer lib.XJS_FreeCString(e.tls, e.ctx, p)
	return wellFormed(unsafe.Slice((*byte)(cPtr(p)), *(*libc.Tsize_t)(cPtr(plen)))), true
}

// throwTypeError throws a TypeError with msg and returns the exception value.
func (e *engine) throwTypeError(msg string) lib.TJSValue {
	// The message is an argument of "%s", never the format: it may hold a '%'.
	format := e.cString("%s")
	defer libc.Xfree(e.tls, format)
	p := e.cString(validUTF8(msg))
	defer libc.Xfree(e.tls, p)
	bp := e.tls.Alloc(16)
	defer e.tls.Free(16)
	return lib.XJS_ThrowTypeError(e.tls, e.ctx, format, libc.VaList(bp+8, p))
}

// takeException takes the pending exception and returns its text (String(exception), as the wrapper
// reported it: "TypeError: …").
func (e *engine) takeException() string {
	x := lib.XJS_GetException(e.tls, e.ctx)
	defer lib.XFreeValue(e.tls, e.ctx, x)
	s, ok := e.goString(x)
	if !ok {
		lib.XFreeValue(e.tls, e.ctx, lib.XJS_GetException(e.tls, e.ctx))
		return "(an exception that cannot be converted to a string)"
	}
	return s
}

// run evaluates the bytecode and then runs the job queue (promise reactions, async continuations)
// until it is empty. Every host call is synchronous, so the queue drains for good; the script ends
// the process by calling __coil_exit before that. An exception in a job does not stop the others
// (as with the wrapper); the first one is returned.
func (e *engine) run(bytecode []byte) error {
	// The bytecode is read in place: JS_ReadObject copies what it keeps, and bundle is static data
	// the GC neither moves nor frees.
	obj := lib.XJS_ReadObject(e.tls, e.ctx, uintptr(unsafe.Pointer(unsafe.SliceData(bytecode))), libc.Tsize_t(len(bytecode)), lib.MJS_READ_OBJ_BYTECODE)
	if obj.Ftag == lib.EJS_TAG_EXCEPTION {
		return fmt.Errorf("%s", e.takeException())
	}
	r := lib.XJS_EvalFunction(e.tls, e.ctx, obj) // takes over obj
	if r.Ftag == lib.EJS_TAG_EXCEPTION {
		return fmt.Errorf("%s", e.takeException())
	}
	lib.XFreeValue(e.tls, e.ctx, r)
	var first error
	for {
		switch rc := lib.XJS_ExecutePendingJob(e.tls, e.rt, 0); {
		case rc == 0:
			return first
		case rc < 0:
			if err := fmt.Errorf("%s", e.takeException()); first == nil {
				first = err
			}
		}
	}
}

// wellFormed returns b, UTF-8 the engine wrote from a script string, as a Go string with U+FFFD for
// each lone surrogate (which the engine writes as the three bytes of its code point, 0xED 0xA0-0xBF
// 0x80-0xBF, not UTF-8), as Node's Buffer and a TextEncoder do. U+FFFD takes three bytes too.
func wellFormed(b []byte) string {
	var r []byte
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], 0xed)
		if j < 0 {
			break
		}
		i += j
		if i+2 >= len(b) {
			break
		}
		if b[i+1] < 0xa0 {
			i++
			continue
		}
		if r == nil {
			r = bytes.Clone(b)
		}
		copy(r[i:], "\uFFFD")
		i += 3
	}
	if r == nil {
		return string(b)
	}
	return string(r)
}

// validUTF8 returns s with U+FFFD for each byte that does not start a valid UTF-8 sequence (how Go
// decodes a string); given invalid UTF-8, the engine would skip the bytes after an invalid one and
// decode the three-byte form of a surrogate as that surrogate.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b []byte
	for _, r := range s { // an invalid byte comes as utf8.RuneError
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}
