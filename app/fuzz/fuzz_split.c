/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Fuzz targets "split" and "packed": the guest's side of a split-ring (or
 * packed-ring) device is the input. Guest memory is three regions (R0 and R1 adjacent in guest-physical
 * space but not in ours, R2 after a hole), each surrounded by inaccessible
 * guard pages, so a read or write one byte outside guest memory faults.
 * Both rings live at the start of R0; the input is copied over R0, R1 and
 * R2, so descriptor tables, avail rings, indirect tables, virtio-net
 * headers and frames are all fuzzed bytes. The rings are started through
 * vhu_dev_vq_refresh() (translation of their addresses, burst selection), then
 * an lcore dequeues from the TX ring (vring 1) and enqueues into the RX
 * ring (vring 0) with packets whose offload requests the input also picks.
 *
 * Oracle, beyond the sanitizers and the guard pages: every mbuf returned is
 * consistent; every byte of guest memory that changed lies in a used ring
 * (packed: the descriptor ring, where used descriptors are written back, or
 * the device event area) or in a buffer the guest marked device-writable;
 * no mbuf, rte_malloc block or fd is left behind.
 *
 * A second guest thread, made deterministic: the input may carry flips,
 * each XORing one byte of guest memory at one point of the run: before a
 * burst, or inside a dequeue burst at its n-th mbuf allocation (the pools
 * of the dequeue call a hook from their get operation: after the burst
 * counted what is available and before it walks it, or between a chain's
 * walk and the copy of a multi-segment packet). With flips the run has two
 * dequeue bursts, two enqueue bursts, then one more of each. The oracle
 * follows the flips: a flipped byte is the guest's, and a receive buffer
 * that any state of the receive ring made device-writable may be written.
 *
 * Input: a 24-byte configuration (see ring_run()), 8 bytes per enqueued
 * packet (plus up to 64 bytes of its headers), 4 bytes per flip, then the
 * guest memory image. Split rings have 1 << (byte 2 % 9) entries, packed
 * rings 1 + byte 2.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "fuzz_harness.h"
#include "fuzz_util.h"
#include "vhu_dev.h"
#include "vhu_dev_table.h"
#include "vhu_iotlb.h"
#include "vhu_mem.h"
#include "vhu_net_burst.h"
#include "vhu_vq.h"

#define PG 4096u
#define NREG 3
static const uint64_t reg_gpa[NREG] = { 0x10000, 0x14000, 0x20000 };
static const uint64_t reg_size[NREG] = { 0x4000, 0x4000, 0x2000 };
#define UVA_BASE 0x7f0000000000ull
#define IMAGE_SIZE (0x4000 + 0x4000 + 0x2000)
#define MAX_ENQ 16
#define DEQ_POOL 2047
#define SMALL_POOL 16
#define SRC_POOL 1023
#define MAX_FLIPS  32
#define FLIP_OPS   "vhu_fuzz_flip"

static struct {
	bool ready;
	bool iommu;                        /* this run in IOTLB mode (iommu_on()) */
	int be;                            /* our end of the back-end channel in IOTLB mode */
	uint8_t *area;                     /* guard pages + regions */
	size_t area_len;
	uint8_t *host[NREG];
	struct vhu_mem_region reg[NREG];
	struct vhu_mem *mem;
	struct vhu_dev *dev;
	struct vhu_vq *vq[2];
	int callfd[2], errfd[2];
	struct rte_mempool *deq, *small, *src;
	uint8_t snap[IMAGE_SIZE];
	uint8_t allowed[IMAGE_SIZE];
} S;

/*
 * Flips: record k XORs byte off (mod the image) with mask at point at & 7;
 * at the points inside a dequeue burst, at its (at >> 3)-th allocation.
 */
enum {
	P_DEQ1,
	P_IN_DEQ1,
	P_DEQ2,
	P_IN_DEQ2,
	P_ENQ1,
	P_ENQ2,
	P_DEQ3,
	P_ENQ3,
};

struct flip_rec {
	uint16_t off;
	uint8_t mask;
	uint8_t at;
};

