/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Helpers of the attack-class and fault tests (test_cve_frontend.c,
 * test_cve_guest.c, test_faults.c): captured log lines, devices served on
 * their own socket and driven by the mock front-end with a guest-side view
 * of their rings, traffic checks, leak marks (fds, mappings, mbufs,
 * rte_malloc blocks, devices), and the pair fixture: a hostile device next
 * to a well-behaved one.
 */

#ifndef VHU_TEST_HOSTILE_H
#define VHU_TEST_HOSTILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "guest_split.h"
#include "mock_fe.h"

/* ---- log lines ---- */
/* Send every DPDK log line to a private file from now on. */
int hlog_start(void);
/* Was a line containing needle logged since hlog_start()? */
bool hlog_has(const char *needle);
/* Back to stderr; dump: copy what was captured to stderr first. Nothing
 * when no capture runs. */
void hlog_stop(bool dump);
/* Run body with the log captured (for cases without the pair fixture). */
int hlog_run(int (*body)(void));

/* ---- leaks ---- */
struct hmark {
	int fds;            /* /proc/self/fd */
	int maps;           /* /proc/self/maps lines */
	uint64_t heap;      /* rte_malloc blocks in use */
	int devices;        /* vids in use */
};

void hmark_take(struct hmark *m);
/* Wait (at most 2 s) until everything is back to m; TEST_SUCCESS or TEST_FAILED. */
int hmark_check(const struct hmark *m);

/* An mbuf pool of 2 KiB buffers, made once, with no per-lcore cache. */
struct rte_mempool *hpool(void);
/* Every mbuf of hpool() is back. */
bool hpool_full(void);

/*
 * A 50-byte Ethernet/IPv4/UDP frame (10.0.0.1:1234 -> 10.0.0.2:53, payload
 * "hostile!", checksums zero) for tests that put a checksum or segmentation
 * request on a frame.
 */
extern const uint8_t hostile_udp[50];

/* ---- a device on its own socket, driven by the mock front-end ---- */
#define HDEV_MEM (4ull << 20)
#define HDEV_DATA_OFF (1ull << 20)   /* guest buffers live above this offset */

struct hdev {
	bool live; /* registered and not down yet: hdev_down has work */
	char dir[64];
	char path[VHU_PATH_MAX];
	struct vhu_socket_conf conf;
	struct mock_fe fe;
	int vid;
	bool registered;
	struct gmem gm;       /* the data area of the mock's memory (not mapped by us) */
	struct gring g[2];    /* guest side of vring 0 (RX) and 1 (TX) */
	bool rings;
};

/* Register a private socket (flags, max_queue_pairs 1, ops); no connection yet. */
int hdev_register(struct hdev *d, uint64_t sock_flags, const struct vhu_ops *ops);
/* hdev_register() with the recorder's ops (vhu_rec), then connect the mock. */
int hdev_up(struct hdev *d, uint64_t sock_flags);
/* A fresh mock front-end after the back-end closed the last one. */
int hdev_reconnect(struct hdev *d);
/* Negotiate (masks as mock_fe_setup), memory, vrings 0 and 1 of ring_size, ready. */
int hdev_ready(struct hdev *d, uint64_t features_mask, uint16_t ring_size);
/* Map the guest-side rings of vrings 0 and 1 after the mock laid them out. */
int hdev_attach_rings(struct hdev *d);
/* The back-end closed this connection (within 2 s)? */
bool hdev_closed(struct hdev *d);
/* Close the mock, unregister, remove the socket directory. Nothing on a
 * zeroed device or one already down. */
void hdev_down(struct hdev *d);

/* Guest sends frame on vring 1 (header hdr or zeros). Head, or -1. */
int hdev_tx(struct hdev *d, const uint8_t *frame, uint32_t len, const struct vhu_net_hdr *hdr);
/* Guest posts a receive buffer of len bytes on vring 0. Head, or -1. */
int hdev_rx_post(struct hdev *d, uint32_t len);
/* Guest takes one received frame (mergeable-aware). Frame length, 0: none, -1: bad. */
int hdev_rx_recv(struct hdev *d, uint8_t *out, uint32_t cap, struct vhu_net_hdr *hdr);

/*
 * The device forwards: the guest sends n frames, the back-end dequeues
 * them, enqueues them back, the guest receives the same bytes.
 */
int hdev_forwards(struct hdev *d, unsigned int n);

/* Make head available on the guest side of vring q as it is. */
void hdev_avail(struct hdev *d, int q, uint16_t head);
/* Descriptor slot i of vring q. */
struct vhu_vring_desc *hdev_desc(struct hdev *d, int q, uint16_t i);
/* Pop every used entry of vring q; the number popped (ids and lens in the arrays). */
unsigned int hdev_used(struct hdev *d, int q, uint32_t *ids, uint32_t *lens, unsigned int max);

/* How many faults the back-end signalled on vring q's error eventfd (read and reset). */
uint64_t hdev_err_signals(struct hdev *d, int q);
/* Faults counted on ring q of vid (0xffff when there is no such ring). */
uint16_t hring_errors(int vid, uint16_t q);
/* A memfd of size bytes, or -1. */
int hmemfd(uint64_t size);
/* Write one split descriptor. */
void hdesc(struct vhu_vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);

/* ---- a hostile device A next to a well-behaved bystander B ---- */
#define PAIR_QSIZE 256

/* A guest thread that keeps flipping a field between two values. */
struct flipper {
	volatile uint16_t *field;
	uint16_t a, b;
	volatile uint32_t *field32;
	uint32_t a32, b32;
	volatile int stop;
	volatile uint64_t flips;
	pthread_t thread;
	bool running;
};

struct pair {
	struct hmark mark;
	struct hdev a, b;
	struct flipper fl; /* flipper_start/stop */
};

/*
 * Fixture (VHU_TEST_F(suite, name, pair, p)): setup captures the log
 * (hlog_has), resets the callback recorder and makes the mbuf pool;
 * teardown stops the flipper, takes A and B down, and dumps the captured
 * log when the case failed.
 */
extern const struct vhu_test_fixture vhu_fixture_pair;
/* Leak mark, then B and A up and ready (A with fmask, rings of PAIR_QSIZE), B forwarding. */
int pair_up(struct pair *p, uint64_t fmask);
/* B still forwards, both down, every mbuf back, nothing leaked since the mark. */
int pair_down(struct pair *p);
/* Send a request that must close A's connection (and log logged when not
 * NULL), then reconnect A. */
int pair_fatal(struct pair *p, uint32_t req, const void *pl, uint32_t size, const int *fds,
		unsigned int nfds, const char *logged);
/* A negotiated, owner set, no memory yet. */
int pair_negotiated(struct pair *p);
/* Dequeue what A's TX ring holds: how many; the first nkeep kept, the rest freed. */
unsigned int pair_dequeue(struct pair *p, struct rte_mbuf **keep, unsigned int nkeep);
/* Start p->fl's thread (set its fields first) and wait, 2 s at most, until it flips. */
int flipper_start(struct pair *p);
/* Stop and join it; nothing when it does not run. */
void flipper_stop(struct pair *p);

#endif /* VHU_TEST_HOSTILE_H */
