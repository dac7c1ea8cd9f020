#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Benchmark net_vhu against DPDK's net_vhost with the same virtio-user peer.

Every run starts two dpdk-testpmd processes: the back-end under test (net_vhu
from the build tree, or DPDK's installed net_vhost) serving a vhost-user socket
in a private directory, and DPDK's virtio-user in a second testpmd as the
front-end ("guest").  The back-end's forwarding lcore runs alone on one CPU and
the peer's on the other.  Runs of the two back-ends alternate A, B, A, B... and
each scenario's figure is the median; the spread is shown next to it.

See doc/guides/testing/benchmark.rst.  Standard library only.
"""

import argparse
import fnmatch
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import termios
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN_NAME = 'librte_net_vhu.so'

# virtio feature bits we check in what the peer negotiated
FEAT_MRG_RXBUF = 15
FEAT_MQ = 22
FEAT_RING_PACKED = 34
FEAT_IN_ORDER = 35
FEATURE_NAMES = {FEAT_MRG_RXBUF: 'mergeable rx buffers', FEAT_MQ: 'multi-queue',
                 FEAT_RING_PACKED: 'packed ring', FEAT_IN_ORDER: 'in-order'}

# Back-end devargs that turn an optional feature on, when the PMD has them,
# and the variant key that asks for the feature.
VHU_FEATURE_ARGS = ('mrg-rxbuf', 'in-order', 'packed')
VHU_FEATURE_VARIANT_KEY = {'mrg-rxbuf': 'mrg', 'in-order': 'inorder', 'packed': 'packed'}

# Traffic directions.  'figure' names the leg whose rate is the scenario's
# figure; each leg is measured as min(sender's tx rate, receiver's rx rate) so
# that neither side's counters alone can inflate it.
DIRECTIONS = {
    'loopback': {'be_mode': 'io', 'peer_mode': 'io', 'legs': ('g2h', 'h2g'), 'figure': 'h2g',
                 'what': 'peer io with tx_first, back-end io: packets loop guest->host->guest'},
    'g2h': {'be_mode': 'rxonly', 'peer_mode': 'txonly', 'legs': ('g2h',), 'figure': 'g2h',
            'what': 'guest->host only: peer txonly, back-end rxonly (back-end dequeues)'},
    'h2g': {'be_mode': 'txonly', 'peer_mode': 'rxonly', 'legs': ('h2g',), 'figure': 'h2g',
            'what': 'host->guest only: back-end txonly, peer rxonly (back-end enqueues)'},
}
VARIANTS = {
    'split': {'queues': 1, 'mrg': 0, 'inorder': 0, 'packed': 0,
              'what': 'split ring, mergeable rx buffers off, in-order off, 1 queue pair'},
    'split-mrg': {'queues': 1, 'mrg': 1, 'inorder': 0, 'packed': 0,
                  'what': 'split ring, mergeable rx buffers on'},
    'split-inorder': {'queues': 1, 'mrg': 1, 'inorder': 1, 'packed': 0,
                      'what': 'split ring, mergeable on, VIRTIO_F_IN_ORDER on '
                              '(virtio-user\'s default)'},
    'packed': {'queues': 1, 'mrg': 0, 'inorder': 0, 'packed': 1,
               'what': 'packed ring, mergeable off, in-order off'},
    'split-2q': {'queues': 2, 'mrg': 0, 'inorder': 0, 'packed': 0,
                 'what': 'split ring, 2 queue pairs, one forwarding core per side'},
    # Many ports, one busy: the back-end's lcore polls 8 connected ports, the
    # peer forwards on its port 0 only (--portlist=0), so the busy port's rate
    # carries the cost of 7 idle polls per round.  Each port forwards to
    # itself (--port-topology=loop).  Not h2g: a txonly back-end would fill
    # the 7 unpolled guests' rings, which is no idle poll.
    'split-1of8': {'queues': 1, 'mrg': 0, 'inorder': 0, 'packed': 0, 'ports': 8,
                   'directions': ('loopback', 'g2h'),
                   'what': 'split ring, 8 ports connected, traffic on port 0 only; the '
                           'back-end polls all 8'},
    'packed-1of8': {'queues': 1, 'mrg': 0, 'inorder': 0, 'packed': 1, 'ports': 8,
                    'directions': ('loopback', 'g2h'),
                    'what': 'packed ring, 8 ports connected, traffic on port 0 only; the '
                            'back-end polls all 8'},
}
SIZES = (64, 1518)
DIRECTION_ORDER = ('loopback', 'g2h', 'h2g')
VARIANT_ORDER = ('split', 'split-mrg', 'split-inorder', 'packed', 'split-2q', 'split-1of8',
                 'packed-1of8')

# Sender's tx and receiver's rx rates further apart than this are reported.
COUNTER_GAP_PCT = 5.0

# virtio ring size of the control-plane peers (many ports, little traffic)
CTRL_QUEUE_SIZE = 256

# Ports one DPDK process can hold in Debian's build (RTE_MAX_ETHPORTS).
DEFAULT_MAX_PORTS = 32


class Fail(Exception):
    """A run could not produce a figure (the message says why)."""


class Skip(Exception):
    """The back-end lacks what the scenario needs (detected, not assumed)."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Environment

def hugetlbfs_mounts():
    mounts = []
    try:
        with open('/proc/mounts') as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[2] == 'hugetlbfs':
                    mounts.append(fields[1])
    except OSError:
        pass
    return mounts


def hugepages_free_mb():
    info = {}
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                k, _, v = line.partition(':')
                info[k] = v.split()
    except OSError:
        return 0
    try:
        free = int(info['HugePages_Free'][0])
        size_kb = int(info['Hugepagesize'][0])
    except (KeyError, ValueError, IndexError):
        return 0
    return free * size_kb // 1024


def runtime_dir():
    if os.geteuid() == 0:
        return '/var/run/dpdk'
    return os.path.join(os.environ.get('XDG_RUNTIME_DIR', '/tmp'), 'dpdk')


def max_ethports():
    for inc in ('/usr/include/x86_64-linux-gnu/dpdk', '/usr/include/dpdk',
                '/usr/local/include'):
        try:
            with open(os.path.join(inc, 'rte_build_config.h')) as f:
                m = re.search(r'#define RTE_MAX_ETHPORTS (\d+)', f.read())
                if m:
                    return int(m.group(1))
        except OSError:
            continue
    return DEFAULT_MAX_PORTS


def pmd_params(so_path):
    """Devarg names from the plugin's PMD_INFO_STRING, or None if it has none."""
    try:
        with open(so_path, 'rb') as f:
            data = f.read()
    except OSError:
        return None
    m = re.search(rb'PMD_INFO_STRING= (\{[^\x00]*\})', data)
    if not m:
        return None
    try:
        info = json.loads(m.group(1).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return set(re.findall(r'([A-Za-z0-9_-]+)=', info.get('params', '')))


class Env:
    """What every run needs: tools, paths, memory mode, CPUs."""

    def __init__(self, args):
        self.testpmd = shutil.which(args.testpmd) or args.testpmd
        if not os.access(self.testpmd, os.X_OK):
            raise SystemExit('error: dpdk-testpmd not found (%s): install Debian\'s dpdk '
                             'package' % args.testpmd)
        # the peer's own testpmd (a DPDK of the same release built with
        # symbols attributes the guest's profile; the back-end stays Debian's)
        self.peer_testpmd = self.testpmd
        if args.peer_testpmd:
            self.peer_testpmd = shutil.which(args.peer_testpmd) or args.peer_testpmd
            if not os.access(self.peer_testpmd, os.X_OK):
                raise SystemExit('error: --peer-testpmd %s is not an executable'
                                 % args.peer_testpmd)
        self.build = os.path.abspath(args.build_dir)
        self.plugin_dir = plugin_dir_in(self.build)
        self.plugin = os.path.join(self.plugin_dir, PLUGIN_NAME)
        self.out_dir = os.path.join(self.build, 'bench')
        self.log_dir = os.path.join(self.out_dir, 'logs')
        self.cpus = [int(c) for c in args.cpus.split(',')]
        if len(self.cpus) != 2 or self.cpus[0] == self.cpus[1]:
            raise SystemExit('error: --cpus wants two different CPUs, e.g. 0,1')
        self.mem_mb = args.mem
        self.queue_size = args.queue_size
        self.mbufs = args.mbufs
        self.tx_first = args.tx_first
        self.verbose = args.verbose
        need = 2 * self.mem_mb + 64
        self.huge = (not args.no_huge and bool(hugetlbfs_mounts())
                     and hugepages_free_mb() >= need)
        self.perf = None if args.no_perf else perf_available(self.cpus[1])
        self.profile_dir = None
        if getattr(args, 'profile', None):
            if not shutil.which('perf'):
                raise SystemExit('error: --profile needs perf (linux-perf)')
            self.profile_dir = os.path.abspath(args.profile)
            os.makedirs(self.profile_dir, exist_ok=True)
        self.seq = 0
        self.live = []          # TestPmd objects not yet stopped
        self.prefixes = []      # every --file-prefix we used, for clean-up
        self.tmpdirs = []
        os.makedirs(self.log_dir, exist_ok=True)
        for old in glob.glob(os.path.join(self.log_dir, '*.log')):
            os.unlink(old)
        self._vhu_args = None

    def next_id(self):
        self.seq += 1
        return self.seq

    def prefix(self, role):
        p = 'vhubench%d_%d%s' % (os.getpid(), len(self.prefixes), role)
        self.prefixes.append(p)
        return p

    def mkdtemp(self):
        d = tempfile.mkdtemp(prefix='vhu-bench-')
        os.chmod(d, 0o700)
        self.tmpdirs.append(d)
        return d

    def eal(self, prefix, lcores, shared_mem, backend=None, mem_mb=None, force_no_huge=False):
        """EAL arguments. shared_mem: the peer, whose memory the back-end maps."""
        mem = str(mem_mb or self.mem_mb)
        args = ['--lcores=' + lcores, '--file-prefix=' + prefix, '--no-pci']
        if self.huge and not force_no_huge:
            args += ['-m', mem]
            if shared_mem:
                args.append('--single-file-segments')
        else:
            args += ['--no-huge', '-m', mem]
        if is_vhu(backend):
            args += ['-d', PLUGIN_NAME]
        return args

    def env_for(self, backend):
        env = dict(os.environ)
        if is_vhu(backend):
            old = env.get('LD_LIBRARY_PATH')
            env['LD_LIBRARY_PATH'] = self.plugin_dir_of(backend) + (':' + old if old else '')
        return env

    def plugin_dir_of(self, backend):
        """Where backend's plugin is: vhu=DIR names another build directory."""
        return plugin_dir_in(backend[4:]) if backend.startswith('vhu=') else self.plugin_dir

    def check_vhu(self):
        if not os.path.isfile(self.plugin):
            raise SystemExit('error: net_vhu is not built: %s is missing.\n'
                             'Build it first: devtools/setup.sh (or meson setup %s && '
                             'ninja -C %s)' % (self.plugin, self.build, self.build))

    def vhu_feature_args(self):
        """Feature devargs net_vhu accepts: from PMD_INFO_STRING, else by trying."""
        if self._vhu_args is not None:
            return self._vhu_args
        params = pmd_params(self.plugin)
        if params is not None:
            # accept mrg_rxbuf as well as mrg-rxbuf
            by_norm = {p.replace('_', '-'): p for p in params}
            self._vhu_args = {a: by_norm[a] for a in VHU_FEATURE_ARGS if a in by_norm}
        else:
            self._vhu_args = {a: a for a in VHU_FEATURE_ARGS if self.probe_vhu_arg(a)}
        return self._vhu_args

    def probe_vhu_arg(self, arg):
        """True if a net_vhu port probes with arg=1 (the plugin has no param string)."""
        self.next_id()
        d = self.mkdtemp()
        vdev = 'net_vhu0,iface=%s,%s=1' % (os.path.join(d, 'probe.sock'), arg)
        prefix = self.prefix('q')
        tp = TestPmd(self, 'probe-%s' % arg, prefix,
                     self.eal(prefix, '0@%d' % self.cpus[0], False, 'vhu'),
                     ['--vdev', vdev], ['-i', '--total-num-mbufs=2048'], 'vhu', d)
        try:
            return tp.port_count() == 1
        except Fail:
            return False
        finally:
            self.stop(tp)
            self.cleanup_dir(d)

    def backend_vdev(self, backend, index, sock, queues, variant=None):
        """The back-end's --vdev. net_vhost offers every feature by default;
        net_vhu gets the switch of each feature the scenario needs (when it has
        one) and its defaults for the rest."""
        if is_vhu(backend):
            extra = ''.join(',%s=1' % name for a, name in self.vhu_feature_args().items()
                            if variant and variant[VHU_FEATURE_VARIANT_KEY[a]])
            return 'net_vhu%d,iface=%s,queues=%d%s' % (index, sock, queues, extra)
        return 'net_vhost%d,iface=%s,queues=%d' % (index, sock, queues)

    def stop(self, tp):
        tp.stop()
        if tp in self.live:
            self.live.remove(tp)
        cleanup_prefix(tp.prefix)

    def cleanup_dir(self, d):
        shutil.rmtree(d, ignore_errors=True)
        if d in self.tmpdirs:
            self.tmpdirs.remove(d)

    def cleanup_all(self):
        for tp in list(self.live):
            self.stop(tp)
        for d in list(self.tmpdirs):
            self.cleanup_dir(d)
        for p in self.prefixes:
            cleanup_prefix(p)


def cleanup_prefix(prefix):
    """Remove what EAL leaves behind for our --file-prefix (processes have exited)."""
    for mnt in hugetlbfs_mounts():
        for f in glob.glob(os.path.join(glob.escape(mnt), glob.escape(prefix) + 'map_*')):
            try:
                os.unlink(f)
            except OSError:
                pass
    shutil.rmtree(os.path.join(runtime_dir(), prefix), ignore_errors=True)


def perf_available(cpu):
    """True if 'perf stat -e cycles' counts on this machine (not in every VM)."""
    perf = shutil.which('perf')
    if not perf:
        return None
    try:
        r = subprocess.run([perf, 'stat', '-x', ',', '-e', 'cycles', '-C', str(cpu),
                            '--', 'sleep', '0.1'], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'^(\d+),', r.stderr, re.M)
    return perf if (r.returncode == 0 and m and int(m.group(1)) > 0) else None


# ---------------------------------------------------------------------------
# One dpdk-testpmd process driven through its interactive command line

class TestPmd:
    """dpdk-testpmd -i with commands on a pipe and output on a pty.

    The pty makes testpmd's stdio line-buffered, so every line arrives when it
    is printed and gets an arrival timestamp.  The process leads its own
    process group; stop() ends that group only.
    """

    def __init__(self, env, role, prefix, eal, vdev_args, app, backend, cwd, binary=None):
        self.env = env
        self.role = role
        self.prefix = prefix
        self.log_path = os.path.join(env.log_dir, '%03d-%s.log' % (env.seq, file_part(role)))
        cmd = [binary or env.testpmd] + eal + vdev_args + ['--'] + app
        master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST      # no \n -> \r\n
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.master = master
        self.lines = []                 # (arrival time, text)
        self.cond = threading.Condition()
        self.eof = False
        with open(self.log_path, 'w') as f:
            f.write('# ' + ' '.join(cmd) + '\n')
        if env.verbose:
            log('  $ ' + ' '.join(cmd))
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=slave, stderr=slave,
                                         env=env.env_for(backend), cwd=cwd,
                                         start_new_session=True, close_fds=True)
        finally:
            os.close(slave)
        env.live.append(self)
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _reader(self):
        buf = b''
        with open(self.log_path, 'ab') as logf:
            while True:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    break
                if not data:
                    break
                now = time.monotonic()
                logf.write(data)
                logf.flush()
                buf += data
                parts = buf.split(b'\n')
                buf = parts.pop()
                with self.cond:
                    for p in parts:
                        self.lines.append((now, p.decode(errors='replace').replace('\r', '')))
                    self.cond.notify_all()
        with self.cond:
            if buf:
                self.lines.append((time.monotonic(), buf.decode(errors='replace')))
            self.eof = True
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def send(self, cmd):
        try:
            self.proc.stdin.write((cmd + '\n').encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            raise Fail('%s: cannot send "%s" (process gone: %s); log: %s'
                       % (self.role, cmd, e, self.log_path))
        return time.monotonic()

    def wait_for(self, pattern, start, timeout):
        """First line from index start matching pattern: (index, match, time)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    t, text = self.lines[i]
                    m = rx.search(text)
                    if m:
                        return i, m, t
                    i += 1
                if self.eof:
                    raise Fail('%s exited (rc=%s) while waiting for /%s/%s; log: %s'
                               % (self.role, self.proc.poll(), pattern, self.last_errors(),
                                  self.log_path))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail('%s: timed out after %.0fs waiting for /%s/; log: %s'
                               % (self.role, timeout, pattern, self.log_path))
                self.cond.wait(left)

    def last_errors(self, n=3):
        """': <the last error lines it printed>', or ''."""
        rx = re.compile(r'rror|Cause:|[Ff]ail|[Ii]nvalid|[Uu]nable')
        with self.cond:
            errs = [x.strip() for _, x in self.lines if rx.search(x)]
        return (': ' + ' | '.join(errs[-n:])) if errs else ''

    def driver_complaints(self, n=2):
        """': <the back-end driver's last complaints>', or ''."""
        drv = re.compile(r'^(?:testpmd> )*(VHU_\w+|VHOST_\w+|vhu|net_vhu)\b')
        bad = re.compile(r'(?i)\b(no|not|error|fail\w*|invalid|refus\w*|drop\w*|broken)\b')
        with self.cond:
            hits = [x.strip() for _, x in self.lines if drv.search(x) and bad.search(x)]
        out = []
        for h in hits:          # last n distinct complaints
            if h not in out:
                out.append(h)
        return (': back-end said: ' + ' | '.join(out[-n:])) if out else ''

    def find_all(self, pattern, start=0):
        rx = re.compile(pattern)
        with self.cond:
            return [(t, m) for t, m in ((t, rx.search(x)) for t, x in self.lines[start:]) if m]

    def port_count(self, timeout=60):
        """Ports testpmd has; doubles as 'initialisation finished'."""
        i = self.mark()
        self.send('show port summary all')
        _, m, _ = self.wait_for(r'Number of available ports: (\d+)', i, timeout)
        return int(m.group(1))

    def links_up(self, timeout=10):
        i = self.mark()
        self.send('show port summary all')
        j, m, _ = self.wait_for(r'Number of available ports: (\d+)', i, timeout)
        n = int(m.group(1))
        up = 0
        k = j + 1
        for _ in range(n):
            k, m, _ = self.wait_for(r'^\s*(?:testpmd> )*\d+\s+\S+\s+\S+\s+\S+\s+(up|down)\b',
                                    k, timeout)
            up += m.group(1) == 'up'
            k += 1
        return up, n

    def port_stats(self, port=0, timeout=10):
        return self.collect_stats(self.ask_stats(port), port, timeout)

    def ask_stats(self, port=0):
        i = self.mark()
        self.send('show port stats %d' % port)
        return i

    def collect_stats(self, i, port=0, timeout=10):
        j, _, t = self.wait_for(r'NIC statistics for port %d\b' % port, i, timeout)
        k, _, _ = self.wait_for(r'^\s*#{40,}\s*$', j + 1, timeout)
        with self.cond:
            block = '\n'.join(x for _, x in self.lines[j:k])
        stats = {'time': t}
        for key, name in (('RX-packets', 'rx'), ('TX-packets', 'tx'), ('RX-missed', 'rx_missed'),
                          ('RX-errors', 'rx_errors'), ('RX-nombuf', 'rx_nombuf'),
                          ('TX-errors', 'tx_errors'), ('Rx-pps', 'rx_pps'), ('Tx-pps', 'tx_pps')):
            m = re.search(re.escape(key) + r':\s*(\d+)', block)
            if not m:
                raise Fail('%s: no %s in port stats; log: %s' % (self.role, key, self.log_path))
            stats[name] = int(m.group(1))
        return stats

    def fwd_cycles(self, timeout=10):
        """testpmd's --record-core-cycles figure: busy TSC cycles per packet."""
        i = self.mark()
        self.send('show fwd stats all')
        j, _, _ = self.wait_for(r'Accumulated forward statistics', i, timeout)
        try:
            _, m, _ = self.wait_for(r'CPU cycles/packet=([\d.]+)', j, 2)
        except Fail:
            return None
        return float(m.group(1))

    def rss_kb(self):
        try:
            with open('/proc/%d/status' % self.proc.pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1])
        except OSError:
            pass
        raise Fail('%s: cannot read its VmRSS' % self.role)

    def heap_kb(self, timeout=10):
        """Bytes allocated from DPDK's heap (rte_malloc, memzones, mempools), in kB."""
        i = self.mark()
        self.send('dump_socket_mem')
        _, m, _ = self.wait_for(r'^\s*(?:testpmd> )*Total\s*: size\(M\) total: ([\d.]+) '
                                r'alloc: ([\d.]+)', i, timeout)
        return float(m.group(2)) * 1024

    def negotiated_features(self):
        found = self.find_all(r'features after negotiate = ([0-9a-fA-F]+)')
        return int(found[-1][1].group(1), 16) if found else None

    def alive(self):
        return self.proc.poll() is None

    def _signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'stop\nquit\n')
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log('  %s did not quit in %ds: SIGTERM to its process group %d'
                % (self.role, timeout, self.proc.pid))
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(5)
        # testpmd's own threads are gone with it; anything it forked is in its group
        self._signal(signal.SIGKILL)
        self.thread.join(5)
        try:
            os.close(self.master)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Traffic runs

