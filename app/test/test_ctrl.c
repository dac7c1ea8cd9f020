/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Control plane through the mock front-end (fast suite): every request,
 * the happy path and a hostile variant each, asserting replies and device
 * state; fatal faults close only the faulty connection.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mock_fe.h"
#include "vhu.h"
#include "vhu_dev_table.h"
#include "vhu_mem.h"
#include "vhu_test.h"

#define MEM_SIZE (4ull << 20)

struct env {
	char dir[64];
	char path[VHU_PATH_MAX];
	struct vhu_socket_conf conf;
	struct mock_fe fe;
	int fds0;
};

static int
env_init(struct env *e, uint16_t max_qp)
{
	memset(e, 0, sizeof(*e));
	e->fe.sock = -1;
	e->fe.memfd = -1;
	vhu_rec_reset();
	e->fds0 = vhu_test_count_fds();
	TEST_ASSERT(vhu_test_tmpdir(e->dir, sizeof(e->dir)) == 0, "tmpdir");
	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	e->conf.path = e->path;
	e->conf.ops = &vhu_rec_ops;
	e->conf.max_queue_pairs = max_qp;
	return TEST_SUCCESS;
}

/* Connect the mock and wait for the library to see the connection. */
static int
env_connect(struct env *e)
{
	int before = vhu_rec.conn;

	TEST_ASSERT_EQ(mock_fe_connect(&e->fe, e->path, MEM_SIZE), 0, "connect");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.conn, before + 1, 5000), "no new_connection");
	return TEST_SUCCESS;
}

static int
env_up(struct env *e)
{
	TEST_ASSERT_EQ(vhu_socket_register(&e->conf), 0, "register");
	return env_connect(e);
}

static int
env_down(struct env *e)
{
	mock_fe_close(&e->fe);
	TEST_ASSERT_EQ(vhu_socket_unregister(e->path), 0, "unregister");
	vhu_test_rmdir(e->dir);
	TEST_ASSERT_EQ(vhu_test_count_fds(), e->fds0, "fd leak");
	return TEST_SUCCESS;
}

static struct vhu_dev *
cur_dev(void)
{
	return vhu_dev_table_get(vhu_rec.conn_vid);
}

/* The request must close the connection; then connect a fresh mock. */
static int
expect_fatal(struct env *e, uint32_t req, uint32_t flags, const void *p, uint32_t size,
	     const int *fds, unsigned int nfds)
{
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, req, flags, p, size, fds, nfds), 0, "send");
	TEST_ASSERT(mock_fe_closed(&e->fe, 5000), "%s (size %u, %u fds) was not fatal",
		    vhu_req_name(req), size, nfds);
	mock_fe_close(&e->fe);
	return env_connect(e);
}

/* NEED_REPLY ack value of a request (connection must stay). */
static int
ack_of(struct env *e, uint32_t req, const void *p, uint32_t size, const int *fds,
       unsigned int nfds, uint64_t expect)
{
	uint64_t ack = 99;

	TEST_ASSERT_EQ(mock_fe_ack(&e->fe, req, p, size, fds, nfds, &ack), 0,
		       "%s: no ack", vhu_req_name(req));
	TEST_ASSERT_EQ(ack, expect, "%s ack", vhu_req_name(req));
	return TEST_SUCCESS;
}

static int
negotiate(struct env *e, uint64_t fmask, uint64_t pmask)
{
	TEST_ASSERT_EQ(mock_fe_negotiate(&e->fe, fmask, pmask), 0, "negotiate");
	return TEST_SUCCESS;
}

static int
setup_ready(struct env *e, unsigned int nvrings)
{
	struct mock_fe_opts o = { .nvrings = nvrings };
	int before = vhu_rec.new_dev;

	TEST_ASSERT_EQ(mock_fe_setup(&e->fe, &o), 0, "setup");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, before + 1, 5000), "no new_device");
	return TEST_SUCCESS;
}

/* ---- handshake, getters, GET/SET_VRING_BASE ---- */

VHU_TEST(fast, ctrl_mock_handshake)
{
	static int token;
	struct rte_ether_addr mac = { .addr_bytes = { 0x02, 1, 2, 3, 4, 5 } }, got;
	struct vhu_vring_state st;
	char name[VHU_PATH_MAX];
	uint64_t f, v;
	uint32_t base;
	uint16_t mtu;
	pid_t pid;
	int vid;

	{
		struct env e;

		TEST_RUN(env_init(&e, 2));
		e.conf.mtu = 1500;
		e.conf.mac_set = true;
		e.conf.mac = mac;
		e.conf.ctx = &token;
		TEST_RUN(env_up(&e));
		TEST_RUN(setup_ready(&e, 2));
		vid = vhu_rec.vid;
		TEST_ASSERT_EQ(vid, vhu_rec.conn_vid, "same device");
		TEST_ASSERT_EQ(vhu_get_features(vid, &f), 0, "features");
		TEST_ASSERT_EQ(f, e.fe.features, "negotiated features");
		TEST_ASSERT(f & VHU_BIT(VHU_F_NET_MTU), "MTU offered");
		TEST_ASSERT(f & VHU_BIT(VHU_F_NET_MAC), "MAC offered");
		TEST_ASSERT_EQ(vhu_get_protocol_features(vid, &v), 0, "pf");
		TEST_ASSERT_EQ(v, e.fe.protocol_features, "negotiated protocol features");
		TEST_ASSERT_EQ(v, vhu_default_protocol_features(), "all protocol features");
		TEST_ASSERT_EQ(vhu_get_vring_count(vid), 2, "vring count");
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0");
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 1), 1, "ring 1");
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 2), 0, "ring 2 never set up");
		TEST_ASSERT_EQ(vhu_rec.state[0], 1, "ring 0 reported");
		TEST_ASSERT_EQ(vhu_rec.state[1], 1, "ring 1 reported");
		TEST_ASSERT_EQ(vhu_get_kickfd(vid, 0) >= 0, 1, "kick fd");
		TEST_ASSERT_EQ(vhu_get_ifname(vid, name, sizeof(name)), 0, "ifname");
		TEST_ASSERT(strcmp(name, e.path) == 0, "ifname %s", name);
		TEST_ASSERT_EQ(vhu_get_ifname(vid, name, 4), -1, "short buffer");
		TEST_ASSERT_EQ(vhu_get_peer(vid, &pid, NULL, NULL), 0, "peer");
		TEST_ASSERT_EQ(pid, getpid(), "peer pid");
		TEST_ASSERT_EQ(vhu_get_mtu(vid, &mtu), 0, "mtu");
		TEST_ASSERT_EQ(mtu, 1500, "mtu value");
		TEST_ASSERT_EQ(vhu_get_mac(vid, &got), 0, "mac");
		TEST_ASSERT(rte_is_same_ether_addr(&got, &mac), "mac value");
		TEST_ASSERT(vhu_get_ctx(vid) == &token, "ctx");
		TEST_ASSERT(cur_dev()->hdr_len == 12, "hdr_len with VERSION_1");
		TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_GET_QUEUE_NUM, &v), 0, "queue num");
		TEST_ASSERT_EQ(v, 2, "queue pairs");
		TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_GET_MAX_MEM_SLOTS, &v), 0, "slots");
		TEST_ASSERT_EQ(v, 509, "memory slots");
		TEST_ASSERT_EQ(vhu_get_features(vid + 100, &f), -1, "bad vid");

		/* GET_VRING_BASE stops ring 0 and returns where it stands */
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&e.fe, 0, &base), 0, "get base");
		TEST_ASSERT_EQ(base, 0, "base");
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 0, "stopped ring inactive");
		TEST_ASSERT_EQ(vhu_rec.state[0], 0, "ring 0 reported inactive");
		TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "the device stays");
		TEST_ASSERT(vhu_get_kickfd(vid, 0) >= 0, "kick fd kept until replaced");
		/* restart at index 7 */
		st.index = 0;
		st.num = 7;
		TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_BASE, &st, sizeof(st), NULL, 0, 0));
		v = 0;
		TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_KICK, &v, sizeof(v), &e.fe.vr[0].kickfd, 1, 0));
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "restarted");
		TEST_ASSERT_EQ(vhu_rec.state[0], 1, "ring 0 reported active again");
		TEST_ASSERT_EQ(cur_dev()->vq[0]->last_avail_idx, 7, "base applied");
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&e.fe, 0, &base), 0, "get base");
		TEST_ASSERT_EQ(base, 7, "base after restart");

		mock_fe_close(&e.fe);
		TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, 1, 2000), "destroy_device");
		TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, 1, 2000), "destroy_connection");
		TEST_ASSERT_EQ(vhu_get_features(vid, &f), -1, "vid gone");
		TEST_RUN(env_down(&e));
	}
	return TEST_SUCCESS;
}

