/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Packed-ring enqueue: mbufs -> the guest's RX ring (the PMD's tx burst).
 *
 * One burst: place packets four at a time while four single-descriptor
 * writable buffers sit side by side and each packet is one segment without
 * offload work, one at a time otherwise (chains, indirect tables, mergeable
 * buffers, multi-segment mbufs, offload headers). A packet's buffers are
 * all found and checked before anything is written, so a packet that does
 * not fit what is available now leaves the ring untouched and ends the
 * burst (the caller keeps it); a packet that can never fit is dropped and
 * counted. Used descriptors go out as each packet completes, the first
 * one's flags last.
 */

#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "vhu_fault.h"
#include "vhu_mem.h"
#include "vhu_net.h"
#include "vhu_net_copy.h"
#include "vhu_net_hdr.h"
#include "vhu_net_packed_enqueue.h"
#include "vhu_packed_pvt.h"

/* Pieces one packet may be scattered to, over all its mergeable buffers. */
#define ENQ_MAX_BUFS (2u * VHU_MAX_BUFS)

#define ENQ_OK   0
#define ENQ_DROP 1 /* dropped and counted: the caller may free it */
#define ENQ_FULL 2 /* not enough buffers now: the burst ends here */
#define ENQ_STOP 3 /* the ring cannot go on */

/* One receive buffer held for the packet being placed. */
struct held {
	uint16_t id;
	uint16_t ndesc;
	uint32_t len; /* bytes of the packet (with header) it takes */
};

/*
 * Return buffers empty: a bad one, or those of a packet that went wrong
 * half-way (their used descriptors say 0 bytes).
 */
static void
enq_return(struct vhu_vq *vq, struct vhu_packed_used *u, const struct held *h, uint32_t n)
{
	uint32_t k;

	for (k = 0; k < n; k++)
		vhu_packed_used_put(vq, u, h[k].id, 0, h[k].ndesc);
}

/*
 * One packet, any shape, from slot *posp / *wrapp on. Mergeable: as many
 * buffers as it needs; otherwise exactly one. Buffers found bad are
 * returned empty. *posp and *wrapp advance over every buffer consumed.
 */
