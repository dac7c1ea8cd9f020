/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu under churn (stress suite): an lcore forwards on the port without
 * pause while front-ends come and go (the device is destroyed under its
 * bursts), and while a dpdk-testpmd front-end flooding the port is killed
 * and restarted. Pass = traffic in every life, nothing crashes, nothing
 * leaks, and the port keeps working.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "test_pmd.h"
#include "vhu_test.h"

extern char **environ;

#define ST_WAIT_MS 20000

static uint64_t
st_now_ms(void)
{
	return rte_get_timer_cycles() * 1000 / rte_get_timer_hz();
}

static struct rte_mempool *
st_pool(void)
{
	static struct rte_mempool *mp;

	if (mp == NULL)
		mp = rte_pktmbuf_pool_create("pmd_st_pool", 8192, 128, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				rte_socket_id());
	return mp;
}

static int
st_wait_link(uint16_t port_id, int up)
{
	struct rte_eth_link link;
	uint64_t end = st_now_ms() + ST_WAIT_MS;

	do {
		if (rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == up)
			return 0;
		usleep(2000);
	} while (st_now_ms() < end);
	return -ETIMEDOUT;
}

/* An lcore that echoes every frame of every rx queue back on the same tx queue. */
struct forwarder {
	uint16_t port_id;
	uint16_t nq;
	volatile int stop;
	uint64_t frames;
	uint64_t bursts;
};

static int
forwarder_main(void *arg)
{
	struct forwarder *f = arg;
	struct rte_mbuf *pkts[32];
	uint16_t q, nb, sent;

	while (!f->stop) {
		for (q = 0; q < f->nq; q++) {
			nb = rte_eth_rx_burst(f->port_id, q, pkts, RTE_DIM(pkts));
			sent = nb ? rte_eth_tx_burst(f->port_id, q, pkts, nb) : 0;
			if (sent < nb)
				rte_pktmbuf_free_bulk(&pkts[sent], nb - sent);
			f->frames += nb;
			f->bursts++;
		}
	}
	return 0;
}

/* The scene plus the forwarder: teardown stops the forwarder before the ports go. */
struct st_env {
	struct pmd_env env;
	struct forwarder f;
};

static int
st_env_setup(void *obj)
{
	struct st_env *s = obj;

	TEST_ASSERT_EQ(pmd_tmpdir(s->env.dir, sizeof(s->env.dir)), 0, "tmpdir");
	return TEST_SUCCESS;
}

static int
st_env_teardown(void *obj, int status)
{
	struct st_env *s = obj;

	RTE_SET_USED(status);
	s->f.stop = 1;
	pmd_env_down(&s->env);
	return TEST_SUCCESS;
}

VHU_FIXTURE(st_env, st_env_setup, st_env_teardown);

VHU_TEST_F(stress, pmd_stress_frontend_churn, st_env, s)
{
	unsigned int lcore = rte_get_next_lcore(-1, 1, 0);
	char sock[128], args[256], name[64];
	struct rte_mbuf *pkts[32];
	uint16_t peer, q;
	uint64_t end, echoed;
	int i, k, fds = -1;

	if (lcore >= RTE_MAX_LCORE)
		return TEST_SKIPPED;
	s->f.nq = 2;
	signal(SIGPIPE, SIG_IGN); /* virtio-user writes without MSG_NOSIGNAL */
	snprintf(sock, sizeof(sock), "%s/churn.sock", s->env.dir);
	snprintf(args, sizeof(args), "iface=%s,queues=2", sock);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_st0", args), 0, "vhu port");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_st0", &s->f.port_id), 0, "port");
	TEST_ASSERT_EQ(pmd_port_setup(s->f.port_id, 2, st_pool(), NULL), 0, "setup");
	TEST_ASSERT_EQ(rte_eth_dev_start(s->f.port_id), 0, "start");
	TEST_ASSERT_EQ(rte_eal_remote_launch(forwarder_main, &s->f, lcore), 0, "forwarder");

	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "net_virtio_user_st%d", i);
		snprintf(args, sizeof(args), "path=%s,queues=2,queue_size=256", sock);
		TEST_ASSERT_EQ(rte_vdev_init(name, args), 0, "front-end %d", i);
		TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name(name, &peer), 0, "peer");
		TEST_ASSERT_EQ(pmd_port_setup(peer, 2, st_pool(), NULL), 0, "peer setup");
		TEST_ASSERT_EQ(rte_eth_dev_start(peer), 0, "peer start");
		TEST_ASSERT_EQ(st_wait_link(s->f.port_id, RTE_ETH_LINK_UP), 0, "link up %d", i);
		/* Keep frames flowing through the forwarder, then pull the device from under it. */
		echoed = 0;
		end = st_now_ms() + 50 + (uint64_t)(i % 5) * 20;
		while (st_now_ms() < end || (echoed == 0 && st_now_ms() < end + ST_WAIT_MS)) {
			for (q = 0; q < 2; q++) {
				uint16_t nb;

				if (rte_pktmbuf_alloc_bulk(st_pool(), pkts, 8) == 0) {
					for (k = 0; k < 8; k++) {
						char *p = rte_pktmbuf_append(pkts[k], 64);

						if (p != NULL)
							memset(p, 0xff, 64);
					}
					nb = rte_eth_tx_burst(peer, q, pkts, 8);
					if (nb < 8)
						rte_pktmbuf_free_bulk(&pkts[nb], 8 - nb);
				}
				nb = rte_eth_rx_burst(peer, q, pkts, RTE_DIM(pkts));
				echoed += nb;
				rte_pktmbuf_free_bulk(pkts, nb);
			}
		}
		TEST_ASSERT(echoed > 0, "front-end %d got frames back", i);
		/* Half the time the front-end leaves, half the time the port stops and starts. */
		if (i % 2 == 0) {
			TEST_ASSERT_EQ(pmd_close(name), 0, "front-end %d leaves", i);
			TEST_ASSERT_EQ(st_wait_link(s->f.port_id, RTE_ETH_LINK_DOWN), 0,
					"link down %d", i);
		} else {
			/* The front-end stops its rings (GET_VRING_BASE) while the lcore bursts. */
			TEST_ASSERT_EQ(rte_eth_dev_stop(peer), 0, "peer stop %d", i);
			TEST_ASSERT_EQ(pmd_close(name), 0, "front-end %d leaves", i);
			TEST_ASSERT_EQ(st_wait_link(s->f.port_id, RTE_ETH_LINK_DOWN), 0,
					"link down %d", i);
		}
		if (i == 1)
			fds = pmd_fds_settled(-1);
	}
	s->f.stop = 1;
	TEST_ASSERT_EQ(rte_eal_wait_lcore(lcore), 0, "forwarder");
	TEST_LOG("%" PRIu64 " frames forwarded in %" PRIu64 " bursts", s->f.frames, s->f.bursts);
	TEST_ASSERT(s->f.frames > 0, "forwarded");
	TEST_ASSERT_EQ(pmd_fds_settled(fds), fds, "no fd leak over 30 front-ends");
	TEST_ASSERT_EQ(pmd_close("net_vhu_st0"), 0, "close");
	return TEST_SUCCESS;
}