/* ---- ring states (spec: started/stopped x enabled/disabled) ---- */

VHU_TEST(fast, ctrl_mock_ring_states)
{
	struct mock_fe_opts o = { .no_enable = true, .no_status = true };
	struct vhu_dev *dev;
	struct env e;
	uint32_t base;
	uint64_t f;
	int vid;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_ASSERT_EQ(mock_fe_setup(&e.fe, &o), 0, "setup");
	dev = cur_dev();
	vid = dev->vid;
	TEST_ASSERT(dev->vq[0]->started && !dev->vq[0]->enabled, "started, disabled");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 0, "disabled ring inactive");
	TEST_ASSERT(dev->vq[0]->discard, "started, disabled: its TX is the sweep's to drop");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&e.fe, 0, 1), 0, "enable 0");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0 active");
	TEST_ASSERT(!dev->vq[0]->discard, "enabled: not discarding");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 0, "not ready: ring 1 disabled");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&e.fe, 1, 1), 0, "enable 1");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 0, "not ready: STATUS negotiated, no DRIVER_OK");
	TEST_ASSERT_EQ(mock_fe_set_status(&e.fe, VHU_STATUS_DRIVER_OK | VHU_STATUS_FEATURES_OK), 0,
		       "status");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 1, "ready");
	/* disable ring 1: reported, device stays */
	TEST_ASSERT_EQ(mock_fe_vring_enable(&e.fe, 1, 0), 0, "disable 1");
	TEST_ASSERT_EQ(vhu_rec.state[1], 0, "ring 1 reported disabled");
	TEST_ASSERT(dev->vq[1]->started, "still started");
	TEST_ASSERT(dev->vq[1]->discard, "started+disabled after use: TX dropped, no RX");
	TEST_ASSERT(dev->vq[1]->enqueue != NULL, "burst functions kept for discarding");
	/* LOG_ALL toggled by SET_FEATURES never disables a ring */
	f = e.fe.features | VHU_BIT(VHU_F_LOG_ALL);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_rec.feat_calls, 1, "features_changed");
	TEST_ASSERT_EQ(vhu_rec.features, f, "new features");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0 still active");
	TEST_ASSERT(!dev->vq[1]->enabled, "ring 1 still disabled");
	f = e.fe.features;
	TEST_RUN(ack_of(&e, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0 still active");
	/* stop both: suspended, still answering */
	TEST_ASSERT_EQ(mock_fe_get_vring_base(&e.fe, 0, &base), 0, "stop 0");
	TEST_ASSERT_EQ(mock_fe_get_vring_base(&e.fe, 1, &base), 0, "stop 1");
	TEST_ASSERT(!dev->vq[0]->started && !dev->vq[1]->started, "stopped");
	TEST_ASSERT(!dev->vq[1]->discard && !dev->vq[1]->active, "stopped: not processed");
	TEST_ASSERT(dev->vq[0]->enabled, "stop keeps the enabled state");
	TEST_ASSERT(mock_fe_alive(&e.fe), "suspended device answers");
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "no destroy while suspended");
	mock_fe_close(&e.fe);

	/* without PROTOCOL_FEATURES every ring is enabled by SET_FEATURES */
	TEST_RUN(env_connect(&e));
	o.features_mask = ~VHU_BIT(VHU_F_PROTOCOL_FEATURES);
	o.no_status = false;
	TEST_ASSERT_EQ(mock_fe_setup(&e.fe, &o), 0, "setup without protocol features");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 2, 2000), "ready without SET_VRING_ENABLE");
	dev = cur_dev();
	TEST_ASSERT(dev->vq[0]->enabled && dev->vq[1]->enabled, "enabled by SET_FEATURES");
	TEST_ASSERT(cur_dev()->hdr_len == 12, "hdr_len");
	/* SET_VRING_ENABLE is refused without PROTOCOL_FEATURES: ring stays on */
	{
		struct vhu_vring_state st = { .index = 0, .num = 0 };

		TEST_ASSERT_EQ(mock_fe_send(&e.fe, VHU_REQ_SET_VRING_ENABLE, 0, &st, sizeof(st),
					    NULL, 0), 0, "send");
		TEST_ASSERT(mock_fe_alive(&e.fe), "refusal is not fatal");
		TEST_ASSERT(dev->vq[0]->enabled, "still enabled");
	}
	/* legacy header without VERSION_1 and MRG_RXBUF */
	mock_fe_close(&e.fe);
	TEST_RUN(env_connect(&e));
	TEST_RUN(negotiate(&e, ~(VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_NET_MRG_RXBUF)), 0));
	TEST_ASSERT(cur_dev()->hdr_len == 10, "legacy hdr_len");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- malformed messages ---- */

VHU_TEST(fast, ctrl_mock_bad_header)
{
	uint8_t raw[12 + 8];
	struct vhu_msg_hdr *h = (void *)raw;
	struct env e;
	uint64_t v = 0;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_FEATURES, 2, NULL, 0, NULL, 0));        /* version 2 */
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_FEATURES, 1 | (1u << 5), NULL, 0, NULL, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_FEATURES, 1 | VHU_FLAG_REPLY, NULL, 0, NULL, 0));
	/* a size over 4096: header alone, the rest never comes */
	h->request = VHU_REQ_SET_FEATURES;
	h->flags = VHU_FLAG_VERSION;
	h->size = VHU_MAX_PAYLOAD + 1;
	memcpy(raw + 12, &v, 8);
	TEST_ASSERT_EQ(write(e.fe.sock, raw, sizeof(raw)), (ssize_t)sizeof(raw), "write");
	TEST_ASSERT(mock_fe_closed(&e.fe, 2000), "oversize payload not fatal");
	mock_fe_close(&e.fe);
	TEST_RUN(env_connect(&e));
	TEST_ASSERT(mock_fe_alive(&e.fe), "fresh connection works");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_bad_size)
{
	struct vhu_mem_table t;
	struct vhu_config cfg;
	uint64_t v = 0;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_OWNER, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_FEATURES, 0, &v, 4, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_FEATURES, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ADDR, 0, NULL, 39, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(&e.fe);
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_MEM_TABLE, 0, &t, sizeof(t), &e.fe.memfd, 1));
	TEST_RUN(negotiate(&e, 0, 0));
	memset(&cfg, 0, sizeof(cfg));
	cfg.size = 12;
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_CONFIG, 0, &cfg, 12 + 6, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_NUM, 0, NULL, 12, NULL, 0));
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_fd_count)
{
	int fds[9], i, efd, before;
	struct vhu_mem_table t;
	uint64_t v;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	efd = eventfd(0, EFD_CLOEXEC);
	for (i = 0; i < 9; i++)
		fds[i] = efd;
	before = vhu_test_count_fds();
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_FEATURES, 0, NULL, 0, &efd, 1));
	TEST_RUN(negotiate(&e, 0, 0));
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(&e.fe);
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_MEM_TABLE, 0, &t, 8 + 32, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_MEM_TABLE, 0, &t, 8 + 32, fds, 2));
	TEST_RUN(negotiate(&e, 0, 0));
	v = 0 | VHU_VRING_NOFD_MASK;        /* says no fd, carries one */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_CALL, 0, &v, 8, &efd, 1));
	TEST_RUN(negotiate(&e, 0, 0));
	v = 0;                               /* says fd, carries none */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_CALL, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_BACKEND_REQ_FD, 0, NULL, 0, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	/* more than 8 fds: the codec refuses the message, the kernel or we close them */
	{
		struct vhu_msg_hdr h = { VHU_REQ_SET_LOG_FD, VHU_FLAG_VERSION, 0 };
		union {
			char buf[CMSG_SPACE(sizeof(int) * 9)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * 9);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * 9);
		TEST_ASSERT_EQ(sendmsg(e.fe.sock, &mh, 0), (ssize_t)sizeof(h), "sendmsg");
		TEST_ASSERT(mock_fe_closed(&e.fe, 2000), "9 fds not fatal");
		mock_fe_close(&e.fe);
		TEST_RUN(env_connect(&e));
	}
	TEST_ASSERT_EQ(vhu_test_count_fds(), before, "received fds were closed");
	close(efd);
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_bad_index)
{
	struct vhu_vring_state st;
	uint64_t v;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(negotiate(&e, 0, 0));
	st.index = 1;
	st.num = 256;
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0, 0));
	st.index = 2;                          /* one queue pair: rings 0 and 1 */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_NUM, 0, &st, sizeof(st), NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	v = 255 | VHU_VRING_NOFD_MASK;
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_KICK, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	v = 1 | (1ull << 9);                   /* reserved bit */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_CALL, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	st.index = 9;
	st.num = 0;
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	st.index = 0;
	st.num = 2;                            /* enable must be 0 or 1 */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ENABLE, 0, &st, sizeof(st), NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	st.num = 0x10000;                      /* split ring base is 16 bits */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_BASE, 0, &st, sizeof(st), NULL, 0));
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_ring_size)
{
	static const uint32_t bad[] = { 0, 100, 65536, 0xffffffffu };
	struct vhu_vring_state st = { .index = 0 };
	unsigned int i;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(negotiate(&e, 0, 0));
	st.num = 32768;
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0, 0));
	st.num = 1;
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0, 0));
	for (i = 0; i < RTE_DIM(bad); i++) {
		st.num = bad[i];
		TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_NUM, 0, &st, sizeof(st), NULL, 0));
		TEST_RUN(negotiate(&e, 0, 0));
	}
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