static int
enq_one(struct vhu_dev *dev, struct vhu_vq *vq, struct vhu_packed_used *u, struct rte_mbuf *m,
		uint16_t *posp, bool *wrapp, bool mrg)
{
	uint32_t hlen = dev->hdr_len, need = m->pkt_len + hlen, nb = 0, nheld = 0, scanned = 0;
	struct vhu_buf bufs[ENQ_MAX_BUFS];
	struct held held[VHU_MAX_BUFS];
	uint16_t pos = *posp, size = vq->size;
	bool wrap = *wrapp;
	struct vhu_tx_offload ol;
	struct vhu_net_hdr hdr;
	uint64_t have = 0;

	if (unlikely(vhu_net_hdr_from_mbuf(dev, m, &hdr, &ol) != 0))
		return ENQ_DROP;

	while (have < need) {
		struct vhu_packed_chain c;
		uint16_t flags;

		/*
		 * A lap looked at and the packet still not placed: it never will
		 * be. Without this bound a guest that offers bad buffers again as
		 * fast as they come back holds the lcore in this loop.
		 */
		if (unlikely(scanned >= size))
			return ENQ_DROP;
		flags = vhu_packed_load_flags(vq, pos);

		if (!vhu_packed_is_avail(flags, wrap)) {
			/* out of buffers; a whole lap cannot hold it: it never will */
			return scanned >= size ? ENQ_DROP : ENQ_FULL;
		}
		if (unlikely(nheld == RTE_DIM(held) || nb == ENQ_MAX_BUFS))
			return ENQ_DROP; /* spread too thin for us: the buffers stay */
		if (unlikely(vhu_packed_walk(dev, vq, pos, flags, true, need - have, &bufs[nb],
					     ENQ_MAX_BUFS - nb, &c) != 0)) {
			vhu_fault_break(dev, vq,
					"rx chain at %u: no end within the ring (%u slots)", pos,
					size);
			return ENQ_STOP;
		}
		/* no IOTLB entry yet (asked for): nothing of this packet was
		 * placed, it waits for a later burst */
		if (unlikely(c.why == vhu_iotlb_miss_why))
			return ENQ_FULL;
		if (likely(c.why == NULL) && nheld == 0 && unlikely(c.total < hlen))
			c.why = "receive buffer smaller than the virtio-net header";
		if (unlikely(c.why != NULL)) {
			vhu_fault(dev, vq, "rx buffer at %u (id %u): %s", pos, c.id, c.why);
			/* hand back what this packet held and the bad buffer, empty */
			enq_return(vq, u, held, nheld);
			vhu_packed_used_put(vq, u, c.id, 0, c.ndesc);
			vhu_packed_adv(size, &pos, &wrap, c.ndesc);
			scanned += c.ndesc;
			*posp = pos;
			*wrapp = wrap;
			if (nheld != 0)
				return ENQ_DROP; /* half placed: dropped */
			continue;                /* try the next buffer */
		}
		if (!mrg && c.total < need)
			return ENQ_DROP; /* larger than the guest's buffers: never truncated */
		held[nheld].id = c.id;
		held[nheld].ndesc = c.ndesc;
		held[nheld].len = (uint32_t)RTE_MIN(c.total, need - have);
		have += held[nheld].len;
		nheld++;
		nb += c.nbufs;
		vhu_packed_adv(size, &pos, &wrap, c.ndesc);
		scanned += c.ndesc;
	}
	hdr.num_buffers = (uint16_t)nheld;
	if (unlikely(vhu_net_enq_copy(dev, m, &hdr, &ol, bufs, nb) != 0))
		return ENQ_DROP; /* the mbuf chain is shorter than its pkt_len */
	{
		uint32_t k;

		/* the first buffer carries the header: with several buffers its
		 * used descriptor is the burst's first or comes after the others
		 * in ring order, and the flush publishes them together */
		for (k = 0; k < nheld; k++)
			vhu_packed_used_put(vq, u, held[k].id, held[k].len, held[k].ndesc);
	}
	*posp = pos;
	*wrapp = wrap;
	return ENQ_OK;
}

/*
 * Four packets into the buffers at slots pos..pos+3 (inside the ring) when
 * each packet is one segment without offload work and each buffer is one
 * available writable descriptor, large enough, with a valid id. Returns
 * false (nothing written) otherwise.
 */
static __rte_always_inline bool
enq_batch4(struct vhu_dev *dev, struct vhu_vq *vq, struct vhu_packed_used *u, uint16_t pos,
		bool wrap, struct rte_mbuf **m, uint32_t hlen)
{
	const struct vhu_mem *mem = vq->xwr;
	struct vhu_vring_packed_desc d[4];
	uint16_t want = (uint16_t)(vhu_packed_avail_flags(wrap) | VHU_DESC_F_WRITE);
	uint8_t *dst[4];
	uint16_t fl[4];
	uint32_t k;

	for (k = 0; k < 4; k++)
		if (unlikely(m[k]->nb_segs != 1 || (m[k]->ol_flags & VHU_ENQ_OL_WORK)))
			return false;
	for (k = 0; k < 4; k++)
		fl[k] = __atomic_load_n(&vq->desc_packed[pos + k].flags, __ATOMIC_RELAXED);
	for (k = 0; k < 4; k++)
		if (unlikely(fl[k] != want))
			return false;
	/* acquire: the descriptors are read after their flags; pairs with the
	 * driver's write barrier before it stores each descriptor's flags */
	rte_atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (k = 0; k < 4; k++)
		d[k] = vq->desc_packed[pos + k];
	/* d[] is our only copy of the descriptors from here on */
	rte_compiler_barrier();
	for (k = 0; k < 4; k++) {
		if (unlikely(d[k].id >= vq->size || d[k].len < m[k]->pkt_len + hlen))
			return false;
		dst[k] = vhu_gpa_to_host(mem, d[k].addr, m[k]->pkt_len + hlen);
		if (unlikely(dst[k] == NULL))
			return false;
		vhu_prefetch_enq_buf(dst[k], hlen, m[k]->pkt_len);
	}
	for (k = 0; k < 4; k++) {
		uint32_t len = m[k]->pkt_len;

		vhu_net_hdr_put_plain(dst[k], hlen);
		vhu_copy_frame(dst[k] + hlen, rte_pktmbuf_mtod(m[k], const uint8_t *), len);
		if (unlikely(dev->log_all))
			vhu_log_buf(dev, d[k].addr, len + hlen);
		vhu_packed_used_put(vq, u, d[k].id, len + hlen, 1);
	}
	return true;
}