def scenario_list():
    out = []
    for d in DIRECTION_ORDER:
        for v in VARIANT_ORDER:
            if d not in VARIANTS[v].get('directions', DIRECTION_ORDER):
                continue
            for s in SIZES:
                out.append('%s/%s/%d' % (d, v, s))
    return out


def parse_scenario(name):
    d, v, s = name.split('/')
    return d, v, int(s)


def start_backend(env, backend, sock_dir, nports, queues, mode, size, tag, mem_mb=None,
                  force_no_huge=False, cycles=True, variant=None, extra_app=()):
    vdevs = []
    for i in range(nports):
        sock = os.path.join(sock_dir, 'vhost%d.sock' % i)
        vdevs += ['--vdev', env.backend_vdev(backend, i, sock, queues, variant)]
    app = ['-i', '--nb-cores=1']
    if nports:      # testpmd checks --rxq against the first port's limits
        app += ['--rxq=%d' % queues, '--txq=%d' % queues]
    app += ['--rxd=%d' % env.queue_size, '--txd=%d' % env.queue_size,
            '--total-num-mbufs=%d' % env.mbufs, '--forward-mode=' + mode, '--txpkts=%d' % size]
    if cycles:
        app.append('--record-core-cycles')
    app += list(extra_app)
    prefix = env.prefix('b')
    eal = env.eal(prefix, '0@%d,1@%d' % (env.cpus[0], env.cpus[1]), False, backend, mem_mb,
                  force_no_huge)
    return TestPmd(env, '%s-%s' % (tag, backend), prefix, eal, vdevs, app, backend, sock_dir)


