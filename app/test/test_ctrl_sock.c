/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Transport: registration errors, stale socket files, unregister while
 * connected, second connections, client reconnect, idle CPU, and the
 * connect/disconnect stress cycle.
 */

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "mock_fe.h"
#include "vhu.h"
#include "vhu_test.h"

#define MEM_SIZE (1ull << 20)

static void
conf_init(struct vhu_socket_conf *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->path = path;
	c->ops = &vhu_rec_ops;
}

static int
listen_at(const char *path)
{
	struct sockaddr_un un;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) != 0 || listen(fd, 4) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
accept_within(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/*
 * What a socket case holds: a private directory, sockets registered at
 * path and cpath in it, mock front-ends, and a front-end's own listening
 * and accepted sockets (client mode). Teardown releases whatever is left.
 */
struct sock_env {
	char dir[64];
	char path[VHU_PATH_MAX];
	char cpath[VHU_PATH_MAX];
	struct mock_fe fe, a, b;
	int lfd, s;
};

/* A fresh private directory (the case's earlier one removed). */
static int
sock_dir(struct sock_env *e)
{
	if (e->dir[0] != '\0')
		vhu_test_rmdir(e->dir);
	e->dir[0] = '\0';
	TEST_ASSERT(vhu_test_tmpdir(e->dir, sizeof(e->dir)) == 0, "tmpdir");
	return TEST_SUCCESS;
}

static void
sock_rmdir(struct sock_env *e)
{
	if (e->dir[0] != '\0')
		vhu_test_rmdir(e->dir);
	e->dir[0] = '\0';
}

/* Close fd (a front-end's socket) if open and mark it closed. */
static void
sock_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Hand fd over (to a mock that closes it from now on). */
static int
sock_take(int *fd)
{
	int v = *fd;

	*fd = -1;
	return v;
}

static int
sock_setup(void *obj)
{
	struct sock_env *e = obj;

	vhu_rec_reset();
	mock_fe_reset(&e->fe);
	mock_fe_reset(&e->a);
	mock_fe_reset(&e->b);
	e->lfd = -1;
	e->s = -1;
	return sock_dir(e);
}

static int
sock_teardown(void *obj, int status)
{
	struct sock_env *e = obj;

	RTE_SET_USED(status);
	mock_fe_close(&e->fe);
	mock_fe_close(&e->a);
	mock_fe_close(&e->b);
	sock_close(&e->s);
	sock_close(&e->lfd);
	/* -1 for a path no longer registered: nothing to do */
	if (e->path[0] != '\0')
		vhu_socket_unregister(e->path);
	if (e->cpath[0] != '\0')
		vhu_socket_unregister(e->cpath);
	sock_rmdir(e);
	return TEST_SUCCESS;
}

VHU_FIXTURE(sock_env, sock_setup, sock_teardown);

VHU_TEST_F(fast, ctrl_sock_register_errors, sock_env, e)
{
	char longpath[200];
	struct vhu_socket_conf c;
	int threads0 = vhu_test_count_threads();

	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	TEST_ASSERT_EQ(vhu_socket_register(NULL), -1, "NULL conf");
	TEST_ASSERT_EQ(rte_errno, EINVAL, "EINVAL");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	conf_init(&c, longpath);
	TEST_ASSERT_EQ(vhu_socket_register(&c), -1, "long path");
	TEST_ASSERT_EQ(rte_errno, EINVAL, "EINVAL");
	/* (VHU_SOCK_IOMMU and VHU_SOCK_POSTCOPY register: test_iommu.c, test_postcopy.c) */
	conf_init(&c, e->path);
	c.flags = 1ull << 40;
	TEST_ASSERT_EQ(vhu_socket_register(&c), -1, "unknown flag");
	conf_init(&c, e->path);
	c.max_queue_pairs = VHU_MAX_QUEUE_PAIRS + 1;
	TEST_ASSERT_EQ(vhu_socket_register(&c), -1, "too many queues");
	conf_init(&c, e->path);
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register");
	TEST_ASSERT_EQ(vhu_test_count_threads(), threads0 + 1, "one control thread");
	TEST_ASSERT_EQ(vhu_socket_register(&c), -1, "twice");
	TEST_ASSERT_EQ(rte_errno, EEXIST, "EEXIST");
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	TEST_ASSERT_EQ(vhu_test_count_threads(), threads0, "control thread joined");
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), -1, "unregister twice");
	TEST_ASSERT_EQ(rte_errno, ENOENT, "ENOENT");
	/* client mode with reconnect disabled and nobody listening */
	conf_init(&c, e->path);
	c.flags = VHU_SOCK_CLIENT | VHU_SOCK_NO_RECONNECT;
	TEST_ASSERT_EQ(vhu_socket_register(&c), -1, "no front-end");
	TEST_ASSERT(rte_errno == ENOENT || rte_errno == ECONNREFUSED, "errno %d", rte_errno);
	TEST_ASSERT_EQ(vhu_test_count_threads(), threads0, "no thread left");
	sock_rmdir(e);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_sock_stale_file, sock_env, e)
{
	struct vhu_socket_conf c;
	int f;

	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	conf_init(&c, e->path);
	/* a live process serves the path */
	e->lfd = listen_at(e->path);
	TEST_ASSERT(e->lfd >= 0, "listen");
	TEST_ASSERT_EQ(vhu_socket_register(&c), -1, "live socket");
	TEST_ASSERT_EQ(rte_errno, EADDRINUSE, "EADDRINUSE");
	/* it died without removing its socket file: stale */
	sock_close(&e->lfd);
	TEST_ASSERT(access(e->path, F_OK) == 0, "stale file present");
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "stale file replaced");
	TEST_ASSERT_EQ(mock_fe_connect(&e->fe, e->path, MEM_SIZE), 0, "connect");
	TEST_ASSERT(mock_fe_alive(&e->fe), "served");
	mock_fe_close(&e->fe);
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	TEST_ASSERT(access(e->path, F_OK) != 0, "socket file removed");
	/* a regular file is never removed */
	f = open(e->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	TEST_ASSERT(f >= 0, "file");
	close(f);
	TEST_ASSERT_EQ(vhu_socket_register(&c), -1, "regular file");
	TEST_ASSERT_EQ(rte_errno, ENOTSOCK, "ENOTSOCK");
	TEST_ASSERT(access(e->path, F_OK) == 0, "file kept");
	sock_rmdir(e);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_sock_unregister_connected, sock_env, e)
{
	struct vhu_socket_conf c;
	int fds0, i;

	vhu_rec_reset();
	fds0 = vhu_test_count_fds();
	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	conf_init(&c, e->path);
	for (i = 0; i < 3; i++) {
		TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register %d", i);
		TEST_ASSERT_EQ(mock_fe_connect(&e->fe, e->path, MEM_SIZE), 0, "connect");
		TEST_ASSERT_EQ(mock_fe_setup(&e->fe, NULL), 0, "setup");
		TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, i + 1, 2000), "ready");
		TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister while connected");
		/* callbacks delivered before unregister returns */
		TEST_ASSERT_EQ(vhu_rec.destroy_dev, i + 1, "destroy_device");
		TEST_ASSERT_EQ(vhu_rec.disconn, i + 1, "destroy_connection");
		TEST_ASSERT(mock_fe_closed(&e->fe, 1000), "connection closed");
		TEST_ASSERT(access(e->path, F_OK) != 0, "socket file removed");
		mock_fe_close(&e->fe);
	}
	sock_rmdir(e);
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds0, "fd leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_sock_second_connection, sock_env, e)
{
	struct vhu_socket_conf c;

	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	conf_init(&c, e->path);
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register");
	TEST_ASSERT_EQ(mock_fe_connect(&e->a, e->path, MEM_SIZE), 0, "a");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.conn, 1, 2000), "a seen");
	TEST_ASSERT_EQ(mock_fe_connect(&e->b, e->path, MEM_SIZE), 0, "b");
	TEST_ASSERT(mock_fe_closed(&e->b, 2000), "second connection refused");
	TEST_ASSERT(mock_fe_alive(&e->a), "first one kept");
	mock_fe_close(&e->a);
	mock_fe_close(&e->b);
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	/* several connections when asked: one device each */
	c.flags = VHU_SOCK_MULTI_CONN;
	vhu_rec_reset();
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register");
	TEST_ASSERT_EQ(mock_fe_connect(&e->a, e->path, MEM_SIZE), 0, "a");
	TEST_ASSERT_EQ(mock_fe_setup(&e->a, NULL), 0, "a setup");
	TEST_ASSERT_EQ(mock_fe_connect(&e->b, e->path, MEM_SIZE), 0, "b");
	TEST_ASSERT_EQ(mock_fe_setup(&e->b, NULL), 0, "b setup");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 2, 2000), "two devices");
	TEST_ASSERT(mock_fe_alive(&e->a) && mock_fe_alive(&e->b), "both served");
	mock_fe_close(&e->a);
	mock_fe_close(&e->b);
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	sock_rmdir(e);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_sock_client_reconnect, sock_env, e)
{
	struct vhu_socket_conf c;
	int i;

	snprintf(e->path, sizeof(e->path), "%s/fe.sock", e->dir);
	conf_init(&c, e->path);
	c.flags = VHU_SOCK_CLIENT;
	c.reconnect_ms = 10;
	/* registered before the front-end exists: retries with back-off */
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register");
	vhu_test_sleep_ms(100);
	e->lfd = listen_at(e->path);
	TEST_ASSERT(e->lfd >= 0, "front-end listens");
	for (i = 0; i < 3; i++) {
		e->s = accept_within(e->lfd, 3000);
		TEST_ASSERT(e->s >= 0, "vhu (re)connected, round %d", i);
		TEST_ASSERT_EQ(mock_fe_attach(&e->fe, sock_take(&e->s), MEM_SIZE), 0, "attach");
		TEST_ASSERT_EQ(mock_fe_setup(&e->fe, NULL), 0, "setup");
		TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, i + 1, 2000), "ready");
		mock_fe_close(&e->fe); /* the front-end goes away */
		TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, i + 1, 2000), "destroyed");
	}
	/* front-end gone for a while: vhu keeps retrying and comes back */
	sock_close(&e->lfd);
	unlink(e->path);
	vhu_test_sleep_ms(300);
	e->lfd = listen_at(e->path);
	e->s = accept_within(e->lfd, 3000);
	TEST_ASSERT(e->s >= 0, "reconnected after an absence");
	sock_close(&e->s);
	sock_close(&e->lfd);
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	TEST_ASSERT(access(e->path, F_OK) == 0, "client mode leaves the front-end's file alone");
	sock_rmdir(e);

	/* a front-end that accepts and hangs up at once: vhu backs off */
	vhu_rec_reset();
	TEST_RUN(sock_dir(e));
	snprintf(e->path, sizeof(e->path), "%s/fe.sock", e->dir);
	conf_init(&c, e->path);
	c.flags = VHU_SOCK_CLIENT;
	c.reconnect_ms = 10;
	e->lfd = listen_at(e->path);
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register");
	{
		struct timespec t0, t;
		long ms = 0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; ms < 2000; ) {
			e->s = accept_within(e->lfd, (int)(2000 - ms));
			if (e->s >= 0) {
				sock_close(&e->s);
				i++;
			}
			clock_gettime(CLOCK_MONOTONIC, &t);
			ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		}
	}
	/* 10, 20, 40 ... ms up to 1 s: about 9 attempts in 2 s, not a storm */
	TEST_LOG("%d connections in 2 s", i);
	TEST_ASSERT(i >= 3 && i < 40, "%d reconnections in 2 s", i);
	sock_close(&e->lfd);
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	sock_rmdir(e);

	/* reconnect disabled: one connection, none after it closes */
	vhu_rec_reset();
	TEST_RUN(sock_dir(e));
	snprintf(e->path, sizeof(e->path), "%s/fe.sock", e->dir);
	conf_init(&c, e->path);
	c.flags = VHU_SOCK_CLIENT | VHU_SOCK_NO_RECONNECT;
	e->lfd = listen_at(e->path);
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register");
	e->s = accept_within(e->lfd, 2000);
	TEST_ASSERT(e->s >= 0, "connected");
	sock_close(&e->s);
	TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, 1, 2000), "disconnected");
	TEST_ASSERT(accept_within(e->lfd, 300) < 0, "no reconnection");
	sock_close(&e->lfd);
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	sock_rmdir(e);
	return TEST_SUCCESS;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

