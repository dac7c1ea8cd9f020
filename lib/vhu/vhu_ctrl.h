/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Control plane internals shared by vhu_mem.c, vhu_vq.c, vhu_msg.c,
 * vhu_dev.c, vhu_sock.c and vhu_evloop.c. The datapath never includes it.
 *
 * Threading: everything here runs on the control thread, except
 * vhu_evloop_call() and the registration bookkeeping in vhu_sock.c, which
 * application threads use to hand work to the control thread.
 */

#ifndef VHU_CTRL_H
#define VHU_CTRL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "vhu_codec.h"
#include "vhu_dev.h"

/* ---- memory tables (vhu_mem.c) ---- */

/*
 * Map one region from fd (which stays owned by the caller). Checks that fd
 * is mmap-able and large enough for mmap_offset + memory_size.
 * Returns 0 with *out set (refs = 0), or -errno with *why set.
 */
int vhu_mem_region_map(const struct vhu_mem_region_desc *d, int fd,
		       struct vhu_mem_region **out, const char **why);
/* Unmap a region no table refers to any more. */
void vhu_mem_region_unmap(struct vhu_mem_region *r);

/* A new empty table that can hold capacity regions. */
struct vhu_mem *vhu_mem_new(uint32_t capacity);
/*
 * A copy of old (may be NULL) plus r, sorted by GPA; refuses overlap with
 * an existing region in GPA or front-end address space (-EEXIST) and a
 * full table (-ENOSPC). Takes a reference on every region it holds.
 */
int vhu_mem_with(const struct vhu_mem *old, struct vhu_mem_region *r,
		 uint32_t capacity, struct vhu_mem **out, const char **why);
/* A copy of old without the region matching gpa, uva and size (-ENOENT). */
/* The region of m with exactly this gpa, uva and size, or NULL. */
struct vhu_mem_region *vhu_mem_find_exact(const struct vhu_mem *m, uint64_t gpa,
					  uint64_t uva, uint64_t size);
int vhu_mem_without(const struct vhu_mem *old, uint64_t gpa, uint64_t uva,
		    uint64_t size, struct vhu_mem **out);
/* Drop a table: its references, and unmap regions no table holds. NULL ok. */
void vhu_mem_free(struct vhu_mem *m);
/* Bytes of guest memory in a table (for the dirty log size check). */
uint64_t vhu_mem_top_gpa(const struct vhu_mem *m);

/* Map [offset, offset + size) of fd shared read/write; -errno with *why. */
int vhu_map_fd_range(int fd, uint64_t offset, uint64_t size, void **map,
		     size_t *map_len, void **start, const char **why);

/* ---- rings (vhu_vq.c) ---- */
struct vhu_vq *vhu_vq_alloc(uint16_t index);
/* Close the ring's fds and free it; the ring must be inactive. */
void vhu_vq_free(struct vhu_vq *vq);

/* ---- connections (vhu_dev.c) ---- */
struct vhu_socket;

/* What an epoll registration points at. */
enum vhu_ev_type {
	VHU_EV_CMD,        /* the wake-up eventfd of the control thread */
	VHU_EV_LISTEN,     /* a server socket */
	VHU_EV_TIMER,      /* a client reconnect timer */
	VHU_EV_CONN,       /* a front-end connection */
	VHU_EV_XFER,       /* a device-state transfer pipe */
};

struct vhu_ev {
	enum vhu_ev_type type;
	void *obj;
};

/* Device-state transfer in progress (SET_DEVICE_STATE_FD). */
struct vhu_xfer {
	int dir;                  /* -1 none, VHU_TRANSFER_SAVE or _LOAD */
	int fd;
	uint8_t *buf;
	size_t len;               /* save: bytes to write; load: bytes read */
	size_t off;               /* save: bytes written */
	int result;               /* 0 ok, -errno; what CHECK_DEVICE_STATE tells */
	bool done;
	bool checked;             /* a finished transfer has a result to report */
};

