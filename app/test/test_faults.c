/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Fault tests (stress suite): the front-end killed with SIGKILL in the
 * middle of traffic (a forked child process plays QEMU), connections closed
 * in the middle of a message, 10,000 messages flooded, the memory table
 * replaced under traffic, 1000 reconnects with traffic in between. After
 * each: the back-end still serves a fresh front-end, every mbuf is back in
 * its pool, and no fd, mapping, rte_malloc block or device is left.
 *
 * An "lcore" thread forwards on the device under test (dequeue from vring
 * 1, enqueue back into vring 0) the way a PMD does; destroy_device waits
 * until it has left the device, as the API contract requires.
 */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_pause.h>

#include "hostile.h"
#include "vhu.h"
#include "vhu_dev_table.h"
#include "vhu_test.h"

/* ---- the forwarding lcore ---- */

struct fwd {
	volatile int vid;            /* device to forward on, -1: none */
	volatile int busy;           /* inside a burst */
	volatile int stop;
	volatile uint64_t packets;   /* forwarded */
	volatile uint64_t bad;       /* frames that were not what a guest sends */
	volatile uint64_t unsent;    /* dequeued but not enqueued back (ring busy or full) */
	pthread_t t;
	bool running;
};

static struct fwd fwd = { .vid = -1 };
static volatile int f_new, f_destroy, f_conn, f_disconn, f_vid = -1;

