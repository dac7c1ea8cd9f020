/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The virtio-net header's cache line, fast suite, split and packed rings.
 * Each guest buffer here has its header in the last bytes of one page and
 * its frame at the start of the next, and the header's page is protected
 * while the bursts run, so a touch the datapath must not make faults (the
 * fault is caught and fails the test):
 *  - enqueue of a frame with no offload into a buffer whose header already
 *    reads as the plain header (all zero, num_buffers 1) must not store
 *    it (page read-only), and must store it when it differs;
 *  - dequeue with no host offload negotiated must not read the header at
 *    all (page inaccessible), and must read and check it when one is.
 * Both go through the four-at-a-time batch and the one-at-a-time path.
 */

#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_mbuf.h>

#include "guest_packed.h"
#include "guest_split.h"
#include "vhu.h"
#include "vhu_test.h"

#define F(b)  VHU_BIT(VHU_F_##b)
#define PAGE  4096u
#define NBUF  5u  /* a batch of four and one more */
#define FLEN  64u /* frame bytes */
#define QSIZE 64

static sigjmp_buf fault_jb;

static void
on_fault(int sig __rte_unused, siginfo_t *si __rte_unused, void *uc __rte_unused)
{
	siglongjmp(fault_jb, 1);
}

/* One ring under test, split or packed. */
struct hl_env {
	bool packed;
	struct tenv t;
	struct penv p;
	struct vhu_dev *dev;
	struct gmem *gm;
	struct rte_mempool *mp;
	uint64_t gpa[NBUF];   /* each buffer: header ends at gpa + PAGE */
	uint8_t *hpage[NBUF]; /* host address of each header's page */
};

static int
hl_init(struct hl_env *e, bool packed, uint64_t features)
{
	uint32_t i;

	memset(e, 0, sizeof(*e));
	e->packed = packed;
	if (packed) {
		if (penv_init(&e->p, features, 0, QSIZE, 1) != 0)
			return -1;
		e->dev = e->p.dev;
		e->gm = &e->p.gm;
		e->mp = e->p.mp;
	} else {
		if (tenv_init(&e->t, features, 0, QSIZE, 1) != 0)
			return -1;
		e->dev = e->t.dev;
		e->gm = &e->t.gm;
		e->mp = e->t.mp;
	}
	for (i = 0; i < NBUF; i++) {
		e->gpa[i] = gmem_alloc(e->gm, 0, 2 * PAGE, PAGE);
		if (e->gpa[i] == 0)
			return -1;
		e->hpage[i] = gmem_host(e->gm, e->gpa[i]);
		if (e->hpage[i] == NULL || ((uintptr_t)e->hpage[i] & (PAGE - 1)) != 0)
			return -1;
	}
	return 0;
}

static void
hl_fini(struct hl_env *e)
{
	/* each does nothing when it was not made */
	penv_fini(&e->p);
	tenv_fini(&e->t);
}

static int
hl_teardown(void *obj, int status)
{
	RTE_SET_USED(status);
	hl_fini(obj);
	return TEST_SUCCESS;
}

VHU_FIXTURE(hl_env, NULL, hl_teardown);

static struct vhu_vq *
hl_vq(struct hl_env *e, int q)
{
	return e->packed ? e->p.vq[q] : e->t.vq[q];
}

static int
hl_post(struct hl_env *e, int q, uint32_t i, uint32_t len)
{
	struct gseg s = { .gpa = e->gpa[i] + PAGE - e->dev->hdr_len, .len = len };

	if (e->packed)
		return pring_post(&e->p.g[q], &s, 1, q == 0, false);
	return gring_post(&e->t.g[q], &s, 1, q == 0, false);
}

static int
hl_pop(struct hl_env *e, int q, uint32_t *id, uint32_t *len)
{
	if (e->packed)
		return pring_pop(&e->p.g[q], id, len);
	return gring_pop(&e->t.g[q], id, len);
}

static void
hl_protect(struct hl_env *e, int prot)
{
	uint32_t i;

	for (i = 0; i < NBUF; i++)
		mprotect(e->hpage[i], PAGE, prot);
}

