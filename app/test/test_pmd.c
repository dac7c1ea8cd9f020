/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu without a front-end (fast suite): the devargs table and parser,
 * the mapping to the socket registration, probe failures, and port life
 * (probe, configure, start, stop, close, hot-plug, many ports) through
 * rte_ethdev and the vdev bus. The tests with a DPDK virtio-user peer are
 * in test_pmd_peer.c.
 */

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "rte_pmd_vhu.h"
#include "test_pmd.h"
#include "vhu_ethdev.h"
#include "vhu_proto.h"
#include "vhu_test.h"

/* ---- helpers shared with test_pmd_peer.c ---- */

int
pmd_tmpdir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/vhu-pmd-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

void
pmd_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int
pmd_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream itself */
}

int
pmd_fds_settled(int want)
{
	int n = pmd_count_fds(), same = 0, waited;

	/*
	 * A closed connection may still be in its last steps on the control
	 * thread, which a loaded machine can hold back for a while: up to 5 s
	 * for the count to reach want, and a baseline (want -1) only once it
	 * stayed the same for 200 ms.
	 */
	for (waited = 0; waited < 5000 && n != want && same < 20; waited += 10) {
		int again;

		rte_delay_us_sleep(10 * 1000);
		again = pmd_count_fds();
		same = again == n ? same + 1 : 0;
		n = again;
	}
	return n;
}

bool
pmd_file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

size_t
pmd_heap_used(void)
{
	struct rte_malloc_socket_stats st;
	size_t used = 0;
	int s;

	for (s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats(s, &st) == 0)
			used += st.heap_allocsz_bytes;
	return used;
}

int
pmd_port_setup(uint16_t port_id, uint16_t nq, struct rte_mempool *mp,
		const struct rte_eth_conf *conf)
{
	struct rte_eth_conf def;
	uint16_t q;
	int rc;

	if (conf == NULL) {
		memset(&def, 0, sizeof(def));
		conf = &def;
	}
	rc = rte_eth_dev_configure(port_id, nq, nq, conf);
	if (rc != 0)
		return rc;
	for (q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, 256, rte_socket_id(), NULL, mp);
		if (rc != 0)
			return rc;
		rc = rte_eth_tx_queue_setup(port_id, q, 256, rte_socket_id(), NULL);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
pmd_close(const char *name)
{
	uint16_t port_id;

	if (rte_eth_dev_get_port_by_name(name, &port_id) != 0)
		return -ENODEV;
	rte_eth_dev_stop(port_id);
	return rte_vdev_uninit(name);
}

/* ---- the pmd_env fixture ---- */

#define PMD_MAX_TRACKED 16

static struct {
	pid_t pid;       /* 0: reaped */
	char prefix[64]; /* "": none */
} tracked[PMD_MAX_TRACKED];
static unsigned int ntracked;

void
pmd_track(pid_t pid, const char *eal_prefix)
{
	if (pid <= 0 || ntracked == PMD_MAX_TRACKED)
		return;
	tracked[ntracked].pid = pid;
	snprintf(tracked[ntracked].prefix, sizeof(tracked[0].prefix), "%s",
			eal_prefix != NULL ? eal_prefix : "");
	ntracked++;
}

void
pmd_untrack(pid_t pid)
{
	unsigned int i;

	for (i = 0; i < ntracked; i++)
		if (tracked[i].pid == pid)
			tracked[i].pid = 0;
}

/* Close the ports whose name starts (front_ends) or does not start with net_virtio_user. */
static void
close_ports(bool front_ends)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	uint16_t port_id;
	bool again = true;

	/* closing a port changes the list: start over after each */
	while (again) {
		again = false;
		RTE_ETH_FOREACH_DEV (port_id) {
			if (rte_eth_dev_get_name_by_port(port_id, name) != 0)
				continue;
			if ((strncmp(name, "net_virtio_user", 15) == 0) != front_ends)
				continue;
			if (pmd_close(name) == 0) {
				again = true;
				break;
			}
		}
	}
}

void
pmd_close_all(void)
{
	close_ports(true);
	close_ports(false);
}

void
pmd_env_down(struct pmd_env *e)
{
	unsigned int i;

	/* a job left on a worker lcore ends within its own bound */
	rte_eal_mp_wait_lcore();
	for (i = 0; i < ntracked; i++) {
		if (tracked[i].pid > 0) {
			kill(tracked[i].pid, SIGKILL);
			waitpid(tracked[i].pid, NULL, 0);
		}
		if (tracked[i].prefix[0] != '\0')
			vhu_test_eal_remove(tracked[i].prefix);
	}
	ntracked = 0;
	pmd_close_all();
	if (e->dir[0] != '\0')
		pmd_rmdir(e->dir);
	e->dir[0] = '\0';
}

static int
pmd_env_setup(void *obj)
{
	struct pmd_env *e = obj;

	TEST_ASSERT_EQ(pmd_tmpdir(e->dir, sizeof(e->dir)), 0, "tmpdir");
	return TEST_SUCCESS;
}

