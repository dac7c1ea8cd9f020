/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu with a front-end in another process (driver suite): Debian's
 * dpdk-testpmd with a virtio-user port in io forwarding mode echoes what
 * our port sends. The front-end process is stopped (SIGINT), killed
 * (SIGKILL) and restarted; the port stays and carries traffic again.
 * The port also carries traffic both ways after the application stops
 * polling it and starts again as testpmd's "stop"/"start" do.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "rte_pmd_vhu.h"
#include "test_pmd.h"
#include "vhu.h"
#include "vhu_test.h"

extern char **environ;

#define TP_WAIT_MS 20000

static uint64_t
tp_now_ms(void)
{
	return rte_get_timer_cycles() * 1000 / rte_get_timer_hz();
}

static const char *
testpmd_path(void)
{
	static const char *const paths[] = { "/usr/bin/dpdk-testpmd",
		"/usr/local/bin/dpdk-testpmd" };
	unsigned int i;

	for (i = 0; i < RTE_DIM(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/*
 * Start dpdk-testpmd with a virtio-user port on sock, io forwarding, nq queue
 * pairs; extra is appended to the virtio-user devargs (server=1,
 * packed_vq=1, ...). Its output goes to log.
 */
static pid_t
testpmd_start_args(const char *sock, const char *log, int n, unsigned int nq, const char *extra)
{
	char prefix[64], vdev[256], rxq[32], txq[32], mbufs[40];
	posix_spawn_file_actions_t fa;
	const char *tp = testpmd_path();
	pid_t pid;
	char *argv[] = {
		(char *)tp,
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
		(char *)"--forward-mode=io",
		(char *)"--nb-cores=1",
		mbufs,
		(char *)"--stats-period=1",
		rxq,
		txq,
		NULL,
	};

	snprintf(prefix, sizeof(prefix), "vhu-pmd-tp-%d-%d", (int)getpid(), n);
	snprintf(vdev, sizeof(vdev), "net_virtio_user0,path=%s,queues=%u,queue_size=256%s%s", sock,
			nq, extra[0] != '\0' ? "," : "", extra);
	/* enough for every ring of every queue pair, twice over */
	snprintf(mbufs, sizeof(mbufs), "--total-num-mbufs=%u", 2048 * nq);
	snprintf(rxq, sizeof(rxq), "--rxq=%u", nq);
	snprintf(txq, sizeof(txq), "--txq=%u", nq);
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&pid, tp, &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	pmd_track(pid, prefix);
	return pid;
}

static pid_t
testpmd_start(const char *sock, const char *log, int n)
{
	return testpmd_start_args(sock, log, n, 1, "");
}

/* Signal the child and reap it, within the time bound (SIGKILL after). */
static int
testpmd_stop(pid_t pid, int sig)
{
	uint64_t end = tp_now_ms() + TP_WAIT_MS;
	int status;

	kill(pid, sig);
	while (tp_now_ms() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			pmd_untrack(pid);
			return 0;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	pmd_untrack(pid);
	return -ETIMEDOUT;
}

/* The last lines of the front-end's log, to see why a test failed. */
static void
log_tail(const char *log)
{
	static char lines[40][256];
	unsigned int n = 0, i;
	FILE *f = fopen(log, "r");

	if (f == NULL)
		return;
	while (fgets(lines[n % RTE_DIM(lines)], sizeof(lines[0]), f) != NULL)
		n++;
	fclose(f);
	for (i = n > RTE_DIM(lines) ? n - RTE_DIM(lines) : 0; i < n; i++)
		fprintf(stderr, "    | %s", lines[i % RTE_DIM(lines)]);
}

/* testpmd flushes its rx queues when forwarding starts: send only after its first stats report. */
static int
wait_forwarding(const char *log, pid_t pid)
{
	uint64_t end = tp_now_ms() + TP_WAIT_MS;
	char line[512];
	FILE *f;
	int found;

	while (tp_now_ms() < end) {
		found = 0;
		f = fopen(log, "r");
		if (f != NULL) {
			while (!found && fgets(line, sizeof(line), f) != NULL)
				found = strstr(line, "Port statistics") != NULL;
			fclose(f);
		}
		if (found)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			pmd_untrack(pid);
			return -ECHILD;
		}
		usleep(20000);
	}
	return -ETIMEDOUT;
}

static int
tp_wait_link(uint16_t port_id, int up)
{
	struct rte_eth_link link;
	uint64_t end = tp_now_ms() + TP_WAIT_MS;

	do {
		if (rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == up)
			return 0;
		usleep(10000);
	} while (tp_now_ms() < end);
	return -ETIMEDOUT;
}

static struct rte_mempool *
tp_pool(void)
{
	static struct rte_mempool *mp;

	if (mp == NULL)
		mp = rte_pktmbuf_pool_create("pmd_tp_pool", 4096, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				rte_socket_id());
	return mp;
}

/*
 * Send n frames of distinct sizes and contents; testpmd sends each back.
 * Checks every frame that returns; returns how many came back intact.
 */
static int
echo_round_q(uint16_t port_id, uint16_t qid, unsigned int n, unsigned int round)
{
	uint64_t end = tp_now_ms() + TP_WAIT_MS;
	struct rte_mbuf *m, *pkts[32];
	unsigned int sent = 0, back = 0, i, j, bad = 0;
	uint8_t *p, buf[2048];
	const uint8_t *q;
	uint16_t len, nb;

	while ((sent < n || back < n) && tp_now_ms() < end) {
		if (sent < n) {
			len = (uint16_t)(64 + (sent * 37) % 1400);
			m = rte_pktmbuf_alloc(tp_pool());
			if (m == NULL)
				return -ENOMEM;
			p = (uint8_t *)rte_pktmbuf_append(m, len);
			if (p == NULL) {
				rte_pktmbuf_free(m);
				return -ENOMEM;
			}
			memset(p, 0xff, 6); /* broadcast: no MAC filter on the way */
			memset(p + 6, 0x02, 6);
			p[12] = 0x88;
			p[13] = 0xb5;
			p[14] = (uint8_t)sent; /* sequence */
			p[15] = (uint8_t)round;
			for (j = 16; j < len; j++)
				p[j] = (uint8_t)(j ^ sent);
			if (rte_eth_tx_burst(port_id, qid, &m, 1) == 1)
				sent++;
			else
				rte_pktmbuf_free(m);
		}
		nb = rte_eth_rx_burst(port_id, qid, pkts, RTE_DIM(pkts));
		for (i = 0; i < nb; i++) {
			q = rte_pktmbuf_read(pkts[i], 0, rte_pktmbuf_pkt_len(pkts[i]), buf);
			len = (uint16_t)rte_pktmbuf_pkt_len(pkts[i]);
			if (q == NULL || len < 16 || q[12] != 0x88 || q[13] != 0xb5 ||
					q[15] != (uint8_t)round) {
				rte_pktmbuf_free(pkts[i]);
				continue; /* not ours (or an older round) */
			}
			if (len != (uint16_t)(64 + (q[14] * 37u) % 1400))
				bad++;
			for (j = 16; j < len; j++)
				if (q[j] != (uint8_t)(j ^ q[14])) {
					bad++;
					break;
				}
			back++;
			rte_pktmbuf_free(pkts[i]);
		}
		if (nb == 0)
			usleep(50);
	}
	if (bad != 0) {
		TEST_LOG("%u frames came back altered", bad);
		return -EIO;
	}
	return (int)back;
}

static int
echo_round(uint16_t port_id, unsigned int n, unsigned int round)
{
	return echo_round_q(port_id, 0, n, round);
}

VHU_TEST_F(driver, pmd_testpmd_peer, pmd_env, e)
{
	char sock[128], log[160], args[256];
	struct rte_eth_stats st;
	uint16_t port_id;
	pid_t pid;
	int back, i;

	if (testpmd_path() == NULL) {
		TEST_LOG("dpdk-testpmd not installed");
		return TEST_SKIPPED;
	}
	snprintf(sock, sizeof(sock), "%s/tp.sock", e->dir);
	snprintf(args, sizeof(args), "iface=%s", sock);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_tp0", args), 0, "vhu port");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_tp0", &port_id), 0, "port");
	TEST_ASSERT_EQ(pmd_port_setup(port_id, 1, tp_pool(), NULL), 0, "setup");
	TEST_ASSERT_EQ(rte_eth_dev_start(port_id), 0, "start");

	/* Three front-end lives: stopped politely, killed, stopped politely. */
	for (i = 0; i < 3; i++) {
		snprintf(log, sizeof(log), "%s/testpmd%d.log", e->dir, i); /* one per life */
		pid = testpmd_start(sock, log, i);
		TEST_ASSERT(pid > 0, "spawn testpmd");
		if (tp_wait_link(port_id, RTE_ETH_LINK_UP) != 0) {
			testpmd_stop(pid, SIGINT);
			log_tail(log);
			TEST_ASSERT(0, "link up with testpmd %d", i);
		}
		if (wait_forwarding(log, pid) != 0) {
			testpmd_stop(pid, SIGINT);
			log_tail(log);
			TEST_ASSERT(0, "testpmd %d did not start forwarding", i);
		}
		back = echo_round(port_id, 64, (unsigned int)i);
		if (back != 64) {
			testpmd_stop(pid, SIGINT);
			log_tail(log);
			TEST_ASSERT_EQ(back, 64, "frames echoed by testpmd %d", i);
		}
		TEST_ASSERT_EQ(testpmd_stop(pid, i == 1 ? SIGKILL : SIGINT), 0, "testpmd %d ends",
				i);
		TEST_ASSERT_EQ(tp_wait_link(port_id, RTE_ETH_LINK_DOWN), 0, "link down %d", i);
	}
	TEST_ASSERT_EQ(rte_eth_stats_get(port_id, &st), 0, "stats");
	TEST_ASSERT(st.opackets >= 3 * 64, "opackets %" PRIu64, st.opackets);
	TEST_ASSERT(st.ipackets >= 3 * 64, "ipackets %" PRIu64, st.ipackets);
	TEST_ASSERT_EQ(pmd_close("net_vhu_tp0"), 0, "close");
	TEST_ASSERT(!pmd_file_exists(sock), "socket removed");
	return TEST_SUCCESS;
}

/*
 * Our port in client mode, the front-end a virtio-user in server mode
 * (server=1, the usual container set-up). The back-end is "relaunched":
 * the port is removed and created again, as a restarted vSwitch would. DPDK
 * 22.11's virtio-user then resumes without SET_OWNER (it stops the rings
 * with SET_VRING_ENABLE 0 and GET_VRING_BASE first); if that session is
 * refused, the front-end writes to the closed socket and dies of SIGPIPE.
 * The front-end must live on and echo frames on every queue pair after
 * each relaunch, for both ring layouts and 1, 2 and 8 queue pairs.
 */
static int
relaunch_port(const char *sock, uint16_t nq, uint16_t *port_id)
{
	char args[256];

	snprintf(args, sizeof(args), "iface=%s,client=1,queues=%u", sock, nq);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_tpr0", args), 0, "vhu port");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_tpr0", port_id), 0, "port");
	TEST_ASSERT_EQ(pmd_port_setup(*port_id, nq, tp_pool(), NULL), 0, "setup");
	TEST_ASSERT_EQ(rte_eth_dev_start(*port_id), 0, "start");
	return TEST_SUCCESS;
}

