/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Time of check against time of use (fast suite): a guest thread flips one
 * field of a descriptor, or of an indirect table entry, between two values
 * while the back-end walks the ring, four buffers a round so the batch
 * path and the single path both meet it. Packed rings: flags (AVAIL/USED,
 * NEXT, WRITE, INDIRECT), ids, lengths and addresses, direct and indirect,
 * on the transmit ring (dequeue) and the receive ring (enqueue), out of
 * order and in order. Split and packed: a direct descriptor's length or
 * address changed between check and copy (a good value against one past
 * the end of guest memory, a huge one, a shorter one, another buffer).
 *
 * Oracle, per round: every frame taken is whole and equal to what one of
 * the two states of the flipped field gives; a buffer is dropped only when
 * one of the states is bad, and every drop is counted; the buffers around
 * the flipped one pass untouched; a receive buffer that is refused is not
 * written at all, and no byte past any receive buffer, nor the last bytes
 * of guest memory, is written; ring positions stay inside the ring and
 * nothing is written after it. At the end no mbuf is missing and a clean
 * round passes. Out-of-bounds accesses are also the sanitizer build's job.
 */

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "guest_packed.h"
#include "guest_split.h"
#include "vhu.h"
#include "vhu_test.h"

#define F(b)     VHU_BIT(VHU_F_##b)
#define RQ       16 /* ring size */
#define GRP      4  /* buffers a round */
#define ROUNDS   64 /* rounds a scenario (16 for each of the four buffers) */
#define RXLEN    2048
#define PKTLEN   1000
#define DECOY_ID 15
#define CANARY   0x5a
#define POISON   0xa5
#define HUGE32   0x7ffffff0u

/* ---- the guest thread ---- */

struct flip {
	void *field; /* what flips, 2, 4 or 8 bytes */
	unsigned int size;
	uint64_t a, b;
	int run; /* 1: flipping; 0: park */
	int parked;
	int stop;
	uint64_t flips;
	pthread_t t;
};

static void
flip_store(const struct flip *f, uint64_t v)
{
	switch (f->size) {
	case 2:
		__atomic_store_n((uint16_t *)f->field, (uint16_t)v, __ATOMIC_RELEASE);
		break;
	case 4:
		__atomic_store_n((uint32_t *)f->field, (uint32_t)v, __ATOMIC_RELEASE);
		break;
	default:
		__atomic_store_n((uint64_t *)f->field, v, __ATOMIC_RELEASE);
		break;
	}
}

static void *
flip_main(void *arg)
{
	struct flip *f = arg;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		uint64_t n;

		if (!__atomic_load_n(&f->run, __ATOMIC_ACQUIRE)) {
			/* parked: yield, the machine may have two cores only */
			__atomic_store_n(&f->parked, 1, __ATOMIC_RELEASE);
			while (!__atomic_load_n(&f->run, __ATOMIC_ACQUIRE) &&
					!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE))
				sched_yield();
			__atomic_store_n(&f->parked, 0, __ATOMIC_RELEASE);
			continue;
		}
		n = __atomic_load_n(&f->flips, __ATOMIC_RELAXED);
		flip_store(f, (n & 1) ? f->a : f->b);
		__atomic_store_n(&f->flips, n + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * The guest thread runs on another CPU than the test's (an EAL lcore, pinned
 * to one CPU that a plain pthread_create would share): on the same CPU it
 * would only ever flip between two of the back-end's instructions when the
 * scheduler preempts, and a second fetch a few cycles after the first would
 * go unseen.
 */
static int
flip_init(struct flip *f)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), c;
	int self = sched_getcpu();
	pthread_attr_t attr;
	cpu_set_t set;
	int rc;

	memset(f, 0, sizeof(*f));
	CPU_ZERO(&set);
	for (c = 0; c < ncpu && c < CPU_SETSIZE; c++)
		if (c != self || ncpu == 1)
			CPU_SET((int)c, &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	rc = pthread_create(&f->t, &attr, flip_main, f);
	pthread_attr_destroy(&attr);
	TEST_ASSERT_EQ(rc, 0, "guest thread");
	return TEST_SUCCESS;
}

/* Wait (bounded) until the thread has left the field alone; it holds a or b. */
static int
flip_park(struct flip *f)
{
	uint64_t spins = 0;

	__atomic_store_n(&f->run, 0, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&f->parked, __ATOMIC_ACQUIRE) && spins++ < 100000000)
		sched_yield();
	TEST_ASSERT(__atomic_load_n(&f->parked, __ATOMIC_ACQUIRE), "guest thread parked");
	return TEST_SUCCESS;
}

