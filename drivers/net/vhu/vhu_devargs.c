/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu device arguments: one table (VHU_ETH_DEVARGS in vhu_ethdev.h)
 * drives the parser below and the parameter string registered with the
 * driver. Every key is checked strictly: unknown keys, keys without a
 * value, keys given twice, values that are not exactly a number in range
 * (or 0/1, or a unicast MAC address) are refused with a message that names
 * the key, the value and what is accepted.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_kvargs.h>

#include "vhu_ethdev.h"
#include "vhu_proto.h"

enum vhu_eth_arg_kind {
	VHU_ETH_KIND_PATH,
	VHU_ETH_KIND_BOOL,
	VHU_ETH_KIND_UINT,
	VHU_ETH_KIND_MAC,
};

struct vhu_eth_arg_desc {
	const char *key;
	const char *accepted;
	enum vhu_eth_arg_kind kind;
	uint32_t min;
	uint32_t max;
};

static const struct vhu_eth_arg_desc vhu_eth_args[VHU_ETH_ARG_COUNT] = {
#define VHU_ETH_ARG_DESC(id, key_, help, kind_, min_, max_) \
	[VHU_ETH_ARG_##id] = { .key = key_, \
		.accepted = help, \
		.kind = VHU_ETH_KIND_##kind_, \
		.min = min_, \
		.max = max_ },
	VHU_ETH_DEVARGS(VHU_ETH_ARG_DESC)
#undef VHU_ETH_ARG_DESC
};

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
find_key(const char *key)
{
	int i;

	for (i = 0; i < VHU_ETH_ARG_COUNT; i++)
		if (strcmp(vhu_eth_args[i].key, key) == 0)
			return i;
	return -1;
}

