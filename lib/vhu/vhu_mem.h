/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Guest memory: the regions the front-end shared with us, and cheap,
 * length-checked translation of guest-physical (GPA) and front-end virtual
 * (UVA) addresses into our own.
 *
 * A table is immutable once published in dev->mem: SET_MEM_TABLE and
 * ADD/REM_MEM_REG build a new table, quiesce every ring (vq->guard), swap
 * the pointer and only then unmap what the old table held alone. The
 * datapath reads dev->mem only while holding a ring's guard. Also the
 * dirty-page log the datapath writes while the front-end migrates.
 */

#ifndef VHU_MEM_H
#define VHU_MEM_H

#include <stddef.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>

#include "vhu_obj.h"
#include "vhu_proto.h"
#include "vhu_testfault.h"

struct vhu_mem_region {
	uint64_t gpa;        /* guest physical start */
	uint64_t size;       /* bytes */
	uint64_t gpa_end;    /* gpa + size, checked not to wrap */
	uint64_t uva;        /* front-end's virtual address of gpa */
	uint64_t host;       /* our address of gpa (map_addr + mmap_offset) */
	void *map_addr;      /* what mmap returned */
	size_t map_len;      /* what we mapped (mmap_offset + size, page aligned) */
	int fd;              /* kept open while mapped (-1 once closed) */
	uint32_t refs;       /* tables sharing this mapping (ADD/REM_MEM_REG) */
	uint32_t adds;       /* ADD_MEM_REG of this exact region not yet removed:
			      * QEMU 7.2 sends the same region once per queue pair */
};

struct vhu_mem {
	uint32_t nregions;   /* sorted by gpa, never overlapping */
	uint32_t capacity;
	uint32_t hint;       /* index of the last region found: tried first */
	uint32_t reserved;
	struct vhu_mem_region *regions[];   /* shared between generations */
};

/* Page size of the dirty log: one bit per 4 KiB guest page. */
#define VHU_LOG_PAGE 4096ull

/*
 * Find the region holding gpa: the last region found first (buffers of a
 * burst usually sit in the same region), then a binary search over the
 * sorted table (up to 509 regions). The hint is a racy, relaxed cache
 * shared by every lcore using the table: any value is safe (it is bounds
 * checked and only ever a starting guess), and it is written only when it
 * changes, so one-region tables never write it.
 */
static inline const struct vhu_mem_region *
vhu_mem_find_gpa(const struct vhu_mem *m, uint64_t gpa)
{
	uint32_t h = __atomic_load_n(&m->hint, __ATOMIC_RELAXED);
	uint32_t lo = 0, hi = m->nregions;

	if (likely(h < hi)) {
		const struct vhu_mem_region *r = m->regions[h];

		if (likely(gpa >= r->gpa && gpa < r->gpa_end))
			return r;
	}
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		const struct vhu_mem_region *r = m->regions[mid];

		if (gpa < r->gpa) {
			hi = mid;
		} else if (gpa >= r->gpa_end) {
			lo = mid + 1;
		} else {
			__atomic_store_n((uint32_t *)(uintptr_t)&m->hint, mid, __ATOMIC_RELAXED);
			return r;
		}
	}
	return NULL;
}

/*
 * Translate [gpa, gpa + len) into a host pointer when the whole range sits
 * in one region; NULL otherwise (including len == 0 ranges at a region end
 * and u64 wrap).
 */
static inline void *
vhu_gpa_to_host(const struct vhu_mem *m, uint64_t gpa, uint64_t len)
{
	const struct vhu_mem_region *r = vhu_mem_find_gpa(m, gpa);

	if (unlikely(r == NULL))
		return NULL;
	if (unlikely(len > r->gpa_end - gpa))
		return NULL;
	return (void *)(uintptr_t)(r->host + (gpa - r->gpa));
}

/*
 * Translate the start of [gpa, gpa + *len) and clip *len to what is
 * contiguous in our mapping (the rest of that region). For copies that
 * cross a region boundary. NULL when gpa is not mapped.
 */
static inline void *
vhu_gpa_to_host_part(const struct vhu_mem *m, uint64_t gpa, uint64_t *len)
{
	const struct vhu_mem_region *r = vhu_mem_find_gpa(m, gpa);

	if (unlikely(r == NULL))
		return NULL;
	if (*len > r->gpa_end - gpa)
		*len = r->gpa_end - gpa;
	return (void *)(uintptr_t)(r->host + (gpa - r->gpa));
}

/* A guest-contiguous piece of a buffer, translated. */
struct vhu_buf {
	uint8_t *addr;
	uint64_t gpa;
	uint32_t len;
};

/*
 * Translate [gpa, gpa + len) into pieces appended to bufs[*nb .. max), one
 * per region it crosses. Returns NULL, or why not.
 */
static __rte_always_inline const char *
vhu_gpa_to_bufs(const struct vhu_mem *mem, uint64_t gpa, uint32_t len, struct vhu_buf *bufs,
		uint32_t *nb, uint32_t max)
{
	uint64_t rem = len;

	while (rem != 0) {
		uint64_t l = rem;
		void *p = vhu_gpa_to_host_part(mem, gpa, &l);

		if (unlikely(p == NULL))
			return "buffer outside guest memory";
		if (unlikely(*nb >= max))
			return "buffer in too many pieces";
		bufs[*nb].addr = p;
		bufs[*nb].gpa = gpa;
		bufs[*nb].len = (uint32_t)l;
		(*nb)++;
		gpa += l;
		rem -= l;
	}
	return NULL;
}

