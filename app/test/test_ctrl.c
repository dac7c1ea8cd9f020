/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Control plane through the mock front-end (fast suite): every request,
 * the happy path and a hostile variant each, asserting replies and device
 * state; fatal faults close only the faulty connection. Memory tables, the
 * dirty log, inflight areas and the device state: test_ctrl_state.c.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctrl_env.h"

#define MEM_SIZE CTRL_MEM_SIZE

/* ---- handshake, getters, GET/SET_VRING_BASE ---- */

VHU_TEST_F(fast, ctrl_mock_handshake, env, e)
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
		TEST_RUN(env_init(e, 2));
		e->conf.mtu = 1500;
		e->conf.mac_set = true;
		e->conf.mac = mac;
		e->conf.ctx = &token;
		TEST_RUN(env_up(e));
		TEST_RUN(setup_ready(e, 2));
		vid = vhu_rec.vid;
		TEST_ASSERT_EQ(vid, vhu_rec.conn_vid, "same device");
		TEST_ASSERT_EQ(vhu_get_features(vid, &f), 0, "features");
		TEST_ASSERT_EQ(f, e->fe.features, "negotiated features");
		TEST_ASSERT(f & VHU_BIT(VHU_F_NET_MTU), "MTU offered");
		TEST_ASSERT(f & VHU_BIT(VHU_F_NET_MAC), "MAC offered");
		TEST_ASSERT_EQ(vhu_get_protocol_features(vid, &v), 0, "pf");
		TEST_ASSERT_EQ(v, e->fe.protocol_features, "negotiated protocol features");
		TEST_ASSERT_EQ(v, vhu_default_protocol_features(), "all protocol features");
		TEST_ASSERT_EQ(vhu_get_vring_count(vid), 2, "vring count");
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0");
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 1), 1, "ring 1");
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 2), 0, "ring 2 never set up");
		TEST_ASSERT_EQ(vhu_rec.state[0], 1, "ring 0 reported");
		TEST_ASSERT_EQ(vhu_rec.state[1], 1, "ring 1 reported");
		TEST_ASSERT_EQ(vhu_get_kickfd(vid, 0) >= 0, 1, "kick fd");
		TEST_ASSERT_EQ(vhu_get_ifname(vid, name, sizeof(name)), 0, "ifname");
		TEST_ASSERT(strcmp(name, e->path) == 0, "ifname %s", name);
		TEST_ASSERT_EQ(vhu_get_ifname(vid, name, 4), -1, "short buffer");
		TEST_ASSERT_EQ(vhu_get_peer(vid, &pid, NULL, NULL), 0, "peer");
		TEST_ASSERT_EQ(pid, getpid(), "peer pid");
		TEST_ASSERT_EQ(vhu_get_mtu(vid, &mtu), 0, "mtu");
		TEST_ASSERT_EQ(mtu, 1500, "mtu value");
		TEST_ASSERT_EQ(vhu_get_mac(vid, &got), 0, "mac");
		TEST_ASSERT(rte_is_same_ether_addr(&got, &mac), "mac value");
		TEST_ASSERT(vhu_get_ctx(vid) == &token, "ctx");
		TEST_ASSERT(cur_dev()->hdr_len == 12, "hdr_len with VERSION_1");
		TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_GET_QUEUE_NUM, &v), 0, "queue num");
		TEST_ASSERT_EQ(v, 2, "queue pairs");
		TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_GET_MAX_MEM_SLOTS, &v), 0, "slots");
		TEST_ASSERT_EQ(v, 509, "memory slots");
		TEST_ASSERT_EQ(vhu_get_features(vid + 100, &f), -1, "bad vid");

		/* GET_VRING_BASE stops ring 0 and returns where it stands */
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, 0, &base), 0, "get base");
		TEST_ASSERT_EQ(base, 0, "base");
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 0, "stopped ring inactive");
		TEST_ASSERT_EQ(vhu_rec.state[0], 0, "ring 0 reported inactive");
		TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "the device stays");
		TEST_ASSERT(vhu_get_kickfd(vid, 0) >= 0, "kick fd kept until replaced");
		/* restart at index 7 */
		st.index = 0;
		st.num = 7;
		TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_BASE, &st, sizeof(st), NULL, 0, 0));
		v = 0;
		TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_KICK, &v, sizeof(v), &e->fe.vr[0].kickfd, 1,
				0));
		TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "restarted");
		TEST_ASSERT_EQ(vhu_rec.state[0], 1, "ring 0 reported active again");
		TEST_ASSERT_EQ(cur_dev()->vq[0]->last_avail_idx, 7, "base applied");
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, 0, &base), 0, "get base");
		TEST_ASSERT_EQ(base, 7, "base after restart");

		mock_fe_close(&e->fe);
		TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, 1, 2000), "destroy_device");
		TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, 1, 2000), "destroy_connection");
		TEST_ASSERT_EQ(vhu_get_features(vid, &f), -1, "vid gone");
		TEST_RUN(env_down(e));
	}
	return TEST_SUCCESS;
}