static void
ring_addr(struct env *e, struct vhu_vring_addr *a, uint64_t desc_off)
{
	memset(a, 0, sizeof(*a));
	a->index = 0;
	a->desc_user_addr = (uint64_t)(uintptr_t)e->fe.mem + desc_off;
	a->avail_user_addr = (uint64_t)(uintptr_t)e->fe.mem + 0x10000;
	a->used_user_addr = (uint64_t)(uintptr_t)e->fe.mem + 0x20000;
}

static int
addr_prep(struct env *e)
{
	struct vhu_vring_state st = { .index = 0, .num = 256 };

	TEST_RUN(negotiate(e, 0, 0));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&e->fe), 0, "mem table");
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0, 0));
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_ring_addr)
{
	struct vhu_vring_addr a;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(addr_prep(&e));
	ring_addr(&e, &a, 0);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, 0));
	TEST_ASSERT(cur_dev()->vq[0]->desc == (void *)NULL || cur_dev()->vq[0]->addr_set,
		    "address kept");
	ring_addr(&e, &a, 8);                              /* misaligned descriptors */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(&e));
	ring_addr(&e, &a, 0);
	a.used_user_addr += 2;                             /* misaligned used ring */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(&e));
	ring_addr(&e, &a, MEM_SIZE + 4096);                /* outside guest memory */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(&e));
	ring_addr(&e, &a, MEM_SIZE - 1024);                /* crosses the region end */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(&e));
	ring_addr(&e, &a, 0);
	a.desc_user_addr = 0xfffffffffffff000ull;          /* wraps */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(&e));
	ring_addr(&e, &a, 0);
	a.flags = 2;                                       /* unknown flag */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- memory ---- */

static int
mem_table_fatal(struct env *e, const struct vhu_mem_table *t, const int *fds)
{
	TEST_RUN(negotiate(e, 0, 0));
	return expect_fatal(e, VHU_REQ_SET_MEM_TABLE, 0, t, 8 + 32 * t->nregions, fds,
			    t->nregions);
}

VHU_TEST(fast, ctrl_mock_mem_table)
{
	struct vhu_mem_table t;
	int fds[VHU_MEM_TABLE_MAX_REGIONS + 1], i, efd, small;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	for (i = 0; i < 9; i++)
		fds[i] = e.fe.memfd;
	memset(&t, 0, sizeof(t));
	/* two halves of the memfd as two regions: fine */
	t.nregions = 2;
	t.regions[0] = mock_fe_region(&e.fe);
	t.regions[0].memory_size = MEM_SIZE / 2;
	t.regions[1] = t.regions[0];
	t.regions[1].guest_phys_addr += MEM_SIZE / 2 + 0x100000;
	t.regions[1].userspace_addr += MEM_SIZE / 2;
	t.regions[1].mmap_offset = MEM_SIZE / 2;
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(ack_of(&e, VHU_REQ_SET_MEM_TABLE, &t, 8 + 64, fds, 2, 0));
	TEST_ASSERT_EQ(cur_dev()->mem->nregions, 2, "two regions");
	TEST_ASSERT(vhu_gpa_to_host(cur_dev()->mem, t.regions[1].guest_phys_addr, 64) != NULL,
		    "second region translates");
	TEST_ASSERT(vhu_gpa_to_host(cur_dev()->mem, MOCK_FE_GPA_BASE + MEM_SIZE / 2, 1) == NULL,
		    "the gap does not");
	/* overlap in guest physical space */
	t.regions[1].guest_phys_addr = t.regions[0].guest_phys_addr + 4096;
	TEST_RUN(mem_table_fatal(&e, &t, fds));
	/* overlap in front-end space */
	t.regions[1].guest_phys_addr = MOCK_FE_GPA_BASE + MEM_SIZE;
	t.regions[1].userspace_addr = t.regions[0].userspace_addr;
	TEST_RUN(mem_table_fatal(&e, &t, fds));
	/* gpa + size wraps */
	t.nregions = 1;
	t.regions[0].guest_phys_addr = ~0ull - 4095;
	TEST_RUN(mem_table_fatal(&e, &t, fds));
	/* file smaller than offset + size */
	t.regions[0] = mock_fe_region(&e.fe);
	t.regions[0].mmap_offset = 4096;
	TEST_RUN(mem_table_fatal(&e, &t, fds));
	small = memfd_create("small", MFD_CLOEXEC);
	TEST_ASSERT(ftruncate(small, 4096) == 0, "ftruncate");
	t.regions[0] = mock_fe_region(&e.fe);
	TEST_RUN(mem_table_fatal(&e, &t, &small));
	close(small);
	/* an eventfd is not memory */
	efd = eventfd(0, EFD_CLOEXEC);
	TEST_RUN(mem_table_fatal(&e, &t, &efd));
	close(efd);
	/* zero regions, nine regions, empty region */
	t.nregions = 0;
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_MEM_TABLE, 0, &t, 8, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	{
		uint8_t big[8 + 9 * 32];

		memset(big, 0, sizeof(big));
		big[0] = 9;
		TEST_RUN(expect_fatal(&e, VHU_REQ_SET_MEM_TABLE, 0, big, sizeof(big), fds, 8));
	}
	t.nregions = 1;
	t.regions[0].memory_size = 0;
	TEST_RUN(mem_table_fatal(&e, &t, fds));
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* A datapath stand-in: keeps entering ring 0 while the table changes. */
struct hammer {
	struct vhu_dev *dev;
	volatile int stop;
	volatile int entered;
	volatile uint64_t sum;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;

	while (!h->stop) {
		struct vhu_vq *vq = h->dev->vq[0];

		if (!vhu_guard_enter(&vq->guard))
			continue;
		if (vq->active) {
			/* touch guest memory through the current mapping */
			h->sum += vq->desc[0].len + vq->avail->idx + vq->used->idx;
			h->sum += *(volatile uint8_t *)vhu_gpa_to_host(h->dev->mem,
								       MOCK_FE_GPA_BASE, 1);
			h->entered++;
		}
		vhu_guard_leave(&vq->guard);
	}
	return NULL;
}

VHU_TEST(fast, ctrl_mock_mem_table_live)
{
	struct hammer h = { 0 };
	pthread_t t;
	struct env e;
	int i;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(setup_ready(&e, 2));
	h.dev = cur_dev();
	TEST_ASSERT_EQ(pthread_create(&t, NULL, hammer_main, &h), 0, "thread");
	for (i = 0; i < 50; i++) {
		if (mock_fe_set_mem_table(&e.fe) != 0)
			break;
	}
	while (h.entered < 10 && i == 50)
		vhu_test_sleep_ms(1);
	h.stop = 1;
	pthread_join(t, NULL);
	TEST_ASSERT_EQ(i, 50, "50 table changes acked");
	/* the current table maps what the front-end writes */
	e.fe.mem[4096] = 0x5a;
	TEST_ASSERT_EQ(*(uint8_t *)vhu_gpa_to_host(h.dev->mem, MOCK_FE_GPA_BASE + 4096, 1), 0x5a,
		       "current mapping");
	TEST_ASSERT_EQ(vhu_vring_is_active(h.dev->vid, 0), 1, "ring 0 active throughout");
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "device kept");
	TEST_ASSERT(h.entered > 0, "the stand-in entered the ring");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_mem_slots)
{
	const uint64_t slot = 4096, n = VHU_MAX_MEM_SLOTS;
	struct vhu_mem_single ms;
	struct mock_fe big;
	struct vhu_dev *dev;
	uint64_t pm, v, i;
	uint8_t *host;
	struct env e;
	int efd;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	mock_fe_close(&e.fe);
	/* guest memory of 510 pages: one region per page */
	TEST_ASSERT_EQ(mock_fe_connect(&big, e.path, slot * (n + 1)), 0, "connect");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.conn, 2, 2000), "connection");
	e.fe = big;
	pm = VHU_BIT(VHU_PF_CONFIGURE_MEM_SLOTS) | VHU_BIT(VHU_PF_REPLY_ACK);
	TEST_RUN(negotiate(&e, 0, pm));
	TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_GET_MAX_MEM_SLOTS, &v), 0, "slots");
	TEST_ASSERT_EQ(v, 509, "509 slots");
	memset(&ms, 0, sizeof(ms));
	for (i = 0; i < n; i++) {
		/* every other page leaves a hole in guest physical space */
		ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + i * 2 * slot;
		ms.region.memory_size = slot;
		ms.region.userspace_addr = (uint64_t)(uintptr_t)e.fe.mem + i * slot;
		ms.region.mmap_offset = i * slot;
		e.fe.mem[i * slot] = (uint8_t)i;
		TEST_RUN(ack_of(&e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e.fe.memfd, 1, 0));
	}
	dev = cur_dev();
	TEST_ASSERT_EQ(dev->mem->nregions, n, "509 regions");
	for (i = 0; i < n; i += 37) {
		host = vhu_gpa_to_host(dev->mem, MOCK_FE_GPA_BASE + i * 2 * slot, slot);
		TEST_ASSERT(host != NULL && *host == (uint8_t)i, "region %u translates",
			    (unsigned int)i);
		TEST_ASSERT(vhu_gpa_to_host(dev->mem, MOCK_FE_GPA_BASE + i * 2 * slot + slot, 1)
			    == NULL, "hole %u", (unsigned int)i);
	}
	/* remove one (an fd sent along is tolerated and closed) */
	efd = eventfd(0, EFD_CLOEXEC);
	ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + 100 * 2 * slot;
	ms.region.userspace_addr = (uint64_t)(uintptr_t)e.fe.mem + 100 * slot;
	ms.region.mmap_offset = 0;
	TEST_RUN(ack_of(&e, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), &efd, 1, 0));
	close(efd);
	TEST_ASSERT_EQ(dev->mem->nregions, n - 1, "508 regions");
	TEST_ASSERT(vhu_gpa_to_host(dev->mem, ms.region.guest_phys_addr, 1) == NULL, "removed");
	TEST_RUN(ack_of(&e, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), NULL, 0, 1));  /* gone */
	/* add it back, then one more: no free slot */
	ms.region.mmap_offset = 100 * slot;
	TEST_RUN(ack_of(&e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e.fe.memfd, 1, 0));
	ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + n * 2 * slot;
	ms.region.userspace_addr = (uint64_t)(uintptr_t)e.fe.mem + n * slot;
	ms.region.mmap_offset = n * slot;
	TEST_RUN(expect_fatal(&e, VHU_REQ_ADD_MEM_REG, VHU_FLAG_VERSION | VHU_FLAG_NEED_REPLY,
			      &ms, sizeof(ms), &e.fe.memfd, 1));
	/* overlap with an existing region */
	TEST_RUN(negotiate(&e, 0, pm));
	ms.region.guest_phys_addr = MOCK_FE_GPA_BASE;
	ms.region.userspace_addr = (uint64_t)(uintptr_t)e.fe.mem;
	ms.region.mmap_offset = 0;
	TEST_RUN(ack_of(&e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e.fe.memfd, 1, 0));
	ms.region.guest_phys_addr += 2048;
	ms.region.userspace_addr += MEM_SIZE;
	TEST_RUN(expect_fatal(&e, VHU_REQ_ADD_MEM_REG, 0, &ms, sizeof(ms), &e.fe.memfd, 1));
	/* no fd */
	TEST_RUN(negotiate(&e, 0, pm));
	TEST_RUN(expect_fatal(&e, VHU_REQ_ADD_MEM_REG, 0, &ms, sizeof(ms), NULL, 0));
	/* not negotiated: refused, not fatal */
	TEST_RUN(negotiate(&e, 0, VHU_BIT(VHU_PF_REPLY_ACK)));
	TEST_RUN(ack_of(&e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e.fe.memfd, 1, 1));
	TEST_ASSERT(cur_dev()->mem == NULL, "nothing mapped");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* A vring inside memory that came through ADD_MEM_REG goes active. */