/*
 * A burst with the header pages under prot: its count, or -1 when the
 * datapath touched a page it must not (the ring's guard is left as the
 * interrupted burst would have left it).
 */
static int
hl_burst(struct hl_env *e, int q, struct rte_mbuf **pkts, uint16_t n, int prot)
{
	struct sigaction sa, old;
	volatile int rc = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	hl_protect(e, prot);
	if (sigsetjmp(fault_jb, 1) == 0) {
		if (q == 0)
			rc = vhu_enqueue_burst(e->dev->vid, 0, pkts, n);
		else
			rc = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, n);
	} else {
		vhu_guard_leave(&hl_vq(e, q)->guard);
		rc = -1;
	}
	hl_protect(e, PROT_READ | PROT_WRITE);
	sigaction(SIGSEGV, &old, NULL);
	return rc;
}

static void
hl_frame(uint8_t *f, uint32_t i)
{
	uint32_t k;

	memset(f, 0, FLEN);
	f[0] = 0x02;
	f[5] = (uint8_t)i;
	f[6] = 0x02;
	f[12] = 0x08;
	for (k = 14; k < FLEN; k++)
		f[k] = (uint8_t)(k * 7 + i);
}

/* Enqueue NBUF frames into buffers whose headers hold hdr; check the guest's view. */
static int
rx_round(struct hl_env *e, const uint8_t *hdr, int prot)
{
	uint32_t hlen = e->dev->hdr_len, i, id, len;
	struct rte_mbuf *m[NBUF];
	uint8_t f[FLEN], want[sizeof(struct vhu_net_hdr)] = { 0 };
	uint16_t one = 1;

	memcpy(want + 10, &one, sizeof(one));
	for (i = 0; i < NBUF; i++) {
		gmem_write(e->gm, e->gpa[i] + PAGE - hlen, hdr, hlen);
		TEST_ASSERT(hl_post(e, 0, i, hlen + 1518) >= 0, "post rx %u", i);
		hl_frame(f, i);
		m[i] = rte_pktmbuf_alloc(e->mp);
		TEST_ASSERT(m[i] != NULL, "");
		memcpy(rte_pktmbuf_append(m[i], FLEN), f, FLEN);
	}
	TEST_ASSERT_EQ(hl_burst(e, 0, m, NBUF, prot), (int)NBUF, "enqueue with the header pages %s",
			prot == PROT_READ ? "read-only" : "open");
	for (i = 0; i < NBUF; i++)
		rte_pktmbuf_free(m[i]);
	for (i = 0; i < NBUF; i++) {
		uint8_t h[sizeof(struct vhu_net_hdr)], d[FLEN];

		TEST_ASSERT_EQ(hl_pop(e, 0, &id, &len), 1, "used %u", i);
		TEST_ASSERT_EQ(len, hlen + FLEN, "used length %u", i);
		gmem_read(e->gm, e->gpa[i] + PAGE - hlen, h, hlen);
		gmem_read(e->gm, e->gpa[i] + PAGE, d, FLEN);
		hl_frame(f, i);
		TEST_ASSERT(memcmp(d, f, FLEN) == 0, "frame %u", i);
		TEST_ASSERT(memcmp(h, want, 10) == 0, "header %u zero", i);
		if (hlen == 12)
			TEST_ASSERT(memcmp(h + 10, want + 10, 2) == 0, "header %u num_buffers 1",
					i);
	}
	return TEST_SUCCESS;
}