VHU_TEST_F(fast, ctrl_sock_idle_cpu, sock_env, e)
{
	struct vhu_socket_conf c, cc;
	double t0, used;

	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	snprintf(e->cpath, sizeof(e->cpath), "%s/absent", e->dir);
	conf_init(&c, e->path);
	conf_init(&cc, e->cpath);
	cc.flags = VHU_SOCK_CLIENT;      /* a client whose front-end never comes */
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register");
	TEST_ASSERT_EQ(vhu_socket_register(&cc), 0, "register client");
	TEST_ASSERT_EQ(mock_fe_connect(&e->fe, e->path, MEM_SIZE), 0, "connect");
	TEST_ASSERT_EQ(mock_fe_setup(&e->fe, NULL), 0, "setup");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 1, 2000), "ready");
	vhu_test_sleep_ms(300);          /* let the client's back-off grow */
	t0 = cpu_seconds();
	vhu_test_sleep_ms(1000);
	used = cpu_seconds() - t0;
	TEST_LOG("CPU time over 1 s idle: %.1f ms", used * 1000);
	TEST_ASSERT(used < 0.050, "idle process used %.1f ms of CPU", used * 1000);
	mock_fe_close(&e->fe);
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	TEST_ASSERT_EQ(vhu_socket_unregister(e->cpath), 0, "unregister client");
	sock_rmdir(e);
	return TEST_SUCCESS;
}

