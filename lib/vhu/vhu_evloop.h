/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The control thread: one epoll set and the thread waiting on it. Each
 * watched fd carries its own callback, which the thread calls with the
 * fd's events; the loop knows nothing of what it calls. Application
 * threads hand it work with vhu_evloop_call().
 */

#ifndef VHU_EVLOOP_H
#define VHU_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

/* Called on the control thread with the epoll events of a watched fd. */
typedef void (*vhu_evloop_fn)(void *arg, uint32_t events);

/* A watched fd's callback; its owner keeps it while the fd is watched. */
struct vhu_evloop_cb {
	vhu_evloop_fn fn;
	void *arg;
};

/* Watch fd for events (EPOLLIN, EPOLLOUT): cb->fn(cb->arg, events) when ready. 0 or -errno. */
int vhu_evloop_add(int fd, uint32_t events, struct vhu_evloop_cb *cb);
/* Stop watching fd (before it is closed). */
void vhu_evloop_del(int fd);
/* Start the thread if it is not running. 0 or -errno. */
int vhu_evloop_start(void);
/* Stop and join the thread (from an application thread). */
void vhu_evloop_stop(void);
/* Run fn(arg) on the control thread and return its result (-EDEADLK on it). */
int vhu_evloop_call(int (*fn)(void *arg), void *arg);
/* Is the caller the control thread? */
bool vhu_evloop_on_thread(void);

#endif /* VHU_EVLOOP_H */
