#!/usr/bin/env python3
"""Talk to a QEMU QMP socket or a qemu-guest-agent socket, wait on a serial log.
Python stdlib only. Used by tools/boot-guest-check.sh; handy by hand too.

  qmp_probe.py qmp SOCK CMD [ARGS_JSON] [--wait-event EV]
        qmp_capabilities, then CMD; prints its "return" as JSON. With
        --wait-event, then waits for event EV (e.g. SHUTDOWN) and prints it.
  qmp_probe.py qga SOCK CMD [ARGS_JSON] [--no-reply]
        Resynchronises with the agent (0xFF + guest-sync-delimited, stale replies
        skipped), then CMD; prints its "return". --no-reply for guest-shutdown
        and the like, which answer nothing on success.
  qmp_probe.py qga-wait SOCK
        Retries guest-sync until the agent answers (or --timeout).
  qmp_probe.py qga-exec SOCK SHELL_COMMAND
        guest-exec /bin/sh -c SHELL_COMMAND with output captured; prints its
        stdout (stderr to stderr) and exits with its exit code.
  qmp_probe.py qga-ip SOCK ADDR
        Polls guest-network-get-interfaces until an interface has ADDR; prints
        "IFACE ADDR/PREFIX".
  qmp_probe.py wait-log LOG REGEX
        Waits until a line of the (growing) file LOG matches REGEX; prints it.
Common options: --timeout SECONDS (default 30); --t0 EPOCH: also print
"elapsed=S" (seconds since EPOCH, e.g. the moment qemu was launched) on stderr.
Exit status: 0 done, 1 error reply / command failed, 2 timeout, 3 usage/connect error.
"""
import base64
import json
import os
import random
import re
import socket
import sys
import time


class Timeout(Exception):
    pass


