#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
"""A minimal QMP client for the QEMU test scripts (standard library only).

  qmp.py SOCKET COMMAND [ARGUMENTS-JSON]
      run one command; print its "return" as one line of JSON and exit 0,
      or print "error: CLASS: DESC" and exit 1.
  qmp.py SOCKET --wait-migration SECONDS [START-POSTCOPY-AFTER-MB]
      poll query-migrate every 50 ms until the migration completes, or
      fails or pauses (postcopy-paused: the destination went away); print
      the last answer as JSON; exit 0 when completed. With
      START-POSTCOPY-AFTER-MB, send migrate-start-postcopy once that much
      RAM has been transferred, and print "postcopy-started <unix time>" and
      "postcopy-active <unix time>" as it happens.

Every wait is bounded; a QEMU that does not answer within 10 s fails the call.
"""

import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self.read()  # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, args=None):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self.read()
            if "event" in msg:
                continue
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


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        q = Qmp(sys.argv[1])
        if sys.argv[2] == "--wait-migration":
            mb = float(sys.argv[4]) if len(sys.argv) > 4 else None
            return wait_migration(q, float(sys.argv[3]), mb)
        args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
        print(json.dumps(q.cmd(sys.argv[2], args)))
        return 0
    except (OSError, ValueError, ConnectionError, RuntimeError) as e:
        print("error: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