static struct {
	struct flip_rec rec[MAX_FLIPS];
	uint32_t n;
	int point;               /* the dequeue burst in progress (P_IN_DEQ*), -1: none */
	uint32_t allocs;         /* its allocations so far */
	const uint8_t *rx_table; /* the receive ring's descriptors, for the oracle */
	uint16_t rx_n;
	bool packed;
} FL = { .point = -1 };

static void flips_at(int point, uint32_t alloc);

/*
 * Mempool operations for the dequeue pools: a plain stack (the harness
 * is single-threaded) whose get first applies the flips due inside the
 * burst in progress.
 */
struct flip_stack {
	unsigned int n, cap;
	void *obj[];
};

static int
fs_alloc(struct rte_mempool *mp)
{
	/* in DPDK's memory like the pool itself, which lives as long as the process */
	struct flip_stack *st = rte_zmalloc_socket("fz_flip_stack",
			sizeof(*st) + sizeof(void *) * (mp->size + 1), 0, mp->socket_id);

	if (st == NULL)
		return -ENOMEM;
	st->cap = mp->size + 1;
	mp->pool_data = st;
	return 0;
}

static void
fs_free(struct rte_mempool *mp)
{
	rte_free(mp->pool_data);
}

static int
fs_enqueue(struct rte_mempool *mp, void *const *objs, unsigned int n)
{
	struct flip_stack *st = mp->pool_data;

	if (st->n + n > st->cap)
		return -ENOBUFS;
	memcpy(&st->obj[st->n], objs, sizeof(void *) * n);
	st->n += n;
	return 0;
}

static int
fs_dequeue(struct rte_mempool *mp, void **objs, unsigned int n)
{
	struct flip_stack *st = mp->pool_data;

	if (FL.point >= 0)
		flips_at(FL.point, FL.allocs++);
	if (st->n < n)
		return -ENOENT;
	st->n -= n;
	memcpy(objs, &st->obj[st->n], sizeof(void *) * n);
	return 0;
}

static unsigned int
fs_count(const struct rte_mempool *mp)
{
	return ((const struct flip_stack *)mp->pool_data)->n;
}

static struct rte_mempool_ops flip_ops = {
	.name = FLIP_OPS,
	.alloc = fs_alloc,
	.free = fs_free,
	.enqueue = fs_enqueue,
	.dequeue = fs_dequeue,
	.get_count = fs_count,
};

RTE_MEMPOOL_REGISTER_OPS(flip_ops);

