/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Dequeue: the guest's TX ring -> mbufs (the PMD's rx burst).
 *
 * One burst: read avail->idx once, allocate the mbufs in bulk, then take
 * chains four at a time while they are the simple kind (one readable
 * descriptor, header and frame together, fits one mbuf, no offload) and
 * one at a time otherwise. Every chain taken goes back on the used ring,
 * dropped or not, and the used index is published once at the end.
 */

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "vhu_net.h"
#include "vhu_split_pvt.h"

/*
 * Copy len bytes out of the guest pieces, starting at (*bi, *boff); with
 * dst NULL only step over them, unread.
 */
static __rte_always_inline void
bufs_read(uint8_t *dst, uint32_t len, const struct vhu_buf *bufs, uint32_t *bi, uint32_t *boff)
{
	while (len != 0) {
		const struct vhu_buf *b = &bufs[*bi];
		uint32_t l = RTE_MIN(len, b->len - *boff);

		if (dst != NULL) {
			rte_memcpy(dst, b->addr + *boff, l);
			dst += l;
		}
		len -= l;
		*boff += l;
		if (*boff == b->len) {
			(*bi)++;
			*boff = 0;
		}
	}
}

static void
extbuf_free(void *addr __rte_unused, void *opaque)
{
	rte_free(opaque);
}

/* Give m an external buffer large enough for len bytes after the headroom. */
static int
attach_extbuf(struct rte_mbuf *m, struct rte_mempool *mp, uint32_t len)
{
	struct rte_mbuf_ext_shared_info *shinfo;
	uint32_t total = len + RTE_PKTMBUF_HEADROOM +
			(uint32_t)sizeof(struct rte_mbuf_ext_shared_info) + 8;
	uint16_t buf_len;
	void *buf;

	if (total > UINT16_MAX)
		return -E2BIG;
	buf = rte_malloc_socket(NULL, total, RTE_CACHE_LINE_SIZE, mp->socket_id);
	if (buf == NULL)
		return -ENOMEM;
	buf_len = (uint16_t)total;
	shinfo = rte_pktmbuf_ext_shinfo_init_helper(buf, &buf_len, extbuf_free, buf);
	if (shinfo == NULL || buf_len < len + RTE_PKTMBUF_HEADROOM) {
		rte_free(buf);
		return -ENOMEM;
	}
	rte_pktmbuf_attach_extbuf(m, buf, rte_malloc_virt2iova(buf), buf_len, shinfo);
	rte_pktmbuf_reset_headroom(m);
	return 0;
}

/* What became of one chain. */
#define DEQ_OK    0
#define DEQ_BAD   1 /* guest fault: dropped, counted in errors */
#define DEQ_DROP  2 /* our policy (linear only): dropped, counted in dropped */
#define DEQ_NOMEM 3 /* no mbuf: leave the chain for the next burst */

