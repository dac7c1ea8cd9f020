/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhu-traffic: the test guest's traffic for devtools/tests.d/qemu-migrate.sh,
 * built static and put into the guest's initramfs. Every byte it sends is a
 * known function of its position, so the receiver checks content, not only
 * counts:
 *
 *   udp-send SRC DST PORT SECONDS PPS SIZE
 *       datagrams of SIZE bytes, sequence-numbered from 0, PPS per second
 *       for SECONDS; prints "udp-send sent=N errors=N seconds=S".
 *   udp-recv ADDR PORT IDLE
 *       until no datagram came for IDLE seconds (after the first one):
 *       each datagram's header and payload checked, duplicates and gaps of
 *       the sequence counted; prints "udp-recv recv=... dup=... bad=...
 *       missing=... gaps=..." then up to 8 gaps "a-b".
 *   tcp-send SRC DST PORT SECONDS RATE
 *       one connection, the byte stream of gen for SECONDS at RATE bytes
 *       per second (0: as fast as it goes), then close; prints
 *       "tcp-send bytes=N".
 *   tcp-recv ADDR PORT
 *       accepts one connection, checks every byte against gen, copies
 *       the stream to stdout (for md5sum); prints "tcp-recv bytes=N
 *       bad_at=OFFSET|-1" on stderr.
 *   gen BYTES
 *       the first BYTES of the stream on stdout (md5sum of the expectation).
 *
 * Addresses are IPv4 link-local only: nothing here may leave the test.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDP_MAGIC   0x56485544u /* "VHUD" */
#define UDP_HDR     16u
#define MAX_SEQ     (1u << 24)
#define MAX_GAPS    8
#define MIN_D(a, b) ((a) < (b) ? (a) : (b))

struct udp_hdr {
	uint32_t magic;
	uint32_t seq;
	uint32_t len;
	uint32_t sum; /* of the header's first 12 bytes */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Word w of stream s: a cheap mix that no shift or repetition reproduces. */
static uint64_t
stream_word(uint64_t s, uint64_t w)
{
	uint64_t x = w * 0x9e3779b97f4a7c15ull + s * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 29;
	return x;
}

/* Bytes [off, off + n) of stream s (byte i is byte i % 8 of word i / 8). */
static void
fill(uint8_t *p, size_t n, uint64_t s, uint64_t off)
{
	uint64_t w = off >> 3, x = stream_word(s, w);
	unsigned int b = (unsigned int)(off & 7);
	size_t k;

	for (k = 0; k < n; k++) {
		p[k] = (uint8_t)(x >> (b * 8));
		if (++b == 8) {
			b = 0;
			x = stream_word(s, ++w);
		}
	}
}

static int
link_local(const char *a, struct in_addr *out)
{
	if (inet_pton(AF_INET, a, out) != 1 || (ntohl(out->s_addr) >> 16) != 0xa9fe) {
		fprintf(stderr, "vhu-traffic: %s is not a 169.254.0.0/16 address\n", a);
		return -1;
	}
	return 0;
}

static int
sock_at(int type, const char *addr, int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (link_local(addr, &sa.sin_addr) != 0)
		return -1;
	fd = socket(AF_INET, type, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("vhu-traffic: bind");
		close(fd);
		return -1;
	}
	return fd;
}

static int
peer_of(const char *addr, int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return link_local(addr, &sa->sin_addr);
}

static uint32_t
hdr_sum(const struct udp_hdr *h)
{
	return (h->magic ^ (h->seq * 2654435761u) ^ (h->len << 7)) + 0x5bd1e995u;
}

static int
udp_send(const char *src, const char *dst, int port, double secs, double pps, size_t size)
{
	static uint8_t buf[65536];
	struct udp_hdr *h = (struct udp_hdr *)buf;
	struct sockaddr_in to;
	uint32_t seq = 0;
	uint64_t errors = 0;
	double t0, next, t;
	int fd;

	if (size < UDP_HDR || size > sizeof(buf) || pps <= 0)
		return 2;
	fd = sock_at(SOCK_DGRAM, src, 0);
	if (fd < 0 || peer_of(dst, port, &to) != 0)
		return 1;
	t0 = now_s();
	next = t0;
	while ((t = now_s()) - t0 < secs && seq < MAX_SEQ) {
		if (t < next) {
			struct timespec ts = { 0, (long)((next - t) * 1e9) };

			nanosleep(&ts, NULL);
			continue;
		}
		next += 1.0 / pps;
		if (next < t - 0.5) /* after a long stall (a migration): no burst to catch up */
			next = t;
		h->magic = UDP_MAGIC;
		h->seq = seq;
		h->len = (uint32_t)size;
		h->sum = hdr_sum(h);
		fill(buf + UDP_HDR, size - UDP_HDR, seq, 0);
		if (sendto(fd, buf, size, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)size)
			seq++; /* a sequence number is spent only on what left the socket */
		else
			errors++;
	}
	printf("udp-send sent=%u errors=%llu seconds=%.1f\n", seq, (unsigned long long)errors,
			now_s() - t0);
	close(fd);
	return 0;
}

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int
udp_recv(const char *addr, int port, double idle)
{
	static uint8_t buf[65536], exp[65536];
	static uint8_t seen[MAX_SEQ / 8];
	struct udp_hdr h;
	uint64_t nrecv = 0, dup = 0, bad = 0, reorder = 0, unique = 0;
	uint32_t max = 0, expect = 0, gap_a[MAX_GAPS], gap_b[MAX_GAPS];
	unsigned int ngaps = 0, gaps_total = 0, k;
	double last = 0;
	int fd, rcvbuf = 4 << 20;

	fd = sock_at(SOCK_DGRAM, addr, port);
	if (fd < 0)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	signal(SIGTERM, on_term);
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0) {
			if (nrecv > 0 && now_s() - last > idle)
				break;
			continue;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			continue;
		last = now_s();
		nrecv++;
		if ((size_t)n < UDP_HDR) {
			bad++;
			continue;
		}
		memcpy(&h, buf, sizeof(h));
		if (h.magic != UDP_MAGIC || h.sum != hdr_sum(&h) || h.len != (uint32_t)n ||
				h.seq >= MAX_SEQ) {
			bad++;
			continue;
		}
		fill(exp, (size_t)n - UDP_HDR, h.seq, 0);
		if (memcmp(exp, buf + UDP_HDR, (size_t)n - UDP_HDR) != 0) {
			bad++;
			continue;
		}
		if (seen[h.seq / 8] & (1u << (h.seq % 8))) {
			dup++;
			continue;
		}
		seen[h.seq / 8] |= (uint8_t)(1u << (h.seq % 8));
		unique++;
		if (h.seq < expect) {
			reorder++;
		} else {
			if (h.seq > expect) {
				gaps_total++;
				if (ngaps < MAX_GAPS) {
					gap_a[ngaps] = expect;
					gap_b[ngaps] = h.seq - 1;
					ngaps++;
				}
			}
			expect = h.seq + 1;
		}
		if (h.seq > max)
			max = h.seq;
	}
	printf("udp-recv recv=%llu unique=%llu dup=%llu bad=%llu reorder=%llu max_seq=%u "
	       "missing=%llu gaps=%u\n",
			(unsigned long long)nrecv, (unsigned long long)unique,
			(unsigned long long)dup, (unsigned long long)bad,
			(unsigned long long)reorder, max,
			(unsigned long long)(nrecv > 0 ? max + 1 - unique : 0), gaps_total);
	printf("udp-gaps");
	for (k = 0; k < ngaps; k++)
		printf(" %u-%u", gap_a[k], gap_b[k]);
	printf("\n");
	close(fd);
	return 0;
}