static int
setup(const char **why)
{
	size_t off = PG;
	int i;

	S.area_len = PG;
	for (i = 0; i < NREG; i++)
		S.area_len += reg_size[i] + PG;
	S.area = mmap(NULL, S.area_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (S.area == MAP_FAILED) {
		*why = "mmap";
		return -1;
	}
	S.mem = calloc(1, sizeof(*S.mem) + NREG * sizeof(S.mem->regions[0]));
	S.dev = calloc(1, sizeof(*S.dev));
	if (S.mem == NULL || S.dev == NULL) {
		*why = "calloc";
		return -1;
	}
	for (i = 0; i < NREG; i++) {
		struct vhu_mem_region *r = &S.reg[i];

		S.host[i] = S.area + off;
		if (mprotect(S.host[i], reg_size[i], PROT_READ | PROT_WRITE) != 0) {
			*why = "mprotect";
			return -1;
		}
		off += reg_size[i] + PG;
		r->gpa = reg_gpa[i];
		r->size = reg_size[i];
		r->gpa_end = reg_gpa[i] + reg_size[i];
		r->uva = UVA_BASE + reg_gpa[i];
		r->host = (uint64_t)(uintptr_t)S.host[i];
		r->map_addr = S.host[i];
		r->map_len = reg_size[i];
		r->fd = -1;
		r->refs = 1;
		S.mem->regions[i] = r;
	}
	S.mem->nregions = NREG;
	S.mem->capacity = NREG;
	S.dev->mem = S.mem;
	S.dev->connfd = -1;
	S.dev->backend_fd = -1;
	S.dev->inflight_fd = -1;
	S.dev->state_fd = -1;
	snprintf(S.dev->ifname, sizeof(S.dev->ifname), "fuzz-split");
	for (i = 0; i < 2; i++) {
		S.vq[i] = vhu_vq_alloc((uint16_t)i);
		S.callfd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		S.errfd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (S.vq[i] == NULL || S.callfd[i] < 0 || S.errfd[i] < 0) {
			*why = "ring allocation";
			return -1;
		}
		S.vq[i]->callfd = S.callfd[i];
		S.vq[i]->errfd = S.errfd[i];
		S.dev->vq[i] = S.vq[i];
	}
	S.dev->nr_vring = 2;
	S.dev->max_queue_pairs = 1;
	if (vhu_dev_table_add(S.dev) != 0) {
		*why = "device table full";
		return -1;
	}
	S.deq = rte_pktmbuf_pool_create_by_ops("fz_split_deq", DEQ_POOL, 0, 0,
			RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY, FLIP_OPS);
	S.small = rte_pktmbuf_pool_create_by_ops("fz_split_small", SMALL_POOL, 0, 0,
			RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY, FLIP_OPS);
	S.src = rte_pktmbuf_pool_create("fz_split_src", SRC_POOL, 0, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (S.deq == NULL || S.small == NULL || S.src == NULL) {
		*why = "mbuf pools";
		return -1;
	}
	S.ready = true;
	return 0;
}

/* Offset of [gpa, gpa + len) in the image, or -1 when not all in guest memory. */
static int64_t
image_off(uint64_t gpa, uint64_t len)
{
	if (gpa >= reg_gpa[0] && gpa < reg_gpa[1] + reg_size[1] &&
	    len <= reg_gpa[1] + reg_size[1] - gpa)
		return (int64_t)(gpa - reg_gpa[0]);
	if (gpa >= reg_gpa[2] && gpa < reg_gpa[2] + reg_size[2] &&
	    len <= reg_gpa[2] + reg_size[2] - gpa)
		return (int64_t)(0x8000 + gpa - reg_gpa[2]);
	return -1;
}

static uint8_t *
image_ptr(uint64_t off)
{
	if (off < 0x4000)
		return S.host[0] + off;
	if (off < 0x8000)
		return S.host[1] + (off - 0x4000);
	return S.host[2] + (off - 0x8000);
}

static void
image_copy(uint8_t *dst, bool to_guest, const uint8_t *src, size_t len)
{
	size_t off = 0;
	int i;

	for (i = 0; i < NREG && off < len; i++) {
		size_t l = RTE_MIN((size_t)reg_size[i], len - off);

		if (to_guest)
			memcpy(S.host[i], src + off, l);
		else
			memcpy(dst + off, S.host[i], l);
		off += l;
	}
}

static void
allow_clip(uint64_t a, uint64_t b, uint64_t lo, uint64_t hi, uint64_t base)
{
	if (a < lo)
		a = lo;
	if (b > hi)
		b = hi;
	if (a < b)
		memset(S.allowed + base + (a - lo), 1, b - a);
}

/* The part of [gpa, gpa + len) that is guest memory may change. */
static void
allow(uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len < gpa ? UINT64_MAX : gpa + len;

	allow_clip(gpa, end, reg_gpa[0], reg_gpa[1] + reg_size[1], 0);
	allow_clip(gpa, end, reg_gpa[2], reg_gpa[2] + reg_size[2], 0x8000);
}

/* Every device-writable buffer of a descriptor table, indirect tables included. */
static void
allow_table(const uint8_t *t, uint32_t n, bool nested, bool packed)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct vhu_vring_desc d;

		if (packed) {
			struct vhu_vring_packed_desc pd;

			memcpy(&pd, t + 16ull * i, sizeof(pd));
			d.addr = pd.addr;
			d.len = pd.len;
			d.flags = pd.flags;
		} else {
			memcpy(&d, t + 16ull * i, sizeof(d));
		}
		if ((d.flags & VHU_DESC_F_INDIRECT) && !nested) {
			int64_t o = image_off(d.addr, d.len);

			/* tables the walker could accept: whole, in one of our mappings */
			if (o >= 0 && d.len >= 16 && (d.len & 15) == 0 &&
			    (o >= 0x4000 || o + d.len <= 0x4000))
				allow_table(image_ptr((uint64_t)o), d.len / 16, true, packed);
			continue;
		}
		if (d.flags & VHU_DESC_F_WRITE)
			allow(d.addr, d.len);
	}
}

