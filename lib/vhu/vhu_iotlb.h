/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The device IOTLB (VIRTIO_F_ACCESS_PLATFORM): what the front-end told us
 * its virtual IOMMU maps, I/O virtual address (IOVA) -> front-end address
 * (uaddr) with a permission, and the translation tables built from it.
 *
 * The entries are the control thread's: a sorted list without overlap,
 * changed by IOTLB_MSG updates and invalidations and bounded in number
 * (an update past the bound evicts an older entry: the front-end answers
 * a later miss again). From the entries and the memory table,
 * vhu_iotlb_build() makes three immutable tables in the shape of a memory
 * table (struct vhu_mem, "gpa" holding the IOVA):
 *   rd  - the readable mappings, translated to our addresses, pieces that
 *         follow each other in IOVA and in our memory merged;
 *   wr  - the same for the writable mappings;
 *   all - every entry whatever its permission, its uaddr kept ("uva"),
 *         to tell a miss (no entry) from a refused access (an entry that
 *         does not allow it) and to find a guest address for the dirty log.
 * The device layer publishes them with every ring's guard closed (so no
 * burst reads a mapping after its invalidation is acknowledged), and each
 * ring takes its own copy of rd and wr (vq->xrd, vq->xwr): the region hint
 * of a copy is that ring's translation cache, touched by one lcore only.
 *
 * The datapath asks for a missing translation on the back-end channel
 * (BACKEND_REQ): one request per missing address, again only after
 * VHU_IOTLB_MISS_RETRY_MS; the burst stops at the buffer and takes it
 * when the update has come.
 */

#ifndef VHU_IOTLB_H
#define VHU_IOTLB_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_branch_prediction.h>

#include "vhu_mem.h"
#include "vhu_obj.h"
#include "vhu_proto.h"

/* Entries kept at most (a front-end filling more sees older ones evicted). */
#define VHU_IOTLB_MAX_ENTRIES   16384u
/* A miss not answered is asked again after this long. */
#define VHU_IOTLB_MISS_RETRY_MS 1000u
/* Misses remembered as asked (per device): one request per page until answered. */
#define VHU_IOTLB_PENDING       64u
/* The granule of a pending miss. */
#define VHU_IOTLB_PAGE          4096ull

struct vhu_iotlb_entry {
	uint64_t iova;
	uint64_t end; /* exclusive, > iova, no u64 wrap */
	uint64_t uaddr;
	uint8_t perm; /* VHU_ACCESS_RO, _WO or _RW */
};

struct vhu_iotlb {
	uint32_t n;
	uint32_t cap;
	uint32_t evict_seed;
	uint32_t reserved;
	uint64_t updates; /* counters for the log and tests */
	uint64_t invalidations;
	uint64_t evictions;
	struct vhu_iotlb_entry *e; /* sorted by iova, no overlap */
	/* misses asked and not answered yet (tsc 0: free); any thread, under
	 * dev->backend_lock */
	struct vhu_iotlb_pending {
		uint64_t iova;
		uint64_t tsc;
		uint8_t perm;
	} pending[VHU_IOTLB_PENDING];
	/* what vhu_iotlb_build() made last (NULL before); owned here */
	struct vhu_mem *rd;
	struct vhu_mem *wr;
	struct vhu_mem *all;
};

/* The reason string a walk returns for a miss (compared by address). */
extern const char vhu_iotlb_miss_why[];

/* ---- entries (control thread) ---- */

/* An empty IOTLB of cap entries (0: VHU_IOTLB_MAX_ENTRIES); NULL when out of memory. */
struct vhu_iotlb *vhu_iotlb_new(uint32_t cap);
/* Entries and tables freed. NULL ok. */
void vhu_iotlb_free(struct vhu_iotlb *t);
/* Apply a checked update: the range replaces what it overlaps. 0 or -ENOMEM. */
int vhu_iotlb_update(
		struct vhu_iotlb *t, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm);
/* Forget [iova, iova + size) (size 0 or past the top: to the end). 0 or -ENOMEM. */
int vhu_iotlb_invalidate(struct vhu_iotlb *t, uint64_t iova, uint64_t size);
/* Forget everything. */
void vhu_iotlb_flush(struct vhu_iotlb *t);