/* ---- ring states (spec: started/stopped x enabled/disabled) ---- */

VHU_TEST_F(fast, ctrl_mock_ring_states, env, e)
{
	struct mock_fe_opts o = { .no_enable = true, .no_status = true };
	struct vhu_dev *dev;
	uint32_t base;
	uint64_t f;
	int vid;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_ASSERT_EQ(mock_fe_setup(&e->fe, &o), 0, "setup");
	dev = cur_dev();
	vid = dev->vid;
	TEST_ASSERT(dev->vq[0]->started && !dev->vq[0]->enabled, "started, disabled");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 0, "disabled ring inactive");
	TEST_ASSERT(dev->vq[0]->discard, "started, disabled: its TX is the sweep's to drop");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&e->fe, 0, 1), 0, "enable 0");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0 active");
	TEST_ASSERT(!dev->vq[0]->discard, "enabled: not discarding");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 0, "not ready: ring 1 disabled");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&e->fe, 1, 1), 0, "enable 1");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 0, "not ready: STATUS negotiated, no DRIVER_OK");
	TEST_ASSERT_EQ(mock_fe_set_status(&e->fe, VHU_STATUS_DRIVER_OK | VHU_STATUS_FEATURES_OK), 0,
			"status");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 1, "ready");
	/* disable ring 1: reported, device stays */
	TEST_ASSERT_EQ(mock_fe_vring_enable(&e->fe, 1, 0), 0, "disable 1");
	TEST_ASSERT_EQ(vhu_rec.state[1], 0, "ring 1 reported disabled");
	TEST_ASSERT(dev->vq[1]->started, "still started");
	TEST_ASSERT(dev->vq[1]->discard, "started+disabled after use: TX dropped, no RX");
	TEST_ASSERT(dev->vq[1]->enqueue != NULL, "burst functions kept for discarding");
	/* LOG_ALL toggled by SET_FEATURES never disables a ring */
	f = e->fe.features | VHU_BIT(VHU_F_LOG_ALL);
	TEST_RUN(ack_of(e, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_rec.feat_calls, 1, "features_changed");
	TEST_ASSERT_EQ(vhu_rec.features, f, "new features");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0 still active");
	TEST_ASSERT(!dev->vq[1]->enabled, "ring 1 still disabled");
	f = e->fe.features;
	TEST_RUN(ack_of(e, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0 still active");
	/* stop both: suspended, still answering */
	TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, 0, &base), 0, "stop 0");
	TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, 1, &base), 0, "stop 1");
	TEST_ASSERT(!dev->vq[0]->started && !dev->vq[1]->started, "stopped");
	TEST_ASSERT(!dev->vq[1]->discard && !dev->vq[1]->active, "stopped: not processed");
	TEST_ASSERT(dev->vq[0]->enabled, "stop keeps the enabled state");
	TEST_ASSERT(mock_fe_alive(&e->fe), "suspended device answers");
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "no destroy while suspended");
	mock_fe_close(&e->fe);

	/* without PROTOCOL_FEATURES every ring is enabled by SET_FEATURES */
	TEST_RUN(env_connect(e));
	o.features_mask = ~VHU_BIT(VHU_F_PROTOCOL_FEATURES);
	o.no_status = false;
	TEST_ASSERT_EQ(mock_fe_setup(&e->fe, &o), 0, "setup without protocol features");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 2, 2000), "ready without SET_VRING_ENABLE");
	dev = cur_dev();
	TEST_ASSERT(dev->vq[0]->enabled && dev->vq[1]->enabled, "enabled by SET_FEATURES");
	TEST_ASSERT(cur_dev()->hdr_len == 12, "hdr_len");
	/* SET_VRING_ENABLE is refused without PROTOCOL_FEATURES: ring stays on */
	{
		struct vhu_vring_state st = { .index = 0, .num = 0 };

		TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_SET_VRING_ENABLE, 0, &st, sizeof(st),
					       NULL, 0),
				0, "send");
		TEST_ASSERT(mock_fe_alive(&e->fe), "refusal is not fatal");
		TEST_ASSERT(dev->vq[0]->enabled, "still enabled");
	}
	/* legacy header without VERSION_1 and MRG_RXBUF */
	mock_fe_close(&e->fe);
	TEST_RUN(env_connect(e));
	TEST_RUN(negotiate(e, ~(VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_NET_MRG_RXBUF)), 0));
	TEST_ASSERT(cur_dev()->hdr_len == 10, "legacy hdr_len");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- malformed messages ---- */