/* Apply the flips due at point (inside a dequeue burst: at its alloc-th allocation). */
static void
flips_at(int point, uint32_t alloc)
{
	bool inside = point == P_IN_DEQ1 || point == P_IN_DEQ2, any = false;
	uint32_t k;

	for (k = 0; k < FL.n; k++) {
		const struct flip_rec *f = &FL.rec[k];
		uint32_t off = f->off % IMAGE_SIZE;

		if ((f->at & 7) != point || (inside && (uint32_t)(f->at >> 3) != alloc))
			continue;
		*image_ptr(off) ^= f->mask;
		S.snap[off] ^= f->mask;
		any = true;
	}
	/* a receive buffer that the new state makes device-writable may be written */
	if (any && FL.rx_table != NULL)
		allow_table(FL.rx_table, FL.rx_n, false, FL.packed);
}

/* Ring layout in R0 for ring size n: TX (vring 1) first, then RX (vring 0). */
struct layout {
	uint64_t desc, avail, used;
};

static uint64_t
place(struct layout *l, uint64_t at, uint16_t n, bool packed)
{
	l->desc = RTE_ALIGN_CEIL(at, 16);
	if (packed) {
		/* descriptors, then the driver and device event areas */
		l->avail = l->desc + 16ull * n;
		l->used = l->avail + 4;
		return l->used + 4;
	}
	l->avail = l->desc + 16ull * n;
	l->used = RTE_ALIGN_CEIL(l->avail + 6 + 2ull * n, 4);
	return l->used + 6 + 8ull * n;
}

static struct rte_mbuf *
make_pkt(struct fz_in *in, uint32_t seed)
{
	uint32_t len = 1 + fz_u16(in) % 9216u;
	uint32_t seg = fz_u8(in) * 16u;
	uint8_t ol = fz_u8(in), l2 = fz_u8(in), l3 = fz_u8(in), l4 = fz_u8(in);
	uint8_t tso = fz_u8(in), outer = fz_u8(in);
	uint8_t head[64];
	struct rte_mbuf *m = NULL, *last = NULL;
	uint32_t at = 0;

	fz_bytes(in, head, RTE_MIN(len, (uint32_t)sizeof(head)));
	while (at < len) {
		struct rte_mbuf *s = rte_pktmbuf_alloc(S.src);
		uint32_t room, l, k;
		uint8_t *p;

		if (s == NULL) {
			rte_pktmbuf_free(m);
			return NULL;
		}
		room = rte_pktmbuf_tailroom(s);
		l = RTE_MIN(len - at, seg != 0 && seg < room ? seg : room);
		p = (uint8_t *)rte_pktmbuf_append(s, (uint16_t)l);
		for (k = 0; k < l; k++)
			p[k] = at + k < sizeof(head) ? head[at + k] : (uint8_t)(seed + at + k);
		at += l;
		if (m == NULL) {
			m = s;
		} else {
			last->next = s;
			m->nb_segs++;
			m->pkt_len += l;
		}
		last = s;
	}
	if (ol & 1)
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	m->ol_flags |= (uint64_t)((ol >> 1) & 3) << 52;   /* TX_L4_MASK: none/TCP/SCTP/UDP */
	if (ol & 8)
		m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
	if (ol & 16)
		m->ol_flags |= RTE_MBUF_F_TX_UDP_SEG;
	if (ol & 32)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4;
	if (ol & 64)
		m->ol_flags |= RTE_MBUF_F_TX_IPV6;
	if (ol & 128) {
		m->ol_flags |= RTE_MBUF_F_TX_TUNNEL_VXLAN | RTE_MBUF_F_TX_OUTER_IP_CKSUM |
			RTE_MBUF_F_TX_OUTER_IPV4;
		m->outer_l2_len = outer & 31;
		m->outer_l3_len = (outer >> 5) * 8;
	}
	m->l2_len = l2 & 127;
	m->l3_len = l3;
	m->l4_len = l4;
	m->tso_segsz = (uint16_t)(tso * 8u);
	return m;
}