/* Flip size bytes at field between a and b; returns once the flipping runs. */
static void
flip_go(struct flip *f, void *field, unsigned int size, uint64_t a, uint64_t b)
{
	uint64_t n0, spins = 0;

	f->field = field;
	f->size = size;
	f->a = a;
	f->b = b;
	n0 = __atomic_load_n(&f->flips, __ATOMIC_ACQUIRE);
	__atomic_store_n(&f->run, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&f->flips, __ATOMIC_ACQUIRE) < n0 + 2 && spins++ < 100000000)
		sched_yield();
}

static void
flip_fini(struct flip *f)
{
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	pthread_join(f->t, NULL);
}

/* ---- scenarios ---- */

enum what {
	/* transmit */
	T_NEXT,
	T_WRITE,
	T_INDIRECT,
	T_AVAIL,
	T_ID,
	T_LEN_HUGE,
	T_LEN_SHORT,
	T_ADDR_END,
	T_ADDR_ALT,
	I_LEN_HUGE,
	I_LEN_MORE,
	I_LEN_ODD,
	I_ENT_LEN,
	I_ENT_ADDR,
	I_ENT_FLAGS,
	/* receive */
	R_WRITE,
	R_AVAIL,
	R_ID,
	R_LEN_HUGE,
	R_ADDR_END,
	RI_LEN_HUGE,
	RI_ENT_LEN,
	RI_ENT_ADDR,
};

struct scen {
	enum what what;
	const char *name;
	bool may_drop; /* one of the two states is a bad buffer */
	bool indirect; /* the flipped buffer goes through an indirect table */
};

static const struct scen tx_all[] = {
	{ T_NEXT, "flags NEXT (chain into a decoy)", false, false },
	{ T_WRITE, "flags WRITE", true, false },
	{ T_INDIRECT, "flags INDIRECT", true, false },
	{ T_AVAIL, "flags AVAIL/USED (lap)", false, false },
	{ T_ID, "id out of the ring", true, false },
	{ T_LEN_HUGE, "length huge", true, false },
	{ T_LEN_SHORT, "length shorter", false, false },
	{ T_ADDR_END, "address past the end of memory", true, false },
	{ T_ADDR_ALT, "address of another frame", false, false },
	{ I_LEN_HUGE, "table length huge", true, true },
	{ I_LEN_MORE, "table length one entry more", false, true },
	{ I_LEN_ODD, "table length not a multiple of 16", true, true },
	{ I_ENT_LEN, "entry length huge", true, true },
	{ I_ENT_ADDR, "entry address past the end", true, true },
	{ I_ENT_FLAGS, "entry flags INDIRECT", true, true },
};

static const struct scen rx_all[] = {
	{ R_WRITE, "flags WRITE", true, false },
	{ R_AVAIL, "flags AVAIL/USED (lap)", false, false },
	{ R_ID, "id out of the ring", true, false },
	{ R_LEN_HUGE, "length huge", true, false },
	{ R_ADDR_END, "address past the end of memory", true, false },
	{ RI_LEN_HUGE, "table length huge", true, true },
	{ RI_ENT_LEN, "entry length huge", true, true },
	{ RI_ENT_ADDR, "entry address past the end", true, true },
};

/* a direct descriptor's length or address, between check and copy */
static const struct scen tx_direct[] = {
	{ T_LEN_HUGE, "length huge", true, false },
	{ T_LEN_SHORT, "length shorter", false, false },
	{ T_ADDR_END, "address past the end of memory", true, false },
	{ T_ADDR_ALT, "address of another frame", false, false },
};

static const struct scen rx_direct[] = {
	{ R_LEN_HUGE, "length huge", true, false },
	{ R_ADDR_END, "address past the end of memory", true, false },
};

/* ---- one device, split or packed, and the guest's buffers ---- */

struct race {
	bool packed;
	struct tenv t;
	struct penv p;
	struct gmem *gm;
	struct vhu_dev *dev;
	struct vhu_vq *vq[2];
	struct rte_mempool *mp;
	uint64_t end;             /* guest-physical end of guest memory */
	uint64_t a[GRP], ag[GRP]; /* transmit buffers (header + frame), alternatives */
	uint64_t tbl[GRP], rtbl[GRP];
	uint64_t rx[GRP]; /* receive buffers, each followed by a canary */
	uint64_t decoy;   /* 100 bytes a NEXT or a longer table runs into */
	uint32_t l[GRP];  /* frame lengths */
	uint8_t f[GRP][512], g[GRP][512], dz[100];
	struct rte_mbuf *pk[GRP]; /* packets for the receive rounds */
	uint8_t pkt[GRP][PKTLEN];
	struct flip fl;
	uint64_t same, other, dropped, unseen; /* what became of the flipped buffer */
};

