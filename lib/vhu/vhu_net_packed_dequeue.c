/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Packed-ring dequeue: the guest's TX ring -> mbufs (the PMD's rx burst),
 * and the discarding of a disabled TX ring.
 *
 * One burst: count the available slots ahead (no mbuf is allocated for an
 * idle ring), allocate that many mbufs at most, then take buffers four at
 * a time while four single-descriptor buffers sit side by side (one cache
 * line of descriptors) and are the simple kind (header and frame together,
 * fit one mbuf, no offload), one at a time otherwise. Every buffer taken
 * is returned used, dropped or not; in-order rings get one used
 * descriptor per burst. The first used descriptor's flags go out last.
 */

#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "vhu_fault.h"
#include "vhu_net.h"
#include "vhu_net_copy.h"
#include "vhu_net_hdr.h"
#include "vhu_net_packed_dequeue.h"
#include "vhu_packed_pvt.h"

#define DEQ_OK    0
#define DEQ_BAD   1 /* guest fault: dropped, counted in errors */
#define DEQ_DROP  2 /* our policy (linear only): dropped, counted in dropped */
#define DEQ_NOMEM 3 /* no mbuf: leave the buffer for the next burst */
#define DEQ_STOP  4 /* the ring cannot go on: a chain without an end */
#define DEQ_MISS  5 /* no IOTLB entry yet (asked for): leave the buffer for a later burst */

/* One buffer of any shape at slot pos (seen available with flags) into m. */
static int
deq_one(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp, uint16_t pos,
		uint16_t flags, struct rte_mbuf *m, struct vhu_packed_chain *c)
{
	struct vhu_buf bufs[VHU_MAX_BUFS];
	uint32_t hlen = dev->hdr_len, bi = 0, boff = 0;
	struct vhu_net_hdr hdr;
	int rc;

	if (unlikely(vhu_packed_walk(dev, vq, pos, flags, false, UINT64_MAX, bufs, VHU_MAX_BUFS,
				     c) != 0)) {
		vhu_fault_break(dev, vq, "tx chain at %u: no end within the ring (%u slots)", pos,
				vq->size);
		return DEQ_STOP;
	}
	if (unlikely(c->why == vhu_iotlb_miss_why))
		return DEQ_MISS;
	if (unlikely(c->why != NULL)) {
		vhu_fault(dev, vq, "tx buffer at %u (id %u): %s", pos, c->id, c->why);
		return DEQ_BAD;
	}
	if (unlikely(c->total < hlen + RTE_ETHER_HDR_LEN ||
			    c->total - hlen > VHU_DEQ_MAX_PKT_LEN)) {
		vhu_fault(dev, vq, "tx buffer at %u (id %u): %" PRIu64 " bytes is no frame", pos,
				c->id, c->total);
		return DEQ_BAD;
	}
	/* without a host offload the header means nothing: step over it */
	vhu_net_deq_hdr(&hdr, vhu_deq_reads_hdr(dev), hlen, bufs, &bi, &boff);
	rc = vhu_net_deq_fill(dev, mp, m, (uint32_t)(c->total - hlen), bufs, bi, boff);
	if (unlikely(rc != 0))
		return rc == -EMSGSIZE ? DEQ_DROP : DEQ_NOMEM;
	if (unlikely(hdr.flags != 0 || hdr.gso_type != 0) &&
			vhu_net_hdr_to_mbuf(dev, &hdr, m) != 0) {
		vhu_fault(dev, vq,
				"tx buffer at %u (id %u): bad virtio-net header (flags %#x "
				"gso %#x csum %u+%u, %u bytes)",
				pos, c->id, hdr.flags, hdr.gso_type, hdr.csum_start,
				hdr.csum_offset, m->pkt_len);
		return DEQ_BAD;
	}
	return DEQ_OK;
}

/*
 * Take the four buffers at slots pos..pos+3 (inside the ring) when each is
 * one available readable descriptor with a valid id, holding header and
 * frame, fitting one mbuf, with an all-zero offload header (not read when
 * no host offload is negotiated), and prefetch their frames. Returns false
 * (nothing consumed) otherwise.
 */
static __rte_always_inline bool
deq_batch4_take(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t pos, bool wrap,
		struct vhu_deq_batch *b, uint32_t hlen, uint32_t room, bool read_hdr)
{
	const struct vhu_mem *mem = vq->xrd;
	struct vhu_vring_packed_desc d[4];
	uint16_t fl[4];
	uint32_t k;