def start_peer(env, sock_dir, nports, queues, variant, mode, size, tag, extra_app=(),
               queue_size=None, mbufs=None):
    queue_size = queue_size or env.queue_size
    vdevs = []
    for i in range(nports):
        sock = os.path.join(sock_dir, 'vhost%d.sock' % i)
        vdevs += ['--vdev', 'net_virtio_user%d,path=%s,queues=%d,queue_size=%d,mrg_rxbuf=%d,'
                  'in_order=%d,packed_vq=%d' % (i, sock, queues, queue_size, variant['mrg'],
                                                variant['inorder'], variant['packed'])]
    # --record-core-cycles: the guest's busy cycles per packet are a result too
    app = ['-i', '--nb-cores=1', '--rxq=%d' % queues, '--txq=%d' % queues,
           '--rxd=%d' % queue_size, '--txd=%d' % queue_size,
           '--total-num-mbufs=%d' % (mbufs or env.mbufs), '--forward-mode=' + mode,
           '--txpkts=%d' % size, '--record-core-cycles'] + list(extra_app)
    prefix = env.prefix('p')
    eal = env.eal(prefix, '0@%d,1@%d' % (env.cpus[0], env.cpus[0]), True)
    eal.append('--log-level=pmd.net.virtio.init:debug')
    return TestPmd(env, '%s-peer' % tag, prefix, eal, vdevs, app, None, sock_dir,
                   binary=env.peer_testpmd)