/* "iface, queues, client, ..." for the unknown-key message. */
static void
key_list(char *buf, size_t len)
{
	size_t off = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; i < VHU_ETH_ARG_COUNT && off < len; i++) {
		n = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", vhu_eth_args[i].key);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* Decimal digits only, no sign, no spaces, no suffix; fits in uint32_t. */
static int
parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v = 0;
	const char *p;

	if (*s == '\0')
		return -EINVAL;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_one(int id, const char *value, struct vhu_eth_devargs *out, char *err, size_t errlen)
{
	const struct vhu_eth_arg_desc *d = &vhu_eth_args[id];
	uint32_t v;
	int rc;

	switch (d->kind) {
	case VHU_ETH_KIND_PATH:
		if (value[0] == '\0') {
			set_err(err, errlen, "devarg %s is empty: a unix socket path is required",
					d->key);
			return -EINVAL;
		}
		if (strlen(value) >= sizeof(out->iface)) {
			set_err(err, errlen,
					"devarg %s=%s is too long: accepted a socket path of at most %zu bytes",
					d->key, value, sizeof(out->iface) - 1);
			return -EINVAL;
		}
		strcpy(out->iface, value);
		return 0;
	case VHU_ETH_KIND_MAC:
		if (rte_ether_unformat_addr(value, &out->mac) != 0) {
			set_err(err, errlen, "devarg %s=%s is not a MAC address: accepted %s",
					d->key, value, d->accepted);
			return -EINVAL;
		}
		if (!rte_is_valid_assigned_ether_addr(&out->mac)) {
			set_err(err, errlen,
					"devarg %s=%s is a multicast or all-zero address: accepted a unicast %s",
					d->key, value, d->accepted);
			return -EINVAL;
		}
		return 0;
	case VHU_ETH_KIND_BOOL:
	case VHU_ETH_KIND_UINT:
		rc = parse_u32(value, &v);
		if (rc == 0 && v >= d->min && v <= d->max) {
			out->val[id] = v;
			return 0;
		}
		if (rc == -EINVAL)
			set_err(err, errlen, "devarg %s=%s is not a decimal number: accepted %s",
					d->key, value, d->accepted);
		else
			set_err(err, errlen, "devarg %s=%s is out of range: accepted %s", d->key,
					value, d->accepted);
		return -EINVAL;
	}
	return -EINVAL;
}

int
vhu_eth_devargs_parse(const char *args, struct vhu_eth_devargs *out, char *err, size_t errlen)
{
	struct rte_kvargs *kv;
	char keys[256];
	unsigned int i;
	int id, rc = 0;

	memset(out, 0, sizeof(*out));
	set_err(err, errlen, "no error");
	if (args == NULL || args[0] == '\0') {
		set_err(err, errlen, "no devargs: iface=<path> is required");
		return -EINVAL;
	}
	/* No key list: we check the keys ourselves, to name the bad one. */
	kv = rte_kvargs_parse(args, NULL);
	if (kv == NULL) {
		set_err(err, errlen,
				"cannot parse devargs '%s': accepted key=value pairs separated by commas (at most %d)",
				args, RTE_KVARGS_MAX);
		return -EINVAL;
	}
	for (i = 0; i < kv->count; i++) {
		const char *key = kv->pairs[i].key;
		const char *value = kv->pairs[i].value;

		id = find_key(key);
		if (id < 0) {
			key_list(keys, sizeof(keys));
			set_err(err, errlen, "unknown devarg %s=%s: accepted keys are %s", key,
					value != NULL ? value : "", keys);
			rc = -EINVAL;
			break;
		}
		if (value == NULL) {
			set_err(err, errlen, "devarg %s has no value: accepted %s=%s", key, key,
					vhu_eth_args[id].accepted);
			rc = -EINVAL;
			break;
		}
		if (out->given[id]) {
			set_err(err, errlen,
					"devarg %s=%s is given more than once: accepted once, as %s=%s",
					key, value, key, vhu_eth_args[id].accepted);
			rc = -EINVAL;
			break;
		}
		rc = parse_one(id, value, out, err, errlen);
		if (rc != 0)
			break;
		out->given[id] = true;
	}
	rte_kvargs_free(kv);
	if (rc == 0 && !out->given[VHU_ETH_ARG_IFACE]) {
		set_err(err, errlen, "devarg iface is missing: iface=<path> is required");
		rc = -EINVAL;
	}
	if (rc == 0 && out->given[VHU_ETH_ARG_RECONNECT] &&
			!(out->given[VHU_ETH_ARG_CLIENT] && out->val[VHU_ETH_ARG_CLIENT] == 1)) {
		set_err(err, errlen,
				"devarg reconnect=%u applies to client mode only: accepted with client=1",
				out->val[VHU_ETH_ARG_RECONNECT]);
		rc = -EINVAL;
	}
	if (rc == 0 && out->given[VHU_ETH_ARG_TSO] && out->val[VHU_ETH_ARG_TSO] == 1 &&
			out->given[VHU_ETH_ARG_CSUM] && out->val[VHU_ETH_ARG_CSUM] == 0) {
		set_err(err, errlen,
				"devarg tso=1 needs checksum offload but csum=0: accepted tso=1 with csum=1 or without csum");
		rc = -EINVAL;
	}
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* A given 0/1 key: 1 when set to 1, 0 when set to 0, -1 when absent. */
static int
tristate(const struct vhu_eth_devargs *a, enum vhu_eth_arg_id id)
{
	if (!a->given[id])
		return -1;
	return a->val[id] ? 1 : 0;
}

#define BIT(f) (1ull << (f))

int
vhu_eth_devargs_to_conf(const struct vhu_eth_devargs *a, struct vhu_socket_conf *conf, char *err,
		size_t errlen)
{
	const uint64_t tso_host = BIT(VHU_F_NET_HOST_TSO4) | BIT(VHU_F_NET_HOST_TSO6);
	const uint64_t csum_users = BIT(VHU_F_NET_HOST_TSO4) | BIT(VHU_F_NET_HOST_TSO6) |
			BIT(VHU_F_NET_GUEST_TSO4) | BIT(VHU_F_NET_GUEST_TSO6) |
			BIT(VHU_F_NET_HOST_ECN) | BIT(VHU_F_NET_GUEST_ECN) |
			BIT(VHU_F_NET_HOST_UFO) | BIT(VHU_F_NET_GUEST_UFO) |
			BIT(VHU_F_NET_HOST_USO) | BIT(VHU_F_NET_GUEST_USO4) |
			BIT(VHU_F_NET_GUEST_USO6);
	int t;

	memset(conf, 0, sizeof(*conf));
	/* every combination maps today; a refusal would say why here */
	set_err(err, errlen, "no error");
	conf->path = a->iface;
	conf->max_queue_pairs = vhu_eth_devargs_queues(a);

	if (tristate(a, VHU_ETH_ARG_CLIENT) == 1) {
		conf->flags |= VHU_SOCK_CLIENT;
		if (a->given[VHU_ETH_ARG_RECONNECT]) {
			if (a->val[VHU_ETH_ARG_RECONNECT] == 0)
				conf->flags |= VHU_SOCK_NO_RECONNECT;
			else
				conf->reconnect_ms = a->val[VHU_ETH_ARG_RECONNECT];
		}
	}
	/* postcopy: the library probes userfaultfd when the port registers */
	if (tristate(a, VHU_ETH_ARG_POSTCOPY) == 1)
		conf->flags |= VHU_SOCK_POSTCOPY;
	if (tristate(a, VHU_ETH_ARG_LINEAR_BUF) == 1)
		conf->flags |= VHU_SOCK_LINEAR_BUF;
	if (tristate(a, VHU_ETH_ARG_EXT_BUF) == 1)
		conf->flags |= VHU_SOCK_EXT_BUF;
	if (tristate(a, VHU_ETH_ARG_LEGACY_OL) == 1)
		conf->flags |= VHU_SOCK_LEGACY_OL_FLAGS;
	/* iommu-support=1: ACCESS_PLATFORM offered, IOVAs through the device IOTLB */
	if (tristate(a, VHU_ETH_ARG_IOMMU) == 1)
		conf->flags |= VHU_SOCK_IOMMU;

	/* packed: offered unless packed=0, as net_vhost does (a front-end that
	 * asks for packed rings gets them; one that does not, split rings) */
	if (tristate(a, VHU_ETH_ARG_PACKED) != 0)
		conf->flags |= VHU_SOCK_PACKED;
	else
		conf->features_disable |= BIT(VHU_F_RING_PACKED);

	/* tso: as net_vhost, host TSO (guest -> host segmentation offload) is withdrawn unless tso=1. */
	if (tristate(a, VHU_ETH_ARG_TSO) == 1)
		conf->features_enable |= tso_host;
	else
		conf->features_disable |= tso_host;

	t = tristate(a, VHU_ETH_ARG_CSUM);
	if (t == 1) {
		conf->features_enable |= BIT(VHU_F_NET_CSUM) | BIT(VHU_F_NET_GUEST_CSUM);
	} else if (t == 0) {
		/* Every segmentation offload relies on checksum offload. */
		conf->features_disable |=
				BIT(VHU_F_NET_CSUM) | BIT(VHU_F_NET_GUEST_CSUM) | csum_users;
	}

	/* ufo: UDP fragmentation offload both ways, offered unless ufo=0 (as
	 * net_vhost does); it needs checksum offload, so csum=0 withdraws it too */
	if (tristate(a, VHU_ETH_ARG_UFO) != 0 && tristate(a, VHU_ETH_ARG_CSUM) != 0)
		conf->features_enable |= BIT(VHU_F_NET_HOST_UFO) | BIT(VHU_F_NET_GUEST_UFO);
	else
		conf->features_disable |= BIT(VHU_F_NET_HOST_UFO) | BIT(VHU_F_NET_GUEST_UFO);

	t = tristate(a, VHU_ETH_ARG_MRG_RXBUF);
	if (t == 1)
		conf->features_enable |= BIT(VHU_F_NET_MRG_RXBUF);
	else if (t == 0)
		conf->features_disable |= BIT(VHU_F_NET_MRG_RXBUF);

	t = tristate(a, VHU_ETH_ARG_IN_ORDER);
	if (t == 1)
		conf->features_enable |= BIT(VHU_F_IN_ORDER);
	else if (t == 0)
		conf->features_disable |= BIT(VHU_F_IN_ORDER);

	if (a->given[VHU_ETH_ARG_MTU]) {
		conf->mtu = (uint16_t)a->val[VHU_ETH_ARG_MTU]; /* offers VIRTIO_NET_F_MTU */
	}
	if (a->given[VHU_ETH_ARG_MAC]) {
		conf->mac_set = true;
		conf->mac = a->mac; /* offers VIRTIO_NET_F_MAC */
	}
	/* Enabling and disabling the same bit would be a table bug, not a user error. */
	conf->features_enable &= ~conf->features_disable;
	return 0;
}
