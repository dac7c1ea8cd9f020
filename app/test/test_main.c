/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhu-test: runs the registered tests of the selected suites.
 *   vhu-test [--suite NAME]... [--filter SUBSTR] [--list] [--huge] [-- EAL args]
 * EAL is initialised once, with --no-huge unless --huge, a private
 * --file-prefix, and DPDK's virtio PMD loaded for the driver suite.
 */

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "vhu_test.h"

#ifndef VHU_TEST_DPDK_PMD_DIR
#define VHU_TEST_DPDK_PMD_DIR "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"
#endif
#ifndef VHU_TEST_BUILD_DIR
#define VHU_TEST_BUILD_DIR "."
#endif

const char *vhu_test_dpdk_pmd_dir = VHU_TEST_DPDK_PMD_DIR;
const char *vhu_test_build_dir = VHU_TEST_BUILD_DIR;
int vhu_test_huge;

static struct vhu_test_case *tests_head;
static struct vhu_test_case **tests_tail = &tests_head;

void
vhu_test_register(struct vhu_test_case *tc)
{
	tc->next = NULL;
	*tests_tail = tc;
	tests_tail = &tc->next;
}

#define MAX_SUITES 8

static int
selected(const struct vhu_test_case *tc, char **suites, int nsuites, const char *filter)
{
	int i;

	if (filter != NULL && strstr(tc->name, filter) == NULL)
		return 0;
	if (nsuites == 0)
		return 1;
	for (i = 0; i < nsuites; i++)
		if (strcmp(suites[i], tc->suite) == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "suite", required_argument, NULL, 's' },
		{ "filter", required_argument, NULL, 'f' },
		{ "list", no_argument, NULL, 'l' },
		{ "huge", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	char *suites[MAX_SUITES];
	int nsuites = 0, list = 0, opt;
	const char *filter = NULL;
	char prefix[64], virtio_pmd[512];
	char *eal_argv[64];
	int eal_argc = 0, i;
	unsigned int passed = 0, failed = 0, skipped = 0;
	struct vhu_test_case *tc;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (nsuites < MAX_SUITES)
				suites[nsuites++] = optarg;
			break;
		case 'f':
			filter = optarg;
			break;
		case 'l':
			list = 1;
			break;
		case 'H':
			vhu_test_huge = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [--suite NAME]... [--filter SUBSTR] [--list] [--huge] [-- EAL args]\n",
				argv[0]);
			return 2;
		}
	}

	if (list) {
		for (tc = tests_head; tc != NULL; tc = tc->next)
			if (selected(tc, suites, nsuites, filter))
				printf("%s %s\n", tc->suite, tc->name);
		return 0;
	}

	snprintf(prefix, sizeof(prefix), "--file-prefix=vhu-test-%d", (int)getpid());
	snprintf(virtio_pmd, sizeof(virtio_pmd), "%s/librte_net_virtio.so", vhu_test_dpdk_pmd_dir);
	eal_argv[eal_argc++] = argv[0];
	eal_argv[eal_argc++] = prefix;
	eal_argv[eal_argc++] = (char *)"--no-pci";
	eal_argv[eal_argc++] = (char *)"-l";
	eal_argv[eal_argc++] = (char *)"0,1";
	if (!vhu_test_huge) {
		eal_argv[eal_argc++] = (char *)"--no-huge";
		eal_argv[eal_argc++] = (char *)"-m";
		eal_argv[eal_argc++] = (char *)"512";
	} else {
		eal_argv[eal_argc++] = (char *)"--single-file-segments";
		eal_argv[eal_argc++] = (char *)"-m";
		eal_argv[eal_argc++] = (char *)"512";
	}
	eal_argv[eal_argc++] = (char *)"-d";
	eal_argv[eal_argc++] = virtio_pmd;
	eal_argv[eal_argc++] = (char *)"--log-level=lib.eal:error";
	for (i = optind; i < argc && eal_argc < 63; i++)
		eal_argv[eal_argc++] = argv[i];
	eal_argv[eal_argc] = NULL;

	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}

	for (tc = tests_head; tc != NULL; tc = tc->next) {
		int rc;

		if (!selected(tc, suites, nsuites, filter))
			continue;
		printf("RUN  %s/%s\n", tc->suite, tc->name);
		fflush(stdout);
		rc = tc->fn();
		if (rc == TEST_SUCCESS) {
			passed++;
			printf("PASS %s/%s\n", tc->suite, tc->name);
		} else if (rc == TEST_SKIPPED) {
			skipped++;
			printf("SKIP %s/%s\n", tc->suite, tc->name);
		} else {
			failed++;
			printf("FAIL %s/%s\n", tc->suite, tc->name);
		}
		fflush(stdout);
	}

	rte_eal_cleanup();
	printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