/* The port's non-zero extended counters of queue q (to see where frames stopped). */
static void
dump_queue_xstats(uint16_t port_id, unsigned int q)
{
	struct rte_eth_xstat_name names[512];
	struct rte_eth_xstat vals[512];
	char tag[16];
	int n, i;

	n = rte_eth_xstats_get_names(port_id, names, RTE_DIM(names));
	if (n <= 0 || n > (int)RTE_DIM(names) || rte_eth_xstats_get(port_id, vals, n) != n)
		return;
	snprintf(tag, sizeof(tag), "q%u_", q);
	for (i = 0; i < n; i++)
		if (vals[i].value != 0 && strstr(names[i].name, tag) != NULL)
			TEST_LOG("  %s = %" PRIu64, names[i].name, vals[i].value);
}

/* Every vring of the port's nq queue pairs active (the front-end enables pairs after the first). */
static int
wait_rings(uint16_t port_id, unsigned int nq)
{
	uint64_t end = tp_now_ms() + TP_WAIT_MS;
	unsigned int v;
	int vid;

	do {
		vid = vhu_eth_get_vid(port_id);
		for (v = 0; vid >= 0 && v < 2 * nq; v++)
			if (vhu_vring_is_active(vid, (uint16_t)v) != 1)
				break;
		if (vid >= 0 && v == 2 * nq)
			return 0;
		usleep(10000);
	} while (tp_now_ms() < end);
	return -ETIMEDOUT;
}

