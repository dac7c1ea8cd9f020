#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
"""Reads a pcap or pcapng capture (standard library only) and checks that
every frame is one that dpdk-testpmd's txonly engine builds with the given
length and MAC addresses (IPv4 198.18.0.1 -> 198.18.0.2, UDP 9 -> 9).
Used by secondary-tools.sh; not a test by itself (not executable).

  pcap_check.py FILE --len L --src MAC --dst MAC --min N [--both]

--both (pcapng only): at least one inbound and one outbound frame (the
epb_flags option of each Enhanced Packet Block). Prints one line:
"<file>: N frames (in I, out O, no direction D)" and exits 0 when every
frame matched and there are at least N; otherwise says why and exits 1."""

import argparse
import struct
import sys

PCAP_MAGICS = {0xa1b2c3d4: 1e-6, 0xa1b23c4d: 1e-9}
SHB, IDB, EPB, SPB = 0x0A0D0D0A, 1, 6, 3
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END, EPB_FLAGS = 0, 2


def mac(s):
    b = bytes(int(x, 16) for x in s.split(':'))
    if len(b) != 6:
        raise argparse.ArgumentTypeError('not a MAC address: %s' % s)
    return b


def read_pcap(data):
    """Yields (frame bytes, original length, direction None)."""
    if len(data) < 24:
        raise ValueError('short pcap file header')
    for endian in '<>':
        magic, = struct.unpack(endian + 'I', data[:4])
        if magic in PCAP_MAGICS:
            break
    else:
        raise ValueError('not a pcap file (magic %s)' % data[:4].hex())
    _, _, _, _, _, linktype = struct.unpack(endian + 'HHiIII', data[4:24])
    if linktype != 1:
        raise ValueError('link type %d, not Ethernet' % linktype)
    off = 24
    while off < len(data):
        if off + 16 > len(data):
            raise ValueError('truncated record header at offset %d' % off)
        _, _, caplen, origlen = struct.unpack(endian + 'IIII', data[off:off + 16])
        off += 16
        if off + caplen > len(data):
            raise ValueError('truncated record at offset %d' % off)
        yield data[off:off + caplen], origlen, None
        off += caplen


def epb_direction(opts, endian):
    """'in', 'out' or None from an EPB's options."""
    off = 0
    while off + 4 <= len(opts):
        code, length = struct.unpack(endian + 'HH', opts[off:off + 4])
        if code == OPT_END:
            break
        val = opts[off + 4:off + 4 + length]
        if code == EPB_FLAGS and length == 4:
            d = struct.unpack(endian + 'I', val)[0] & 3
            return {1: 'in', 2: 'out'}.get(d)
        off += 4 + (length + 3) // 4 * 4
    return None


def read_pcapng(data):
    """Yields (frame bytes, original length, direction)."""
    off, endian, linktypes = 0, None, []
    while off < len(data):
        if off + 12 > len(data):
            raise ValueError('truncated block at offset %d' % off)
        raw_type = data[off:off + 4]
        if struct.unpack('<I', raw_type)[0] == SHB:
            bom = data[off + 8:off + 12]
            endian = '<' if struct.unpack('<I', bom)[0] == BYTE_ORDER_MAGIC else '>'
            if struct.unpack(endian + 'I', bom)[0] != BYTE_ORDER_MAGIC:
                raise ValueError('bad byte-order magic')
            linktypes = []
        elif endian is None:
            raise ValueError('not a pcapng file (no section header first)')
        btype, blen = struct.unpack(endian + 'II', data[off:off + 8])
        if blen < 12 or blen % 4 or off + blen > len(data):
            raise ValueError('bad block length %d at offset %d' % (blen, off))
        if struct.unpack(endian + 'I', data[off + blen - 4:off + blen])[0] != blen:
            raise ValueError('block at offset %d: trailing length differs' % off)
        body = data[off + 8:off + blen - 4]
        if btype == IDB:
            linktypes.append(struct.unpack(endian + 'H', body[:2])[0])
        elif btype == EPB:
            ifid, _, _, caplen, origlen = struct.unpack(endian + 'IIIII', body[:20])
            if ifid >= len(linktypes) or linktypes[ifid] != 1:
                raise ValueError('packet on interface %d, not an Ethernet interface' % ifid)
            if 20 + caplen > len(body):
                raise ValueError('packet block at offset %d overruns' % off)
            opts = body[20 + (caplen + 3) // 4 * 4:]
            yield body[20:20 + caplen], origlen, epb_direction(opts, endian)
        elif btype == SPB:
            raise ValueError('simple packet block: no interface or direction')
        off += blen


def frame_problem(f, origlen, want_len, src, dst):
    if origlen != want_len or len(f) != want_len:
        return 'length %d (captured %d), want %d' % (origlen, len(f), want_len)
    if f[0:6] != dst or f[6:12] != src:
        return 'MACs %s -> %s' % (f[6:12].hex(':'), f[0:6].hex(':'))
    if f[12:14] != b'\x08\x00' or f[14] != 0x45 or f[23] != 17:
        return 'not IPv4/UDP (ethertype %s, ip %02x, proto %d)' % (f[12:14].hex(), f[14], f[23])
    if struct.unpack('>H', f[16:18])[0] != want_len - 14:
        return 'IP total length %d' % struct.unpack('>H', f[16:18])[0]
    if f[26:30] != bytes([198, 18, 0, 1]) or f[30:34] != bytes([198, 18, 0, 2]):
        return 'IP %s -> %s' % ('.'.join(map(str, f[26:30])), '.'.join(map(str, f[30:34])))
    sport, dport, ulen = struct.unpack('>HHH', f[34:40])
    if (sport, dport, ulen) != (9, 9, want_len - 34):
        return 'UDP %d -> %d length %d' % (sport, dport, ulen)
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument('file')
    p.add_argument('--len', type=int, required=True)
    p.add_argument('--src', type=mac, required=True)
    p.add_argument('--dst', type=mac, required=True)
    p.add_argument('--min', type=int, default=1)
    p.add_argument('--both', action='store_true')
    a = p.parse_args()
    try:
        with open(a.file, 'rb') as fh:
            data = fh.read()
    except OSError as e:
        print('%s: cannot read: %s' % (a.file, e))
        return 1
    reader = read_pcapng if data[:4] == struct.pack('<I', SHB) else read_pcap
    n, dirs, bad = 0, {'in': 0, 'out': 0, None: 0}, []
    try:
        for f, origlen, d in reader(data):
            n += 1
            dirs[d] += 1
            why = frame_problem(f, origlen, a.len, a.src, a.dst)
            if why and len(bad) < 5:
                bad.append('frame %d: %s' % (n, why))
            elif why:
                bad.append(None)
    except ValueError as e:
        print('%s: %s (after %d frames)' % (a.file, e, n))
        return 1
    print('%s: %d frames (in %d, out %d, no direction %d)'
          % (a.file, n, dirs['in'], dirs['out'], dirs[None]))
    ok = True
    if bad:
        print('  %d frame(s) not as sent: %s' % (len(bad), '; '.join(b for b in bad if b)))
        ok = False
    if n < a.min:
        print('  fewer than %d frames' % a.min)
        ok = False
    if a.both and (dirs['in'] == 0 or dirs['out'] == 0):
        print('  not both directions')
        ok = False
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
