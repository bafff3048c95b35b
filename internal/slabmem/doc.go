// Package slabmem hands out zeroed memory outside the Go heap for large,
// long-lived slabs of pointer-free entries (a flow table's flows and its
// index), in regions the kernel may back with 2 MB huge pages.
//
// A table of a million flows touches its slabs at random, one packet at a
// time: with 4 KB pages nearly every access misses the TLB, and every page
// of the slab is faulted in on its own. On Linux, an Arena maps 2 MB-aligned
// regions with MADV_HUGEPAGE (honoured when the host's transparent huge page
// mode is madvise or always), which removes most of both costs, and the
// garbage collector neither scans nor counts the memory. Elsewhere, an Arena
// allocates from the Go heap. With the host's mode "never", regions get
// 4 KB pages. Where the host's defrag setting has page faults in madvised
// regions compact memory (its default, madvise), the first touch of a 2 MB
// page may wait for compaction on a fragmented host: a table pays it only
// while it grows.
//
// The memory holds no Go pointers the collector must see: a pointer stored
// in it does not keep its target alive. It is returned to the system by
// Arena.Free, after which no slice or pointer into it may be used.
package slabmem