static int
pmd_env_teardown(void *obj, int status)
{
	RTE_SET_USED(status);
	pmd_env_down(obj);
	return TEST_SUCCESS;
}

const struct vhu_test_fixture vhu_fixture_pmd_env =
		VHU_FIXTURE_INIT(pmd_env, pmd_env_setup, pmd_env_teardown);

/* ---- devargs parser ---- */

static int
parse_ok(const char *args, struct vhu_eth_devargs *a)
{
	char err[512];
	int rc = vhu_eth_devargs_parse(args, a, err, sizeof(err));

	if (rc != 0)
		TEST_LOG("'%s' refused: %s", args, err);
	return rc;
}

VHU_TEST(fast, pmd_devargs_valid)
{
	struct vhu_eth_devargs a;
	struct vhu_socket_conf c;
	char err[256];

	TEST_ASSERT_EQ(parse_ok("iface=/tmp/x.sock", &a), 0, "iface alone");
	TEST_ASSERT(strcmp(a.iface, "/tmp/x.sock") == 0, "iface %s", a.iface);
	TEST_ASSERT_EQ(vhu_eth_devargs_queues(&a), 1, "default queues");
	TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &c, err, sizeof(err)), 0, "%s", err);
	TEST_ASSERT(strcmp(c.path, "/tmp/x.sock") == 0, "conf path");
	TEST_ASSERT_EQ(c.flags, VHU_SOCK_PACKED, "by default only the packed ring, as net_vhost");
	TEST_ASSERT_EQ(c.max_queue_pairs, 1, "one pair");
	TEST_ASSERT_EQ(c.mtu, 0, "MTU not offered");
	TEST_ASSERT(!c.mac_set, "MAC not offered");
	/* tso absent: host TSO withdrawn, as net_vhost does. */
	TEST_ASSERT(c.features_disable & (1ull << VHU_F_NET_HOST_TSO4), "tso off by default");
	TEST_ASSERT(c.features_disable & (1ull << VHU_F_NET_HOST_TSO6), "tso off by default");

	TEST_ASSERT_EQ(parse_ok("iface=/tmp/y.sock,queues=128,client=1,reconnect=250,"
				"iommu-support=0,postcopy-support=0,tso=1,linear-buffer=1,"
				"ext-buffer=1,legacy-ol-flags=1,mac=02:11:22:33:44:55,mtu=9000,"
				"packed=0,in-order=1,mrg-rxbuf=0,csum=1,ufo=1",
				       &a),
			0, "every key");
	TEST_ASSERT_EQ(vhu_eth_devargs_queues(&a), 128, "queues");
	TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &c, err, sizeof(err)), 0, "%s", err);
	TEST_ASSERT_EQ(c.max_queue_pairs, 128, "pairs");
	TEST_ASSERT_EQ(c.flags,
			VHU_SOCK_CLIENT | VHU_SOCK_LINEAR_BUF | VHU_SOCK_EXT_BUF |
					VHU_SOCK_LEGACY_OL_FLAGS,
			"flags 0x%llx", (unsigned long long)c.flags);
	TEST_ASSERT_EQ(c.reconnect_ms, 250, "reconnect");
	TEST_ASSERT_EQ(c.mtu, 9000, "mtu");
	TEST_ASSERT(c.mac_set && c.mac.addr_bytes[0] == 0x02 && c.mac.addr_bytes[5] == 0x55, "mac");
	TEST_ASSERT(c.features_enable & (1ull << VHU_F_NET_HOST_TSO4), "tso=1");
	TEST_ASSERT(c.features_enable & (1ull << VHU_F_IN_ORDER), "in-order=1");
	TEST_ASSERT(c.features_enable & (1ull << VHU_F_NET_CSUM), "csum=1");
	TEST_ASSERT(c.features_enable & (1ull << VHU_F_NET_GUEST_CSUM), "csum=1");
	TEST_ASSERT(c.features_disable & (1ull << VHU_F_NET_MRG_RXBUF), "mrg-rxbuf=0");
	TEST_ASSERT_EQ(c.features_enable & c.features_disable, 0, "no bit both ways");

	/* The other values of each 0/1 key. */
	TEST_ASSERT_EQ(parse_ok("iface=a,client=0,tso=0,linear-buffer=0,ext-buffer=0,"
				"legacy-ol-flags=0,packed=0,in-order=0,mrg-rxbuf=1,csum=0,"
				"queues=1,mtu=68",
				       &a),
			0, "zeros");
	TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &c, err, sizeof(err)), 0, "%s", err);
	TEST_ASSERT_EQ(c.flags, 0, "no flags");
	TEST_ASSERT(c.features_disable & (1ull << VHU_F_RING_PACKED), "packed=0");
	TEST_ASSERT(c.features_disable & (1ull << VHU_F_IN_ORDER), "in-order=0");
	TEST_ASSERT(c.features_enable & (1ull << VHU_F_NET_MRG_RXBUF), "mrg-rxbuf=1");
	TEST_ASSERT(c.features_disable & (1ull << VHU_F_NET_CSUM), "csum=0");
	TEST_ASSERT(c.features_disable & (1ull << VHU_F_NET_GUEST_TSO4), "csum=0 drops TSO");
	TEST_ASSERT_EQ(c.mtu, 68, "smallest MTU");

	/* Client mode without reconnect, client with reconnect=0, largest values. */
	TEST_ASSERT_EQ(parse_ok("iface=a,client=1", &a), 0, "client");
	TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &c, err, sizeof(err)), 0, "%s", err);
	TEST_ASSERT_EQ(c.flags, VHU_SOCK_CLIENT | VHU_SOCK_PACKED,
			"client, library reconnect default");
	TEST_ASSERT_EQ(parse_ok("iface=a,client=1,reconnect=0", &a), 0, "no reconnect");
	TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &c, err, sizeof(err)), 0, "%s", err);
	TEST_ASSERT_EQ(c.flags, VHU_SOCK_CLIENT | VHU_SOCK_NO_RECONNECT | VHU_SOCK_PACKED,
			"reconnect=0");
	TEST_ASSERT_EQ(parse_ok("iface=a,client=1,reconnect=60000,mtu=65517", &a), 0, "max");
	TEST_ASSERT_EQ(a.val[VHU_ETH_ARG_RECONNECT], 60000, "reconnect max");
	TEST_ASSERT_EQ(a.val[VHU_ETH_ARG_MTU], 65517, "mtu max");
	/* Both MAC spellings rte_ether_unformat_addr knows. */
	TEST_ASSERT_EQ(parse_ok("iface=a,mac=0211:2233:4455", &a), 0, "three-group MAC");
	TEST_ASSERT_EQ(a.mac.addr_bytes[1], 0x11, "mac byte");
	/* A path of 107 bytes is the longest that fits sun_path. */
	{
		char args[160] = "iface=";

		memset(args + 6, 'p', VHU_PATH_MAX - 1);
		args[6 + VHU_PATH_MAX - 1] = '\0';
		TEST_ASSERT_EQ(parse_ok(args, &a), 0, "107-byte path");
	}
	return TEST_SUCCESS;
}