	RTE_SET_USED(dev);
	for (k = 0; k < 4; k++)
		fl[k] = __atomic_load_n(&vq->desc_packed[pos + k].flags, __ATOMIC_RELAXED);
	for (k = 0; k < 4; k++)
		if (unlikely(fl[k] != vhu_packed_avail_flags(wrap)))
			return false;
	/* acquire: the descriptors are read after their flags; pairs with the
	 * driver's write barrier before it stores each descriptor's flags */
	rte_atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (k = 0; k < 4; k++)
		d[k] = vq->desc_packed[pos + k];
	/* d[] is our only copy of the descriptors from here on */
	rte_compiler_barrier();
	for (k = 0; k < 4; k++) {
		const uint8_t *src;

		if (unlikely(d[k].id >= vq->size || d[k].len < hlen + RTE_ETHER_HDR_LEN ||
				    d[k].len - hlen > room))
			return false;
		src = vhu_gpa_to_host(mem, d[k].addr, d[k].len);
		if (unlikely(src == NULL))
			return false;
		vhu_deq_batch_set(b, k, src, d[k].len, hlen, read_hdr);
		b->id[k] = d[k].id;
	}
	return !read_hdr || vhu_deq_batch4_hdrs_plain(b, hlen);
}

/* Is slot pos + k (k < size) available, given (pos, wrap)? */
static __rte_always_inline bool
slot_avail(const struct vhu_vq *vq, uint16_t pos, bool wrap, uint32_t k)
{
	uint32_t s = (uint32_t)pos + k;

	if (s >= vq->size) {
		s -= vq->size;
		wrap = !wrap;
	}
	return vhu_packed_is_avail(
			__atomic_load_n(&vq->desc_packed[s].flags, __ATOMIC_RELAXED), wrap);
}

/*
 * About how many slots from (pos, wrap) on are available, at most max: an
 * upper bound on the buffers there, to size the mbuf allocation. Drivers
 * fill slots in order, so every fourth slot is looked at, then single ones.
 */
static __rte_always_inline uint32_t
avail_slots(const struct vhu_vq *vq, uint16_t pos, bool wrap, uint32_t max)
{
	uint32_t n = 0;

	max = RTE_MIN(max, (uint32_t)vq->size);
	while (n + 4 <= max && slot_avail(vq, pos, wrap, n + 3))
		n += 4;
	while (n < max && slot_avail(vq, pos, wrap, n))
		n++;
	return n;
}

/* Report one buffer used (or batch it, in order). */
static __rte_always_inline void
deq_used(struct vhu_vq *vq, struct vhu_packed_used *u, uint16_t id, uint16_t ndesc, bool inorder)
{
	if (inorder)
		vhu_packed_used_batch(vq, u, id, ndesc);
	else
		vhu_packed_used_put(vq, u, id, 0, ndesc);
}