static int
race_init(struct race *r, bool packed, uint64_t feat)
{
	uint32_t j, k;

	memset(r, 0, sizeof(*r));
	r->packed = packed;
	feat |= F(VERSION_1) | F(RING_INDIRECT_DESC);
	if (packed) {
		TEST_ASSERT_EQ(penv_init(&r->p, feat, 0, RQ, 1), 0, "packed env");
		r->gm = &r->p.gm;
		r->dev = r->p.dev;
		r->vq[0] = r->p.vq[0];
		r->vq[1] = r->p.vq[1];
		r->mp = r->p.mp;
	} else {
		TEST_ASSERT_EQ(tenv_init(&r->t, feat, 0, RQ, 1), 0, "split env");
		r->gm = &r->t.gm;
		r->dev = r->t.dev;
		r->vq[0] = r->t.vq[0];
		r->vq[1] = r->t.vq[1];
		r->mp = r->t.mp;
		/* buffers after the rings */
		r->gm->r[0].data_start = RTE_ALIGN_CEIL(r->gm->r[0].brk, 4096);
	}
	r->end = r->gm->r[0].gpa + r->gm->r[0].size;
	for (j = 0; j < GRP; j++) {
		uint8_t *h;

		/* 12 + l a multiple of 16: read as a table it has a valid length */
		r->l[j] = 116 + 16 * j;
		make_frame(r->f[j], r->l[j], 10 + j);
		make_frame(r->g[j], r->l[j], 20 + j);
		r->a[j] = gmem_alloc(r->gm, 0, 12 + r->l[j], 64);
		r->ag[j] = gmem_alloc(r->gm, 0, 12 + r->l[j], 64);
		h = gmem_host(r->gm, r->a[j]);
		memset(h, 0, 12);
		memcpy(h + 12, r->f[j], r->l[j]);
		h = gmem_host(r->gm, r->ag[j]);
		memset(h, 0, 12);
		memcpy(h + 12, r->g[j], r->l[j]);
		r->tbl[j] = gmem_alloc(r->gm, 0, 48, 64);
		r->rtbl[j] = gmem_alloc(r->gm, 0, 16, 64);
		r->rx[j] = gmem_alloc(r->gm, 0, RXLEN + 64, 64);
		for (k = 0; k < PKTLEN; k++)
			r->pkt[j][k] = (uint8_t)(k * 7 + j * 31 + 1);
		memcpy(r->pkt[j], r->f[0], 14); /* an Ethernet header */
		r->pk[j] = mbuf_make(r->mp, r->pkt[j], PKTLEN, 0);
		TEST_ASSERT(r->pk[j] != NULL, "mbuf");
	}
	r->decoy = gmem_alloc(r->gm, 0, 100, 64);
	for (k = 0; k < 100; k++)
		r->dz[k] = (uint8_t)(0xc0 + k);
	gmem_write(r->gm, r->decoy, r->dz, 100);
	/* the last bytes of guest memory, where bad addresses point: never written */
	memset(gmem_host(r->gm, r->end - 256), POISON, 256);
	return flip_init(&r->fl);
}

static int
race_fini(struct race *r)
{
	uint32_t j;

	flip_fini(&r->fl);
	for (j = 0; j < GRP; j++)
		rte_pktmbuf_free(r->pk[j]);
	TEST_ASSERT(rte_mempool_avail_count(r->mp) == r->mp->size, "no mbuf lost");
	if (r->packed)
		penv_fini(&r->p);
	else
		tenv_fini(&r->t);
	return TEST_SUCCESS;
}

/* ---- descriptors, either layout ---- */

/* Descriptor j of this round on ring q: its slot, and (packed) the lap marks it needs. */
struct slot {
	void *d; /* struct vhu_vring_desc or vhu_vring_packed_desc */
	uint16_t idx;
	uint16_t lap;   /* packed: AVAIL/USED bits of an available descriptor */
	uint16_t other; /* packed: the other lap's */
};

static struct slot
slot_of(struct race *r, int q, uint32_t j)
{
	struct slot s;

	if (r->packed) {
		struct vhu_vq *vq = r->vq[q];
		uint32_t i = vq->last_avail_idx + j;
		bool w = vq->avail_wrap;

		if (i >= RQ) {
			i -= RQ;
			w = !w;
		}
		s.idx = (uint16_t)i;
		s.d = &r->p.g[q].desc[i];
		s.lap = w ? VHU_DESC_F_AVAIL : VHU_DESC_F_USED;
		s.other = w ? VHU_DESC_F_USED : VHU_DESC_F_AVAIL;
	} else {
		/* split: heads 0..3 every round, the decoy at 8 */
		s.idx = (uint16_t)(j == GRP ? 8 : j);
		s.d = &r->t.g[q].desc[s.idx];
		s.lap = 0;
		s.other = 0;
	}
	return s;
}

