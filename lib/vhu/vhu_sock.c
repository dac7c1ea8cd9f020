/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Transport: registration of socket paths, server sockets (stale socket
 * files of dead processes are replaced, live ones refused), client sockets
 * with reconnect back-off on a timerfd, accepting and closing connections.
 *
 * The registration list is touched only by application threads holding
 * api_lock; everything that involves epoll, connections or callbacks runs
 * on the control thread through vhu_evloop_call().
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_errno.h>

#include "vhu_codec.h"
#include "vhu_conn.h"
#include "vhu_evloop.h"
#include "vhu_msg.h"
#include "vhu_obj.h"
#include "vhu_postcopy.h"

#define VHU_RECONNECT_DEFAULT_MS 100u
#define VHU_RECONNECT_MAX_MS     1000u
#define VHU_LISTEN_BACKLOG       64

#define VHU_SOCK_KNOWN (VHU_SOCK_CLIENT | VHU_SOCK_NO_RECONNECT | VHU_SOCK_MULTI_CONN | \
		VHU_SOCK_LINEAR_BUF | VHU_SOCK_EXT_BUF | VHU_SOCK_LEGACY_OL_FLAGS | \
		VHU_SOCK_PACKED | VHU_SOCK_IOMMU | VHU_SOCK_POSTCOPY)

/* A registered path, served in server or client mode. */
struct vhu_socket {
	char path[VHU_PATH_MAX];
	struct vhu_socket_conf conf; /* conf.path points at path */
	uint64_t features;           /* offered */
	uint64_t protocol_features;  /* offered */
	int listen_fd;               /* server, else -1 */
	int timer_fd;                /* client reconnect timer, else -1 */
	uint32_t backoff_ms;         /* client: next retry delay */
	bool closing;
	struct vhu_evloop_cb ev_listen;
	struct vhu_evloop_cb ev_timer;
	unsigned int nconn;
	TAILQ_HEAD(, vhu_conn) conns;
	TAILQ_ENTRY(vhu_socket) next;
};

static pthread_mutex_t api_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, vhu_socket) sockets = TAILQ_HEAD_INITIALIZER(sockets);

/* ---- offered features ---- */

VHU_API uint64_t
vhu_default_features(void)
{
	return VHU_BIT(VHU_F_NET_CSUM) | VHU_BIT(VHU_F_NET_GUEST_CSUM) |
		VHU_BIT(VHU_F_NET_HOST_TSO4) | VHU_BIT(VHU_F_NET_HOST_TSO6) |
		VHU_BIT(VHU_F_NET_GUEST_TSO4) | VHU_BIT(VHU_F_NET_GUEST_TSO6) |
		VHU_BIT(VHU_F_NET_HOST_ECN) | VHU_BIT(VHU_F_NET_GUEST_ECN) |
		VHU_BIT(VHU_F_NET_MRG_RXBUF) | VHU_BIT(VHU_F_NET_STATUS) |
		VHU_BIT(VHU_F_NET_CTRL_VQ) | VHU_BIT(VHU_F_NET_CTRL_RX) |
		VHU_BIT(VHU_F_NET_GUEST_ANNOUNCE) | VHU_BIT(VHU_F_NET_MQ) |
		VHU_BIT(VHU_F_NOTIFY_ON_EMPTY) | VHU_BIT(VHU_F_LOG_ALL) |
		VHU_BIT(VHU_F_ANY_LAYOUT) | VHU_BIT(VHU_F_RING_INDIRECT_DESC) |
		VHU_BIT(VHU_F_RING_EVENT_IDX) | VHU_BIT(VHU_F_PROTOCOL_FEATURES) |
		VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_IN_ORDER);
}

VHU_API uint64_t
vhu_default_protocol_features(void)
{
	/*
	 * Not offered: CROSS_ENDIAN (little-endian x86_64 only), CRYPTO_SESSION
	 * and GPU (other device types), PAGEFAULT (only with VHU_SOCK_POSTCOPY),
	 * BACKEND_SEND_FD and HOST_NOTIFIER (no mappable doorbells in a
	 * software back-end), INBAND_NOTIFICATIONS (the datapath signals
	 * through eventfds: a call over the socket would block an lcore),
	 * XEN_MMAP and SHARED_OBJECT (not for net devices).
	 */
	return VHU_BIT(VHU_PF_MQ) | VHU_BIT(VHU_PF_LOG_SHMFD) | VHU_BIT(VHU_PF_RARP) |
		VHU_BIT(VHU_PF_REPLY_ACK) | VHU_BIT(VHU_PF_NET_MTU) |
		VHU_BIT(VHU_PF_BACKEND_REQ) | VHU_BIT(VHU_PF_CONFIG) |
		VHU_BIT(VHU_PF_INFLIGHT_SHMFD) | VHU_BIT(VHU_PF_STATUS) |
		VHU_BIT(VHU_PF_CONFIGURE_MEM_SLOTS) | VHU_BIT(VHU_PF_RESET_DEVICE) |
		VHU_BIT(VHU_PF_DEVICE_STATE);
}

