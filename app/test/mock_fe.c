/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Test helpers and the in-process mock vhost-user front-end (see mock_fe.h).
 */

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mock_fe.h"

/* ---- generic helpers ---- */

int
vhu_test_tmpdir(char *buf, size_t len)
{
	if (snprintf(buf, len, "/tmp/vhu-test-XXXXXX") >= (int)len)
		return -1;
	return mkdtemp(buf) != NULL ? 0 : -1;
}

void
vhu_test_rmdir(const char *dir)
{
	char p[512];
	struct dirent *e;
	DIR *d;

	d = opendir(dir);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

static int
count_dir(const char *path)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
vhu_test_count_fds(void)
{
	return count_dir("/proc/self/fd") - 1;   /* the directory stream's own fd */
}

int
vhu_test_count_threads(void)
{
	return count_dir("/proc/self/task");
}

void
vhu_test_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int
vhu_test_wait(volatile int *v, int target, int timeout_ms)
{
	int waited = 0;

	while (__atomic_load_n(v, __ATOMIC_SEQ_CST) < target) {
		if (waited >= timeout_ms)
			return 0;
		vhu_test_sleep_ms(2);
		waited += 2;
	}
	return 1;
}

/* ---- callback recorder ---- */

struct vhu_test_rec vhu_rec;

void
vhu_rec_reset(void)
{
	unsigned int i;

	memset(&vhu_rec, 0, sizeof(vhu_rec));
	vhu_rec.vid = -1;
	vhu_rec.conn_vid = -1;
	for (i = 0; i < 16; i++)
		vhu_rec.state[i] = -1;
}

static int
rec_new_device(int vid)
{
	if (vhu_rec.refuse_new_device)
		return -1;
	if (vid >= 0 && vid < VHU_REC_VIDS)
		vhu_rec.ready[vid] = 1;
	vhu_rec.vid = vid;
	__atomic_add_fetch(&vhu_rec.new_dev, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void
rec_destroy_device(int vid)
{
	if (vid >= 0 && vid < VHU_REC_VIDS)
		vhu_rec.ready[vid] = 0;
	__atomic_add_fetch(&vhu_rec.destroy_dev, 1, __ATOMIC_SEQ_CST);
}

static int
rec_vring_state(int vid, uint16_t q, int enable)
{
	(void)vid;
	if (q < 16)
		vhu_rec.state[q] = enable;
	__atomic_add_fetch(&vhu_rec.state_calls, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int
rec_features(int vid, uint64_t features)
{
	(void)vid;
	vhu_rec.features = features;
	__atomic_add_fetch(&vhu_rec.feat_calls, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int
rec_new_connection(int vid)
{
	vhu_rec.conn_vid = vid;
	__atomic_add_fetch(&vhu_rec.conn, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void
rec_destroy_connection(int vid)
{
	(void)vid;
	__atomic_add_fetch(&vhu_rec.disconn, 1, __ATOMIC_SEQ_CST);
}

static int
rec_save_state(int vid, void *buf, size_t len)
{
	(void)vid;
	if (vhu_rec.save_len < 0)
		return vhu_rec.save_len;
	if ((size_t)vhu_rec.save_len > len)
		return -ENOSPC;
	memcpy(buf, vhu_rec.save_blob, (size_t)vhu_rec.save_len);
	return vhu_rec.save_len;
}

static int
rec_load_state(int vid, const void *buf, size_t len)
{
	(void)vid;
	vhu_rec.load_calls++;
	if (len > sizeof(vhu_rec.load_blob))
		return -ENOSPC;
	memcpy(vhu_rec.load_blob, buf, len);
	vhu_rec.load_len = (int)len;
	return vhu_rec.load_rc;
}

const struct vhu_ops vhu_rec_ops = {
	.new_device = rec_new_device,
	.destroy_device = rec_destroy_device,
	.vring_state_changed = rec_vring_state,
	.features_changed = rec_features,
	.new_connection = rec_new_connection,
	.destroy_connection = rec_destroy_connection,
	.save_state = rec_save_state,
	.load_state = rec_load_state,
};

/* ---- mock front-end ---- */

void
mock_fe_reset(struct mock_fe *fe)
{
	unsigned int i;

	memset(fe, 0, sizeof(*fe));
	fe->sock = -1;
	fe->memfd = -1;
	for (i = 0; i < MOCK_FE_MAX_VRINGS; i++) {
		fe->vr[i].kickfd = -1;
		fe->vr[i].callfd = -1;
		fe->vr[i].errfd = -1;
	}
}

int
mock_fe_attach(struct mock_fe *fe, int sock, uint64_t mem_size)
{
	mock_fe_reset(fe);
	fe->sock = sock;
	fe->memfd = memfd_create("mock-guest", MFD_CLOEXEC);
	if (fe->memfd < 0)
		goto fail;
	if (ftruncate(fe->memfd, (off_t)mem_size) != 0)
		goto fail;
	fe->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->memfd, 0);
	if (fe->mem == MAP_FAILED) {
		fe->mem = NULL;
		goto fail;
	}
	fe->mem_size = mem_size;
	return 0;
fail:
	mock_fe_close(fe);
	return -1;
}

int
mock_fe_connect(struct mock_fe *fe, const char *path, uint64_t mem_size)
{
	struct sockaddr_un un;
	int fd, tries;

	mock_fe_reset(fe);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	for (tries = 0; tries < 200; tries++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0)
			return mock_fe_attach(fe, fd, mem_size);
		close(fd);
		vhu_test_sleep_ms(10);
	}
	return -1;
}

void
mock_fe_close(struct mock_fe *fe)
{
	unsigned int i;

	if (fe->sock >= 0)
		close(fe->sock);
	fe->sock = -1;
	for (i = 0; i < MOCK_FE_MAX_VRINGS; i++) {
		if (fe->vr[i].kickfd >= 0)
			close(fe->vr[i].kickfd);
		if (fe->vr[i].callfd >= 0)
			close(fe->vr[i].callfd);
		if (fe->vr[i].errfd >= 0)
			close(fe->vr[i].errfd);
		fe->vr[i].kickfd = fe->vr[i].callfd = fe->vr[i].errfd = -1;
	}
	if (fe->mem != NULL)
		munmap(fe->mem, fe->mem_size);
	fe->mem = NULL;
	if (fe->memfd >= 0)
		close(fe->memfd);
	fe->memfd = -1;
}

uint64_t
mock_fe_alloc(struct mock_fe *fe, uint64_t size, uint64_t align)
{
	uint64_t off = (fe->alloc + align - 1) & ~(align - 1);

	if (off + size > fe->mem_size)
		return 0;
	fe->alloc = off + size;
	memset(fe->mem + off, 0, size);
	return MOCK_FE_GPA_BASE + off;
}

void *
mock_fe_gpa_to_ptr(struct mock_fe *fe, uint64_t gpa)
{
	if (gpa < MOCK_FE_GPA_BASE || gpa - MOCK_FE_GPA_BASE >= fe->mem_size)
		return NULL;
	return fe->mem + (gpa - MOCK_FE_GPA_BASE);
}

uint64_t
mock_fe_ptr_to_gpa(struct mock_fe *fe, const void *p)
{
	return MOCK_FE_GPA_BASE + (uint64_t)((const uint8_t *)p - fe->mem);
}

struct vhu_mem_region_desc
mock_fe_region(const struct mock_fe *fe)
{
	struct vhu_mem_region_desc r = {
		.guest_phys_addr = MOCK_FE_GPA_BASE,
		.memory_size = fe->mem_size,
		.userspace_addr = (uint64_t)(uintptr_t)fe->mem,
		.mmap_offset = 0,
	};

	return r;
}

int
mock_fe_send(struct mock_fe *fe, uint32_t req, uint32_t flags, const void *payload,
	     uint32_t size, const int *fds, unsigned int nfds)
{
	struct vhu_msg_hdr h = {
		.request = req,
		.flags = flags ? flags : VHU_FLAG_VERSION,
		.size = size,
	};
	static const uint8_t zero[VHU_MAX_PAYLOAD + 64];

	if (payload == NULL)
		payload = zero;
	return vhu_msg_send(fe->sock, &h, payload, fds, nfds);
}

int
mock_fe_recv(struct mock_fe *fe, struct vhu_msg *msg)
{
	return vhu_msg_recv_wait(fe->sock, msg, MOCK_FE_TIMEOUT_MS);
}

static int
recv_reply(struct mock_fe *fe, uint32_t req, struct vhu_msg *msg)
{
	int rc = mock_fe_recv(fe, msg);

	if (rc != 0)
		return rc;
	if (msg->hdr.request != req || msg->hdr.flags != (VHU_FLAG_VERSION | VHU_FLAG_REPLY)) {
		vhu_msg_close_fds(msg);
		return -EPROTO;
	}
	return 0;
}

int
mock_fe_get_u64(struct mock_fe *fe, uint32_t req, uint64_t *out)
{
	struct vhu_msg msg;
	int rc;

	rc = mock_fe_send(fe, req, 0, NULL, 0, NULL, 0);
	if (rc != 0)
		return rc;
	rc = recv_reply(fe, req, &msg);
	if (rc != 0)
		return rc;
	vhu_msg_close_fds(&msg);
	if (msg.hdr.size != sizeof(uint64_t))
		return -EPROTO;
	*out = msg.payload.u64;
	return 0;
}

int
mock_fe_ack(struct mock_fe *fe, uint32_t req, const void *payload, uint32_t size,
	    const int *fds, unsigned int nfds, uint64_t *ack)
{
	struct vhu_msg msg;
	int rc;

	rc = mock_fe_send(fe, req, VHU_FLAG_VERSION | VHU_FLAG_NEED_REPLY, payload, size,
			  fds, nfds);
	if (rc != 0)
		return rc;
	rc = recv_reply(fe, req, &msg);
	if (rc != 0)
		return rc;
	vhu_msg_close_fds(&msg);
	if (msg.hdr.size != sizeof(uint64_t))
		return -EPROTO;
	*ack = msg.payload.u64;
	return 0;
}

bool
mock_fe_closed(struct mock_fe *fe, int timeout_ms)
{
	struct pollfd p = { .fd = fe->sock, .events = POLLIN };
	char c;

	for (;;) {
		int n = poll(&p, 1, timeout_ms);

		if (n <= 0)
			return false;
		n = (int)recv(fe->sock, &c, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false;
		/* a stray byte (a reply we did not read): keep looking */
	}
}

bool
mock_fe_alive(struct mock_fe *fe)
{
	uint64_t f;

	return mock_fe_get_u64(fe, VHU_REQ_GET_FEATURES, &f) == 0;
}

/* Send a request; with REPLY_ACK negotiated ask for and check the ack. */
static int
request(struct mock_fe *fe, uint32_t req, const void *payload, uint32_t size,
	const int *fds, unsigned int nfds)
{
	uint64_t ack;
	int rc;

	if (!(fe->protocol_features & VHU_BIT(VHU_PF_REPLY_ACK)))
		return mock_fe_send(fe, req, 0, payload, size, fds, nfds);
	rc = mock_fe_ack(fe, req, payload, size, fds, nfds, &ack);
	if (rc != 0)
		return rc;
	return ack == 0 ? 0 : -EIO;
}

int
mock_fe_negotiate(struct mock_fe *fe, uint64_t features_mask, uint64_t protocol_mask)
{
	uint64_t f, pf;
	int rc;

	if (!fe->no_owner) {
		rc = mock_fe_send(fe, VHU_REQ_SET_OWNER, 0, NULL, 0, NULL, 0);
		if (rc != 0)
			return rc;
	}
	rc = mock_fe_get_u64(fe, VHU_REQ_GET_FEATURES, &f);
	if (rc != 0)
		return rc;
	if (features_mask != 0)
		f &= features_mask;
	/* like QEMU: dirty logging only while migrating */
	f &= ~VHU_BIT(VHU_F_LOG_ALL);
	if (f & VHU_BIT(VHU_F_PROTOCOL_FEATURES)) {
		rc = mock_fe_get_u64(fe, VHU_REQ_GET_PROTOCOL_FEATURES, &pf);
		if (rc != 0)
			return rc;
		if (protocol_mask != 0)
			pf &= protocol_mask;
		rc = mock_fe_send(fe, VHU_REQ_SET_PROTOCOL_FEATURES, 0, &pf, sizeof(pf), NULL, 0);
		if (rc != 0)
			return rc;
		fe->protocol_features = pf;
	}
	fe->features = f;
	return request(fe, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0);
}

int
mock_fe_set_mem_table(struct mock_fe *fe)
{
	struct vhu_mem_table t;

	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(fe);
	return request(fe, VHU_REQ_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), &fe->memfd, 1);
}

static int
send_vring_fd(struct mock_fe *fe, uint32_t req, uint16_t idx, int fd)
{
	uint64_t v = idx;

	if (fd < 0)
		v |= VHU_VRING_NOFD_MASK;
	return request(fe, req, &v, sizeof(v), &fd, fd < 0 ? 0 : 1);
}

int
mock_fe_setup_vring(struct mock_fe *fe, uint16_t idx, uint16_t num)
{
	struct mock_vring *vr = &fe->vr[idx];
	struct vhu_vring_state st = { .index = idx };
	struct vhu_vring_addr a;
	int rc;

	if (idx >= MOCK_FE_MAX_VRINGS)
		return -EINVAL;
	vr->num = num;
	vr->desc_gpa = mock_fe_alloc(fe, 16ull * num, 4096);
	vr->avail_gpa = mock_fe_alloc(fe, 6 + 2ull * num, 64);
	vr->used_gpa = mock_fe_alloc(fe, 6 + 8ull * num, 4096);
	if (vr->desc_gpa == 0 || vr->avail_gpa == 0 || vr->used_gpa == 0)
		return -ENOMEM;
	vr->desc = mock_fe_gpa_to_ptr(fe, vr->desc_gpa);
	vr->avail = mock_fe_gpa_to_ptr(fe, vr->avail_gpa);
	vr->used = mock_fe_gpa_to_ptr(fe, vr->used_gpa);
	if (vr->kickfd < 0)
		vr->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vr->callfd < 0)
		vr->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vr->errfd < 0)
		vr->errfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	st.num = num;
	rc = request(fe, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
	if (rc != 0)
		return rc;
	st.num = 0;
	rc = request(fe, VHU_REQ_SET_VRING_BASE, &st, sizeof(st), NULL, 0);
	if (rc != 0)
		return rc;
	memset(&a, 0, sizeof(a));
	a.index = idx;
	a.desc_user_addr = fe->iova_rings ? vr->desc_gpa : (uint64_t)(uintptr_t)vr->desc;
	a.avail_user_addr = fe->iova_rings ? vr->avail_gpa : (uint64_t)(uintptr_t)vr->avail;
	a.used_user_addr = fe->iova_rings ? vr->used_gpa : (uint64_t)(uintptr_t)vr->used;
	a.log_guest_addr = vr->used_gpa;
	rc = request(fe, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	if (rc != 0)
		return rc;
	rc = send_vring_fd(fe, VHU_REQ_SET_VRING_CALL, idx, vr->callfd);
	if (rc != 0)
		return rc;
	rc = send_vring_fd(fe, VHU_REQ_SET_VRING_ERR, idx, vr->errfd);
	if (rc != 0)
		return rc;
	return send_vring_fd(fe, VHU_REQ_SET_VRING_KICK, idx, vr->kickfd);
}

int
mock_fe_vring_enable(struct mock_fe *fe, uint16_t idx, int enable)
{
	struct vhu_vring_state st = { .index = idx, .num = (uint32_t)enable };

	return request(fe, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
}

int
mock_fe_set_status(struct mock_fe *fe, uint8_t status)
{
	uint64_t v = status;

	return request(fe, VHU_REQ_SET_STATUS, &v, sizeof(v), NULL, 0);
}

int
mock_fe_get_vring_base(struct mock_fe *fe, uint16_t idx, uint32_t *base)
{
	struct vhu_vring_state st = { .index = idx, .num = 0 };
	struct vhu_msg msg;
	int rc;

	rc = mock_fe_send(fe, VHU_REQ_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);
	if (rc != 0)
		return rc;
	rc = recv_reply(fe, VHU_REQ_GET_VRING_BASE, &msg);
	if (rc != 0)
		return rc;
	vhu_msg_close_fds(&msg);
	if (msg.hdr.size != sizeof(st) || msg.payload.state.index != idx)
		return -EPROTO;
	*base = msg.payload.state.num;
	return 0;
}

int
mock_fe_setup(struct mock_fe *fe, const struct mock_fe_opts *opts)
{
	static const struct mock_fe_opts defaults;
	unsigned int i, n;
	uint16_t size;
	int rc;

	if (opts == NULL)
		opts = &defaults;
	n = opts->nvrings ? opts->nvrings : 2;
	size = opts->ring_size ? opts->ring_size : 256;
	if (n > MOCK_FE_MAX_VRINGS)
		return -EINVAL;
	rc = mock_fe_negotiate(fe, opts->features_mask, opts->protocol_mask);
	if (rc != 0)
		return rc;
	rc = mock_fe_set_mem_table(fe);
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i++) {
		rc = mock_fe_setup_vring(fe, (uint16_t)i, size);
		if (rc != 0)
			return rc;
	}
	if (!opts->no_enable && (fe->features & VHU_BIT(VHU_F_PROTOCOL_FEATURES))) {
		for (i = 0; i < n; i++) {
			rc = mock_fe_vring_enable(fe, (uint16_t)i, 1);
			if (rc != 0)
				return rc;
		}
	}
	if (!opts->no_status && (fe->protocol_features & VHU_BIT(VHU_PF_STATUS))) {
		rc = mock_fe_set_status(fe, VHU_STATUS_ACKNOWLEDGE | VHU_STATUS_DRIVER |
					VHU_STATUS_FEATURES_OK | VHU_STATUS_DRIVER_OK);
		if (rc != 0)
			return rc;
	}
	return 0;
}
