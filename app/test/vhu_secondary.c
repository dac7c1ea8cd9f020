/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhu-secondary: a DPDK secondary process that attaches a net_vhu port of
 * a running primary and calls its bursts, which must refuse (return 0)
 * since the datapath stays in the primary. It links DPDK only: the plugin
 * comes with -d, as it would for any application.
 *
 *   vhu-secondary <EAL args incl. --proc-type=secondary, --file-prefix, -d>
 *                 -- <port name> [<calls per burst function>]
 *
 * Prints the link, the port's counters as the primary reports them, then
 * per direction "rx_burst: C calls, P packets, Z non-zero returns", then
 * closes the port (this process's view of it only). Exit status 0 when the
 * port was found, every burst returned 0 and the close succeeded.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define BURST 32

int
main(int argc, char **argv)
{
	struct rte_mbuf *pkts[BURST];
	struct rte_mempool *mp = NULL;
	struct rte_eth_stats stats;
	struct rte_eth_link link;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	unsigned long calls = 1000, i, rx_pkts = 0, rx_nz = 0, tx_pkts = 0, tx_nz = 0;
	uint16_t port, got;
	int n, rc = 1;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "vhu-secondary: EAL init failed (is the primary running?)\n");
		return 1;
	}
	argc -= n;
	argv += n;
	if (argc < 2) {
		fprintf(stderr, "usage: vhu-secondary <EAL args> -- <port name> [<calls>]\n");
		goto out;
	}
	if (argc > 2)
		calls = strtoul(argv[2], NULL, 0);
	if (rte_eal_process_type() != RTE_PROC_SECONDARY) {
		fprintf(stderr, "vhu-secondary: run it with --proc-type=secondary\n");
		goto out;
	}
	if (rte_eth_dev_get_port_by_name(argv[1], &port) != 0) {
		printf("port %s: not found in this secondary process\n", argv[1]);
		goto out;
	}
	if (rte_eth_link_get_nowait(port, &link) == 0)
		printf("port %s (%u): link %s\n", argv[1], port, link.link_status ? "up" : "down");
	if (rte_eth_stats_get(port, &stats) == 0)
		printf("port %s: ipackets %" PRIu64 " opackets %" PRIu64 "\n", argv[1],
				stats.ipackets, stats.opackets);

	for (i = 0; i < calls; i++) {
		got = rte_eth_rx_burst(port, 0, pkts, BURST);
		rx_pkts += got;
		rx_nz += got != 0;
		rte_pktmbuf_free_bulk(pkts, got);
	}
	printf("rx_burst: %lu calls, %lu packets, %lu non-zero returns\n", calls, rx_pkts, rx_nz);

	snprintf(pool_name, sizeof(pool_name), "vhu_sec_%d", (int)getpid());
	mp = rte_pktmbuf_pool_create(pool_name, 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (mp == NULL) {
		fprintf(stderr, "vhu-secondary: no mbuf pool: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	for (i = 0; i < calls; i++) {
		pkts[0] = rte_pktmbuf_alloc(mp);
		if (pkts[0] == NULL)
			break;
		rte_pktmbuf_append(pkts[0], 64);
		got = rte_eth_tx_burst(port, 0, pkts, 1);
		tx_pkts += got;
		tx_nz += got != 0;
		if (got == 0)
			rte_pktmbuf_free(pkts[0]);
	}
	printf("tx_burst: %lu calls, %lu packets, %lu non-zero returns\n", i, tx_pkts, tx_nz);
	rc = (i == calls && rx_nz == 0 && tx_nz == 0) ? 0 : 1;
	/* Forgets this process's view (the port id is free here); the primary's port lives on. */
	n = rte_eth_dev_close(port);
	printf("close: %d, port %s\n", n, rte_eth_dev_is_valid_port(port) ? "still valid" : "gone");
	if (n != 0)
		rc = 1;
out:
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return rc;
}