/*
 * The receive buffers in slots pos + 4 .. pos + 7 (no wrap in between; the
 * caller checks), as far as they are available: their header line and the
 * frame's first line, so that their misses overlap this batch's copies.
 * Descriptors are read as hints only; an address outside guest memory is
 * not prefetched.
 */
static __rte_always_inline void
enq_prefetch_bufs_next4(struct vhu_vq *vq, uint16_t pos, bool wrap, uint32_t hlen)
{
	const struct vhu_mem *mem = vq->xwr;
	uint16_t k;

	for (k = 4; k < 8; k++) {
		const struct vhu_vring_packed_desc *d = &vq->desc_packed[pos + k];
		uint8_t *p;

		if (!vhu_packed_is_avail(__atomic_load_n(&d->flags, __ATOMIC_RELAXED), wrap))
			break;
		p = vhu_gpa_to_host(mem, __atomic_load_n(&d->addr, __ATOMIC_RELAXED), hlen + 64);
		if (p != NULL)
			vhu_prefetch_enq_buf(p, hlen, 1); /* the frame's first line */
	}
}

static __rte_always_inline uint16_t
packed_enqueue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count,
		bool mrg)
{
	uint16_t pos = vq->last_avail_idx, size = vq->size;
	uint32_t hlen = dev->hdr_len, i = 0, drops = 0;
	struct vhu_vq_stats *st = &vq->stats;
	bool wrap = vq->avail_wrap, empty = false;
	struct vhu_packed_used u;

	if (!vhu_packed_is_avail(vhu_packed_load_flags(vq, pos), wrap))
		return 0;
	vhu_packed_used_init(vq, &u);
	while (i < count) {
		int rc;

		if (i + 4 <= count && (uint32_t)pos + 4 <= size) {
			uint32_t k;

			for (k = 0; k < 4 && i + 4 + k < count; k++)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4 + k], void *));
			if ((uint32_t)pos + 12 <= size) {
				/* buffers one batch ahead, descriptors two */
				enq_prefetch_bufs_next4(vq, pos, wrap, hlen);
				rte_prefetch0(&vq->desc_packed[pos + 8]);
			} else if ((uint32_t)pos + 8 <= size) {
				rte_prefetch0(&vq->desc_packed[pos + 4]);
			}
			if (enq_batch4(dev, vq, &u, pos, wrap, &pkts[i], hlen)) {
				for (k = 0; k < 4; k++)
					vhu_stats_count(st, pkts[i + k]);
				i += 4;
				vhu_packed_adv(size, &pos, &wrap, 4);
				continue;
			}
		}
		rc = enq_one(dev, vq, &u, pkts[i], &pos, &wrap, mrg);
		if (rc == ENQ_FULL || rc == ENQ_STOP) {
			empty = rc == ENQ_FULL;
			break;
		}
		if (likely(rc == ENQ_OK))
			vhu_stats_count(st, pkts[i]);
		else
			drops++;
		i++;
	}
	/* consumed = sent + dropped; only the sent ones count as packets */
	st->packets += i - drops;
	st->dropped += drops;
	vq->last_avail_idx = pos;
	vq->avail_wrap = wrap;
	if (!empty && !vq->broken)
		empty = !vhu_packed_is_avail(
				__atomic_load_n(&vq->desc_packed[pos].flags, __ATOMIC_RELAXED),
				wrap);
	vhu_packed_flush(dev, vq, &u, empty);
	return (uint16_t)i;
}

uint16_t
vhu_net_packed_enqueue(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return packed_enqueue(dev, vq, pkts, count, false);
}

uint16_t
vhu_net_packed_enqueue_mrg(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return packed_enqueue(dev, vq, pkts, count, true);
}