def wait_sockets(socks, backend_tp, timeout):
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(s) for s in socks):
        if not backend_tp.alive():
            raise Fail('%s exited before creating its socket; log: %s'
                       % (backend_tp.role, backend_tp.log_path))
        if time.monotonic() > deadline:
            raise Fail('%s: socket(s) not created within %ds; log: %s'
                       % (backend_tp.role, timeout, backend_tp.log_path))
        time.sleep(0.05)


def wait_link(tp, nports, timeout):
    deadline = time.monotonic() + timeout
    while True:
        up, n = tp.links_up()
        if n == nports and up == nports:
            return
        if time.monotonic() > deadline:
            raise Fail('%s: link not up within %ds (%d/%d ports up); log: %s'
                       % (tp.role, timeout, up, n, tp.log_path))
        time.sleep(0.1)


def check_features(feats, variant, backend, peer):
    if feats is None:
        raise Fail('peer did not log its negotiated features; log: %s' % peer.log_path)
    need = []
    if variant['mrg']:
        need.append(FEAT_MRG_RXBUF)
    if variant['inorder']:
        need.append(FEAT_IN_ORDER)
    if variant['packed']:
        need.append(FEAT_RING_PACKED)
    if variant['queues'] > 1:
        need.append(FEAT_MQ)
    missing = [FEATURE_NAMES[b] for b in need if not feats >> b & 1]
    if missing:
        raise Skip('%s did not negotiate %s (features 0x%x)'
                   % (backend, ', '.join(missing), feats))


def both_stats(be, peer):
    """Port 0 stats of both sides, asked at the same moment."""
    i, j = be.ask_stats(), peer.ask_stats()
    return {'be': be.collect_stats(i), 'peer': peer.collect_stats(j)}


def leg_rate(sender, receiver, which):
    """min(sender's tx pps, receiver's rx pps) for one leg, and both raw figures."""
    tx, rx = sender['tx_pps'], receiver['rx_pps']
    gap = abs(tx - rx) / max(tx, rx) if max(tx, rx) else 0.0
    return {'pps': min(tx, rx), 'sender_tx_pps': tx, 'receiver_rx_pps': rx,
            'packets': min(sender['tx_d'], receiver['rx_d']), 'leg': which,
            'counter_gap_pct': gap * 100}


def start_profiles(env, scenario, backend, be, peer, window):
    """--profile: perf record (software clock, call graphs) of both testpmds
    for the window; the files are named scenario-backend-run-side.data."""
    if not env.profile_dir:
        return []
    procs = []
    for side, tp in (('backend', be), ('guest', peer)):
        out = os.path.join(env.profile_dir, '%s-%s-%03d-%s.data'
                           % (scenario.replace('/', '-'), file_part(backend), env.seq, side))
        procs.append((out, subprocess.Popen(
            [shutil.which('perf'), 'record', '-q', '-e', 'cpu-clock', '-F', '2000', '-g',
             '-p', str(tp.proc.pid), '-o', out, '--', 'sleep', '%.3f' % window],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)))
    return procs


def end_profiles(procs, window):
    for out, pr in procs:
        try:
            pr.wait(window + 20)
        except subprocess.TimeoutExpired:
            os.killpg(pr.pid, signal.SIGKILL)
            pr.wait(5)
        log('  profile: %s (perf report -i %s --no-children --sort dso,sym)'
            % (out, out) if os.path.exists(out) else '  profile: perf record wrote no %s' % out)