class Chan:
    """A line-oriented JSON channel over a unix stream socket with a deadline."""

    def __init__(self, path, deadline):
        self.deadline = deadline
        self.buf = b""
        self.s = None
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                self.s = s
                return
            except OSError:
                s.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def send(self, obj, prefix=b""):
        self.s.sendall(prefix + json.dumps(obj).encode() + b"\n")

    def _fill(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.s.settimeout(left)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            raise Timeout()
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def skip_to_ff(self):
        """guest-sync-delimited: the agent sends 0xFF before its reply."""
        while b"\xff" not in self.buf:
            self.buf = b""
            self._fill()
        self.buf = self.buf[self.buf.index(b"\xff") + 1:]

    def recv(self):
        while b"\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.strip().lstrip(b"\xff")
        if not line:
            return self.recv()
        try:
            return json.loads(line)
        except ValueError:
            return {"_garbage": line.decode(errors="replace")}

    def close(self):
        if self.s:
            self.s.close()


def qmp_open(path, deadline):
    c = Chan(path, deadline)
    greet = c.recv()
    if "QMP" not in greet:
        raise RuntimeError(f"not a QMP greeting: {greet}")
    c.send({"execute": "qmp_capabilities"})
    qmp_reply(c)
    return c


def qmp_reply(c, events=None):
    while True:
        m = c.recv()
        if "event" in m:
            if events is not None:
                events.append(m)
            continue
        if "error" in m:
            raise RuntimeError(json.dumps(m["error"]))
        if "return" in m:
            return m["return"]


def qga_sync(c, attempt=None):
    """Resynchronise: 0xFF resets the agent's JSON parser, guest-sync-delimited
    makes it send 0xFF before its reply; replies to anything older are skipped.
    With attempt=S, the sync is sent again every S seconds on the same
    connection (the agent may not be running yet: QEMU keeps the bytes until
    the guest opens its port) and any of our ids is accepted."""
    ids = set()
    deadline = c.deadline
    while True:
        sid = random.randint(1, 2**31 - 1)
        ids.add(sid)
        c.send({"execute": "guest-sync-delimited", "arguments": {"id": sid}},
               prefix=b"" if len(ids) > 1 else b"\xff")
        c.deadline = min(deadline, time.monotonic() + attempt) if attempt else deadline
        try:
            while True:
                c.skip_to_ff()
                m = c.recv()
                if m.get("return") in ids:
                    ids.discard(m["return"])
                    c.pending = ids     # replies to the other syncs may still come
                    c.deadline = deadline
                    return
        except Timeout:
            c.deadline = deadline
            if not attempt or time.monotonic() >= deadline:
                raise


def qga_cmd(c, cmd, args=None):
    msg = {"execute": cmd}
    if args:
        msg["arguments"] = args
    c.send(msg)
    while True:
        m = c.recv()
        if isinstance(m.get("return"), int) and m["return"] in getattr(c, "pending", ()):
            c.pending.discard(m["return"])      # a late reply to a resent sync
            continue
        if "JSON parse error, stray" in str(m.get("error", {}).get("desc", "")):
            continue                            # the agent's answer to our 0xFF
        break
    if "error" in m:
        raise RuntimeError(json.dumps(m["error"]))
    return m.get("return")


def qga_open(path, deadline, attempt=2.0):
    c = Chan(path, deadline)
    qga_sync(c, attempt)
    return c


def main(argv):
    opts = {"timeout": 30.0, "t0": None, "wait-event": None, "no-reply": False}
    pos = []
    it = iter(argv[1:])
    for a in it:
        if a in ("--timeout", "--t0", "--wait-event"):
            opts[a[2:]] = next(it)
        elif a == "--no-reply":
            opts["no-reply"] = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            pos.append(a)
    if len(pos) < 2:
        print(__doc__, file=sys.stderr)
        return 3
    deadline = time.monotonic() + float(opts["timeout"])
    mode, target = pos[0], pos[1]
    rest = pos[2:]

    def done(out=None):
        if out is not None:
            print(out if isinstance(out, str) else json.dumps(out))
        if opts["t0"]:
            print(f"elapsed={time.time() - float(opts['t0']):.2f}", file=sys.stderr)
        return 0

    try:
        if mode == "qmp":
            c = qmp_open(target, deadline)
            events = []
            c.send({"execute": rest[0], **({"arguments": json.loads(rest[1])} if len(rest) > 1 else {})})
            ret = qmp_reply(c, events)
            print(json.dumps(ret))
            if opts["wait-event"]:
                while not any(e["event"] == opts["wait-event"] for e in events):
                    m = c.recv()
                    if "event" in m:
                        events.append(m)
                return done([e for e in events if e["event"] == opts["wait-event"]][0])
            return done()
        if mode == "qga":
            c = qga_open(target, deadline)
            args = json.loads(rest[1]) if len(rest) > 1 else None
            if opts["no-reply"]:
                c.send({"execute": rest[0], **({"arguments": args} if args else {})})
                return done()
            return done(qga_cmd(c, rest[0], args))
        if mode == "qga-wait":
            c = qga_open(target, deadline)
            return done(qga_cmd(c, "guest-ping") or {})
        if mode == "qga-exec":
            c = qga_open(target, deadline)
            r = qga_cmd(c, "guest-exec", {"path": "/bin/sh", "arg": ["-c", rest[0]],
                                          "capture-output": True})
            while True:
                st = qga_cmd(c, "guest-exec-status", {"pid": r["pid"]})
                if st.get("exited"):
                    break
                if time.monotonic() >= deadline:
                    raise Timeout()
                time.sleep(0.1)
            sys.stdout.write(base64.b64decode(st.get("out-data", "")).decode(errors="replace"))
            sys.stderr.write(base64.b64decode(st.get("err-data", "")).decode(errors="replace"))
            done()
            return st.get("exitcode", 1) if "exitcode" in st else 1
        if mode == "qga-ip":
            c = qga_open(target, deadline)
            while True:
                for i in qga_cmd(c, "guest-network-get-interfaces") or []:
                    for a in i.get("ip-addresses", []):
                        if a.get("ip-address") == rest[0]:
                            return done(f"{i['name']} {a['ip-address']}/{a.get('prefix')}")
                if time.monotonic() >= deadline:
                    raise Timeout()
                time.sleep(0.2)
        if mode == "wait-log":
            rx = re.compile(rest[0])
            off, part = 0, b""
            while True:
                try:
                    with open(target, "rb") as f:
                        f.seek(off)
                        d = f.read()
                except FileNotFoundError:
                    d = b""
                off += len(d)
                part += d
                lines = part.split(b"\n")
                part = lines.pop()
                for l in lines:
                    s = l.decode(errors="replace").rstrip("\r")
                    if rx.search(s):
                        return done(s)
                if time.monotonic() >= deadline:
                    raise Timeout()
                time.sleep(0.05)
        print(f"unknown mode {mode}", file=sys.stderr)
        return 3
    except Timeout:
        print(f"timeout after {opts['timeout']} s ({mode} {target})", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (OSError, EOFError) as e:
        print(f"{mode} {target}: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
