/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Split-ring dequeue: the guest's TX ring -> mbufs (the PMD's rx burst),
 * and the discarding of a disabled TX ring.
 *
 * One burst: read avail->idx once, allocate the mbufs in bulk, then take
 * chains four at a time while they are the simple kind (one readable
 * descriptor, header and frame together, fits one mbuf, no offload) and
 * one at a time otherwise. Every chain taken goes back on the used ring,
 * dropped or not, and the used index is published once at the end.
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
#include "vhu_net_split_dequeue.h"
#include "vhu_split_pvt.h"

/* What became of one chain. */
#define DEQ_OK    0
#define DEQ_BAD   1 /* guest fault: dropped, counted in errors */
#define DEQ_DROP  2 /* our policy (linear only): dropped, counted in dropped */
#define DEQ_NOMEM 3 /* no mbuf: leave the chain for the next burst */
#define DEQ_MISS  4 /* no IOTLB entry yet (asked for): leave the chain for a later burst */

/* One chain, any shape, into m. */
static int
deq_one(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp, uint16_t head,
		struct rte_mbuf *m)
{
	struct vhu_buf bufs[VHU_MAX_BUFS];
	uint32_t hlen = dev->hdr_len, nb = 0, bi, boff;
	struct vhu_net_hdr hdr;
	const char *why;
	uint64_t total = 0;
	int rc;

	if (unlikely(head >= vq->size)) {
		vhu_fault(dev, vq, "avail head %u out of range (ring size %u)", head, vq->size);
		return DEQ_BAD;
	}
	why = vhu_split_walk(dev, vq, head, false, UINT64_MAX, bufs, VHU_MAX_BUFS, &nb, &total);
	if (unlikely(why == vhu_iotlb_miss_why))
		return DEQ_MISS;
	if (unlikely(why != NULL)) {
		vhu_fault(dev, vq, "tx chain at %u: %s", head, why);
		return DEQ_BAD;
	}
	if (unlikely(total < hlen + RTE_ETHER_HDR_LEN || total - hlen > VHU_DEQ_MAX_PKT_LEN)) {
		vhu_fault(dev, vq, "tx chain at %u: %" PRIu64 " bytes is no frame", head, total);
		return DEQ_BAD;
	}
	/* the header, copied once into a local wherever the guest put it;
	 * without a host offload it means nothing and is stepped over */
	bi = 0;
	boff = 0;
	vhu_net_deq_hdr(&hdr, vhu_deq_reads_hdr(dev), hlen, bufs, &bi, &boff);

	rc = vhu_net_deq_fill(dev, mp, m, (uint32_t)(total - hlen), bufs, bi, boff);
	if (unlikely(rc != 0))
		return rc == -EMSGSIZE ? DEQ_DROP : DEQ_NOMEM;
	if (unlikely(hdr.flags != 0 || hdr.gso_type != 0) &&
			vhu_net_hdr_to_mbuf(dev, &hdr, m) != 0) {
		vhu_fault(dev, vq,
				"tx chain at %u: bad virtio-net header (flags %#x gso %#x "
				"csum %u+%u, %u bytes)",
				head, hdr.flags, hdr.gso_type, hdr.csum_start, hdr.csum_offset,
				m->pkt_len);
		return DEQ_BAD;
	}
	return DEQ_OK;
}

/*
 * Take the four chains at pos..pos+3 when each is one readable descriptor
 * holding header and frame, fitting one mbuf, with an all-zero offload
 * header (not read when no host offload is negotiated), and prefetch
 * their frames. Returns false (nothing consumed) otherwise.
 */
static __rte_always_inline bool
deq_batch4_take(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t pos, struct vhu_deq_batch *b,
		uint32_t hlen, uint32_t room, bool read_hdr)
{
	const struct vhu_mem *mem = vq->xrd;
	struct vhu_vring_desc d[4];
	uint32_t k;

	RTE_SET_USED(dev);
	for (k = 0; k < 4; k++) {
		b->id[k] = vhu_split_avail_head(vq, (uint16_t)(pos + k));
		if (unlikely(b->id[k] >= vq->size))
			return false;
	}
	for (k = 0; k < 4; k++)
		memcpy(&d[k], &vq->desc[b->id[k]], sizeof(d[k]));
	/* d[] is our only copy of the descriptors from here on */
	rte_compiler_barrier();
	for (k = 0; k < 4; k++) {
		const uint8_t *src;

		if (unlikely(d[k].flags != 0 || d[k].len < hlen + RTE_ETHER_HDR_LEN ||
				    d[k].len - hlen > room))
			return false;
		src = vhu_gpa_to_host(mem, d[k].addr, d[k].len);
		if (unlikely(src == NULL))
			return false;
		vhu_deq_batch_set(b, k, src, d[k].len, hlen, read_hdr);
	}
	return !read_hdr || vhu_deq_batch4_hdrs_plain(b, hlen);
}

