/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Control plane against DPDK's virtio-user (driver suite): the handshake
 * in server and client mode, both start-up orders, ring states, teardown
 * with no fd left behind.
 */

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "vhu.h"
#include "vhu_proto.h"
#include "vhu_test.h"
#include "mock_fe.h"

/* ---- virtio-user port ---- */

struct vu_port {
	bool made; /* the vdev exists: vu_destroy has work */
	char name[32];
	uint16_t port;
	uint16_t nq;
	struct rte_mempool *mp;
};

static int
vu_create_nq(struct vu_port *p, const char *name, const char *path, int server, uint16_t nq)
{
	char args[256];
	char pool[64];

	snprintf(p->name, sizeof(p->name), "%s", name);
	p->nq = nq;
	/* several queue pairs need the control queue (MQ_VQ_PAIRS_SET) */
	snprintf(args, sizeof(args), "path=%s,queues=%u,queue_size=256%s%s", path, nq,
		 nq > 1 ? ",cq=1" : "", server ? ",server=1" : "");
	if (rte_vdev_init(p->name, args) != 0) {
		TEST_LOG("rte_vdev_init(%s, %s) failed", p->name, args);
		return TEST_FAILED;
	}
	p->made = true;
	TEST_ASSERT(rte_eth_dev_get_port_by_name(p->name, &p->port) == 0, "no port %s", p->name);
	static unsigned int pools;

	snprintf(pool, sizeof(pool), "vump%u", pools++);
	p->mp = rte_pktmbuf_pool_create(pool, 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	TEST_ASSERT(p->mp != NULL, "mempool");
	return TEST_SUCCESS;
}

static int
vu_create(struct vu_port *p, const char *name, const char *path, int server)
{
	return vu_create_nq(p, name, path, server, 1);
}

static int
vu_start(struct vu_port *p)
{
	struct rte_eth_conf conf;

	uint16_t q;

	memset(&conf, 0, sizeof(conf));
	TEST_ASSERT_EQ(rte_eth_dev_configure(p->port, p->nq, p->nq, &conf), 0, "configure");
	for (q = 0; q < p->nq; q++) {
		TEST_ASSERT_EQ(rte_eth_rx_queue_setup(p->port, q, 256, SOCKET_ID_ANY, NULL, p->mp),
			       0, "rx queue");
		TEST_ASSERT_EQ(rte_eth_tx_queue_setup(p->port, q, 256, SOCKET_ID_ANY, NULL), 0,
			       "tx queue");
	}
	TEST_ASSERT_EQ(rte_eth_dev_start(p->port), 0, "start");
	return TEST_SUCCESS;
}

static void
vu_destroy(struct vu_port *p)
{
	if (p->made) {
		rte_eth_dev_stop(p->port);
		rte_eth_dev_close(p->port);
		rte_vdev_uninit(p->name);
	}
	p->made = false;
	rte_mempool_free(p->mp);
	p->mp = NULL;
}

/*
 * A case's scene: a directory, the socket registered at path in it, a
 * virtio-user port. Teardown closes the port, unregisters and removes the
 * directory, whatever the case reached.
 */
struct vu_ctrl {
	char dir[64];
	char path[VHU_PATH_MAX];
	struct vu_port p;
};

/* A fresh directory; path names file in it. The recorder is reset. */
static int
vu_ctrl_setup(void *obj)
{
	RTE_SET_USED(obj);
	vhu_rec_reset();
	return TEST_SUCCESS;
}

static int
vu_ctrl_dir(struct vu_ctrl *c, const char *file)
{
	TEST_ASSERT(vhu_test_tmpdir(c->dir, sizeof(c->dir)) == 0, "tmpdir");
	snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, file);
	return TEST_SUCCESS;
}

static int
vu_ctrl_teardown(void *obj, int status)
{
	struct vu_ctrl *c = obj;

	RTE_SET_USED(status);
	vu_destroy(&c->p);
	/* -1 when the case unregistered it already */
	if (c->path[0] != '\0')
		vhu_socket_unregister(c->path);
	if (c->dir[0] != '\0')
		vhu_test_rmdir(c->dir);
	return TEST_SUCCESS;
}

VHU_FIXTURE(vu_ctrl, vu_ctrl_setup, vu_ctrl_teardown);