static void
put_desc(struct race *r, const struct slot *s, uint64_t addr, uint32_t len, uint16_t id,
		uint16_t flags, uint16_t next)
{
	if (r->packed) {
		struct vhu_vring_packed_desc *d = s->d;

		d->addr = addr;
		d->len = len;
		d->id = id;
		__atomic_store_n(&d->flags, (uint16_t)(flags | s->lap), __ATOMIC_RELEASE);
	} else {
		struct vhu_vring_desc *d = s->d;

		d->addr = addr;
		d->len = len;
		d->flags = flags;
		d->next = next;
	}
}

/* Fields of a descriptor (ring or table entry) of either layout. */
static void *
f_addr(void *d)
{
	return d;
}

static void *
f_len(void *d)
{
	return (uint8_t *)d + 8;
}

static void *
f_flags(struct race *r, void *d)
{
	return (uint8_t *)d + (r->packed ? 14 : 12);
}

static void *
f_id(void *d)
{
	return (uint8_t *)d + 12; /* packed only */
}

/* Make the round's heads available (split); packed descriptors already are. */
static void
publish(struct race *r, int q)
{
	uint32_t j;

	if (r->packed)
		return;
	for (j = 0; j < GRP; j++) {
		struct gring *g = &r->t.g[q];

		g->avail->ring[g->avail_idx & (RQ - 1)] = (uint16_t)j;
		g->avail_idx++;
	}
	gring_publish(&r->t.g[q]);
}

/* Slots the device moved over since (pos, wrap) (packed), or used entries (split). */
static uint32_t
consumed(struct race *r, int q, uint16_t pos, uint16_t used0)
{
	if (r->packed)
		return (uint32_t)(r->vq[q]->last_avail_idx + RQ - pos) % RQ;
	return (uint16_t)(r->t.g[q].used->idx - used0);
}

/* Positions inside the ring and the guest memory after the ring as the guest left it. */
static int
ring_intact(struct race *r, int q)
{
	struct vhu_vq *vq = r->vq[q];

	TEST_ASSERT(vq->last_avail_idx < RQ || !r->packed, "avail position %u", vq->last_avail_idx);
	TEST_ASSERT(vq->last_used_idx < RQ || !r->packed, "used position %u", vq->last_used_idx);
	TEST_ASSERT(!vq->broken, "ring %d still running", q);
	return TEST_SUCCESS;
}

/* The field of scenario sc in round buffers s[] (k flipped) and its two values. */
struct field {
	void *p;
	unsigned int size;
	uint64_t a, b;
};

static struct field
tx_field(struct race *r, const struct scen *sc, const struct slot *s, uint32_t k)
{
	void *d = s[k].d, *e1 = (uint8_t *)gmem_host(r->gm, r->tbl[k]) + 16;
	uint16_t lap = s[k].lap;

	switch (sc->what) {
	case T_NEXT:
		return (struct field){ f_flags(r, d), 2, lap, lap | VHU_DESC_F_NEXT };
	case T_WRITE:
		return (struct field){ f_flags(r, d), 2, lap, lap | VHU_DESC_F_WRITE };
	case T_INDIRECT:
		return (struct field){ f_flags(r, d), 2, lap, lap | VHU_DESC_F_INDIRECT };
	case T_AVAIL:
		return (struct field){ f_flags(r, d), 2, lap, s[k].other };
	case T_ID:
		return (struct field){ f_id(d), 2, k, RQ + 5 };
	case T_LEN_HUGE:
		return (struct field){ f_len(d), 4, 12 + r->l[k], HUGE32 };
	case T_LEN_SHORT:
		return (struct field){ f_len(d), 4, 12 + r->l[k], 12 + 40 };
	case T_ADDR_END:
		return (struct field){ f_addr(d), 8, r->a[k], r->end - 40 };
	case T_ADDR_ALT:
		return (struct field){ f_addr(d), 8, r->a[k], r->ag[k] };
	case I_LEN_HUGE:
		return (struct field){ f_len(d), 4, 32, HUGE32 };
	case I_LEN_MORE:
		return (struct field){ f_len(d), 4, 32, 48 };
	case I_LEN_ODD:
		return (struct field){ f_len(d), 4, 32, 40 };
	case I_ENT_LEN:
		return (struct field){ f_len(e1), 4, r->l[k], 0xfffffff0u };
	case I_ENT_ADDR:
		return (struct field){ f_addr(e1), 8, r->a[k] + 12, r->end - 20 };
	default: /* I_ENT_FLAGS */
		return (struct field){ f_flags(r, e1), 2, 0, VHU_DESC_F_INDIRECT };
	}
}