def run_traffic(env, backend, scenario, warmup, window):
    """One run of one scenario with one back-end; returns a result dict."""
    direction, vname, size = parse_scenario(scenario)
    dirn, variant = DIRECTIONS[direction], VARIANTS[vname]
    q = variant['queues']
    nports = variant.get('ports', 1)
    be_extra, peer_extra, peer_mbufs = (), (), None
    if nports > 1:
        # every back-end port polled, each forwarding to itself; the peer
        # forwards on its port 0 only, its other ports connected and idle
        be_extra = ('--port-topology=loop',)
        peer_extra = ('--port-topology=loop', '--portlist=0')
        peer_mbufs = max(env.mbufs, 2 * nports * env.queue_size + 4096)
    env.next_id()
    tag = '%s-%s-%d' % (direction, vname, size)
    sock_dir = env.mkdtemp()
    be = peer = None
    perf_proc = None
    try:
        be = start_backend(env, backend, sock_dir, nports, q, dirn['be_mode'], size, tag,
                           variant=variant, extra_app=be_extra)
        try:
            n = be.port_count()
        except Fail as e:
            raise Fail('net_%s did not start a port: %s' % (backend, e))
        if n != nports:
            raise Fail('%s created %d ports instead of %d (devargs rejected?); log: %s'
                       % (backend, n, nports, be.log_path))
        wait_sockets([os.path.join(sock_dir, 'vhost%d.sock' % i) for i in range(nports)], be,
                     20)
        peer = start_peer(env, sock_dir, nports, q, variant, dirn['peer_mode'], size, tag,
                          extra_app=peer_extra, mbufs=peer_mbufs)
        if peer.port_count() != nports:
            raise Fail('peer has not %d virtio-user ports; log: %s' % (nports, peer.log_path))
        wait_link(be, nports, 20)
        feats = peer.negotiated_features()
        check_features(feats, variant, backend, peer)
        # receiver first, then sender
        if direction == 'h2g':
            peer.send('start')
            be.send('start')
        elif direction == 'g2h':
            be.send('start')
            peer.send('start')
        else:
            be.send('start')
            peer.send('start tx_first %d' % env.tx_first)
        time.sleep(warmup)
        for tp in (be, peer):
            if not tp.alive():
                raise Fail('%s died during warm-up; log: %s' % (tp.role, tp.log_path))
        be.send('clear fwd stats all')
        s0 = both_stats(be, peer)
        if env.perf:
            perf_proc = subprocess.Popen([env.perf, 'stat', '-x', ',', '-e', 'cycles', '-C',
                                          str(env.cpus[1]), '--', 'sleep', '%.3f' % window],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True, start_new_session=True)
        profs = start_profiles(env, scenario, backend, be, peer, window)
        time.sleep(window)
        s1 = both_stats(be, peer)
        end_profiles(profs, window)
        busy = be.fwd_cycles()
        guest_busy = peer.fwd_cycles()
        perf_cycles = None
        if perf_proc:
            try:
                _, err = perf_proc.communicate(timeout=window + 10)
                m = re.search(r'^(\d+),', err, re.M)
                perf_cycles = int(m.group(1)) if m else None
            except subprocess.TimeoutExpired:
                os.killpg(perf_proc.pid, signal.SIGKILL)
                perf_proc.wait(5)
            perf_proc = None
        for side in ('be', 'peer'):
            for k in ('rx', 'tx'):
                s1[side][k + '_d'] = s1[side][k] - s0[side][k]
        legs = {}
        if 'g2h' in dirn['legs']:
            legs['g2h'] = leg_rate(s1['peer'], s1['be'], 'g2h')
        if 'h2g' in dirn['legs']:
            legs['h2g'] = leg_rate(s1['be'], s1['peer'], 'h2g')
        fig = legs[dirn['figure']]
        be_pkts = sum(s1['be'][k + '_d'] for k in ('rx', 'tx'))
        # packets the back-end's forwarding loop handled: rx for io/rxonly, tx for txonly
        be_handled = s1['be']['tx_d'] if dirn['be_mode'] == 'txonly' else s1['be']['rx_d']
        res = {
            'scenario': scenario, 'backend': backend, 'ok': fig['packets'] > 0,
            'mpps': fig['pps'] / 1e6, 'legs': legs, 'window_s': window,
            'features': '0x%x' % feats,
            'backend_packets': be_pkts,
            'busy_cycles_per_pkt': busy,
            'guest_busy_cycles_per_pkt': guest_busy,
            'perf_cycles_per_pkt': (perf_cycles / be_handled
                                    if perf_cycles and be_handled else None),
            'stats': {'backend': s1['be'], 'peer': s1['peer']},
            'load1': os.getloadavg()[0],
            'logs': [be.log_path, peer.log_path],
        }
        for k in ('be', 'peer'):
            for t in ('time',):
                s1[k].pop(t, None)
        if not res['ok']:
            res['error'] = ('no packets flowed (%s)%s; logs: %s %s'
                            % (', '.join('%s %d pkts' % (k, v['packets'])
                                         for k, v in legs.items()), be.driver_complaints(),
                               be.log_path, peer.log_path))
        return res
    finally:
        if perf_proc:
            try:
                os.killpg(perf_proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            perf_proc.wait(5)
        # front-end first, then the back-end
        for tp in (peer, be):
            if tp:
                env.stop(tp)
        env.cleanup_dir(sock_dir)


def spread(values):
    if len(values) < 2:
        return None
    med = statistics.median(values)
    return (max(values) - min(values)) / med * 100 if med else None


def summarize(runs):
    ok = [r for r in runs if r.get('ok')]
    if not ok:
        return None
    mpps = [r['mpps'] for r in ok]
    busy = [r['busy_cycles_per_pkt'] for r in ok if r.get('busy_cycles_per_pkt')]
    perf = [r['perf_cycles_per_pkt'] for r in ok if r.get('perf_cycles_per_pkt')]
    guest = [r['guest_busy_cycles_per_pkt'] for r in ok if r.get('guest_busy_cycles_per_pkt')]
    return {'median_mpps': statistics.median(mpps), 'min_mpps': min(mpps),
            'max_mpps': max(mpps), 'spread_pct': spread(mpps), 'runs': len(ok),
            'busy_cycles_per_pkt': statistics.median(busy) if busy else None,
            'guest_busy_cycles_per_pkt': statistics.median(guest) if guest else None,
            'perf_cycles_per_pkt': statistics.median(perf) if perf else None}


def paired_ratio(runs_a, runs_b):
    """Median of A/B over the runs made next to each other (rep i of each).

    This machine's speed drifts over minutes (other tenants); a pair shares
    the state it ran in, so its ratio moves less than the ratio of medians.
    """
    ratios = [ra['mpps'] / rb['mpps'] for ra, rb in zip(runs_a, runs_b)
              if ra.get('ok') and rb.get('ok') and rb['mpps']]
    return statistics.median(ratios) if ratios else None


def run_scenarios(env, backends, scenarios, reps, warmup, window):
    """Alternate the back-ends run by run: A, B, A, B..."""
    results = []
    for sc in scenarios:
        entry = {'scenario': sc, 'runs': {b: [] for b in backends}, 'skipped': {},
                 'errors': {}}
        for rep in range(reps):
            for b in backends:
                key = b
                if key in entry['skipped'] or key in entry['errors']:
                    continue
                label = '%s [%s %d/%d]' % (sc, b, rep + 1, reps)
                try:
                    r = run_traffic(env, b.split('#')[0], sc, warmup, window)
                except Skip as e:
                    entry['skipped'][key] = str(e)
                    log('%-40s skipped: %s' % (label, e))
                    continue
                except Fail as e:
                    entry['errors'][key] = str(e)
                    log('%-40s FAILED: %s' % (label, e))
                    continue
                entry['runs'][key].append(r)
                for leg in r['legs'].values():
                    if leg['counter_gap_pct'] > COUNTER_GAP_PCT:
                        msg = ('%s leg: sender tx %.3f Mpps, receiver rx %.3f Mpps (%.1f%% apart; '
                               'the smaller is used)' % (leg['leg'], leg['sender_tx_pps'] / 1e6,
                                                         leg['receiver_rx_pps'] / 1e6,
                                                         leg['counter_gap_pct']))
                        entry.setdefault('warnings', {}).setdefault(key, msg)
                        log('%-40s warning: %s' % (label, msg))
                if r['ok']:
                    log('%-40s %7.3f Mpps%s' % (label, r['mpps'], cyc_text(r)))
                else:
                    entry['errors'][key] = r['error']
                    log('%-40s FAILED: %s' % (label, r['error']))
        entry['summary'] = {b: summarize(entry['runs'][b]) for b in backends}
        if len(backends) > 1:
            entry['paired_ratio'] = paired_ratio(entry['runs'][backends[0]],
                                                 entry['runs'][backends[1]])
        results.append(entry)
    return results


def cyc_text(r):
    out = ''
    if r.get('busy_cycles_per_pkt'):
        out += '  %.0f busy cyc/pkt' % r['busy_cycles_per_pkt']
    if r.get('perf_cycles_per_pkt'):
        out += '  %.0f perf cyc/pkt' % r['perf_cycles_per_pkt']
    return out


# ---------------------------------------------------------------------------
# Control plane: connect -> link up, and resident memory per port

def rss_baseline(env, backend, settle):
    """VmRSS of a back-end testpmd with the same set-up and no port."""
    env.next_id()
    d = env.mkdtemp()
    tp = start_backend(env, backend, d, 0, 1, 'io', 64, 'rss0', cycles=False)
    try:
        tp.port_count()
        time.sleep(settle)
        return tp.rss_kb(), tp.heap_kb()
    finally:
        env.stop(tp)
        env.cleanup_dir(d)


def ctrl_plane(env, backend, nports, settle=1.0):
    """Connect-to-link-up and RSS per port for nports ports of one back-end.

    The back-end runs with --no-huge so that what the PMD allocates from DPDK's
    heap is resident memory too; the peer (whose memory the back-end maps) stays
    on hugepages when there are some, so guest memory is not counted.
    """
    per_proc = max_ethports()
    groups = []
    left = nports
    while left > 0:
        groups.append(min(left, per_proc))
        left -= groups[-1]
    rss0, heap0 = rss_baseline(env, backend, settle)
    env.next_id()
    procs = []      # (backend tp, peer tp, nports, sockdir)
    try:
        for gi, k in enumerate(groups):
            d = env.mkdtemp()
            be = start_backend(env, backend, d, k, 1, 'io', 64, 'ctrl%d-g%d' % (nports, gi),
                               cycles=False)
            procs.append([be, None, k, d])
        for be, _, k, d in procs:
            n = be.port_count()
            if n != k:
                raise Fail('%s created %d ports instead of %d; log: %s'
                           % (backend, n, k, be.log_path))
            wait_sockets([os.path.join(d, 'vhost%d.sock' % i) for i in range(k)], be, 30)
        time.sleep(settle)
        rss_idle = [p[0].rss_kb() for p in procs]
        heap_idle = [p[0].heap_kb() for p in procs]
        for gi, p in enumerate(procs):
            be, _, k, d = p
            p[1] = start_peer(env, d, k, 1, VARIANTS['split'], 'io', 64,
                              'ctrl%d-g%d' % (nports, gi), queue_size=CTRL_QUEUE_SIZE,
                              mbufs=max(env.mbufs, 2 * k * CTRL_QUEUE_SIZE + 4096))
        for be, peer, k, d in procs:
            if peer.port_count(timeout=120) != k:
                raise Fail('peer has not %d ports; log: %s' % (k, peer.log_path))
        lat = []
        ready = []      # connect -> the back-end's "device ready" log line, per port
        t_first, t_last = None, None
        no_lsc = False
        for be, peer, k, d in procs:
            # virtio-user logs this line just before it connects, once per port
            # in --vdev order; the back-end's first LSC event for a port is its
            # link coming up (every port is down until its front-end arrives).
            t0 = [t for t, _ in peer.find_all(r'Backend type detected')]
            if len(t0) != k:
                raise Fail('peer logged %d connects for %d ports; log: %s'
                           % (len(t0), k, peer.log_path))
            up = {}
            deadline = time.monotonic() + 30
            mark = 0
            try:
                while len(up) < k:
                    i, m, t = be.wait_for(r'Port (\d+): link state change event', mark,
                                          max(0.1, deadline - time.monotonic()))
                    mark = i + 1
                    up.setdefault(int(m.group(1)), t)
            except Fail:
                if be.alive():
                    no_lsc = True
                else:
                    raise
            for port, t in up.items():
                lat.append(t - t0[port])
            for t, m in be.find_all(READY_LINE):
                port = int(m.group(1))
                if port < k:
                    ready.append(t - t0[port])
            t_first = min([t_first] + t0[:1]) if t_first else t0[0]
            if up:
                t_last = max([t_last or 0] + list(up.values()))
            if len(up) < k:
                log('  %s: link-state-change event for %d of %d ports only; log: %s'
                    % (be.role, len(up), k, be.log_path))
        time.sleep(settle)
        for be, _, k, _ in procs:
            up, n = be.links_up()
            if up != k:
                raise Fail('%s: %d of %d links up after start; log: %s'
                           % (backend, up, k, be.log_path))
        rss_up = [p[0].rss_kb() for p in procs]
        heap_up = [p[0].heap_kb() for p in procs]
        complete = len(lat) == nports
        return {
            'backend': backend, 'ports': nports, 'processes': len(groups),
            'lsc_events': len(lat), 'note': ('no link-state-change event for some ports: '
                                             'link-up times missing' if no_lsc else None),
            'link_up_ms_first': min(lat) * 1e3 if lat else None,
            'link_up_ms_median': statistics.median(lat) * 1e3 if lat else None,
            'link_up_ms_max': max(lat) * 1e3 if lat else None,
            'link_up_ms_all': (t_last - t_first) * 1e3 if complete else None,
            'ready_ms_median': statistics.median(ready) * 1e3 if ready else None,
            'rss_baseline_kb': rss0, 'rss_idle_kb': rss_idle, 'rss_up_kb': rss_up,
            'heap_baseline_kb': heap0, 'heap_idle_kb': heap_idle, 'heap_up_kb': heap_up,
            'rss_idle_per_port_kb': (sum(rss_idle) - rss0 * len(groups)) / nports,
            'rss_up_per_port_kb': (sum(rss_up) - rss0 * len(groups)) / nports,
            'heap_idle_per_port_kb': (sum(heap_idle) - heap0 * len(groups)) / nports,
            'heap_up_per_port_kb': (sum(heap_up) - heap0 * len(groups)) / nports,
        }
    finally:
        for be, peer, _, d in procs:
            if peer:
                env.stop(peer)
        for be, peer, _, d in procs:
            env.stop(be)
            env.cleanup_dir(d)


# The back-end's log line for a device whose handshake is done (its socket is
# vhostN.sock for port N): net_vhu's "device N ready", net_vhost's "virtio is
# now ready for processing".
READY_LINE = re.compile(r'/vhost(\d+)\.sock\) (?:device \d+ ready|virtio is now ready for processing)')


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def run_ctrl(env, backends, port_counts, reps):
    out = []
    for n in port_counts:
        entry = {'ports': n, 'runs': {b: [] for b in backends}, 'errors': {}}
        for rep in range(reps):
            for b in backends:
                if b in entry['errors']:
                    continue
                label = 'control plane, %d port(s) [%s %d/%d]' % (n, b, rep + 1, reps)
                try:
                    r = ctrl_plane(env, b.split('#')[0], n)
                except Fail as e:
                    entry['errors'][b] = str(e)
                    log('%-40s FAILED: %s' % (label, e))
                    continue
                entry['runs'][b].append(r)
                log('%-40s link up %s ms/port (all %s ms); per port: RSS %.0f kB idle, %.0f kB up;'
                    ' DPDK heap %.0f kB idle, %.0f kB up'
                    % (label, fmt(r['link_up_ms_median'], '%.1f'),
                       fmt(r['link_up_ms_all'], '%.1f'),
                       r['rss_idle_per_port_kb'], r['rss_up_per_port_kb'],
                       r['heap_idle_per_port_kb'], r['heap_up_per_port_kb']))
        entry['summary'] = {}
        for b in backends:
            rs = entry['runs'][b]
            if rs:
                entry['summary'][b] = {k: median_or_none([r[k] for r in rs]) for k in (
                    'link_up_ms_first', 'link_up_ms_median', 'link_up_ms_max', 'link_up_ms_all',
                    'ready_ms_median', 'rss_idle_per_port_kb', 'rss_up_per_port_kb',
                    'heap_idle_per_port_kb', 'heap_up_per_port_kb')}
                notes = [r['note'] for r in rs if r.get('note')]
                if notes:
                    entry['errors'].setdefault(b, notes[0])
                entry['summary'][b]['processes'] = rs[0]['processes']
        out.append(entry)
    return out


# ---------------------------------------------------------------------------
# Empty polls: the perf suite's perf_idle_poll case (app/test/test_perf_idle.c)

IDLE_LINE = re.compile(r'idle-poll (\S+)\s+(\S+)\s+(\S+)\s*: vhu\s+([\d.]+)\s+vhost\s+([\d.]+|-)')
IDLE_CASE = 'perf_idle_poll'


def run_idle_once(env, rep):
    """One run of the case; returns {'figures': [...], 'status': ..., 'log': path}."""
    exe = os.path.join(env.build, 'app', 'test', 'vhu-test')
    log_path = os.path.join(env.log_dir, 'idle-%d.log' % rep)
    if not os.access(exe, os.X_OK):
        raise Fail('%s is not built (ninja -C %s)' % (exe, env.build))
    cmd = [exe, '--suite', 'perf', '--filter', IDLE_CASE]
    if env.verbose:
        log('  $ ' + ' '.join(cmd))
    with open(log_path, 'w') as f:
        f.write('# ' + ' '.join(cmd) + '\n')
        f.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=f, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            raise Fail('%s did not finish in 300 s; log: %s' % (IDLE_CASE, log_path))
        f.write(out)
    status = next((w for w in ('PASS', 'SKIP', 'FAIL')
                   if re.search(r'^%s perf/%s\b' % (w, IDLE_CASE), out, re.M)), None)
    if status is None or status == 'FAIL':
        raise Fail('%s: %s (exit %d); log: %s'
                   % (IDLE_CASE, status or 'did not run', proc.returncode, log_path))
    figs = []
    for m in IDLE_LINE.finditer(out):
        vhost = None if m.group(5) == '-' else float(m.group(5))
        figs.append({'layout': m.group(1), 'state': m.group(2), 'op': m.group(3),
                     'vhu': float(m.group(4)), 'vhost': vhost})
    if not figs:
        raise Fail('%s printed no figure; log: %s' % (IDLE_CASE, log_path))
    skip = re.search(r'net_vhost skipped: (.*)', out)
    return {'figures': figs, 'status': status, 'log': log_path,
            'vhost_skipped': skip.group(1) if skip else None}


def run_idle(env, reps):
    """Cycles per empty rx/tx call, net_vhu and net_vhost in one process, reps runs."""
    entry = {'case': 'app/test/test_perf_idle.c:' + IDLE_CASE, 'runs': [], 'summary': [],
             'error': None}
    for rep in range(reps):
        label = 'idle polls [%d/%d]' % (rep + 1, reps)
        try:
            r = run_idle_once(env, rep)
        except Fail as e:
            entry['error'] = str(e)
            log('%-40s FAILED: %s' % (label, e))
            break
        entry['runs'].append(r)
        log('%-40s %s' % (label, ', '.join(
            '%s %s %s %.0f:%s' % (f['layout'], f['state'], f['op'], f['vhu'],
                                  fmt(f['vhost'], '%.0f')) for f in r['figures'])))
    keys = []
    for r in entry['runs']:
        for f in r['figures']:
            k = (f['layout'], f['state'], f['op'])
            if k not in keys:
                keys.append(k)
    for k in keys:
        fs = [f for r in entry['runs'] for f in r['figures']
              if (f['layout'], f['state'], f['op']) == k]
        ratios = [f['vhu'] / f['vhost'] for f in fs if f['vhost']]
        entry['summary'].append({
            'layout': k[0], 'state': k[1], 'op': k[2], 'runs': len(fs),
            'vhu': statistics.median(f['vhu'] for f in fs),
            'vhost': median_or_none([f['vhost'] for f in fs]),
            'paired_ratio': statistics.median(ratios) if ratios else None})
    skipped = [r['vhost_skipped'] for r in entry['runs'] if r['vhost_skipped']]
    entry['vhost_skipped'] = skipped[0] if skipped else None
    return entry


def print_idle_table(idle):
    print()
    cols = ['idle poll', 'cyc/call vhu', 'cyc/call vhost', 'vhu/vhost']
    rows = [['%s %s %s' % (e['layout'], e['state'], e['op']), fmt(e['vhu'], '%.1f'),
             fmt(e['vhost'], '%.1f'), fmt(e['paired_ratio'], '%.2f')] for e in idle['summary']]
    widths = [max(len(r[i]) for r in rows + [cols]) for i in range(len(cols))]
    line = '  '.join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                     for i, c in enumerate(cols))
    print(line)
    print('-' * len(line))
    for r in rows:
        print('  '.join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                        for i, c in enumerate(r)))
    print('idle poll: cycles per rte_eth_rx_burst (rx, empty ring) or rte_eth_tx_burst of one '
          'frame that cannot go (tx1: guest ring full, or no front-end), both drivers in one '
          'process, their batches alternating; median over the runs; vhu/vhost: median of '
          'the runs\' ratios (below 1: net_vhu is cheaper)')
    if idle.get('vhost_skipped'):
        print('note: idle poll: net_vhost skipped: %s' % idle['vhost_skipped'])
    if idle.get('error'):
        print('note: idle poll FAILED: %s' % idle['error'])


