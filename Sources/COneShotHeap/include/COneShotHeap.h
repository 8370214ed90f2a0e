#ifndef HAVPN_ONE_SHOT_HEAP_H
#define HAVPN_ONE_SHOT_HEAP_H
#include <stddef.h>

/* The most `havpn_prepare_one_shot_heap` pre-faults (16 MiB): half the largest mmap threshold
   malloc takes, so the block comes from the heap. */
#define HAVPN_ONE_SHOT_HEAP_PREFAULT_MAX 16777216

/* Prepares malloc for a short-lived command (plan, apply): large blocks come from the heap
   instead of a fresh mmap each, freed memory stays for reuse, and `prefault_bytes` of heap are
   faulted in by one madvise(MADV_POPULATE_WRITE) call (at most
   HAVPN_ONE_SHOT_HEAP_PREFAULT_MAX). Returns 0, or -errno: of
   that madvise, or -EINVAL when malloc refused the settings (nothing pre-faulted then). Either way
   the heap is then faulted page by page as usual, which is only slower. */
int havpn_prepare_one_shot_heap(size_t prefault_bytes);

#endif