/*
 * Build rd, wr and all from the entries and mem (NULL: nothing translates)
 * into *rd, *wr, *all (the caller publishes them, see vhu_iotlb_adopt()).
 * 0 or -ENOMEM (nothing made).
 */
int vhu_iotlb_build(const struct vhu_iotlb *t, const struct vhu_mem *mem, struct vhu_mem **rd,
		struct vhu_mem **wr, struct vhu_mem **all);
/* Keep freshly built tables as t's current ones; the old ones are returned to be freed. */
void vhu_iotlb_adopt(struct vhu_iotlb *t, struct vhu_mem **rd, struct vhu_mem **wr,
		struct vhu_mem **all);

/* A table with the same regions as m (each referenced once more); NULL when out of memory. */
struct vhu_mem *vhu_iotlb_table_copy(const struct vhu_mem *m);

/*
 * Translate a ring area [iova, iova + len) that must be wholly mapped with
 * perm (VHU_ACCESS_*). 0 with *host; -EAGAIN with *miss the first IOVA
 * without an entry; -EACCES when an entry does not allow perm; -EFAULT
 * when the area is not in guest memory.
 *
 * A guest behind an IOMMU may build a ring of pages that follow each other
 * in IOVA only (Linux does, for coherent DMA allocations). The ring
 * functions want it contiguous: its pages are then mapped again, in order,
 * into a private area (mremap(2) of our shared mapping, size 0: the same
 * memory twice), described in *alias; *host points into it. The caller
 * frees the alias (vhu_iotlb_alias_free()) when the ring is translated
 * again or goes, with no burst inside. -EFAULT when pages cannot be mapped
 * so (not page-aligned alike).
 */
int vhu_iotlb_ring(const struct vhu_iotlb *t, const struct vhu_mem *mem, uint64_t iova,
		uint64_t len, uint8_t perm, void **host, uint64_t *miss,
		struct vhu_ring_alias *alias);
/* Unmap an alias made by vhu_iotlb_ring(); nothing when there is none. */
void vhu_iotlb_alias_free(struct vhu_ring_alias *alias);

/* ---- misses (any thread) ---- */

/*
 * Ask the front-end for iova with perm on the back-end channel, for vq:
 * once per page, until an update answers it (vhu_iotlb_answered()) or
 * VHU_IOTLB_MISS_RETRY_MS pass. Never blocks (a full channel is tried
 * again on a later burst). Counted in vq->stats.
 */
void vhu_iotlb_miss(struct vhu_dev *dev, struct vhu_vq *vq, uint64_t iova, uint8_t perm);
/* Ask for every page of [iova, iova + len) without an entry (a ring area: all at once). */
void vhu_iotlb_ask_range(
		struct vhu_dev *dev, struct vhu_vq *vq, uint64_t iova, uint64_t len, uint8_t perm);
/* An update of [iova, iova + size) came: the misses it answers are no longer pending. */
void vhu_iotlb_answered(struct vhu_dev *dev, uint64_t iova, uint64_t size);

/*
 * Why [iova, iova + len) did not translate for a read (write false) or a
 * write, with ACCESS_PLATFORM: vhu_iotlb_miss_why when part of it has no
 * entry (the miss is then asked for), a refused-access reason when the
 * entries do not allow the access, else fallback.
 */
const char *vhu_iotlb_why_slow(struct vhu_dev *dev, struct vhu_vq *vq, uint64_t iova, uint64_t len,
		bool write, const char *fallback);

/* A translation failure's reason: unchanged without ACCESS_PLATFORM. */
static __rte_always_inline const char *
vhu_iotlb_why(struct vhu_dev *dev, struct vhu_vq *vq, uint64_t iova, uint64_t len, bool write,
		const char *why)
{
	if (likely(dev->iova_all == NULL))
		return why;
	return vhu_iotlb_why_slow(dev, vq, iova, len, write, why);
}

#endif /* VHU_IOTLB_H */