/* ---- connections ---- */

static void conn_event(void *arg, uint32_t events);

/* A device became ready: a session that got this far resets the client's reconnect back-off. */
static void
conn_ready(void *owner)
{
	struct vhu_socket *s = owner;

	s->backoff_ms = s->conf.reconnect_ms;
}

static void
attach_conn(struct vhu_socket *s, int fd)
{
	struct vhu_conn *c;
	int rc;

	c = vhu_conn_new(&s->conf, s->features, s->protocol_features, fd);
	if (c == NULL)
		return;   /* vhu_conn_new logged and closed fd */
	c->owner = s;
	c->on_ready = conn_ready;
	c->ev.fn = conn_event;
	c->ev.arg = c;
	rc = vhu_evloop_add(fd, EPOLLIN, &c->ev);
	if (rc != 0) {
		VHU_LOG_CONFIG(ERR, s->path, "cannot watch connection: %s", strerror(-rc));
		vhu_conn_free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&s->conns, c, next);
	s->nconn++;
	if (c->dev.ops->new_connection != NULL) {
		c->conn_cb = true;
		if (c->dev.ops->new_connection(c->dev.vid) != 0) {
			VHU_LOG_CONFIG(INFO, s->path, "application refused the connection");
			TAILQ_REMOVE(&s->conns, c, next);
			s->nconn--;
			vhu_evloop_del(fd);
			vhu_conn_free(c);
		}
	}
}

static void try_connect(struct vhu_socket *s);

static void
arm_retry(struct vhu_socket *s)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = s->backoff_ms / 1000;
	its.it_value.tv_nsec = (long)(s->backoff_ms % 1000) * 1000000L;
	if (timerfd_settime(s->timer_fd, 0, &its, NULL) != 0)
		VHU_LOG_CONFIG(ERR, s->path, "cannot arm reconnect timer: %s", strerror(errno));
	s->backoff_ms *= 2;
	if (s->backoff_ms > VHU_RECONNECT_MAX_MS)
		s->backoff_ms = VHU_RECONNECT_MAX_MS;
}

static void
close_conn(struct vhu_socket *s, struct vhu_conn *c)
{
	if (c->sweep_fd >= 0) {
		vhu_evloop_del(c->sweep_fd);
		close(c->sweep_fd);
		c->sweep_fd = -1;
	}
	vhu_evloop_del(c->dev.connfd);
	TAILQ_REMOVE(&s->conns, c, next);
	s->nconn--;
	vhu_conn_free(c);
	/*
	 * Client: reconnect after the back-off delay, not at once, so a
	 * front-end that accepts and hangs up cannot make us spin. The delay
	 * returns to reconnect_ms once a device became ready.
	 */
	if ((s->conf.flags & VHU_SOCK_CLIENT) && !s->closing &&
	    !(s->conf.flags & VHU_SOCK_NO_RECONNECT))
		arm_retry(s);
}

static int
connect_path(const char *path, int *out)
{
	struct sockaddr_un un;
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, path);   /* length checked at registration */
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/* Client mode: one attempt; on failure the timer retries with back-off. */
static void
try_connect(struct vhu_socket *s)
{
	int fd, rc;

	if (s->nconn > 0)
		return;
	rc = connect_path(s->path, &fd);
	if (rc == 0) {
		VHU_LOG_CONFIG(INFO, s->path, "connected to front-end");
		attach_conn(s, fd);
		return;
	}
	if (s->conf.flags & VHU_SOCK_NO_RECONNECT) {
		VHU_LOG_CONFIG(ERR, s->path, "connect failed: %s (reconnect disabled)",
			       strerror(-rc));
		return;
	}
	VHU_LOG_CONFIG(DEBUG, s->path, "connect failed: %s, retry in %u ms",
		       strerror(-rc), s->backoff_ms);
	arm_retry(s);
}