/* One front-end connection: the device plus its control-plane state. */
struct vhu_conn {
	struct vhu_dev dev;              /* first: the datapath sees only this */
	struct vhu_ev ev;
	struct vhu_ev ev_xfer;
	TAILQ_ENTRY(vhu_conn) next;
	struct vhu_rx rx;                /* partially received message */
	struct vhu_msg reply;
	const char *fatal;               /* set by a handler: close the connection */
	char fatal_buf[160];
	bool enable_new_rings;           /* SET_FEATURES without PROTOCOL_FEATURES */
	int defer_close[2];              /* fds replaced by this request, closed after callbacks */
	unsigned int ndefer;
	bool conn_cb;                    /* new_connection was delivered */
	uint64_t reported[VHU_MAX_VRINGS / 64];   /* ring active as last reported */
	struct vhu_xfer xfer;
};

static inline struct vhu_conn *
vhu_conn_of(struct vhu_dev *dev)
{
	return (struct vhu_conn *)dev;
}

/* New device for connected fd (owned from now on); NULL when refused. */
struct vhu_conn *vhu_conn_new(struct vhu_socket *s, int fd);
/* Tear down: rings stopped, callbacks, fds closed, memory unmapped, freed. */
void vhu_conn_free(struct vhu_conn *c);
/* After each message: deliver new_device / vring_state_changed as due. */
int vhu_dev_update(struct vhu_conn *c);
/* RESET_OWNER / RESET_DEVICE: back to the initial state, connection kept. */
void vhu_dev_reset(struct vhu_conn *c);
/* Ring index -> ring, allocating it; NULL when index >= 2 * max queue pairs. */
struct vhu_vq *vhu_dev_vq(struct vhu_conn *c, uint32_t index);
/* Take / release every ring's guard (datapath quiesced while held). */
void vhu_dev_lock_all(struct vhu_dev *dev);
void vhu_dev_unlock_all(struct vhu_dev *dev);
/* Recompute every ring under its guard (after a memory/feature change). */
int vhu_dev_refresh_all(struct vhu_dev *dev, const char **why);
/* Is any ring started? */
bool vhu_dev_any_started(const struct vhu_dev *dev);

/* Device-state transfer (vhu_dev.c) */
int vhu_xfer_start(struct vhu_conn *c, uint32_t dir, int fd);
void vhu_xfer_event(struct vhu_conn *c, uint32_t events);
int vhu_xfer_check(struct vhu_conn *c);
void vhu_xfer_abort(struct vhu_conn *c);

/* ---- messages (vhu_msg.c) ---- */
/* Handle one received message; -1 when the connection must close. */
int vhu_msg_dispatch(struct vhu_conn *c, struct vhu_msg *msg);

/* ---- sockets (vhu_sock.c) ---- */
struct vhu_socket {
	char path[VHU_PATH_MAX];
	struct vhu_socket_conf conf;     /* conf.path points at path */
	uint64_t features;               /* offered */
	uint64_t protocol_features;      /* offered */
	int listen_fd;                   /* server, else -1 */
	int timer_fd;                    /* client reconnect timer, else -1 */
	uint32_t backoff_ms;             /* client: next retry delay */
	bool closing;
	struct vhu_ev ev_listen;
	struct vhu_ev ev_timer;
	unsigned int nconn;
	TAILQ_HEAD(, vhu_conn) conns;
	TAILQ_ENTRY(vhu_socket) next;
};

/* Control thread: an event on a socket's fd or a connection. */
void vhu_sock_event(struct vhu_ev *ev, uint32_t events);

/* ---- control thread (vhu_evloop.c) ---- */
int vhu_evloop_add(int fd, uint32_t events, struct vhu_ev *ev);
int vhu_evloop_mod(int fd, uint32_t events, struct vhu_ev *ev);
void vhu_evloop_del(int fd);
/* Start the thread if it is not running. */
int vhu_evloop_start(void);
/* Stop and join the thread (from an application thread). */
void vhu_evloop_stop(void);
/* Run fn(arg) on the control thread and return its result (-EDEADLK on it). */
int vhu_evloop_call(int (*fn)(void *arg), void *arg);
bool vhu_evloop_on_thread(void);

#endif /* VHU_CTRL_H */
