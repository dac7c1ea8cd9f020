/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhost-user codec: moving messages (with their file descriptors) over a
 * unix stream socket, and one pure validator per payload. Nothing here
 * knows about devices, so it can be fuzzed and unit-tested on its own and
 * is shared with the test front-end.
 */

#ifndef VHU_CODEC_H
#define VHU_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "vhu_proto.h"

/* Largest ring (split or packed) the protocol allows. */
#define VHU_RING_SIZE_MAX 32768u

/* Most file descriptors one message may carry (SET_MEM_TABLE: 8). */
#define VHU_MAX_FDS 8

union vhu_payload {
	uint64_t u64;
	struct vhu_vring_state state;
	struct vhu_vring_addr addr;
	struct vhu_mem_table mem;
	struct vhu_mem_single memreg;
	struct vhu_log_desc log;
	struct vhu_config config;
	struct vhu_inflight_desc inflight;
	struct vhu_iotlb_msg iotlb;
	struct vhu_device_state_xfer xfer;
	struct vhu_shmem_config shmem;
	uint8_t raw[VHU_MAX_PAYLOAD];
};

/* A whole message: header, payload and the fds that came with it. */
struct vhu_msg {
	struct vhu_msg_hdr hdr;
	union vhu_payload payload;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
};

/* Incremental receive state of one connection (non-blocking sockets). */
struct vhu_rx {
	struct vhu_msg msg;
	size_t got;             /* bytes of header + payload received so far */
	int fd_overflow;        /* more than VHU_MAX_FDS fds arrived (all closed) */
};

/* Reset rx for the next message (does not close fds: the caller owns them). */
void vhu_rx_reset(struct vhu_rx *rx);

/*
 * Receive more of the current message from sock without blocking.
 * Returns 1 when rx->msg is complete (its fds now belong to the caller),
 * 0 when more bytes are needed (EAGAIN), -ECONNRESET when the peer closed,
 * another -errno on a socket error, or -EPROTO for a bad header (version,
 * unknown flags, oversize payload: *why says which) or too many fds.
 */
int vhu_rx_step(int sock, struct vhu_rx *rx, const char **why);

/* Close every fd the message still holds and forget them. */
void vhu_msg_close_fds(struct vhu_msg *msg);

/*
 * Send header + hdr->size payload bytes and nfds fds in one sendmsg.
 * Returns 0, or -errno (-EAGAIN when the socket buffer is full).
 */
int vhu_msg_send(int sock, const struct vhu_msg_hdr *hdr, const void *payload,
		 const int *fds, unsigned int nfds);

/*
 * Blocking receive of one whole message with a timeout (ms) on sock: for
 * the test front-end and for synchronous callers. Returns 0 or -errno
 * (-ETIMEDOUT).
 */
int vhu_msg_recv_wait(int sock, struct vhu_msg *msg, int timeout_ms);

/* ---- pure payload validators: 0, or -EINVAL with *why set ---- */
/* Header: version 1, only known flag bits, payload size bound. */
int vhu_check_hdr(const struct vhu_msg_hdr *hdr, const char **why);

/* Payload layouts the handler table refers to. */
enum vhu_payload_kind {
	VHU_PL_NONE,          /* size 0 */
	VHU_PL_U64,           /* u64 */
	VHU_PL_STATE,         /* struct vhu_vring_state */
	VHU_PL_ADDR,          /* struct vhu_vring_addr */
	VHU_PL_FILE,          /* u64: index + no-fd flag */
	VHU_PL_MEM_TABLE,     /* struct vhu_mem_table, variable size */
	VHU_PL_MEM_SINGLE,    /* struct vhu_mem_single */
	VHU_PL_LOG,           /* struct vhu_log_desc */
	VHU_PL_CONFIG,        /* struct vhu_config, variable size */
	VHU_PL_INFLIGHT,      /* struct vhu_inflight_desc */
	VHU_PL_XFER,          /* struct vhu_device_state_xfer */
	VHU_PL_IOTLB,         /* struct vhu_iotlb_msg (26 bytes, or 32 with padding) */
	VHU_PL_ANY,           /* not interpreted (refused requests) */
};

/* Size and internal consistency of a payload of the given kind. */
int vhu_check_payload(enum vhu_payload_kind kind, const struct vhu_msg *msg,
		      const char **why);

/*
 * An IOTLB_MSG from the front-end: an update with a size, no u64 wrap of
 * iova or uaddr and a permission; an invalidation (any range: 0 or past
 * the top means to the end); no other type. 0, or -EINVAL with *why.
 */
int vhu_check_iotlb_msg(const struct vhu_iotlb_msg *m, const char **why);

/* A memory region description: non-empty, no u64 wrap anywhere. */
int vhu_check_region(const struct vhu_mem_region_desc *r, const char **why);

/* A memory table: 1..8 regions, each valid, no overlap in GPA or UVA. */
int vhu_check_mem_table(const struct vhu_mem_table *t, const char **why);

/* Ring addresses: known flags, alignment, no wrap for a ring of num entries. */
int vhu_check_vring_addr(const struct vhu_vring_addr *a, uint32_t num, int packed,
			 const char **why);

/* Ring size: 1..32768, a power of two for split rings. */
int vhu_check_ring_size(uint32_t num, int packed, const char **why);

/* Bytes of each ring area for num entries. */
uint64_t vhu_split_desc_size(uint32_t num);
uint64_t vhu_split_avail_size(uint32_t num);
uint64_t vhu_split_used_size(uint32_t num);

/* Inflight area: bytes of one queue's split-ring region for queue_size entries. */
uint64_t vhu_inflight_queue_size(uint16_t queue_size);
/* The same for the packed-ring layout. */
uint64_t vhu_inflight_queue_size_packed(uint16_t queue_size);

/* Request name for log lines ("SET_MEM_TABLE"), "UNKNOWN" when not one. */
const char *vhu_req_name(uint32_t req);

#endif /* VHU_CODEC_H */