VHU_TEST_F(fast, ctrl_mock_bad_header, env, e)
{
	uint8_t raw[12 + 8];
	struct vhu_msg_hdr *h = (void *)raw;
	uint64_t v = 0;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_FEATURES, 2, NULL, 0, NULL, 0)); /* version 2 */
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_FEATURES, 1 | (1u << 5), NULL, 0, NULL, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_FEATURES, 1 | VHU_FLAG_REPLY, NULL, 0, NULL, 0));
	/* a size over 4096: header alone, the rest never comes */
	h->request = VHU_REQ_SET_FEATURES;
	h->flags = VHU_FLAG_VERSION;
	h->size = VHU_MAX_PAYLOAD + 1;
	memcpy(raw + 12, &v, 8);
	TEST_ASSERT_EQ(write(e->fe.sock, raw, sizeof(raw)), (ssize_t)sizeof(raw), "write");
	TEST_ASSERT(mock_fe_closed(&e->fe, 2000), "oversize payload not fatal");
	mock_fe_close(&e->fe);
	TEST_RUN(env_connect(e));
	TEST_ASSERT(mock_fe_alive(&e->fe), "fresh connection works");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_mock_bad_size, env, e)
{
	struct vhu_mem_table t;
	struct vhu_config cfg;
	uint64_t v = 0;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_OWNER, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_FEATURES, 0, &v, 4, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_FEATURES, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ADDR, 0, NULL, 39, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(&e->fe);
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_MEM_TABLE, 0, &t, sizeof(t), &e->fe.memfd, 1));
	TEST_RUN(negotiate(e, 0, 0));
	memset(&cfg, 0, sizeof(cfg));
	cfg.size = 12;
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_CONFIG, 0, &cfg, 12 + 6, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_NUM, 0, NULL, 12, NULL, 0));
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_mock_fd_count, env, e)
{
	int fds[9], i, efd, before;
	struct vhu_mem_table t;
	uint64_t v;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	efd = eventfd(0, EFD_CLOEXEC);
	for (i = 0; i < 9; i++)
		fds[i] = efd;
	before = vhu_test_count_fds();
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_FEATURES, 0, NULL, 0, &efd, 1));
	TEST_RUN(negotiate(e, 0, 0));
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(&e->fe);
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_MEM_TABLE, 0, &t, 8 + 32, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_MEM_TABLE, 0, &t, 8 + 32, fds, 2));
	TEST_RUN(negotiate(e, 0, 0));
	v = 0 | VHU_VRING_NOFD_MASK;        /* says no fd, carries one */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_CALL, 0, &v, 8, &efd, 1));
	TEST_RUN(negotiate(e, 0, 0));
	v = 0;                               /* says fd, carries none */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_CALL, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_BACKEND_REQ_FD, 0, NULL, 0, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
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
		TEST_ASSERT_EQ(sendmsg(e->fe.sock, &mh, 0), (ssize_t)sizeof(h), "sendmsg");
		TEST_ASSERT(mock_fe_closed(&e->fe, 2000), "9 fds not fatal");
		mock_fe_close(&e->fe);
		TEST_RUN(env_connect(e));
	}
	TEST_ASSERT_EQ(vhu_test_count_fds(), before, "received fds were closed");
	close(efd);
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_mock_bad_index, env, e)
{
	struct vhu_vring_state st;
	uint64_t v;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(negotiate(e, 0, 0));
	st.index = 1;
	st.num = 256;
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0, 0));
	st.index = 2;                          /* one queue pair: rings 0 and 1 */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_NUM, 0, &st, sizeof(st), NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	v = 255 | VHU_VRING_NOFD_MASK;
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_KICK, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	v = 1 | (1ull << 9);                   /* reserved bit */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_CALL, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	st.index = 9;
	st.num = 0;
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	st.index = 0;
	st.num = 2;                            /* enable must be 0 or 1 */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ENABLE, 0, &st, sizeof(st), NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	st.num = 0x10000;                      /* split ring base is 16 bits */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_BASE, 0, &st, sizeof(st), NULL, 0));
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_mock_ring_size, env, e)
{
	static const uint32_t bad[] = { 0, 100, 65536, 0xffffffffu };
	struct vhu_vring_state st = { .index = 0 };
	unsigned int i;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(negotiate(e, 0, 0));
	st.num = 32768;
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0, 0));
	st.num = 1;
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0, 0));
	for (i = 0; i < RTE_DIM(bad); i++) {
		st.num = bad[i];
		TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_NUM, 0, &st, sizeof(st), NULL, 0));
		TEST_RUN(negotiate(e, 0, 0));
	}
	TEST_RUN(env_down(e));
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

