/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Front-end requests: one table (an X-macro) says for each request which
 * handler runs, which payload layout it must have, how many fds it may
 * carry, how it is answered, which state the device must be in and which
 * protocol feature it needs. The dispatcher checks all of that before the
 * handler runs; handlers then check the values (indexes, sizes, addresses)
 * and never touch the socket: the dispatcher sends replies, closes unused
 * fds and closes the connection after a fatal error.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vhu_conn.h"
#include "vhu_msg.h"
#include "vhu_msg_dev.h"
#include "vhu_msg_mem.h"
#include "vhu_msg_pvt.h"
#include "vhu_msg_ring.h"
#include "vhu_postcopy.h"

/* fds accepted */
enum fd_rule {
	FD_NONE,     /* no fd */
	FD_ONE,      /* exactly one */
	FD_VRING,    /* one, unless the no-fd bit of the u64 payload is set */
	FD_MEM,      /* one per region of the memory table */
	FD_DROP,     /* none or one (closed unused), for lenient legacy senders */
};

/* how a request is answered */
enum reply_kind {
	RP_ACK,      /* only with NEED_REPLY: u64 0 = ok, non-zero = refused */
	RP_DATA,     /* always a reply payload; cannot express refusal (fatal) */
	RP_U64ERR,   /* always a u64: 0 = ok, non-zero = error */
	RP_CFG,      /* always a config reply; refusal = empty payload */
};

/* minimum device state */
enum min_state {
	ST_ANY,
	ST_OWNER,    /* owned: SET_OWNER seen, or taken implicitly (see dispatch) */
	ST_FEATURES, /* SET_FEATURES seen */
};

/* protocol feature requirement */
#define PF_NONE   (-1)

struct req_row {
	vhu_msg_handler fn;
	enum vhu_payload_kind payload;
	enum fd_rule fds;
	enum reply_kind reply;
	enum min_state state;
	int pf;            /* protocol feature bit, or PF_NONE */
	bool pf_offered;   /* enough that the feature is offered (queries) */
};

/* clang-format off */
/*
 * The request table:
 *  X(request, handler, payload, fds, reply, minimum state, protocol feature,
 *    feature merely offered is enough)
 */
