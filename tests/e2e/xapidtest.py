"""Helpers for Python end-to-end tests: a private xapid and TAP output."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XAPID = os.environ.get("XAPID", os.path.join(TOP, "build/asan/xapid"))
XE = os.environ.get("XE", os.path.join(TOP, "build/asan/xe"))
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Xapid:
    """A xapid with its own state dir, port and password."""

    def __init__(self, name="h1", tmp=None, args=()):
        self.args = list(args)
        self.tmp = tmp or tempfile.mkdtemp(prefix="xapid-py.")
        self.own_tmp = tmp is None
        self.name = name
        self.state = os.path.join(self.tmp, name)
        os.makedirs(self.state, exist_ok=True)
        self.password = "pw-%d" % os.getpid()
        self.pwfile = os.path.join(self.tmp, name + ".pw")
        with open(self.pwfile, "w") as f:
            f.write(self.password + "\n")
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def sock(self):
        return os.path.join(self.state, "xapi.sock")

    def start(self):
        self.log = open(os.path.join(self.tmp, self.name + ".out"), "a")
        self.proc = subprocess.Popen(
            [XAPID, "--state-dir", self.state, "--listen", "127.0.0.1:%d" % self.port,
             "--no-tls", "--password-file", self.pwfile, "--host-name", self.name] + self.args,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("xapid exited with %s" % self.proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("xapid did not start")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def output(self):
        try:
            return open(os.path.join(self.tmp, self.name + ".out")).read()
        except OSError:
            return ""


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            for line in str(diag).splitlines():
                print("# " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "want: %r\ngot:  %r" % (want, got))

    def done(self):
        print("1..%d" % self.n)
        return 0 if self.failed == 0 else 1
