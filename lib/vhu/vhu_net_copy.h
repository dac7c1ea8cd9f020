/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Copying between mbufs and guest buffers, for both ring layouts: reading
 * an mbuf chain into guest pieces (enqueue), the virtio-net header's
 * pieces, reading guest pieces into mbufs (dequeue). The per-byte loops
 * are inline; whole-packet helpers are in vhu_net_copy.c.
 */

#ifndef VHU_NET_COPY_H
#define VHU_NET_COPY_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "vhu_mem.h"
#include "vhu_net_hdr.h"
#include "vhu_obj.h"

/* Largest packet prefix a checksum patch can land in (outer + inner headers). */
#define VHU_PATCH_SPAN 2048u

/* Reading an mbuf chain (enqueue), with an optional patched copy of its first bytes. */
struct vhu_mcur {
	const uint8_t *p;           /* next byte */
	uint32_t left;              /* bytes at p */
	const struct rte_mbuf *seg; /* where to continue */
	uint32_t skip;              /* bytes of seg's chain already served from the copy */
};

/*
 * Start reading m; with checksum patches, its first bytes (up to the last
 * patch) are read from a patched copy in pre (VHU_PATCH_SPAN bytes).
 * 0, or -EINVAL when a patch lies beyond the packet or the span.
 */
static inline int
vhu_mcur_init(struct vhu_mcur *c, const struct rte_mbuf *m, const struct vhu_tx_offload *ol,
		uint8_t *pre)
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
	if (span > VHU_PATCH_SPAN || span > m->pkt_len)
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
static inline bool
vhu_mcur_next(struct vhu_mcur *c)
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
vhu_copy_to_guest(struct vhu_dev *dev, struct vhu_mcur *c, uint32_t len, const struct vhu_buf *bufs,
		uint32_t *bi, uint32_t *boff)
{
	uint32_t done = 0;

	while (done < len) {
		const struct vhu_buf *b = &bufs[*bi];
		uint32_t l;

		if (unlikely(c->left == 0) && !vhu_mcur_next(c))
			break;
		l = RTE_MIN(len - done, RTE_MIN(c->left, b->len - *boff));
		rte_memcpy(b->addr + *boff, c->p, l);
		if (unlikely(dev->log_all))
			vhu_log_buf(dev, b->gpa + *boff, l);
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
 * The pieces the header's hlen bytes take, from (*bi, *boff) on: recorded
 * in hb[0 .. *nhb) (hlen of them at worst, one byte each); *bi and *boff
 * end just after the header. 0, or -EINVAL when bufs[0 .. nb) end first.
 */
static inline int
vhu_net_hdr_pieces(const struct vhu_buf *bufs, uint32_t nb, uint32_t hlen, struct vhu_buf *hb,
		uint32_t *nhb, uint32_t *bi, uint32_t *boff)
{
	uint32_t n = 0;

	while (hlen != 0) {
		uint32_t l;

		if (*bi >= nb)
			return -EINVAL;
		l = RTE_MIN(hlen, bufs[*bi].len - *boff);
		hb[n].addr = bufs[*bi].addr + *boff;
		hb[n].gpa = bufs[*bi].gpa + *boff;
		hb[n].len = l;
		n++;
		hlen -= l;
		*boff += l;
		if (*boff == bufs[*bi].len) {
			(*bi)++;
			*boff = 0;
		}
	}
	*nhb = n;
	return 0;
}

/*
 * Write the header into the pieces that hold it (hb, from
 * vhu_net_hdr_pieces()), storing only what differs (vhu_net_hdr_put_plain()
 * says why), dirty-logging them.
 */
void vhu_net_write_hdr(struct vhu_dev *dev, const struct vhu_net_hdr *hdr, uint32_t hlen,
		const struct vhu_buf *hb, uint32_t nhb);

/*
 * Enqueue: write hdr (dev->hdr_len bytes) then the packet, with the
 * checksum patches of ol applied, across the guest pieces bufs[0..nb),
 * logging what is written. The pieces must hold hdr_len + pkt_len bytes.
 * 0, or -EINVAL when the mbuf chain is shorter than its pkt_len.
 */
int vhu_net_enq_copy(struct vhu_dev *dev, const struct rte_mbuf *m, const struct vhu_net_hdr *hdr,
		const struct vhu_tx_offload *ol, const struct vhu_buf *bufs, uint32_t nb);

/*
 * Copy len bytes out of the guest pieces, starting at (*bi, *boff); with
 * dst NULL only step over them, unread.
 */
static __rte_always_inline void
vhu_bufs_read(uint8_t *dst, uint32_t len, const struct vhu_buf *bufs, uint32_t *bi, uint32_t *boff)
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

/*
 * Copy the virtio-net header out of the pieces into hdr (zeroed first), or
 * only step over it when read is false. *bi and *boff end just after it.
 */
static __rte_always_inline void
vhu_net_deq_hdr(struct vhu_net_hdr *hdr, bool read, uint32_t hlen, const struct vhu_buf *bufs,
		uint32_t *bi, uint32_t *boff)
{
	memset(hdr, 0, sizeof(*hdr));
	vhu_bufs_read(read ? (uint8_t *)hdr : NULL, hlen, bufs, bi, boff);
	/* hdr is our only copy of the header */
	rte_compiler_barrier();
}

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
 * A whole frame into a guest receive buffer (enqueue batches) or into an
 * mbuf (dequeue batches). From VHU_WIDE_COPY_MIN bytes on, on a CPU with
 * AVX-512 and a line-aligned destination (DPDK's and Linux's receive
 * buffers put the frame at a line start, after the header; an mbuf's data
 * starts a line after its headroom), the frame is stored a whole 64-byte
 * line at a time: on enqueue the destination lines are cold guest memory,
 * and a line written in one store need not be read first on CPUs that can
 * skip that; on dequeue it is a quarter of the loads and stores of the
 * 16-byte copy. Same-run pairs against 16-byte stores (h2g and g2h 1518
 * bytes): see prog_guide/vhu_lib.rst.
 */
#define VHU_WIDE_COPY_MIN 256u

extern bool vhu_copy_wide; /* AVX-512F: set once when the library loads */

/*
 * PREFETCHW present (set once when the library loads). The library is
 * built for corei7, where rte_prefetch0_write() compiles to a plain
 * prefetch: the line comes in shared, and the store that follows must
 * fetch it a second time for ownership when the guest's core held it
 * last. PREFETCHW asks for the line owned in one trip.
 */
extern bool vhu_has_prefetchw;

/* Prefetch the line at p for writing. */
static __rte_always_inline void
vhu_prefetch_w(const void *p)
{
#ifdef RTE_ARCH_X86_64
	if (likely(vhu_has_prefetchw)) {
		asm volatile("prefetchw %0" : : "m"(*(const volatile char *)p));
		return;
	}
#endif
	rte_prefetch0_write(p);
}

/* len bytes, dst 64-byte aligned, AVX-512F present (vhu_copy_wide). */
void vhu_copy_lines64(uint8_t *dst, const uint8_t *src, uint32_t len);

static __rte_always_inline void
vhu_copy_frame(uint8_t *dst, const uint8_t *src, uint32_t len)
{
	if (len >= VHU_WIDE_COPY_MIN && ((uintptr_t)dst & 63) == 0 && vhu_copy_wide)
		vhu_copy_lines64(dst, src, len);
	else
		rte_memcpy(dst, src, len);
}

#endif /* VHU_NET_COPY_H */
