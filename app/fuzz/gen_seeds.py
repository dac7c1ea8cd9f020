#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
"""Write the seed inputs of the fuzz targets into app/fuzz/corpus/<target>/.

The input formats are described at the top of fuzz_msg.c and fuzz_split.c.
Seeds are well-formed sessions the fuzzer mutates from; crash inputs found
later are kept next to them (crash-*) and replayed by the test suite.
Run again after a format change: seed-* files are rewritten, crash-* kept.
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- vhost-user constants (vhu_proto.h) ----
R = dict(GET_FEATURES=1, SET_FEATURES=2, SET_OWNER=3, RESET_OWNER=4, SET_MEM_TABLE=5,
         SET_LOG_BASE=6, SET_LOG_FD=7, SET_VRING_NUM=8, SET_VRING_ADDR=9, SET_VRING_BASE=10,
         GET_VRING_BASE=11, SET_VRING_KICK=12, SET_VRING_CALL=13, SET_VRING_ERR=14,
         GET_PROTOCOL_FEATURES=15, SET_PROTOCOL_FEATURES=16, GET_QUEUE_NUM=17,
         SET_VRING_ENABLE=18, SEND_RARP=19, NET_SET_MTU=20, SET_BACKEND_REQ_FD=21,
         IOTLB_MSG=22, GET_CONFIG=24, SET_CONFIG=25, GET_INFLIGHT_FD=31, SET_INFLIGHT_FD=32,
         RESET_DEVICE=34, VRING_KICK=35, GET_MAX_MEM_SLOTS=36, ADD_MEM_REG=37, REM_MEM_REG=38,
         SET_STATUS=39, GET_STATUS=40, SET_DEVICE_STATE_FD=42, CHECK_DEVICE_STATE=43,
         SET_VRING_ENDIAN=23, CREATE_CRYPTO_SESSION=26, CLOSE_CRYPTO_SESSION=27,
         POSTCOPY_ADVISE=28, POSTCOPY_LISTEN=29, POSTCOPY_END=30, GPU_SET_SOCKET=33,
         GET_SHARED_OBJECT=41)


def bit(b):
    return 1 << b


F_CSUM, F_GUEST_CSUM, F_MRG, F_LOG_ALL, F_INDIRECT, F_EVENT_IDX, F_PROTO, F_V1, F_IN_ORDER = \
    bit(0), bit(1), bit(15), bit(26), bit(28), bit(29), bit(30), bit(32), bit(35)
PF = bit(0) | bit(1) | bit(2) | bit(3) | bit(4) | bit(5) | bit(9) | bit(12) | bit(13) | \
    bit(15) | bit(16) | bit(19)

# fd kinds of fuzz_msg.c make_fd(): slot s memfd = 8 * s + 0
FD_MEM0, FD_EVENT, FD_PIPE_R, FD_PIPE_W, FD_NULL, FD_ZERO, FD_SOCK, FD_RUNT = range(8)
FD_MEM1 = 8
UVA = 0x7f0000000000
GPA = 0x0


def u16(v):
    return struct.pack('<H', v)


def u32(v):
    return struct.pack('<I', v)


def u64(v):
    return struct.pack('<Q', v)


class Msg:
    """Builds a fuzz_msg input: a configuration byte and records."""

    def __init__(self, cfg=0):
        self.b = bytearray([cfg])
        self.slots = set()

    def req(self, name, payload=b'', fds=(), need_reply=False):
        rid = R[name] if isinstance(name, str) else name
        self.b += bytes([rid, 1 if need_reply else 0, len(fds)])
        self.b += u16(len(payload)) + payload
        for kind, size in fds:
            self.b.append(kind)
            if kind % 8 == 0 and kind not in self.slots:
                self.slots.add(kind)
                self.b.append(size)     # (size + 1) * 64 KiB
            elif kind % 8 == FD_RUNT:
                self.b.append(size)
        return self

    def raw(self, data):
        self.b += bytes([0xfe, len(data)]) + data
        return self


def region(gpa, size, uva, off=0):
    return u64(gpa) + u64(size) + u64(uva) + u64(off)


def handshake(m, features, mem_slot_size=15, nrings=2, num=8, base=0x10000):
    """Owner, features, one memory region of (mem_slot_size + 1) * 64 KiB, rings."""
    m.req('SET_OWNER').req('GET_FEATURES').req('GET_PROTOCOL_FEATURES')
    m.req('SET_PROTOCOL_FEATURES', u64(PF))
    m.req('SET_FEATURES', u64(features), need_reply=True)
    size = (mem_slot_size + 1) << 16
    m.req('SET_MEM_TABLE', u32(1) + u32(0) + region(GPA, size, UVA), fds=[(FD_MEM0, mem_slot_size)],
          need_reply=True)
    for i in range(nrings):
        at = base + i * 0x2000
        m.req('SET_VRING_NUM', u32(i) + u32(num), need_reply=True)
        m.req('SET_VRING_BASE', u32(i) + u32(0))
        m.req('SET_VRING_ADDR', u32(i) + u32(1) + u64(UVA + at) + u64(UVA + at + 0x1000) +
              u64(UVA + at + 0x800) + u64(GPA + at + 0x1000), need_reply=True)
        m.req('SET_VRING_CALL', u64(i), fds=[(FD_EVENT, 0)])
        m.req('SET_VRING_ERR', u64(i), fds=[(FD_EVENT, 0)])
        m.req('SET_VRING_KICK', u64(i), fds=[(FD_EVENT, 0)])
        m.req('SET_VRING_ENABLE', u32(i) + u32(1))
    m.req('SET_STATUS', u64(0xf))
    return m


def msg_seeds():
    feats = F_V1 | F_PROTO | F_MRG | F_INDIRECT | F_EVENT_IDX | F_CSUM | F_GUEST_CSUM
    s = {}
    m = handshake(Msg(0), feats)
    m.req('GET_VRING_BASE', u32(0) + u32(0)).req('GET_VRING_BASE', u32(1) + u32(0))
    s['handshake'] = m
    # IOTLB mode (configuration bit 5): ring addresses are IOVAs, mapped by
    # IOTLB_MSG (iova, size, uaddr, perm, type; 32 bytes with padding)
    def iotlb(iova, size, uaddr, perm, typ):
        return u64(iova) + u64(size) + u64(uaddr) + bytes([perm, typ]) + bytes(6)
    m = Msg(32)
    m.req('SET_BACKEND_REQ_FD', fds=[(FD_SOCK, 0)])
    m = handshake(m, feats | (1 << 33))
    m.req('IOTLB_MSG', iotlb(UVA, 1 << 20, UVA, 3, 2), need_reply=True)
    m.req('IOTLB_MSG', iotlb(UVA + 0x10000, 0x1000, 0, 0, 3), need_reply=True)
    m.req('IOTLB_MSG', iotlb(UVA + 0x10000, 0x1000, UVA + 0x10000, 1, 2), need_reply=True)
    m.req('IOTLB_MSG', iotlb(UVA + 0x10000, 0x1000, UVA + 0x10000, 3, 2), need_reply=True)
    m.req('IOTLB_MSG', iotlb(0, 0, 0, 0, 3), need_reply=True)
    m.req('IOTLB_MSG', iotlb((1 << 64) - 0x1000, 0x2000, UVA, 3, 2), need_reply=True)
    s['iotlb'] = m
    m = handshake(Msg(1), feats | F_IN_ORDER, nrings=4)
    m.req('SET_MEM_TABLE', u32(1) + u32(0) + region(GPA, 1 << 20, UVA), fds=[(FD_MEM0, 15)])
    m.req('SET_MEM_TABLE', u32(1) + u32(0) + region(GPA, 1 << 20, UVA + (1 << 30)),
          fds=[(FD_MEM0, 15)])
    s['mem-table-swap'] = m
    m = handshake(Msg(0), feats)
    m.req('GET_MAX_MEM_SLOTS')
    m.req('ADD_MEM_REG', u64(0) + region(1 << 32, 1 << 16, UVA + (1 << 32)), fds=[(FD_MEM1, 0)])
    m.req('REM_MEM_REG', u64(0) + region(1 << 32, 1 << 16, UVA + (1 << 32)))
    m.req('REM_MEM_REG', u64(0) + region(GPA, 1 << 20, UVA))
    s['mem-slots'] = m
    m = handshake(Msg(0), feats)
    m.req('SET_LOG_BASE', u64(4096) + u64(0), fds=[(FD_MEM1, 0)])
    m.req('SET_FEATURES', u64(feats | F_LOG_ALL))
    m.req('SET_LOG_FD', fds=[(FD_EVENT, 0)])
    s['dirty-log'] = m
    m = Msg(0).req('SET_OWNER').req('SET_PROTOCOL_FEATURES', u64(PF))
    m.req('GET_INFLIGHT_FD', u64(0) + u64(0) + u16(2) + u16(256))
    m.req('SET_INFLIGHT_FD', u64(16448 * 2) + u64(0) + u16(2) + u16(256), fds=[(FD_MEM1, 0)])
    m.req('SET_FEATURES', u64(feats)).req('SET_VRING_NUM', u32(0) + u32(1024))
    s['inflight'] = m
    m = Msg(8).req('SET_OWNER').req('SET_PROTOCOL_FEATURES', u64(PF))
    m.req('GET_CONFIG', u32(0) + u32(12) + u32(0) + bytes(12))
    m.req('SET_CONFIG', u32(0) + u32(6) + u32(0) + bytes([2, 1, 2, 3, 4, 5]))
    m.req('GET_QUEUE_NUM').req('GET_STATUS').req('SEND_RARP', u64(0x050403020102))
    m.req('SET_FEATURES', u64(feats | bit(3))).req('NET_SET_MTU', u64(9000))
    m.req('SET_BACKEND_REQ_FD', fds=[(FD_SOCK, 0)])
    m.req('RESET_DEVICE').req('RESET_OWNER')
    s['config-status'] = m
    m = Msg(0).req('SET_OWNER').req('SET_PROTOCOL_FEATURES', u64(PF))
    m.req('SET_DEVICE_STATE_FD', u32(0) + u32(0), fds=[(FD_PIPE_W, 0)])
    m.req('CHECK_DEVICE_STATE')
    m.req('SET_DEVICE_STATE_FD', u32(1) + u32(0), fds=[(FD_PIPE_R, 0)])
    m.req('CHECK_DEVICE_STATE')
    s['device-state'] = m
    m = Msg(0).req('SET_OWNER').req('GET_FEATURES', fds=[(FD_EVENT, 0)])
    s['fd-smuggled'] = m
    m = Msg(0).req('SET_OWNER')
    m.req('SET_MEM_TABLE', u32(1) + u32(0) + region(GPA, 1 << 24, UVA), fds=[(FD_RUNT, 64)])
    s['region-too-big'] = m
    m = Msg(0).req('SET_OWNER').raw(u32(1) + u32(1) + u32(0)[:2]).raw(u32(0)[2:])
    s['partial'] = m
    m = handshake(Msg(4), F_V1 | F_PROTO | bit(34), num=256)
    s['packed-rings'] = m
    # requests no other seed sends, each with a plausible payload; in-band kicks offered
    m = Msg(16).req('SET_OWNER').req('GET_FEATURES').req('GET_PROTOCOL_FEATURES')
    m.req('SET_PROTOCOL_FEATURES', u64(PF | bit(14)))
    m.req('SET_VRING_ENDIAN', u32(0) + u32(1))
    m.req('IOTLB_MSG', u64(0x1000) + u64(0x1000) + u64(UVA) + bytes([3, 2]))
    m.req('POSTCOPY_ADVISE').req('POSTCOPY_LISTEN').req('POSTCOPY_END')
    m.req('CREATE_CRYPTO_SESSION', bytes(range(64)))
    m.req('CLOSE_CRYPTO_SESSION', u64(1))
    m.req('GPU_SET_SOCKET', fds=[(FD_SOCK, 0)])
    m.req('GET_SHARED_OBJECT', bytes(range(16)))
    m.req('GET_STATUS').req('SET_STATUS', u64(0xf))
    handshake(m, F_V1 | F_PROTO | F_IN_ORDER)
    m.req('VRING_KICK', u32(1) + u32(0)).req('VRING_KICK', u32(0) + u32(0))
    m.req('RESET_DEVICE')
    s['rare-requests'] = m
    # in order, rings stopped and made smaller, their old base kept or left out
    m = handshake(Msg(0), feats | F_IN_ORDER, num=8)
    m.req('GET_VRING_BASE', u32(0) + u32(0)).req('GET_VRING_BASE', u32(1) + u32(0))
    m.req('SET_VRING_NUM', u32(0) + u32(4), need_reply=True)
    m.req('SET_VRING_BASE', u32(0) + u32(7))
    m.req('SET_VRING_KICK', u64(0), fds=[(FD_EVENT, 0)])
    m.req('SET_VRING_NUM', u32(1) + u32(2), need_reply=True)
    m.req('SET_VRING_KICK', u64(1), fds=[(FD_EVENT, 0)])
    s['inorder-resize'] = m
    m = handshake(Msg(4), F_V1 | F_PROTO | bit(34) | F_IN_ORDER, num=256)
    m.req('GET_VRING_BASE', u32(1) + u32(0))
    m.req('SET_VRING_NUM', u32(1) + u32(64), need_reply=True)
    m.req('SET_VRING_KICK', u64(1), fds=[(FD_EVENT, 0)])
    m.req('GET_VRING_BASE', u32(1) + u32(0))
    m.req('SET_VRING_BASE', u32(1) + u32(200 | 0x8000 | (200 | 0x8000) << 16))
    m.req('SET_VRING_KICK', u64(1), fds=[(FD_EVENT, 0)])
    m.req('GET_VRING_BASE', u32(1) + u32(0))
    m.req('SET_VRING_BASE', u32(1) + u32(10 | 0x8000))
    m.req('SET_VRING_KICK', u64(1), fds=[(FD_EVENT, 0)])
    s['packed-inorder-resize'] = m
    return {k: bytes(v.b) for k, v in s.items()}


# ---- split target ----
REG0 = 0x10000
IMAGE = 0x4000 + 0x4000 + 0x2000


def place(at, n):
    desc = (at + 15) & ~15
    avail = desc + 16 * n
    used = (avail + 6 + 2 * n + 3) & ~3
    return desc, avail, used, used + 6 + 8 * n


def img_off(gpa):
    if 0x10000 <= gpa < 0x18000:
        return gpa - 0x10000
    return 0x8000 + gpa - 0x20000


def frame(n, seed=1):
    hdr = bytes([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5])
    return (hdr + bytes((seed * 31 + i * 7) & 0xff for i in range(14, n)))[:n]


def ipv4_tcp(payload_len):
    """An Ethernet + IPv4 + TCP frame with a zero TCP checksum."""
    tcp = u16(1234) + u16(80) + u32(1) + u32(0) + bytes([0x50, 0x18]) + u16(1024) + \
        u16(0) + u16(0)
    total = 20 + len(tcp) + payload_len
    ip = bytes([0x45, 0]) + struct.pack('>H', total) + bytes(4) + bytes([64, 6]) + bytes(2) + \
        bytes([10, 0, 0, 1, 10, 0, 0, 2])
    eth = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00])
    return eth + ip + tcp + bytes(i & 0xff for i in range(payload_len))


class Split:
    def __init__(self, feat, flags=0, n_log2=3, deq=8, enq=()):
        self.n = 1 << n_log2
        self.cfg = bytes([feat, flags, n_log2]) + u16(0) + u16(0) + bytes([64]) + u64(0) + \
            bytes([deq, len(enq), 0]) + u32(0) + bytes([0])
        assert len(self.cfg) == 24
        self.enq = b''
        for e in enq:   # (len, seg, ol, l2, l3, l4, tso, outer, head bytes)
            length, seg, ol, l2, l3, l4, tso, outer, head = e
            self.enq += u16(length - 1) + bytes([seg, ol, l2, l3, l4, tso, outer])
            self.enq += head[:min(length, 64)].ljust(min(length, 64), b'\0')
        self.img = bytearray(IMAGE)
        self.tx = place(REG0, self.n)
        self.rx = place(self.tx[3], self.n)
        self.tx_avail = 0
        self.rx_avail = 0
        self.data = (self.rx[3] + 63) & ~63   # buffers after the rings
        self.next_desc = [0, 0]
        self.flips = []

    # flip points (fuzz_split.c): before / inside dequeue 1 and 2, before the
    # enqueues, before dequeue 3 and enqueue 3; inside: at allocation alloc
    P_DEQ1, P_IN_DEQ1, P_DEQ2, P_IN_DEQ2, P_ENQ1, P_ENQ2, P_DEQ3, P_ENQ3 = range(8)

    def flip(self, gpa, mask, point, alloc=0):
        """XOR the byte at gpa with mask at a point of the run."""
        self.flips.append((img_off(gpa), mask, point | alloc << 3))

    def put(self, gpa, data):
        o = img_off(gpa)
        self.img[o:o + len(data)] = data

    def alloc(self, size, align=64):
        self.data = (self.data + align - 1) & ~(align - 1)
        at = self.data
        self.data += size
        return at

    def desc(self, ring, i, addr, length, flags, nxt=0):
        base = (self.tx if ring == 1 else self.rx)[0]
        self.put(base + 16 * i, u64(addr) + u32(length) + u16(flags) + u16(nxt))

    def post(self, ring, head):
        r = self.tx if ring == 1 else self.rx
        idx = self.tx_avail if ring == 1 else self.rx_avail
        self.put(r[1] + 4 + 2 * (idx % self.n), u16(head))
        idx += 1
        self.put(r[1] + 2, u16(idx))
        if ring == 1:
            self.tx_avail = idx
        else:
            self.rx_avail = idx

    def chain(self, ring, segs, write, indirect=False):
        """segs: list of (gpa, len). Returns the head."""
        flag = 2 if write else 0
        if indirect:
            t = self.alloc(16 * len(segs), 16)
            for k, (a, ln) in enumerate(segs):
                nxt = k + 1 if k + 1 < len(segs) else 0
                self.put(t + 16 * k, u64(a) + u32(ln) + u16(flag | (1 if k + 1 < len(segs) else 0)) +
                         u16(nxt))
            head = self.next_desc[ring]
            self.next_desc[ring] += 1
            self.desc(ring, head, t, 16 * len(segs), 4)
            return head
        head = self.next_desc[ring]
        for k, (a, ln) in enumerate(segs):
            d = self.next_desc[ring]
            self.next_desc[ring] += 1
            last = k + 1 == len(segs)
            self.desc(ring, d, a, ln, flag | (0 if last else 1), 0 if last else d + 1)
        return head

    def tx_packet(self, pkt, hdr=bytes(12), hlen=12, layout='one', indirect=False):
        buf = hdr[:hlen] + pkt
        at = self.alloc(len(buf))
        self.put(at, buf)
        if layout == 'one':
            segs = [(at, len(buf))]
        elif layout == 'sep':
            segs = [(at, hlen), (at + hlen, len(pkt))]
        else:   # header in three pieces, frame in two
            segs = [(at, 4), (at + 4, 4), (at + 8, hlen - 8 + 10), (at + hlen + 10, len(pkt) - 10)]
        self.post(1, self.chain(1, segs, False, indirect))

    def rx_buffer(self, size, pieces=1, indirect=False):
        at = self.alloc(size)
        step = size // pieces
        segs = [(at + k * step, step if k + 1 < pieces else size - k * step) for k in range(pieces)]
        self.post(0, self.chain(0, segs, True, indirect))

    def bytes(self):
        assert len(self.flips) <= 32
        cfg = self.cfg[:23] + bytes([len(self.flips)])
        fl = b''.join(u16(o) + bytes([m, a]) for o, m, a in self.flips)
        # trailing zeros are what the harness fills in anyway
        return cfg + self.enq + fl + bytes(self.img).rstrip(b'\0')


def split_seeds():
    V1, IND, MRG, EIDX, INORD, HOSTOL, GUESTOL = 4, 2, 1, 8, 16, 32, 64
    s = {}
    x = Split(V1, enq=[(64, 0, 0, 0, 0, 0, 0, 0, frame(64))] * 4)
    for i in range(4):
        x.tx_packet(frame(60 + i))
        x.rx_buffer(2048)
    s['batch'] = x
    x = Split(V1 | IND | MRG, n_log2=4, enq=[(3000, 0, 0, 0, 0, 0, 0, 0, frame(64)),
                                            (64, 0, 0, 0, 0, 0, 0, 0, frame(64))])
    x.tx_packet(frame(100), layout='sep')
    x.tx_packet(frame(200), layout='split', indirect=True)
    x.tx_packet(frame(300), indirect=True)
    x.rx_buffer(1024, 3)
    x.rx_buffer(1024, 2, indirect=True)
    x.rx_buffer(1024)
    x.rx_buffer(1024)
    s['chains-indirect-mergeable'] = x
    x = Split(V1 | HOSTOL | GUESTOL | EIDX, flags=8, enq=[
        (1514, 0, 0x2b, 14, 20, 20, 100, 0, ipv4_tcp(1460)),     # TSO4 + IP cksum, IPV4
        (120, 0, 0x23, 14, 20, 20, 0, 0, ipv4_tcp(66))])         # TCP cksum
    hdr = bytes([1, 0]) + u16(0) + u16(0) + u16(34) + u16(16) + u16(0)   # NEEDS_CSUM tcp
    x.tx_packet(ipv4_tcp(100), hdr=hdr)
    hdr = bytes([1, 1]) + u16(54) + u16(1000) + u16(34) + u16(16) + u16(0)   # TSO4
    x.tx_packet(ipv4_tcp(3000), hdr=hdr, layout='split')
    x.rx_buffer(4096)
    x.rx_buffer(4096, 2)
    s['offloads'] = x
    x = Split(0, n_log2=2, flags=2)      # legacy 10-byte header, ext buffers
    x.data = 0x14000 - 40                # a frame across the R0/R1 boundary
    x.tx_packet(frame(80), hdr=bytes(10), hlen=10)
    x.data = 0x14100
    x.tx_packet(frame(3000), hdr=bytes(10), hlen=10)
    x.rx_buffer(100)
    s['cross-region-extbuf'] = x
    x = Split(V1 | INORD, flags=64 | 128, enq=[(64, 0, 0, 0, 0, 0, 0, 0, frame(64))])
    x.tx_packet(frame(64))
    x.rx_buffer(64)                      # too small for header + frame
    s['inorder-rarp-disabled'] = x
    # in order: heads offered out of order, twice and out of the ring; one
    # head changed after the burst counted it, a length made huge later
    x = Split(V1 | INORD, deq=3, enq=[(200, 0, 0, 0, 0, 0, 0, 0, frame(200))] * 3)
    for i in range(6):
        at = x.alloc(12 + 60 + i)
        x.put(at, bytes(12) + frame(60 + i, i))
        x.chain(1, [(at, 12 + 60 + i)], False)
    for h in (5, 2, 0, 2, 9, 1):
        x.post(1, h)
    for i in range(4):
        x.rx_buffer(1024)
    x.flip(x.tx[1] + 4 + 2 * 1, 0x05, Split.P_IN_DEQ1)
    x.flip(x.tx[0] + 16 * 3 + 11, 0x80, Split.P_DEQ2)
    x.flip(x.rx[0] + 16 * 1 + 12, 0x02, Split.P_ENQ2)   # read-only, then
    x.flip(x.rx[0] + 16 * 1 + 12, 0x02, Split.P_ENQ3)   # writable again
    s['inorder-heads-flips'] = x
    # a guest changing descriptors under the walk: after the burst counted
    # them (allocation 0) and between walk and copy of a multi-segment
    # frame (allocation 1)
    x = Split(V1 | IND, n_log2=4, enq=[(1000, 0, 0, 0, 0, 0, 0, 0, frame(64))] * 3)
    x.tx_packet(frame(100))
    x.tx_packet(frame(3000))
    x.tx_packet(frame(200), indirect=True)
    x.tx_packet(frame(300), layout='sep')
    for i in range(3):
        x.rx_buffer(2048)
    x.flip(x.tx[0] + 16 * 0 + 11, 0x7f, Split.P_IN_DEQ1)        # length huge
    x.flip(x.tx[0] + 16 * 1 + 6, 0x40, Split.P_IN_DEQ1, 1)      # address far, mid-copy
    x.flip(x.tx[0] + 16 * 3 + 12, 0x01, Split.P_IN_DEQ1)        # NEXT
    x.flip(x.rx[0] + 16 * 0 + 12, 0x02, Split.P_ENQ1)           # WRITE
    x.flip(x.rx[0] + 16 * 1 + 11, 0x7f, Split.P_ENQ2)           # length huge
    s['toctou-flips'] = x
    return {k: v.bytes() for k, v in s.items()}


# ---- packed target: same configuration, packed layout ----
AVAIL, USED = 1 << 7, 1 << 15


def place_packed(at, n):
    desc = (at + 15) & ~15
    return desc, desc + 16 * n, desc + 16 * n + 4, desc + 16 * n + 8


class Packed(Split):
    """Ring positions start at index 0 with wrap counter 1 (base 0x8000)."""

    def __init__(self, feat, flags=0, n=8, deq=8, enq=()):
        Split.__init__(self, feat, flags, 3, deq, enq)
        self.n = n
        self.cfg = bytes([feat, flags, n - 1]) + u16(0x8000) + u16(0x8000) + self.cfg[7:]
        self.tx = place_packed(REG0, n)
        self.rx = place_packed(self.tx[3], n)
        self.pos = [0, 0]
        self.ids = [0, 0]
        self.data = (self.rx[3] + 63) & ~63

    def pdesc(self, ring, addr, length, flags):
        base = (self.tx if ring == 1 else self.rx)[0]
        slot = self.pos[ring]
        self.put(base + 16 * slot, u64(addr) + u32(length) + u16(self.ids[ring]) +
                 u16(flags | AVAIL))
        self.pos[ring] += 1

    def chain(self, ring, segs, write, indirect=False):
        flag = 2 if write else 0
        if indirect:
            t = self.alloc(16 * len(segs), 16)
            for k, (a, ln) in enumerate(segs):
                self.put(t + 16 * k, u64(a) + u32(ln) + u16(0) + u16(flag))
            self.pdesc(ring, t, 16 * len(segs), 4)
        else:
            for k, (a, ln) in enumerate(segs):
                self.pdesc(ring, a, ln, flag | (1 if k + 1 < len(segs) else 0))
        self.ids[ring] += 1
        return 0

    def post(self, ring, head):
        pass   # the flags written by pdesc() make a packed descriptor available

    def raw(self, ring, slot, addr, length, id_, flags):
        base = (self.tx if ring == 1 else self.rx)[0]
        self.put(base + 16 * slot, u64(addr) + u32(length) + u16(id_) + u16(flags))


def packed_seeds():
    V1, IND, MRG, INORD, HOSTOL, GUESTOL = 4, 2, 1, 16, 32, 64
    s = {}
    x = Packed(V1, enq=[(64, 0, 0, 0, 0, 0, 0, 0, frame(64))] * 4)
    for i in range(4):
        x.tx_packet(frame(60 + i))
        x.rx_buffer(2048)
    s['batch'] = x
    x = Packed(V1 | IND | MRG, n=12, enq=[(3000, 0, 0, 0, 0, 0, 0, 0, frame(64)),
                                         (64, 0, 0, 0, 0, 0, 0, 0, frame(64))])
    x.tx_packet(frame(100), layout='sep')
    x.tx_packet(frame(200), layout='split', indirect=True)
    x.tx_packet(frame(300), indirect=True)
    x.rx_buffer(1024, 3)
    x.rx_buffer(1024, 2, indirect=True)
    x.rx_buffer(1024)
    x.rx_buffer(1024)
    s['chains-indirect-mergeable'] = x
    x = Packed(V1 | HOSTOL | GUESTOL, flags=8, n=5, enq=[
        (1514, 0, 0x2b, 14, 20, 20, 100, 0, ipv4_tcp(1460))])
    hdr = bytes([1, 0]) + u16(0) + u16(0) + u16(34) + u16(16) + u16(0)
    x.tx_packet(ipv4_tcp(100), hdr=hdr)
    x.rx_buffer(4096)
    x.rx_buffer(4096, 2)
    s['offloads-odd-size'] = x
    x = Packed(V1 | INORD, flags=64 | 128, n=2, enq=[(64, 0, 0, 0, 0, 0, 0, 0, frame(64))])
    x.tx_packet(frame(64))
    x.tx_packet(frame(64))
    x.rx_buffer(64)
    s['wrap-rarp-disabled'] = x
    # in order, the device at slot 4 of an 8-slot ring: a chain on 4..7, then
    # one from slot 0 of the next lap running on through 4..7 (12 slots in
    # one burst); the guest then offers slot 0 again for a second burst
    x = Packed(V1 | INORD, n=8, deq=8)
    x.cfg = x.cfg[:3] + u16(0x8004) + x.cfg[5:]
    piece = []
    for k in range(8):
        at = x.alloc(100)
        x.put(at, (bytes(12) + frame(88, k)) if k in (0, 4) else frame(100, k))
        piece.append(at)
    for k in range(4, 8):
        x.raw(1, k, piece[k], 100, 7, AVAIL | (1 if k < 7 else 0))
    for k in range(4):
        x.raw(1, k, piece[k], 100, 0xffff, USED | 1)
    flags0 = x.tx[0] + 14
    x.flip(flags0, 0x81, Split.P_DEQ2)          # AVAIL on, NEXT off
    x.flip(flags0 + 1, 0x80, Split.P_DEQ2)      # USED off
    x.flip(x.tx[0] + 12, 0xfa, Split.P_DEQ2)    # id 5: a used descriptor past the
    x.flip(x.tx[0] + 13, 0xff, Split.P_DEQ2)    # ring would change the padding there
    s['inorder-laps'] = x
    # flags, ids and lengths changed after the burst counted them, and
    # between walk and copy of a multi-segment frame; receive descriptors
    # changed between enqueue bursts
    x = Packed(V1 | IND | MRG, n=16, enq=[(1000, 0, 0, 0, 0, 0, 0, 0, frame(64))] * 3)
    x.tx_packet(frame(100))
    x.tx_packet(frame(3000))
    x.tx_packet(frame(200), indirect=True)
    x.tx_packet(frame(300))
    x.tx_packet(frame(400), layout='sep')
    for i in range(3):
        x.rx_buffer(2048)
    x.flip(x.tx[0] + 16 * 0 + 14, 0x01, Split.P_IN_DEQ1)        # NEXT
    x.flip(x.tx[0] + 16 * 1 + 11, 0x7f, Split.P_IN_DEQ1, 1)     # length huge, mid-copy
    x.flip(x.tx[0] + 16 * 2 + 14, 0x04, Split.P_IN_DEQ1)        # INDIRECT off
    x.flip(x.tx[0] + 16 * 3 + 13, 0x40, Split.P_IN_DEQ1)        # id out of the ring
    x.flip(x.tx[0] + 16 * 3 + 15, 0x80, Split.P_DEQ2)           # USED: the other lap
    x.flip(x.rx[0] + 16 * 0 + 14, 0x02, Split.P_ENQ1)           # WRITE
    x.flip(x.rx[0] + 16 * 1 + 6, 0x40, Split.P_ENQ2)            # address far
    s['toctou-flips'] = x
    return {k: v.bytes() for k, v in s.items()}


def iommu_variants(seeds):
    """The ring seeds again in the harness's IOTLB mode: the configuration's
    word at bytes 19-22 (fuzz_split.c, iommu_on()): bit 0 on, two bits of
    permission per guest page (0 RW, 1 RO, 2 WO, 3 no entry), bits 21-24 a
    page invalidated between the bursts, bit 25 mapped again."""
    words = {
        'rw': 1 | (15 << 21),                           # all read-write
        'ro-data': 1 | (1 << 9) | (1 << 11) | (15 << 21),  # pages 4, 5 read-only
        'wo-miss': 1 | (2 << 13) | (3 << 15) | (15 << 21),  # page 6 write-only, 7 absent
        'inval-ring': 1 | (0 << 21),                    # page 0 (the rings) invalidated
        'inval-remap': 1 | (4 << 21) | (1 << 25),       # page 4 invalidated, mapped again
    }
    out = {}
    for name in ('batch', 'chains-indirect-mergeable'):
        if name not in seeds:
            continue
        d = seeds[name]
        for w, v in words.items():
            out['iommu-%s-%s' % (w, name)] = d[:19] + u32(v) + d[23:]
    return out


def main():
    split, packed = split_seeds(), packed_seeds()
    split.update(iommu_variants(split))
    packed.update(iommu_variants(packed))
    for target, seeds in (('msg', msg_seeds()), ('split', split),
                          ('packed', packed)):
        d = os.path.join(HERE, 'corpus', target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith('seed-'):
                os.unlink(os.path.join(d, f))
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, 'seed-' + name), 'wb') as f:
                f.write(data)
        print('%s: %d seeds in %s' % (target, len(seeds), d))
    return 0


if __name__ == '__main__':
    sys.exit(main())
