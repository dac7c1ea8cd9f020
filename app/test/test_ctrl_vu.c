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
	char name[32];
	uint16_t port;
	struct rte_mempool *mp;
};

static int
vu_create(struct vu_port *p, const char *name, const char *path, int server)
{
	char args[256];
	char pool[64];

	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(args, sizeof(args), "path=%s,queues=1,queue_size=256%s", path,
		 server ? ",server=1" : "");
	if (rte_vdev_init(p->name, args) != 0) {
		TEST_LOG("rte_vdev_init(%s, %s) failed", p->name, args);
		return TEST_FAILED;
	}
	TEST_ASSERT(rte_eth_dev_get_port_by_name(p->name, &p->port) == 0, "no port %s", p->name);
	snprintf(pool, sizeof(pool), "mp_%s_%d", name, (int)getpid());
	p->mp = rte_pktmbuf_pool_create(pool, 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	TEST_ASSERT(p->mp != NULL, "mempool");
	return TEST_SUCCESS;
}

static int
vu_start(struct vu_port *p)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	TEST_ASSERT_EQ(rte_eth_dev_configure(p->port, 1, 1, &conf), 0, "configure");
	TEST_ASSERT_EQ(rte_eth_rx_queue_setup(p->port, 0, 256, SOCKET_ID_ANY, NULL, p->mp), 0,
		       "rx queue");
	TEST_ASSERT_EQ(rte_eth_tx_queue_setup(p->port, 0, 256, SOCKET_ID_ANY, NULL), 0,
		       "tx queue");
	TEST_ASSERT_EQ(rte_eth_dev_start(p->port), 0, "start");
	return TEST_SUCCESS;
}

static void
vu_destroy(struct vu_port *p)
{
	rte_eth_dev_stop(p->port);
	rte_eth_dev_close(p->port);
	rte_vdev_uninit(p->name);
	rte_mempool_free(p->mp);
	p->mp = NULL;
}

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

VHU_TEST(driver, ctrl_virtio_user_server)
{
	char dir[64], path[VHU_PATH_MAX];
	struct vhu_socket_conf conf;
	struct vu_port p;
	int fds_before, rc;

	vhu_rec_reset();
	TEST_ASSERT(vhu_test_tmpdir(dir, sizeof(dir)) == 0, "tmpdir");
	snprintf(path, sizeof(path), "%s/vhu.sock", dir);
	fds_before = vhu_test_count_fds();
	memset(&conf, 0, sizeof(conf));
	conf.path = path;
	conf.ops = &vhu_rec_ops;
	TEST_ASSERT_EQ(vhu_socket_register(&conf), 0, "register");
	rc = vu_create(&p, "net_virtio_user7", path, 0);
	if (rc != TEST_SUCCESS) {
		vhu_socket_unregister(path);
		return rc;
	}
	rc = vu_start(&p);
	if (rc == TEST_SUCCESS)
		rc = check_ready_device(path);
	if (rc == TEST_SUCCESS)
		rc = check_teardown(&p);
	else
		vu_destroy(&p);
	TEST_ASSERT_EQ(vhu_socket_unregister(path), 0, "unregister");
	TEST_RUN(rc);
	TEST_ASSERT(access(path, F_OK) != 0, "socket file left behind");
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds_before, "fd leak");
	vhu_test_rmdir(dir);
	return TEST_SUCCESS;
}

/* Client mode, vhu first: it retries until virtio-user listens. */
VHU_TEST(driver, ctrl_virtio_user_client)
{
	char dir[64], path[VHU_PATH_MAX];
	struct vhu_socket_conf conf;
	struct vu_port p;
	int fds_before, rc;

	vhu_rec_reset();
	TEST_ASSERT(vhu_test_tmpdir(dir, sizeof(dir)) == 0, "tmpdir");
	snprintf(path, sizeof(path), "%s/vu.sock", dir);
	fds_before = vhu_test_count_fds();
	memset(&conf, 0, sizeof(conf));
	conf.path = path;
	conf.flags = VHU_SOCK_CLIENT;
	conf.ops = &vhu_rec_ops;
	conf.reconnect_ms = 20;
	TEST_ASSERT_EQ(vhu_socket_register(&conf), 0, "register");
	/* virtio-user in server mode blocks in accept until vhu connects */
	rc = vu_create(&p, "net_virtio_user8", path, 1);
	if (rc != TEST_SUCCESS) {
		vhu_socket_unregister(path);
		return rc;
	}
	rc = vu_start(&p);
	if (rc == TEST_SUCCESS)
		rc = check_ready_device(path);
	if (rc == TEST_SUCCESS)
		rc = check_teardown(&p);
	else
		vu_destroy(&p);
	TEST_ASSERT_EQ(vhu_socket_unregister(path), 0, "unregister");
	TEST_RUN(rc);
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds_before, "fd leak");
	vhu_test_rmdir(dir);
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

VHU_TEST(driver, ctrl_virtio_user_client_late)
{
	char dir[64], path[VHU_PATH_MAX];
	struct late_reg lr;
	struct vu_port p;
	pthread_t t;
	int rc;

	vhu_rec_reset();
	TEST_ASSERT(vhu_test_tmpdir(dir, sizeof(dir)) == 0, "tmpdir");
	snprintf(path, sizeof(path), "%s/vu.sock", dir);
	memset(&lr, 0, sizeof(lr));
	lr.conf.path = path;
	lr.conf.flags = VHU_SOCK_CLIENT;
	lr.conf.ops = &vhu_rec_ops;
	lr.rc = -2;
	TEST_ASSERT_EQ(pthread_create(&t, NULL, late_register, &lr), 0, "thread");
	rc = vu_create(&p, "net_virtio_user9", path, 1);
	pthread_join(t, NULL);
	TEST_ASSERT_EQ(lr.rc, 0, "late register");
	if (rc != TEST_SUCCESS) {
		vhu_socket_unregister(path);
		return rc;
	}
	rc = vu_start(&p);
	if (rc == TEST_SUCCESS)
		rc = check_ready_device(path);
	if (rc == TEST_SUCCESS)
		rc = check_teardown(&p);
	else
		vu_destroy(&p);
	TEST_ASSERT_EQ(vhu_socket_unregister(path), 0, "unregister");
	TEST_RUN(rc);
	vhu_test_rmdir(dir);
	return TEST_SUCCESS;
}