static int
relaunch_case(const char *dir, unsigned int nq, bool packed, int n)
{
	char sock[128], log[160];
	unsigned int life, q;
	uint16_t port_id;
	int back, rc = TEST_SUCCESS;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/srv%d.sock", dir, n);
	snprintf(log, sizeof(log), "%s/srv%d.log", dir, n);
	pid = testpmd_start_args(
			sock, log, 100 + n, nq, packed ? "server=1,packed_vq=1" : "server=1");
	TEST_ASSERT(pid > 0, "spawn testpmd");
	/* three back-end lives on one front-end life */
	for (life = 0; life < 3 && rc == TEST_SUCCESS; life++) {
		rc = relaunch_port(sock, (uint16_t)nq, &port_id);
		if (rc != TEST_SUCCESS)
			break;
		if (tp_wait_link(port_id, RTE_ETH_LINK_UP) != 0) {
			TEST_LOG("%s, %u queue pairs, life %u: no link",
					packed ? "packed" : "split", nq, life);
			rc = TEST_FAILED;
		}
		if (rc == TEST_SUCCESS && wait_rings(port_id, nq) != 0) {
			TEST_LOG("%u queue pairs, life %u: rings not all enabled", nq, life);
			rc = TEST_FAILED;
		}
		if (rc == TEST_SUCCESS && life == 0 && wait_forwarding(log, pid) != 0) {
			TEST_LOG("testpmd did not start forwarding");
			rc = TEST_FAILED;
		}
		for (q = 0; q < nq && rc == TEST_SUCCESS; q++) {
			back = echo_round_q(port_id, (uint16_t)q, 32, life * 16 + q);
			if (back != 32) {
				TEST_LOG("%s, %u queue pairs, life %u, queue %u: %d of 32 echoed",
						packed ? "packed" : "split", nq, life, q, back);
				dump_queue_xstats(port_id, q);
				rc = TEST_FAILED;
			}
		}
		if (pmd_close("net_vhu_tpr0") != 0) {
			TEST_LOG("close");
			rc = TEST_FAILED;
		}
		if (rc == TEST_SUCCESS && waitpid(pid, NULL, WNOHANG) == pid) {
			TEST_LOG("the front-end died after back-end life %u", life);
			pmd_untrack(pid);
			pid = -1;
			rc = TEST_FAILED;
		}
	}
	if (pid > 0 && testpmd_stop(pid, SIGINT) != 0 && rc == TEST_SUCCESS) {
		TEST_LOG("testpmd did not end");
		rc = TEST_FAILED;
	}
	if (rc != TEST_SUCCESS)
		log_tail(log);
	return rc;
}