/* An indirect table of n entries (split entries chained by next). */
static void
put_table(struct race *r, uint64_t at, const uint64_t *addr, const uint32_t *len, uint32_t n,
		uint16_t flags)
{
	uint8_t *t = gmem_host(r->gm, at);
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint16_t fl = flags, next = 0;

		if (r->packed) {
			struct vhu_vring_packed_desc *e = (void *)(t + 16 * i);

			*e = (struct vhu_vring_packed_desc){ addr[i], len[i], 0, fl };
		} else {
			struct vhu_vring_desc *e = (void *)(t + 16 * i);

			if (i + 1 < n) {
				fl |= VHU_DESC_F_NEXT;
				next = (uint16_t)(i + 1);
			}
			*e = (struct vhu_vring_desc){ addr[i], len[i], fl, next };
		}
	}
}

/*
 * One transmit round: four frames, buffer k's field flipping (when flip),
 * a dequeue of four. What came out is checked against the two states.
 */
static int
tx_round(struct race *r, const struct scen *sc, uint32_t k, bool flip)
{
	static uint8_t both[600];
	struct vhu_vq *vq = r->vq[1];
	uint16_t pos = vq->last_avail_idx, used0 = r->packed ? 0 : r->t.g[1].used->idx;
	uint64_t e0 = vq->stats.errors, e;
	struct rte_mbuf *pkts[GRP];
	struct slot s[GRP + 1];
	uint32_t j, m, c, t = 0;
	struct field fd;
	uint16_t n;

	for (j = 0; j <= GRP; j++)
		s[j] = slot_of(r, 1, j);
	/* a piece a chain may run into, never available as a head */
	put_desc(r, &s[GRP], r->decoy, 100, DECOY_ID, 0, 0);
	if (r->packed)
		((struct vhu_vring_packed_desc *)s[GRP].d)->flags = 0;
	for (j = GRP; j-- > 0;) {
		if (sc->indirect && j == k) {
			uint64_t ad[3] = { r->a[j], r->a[j] + 12, r->decoy };
			uint32_t ln[3] = { 12, r->l[j], 100 };

			put_table(r, r->tbl[j], ad, ln, 3, 0);
			put_desc(r, &s[j], r->tbl[j], 32, (uint16_t)j, VHU_DESC_F_INDIRECT, 0);
		} else {
			/* split: a NEXT runs into the decoy at slot 8 */
			put_desc(r, &s[j], r->a[j], 12 + r->l[j], (uint16_t)j, 0, 8);
		}
	}
	publish(r, 1);
	fd = tx_field(r, sc, s, k);
	if (flip)
		flip_go(&r->fl, fd.p, fd.size, fd.a, fd.b);
	n = vhu_dequeue_burst(r->dev->vid, 1, r->mp, pkts, GRP);
	if (flip)
		TEST_RUN(flip_park(&r->fl));
	m = consumed(r, 1, pos, used0);
	e = vq->stats.errors - e0;
	c = RTE_MIN(m, (uint32_t)GRP);
	TEST_ASSERT(e <= 1 && (e == 0 || (flip && sc->may_drop)), "%s: %" PRIu64 " buffers dropped",
			sc->name, e);
	if (flip && sc->what == T_AVAIL)
		TEST_ASSERT(c == k || c == GRP, "%s: %u buffers taken", sc->name, c);
	else
		TEST_ASSERT_EQ(c, GRP, "%s: every buffer consumed", sc->name);
	for (j = 0; j < c; j++) {
		const struct rte_mbuf *mb;

		if (j == k && flip && e == 1) {
			r->dropped++;
			continue;
		}
		TEST_ASSERT(t < n, "%s: buffer %u neither taken nor dropped", sc->name, j);
		mb = pkts[t++];
		if (j != k || !flip || mbuf_cmp(mb, r->f[j], r->l[j]) == 0) {
			TEST_ASSERT_EQ(mbuf_cmp(mb, r->f[j], r->l[j]), 0, "%s: frame %u whole",
					sc->name, j);
			r->same += j == k;
			continue;
		}
		/* the other state of the field */
		r->other++;
		switch (sc->what) {
		case T_LEN_SHORT:
			TEST_ASSERT_EQ(mbuf_cmp(mb, r->f[j], 40), 0, "%s: the shorter frame",
					sc->name);
			break;
		case T_ADDR_ALT:
			TEST_ASSERT_EQ(mbuf_cmp(mb, r->g[j], r->l[j]), 0, "%s: the other frame",
					sc->name);
			break;
		case T_NEXT:
		case I_LEN_MORE:
			memcpy(both, r->f[j], r->l[j]);
			memcpy(both + r->l[j], r->dz, 100);
			TEST_ASSERT_EQ(mbuf_cmp(mb, both, r->l[j] + 100), 0,
					"%s: the frame and the decoy", sc->name);
			break;
		default:
			TEST_ASSERT(false, "%s: frame %u taken, %u bytes, matching no state",
					sc->name, j, mb->pkt_len);
		}
	}
	r->unseen += GRP - c;
	TEST_ASSERT_EQ(t, n, "%s: frames out", sc->name);
	rte_pktmbuf_free_bulk(pkts, n);
	return ring_intact(r, 1);
}

