/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The control thread: one epoll set holding every fd the layers above
 * watch (listening sockets, connections, client reconnect timers,
 * state-transfer pipes), each with its own callback, plus an eventfd
 * through which application threads hand it work. It blocks in
 * epoll_wait with no timeout: an idle process costs no CPU.
 *
 * Events are taken one at a time, so a callback that closes and frees an
 * object can never leave a stale pointer in a pending batch (each fd is
 * removed from the set before it is closed).
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "vhu_evloop.h"
#include "vhu_obj.h"

static pthread_t ctrl_tid;
static bool ctrl_running;
static bool ctrl_stop;
static int ctrl_epfd = -1;
static int ctrl_cmdfd = -1;
static void cmd_event(void *arg, uint32_t events);
static struct vhu_evloop_cb ctrl_cmd_cb = { .fn = cmd_event, .arg = NULL };

/* One command at a time (callers are serialised by the registration lock). */
static pthread_mutex_t cmd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cmd_cond = PTHREAD_COND_INITIALIZER;
static int (*cmd_fn)(void *arg);
static void *cmd_arg;
static int cmd_result;
static uint64_t cmd_seq;
static uint64_t cmd_done;

int
vhu_evloop_add(int fd, uint32_t events, struct vhu_evloop_cb *cb)
{
	struct epoll_event e = { .events = events, .data.ptr = cb };

	if (epoll_ctl(ctrl_epfd, EPOLL_CTL_ADD, fd, &e) != 0)
		return -errno;
	return 0;
}

void
vhu_evloop_del(int fd)
{
	if (fd >= 0 && ctrl_epfd >= 0)
		epoll_ctl(ctrl_epfd, EPOLL_CTL_DEL, fd, NULL);
}

bool
vhu_evloop_on_thread(void)
{
	return ctrl_running && pthread_equal(pthread_self(), ctrl_tid);
}

static void
run_command(void)
{
	int (*fn)(void *);
	uint64_t seq;
	void *arg;
	int rc;

	pthread_mutex_lock(&cmd_lock);
	fn = cmd_fn;
	arg = cmd_arg;
	seq = cmd_seq;
	pthread_mutex_unlock(&cmd_lock);
	if (fn == NULL || seq == cmd_done)
		return;
	rc = fn(arg);
	pthread_mutex_lock(&cmd_lock);
	cmd_result = rc;
	cmd_done = seq;
	pthread_cond_broadcast(&cmd_cond);
	pthread_mutex_unlock(&cmd_lock);
}

/* The wake-up eventfd: an application thread handed us a command. */
static void
cmd_event(void *arg, uint32_t events)
{
	uint64_t v;

	RTE_SET_USED(arg);
	RTE_SET_USED(events);
	if (read(ctrl_cmdfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		VHU_LOG_CONFIG(ERR, "vhu", "control thread: eventfd: %s", strerror(errno));
	run_command();
}

static void *
ctrl_main(void *arg)
{
	sigset_t pipe_set;

	RTE_SET_USED(arg);
	/* a state-transfer pipe whose reader went away must give EPIPE, not
	 * kill the application: SIGPIPE stays blocked on this thread */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	while (!ctrl_stop) {
		struct epoll_event e;
		struct vhu_evloop_cb *cb;
		int n;

		n = epoll_wait(ctrl_epfd, &e, 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			VHU_LOG_CONFIG(ERR, "vhu", "control thread: epoll_wait: %s",
				       strerror(errno));
			break;
		}
		if (n == 0)
			continue;
		cb = e.data.ptr;
		cb->fn(cb->arg, e.events);
	}
	return NULL;
}

int
vhu_evloop_start(void)
{
	int rc;

	if (ctrl_running)
		return 0;
	ctrl_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ctrl_epfd < 0)
		return -errno;
	ctrl_cmdfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ctrl_cmdfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = vhu_evloop_add(ctrl_cmdfd, EPOLLIN, &ctrl_cmd_cb);
	if (rc != 0)
		goto fail;
	ctrl_stop = false;
	cmd_fn = NULL;
	cmd_seq = 0;
	cmd_done = 0;
	rc = rte_ctrl_thread_create(&ctrl_tid, "vhu-ctrl", NULL, ctrl_main, NULL);
	if (rc != 0) {
		rc = -rc;
		goto fail;
	}
	ctrl_running = true;
	return 0;
fail:
	if (ctrl_cmdfd >= 0)
		close(ctrl_cmdfd);
	close(ctrl_epfd);
	ctrl_cmdfd = -1;
	ctrl_epfd = -1;
	return rc;
}

static int
stop_cmd(void *arg)
{
	RTE_SET_USED(arg);
	ctrl_stop = true;
	return 0;
}

int
vhu_evloop_call(int (*fn)(void *arg), void *arg)
{
	uint64_t one = 1, seq;
	int rc;

	if (!ctrl_running)
		return -ESRCH;
	if (vhu_evloop_on_thread())
		return -EDEADLK;
	pthread_mutex_lock(&cmd_lock);
	cmd_fn = fn;
	cmd_arg = arg;
	seq = ++cmd_seq;
	if (write(ctrl_cmdfd, &one, sizeof(one)) < 0) {
		rc = -errno;
		cmd_fn = NULL;
		pthread_mutex_unlock(&cmd_lock);
		return rc;
	}
	while (cmd_done != seq)
		pthread_cond_wait(&cmd_cond, &cmd_lock);
	rc = cmd_result;
	cmd_fn = NULL;
	pthread_mutex_unlock(&cmd_lock);
	return rc;
}

void
vhu_evloop_stop(void)
{
	if (!ctrl_running)
		return;
	vhu_evloop_call(stop_cmd, NULL);
	pthread_join(ctrl_tid, NULL);
	ctrl_running = false;
	close(ctrl_cmdfd);
	close(ctrl_epfd);
	ctrl_cmdfd = -1;
	ctrl_epfd = -1;
}
