"""The cluster a chaos round runs on: central and N provinces as real
`casesync` processes on 127.0.0.1, each province linked to central through
its own fault-injecting proxy, each province's node directory on its own
small tmpfs (so that its disk can be filled).

Builds on tests/it/harness.py (Env, Node, Proxy) without changing it.
"""
import errno
import os
import shutil
import signal
import threading
import time

import harness

ROOT = harness.ROOT


def province_ids():
    """Province node ids from deploy/provinces.tsv (second column)."""
    out = []
    with open(os.path.join(ROOT, "deploy", "provinces.tsv")) as f:
        for line in f:
            if line.startswith("#") or line.startswith("code\t"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) > 1 and cols[1]:
                out.append(cols[1])
    return out


class _DelayedSock:
    """Wraps a socket so that every recv() is held `proxy.delay` seconds:
    latency on top of harness.Proxy's throttling."""

    def __init__(self, sock, proxy, state):
        self._s = sock
        self._p = proxy
        self._state = state

    def recv(self, n):
        data = self._s.recv(n)
        d = self._state.get("delay")
        if data and d:
            # Sleep in small steps so that a cut_now() is noticed.
            end = time.monotonic() + d
            while not self._state["dead"]:
                left = end - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(0.05, left))
        return data

    def __getattr__(self, name):
        return getattr(self._s, name)


class ChaosProxy(harness.Proxy):
    """harness.Proxy plus latency (`delay`, seconds per chunk, for the
    connections opened while it is set, for their whole life) and
    cut_now(), which cuts every open connection wherever it stands."""

    def __init__(self, target_port, seed=1):
        self.delay = None
        self.next_delay = None  # delay for the next connection only
        self.live = []
        self.handshakes_seen = 0
        harness.Proxy.__init__(self, target_port, seed)

    def _pump(self, src, dst, state, *args, **kw):
        with self._lock:
            if "delay" not in state:
                state["delay"] = self.delay
                if self.next_delay is not None:
                    state["delay"] = self.next_delay
                    self.next_delay = None
            if not any(x is state for x in self.live):
                self.live = [x for x in self.live if not x["dead"]]
                self.live.append(state)
        try:
            return harness.Proxy._pump(self, _DelayedSock(src, self, state),
                                       dst, state, *args, **kw)
        except OSError:
            # The other direction closed both sockets first (a cut).
            state["dead"] = True
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut_now(self):
        with self._lock:
            live = [x for x in self.live if not x["dead"]]
            for x in live:
                x["dead"] = True
            self.live = []
            self.cuts += len(live)
        return len(live)

    def open_bytes(self):
        """Bytes carried so far by each open connection."""
        with self._lock:
            return [x["n"] for x in self.live if not x["dead"]]

    def trim(self):
        """Drops the traffic record (a long round would keep it all)."""
        with self._lock:
            self.record = bytearray()

    def reset(self):
        self.cut_after = None
        self.flip_at = None
        self.rate = None
        self.delay = None
        self.paused = False


def snapshot_binary(dest_dir):
    """Copies build/casesync to dest_dir and points the harness at the
    copy: other people rebuilding the tree during a campaign must not
    change (or briefly remove) the binary under test."""
    src = harness.BIN
    os.makedirs(dest_dir, exist_ok=True)
    dst = os.path.join(dest_dir, "casesync")
    for _ in range(50):
        try:
            shutil.copy2(src, dst)
            if os.access(dst, os.X_OK):
                break
        except OSError:
            pass
        time.sleep(0.2)
    harness.BIN = dst
    return dst


def write_conf(node, key, value):
    """Sets key = value in node's casesync.conf atomically (a command
    starting at the same moment reads the old or the new file, never half
    of one)."""
    path = os.path.join(node.dir, "casesync.conf")
    lines = [l for l in open(path).read().splitlines()
             if not l.startswith(key + " ")]
    lines.append("%s = %s" % (key, value))
    tmp = path + ".tmp"
    # The province's disk may be full at this moment (a disk_full fault):
    # wait for it to be freed, as an administrator would.
    end = time.monotonic() + 60
    while True:
        try:
            with open(tmp, "w") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            return
        except OSError as e:
            if e.errno != errno.ENOSPC or time.monotonic() > end:
                raise
            time.sleep(0.1)