static int
f_new_device(int vid)
{
	f_vid = vid;
	__atomic_store_n(&fwd.vid, vid, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&f_new, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void
f_destroy_device(int vid)
{
	int waited = 0;

	RTE_SET_USED(vid);
	/* the lcore must be out of the device when we return */
	__atomic_store_n(&fwd.vid, -1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&fwd.busy, __ATOMIC_SEQ_CST) && waited++ < 2000000)
		rte_pause();
	__atomic_add_fetch(&f_destroy, 1, __ATOMIC_SEQ_CST);
}

static int
f_new_connection(int vid)
{
	RTE_SET_USED(vid);
	__atomic_add_fetch(&f_conn, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* destroy_connection comes last: memory and rings gone, the vid still answering getters */
static volatile int f_disconn_unclean;

static void
f_destroy_connection(int vid)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	char name[VHU_PATH_MAX];

	if (dev == NULL || dev->mem != NULL || dev->vq[0] != NULL || dev->vq[1] != NULL ||
			vhu_get_ifname(vid, name, sizeof(name)) != 0)
		f_disconn_unclean++;
	__atomic_add_fetch(&f_disconn, 1, __ATOMIC_SEQ_CST);
}

static const struct vhu_ops f_ops = {
	.new_device = f_new_device,
	.destroy_device = f_destroy_device,
	.new_connection = f_new_connection,
	.destroy_connection = f_destroy_connection,
};

/* What make_frame() puts in front of every frame the guests here send. */
static bool
frame_ok(const struct rte_mbuf *m)
{
	static const uint8_t hdr[14] = {
		0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x88, 0xb5,
	};

	return m->pkt_len >= 60 && m->pkt_len <= 1514 && m->data_len >= 14 &&
	       memcmp(rte_pktmbuf_mtod(m, const void *), hdr, sizeof(hdr)) == 0;
}

static void *
fwd_main(void *arg)
{
	struct rte_mempool *mp = hpool();
	struct rte_mbuf *pkts[32];

	RTE_SET_USED(arg);
	while (!fwd.stop) {
		uint16_t n, i;
		int vid;

		__atomic_store_n(&fwd.busy, 1, __ATOMIC_SEQ_CST);
		vid = __atomic_load_n(&fwd.vid, __ATOMIC_SEQ_CST);
		if (vid < 0) {
			__atomic_store_n(&fwd.busy, 0, __ATOMIC_SEQ_CST);
			usleep(100);
			continue;
		}
		n = vhu_dequeue_burst(vid, 1, mp, pkts, RTE_DIM(pkts));
		for (i = 0; i < n; i++)
			if (!frame_ok(pkts[i]))
				fwd.bad++;
		if (n > 0)
			fwd.unsent += n - vhu_enqueue_burst(vid, 0, pkts, n);
		__atomic_store_n(&fwd.busy, 0, __ATOMIC_SEQ_CST);
		rte_pktmbuf_free_bulk(pkts, n);
		fwd.packets += n;
		if (n == 0)
			usleep(20);
	}
	return NULL;
}

static int
fwd_start(void)
{
	fwd.stop = 0;
	fwd.packets = 0;
	fwd.bad = 0;
	fwd.unsent = 0;
	TEST_ASSERT_EQ(pthread_create(&fwd.t, NULL, fwd_main, NULL), 0, "lcore thread");
	fwd.running = true;
	return TEST_SUCCESS;
}

static void
fwd_stop(void)
{
	if (!fwd.running)
		return;
	fwd.stop = 1;
	pthread_join(fwd.t, NULL);
	fwd.running = false;
	fwd.vid = -1;
}

/* Wait until the lcore forwarded at least n more packets (bounded). */
static bool
fwd_wait(uint64_t n, int timeout_ms)
{
	uint64_t target = fwd.packets + n;
	int waited = 0;

	while (fwd.packets < target && waited < timeout_ms) {
		vhu_test_sleep_ms(2);
		waited += 2;
	}
	return fwd.packets >= target;
}

/* ---- a guest: keeps TX frames and RX buffers posted, takes what comes back ---- */

struct guest {
	struct hdev *d;
	volatile int stop;
	volatile uint64_t rx, rx_bad, tx;
	pthread_t t;
	bool running;
};

/* One round of guest work: refill, reap. */
static void
guest_round(struct hdev *d, uint64_t *tx, uint64_t *rx, uint64_t *rx_bad)
{
	static __thread uint8_t frame[1514], got[2048];
	struct vhu_net_hdr hdr;
	unsigned int k;
	int len;

	hdev_used(d, 1, NULL, NULL, UINT32_MAX);
	/*
	 * Sending does not wait for a free receive slot: the back-end may
	 * drop a frame (its ring busy with a memory change, say), and a
	 * buffer posted for it stays posted. Tying each send to a new post
	 * would stall the guest once the drops had filled the RX ring.
	 */
	for (k = 0; k < 8; k++) {
		uint32_t l = 60 + (uint32_t)((*tx * 37) % 1400);

		if (d->g[1].nfree == 0)
			break;
		make_frame(frame, l, (uint32_t)*tx);
		if (hdev_tx(d, frame, l, NULL) < 0)
			break;
		(*tx)++;
		if (d->g[0].nfree > 0 && hdev_rx_post(d, 2048) < 0)
			break;
	}
	while ((len = hdev_rx_recv(d, got, sizeof(got), &hdr)) != 0) {
		if (len < 60 || got[12] != 0x88 || got[13] != 0xb5)
			(*rx_bad)++;
		(*rx)++;
	}
}

static void *
guest_main(void *arg)
{
	struct guest *g = arg;
	uint64_t tx = 0, rx = 0, bad = 0;

	while (!g->stop) {
		guest_round(g->d, &tx, &rx, &bad);
		g->tx = tx;
		g->rx = rx;
		g->rx_bad = bad;
		usleep(50);
	}
	return NULL;
}

static int
guest_start(struct guest *g, struct hdev *d)
{
	memset(g, 0, sizeof(*g));
	g->d = d;
	TEST_ASSERT_EQ(pthread_create(&g->t, NULL, guest_main, g), 0, "guest thread");
	g->running = true;
	return TEST_SUCCESS;
}

static void
guest_stop(struct guest *g)
{
	if (!g->running)
		return;
	g->stop = 1;
	pthread_join(g->t, NULL);
	g->running = false;
}

/* ---- a device served with f_ops ---- */

static int
fdev_up(struct hdev *d)
{
	return hdev_register(d, 0, &f_ops);
}

static int
fdev_connect_ready(struct hdev *d, uint16_t ring)
{
	struct mock_fe_opts o = { .ring_size = ring, .nvrings = 2 };
	int before = f_new, conn = f_conn;

	if (d->fe.sock >= 0)
		mock_fe_close(&d->fe);
	TEST_ASSERT_EQ(mock_fe_connect(&d->fe, d->path, HDEV_MEM), 0, "connect");
	TEST_ASSERT(vhu_test_wait(&f_conn, conn + 1, 2000), "no new_connection");
	TEST_ASSERT_EQ(mock_fe_setup(&d->fe, &o), 0, "setup");
	TEST_ASSERT(vhu_test_wait(&f_new, before + 1, 2000), "no new_device");
	d->vid = f_vid;
	return hdev_attach_rings(d);
}

static void
f_reset(void)
{
	f_new = f_destroy = f_conn = f_disconn = f_disconn_unclean = 0;
	f_vid = -1;
}

/* A fresh front-end forwards through the lcore, content checked by the guest. */
static int
fresh_frontend_forwards(struct hdev *d)
{
	uint64_t tx = 0, rx = 0, bad = 0;
	int rounds;

	TEST_RUN(fdev_connect_ready(d, 256));
	for (rounds = 0; rx < 200 && rounds < 5000; rounds++) {
		guest_round(d, &tx, &rx, &bad);
		usleep(100);
	}
	TEST_ASSERT(rx >= 200, "a fresh front-end got %" PRIu64 " of %" PRIu64 " frames back",
		    rx, tx);
	TEST_ASSERT_EQ(bad, 0, "frames intact");
	return TEST_SUCCESS;
}

/* ---- the fixture: what a fault test runs, stopped whatever happens ---- */

struct fenv {
	struct hmark mark;
	struct hdev d, b; /* the device under test, a second one */
	struct guest g;   /* a guest thread on d */
	pid_t child;      /* a forked front-end, 0: none */
};

static int
fenv_setup(void *obj)
{
	RTE_SET_USED(obj);
	f_reset();
	TEST_ASSERT(hpool() != NULL, "pool");
	return TEST_SUCCESS;
}

static int
fenv_teardown(void *obj, int status)
{
	struct fenv *f = obj;

	RTE_SET_USED(status);
	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
		f->child = 0;
	}
	guest_stop(&f->g);
	fwd_stop();
	hdev_down(&f->b);
	hdev_down(&f->d);
	return TEST_SUCCESS;
}

VHU_FIXTURE(fenv, fenv_setup, fenv_teardown);

/* ------------------------------------------------------------------------ */

/* The child: a front-end and guest that forward until killed. */
static void
child_frontend(const char *path, int ready_fd)
{
	struct mock_fe_opts o = { .ring_size = 256, .nvrings = 2 };
	uint64_t tx = 0, rx = 0, bad = 0;
	struct hdev d;
	char c = 1;

	memset(&d, 0, sizeof(d));
	snprintf(d.path, sizeof(d.path), "%s", path);
	if (mock_fe_connect(&d.fe, d.path, HDEV_MEM) != 0 || mock_fe_setup(&d.fe, &o) != 0 ||
	    hdev_attach_rings(&d) != TEST_SUCCESS)
		_exit(2);
	if (write(ready_fd, &c, 1) != 1)
		_exit(3);
	for (;;) {
		guest_round(&d, &tx, &rx, &bad);
		usleep(50);
	}
}

#define KILL_ROUNDS 6

VHU_TEST_F(stress, fault_frontend_sigkill_mid_traffic, fenv, fx)
{
	int round;

	hmark_take(&fx->mark);
	TEST_RUN(fdev_up(&fx->d));
	TEST_RUN(fwd_start());
	for (round = 0; round < KILL_ROUNDS; round++) {
		int p[2], status, destroyed = f_destroy;
		pid_t pid;
		char c;

		TEST_ASSERT_EQ(pipe2(p, O_CLOEXEC), 0, "pipe");
		pid = fork();
		TEST_ASSERT(pid >= 0, "fork");
		if (pid == 0) {
			close(p[0]);
			child_frontend(fx->d.path, p[1]);
		}
		fx->child = pid;
		close(p[1]);
		if (round % 3 == 2) {
			/* killed during the handshake, whatever step it reached */
			TEST_ASSERT(vhu_test_wait(&f_conn, round + 1, 5000), "child connected");
			usleep(200 * (unsigned int)round);
		} else {
			TEST_ASSERT_EQ(read(p[0], &c, 1), 1, "child front-end ready");
			TEST_ASSERT(fwd_wait(500, 10000), "traffic through the child front-end");
		}
		close(p[0]);
		TEST_ASSERT_EQ(kill(pid, SIGKILL), 0, "kill");
		TEST_ASSERT_EQ(waitpid(pid, &status, 0), pid, "reap");
		fx->child = 0;
		TEST_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "killed");
		if (round % 3 != 2)
			TEST_ASSERT(vhu_test_wait(&f_destroy, destroyed + 1, 2000),
				    "device destroyed after the kill");
		TEST_ASSERT(vhu_test_wait(&f_disconn, round + 1, 2000), "connection gone");
	}
	TEST_ASSERT_EQ(fwd.bad, 0, "frames from the killed guests intact");
	TEST_LOG("%d front-ends killed, %" PRIu64 " packets forwarded", KILL_ROUNDS, fwd.packets);
	/* the back-end still serves */
	TEST_RUN(fresh_frontend_forwards(&fx->d));
	fwd_stop();
	hdev_down(&fx->d);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&fx->mark);
}