static __rte_always_inline uint16_t
split_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count, bool inorder)
{
	uint16_t avail_idx, pos, used_start = vq->last_used_idx;
	uint32_t hlen = dev->hdr_len, room, got = 0, stage, end, j, n;
	struct vhu_vq_stats *st = &vq->stats;
	bool read_hdr = vhu_deq_reads_hdr(dev), ahead = false;
	struct vhu_deq_batch b[2];
	unsigned int cur = 0;
	int avail;

	avail = vhu_split_avail_count(dev, vq, &avail_idx);
	if (avail <= 0 || count == 0) {
		if (avail == 0)
			vhu_split_publish_held(dev, vq);
		return 0;
	}
	n = RTE_MIN((uint32_t)count, (uint32_t)avail);
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
	pos = vq->last_avail_idx;
	rte_prefetch0(&vq->avail->ring[pos & vhu_split_mask(vq)]);

	j = 0;
	while (j < n) {
		uint16_t head;
		int rc;

		if (j + 4 <= n &&
				(ahead ||
						deq_batch4_take(dev, vq, pos, &b[cur], hlen, room,
								read_hdr))) {
			uint16_t npos = (uint16_t)(pos + 4);
			uint32_t k;

			/* the descriptors of the batch after the next, only
			 * when published: a line the driver is still writing
			 * would be pulled away from it */
			if (j + 12 <= n)
				vhu_split_prefetch_next4(vq, npos, inorder);
			/*
			 * Take the next four before copying these: their frames
			 * then load while this batch copies, instead of the
			 * first copy of every batch waiting for its frame.
			 */
			ahead = j + 8 <= n &&
					deq_batch4_take(dev, vq, npos, &b[cur ^ 1], hlen, room,
							read_hdr);
			vhu_deq_batch4_copy(&b[cur], &pkts[stage]);
			for (k = 0; k < 4; k++) {
				struct rte_mbuf *m = pkts[stage + k];

				vhu_split_used_put(vq, vq->last_used_idx++, b[cur].id[k], 0);
				vhu_stats_count(st, m);
				pkts[got++] = m;
			}
			stage += 4;
			pos = npos;
			j += 4;
			cur ^= 1;
			continue;
		}
		head = vhu_split_avail_head(vq, pos);
		rc = deq_one(dev, vq, mp, head, pkts[stage]);
		if (unlikely(rc == DEQ_NOMEM || rc == DEQ_MISS)) {
			/* keep the chain in the ring for the next burst (the
			 * staged mbuf is freed with the rest below) */
			if (rc == DEQ_NOMEM) {
				rte_pktmbuf_free(pkts[stage]);
				stage++;
				st->dropped++;
			}
			break;
		}
		vhu_split_used_put(vq, vq->last_used_idx++, head, 0);
		pos++;
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
	if (got == count && got != 0 && vhu_split_may_hold(dev, vq, pos == avail_idx)) {
		/* loaded: this burst's completions wait for the next one */
		vhu_split_publish_to(dev, vq, used_start, false);
		vq->held_tsc = rte_rdtsc();
	} else {
		vhu_split_publish(dev, vq, pos == avail_idx);
	}
	return (uint16_t)got;
}

uint16_t
vhu_net_split_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count)
{
	return split_dequeue(dev, vq, mp, pkts, count, false);
}

uint16_t
vhu_net_split_dequeue_inorder(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count)
{
	return split_dequeue(dev, vq, mp, pkts, count, true);
}

void
vhu_net_split_discard(struct vhu_dev *dev, struct vhu_vq *vq, uint32_t budget)
{
	uint16_t avail_idx;
	int avail = vhu_split_avail_count(dev, vq, &avail_idx);
	uint32_t n;

	if (avail < 0)
		return;
	for (n = 0; n < (uint32_t)avail && n < budget; n++) {
		uint16_t head = vhu_split_avail_head(vq, vq->last_avail_idx++);

		vhu_split_used_put(vq, vq->last_used_idx++, head, 0);
		vq->stats.dropped++;
	}
	/* with any completions held back before the ring was disabled */
	vhu_split_publish(dev, vq, true);
}