VHU_TEST_F(fast, ctrl_mock_ring_addr, env, e)
{
	struct vhu_vring_addr a;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(addr_prep(e));
	ring_addr(e, &a, 0);
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, 0));
	TEST_ASSERT(cur_dev()->vq[0]->desc == (void *)NULL || cur_dev()->vq[0]->addr_set,
		    "address kept");
	ring_addr(e, &a, 8); /* misaligned descriptors */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(e));
	ring_addr(e, &a, 0);
	a.used_user_addr += 2;                             /* misaligned used ring */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(e));
	ring_addr(e, &a, MEM_SIZE + 4096); /* outside guest memory */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(e));
	ring_addr(e, &a, MEM_SIZE - 1024); /* crosses the region end */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(e));
	ring_addr(e, &a, 0);
	a.desc_user_addr = 0xfffffffffffff000ull;          /* wraps */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(addr_prep(e));
	ring_addr(e, &a, 0);
	a.flags = 2;                                       /* unknown flag */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0));
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- RARP, MTU, config space ---- */

VHU_TEST_F(fast, ctrl_mock_rarp_mtu, env, e)
{
	uint64_t mac = 0x0000665544332202ull;   /* 02:22:33:44:55:66 */
	uint64_t bad = 0x0000665544332201ull;   /* multicast */
	uint64_t v;
	uint16_t mtu;
	struct vhu_dev *dev;

	TEST_RUN(env_init(e, 1));
	e->conf.mtu = 1500;
	TEST_RUN(env_up(e));
	TEST_RUN(setup_ready(e, 2));
	dev = cur_dev();
	TEST_RUN(ack_of(e, VHU_REQ_SEND_RARP, &mac, 8, NULL, 0, 0));
	TEST_ASSERT_EQ(dev->rarp_pending, 1, "RARP pending");
	TEST_ASSERT_EQ(dev->rarp_mac.addr_bytes[0], 0x02, "RARP mac");
	TEST_ASSERT_EQ(dev->rarp_mac.addr_bytes[5], 0x66, "RARP mac");
	dev->rarp_pending = 0;
	TEST_RUN(ack_of(e, VHU_REQ_SEND_RARP, &bad, 8, NULL, 0, 1));
	TEST_ASSERT_EQ(dev->rarp_pending, 0, "refused");
	v = 9000;
	TEST_RUN(ack_of(e, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_get_mtu(dev->vid, &mtu), 0, "mtu");
	TEST_ASSERT_EQ(mtu, 9000, "mtu set");
	v = 20;
	TEST_RUN(ack_of(e, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0, 1));
	v = 70000;
	TEST_RUN(ack_of(e, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0, 1));
	TEST_ASSERT_EQ(vhu_get_mtu(dev->vid, &mtu), 0, "mtu");
	TEST_ASSERT_EQ(mtu, 9000, "unchanged");
	TEST_RUN(expect_fatal(e, VHU_REQ_NET_SET_MTU, 0, &v, 2, NULL, 0));
	/* RARP not negotiated: refused */
	TEST_RUN(negotiate(e, 0, ~VHU_BIT(VHU_PF_RARP)));
	TEST_RUN(ack_of(e, VHU_REQ_SEND_RARP, &mac, 8, NULL, 0, 1));
	TEST_RUN(env_down(e));
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

VHU_TEST_F(fast, ctrl_mock_config, env, e)
{
	struct vhu_net_config nc;
	struct rte_ether_addr mac;
	struct vhu_config c;
	struct vhu_msg r;

	TEST_RUN(env_init(e, 4));
	e->conf.mtu = 1400;
	e->conf.mac_set = true;
	e->conf.mac.addr_bytes[0] = 0x02;
	e->conf.mac.addr_bytes[5] = 0x09;
	TEST_RUN(env_up(e));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(get_config(e, 0, 12, &r));
	TEST_ASSERT_EQ(r.hdr.size, 12 + 12, "whole config");
	memcpy(&nc, r.payload.config.payload, sizeof(nc));
	TEST_ASSERT_EQ(nc.mac[5], 0x09, "mac");
	TEST_ASSERT_EQ(nc.status, VHU_NET_S_LINK_UP, "status");
	TEST_ASSERT_EQ(nc.max_virtqueue_pairs, 4, "queue pairs");
	TEST_ASSERT_EQ(nc.mtu, 1400, "mtu");
	TEST_RUN(get_config(e, 10, 4, &r));
	TEST_ASSERT_EQ(r.hdr.size, 0, "beyond the config: empty reply");
	/* the driver may write the MAC */
	memset(&c, 0, sizeof(c));
	c.offset = 0;
	c.size = 6;
	c.flags = VHU_CONFIG_F_WRITABLE;
	memcpy(c.payload, "\x02\xaa\xbb\xcc\xdd\xee", 6);
	TEST_RUN(ack_of(e, VHU_REQ_SET_CONFIG, &c, 12 + 6, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_get_mac(cur_dev()->vid, &mac), 0, "mac");
	TEST_ASSERT_EQ(mac.addr_bytes[5], 0xee, "mac written");
	/* but not the MTU */
	c.offset = 10;
	c.size = 2;
	TEST_RUN(ack_of(e, VHU_REQ_SET_CONFIG, &c, 12 + 2, NULL, 0, 1));
	/* migration restores the space, if it matches the device */
	memset(&nc, 0, sizeof(nc));
	memcpy(nc.mac, "\x02\x01\x01\x01\x01\x01", 6);
	nc.max_virtqueue_pairs = 4;
	nc.mtu = 1400;
	c.offset = 0;
	c.size = 12;
	c.flags = VHU_CONFIG_F_MIGRATION;
	memcpy(c.payload, &nc, 12);
	TEST_RUN(ack_of(e, VHU_REQ_SET_CONFIG, &c, 12 + 12, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_get_mac(cur_dev()->vid, &mac), 0, "mac");
	TEST_ASSERT_EQ(mac.addr_bytes[5], 0x01, "mac restored");
	nc.mtu = 9000;
	memcpy(c.payload, &nc, 12);
	TEST_RUN(ack_of(e, VHU_REQ_SET_CONFIG, &c, 12 + 12, NULL, 0, 1));
	c.flags = 2;
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_CONFIG, 0, &c, 12 + 12, NULL, 0));
	/* not negotiated: an empty reply */
	TEST_RUN(negotiate(e, 0, ~VHU_BIT(VHU_PF_CONFIG)));
	TEST_RUN(get_config(e, 0, 12, &r));
	TEST_ASSERT_EQ(r.hdr.size, 0, "refused");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- status and reset ---- */

VHU_TEST_F(fast, ctrl_mock_status_reset, env, e)
{
	uint64_t v;
	int vid;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(setup_ready(e, 2));
	vid = vhu_rec.vid;
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_GET_STATUS, &v), 0, "status");
	TEST_ASSERT_EQ(v, VHU_STATUS_ACKNOWLEDGE | VHU_STATUS_DRIVER | VHU_STATUS_FEATURES_OK |
		       VHU_STATUS_DRIVER_OK, "status value");
	/* RESET_DEVICE: destroy_device, initial state, same connection */
	TEST_RUN(ack_of(e, VHU_REQ_RESET_DEVICE, NULL, 0, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 1, "destroy_device");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 0, "rings off");
	TEST_ASSERT_EQ(vhu_get_features(vid, &v), 0, "features");
	TEST_ASSERT_EQ(v, 0, "features reset");
	TEST_ASSERT(cur_dev()->mem == NULL, "memory unmapped");
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_GET_STATUS, &v), 0, "status");
	TEST_ASSERT_EQ(v, 0, "status reset");
	/* start again on the same connection */
	TEST_RUN(setup_ready(e, 2));
	TEST_ASSERT_EQ(vhu_rec.vid, vid, "same vid");
	/* RESET_OWNER does the same */
	TEST_RUN(ack_of(e, VHU_REQ_RESET_OWNER, NULL, 0, NULL, 0, 0));
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 2, "destroy_device again");
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_STATUS, 0, &(uint64_t){ 0x100 }, 8, NULL, 0));
	/* RESET_DEVICE not negotiated: refused */
	TEST_RUN(negotiate(e, 0, ~VHU_BIT(VHU_PF_RESET_DEVICE)));
	TEST_RUN(ack_of(e, VHU_REQ_RESET_DEVICE, NULL, 0, NULL, 0, 1));
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- requests that are refused ---- */