/* Everything a ready device must show after a virtio-user handshake. */
static int
check_ready_device(const char *path)
{
	uint64_t f, pf;
	char name[VHU_PATH_MAX];
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int vid;

	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 1, 5000), "no new_device within 5 s");
	vid = vhu_rec.vid;
	TEST_ASSERT(vid >= 0, "vid");
	TEST_ASSERT_EQ(vhu_get_features(vid, &f), 0, "features");
	TEST_ASSERT(f & VHU_BIT(VHU_F_VERSION_1), "VERSION_1 not negotiated: 0x%llx",
		    (unsigned long long)f);
	TEST_ASSERT(f & VHU_BIT(VHU_F_PROTOCOL_FEATURES), "PROTOCOL_FEATURES not negotiated");
	TEST_ASSERT_EQ(f & ~vhu_default_features(), 0, "features beyond the offer");
	TEST_ASSERT_EQ(vhu_get_protocol_features(vid, &pf), 0, "protocol features");
	/* DPDK 22.11 virtio-user speaks MQ, REPLY_ACK and STATUS */
	TEST_ASSERT(pf & VHU_BIT(VHU_PF_REPLY_ACK), "REPLY_ACK: 0x%llx", (unsigned long long)pf);
	TEST_ASSERT(pf & VHU_BIT(VHU_PF_STATUS), "STATUS");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 0), 1, "ring 0 active");
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 1), 1, "ring 1 active");
	TEST_ASSERT_EQ(vhu_get_vring_count(vid), 2, "vring count");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.state_calls, 2, 2000), "ring state callbacks");
	TEST_ASSERT_EQ(vhu_rec.state[0], 1, "ring 0 reported active");
	TEST_ASSERT_EQ(vhu_rec.state[1], 1, "ring 1 reported active");
	TEST_ASSERT_EQ(vhu_get_ifname(vid, name, sizeof(name)), 0, "ifname");
	TEST_ASSERT(strcmp(name, path) == 0, "ifname %s != %s", name, path);
	TEST_ASSERT_EQ(vhu_get_peer(vid, &pid, &uid, &gid), 0, "peer");
	TEST_ASSERT_EQ(pid, getpid(), "peer pid");
	TEST_ASSERT_EQ(uid, getuid(), "peer uid");
	TEST_ASSERT_EQ(vhu_rec.conn, 1, "one new_connection");
	return TEST_SUCCESS;
}

/*
 * Stop then close the port. DPDK 22.11 virtio-user tells the back-end
 * nothing on stop; on close it disables the rings, stops them with
 * GET_VRING_BASE and disconnects: rings are reported inactive, then the
 * device is destroyed.
 */
static int
check_teardown(struct vu_port *p)
{
	TEST_ASSERT_EQ(rte_eth_dev_stop(p->port), 0, "stop");
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "stopping the port does not destroy the device");
	vu_destroy(p);
	TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, 1, 5000), "no destroy_device");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, 1, 5000), "no destroy_connection");
	TEST_ASSERT_EQ(vhu_rec.state_calls, 4, "each ring reported active then inactive");
	TEST_ASSERT_EQ(vhu_rec.state[0], 0, "ring 0 reported inactive");
	TEST_ASSERT_EQ(vhu_rec.state[1], 0, "ring 1 reported inactive");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 1, "one new_device");
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, ctrl_virtio_user_server, vu_ctrl, c)
{
	struct vhu_socket_conf conf;
	int fds_before;

	TEST_RUN(vu_ctrl_dir(c, "vhu.sock"));
	fds_before = vhu_test_count_fds();
	memset(&conf, 0, sizeof(conf));
	conf.path = c->path;
	conf.ops = &vhu_rec_ops;
	TEST_ASSERT_EQ(vhu_socket_register(&conf), 0, "register");
	TEST_RUN(vu_create(&c->p, "net_virtio_user7", c->path, 0));
	TEST_RUN(vu_start(&c->p));
	TEST_RUN(check_ready_device(c->path));
	TEST_RUN(check_teardown(&c->p));
	TEST_ASSERT_EQ(vhu_socket_unregister(c->path), 0, "unregister");
	TEST_ASSERT(access(c->path, F_OK) != 0, "socket file left behind");
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds_before, "fd leak");
	return TEST_SUCCESS;
}

/* Client mode, vhu first: it retries until virtio-user listens. */
VHU_TEST_F(driver, ctrl_virtio_user_client, vu_ctrl, c)
{
	struct vhu_socket_conf conf;
	int fds_before;

	TEST_RUN(vu_ctrl_dir(c, "vu.sock"));
	fds_before = vhu_test_count_fds();
	memset(&conf, 0, sizeof(conf));
	conf.path = c->path;
	conf.flags = VHU_SOCK_CLIENT;
	conf.ops = &vhu_rec_ops;
	conf.reconnect_ms = 20;
	TEST_ASSERT_EQ(vhu_socket_register(&conf), 0, "register");
	/* virtio-user in server mode blocks in accept until vhu connects */
	TEST_RUN(vu_create(&c->p, "net_virtio_user8", c->path, 1));
	TEST_RUN(vu_start(&c->p));
	TEST_RUN(check_ready_device(c->path));
	TEST_RUN(check_teardown(&c->p));
	TEST_ASSERT_EQ(vhu_socket_unregister(c->path), 0, "unregister");
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds_before, "fd leak");
	return TEST_SUCCESS;
}

