/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Helpers of the attack-class and fault tests (see hostile.h). */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "hostile.h"
#include "vhu.h"
#include "vhu_dev_table.h"
#include "vhu_test.h"

const uint8_t hostile_udp[50] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0, 0, 36, 0,
	0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0x00, 0x35, 0, 16, 0, 0, 'h',
	'o', 's', 't', 'i', 'l', 'e', '!' };

/* ---- log lines ---- */

static FILE *hlog_file;

int
hlog_start(void)
{
	char path[] = "/tmp/vhu-hlog-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	hlog_file = fdopen(fd, "w+");
	if (hlog_file == NULL) {
		close(fd);
		return -1;
	}
	setvbuf(hlog_file, NULL, _IOLBF, 0);
	return rte_openlog_stream(hlog_file);
}

static char *
hlog_read(void)
{
	long size;
	char *buf;

	if (hlog_file == NULL)
		return NULL;
	fflush(hlog_file);
	size = lseek(fileno(hlog_file), 0, SEEK_END);
	if (size < 0)
		return NULL;
	buf = malloc((size_t)size + 1);
	if (buf == NULL)
		return NULL;
	if (pread(fileno(hlog_file), buf, (size_t)size, 0) != size) {
		free(buf);
		return NULL;
	}
	buf[size] = '\0';
	return buf;
}

bool
hlog_has(const char *needle)
{
	char *buf;
	bool found;
	int tries;

	/* a line from the control thread may still be on its way */
	for (tries = 0; tries < 100; tries++) {
		buf = hlog_read();
		found = buf != NULL && strstr(buf, needle) != NULL;
		free(buf);
		if (found)
			return true;
		vhu_test_sleep_ms(10);
	}
	return false;
}

void
hlog_stop(bool dump)
{
	char *buf;

	if (hlog_file == NULL)
		return;
	rte_openlog_stream(NULL);
	if (dump) {
		buf = hlog_read();
		if (buf != NULL)
			fprintf(stderr, "---- captured log ----\n%s---- end of log ----\n", buf);
		free(buf);
	}
	fclose(hlog_file);
	hlog_file = NULL;
}

int
hlog_run(int (*body)(void))
{
	int rc;

	if (hlog_start() != 0) {
		TEST_LOG("cannot capture the log");
		return TEST_FAILED;
	}
	rc = body();
	hlog_stop(rc == TEST_FAILED);
	return rc;
}

/* ---- leaks ---- */

static int
count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	if (f == NULL)
		return -1;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

static uint64_t
heap_blocks(void)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats st;

		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0)
			n += st.alloc_count;
	}
	return n;
}

static int
count_devices(void)
{
	int vid, n = 0;

	for (vid = 0; vid < VHU_MAX_DEVICES; vid++)
		if (vhu_dev_table_get(vid) != NULL)
			n++;
	return n;
}

static void
hmark_read(struct hmark *m)
{
	m->fds = vhu_test_count_fds();
	m->maps = count_maps();
	m->heap = heap_blocks();
	m->devices = count_devices();
}

/*
 * The mark is taken once the counts hold still: a connection the test
 * just closed may still be in its last steps on the control thread.
 */
void
hmark_take(struct hmark *m)
{
	struct hmark again;
	int tries;

	hmark_read(m);
	for (tries = 0; tries < 200; tries++) {
		vhu_test_sleep_ms(10);
		hmark_read(&again);
		if (again.fds == m->fds && again.maps == m->maps && again.heap == m->heap &&
				again.devices == m->devices)
			return;
		*m = again;
	}
}

/* Thread stacks (two lines each) and malloc arenas that threads leave cached. */
#define MAPS_SLACK 16

int
hmark_check(const struct hmark *m)
{
	struct hmark now;
	int waited;

	for (waited = 0;; waited += 10) {
		hmark_read(&now);
		if (now.fds == m->fds && now.maps <= m->maps + MAPS_SLACK &&
		    now.heap == m->heap && now.devices == m->devices)
			return TEST_SUCCESS;
		if (waited >= 2000)
			break;
		vhu_test_sleep_ms(10);
	}
	TEST_LOG("leak: fds %d -> %d, mappings %d -> %d, rte_malloc blocks %" PRIu64 " -> %"
		 PRIu64 ", devices %d -> %d", m->fds, now.fds, m->maps, now.maps, m->heap,
		 now.heap, m->devices, now.devices);
	return TEST_FAILED;
}