struct bad_case {
	const char *args;
	const char *expect[3]; /* substrings the message must contain */
};

VHU_TEST(fast, pmd_devargs_invalid)
{
	static const struct bad_case cases[] = {
		{ "", { "iface", "required", NULL } },
		{ "queues=2", { "iface", "missing", NULL } },
		{ "iface=", { "iface", "empty", NULL } },
		{ "iface=a,queues=300", { "queues", "300", "1-128" } },
		{ "iface=a,queues=0", { "queues", "0", "1-128" } },
		{ "iface=a,queues=-1", { "queues", "-1", "1-128" } },
		{ "iface=a,queues=2x", { "queues", "2x", "1-128" } },
		{ "iface=a,queues= 2", { "queues", " 2", "1-128" } },
		{ "iface=a,queues=99999999999", { "queues", "99999999999", "1-128" } },
		{ "iface=a,queues", { "queues", "no value", "1-128" } },
		{ "iface=a,client=2", { "client", "2", "<0|1>" } },
		{ "iface=a,client=yes", { "client", "yes", "<0|1>" } },
		{ "iface=a,tso=01x", { "tso", "01x", "<0|1>" } },
		{ "iface=a,iommu-support=3", { "iommu-support", "3", "<0|1>" } },
		{ "iface=a,postcopy-support=x", { "postcopy-support", "x", "<0|1>" } },
		{ "iface=a,linear-buffer=2", { "linear-buffer", "2", "<0|1>" } },
		{ "iface=a,ext-buffer=-", { "ext-buffer", "-", "<0|1>" } },
		{ "iface=a,legacy-ol-flags=5", { "legacy-ol-flags", "5", "<0|1>" } },
		{ "iface=a,packed=on", { "packed", "on", "<0|1>" } },
		{ "iface=a,in-order=9", { "in-order", "9", "<0|1>" } },
		{ "iface=a,mrg-rxbuf=", { "mrg-rxbuf", "decimal", "<0|1>" } },
		{ "iface=a,csum=2", { "csum", "2", "<0|1>" } },
		{ "iface=a,mtu=67", { "mtu", "67", "68-65517" } },
		{ "iface=a,mtu=65518", { "mtu", "65518", "68-65517" } },
		{ "iface=a,mac=01:00:5e:00:00:01", { "mac", "01:00:5e:00:00:01", "unicast" } },
		{ "iface=a,mac=00:00:00:00:00:00", { "mac", "00:00:00:00:00:00", "unicast" } },
		{ "iface=a,mac=zz:11:22:33:44:55", { "mac", "zz:11", "xx:xx" } },
		{ "iface=a,mac=02:11:22:33:44", { "mac", "02:11:22:33:44", "xx:xx" } },
		{ "iface=a,reconnect=100", { "reconnect", "100", "client=1" } },
		{ "iface=a,client=0,reconnect=100", { "reconnect", "100", "client=1" } },
		{ "iface=a,client=1,reconnect=60001", { "reconnect", "60001", "0-60000" } },
		{ "iface=a,tso=1,csum=0", { "tso=1", "csum=0", "accepted" } },
		{ "iface=a,foo=1", { "foo", "1", "iface, queues" } },
		{ "iface=a,vhost-user=1", { "vhost-user", "accepted keys", "csum" } },
		{ "iface=a,client=1,client=0", { "client", "more than once", "<0|1>" } },
		{ "iface=a,iface=b", { "iface", "more than once", "<path>" } },
		{ "iface=a,queues=1,queues=1", { "queues", "more than once", NULL } },
	};
	struct vhu_eth_devargs a;
	char err[512], args[200];
	unsigned int i, k;

	for (i = 0; i < RTE_DIM(cases); i++) {
		err[0] = '\0';
		if (vhu_eth_devargs_parse(cases[i].args, &a, err, sizeof(err)) == 0) {
			TEST_LOG("'%s' was accepted", cases[i].args);
			return TEST_FAILED;
		}
		for (k = 0; k < 3 && cases[i].expect[k] != NULL; k++)
			TEST_ASSERT(strstr(err, cases[i].expect[k]) != NULL,
					"'%s': message '%s' lacks '%s'", cases[i].args, err,
					cases[i].expect[k]);
		TEST_ASSERT(!a.given[VHU_ETH_ARG_IFACE], "output cleared on error");
	}
	/* A path too long for sun_path. */
	snprintf(args, sizeof(args), "iface=");
	memset(args + 6, 'p', VHU_PATH_MAX);
	args[6 + VHU_PATH_MAX] = '\0';
	TEST_ASSERT(vhu_eth_devargs_parse(args, &a, err, sizeof(err)) != 0, "108-byte path");
	TEST_ASSERT(strstr(err, "too long") != NULL && strstr(err, "107") != NULL, "%s", err);
	/* NULL args. */
	TEST_ASSERT(vhu_eth_devargs_parse(NULL, &a, err, sizeof(err)) != 0, "NULL args");

	/* iommu-support and postcopy-support: passed on to the library. */
	TEST_ASSERT_EQ(parse_ok("iface=a,iommu-support=1", &a), 0, "parses");
	{
		struct vhu_socket_conf conf;

		TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &conf, err, sizeof(err)), 0,
				"iommu-support=1 accepted: %s", err);
		TEST_ASSERT(conf.flags & VHU_SOCK_IOMMU, "iommu-support=1 asks for the IOTLB");
		TEST_ASSERT_EQ(parse_ok("iface=a,iommu-support=0", &a), 0, "parses");
		TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &conf, err, sizeof(err)), 0, "iommu 0");
		TEST_ASSERT(!(conf.flags & VHU_SOCK_IOMMU), "iommu-support=0: no IOTLB");
	}
	/* postcopy: asked of the library, which probes userfaultfd when registering */
	TEST_ASSERT_EQ(parse_ok("iface=a,postcopy-support=1", &a), 0, "parses");
	{
		struct vhu_socket_conf pc = { 0 };

		TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &pc, err, sizeof(err)), 0, "%s", err);
		TEST_ASSERT(pc.flags & VHU_SOCK_POSTCOPY, "postcopy-support=1 asks for postcopy");
	}
	/* Packed rings and UFO: offered unless withdrawn, as net_vhost does. */
	TEST_ASSERT_EQ(parse_ok("iface=a", &a), 0, "parses");
	{
		struct vhu_socket_conf pc = { 0 };

		TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &pc, err, sizeof(err)), 0, "%s", err);
		TEST_ASSERT(pc.flags & VHU_SOCK_PACKED, "the packed ring is offered by default");
		TEST_ASSERT(pc.features_enable & (1ull << VHU_F_NET_HOST_UFO), "ufo by default");
		TEST_ASSERT(pc.features_enable & (1ull << VHU_F_NET_GUEST_UFO), "ufo by default");
	}
	TEST_ASSERT_EQ(parse_ok("iface=a,ufo=0", &a), 0, "parses");
	{
		struct vhu_socket_conf pc = { 0 };

		TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &pc, err, sizeof(err)), 0, "%s", err);
		TEST_ASSERT(pc.features_disable & (1ull << VHU_F_NET_HOST_UFO), "ufo=0");
		TEST_ASSERT(pc.features_disable & (1ull << VHU_F_NET_GUEST_UFO), "ufo=0");
	}
	TEST_ASSERT_EQ(parse_ok("iface=a,packed=1", &a), 0, "parses");
	{
		struct vhu_socket_conf pc = { 0 };

		TEST_ASSERT_EQ(vhu_eth_devargs_to_conf(&a, &pc, err, sizeof(err)), 0, "%s", err);
		TEST_ASSERT(pc.flags & VHU_SOCK_PACKED, "packed=1 offers the packed ring");
		TEST_ASSERT(!(pc.features_disable & (1ull << VHU_F_RING_PACKED)), "not withdrawn");
	}
	return TEST_SUCCESS;
}