VHU_TEST_F(driver, pmd_testpmd_backend_relaunch, pmd_env, e)
{
	static const unsigned int queues[] = { 1, 2, 8 };
	unsigned int i, p;

	if (testpmd_path() == NULL) {
		TEST_LOG("dpdk-testpmd not installed");
		return TEST_SKIPPED;
	}
	for (p = 0; p < 2; p++)
		for (i = 0; i < RTE_DIM(queues); i++)
			TEST_RUN(relaunch_case(e->dir, queues[i], p == 1, (int)(p * 8 + i)));
	return TEST_SUCCESS;
}

/*
 * What dpdk-testpmd's "stop" then "start" does to a port it forwards on,
 * with the front-end still running: the lcore stops polling (frames pile
 * up both ways), then "start" empties every rx queue with bursts of 512
 * (more than the ring holds) before forwarding again. The port must carry
 * frames both ways afterwards; then the same across a port stop/start.
 */
static void
tp_flush_like_testpmd(uint16_t port_id)
{
	struct rte_mbuf *pkts[512];
	uint64_t end;
	uint16_t nb;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		end = tp_now_ms() + 1000;
		do {
			nb = rte_eth_rx_burst(port_id, 0, pkts, RTE_DIM(pkts));
			rte_pktmbuf_free_bulk(pkts, nb);
		} while (nb > 0 && tp_now_ms() < end);
		rte_delay_ms(10);
	}
}