/* ---- tables (control thread) ---- */

/*
 * Map one region from fd (which stays owned by the caller). Checks that fd
 * is mmap-able and large enough for mmap_offset + memory_size.
 * Returns 0 with *out set (refs = 0), or -errno with *why set.
 */
int vhu_mem_region_map(const struct vhu_mem_region_desc *d, int fd, struct vhu_mem_region **out,
		const char **why);
/* Unmap a region no table refers to any more. */
void vhu_mem_region_unmap(struct vhu_mem_region *r);

/* A new empty table that can hold capacity regions. */
struct vhu_mem *vhu_mem_new(uint32_t capacity);
/*
 * A copy of old (may be NULL) plus r, sorted by GPA; refuses overlap with
 * an existing region in GPA or front-end address space (-EEXIST) and a
 * full table (-ENOSPC). Takes a reference on every region it holds.
 */
int vhu_mem_with(const struct vhu_mem *old, struct vhu_mem_region *r, uint32_t capacity,
		struct vhu_mem **out, const char **why);
/* The region of m with exactly this gpa, uva and size, or NULL. */
struct vhu_mem_region *vhu_mem_find_exact(
		const struct vhu_mem *m, uint64_t gpa, uint64_t uva, uint64_t size);
/* A copy of old without the region matching gpa, uva and size (-ENOENT). */
int vhu_mem_without(const struct vhu_mem *old, uint64_t gpa, uint64_t uva, uint64_t size,
		struct vhu_mem **out);
/* Drop a table: its references, and unmap regions no table holds. NULL ok. */
void vhu_mem_free(struct vhu_mem *m);
/* Bytes of guest memory in a table (for the dirty log size check). */
uint64_t vhu_mem_top_gpa(const struct vhu_mem *m);

/* Map [offset, offset + size) of fd shared read/write; -errno with *why. */
int vhu_map_fd_range(int fd, uint64_t offset, uint64_t size, void **map, size_t *map_len,
		void **start, const char **why);

/* Front-end virtual address -> ours, whole range in one region (ring addresses). */
void *vhu_mem_uva_to_host(const struct vhu_mem *m, uint64_t uva, uint64_t len);
/* Front-end virtual address -> guest physical, whole range in one region (used ring log). */
int vhu_mem_uva_to_gpa(const struct vhu_mem *m, uint64_t uva, uint64_t len, uint64_t *gpa);

/* ---- dirty-page log (LOG_ALL) ---- */

/* Mark the guest pages of [gpa, gpa + len) dirty in dev's log (logging, len > 0). */
static inline void
vhu_log_gpa(struct vhu_dev *dev, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	page = gpa / VHU_LOG_PAGE;
	last = (gpa + len - 1) / VHU_LOG_PAGE;
	if (unlikely(gpa + len - 1 < gpa))
		return;
	for (; page <= last; page++) {
		if (unlikely(page / 8 >= dev->log_size))
			return;
		__atomic_fetch_or(&dev->log_base[page / 8], (uint8_t)(1u << (page % 8)),
				__ATOMIC_RELAXED);
	}
}

/*
 * With ACCESS_PLATFORM, log [iova, iova + len): each piece through
 * dev->iova_all to a front-end address, then to a guest-physical one.
 * Pieces without a translation are not guest memory and log nothing.
 */
void vhu_log_iova(struct vhu_dev *dev, uint64_t iova, uint64_t len);

/*
 * Mark the guest pages of [addr, addr + len) dirty in dev's log, when
 * logging. addr is what the rings carry: a guest-physical address, or an
 * IOVA with ACCESS_PLATFORM (used ring log addresses included).
 */
static inline void
vhu_log_write(struct vhu_dev *dev, uint64_t addr, uint64_t len)
{
	if (likely(!dev->log_all) || len == 0)
		return;
	if (unlikely(dev->iova_all != NULL))
		vhu_log_iova(dev, addr, len);
	else
		vhu_log_gpa(dev, addr, len);
}

/*
 * The log address of a ring area the front-end gave as addr (its virtual
 * address; an IOVA with ACCESS_PLATFORM, which vhu_log_write() takes as
 * it is). 0, or -EFAULT when it is not guest memory.
 */
static inline int
vhu_ring_log_addr(const struct vhu_dev *dev, uint64_t addr, uint64_t len, uint64_t *out)
{
	if (dev->iova_all != NULL) {
		*out = addr;
		return 0;
	}
	return vhu_mem_uva_to_gpa(dev->mem, addr, len, out);
}

/*
 * Log a write into a guest buffer (not a ring). The test fault
 * drop-dirty-bit (vhu_testfault.h) leaves these out of the log.
 */
static inline void
vhu_log_buf(struct vhu_dev *dev, uint64_t addr, uint64_t len)
{
	if (unlikely(dev->test_fault & VHU_TEST_FAULT_DROP_DIRTY)) {
		__atomic_fetch_add(&dev->test_fault_hits, 1, __ATOMIC_RELAXED);
		return;
	}
	vhu_log_write(dev, addr, len);
}

#endif /* VHU_MEM_H */
