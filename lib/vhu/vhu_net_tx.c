/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Enqueue: mbufs -> the guest's RX ring (the PMD's tx burst), the choice of
 * burst functions per ring, and guest notification control.
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

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "vhu_net.h"
#include "vhu_net_burst.h"
#include "vhu_split_pvt.h"

/* Offload requests that make a packet leave the batch path. */
#define TX_OL_WORK \
	(RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG | \
			RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_OUTER_IP_CKSUM)

/* Largest packet prefix a checksum patch can land in (outer + inner headers). */
#define PATCH_SPAN 2048u

/* Reading an mbuf chain, with an optional patched copy of its first bytes. */
struct mcur {
	const uint8_t *p;           /* next byte */
	uint32_t left;              /* bytes at p */
	const struct rte_mbuf *seg; /* where to continue */
	uint32_t skip;              /* bytes of seg's chain already served from the copy */
};

static int
mcur_init(struct mcur *c, const struct rte_mbuf *m, const struct vhu_tx_offload *ol, uint8_t *pre)
{
	uint32_t span = 0, k;
	const uint8_t *src;

	if (likely(ol->npatch == 0)) {
		c->p = rte_pktmbuf_mtod(m, const uint8_t *);
		c->left = m->data_len;
		c->seg = m->next;
		c->skip = 0;
		return 0;
	}
	for (k = 0; k < ol->npatch; k++)
		span = RTE_MAX(span, ol->patch[k].off + 2);
	if (span > PATCH_SPAN || span > m->pkt_len)
		return -EINVAL;
	src = rte_pktmbuf_read(m, 0, span, pre);
	if (src == NULL)
		return -EINVAL;
	if (src != pre)
		memcpy(pre, src, span);
	for (k = 0; k < ol->npatch; k++)
		memcpy(pre + ol->patch[k].off, &ol->patch[k].val, 2);
	c->p = pre;
	c->left = span;
	c->seg = m;
	c->skip = span;
	return 0;
}

/* Move to the next non-empty chunk; false at the end of the mbuf chain. */
static bool
mcur_next(struct mcur *c)
{
	while (c->left == 0) {
		const struct rte_mbuf *s = c->seg;
		uint32_t off = c->skip;

		if (s == NULL)
			return false;
		while (s != NULL && off >= s->data_len) {
			off -= s->data_len;
			s = s->next;
		}
		if (s == NULL)
			return false;
		c->p = rte_pktmbuf_mtod_offset(s, const uint8_t *, off);
		c->left = s->data_len - off;
		c->seg = s->next;
		c->skip = 0;
	}
	return true;
}

/* Copy up to len bytes from the cursor into the guest pieces from (*bi, *boff). */
static __rte_always_inline uint32_t
copy_to_guest(struct vhu_dev *dev, struct mcur *c, uint32_t len, const struct vhu_buf *bufs,
		uint32_t *bi, uint32_t *boff)
{
	uint32_t done = 0;

	while (done < len) {
		const struct vhu_buf *b = &bufs[*bi];
		uint32_t l;

		if (unlikely(c->left == 0) && !mcur_next(c))
			break;
		l = RTE_MIN(len - done, RTE_MIN(c->left, b->len - *boff));
		rte_memcpy(b->addr + *boff, c->p, l);
		if (unlikely(dev->log_all))
			vhu_log_write(dev, b->gpa + *boff, l);
		c->p += l;
		c->left -= l;
		done += l;
		*boff += l;
		if (*boff == b->len) {
			(*bi)++;
			*boff = 0;
		}
	}
	return done;
}

/*
 * Write the header into the pieces that hold it, storing only what differs
 * (vhu_net_hdr_put_plain says why).
 */