# ---------------------------------------------------------------------------
# Output

def fmt(v, f='%.3f'):
    return '-' if v is None else f % v


def print_traffic_table(results, backends):
    a = backends[0]
    b = backends[1] if len(backends) > 1 else None
    cols = ['scenario', 'Mpps ' + a]
    if b:
        cols += ['Mpps ' + b, 'ratio', 'paired', 'spread ' + a, 'spread ' + b, 'cyc/pkt ' + a,
                 'cyc/pkt ' + b, 'guest cyc/pkt ' + a, 'guest cyc/pkt ' + b]
    else:
        cols += ['spread ' + a, 'cyc/pkt ' + a, 'guest cyc/pkt ' + a]
    rows = []
    notes = []
    for e in results:
        sa = e['summary'].get(a)
        sb = e['summary'].get(b) if b else None
        row = [e['scenario'], fmt(sa and sa['median_mpps'])]
        if b:
            ratio = (sa['median_mpps'] / sb['median_mpps']
                     if sa and sb and sb['median_mpps'] else None)
            row += [fmt(sb and sb['median_mpps']), fmt(ratio, '%.2f'),
                    fmt(e.get('paired_ratio'), '%.2f'), fmt(sa and sa['spread_pct'], '%.1f%%'),
                    fmt(sb and sb['spread_pct'], '%.1f%%'),
                    cyc(sa), cyc(sb), guest_cyc(sa), guest_cyc(sb)]
        else:
            row += [fmt(sa and sa['spread_pct'], '%.1f%%'), cyc(sa), guest_cyc(sa)]
        rows.append(row)
        for be, why in sorted(e['skipped'].items()):
            notes.append('%s: %s skipped: %s' % (e['scenario'], be, why))
        for be, why in sorted(e['errors'].items()):
            notes.append('%s: %s FAILED: %s' % (e['scenario'], be, why))
        for be, why in sorted(e.get('warnings', {}).items()):
            notes.append('%s: %s counters disagree: %s' % (e['scenario'], be, why))
    widths = [max(len(str(r[i])) for r in rows + [cols]) for i in range(len(cols))]
    line = '  '.join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                     for i, c in enumerate(cols))
    print(line)
    print('-' * len(line))
    for r in rows:
        print('  '.join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                        for i, c in enumerate(r)))
    for n in notes:
        print('note: ' + n)