/* Frames for the front-end to echo while nobody polls our rx queue. */
static void
tp_send_unpolled(uint16_t port_id, unsigned int n)
{
	struct rte_mbuf *m;
	unsigned int i;
	uint8_t *p;

	for (i = 0; i < n; i++) {
		m = rte_pktmbuf_alloc(tp_pool());
		if (m == NULL)
			return;
		p = (uint8_t *)rte_pktmbuf_append(m, 64);
		if (p == NULL) {
			rte_pktmbuf_free(m);
			return;
		}
		memset(p, 0xff, 6);
		memset(p + 6, 0x02, 6);
		p[12] = 0x88;
		p[13] = 0xb5;
		memset(p + 14, 0xee, 64 - 14); /* round 0xee: never checked */
		if (rte_eth_tx_burst(port_id, 0, &m, 1) != 1)
			rte_pktmbuf_free(m);
	}
}

static int
pause_resume_case(const char *dir, const char *extra, int n)
{
	char sock[128], log[160], args[256];
	struct rte_eth_stats before, after;
	uint16_t port_id;
	int back, rc = TEST_FAILED;
	unsigned int round;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/pr%d.sock", dir, n);
	snprintf(log, sizeof(log), "%s/pr%d.log", dir, n);
	snprintf(args, sizeof(args), "iface=%s", sock);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_tps0", args), 0, "vhu port");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_tps0", &port_id), 0, "port");
	TEST_ASSERT_EQ(pmd_port_setup(port_id, 1, tp_pool(), NULL), 0, "setup");
	TEST_ASSERT_EQ(rte_eth_dev_start(port_id), 0, "start");
	pid = testpmd_start_args(sock, log, 200 + n, 1, extra);
	if (pid <= 0) {
		TEST_LOG("spawn testpmd");
		goto out;
	}
	if (tp_wait_link(port_id, RTE_ETH_LINK_UP) != 0 || wait_forwarding(log, pid) != 0) {
		TEST_LOG("[%s] no link or testpmd not forwarding", extra);
		goto out;
	}
	for (round = 0; round < 4; round++) {
		if (round == 1 || round == 3) {
			/* forwarding "stop": frames pile up, nobody polls */
			tp_send_unpolled(port_id, 512);
			rte_delay_ms(200);
		}
		if (round == 2 || round == 3) {
			/* "port stop 0" / "port start 0" */
			if (rte_eth_dev_stop(port_id) != 0 || rte_eth_dev_start(port_id) != 0) {
				TEST_LOG("[%s] port stop/start", extra);
				goto out;
			}
		}
		if (round != 0)
			tp_flush_like_testpmd(port_id); /* forwarding "start" */
		rte_eth_stats_get(port_id, &before);
		back = echo_round(port_id, 64, 0x40 + round);
		rte_eth_stats_get(port_id, &after);
		if (back != 64) {
			TEST_LOG("[%s] round %u: %d of 64 echoed, port sent %" PRIu64
				 ", received %" PRIu64 ", tx errors %" PRIu64,
					extra, round, back, after.opackets - before.opackets,
					after.ipackets - before.ipackets,
					after.oerrors - before.oerrors);
			goto out;
		}
	}
	rc = TEST_SUCCESS;
out:
	if (pid > 0 && testpmd_stop(pid, SIGINT) != 0 && rc == TEST_SUCCESS) {
		TEST_LOG("testpmd did not end");
		rc = TEST_FAILED;
	}
	if (rc != TEST_SUCCESS && pid > 0)
		log_tail(log);
	if (pmd_close("net_vhu_tps0") != 0 && rc == TEST_SUCCESS) {
		TEST_LOG("close");
		rc = TEST_FAILED;
	}
	return rc;
}

VHU_TEST_F(driver, pmd_testpmd_pause_resume, pmd_env, e)
{
	static const char *const extra[] = { "", "mrg_rxbuf=0", "packed_vq=1",
		"packed_vq=1,mrg_rxbuf=0" };
	unsigned int i;

	if (testpmd_path() == NULL) {
		TEST_LOG("dpdk-testpmd not installed");
		return TEST_SKIPPED;
	}
	for (i = 0; i < RTE_DIM(extra); i++)
		TEST_RUN(pause_resume_case(e->dir, extra[i], (int)i));
	return TEST_SUCCESS;
}