#define HPOOL_SIZE 4095

struct rte_mempool *
hpool(void)
{
	static struct rte_mempool *mp;

	if (mp == NULL)
		mp = rte_pktmbuf_pool_create("hostile_pool", HPOOL_SIZE, 0, 0,
					     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	return mp;
}

bool
hpool_full(void)
{
	struct rte_mempool *mp = hpool();

	return mp != NULL && rte_mempool_avail_count(mp) == HPOOL_SIZE;
}

/* ---- devices ---- */

int
hdev_reconnect(struct hdev *d)
{
	int before = vhu_rec.conn;

	if (d->fe.sock >= 0)
		mock_fe_close(&d->fe);
	TEST_ASSERT_EQ(mock_fe_connect(&d->fe, d->path, HDEV_MEM), 0, "connect %s", d->path);
	TEST_ASSERT(vhu_test_wait(&vhu_rec.conn, before + 1, 2000), "no new_connection");
	d->vid = vhu_rec.conn_vid;
	return TEST_SUCCESS;
}

int
hdev_register(struct hdev *d, uint64_t sock_flags, const struct vhu_ops *ops)
{
	memset(d, 0, sizeof(*d));
	d->live = true;
	mock_fe_reset(&d->fe);
	d->vid = -1;
	TEST_ASSERT(vhu_test_tmpdir(d->dir, sizeof(d->dir)) == 0, "tmpdir");
	snprintf(d->path, sizeof(d->path), "%s/s", d->dir);
	d->conf.path = d->path;
	d->conf.ops = ops;
	d->conf.max_queue_pairs = 1;
	d->conf.flags = sock_flags;
	TEST_ASSERT_EQ(vhu_socket_register(&d->conf), 0, "register %s", d->path);
	d->registered = true;
	return TEST_SUCCESS;
}

int
hdev_up(struct hdev *d, uint64_t sock_flags)
{
	TEST_RUN(hdev_register(d, sock_flags, &vhu_rec_ops));
	return hdev_reconnect(d);
}

int
hdev_attach_rings(struct hdev *d)
{
	int q;

	memset(&d->gm, 0, sizeof(d->gm));
	d->gm.n = 1;
	d->gm.r[0].host = d->fe.mem + HDEV_DATA_OFF;
	d->gm.r[0].gpa = MOCK_FE_GPA_BASE + HDEV_DATA_OFF;
	d->gm.r[0].size = d->fe.mem_size - HDEV_DATA_OFF;
	for (q = 0; q < 2; q++) {
		struct mock_vring *vr = &d->fe.vr[q];
		struct gring *g = &d->g[q];

		if (d->rings)
			gring_fini(g);
		TEST_ASSERT_EQ(gring_init(g, &d->gm, vr->num, false), 0, "guest ring %d", q);
		/* the rings the back-end uses are the ones the mock announced */
		g->desc = vr->desc;
		g->avail = vr->avail;
		g->used = vr->used;
		g->desc_gpa = vr->desc_gpa;
		g->avail_gpa = vr->avail_gpa;
		g->used_gpa = vr->used_gpa;
	}
	d->rings = true;
	return TEST_SUCCESS;
}

int
hdev_ready(struct hdev *d, uint64_t features_mask, uint16_t ring_size)
{
	struct mock_fe_opts o = {
		.features_mask = features_mask, .ring_size = ring_size, .nvrings = 2,
	};
	int before = vhu_rec.new_dev;

	TEST_ASSERT_EQ(mock_fe_setup(&d->fe, &o), 0, "front-end setup");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, before + 1, 2000), "no new_device");
	TEST_ASSERT_EQ(vhu_vring_is_active(d->vid, 0), 1, "vring 0 active");
	TEST_ASSERT_EQ(vhu_vring_is_active(d->vid, 1), 1, "vring 1 active");
	return hdev_attach_rings(d);
}

