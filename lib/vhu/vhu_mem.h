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
 * datapath reads dev->mem only while holding a ring's guard.
 */

#ifndef VHU_MEM_H
#define VHU_MEM_H

#include <stddef.h>
#include <stdint.h>

#include <rte_branch_prediction.h>

#include "vhu_proto.h"

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

/* Front-end virtual address -> ours, whole range in one region (ring addresses). */
void *vhu_mem_uva_to_host(const struct vhu_mem *m, uint64_t uva, uint64_t len);
/* Front-end virtual address -> guest physical, whole range in one region (used ring log). */
int vhu_mem_uva_to_gpa(const struct vhu_mem *m, uint64_t uva, uint64_t len, uint64_t *gpa);

#endif /* VHU_MEM_H */