/* Client mode, virtio-user first: vhu registers while virtio-user waits. */
struct late_reg {
	struct vhu_socket_conf conf;
	int rc;
};

static void *
late_register(void *arg)
{
	struct late_reg *lr = arg;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 300 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	lr->rc = vhu_socket_register(&lr->conf);
	return NULL;
}

VHU_TEST_F(driver, ctrl_virtio_user_client_late, vu_ctrl, c)
{
	struct late_reg lr;
	pthread_t t;
	int rc;

	TEST_RUN(vu_ctrl_dir(c, "vu.sock"));
	memset(&lr, 0, sizeof(lr));
	lr.conf.path = c->path;
	lr.conf.flags = VHU_SOCK_CLIENT;
	lr.conf.ops = &vhu_rec_ops;
	lr.rc = -2;
	TEST_ASSERT_EQ(pthread_create(&t, NULL, late_register, &lr), 0, "thread");
	rc = vu_create(&c->p, "net_virtio_user9", c->path, 1);
	pthread_join(t, NULL);
	TEST_ASSERT_EQ(lr.rc, 0, "late register");
	TEST_RUN(rc);
	TEST_RUN(vu_start(&c->p));
	TEST_RUN(check_ready_device(c->path));
	TEST_RUN(check_teardown(&c->p));
	TEST_ASSERT_EQ(vhu_socket_unregister(c->path), 0, "unregister");
	return TEST_SUCCESS;
}

/* Two queue pairs: the second pair is enabled through the control queue. */
VHU_TEST_F(driver, ctrl_virtio_user_mq, vu_ctrl, c)
{
	struct vhu_socket_conf conf;
	uint64_t f = 0;
	int vid;

	TEST_RUN(vu_ctrl_dir(c, "mq.sock"));
	memset(&conf, 0, sizeof(conf));
	conf.path = c->path;
	conf.ops = &vhu_rec_ops;
	conf.max_queue_pairs = 2;
	TEST_ASSERT_EQ(vhu_socket_register(&conf), 0, "register");
	TEST_RUN(vu_create_nq(&c->p, "net_virtio_user10", c->path, 0, 2));
	TEST_RUN(vu_start(&c->p));
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 1, 5000), "no new_device");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.state_calls, 4, 5000), "rings 2 and 3 never reported");
	vid = vhu_rec.vid;
	TEST_ASSERT_EQ(vhu_get_features(vid, &f), 0, "features");
	TEST_ASSERT(f & VHU_BIT(VHU_F_NET_MQ), "MQ negotiated: features 0x%llx",
			(unsigned long long)f);
	TEST_ASSERT_EQ(vhu_get_vring_count(vid), 4, "vrings");
	TEST_ASSERT(vhu_rec.state[2] == 1 && vhu_rec.state[3] == 1, "rings 2/3 reported %d/%d",
			vhu_rec.state[2], vhu_rec.state[3]);
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, 3), 1, "ring 3 runs");
	vu_destroy(&c->p);
	TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, 1, 5000), "no destroy_device");
	TEST_ASSERT_EQ(vhu_socket_unregister(c->path), 0, "unregister");
	return TEST_SUCCESS;
}

/* Create, start and close a virtio-user port against vhu, many times. */
VHU_TEST_F(stress, ctrl_stress_virtio_user_cycles, vu_ctrl, c)
{
	struct vhu_socket_conf conf;
	char name[32];
	int fds0 = -1, thr0 = -1, i;

	TEST_RUN(vu_ctrl_dir(c, "cyc.sock"));
	memset(&conf, 0, sizeof(conf));
	conf.path = c->path;
	conf.ops = &vhu_rec_ops;
	TEST_ASSERT_EQ(vhu_socket_register(&conf), 0, "register");
	for (i = 0; i < 50; i++) {
		if (i == 1) {   /* after one warm-up cycle */
			fds0 = vhu_test_count_fds();
			thr0 = vhu_test_count_threads();
		}
		snprintf(name, sizeof(name), "net_virtio_user%d", 100 + i);
		TEST_RUN(vu_create(&c->p, name, c->path, 0));
		TEST_RUN(vu_start(&c->p));
		TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, i + 1, 5000), "cycle %d: new_device",
				i);
		vu_destroy(&c->p);
		TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, i + 1, 5000),
				"cycle %d: destroy_device", i);
	}
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds0, "fd leak over 49 cycles");
	TEST_ASSERT_EQ(vhu_test_count_threads(), thr0, "thread leak");
	TEST_ASSERT_EQ(vhu_socket_unregister(c->path), 0, "unregister");
	return TEST_SUCCESS;
}
