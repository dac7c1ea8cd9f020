/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Split-ring enqueue: mbufs -> the guest's RX ring (the PMD's tx burst).
 *
 * One burst: read avail->idx once; place packets four at a time while each
 * fits one device-writable descriptor and needs no offload work, one at a
 * time otherwise (chains, indirect tables, mergeable buffers spread over
 * several heads, multi-segment mbufs, offload headers). A packet that can
 * never fit is dropped and counted; a packet that does not fit the buffers
 * available now ends the burst, and the caller keeps it. The used index
 * is published once at the end.
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
#include "vhu_net_split_enqueue.h"
#include "vhu_split_pvt.h"

#define ENQ_OK   0
#define ENQ_DROP 1 /* dropped and counted: the caller may free it */
#define ENQ_FULL 2 /* not enough buffers now: the burst ends here */

/*
 * One packet, any shape. Mergeable: as many heads as it needs, their used
 * entries consecutive; otherwise exactly one head. *posp advances over
 * every head consumed (including bad ones, returned empty).
 */
static int
enq_one(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf *m, uint16_t *posp,
		uint16_t avail_idx, bool mrg)
{
	uint32_t hlen = dev->hdr_len, need = m->pkt_len + hlen, placed = 0, nhb = 0;
	struct vhu_buf bufs[VHU_MAX_BUFS], hb[sizeof(struct vhu_net_hdr)];
	uint16_t pos = *posp, used0 = vq->last_used_idx, nheads = 0;
	struct vhu_tx_offload ol;
	struct vhu_net_hdr hdr;
	uint8_t pre[VHU_PATCH_SPAN];
	struct vhu_mcur cur;

	if (unlikely(vhu_net_hdr_from_mbuf(dev, m, &hdr, &ol) != 0 ||
			    vhu_mcur_init(&cur, m, &ol, pre) != 0))
		return ENQ_DROP;

	while (placed < need) {
		uint32_t nb = 0, bi = 0, boff = 0, room, data;
		uint64_t total = 0;
		const char *why;
		uint16_t head;

		if (pos == avail_idx) {
			/* out of buffers: undo this packet's entries */
			vq->last_used_idx = used0;
			/* the whole ring cannot hold it: it never will */
			if ((uint16_t)(avail_idx - *posp) == vq->size)
				return ENQ_DROP;
			return ENQ_FULL;
		}
		head = vhu_split_avail_head(vq, pos);
		if (likely(head < vq->size))
			why = vhu_split_walk(dev, vq, head, true, need - placed, bufs, VHU_MAX_BUFS,
					&nb, &total);
		else
			why = "avail head out of range";
		if (unlikely(why == vhu_iotlb_miss_why)) {
			/* no IOTLB entry yet (asked for): undo this packet's
			 * entries, it waits for a later burst */
			vq->last_used_idx = used0;
			return ENQ_FULL;
		}
		if (likely(why == NULL) && nheads == 0 && unlikely(total < hlen))
			why = "receive buffer smaller than the virtio-net header";
		if (unlikely(why != NULL)) {
			vhu_fault(dev, vq, "rx buffer at %u: %s", head, why);
			if (nheads != 0) {
				/* half placed: hand its buffers back empty, drop it */
				uint16_t u;

				for (u = used0; u != vq->last_used_idx; u++)
					vq->used->ring[u & vhu_split_mask(vq)].len = 0;
				vhu_split_used_put(vq, vq->last_used_idx++, head, 0);
				*posp = (uint16_t)(pos + 1);
				return ENQ_DROP;
			}
			/* return the bad buffer empty and try the next one */
			vhu_split_used_put(vq, vq->last_used_idx++, head, 0);
			pos++;
			*posp = pos;
			used0 = vq->last_used_idx;
			continue;
		}
		if (!mrg && total < need) {
			/* larger than the guest's buffers: never truncated */
			vq->last_used_idx = used0;
			return ENQ_DROP;
		}
		room = (uint32_t)RTE_MIN(total, (uint64_t)(need - placed));
		data = room;
		if (nheads == 0) {
			/* the header's place, written last (num_buffers); the
			 * first head holds it (total >= hlen, checked above) */
			vhu_net_hdr_pieces(bufs, nb, hlen, hb, &nhb, &bi, &boff);
			data -= hlen;
		}
		if (unlikely(vhu_copy_to_guest(dev, &cur, data, bufs, &bi, &boff) != data)) {
			/* the mbuf chain is shorter than its pkt_len */
			vq->last_used_idx = used0;
			return ENQ_DROP;
		}
		vhu_split_used_put(vq, vq->last_used_idx++, head, room);
		placed += room;
		nheads++;
		pos++;
	}
	hdr.num_buffers = nheads;
	vhu_net_write_hdr(dev, &hdr, hlen, hb, nhb);
	*posp = pos;
	return ENQ_OK;
}

