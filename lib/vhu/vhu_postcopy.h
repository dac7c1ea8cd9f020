/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Postcopy live migration, the back-end's half (protocol feature PAGEFAULT).
 *
 *   POSTCOPY_ADVISE  we open a userfaultfd and send it in the reply;
 *   POSTCOPY_LISTEN  from now on every region the front-end maps
 *                    (SET_MEM_TABLE, ADD_MEM_REG) is registered with it for
 *                    missing pages, and the reply to the request gives our
 *                    address of each region, from which the front-end tells
 *                    which of its pages a fault of ours waits for; it then
 *                    acknowledges with a u64 message of the same request;
 *   POSTCOPY_END     the regions are unregistered, the userfaultfd closed.
 *
 * While listening, a datapath lcore that touches a page the destination has
 * not received yet sleeps in the kernel until the front-end has placed the
 * page and woken it (UFFDIO_WAKE on our fd): that lcore, and so the queues
 * it serves, stalls; nothing else does.
 *
 * Control thread only. Functions return 0, or -errno with *why set: -EPERM
 * for a request in the wrong state (refused, the connection stays), other
 * values when the request cannot be served.
 */

#ifndef VHU_POSTCOPY_H
#define VHU_POSTCOPY_H

#include <stdbool.h>

struct vhu_dev;
struct vhu_mem;
struct vhu_mem_region;
struct vhu_msg;

/*
 * Can this host serve postcopy: a userfaultfd, and missing-page faults
 * caught on shared memory? Probed once per process; 0, or -errno with *why
 * naming what is missing.
 */
int vhu_postcopy_probe(const char **why);

/* POSTCOPY_ADVISE: a new userfaultfd; *ufd stays ours (send a copy). */
int vhu_postcopy_advise(struct vhu_dev *dev, int *ufd, const char **why);
/* POSTCOPY_LISTEN: regions mapped from now on are registered. */
int vhu_postcopy_listen(struct vhu_dev *dev, const char **why);
/* POSTCOPY_END: unregister and close. */
int vhu_postcopy_end(struct vhu_dev *dev, const char **why);
/* Between POSTCOPY_LISTEN and POSTCOPY_END. */
bool vhu_postcopy_listening(const struct vhu_dev *dev);

/*
 * SET_MEM_TABLE while listening: register every region of tab (the table
 * built from request m) and fill r with m's table, each region's
 * userspace_addr replaced by our address of its first byte.
 */
int vhu_postcopy_reply_table(struct vhu_dev *dev, const struct vhu_mem *tab,
		const struct vhu_msg *m, struct vhu_msg *r, const char **why);
/* ADD_MEM_REG while listening: the same for the one region reg of request m. */
int vhu_postcopy_reply_region(struct vhu_dev *dev, const struct vhu_mem_region *reg,
		const struct vhu_msg *m, struct vhu_msg *r, const char **why);

/*
 * Dispatcher: is m the front-end's acknowledgement of a mapping reply (a
 * u64 of 0 in a message of the mapping request)? Then it has been consumed
 * (true) and needs no other handling.
 */
bool vhu_postcopy_take_ack(struct vhu_dev *dev, const struct vhu_msg *m);

/* Connection closing: close the userfaultfd (regions stay registered until
 * the front-end closes its copy too, so no fault is resolved with zeros). */
void vhu_postcopy_free(struct vhu_dev *dev);

#endif /* VHU_POSTCOPY_H */