VHU_TEST_F(fast, ctrl_mock_unsupported, env, e)
{
	struct vhu_vring_state st = { 0, 0 };
	/* a well-formed update (iova 0x1000, 4 KiB, RW): refused without iommu support */
	uint8_t iotlb[32] = { [0] = 0,
		[1] = 0x10,
		[8] = 0,
		[9] = 0x10,
		[17] = 0x10,
		[24] = VHU_ACCESS_RW,
		[25] = VHU_IOTLB_UPDATE };
	uint64_t v;
	struct vhu_msg r;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(ack_of(e, 200, NULL, 0, NULL, 0, 1)); /* unknown */
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_ENDIAN, &st, 8, NULL, 0, 1));
	TEST_RUN(ack_of(e, VHU_REQ_IOTLB_MSG, iotlb, sizeof(iotlb), NULL, 0, 1));
	TEST_RUN(ack_of(e, VHU_REQ_POSTCOPY_LISTEN, NULL, 0, NULL, 0, 1));
	TEST_RUN(ack_of(e, VHU_REQ_VRING_KICK, &st, sizeof(st), NULL, 0, 1));
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_POSTCOPY_END, &v), 0, "postcopy end");
	TEST_ASSERT(v != 0, "postcopy end refused");
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_POSTCOPY_ADVISE, 0, NULL, 0, NULL, 0), 0,
			"send");
	TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "advise reply");
	TEST_ASSERT(r.nfds == 0 && r.payload.u64 != 0, "no userfaultfd");
	/* an unknown request without NEED_REPLY is logged and skipped */
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, 99, 0, "xyz", 3, NULL, 0), 0, "send");
	TEST_ASSERT(mock_fe_alive(&e->fe), "alive after unknown requests");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- out-of-order requests ---- */