/* ------------------------------------------------------------------------ */

VHU_TEST_F(stress, fault_close_mid_message, fenv, fx)
{
	struct vhu_mem_table t;
	uint8_t raw[12 + 40 + 12 + 8];
	size_t cut;

	hmark_take(&fx->mark);
	TEST_RUN(fdev_up(&fx->d));
	TEST_RUN(fwd_start());
	for (cut = 1; cut < sizeof(raw); cut++) {
		struct vhu_msg_hdr h = { VHU_REQ_SET_MEM_TABLE, VHU_FLAG_VERSION, 40 };
		struct vhu_msg_hdr h2 = { VHU_REQ_SET_VRING_NUM, VHU_FLAG_VERSION, 8 };
		struct vhu_vring_state st = { 0, 256 };
		int before = f_disconn, conn = f_conn;

		/* a ready device with traffic, then a torn message and a close */
		TEST_RUN(fdev_connect_ready(&fx->d, 64));
		memset(&t, 0, sizeof(t));
		t.nregions = 1;
		t.regions[0] = mock_fe_region(&fx->d.fe);
		memcpy(raw, &h, 12);
		memcpy(raw + 12, &t, 40);
		memcpy(raw + 52, &h2, 12);
		memcpy(raw + 64, &st, 8);
		{
			union {
				char b[CMSG_SPACE(sizeof(int))];
				struct cmsghdr a;
			} ctl;
			struct iovec iov = { raw, cut };
			struct msghdr mh;
			struct cmsghdr *c;

			memset(&mh, 0, sizeof(mh));
			memset(&ctl, 0, sizeof(ctl));
			mh.msg_iov = &iov;
			mh.msg_iovlen = 1;
			mh.msg_control = ctl.b;
			mh.msg_controllen = sizeof(ctl.b);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fx->d.fe.memfd, sizeof(int));
			TEST_ASSERT_EQ(sendmsg(fx->d.fe.sock, &mh, MSG_NOSIGNAL), (ssize_t)cut,
					"send");
		}
		mock_fe_close(&fx->d.fe);
		TEST_ASSERT(vhu_test_wait(&f_disconn, before + 1, 2000),
			    "cut at %zu: connection not torn down", cut);
		TEST_ASSERT_EQ(f_conn, conn + 1, "one connection");
	}
	TEST_RUN(fresh_frontend_forwards(&fx->d));
	fwd_stop();
	hdev_down(&fx->d);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&fx->mark);
}

