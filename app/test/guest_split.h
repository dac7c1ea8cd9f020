/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * A guest-side split-ring driver for datapath tests: guest memory in one or
 * more regions (memfds the library maps as it maps a front-end's,
 * optionally adjacent in guest-physical space so a buffer can cross a
 * region boundary), rings placed in that memory, buffers posted as chains
 * or indirect tables, used entries read back. Plus a test environment: a
 * struct vhu_dev made without a connection, whose RX ring (vring 0) and TX
 * ring (vring 1) are set up by the library's own virtqueue code from what
 * the vhost-user messages would carry.
 */

#ifndef GUEST_SPLIT_H
#define GUEST_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "vhu_mem.h"
#include "vhu_obj.h"
#include "vhu_test.h"

#define GMEM_MAX_REGIONS 4
#define GBUF_MAX_SEG     16
/* The front-end's virtual address of guest-physical address gpa is gpa + this. */
#define GMEM_UVA_BASE    0x7f0000000000ull

struct gmem {
	uint32_t n;
	struct {
		uint8_t *host;
		uint64_t gpa;
		uint64_t size;
		uint64_t data_start; /* bump allocator area */
		uint64_t brk;
	} r[GMEM_MAX_REGIONS];
	struct vhu_mem *mem; /* the library's table of the regions (what dev->mem points at) */
};

/* Regions of size bytes each; adjacent: GPAs follow each other (region i
 * ends where i+1 starts), otherwise a 1 MiB hole between them. */
int gmem_init(struct gmem *gm, uint32_t nregions, uint64_t size, bool adjacent);
void gmem_fini(struct gmem *gm);
/* Allocate len bytes in region r (wraps around when full). 0 on failure. */
uint64_t gmem_alloc(struct gmem *gm, uint32_t r, uint64_t len, uint64_t align);
/* Host pointer for gpa (NULL when unmapped). */
void *gmem_host(const struct gmem *gm, uint64_t gpa);
/* Copy to/from guest memory, across regions. */
int gmem_write(const struct gmem *gm, uint64_t gpa, const void *src, uint64_t len);
int gmem_read(const struct gmem *gm, uint64_t gpa, void *dst, uint64_t len);

struct gseg {
	uint64_t gpa;
	uint32_t len;
};

struct gbuf { /* what was posted at one head */
	bool inuse;
	uint16_t ndesc;
	uint16_t desc[GBUF_MAX_SEG]; /* main-table slots taken */
	uint32_t nseg;
	struct gseg seg[GBUF_MAX_SEG];
};

struct gring {
	struct gmem *gm;
	uint16_t size;
	struct vhu_vring_desc *desc;
	struct vhu_vring_avail *avail;
	struct vhu_vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx; /* driver's shadow of avail->idx */
	uint16_t used_idx;  /* next used entry to read */
	uint16_t next_desc; /* in-order allocation */
	uint16_t nfree;
	uint16_t *free;    /* free descriptor slots (stack) */
	struct gbuf *bufs; /* per head */
	bool inorder;
};

int gring_init(struct gring *g, struct gmem *gm, uint16_t size, bool inorder);
void gring_fini(struct gring *g);
/* Post segments as one buffer (device-writable when write), chained in the
 * ring or through an indirect table. Returns the head, or -1 (no room). The
 * avail index is published unless publish is false (then gring_publish). */
int gring_post(struct gring *g, const struct gseg *seg, uint32_t nseg, bool write, bool indirect);
void gring_publish(struct gring *g);
/* Pop one used entry: 1 and id/len when there was one, 0 otherwise. */
int gring_pop(struct gring *g, uint32_t *id, uint32_t *len);

/*
 * Rings of a device made without a connection, set up as the control plane
 * sets one up: vhu_vq_alloc(), then what SET_VRING_NUM, SET_VRING_BASE 0,
 * SET_VRING_ADDR (the front-end addresses of the three areas, the used
 * ring logged), SET_VRING_CALL and SET_VRING_ERR (eventfds the ring owns),
 * a kick and SET_VRING_ENABLE carry; vhu_dev_vq_refresh() then translates the
 * addresses through dev->mem, picks the burst functions and makes the ring
 * active. 0 or -errno.
 */
int tvq_add(struct vhu_dev *dev, uint16_t index, uint16_t size, uint64_t desc_gpa,
		uint64_t avail_gpa, uint64_t used_gpa);
