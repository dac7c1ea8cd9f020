/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhu-ping: the test guest's sequence-numbered echo stream (built static by
 * devtools/qemu/mkguest.sh into the guest's /bin; driven by the guest agent,
 * devtools/qemu/case-agent.sh).
 *
 *   vhu-ping [-i MS] [-s BYTES] [-d MS] [-o STATUS-FILE] PEER
 *
 * Sends ICMP echo requests to PEER every MS milliseconds (default 20) until
 * SIGTERM or SIGINT, then listens -d MS more (default 1000) for replies in
 * flight and prints one summary line on stdout. Every request carries this
 * run's random 64-bit tag, its sequence number, its send time and a pattern
 * derived from both, so each reply is checked: echo reply type, checksum,
 * ICMP id, tag, length, pattern, sequence number not seen before. The socket
 * gets a receive buffer of 4 MB (busybox ping asks for a few frames only,
 * and drops replies when the guest is busy), so every reply that reaches
 * the guest's kernel is read and judged.
 *
 * Summary (also written, as "VHU-TEST: peek ...", to STATUS-FILE every
 * 200 ms while it runs):
 *   sent        requests the kernel took (sequence numbers 0 .. sent - 1)
 *   replies     first replies to our requests, intact
 *   dups        a second reply to the same request
 *   stale       echo replies of another vhu-ping run (its magic, another
 *               id or tag): an earlier stream's frame arriving now
 *   corrupt     echo replies of ours that failed the checksum, length or
 *               pattern check
 *   foreign     other echo replies (another pinger's)
 *   echo_read   every echo reply read (the kernel's Icmp InEchoReps should
 *               grow by exactly this much)
 *   lost        sent - replies
 *   gap, gap_end    the longest run of unanswered sequence numbers, and the
 *               first sequence number answered after it (-1: none)
 *   after_gap   replies to requests sent after that run
 *   silence_ms  the longest time between two replies arriving
 *   max_rtt_ms  the longest round trip; late: replies later than 1 s
 *   send_errors sendto() failures (the interface gone, no route...)
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEQ   (1u << 22)  /* 23 hours at 20 ms */
#define MAGIC     0x56485550u /* "VHUP": a vhu-ping request or reply */
#define HDR_BYTES 24          /* magic, tag, sequence number, send time */
#define STATUS_MS 200

static volatile sig_atomic_t stop;

struct stream {
	uint64_t tag;
	uint16_t id;
	uint32_t sent, replies, dups, stale, corrupt, foreign, echo_read;
	uint32_t late, send_errors;
	uint64_t max_rtt_ns, silence_ns, last_arrival;
	uint8_t *seen;   /* one bit per sequence number */
	uint32_t *order; /* arrival order of first replies (for after_gap) */
};

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint16_t
csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint8_t
pattern(uint64_t tag, uint32_t seq, size_t i)
{
	return (uint8_t)((tag >> ((i % 8) * 8)) ^ (seq * 31u) ^ (uint32_t)i);
}

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void
put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static size_t
build(uint8_t *pkt, size_t payload, const struct stream *s, uint32_t seq)
{
	struct icmphdr *h = (struct icmphdr *)pkt;
	uint8_t *d = pkt + sizeof(*h);
	size_t i;

	memset(h, 0, sizeof(*h));
	h->type = ICMP_ECHO;
	h->un.echo.id = htons(s->id);
	h->un.echo.sequence = htons((uint16_t)seq);
	put32(d, MAGIC);
	put64(d + 4, s->tag);
	put32(d + 12, seq);
	put64(d + 16, now_ns());
	for (i = HDR_BYTES; i < payload; i++)
		d[i] = pattern(s->tag, seq, i);
	h->checksum = htons(csum(pkt, sizeof(*h) + payload));
	return sizeof(*h) + payload;
}

/* Judge one datagram read from the raw socket (IP header included). */
static void
judge(struct stream *s, const uint8_t *buf, size_t n, size_t payload)
{
	const struct iphdr *ip = (const struct iphdr *)buf;
	const struct icmphdr *h;
	const uint8_t *d;
	size_t ihl, len, i;
	uint32_t seq;
	uint64_t t, sent_at;

	if (n < sizeof(*ip))
		return;
	ihl = (size_t)ip->ihl * 4;
	if (ihl < sizeof(*ip) || n < ihl + sizeof(*h))
		return;
	h = (const struct icmphdr *)(buf + ihl);
	if (h->type != ICMP_ECHOREPLY)
		return;
	s->echo_read++;
	len = n - ihl;
	d = (const uint8_t *)(h + 1);
	if (ntohs(h->un.echo.id) != s->id) {
		/* another vhu-ping run's reply arriving now is stale; any other pinger's is foreign */
		if (len >= sizeof(*h) + HDR_BYTES && get32(d) == MAGIC)
			s->stale++;
		else
			s->foreign++;
		return;
	}
	if (len != sizeof(*h) + payload || csum(h, len) != 0 || get32(d) != MAGIC) {
		s->corrupt++;
		return;
	}
	if (get64(d + 4) != s->tag) {
		s->stale++;
		return;
	}
	seq = get32(d + 12);
	if ((uint16_t)seq != ntohs(h->un.echo.sequence) || seq >= s->sent) {
		s->corrupt++;
		return;
	}
	for (i = HDR_BYTES; i < payload; i++) {
		if (d[i] != pattern(s->tag, seq, i)) {
			s->corrupt++;
			return;
		}
	}
	if (s->seen[seq / 8] & (1u << (seq % 8))) {
		s->dups++;
		return;
	}
	s->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	s->order[s->replies++] = seq;
	t = now_ns();
	sent_at = get64(d + 16);
	if (t > sent_at && t - sent_at > s->max_rtt_ns)
		s->max_rtt_ns = t - sent_at;
	if (t > sent_at && t - sent_at > 1000000000ull)
		s->late++;
	if (s->last_arrival != 0 && t - s->last_arrival > s->silence_ns)
		s->silence_ns = t - s->last_arrival;
	s->last_arrival = t;
}

static void
report(FILE *f, const char *what, const struct stream *s, uint64_t start)
{
	uint32_t q, run = 0, gap = 0, after = 0, i;
	int64_t gap_end = -1;
	uint64_t silence = s->silence_ns;

	for (q = 0; q < s->sent; q++) {
		if (s->seen[q / 8] & (1u << (q % 8))) {
			if (run > gap) {
				gap = run;
				gap_end = q;
			}
			run = 0;
		} else {
			run++;
		}
	}
	if (run > gap) {
		gap = run;
		gap_end = -1;
	}
	for (i = 0; i < s->replies; i++)
		if (gap_end >= 0 && s->order[i] >= (uint32_t)gap_end)
			after++;
	/* no reply at all: silent since the start */
	if (s->last_arrival == 0)
		silence = now_ns() - start;
	fprintf(f,
			"VHU-TEST: %s sent=%u replies=%u dups=%u stale=%u corrupt=%u foreign=%u "
			"echo_read=%u lost=%u gap=%u gap_end=%lld after_gap=%u silence_ms=%llu "
			"max_rtt_ms=%llu late=%u send_errors=%u\n",
			what, s->sent, s->replies, s->dups, s->stale, s->corrupt, s->foreign,
			s->echo_read, s->sent - s->replies, gap, (long long)gap_end, after,
			(unsigned long long)(silence / 1000000),
			(unsigned long long)(s->max_rtt_ns / 1000000), s->late, s->send_errors);
	fflush(f);
}

static void
status(const char *path, const struct stream *s, uint64_t start)
{
	char tmp[256];
	FILE *f;

	if (path == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	report(f, "peek", s, start);
	fclose(f);
	rename(tmp, path);
}

int
main(int argc, char **argv)
{
	long interval_ms = 20, drain_ms = 1000, payload = 56;
	const char *status_path = NULL;
	struct sockaddr_in peer;
	struct stream s;
	uint8_t pkt[2048], buf[4096];
	uint64_t start, next, drain_end = 0, next_status;
	int fd, opt, rcv = 4 << 20, urnd;

	while ((opt = getopt(argc, argv, "i:s:d:o:")) != -1) {
		switch (opt) {
		case 'i':
			interval_ms = strtol(optarg, NULL, 10);
			break;
		case 's':
			payload = strtol(optarg, NULL, 10);
			break;
		case 'd':
			drain_ms = strtol(optarg, NULL, 10);
			break;
		case 'o':
			status_path = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || interval_ms < 1 || payload < HDR_BYTES ||
			payload > (long)(sizeof(pkt) - sizeof(struct icmphdr)) || drain_ms < 0)
		goto usage;
	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[optind], &peer.sin_addr) != 1)
		goto usage;

	memset(&s, 0, sizeof(s));
	s.seen = calloc(MAX_SEQ / 8, 1);
	s.order = calloc(MAX_SEQ, sizeof(*s.order));
	if (s.seen == NULL || s.order == NULL) {
		perror("vhu-ping: calloc");
		return 1;
	}
	urnd = open("/dev/urandom", O_RDONLY);
	if (urnd < 0 || read(urnd, &s.tag, sizeof(s.tag)) != (ssize_t)sizeof(s.tag))
		s.tag = now_ns() ^ ((uint64_t)getpid() << 32);
	if (urnd >= 0)
		close(urnd);
	s.id = (uint16_t)getpid();

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (fd < 0) {
		perror("vhu-ping: socket");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	start = now_ns();
	next = start;
	next_status = start;
	for (;;) {
		uint64_t t = now_ns(), wake;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int rc;

		if (stop && drain_end == 0)
			drain_end = t + (uint64_t)drain_ms * 1000000ull;
		if (drain_end != 0 && t >= drain_end)
			break;
		if (drain_end == 0 && t >= next) {
			if (s.sent < MAX_SEQ) {
				size_t len = build(pkt, (size_t)payload, &s, s.sent);

				if (sendto(fd, pkt, len, 0, (struct sockaddr *)&peer,
						    sizeof(peer)) == (ssize_t)len)
					s.sent++;
				else
					s.send_errors++;
			}
			next += (uint64_t)interval_ms * 1000000ull;
			if (next < t) /* we were held up: no catching up in a burst */
				next = t + (uint64_t)interval_ms * 1000000ull;
		}
		if (t >= next_status) {
			status(status_path, &s, start);
			next_status = t + STATUS_MS * 1000000ull;
		}
		wake = drain_end != 0 ? drain_end : next;
		if (wake > next_status)
			wake = next_status;
		rc = poll(&p, 1, wake > t ? (int)((wake - t) / 1000000 + 1) : 0);
		if (rc > 0 && (p.revents & POLLIN)) {
			ssize_t n;

			while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
				judge(&s, buf, (size_t)n, (size_t)payload);
		} else if (rc < 0 && errno != EINTR) {
			perror("vhu-ping: poll");
			break;
		}
	}
	status(status_path, &s, start);
	report(stdout, "stream", &s, start);
	return 0;
usage:
	fprintf(stderr, "usage: vhu-ping [-i MS] [-s BYTES] [-d MS] [-o STATUS-FILE] PEER\n");
	return 2;
}