/* ------------------------------------------------------------------------ */

#define FLOOD 10000

VHU_TEST_F(stress, fault_flood_10000_messages, fenv, fx)
{
	uint64_t v, rx0;
	unsigned int i;
	int fds0;

	hmark_take(&fx->mark);
	TEST_RUN(fdev_up(&fx->d));
	TEST_RUN(fwd_start());
	TEST_RUN(fdev_connect_ready(&fx->d, 256));
	TEST_RUN(guest_start(&fx->g, &fx->d));
	TEST_ASSERT(fwd_wait(200, 10000), "traffic before the flood");
	fds0 = vhu_test_count_fds();
	/* 10,000 requests, replies read, call fds replaced each time, under traffic */
	for (i = 0; i < FLOOD; i++) {
		struct vhu_vring_state st = { i & 1, 1 };
		int efd;

		switch (i % 5) {
		case 0:
			efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			TEST_ASSERT(efd >= 0, "eventfd");
			v = i & 1;
			TEST_ASSERT_EQ(mock_fe_send(&fx->d.fe, VHU_REQ_SET_VRING_CALL, 0, &v, 8,
						       &efd, 1),
					0, "SET_VRING_CALL %u", i);
			close(efd);
			break;
		case 1:
			TEST_ASSERT_EQ(mock_fe_send(&fx->d.fe, VHU_REQ_SET_VRING_ENABLE, 0, &st, 8,
						       NULL, 0),
					0, "SET_VRING_ENABLE %u", i);
			break;
		case 2:
			TEST_ASSERT_EQ(mock_fe_get_u64(&fx->d.fe, VHU_REQ_GET_FEATURES, &v), 0,
					"GET_FEATURES %u", i);
			break;
		case 3:
			v = 0xf;
			TEST_ASSERT_EQ(mock_fe_ack(&fx->d.fe, VHU_REQ_SET_STATUS, &v, 8, NULL, 0,
						       &v),
					0, "SET_STATUS %u", i);
			TEST_ASSERT_EQ(v, 0, "acked");
			break;
		default:
			TEST_ASSERT_EQ(mock_fe_get_u64(&fx->d.fe, VHU_REQ_GET_PROTOCOL_FEATURES,
						       &v),
					0, "GET_PROTOCOL_FEATURES %u", i);
			break;
		}
	}
	TEST_ASSERT(mock_fe_alive(&fx->d.fe), "alive after the flood");
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds0, "replaced call fds closed");
	rx0 = fx->g.rx;
	TEST_ASSERT(fwd_wait(200, 10000), "traffic after the flood");
	guest_stop(&fx->g);
	TEST_ASSERT(fx->g.rx > rx0 && fx->g.rx_bad == 0, "the guest kept receiving intact frames");
	TEST_LOG("%d messages flooded; the guest sent %" PRIu64 " and got %" PRIu64 " frames back",
			FLOOD, fx->g.tx, fx->g.rx);

	/* a front-end that floods and never reads a reply: closed, or served; never a hang */
	TEST_RUN(fdev_up(&fx->b));
	TEST_RUN(fdev_connect_ready(&fx->b, 64));
	{
		int before = f_disconn;
		struct vhu_msg_hdr h = { VHU_REQ_GET_FEATURES, VHU_FLAG_VERSION, 0 };
		int fl = 1;

		setsockopt(fx->b.fe.sock, SOL_SOCKET, SO_SNDBUF, &fl, sizeof(fl));
		for (i = 0; i < FLOOD; i++)
			if (send(fx->b.fe.sock, &h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
					errno != EAGAIN)
				break;
		/* the control thread still answers the other device meanwhile */
		TEST_ASSERT(mock_fe_alive(&fx->d.fe), "the other device is served during a flood");
		mock_fe_close(&fx->b.fe);
		TEST_ASSERT(vhu_test_wait(&f_disconn, before + 1, 5000), "flooder torn down");
	}
	hdev_down(&fx->b);
	TEST_RUN(fresh_frontend_forwards(&fx->d));
	fwd_stop();
	hdev_down(&fx->d);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&fx->mark);
}

