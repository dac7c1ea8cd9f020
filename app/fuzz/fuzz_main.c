/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * libFuzzer entry points. One executable per target: VHU_FUZZ_TARGET names
 * the harness (msg, split, packed). EAL starts once, without hugepages or
 * PCI, in memory only, with a file prefix of its own.
 */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_common.h>
#include <rte_errno.h>

#include "fuzz_harness.h"

#define CAT2(a, b) a ## b
#define CAT(a, b) CAT2(a, b)
#define STR2(a) #a
#define STR(a) STR2(a)
#define HARNESS CAT(CAT(vhu_fuzz_, VHU_FUZZ_TARGET), _run)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[64];
	char *eal[] = {
		(*argv)[0], prefix, (char *)"--no-huge", (char *)"-m", (char *)"256",
		(char *)"--no-pci", (char *)"--no-telemetry",
		(char *)"-l", (char *)"0", (char *)"--log-level=lib.eal:error", NULL,
	};

	RTE_SET_USED(argc);
	snprintf(prefix, sizeof(prefix), "--file-prefix=vhu-fuzz-%s-%d", STR(VHU_FUZZ_TARGET),
		 (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	vhu_fuzz_quiet(getenv("VHU_FUZZ_VERBOSE") == NULL);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;

	if (HARNESS(data, size, &why) != 0) {
		fprintf(stderr, "vhu fuzz %s: invariant broken: %s\n", STR(VHU_FUZZ_TARGET),
			why != NULL ? why : "?");
		abort();
	}
	return 0;
}