static void
write_hdr(struct vhu_dev *dev, const struct vhu_net_hdr *hdr, uint32_t hlen,
		const struct vhu_buf *hb, uint32_t nhb)
{
	const uint8_t *src = (const uint8_t *)hdr;
	uint32_t k;

	for (k = 0; k < nhb && hlen != 0; k++) {
		uint32_t l = RTE_MIN(hlen, hb[k].len);

		if (memcmp(hb[k].addr, src, l) != 0)
			memcpy(hb[k].addr, src, l);
		if (unlikely(dev->log_all))
			vhu_log_write(dev, hb[k].gpa, l);
		src += l;
		hlen -= l;
	}
}

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
	uint8_t pre[PATCH_SPAN];
	struct mcur cur;

	if (unlikely(vhu_net_hdr_from_mbuf(dev, m, &hdr, &ol) != 0 ||
			    mcur_init(&cur, m, &ol, pre) != 0))
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
		if (likely(why == NULL) && nheads == 0 && unlikely(total < hlen))
			why = "receive buffer smaller than the virtio-net header";
		if (unlikely(why != NULL)) {
			vhu_vq_fault(dev, vq, "rx buffer at %u: %s", head, why);
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
			/* the header's place, written last (num_buffers) */
			uint32_t h = hlen;

			while (h != 0) {
				uint32_t l = RTE_MIN(h, bufs[bi].len - boff);

				hb[nhb].addr = bufs[bi].addr + boff;
				hb[nhb].gpa = bufs[bi].gpa + boff;
				hb[nhb].len = l;
				nhb++;
				h -= l;
				boff += l;
				if (boff == bufs[bi].len) {
					bi++;
					boff = 0;
				}
			}
			data -= hlen;
		}
		if (unlikely(copy_to_guest(dev, &cur, data, bufs, &bi, &boff) != data)) {
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
	write_hdr(dev, &hdr, hlen, hb, nhb);
	*posp = pos;
	return ENQ_OK;
}

/*
 * Four packets at pos..pos+3 when each is one segment without offload
 * work and each head is one writable descriptor large enough. Returns
 * false (nothing written) otherwise.
 */
static __rte_always_inline bool
enq_batch4(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t pos, struct rte_mbuf **m, uint32_t hlen)
{
	const struct vhu_mem *mem = dev->mem;
	struct vhu_vring_desc d[4];
	uint8_t *dst[4];
	uint16_t heads[4];
	uint32_t k;

	for (k = 0; k < 4; k++) {
		if (unlikely(m[k]->nb_segs != 1 || (m[k]->ol_flags & TX_OL_WORK)))
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
		vhu_prefetch_rx_buf(dst[k], hlen, m[k]->pkt_len);
	}
	for (k = 0; k < 4; k++) {
		uint32_t len = m[k]->pkt_len;

		vhu_net_hdr_put_plain(dst[k], hlen);
		rte_memcpy(dst[k] + hlen, rte_pktmbuf_mtod(m[k], const void *), len);
		if (unlikely(dev->log_all))
			vhu_log_write(dev, d[k].addr, len + hlen);
		vhu_split_used_put(vq, vq->last_used_idx++, heads[k], len + hlen);
	}
	return true;
}

static __rte_always_inline uint16_t
split_enqueue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count,
		bool mrg, bool inorder)
{
	uint16_t avail_idx, pos, used_start = vq->last_used_idx;
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
			if (inorder || (uint16_t)(avail_idx - pos) >= 8)
				vhu_split_prefetch_next4(vq, pos, inorder);
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
	vhu_split_publish(dev, vq, used_start, pos == avail_idx);
	return (uint16_t)i;
}

uint16_t
vhu_split_enqueue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return split_enqueue(dev, vq, pkts, count, false, false);
}

uint16_t
vhu_split_enqueue_mrg(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return split_enqueue(dev, vq, pkts, count, true, false);
}

uint16_t
vhu_split_enqueue_inorder(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return split_enqueue(dev, vq, pkts, count, false, true);
}

uint16_t
vhu_split_enqueue_mrg_inorder(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	return split_enqueue(dev, vq, pkts, count, true, true);
}