static struct field
rx_field(struct race *r, const struct scen *sc, const struct slot *s, uint32_t k)
{
	void *d = s[k].d, *e0 = gmem_host(r->gm, r->rtbl[k]);
	uint16_t lap = s[k].lap;

	switch (sc->what) {
	case R_WRITE:
		return (struct field){ f_flags(r, d), 2, lap | VHU_DESC_F_WRITE, lap };
	case R_AVAIL:
		return (struct field){ f_flags(r, d), 2, lap | VHU_DESC_F_WRITE,
			s[k].other | VHU_DESC_F_WRITE };
	case R_ID:
		return (struct field){ f_id(d), 2, k, RQ + 5 };
	case R_LEN_HUGE:
		return (struct field){ f_len(d), 4, RXLEN, HUGE32 };
	case R_ADDR_END:
		return (struct field){ f_addr(d), 8, r->rx[k], r->end - 100 };
	case RI_LEN_HUGE:
		return (struct field){ f_len(d), 4, 16, HUGE32 };
	case RI_ENT_LEN:
		return (struct field){ f_len(e0), 4, RXLEN, HUGE32 };
	default: /* RI_ENT_ADDR */
		return (struct field){ f_addr(e0), 8, r->rx[k], r->end - 100 };
	}
}

static int
all_bytes(const uint8_t *p, uint32_t len, uint8_t v, const char *what, uint32_t j)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		TEST_ASSERT_EQ(p[i], v, "%s %u: byte %u", what, j, i);
	return TEST_SUCCESS;
}

/*
 * One receive round: four buffers, buffer k's field flipping (when flip),
 * four packets enqueued. Each buffer holds its packet, or nothing at all.
 */
static int
rx_round(struct race *r, const struct scen *sc, uint32_t k, bool flip)
{
	struct vhu_vq *vq = r->vq[0];
	uint16_t pos = vq->last_avail_idx, used0 = r->packed ? 0 : r->t.g[0].used->idx;
	uint64_t e0 = vq->stats.errors, e;
	struct slot s[GRP + 1];
	uint32_t j, m, pi = 0;
	struct field fd;
	uint16_t n;

	for (j = 0; j <= GRP; j++)
		s[j] = slot_of(r, 0, j);
	if (r->packed)
		((struct vhu_vring_packed_desc *)s[GRP].d)->flags = 0;
	for (j = GRP; j-- > 0;) {
		uint8_t *b = gmem_host(r->gm, r->rx[j]);

		memset(b, POISON, RXLEN);
		memset(b + RXLEN, CANARY, 64);
		if (sc->indirect && j == k) {
			uint64_t ad = r->rx[j];
			uint32_t ln = RXLEN;

			put_table(r, r->rtbl[j], &ad, &ln, 1, VHU_DESC_F_WRITE);
			put_desc(r, &s[j], r->rtbl[j], 16, (uint16_t)j, VHU_DESC_F_INDIRECT, 0);
		} else {
			put_desc(r, &s[j], r->rx[j], RXLEN, (uint16_t)j, VHU_DESC_F_WRITE, 0);
		}
	}
	publish(r, 0);
	fd = rx_field(r, sc, s, k);
	if (flip)
		flip_go(&r->fl, fd.p, fd.size, fd.a, fd.b);
	n = vhu_enqueue_burst(r->dev->vid, 0, r->pk, GRP);
	if (flip)
		TEST_RUN(flip_park(&r->fl));
	m = consumed(r, 0, pos, used0);
	e = vq->stats.errors - e0;
	TEST_ASSERT(e <= 1 && (e == 0 || (flip && sc->may_drop)), "%s: %" PRIu64 " buffers refused",
			sc->name, e);
	if (flip && sc->what == R_AVAIL)
		TEST_ASSERT(m == k || m == GRP, "%s: %u buffers used", sc->name, m);
	else
		TEST_ASSERT_EQ(m, GRP, "%s: every buffer consumed", sc->name);
	for (j = 0; j < GRP; j++) {
		const uint8_t *b = gmem_host(r->gm, r->rx[j]);

		TEST_RUN(all_bytes(b + RXLEN, 64, CANARY, "after receive buffer", j));
		if (j >= m || (j == k && flip && e == 1)) {
			/* not reached, or refused: not written at all */
			TEST_RUN(all_bytes(b, RXLEN, POISON, "unused receive buffer", j));
			if (j < m && !r->packed)
				TEST_ASSERT(r->t.g[0].used->ring[(used0 + j) & (RQ - 1)].len == 0,
						"%s: refused buffer returned empty", sc->name);
			r->dropped += j < m;
			r->unseen += j >= m;
			continue;
		}
		TEST_ASSERT(memcmp(b + 12, r->pkt[pi], PKTLEN) == 0,
				"%s: buffer %u holds packet %u", sc->name, j, pi);
		TEST_ASSERT(b[10] == 1 && b[11] == 0, "%s: num_buffers 1", sc->name);
		TEST_RUN(all_bytes(b, 10, 0, "header of receive buffer", j));
		TEST_RUN(all_bytes(b + 12 + PKTLEN, RXLEN - 12 - PKTLEN, POISON,
				"receive buffer tail", j));
		if (r->packed && j != k) {
			const struct vhu_vring_packed_desc *u = s[j].d;

			TEST_ASSERT(u->id == j && u->len == 12 + PKTLEN, "%s: used descriptor %u",
					sc->name, j);
		} else if (!r->packed) {
			const struct vhu_vring_used_elem *u =
					&r->t.g[0].used->ring[(used0 + j) & (RQ - 1)];

			TEST_ASSERT(u->id == j && u->len == 12 + PKTLEN, "%s: used entry %u",
					sc->name, j);
		}
		r->same += j == k;
		pi++;
	}
	TEST_ASSERT_EQ(n, pi, "%s: packets placed", sc->name);
	TEST_RUN(all_bytes(gmem_host(r->gm, r->end - 256), 256, POISON, "end of memory", 0));
	return ring_intact(r, 0);
}

