package main

// The engine's memory: a bump allocator over one anonymous mapping, given to JS_NewRuntime2 in place
// of the default (libc's malloc, modernc.org/memory). QuickJS asks its malloc for 4 KB arenas, out of
// which it serves its small objects itself, and for large blocks; a VERSION call takes about 0.5 MB.
// Why: the pages of the mapping are made present ahead of the allocator, populateStep bytes at a
// time, with one madvise(MADV_POPULATE_WRITE) where touching them would take one page fault each. A
// process that lives for one CNI call spends a good part of its CPU on first touches of fresh memory:
// this took a VERSION call from 1.41 to 1.34 times ptp's CPU (bench/cni-startup.md). The same over
// libc's malloc is not possible: where it puts what is not known ahead.
//
// Nothing is given back to the system, and a freed block is reused only when it is the last one
// handed out (the engine's arenas recycle its small objects). That suits a process that lives for
// one CNI call, and the mapping is bounded: once it is used up, the rest comes from libc's malloc,
// which frees. The mapping is MAP_NORESERVE, so only the pages used cost memory.

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"modernc.org/libc"
	lib "modernc.org/libquickjs"
)

const (
	heapSize = 64 << 20
	// populateStep: 128 KB per madvise. Steps of 64 to 512 KB measured alike; larger ones populate
	// pages a call never uses (zeroing them costs too), smaller ones make more system calls.
	populateStep = 128 << 10
	// Every block starts with a header of heapAlign bytes whose last 8 hold its size, so that blocks
	// stay 16-aligned as malloc's are.
	heapAlign = 16
)

type heap struct {
	mem              []byte  // the mapping (nil: none, everything comes from libc's malloc)
	start, next, end uintptr // its bounds and the first free byte
	populated        uintptr // the pages below are present (end: populating failed)
	last             uintptr // the block handed out last (0: none), which free and realloc may give back
}

// theHeap is the one heap of the process: the malloc functions, called by the engine with only its
// malloc state, reach it through this.
var theHeap heap

// newHeap maps size bytes; without the mapping, the heap hands everything on to libc's malloc.
func newHeap(size int) heap {
	m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return heap{}
	}
	// Small pages, also where transparent huge pages are on for every mapping: a 2 MB page is
	// zeroed whole at its first touch, four times what a VERSION call uses.
	_ = syscall.Madvise(m, unix.MADV_NOHUGEPAGE)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	return heap{mem: m, start: start, next: start, populated: start, end: start + uintptr(size)}
}

// newHeapRuntime makes a runtime whose memory comes from theHeap.
func newHeapRuntime(tls *libc.TLS) uintptr {
	theHeap = newHeap(heapSize)
	// JS_NewRuntime2 copies the table; it is on the C stack because the transpiled C reads it
	// through a uintptr.
	mf := tls.Alloc(int(unsafe.Sizeof(lib.TJSMallocFunctions{})))
	defer tls.Free(int(unsafe.Sizeof(lib.TJSMallocFunctions{})))
	*(*lib.TJSMallocFunctions)(cPtr(mf)) = lib.TJSMallocFunctions{
		Fjs_malloc:             funcPtr(heapMalloc),
		Fjs_free:               funcPtr(heapFree),
		Fjs_realloc:            funcPtr(heapRealloc),
		Fjs_malloc_usable_size: funcPtr(heapUsableSize),
	}
	return lib.XJS_NewRuntime2(tls, mf, 0)
}

// The engine's JSMallocFunctions (s is its JSMallocState*).

func heapMalloc(tls *libc.TLS, s uintptr, size libc.Tsize_t) uintptr {
	return theHeap.malloc(tls, (*lib.TJSMallocState)(cPtr(s)), size)
}

func heapFree(tls *libc.TLS, s uintptr, p uintptr) {
	theHeap.free(tls, (*lib.TJSMallocState)(cPtr(s)), p)
}

func heapRealloc(tls *libc.TLS, s uintptr, p uintptr, size libc.Tsize_t) uintptr {
	return theHeap.realloc(tls, (*lib.TJSMallocState)(cPtr(s)), p, size)
}

func heapUsableSize(tls *libc.TLS, p uintptr) libc.Tsize_t {
	return theHeap.usable(tls, p)
}