VHU_TEST_F(fast, ctrl_mock_out_of_order, env, e)
{
	struct vhu_vring_state st = { .index = 0, .num = 256 };
	struct vhu_inflight_desc inf = { .num_queues = 2, .queue_size = 256 };
	struct vhu_mem_table t;
	uint64_t f, v;
	int before, kick;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	/* REPLY_ACK without negotiation: every NEED_REPLY is still answered */
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, 1)); /* before SET_FEATURES */
	kick = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(kick >= 0, "eventfd");
	v = 0;
	before = vhu_test_count_fds();
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_KICK, &v, 8, &kick, 1, 1)); /* before SET_FEATURES */
	TEST_ASSERT_EQ(vhu_test_count_fds(), before, "refused fd closed");
	close(kick);
	TEST_ASSERT(!(cur_dev()->flags & VHU_DEV_OWNER),
			"a refused request does not take ownership");
	/* before SET_OWNER: served, and the front-end owns the device (see dispatch) */
	f = VHU_BIT(VHU_F_VERSION_1);
	TEST_RUN(ack_of(e, VHU_REQ_SET_FEATURES, &f, 8, NULL, 0, 0));
	TEST_ASSERT(cur_dev()->flags & VHU_DEV_OWNER, "owned");
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(&e->fe);
	TEST_RUN(ack_of(e, VHU_REQ_SET_MEM_TABLE, &t, 8 + 32, &e->fe.memfd, 1, 0));
	TEST_RUN(ack_of(e, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0, 0));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&e->fe), 0, "mem");
	TEST_ASSERT_EQ(mock_fe_setup_vring(&e->fe, 0, 256), 0, "vring 0");
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, 1));  /* ring started */
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_BASE, &st, 8, NULL, 0, 1)); /* ring started */
	mock_fe_close(&e->fe);
	/* a request that must be answered, in the wrong state: fatal */
	TEST_RUN(env_connect(e));
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_INFLIGHT_FD, 0, &inf, sizeof(inf), NULL, 0));
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/*
 * DPDK 22.11's virtio-user in server mode, when a back-end connects again:
 * it stops the rings it had (SET_VRING_ENABLE 0, GET_VRING_BASE, with the
 * REPLY_ACK it negotiated on the old connection) and negotiates afresh, all
 * without SET_OWNER. Every request is served and the device becomes ready;
 * refusing (or closing on GET_VRING_BASE) killed that front-end (SIGPIPE).
 */
