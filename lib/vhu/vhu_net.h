/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Library-internal: what the net datapath files (vhu_net_hdr.c,
 * vhu_net_rx.c, vhu_net_tx.c, vhu_net_packed_rx.c, vhu_net_packed_tx.c)
 * share: the virtio-net header <-> mbuf offload translation, the RARP
 * frame, per-packet counters, the copy helpers both ring layouts use, and
 * the split- and packed-ring burst functions that vhu_vq_select_burst()
 * installs.
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

#include "vhu_dev_table.h"
#include "vhu_mem.h"
#include "vhu_obj.h"
#include "vhu_vq.h"

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
			rte_prefetch0_write(c);
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

/* ---- vhu_net_hdr.c ---- */

/* Guest offload bits that make the enqueue side fill the header. */
#define VHU_GUEST_OFFLOADS \
	(VHU_BIT(VHU_F_NET_GUEST_CSUM) | VHU_BIT(VHU_F_NET_GUEST_TSO4) | \
			VHU_BIT(VHU_F_NET_GUEST_TSO6) | VHU_BIT(VHU_F_NET_GUEST_UFO) | \
			VHU_BIT(VHU_F_NET_GUEST_USO4) | VHU_BIT(VHU_F_NET_GUEST_USO6))

/*
 * Dequeue: apply a guest's virtio-net header (already copied into a local)
 * to the mbuf holding the packet that followed it. Sets ol_flags,
 * packet_type, l2/l3/l4_len and tso_segsz, in DPDK's compliant (Rx flags)
 * or legacy (Tx flags) semantics; may complete a checksum in software.
 * Returns 0, or -EINVAL when the header is invalid for this packet or for
 * the negotiated features (the caller drops the packet).
 */
int vhu_net_hdr_to_mbuf(
		const struct vhu_dev *dev, const struct vhu_net_hdr *hdr, struct rte_mbuf *m);

/* Patches the enqueue side applies to the guest's copy of a packet. */
struct vhu_csum_patch {
	uint32_t off; /* byte offset in the packet (without virtio-net header) */
	uint16_t val; /* value to store, network order already */
};

struct vhu_tx_offload {
	uint8_t npatch;
	struct vhu_csum_patch patch[4];
};

/*
 * Enqueue: fill hdr (all but num_buffers) from the mbuf's Tx offload
 * requests and the guest's negotiated offloads. Checksums the guest cannot
 * take partially are computed here and returned as patches to apply to the
 * guest's copy (the mbuf is never modified). Returns 0, or -EINVAL when the
 * packet cannot be delivered correctly (GSO frame the guest cannot take).
 */
int vhu_net_hdr_from_mbuf(const struct vhu_dev *dev, const struct rte_mbuf *m,
		struct vhu_net_hdr *hdr, struct vhu_tx_offload *ol);

/* Build the gratuitous RARP frame (RFC 903) announcing mac into m. */
int vhu_net_build_rarp(struct rte_mbuf *m, const struct rte_ether_addr *mac);

/* ---- counters ---- */
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
 * The header of a frame with no offload: all zero, num_buffers 1 when the
 * header has the field (hlen 12; else 10). Stored only where the guest's
 * buffer does not hold it already: a recycled buffer usually does, and
 * leaving its cache line unwritten spares the guest a miss when it next
 * reads or clears that header (its line stays shared instead of moving to
 * our core and back). Fixed-size accesses, no library call.
 */