func (h *heap) owns(p uintptr) bool { return p >= h.start && p < h.end }

// alloc returns a block of at least n bytes from the mapping, or 0 when the mapping is used up.
func (h *heap) alloc(n libc.Tsize_t) uintptr {
	if h.mem == nil || n > libc.Tsize_t(len(h.mem)) {
		return 0
	}
	n = (n + heapAlign - 1) &^ (heapAlign - 1)
	if avail := h.end - h.next; avail < heapAlign || uintptr(n) > avail-heapAlign {
		return 0
	}
	p := h.next + heapAlign
	h.setNext(p + uintptr(n))
	*(*libc.Tsize_t)(cPtr(p - 8)) = n
	h.last = p
	return p
}

// setNext moves the first free byte to next, populating the pages below it first.
func (h *heap) setNext(next uintptr) {
	for next > h.populated {
		off := h.populated - h.start
		n := min(uintptr(populateStep), h.end-h.populated)
		// MADV_POPULATE_WRITE is Linux 5.14's; without it the pages fault in one by one.
		if syscall.Madvise(h.mem[off:off+n], unix.MADV_POPULATE_WRITE) != nil {
			h.populated = h.end
			break
		}
		h.populated += n
	}
	h.next = next
}

// usable is the size of block p (of the mapping or of libc's malloc).
func (h *heap) usable(tls *libc.TLS, p uintptr) libc.Tsize_t {
	if h.owns(p) {
		return *(*libc.Tsize_t)(cPtr(p - 8))
	}
	return libc.Xmalloc_usable_size(tls, p)
}

// malloc, free and realloc keep the accounting of QuickJS's default functions (malloc_count,
// malloc_size with MALLOC_OVERHEAD per block, malloc_limit), which its GC trigger and memory limit
// read.

func (h *heap) malloc(tls *libc.TLS, st *lib.TJSMallocState, size libc.Tsize_t) uintptr {
	if st.Fmalloc_size+size > st.Fmalloc_limit {
		return 0
	}
	p := h.alloc(size)
	if p == 0 {
		if p = libc.Xmalloc(tls, size); p == 0 {
			return 0
		}
	}
	st.Fmalloc_count++
	st.Fmalloc_size += h.usable(tls, p) + lib.MMALLOC_OVERHEAD
	return p
}

func (h *heap) free(tls *libc.TLS, st *lib.TJSMallocState, p uintptr) {
	if p == 0 {
		return
	}
	st.Fmalloc_count--
	st.Fmalloc_size -= h.usable(tls, p) + lib.MMALLOC_OVERHEAD
	switch {
	case !h.owns(p):
		libc.Xfree(tls, p)
	case p == h.last:
		h.next, h.last = p-heapAlign, 0
	}
}

func (h *heap) realloc(tls *libc.TLS, st *lib.TJSMallocState, p uintptr, size libc.Tsize_t) uintptr {
	if p == 0 {
		if size == 0 {
			return 0
		}
		return h.malloc(tls, st, size)
	}
	if size == 0 {
		h.free(tls, st, p)
		return 0
	}
	old := h.usable(tls, p)
	if st.Fmalloc_size+size-old > st.Fmalloc_limit {
		return 0
	}
	if !h.owns(p) {
		q := libc.Xrealloc(tls, p, size)
		if q == 0 {
			return 0
		}
		st.Fmalloc_size += h.usable(tls, q) - old
		return q
	}
	n := (size + heapAlign - 1) &^ (heapAlign - 1)
	switch {
	case p == h.last && size <= libc.Tsize_t(h.end-p) && n <= libc.Tsize_t(h.end-p):
		// The last block grows or shrinks where it is.
		h.setNext(p + uintptr(n))
		*(*libc.Tsize_t)(cPtr(p - 8)) = n
		st.Fmalloc_size += n - old
		return p
	case size <= old:
		return p // a block shrinks in place, keeping its size
	}
	q := h.malloc(tls, st, size)
	if q == 0 {
		return 0
	}
	copy(unsafe.Slice((*byte)(cPtr(q)), old), unsafe.Slice((*byte)(cPtr(p)), old))
	h.free(tls, st, p)
	return q
}
