"""Test harness: real casesync processes on 127.0.0.1, real LMDB files.

Env(tmp) gives a test its temporary directory and helpers to create nodes,
run verbs, start servers and fault-injecting proxies.  Every process and
proxy started here is stopped by cleanup(), which the runner calls after
each test, pass or fail.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get("CASESYNC_BIN", os.path.join(ROOT, "build", "casesync"))

_procs = []
_proxies = []
_mounts = []


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


def cleanup():
    for p in list(_proxies):
        p.stop()
    _proxies.clear()
    for p in list(_procs):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGCONT)
                p.kill()
            except OSError:
                pass
            p.wait()
    _procs.clear()
    for m in reversed(_mounts):
        subprocess.run(["umount", "-l", m], capture_output=True)
    _mounts.clear()


def skip(why):
    """Ends a test that cannot run here, saying so on its own line.  Use
    only when the condition truly cannot be created on this machine."""
    print("skip: " + why, flush=True)


# Ports handed out by free_port in this process: never handed out twice.
_ports = set()
_port_rng = random.SystemRandom()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A port on 127.0.0.1 that nothing is bound to, for a listener that
    binds it later (a node's serve, a proxy, the console).

    It is taken outside the kernel's ephemeral range and never handed
    out twice by this process.  A port from bind(("127.0.0.1", 0)) is
    free only until the kernel gives it to the next bind(0) or connect():
    chaos seed 2 in CI had the standby's port, reserved at the start and
    bound only on its promotion, handed by the kernel to a proxy created
    in between (khanh-hoa's proxy to the standby listened on the
    standby's own port), and the promoted central never listened."""
    lo, hi = _ephemeral_range()
    # Below the ephemeral range, above the well-known services; or above
    # it when the range starts too low to leave room.
    pools = [(max(10000, lo - 20000), lo - 1)] if lo > 12000 else []
    if hi < 64000:
        pools.append((hi + 1, 65535))
    assert pools, "no port range outside the ephemeral one"
    for _ in range(1000):
        a, b = _port_rng.choice(pools)
        port = _port_rng.randint(a, b)
        if port in _ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _ports.add(port)
        return port
    raise AssertionError("no free port found outside the ephemeral range")


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "rc=%d out=%r err=%r" % (self.rc, self.out[:400],
                                        self.err[:400])


# `serve` and `sync` replace a session process that died by a signal
# (node/supervise.c) and say so in a line holding REPLACED.  libzmq 4.3.4
# aborts such a process now and then (zeromq/libzmq#4841) with LIBZMQ_ABORT
# on stderr.  note_replaced() counts both in what a command printed; the
# chaos campaign reports the counts.
REPLACED = "process died of signal"
LIBZMQ_ABORT = "Assertion failed: !_io_error (src/stream_engine_base.cpp"
replaced = {"libzmq": 0, "other": 0}
_replaced_lock = threading.Lock()


def note_replaced(text):
    died = (text or "").count(REPLACED)
    if not died:
        return
    z = min(died, text.count(LIBZMQ_ABORT))
    with _replaced_lock:
        replaced["libzmq"] += z
        replaced["other"] += died - z


def run(args, stdin=None, env=None, timeout=120, wrap=None):
    """Runs casesync with args.  wrap is a command prefix (for example
    setpriv to run as another user)."""
    e = dict(os.environ)
    e.pop("CASESYNC_DIR", None)
    if env:
        e.update(env)
    p = subprocess.run(list(wrap or []) + [BIN] + list(args), input=stdin,
                       capture_output=True, text=True, env=e,
                       timeout=timeout)
    note_replaced(p.stderr)
    return Result(p.returncode, p.stdout, p.stderr)


class GroupPopen(subprocess.Popen):
    """A casesync process in a process group of its own, whose signals go
    to the whole group.  `serve` and `sync` run their sessions in a child
    process (node/supervise.c): a SIGSTOP must pause that child too, and
    a SIGKILL must reach it at the same instant, as systemd's stop of the
    service's cgroup does."""

    def __init__(self, *a, **kw):
        kw.setdefault("start_new_session", True)
        super().__init__(*a, **kw)

    def send_signal(self, sig):
        if self.poll() is not None:
            return
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


def popen(args, **kw):
    """Starts casesync with args in the background; cleanup() kills it."""
    p = GroupPopen([BIN] + list(args), **kw)
    _procs.append(p)
    return p


def ok(res, what=""):
    if res.rc != 0:
        raise AssertionError("%s failed: %r" % (what or "command", res))
    return res


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