VHU_TEST(fast, pmd_devargs_param_string)
{
	static const char *keys[] = {
		"iface=<path>",
		"queues=<1-128>",
		"client=<0|1>",
		"reconnect=<0-60000>",
		"iommu-support=<0|1>",
		"postcopy-support=<0|1>",
		"tso=<0|1>",
		"linear-buffer=<0|1>",
		"ext-buffer=<0|1>",
		"legacy-ol-flags=<0|1>",
		"mac=<xx:xx:xx:xx:xx:xx>",
		"mtu=<68-65517>",
		"packed=<0|1>",
		"in-order=<0|1>",
		"mrg-rxbuf=<0|1>",
		"csum=<0|1>",
		"ufo=<0|1>",
		"tx-steer=<0|1>",
	};
	const char *s = VHU_ETH_PARAM_STRING;
	unsigned int i;

	TEST_ASSERT_EQ(RTE_DIM(keys), VHU_ETH_ARG_COUNT, "one line per key");
	for (i = 0; i < RTE_DIM(keys); i++)
		TEST_ASSERT(strstr(s, keys[i]) != NULL, "'%s' not in '%s'", keys[i], s);
	TEST_ASSERT(strstr(s, "net_vhost") == NULL && strstr(s, "eth_vhost") == NULL, "no alias");
	return TEST_SUCCESS;
}