def standby_node(env, central, name="standby"):
    """A standby of central, enrolled both ways (as tests/it/
    test_standby.py does)."""
    port = harness.free_port()
    d = os.path.join(env.tmp, name)
    harness.ok(harness.run(["init", "-d", d, "--node", name, "--role",
                            "standby", "--primary", central.endpoint,
                            "--listen", "tcp://127.0.0.1:%d" % port]),
               "init standby")
    sb = harness.Node.__new__(harness.Node)
    sb.env, sb.name, sb.role, sb.dir = env, name, "standby", d
    sb.proc, sb.port = None, port
    sk = harness.ok(sb.cli("key")).out.strip()
    ck = harness.ok(central.cli("key")).out.strip()
    harness.ok(central.cli("trust", name, sk), "central enrols the standby")
    harness.ok(sb.cli("trust", central.name, ck), "the standby pins central")
    return sb


def standby_copy_ms(d):
    """When the state the standby's copy holds was central's (wall clock
    ms, DIR/standby.status; 0: no copy)."""
    try:
        with open(os.path.join(d, "standby.status")) as f:
            for line in f:
                k, _, v = line.partition(" ")
                if k == "current_ms":
                    return int(v)
    except (OSError, ValueError):
        pass
    return 0


class Member:
    """One node of the cluster and the processes run for it."""

    def __init__(self, node, role, proxy=None, fs=None, mode="serve"):
        self.node = node
        self.name = node.name
        self.role = role
        self.proxy = proxy
        self.fs = fs            # the tmpfs mount holding node.dir
        self.mode = mode        # province: "serve" or "cron"
        self.lock = threading.RLock()   # process control
        self.want_running = False
        self.stopped = set()    # processes we SIGSTOPped
        self.junk = None        # disk-filling file while the disk is full
        # Held by a disk_full fault from filling the disk to freeing it,
        # and by the faults that write into the node directory (clock
        # offsets, restore) while they do; always taken before shut() and
        # before self.lock.  Without it a clock_ahead shut the gate, then
        # waited for the disk; the disk_full's import waited for the gate:
        # the disk stayed full until write_conf gave up (seeds 120 and 125
        # of SEED=101 at 03464fc).
        self.disk = threading.Lock()
        self.offset_ms = 0
        self.tainted = False    # its clock ran ahead: its writes are refused
        self.keep_transferred = True
        self.inflight = 0       # workload commands running on it
        self.open = True        # may workload commands start?
        self.cv = threading.Condition()

    # -- the long-running process (serve) --------------------------------
    def running(self):
        p = self.node.proc
        return p is not None and p.poll() is None

    def start(self):
        with self.lock:
            self.want_running = True
            if not self.running():
                self.node.start()
            return self.node.proc

    def kill(self):
        with self.lock:
            p = self.node.proc
            if p is not None and p.poll() is None:
                try:
                    p.send_signal(signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
            self.node.proc = None
            return p

    def stop(self):
        """SIGTERM (after SIGCONT, in case it is paused)."""
        with self.lock:
            self.want_running = False
            p = self.node.proc
            if p is not None and p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                except OSError:
                    pass
            return self.node.stop()

    def pause(self):
        with self.lock:
            p = self.node.proc
            if p is None or p.poll() is not None:
                return None
            p.send_signal(signal.SIGSTOP)
            self.stopped.add(p)
            return p

    def resume(self, p=None):
        with self.lock:
            for q in ([p] if p is not None else list(self.stopped)):
                if q in self.stopped:
                    self.stopped.discard(q)
                if q.poll() is None:
                    try:
                        q.send_signal(signal.SIGCONT)
                    except OSError:
                        pass

    # -- the workload's commands -----------------------------------------
    def enter(self):
        """A command starts on this node (waits while the gate is shut)."""
        with self.cv:
            while not self.open:
                self.cv.wait(0.1)
            self.inflight += 1

    def leave(self):
        with self.cv:
            self.inflight -= 1
            self.cv.notify_all()

    def shut(self, timeout=60):
        """No new command starts; waits for the running ones.  Faults
        that overlap each shut the gate; it opens when the last one
        reopens it."""
        with self.cv:
            self.shuts = getattr(self, "shuts", 0) + 1
            self.open = False
            end = time.monotonic() + timeout
            while self.inflight > 0 and time.monotonic() < end:
                self.cv.wait(0.1)

    def reopen(self):
        with self.cv:
            self.shuts = max(0, getattr(self, "shuts", 1) - 1)
            if self.shuts == 0:
                self.open = True
                self.cv.notify_all()

    # -- disk -------------------------------------------------------------
    def fill_disk(self):
        """Fills the province's tmpfs with a junk file until ENOSPC."""
        if self.fs is None or self.junk is not None:
            return False
        path = os.path.join(self.fs, "junk.bin")
        chunk = b"\xa5" * 65536
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                try:
                    n = os.write(fd, chunk)
                except OSError:
                    break
                if n < len(chunk):
                    # Fill the last bytes too.
                    try:
                        while os.write(fd, b"\xa5" * 512) > 0:
                            pass
                    except OSError:
                        pass
                    break
        finally:
            os.close(fd)
        self.junk = path
        return True

    def free_disk(self):
        if self.junk is not None:
            try:
                os.unlink(self.junk)
            except OSError:
                pass
            self.junk = None

    def disk_free(self):
        st = os.statvfs(self.fs or self.node.dir)
        return st.f_bavail * st.f_frsize


class Cluster:
    """central + provinces, with proxies and tmpfs mounts."""

    def __init__(self, env, rng, nprov=6, fs_size="48m", heartbeat_ms=1000,
                 log=print):
        self.env = env
        self.log = log
        self.members = {}
        names = province_ids()
        pick = sorted(rng.sample(names, nprov), key=names.index)
        c = env.central()
        c.set_conf("heartbeat_ms", str(heartbeat_ms))
        self.central = Member(c, "central")
        self.members["central"] = self.central
        # A standby central (docs/HA.md), outside `members`: the checks
        # look at whichever node holds the central role (the faults
        # kill_central_and_promote and old_central_returns swap the two
        # nodes between these members).
        sb = standby_node(env, c)
        sb.set_conf("heartbeat_ms", str(heartbeat_ms))
        self.standby = Member(sb, "standby")
        self.old_central = False    # standby member: a dead old central
        self.ha_lock = threading.Lock()
        self.provinces = []
        self.mount_ok = True
        for i, name in enumerate(pick):
            px = ChaosProxy(c.port, seed=rng.getrandbits(32))
            fs = env.tmpfs("fs-" + name, fs_size)
            if fs is None:
                self.mount_ok = False
                d = None
            else:
                d = os.path.join(fs, name)
            px2 = ChaosProxy(sb.port, seed=rng.getrandbits(32))
            # Both centrals, in this order, both keys pinned in it.
            node = env.province(name, c, endpoint="%s@%s %s@%s" % (
                c.name, px.endpoint, sb.name, px2.endpoint), dir=d)
            harness.ok(node.cli("trust", sb.name, harness.ok(
                sb.cli("key")).out.strip()), "pin the standby")
            node.set_conf("heartbeat_ms", str(heartbeat_ms))
            mode = "serve" if i % 2 == 0 else "cron"
            m = Member(node, "province", proxy=px, fs=fs, mode=mode)
            # The proxy to each central node, by its directory; `proxy`
            # is the one to the node that is central now.
            m.proxies = {c.dir: px, sb.dir: px2}
            self.provinces.append(m)
            self.members[name] = m
        # Shuffle modes by the seed; one province drops transferred copies.
        modes = ["serve", "cron"] * ((nprov + 1) // 2)
        rng.shuffle(modes)
        for m, mode in zip(self.provinces, modes):
            m.mode = mode
        nokeep = rng.choice(self.provinces)
        nokeep.keep_transferred = False
        nokeep.node.set_conf("keep_transferred", "no")

    def start(self):
        self.central.start()
        self.standby.start()
        for m in self.provinces:
            if m.mode == "serve":
                m.start()

    def all(self):
        return [self.central] + self.provinces

    def watchdog(self, note, count):
        """Restarts a `serve` that died by itself, as systemd's
        Restart=on-failure does (deploy/systemd); reports why it died."""
        for m in self.all() + [self.standby]:
            if not m.lock.acquire(blocking=False):
                continue
            try:
                p = m.node.proc
                if not m.want_running or p is None or p.poll() is None:
                    continue
                log = os.path.join(self.env.tmp, m.name + ".log")
                try:
                    with open(log, errors="replace") as f:
                        tail = f.read()[-2000:]
                except OSError:
                    tail = ""
                count("died:self")
                note("serve of %s exited by itself (rc %s): %s" % (
                    m.name, p.returncode, tail[-300:].strip()))
                m.node.proc = None
                m.start()
            finally:
                m.lock.release()

    def swap_central(self):
        """The standby was promoted: its node is the central now, and the
        old central's node waits in the standby member (dead) until it is
        rejoined.  Called holding both members' locks."""
        c, sb = self.central, self.standby
        c.node, sb.node = sb.node, c.node
        c.node.role = "central"
        c.want_running, sb.want_running = True, False
        self.old_central = True
        for m in self.provinces:
            m.proxy = m.proxies[c.node.dir]

    def prov(self, name):
        return self.members[name]
