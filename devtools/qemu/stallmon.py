#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
"""How long did a polling lcore sleep? (devtools/tests.d/qemu-migrate.sh)

  stallmon.py PID COMM-PREFIX STOP-FILE SECONDS WORKDIR

A DPDK lcore polls: it never sleeps, unless the kernel puts it to sleep in
a page fault, as userfaultfd does while a postcopy destination waits for a
page. For each thread of PID whose name starts with COMM-PREFIX, from now
until STOP-FILE exists (at most SECONDS), this measures its sleeps two ways:

 - the scheduler's own record (perf sched, when perf is installed): every
   time the thread went to sleep (switched out in state S or D: a task
   merely preempted is switched out runnable, R) and how long it slept, to
   the microsecond;
 - a sample of /proc about every millisecond: whether the thread sleeps and
   in which kernel function (handle_userfault for a userfaultfd wait).

and prints one line per thread:

  stall thread=NAME waits=N sleep_ms=X longest_ms=Y source=perf|sampling
        samples=S asleep_samples=A uffd_samples=U window_ms=W
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time


def threads(pid, prefix):
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith(prefix):
            out[int(tid)] = name
    return out


def state(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        s = f.read()
    return s[s.rindex(")") + 2]


def wchan(pid, tid):
    try:
        with open("/proc/%d/task/%d/wchan" % (pid, tid)) as f:
            return f.read().strip()
    except OSError:
        return ""


def perf_start(workdir):
    perf = shutil.which("perf")
    if perf is None:
        return None, None
    data = os.path.join(workdir, "stall.perf")
    p = subprocess.Popen([perf, "record", "-q", "-a", "-e", "sched:sched_switch",
                          "-e", "sched:sched_wakeup", "-o", data],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)   # let it start recording
    if p.poll() is not None:
        return None, None
    return p, data


def perf_sleeps(p, data, tids):
    """Per tid: the list of sleep durations (ms), from perf sched timehist."""
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    out = {t: [] for t in tids}
    try:
        txt = subprocess.run(["perf", "sched", "timehist", "--state", "-i", data],
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    # time cpu task[tid/pid] wait-time sch-delay run-time state: the state
    # the task left the CPU in; the next line of the task gives the time
    # until it ran again (wait-time, asleep; sch-delay, woken but waiting)
    pat = re.compile(r"^\s*[0-9.]+\s+\[\d+\]\s+\S+\[(\d+)(?:/\d+)?\]\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+(\S+)")
    slept = {t: False for t in tids}
    for line in txt.splitlines():
        m = pat.match(line)
        if not m or int(m.group(1)) not in out:
            continue
        t = int(m.group(1))
        if slept[t]:
            out[t].append(float(m.group(2)))
        slept[t] = m.group(5) in ("S", "D")
    return out


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    pid, prefix, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    seconds, workdir = float(sys.argv[4]), sys.argv[5]
    ts = threads(pid, prefix)
    if not ts:
        print("stall no thread of %d named %s*" % (pid, prefix))
        return 1
    perf, data = perf_start(workdir)
    t0 = time.monotonic()
    samples = {t: 0 for t in ts}
    asleep = {t: 0 for t in ts}
    uffd = {t: 0 for t in ts}
    run = {t: 0 for t in ts}
    longest = {t: 0 for t in ts}
    runs = {t: 0 for t in ts}
    while time.monotonic() - t0 < seconds and not os.path.exists(stop):
        for t in ts:
            try:
                st = state(pid, t)
            except OSError:
                continue
            samples[t] += 1
            if st in "SD":
                asleep[t] += 1
                if run[t] == 0:
                    runs[t] += 1
                run[t] += 1
                longest[t] = max(longest[t], run[t])
                if "userfault" in wchan(pid, t):
                    uffd[t] += 1
            else:
                run[t] = 0
        time.sleep(0.001)
    wall = (time.monotonic() - t0) * 1e3
    sleeps = perf_sleeps(perf, data, ts) if perf is not None else None
    for t, name in sorted(ts.items()):
        per = wall / max(1, samples[t])
        if sleeps is not None:
            s = sleeps[t]
            fig = "waits=%d sleep_ms=%.1f longest_ms=%.1f source=perf" % (
                len(s), sum(s), max(s) if s else 0.0)
        else:
            fig = "waits=%d sleep_ms=%.1f longest_ms=%.1f source=sampling" % (
                runs[t], asleep[t] * per, longest[t] * per)
        print("stall thread=%s %s samples=%d asleep_samples=%d uffd_samples=%d window_ms=%.0f"
              % (name, fig, samples[t], asleep[t], uffd[t], wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