/* ---- probe failures ---- */

VHU_TEST_F(fast, pmd_probe_refused, pmd_env, e)
{
	static const char *bad[] = {
		"queues=300",
		"queues=0",
		"client=2",
		"foo=bar",
		"mtu=10",
		"client=1,client=1",
		"reconnect=5",
	};
	char args[256], sock[128];
	uint16_t before = rte_eth_dev_count_total(), port_id;
	int fds = pmd_count_fds();
	unsigned int i;

	snprintf(sock, sizeof(sock), "%s/s.sock", e->dir);
	for (i = 0; i < RTE_DIM(bad); i++) {
		snprintf(args, sizeof(args), "iface=%s,%s", sock, bad[i]);
		TEST_ASSERT(rte_vdev_init("net_vhu_t1", args) != 0, "'%s' accepted", args);
		TEST_ASSERT(rte_eth_dev_get_port_by_name("net_vhu_t1", &port_id) != 0,
				"'%s' left a port", args);
		TEST_ASSERT(!pmd_file_exists(sock), "'%s' left a socket file", args);
	}
	/* No iface at all. */
	TEST_ASSERT(rte_vdev_init("net_vhu_t1", "queues=2") != 0, "no iface accepted");
	TEST_ASSERT(rte_vdev_init("net_vhu_t1", NULL) != 0, "no devargs accepted");
	/* A path whose directory does not exist cannot be served. */
	TEST_ASSERT(rte_vdev_init("net_vhu_t1", "iface=/nonexistent/dir/s.sock") != 0,
			"unservable path accepted");
	TEST_ASSERT_EQ(rte_eth_dev_count_total(), before, "no port left behind");
	TEST_ASSERT_EQ(pmd_fds_settled(fds), fds, "no fd left behind");
	return TEST_SUCCESS;
}

/* ---- ports without a front-end ---- */