/* Fill m (and more segments from mp) with len bytes from the guest pieces. */
static int
deq_fill(struct vhu_dev *dev, struct rte_mempool *mp, struct rte_mbuf *m, uint32_t len,
		const struct vhu_buf *bufs, uint32_t bi, uint32_t boff)
{
	uint32_t room = rte_pktmbuf_tailroom(m);
	struct rte_mbuf *last = m;

	if (likely(len <= room)) {
		bufs_read(rte_pktmbuf_mtod(m, uint8_t *), len, bufs, &bi, &boff);
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
		return DEQ_OK;
	}
	if (dev->sock_flags & VHU_SOCK_EXT_BUF) {
		int rc = attach_extbuf(m, mp, len);

		if (rc == 0) {
			bufs_read(rte_pktmbuf_mtod(m, uint8_t *), len, bufs, &bi, &boff);
			m->data_len = (uint16_t)len;
			m->pkt_len = len;
			return DEQ_OK;
		}
		if (rc == -ENOMEM)
			return DEQ_NOMEM;
	}
	if (dev->sock_flags & VHU_SOCK_LINEAR_BUF)
		return DEQ_DROP;

	m->pkt_len = len;
	for (;;) {
		uint32_t l = RTE_MIN(len, room);

		bufs_read(rte_pktmbuf_mtod(last, uint8_t *), l, bufs, &bi, &boff);
		last->data_len = (uint16_t)l;
		len -= l;
		if (len == 0)
			return DEQ_OK;
		last->next = rte_pktmbuf_alloc(mp);
		if (unlikely(last->next == NULL))
			return DEQ_NOMEM; /* the caller frees the chain */
		last = last->next;
		m->nb_segs++;
		room = rte_pktmbuf_tailroom(last);
	}
}

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
		vhu_vq_fault(dev, vq, "avail head %u out of range (ring size %u)", head, vq->size);
		return DEQ_BAD;
	}
	why = vhu_split_walk(dev, vq, head, false, UINT64_MAX, bufs, VHU_MAX_BUFS, &nb, &total);
	if (unlikely(why != NULL)) {
		vhu_vq_fault(dev, vq, "tx chain at %u: %s", head, why);
		return DEQ_BAD;
	}
	if (unlikely(total < hlen + RTE_ETHER_HDR_LEN || total - hlen > VHU_DEQ_MAX_PKT_LEN)) {
		vhu_vq_fault(dev, vq, "tx chain at %u: %" PRIu64 " bytes is no frame", head, total);
		return DEQ_BAD;
	}
	/* the header, copied once into a local wherever the guest put it;
	 * without a host offload it means nothing and is stepped over */
	memset(&hdr, 0, sizeof(hdr));
	bi = 0;
	boff = 0;
	bufs_read(vhu_deq_reads_hdr(dev) ? (uint8_t *)&hdr : NULL, hlen, bufs, &bi, &boff);
	rte_compiler_barrier();

	rc = deq_fill(dev, mp, m, (uint32_t)(total - hlen), bufs, bi, boff);
	if (unlikely(rc != DEQ_OK))
		return rc;
	if (unlikely(hdr.flags != 0 || hdr.gso_type != 0) &&
			vhu_net_hdr_to_mbuf(dev, &hdr, m) != 0) {
		vhu_vq_fault(dev, vq,
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
	const struct vhu_mem *mem = dev->mem;
	struct vhu_vring_desc d[4];
	uint32_t k;

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

/* SEND_RARP: the next dequeue on any queue announces the guest's MAC. */
static uint16_t
deq_rarp(struct vhu_dev *dev, struct rte_mempool *mp, struct rte_mbuf **pkts)
{
	struct rte_mbuf *m;

	/* acquire: rarp_mac is read after the flag; pairs with the control
	 * thread's release store of rarp_pending after it wrote rarp_mac */
	if (__atomic_exchange_n(&dev->rarp_pending, 0, __ATOMIC_ACQUIRE) == 0)
		return 0;
	m = rte_pktmbuf_alloc(mp);
	if (m == NULL || vhu_net_build_rarp(m, &dev->rarp_mac) != 0) {
		rte_pktmbuf_free(m);
		/* try again on the next burst */
		__atomic_store_n(&dev->rarp_pending, 1, __ATOMIC_RELAXED);
		return 0;
	}
	pkts[0] = m;
	return 1;
}

static __rte_always_inline uint16_t
split_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count, bool inorder)
{
	uint16_t avail_idx, pos, used_start = vq->last_used_idx;
	uint32_t hlen = dev->hdr_len, room, got = 0, rarp = 0, stage, end, j, n;
	struct vhu_vq_stats *st = &vq->stats;
	bool read_hdr = vhu_deq_reads_hdr(dev), ahead = false;
	struct vhu_deq_batch b[2];
	unsigned int cur = 0;
	int avail;

	if (unlikely(__atomic_load_n(&dev->rarp_pending, __ATOMIC_RELAXED) != 0))
		got = rarp = deq_rarp(dev, mp, pkts);
	avail = vhu_split_avail_count(dev, vq, &avail_idx);
	if (avail <= 0 || got >= count)
		return (uint16_t)got;
	n = RTE_MIN((uint32_t)(count - got), (uint32_t)avail);
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
		if (unlikely(rc == DEQ_NOMEM)) {
			/* keep the chain in the ring for the next burst */
			rte_pktmbuf_free(pkts[stage]);
			stage++;
			st->dropped++;
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
	st->packets += got - rarp;
	vq->last_avail_idx = pos;
	vhu_split_publish(dev, vq, used_start, pos == avail_idx);
	return (uint16_t)got;
}

uint16_t
vhu_split_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count)
{
	return split_dequeue(dev, vq, mp, pkts, count, false);
}

uint16_t
vhu_split_dequeue_inorder(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count)
{
	return split_dequeue(dev, vq, mp, pkts, count, true);
}

void
vhu_split_discard(struct vhu_dev *dev, struct vhu_vq *vq)
{
	uint16_t avail_idx, used_start = vq->last_used_idx;
	int avail = vhu_split_avail_count(dev, vq, &avail_idx);

	if (avail <= 0)
		return;
	while (vq->last_avail_idx != avail_idx) {
		uint16_t head = vhu_split_avail_head(vq, vq->last_avail_idx++);

		vhu_split_used_put(vq, vq->last_used_idx++, head, 0);
		vq->stats.dropped++;
	}
	vhu_split_publish(dev, vq, used_start, true);
}

VHU_API uint16_t
vhu_dequeue_burst(int vid, uint16_t queue_id, struct rte_mempool *mp, struct rte_mbuf **pkts,
		uint16_t count)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq;
	uint16_t n = 0;

	if (unlikely(dev == NULL || queue_id >= VHU_MAX_VRINGS || !(queue_id & 1) || count == 0 ||
			    mp == NULL || pkts == NULL))
		return 0;
	vq = dev->vq[queue_id];
	if (unlikely(vq == NULL) || unlikely(!vhu_guard_enter(&vq->guard)))
		return 0;
	if (likely(vq->active && !vq->broken)) {
		if (likely(vq->dequeue != NULL))
			n = vq->dequeue(dev, vq, mp, pkts, count);
	} else if (vq->discard && !vq->broken) {
		if (vq->packed)
			vhu_packed_discard(dev, vq);
		else
			vhu_split_discard(dev, vq);
	}
	vhu_guard_leave(&vq->guard);
	return n;
}