/*
 * QEMU 7.2's order: SET_BACKEND_REQ_FD comes before SET_OWNER, and every
 * region is added once per queue pair (and removed as often). The back-end
 * must accept both, keep one mapping, and unmap with the last removal only.
 */
VHU_TEST(fast, ctrl_mock_qemu_order)
{
	uint64_t pf = VHU_BIT(VHU_PF_BACKEND_REQ) | VHU_BIT(VHU_PF_REPLY_ACK) |
		      VHU_BIT(VHU_PF_CONFIGURE_MEM_SLOTS);
	struct vhu_mem_single ms;
	struct vhu_dev *dev;
	int sp[2], fds_before, i;
	uint64_t f, got;
	struct env e;

	TEST_RUN(env_init(&e, 2));
	TEST_RUN(env_up(&e));
	TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_GET_FEATURES, &f), 0, "features");
	TEST_ASSERT(f & VHU_BIT(VHU_F_PROTOCOL_FEATURES), "protocol features offered");
	TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_GET_PROTOCOL_FEATURES, &got), 0, "pf");
	TEST_ASSERT_EQ(got & pf, pf, "backend req, reply ack and mem slots offered");
	TEST_ASSERT_EQ(mock_fe_send(&e.fe, VHU_REQ_SET_PROTOCOL_FEATURES, 0, &pf, sizeof(pf),
				    NULL, 0), 0, "set pf");
	TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0, "socketpair");
	/* before SET_OWNER, as QEMU does */
	TEST_RUN(ack_of(&e, VHU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &sp[1], 1, 0));
	close(sp[1]);
	TEST_ASSERT(cur_dev()->backend_fd >= 0, "backend channel kept");
	TEST_RUN(negotiate(&e, 0, pf));

	memset(&ms, 0, sizeof(ms));
	ms.region = mock_fe_region(&e.fe);
	TEST_RUN(ack_of(&e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e.fe.memfd, 1, 0));
	dev = cur_dev();
	fds_before = vhu_test_count_fds();
	/* the same region for the second queue pair: accepted, not remapped, fd closed */
	TEST_RUN(ack_of(&e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e.fe.memfd, 1, 0));
	TEST_ASSERT_EQ(dev->mem->nregions, 1, "one mapping");
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds_before, "duplicate's fd closed");
	/* a region overlapping it but not identical is still fatal (tested in mem_slots) */
	for (i = 0; i < 2; i++) {
		TEST_ASSERT(vhu_gpa_to_host(dev->mem, ms.region.guest_phys_addr, 1) != NULL,
			    "still mapped before removal %d", i);
		TEST_RUN(ack_of(&e, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), NULL, 0, 0));
	}
	TEST_ASSERT(dev->mem == NULL || dev->mem->nregions == 0, "unmapped with the last removal");
	TEST_RUN(ack_of(&e, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), NULL, 0, 1));
	close(sp[0]);
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_mem_slots_rings)
{
	struct vhu_mem_single ms;
	struct env e;
	unsigned int i;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(negotiate(&e, 0, 0));
	memset(&ms, 0, sizeof(ms));
	ms.region = mock_fe_region(&e.fe);
	TEST_RUN(ack_of(&e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e.fe.memfd, 1, 0));
	for (i = 0; i < 2; i++) {
		TEST_ASSERT_EQ(mock_fe_setup_vring(&e.fe, (uint16_t)i, 128), 0, "vring");
		TEST_ASSERT_EQ(mock_fe_vring_enable(&e.fe, (uint16_t)i, 1), 0, "enable");
	}
	TEST_ASSERT_EQ(mock_fe_set_status(&e.fe, VHU_STATUS_DRIVER_OK), 0, "status");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 1, "ready");
	/* removing the region under started rings is fatal */
	TEST_RUN(expect_fatal(&e, VHU_REQ_REM_MEM_REG, 0, &ms, sizeof(ms), NULL, 0));
	TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, 1, 2000), "destroyed");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- dirty log ---- */

