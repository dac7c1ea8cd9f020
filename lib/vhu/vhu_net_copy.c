/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Whole-packet copies shared by both ring layouts: an mbuf (header first)
 * into the guest's receive pieces, guest transmit pieces into an mbuf
 * chain or an external buffer.
 */

#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cpuflags.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>

#include "vhu_net_copy.h"

#ifdef RTE_ARCH_X86_64
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ---- whole frames ---- */

bool vhu_copy_wide;
bool vhu_has_prefetchw;

RTE_INIT(vhu_copy_init)
{
#ifdef RTE_ARCH_X86_64
	unsigned int a, b, c, d;

	vhu_copy_wide = rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512F) > 0;
	/* CPUID 0x80000001: ECX bit 8 is PREFETCHW (DPDK has no flag for it) */
	vhu_has_prefetchw = __get_cpuid(0x80000001, &a, &b, &c, &d) != 0 && (c & (1u << 8)) != 0;
#endif
}

#ifdef RTE_ARCH_X86_64
__attribute__((target("avx512f"))) void
vhu_copy_lines64(uint8_t *dst, const uint8_t *src, uint32_t len)
{
	uint32_t i;

	for (i = 0; i + 64 <= len; i += 64)
		_mm512_store_si512((void *)(dst + i), _mm512_loadu_si512((const void *)(src + i)));
	if (i < len)
		rte_memcpy(dst + i, src + i, len - i);
}
#else
void
vhu_copy_lines64(uint8_t *dst, const uint8_t *src, uint32_t len)
{
	rte_memcpy(dst, src, len);
}
#endif

/* ---- enqueue ---- */

void
vhu_net_write_hdr(struct vhu_dev *dev, const struct vhu_net_hdr *hdr, uint32_t hlen,
		const struct vhu_buf *hb, uint32_t nhb)
{
	const uint8_t *src = (const uint8_t *)hdr;
	uint32_t k;

	for (k = 0; k < nhb && hlen != 0; k++) {
		uint32_t l = RTE_MIN(hlen, hb[k].len);

		if (memcmp(hb[k].addr, src, l) != 0)
			memcpy(hb[k].addr, src, l);
		if (unlikely(dev->log_all))
			vhu_log_buf(dev, hb[k].gpa, l);
		src += l;
		hlen -= l;
	}
}

int
vhu_net_enq_copy(struct vhu_dev *dev, const struct rte_mbuf *m, const struct vhu_net_hdr *hdr,
		const struct vhu_tx_offload *ol, const struct vhu_buf *bufs, uint32_t nb)
{
	uint32_t hlen = dev->hdr_len, bi = 0, boff = 0, nhb = 0;
	struct vhu_buf hb[sizeof(struct vhu_net_hdr)];
	uint8_t pre[VHU_PATCH_SPAN];
	struct vhu_mcur cur;

	if (vhu_mcur_init(&cur, m, ol, pre) != 0)
		return -EINVAL;
	if (vhu_net_hdr_pieces(bufs, nb, hlen, hb, &nhb, &bi, &boff) != 0)
		return -EINVAL;
	vhu_net_write_hdr(dev, hdr, hlen, hb, nhb);
	if (m->pkt_len != 0 &&
			(bi >= nb ||
					vhu_copy_to_guest(dev, &cur, m->pkt_len, bufs, &bi,
							&boff) != m->pkt_len))
		return -EINVAL;
	return 0;
}

/* ---- dequeue ---- */

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

int
vhu_net_deq_fill(struct vhu_dev *dev, struct rte_mempool *mp, struct rte_mbuf *m, uint32_t len,
		const struct vhu_buf *bufs, uint32_t bi, uint32_t boff)
{
	uint32_t room = rte_pktmbuf_tailroom(m);
	struct rte_mbuf *last = m;

	if (likely(len <= room)) {
		vhu_bufs_read(rte_pktmbuf_mtod(m, uint8_t *), len, bufs, &bi, &boff);
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
		return 0;
	}
	if (dev->sock_flags & VHU_SOCK_EXT_BUF) {
		int rc = attach_extbuf(m, mp, len);

		if (rc == 0) {
			vhu_bufs_read(rte_pktmbuf_mtod(m, uint8_t *), len, bufs, &bi, &boff);
			m->data_len = (uint16_t)len;
			m->pkt_len = len;
			return 0;
		}
		if (rc == -ENOMEM)
			return -ENOMEM;
	}
	if (dev->sock_flags & VHU_SOCK_LINEAR_BUF)
		return -EMSGSIZE;

	m->pkt_len = len;
	for (;;) {
		uint32_t l = RTE_MIN(len, room);

		vhu_bufs_read(rte_pktmbuf_mtod(last, uint8_t *), l, bufs, &bi, &boff);
		last->data_len = (uint16_t)l;
		len -= l;
		if (len == 0)
			return 0;
		last->next = rte_pktmbuf_alloc(mp);
		if (unlikely(last->next == NULL))
			return -ENOMEM; /* the caller frees the chain */
		last = last->next;
		m->nb_segs++;
		room = rte_pktmbuf_tailroom(last);
	}
}
