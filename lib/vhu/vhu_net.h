/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Library-internal: the inline helpers and constants every net datapath
 * file shares (the datapath's internal header; the functions of each
 * datapath file are in that file's own header): packet and piece limits,
 * which offloads make a dequeue read the header or an enqueue leave its
 * batch path, per-packet counters, prefetching of guest buffers, and the
 * four-buffer dequeue batch both ring layouts take.
 */

#ifndef VHU_NET_H
#define VHU_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "vhu_net_copy.h"
#include "vhu_obj.h"

/*
 * Largest packet (without the virtio-net header) a guest may send us: a
 * 64 KiB GSO frame plus its headers. Anything longer is a broken chain.
 */
#define VHU_DEQ_MAX_PKT_LEN (65536u + 256u)

/* Guest-contiguous pieces one packet may be gathered from or scattered to. */
#define VHU_MAX_BUFS 128u

/*
 * Prefetch the lines of [p, p + len), at most max bytes: a batch's frames
 * (read on dequeue, written on enqueue) are requested together before the
 * first copy, so their misses overlap instead of queueing one frame at a
 * time behind the hardware streamer.
 */
static __rte_always_inline void
vhu_prefetch_lines(const void *p, uint32_t len, uint32_t max, bool write)
{
	const uint8_t *c = (const uint8_t *)((uintptr_t)p & ~(uintptr_t)63);
	const uint8_t *end = (const uint8_t *)p + RTE_MIN(len, max);

	for (; c < end; c += 64) {
		if (write)
			vhu_prefetch_w(c);
		else
			rte_prefetch0(c);
	}
}

/*
 * Offloads the guest may ask of us in its TX headers. With none negotiated
 * the header carries nothing the device may act on (the driver must leave
 * it zero), so dequeue does not read it: that saves a cache line per frame
 * that the guest has just written.
 */
#define VHU_HOST_OFFLOADS \
	(VHU_BIT(VHU_F_NET_CSUM) | VHU_BIT(VHU_F_NET_HOST_TSO4) | VHU_BIT(VHU_F_NET_HOST_TSO6) | \
			VHU_BIT(VHU_F_NET_HOST_UFO) | VHU_BIT(VHU_F_NET_HOST_USO))

/* Dequeue reads the guest's virtio-net header (VHU_HOST_OFFLOADS says when). */
static inline bool
vhu_deq_reads_hdr(const struct vhu_dev *dev)
{
	return (dev->features & VHU_HOST_OFFLOADS) != 0;
}

/* Offload requests on an mbuf that make an enqueue leave the batch path. */
#define VHU_ENQ_OL_WORK \
	(RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG | \
			RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_OUTER_IP_CKSUM)

/* Count a packet moved: bytes, size bin, unicast/multicast/broadcast. */
static inline void
vhu_stats_count(struct vhu_vq_stats *st, const struct rte_mbuf *m)
{
	uint32_t len = m->pkt_len;
	const uint8_t *dst = rte_pktmbuf_mtod(m, const uint8_t *);
	unsigned int bin;

	st->bytes += len;
	if (len == 64)
		bin = 1;
	else if (len < 64)
		bin = 0;
	else if (len < 1024)
		bin = (31u - (unsigned int)__builtin_clz(len)) - 4u; /* 65..1023 -> 2..5 */
	else if (len <= 1518)
		bin = 6;
	else
		bin = 7;
	st->size_bins[bin]++;
	if (likely(m->data_len >= RTE_ETHER_ADDR_LEN) && unlikely(dst[0] & 1)) {
		if (rte_is_broadcast_ether_addr((const struct rte_ether_addr *)dst))
			st->broadcast++;
		else
			st->multicast++;
	} else {
		st->unicast++;
	}
}

/*
 * Bytes of each frame a batch prefetches: eight lines. More than that for
 * each of a batch's four frames only queues behind the core's few
 * outstanding misses (h2g 1518 bytes, A/B: 2048 bytes cost 5 to 20% more
 * cycles per packet than 512 in five pairs out of five; g2h likewise); the
 * hardware streamer follows the copy from there.
 */
#define VHU_PREFETCH_FRAME_MAX 512u

/*
 * Prefetch a guest receive buffer about to get a header (hlen bytes,
 * compared before it is stored) and len bytes of frame (enqueue): the header's line for
 * reading, the frame's first lines for writing.
 */
static __rte_always_inline void
vhu_prefetch_enq_buf(const uint8_t *dst, uint32_t hlen, uint32_t len)
{
	rte_prefetch0(dst);
	vhu_prefetch_lines(dst + hlen, len, VHU_PREFETCH_FRAME_MAX, true);
}

/*
 * Prefetch a guest transmit buffer of len bytes (header included) for
 * reading (dequeue):
 * from its header when the header is read (read_hdr), else from its frame.
 */
static __rte_always_inline void
vhu_prefetch_deq_buf(const uint8_t *src, uint32_t len, uint32_t hlen, bool read_hdr)
{
	if (read_hdr)
		vhu_prefetch_lines(src, len, VHU_PREFETCH_FRAME_MAX, false);
	else
		vhu_prefetch_lines(src + hlen, len - hlen, VHU_PREFETCH_FRAME_MAX, false);
}

/*
 * Four simple transmit buffers (one descriptor each, header and frame
 * together, fitting one mbuf) taken from a ring by a dequeue batch and
 * not yet copied. A dequeue takes the next batch before copying the
 * current one, so the next batch's frames load while this one copies.
 */
struct vhu_deq_batch {
	const uint8_t *src[4]; /* the frames (after the header) */
	uint32_t len[4];       /* their bytes */
	uint16_t id[4];        /* buffer ids (split: the chains' heads) */
};

/*
 * Entry k of a batch: the guest buffer at src of len bytes (header
 * first), its frame prefetched (from the header when it is read).
 */
static __rte_always_inline void
vhu_deq_batch_set(struct vhu_deq_batch *b, uint32_t k, const uint8_t *src, uint32_t len,
		uint32_t hlen, bool read_hdr)
{
	vhu_prefetch_deq_buf(src, len, hlen, read_hdr);
	b->src[k] = src + hlen;
	b->len[k] = len - hlen;
}

/*
 * Do the four headers ask for nothing (flags and gso_type zero)? Any
 * offload takes the single path, which reads and checks the whole header.
 */
static __rte_always_inline bool
vhu_deq_batch4_hdrs_plain(const struct vhu_deq_batch *b, uint32_t hlen)
{
	uint32_t k;

	for (k = 0; k < 4; k++) {
		uint16_t f;

		memcpy(&f, b->src[k] - hlen, sizeof(f));
		if (unlikely(f != 0))
			return false;
	}
	return true;
}

/* Copy a taken batch into four mbufs. */
static __rte_always_inline void
vhu_deq_batch4_copy(const struct vhu_deq_batch *b, struct rte_mbuf **m)
{
	uint32_t k;

	for (k = 0; k < 4; k++) {
		vhu_copy_frame(rte_pktmbuf_mtod(m[k], uint8_t *), b->src[k], b->len[k]);
		m[k]->data_len = (uint16_t)b->len[k];
		m[k]->pkt_len = b->len[k];
	}
}

#endif /* VHU_NET_H */