def cyc(s):
    if not s:
        return '-'
    if s.get('perf_cycles_per_pkt'):
        return '%.0f' % s['perf_cycles_per_pkt']
    return fmt(s.get('busy_cycles_per_pkt'), '%.0f')


def guest_cyc(s):
    return fmt(s and s.get('guest_busy_cycles_per_pkt'), '%.0f')


def print_ctrl_table(results, backends):
    print()
    cols = ['ports', 'back-end', 'connect->ready ms/port', 'connect->link-up ms/port',
            'all links up ms',
            'RSS/port idle kB', 'RSS/port up kB', 'heap/port idle kB', 'heap/port up kB',
            'processes']
    rows = []
    notes = []
    for e in results:
        for b in backends:
            s = e['summary'].get(b)
            if s:
                rows.append([str(e['ports']), b, fmt(s.get('ready_ms_median'), '%.1f'),
                             fmt(s['link_up_ms_median'], '%.1f'),
                             fmt(s['link_up_ms_all'], '%.1f'),
                             fmt(s['rss_idle_per_port_kb'], '%.0f'),
                             fmt(s['rss_up_per_port_kb'], '%.0f'),
                             fmt(s['heap_idle_per_port_kb'], '%.0f'),
                             fmt(s['heap_up_per_port_kb'], '%.0f'), str(s['processes'])])
            if b in e['errors']:
                notes.append('%d ports: %s FAILED: %s' % (e['ports'], b, e['errors'][b]))
    widths = [max(len(r[i]) for r in rows + [cols]) for i in range(len(cols))]
    line = '  '.join(c.rjust(widths[i]) for i, c in enumerate(cols))
    print(line)
    print('-' * len(line))
    for r in rows:
        print('  '.join(c.rjust(widths[i]) for i, c in enumerate(r)))
    for n in notes:
        print('note: ' + n)


# ---------------------------------------------------------------------------
# run.sh's job: one net_vhu port, traffic both ways, packets and Mpps

def run_demo(env, backend, seconds):
    try:
        r = run_traffic(env, backend, 'loopback/split/64', 1.0, seconds)
    except (Fail, Skip) as e:
        print('error: %s' % e, file=sys.stderr)
        return 1
    be, peer = r['stats']['backend'], r['stats']['peer']
    print('%s <-> virtio-user, io forwarding, 64-byte frames, %.1f s window:' % (backend, seconds))
    g2h, h2g = r['legs']['g2h'], r['legs']['h2g']
    print('  guest->host: %12d packets  %7.3f Mpps  (virtio-user sent %d, %s received %d)'
          % (g2h['packets'], g2h['pps'] / 1e6, peer['tx_d'], backend, be['rx_d']))
    print('  host->guest: %12d packets  %7.3f Mpps  (%s sent %d, virtio-user received %d)'
          % (h2g['packets'], h2g['pps'] / 1e6, backend, be['tx_d'], peer['rx_d']))
    if g2h['packets'] == 0 or h2g['packets'] == 0:
        print('error: no packets flowed in at least one direction; logs: %s'
              % ' '.join(r['logs']), file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description='net_vhu against DPDK net_vhost, same virtio-user peer, as a ratio.',
        epilog='See doc/guides/testing/benchmark.rst.')
    p.add_argument('--build-dir', default=os.path.join(REPO, 'build'),
                   help='meson build directory holding drivers/net/vhu/%s (default: %%(default)s)'
                   % PLUGIN_NAME)
    p.add_argument('--backends', default=None,
                   help='A,B: back-ends to compare (vhu, vhost, or vhu=DIR: net_vhu as built in '
                   'the build directory DIR, e.g. a worktree of another commit, to A/B a '
                   'change); "vhost,vhost" checks the harness (ratio should be ~1.0); one name '
                   'runs it alone (default: vhu,vhost; vhu with --run)')
    p.add_argument('--scenarios', default='*',
                   help='comma-separated glob patterns over direction/variant/size, '
                   'e.g. "loopback/*/64,g2h/split/*" (default: all); see --list')
    p.add_argument('--list', action='store_true', help='list scenarios and exit')
    p.add_argument('--reps', type=int, default=3, help='runs per back-end per scenario '
                   '(alternating; default %(default)s)')
    p.add_argument('--warmup', type=float, default=2.0, help='seconds before measuring')
    p.add_argument('--window', type=float, default=5.0, help='seconds measured')
    p.add_argument('--quick', action='store_true',
                   help='smoke mode: 1 run per back-end, 1 s warm-up, 2 s window, '
                   'no control-plane figures unless --ctrl')
    p.add_argument('--ctrl', action='store_true', help='also measure the control plane '
                   '(default in full mode)')
    p.add_argument('--no-ctrl', action='store_true', help='skip the control-plane figures')
    p.add_argument('--ctrl-only', action='store_true', help='only the control-plane figures')
    p.add_argument('--idle', action='store_true', help='also measure cycles per empty poll '
                   '(default in full mode; needs net_vhu among --backends)')
    p.add_argument('--no-idle', action='store_true', help='skip the empty-poll figures')
    p.add_argument('--idle-only', action='store_true', help='only the empty-poll figures')
    p.add_argument('--ports', default='1,64', help='port counts for the control-plane '
                   'figures (default: %(default)s)')
    p.add_argument('--run', action='store_true',
                   help='run.sh mode: one back-end port (--backends, default vhu) with a '
                   'virtio-user peer, loopback for --seconds, print packets and Mpps per '
                   'direction, exit 1 if none flowed')
    p.add_argument('--seconds', type=float, default=5.0, help='window for --run')
    p.add_argument('--cpus', default='0,1', help='C0,C1: the peer and both main lcores on C0, '
                   'the back-end\'s forwarding lcore on C1 (default: %(default)s)')
    p.add_argument('--queue-size', type=int, default=1024, help='virtio ring size')
    p.add_argument('--mem', type=int, default=256, help='MB of memory per process (-m)')
    p.add_argument('--mbufs', type=int, default=16384, help='--total-num-mbufs per process')
    p.add_argument('--tx-first', type=int, default=32,
                   help='bursts the peer sends first in loopback (default %(default)s)')
    p.add_argument('--no-huge', action='store_true', help='never use hugepages')
    p.add_argument('--no-perf', action='store_true', help='do not try perf stat')
    p.add_argument('--profile', metavar='DIR',
                   help='also sample both testpmds (back-end and guest) during each measured '
                        'window with perf record -e cpu-clock -g into DIR (software clock: '
                        'works without hardware counters)')
    p.add_argument('--testpmd', default='dpdk-testpmd')
    p.add_argument('--peer-testpmd', metavar='PATH',
                   help='the virtio-user peer\'s testpmd (default: --testpmd), e.g. one '
                        'built from the same DPDK release with symbols, to attribute '
                        'the guest\'s profile')
    p.add_argument('--json', help='where to write results (default: <build>/bench/results.json)')
    p.add_argument('-v', '--verbose', action='store_true', help='print every command line')
    a = p.parse_args(argv)
    if a.quick:
        if a.reps == p.get_default('reps'):
            a.reps = 1
        if a.warmup == p.get_default('warmup'):
            a.warmup = 1.0
        if a.window == p.get_default('window'):
            a.window = 2.0
    if a.reps < 1 or a.warmup < 0 or a.window <= 0:
        p.error('--reps >= 1, --warmup >= 0, --window > 0')
    return a