/* Every scenario of list on ring q, ROUNDS rounds each, then clean rounds. */
static int
run(struct race *r, int q, const struct scen *list, unsigned int nlist, const char *what)
{
	unsigned int i, k;

	for (i = 0; i < nlist; i++) {
		const struct scen *sc = &list[i];

		r->same = r->other = r->dropped = r->unseen = 0;
		for (k = 0; k < ROUNDS; k++) {
			/* a packed NEXT needs the decoy right after the buffer: the last one */
			uint32_t b = sc->what == T_NEXT && r->packed ? GRP - 1 : k % GRP;

			if (q == 1)
				TEST_RUN(tx_round(r, sc, b, true));
			else
				TEST_RUN(rx_round(r, sc, b, true));
		}
		TEST_LOG("%s %s: the flipped buffer taken %" PRIu64 " times (%" PRIu64
			 " showing its other state), dropped %" PRIu64 ", not reached %" PRIu64,
				what, sc->name, r->same + r->other, r->other, r->dropped,
				r->unseen);
	}
	/* the guest stops flipping: the ring works as before */
	for (k = 0; k < 2 * GRP; k++) {
		if (q == 1)
			TEST_RUN(tx_round(r, &list[0], k % GRP, false));
		else
			TEST_RUN(rx_round(r, &list[0], k % GRP, false));
	}
	return TEST_SUCCESS;
}

/* Packed transmit ring: flags, ids, lengths, addresses, direct and indirect. */
VHU_TEST(fast, packed_toctou_deq)
{
	struct race r;

	TEST_RUN(race_init(&r, true, 0));
	TEST_RUN(run(&r, 1, tx_all, RTE_DIM(tx_all), "packed TX"));
	return race_fini(&r);
}

/* The same with IN_ORDER: one used descriptor per burst. */
VHU_TEST(fast, packed_toctou_deq_inorder)
{
	struct race r;

	TEST_RUN(race_init(&r, true, F(IN_ORDER)));
	TEST_RUN(run(&r, 1, tx_all, RTE_DIM(tx_all), "packed in-order TX"));
	return race_fini(&r);
}

/* Packed receive ring: flags, ids, lengths, addresses, direct and indirect. */
VHU_TEST(fast, packed_toctou_enq)
{
	struct race r;

	TEST_RUN(race_init(&r, true, 0));
	TEST_RUN(run(&r, 0, rx_all, RTE_DIM(rx_all), "packed RX"));
	return race_fini(&r);
}

