/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The 2026 additions to the vhost-user specification, as a back-end that
 * offers none of them answers them: protocol features 20
 * (GET_VRING_BASE_INFLIGHT), 21 (GPA_ADDRESSES) and 22 (SHMEM) are never
 * offered and a front-end that sets one anyway is refused; request 44
 * (GET_SHMEM_CONFIG) gets the answer of a device without shared memory
 * regions, and the session goes on.
 */

#include <inttypes.h>
#include <string.h>

#include "hostile.h"
#include "mock_fe.h"
#include "vhu.h"
#include "vhu_codec.h"
#include "vhu_test.h"

static const unsigned int new_bits[] = {
	VHU_PF_GET_VRING_BASE_INFLIGHT, VHU_PF_GPA_ADDRESSES, VHU_PF_SHMEM,
};

static int
body_protocol_features(void)
{
	struct hdev d;
	uint64_t offered, f;
	unsigned int i;

	for (i = 0; i < RTE_DIM(new_bits); i++) {
		TEST_RUN(hdev_up(&d, 0));
		TEST_ASSERT_EQ(mock_fe_get_u64(&d.fe, VHU_REQ_GET_PROTOCOL_FEATURES, &offered), 0,
			       "GET_PROTOCOL_FEATURES");
		TEST_ASSERT(!(offered & VHU_BIT(new_bits[i])), "bit %u not offered (0x%" PRIx64 ")",
			    new_bits[i], offered);
		/* the front-end takes what was offered plus the new bit */
		f = offered | VHU_BIT(new_bits[i]);
		TEST_ASSERT_EQ(mock_fe_send(&d.fe, VHU_REQ_SET_PROTOCOL_FEATURES, 0, &f, sizeof(f),
					    NULL, 0), 0, "SET_PROTOCOL_FEATURES");
		TEST_ASSERT(hdev_closed(&d), "bit %u: a feature not offered ends the session",
			    new_bits[i]);
		TEST_ASSERT(hlog_has("were not offered"), "logged");
		hdev_down(&d);
	}
	/* what was offered is accepted */
	TEST_RUN(hdev_up(&d, 0));
	TEST_ASSERT_EQ(mock_fe_get_u64(&d.fe, VHU_REQ_GET_PROTOCOL_FEATURES, &offered), 0, "get");
	TEST_ASSERT_EQ(mock_fe_send(&d.fe, VHU_REQ_SET_PROTOCOL_FEATURES, 0, &offered,
				    sizeof(offered), NULL, 0), 0, "set");
	TEST_ASSERT(mock_fe_alive(&d.fe), "offered features accepted");
	hdev_down(&d);
	return TEST_SUCCESS;
}

VHU_TEST(fast, spec2026_protocol_features_not_offered)
{
	return hlog_run(body_protocol_features);
}

static int
ask_shmem_config(struct hdev *d)
{
	struct vhu_msg r;
	unsigned int i;

	TEST_ASSERT_EQ(mock_fe_send(&d->fe, VHU_REQ_GET_SHMEM_CONFIG, 0, NULL, 0, NULL, 0), 0,
		       "GET_SHMEM_CONFIG");
	TEST_ASSERT_EQ(mock_fe_recv(&d->fe, &r), 0, "answered");
	vhu_msg_close_fds(&r);
	TEST_ASSERT_EQ(r.hdr.request, VHU_REQ_GET_SHMEM_CONFIG, "the request's reply");
	TEST_ASSERT(r.hdr.flags & VHU_FLAG_REPLY, "reply flag");
	TEST_ASSERT_EQ(r.hdr.size, sizeof(struct vhu_shmem_config), "struct VhostUserShMemConfig");
	TEST_ASSERT_EQ(r.payload.shmem.nregions, 0, "no shared memory region");
	for (i = 0; i < VHU_SHMEM_MAX_REGIONS; i++)
		TEST_ASSERT_EQ(r.payload.shmem.memory_sizes[i], 0, "size %u", i);
	TEST_ASSERT_EQ(r.nfds, 0, "no fd");
	return TEST_SUCCESS;
}

static int
body_shmem_config(void)
{
	struct hdev d;

	/* before anything else, and again after a full start-up */
	TEST_RUN(hdev_up(&d, 0));
	TEST_RUN(ask_shmem_config(&d));
	TEST_ASSERT(hlog_has("GET_SHMEM_CONFIG without SHMEM negotiated"), "logged");
	TEST_RUN(hdev_ready(&d, 0, 64));
	TEST_RUN(ask_shmem_config(&d));
	TEST_RUN(hdev_forwards(&d, 4));
	hdev_down(&d);
	return TEST_SUCCESS;
}

VHU_TEST(fast, spec2026_get_shmem_config)
{
	return hlog_run(body_shmem_config);
}