static struct rte_mempool *
pmd_pool(void)
{
	static struct rte_mempool *mp;

	if (mp == NULL)
		mp = rte_pktmbuf_pool_create("pmd_fast_pool", 2048, 64, 0,
				RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	return mp;
}

VHU_TEST_F(fast, pmd_port_basic, pmd_env, e)
{
	struct rte_mempool *mp = pmd_pool();
	struct rte_eth_dev_info info;
	struct rte_eth_link link;
	struct rte_ether_addr mac;
	struct rte_eth_stats st;
	struct vhu_eth_queue_event ev;
	struct rte_mbuf *pkts[4];
	char sock[128], args[256], buf[128];
	uint16_t port_id, mtu;
	int n, fds = pmd_count_fds();

	TEST_ASSERT(mp != NULL, "pool");
	snprintf(sock, sizeof(sock), "%s/basic.sock", e->dir);
	snprintf(args, sizeof(args), "iface=%s,queues=4,mac=02:00:00:00:00:42,mtu=9000", sock);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_b0", args), 0, "probe");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_b0", &port_id), 0, "port");
	TEST_ASSERT(pmd_file_exists(sock), "server socket file created at probe");

	TEST_ASSERT_EQ(rte_eth_dev_info_get(port_id, &info), 0, "info");
	TEST_ASSERT_EQ(info.max_rx_queues, 4, "rx queues");
	TEST_ASSERT_EQ(info.max_tx_queues, 4, "tx queues");
	TEST_ASSERT_EQ(info.min_mtu, 68, "min mtu");
	TEST_ASSERT_EQ(info.max_mtu, 65517, "max mtu");
	TEST_ASSERT(strcmp(info.driver_name, "net_vhu") == 0, "driver %s", info.driver_name);
	TEST_ASSERT(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS, "multi-seg tx");
	TEST_ASSERT(!(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_LRO), "tso off by default");
	TEST_ASSERT_EQ(rte_eth_macaddr_get(port_id, &mac), 0, "mac");
	TEST_ASSERT(mac.addr_bytes[0] == 0x02 && mac.addr_bytes[5] == 0x42, "mac devarg");
	TEST_ASSERT_EQ(rte_eth_dev_get_mtu(port_id, &mtu), 0, "mtu");
	TEST_ASSERT_EQ(mtu, 9000, "mtu devarg");
	TEST_ASSERT_EQ(rte_eth_link_get_nowait(port_id, &link), 0, "link");
	TEST_ASSERT_EQ(link.link_status, RTE_ETH_LINK_DOWN, "no front-end: link down");

	/* The vhu_eth_* API. */
	TEST_ASSERT_EQ(vhu_eth_get_vid(port_id), -1, "no device");
	TEST_ASSERT_EQ(rte_errno, ENOTCONN, "ENOTCONN");
	TEST_ASSERT_EQ(vhu_eth_get_iface(port_id, buf, sizeof(buf)), 0, "iface");
	TEST_ASSERT(strcmp(buf, sock) == 0, "iface %s", buf);
	TEST_ASSERT_EQ(vhu_eth_get_iface(port_id, buf, strlen(sock)), -1, "short buffer");
	TEST_ASSERT_EQ(rte_errno, ERANGE, "ERANGE");
	TEST_ASSERT_EQ(vhu_eth_get_queue_event(port_id, &ev), -1, "no event");
	TEST_ASSERT_EQ(rte_errno, EAGAIN, "EAGAIN");
	TEST_ASSERT_EQ(vhu_eth_get_vid(RTE_MAX_ETHPORTS - 1), -1, "not a port");
	TEST_ASSERT_EQ(rte_errno, ENODEV, "ENODEV");

	/* Configure beyond the queues devarg fails; within it works. */
	TEST_ASSERT(pmd_port_setup(port_id, 5, mp, NULL) != 0, "5 queues > queues=4");
	TEST_ASSERT_EQ(pmd_port_setup(port_id, 4, mp, NULL), 0, "4 queues");
	TEST_ASSERT_EQ(rte_eth_dev_start(port_id), 0, "start");
	TEST_ASSERT_EQ(rte_eth_promiscuous_enable(port_id), 0, "promisc");
	TEST_ASSERT_EQ(rte_eth_allmulticast_enable(port_id), 0, "allmulti");
	TEST_ASSERT_EQ(rte_eth_dev_set_mtu(port_id, 1500), 0, "mtu set");
	TEST_ASSERT(rte_eth_dev_set_mtu(port_id, 67) != 0, "mtu below range");
	mac.addr_bytes[5] = 0x43;
	TEST_ASSERT_EQ(rte_eth_dev_default_mac_addr_set(port_id, &mac), 0, "mac set");
	TEST_ASSERT_EQ(rte_eth_rx_burst(port_id, 0, pkts, 4), 0, "rx without device");
	TEST_ASSERT_EQ(rte_pktmbuf_alloc_bulk(mp, pkts, 4), 0, "mbufs");
	TEST_ASSERT_EQ(rte_eth_tx_burst(port_id, 3, pkts, 4), 0, "tx without device");
	rte_pktmbuf_free_bulk(pkts, 4);
	TEST_ASSERT_EQ(rte_eth_stats_get(port_id, &st), 0, "stats");
	TEST_ASSERT(st.ipackets == 0 && st.opackets == 0 && st.oerrors == 0, "zero stats");
	n = rte_eth_xstats_get_names(port_id, NULL, 0);
	TEST_ASSERT(n >= 8 * 20, "%d xstats", n);
	{
		struct rte_eth_xstat_name *names = calloc(n, sizeof(*names));
		int i, found = 0;

		TEST_ASSERT(names != NULL, "calloc");
		TEST_ASSERT_EQ(rte_eth_xstats_get_names(port_id, names, n), n, "names");
		for (i = 0; i < n; i++)
			found += strcmp(names[i].name, "rx_q3_size_1519_to_max_packets") == 0 ||
					strcmp(names[i].name, "tx_q0_guest_notifications") == 0 ||
					strcmp(names[i].name, "rx_q1_guest_kicks") == 0 ||
					strcmp(names[i].name, "rx_q2_iotlb_misses") == 0 ||
					strcmp(names[i].name, "tx_q1_iotlb_invalidations") == 0;
		free(names);
		TEST_ASSERT_EQ(found, 5, "per-queue xstats names");
	}
	TEST_ASSERT_EQ(rte_eth_dev_rx_queue_stop(port_id, 1), 0, "queue stop");
	TEST_ASSERT_EQ(rte_eth_dev_rx_queue_start(port_id, 1), 0, "queue start");
	TEST_ASSERT_EQ(rte_eth_dev_stop(port_id), 0, "stop");
	/* Reconfigure with fewer queues, start again. */
	TEST_ASSERT_EQ(pmd_port_setup(port_id, 2, mp, NULL), 0, "2 queues");
	TEST_ASSERT_EQ(rte_eth_dev_start(port_id), 0, "restart");
	TEST_ASSERT_EQ(n - rte_eth_xstats_get_names(port_id, NULL, 0), 4 * 20,
			"xstats follow queues: 2 rx + 2 tx queues fewer");
	TEST_ASSERT_EQ(rte_eth_dev_stop(port_id), 0, "stop");
	TEST_ASSERT_EQ(rte_eth_dev_reset(port_id), 0, "reset");
	TEST_ASSERT(pmd_file_exists(sock), "socket served again after reset");
	TEST_ASSERT_EQ(rte_eth_dev_close(port_id), 0, "close");
	TEST_ASSERT(!pmd_file_exists(sock), "socket file removed at close");
	TEST_ASSERT(rte_eth_dev_get_port_by_name("net_vhu_b0", &port_id) != 0, "port gone");
	TEST_ASSERT_EQ(rte_vdev_uninit("net_vhu_b0"), 0, "vdev removed");

	/* The same iface at once. */
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_b0", args), 0, "probe again");
	TEST_ASSERT_EQ(pmd_close("net_vhu_b0"), 0, "remove");
	TEST_ASSERT(!pmd_file_exists(sock), "socket file removed at remove");
	TEST_ASSERT_EQ(pmd_fds_settled(fds), fds, "no fd left behind");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, pmd_same_iface_twice, pmd_env, e)
{
	char args[256];
	uint16_t port_id;

	snprintf(args, sizeof(args), "iface=%s/dup.sock", e->dir);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_d0", args), 0, "first");
	TEST_ASSERT(rte_vdev_init("net_vhu_d1", args) != 0, "second port on the same iface");
	TEST_ASSERT(rte_eth_dev_get_port_by_name("net_vhu_d1", &port_id) != 0, "no second port");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_d0", &port_id), 0, "first remains");
	TEST_ASSERT_EQ(pmd_close("net_vhu_d0"), 0, "close");
	return TEST_SUCCESS;
}