class Node:
    def __init__(self, env, name, role, endpoint=None, dir=None):
        self.env = env
        self.name = name
        self.role = role
        self.dir = dir or os.path.join(env.tmp, name)
        self.proc = None
        self.port = None
        args = ["init", "-d", self.dir, "--node", name, "--role", role]
        if role == "central":
            self.port = free_port()
            args += ["--listen", "tcp://127.0.0.1:%d" % self.port]
        elif endpoint:
            args += ["--central", endpoint]
        ok(run(args), "init " + name)

    @property
    def endpoint(self):
        return "tcp://127.0.0.1:%d" % self.port

    def argv(self, *args):
        """The command line of a verb on this node (-d placed after the
        verb, or after `case SUBVERB`)."""
        return ([args[0]] + (list(args[1:2]) if args[0] == "case" else [])
                + ["-d", self.dir]
                + list(args[2:] if args[0] == "case" else args[1:]))

    def cli(self, *args, stdin=None, env=None, timeout=120, wrap=None):
        return run(self.argv(*args), stdin=stdin, env=env, timeout=timeout,
                   wrap=wrap)

    def popen(self, *args, **kw):
        """Starts a verb on this node in the background."""
        return popen(self.argv(*args), **kw)

    def export(self):
        return ok(self.cli("export"), "export").out

    def add(self, case):
        r = ok(self.cli("case", "add", "-", stdin=json.dumps(case)),
               "case add")
        return r.out.strip()

    def update(self, cid, fields):
        return ok(self.cli("case", "update", cid, "-",
                           stdin=json.dumps(fields)), "case update")

    def get(self, cid):
        r = self.cli("case", "get", cid)
        return json.loads(r.out) if r.rc == 0 else None

    def ids(self):
        r = ok(self.cli("case", "list", "--json"))
        return [c["id"] for c in json.loads(r.out)]

    def status(self):
        return ok(self.cli("status", "--json")).json()

    def verify(self):
        return self.cli("verify")

    def sync(self, timeout=30):
        return self.cli("sync", "--timeout", str(timeout), timeout=timeout + 30)

    def set_conf(self, key, value):
        path = os.path.join(self.dir, "casesync.conf")
        lines = [l for l in open(path).read().splitlines()
                 if not l.startswith(key + " ")]
        lines.append("%s = %s" % (key, value))
        open(path, "w").write("\n".join(lines) + "\n")

    def start(self, *extra):
        """Starts `casesync serve` and, for central, waits for the port."""
        log = open(os.path.join(self.env.tmp, self.name + ".log"), "a")
        self.proc = GroupPopen([BIN, "serve", "-d", self.dir,
                                      "--log-level", "info"] + list(extra),
                                     stdout=log, stderr=log)
        _procs.append(self.proc)
        if self.role == "central":
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port),
                                             0.2).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            raise AssertionError("central did not start listening")
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def files_contain(self, needle):
        """Does any file of this node's directory contain needle (bytes)?"""
        for f in os.listdir(self.dir):
            with open(os.path.join(self.dir, f), "rb") as fh:
                if needle in fh.read():
                    return True
        return False


