/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Request handlers for shared memory: the guest memory table, the dirty
 * log, the inflight area.
 * Each one is a vhu_msg_handler (vhu_msg_pvt.h) named in the request
 * table of vhu_msg.c.
 */

#ifndef VHU_MSG_MEM_H
#define VHU_MSG_MEM_H

#include "vhu_codec.h"
#include "vhu_conn.h"

int vhu_msg_set_mem_table(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_add_mem_reg(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_rem_mem_reg(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_get_max_mem_slots(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_log_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_log_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_get_inflight_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_set_inflight_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
/* POSTCOPY_ADVISE, _LISTEN, _END (the work is vhu_postcopy.c's) */
int vhu_msg_postcopy_advise(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_postcopy_listen(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);
int vhu_msg_postcopy_end(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);

/* IOTLB_MSG: an update or invalidation of the device IOTLB. */
int vhu_msg_iotlb(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);

#endif /* VHU_MSG_MEM_H */
