/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The environment of the control-plane tests (test_ctrl*.c): a socket
 * registered in a private directory with the callback recorder's ops, and
 * the mock front-end connected to it. Fixtures: env (one) and env2 (two,
 * a and b); their teardown closes, unregisters and removes whatever is
 * still up, so a failed assertion leaves nothing behind.
 */

#ifndef VHU_TEST_CTRL_ENV_H
#define VHU_TEST_CTRL_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "mock_fe.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

#define CTRL_MEM_SIZE (4ull << 20)

struct env {
	bool live; /* prepared and not closed: teardown has work */
	bool registered;
	char dir[64];
	char path[VHU_PATH_MAX];
	struct vhu_socket_conf conf;
	struct mock_fe fe;
	int fds0; /* open fds when prepared (env_down checks them) */
};

struct env2 {
	struct env a, b;
};

extern const struct vhu_test_fixture vhu_fixture_env;
extern const struct vhu_test_fixture vhu_fixture_env2;

/* A fresh directory and a conf for a socket in it (max_qp queue pairs);
 * nothing registered yet. env_init also resets the callback recorder. */
int env_prepare(struct env *e, uint16_t max_qp);
int env_init(struct env *e, uint16_t max_qp);
/* Connect the mock and wait for the library to see the connection. */
int env_connect(struct env *e);
/* Register the socket, then env_connect. */
int env_up(struct env *e);
/* Close the mock, unregister (its result: 0 or -1), remove the directory.
 * Nothing (0) on an environment not prepared or closed already. */
int env_close(struct env *e);
/* env_close, asserting the unregistration and that no fd was left. */
int env_down(struct env *e);

/* The device of the last connection the recorder saw. */
struct vhu_dev *cur_dev(void);
/* The request must close the connection; then connect a fresh mock. */
int expect_fatal(struct env *e, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		const int *fds, unsigned int nfds);
/* NEED_REPLY ack value of a request (the connection must stay). */
int ack_of(struct env *e, uint32_t req, const void *p, uint32_t size, const int *fds,
		unsigned int nfds, uint64_t expect);
int negotiate(struct env *e, uint64_t fmask, uint64_t pmask);
/* mock_fe_setup with nvrings, then wait for new_device. */
int setup_ready(struct env *e, unsigned int nvrings);

#endif /* VHU_TEST_CTRL_ENV_H */