/*
 * A port without a mac devarg keeps its MAC across probes of the same socket
 * path (a restarted vSwitch, a port deleted and added again) and ports on
 * different paths differ; eth_vhu<N> (OVS's eth_<driver> spelling) creates
 * a net_vhu port.
 */
VHU_TEST_F(fast, pmd_stable_mac_and_alias, pmd_env, e)
{
	struct rte_ether_addr m1, m2, m3;
	char args[256];
	struct rte_eth_dev_info info;
	uint16_t port_id;

	snprintf(args, sizeof(args), "iface=%s/m1.sock", e->dir);
	TEST_ASSERT_EQ(rte_vdev_init("eth_vhu7", args), 0, "eth_vhu alias");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("eth_vhu7", &port_id), 0, "port");
	TEST_ASSERT_EQ(rte_eth_dev_info_get(port_id, &info), 0, "info");
	TEST_ASSERT(strcmp(info.driver_name, "net_vhu") == 0, "driver %s", info.driver_name);
	TEST_ASSERT_EQ(rte_eth_macaddr_get(port_id, &m1), 0, "mac");
	TEST_ASSERT(rte_is_unicast_ether_addr(&m1) && !rte_is_universal_ether_addr(&m1),
			"locally administered unicast");
	TEST_ASSERT_EQ(pmd_close("eth_vhu7"), 0, "close");
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_m0", args), 0, "same path again");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_m0", &port_id), 0, "port");
	TEST_ASSERT_EQ(rte_eth_macaddr_get(port_id, &m2), 0, "mac");
	TEST_ASSERT(rte_is_same_ether_addr(&m1, &m2), "same path, same MAC");
	TEST_ASSERT_EQ(pmd_close("net_vhu_m0"), 0, "close");
	snprintf(args, sizeof(args), "iface=%s/m2.sock", e->dir);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_m1", args), 0, "other path");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_m1", &port_id), 0, "port");
	TEST_ASSERT_EQ(rte_eth_macaddr_get(port_id, &m3), 0, "mac");
	TEST_ASSERT(!rte_is_same_ether_addr(&m1, &m3), "other path, other MAC");
	TEST_ASSERT_EQ(pmd_close("net_vhu_m1"), 0, "close");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, pmd_client_no_peer, pmd_env, e)
{
	char sock[128], args[256];
	struct rte_eth_link link;
	uint16_t port_id;
	int fds = pmd_count_fds();

	snprintf(sock, sizeof(sock), "%s/client.sock", e->dir);
	snprintf(args, sizeof(args), "iface=%s,client=1,reconnect=20", sock);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_c0", args), 0, "client port without a server");
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_c0", &port_id), 0, "port");
	TEST_ASSERT(!pmd_file_exists(sock), "a client creates no socket file");
	usleep(100 * 1000); /* let a few reconnect attempts happen */
	TEST_ASSERT_EQ(rte_eth_link_get_nowait(port_id, &link), 0, "link");
	TEST_ASSERT_EQ(link.link_status, RTE_ETH_LINK_DOWN, "down");
	TEST_ASSERT_EQ(pmd_close("net_vhu_c0"), 0, "close");
	TEST_ASSERT_EQ(pmd_fds_settled(fds), fds, "no fd left behind");
	return TEST_SUCCESS;
}

