/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * One front-end connection: the device plus the session around it (the
 * message being received, the reply, why the session must end, the rings
 * last reported to the application, the state transfer). The transport
 * (vhu_sock.c) creates connections, feeds their messages to the
 * dispatcher and frees them; everything here runs on the control thread.
 */

#ifndef VHU_CONN_H
#define VHU_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "vhu_codec.h"
#include "vhu_evloop.h"
#include "vhu_obj.h"
#include "vhu_xfer.h"

struct vhu_conn {
	struct vhu_dev dev; /* first: the datapath sees only this */
	struct vhu_rx rx;   /* partially received message */
	struct vhu_msg reply;
	const char *fatal; /* set by a handler: close the connection */
	char fatal_buf[160];
	int defer_close[2]; /* fds replaced by this request, closed after callbacks */
	unsigned int ndefer;
	bool conn_cb;                           /* new_connection was delivered */
	uint64_t reported[VHU_MAX_VRINGS / 64]; /* ring active as last reported */
	struct vhu_xfer xfer;

	/* ---- the transport's, set by it after vhu_conn_new() ---- */
	struct vhu_evloop_cb ev;       /* the connection fd's watch */
	TAILQ_ENTRY(vhu_conn) next;    /* in the serving socket's list */
	void *owner;                   /* the serving socket */
	void (*on_ready)(void *owner); /* a device became ready (NULL: nobody asks) */
	int sweep_fd;                  /* timerfd of the sweep (-1: none yet) */
	bool sweep_on;                 /* sweep_fd is armed */
	unsigned int sweep_ms;         /* its next period */
	struct vhu_evloop_cb ev_sweep; /* its watch */
};

static inline struct vhu_conn *
vhu_conn_of(struct vhu_dev *dev)
{
	return (struct vhu_conn *)dev;
}

/*
 * New device for connected fd (owned from now on), set up as conf says
 * and offering these features; NULL when refused (logged, fd closed).
 */
struct vhu_conn *vhu_conn_new(const struct vhu_socket_conf *conf, uint64_t features,
		uint64_t protocol_features, int fd);
/*
 * Tear down: rings stopped, callbacks (destroy_device, destroy_connection),
 * fds closed, memory unmapped, freed. The transport stops watching the fd first.
 */
void vhu_conn_free(struct vhu_conn *c);
/*
 * After each message: deliver new_device / vring_state_changed as due.
 * -1 (c->fatal set) when the application refused the device.
 */
int vhu_conn_update(struct vhu_conn *c);
/*
 * Started but disabled TX rings (vhu_dev_sweep_wanted()): while there are
 * some, the transport calls vhu_conn_sweep() now and then. It drops what
 * the guest made available on them, only when no message that could
 * enable a ring is waiting on the connection's socket. True when the
 * guest had made something available (dropped now or at the next call).
 */
bool vhu_conn_sweep_wanted(const struct vhu_conn *c);
bool vhu_conn_sweep(struct vhu_conn *c);
/* RESET_OWNER / RESET_DEVICE: back to the initial state, connection kept. */
void vhu_conn_reset(struct vhu_conn *c);

#endif /* VHU_CONN_H */