static void
accept_conn(struct vhu_socket *s)
{
	int fd;

	fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			VHU_LOG_CONFIG(ERR, s->path, "accept: %s", strerror(errno));
		return;
	}
	if (s->nconn > 0 && !(s->conf.flags & VHU_SOCK_MULTI_CONN)) {
		VHU_LOG_CONFIG(ERR, s->path,
			       "refusing a second connection (socket not registered for several)");
		close(fd);
		return;
	}
	VHU_LOG_CONFIG(INFO, s->path, "front-end connected");
	attach_conn(s, fd);
}

/* ---- started but disabled rings: the sweep timer ---- */

/* The first sweep after a ring is seen started and disabled, and after one that found buffers. */
#define VHU_SWEEP_MIN_MS 10u
/* The slowest pace, reached by doubling while the guest sends nothing on its disabled rings. */
#define VHU_SWEEP_MAX_MS 320u

static void sweep_event(void *arg, uint32_t events);

static void
sweep_arm(struct vhu_conn *c, unsigned int ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (timerfd_settime(c->sweep_fd, 0, &its, NULL) != 0)
		VHU_LOG_CONFIG(ERR, c->dev.ifname, "cannot arm the disabled rings' timer: %s",
				strerror(errno));
	c->sweep_on = ms != 0;
	c->sweep_ms = ms;
}

/* Arm the connection's sweep timer while it has a started, disabled TX ring; disarm otherwise. */
static void
sweep_update(struct vhu_socket *s, struct vhu_conn *c)
{
	bool want = vhu_conn_sweep_wanted(c);
	int rc;

	if (want == c->sweep_on)
		return;
	if (want && c->sweep_fd < 0) {
		c->sweep_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (c->sweep_fd < 0) {
			VHU_LOG_CONFIG(ERR, s->path,
					"cannot create the disabled rings' timer: %s "
					"(their TX is not dropped)", strerror(errno));
			return;
		}
		c->ev_sweep.fn = sweep_event;
		c->ev_sweep.arg = c;
		rc = vhu_evloop_add(c->sweep_fd, EPOLLIN, &c->ev_sweep);
		if (rc != 0) {
			VHU_LOG_CONFIG(ERR, s->path, "cannot watch the disabled rings' timer: %s",
					strerror(-rc));
			close(c->sweep_fd);
			c->sweep_fd = -1;
			return;
		}
	}
	sweep_arm(c, want ? VHU_SWEEP_MIN_MS : 0);
}

/*
 * The sweep timer of a connection expired: sweep, then come back soon if
 * the guest sent something on a disabled ring, later and later if not.
 */
static void
sweep_event(void *arg, uint32_t events)
{
	struct vhu_conn *c = arg;
	unsigned int ms;
	uint64_t n;

	RTE_SET_USED(events);
	if (read(c->sweep_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		VHU_LOG_CONFIG(ERR, c->dev.ifname, "timerfd: %s", strerror(errno));
	ms = vhu_conn_sweep(c) ? VHU_SWEEP_MIN_MS : RTE_MIN(2 * c->sweep_ms, VHU_SWEEP_MAX_MS);
	sweep_arm(c, vhu_conn_sweep_wanted(c) ? ms : 0);
}

/* Read and handle what the front-end sent; at most a batch per wake-up. */
static void
conn_input(struct vhu_socket *s, struct vhu_conn *c, uint32_t events)
{
	const char *why = "";
	int i, rc;

	for (i = 0; i < 64; i++) {
		rc = vhu_rx_step(c->dev.connfd, &c->rx, &why);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc == -ECONNRESET)
				VHU_LOG_CONFIG(INFO, s->path, "front-end disconnected (vid %d)",
					       c->dev.vid);
			else if (rc == -EPROTO)
				VHU_LOG_CONFIG(ERR, s->path, "closing connection: %s", why);
			else
				VHU_LOG_CONFIG(ERR, s->path, "closing connection: %s",
					       strerror(-rc));
			vhu_msg_close_fds(&c->rx.msg);
			close_conn(s, c);
			return;
		}
		rc = vhu_msg_dispatch(c, &c->rx.msg);
		vhu_msg_close_fds(&c->rx.msg);
		vhu_rx_reset(&c->rx);
		if (rc != 0) {
			close_conn(s, c);
			return;
		}
	}
	if (i == 0 && (events & (EPOLLHUP | EPOLLERR))) {
		VHU_LOG_CONFIG(INFO, s->path, "front-end hung up (vid %d)", c->dev.vid);
		close_conn(s, c);
		return;
	}
	sweep_update(s, c);
}