def file_part(name):
    """name fit for a file name (a vhu=DIR back-end carries a path)."""
    return re.sub(r'[^A-Za-z0-9_.#=+-]', '_', name)


def plugin_dir_in(build_dir):
    """Where a meson build directory keeps the net_vhu plugin."""
    return os.path.join(os.path.abspath(build_dir), 'drivers', 'net', 'vhu')


def is_vhu(backend):
    """net_vhu: this build's (vhu) or another build directory's (vhu=DIR)."""
    return backend is not None and (backend == 'vhu' or backend.startswith('vhu='))


def main(argv):
    args = parse_args(argv)
    if args.list:
        for sc in scenario_list():
            d, v, s = parse_scenario(sc)
            print('%-28s %s; %s; %d-byte frames' % (sc, DIRECTIONS[d]['what'],
                                                    VARIANTS[v]['what'], s))
        return 0
    spec = args.backends or ('vhu' if args.run else 'vhu,vhost')
    backends = [b.strip() for b in spec.split(',') if b.strip()]
    for b in backends:
        if not (is_vhu(b) or b == 'vhost'):
            raise SystemExit('error: unknown back-end %r (vhu, vhu=BUILD_DIR or vhost)' % b)
        if b.startswith('vhu=') and not os.path.isfile(
                os.path.join(plugin_dir_in(b[4:]), PLUGIN_NAME)):
            raise SystemExit('error: %s: no drivers/net/vhu/%s there' % (b, PLUGIN_NAME))
    if len(backends) > 2:
        raise SystemExit('error: at most two back-ends')
    if len(backends) == 2 and backends[0] == backends[1]:
        # same back-end twice: keep the runs apart under distinct labels
        backends = [backends[0] + '#A', backends[1] + '#B']
    env = Env(args)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if any(b.startswith('vhu') for b in backends):
            env.check_vhu()
        if args.run:
            return run_demo(env, backends[0].split('#')[0], args.seconds)
        return bench(env, args, backends)
    except KeyboardInterrupt:
        log('interrupted: cleaning up')
        return 130
    finally:
        env.cleanup_all()


def bench(env, args, backends):
    pats = [s.strip() for s in args.scenarios.split(',') if s.strip()]
    scenarios = [s for s in scenario_list() if any(fnmatch.fnmatch(s, p) for p in pats)]
    only = args.ctrl_only or args.idle_only
    if not scenarios and not only:
        raise SystemExit('error: no scenario matches %r (see --list)' % args.scenarios)
    do_ctrl = args.ctrl_only or (not args.idle_only and not args.no_ctrl
                                 and (args.ctrl or not args.quick))
    do_idle = args.idle_only or (not args.ctrl_only and not args.no_idle
                                 and (args.idle or not args.quick))
    if do_idle and not any(b.startswith('vhu') for b in backends):
        log('idle polls: skipped (they measure net_vhu against net_vhost; net_vhu is not '
            'among the back-ends)')
        do_idle = False
    ports = [int(x) for x in args.ports.split(',') if x.strip()]
    log('back-ends %s; peer and main lcores on CPU %d, back-end forwarding lcore on CPU %d; '
        'memory: %s; cycles: %s'
        % (' vs '.join(backends), env.cpus[0], env.cpus[1],
           'hugepages' if env.huge else '--no-huge', 'perf stat + testpmd busy cycles'
           if env.perf else 'testpmd busy cycles (perf stat -e cycles unavailable)'))
    if any(b.startswith('vhu') for b in backends):
        log('net_vhu feature switches (given =1 when a scenario needs the feature): %s'
            % (','.join(env.vhu_feature_args().values()) or 'none'))
    started = time.time()
    traffic = [] if only else run_scenarios(env, backends, scenarios, args.reps, args.warmup,
                                            args.window)
    ctrl = run_ctrl(env, backends, ports, 1 if args.quick else args.reps) if do_ctrl else []
    idle = run_idle(env, 1 if args.quick else args.reps) if do_idle else None
    out = {
        'tool': 'devtools/bench.py', 'started': time.strftime('%Y-%m-%dT%H:%M:%S',
                                                             time.localtime(started)),
        'duration_s': time.time() - started, 'backends': backends,
        'config': {'reps': args.reps, 'warmup_s': args.warmup, 'window_s': args.window,
                   'cpus': env.cpus, 'hugepages': env.huge, 'queue_size': env.queue_size,
                   'mbufs': env.mbufs, 'tx_first_bursts': env.tx_first,
                   'perf': bool(env.perf), 'quick': args.quick,
                   'load_avg': os.getloadavg(), 'nproc': os.cpu_count()},
        'traffic': traffic, 'control_plane': ctrl, 'idle_poll': idle,
    }
    path = args.json or os.path.join(env.out_dir, 'results.json')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(out, f, indent=1, default=str)
    print()
    if traffic:
        print_traffic_table(traffic, backends)
        if len(backends) > 1:
            print('ratio: of the medians; paired: median of the ratios of the runs made one '
                  'after the other (rep i of each back-end)')
        print('cyc/pkt: %s' % ('perf stat cycles on the back-end forwarding CPU per packet'
                               if env.perf else
                               'testpmd --record-core-cycles: busy TSC cycles per packet of '
                               'the back-end forwarding loop'))
        print('guest cyc/pkt: testpmd --record-core-cycles of the virtio-user peer (the '
              'guest): busy TSC cycles per packet of its forwarding loop, the cost the '
              'back-end leaves to the customer\'s CPU')
        loads = [r['load1'] for e in traffic for rs in e['runs'].values() for r in rs]
        if loads:
            print('load average (1 min) at the end of the runs: %.1f to %.1f; the two busy '
                  'forwarding lcores account for about 2 of it%s'
                  % (min(loads), max(loads), '' if max(loads) < 3 else
                     ': the machine was busy, figures are noisy'))
    if ctrl:
        print_ctrl_table(ctrl, backends)
    if idle:
        print_idle_table(idle)
    print('\nJSON: %s   logs: %s' % (path, env.log_dir))
    failed = (any(e['errors'] for e in traffic) or any(e['errors'] for e in ctrl)
              or bool(idle and idle['error']))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