/* Started (a kick; false: GET_VRING_BASE) and enabled (SET_VRING_ENABLE), refreshed. */
int tvq_state(struct vhu_dev *dev, uint16_t index, bool started, bool enabled);
/* Stop, SET_VRING_BASE num (packed: avail index | wrap << 15), start again. */
int tvq_base(struct vhu_dev *dev, uint16_t index, uint32_t num);
/* Stop and start again where it stands (the bursts picked afresh, a broken ring cleared). */
int tvq_restart(struct vhu_dev *dev, uint16_t index);
/* Stop and free every ring (vhu_vq_free closes their fds). */
void tvq_del_all(struct vhu_dev *dev);
/* A device on gm's memory with these features, no rings yet, in the device
 * table (hdr_len as SET_FEATURES sets it). NULL when out of memory or vids. */
struct vhu_dev *tdev_new(struct gmem *gm, uint64_t features, uint64_t sock_flags, const char *name);
/* Out of the device table, rings freed, freed. NULL ok. */
void tdev_free(struct vhu_dev *dev);

struct tenv {
	bool live; /* tenv_init ran: tenv_fini has something to undo */
	struct gmem gm;
	struct vhu_dev *dev;
	struct vhu_vq *vq[2];
	struct gring g[2];
	int callfd[2]; /* the rings' call and error eventfds (the rings own them) */
	int errfd[2];
	struct rte_mempool *mp;     /* default 2 KiB buffers */
	struct rte_mempool *mp_big; /* 16 KiB buffers: one-segment jumbo frames */
	uint8_t *log;
	uint64_t log_size;
};

/* Features: what to put in dev->features (VERSION_1 etc. are up to the test).
 * On failure the environment is partly made: tenv_fini() undoes it. */
int tenv_init(struct tenv *e, uint64_t features, uint64_t sock_flags, uint16_t qsize,
		uint32_t nregions);
/* Undo tenv_init (also a partial one); nothing on a zeroed or finished environment. */
void tenv_fini(struct tenv *e);
/* Fixture (VHU_TEST_F(suite, name, tenv, e)): the body calls tenv_init() with
 * its parameters (and tenv_fini() between environments); teardown finishes. */
extern const struct vhu_test_fixture vhu_fixture_tenv;
/* Read and clear a ring's call eventfd counter. */
uint64_t tenv_calls(struct tenv *e, int q);
uint64_t tenv_errs(struct tenv *e, int q);
/* Turn on the dirty log (LOG_ALL) over all of guest memory. */
int tenv_log_start(struct tenv *e);
bool tenv_log_test(const struct tenv *e, uint64_t gpa);
void tenv_log_clear(struct tenv *e);

/* Guest TX layouts for tx_send. */
enum tx_layout {
	TXL_ONE,       /* header and frame in one descriptor */
	TXL_HDR_SEP,   /* header alone, then the frame */
	TXL_HDR_SPLIT, /* header split across two descriptors, frame in pieces */
	TXL_CHUNKS,    /* header + frame cut in 5 pieces anywhere */
	TXL_CROSS,     /* one descriptor crossing from region 0 into region 1 */
};

/* Guest sends frame (with hdr, or a zero header if NULL). Returns head or -1. */
int tx_send(struct tenv *e, const void *frame, uint32_t len, const struct vhu_net_hdr *hdr,
		enum tx_layout layout, bool indirect);
/* Guest posts an RX buffer of len bytes in nseg pieces. Returns head or -1. */
int rx_post(struct tenv *e, uint32_t len, uint32_t nseg, bool indirect);
/* Guest posts an RX buffer made of n pieces of the given lengths. */
int rx_post_pieces(struct tenv *e, const uint32_t *lens, uint32_t n, bool indirect);
/* Guest receives one packet (mergeable-aware): frame into out (cap bytes),
 * header into hdr. Returns the frame length, 0 when nothing, -1 on error. */
int rx_recv(struct tenv *e, void *out, uint32_t cap, struct vhu_net_hdr *hdr);

/* Fill a test frame: dst/src MACs, ethertype, a pattern seeded by seed. */
void make_frame(uint8_t *buf, uint32_t len, uint32_t seed);
/* 0 when m holds exactly len bytes equal to exp. */
int mbuf_cmp(const struct rte_mbuf *m, const uint8_t *exp, uint32_t len);
/* An mbuf holding data: seg-byte segments, or (seg 0) as few as fit. */
struct rte_mbuf *mbuf_make(struct rte_mempool *mp, const uint8_t *data, uint32_t len, uint32_t seg);

#endif /* GUEST_SPLIT_H */