#define VHU_REQUESTS(X) \
	X(GET_FEATURES,          vhu_msg_get_features,          VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      PF_NONE,                     false) \
	X(SET_FEATURES,          vhu_msg_set_features,          VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_OWNER,    PF_NONE,                     false) \
	X(SET_OWNER,             vhu_msg_set_owner,             VHU_PL_NONE,       FD_NONE,  RP_ACK,    ST_ANY,      PF_NONE,                     false) \
	X(RESET_OWNER,           vhu_msg_reset,                 VHU_PL_NONE,       FD_NONE,  RP_ACK,    ST_OWNER,    PF_NONE,                     false) \
	X(SET_MEM_TABLE,         vhu_msg_set_mem_table,         VHU_PL_MEM_TABLE,  FD_MEM,   RP_ACK,    ST_OWNER,    PF_NONE,                     false) \
	X(SET_LOG_BASE,          vhu_msg_set_log_base,          VHU_PL_LOG,        FD_ONE,   RP_U64ERR, ST_OWNER,    VHU_PF_LOG_SHMFD,            false) \
	X(SET_LOG_FD,            vhu_msg_set_log_fd,            VHU_PL_NONE,       FD_ONE,   RP_ACK,    ST_OWNER,    PF_NONE,                     false) \
	X(SET_VRING_NUM,         vhu_msg_set_vring_num,         VHU_PL_STATE,      FD_NONE,  RP_ACK,    ST_FEATURES, PF_NONE,                     false) \
	X(SET_VRING_ADDR,        vhu_msg_set_vring_addr,        VHU_PL_ADDR,       FD_NONE,  RP_ACK,    ST_FEATURES, PF_NONE,                     false) \
	X(SET_VRING_BASE,        vhu_msg_set_vring_base,        VHU_PL_STATE,      FD_NONE,  RP_ACK,    ST_FEATURES, PF_NONE,                     false) \
	X(GET_VRING_BASE,        vhu_msg_get_vring_base,        VHU_PL_STATE,      FD_NONE,  RP_DATA,   ST_OWNER,    PF_NONE,                     false) \
	X(SET_VRING_KICK,        vhu_msg_set_vring_kick,        VHU_PL_FILE,       FD_VRING, RP_ACK,    ST_FEATURES, PF_NONE,                     false) \
	X(SET_VRING_CALL,        vhu_msg_set_vring_call,        VHU_PL_FILE,       FD_VRING, RP_ACK,    ST_OWNER,    PF_NONE,                     false) \
	X(SET_VRING_ERR,         vhu_msg_set_vring_err,         VHU_PL_FILE,       FD_VRING, RP_ACK,    ST_OWNER,    PF_NONE,                     false) \
	X(GET_PROTOCOL_FEATURES, vhu_msg_get_protocol_features, VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      PF_NONE,                     false) \
	X(SET_PROTOCOL_FEATURES, vhu_msg_set_protocol_features, VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_ANY,      PF_NONE,                     false) \
	X(GET_QUEUE_NUM,         vhu_msg_get_queue_num,         VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      VHU_PF_MQ,                   true)  \
	X(SET_VRING_ENABLE,      vhu_msg_set_vring_enable,      VHU_PL_STATE,      FD_NONE,  RP_ACK,    ST_OWNER,    PF_NONE,                     false) \
	X(SEND_RARP,             vhu_msg_send_rarp,             VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_OWNER,    VHU_PF_RARP,                 false) \
	X(NET_SET_MTU,           vhu_msg_net_set_mtu,           VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_FEATURES, VHU_PF_NET_MTU,              false) \
	X(SET_BACKEND_REQ_FD,    vhu_msg_set_backend_req_fd,    VHU_PL_NONE,       FD_ONE,   RP_ACK,    ST_ANY,      VHU_PF_BACKEND_REQ,          false) \
	X(IOTLB_MSG,             vhu_msg_iotlb,                 VHU_PL_IOTLB,      FD_NONE,  RP_ACK,    ST_ANY,      PF_NONE,                     false) \
	X(GET_CONFIG,            vhu_msg_get_config,            VHU_PL_CONFIG,     FD_NONE,  RP_CFG,    ST_ANY,      VHU_PF_CONFIG,               false) \
	X(SET_CONFIG,            vhu_msg_set_config,            VHU_PL_CONFIG,     FD_NONE,  RP_ACK,    ST_ANY,      VHU_PF_CONFIG,               false) \
	X(POSTCOPY_ADVISE,       vhu_msg_postcopy_advise,       VHU_PL_NONE,       FD_NONE,  RP_U64ERR, ST_OWNER,    VHU_PF_PAGEFAULT,            false) \
	X(POSTCOPY_LISTEN,       vhu_msg_postcopy_listen,       VHU_PL_NONE,       FD_NONE,  RP_ACK,    ST_OWNER,    VHU_PF_PAGEFAULT,            false) \
	X(POSTCOPY_END,          vhu_msg_postcopy_end,          VHU_PL_NONE,       FD_NONE,  RP_U64ERR, ST_OWNER,    VHU_PF_PAGEFAULT,            false) \
	X(GET_INFLIGHT_FD,       vhu_msg_get_inflight_fd,       VHU_PL_INFLIGHT,   FD_NONE,  RP_DATA,   ST_OWNER,    VHU_PF_INFLIGHT_SHMFD,       false) \
	X(SET_INFLIGHT_FD,       vhu_msg_set_inflight_fd,       VHU_PL_INFLIGHT,   FD_ONE,   RP_ACK,    ST_OWNER,    VHU_PF_INFLIGHT_SHMFD,       false) \
	X(RESET_DEVICE,          vhu_msg_reset,                 VHU_PL_NONE,       FD_NONE,  RP_ACK,    ST_OWNER,    VHU_PF_RESET_DEVICE,         false) \
	X(VRING_KICK,            vhu_msg_vring_kick,            VHU_PL_STATE,      FD_NONE,  RP_ACK,    ST_FEATURES, VHU_PF_INBAND_NOTIFICATIONS, false) \
	X(GET_MAX_MEM_SLOTS,     vhu_msg_get_max_mem_slots,     VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      VHU_PF_CONFIGURE_MEM_SLOTS,  true)  \
	X(ADD_MEM_REG,           vhu_msg_add_mem_reg,           VHU_PL_MEM_SINGLE, FD_ONE,   RP_ACK,    ST_OWNER,    VHU_PF_CONFIGURE_MEM_SLOTS,  false) \
	X(REM_MEM_REG,           vhu_msg_rem_mem_reg,           VHU_PL_MEM_SINGLE, FD_DROP,  RP_ACK,    ST_OWNER,    VHU_PF_CONFIGURE_MEM_SLOTS,  false) \
	X(SET_STATUS,            vhu_msg_set_status,            VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_ANY,      VHU_PF_STATUS,               false) \
	X(GET_STATUS,            vhu_msg_get_status,            VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      VHU_PF_STATUS,               true)  \
	X(SET_DEVICE_STATE_FD,   vhu_msg_set_device_state_fd,   VHU_PL_XFER,       FD_ONE,   RP_U64ERR, ST_OWNER,    VHU_PF_DEVICE_STATE,         false) \
	X(CHECK_DEVICE_STATE,    vhu_msg_check_device_state,    VHU_PL_NONE,       FD_NONE,  RP_U64ERR, ST_OWNER,    VHU_PF_DEVICE_STATE,         false) \
	X(GET_SHMEM_CONFIG,      vhu_msg_get_shmem_config,      VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      PF_NONE,                     false)