static void
ring_start(struct vhu_vq *vq, const struct layout *l, uint16_t n, uint16_t base, bool enabled,
	   uint8_t notify)
{
	vq->active = false;
	vq->discard = false;
	vq->broken = false;
	vq->num = n;
	vq->size = n;
	vq->num_set = true;
	vq->addr_set = true;
	vq->started = true;
	vq->enabled = enabled;
	if (S.dev->features & VHU_BIT(VHU_F_RING_PACKED)) {
		/* as SET_VRING_BASE with the avail half only: index | wrap << 15 */
		vq->last_avail_idx = base & 0x7fff;
		vq->avail_wrap = (base >> 15) & 1;
		vq->last_used_idx = vq->last_avail_idx;
		vq->used_wrap = vq->avail_wrap;
	} else {
		vq->last_avail_idx = base;
	}
	vq->guest_notify = notify;
	memset(&vq->stats, 0, sizeof(vq->stats));
	memset(&vq->addr, 0, sizeof(vq->addr));
	vq->addr.index = vq->index;
	/* IOTLB mode: the rings' IOVAs, equal to their guest addresses */
	vq->addr.desc_user_addr = (S.iommu ? 0 : UVA_BASE) + l->desc;
	vq->addr.avail_user_addr = (S.iommu ? 0 : UVA_BASE) + l->avail;
	vq->addr.used_user_addr = (S.iommu ? 0 : UVA_BASE) + l->used;
	vq->addr.log_guest_addr = l->used;
	vq->addr.flags = 1u << VHU_VRING_F_LOG;
	/* a started, disabled ring: the control thread's sweep drops what the guest sends */
	vhu_dev_vq_refresh(S.dev, vq);
}

/* ---- IOTLB mode ---- */

/*
 * The reserved configuration word, bit 0 set: the device negotiated
 * ACCESS_PLATFORM and every address is an IOVA, mapped page by page onto
 * the same guest page (so the oracle's guest addresses still hold) with a
 * permission the input picks: bits 1 + 2p and 2 + 2p for page p of the
 * NPAGES guest pages, 0 read-write, 1 read-only, 2 write-only, 3 no entry
 * (a miss). Bits 21-24 pick a page invalidated between the dequeue and the
 * enqueue bursts (>= NPAGES: none), bit 25 maps it again right after. The
 * misses go to a socketpair drained at the end.
 */
#define NPAGES 10

static uint64_t
page_gpa(unsigned int p)
{
	return p < 4          ? reg_gpa[0] + p * PG :
			p < 8 ? reg_gpa[1] + (p - 4) * PG :
				reg_gpa[2] + (p - 8) * PG;
}

static uint8_t
page_perm(uint32_t cfg, unsigned int p)
{
	static const uint8_t perm[4] = { VHU_ACCESS_RW, VHU_ACCESS_RO, VHU_ACCESS_WO, 0 };

	return perm[(cfg >> (1 + 2 * p)) & 3];
}

static int
iommu_on(uint32_t cfg, const char **why)
{
	struct vhu_dev *dev = S.dev;
	unsigned int p;
	int sv[2];

	dev->iotlb = vhu_iotlb_new(0);
	if (dev->iotlb == NULL) {
		*why = "iotlb";
		return -1;
	}
	dev->iotlb->rd = vhu_mem_new(1);
	dev->iotlb->wr = vhu_mem_new(1);
	dev->iotlb->all = vhu_mem_new(1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
		*why = "socketpair";
		return -1;
	}
	dev->backend_fd = sv[0];
	S.be = sv[1];
	S.iommu = true;
	dev->features |= VHU_BIT(VHU_F_ACCESS_PLATFORM);
	for (p = 0; p < NPAGES; p++)
		if (page_perm(cfg, p) != 0)
			vhu_iotlb_update(dev->iotlb, page_gpa(p), PG, UVA_BASE + page_gpa(p),
					page_perm(cfg, p));
	/* the tables built and published as after an IOTLB message */
	vhu_dev_lock_all(dev);
	vhu_dev_refresh_all(dev, why);
	vhu_dev_unlock_all(dev);
	*why = NULL;
	return 0;
}

