#include "COneShotHeap.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

int havpn_prepare_one_shot_heap(size_t prefault_bytes) {
    /* A plan of a large topology builds and drops arrays of several hundred KiB. glibc serves each
       from a fresh mmap (above M_MMAP_THRESHOLD) and unmaps it on free, so every page of every
       such array is faulted anew. Where a page fault is expensive (user-mode-linux, where it is a
       round trip through the host; gVisor) those faults are most of a plan's cost. */
    /* 32 MiB is the largest threshold mallopt accepts on 64-bit; a refused one would leave the
       pre-faulted block to a fresh mmap that free unmaps again, so the rest is skipped then. */
    if (mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 || mallopt(M_TRIM_THRESHOLD, 64 << 20) != 1) return -EINVAL;
    if (prefault_bytes == 0) return 0;
    if (prefault_bytes > HAVPN_ONE_SHOT_HEAP_PREFAULT_MAX) prefault_bytes = HAVPN_ONE_SHOT_HEAP_PREFAULT_MAX;
    /* One block from the top of the heap, faulted in by a single call, then returned to the top
       chunk (kept: below the trim threshold), where the command's allocations find it. */
    char *block = malloc(prefault_bytes);
    if (block == NULL) return -ENOMEM;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)block + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t end = ((uintptr_t)block + prefault_bytes) & ~((uintptr_t)page - 1);
    int rc = 0;
    if (end > start && madvise((void *)start, end - start, MADV_POPULATE_WRITE) != 0) rc = -errno;
    free(block);
    return rc;
}