/* A connection's fd is readable (or hung up). */
static void
conn_event(void *arg, uint32_t events)
{
	struct vhu_conn *c = arg;

	conn_input(c->owner, c, events);
}

/* A server socket has a connection to accept. */
static void
listen_event(void *arg, uint32_t events)
{
	RTE_SET_USED(events);
	accept_conn(arg);
}

/* A client's reconnect timer expired. */
static void
timer_event(void *arg, uint32_t events)
{
	struct vhu_socket *s = arg;
	uint64_t n;

	RTE_SET_USED(events);
	if (read(s->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		VHU_LOG_CONFIG(ERR, s->path, "timerfd: %s", strerror(errno));
	if (!s->closing)
		try_connect(s);
}

/* ---- registration ---- */

/* Server socket at path; replaces a stale socket file of a dead process. */
static int
listen_path(const char *path, int *out)
{
	struct sockaddr_un un;
	struct stat st;
	int fd, probe = -1, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, path);
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) != 0) {
		rc = -errno;
		if (rc != -EADDRINUSE)
			goto fail;
		if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
			rc = -ENOTSOCK;
			goto fail;
		}
		rc = connect_path(path, &probe);
		if (rc == 0)
			close(probe);
		if (rc == 0 || rc == -EAGAIN) {
			rc = -EADDRINUSE;   /* a live process serves it */
			goto fail;
		}
		VHU_LOG_CONFIG(INFO, path, "removing stale socket file");
		if (unlink(path) != 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) != 0) {
			rc = -errno;
			goto fail;
		}
	}
	if (listen(fd, VHU_LISTEN_BACKLOG) != 0) {
		rc = -errno;
		unlink(path);
		goto fail;
	}
	*out = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

static int
add_cmd(void *arg)
{
	struct vhu_socket *s = arg;
	int rc;

	if (!(s->conf.flags & VHU_SOCK_CLIENT))
		return vhu_evloop_add(s->listen_fd, EPOLLIN, &s->ev_listen);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0)
		return -errno;
	rc = vhu_evloop_add(s->timer_fd, EPOLLIN, &s->ev_timer);
	if (rc != 0)
		return rc;
	if (s->conf.flags & VHU_SOCK_NO_RECONNECT) {
		int fd;

		rc = connect_path(s->path, &fd);
		if (rc != 0)
			return rc;
		VHU_LOG_CONFIG(INFO, s->path, "connected to front-end");
		attach_conn(s, fd);
		return 0;
	}
	try_connect(s);
	return 0;
}

static int
remove_cmd(void *arg)
{
	struct vhu_socket *s = arg;
	struct vhu_conn *c;

	s->closing = true;
	while ((c = TAILQ_FIRST(&s->conns)) != NULL)
		close_conn(s, c);
	if (s->listen_fd >= 0) {
		vhu_evloop_del(s->listen_fd);
		close(s->listen_fd);
		s->listen_fd = -1;
		unlink(s->path);
	}
	if (s->timer_fd >= 0) {
		vhu_evloop_del(s->timer_fd);
		close(s->timer_fd);
		s->timer_fd = -1;
	}
	return 0;
}

static struct vhu_socket *
find_socket(const char *path)
{
	struct vhu_socket *s;

	TAILQ_FOREACH(s, &sockets, next)
		if (strcmp(s->path, path) == 0)
			return s;
	return NULL;
}

static int
check_conf(const struct vhu_socket_conf *conf)
{
	size_t len;

	if (conf == NULL || conf->path == NULL)
		return -EINVAL;
	len = strnlen(conf->path, VHU_PATH_MAX);
	if (len == 0 || len >= VHU_PATH_MAX)
		return -EINVAL;
	if (conf->flags & ~VHU_SOCK_KNOWN)
		return -EINVAL;
	if (conf->flags & VHU_SOCK_POSTCOPY) {
		const char *why = NULL;

		if (vhu_postcopy_probe(&why) != 0) {
			VHU_LOG_CONFIG(ERR, conf->path, "postcopy migration refused: %s", why);
			return -ENOTSUP;
		}
	}
	if (conf->max_queue_pairs > VHU_MAX_QUEUE_PAIRS)
		return -EINVAL;
	if (conf->mtu != 0 && conf->mtu < RTE_ETHER_MIN_MTU)
		return -EINVAL;
	return 0;
}