VHU_TEST(fast, ctrl_mock_log)
{
	struct vhu_log_desc ld = { .mmap_size = 4096, .mmap_offset = 0 };
	struct vhu_dev *dev;
	uint8_t *bitmap;
	int logfd, efd;
	uint64_t f;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(setup_ready(&e, 2));
	dev = cur_dev();
	logfd = memfd_create("log", MFD_CLOEXEC);
	TEST_ASSERT(ftruncate(logfd, 8192) == 0, "ftruncate");
	bitmap = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, logfd, 0);
	TEST_ASSERT(bitmap != MAP_FAILED, "mmap");
	ld.mmap_offset = 4096;
	TEST_ASSERT_EQ(mock_fe_send(&e.fe, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), &logfd, 1),
		       0, "send");
	{
		struct vhu_msg r;

		TEST_ASSERT_EQ(mock_fe_recv(&e.fe, &r), 0, "SET_LOG_BASE reply");
		TEST_ASSERT_EQ(r.hdr.request, VHU_REQ_SET_LOG_BASE, "reply request");
		TEST_ASSERT_EQ(r.payload.u64, 0, "log accepted");
	}
	TEST_ASSERT(dev->log_base != NULL && dev->log_size == 4096, "log mapped");
	TEST_ASSERT(!dev->log_all, "LOG_ALL not negotiated yet");
	f = e.fe.features | VHU_BIT(VHU_F_LOG_ALL);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, 0));
	TEST_ASSERT(dev->log_all, "logging on");
	TEST_ASSERT_EQ(vhu_vring_is_active(dev->vid, 0), 1, "still running");
	vhu_log_write(dev, 5 * 4096 + 10, 4096);        /* pages 5 and 6 */
	TEST_ASSERT_EQ(bitmap[4096], 0x60, "dirty bits in the front-end's log");
	vhu_log_write(dev, 4096ull * 8 * 4096, 1);      /* beyond the log: ignored */
	efd = eventfd(0, EFD_CLOEXEC);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_LOG_FD, NULL, 0, &efd, 1, 0));
	close(efd);
	f = e.fe.features;
	TEST_RUN(ack_of(&e, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, 0));
	TEST_ASSERT(!dev->log_all, "logging off");
	/* a log larger than its file */
	ld.mmap_size = 8192;
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), &logfd, 1));
	/* no fd */
	TEST_RUN(negotiate(&e, 0, 0));
	ld.mmap_size = 4096;
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), NULL, 0));
	/* not negotiated: an error reply, connection kept */
	TEST_RUN(negotiate(&e, 0, VHU_BIT(VHU_PF_REPLY_ACK)));
	TEST_ASSERT_EQ(mock_fe_send(&e.fe, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), &logfd, 1),
		       0, "send");
	{
		struct vhu_msg r;

		TEST_ASSERT_EQ(mock_fe_recv(&e.fe, &r), 0, "reply");
		TEST_ASSERT(r.payload.u64 != 0, "refused");
	}
	TEST_ASSERT(cur_dev()->log_base == NULL, "no log");
	munmap(bitmap, 8192);
	close(logfd);
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- RARP, MTU, config space ---- */

VHU_TEST(fast, ctrl_mock_rarp_mtu)
{
	uint64_t mac = 0x0000665544332202ull;   /* 02:22:33:44:55:66 */
	uint64_t bad = 0x0000665544332201ull;   /* multicast */
	uint64_t v;
	uint16_t mtu;
	struct vhu_dev *dev;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	e.conf.mtu = 1500;
	TEST_RUN(env_up(&e));
	TEST_RUN(setup_ready(&e, 2));
	dev = cur_dev();
	TEST_RUN(ack_of(&e, VHU_REQ_SEND_RARP, &mac, 8, NULL, 0, 0));
	TEST_ASSERT_EQ(dev->rarp_pending, 1, "RARP pending");
	TEST_ASSERT_EQ(dev->rarp_mac.addr_bytes[0], 0x02, "RARP mac");
	TEST_ASSERT_EQ(dev->rarp_mac.addr_bytes[5], 0x66, "RARP mac");
	dev->rarp_pending = 0;
	TEST_RUN(ack_of(&e, VHU_REQ_SEND_RARP, &bad, 8, NULL, 0, 1));
	TEST_ASSERT_EQ(dev->rarp_pending, 0, "refused");
	v = 9000;
	TEST_RUN(ack_of(&e, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_get_mtu(dev->vid, &mtu), 0, "mtu");
	TEST_ASSERT_EQ(mtu, 9000, "mtu set");
	v = 20;
	TEST_RUN(ack_of(&e, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0, 1));
	v = 70000;
	TEST_RUN(ack_of(&e, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0, 1));
	TEST_ASSERT_EQ(vhu_get_mtu(dev->vid, &mtu), 0, "mtu");
	TEST_ASSERT_EQ(mtu, 9000, "unchanged");
	TEST_RUN(expect_fatal(&e, VHU_REQ_NET_SET_MTU, 0, &v, 2, NULL, 0));
	/* RARP not negotiated: refused */
	TEST_RUN(negotiate(&e, 0, ~VHU_BIT(VHU_PF_RARP)));
	TEST_RUN(ack_of(&e, VHU_REQ_SEND_RARP, &mac, 8, NULL, 0, 1));
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

static int
get_config(struct env *e, uint32_t off, uint32_t size, struct vhu_msg *r)
{
	struct vhu_config c;

	memset(&c, 0, sizeof(c));
	c.offset = off;
	c.size = size;
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_GET_CONFIG, 0, &c, 12 + size, NULL, 0), 0,
		       "send");
	TEST_ASSERT_EQ(mock_fe_recv(&e->fe, r), 0, "GET_CONFIG reply");
	TEST_ASSERT_EQ(r->hdr.request, VHU_REQ_GET_CONFIG, "reply");
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_config)
{
	struct vhu_net_config nc;
	struct rte_ether_addr mac;
	struct vhu_config c;
	struct vhu_msg r;
	struct env e;

	TEST_RUN(env_init(&e, 4));
	e.conf.mtu = 1400;
	e.conf.mac_set = true;
	e.conf.mac.addr_bytes[0] = 0x02;
	e.conf.mac.addr_bytes[5] = 0x09;
	TEST_RUN(env_up(&e));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(get_config(&e, 0, 12, &r));
	TEST_ASSERT_EQ(r.hdr.size, 12 + 12, "whole config");
	memcpy(&nc, r.payload.config.payload, sizeof(nc));
	TEST_ASSERT_EQ(nc.mac[5], 0x09, "mac");
	TEST_ASSERT_EQ(nc.status, VHU_NET_S_LINK_UP, "status");
	TEST_ASSERT_EQ(nc.max_virtqueue_pairs, 4, "queue pairs");
	TEST_ASSERT_EQ(nc.mtu, 1400, "mtu");
	TEST_RUN(get_config(&e, 10, 4, &r));
	TEST_ASSERT_EQ(r.hdr.size, 0, "beyond the config: empty reply");
	/* the driver may write the MAC */
	memset(&c, 0, sizeof(c));
	c.offset = 0;
	c.size = 6;
	c.flags = VHU_CONFIG_F_WRITABLE;
	memcpy(c.payload, "\x02\xaa\xbb\xcc\xdd\xee", 6);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_CONFIG, &c, 12 + 6, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_get_mac(cur_dev()->vid, &mac), 0, "mac");
	TEST_ASSERT_EQ(mac.addr_bytes[5], 0xee, "mac written");
	/* but not the MTU */
	c.offset = 10;
	c.size = 2;
	TEST_RUN(ack_of(&e, VHU_REQ_SET_CONFIG, &c, 12 + 2, NULL, 0, 1));
	/* migration restores the space, if it matches the device */
	memset(&nc, 0, sizeof(nc));
	memcpy(nc.mac, "\x02\x01\x01\x01\x01\x01", 6);
	nc.max_virtqueue_pairs = 4;
	nc.mtu = 1400;
	c.offset = 0;
	c.size = 12;
	c.flags = VHU_CONFIG_F_MIGRATION;
	memcpy(c.payload, &nc, 12);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_CONFIG, &c, 12 + 12, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_get_mac(cur_dev()->vid, &mac), 0, "mac");
	TEST_ASSERT_EQ(mac.addr_bytes[5], 0x01, "mac restored");
	nc.mtu = 9000;
	memcpy(c.payload, &nc, 12);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_CONFIG, &c, 12 + 12, NULL, 0, 1));
	c.flags = 2;
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_CONFIG, 0, &c, 12 + 12, NULL, 0));
	/* not negotiated: an empty reply */
	TEST_RUN(negotiate(&e, 0, ~VHU_BIT(VHU_PF_CONFIG)));
	TEST_RUN(get_config(&e, 0, 12, &r));
	TEST_ASSERT_EQ(r.hdr.size, 0, "refused");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- back-end channel, inflight area ---- */

