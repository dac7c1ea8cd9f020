#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
"""The QMP client of the QEMU test scripts (standard library only).

    qmp.py SOCKET COMMAND [ARGUMENTS-JSON]
        run one command; print its "return" as one line of JSON and exit 0,
        or print "error: CLASS: DESC" and exit 1.

    qmp.py SOCKET --wait-migration SECONDS [START-POSTCOPY-AFTER-MB]
        poll query-migrate every 50 ms until the migration completes, or
        fails or pauses (postcopy-paused: the destination went away); print
        the last answer as JSON; exit 0 when completed. With
        START-POSTCOPY-AFTER-MB, send migrate-start-postcopy once that much
        RAM has been transferred, and print "postcopy-started <unix time>"
        and "postcopy-active <unix time>" as it happens.

    qmp.py SOCKET --session [TIMEOUT]
        a session held open (a coprocess of the script): reads requests
        from stdin, one JSON object per line, and answers each with exactly
        one line on stdout:

        {"execute": ...}             sent to QEMU; the answer is QEMU's
                                     reply ("return" or "error"), one line
        {"wait-event": NAME, "data": {K: V, ...}, "timeout": SECONDS}
                                     waits for an event NAME whose data
                                     holds those keys and values (events
                                     that came earlier count too); answers
                                     the event, or {"timeout": NAME}
        {"events": 1}                answers {"events": [every event so
                                     far]} and forgets them

        When QEMU goes away it prints {"closed": 1} for each request left
        and exits 1. Events are also appended, one per line, to
        $QMP_EVENT_LOG when it is set.

Every wait is bounded: a QEMU that does not answer within TIMEOUT (default
10 s for one command, 30 s in a session) fails the request.
"""

import json
import os
import socket
import sys
import time


class Qmp:
    def __init__(self, path, timeout):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        self.log = None
        if os.environ.get("QMP_EVENT_LOG"):
            self.log = open(os.environ["QMP_EVENT_LOG"], "a", buffering=1)
        greeting = self.read_msg(time.monotonic() + timeout)
        if greeting is None or "QMP" not in greeting:
            raise OSError("no QMP greeting")
        reply = self.execute({"execute": "qmp_capabilities"})
        if "return" not in reply:
            raise OSError("qmp_capabilities: %s" % reply)

    def read_msg(self, deadline):
        """One JSON message, or None at the deadline; raises on EOF."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                raise EOFError()
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.strip()
        if not line:
            return self.read_msg(deadline)
        msg = json.loads(line)
        if "event" in msg:
            self.events.append(msg)
            if self.log:
                self.log.write(json.dumps(msg) + "\n")
        return msg

    def execute(self, req):
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self.read_msg(deadline)
            if msg is None:
                return {"error": {"class": "Timeout", "desc": "no reply in %d s" % self.timeout}}
            if "return" in msg or "error" in msg:
                return msg

    def drain(self):
        """Read the events QEMU has sent so far (a short bounded read)."""
        while self.read_msg(time.monotonic() + 0.05) is not None:
            pass

    @staticmethod
    def matches(ev, name, data):
        if ev.get("event") != name:
            return False
        got = ev.get("data", {})
        return all(got.get(k) == v for k, v in data.items())

    def wait_event(self, name, data, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if self.matches(ev, name, data):
                    del self.events[i]
                    return ev
            msg = self.read_msg(deadline)
            if msg is None:
                return {"timeout": name}

    def cmd(self, name, args=None):
        """One command; its "return", or RuntimeError with QEMU's error."""
        req = {"execute": name}
        if args:
            req["arguments"] = args
        msg = self.execute(req)
        if "error" in msg:
            raise RuntimeError("%s: %s" % (msg["error"].get("class"), msg["error"].get("desc")))
        return msg.get("return")


def wait_migration(q, seconds, postcopy_mb):
    end = time.time() + seconds
    started = False
    active = False
    last = {}
    while time.time() < end:
        last = q.cmd("query-migrate") or {}
        status = last.get("status")
        if postcopy_mb is not None and not started and status == "active":
            if last.get("ram", {}).get("transferred", 0) >= postcopy_mb * (1 << 20):
                q.cmd("migrate-start-postcopy")
                started = True
                print("postcopy-started %.3f" % time.time(), flush=True)
        if status == "postcopy-active" and not active:
            active = True
            print("postcopy-active %.3f" % time.time(), flush=True)
        if status in ("completed", "failed", "cancelled", "postcopy-paused"):
            break
        time.sleep(0.05)
    print(json.dumps(last), flush=True)
    return 0 if last.get("status") == "completed" else 1


def session(q, timeout):
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            if "wait-event" in req:
                ans = q.wait_event(req["wait-event"], req.get("data", {}),
                                   float(req.get("timeout", timeout)))
            elif "events" in req:
                q.drain()
                ans = {"events": q.events}
                q.events = []
            else:
                ans = q.execute(req)
        except ValueError as e:
            ans = {"error": {"class": "BadRequest", "desc": str(e)}}
        except (OSError, EOFError):
            print(json.dumps({"closed": 1}), flush=True)
            for _ in sys.stdin:
                print(json.dumps({"closed": 1}), flush=True)
            return 1
        print(json.dumps(ans), flush=True)
    return 0


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if sys.argv[2] == "--session":
        timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
        try:
            q = Qmp(sys.argv[1], timeout)
        except (OSError, EOFError, ValueError) as e:
            print(json.dumps({"closed": 1, "why": str(e)}), flush=True)
            return 1
        return session(q, timeout)
    try:
        q = Qmp(sys.argv[1], 10.0)
        if sys.argv[2] == "--wait-migration":
            mb = float(sys.argv[4]) if len(sys.argv) > 4 else None
            return wait_migration(q, float(sys.argv[3]), mb)
        args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
        print(json.dumps(q.cmd(sys.argv[2], args)))
        return 0
    except (OSError, EOFError, ValueError, RuntimeError) as e:
        print("error: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
