/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Request handlers for the device as a whole: features, ownership, reset,
 * queue count, net device requests, config space, status, device state.
 * Each one is a vhu_msg_handler (vhu_msg_pvt.h) named in the request
 * table of vhu_msg.c.
 */

#ifndef VHU_MSG_DEV_H
#define VHU_MSG_DEV_H

#include "vhu_codec.h"
#include "vhu_conn.h"

int vhu_msg_get_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_get_protocol_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_protocol_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_owner(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_reset(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_get_queue_num(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_send_rarp(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_net_set_mtu(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_backend_req_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_get_config(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_config(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_status(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_get_status(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_get_shmem_config(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_device_state_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_check_device_state(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_not_supported(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);

#endif /* VHU_MSG_DEV_H */