VHU_TEST(fast, ctrl_mock_backend_inflight)
{
	struct vhu_inflight_desc d = { .num_queues = 2, .queue_size = 256 };
	uint8_t *area;
	struct vhu_msg r;
	int sp[2], ifd;
	uint64_t size;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0, "socketpair");
	TEST_RUN(ack_of(&e, VHU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &sp[1], 1, 0));
	TEST_ASSERT(cur_dev()->backend_fd >= 0, "backend channel kept");
	close(sp[1]);

	TEST_ASSERT_EQ(mock_fe_send(&e.fe, VHU_REQ_GET_INFLIGHT_FD, 0, &d, sizeof(d), NULL, 0), 0,
		       "send");
	TEST_ASSERT_EQ(mock_fe_recv(&e.fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.nfds, 1, "an fd");
	size = 2 * ((16 + 16 * 256 + 63) & ~63ull);
	TEST_ASSERT_EQ(r.payload.inflight.mmap_size, size, "split-ring layout size");
	TEST_ASSERT_EQ(r.payload.inflight.num_queues, 2, "queues");
	ifd = r.fds[0];
	area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ifd, 0);
	TEST_ASSERT(area != MAP_FAILED, "map inflight");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 8), 1, "queue 0 version");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 10), 256, "queue 0 desc_num");
	TEST_ASSERT_EQ(*(uint16_t *)(area + size / 2 + 8), 1, "queue 1 version");
	/* hand it back, as after a reconnect */
	d.mmap_size = size;
	TEST_RUN(ack_of(&e, VHU_REQ_SET_INFLIGHT_FD, &d, sizeof(d), &ifd, 1, 0));
	TEST_ASSERT(cur_dev()->inflight_map != NULL, "mapped");
	/* too small */
	d.mmap_size = size - 64;
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_INFLIGHT_FD, 0, &d, sizeof(d), &ifd, 1));
	/* garbage header */
	TEST_RUN(negotiate(&e, 0, 0));
	*(uint16_t *)(area + 8) = 7;
	d.mmap_size = size;
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_INFLIGHT_FD, 0, &d, sizeof(d), &ifd, 1));
	/* bad geometry: no area */
	TEST_RUN(negotiate(&e, 0, 0));
	d.num_queues = 0;
	TEST_ASSERT_EQ(mock_fe_send(&e.fe, VHU_REQ_GET_INFLIGHT_FD, 0, &d, sizeof(d), NULL, 0), 0,
		       "send");
	TEST_ASSERT_EQ(mock_fe_recv(&e.fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.payload.inflight.mmap_size, 0, "no area");
	TEST_ASSERT_EQ(r.nfds, 0, "no fd");
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_BACKEND_REQ_FD, 0, NULL, 0, NULL, 0));
	munmap(area, size);
	close(ifd);
	close(sp[0]);
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* Packed rings get the packed inflight layout (and any ring size). */
VHU_TEST(fast, ctrl_mock_inflight_packed)
{
	struct vhu_inflight_desc d = { .num_queues = 2, .queue_size = 100 };
	uint64_t size;
	uint8_t *area;
	struct vhu_msg r;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	e.conf.flags = VHU_SOCK_PACKED;
	TEST_RUN(env_up(&e));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_ASSERT(e.fe.features & VHU_BIT(VHU_F_RING_PACKED), "packed negotiated");
	TEST_ASSERT_EQ(mock_fe_send(&e.fe, VHU_REQ_GET_INFLIGHT_FD, 0, &d, sizeof(d), NULL, 0), 0,
		       "send");
	TEST_ASSERT_EQ(mock_fe_recv(&e.fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.nfds, 1, "an fd");
	size = 2 * ((32 + 32 * 100 + 63) & ~63ull);
	TEST_ASSERT_EQ(r.payload.inflight.mmap_size, size, "packed layout size");
	area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fds[0], 0);
	TEST_ASSERT(area != MAP_FAILED, "map");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 8), 1, "version");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 10), 100, "desc_num");
	TEST_ASSERT_EQ(area[20], 1, "used wrap counter starts at 1");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 32 + 2), 1, "descriptor 0 links to 1");
	d.mmap_size = size;
	TEST_RUN(ack_of(&e, VHU_REQ_SET_INFLIGHT_FD, &d, sizeof(d), &r.fds[0], 1, 0));
	d.mmap_size = size - 64;       /* enough for split, not for packed */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_INFLIGHT_FD, 0, &d, sizeof(d), &r.fds[0], 1));
	munmap(area, size);
	close(r.fds[0]);
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- status and reset ---- */

VHU_TEST(fast, ctrl_mock_status_reset)
{
	uint64_t v;
	struct env e;
	int vid;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(setup_ready(&e, 2));
	vid = vhu_rec.vid;
	TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_GET_STATUS, &v), 0, "status");
	TEST_ASSERT_EQ(v, VHU_STATUS_ACKNOWLEDGE | VHU_STATUS_DRIVER | VHU_STATUS_FEATURES_OK |
		       VHU_STATUS_DRIVER_OK, "status value");
	/* RESET_DEVICE: destroy_device, initial state, same connection */
	TEST_RUN(ack_of(&e, VHU_REQ_RESET_DEVICE, NULL, 0, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 1, "destroy_device");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 0, "rings off");
	TEST_ASSERT_EQ(vhu_get_features(vid, &v), 0, "features");
	TEST_ASSERT_EQ(v, 0, "features reset");
	TEST_ASSERT(cur_dev()->mem == NULL, "memory unmapped");
	TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_GET_STATUS, &v), 0, "status");
	TEST_ASSERT_EQ(v, 0, "status reset");
	/* start again on the same connection */
	TEST_RUN(setup_ready(&e, 2));
	TEST_ASSERT_EQ(vhu_rec.vid, vid, "same vid");
	/* RESET_OWNER does the same */
	TEST_RUN(ack_of(&e, VHU_REQ_RESET_OWNER, NULL, 0, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 2, "destroy_device again");
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_STATUS, 0, &(uint64_t){ 0x100 }, 8, NULL, 0));
	/* RESET_DEVICE not negotiated: refused */
	TEST_RUN(negotiate(&e, 0, ~VHU_BIT(VHU_PF_RESET_DEVICE)));
	TEST_RUN(ack_of(&e, VHU_REQ_RESET_DEVICE, NULL, 0, NULL, 0, 1));
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- device state transfer ---- */

static int
state_fd(struct env *e, uint32_t dir, uint32_t phase, int fd, uint64_t *reply)
{
	struct vhu_device_state_xfer x = { .direction = dir, .phase = phase };
	struct vhu_msg r;

	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_SET_DEVICE_STATE_FD, 0, &x, sizeof(x), &fd, 1),
		       0, "send");
	TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.nfds, 0, "no fd from the back-end");
	*reply = r.payload.u64;
	return TEST_SUCCESS;
}

static int
stop_rings(struct env *e)
{
	uint32_t base;

	TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, 0, &base), 0, "stop 0");
	TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, 1, &base), 0, "stop 1");
	return TEST_SUCCESS;
}