static int
heap_used(size_t *rte, size_t *libc)
{
	struct rte_malloc_socket_stats st;
	struct mallinfo2 mi;
	unsigned int s;

	*rte = 0;
	for (s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats((int)s, &st) == 0)
			*rte += st.heap_allocsz_bytes;
	mi = mallinfo2();
	*libc = mi.uordblks;
	return 0;
}

VHU_TEST_F(stress, ctrl_stress_connect_cycles, sock_env, e)
{
	size_t rte0, libc0, rte1, libc1;
	struct vhu_socket_conf c;
	int fds0, thr0, i;

	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	conf_init(&c, e->path);
	c.max_queue_pairs = 4;
	TEST_ASSERT_EQ(vhu_socket_register(&c), 0, "register");
	/* one warm-up cycle so lazily allocated libc state is not counted */
	TEST_ASSERT_EQ(mock_fe_connect(&e->fe, e->path, MEM_SIZE), 0, "connect");
	TEST_ASSERT_EQ(mock_fe_setup(&e->fe, NULL), 0, "setup");
	mock_fe_close(&e->fe);
	TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, 1, 2000), "warm-up");
	fds0 = vhu_test_count_fds();
	thr0 = vhu_test_count_threads();
	heap_used(&rte0, &libc0);
	for (i = 0; i < 1000; i++) {
		struct mock_fe_opts o = { .nvrings = (i % 4) * 2 + 2 };

		TEST_ASSERT_EQ(mock_fe_connect(&e->fe, e->path, MEM_SIZE), 0, "connect %d", i);
		TEST_ASSERT_EQ(mock_fe_setup(&e->fe, &o), 0, "setup %d", i);
		TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, i + 2, 2000), "ready %d", i);
		mock_fe_close(&e->fe);
		TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, i + 2, 2000), "gone %d", i);
	}
	heap_used(&rte1, &libc1);
	TEST_LOG("after 1000 cycles: fds %d -> %d, threads %d -> %d, rte heap %zu -> %zu, "
		 "libc heap %zu -> %zu", fds0, vhu_test_count_fds(), thr0,
		 vhu_test_count_threads(), rte0, rte1, libc0, libc1);
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds0, "fd leak");
	TEST_ASSERT_EQ(vhu_test_count_threads(), thr0, "thread leak");
	TEST_ASSERT_EQ(rte1, rte0, "rte_malloc leak");
	TEST_ASSERT(libc1 <= libc0 + 64 * 1024, "libc heap grew by %zu", libc1 - libc0);
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 1001, "every device destroyed");
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	sock_rmdir(e);
	return TEST_SUCCESS;
}