/* A direct descriptor's length or address changed between check and copy. */
VHU_TEST(fast, toctou_direct_len_addr)
{
	struct race r;
	int packed;

	for (packed = 0; packed < 2; packed++) {
		const char *ring = packed ? "packed" : "split";

		TEST_RUN(race_init(&r, packed, 0));
		TEST_RUN(run(&r, 1, tx_direct, RTE_DIM(tx_direct), ring));
		TEST_RUN(run(&r, 0, rx_direct, RTE_DIM(rx_direct), ring));
		TEST_RUN(race_fini(&r));
	}
	return TEST_SUCCESS;
}

/*
 * A guest thread that offers every receive slot again, as a bad buffer for
 * the next lap, as soon as the device has passed it: one packet's search
 * for a buffer must end after a lap of the ring, not when the guest
 * relents (an lcore held in one burst starves every other queue).
 */
static uint8_t frame_buf[256];

struct reoffer {
	struct penv *e;
	int stop;
	uint64_t offers, loops;
};

static void *
reoffer_main(void *arg)
{
	struct reoffer *ro = arg;
	struct pring *g = &ro->e->g[0];
	struct vhu_vq *vq = ro->e->vq[0];

	/*
	 * Where the device is, as a guest sees it from the used descriptors it
	 * writes: every slot from there on is available on this lap, every
	 * slot before it on the next one; all of them read-only (bad).
	 */
	uint64_t t0 = rte_get_timer_cycles();

	/* it relents after a second: a back-end without the bound is held that long */
	while (!__atomic_load_n(&ro->stop, __ATOMIC_ACQUIRE) &&
			rte_get_timer_cycles() - t0 < rte_get_timer_hz()) {
		uint16_t p = __atomic_load_n(&vq->last_used_idx, __ATOMIC_ACQUIRE), i;
		bool w = __atomic_load_n(&vq->used_wrap, __ATOMIC_ACQUIRE);

		for (i = 0; i < g->size; i++) {
			bool lapw = i >= p ? w : !w;
			uint16_t want = lapw ? VHU_DESC_F_AVAIL : VHU_DESC_F_USED;

			if (__atomic_load_n(&g->desc[i].flags, __ATOMIC_RELAXED) != want) {
				__atomic_store_n(&g->desc[i].flags, want, __ATOMIC_RELEASE);
				ro->offers++;
			}
		}
		__atomic_store_n(&ro->loops, ro->loops + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

VHU_TEST(fast, packed_toctou_enq_reoffered)
{
	struct reoffer ro;
	struct rte_mbuf *m;
	struct penv e;
	pthread_attr_t attr;
	cpu_set_t set;
	pthread_t t;
	long c, ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t t0, dt, errors;
	uint16_t i, n;

	TEST_ASSERT_EQ(penv_init(&e, F(VERSION_1), 0, 8, 1), 0, "env");
	for (i = 0; i < 8; i++) {
		struct vhu_vring_packed_desc *d = &e.g[0].desc[i];

		d->addr = gmem_alloc(&e.gm, 0, 2048, 64);
		d->len = 2048;
		d->id = i;
		d->flags = VHU_DESC_F_AVAIL; /* lap 1, read-only */
	}
	memset(&ro, 0, sizeof(ro));
	ro.e = &e;
	CPU_ZERO(&set);
	for (c = 0; c < ncpu && c < CPU_SETSIZE; c++)
		if (c != sched_getcpu() || ncpu == 1)
			CPU_SET((int)c, &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	TEST_ASSERT_EQ(pthread_create(&t, &attr, reoffer_main, &ro), 0, "guest thread");
	pthread_attr_destroy(&attr);
	make_frame(frame_buf, 100, 1);
	m = mbuf_make(e.mp, frame_buf, 100, 0);
	TEST_ASSERT(m != NULL, "mbuf");
	for (c = 0; c < 1000000 && __atomic_load_n(&ro.loops, __ATOMIC_ACQUIRE) < 2; c++)
		sched_yield();
	t0 = rte_get_timer_cycles();
	for (i = 0; i < 20; i++) {
		/* dropped after a lap of bad buffers, or kept when the guest lags */
		n = vhu_enqueue_burst(e.dev->vid, 0, &m, 1);
		RTE_SET_USED(n);
	}
	dt = rte_get_timer_cycles() - t0;
	__atomic_store_n(&ro.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	errors = e.vq[0]->stats.errors;
	rte_pktmbuf_free(m);
	TEST_LOG("20 bursts of one packet: %" PRIu64 " bad buffers returned, %" PRIu64
		 " offers by the guest, %" PRIu64 " ms",
			errors, ro.offers, dt * 1000 / rte_get_timer_hz());
	TEST_ASSERT(errors <= 20 * 8, "a packet looks at one lap of buffers at most");
	TEST_ASSERT(e.vq[0]->last_avail_idx < 8 && e.vq[0]->last_used_idx < 8, "positions");
	penv_fini(&e);
	return TEST_SUCCESS;
}