static __rte_always_inline uint16_t
packed_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count, bool inorder)
{
	uint32_t hlen = dev->hdr_len, room, got = 0, stage, end, j, n;
	struct vhu_vq_stats *st = &vq->stats;
	uint16_t pos = vq->last_avail_idx, size = vq->size;
	bool wrap = vq->avail_wrap, empty = false;
	bool read_hdr = vhu_deq_reads_hdr(dev), ahead = false;
	struct vhu_packed_used u;
	struct vhu_deq_batch b[2];
	unsigned int cur = 0;

	if (count == 0)
		return 0;
	/* every buffer takes one slot at least: no more mbufs than slots */
	n = avail_slots(vq, pos, wrap, count);
	if (n == 0)
		return 0;
	/* stage the fresh mbufs in pkts[got..got+n): a packet taken moves
	 * down to pkts[got], a dropped one is freed in place */
	while (unlikely(rte_pktmbuf_alloc_bulk(mp, &pkts[got], n) != 0)) {
		/* a nearly empty pool: take what it can give */
		n /= 2;
		if (n == 0) {
			st->dropped++;
			return (uint16_t)got;
		}
	}
	stage = got;
	end = got + n;
	room = rte_pktmbuf_tailroom(pkts[stage]);
	vhu_packed_used_init(vq, &u);

	j = 0;
	while (j < n) {
		struct vhu_packed_chain c;
		uint16_t flags;
		int rc;

		if (j + 4 <= n && (uint32_t)pos + 4 <= size &&
				(ahead ||
						deq_batch4_take(dev, vq, pos, wrap, &b[cur], hlen,
								room, read_hdr))) {
			uint16_t npos = pos;
			bool nwrap = wrap;
			uint32_t k;

			/*
			 * Take the next four before copying these: their frames
			 * then load while this batch copies, instead of the
			 * first copy of every batch waiting for its frame.
			 */
			vhu_packed_adv(size, &npos, &nwrap, 4);
			/* the descriptors of the batch after the next, only when
			 * seen available: a line the driver is still writing
			 * would be pulled away from it */
			if (j + 12 <= n && (uint32_t)npos + 8 <= size)
				rte_prefetch0(&vq->desc_packed[npos + 4]);
			ahead = j + 8 <= n && (uint32_t)npos + 4 <= size &&
					deq_batch4_take(dev, vq, npos, nwrap, &b[cur ^ 1], hlen,
							room, read_hdr);
			vhu_deq_batch4_copy(&b[cur], &pkts[stage]);
			for (k = 0; k < 4; k++) {
				struct rte_mbuf *m = pkts[stage + k];

				deq_used(vq, &u, b[cur].id[k], 1, inorder);
				vhu_stats_count(st, m);
				pkts[got++] = m;
			}
			stage += 4;
			pos = npos;
			wrap = nwrap;
			j += 4;
			cur ^= 1;
			continue;
		}
		flags = vhu_packed_load_flags(vq, pos);
		if (!vhu_packed_is_avail(flags, wrap)) {
			empty = true;
			break;
		}
		rc = deq_one(dev, vq, mp, pos, flags, pkts[stage], &c);
		if (unlikely(rc == DEQ_MISS))
			break; /* the staged mbuf is freed with the rest below */
		if (unlikely(rc == DEQ_NOMEM || rc == DEQ_STOP)) {
			/* keep the buffer in the ring (for the next burst, or for good) */
			rte_pktmbuf_free(pkts[stage]);
			stage++;
			if (rc == DEQ_NOMEM)
				st->dropped++;
			break;
		}
		deq_used(vq, &u, c.id, c.ndesc, inorder);
		vhu_packed_adv(size, &pos, &wrap, c.ndesc);
		j++;
		if (likely(rc == DEQ_OK)) {
			vhu_stats_count(st, pkts[stage]);
			pkts[got++] = pkts[stage++];
		} else {
			if (rc == DEQ_DROP)
				st->dropped++;
			rte_pktmbuf_free(pkts[stage++]);
		}
	}
	if (unlikely(stage < end))
		rte_pktmbuf_free_bulk(&pkts[stage], end - stage);
	st->packets += got;
	vq->last_avail_idx = pos;
	vq->avail_wrap = wrap;
	if (!empty && !vq->broken)
		empty = !vhu_packed_is_avail(
				__atomic_load_n(&vq->desc_packed[pos].flags, __ATOMIC_RELAXED),
				wrap);
	vhu_packed_flush(dev, vq, &u, empty);
	return (uint16_t)got;
}

uint16_t
vhu_net_packed_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count)
{
	return packed_dequeue(dev, vq, mp, pkts, count, false);
}

uint16_t
vhu_net_packed_dequeue_inorder(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count)
{
	return packed_dequeue(dev, vq, mp, pkts, count, true);
}

void
vhu_net_packed_discard(struct vhu_dev *dev, struct vhu_vq *vq, uint32_t budget)
{
	uint16_t pos = vq->last_avail_idx, size = vq->size;
	bool wrap = vq->avail_wrap;
	struct vhu_packed_used u;
	uint32_t slots = 0;

	vhu_packed_used_init(vq, &u);
	/* at most one lap: the driver cannot refill before the flush */
	if (budget > size)
		budget = size;
	while (slots < budget) {
		uint16_t flags = vhu_packed_load_flags(vq, pos);
		struct vhu_packed_chain c;

		if (!vhu_packed_is_avail(flags, wrap))
			break;
		/* want 0: follow the chain for its length and id, map nothing */
		if (vhu_packed_walk(dev, vq, pos, flags, false, 0, NULL, 0, &c) != 0) {
			vhu_fault_break(dev, vq,
					"tx chain at %u: no end within the ring (%u slots)", pos,
					size);
			break;
		}
		/* a chain that runs past what was seen available waits */
		if (slots + c.ndesc > budget)
			break;
		vhu_packed_used_put(vq, &u, c.id, 0, c.ndesc);
		vhu_packed_adv(size, &pos, &wrap, c.ndesc);
		slots += c.ndesc;
		vq->stats.dropped++;
	}
	vq->last_avail_idx = pos;
	vq->avail_wrap = wrap;
	vhu_packed_flush(dev, vq, &u, true);
}
