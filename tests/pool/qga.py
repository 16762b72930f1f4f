#!/usr/bin/env python3
"""Runs a shell command in a test guest through its qemu-guest-agent socket
(DIR/vms/<uuid>/qga.sock; xapid connects to it now and then: we wait our
turn) and prints its output. usage: qga.py SOCKET 'shell command'"""
import base64, json, socket, sys, time


def call(f, s, cmd, args=None):
    req = {"execute": cmd}
    if args is not None:
        req["arguments"] = args
    s.sendall(json.dumps(req).encode() + b"\n")
    while True:
        line = f.readline()
        if not line:
            raise EOFError("agent closed")
        r = json.loads(line)
        if "return" in r or "error" in r:
            return r


def main():
    path, cmd = sys.argv[1], sys.argv[2]
    deadline = time.time() + 300
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(60)
            s.connect(path)
            f = s.makefile("rb")
            tag = int(time.time() * 1000) % 1000000
            while True:  # resynchronise: skip stale answers
                r = call(f, s, "guest-sync", {"id": tag})
                if r.get("return") == tag:
                    break
            pid = call(f, s, "guest-exec", {"path": "/bin/sh", "arg": ["-c", cmd],
                                            "capture-output": True})["return"]["pid"]
            while True:
                st = call(f, s, "guest-exec-status", {"pid": pid})["return"]
                if st.get("exited"):
                    break
                time.sleep(0.1)
            sys.stdout.write(base64.b64decode(st.get("out-data", "")).decode(errors="replace"))
            return st.get("exitcode", 1)
        except (OSError, EOFError, ValueError, KeyError):
            if time.time() > deadline:
                raise
            time.sleep(0.5)


sys.exit(main())
