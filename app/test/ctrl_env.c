/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* The control-plane tests' environment (see ctrl_env.h). */

#include <string.h>

#include <rte_common.h>

#include "ctrl_env.h"
#include "vhu_dev_table.h"

int
env_prepare(struct env *e, uint16_t max_qp)
{
	memset(e, 0, sizeof(*e));
	e->live = true;
	mock_fe_reset(&e->fe);
	e->fds0 = vhu_test_count_fds();
	TEST_ASSERT(vhu_test_tmpdir(e->dir, sizeof(e->dir)) == 0, "tmpdir");
	snprintf(e->path, sizeof(e->path), "%s/s", e->dir);
	e->conf.path = e->path;
	e->conf.ops = &vhu_rec_ops;
	e->conf.max_queue_pairs = max_qp;
	return TEST_SUCCESS;
}

int
env_init(struct env *e, uint16_t max_qp)
{
	vhu_rec_reset();
	return env_prepare(e, max_qp);
}

int
env_connect(struct env *e)
{
	int before = vhu_rec.conn;

	TEST_ASSERT_EQ(mock_fe_connect(&e->fe, e->path, CTRL_MEM_SIZE), 0, "connect");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.conn, before + 1, 5000), "no new_connection");
	return TEST_SUCCESS;
}

int
env_up(struct env *e)
{
	TEST_ASSERT_EQ(vhu_socket_register(&e->conf), 0, "register");
	e->registered = true;
	return env_connect(e);
}

int
env_close(struct env *e)
{
	int rc = 0;

	if (!e->live)
		return 0;
	e->live = false;
	mock_fe_close(&e->fe);
	if (e->registered)
		rc = vhu_socket_unregister(e->path);
	e->registered = false;
	if (e->dir[0] != '\0')
		vhu_test_rmdir(e->dir);
	return rc;
}

int
env_down(struct env *e)
{
	TEST_ASSERT_EQ(env_close(e), 0, "unregister");
	TEST_ASSERT_EQ(vhu_test_count_fds(), e->fds0, "fd leak");
	return TEST_SUCCESS;
}

static int
env_teardown(void *obj, int status)
{
	RTE_SET_USED(status);
	env_close(obj);
	return TEST_SUCCESS;
}

static int
env2_teardown(void *obj, int status)
{
	struct env2 *p = obj;

	RTE_SET_USED(status);
	env_close(&p->b);
	env_close(&p->a);
	return TEST_SUCCESS;
}

const struct vhu_test_fixture vhu_fixture_env = VHU_FIXTURE_INIT(env, NULL, env_teardown);
const struct vhu_test_fixture vhu_fixture_env2 = VHU_FIXTURE_INIT(env2, NULL, env2_teardown);

struct vhu_dev *
cur_dev(void)
{
	return vhu_dev_table_get(vhu_rec.conn_vid);
}

int
expect_fatal(struct env *e, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		const int *fds, unsigned int nfds)
{
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, req, flags, p, size, fds, nfds), 0, "send");
	TEST_ASSERT(mock_fe_closed(&e->fe, 5000), "%s (size %u, %u fds) was not fatal",
			vhu_req_name(req), size, nfds);
	mock_fe_close(&e->fe);
	return env_connect(e);
}

int
ack_of(struct env *e, uint32_t req, const void *p, uint32_t size, const int *fds, unsigned int nfds,
		uint64_t expect)
{
	uint64_t ack = 99;

	TEST_ASSERT_EQ(mock_fe_ack(&e->fe, req, p, size, fds, nfds, &ack), 0, "%s: no ack",
			vhu_req_name(req));
	TEST_ASSERT_EQ(ack, expect, "%s ack", vhu_req_name(req));
	return TEST_SUCCESS;
}

int
negotiate(struct env *e, uint64_t fmask, uint64_t pmask)
{
	TEST_ASSERT_EQ(mock_fe_negotiate(&e->fe, fmask, pmask), 0, "negotiate");
	return TEST_SUCCESS;
}

int
setup_ready(struct env *e, unsigned int nvrings)
{
	struct mock_fe_opts o = { .nvrings = nvrings };
	int before = vhu_rec.new_dev;

	TEST_ASSERT_EQ(mock_fe_setup(&e->fe, &o), 0, "setup");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, before + 1, 5000), "no new_device");
	return TEST_SUCCESS;
}