/*
 * The receive buffers of the batch after the one at pos (avail entries
 * pos + 4 .. pos + 7, published): their header line and the frame's first
 * line, so that their misses overlap this batch's copies instead of
 * stalling the next batch. Descriptors are read as hints only (a bad one
 * is the batch's to refuse later); an address outside guest memory is not
 * prefetched.
 */
static __rte_always_inline void
enq_prefetch_bufs_next4(struct vhu_vq *vq, uint16_t pos, uint32_t hlen)
{
	const struct vhu_mem *mem = vq->xwr;
	uint16_t k;

	for (k = 4; k < 8; k++) {
		uint16_t head = vhu_split_avail_head(vq, (uint16_t)(pos + k)) & vhu_split_mask(vq);
		uint64_t addr = __atomic_load_n(&vq->desc[head].addr, __ATOMIC_RELAXED);
		uint8_t *p = vhu_gpa_to_host(mem, addr, hlen + 64);

		if (p != NULL)
			vhu_prefetch_enq_buf(p, hlen, 1); /* the frame's first line */
	}
}

/*
 * Four packets at pos..pos+3 when each is one segment without offload
 * work and each head is one writable descriptor large enough. Returns
 * false (nothing written) otherwise.
 */
static __rte_always_inline bool
enq_batch4(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t pos, struct rte_mbuf **m, uint32_t hlen)
{
	const struct vhu_mem *mem = vq->xwr;
	struct vhu_vring_desc d[4];
	uint8_t *dst[4];
	uint16_t heads[4];
	uint32_t k;

	for (k = 0; k < 4; k++) {
		if (unlikely(m[k]->nb_segs != 1 || (m[k]->ol_flags & VHU_ENQ_OL_WORK)))
			return false;
		heads[k] = vhu_split_avail_head(vq, (uint16_t)(pos + k));
		if (unlikely(heads[k] >= vq->size))
			return false;
	}
	for (k = 0; k < 4; k++)
		memcpy(&d[k], &vq->desc[heads[k]], sizeof(d[k]));
	/* d[] is our only copy of the descriptors from here on */
	rte_compiler_barrier();
	for (k = 0; k < 4; k++) {
		if (unlikely(d[k].flags != VHU_DESC_F_WRITE || d[k].len < m[k]->pkt_len + hlen))
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
		vhu_split_used_put(vq, vq->last_used_idx++, heads[k], len + hlen);
	}
	return true;
}

static __rte_always_inline uint16_t
split_enqueue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count,
		bool mrg, bool inorder)
{
	uint16_t avail_idx, pos;
	uint32_t hlen = dev->hdr_len, i = 0, drops = 0;
	struct vhu_vq_stats *st = &vq->stats;
	int avail;

	avail = vhu_split_avail_count(dev, vq, &avail_idx);
	if (avail <= 0)
		return 0;
	pos = vq->last_avail_idx;
	rte_prefetch0(&vq->avail->ring[pos & vhu_split_mask(vq)]);

	while (i < count) {
		int rc;

		if (i + 4 <= count && (uint16_t)(avail_idx - pos) >= 4) {
			uint32_t k;

			for (k = 0; k < 4 && i + 4 + k < count; k++)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4 + k], void *));
			if ((uint16_t)(avail_idx - pos) >= 12) {
				/* buffers one batch ahead, descriptors two */
				enq_prefetch_bufs_next4(vq, pos, hlen);
				vhu_split_prefetch_next4(vq, (uint16_t)(pos + 4), inorder);
			} else if (inorder || (uint16_t)(avail_idx - pos) >= 8) {
				vhu_split_prefetch_next4(vq, pos, inorder);
			}
			if (enq_batch4(dev, vq, pos, &pkts[i], hlen)) {
				for (k = 0; k < 4; k++)
					vhu_stats_count(st, pkts[i + k]);
				i += 4;
				pos += 4;
				continue;
			}
		}
		rc = enq_one(dev, vq, pkts[i], &pos, avail_idx, mrg);
		if (rc == ENQ_FULL)
			break;
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
	vhu_split_publish(dev, vq, pos == avail_idx);
	return (uint16_t)i;
}

uint16_t
vhu_net_split_enqueue(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return split_enqueue(dev, vq, pkts, count, false, false);
}

uint16_t
vhu_net_split_enqueue_mrg(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return split_enqueue(dev, vq, pkts, count, true, false);
}

uint16_t
vhu_net_split_enqueue_inorder(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return split_enqueue(dev, vq, pkts, count, false, true);
}

uint16_t
vhu_net_split_enqueue_mrg_inorder(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return split_enqueue(dev, vq, pkts, count, true, true);
}