VHU_TEST_F(fast, ctrl_mock_reconnect_without_owner, env, e)
{
	struct vhu_vring_state st;
	uint32_t base;
	unsigned int i;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	for (i = 0; i < 2; i++) {
		st.index = i;
		st.num = 0;
		TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, 0));
	}
	for (i = 0; i < 2; i++) {
		base = 99;
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, (uint16_t)i, &base), 0,
				"GET_VRING_BASE %u answered", i);
		TEST_ASSERT_EQ(base, 0, "base of an unused ring");
	}
	e->fe.no_owner = true;
	TEST_RUN(setup_ready(e, 2));
	TEST_ASSERT(mock_fe_alive(&e->fe), "connection kept");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- one faulty front-end does not disturb another device ---- */

VHU_TEST_F(fast, ctrl_mock_fatal_isolation, env2, p)
{
	int vid_b;
	uint64_t f;

	TEST_RUN(env_init(&p->a, 1));
	TEST_RUN(env_up(&p->a));
	TEST_RUN(setup_ready(&p->a, 2));
	/* b: the same configuration on a socket of its own; the recorder keeps counting */
	TEST_RUN(env_prepare(&p->b, 1));
	TEST_RUN(env_up(&p->b));
	TEST_RUN(setup_ready(&p->b, 2));
	vid_b = vhu_rec.vid;
	TEST_ASSERT_EQ(vhu_rec.new_dev, 2, "two devices");
	/* a hostile message on a */
	f = ~0ull;
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_FEATURES, 0, &f, 8, NULL, 0), 0, "send");
	TEST_ASSERT(mock_fe_closed(&p->a.fe, 2000), "a closed");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, 1, 2000), "a destroyed");
	TEST_ASSERT(vhu_rec.ready[vid_b], "b still ready");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid_b, 0), 1, "b's rings run");
	TEST_ASSERT(mock_fe_alive(&p->b.fe), "b answers");
	TEST_ASSERT_EQ(vhu_get_features(vid_b, &f), 0, "b's features");
	TEST_ASSERT_EQ(env_close(&p->b), 0, "unregister b");
	TEST_RUN(env_down(&p->a));
	return TEST_SUCCESS;
}

/* ---- a message arriving in pieces ---- */