/* Between the bursts: a page invalidated (rings re-translated), maybe mapped again. */
static void
iommu_churn(uint32_t cfg)
{
	unsigned int p = (cfg >> 21) & 15;
	struct vhu_iotlb_msg m = { .iova = page_gpa(p), .size = PG, .type = VHU_IOTLB_INVALIDATE };
	const char *why;

	if (p >= NPAGES)
		return;
	vhu_dev_iotlb_msg(S.dev, &m, &why);
	if ((cfg >> 25) & 1 && page_perm(cfg, p) != 0) {
		m.uaddr = UVA_BASE + page_gpa(p);
		m.perm = page_perm(cfg, p);
		m.type = VHU_IOTLB_UPDATE;
		vhu_dev_iotlb_msg(S.dev, &m, &why);
	}
}

/* The oracle: no byte of a page without write permission may change. */
static void
iommu_forbid(uint32_t cfg)
{
	unsigned int p;

	for (p = 0; p < NPAGES; p++) {
		uint8_t perm = page_perm(cfg, p);

		if (!(perm & VHU_ACCESS_WO))
			memset(S.allowed + image_off(page_gpa(p), PG), 0, PG);
	}
}

static void
iommu_off(void)
{
	char buf[256];
	unsigned int i;

	if (!S.iommu)
		return;
	S.iommu = false;
	S.dev->features &= ~VHU_BIT(VHU_F_ACCESS_PLATFORM);
	/* the rings back on guest addresses: their IOTLB copies and aliases go */
	for (i = 0; i < 2; i++) {
		S.vq[i]->addr_set = false;
		vhu_dev_vq_refresh(S.dev, S.vq[i]);
	}
	S.dev->iova_all = NULL;
	vhu_iotlb_free(S.dev->iotlb);
	S.dev->iotlb = NULL;
	while (recv(S.be, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	close(S.be);
	close(S.dev->backend_fd);
	S.dev->backend_fd = -1;
	S.be = -1;
}

/* Dequeue burst k (0, 1, 2) with the flips due before and inside it. */
static void
deq_burst(uint32_t k, struct rte_mempool *mp, uint16_t count, int *rc, const char **why)
{
	uint32_t marks[VHU_MAX_VRINGS];
	struct rte_mbuf *pkts[64];
	uint16_t got, i;

	/* what the control thread does for a disabled ring, between bursts */
	if (vhu_dev_sweep_observe(S.dev, marks) != 0)
		vhu_dev_sweep(S.dev, marks);
	flips_at(k == 0 ? P_DEQ1 : k == 1 ? P_DEQ2 : P_DEQ3, 0);
	FL.point = k == 0 ? P_IN_DEQ1 : k == 1 ? P_IN_DEQ2 : -1;
	FL.allocs = 0;
	got = vhu_dequeue_burst(S.dev->vid, 1, mp, pkts, count);
	FL.point = -1;
	for (i = 0; i < got; i++) {
		if (*rc == 0 && fz_mbuf_bad(pkts[i], why))
			*rc = -1;
		rte_pktmbuf_free(pkts[i]);
	}
}

static int
ring_run(const uint8_t *data, size_t len, const char **why, bool packed)
{
	struct fz_in in = { .p = data, .n = len };
	struct rte_mbuf *enq[MAX_ENQ];
	uint8_t feat, fl, n_log2, log_len, deq_cfg, enq_cfg, notify;
	uint32_t iommu;
	uint16_t n, tx_base, rx_base;
	uint64_t log_gpa, f;
	struct layout tx, rx;
	struct rte_mempool *deq_mp;
	struct fz_leaks before;
	uint32_t i, nenq, calls, k;
	uint8_t *log = NULL;
	eventfd_t ev;
	int rc = 0;

	*why = NULL;
	if (!S.ready && setup(why) != 0)
		return -1;
	fz_leaks_mark(&before);

	/* ---- configuration (24 bytes) ---- */
	feat = fz_u8(&in);
	fl = fz_u8(&in);
	n_log2 = fz_u8(&in);
	tx_base = fz_u16(&in);
	rx_base = fz_u16(&in);
	log_len = fz_u8(&in);
	log_gpa = fz_u64(&in);
	deq_cfg = fz_u8(&in);
	enq_cfg = fz_u8(&in);
	notify = fz_u8(&in);
	iommu = fz_u32(&in); /* IOTLB mode (bit 0) and its mappings, see iommu_on() */
	FL.n = fz_u8(&in) % (MAX_FLIPS + 1);

	f = VHU_BIT(VHU_F_PROTOCOL_FEATURES);
	if (packed)
		f |= VHU_BIT(VHU_F_RING_PACKED) | VHU_BIT(VHU_F_VERSION_1);
	if (feat & 1)
		f |= VHU_BIT(VHU_F_NET_MRG_RXBUF);
	if (feat & 2)
		f |= VHU_BIT(VHU_F_RING_INDIRECT_DESC);
	if (feat & 4)
		f |= VHU_BIT(VHU_F_VERSION_1);
	if (feat & 8)
		f |= VHU_BIT(VHU_F_RING_EVENT_IDX);
	if (feat & 16)
		f |= VHU_BIT(VHU_F_IN_ORDER);
	if (feat & 32)
		f |= VHU_BIT(VHU_F_NET_CSUM) | VHU_BIT(VHU_F_NET_HOST_TSO4) |
			VHU_BIT(VHU_F_NET_HOST_TSO6) | VHU_BIT(VHU_F_NET_HOST_UFO) |
			VHU_BIT(VHU_F_NET_HOST_USO) | VHU_BIT(VHU_F_NET_HOST_ECN);
	if (feat & 64)
		f |= VHU_BIT(VHU_F_NET_GUEST_CSUM) | VHU_BIT(VHU_F_NET_GUEST_TSO4) |
			VHU_BIT(VHU_F_NET_GUEST_TSO6) | VHU_BIT(VHU_F_NET_GUEST_UFO) |
			VHU_BIT(VHU_F_NET_GUEST_USO4) | VHU_BIT(VHU_F_NET_GUEST_USO6);
	if (feat & 128)
		f |= VHU_BIT(VHU_F_NOTIFY_ON_EMPTY);
	S.dev->features = f;
	S.dev->hdr_len = (f & (VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_NET_MRG_RXBUF))) ?
		sizeof(struct vhu_net_hdr) : sizeof(struct vhu_net_hdr) - 2;
	S.dev->sock_flags = ((fl & 1) ? VHU_SOCK_LINEAR_BUF : 0) |
		((fl & 2) ? VHU_SOCK_EXT_BUF : 0) | ((fl & 4) ? VHU_SOCK_LEGACY_OL_FLAGS : 0);
	deq_mp = (fl & 32) ? S.small : S.deq;
	n = packed ? (uint16_t)(1u + n_log2) : (uint16_t)(1u << (n_log2 % 9));

	nenq = enq_cfg % (MAX_ENQ + 1);
	for (i = 0; i < nenq; i++) {
		enq[i] = make_pkt(&in, i);
		if (enq[i] == NULL) {
			nenq = i;
			break;
		}
	}
	for (i = 0; i < FL.n; i++) {
		FL.rec[i].off = fz_u16(&in);
		FL.rec[i].mask = fz_u8(&in);
		FL.rec[i].at = fz_u8(&in);
	}
	FL.packed = packed;
	FL.point = -1;
	FL.rx_table = NULL;

	/* ---- guest memory: zeroed, then the image ---- */
	for (i = 0; i < NREG; i++)
		memset(S.host[i], 0, reg_size[i]);
	image_copy(NULL, true, in.p, RTE_MIN(in.n, (size_t)IMAGE_SIZE));

	if (fl & 8) {
		log = malloc(1 + log_len);   /* exactly that: ASan sees one byte too far */
		if (log == NULL) {
			rc = -1;
			*why = "malloc";
			goto out;
		}
		memset(log, 0, 1 + log_len);
		S.dev->log_base = log;
		S.dev->log_size = 1u + log_len;
		S.dev->features |= VHU_BIT(VHU_F_LOG_ALL);
		S.dev->log_all = true;
	} else {
		S.dev->log_base = NULL;
		S.dev->log_size = 0;
		S.dev->log_all = false;
	}

	if ((iommu & 1) && iommu_on(iommu, why) != 0) {
		rc = -1;
		goto out;
	}
	place(&rx, place(&tx, reg_gpa[0], n, packed), n, packed);
	ring_start(S.vq[1], &tx, n, tx_base, !(fl & 128), notify & 3);
	ring_start(S.vq[0], &rx, n, rx_base, true, (notify >> 2) & 3);
	if (fl & 16) {
		S.vq[0]->log_used_gpa = log_gpa;
		S.vq[1]->log_used_gpa = log_gpa ^ 0x5a5a;
	}
	if (fl & 64) {
		static const struct rte_ether_addr mac = {
			.addr_bytes = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } };

		S.dev->rarp_mac = mac;
		S.dev->rarp_pending = 1;
	}
	if (notify & 16)
		vhu_enable_guest_notification(S.dev->vid, 0, (notify >> 5) & 1);
	if (notify & 64)
		vhu_enable_guest_notification(S.dev->vid, 1, (notify >> 7) & 1);

	/* what the device may write: used rings, device-writable buffers */
	memset(S.allowed, 0, sizeof(S.allowed));
	if (packed) {
		allow(tx.desc, 16ull * n);
		allow(rx.desc, 16ull * n);
		allow(tx.used, 4);
		allow(rx.used, 4);
	} else {
		allow(tx.used, 6 + 8ull * n);
		allow(rx.used, 6 + 8ull * n);
	}
	FL.rx_table = image_ptr(rx.desc - reg_gpa[0]);
	FL.rx_n = n;
	allow_table(FL.rx_table, n, false, packed);
	image_copy(S.snap, false, NULL, IMAGE_SIZE);

	/* ---- the lcore (and the guest's flips): D1 [D2] E1 E2 [D3 E3] ---- */
	calls = FL.n > 0 ? 2 : 1 + (deq_cfg >> 7);
	for (k = 0; k < calls; k++)
		deq_burst(k, deq_mp, (uint16_t)(1 + (deq_cfg & 31)), &rc, why);
	if (S.iommu)
		iommu_churn(iommu);
	for (k = 0, i = 0; k < 2 && i < nenq; k++) {
		flips_at(P_ENQ1 + (int)k, 0);
		i += vhu_enqueue_burst(S.dev->vid, 0, &enq[i], (uint16_t)(nenq - i));
	}
	if (FL.n > 0) {
		deq_burst(2, deq_mp, (uint16_t)(1 + (deq_cfg & 31)), &rc, why);
		flips_at(P_ENQ3, 0);
		if (i < nenq)
			vhu_enqueue_burst(S.dev->vid, 0, &enq[i], (uint16_t)(nenq - i));
	}
	for (i = 0; i < nenq; i++)
		rte_pktmbuf_free(enq[i]);
	nenq = 0;
	if (rc != 0)
		goto out;

	/* ---- oracle ---- */
	if (S.iommu)
		iommu_forbid(iommu);
	for (k = 0, i = 0; k < NREG; i += (uint32_t)reg_size[k], k++) {
		uint32_t b;

		if (memcmp(S.host[k], S.snap + i, reg_size[k]) == 0)
			continue;
		for (b = 0; b < reg_size[k]; b++) {
			if (S.host[k][b] != S.snap[i + b] && !S.allowed[i + b]) {
				*why = "guest memory written outside the used rings and writable buffers";
				rc = -1;
				goto out;
			}
		}
	}
out:
	iommu_off();
	FL.point = -1;
	FL.rx_table = NULL;
	for (i = 0; i < nenq; i++)
		rte_pktmbuf_free(enq[i]);
	S.dev->log_base = NULL;
	S.dev->log_size = 0;
	S.dev->log_all = false;
	S.dev->rarp_pending = 0;
	free(log);
	for (i = 0; i < 2; i++) {
		eventfd_read(S.callfd[i], &ev);
		eventfd_read(S.errfd[i], &ev);
	}
	if (rc == 0 && (rte_mempool_avail_count(S.deq) != DEQ_POOL ||
			rte_mempool_avail_count(S.small) != SMALL_POOL ||
			rte_mempool_avail_count(S.src) != SRC_POOL)) {
		*why = "mbufs lost";
		rc = -1;
	}
	if (rc == 0)
		rc = fz_leaks_check(&before, why);
	return rc;
}

int
vhu_fuzz_split_run(const uint8_t *data, size_t len, const char **why)
{
	return ring_run(data, len, why, false);
}

int
vhu_fuzz_packed_run(const uint8_t *data, size_t len, const char **why)
{
	return ring_run(data, len, why, true);
}