static int
rx_case(struct hl_env *e, bool packed, uint64_t features)
{
	uint8_t plain[sizeof(struct vhu_net_hdr)] = { 0 }, junk[sizeof(struct vhu_net_hdr)];
	uint16_t one = 1;

	TEST_ASSERT_EQ(hl_init(e, packed, features), 0, "env");
	memcpy(plain + 10, &one, sizeof(one));
	/* already right: read-only pages must do */
	TEST_RUN(rx_round(e, plain, PROT_READ));
	/* not right: it is stored */
	memset(junk, 0xa5, sizeof(junk));
	TEST_RUN(rx_round(e, junk, PROT_READ | PROT_WRITE));
	/* num_buffers alone differs (hlen 12) */
	memcpy(junk, plain, sizeof(junk));
	junk[10] = 7;
	TEST_RUN(rx_round(e, junk, PROT_READ | PROT_WRITE));
	TEST_ASSERT_EQ(hl_vq(e, 0)->stats.errors, 0, "");
	hl_fini(e);
	return TEST_SUCCESS;
}

/* One case, split and packed, with each feature set. */
static int
each_variant(struct hl_env *e, int (*fn)(struct hl_env *e, bool packed, uint64_t features))
{
	static const uint64_t feats[] = {
		F(VERSION_1),
		F(VERSION_1) | F(NET_MRG_RXBUF),
		F(VERSION_1) | F(IN_ORDER),
	};
	uint32_t i;

	for (i = 0; i < RTE_DIM(feats); i++) {
		TEST_RUN(fn(e, false, feats[i]));
		TEST_RUN(fn(e, true, feats[i]));
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, hdr_enq_plain_not_rewritten, hl_env, e)
{
	return each_variant(e, rx_case);
}

/* The guest sends NBUF frames after a header claiming a checksum offload. */
static int
tx_post_all(struct hl_env *e)
{
	struct vhu_net_hdr h;
	uint32_t hlen = e->dev->hdr_len, i;
	uint8_t f[FLEN];

	memset(&h, 0, sizeof(h));
	h.flags = VHU_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 5000; /* beyond the frame: invalid if it were read */
	h.csum_offset = 6;
	for (i = 0; i < NBUF; i++) {
		hl_frame(f, i);
		gmem_write(e->gm, e->gpa[i] + PAGE - hlen, &h, hlen);
		gmem_write(e->gm, e->gpa[i] + PAGE, f, FLEN);
		TEST_ASSERT(hl_post(e, 1, i, hlen + FLEN) >= 0, "post tx %u", i);
	}
	return TEST_SUCCESS;
}

static int
tx_case(struct hl_env *e, bool packed, uint64_t features)
{
	struct rte_mbuf *m[8];
	uint32_t i, id, len;
	uint8_t f[FLEN];
	int n;

	TEST_ASSERT_EQ(hl_init(e, packed, features), 0, "env");
	/* no host offload: the header is not read, the frames pass as they are */
	TEST_RUN(tx_post_all(e));
	n = hl_burst(e, 1, m, RTE_DIM(m), PROT_NONE);
	TEST_ASSERT_EQ(n, (int)NBUF, "dequeue with the header pages inaccessible");
	for (i = 0; i < NBUF; i++) {
		hl_frame(f, i);
		TEST_ASSERT(mbuf_cmp(m[i], f, FLEN) == 0, "frame %u", i);
		TEST_ASSERT_EQ(m[i]->ol_flags &
						(RTE_MBUF_F_RX_L4_CKSUM_MASK |
								RTE_MBUF_F_TX_OFFLOAD_MASK),
				0, "no offload from an unread header");
		rte_pktmbuf_free(m[i]);
		TEST_ASSERT_EQ(hl_pop(e, 1, &id, &len), 1, "used %u", i);
	}
	/* CSUM negotiated: the same headers are read, found invalid, dropped */
	e->dev->features |= F(NET_CSUM);
	TEST_RUN(tx_post_all(e));
	n = hl_burst(e, 1, m, RTE_DIM(m), PROT_READ | PROT_WRITE);
	TEST_ASSERT_EQ(n, 0, "invalid headers dropped");
	TEST_ASSERT_EQ(hl_vq(e, 1)->stats.errors, NBUF, "and counted");
	for (i = 0; i < NBUF; i++)
		TEST_ASSERT_EQ(hl_pop(e, 1, &id, &len), 1, "used %u", i);
	hl_fini(e);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, hdr_deq_unread_without_host_offloads, hl_env, e)
{
	return each_variant(e, tx_case);
}
