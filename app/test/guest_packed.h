/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * A guest-side packed-ring driver for datapath tests, on the guest memory
 * of guest_split.h: descriptors posted as chains or indirect tables with
 * the driver's wrap counter, used descriptors read back (in-order batches
 * included), event suppression structures at hand. Plus a test
 * environment as guest_split.h's: a device made without a connection whose
 * RX ring (vring 0) and TX ring (vring 1), of any size up to 32768, are set
 * up by the library's virtqueue code (tvq_add).
 */

#ifndef GUEST_PACKED_H
#define GUEST_PACKED_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "guest_split.h"
#include "vhu_mem.h"
#include "vhu_obj.h"

struct pbuf { /* an outstanding buffer, by id */
	bool inuse;
	uint16_t head;  /* slot of its first descriptor */
	uint16_t ndesc; /* ring slots it takes */
	uint32_t nseg;
	struct gseg seg[GBUF_MAX_SEG];
};

struct pring {
	struct gmem *gm;
	uint16_t size;
	struct vhu_vring_packed_desc *desc;
	struct vhu_vring_packed_event *drv; /* driver area: we write, the device reads */
	struct vhu_vring_packed_event *dev; /* device area: the device writes */
	uint64_t desc_gpa, drv_gpa, dev_gpa;
	uint16_t avail_idx; /* next slot to fill */
	bool avail_wrap;
	uint16_t used_idx; /* next slot to read back */
	bool used_wrap;
	uint16_t nfree; /* free slots */
	uint16_t *ids;  /* free buffer ids (stack), not in order */
	uint16_t nids;
	uint16_t *fifo; /* outstanding ids in posting order */
	uint32_t fifo_head, fifo_n;
	struct pbuf *bufs; /* by id */
	bool inorder;      /* ids are head slots, batches are honoured */
	bool in_batch;     /* in order: a used descriptor covers up to batch_id */
	uint16_t batch_id;
	uint32_t batch_len;
};

int pring_init(struct pring *g, struct gmem *gm, uint16_t size, bool inorder);
void pring_fini(struct pring *g);
/* Post segments as one buffer (device-writable when write), chained in the
 * ring or through an indirect table. Returns the buffer id, or -1 (no room). */
int pring_post(struct pring *g, const struct gseg *seg, uint32_t nseg, bool write, bool indirect);
/* Read back one used buffer: 1 with id/len, 0 when none, -1 when the device
 * reported something a driver cannot match (unknown id). */
int pring_pop(struct pring *g, uint32_t *id, uint32_t *len);
/* Is the descriptor at slot pos used for lap wrap? */
bool pring_is_used(const struct pring *g, uint16_t pos, bool wrap);

struct penv {
	bool live; /* penv_init ran: penv_fini has something to undo */
	struct gmem gm;
	struct vhu_dev *dev;
	struct vhu_vq *vq[2];
	struct pring g[2];
	int callfd[2]; /* the rings' call and error eventfds (the rings own them) */
	int errfd[2];
	struct rte_mempool *mp;     /* default 2 KiB buffers */
	struct rte_mempool *mp_big; /* 16 KiB buffers: one-segment jumbo frames */
	uint8_t *log;
	uint64_t log_size;
};

/* VERSION_1 and RING_PACKED are added to features. On failure the
 * environment is partly made: penv_fini() undoes it. */
int penv_init(struct penv *e, uint64_t features, uint64_t sock_flags, uint16_t qsize,
		uint32_t nregions);
/* Undo penv_init (also a partial one); nothing on a zeroed or finished environment. */
void penv_fini(struct penv *e);
/* Fixture (VHU_TEST_F(suite, name, penv, e)), as vhu_fixture_tenv. */
extern const struct vhu_test_fixture vhu_fixture_penv;
/* Stop ring q and start it again where it stands (tvq_restart). */
void penv_restart(struct penv *e, int q);
uint64_t penv_calls(struct penv *e, int q);
uint64_t penv_errs(struct penv *e, int q);
int penv_log_start(struct penv *e);
bool penv_log_test(const struct penv *e, uint64_t gpa);
void penv_log_clear(struct penv *e);

/* Guest sends frame (hdr NULL: a zero header). Returns the buffer id or -1. */
int ptx_send(struct penv *e, const void *frame, uint32_t len, const struct vhu_net_hdr *hdr,
		enum tx_layout layout, bool indirect);
/* Guest posts an RX buffer of len bytes in nseg pieces. Returns the id or -1. */
int prx_post(struct penv *e, uint32_t len, uint32_t nseg, bool indirect);
/* Guest receives one packet (mergeable-aware). Frame length, 0 when none, -1 on error. */
int prx_recv(struct penv *e, void *out, uint32_t cap, struct vhu_net_hdr *hdr);
/* Drain every used TX buffer; returns how many. */
uint32_t ptx_reclaim(struct penv *e);

#endif /* GUEST_PACKED_H */