class Proxy:
    """A TCP forwarder on 127.0.0.1 between a province and central that can
    cut connections at byte offsets, corrupt bytes and record traffic."""

    def __init__(self, target_port, seed=1):
        self.target = target_port
        self.port = free_port()
        self.rng = random.Random(seed)
        self.cut_after = None       # (lo, hi) bytes per connection
        self.flip_at = None         # (lo, hi): flip one byte per connection
        self.rate = None            # bytes per second per direction (slow
                                    # link), None = as fast as it goes
        self.record = bytearray()
        # keep_sessions: also keep, per connection, the bytes of each
        # direction apart: sessions[i] = {"c2s": bytearray, "s2c": ...}.
        self.keep_sessions = False
        self.sessions = []
        # flip_dir: count flip_at offsets in one direction only ("c2s",
        # client to server, or "s2c"); None counts both together.
        self.flip_dir = None
        self.cuts = 0
        self.flips = 0
        self.conns = 0
        self.paused = False
        self._live = []             # states of the open connections
        self._stop = False
        self._lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        _proxies.append(self)

    @property
    def endpoint(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                continue
            if self.paused:
                c.close()
                continue
            try:
                s = socket.create_connection(("127.0.0.1", self.target), 2)
            except OSError:
                c.close()
                continue
            with self._lock:
                self.conns += 1
                budget = (self.rng.randint(*self.cut_after)
                          if self.cut_after else None)
                flip = (self.rng.randint(*self.flip_at)
                        if self.flip_at else None)
            state = {"budget": budget, "flip": flip, "n": 0, "dead": False,
                     "c2s": bytearray(), "s2c": bytearray(),
                     "nd": {"c2s": 0, "s2c": 0}}
            if self.keep_sessions:
                with self._lock:
                    self.sessions.append(state)
            with self._lock:
                self._live = [x for x in self._live if not x["dead"]]
                self._live.append(state)
            for a, b, d in ((c, s, "c2s"), (s, c, "s2c")):
                threading.Thread(target=self._pump, args=(a, b, state, c, d),
                                 daemon=True).start()

    def _pump(self, src, dst, state, client, direction="c2s"):
        src.settimeout(0.2)
        while not self._stop and not state["dead"]:
            try:
                data = src.recv(16384 if self.rate else 65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            data = bytearray(data)
            with self._lock:
                fdir = self.flip_dir
                at = state["n"] if fdir is None else state["nd"][fdir]
                if state["flip"] is not None and \
                        fdir in (None, direction) and \
                        at <= state["flip"] < at + len(data):
                    data[state["flip"] - at] ^= 0xFF
                    state["flip"] = None
                    self.flips += 1
                if state["budget"] is not None and \
                        state["n"] + len(data) > state["budget"]:
                    data = data[:max(0, state["budget"] - state["n"])]
                    state["dead"] = True
                    self.cuts += 1
                state["n"] += len(data)
                state["nd"][direction] += len(data)
                self.record += data
                if self.keep_sessions:
                    state[direction] += data
            try:
                dst.sendall(bytes(data))
            except OSError:
                break
            rate = self.rate
            if rate:
                time.sleep(len(data) / float(rate))
        state["dead"] = True
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def drop(self):
        """Cuts every open connection now (new ones are still accepted
        unless paused is set)."""
        with self._lock:
            for st in self._live:
                if not st["dead"]:
                    st["dead"] = True
                    self.cuts += 1
            self._live = []

    def stop(self):
        self._stop = True
        try:
            self.lsock.close()
        except OSError:
            pass
        self.thread.join(2)


class Env:
    def __init__(self, tmp):
        self.tmp = tmp

    def central(self, name="central", dir=None):
        c = Node(self, name, "central", dir=dir)
        if not hasattr(self, "_central"):
            self._central = c
        return c

    def province(self, name, central=None, endpoint=None, dir=None,
                 enrol=True):
        """A province node in tmp/name (or dir), syncing with central (or
        endpoint, e.g. a proxy in front of central; by default a port where
        nothing listens).  It is enrolled with central (the one given, or
        the first this Env created) unless enrol=False."""
        p = Node(self, name, "province",
                 endpoint or (central.endpoint if central else
                              "tcp://127.0.0.1:9"), dir=dir)
        c = central or getattr(self, "_central", None)
        if enrol and c is not None:
            self.enrol(c, p)
        return p

    def enrol(self, central, province):
        """Exchanges keys: central enrols the province, the province pins
        central (what an administrator does with `key` and `trust`)."""
        pk = ok(province.cli("key"), "key").out.strip()
        ck = ok(central.cli("key"), "key").out.strip()
        ok(central.cli("trust", province.name, pk), "trust on central")
        ok(province.cli("trust", central.name, ck), "trust on province")

    def proxy(self, target, seed=1):
        return Proxy(target.port, seed)

    def tmpfs(self, name, size):
        """Mounts a tmpfs of size (e.g. "2m") at tmp/name; cleanup()
        unmounts it.  Returns the path, or None when mounting is not
        permitted here."""
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            "size=%s,mode=0755" % size, "tmpfs", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None
        _mounts.append(path)
        return path


def refer(src, dst, cid, reason=None):
    """Province src refers case cid to province dst, which accepts: the
    offer, then src, dst (accept), dst and src sync (docs/CONFLICTS.md,
    "Referring a case to another province")."""
    args = ["case", "transfer", cid, "--to", dst.name]
    if reason is not None:
        args += ["--reason", reason]
    ok(src.cli(*args), "%s offers %s to %s" % (src.name, cid, dst.name))
    ok(src.sync(), "sync " + src.name)
    ok(dst.sync(), "sync " + dst.name)
    ok(dst.cli("case", "accept", cid), "%s accepts %s" % (dst.name, cid))
    ok(dst.sync(), "sync " + dst.name)
    ok(src.sync(), "sync " + src.name)


def sample_case(i=0, rng=None, **over):
    """A plausible synthetic case (fake names, clearly fake)."""
    rng = rng or random.Random(i)
    c = {
        "status": rng.choice(["reported", "under_verification", "identified",
                              "receiving_support"]),
        "person": {
            "category": rng.choice(["victim", "being_identified"]),
            "sex": rng.choice(["female", "female", "male"]),
            "birth_year": rng.randint(1970, 2010),
            "full_name": "FAKE Person %d" % i,
            "id_number": "FAKEID%09d" % i,
        },
        "trafficking": {
            "purposes": [rng.choice(["sexual_exploitation", "forced_labour",
                                     "forced_marriage"])],
            "destination_country": rng.choice(["CN", "KH", "LA", "MM", "VN"]),
        },
        "intake": {"source": rng.choice(["border_guard", "police",
                                         "hotline_111"]),
                   "received_on": "2026-%02d-%02d" % (rng.randint(1, 12),
                                                      rng.randint(1, 28))},
    }
    for k, v in over.items():
        c[k] = v
    return c


def wait_for(cond, timeout=20, step=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)