#define VHU_ROW(req, fn_, pl, fd, rp, st, pf_, off) \
	[VHU_REQ_ ## req] = { .fn = fn_, .payload = pl, .fds = fd, .reply = rp, \
			      .state = st, .pf = pf_, .pf_offered = off },

static const struct req_row req_table[VHU_REQ_MAX] = {
	VHU_REQUESTS(VHU_ROW)
};
/* clang-format on */

static unsigned int
expected_fds(const struct req_row *row, const struct vhu_msg *m, unsigned int *max)
{
	*max = 0;
	switch (row->fds) {
	case FD_ONE:
		*max = 1;
		return 1;
	case FD_VRING:
		*max = (m->payload.u64 & VHU_VRING_NOFD_MASK) ? 0 : 1;
		return *max;
	case FD_MEM:
		*max = m->payload.mem.nregions;
		return *max;
	case FD_DROP:
		*max = 1;
		return 0;
	default:
		return 0;
	}
}

/* Why the device cannot take this request now; NULL when it can. */
static const char *
precondition(const struct vhu_conn *c, const struct req_row *row)
{
	const struct vhu_dev *dev = &c->dev;

	if (row->state >= ST_FEATURES && !(dev->flags & VHU_DEV_FEATURES_SET))
		return "SET_FEATURES has not been received";
	if (row->pf != PF_NONE) {
		uint64_t have = row->pf_offered ? dev->offered_protocol_features :
			dev->protocol_features;

		if (!(have & VHU_BIT(row->pf)))
			return "its protocol feature was not negotiated";
	}
	return NULL;
}

static int
send_reply(struct vhu_conn *c, const struct vhu_msg *req, struct vhu_msg *r)
{
	int rc;

	r->hdr.request = req->hdr.request;
	r->hdr.flags = VHU_FLAG_VERSION | VHU_FLAG_REPLY;
	rc = vhu_msg_send(c->dev.connfd, &r->hdr, &r->payload, r->fds, r->nfds);
	if (rc != 0) {
		snprintf(c->fatal_buf, sizeof(c->fatal_buf), "cannot send %s reply: %s",
			 vhu_req_name(req->hdr.request), strerror(-rc));
		c->fatal = c->fatal_buf;
		return -1;
	}
	return 0;
}

static int dispatch(struct vhu_conn *c, struct vhu_msg *m);

static void
close_deferred(struct vhu_conn *c)
{
	while (c->ndefer > 0)
		close(c->defer_close[--c->ndefer]);
}

int
vhu_msg_dispatch(struct vhu_conn *c, struct vhu_msg *m)
{
	int rc = dispatch(c, m);

	close_deferred(c);
	return rc;
}

