"""Helpers for bench/run.py: the registry of everything the bench starts
(so that it can all be stopped and removed, even on Ctrl-C), /proc
sampling (RSS, CPU time), a counting/delaying TCP proxy and a table
printer.  Python standard library only.
"""
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- everything the bench started --------------------------------------------

class Registry:
    """Processes, PostgreSQL clusters, proxies and folders to clean up.
    cleanup() is idempotent and never raises."""

    def __init__(self):
        self.procs = []
        self.clusters = []      # objects with a stop() method
        self.proxies = []
        self.dirs = []
        self.lock = threading.Lock()

    def popen(self, argv, **kw):
        # A new session: a Ctrl-C on the terminal reaches the bench only,
        # which then stops its children in order (and waits for them).
        kw.setdefault("start_new_session", True)
        p = subprocess.Popen(argv, **kw)
        with self.lock:
            self.procs.append(p)
        return p

    def forget(self, p):
        with self.lock:
            if p in self.procs:
                self.procs.remove(p)

    def cleanup(self):
        for x in list(self.proxies):
            try:
                x.stop()
            except Exception:
                pass
        self.proxies.clear()
        for p in list(self.procs):
            try:
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait(5)
            except Exception:
                pass
        self.procs.clear()
        for c in list(self.clusters):
            try:
                c.stop()
            except Exception:
                pass
        self.clusters.clear()
        for d in list(self.dirs):
            shutil.rmtree(d, ignore_errors=True)
        self.dirs.clear()


def on_signals():
    """SIGINT, SIGTERM and SIGHUP end the bench with KeyboardInterrupt, so
    that the finally clause cleans up.  SIGINT is set explicitly: a shell
    starts background jobs with it ignored, and Python then leaves it so."""
    def h(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, h)


# ---- /proc ----------------------------------------------------------------------

def proc_status(pid):
    """VmHWM, VmRSS, RssAnon, RssFile, RssShmem of pid in KiB (dict), or
    None when it is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return out


def proc_cpu(pid):
    """utime + stime of pid (all its threads, live and exited) in seconds,
    from /proc/PID/stat; None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_sched(pid):
    """(on-CPU seconds, run-queue wait seconds) summed over pid's live
    threads, from /proc/PID/task/*/schedstat: the wait is time the process
    was ready to run but another process had the CPU (a busy machine)."""
    cpu = wait = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                a = f.read().split()
            cpu += int(a[0])
            wait += int(a[1])
        except (OSError, ValueError, IndexError):
            continue
    return cpu / 1e9, wait / 1e9


def proc_children(pid):
    """pid and every live descendant (from /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo.extend(int(c) for c in f.read().split())
            except (OSError, ValueError):
                pass
    return out


def wait_child(pid, timeout=20):
    """The first child of pid (casesync serve runs its sessions in one:
    node/supervise.h), waiting for it to appear."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = proc_children(pid)[1:]
        if kids:
            return kids[0]
        time.sleep(0.01)
    raise RuntimeError("process %d started no child" % pid)


def tree_cpu(pid):
    """CPU seconds of pid and its descendants, the reaped ones included
    (cutime/cstime of /proc/PID/stat): a session child that ended or was
    started again still counts."""
    total = 0.0
    for p in proc_children(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
        if p == pid:
            total += int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def tree_io(pid):
    """/proc/PID/io summed over pid and its live descendants (a reaped
    child's counts are already in its parent's)."""
    out = {}
    for p in proc_children(pid):
        io = proc_io(p) or {}
        for k, v in io.items():
            out[k] = out.get(k, 0) + v
    return out


def tree_sched(pid):
    """proc_sched summed over pid and its live descendants."""
    cpu = wait = 0
    seen = False
    for p in proc_children(pid):
        sc = proc_sched(p)
        if sc is not None:
            cpu += sc[0]
            wait += sc[1]
            seen = True
    return (cpu, wait) if seen else None


def lmdb_txnid(d):
    """LMDB's last committed transaction id of the store in d (mdb_stat
    -e), or None: its growth over a run is the number of commits."""
    try:
        r = subprocess.run(["mdb_stat", "-e", d], capture_output=True,
                           text=True, timeout=60)
    except OSError:
        return None
    m = re.search(r"Last transaction ID: (\d+)", r.stdout)
    return int(m.group(1)) if m else None


def proc_io(pid):
    """write_bytes (what the process sent to storage, the kernel's count)
    and wchar from /proc/PID/io; None when it cannot be read."""
    out = {}
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k.strip()] = int(v)
    except (OSError, ValueError):
        return None
    return out