static int
load_blob(struct env *e, const uint8_t *blob, size_t len, uint64_t *check)
{
	uint64_t v;
	int p[2];

	TEST_ASSERT_EQ(pipe2(p, O_CLOEXEC), 0, "pipe");
	TEST_RUN(state_fd(e, VHU_TRANSFER_LOAD, 0, p[0], &v));
	close(p[0]);
	TEST_ASSERT_EQ(v, VHU_STATE_REPLY_NOFD, "load accepted");
	TEST_ASSERT_EQ(write(p[1], blob, len), (ssize_t)len, "write state");
	close(p[1]);
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_CHECK_DEVICE_STATE, check), 0, "check");
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_device_state)
{
	static uint8_t blob[70000];
	struct env e;
	size_t len = 0;
	uint64_t v;
	ssize_t n;
	int p[2];

	TEST_RUN(env_init(&e, 1));
	e.conf.flags = VHU_SOCK_MULTI_CONN;
	TEST_RUN(env_up(&e));
	TEST_RUN(setup_ready(&e, 2));
	cur_dev()->vq[1]->stats.packets = 1234;
	cur_dev()->vq[0]->stats.bytes = 99999;
	memcpy(vhu_rec.save_blob, "application counters", 20);
	vhu_rec.save_len = 20;
	/* refused while a ring is started */
	TEST_ASSERT_EQ(pipe2(p, O_CLOEXEC), 0, "pipe");
	TEST_RUN(state_fd(&e, VHU_TRANSFER_SAVE, 0, p[1], &v));
	TEST_ASSERT_EQ(v, VHU_STATE_REPLY_NOFD | 1, "refused while started");
	TEST_RUN(stop_rings(&e));
	/* bad direction / phase: error replies */
	TEST_RUN(state_fd(&e, 7, 0, p[1], &v));
	TEST_ASSERT((v & 0xff) != 0 && (v & VHU_STATE_REPLY_NOFD), "bad direction");
	TEST_RUN(state_fd(&e, VHU_TRANSFER_SAVE, 1, p[1], &v));
	TEST_ASSERT((v & 0xff) != 0, "bad phase");
	/* CHECK with nothing transferred */
	TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_CHECK_DEVICE_STATE, &v), 0, "check");
	TEST_ASSERT(v != 0, "nothing to check");
	/* save */
	TEST_RUN(state_fd(&e, VHU_TRANSFER_SAVE, 0, p[1], &v));
	close(p[1]);
	TEST_ASSERT_EQ(v, VHU_STATE_REPLY_NOFD, "save accepted");
	while ((n = read(p[0], blob + len, sizeof(blob) - len)) > 0)
		len += (size_t)n;
	close(p[0]);
	TEST_ASSERT(len > 20, "state saved (%zu bytes)", len);
	TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_CHECK_DEVICE_STATE, &v), 0, "check");
	TEST_ASSERT_EQ(v, 0, "save succeeded");

	/* load into a second device (destination), rings not started */
	{
		struct mock_fe src = e.fe;
		struct vhu_dev *dst;

		TEST_RUN(env_connect(&e));
		TEST_RUN(negotiate(&e, 0, 0));
		dst = cur_dev();
		TEST_RUN(load_blob(&e, blob, len, &v));
		TEST_ASSERT_EQ(v, 0, "load succeeded");
		TEST_ASSERT_EQ(vhu_rec.load_calls, 1, "load_state called");
		TEST_ASSERT_EQ(vhu_rec.load_len, 20, "application part");
		TEST_ASSERT(memcmp(vhu_rec.load_blob, "application counters", 20) == 0, "content");
		TEST_ASSERT(dst->vq[1] != NULL && dst->vq[1]->stats.packets == 1234,
			    "ring counters continue");
		TEST_ASSERT(dst->vq[0] != NULL && dst->vq[0]->stats.bytes == 99999, "bytes");
		/* corrupted, truncated, oversize */
		blob[len / 2] ^= 0x40;
		TEST_RUN(load_blob(&e, blob, len, &v));
		TEST_ASSERT(v != 0, "corrupted state refused");
		blob[len / 2] ^= 0x40;
		TEST_RUN(load_blob(&e, blob, len - 3, &v));
		TEST_ASSERT(v != 0, "truncated state refused");
		TEST_RUN(load_blob(&e, blob, sizeof(blob), &v));
		TEST_ASSERT(v != 0, "oversize state refused");
		/* the application refuses its part */
		vhu_rec.load_rc = -EINVAL;
		TEST_RUN(load_blob(&e, blob, len, &v));
		TEST_ASSERT(v != 0, "application refusal reported");
		vhu_rec.load_rc = 0;
		/* no fd */
		{
			struct vhu_device_state_xfer x = { VHU_TRANSFER_LOAD, 0 };

			TEST_RUN(expect_fatal(&e, VHU_REQ_SET_DEVICE_STATE_FD, 0, &x, sizeof(x),
					      NULL, 0));
		}
		mock_fe_close(&e.fe);
		e.fe = src;
	}
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- requests that are refused ---- */

VHU_TEST(fast, ctrl_mock_unsupported)
{
	struct vhu_vring_state st = { 0, 0 };
	uint8_t iotlb[32] = { 0 };
	uint64_t v;
	struct vhu_msg r;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(ack_of(&e, 200, NULL, 0, NULL, 0, 1));                 /* unknown */
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_ENDIAN, &st, 8, NULL, 0, 1));
	TEST_RUN(ack_of(&e, VHU_REQ_IOTLB_MSG, iotlb, sizeof(iotlb), NULL, 0, 1));
	TEST_RUN(ack_of(&e, VHU_REQ_POSTCOPY_LISTEN, NULL, 0, NULL, 0, 1));
	TEST_RUN(ack_of(&e, VHU_REQ_VRING_KICK, &st, sizeof(st), NULL, 0, 1));
	TEST_ASSERT_EQ(mock_fe_get_u64(&e.fe, VHU_REQ_POSTCOPY_END, &v), 0, "postcopy end");
	TEST_ASSERT(v != 0, "postcopy end refused");
	TEST_ASSERT_EQ(mock_fe_send(&e.fe, VHU_REQ_POSTCOPY_ADVISE, 0, NULL, 0, NULL, 0), 0, "send");
	TEST_ASSERT_EQ(mock_fe_recv(&e.fe, &r), 0, "advise reply");
	TEST_ASSERT(r.nfds == 0 && r.payload.u64 != 0, "no userfaultfd");
	/* an unknown request without NEED_REPLY is logged and skipped */
	TEST_ASSERT_EQ(mock_fe_send(&e.fe, 99, 0, "xyz", 3, NULL, 0), 0, "send");
	TEST_ASSERT(mock_fe_alive(&e.fe), "alive after unknown requests");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- out-of-order requests ---- */

VHU_TEST(fast, ctrl_mock_out_of_order)
{
	struct vhu_vring_state st = { .index = 0, .num = 256 };
	struct vhu_inflight_desc inf = { .num_queues = 2, .queue_size = 256 };
	struct vhu_mem_table t;
	uint64_t f, v;
	int before, kick;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	/* REPLY_ACK without negotiation: every NEED_REPLY is still answered */
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, 1)); /* before SET_FEATURES */
	kick = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(kick >= 0, "eventfd");
	v = 0;
	before = vhu_test_count_fds();
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_KICK, &v, 8, &kick, 1, 1)); /* before SET_FEATURES */
	TEST_ASSERT_EQ(vhu_test_count_fds(), before, "refused fd closed");
	close(kick);
	TEST_ASSERT(!(cur_dev()->flags & VHU_DEV_OWNER),
			"a refused request does not take ownership");
	/* before SET_OWNER: served, and the front-end owns the device (see dispatch) */
	f = VHU_BIT(VHU_F_VERSION_1);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_FEATURES, &f, 8, NULL, 0, 0));
	TEST_ASSERT(cur_dev()->flags & VHU_DEV_OWNER, "owned");
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(&e.fe);
	TEST_RUN(ack_of(&e, VHU_REQ_SET_MEM_TABLE, &t, 8 + 32, &e.fe.memfd, 1, 0));
	TEST_RUN(ack_of(&e, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&e.fe), 0, "mem");
	TEST_ASSERT_EQ(mock_fe_setup_vring(&e.fe, 0, 256), 0, "vring 0");
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, 1));   /* ring started */
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_BASE, &st, 8, NULL, 0, 1));  /* ring started */
	mock_fe_close(&e.fe);
	/* a request that must be answered, in the wrong state: fatal */
	TEST_RUN(env_connect(&e));
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_INFLIGHT_FD, 0, &inf, sizeof(inf), NULL, 0));
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/*
 * DPDK 22.11's virtio-user in server mode, when a back-end connects again:
 * it stops the rings it had (SET_VRING_ENABLE 0, GET_VRING_BASE, with the
 * REPLY_ACK it negotiated on the old connection) and negotiates afresh, all
 * without SET_OWNER. Every request is served and the device becomes ready;
 * refusing (or closing on GET_VRING_BASE) killed that front-end (SIGPIPE).
 */
VHU_TEST(fast, ctrl_mock_reconnect_without_owner)
{
	struct vhu_vring_state st;
	uint32_t base;
	unsigned int i;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	for (i = 0; i < 2; i++) {
		st.index = i;
		st.num = 0;
		TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, 0));
	}
	for (i = 0; i < 2; i++) {
		base = 99;
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&e.fe, (uint16_t)i, &base), 0,
				"GET_VRING_BASE %u answered", i);
		TEST_ASSERT_EQ(base, 0, "base of an unused ring");
	}
	e.fe.no_owner = true;
	TEST_RUN(setup_ready(&e, 2));
	TEST_ASSERT(mock_fe_alive(&e.fe), "connection kept");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- one faulty front-end does not disturb another device ---- */

