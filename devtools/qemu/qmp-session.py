#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
"""A minimal QMP client for the QEMU test scripts (standard library only).

    qmp-session.py SOCKET [TIMEOUT]

Connects to QEMU's QMP unix socket, negotiates capabilities, then reads
requests from stdin, one JSON object per line, and answers each with exactly
one line on stdout:

    {"execute": ...}               sent to QEMU; the answer is QEMU's reply
                                   ("return" or "error"), on one line
    {"wait-event": NAME, "data": {K: V, ...}, "timeout": SECONDS}
                                   waits for an event NAME whose data holds
                                   those keys and values (events that came
                                   earlier count too); answers the event, or
                                   {"timeout": NAME} after SECONDS
    {"events": 1}                  answers {"events": [every event so far]}
                                   (those QEMU has sent by now included)
                                   and forgets them

Every wait is bounded (TIMEOUT, default 30 s, for a reply). When QEMU goes
away the client prints {"closed": 1} for each request left and exits 1.
Events are also appended, one per line, to $QMP_EVENT_LOG when it is set.
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


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    try:
        q = Qmp(sys.argv[1], timeout)
    except (OSError, EOFError, ValueError) as e:
        print(json.dumps({"closed": 1, "why": str(e)}), flush=True)
        return 1
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


if __name__ == "__main__":
    sys.exit(main())