/* ---- a front-end process flooding the port, killed and restarted ---- */

static pid_t
flooder_start(const char *sock, const char *log, int n)
{
	char prefix[64], vdev[256];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	char *argv[] = {
		(char *)"/usr/bin/dpdk-testpmd",
		(char *)"--lcores",
		(char *)"0@1,1@1",
		(char *)"--no-huge",
		(char *)"-m",
		(char *)"256",
		(char *)"--no-pci",
		(char *)"--file-prefix",
		prefix,
		(char *)"--vdev",
		vdev,
		(char *)"--log-level=lib.eal:error",
		(char *)"--",
		(char *)"--forward-mode=txonly",
		(char *)"--nb-cores=1",
		(char *)"--total-num-mbufs=2048",
		(char *)"--stats-period=1",
		NULL,
	};

	snprintf(prefix, sizeof(prefix), "vhu-pmd-st-%d-%d", (int)getpid(), n);
	snprintf(vdev, sizeof(vdev), "net_virtio_user0,path=%s,queues=1", sock);
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	pmd_track(pid, prefix);
	return pid;
}

VHU_TEST_F(stress, pmd_stress_frontend_killed, st_env, s)
{
	unsigned int lcore = rte_get_next_lcore(-1, 1, 0);
	char sock[128], args[256], log[160];
	uint64_t before, end;
	pid_t pid;
	int i, status, fds = -1;

	if (lcore >= RTE_MAX_LCORE)
		return TEST_SKIPPED;
	s->f.nq = 1;
	if (access("/usr/bin/dpdk-testpmd", X_OK) != 0) {
		TEST_LOG("dpdk-testpmd not installed");
		return TEST_SKIPPED;
	}
	snprintf(sock, sizeof(sock), "%s/kill.sock", s->env.dir);
	snprintf(args, sizeof(args), "iface=%s", sock);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_st1", args), 0, "vhu port");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_st1", &s->f.port_id), 0, "port");
	TEST_ASSERT_EQ(pmd_port_setup(s->f.port_id, 1, st_pool(), NULL), 0, "setup");
	TEST_ASSERT_EQ(rte_eth_dev_start(s->f.port_id), 0, "start");
	TEST_ASSERT_EQ(rte_eal_remote_launch(forwarder_main, &s->f, lcore), 0, "forwarder");

	for (i = 0; i < 5; i++) {
		snprintf(log, sizeof(log), "%s/flood%d.log", s->env.dir, i);
		pid = flooder_start(sock, log, i);
		TEST_ASSERT(pid > 0, "spawn");
		if (st_wait_link(s->f.port_id, RTE_ETH_LINK_UP) != 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			pmd_untrack(pid);
			TEST_ASSERT(0, "link up with flooder %d", i);
		}
		/* Frames arrive (the flooder transmits as fast as it can), then it dies mid-flood. */
		before = s->f.frames;
		end = st_now_ms() + ST_WAIT_MS;
		while (s->f.frames - before < 10000 && st_now_ms() < end)
			usleep(1000);
		TEST_ASSERT(s->f.frames - before >= 10000, "flooder %d: %" PRIu64 " frames", i,
				s->f.frames - before);
		kill(pid, SIGKILL);
		TEST_ASSERT_EQ(waitpid(pid, &status, 0), pid, "reaped");
		pmd_untrack(pid);
		TEST_ASSERT_EQ(st_wait_link(s->f.port_id, RTE_ETH_LINK_DOWN), 0, "link down %d", i);
		if (i == 0)
			fds = pmd_fds_settled(-1);
	}
	s->f.stop = 1;
	TEST_ASSERT_EQ(rte_eal_wait_lcore(lcore), 0, "forwarder");
	TEST_LOG("%" PRIu64 " frames in %" PRIu64 " bursts", s->f.frames, s->f.bursts);
	TEST_ASSERT_EQ(pmd_fds_settled(fds), fds, "no fd leak over 5 killed front-ends");
	TEST_ASSERT_EQ(pmd_close("net_vhu_st1"), 0, "close");
	TEST_ASSERT(!pmd_file_exists(sock), "socket removed");
	return TEST_SUCCESS;
}