VHU_TEST(fast, ctrl_mock_fatal_isolation)
{
	struct env a, b;
	int vid_b;
	uint64_t f;

	TEST_RUN(env_init(&a, 1));
	TEST_RUN(env_up(&a));
	TEST_RUN(setup_ready(&a, 2));
	b = a;
	TEST_ASSERT(vhu_test_tmpdir(b.dir, sizeof(b.dir)) == 0, "tmpdir");
	snprintf(b.path, sizeof(b.path), "%s/s", b.dir);
	b.conf.path = b.path;
	TEST_RUN(env_up(&b));
	TEST_RUN(setup_ready(&b, 2));
	vid_b = vhu_rec.vid;
	TEST_ASSERT_EQ(vhu_rec.new_dev, 2, "two devices");
	/* a hostile message on a */
	f = ~0ull;
	TEST_ASSERT_EQ(mock_fe_send(&a.fe, VHU_REQ_SET_FEATURES, 0, &f, 8, NULL, 0), 0, "send");
	TEST_ASSERT(mock_fe_closed(&a.fe, 2000), "a closed");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, 1, 2000), "a destroyed");
	TEST_ASSERT(vhu_rec.ready[vid_b], "b still ready");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid_b, 0), 1, "b's rings run");
	TEST_ASSERT(mock_fe_alive(&b.fe), "b answers");
	TEST_ASSERT_EQ(vhu_get_features(vid_b, &f), 0, "b's features");
	mock_fe_close(&b.fe);
	TEST_ASSERT_EQ(vhu_socket_unregister(b.path), 0, "unregister b");
	vhu_test_rmdir(b.dir);
	TEST_RUN(env_down(&a));
	return TEST_SUCCESS;
}

/* ---- a message arriving in pieces ---- */

VHU_TEST(fast, ctrl_mock_partial_message)
{
	uint8_t raw[12 + 8];
	struct vhu_msg_hdr h = { VHU_REQ_SET_VRING_NUM, VHU_FLAG_VERSION | VHU_FLAG_NEED_REPLY, 8 };
	struct vhu_vring_state st = { .index = 1, .num = 64 };
	struct vhu_msg r;
	unsigned int i;
	struct env e;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	TEST_RUN(negotiate(&e, 0, 0));
	memcpy(raw, &h, 12);
	memcpy(raw + 12, &st, 8);
	for (i = 0; i < sizeof(raw); i++) {
		TEST_ASSERT_EQ(write(e.fe.sock, raw + i, 1), 1, "byte %u", i);
		vhu_test_sleep_ms(1);
	}
	TEST_ASSERT_EQ(mock_fe_recv(&e.fe, &r), 0, "ack");
	TEST_ASSERT_EQ(r.payload.u64, 0, "accepted");
	TEST_ASSERT_EQ(cur_dev()->vq[1]->num, 64, "applied");
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- the hostile variants not covered above ---- */

VHU_TEST(fast, ctrl_mock_more_hostile)
{
	struct vhu_vring_state st = { .index = 1, .num = 1 };
	uint64_t v;
	struct env e;
	int efd;

	TEST_RUN(env_init(&e, 1));
	TEST_RUN(env_up(&e));
	efd = eventfd(0, EFD_CLOEXEC);
	TEST_RUN(ack_of(&e, VHU_REQ_RESET_OWNER, NULL, 0, NULL, 0,
			0)); /* before SET_OWNER: served */
	TEST_RUN(ack_of(&e, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0, 0));
	/* enabling before SET_FEATURES is remembered (QEMU does it) */
	TEST_RUN(ack_of(&e, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, 0));
	TEST_ASSERT(cur_dev()->vq[1]->enabled, "enable kept");
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_LOG_FD, 0, NULL, 0, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	v = 7;                                        /* one queue pair: rings 0 and 1 */
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_VRING_ERR, 0, &v, 8, &efd, 1));
	v = VHU_BIT(VHU_PF_CROSS_ENDIAN);
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_PROTOCOL_FEATURES, 0, &v, 8, NULL, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_QUEUE_NUM, 0, &v, 8, NULL, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_MAX_MEM_SLOTS, 0, &v, 8, NULL, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_GET_STATUS, 0, NULL, 0, &efd, 1));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_CHECK_DEVICE_STATE, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(&e, 0, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SET_STATUS, 0, &v, 4, NULL, 0));
	TEST_RUN(expect_fatal(&e, VHU_REQ_SEND_RARP, 0, &v, 6, NULL, 0));
	close(efd);
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

/* ---- random messages: the library must only answer, refuse or hang up ---- */

static void
drain(struct mock_fe *fe, bool *closed)
{
	char buf[8192];
	ssize_t n;

	for (;;) {
		n = recv(fe->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			*closed = true;
		return;
	}
}

static int
random_messages(unsigned int count, unsigned int seed)
{
	static const uint32_t sizes[] = { 0, 8, 8, 8, 12, 20, 40, 40, 16, 8 + 32, 8 + 64, 12 + 6 };
	struct env e, other;
	unsigned int i, reconnects = 0;
	uint8_t payload[512];
	int fds[2], efd, vid_other;

	TEST_RUN(env_init(&e, 2));
	TEST_RUN(env_up(&e));
	/* a healthy device on another socket that must not notice anything */
	other = e;
	TEST_ASSERT(vhu_test_tmpdir(other.dir, sizeof(other.dir)) == 0, "tmpdir");
	snprintf(other.path, sizeof(other.path), "%s/s", other.dir);
	other.conf.path = other.path;
	TEST_RUN(env_up(&other));
	TEST_RUN(setup_ready(&other, 2));
	vid_other = vhu_rec.vid;
	efd = eventfd(0, EFD_CLOEXEC);
	fds[1] = memfd_create("rnd", MFD_CLOEXEC);
	TEST_ASSERT(ftruncate(fds[1], 1 << 20) == 0, "ftruncate");
	for (i = 0; i < count; i++) {
		uint32_t req = (uint32_t)rand_r(&seed) % (VHU_REQ_MAX + 2);
		uint32_t size = sizes[rand_r(&seed) % RTE_DIM(sizes)];
		uint32_t flags = VHU_FLAG_VERSION;
		unsigned int nfds = (unsigned int)(rand_r(&seed) % 8 == 0 ? rand_r(&seed) % 3 : 0);
		bool closed = false;
		size_t j;

		if (i % 40 == 0) {
			/* sessions of 40 messages from a sane state, so deeper code
			 * runs; a fresh connection has no late replies in it */
			mock_fe_close(&e.fe);
			TEST_RUN(env_connect(&e));
			TEST_ASSERT_EQ(mock_fe_negotiate(&e.fe, 0, 0), 0, "negotiate");
		}
		for (j = 0; j < sizeof(payload); j++)
			payload[j] = (uint8_t)(rand_r(&seed) % 4 == 0 ? rand_r(&seed) : 0);
		/* small indexes, ring sizes and region counts reach the handlers */
		payload[0] = (uint8_t)(rand_r(&seed) % 5);
		payload[4] = (uint8_t)(rand_r(&seed) % 3);
		if (rand_r(&seed) % 2)
			flags |= VHU_FLAG_NEED_REPLY;
		if (rand_r(&seed) % 50 == 0)
			flags |= 1u << (rand_r(&seed) % 8);
		/* memory requests get the memfd, the rest an eventfd */
		fds[0] = (req == VHU_REQ_SET_MEM_TABLE || req == VHU_REQ_ADD_MEM_REG ||
			  req == VHU_REQ_SET_LOG_BASE || req == VHU_REQ_SET_INFLIGHT_FD) ?
			fds[1] : efd;
		if (mock_fe_send(&e.fe, req, flags, payload, size, fds, nfds) != 0)
			closed = true;
		drain(&e.fe, &closed);
		if (closed) {
			mock_fe_close(&e.fe);
			TEST_RUN(env_connect(&e));
			reconnects++;
		}
	}
	TEST_LOG("%u random messages, %u connections closed by the library", count, reconnects);
	TEST_ASSERT(reconnects > 0, "hostile input was detected at least once");
	TEST_ASSERT(vhu_rec.ready[vid_other], "the other device stayed ready");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid_other, 1), 1, "its rings run");
	TEST_ASSERT(mock_fe_alive(&other.fe), "it answers");
	close(efd);
	close(fds[1]);
	mock_fe_close(&other.fe);
	TEST_ASSERT_EQ(vhu_socket_unregister(other.path), 0, "unregister other");
	vhu_test_rmdir(other.dir);
	TEST_RUN(env_down(&e));
	return TEST_SUCCESS;
}

VHU_TEST(fast, ctrl_mock_random_messages)
{
	return random_messages(500, 4242);
}

VHU_TEST(stress, ctrl_stress_random_messages)
{
	return random_messages(20000, 777);
}