bool
hdev_closed(struct hdev *d)
{
	return mock_fe_closed(&d->fe, 2000);
}

void
hdev_down(struct hdev *d)
{
	int q;

	if (!d->live)
		return;
	d->live = false;
	mock_fe_close(&d->fe);
	if (d->registered)
		vhu_socket_unregister(d->path);
	d->registered = false;
	if (d->dir[0] != '\0')
		vhu_test_rmdir(d->dir);
	d->dir[0] = '\0';
	if (d->rings)
		for (q = 0; q < 2; q++)
			gring_fini(&d->g[q]);
	d->rings = false;
}

static uint32_t
hdev_hlen(const struct hdev *d)
{
	return (d->fe.features & (VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_NET_MRG_RXBUF))) ?
		12 : 10;
}

int
hdev_tx(struct hdev *d, const uint8_t *frame, uint32_t len, const struct vhu_net_hdr *hdr)
{
	uint32_t hlen = hdev_hlen(d);
	struct vhu_net_hdr zero;
	struct gseg seg;
	uint64_t gpa;

	if (hdr == NULL) {
		memset(&zero, 0, sizeof(zero));
		hdr = &zero;
	}
	gpa = gmem_alloc(&d->gm, 0, hlen + len, 64);
	if (gpa == 0 || gmem_write(&d->gm, gpa, hdr, hlen) != 0 ||
	    gmem_write(&d->gm, gpa + hlen, frame, len) != 0)
		return -1;
	seg.gpa = gpa;
	seg.len = hlen + len;
	return gring_post(&d->g[1], &seg, 1, false, false);
}

int
hdev_rx_post(struct hdev *d, uint32_t len)
{
	struct gseg seg;
	uint64_t gpa = gmem_alloc(&d->gm, 0, len, 64);

	if (gpa == 0)
		return -1;
	memset(gmem_host(&d->gm, gpa), 0xa5, len);
	seg.gpa = gpa;
	seg.len = len;
	return gring_post(&d->g[0], &seg, 1, true, false);
}

/* The first len bytes written into the buffer posted at head. */
static int
gather(struct hdev *d, uint32_t head, uint8_t *out, uint32_t len)
{
	const struct gbuf *b;
	uint32_t i, at = 0;

	if (head >= d->g[0].size)
		return -1;
	b = &d->g[0].bufs[head];
	for (i = 0; i < b->nseg && at < len; i++) {
		uint32_t l = RTE_MIN(len - at, b->seg[i].len);

		if (gmem_read(&d->gm, b->seg[i].gpa, out + at, l) != 0)
			return -1;
		at += l;
	}
	return at == len ? 0 : -1;
}

int
hdev_rx_recv(struct hdev *d, uint8_t *out, uint32_t cap, struct vhu_net_hdr *hdr)
{
	static uint8_t tmp[128 * 1024];
	uint32_t hlen = hdev_hlen(d), id, len, nbuf, k, flen;
	bool mrg = (d->fe.features & VHU_BIT(VHU_F_NET_MRG_RXBUF)) != 0;

	if (gring_pop(&d->g[0], &id, &len) == 0)
		return 0;
	if (len < hlen || len > sizeof(tmp) || gather(d, id, tmp, len) != 0)
		return -1;
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr, tmp, hlen);
	flen = len - hlen;
	nbuf = mrg ? hdr->num_buffers : 1;
	if (nbuf == 0)
		return -1;
	for (k = 1; k < nbuf; k++) {
		if (gring_pop(&d->g[0], &id, &len) == 0)
			return -1;
		if (hlen + flen + len > sizeof(tmp) || gather(d, id, tmp + hlen + flen, len) != 0)
			return -1;
		flen += len;
	}
	if (flen > cap)
		return -1;
	memcpy(out, tmp + hlen, flen);
	return (int)flen;
}

unsigned int
hdev_used(struct hdev *d, int q, uint32_t *ids, uint32_t *lens, unsigned int max)
{
	unsigned int n = 0;
	uint32_t id, len;

	while (n < max && gring_pop(&d->g[q], &id, &len) == 1) {
		if (ids != NULL)
			ids[n] = id;
		if (lens != NULL)
			lens[n] = len;
		n++;
	}
	return n;
}

