/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Request handlers for one vring: size, addresses, base, kick/call/err
 * fds, enable, GET_VRING_BASE, in-band kick.
 * Each one is a vhu_msg_handler (vhu_msg_pvt.h) named in the request
 * table of vhu_msg.c.
 */

#ifndef VHU_MSG_RING_H
#define VHU_MSG_RING_H

#include "vhu_codec.h"
#include "vhu_conn.h"

int vhu_msg_set_vring_num(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_vring_addr(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_vring_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_get_vring_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_vring_kick(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_vring_call(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_vring_err(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_vring_enable(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_vring_kick(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);

#endif /* VHU_MSG_RING_H */