VHU_API void
vhu_count_kick(int vid, uint16_t queue_id)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);

	if (dev != NULL && queue_id < VHU_MAX_VRINGS && dev->vq[queue_id] != NULL)
		dev->vq[queue_id]->stats.kicks++;
}

VHU_API int
vhu_vq_stats_get(int vid, uint16_t queue_id, struct vhu_vq_stats *stats)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);

	if (dev == NULL || queue_id >= VHU_MAX_VRINGS || dev->vq[queue_id] == NULL ||
			stats == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	/* plain counters: a reader racing the datapath may see one burst late */
	*stats = dev->vq[queue_id]->stats;
	return 0;
}

VHU_API int
vhu_vq_stats_reset(int vid, uint16_t queue_id)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);

	if (dev == NULL || queue_id >= VHU_MAX_VRINGS || dev->vq[queue_id] == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	memset(&dev->vq[queue_id]->stats, 0, sizeof(dev->vq[queue_id]->stats));
	return 0;
}

/* Shared with the packed ring (vhu_net.h): deq_fill with errno results. */
int
vhu_net_deq_fill(struct vhu_dev *dev, struct rte_mempool *mp, struct rte_mbuf *m, uint32_t len,
		const struct vhu_buf *bufs, uint32_t bi, uint32_t boff)
{
	switch (deq_fill(dev, mp, m, len, bufs, bi, boff)) {
	case DEQ_OK:
		return 0;
	case DEQ_DROP:
		return -EMSGSIZE;
	default:
		return -ENOMEM;
	}
}