void
hdev_avail(struct hdev *d, int q, uint16_t head)
{
	struct gring *g = &d->g[q];

	g->avail->ring[g->avail_idx & (g->size - 1)] = head;
	g->avail_idx++;
	gring_publish(g);
}

struct vhu_vring_desc *
hdev_desc(struct hdev *d, int q, uint16_t i)
{
	return &d->g[q].desc[i & (d->g[q].size - 1)];
}

#define FWD_MAX 64

int
hdev_forwards(struct hdev *d, unsigned int n)
{
	static uint8_t frames[FWD_MAX][1600], got[2048];
	struct rte_mbuf *pkts[FWD_MAX];
	struct rte_mempool *mp = hpool();
	struct vhu_net_hdr hdr;
	unsigned int i, taken = 0, tries;
	uint16_t k, sent = 0;
	int len;

	TEST_ASSERT(n <= FWD_MAX && mp != NULL, "forwarding check of %u frames", n);
	hdev_used(d, 1, NULL, NULL, UINT32_MAX);   /* recycle earlier TX buffers */
	for (i = 0; i < n; i++) {
		make_frame(frames[i], 60 + 17 * i, 1000 + i);
		TEST_ASSERT(hdev_tx(d, frames[i], 60 + 17 * i, NULL) >= 0, "guest TX %u", i);
		TEST_ASSERT(hdev_rx_post(d, 2048) >= 0, "guest RX buffer %u", i);
	}
	for (tries = 0; taken < n && tries < 100; tries++) {
		k = vhu_dequeue_burst(d->vid, 1, mp, &pkts[taken], (uint16_t)(n - taken));
		taken += k;
	}
	TEST_ASSERT_EQ(taken, n, "frames dequeued from vid %d", d->vid);
	for (i = 0; i < n; i++) {
		if (mbuf_cmp(pkts[i], frames[i], 60 + 17 * i) != 0) {
			rte_pktmbuf_free_bulk(pkts, n);
			TEST_LOG("frame %u differs after dequeue", i);
			return TEST_FAILED;
		}
	}
	for (tries = 0; sent < n && tries < 100; tries++)
		sent += vhu_enqueue_burst(d->vid, 0, &pkts[sent], (uint16_t)(n - sent));
	rte_pktmbuf_free_bulk(pkts, n);
	TEST_ASSERT_EQ(sent, n, "frames enqueued to vid %d", d->vid);
	for (i = 0; i < n; i++) {
		len = hdev_rx_recv(d, got, sizeof(got), &hdr);
		TEST_ASSERT_EQ(len, 60 + 17 * i, "guest received frame %u", i);
		TEST_ASSERT(memcmp(got, frames[i], (size_t)len) == 0, "frame %u content", i);
	}
	hdev_used(d, 1, NULL, NULL, UINT32_MAX);
	return TEST_SUCCESS;
}

/* ---- a hostile device A next to a well-behaved bystander B ---- */

static int
pair_setup(void *obj)
{
	RTE_SET_USED(obj);
	if (hlog_start() != 0) {
		TEST_LOG("cannot capture the log");
		return TEST_FAILED;
	}
	vhu_rec_reset();
	TEST_ASSERT(hpool() != NULL, "mbuf pool");
	return TEST_SUCCESS;
}

static int
pair_teardown(void *obj, int status)
{
	struct pair *p = obj;

	/* the guest thread first: it writes into memory about to go */
	flipper_stop(p);
	hdev_down(&p->a);
	hdev_down(&p->b);
	hlog_stop(status == TEST_FAILED);
	return TEST_SUCCESS;
}

const struct vhu_test_fixture vhu_fixture_pair = VHU_FIXTURE_INIT(pair, pair_setup, pair_teardown);