VHU_API uint16_t
vhu_enqueue_burst(int vid, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq;
	uint16_t n = 0;

	if (unlikely(dev == NULL || queue_id >= VHU_MAX_VRINGS || (queue_id & 1) || count == 0 ||
			    pkts == NULL))
		return 0;
	vq = dev->vq[queue_id];
	if (unlikely(vq == NULL) || unlikely(!vhu_guard_enter(&vq->guard)))
		return 0;
	/* a disabled (discarding) ring supplies no RX: nothing goes in */
	if (likely(vq->active && !vq->broken && vq->enqueue != NULL))
		n = vq->enqueue(dev, vq, pkts, count);
	vhu_guard_leave(&vq->guard);
	return n;
}

VHU_API int
vhu_enable_guest_notification(int vid, uint16_t queue_id, int enable)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq;

	if (dev == NULL || queue_id >= VHU_MAX_VRINGS || dev->vq[queue_id] == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	vq = dev->vq[queue_id];
	vhu_guard_close(&vq->guard);
	vq->guest_notify = enable ? VHU_GUEST_NOTIFY_ON : VHU_GUEST_NOTIFY_OFF;
	/* a ring not running yet gets the setting when it starts (used and
	 * device_event share their place: either ring layout's third area) */
	if ((vq->active || vq->discard) && vq->used != NULL)
		vhu_vq_apply_notify(dev, vq);
	vhu_guard_open(&vq->guard);
	return 0;
}

void
vhu_net_select_burst(struct vhu_dev *dev, struct vhu_vq *vq)
{
	bool mrg = vhu_has(dev, VHU_F_NET_MRG_RXBUF);
	bool inorder = vhu_has(dev, VHU_F_IN_ORDER);

	vq->broken = false;
	vq->signalled_used_valid = false;
	vq->dequeue = NULL;
	vq->enqueue = NULL;
	if (vq->packed) {
		vhu_packed_select_burst(dev, vq);
		return;
	}
	if (vq->size == 0 || (vq->size & (vq->size - 1)) != 0 || vq->size > VHU_MAX_RING_SIZE ||
			(dev->hdr_len != 10 && dev->hdr_len != 12) || dev->mem == NULL ||
			vq->desc == NULL || vq->avail == NULL || vq->used == NULL) {
		VHU_LOG_DATA(ERR, dev->ifname, "vring %u: cannot run (size %u, header %u bytes)",
				vq->index, vq->size, dev->hdr_len);
		vq->broken = true;
		return;
	}
	vq->dequeue = inorder ? vhu_split_dequeue_inorder : vhu_split_dequeue;
	if (mrg)
		vq->enqueue = inorder ? vhu_split_enqueue_mrg_inorder : vhu_split_enqueue_mrg;
	else
		vq->enqueue = inorder ? vhu_split_enqueue_inorder : vhu_split_enqueue;
	vhu_vq_apply_notify(dev, vq);
}

/* Shared with the packed ring (vhu_net.h): header and packet into known pieces. */
int
vhu_net_enq_copy(struct vhu_dev *dev, const struct rte_mbuf *m, const struct vhu_net_hdr *hdr,
		const struct vhu_tx_offload *ol, const struct vhu_buf *bufs, uint32_t nb)
{
	uint32_t hlen = dev->hdr_len, bi = 0, boff = 0, nhb = 0, h = hlen;
	struct vhu_buf hb[sizeof(struct vhu_net_hdr)];
	uint8_t pre[PATCH_SPAN];
	struct mcur cur;

	if (mcur_init(&cur, m, ol, pre) != 0)
		return -EINVAL;
	/* the header's pieces (hlen of them at worst, one byte each) */
	while (h != 0) {
		uint32_t l;

		if (bi >= nb)
			return -EINVAL;
		l = RTE_MIN(h, bufs[bi].len - boff);
		hb[nhb].addr = bufs[bi].addr + boff;
		hb[nhb].gpa = bufs[bi].gpa + boff;
		hb[nhb].len = l;
		nhb++;
		h -= l;
		boff += l;
		if (boff == bufs[bi].len) {
			bi++;
			boff = 0;
		}
	}
	write_hdr(dev, hdr, hlen, hb, nhb);
	if (m->pkt_len != 0 &&
			(bi >= nb ||
					copy_to_guest(dev, &cur, m->pkt_len, bufs, &bi, &boff) !=
							m->pkt_len))
		return -EINVAL;
	return 0;
}