static int
dispatch(struct vhu_conn *c, struct vhu_msg *m)
{
	struct vhu_dev *dev = &c->dev;
	struct vhu_msg *r = &c->reply;
	uint32_t req = m->hdr.request;
	bool need_reply = (m->hdr.flags & VHU_FLAG_NEED_REPLY) != 0;
	const char *name = vhu_req_name(req), *why = NULL;
	const struct req_row *row = NULL;
	unsigned int want, max;
	int rc;

	r->hdr.size = 0;
	r->payload.u64 = 0;
	r->nfds = 0;
	c->fatal = NULL;
	VHU_LOG_CONFIG(DEBUG, dev->ifname, "request %s (%u), %u bytes, %u fds", name, req,
		       m->hdr.size, m->nfds);

	if (m->hdr.flags & VHU_FLAG_REPLY) {
		why = "reply flag set on a request";
		goto fatal;
	}
	/* postcopy: the front-end's u64 acknowledging our memory mapping reply */
	if (vhu_postcopy_take_ack(&c->dev, m)) {
		vhu_msg_close_fds(m);
		return 0;
	}
	if (req < VHU_REQ_MAX)
		row = &req_table[req];
	if (row == NULL || row->fn == NULL) {
		VHU_LOG_CONFIG(WARNING, dev->ifname, "unsupported request %s (%u) ignored",
			       name, req);
		vhu_msg_close_fds(m);
		if (need_reply) {
			vhu_msg_reply_u64(r, 1);
			if (send_reply(c, m, r) != 0)
				goto fatal_set;
		}
		return 0;
	}
	if (vhu_check_payload(row->payload, m, &why) != 0)
		goto fatal;
	want = expected_fds(row, m, &max);
	if (m->nfds < want || m->nfds > max) {
		snprintf(c->fatal_buf, sizeof(c->fatal_buf), "%s carries %u fds, %u expected",
			 name, m->nfds, want);
		c->fatal = c->fatal_buf;
		goto fatal_set;
	}

	why = precondition(c, row);
	if (why == NULL && row->state >= ST_OWNER && !(dev->flags & VHU_DEV_OWNER)) {
		/*
		 * No SET_OWNER on this connection. DPDK's virtio-user (server
		 * mode) never sends one on a reconnected session: it stops the
		 * rings (SET_VRING_ENABLE 0, GET_VRING_BASE) and negotiates
		 * again. The specification attaches no other meaning to the
		 * request, so the first front-end to configure the device
		 * owns it.
		 */
		VHU_LOG_CONFIG(NOTICE, dev->ifname,
				"%s before SET_OWNER: the front-end is taken as the owner", name);
		dev->flags |= VHU_DEV_OWNER;
	}
	if (why != NULL) {
		VHU_LOG_CONFIG(WARNING, dev->ifname, "%s refused: %s", name, why);
		rc = VHU_MSG_REFUSE;
		if (row->reply == RP_DATA) {
			c->fatal = "a request that must be answered came in the wrong state";
			goto fatal_set;
		}
		if (row->reply == RP_U64ERR)
			vhu_msg_reply_u64(r,
					req == VHU_REQ_SET_DEVICE_STATE_FD ?
							(VHU_STATE_REPLY_NOFD | 1) :
							1);
	} else {
		rc = row->fn(c, m, r);
	}

	/* fds the handler did not take are closed before anything is answered */
	vhu_msg_close_fds(m);
	if (rc == VHU_MSG_FATAL)
		goto fatal_set;
	/* callbacks first: an acked front-end sees their effects done */
	if (vhu_conn_update(c) != 0)
		goto fatal_set;
	switch (row->reply) {
	case RP_ACK:
		if (rc == VHU_MSG_OK && r->hdr.size != 0) {
			/* a reply of the handler's own (postcopy memory mapping) */
			if (send_reply(c, m, r) != 0)
				goto fatal_set;
		} else if (need_reply) {
			vhu_msg_reply_u64(r, rc == VHU_MSG_OK ? 0 : 1);
			if (send_reply(c, m, r) != 0)
				goto fatal_set;
		}
		break;
	case RP_DATA:
		if (rc != VHU_MSG_OK) {
			c->fatal = "a request that must be answered was refused";
			goto fatal_set;
		}
		if (send_reply(c, m, r) != 0)
			goto fatal_set;
		break;
	case RP_U64ERR:
		if (rc != VHU_MSG_OK && (r->hdr.size == 0 || r->payload.u64 == 0))
			vhu_msg_reply_u64(r, 1);
		if (send_reply(c, m, r) != 0)
			goto fatal_set;
		break;
	case RP_CFG:
		if (rc != VHU_MSG_OK)
			r->hdr.size = 0;   /* an empty config reply is the error */
		if (send_reply(c, m, r) != 0)
			goto fatal_set;
		break;
	}
	return 0;

fatal:
	c->fatal = why;
fatal_set:
	VHU_LOG_CONFIG(ERR, dev->ifname, "closing connection (vid %d) on %s: %s", dev->vid,
		       name, c->fatal != NULL ? c->fatal : "error");
	return -1;
}