class Sampler:
    """Samples /proc/PID/status of some processes (and their descendants)
    every interval seconds and keeps the peaks of RssAnon and RSS (VmHWM is the kernel's own peak
    of the total, read at the end while the process still lives)."""

    def __init__(self, interval=0.01):
        self.interval = interval
        self.pids = {}
        self.peak = collections.defaultdict(lambda: collections.defaultdict(
            int))
        self.lock = threading.Lock()
        self.stop_ = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def watch(self, name, pid):
        with self.lock:
            self.pids[name] = pid

    def unwatch(self, name):
        self.sample_one(name)
        with self.lock:
            self.pids.pop(name, None)

    def sample_one(self, name):
        """The peaks of pid and of each of its descendants, taken one
        process at a time (not summed): `casesync sync` and `serve` run
        their sessions in a child (node/supervise.h), and that child's
        memory is the figure wanted, not the idle parent's."""
        with self.lock:
            pid = self.pids.get(name)
        if pid is None:
            return
        for p in proc_children(pid):
            st = proc_status(p)
            if st is None:
                continue
            with self.lock:
                pk = self.peak[name]
                for k, v in st.items():
                    if v > pk[k]:
                        pk[k] = v

    def _run(self):
        while not self.stop_.is_set():
            with self.lock:
                names = list(self.pids)
            for n in names:
                self.sample_one(n)
            self.stop_.wait(self.interval)

    def get(self, name):
        with self.lock:
            return dict(self.peak.get(name, {}))

    def reset(self, name):
        with self.lock:
            self.peak.pop(name, None)

    def stop(self):
        self.stop_.set()
        self.thread.join(2)


# The tests' free_port: a port outside the kernel's ephemeral range, never
# handed out twice (tests/it/harness.py says why).
# (Appended, not put first: tests/it has a console.py of its own.)
sys.path.append(os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "it"))
from harness import free_port  # noqa: E402,F401


def wait_port(port, timeout=20, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited (rc %s) before listening on "
                               "%d" % (proc.returncode, port))
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listens on port %d" % port)


# ---- a TCP proxy that counts bytes and can add latency -------------------------

class Proxy:
    """Forwards 127.0.0.1:port to 127.0.0.1:target.  Counts the TCP
    payload bytes in each direction (what the peers' kernels carry: ZMTP
    framing and CURVE boxes included, TCP/IP headers not).  With delay
    (seconds) every chunk is held that long before it is forwarded, in
    order, which adds 2*delay to every round trip without limiting the
    throughput."""

    def __init__(self, target, delay=0.0):
        self.target = target
        self.delay = delay
        self.up = 0             # client (province) -> server (central)
        self.down = 0
        self.conns = 0
        self._stop = False
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.lock = threading.Lock()
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                continue
            try:
                s = socket.create_connection(("127.0.0.1", self.target), 2)
            except OSError:
                c.close()
                continue
            for sk in (c, s):
                sk.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.conns += 1
            state = {"open": 2}
            for a, b, up in ((c, s, True), (s, c, False)):
                t = threading.Thread(target=self._pump, args=(a, b, up,
                                                              state),
                                     daemon=True)
                t.start()

    def _pump(self, src, dst, up, state):
        q = collections.deque()
        cv = threading.Condition()
        done = [False]

        def writer():
            while True:
                with cv:
                    while not q and not done[0]:
                        cv.wait(0.2)
                    if not q and done[0]:
                        break
                    due, data = q.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    dst.sendall(data)
                except OSError:
                    break
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        wt = None
        if self.delay > 0:
            wt = threading.Thread(target=writer, daemon=True)
            wt.start()
        src.settimeout(0.2)
        while not self._stop:
            try:
                data = src.recv(262144)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            with self.lock:
                if up:
                    self.up += len(data)
                else:
                    self.down += len(data)
            if wt is not None:
                with cv:
                    q.append((time.monotonic() + self.delay, data))
                    cv.notify()
            else:
                try:
                    dst.sendall(data)
                except OSError:
                    break
        if wt is not None:
            with cv:
                done[0] = True
                cv.notify()
            wt.join(5)
        else:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        with self.lock:
            state["open"] -= 1
            last = state["open"] == 0
        if last:
            for sk in (src, dst):
                try:
                    sk.close()
                except OSError:
                    pass

    def stop(self):
        self._stop = True
        try:
            self.lsock.close()
        except OSError:
            pass
        for t in self.threads:
            t.join(2)


# ---- statistics and output -----------------------------------------------------

def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def table(rows, header):
    """An aligned text table (rows of strings)."""
    w = [len(h) for h in header]
    for r in rows:
        for i, c in enumerate(r):
            w[i] = max(w[i], len(c))
    def line(r):
        return "  ".join(c.rjust(w[i]) if i and _numeric(c) else
                         c.ljust(w[i]) for i, c in enumerate(r)).rstrip()
    out = [line(header), "  ".join("-" * x for x in w)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _numeric(c):
    return bool(c) and (c[0].isdigit() or c[0] in "-+.<>~")


def machine():
    """nproc, CPU model, kernel, memory."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = []
    return {"nproc": os.cpu_count(), "cpu": model,
            "kernel": os.uname().release, "mem_mib": mem,
            "loadavg_at_start": " ".join(load)}