VHU_TEST_F(fast, ctrl_mock_partial_message, env, e)
{
	uint8_t raw[12 + 8];
	struct vhu_msg_hdr h = { VHU_REQ_SET_VRING_NUM, VHU_FLAG_VERSION | VHU_FLAG_NEED_REPLY, 8 };
	struct vhu_vring_state st = { .index = 1, .num = 64 };
	struct vhu_msg r;
	unsigned int i;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(negotiate(e, 0, 0));
	memcpy(raw, &h, 12);
	memcpy(raw + 12, &st, 8);
	for (i = 0; i < sizeof(raw); i++) {
		TEST_ASSERT_EQ(write(e->fe.sock, raw + i, 1), 1, "byte %u", i);
		vhu_test_sleep_ms(1);
	}
	TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "ack");
	TEST_ASSERT_EQ(r.payload.u64, 0, "accepted");
	TEST_ASSERT_EQ(cur_dev()->vq[1]->num, 64, "applied");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- the hostile variants not covered above ---- */

VHU_TEST_F(fast, ctrl_mock_more_hostile, env, e)
{
	struct vhu_vring_state st = { .index = 1, .num = 1 };
	uint64_t v;
	int efd;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	efd = eventfd(0, EFD_CLOEXEC);
	TEST_RUN(ack_of(e, VHU_REQ_RESET_OWNER, NULL, 0, NULL, 0,
			0)); /* before SET_OWNER: served */
	TEST_RUN(ack_of(e, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0, 0));
	/* enabling before SET_FEATURES is remembered (QEMU does it) */
	TEST_RUN(ack_of(e, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, 0));
	TEST_ASSERT(cur_dev()->vq[1]->enabled, "enable kept");
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_LOG_FD, 0, NULL, 0, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	v = 7;                                        /* one queue pair: rings 0 and 1 */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_VRING_ERR, 0, &v, 8, &efd, 1));
	v = VHU_BIT(VHU_PF_CROSS_ENDIAN);
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_PROTOCOL_FEATURES, 0, &v, 8, NULL, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_QUEUE_NUM, 0, &v, 8, NULL, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_MAX_MEM_SLOTS, 0, &v, 8, NULL, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_GET_STATUS, 0, NULL, 0, &efd, 1));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_CHECK_DEVICE_STATE, 0, &v, 8, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_STATUS, 0, &v, 4, NULL, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_SEND_RARP, 0, &v, 6, NULL, 0));
	close(efd);
	TEST_RUN(env_down(e));
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
random_messages(struct env2 *p, unsigned int count, unsigned int seed)
{
	static const uint32_t sizes[] = { 0, 8, 8, 8, 12, 20, 40, 40, 16, 8 + 32, 8 + 64, 12 + 6 };
	unsigned int i, reconnects = 0;
	uint8_t payload[512];
	int fds[2], efd, vid_other;

	TEST_RUN(env_init(&p->a, 2));
	TEST_RUN(env_up(&p->a));
	/* a healthy device on another socket that must not notice anything */
	TEST_RUN(env_prepare(&p->b, 2));
	TEST_RUN(env_up(&p->b));
	TEST_RUN(setup_ready(&p->b, 2));
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
			mock_fe_close(&p->a.fe);
			TEST_RUN(env_connect(&p->a));
			TEST_ASSERT_EQ(mock_fe_negotiate(&p->a.fe, 0, 0), 0, "negotiate");
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
		if (mock_fe_send(&p->a.fe, req, flags, payload, size, fds, nfds) != 0)
			closed = true;
		drain(&p->a.fe, &closed);
		if (closed) {
			mock_fe_close(&p->a.fe);
			TEST_RUN(env_connect(&p->a));
			reconnects++;
		}
	}
	TEST_LOG("%u random messages, %u connections closed by the library", count, reconnects);
	TEST_ASSERT(reconnects > 0, "hostile input was detected at least once");
	TEST_ASSERT(vhu_rec.ready[vid_other], "the other device stayed ready");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid_other, 1), 1, "its rings run");
	TEST_ASSERT(mock_fe_alive(&p->b.fe), "it answers");
	close(efd);
	close(fds[1]);
	TEST_ASSERT_EQ(env_close(&p->b), 0, "unregister other");
	TEST_RUN(env_down(&p->a));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_mock_random_messages, env2, p)
{
	return random_messages(p, 500, 4242);
}

VHU_TEST_F(stress, ctrl_stress_random_messages, env2, p)
{
	return random_messages(p, 20000, 777);
}