int
pair_up(struct pair *p, uint64_t fmask)
{
	vhu_rec_reset();
	hmark_take(&p->mark);
	TEST_RUN(hdev_up(&p->b, 0));
	TEST_RUN(hdev_ready(&p->b, 0, PAIR_QSIZE));
	TEST_RUN(hdev_up(&p->a, 0));
	TEST_RUN(hdev_ready(&p->a, fmask, PAIR_QSIZE));
	TEST_RUN(hdev_forwards(&p->b, 8));
	return TEST_SUCCESS;
}

int
pair_down(struct pair *p)
{
	TEST_RUN(hdev_forwards(&p->b, 16));
	hdev_down(&p->a);
	hdev_down(&p->b);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&p->mark);
}

int
pair_fatal(struct pair *p, uint32_t req, const void *pl, uint32_t size, const int *fds,
		unsigned int nfds, const char *logged)
{
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, req, 0, pl, size, fds, nfds), 0, "send %s",
			vhu_req_name(req));
	TEST_ASSERT(hdev_closed(&p->a), "%s (%u bytes, %u fds) did not close the connection",
			vhu_req_name(req), size, nfds);
	if (logged != NULL)
		TEST_ASSERT(hlog_has(logged), "no log line \"%s\"", logged);
	return hdev_reconnect(&p->a);
}

int
pair_negotiated(struct pair *p)
{
	TEST_ASSERT_EQ(mock_fe_negotiate(&p->a.fe, 0, 0), 0, "negotiate");
	return TEST_SUCCESS;
}

unsigned int
pair_dequeue(struct pair *p, struct rte_mbuf **keep, unsigned int nkeep)
{
	struct rte_mbuf *pkts[64];
	unsigned int total = 0, i;
	uint16_t n;

	do {
		n = vhu_dequeue_burst(p->a.vid, 1, hpool(), pkts, RTE_DIM(pkts));
		for (i = 0; i < n; i++) {
			if (total + i < nkeep)
				keep[total + i] = pkts[i];
			else
				rte_pktmbuf_free(pkts[i]);
		}
		total += n;
	} while (n != 0);
	return total;
}

uint16_t
hring_errors(int vid, uint16_t q)
{
	struct vhu_vq_stats st;

	if (vhu_vq_stats_get(vid, q, &st) != 0)
		return 0xffff;
	return (uint16_t)st.errors;
}

int
hmemfd(uint64_t size)
{
	int fd = memfd_create("cve-test", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void
hdesc(struct vhu_vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

uint64_t
hdev_err_signals(struct hdev *d, int q)
{
	eventfd_t v = 0;

	if (eventfd_read(d->fe.vr[q].errfd, &v) != 0)
		return 0;
	return v;
}

/* ---- a guest thread flipping a field ---- */

static void *
flipper_main(void *arg)
{
	struct flipper *f = arg;

	while (!f->stop) {
		if (f->field != NULL)
			*f->field = (f->flips & 1) ? f->a : f->b;
		if (f->field32 != NULL)
			*f->field32 = (f->flips & 1) ? f->a32 : f->b32;
		f->flips++;
	}
	return NULL;
}

int
flipper_start(struct pair *p)
{
	struct flipper *f = &p->fl;
	int waited = 0;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), c;
	int self = sched_getcpu(), rc;
	pthread_attr_t attr;
	cpu_set_t set;

	f->stop = 0;
	f->flips = 0;
	/*
	 * A thread made by an EAL lcore inherits its one-CPU affinity and
	 * would flip only between bursts, never during one: the guest
	 * thread runs on every other CPU.
	 */
	CPU_ZERO(&set);
	for (c = 0; c < ncpu && c < CPU_SETSIZE; c++)
		if (c != self || ncpu == 1)
			CPU_SET((int)c, &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	rc = pthread_create(&f->thread, &attr, flipper_main, f);
	pthread_attr_destroy(&attr);
	TEST_ASSERT_EQ(rc, 0, "guest thread");
	f->running = true;
	while (f->flips < 1000 && waited < 2000) {
		vhu_test_sleep_ms(1);
		waited++;
	}
	return TEST_SUCCESS;
}

void
flipper_stop(struct pair *p)
{
	struct flipper *f = &p->fl;

	if (!f->running)
		return;
	f->stop = 1;
	pthread_join(f->thread, NULL);
	f->running = false;
}
