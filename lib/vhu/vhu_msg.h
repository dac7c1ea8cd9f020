/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The request dispatcher: checks a received message against the request
 * table (payload, fds, state, protocol feature), runs its handler, delivers
 * the application callbacks that are due, then answers.
 */

#ifndef VHU_MSG_H
#define VHU_MSG_H

#include "vhu_codec.h"
#include "vhu_conn.h"

/*
 * Handle one received message of connection c (its fds are closed or
 * taken); -1 when the connection must close (c->fatal says why, logged).
 */
int vhu_msg_dispatch(struct vhu_conn *c, struct vhu_msg *msg);

#endif /* VHU_MSG_H */