/* ------------------------------------------------------------------------ */

#define SWAPS 200

VHU_TEST_F(stress, fault_mem_table_swap_under_traffic, fenv, fx)
{
	struct vhu_mem_single ms;
	uint64_t ack, rx0;
	uint8_t *extra;
	unsigned int i;
	int xfd;

	hmark_take(&fx->mark);
	TEST_RUN(fdev_up(&fx->d));
	TEST_RUN(fwd_start());
	TEST_RUN(fdev_connect_ready(&fx->d, 256));
	xfd = memfd_create("extra-region", MFD_CLOEXEC);
	TEST_ASSERT(xfd >= 0 && ftruncate(xfd, 1 << 20) == 0, "memfd");
	extra = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, xfd, 0);
	TEST_ASSERT(extra != MAP_FAILED, "mmap");
	TEST_RUN(guest_start(&fx->g, &fx->d));
	TEST_ASSERT(fwd_wait(200, 10000), "traffic before the swaps");
	memset(&ms, 0, sizeof(ms));
	ms.region.guest_phys_addr = 1ull << 40;
	ms.region.memory_size = 1 << 20;
	ms.region.userspace_addr = (uint64_t)(uintptr_t)extra;
	for (i = 0; i < SWAPS; i++) {
		/* the same memory, mapped again: the old mapping goes away under the lcore */
		TEST_ASSERT_EQ(mock_fe_set_mem_table(&fx->d.fe), 0, "table %u", i);
		/* a region added and removed: two more table generations */
		TEST_ASSERT_EQ(mock_fe_ack(&fx->d.fe, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &xfd, 1,
					       &ack),
				0, "ADD_MEM_REG %u", i);
		TEST_ASSERT_EQ(ack, 0, "ADD_MEM_REG %u acked", i);
		TEST_ASSERT_EQ(mock_fe_ack(&fx->d.fe, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), NULL, 0,
					       &ack),
				0, "REM_MEM_REG %u", i);
		TEST_ASSERT_EQ(ack, 0, "REM_MEM_REG %u acked", i);
		if (i % 20 == 0)
			TEST_ASSERT(fwd_wait(1, 5000), "traffic between swaps");
	}
	rx0 = fx->g.rx;
	TEST_ASSERT(fwd_wait(200, 10000), "traffic after the swaps");
	guest_stop(&fx->g);
	TEST_ASSERT(fx->g.rx > rx0, "the guest kept receiving");
	TEST_ASSERT_EQ(fx->g.rx_bad, 0, "frames intact");
	TEST_ASSERT_EQ(fwd.bad, 0, "frames intact at the back-end");
	TEST_ASSERT_EQ(f_destroy, 0, "the device lived through every swap");
	TEST_LOG("%d x 3 table changes; the guest sent %" PRIu64 " and got %" PRIu64
		 " frames back (%" PRIu64 " not enqueued: ring busy or no buffer yet)",
			SWAPS, fx->g.tx, fx->g.rx, fwd.unsent);
	munmap(extra, 1 << 20);
	close(xfd);
	fwd_stop();
	hdev_down(&fx->d);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&fx->mark);
}