static __rte_always_inline void
vhu_net_hdr_put_plain(uint8_t *dst, uint32_t hlen)
{
	static const uint8_t zero[sizeof(struct vhu_net_hdr) - 2];
	const uint16_t one = rte_cpu_to_le_16(1);
	uint64_t lo;
	uint16_t mid, nb;

	RTE_BUILD_BUG_ON(sizeof(zero) != sizeof(lo) + sizeof(mid));
	memcpy(&lo, dst, sizeof(lo));
	memcpy(&mid, dst + sizeof(lo), sizeof(mid));
	if (unlikely((lo | mid) != 0))
		memcpy(dst, zero, sizeof(zero));
	if (hlen == sizeof(struct vhu_net_hdr)) {
		memcpy(&nb, dst + sizeof(zero), sizeof(nb));
		if (unlikely(nb != one))
			memcpy(dst + sizeof(zero), &one, sizeof(one));
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
 * Prefetch a guest buffer about to get a header (hlen bytes, compared
 * before it is stored) and len bytes of frame: the header's line for
 * reading, the frame's first lines for writing.
 */
static __rte_always_inline void
vhu_prefetch_rx_buf(const uint8_t *dst, uint32_t hlen, uint32_t len)
{
	rte_prefetch0(dst);
	vhu_prefetch_lines(dst + hlen, len, VHU_PREFETCH_FRAME_MAX, true);
}

/*
 * Prefetch a guest TX buffer of len bytes (header included) for reading:
 * from its header when the header is read (read_hdr), else from its frame.
 */
static __rte_always_inline void
vhu_prefetch_tx_buf(const uint8_t *src, uint32_t len, uint32_t hlen, bool read_hdr)
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
	vhu_prefetch_tx_buf(src, len, hlen, read_hdr);
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
		rte_memcpy(rte_pktmbuf_mtod(m[k], void *), b->src[k], b->len[k]);
		m[k]->data_len = (uint16_t)b->len[k];
		m[k]->pkt_len = b->len[k];
	}
}

/* ---- split-ring bursts (vhu_net_rx.c / vhu_net_tx.c) ---- */
uint16_t vhu_split_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_split_dequeue_inorder(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count);
/* Started but disabled ring: consume the guest's TX and drop it. */
void vhu_split_discard(struct vhu_dev *dev, struct vhu_vq *vq);
uint16_t vhu_split_enqueue(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_split_enqueue_mrg(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_split_enqueue_inorder(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_split_enqueue_mrg_inorder(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);

/* ---- shared with the packed ring (defined in vhu_net_rx.c / vhu_net_tx.c) ---- */
struct vhu_buf; /* vhu_split_pvt.h */

/*
 * Dequeue: fill m (and more segments from mp, or an external buffer, as
 * the socket flags allow) with len bytes of the guest pieces, starting at
 * byte boff of bufs[bi]. 0; -ENOMEM when no mbuf/buffer was left (leave the
 * chain in the ring; the caller frees m and its segments); -EMSGSIZE when
 * the packet does not fit a linear mbuf (VHU_SOCK_LINEAR_BUF: drop it).
 */
int vhu_net_deq_fill(struct vhu_dev *dev, struct rte_mempool *mp, struct rte_mbuf *m, uint32_t len,
		const struct vhu_buf *bufs, uint32_t bi, uint32_t boff);

/*
 * Enqueue: write hdr (dev->hdr_len bytes) then the packet, with the
 * checksum patches of ol applied, across the guest pieces bufs[0..nb),
 * logging what is written. The pieces must hold hdr_len + pkt_len bytes.
 * 0, or -EINVAL when the mbuf chain is shorter than its pkt_len.
 */
int vhu_net_enq_copy(struct vhu_dev *dev, const struct rte_mbuf *m, const struct vhu_net_hdr *hdr,
		const struct vhu_tx_offload *ol, const struct vhu_buf *bufs, uint32_t nb);

/* ---- packed-ring bursts (vhu_net_packed_rx.c / vhu_net_packed_tx.c) ---- */
uint16_t vhu_packed_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_packed_dequeue_inorder(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count);
/* Started but disabled ring: consume the guest's TX and drop it. */
void vhu_packed_discard(struct vhu_dev *dev, struct vhu_vq *vq);
uint16_t vhu_packed_enqueue(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_packed_enqueue_mrg(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
/* The packed half of vhu_net_select_burst() (caller reset the common state). */
void vhu_packed_select_burst(struct vhu_dev *dev, struct vhu_vq *vq);

#endif /* VHU_NET_H */