VHU_API int
vhu_socket_register(const struct vhu_socket_conf *conf)
{
	static const struct vhu_ops no_ops;
	struct vhu_socket *s;
	int rc;

	rc = check_conf(conf);
	if (rc != 0)
		goto out_err;
	if (vhu_evloop_on_thread()) {
		rc = -EDEADLK;
		goto out_err;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = -ENOMEM;
		goto out_err;
	}
	strcpy(s->path, conf->path);
	s->conf = *conf;
	s->conf.path = s->path;
	if (s->conf.ops == NULL)
		s->conf.ops = &no_ops;
	if (s->conf.max_queue_pairs == 0)
		s->conf.max_queue_pairs = 1;
	if (s->conf.reconnect_ms == 0)
		s->conf.reconnect_ms = VHU_RECONNECT_DEFAULT_MS;
	s->backoff_ms = s->conf.reconnect_ms;
	s->features = (vhu_default_features() | conf->features_enable) &
		~conf->features_disable;
	if (conf->mtu != 0)
		s->features |= VHU_BIT(VHU_F_NET_MTU);
	if (conf->mac_set)
		s->features |= VHU_BIT(VHU_F_NET_MAC);
	if (conf->flags & VHU_SOCK_PACKED)
		s->features |= VHU_BIT(VHU_F_RING_PACKED);
	/* the protocol itself needs this bit; ACCESS_PLATFORM only with the IOTLB on */
	s->features |= VHU_BIT(VHU_F_PROTOCOL_FEATURES);
	if (conf->flags & VHU_SOCK_IOMMU)
		s->features |= VHU_BIT(VHU_F_ACCESS_PLATFORM);
	else
		s->features &= ~VHU_BIT(VHU_F_ACCESS_PLATFORM);
	s->protocol_features = vhu_default_protocol_features();
	if (conf->flags & VHU_SOCK_POSTCOPY)
		s->protocol_features |= VHU_BIT(VHU_PF_PAGEFAULT);
	s->protocol_features &= ~conf->protocol_features_disable;
	s->listen_fd = -1;
	s->timer_fd = -1;
	s->ev_listen.fn = listen_event;
	s->ev_listen.arg = s;
	s->ev_timer.fn = timer_event;
	s->ev_timer.arg = s;
	TAILQ_INIT(&s->conns);

	pthread_mutex_lock(&api_lock);
	if (find_socket(s->path) != NULL) {
		rc = -EEXIST;
		goto fail_locked;
	}
	if (!(s->conf.flags & VHU_SOCK_CLIENT)) {
		rc = listen_path(s->path, &s->listen_fd);
		if (rc != 0)
			goto fail_locked;
	}
	rc = vhu_evloop_start();
	if (rc != 0)
		goto fail_listen;
	rc = vhu_evloop_call(add_cmd, s);
	if (rc != 0) {
		vhu_evloop_call(remove_cmd, s);
		goto fail_loop;
	}
	TAILQ_INSERT_TAIL(&sockets, s, next);
	pthread_mutex_unlock(&api_lock);
	VHU_LOG_CONFIG(INFO, s->path, "registered (%s mode)",
		       (s->conf.flags & VHU_SOCK_CLIENT) ? "client" : "server");
	return 0;

fail_loop:
	if (TAILQ_EMPTY(&sockets))
		vhu_evloop_stop();
fail_listen:
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
fail_locked:
	pthread_mutex_unlock(&api_lock);
	VHU_LOG_CONFIG(ERR, s->path, "registration failed: %s", strerror(-rc));
	free(s);
out_err:
	rte_errno = -rc;
	return -1;
}

VHU_API int
vhu_socket_unregister(const char *path)
{
	struct vhu_socket *s;

	if (path == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	if (vhu_evloop_on_thread()) {
		rte_errno = EDEADLK;
		return -1;
	}
	pthread_mutex_lock(&api_lock);
	s = find_socket(path);
	if (s == NULL) {
		pthread_mutex_unlock(&api_lock);
		rte_errno = ENOENT;
		return -1;
	}
	vhu_evloop_call(remove_cmd, s);
	TAILQ_REMOVE(&sockets, s, next);
	if (TAILQ_EMPTY(&sockets))
		vhu_evloop_stop();
	pthread_mutex_unlock(&api_lock);
	VHU_LOG_CONFIG(INFO, s->path, "unregistered");
	free(s);
	return 0;
}