/* ------------------------------------------------------------------------ */

#define RECONNECTS 1000

VHU_TEST_F(stress, fault_reconnect_1000, fenv, fx)
{
	unsigned int i;

	TEST_RUN(fdev_up(&fx->d));
	TEST_RUN(fwd_start());
	/* the first cycle warms caches (thread stacks, pools) */
	TEST_RUN(fresh_frontend_forwards(&fx->d));
	mock_fe_close(&fx->d.fe);
	TEST_ASSERT(vhu_test_wait(&f_disconn, 1, 2000), "first disconnect");
	hmark_take(&fx->mark);
	for (i = 0; i < RECONNECTS; i++) {
		uint64_t tx = 0, rx = 0, bad = 0;
		int rounds;

		TEST_RUN(fdev_connect_ready(&fx->d, 64));
		for (rounds = 0; rx < 4 && rounds < 2000; rounds++) {
			guest_round(&fx->d, &tx, &rx, &bad);
			usleep(50);
		}
		TEST_ASSERT(rx >= 4 && bad == 0, "cycle %u: traffic (%" PRIu64 " frames back)", i,
			    rx);
		mock_fe_close(&fx->d.fe);
		TEST_ASSERT(vhu_test_wait(&f_disconn, (int)i + 2, 2000), "cycle %u: disconnect", i);
	}
	TEST_ASSERT_EQ(f_new, RECONNECTS + 1, "new_device per cycle");
	TEST_ASSERT_EQ(f_destroy, RECONNECTS + 1, "destroy_device per cycle");
	TEST_ASSERT_EQ(f_disconn_unclean, 0, "destroy_connection before the teardown");
	TEST_RUN(hmark_check(&fx->mark));
	fwd_stop();
	hdev_down(&fx->d);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return TEST_SUCCESS;
}