/*
 * As many ports as ethdev has room for. net_vhu has no limit of its own
 * below VHU_MAX_DEVICES; ethdev's is RTE_MAX_ETHPORTS, a DPDK build-time
 * constant (32 in Debian's DPDK 22.11).
 */
VHU_TEST_F(fast, pmd_many_ports, pmd_env, e)
{
	struct rte_mempool *mp = pmd_pool();
	char name[32], args[256];
	uint16_t port_id;
	int i, fds, nports;
	size_t heap;

	nports = RTE_MAX_ETHPORTS - rte_eth_dev_count_total();
	TEST_LOG("%d ports (RTE_MAX_ETHPORTS %d)", nports, RTE_MAX_ETHPORTS);
	TEST_ASSERT(nports >= 16, "room for %d ports only", nports);
	/* The process's first port makes what lives as long as the process
	 * (ethdev's shared port data, the control thread): one port comes and
	 * goes before the marks are taken. */
	snprintf(args, sizeof(args), "iface=%s/warm.sock", e->dir);
	TEST_ASSERT_EQ(rte_vdev_init("net_vhu_mw", args), 0, "warm-up port");
	TEST_ASSERT_EQ(pmd_close("net_vhu_mw"), 0, "warm-up port closed");
	fds = pmd_fds_settled(-1);
	heap = pmd_heap_used();
	for (i = 0; i < nports; i++) {
		snprintf(name, sizeof(name), "net_vhu_m%d", i);
		snprintf(args, sizeof(args), "iface=%s/m%d.sock,queues=2", e->dir, i);
		TEST_ASSERT_EQ(rte_vdev_init(name, args), 0, "probe %d", i);
		TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name(name, &port_id), 0, "port %d", i);
		TEST_ASSERT_EQ(pmd_port_setup(port_id, 2, mp, NULL), 0, "setup %d", i);
		TEST_ASSERT_EQ(rte_eth_dev_start(port_id), 0, "start %d", i);
	}
	/* One more than ethdev has room for fails cleanly. */
	snprintf(args, sizeof(args), "iface=%s/extra.sock", e->dir);
	TEST_ASSERT(rte_vdev_init("net_vhu_mx", args) != 0, "port beyond RTE_MAX_ETHPORTS");
	TEST_ASSERT(!pmd_file_exists(args + 6), "no socket left by the refused port");
	for (i = 0; i < nports; i++) {
		snprintf(name, sizeof(name), "net_vhu_m%d", i);
		TEST_ASSERT_EQ(pmd_close(name), 0, "close %d", i);
	}
	TEST_ASSERT_EQ(pmd_fds_settled(fds), fds, "no fd left behind");
	TEST_ASSERT_EQ(pmd_heap_used(), heap, "no DPDK memory left behind");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, pmd_hotplug_cycles, pmd_env, e)
{
	char devargs[256], sock[128];
	struct rte_eth_dev_info info;
	uint16_t port_id;
	int i, fds = -1;
	size_t heap = 0;

	snprintf(sock, sizeof(sock), "%s/hp.sock", e->dir);
	snprintf(devargs, sizeof(devargs), "net_vhu_hp0,iface=%s,queues=2", sock);
	for (i = 0; i < 100; i++) {
		TEST_ASSERT_EQ(rte_dev_probe(devargs), 0, "attach %d", i);
		TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_hp0", &port_id), 0, "port %d",
				i);
		TEST_ASSERT(pmd_file_exists(sock), "socket %d", i);
		TEST_ASSERT_EQ(rte_eth_dev_info_get(port_id, &info), 0, "info %d", i);
		TEST_ASSERT_EQ(rte_dev_remove(info.device), 0, "detach %d", i);
		TEST_ASSERT(!pmd_file_exists(sock), "socket removed %d", i);
		/* The first cycle may set up lazily-created state (control thread, logs). */
		if (i == 0) {
			fds = pmd_fds_settled(-1);
			heap = pmd_heap_used();
		}
	}
	TEST_ASSERT_EQ(pmd_fds_settled(fds), fds, "fds stable over 100 cycles");
	TEST_ASSERT_EQ(pmd_heap_used(), heap, "DPDK memory stable over 100 cycles");
	return TEST_SUCCESS;
}
