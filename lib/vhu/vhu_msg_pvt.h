/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * What the request handlers (vhu_msg_dev.c, vhu_msg_mem.c, vhu_msg_ring.c)
 * and the dispatcher (vhu_msg.c) share: the handler's signature and
 * results, and inline helpers to end a request (fatally or refused), to
 * answer it, to take one of its fds and to find the ring it names.
 * Handlers never touch the socket: the dispatcher sends the replies,
 * closes the fds nobody took and closes the connection after a fatal
 * result.
 */

#ifndef VHU_MSG_PVT_H
#define VHU_MSG_PVT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "vhu_codec.h"
#include "vhu_conn.h"
#include "vhu_dev.h"
#include "vhu_obj.h"

/* handler results */
#define VHU_MSG_OK     0
#define VHU_MSG_REFUSE 1 /* not applied; error reply or NACK; connection stays */
#define VHU_MSG_FATAL  2 /* c->fatal says why; the connection is closed */

/* A request's handler: m the request (its fds may be taken), r the reply to fill. */
typedef int (*vhu_msg_handler)(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);

static inline int vhu_msg_fail(struct vhu_conn *c, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

/* End the request fatally: the connection is closed with this reason. */
static inline int
vhu_msg_fail(struct vhu_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->fatal_buf, sizeof(c->fatal_buf), fmt, ap);
	va_end(ap);
	c->fatal = c->fatal_buf;
	return VHU_MSG_FATAL;
}

static inline int vhu_msg_refuse(struct vhu_conn *c, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

/* Refuse the request (logged): not applied, the connection stays. */
static inline int
vhu_msg_refuse(struct vhu_conn *c, const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	VHU_LOG_CONFIG(WARNING, c->dev.ifname, "request refused: %s", buf);
	return VHU_MSG_REFUSE;
}

/* A reply of one u64. */
static inline void
vhu_msg_reply_u64(struct vhu_msg *r, uint64_t v)
{
	r->hdr.size = sizeof(uint64_t);
	r->payload.u64 = v;
}

/* Take ownership of fd i of the message. */
static inline int
vhu_msg_take_fd(struct vhu_msg *m, unsigned int i)
{
	int fd = m->fds[i];

	m->fds[i] = -1;
	return fd;
}

/* The ring a request names, allocated when new; NULL (fatal reason set) when it cannot be. */
static inline struct vhu_vq *
vhu_msg_vq(struct vhu_conn *c, uint32_t index)
{
	struct vhu_vq *vq = vhu_dev_vq(&c->dev, index);

	if (vq == NULL) {
		if (index < 2u * c->dev.max_queue_pairs)
			vhu_msg_fail(c, "out of memory for vring %u", index);
		else
			vhu_msg_fail(c, "vring index %u out of range (%u vrings)", index,
					2u * c->dev.max_queue_pairs);
	}
	return vq;
}

#endif /* VHU_MSG_PVT_H */