static int
tcp_send(const char *src, const char *dst, int port, double secs, double rate)
{
	static uint8_t buf[16384];
	struct sockaddr_in to;
	uint64_t off = 0;
	double t0;
	int fd;

	fd = sock_at(SOCK_STREAM, src, 0);
	if (fd < 0 || peer_of(dst, port, &to) != 0)
		return 1;
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
		perror("vhu-traffic: connect");
		return 1;
	}
	t0 = now_s();
	while (now_s() - t0 < secs) {
		double ahead = rate > 0 ? off / rate - (now_s() - t0) : 0;
		ssize_t n;

		if (ahead > 0) {
			struct timespec ts = { 0, (long)(MIN_D(ahead, 0.1) * 1e9) };

			nanosleep(&ts, NULL);
			continue;
		}
		fill(buf, sizeof(buf), 1, off);
		n = write(fd, buf, sizeof(buf));
		if (n < 0) {
			perror("vhu-traffic: write");
			return 1;
		}
		/* the rest of a short write is sent from the right offset next time */
		off += (uint64_t)n;
	}
	close(fd);
	printf("tcp-send bytes=%llu\n", (unsigned long long)off);
	return 0;
}

static int
tcp_recv(const char *addr, int port)
{
	static uint8_t buf[16384], exp[16384];
	int64_t bad_at = -1;
	uint64_t off = 0;
	int lfd, fd;
	size_t k;

	lfd = sock_at(SOCK_STREAM, addr, port);
	if (lfd < 0 || listen(lfd, 1) != 0)
		return 1;
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return 1;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		if (bad_at < 0) {
			fill(exp, (size_t)n, 1, off);
			for (k = 0; k < (size_t)n; k++)
				if (buf[k] != exp[k]) {
					bad_at = (int64_t)(off + k);
					break;
				}
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
		off += (uint64_t)n;
	}
	fflush(stdout);
	fprintf(stderr, "tcp-recv bytes=%llu bad_at=%lld\n", (unsigned long long)off,
			(long long)bad_at);
	return 0;
}

static int
gen(uint64_t bytes)
{
	static uint8_t buf[16384];
	uint64_t off = 0;

	while (off < bytes) {
		size_t n = bytes - off < sizeof(buf) ? (size_t)(bytes - off) : sizeof(buf);

		fill(buf, n, 1, off);
		if (fwrite(buf, 1, n, stdout) != n)
			return 1;
		off += n;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 8 && strcmp(argv[1], "udp-send") == 0)
		return udp_send(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atof(argv[6]),
				(size_t)atoi(argv[7]));
	if (argc == 5 && strcmp(argv[1], "udp-recv") == 0)
		return udp_recv(argv[2], atoi(argv[3]), atof(argv[4]));
	if (argc == 7 && strcmp(argv[1], "tcp-send") == 0)
		return tcp_send(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atof(argv[6]));
	if (argc == 4 && strcmp(argv[1], "tcp-recv") == 0)
		return tcp_recv(argv[2], atoi(argv[3]));
	if (argc == 3 && strcmp(argv[1], "gen") == 0)
		return gen(strtoull(argv[2], NULL, 10));
	fprintf(stderr,
			"usage: vhu-traffic udp-send SRC DST PORT SECONDS PPS SIZE | "
			"udp-recv ADDR PORT IDLE | tcp-send SRC DST PORT SECONDS RATE | tcp-recv ADDR PORT | "
			"gen BYTES\n");
	return 2;
}
