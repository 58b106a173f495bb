"""Faults on a schedule drawn from the round's seed.

Every kind is scheduled at least once per round (at a random moment of the
fault window), plus extra faults drawn at random.  Each fault's target and
parameters are drawn when the schedule is made, so the schedule is a pure
function of the seed; what the processes are doing at that moment is not
(real processes, real time), which is why a failing round is replayed by
running the same seed again, and repeated until it fails again.
"""
import os
import random
import signal
import socket
import subprocess
import threading
import time

import harness
from cluster import standby_copy_ms, write_conf

KINDS = [
    "kill_central",          # SIGKILL central's serve, restart it
    "kill_province",         # SIGKILL a province's serve (or its cron sync)
    "kill_sync",             # SIGKILL a running `sync` at a random moment
    "kill_import",           # SIGKILL a running `import` (mid-commit)
    "pause",                 # SIGSTOP ... SIGCONT a serve
    "cut",                   # cut links at random byte offsets
    "corrupt",               # flip a byte in flight
    "slow",                  # delay and throttle a link
    "disk_full",             # fill a province's tmpfs, free it later
    "clock_ahead",           # a province's clock hours ahead
    "clock_behind",          # a province's clock hours behind
    "central_handshake",     # central restarted while a province is in
                             # the middle of the CURVE handshake
    "restore",               # a node's disk lost: put back from its
                             # backup taken earlier in the round
    "kill_central_and_promote",  # central's machine lost: the standby
                             # is promoted in place (docs/HA.md)
    "old_central_returns",   # the old central's serve comes back after a
                             # promotion: fenced, then rejoined as standby
]
EXTRA_WEIGHTS = {"kill_central": 3, "kill_province": 4, "kill_sync": 5,
                 "kill_import": 3, "pause": 4, "cut": 5, "corrupt": 4,
                 "slow": 4, "disk_full": 3, "clock_ahead": 0,
                 "clock_behind": 1, "central_handshake": 1, "restore": 1,
                 "kill_central_and_promote": 0, "old_central_returns": 0}
HOUR = 3600 * 1000


class Event:
    def __init__(self, at, kind, params):
        self.at = at
        self.kind = kind
        self.p = params

    def __repr__(self):
        return "%6.2fs %-17s %s" % (self.at, self.kind, " ".join(
            "%s=%s" % (k, v) for k, v in sorted(self.p.items())))


def make_schedule(seed, seconds, provinces, density=0.6):
    """The round's faults: [Event], sorted by time."""
    rng = random.Random("%s/faults" % seed)
    window = max(2.0, seconds * 0.85)
    kinds = list(KINDS)
    extra = int(seconds * density)
    pool = [k for k in KINDS if EXTRA_WEIGHTS[k] > 0]
    kinds += rng.choices(pool, [EXTRA_WEIGHTS[k] for k in pool], k=extra)
    events = []
    for k in kinds:
        at = rng.uniform(0.3, window)
        p = {"target": rng.choice(provinces),
             "dur": round(rng.uniform(0.5, min(4.0, max(1.0, seconds / 4))),
                          2),
             "seed": rng.getrandbits(32)}
        if k == "kill_central":
            p["down"] = round(rng.uniform(0.0, 1.5), 2)
        elif k == "kill_province":
            p["down"] = round(rng.uniform(0.0, 1.5), 2)
            p["after"] = round(rng.uniform(0.02, 1.0), 2)
        elif k == "kill_sync":
            p["after"] = round(rng.uniform(0.005, 0.3), 3)
        elif k == "kill_import":
            # Imports commit every 1000 lines, at about 0.4 ms a line
            # here: kill somewhere inside the run, often mid-commit.
            p["lines"] = rng.randint(600, 2800)
            p["after"] = round(rng.uniform(0.03, 0.95) * p["lines"] *
                               0.0004, 3)
        elif k == "pause":
            p["who"] = rng.choice(["central", "province", "province"])
        elif k == "cut":
            lo = rng.randint(0, 800)
            p["range"] = (lo, lo + rng.randint(20, 3000))
        elif k == "corrupt":
            lo = rng.randint(0, 600)
            p["range"] = (lo, lo + rng.randint(50, 2500))
        elif k == "slow":
            p["rate"] = rng.choice([2000, 8000, 30000, 100000])
            p["delay"] = round(rng.uniform(0.02, 0.4), 3)
        elif k in ("clock_ahead", "clock_behind"):
            p["hours"] = rng.randint(2, 8)
        elif k == "restore":
            # Mostly a province; central one time in three.
            p["who"] = rng.choice(["central", "province", "province"])
            p["after"] = round(rng.uniform(0.5, max(1.0, seconds / 3)), 2)
        elif k == "old_central_returns":
            # How long it runs before it is stopped and rejoined.
            p["up"] = round(rng.uniform(1.0, 6.0), 2)
        elif k == "central_handshake":
            p["delay"] = round(rng.uniform(0.15, 0.35), 2)
            p["kill_at"] = round(rng.uniform(0.0, 0.6), 2)
            p["down"] = round(rng.uniform(0.1, 1.0), 2)
        events.append(Event(round(at, 2), k, p))
    events.sort(key=lambda e: e.at)
    return events


def kill_dir_procs(d):
    """SIGKILLs every casesync process of this campaign working on node
    directory d (found by its command line, killed by its pid)."""
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        # Only the network verbs: a command of the workload or of another
        # fault (a list, an import) is waited for or ends by itself.
        if len(argv) < 2 or os.path.basename(argv[0]) != b"casesync" or \
                argv[1] not in (b"sync", b"serve") or d.encode() not in argv:
            continue
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(int(pid), sig)
            except OSError:
                pass


def exchange(a, b):
    """Swaps two directories atomically (renameat2 RENAME_EXCHANGE), or,
    where the file system cannot, with two renames."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_exchange = -100, 2
    if libc.renameat2(at_fdcwd, a.encode(), at_fdcwd, b.encode(),
                      rename_exchange) == 0:
        return
    os.rename(b, a + ".old")
    os.rename(a, b)
    os.rename(a + ".old", a)


class Injector:
    """Runs a schedule against a cluster; counts what it injected."""

    def __init__(self, cluster, workload, ledger, events, tmp, log=print):
        self.cl = cluster
        self.wl = workload
        self.lg = ledger
        self.events = events
        self.tmp = tmp
        self.log = log
        self.counts = {}
        self.notes = []         # things worth reporting (not failures)
        self.errors = []        # failures of the node under a fault
        self.handlers = []
        self._stop = threading.Event()
        self.thread = None
        self.lock = threading.Lock()
        self.t0 = None

    def count(self, kind, n=1):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def note(self, msg):
        with self.lock:
            self.notes.append(msg)

    def start(self):
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for ev in self.events:
            while not self._stop.is_set():
                left = self.t0 + ev.at - time.monotonic()
                if left <= 0:
                    break
                self._stop.wait(min(left, 0.2))
            if self._stop.is_set():
                return
            t = threading.Thread(target=self._fire, args=(ev,), daemon=True)
            t.start()
            self.handlers.append(t)

    def _fire(self, ev):
        try:
            getattr(self, "f_" + ev.kind)(ev, random.Random(ev.p["seed"]))
        except Exception as e:
            import traceback
            self.errors.append("fault %r: %s: %s\n%s" % (
                ev, type(e).__name__, e, traceback.format_exc()))

    def stop(self):
        """No new faults; waits for the running ones to undo themselves."""
        self._stop.set()
        if self.thread:
            self.thread.join(30)
        for t in self.handlers:
            t.join(120)

    # -- helpers -------------------------------------------------------------
    def m(self, ev):
        return self.cl.members[ev.p["target"]]

    def popen(self, m, *args, **kw):
        return m.node.popen(*args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **kw)

    @staticmethod
    def kill_proc(p):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGCONT)
                p.send_signal(signal.SIGKILL)
            except OSError:
                pass
        return p.wait()

    def restart_serve(self, m):
        if m.role == "central" or m.mode == "serve":
            with m.lock:
                was = m.want_running
                m.stop()
                if was or m.role == "central":
                    m.start()

    # -- the faults ----------------------------------------------------------
    def f_kill_central(self, ev, rng):
        c = self.cl.central
        with c.lock:
            c.kill()
            self.count("kill_central")
            time.sleep(ev.p["down"])
            c.start()

    def f_kill_province(self, ev, rng):
        m = self.m(ev)
        if m.mode == "serve":
            with m.lock:
                if not m.running():
                    return
                m.kill()
                self.count("kill_province")
                time.sleep(ev.p["down"])
                m.start()
        else:
            # A cron province: kill its nightly sync in the middle.
            p = self.popen(m, "sync", "--timeout", "20")
            time.sleep(ev.p["after"])
            if p.poll() is None:
                self.count("kill_province")
            self.kill_proc(p)

    def f_kill_sync(self, ev, rng):
        m = self.m(ev)
        # A slower link for the moment, so that the kill lands inside the
        # session (a sync with little to do takes a few milliseconds).
        px = m.proxy
        slow = px.delay is None
        if slow:
            px.delay = 0.03
        p = m.node.popen("sync", "--timeout", "20", stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
        time.sleep(ev.p["after"])
        if p.poll() is None:
            self.count("kill_sync")
        self.kill_proc(p)
        if slow:
            px.delay = None
        err = p.stderr.read()
        p.stderr.close()
        if p.returncode >= 0:
            self.note("kill_sync: sync on %s ended (rc %s) before the kill%s"
                      % (m.name, p.returncode, (": " + err.strip()) if
                         p.returncode else ""))
        harness.note_replaced(err)
        if p.returncode not in (0, 3, -9) and not (
                p.returncode == 2 and "disk full" in err):
            self.errors.append("sync on %s exited %s: %s" % (
                m.name, p.returncode, err.strip()))

    def f_kill_import(self, ev, rng):
        m = self.m(ev)
        m.enter()
        try:
            tainted = m.tainted
            recs, data = self.wl.import_lines(rng, m, ev.p["lines"],
                                              probe=tainted, hot=False)
            path = os.path.join(self.tmp, "import-%d.jsonl" % ev.p["seed"])
            with open(path, "w") as f:
                f.write(data)
            t0 = time.time()
            p = m.node.popen("import", path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            time.sleep(ev.p["after"])
            killed = p.poll() is None
            if killed:
                self.count("kill_import")
            self.kill_proc(p)
            out, err = p.communicate()
            rc = p.returncode
        finally:
            m.leave()
        from workload import Write
        import harness
        w = Write("import", m.name, None, {"cases": [r.id for r in recs]},
                  harness.Result(rc, out or "", err or ""), t0, time.time(),
                  tainted)
        self.lg.record(w)
        for r in recs:
            r.created = True if rc == 0 else (None if rc < 0 else False)
        if not killed:
            self.note("kill_import: import on %s ended (rc %s) before the "
                      "kill" % (m.name, rc))
        os.unlink(path)

    def f_pause(self, ev, rng):
        if ev.p["who"] == "central":
            m = self.cl.central
        else:
            m = self.m(ev)
            if m.mode != "serve":
                serving = [x for x in self.cl.provinces if x.mode == "serve"]
                m = rng.choice(serving) if serving else self.cl.central
        p = m.pause()
        if p is None:
            return
        self.count("pause")
        time.sleep(ev.p["dur"])
        m.resume(p)

    def f_cut(self, ev, rng):
        px = self.m(ev).proxy
        before = px.cuts
        px.cut_after = tuple(ev.p["range"])
        px.cut_now()
        time.sleep(ev.p["dur"])
        px.cut_after = None
        self.count("cut")
        self.count("cut:connections", px.cuts - before)

    def f_corrupt(self, ev, rng):
        px = self.m(ev).proxy
        before = px.flips
        px.flip_at = tuple(ev.p["range"])
        px.cut_now()
        time.sleep(ev.p["dur"])
        px.flip_at = None
        self.count("corrupt")
        self.count("corrupt:bytes", px.flips - before)

    def f_slow(self, ev, rng):
        px = self.m(ev).proxy
        px.rate = ev.p["rate"]
        px.delay = ev.p["delay"]
        self.count("slow")
        time.sleep(ev.p["dur"] * 2)
        px.rate = None
        px.delay = None

    def f_disk_full(self, ev, rng):
        m = self.m(ev)
        if m.fs is None:
            self.note("disk_full: no tmpfs (mount not permitted)")
            return
        with m.disk:
            if not m.fill_disk():
                return
            try:
                self._disk_full(m, ev, rng)
            finally:
                m.free_disk()

    def _disk_full(self, m, ev, rng):
        self.count("disk_full")
        # Small writes reuse pages LMDB freed inside its file; an import
        # must grow the file, so it fails: cleanly, nothing written (the
        # checker verifies that), and reads still work.
        recs, data = self.wl.import_lines(rng, m, rng.randint(150, 400),
                                          probe=m.tainted, hot=False)
        w = self.wl.run_on(m, "import", None,
                           {"cases": [x.id for x in recs]},
                           ("import", "-"), stdin=data)
        for x in recs:
            x.probe = w.tainted
            x.created = True if w.acked else (None if w.rc < 0 else False)
        if w.rc == 2 and "full" in w.err:
            self.count("disk_full:rejected_writes")
        elif w.rc != 0:
            self.note("disk_full: import on %s: rc %s %s" % (
                m.name, w.rc, w.err.strip()))
        r = m.node.cli("case", "list", "--json", timeout=30)
        if r.rc != 0:
            self.errors.append("disk_full: case list on %s failed: %s" % (
                m.name, r.err.strip()))
        time.sleep(ev.p["dur"])

    def f_clock_ahead(self, ev, rng):
        m = self.m(ev)
        own = None
        if not m.tainted:
            # A case of its own, on central too, for the writes below.
            own = self.wl.op_add(rng, member=m, hot=False)
            try:
                m.node.sync(8)
            except Exception:
                pass
        # From now on this province's stamps run hours ahead: even after
        # its clock is put right, its HLC never goes back, so central
        # refuses its writes for the rest of the round.  No command may be
        # running on it while the clock moves, so that the ledger knows
        # which writes were stamped ahead.
        with m.disk:            # before shut(): see Member.disk
            m.shut()
            try:
                # Under the member's lock: a restore (f_restore) swaps
                # the node directory, configuration included, under it
                # too.
                with m.lock:
                    write_conf(m.node, "test_clock_offset_ms",
                               str(ev.p["hours"] * HOUR))
                    m.offset_ms = ev.p["hours"] * HOUR
                    m.tainted = True
            finally:
                m.reopen()
        self.restart_serve(m)
        self.count("clock_ahead")
        # Writes stamped hours ahead: a new case, a change and an erase of
        # cases it owns.  Central must refuse the first two (and the
        # province then take them out of its copy); the erase it accepts.
        self.wl.op_add(rng, probe=True, member=m)
        for what in ("update", "erase"):
            if own is not None and own.created:
                c = own
                c.lock.acquire()
            else:
                c = self.wl.pick_case(rng, lambda c: c.owner == m.name)
            if c is None:
                continue
            try:
                if what == "update":
                    self.wl.op_update(rng, case=c, node=m)
                else:
                    self.wl.op_erase(rng, case=c, node=m)
            finally:
                c.lock.release()
        time.sleep(ev.p["dur"])
        self.wl.op_add(rng, probe=True, member=m)
        with m.disk, m.lock:
            write_conf(m.node, "test_clock_offset_ms", "0")
            m.offset_ms = 0
        self.restart_serve(m)

    def f_clock_behind(self, ev, rng):
        m = self.m(ev)
        # A clock_ahead fault owns the clock of a tainted province from
        # the moment it sets it (under the member's lock): this fault must
        # neither set its offset over that one nor, at its end, put the
        # clock right under it (seed 26 of campaign 21: the end of a
        # clock_behind put gia-lai's clock back to 0 just after a
        # clock_ahead had set +2 h, so its "ahead" writes were stamped
        # right and central rightly took them).
        with m.disk, m.lock:
            if m.tainted:
                return
            write_conf(m.node, "test_clock_offset_ms",
                       str(-ev.p["hours"] * HOUR))
            m.offset_ms = -ev.p["hours"] * HOUR
        self.restart_serve(m)
        self.count("clock_behind")
        # Central changes a case this province owns; the province must
        # apply it (central's stamp is hours ahead of its clock).
        c = self.wl.pick_case(rng, lambda c: c.owner == m.name)
        if c is not None:
            try:
                self.wl.op_update(rng, case=c, node=self.cl.central)
            finally:
                c.lock.release()
        p = self.popen(m, "sync", "--timeout", "10")
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            self.kill_proc(p)
        time.sleep(ev.p["dur"])
        with m.disk, m.lock:
            if m.tainted:
                # A clock_ahead began meanwhile: its offset stands, and
                # it puts the clock right itself.
                return
            write_conf(m.node, "test_clock_offset_ms", "0")
            m.offset_ms = 0
        self.restart_serve(m)

    def f_central_handshake(self, ev, rng):
        crons = [x for x in self.cl.provinces if x.mode == "cron"]
        m = self.m(ev) if self.m(ev).mode == "cron" or not crons else \
            rng.choice(crons)
        px = m.proxy
        c = self.cl.central
        with c.lock:
            px.delay = ev.p["delay"]
            conns = px.conns
            p = m.node.popen("sync", "--timeout", "40",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            end = time.monotonic() + 10
            while px.conns == conns and time.monotonic() < end and \
                    p.poll() is None:
                time.sleep(0.01)
            # That connection stays slow; a second session of the same
            # province, with a new entry, overtakes it on a fast one (as
            # `serve` and a manual `sync` would): the slow session's
            # HELLO then carries a stale count of its own entries.
            while time.monotonic() < end and p.poll() is None and not any(
                    x.get("delay") for x in list(px.live)
                    if not x["dead"]):
                time.sleep(0.005)
            px.delay = None
            self.wl.op_add(rng, member=m, hot=False)
            try:
                m.node.sync(8)
            except Exception:
                pass
            time.sleep(ev.p["kill_at"])
            carried = px.open_bytes()
            mid = p.poll() is None and carried and max(carried) < 700
            c.kill()
            time.sleep(ev.p["down"])
            px.delay = None
            c.start()
        if mid:
            self.count("central_handshake")
        else:
            self.note("central_handshake: restart not mid-handshake "
                      "(bytes %r)" % (carried,))
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill_proc(p)
            out, err = p.communicate()
        if p.returncode != 0:
            self.note("central_handshake: sync of %s after central's "
                      "restart exited %s: %s" % (m.name, p.returncode,
                                                  (err or "").strip()))
        harness.note_replaced(err)
        # (-9: a restore fault killed it with the node's lost disk.)
        if p.returncode not in (0, 3, -9) and not (
                p.returncode == 2 and "disk full" in (err or "")):
            # (2 with "disk full": that province's disk is full too, at
            # this moment; see docs/RELIABILITY.md on that exit code.)
            self.errors.append("sync of %s after central restarted "
                               "mid-handshake: rc %s %s" % (
                                   m.name, p.returncode, err))


    def f_kill_central_and_promote(self, ev, rng):
        """Central's machine is lost (SIGKILL; its directory is not used
        again) and the standby is promoted while its serve runs
        (docs/HA.md, Runbook); the provinces, which list both centrals,
        fail over by themselves.  Asynchronous mode: what central wrote
        itself after the state the standby's copy holds may be lost if no
        province fetched it; the ledger gets that window as a restore of
        central (a promotion is a restore from a seconds-old copy)."""
        with self.cl.ha_lock:
            self.promote(ev)

    def promote(self, ev):
        cl = self.cl
        c, sb = cl.central, cl.standby
        if cl.old_central:
            self.note("kill_central_and_promote: no standby (the old "
                      "central is not rejoined yet)")
            return False
        if not standby_copy_ms(sb.node.dir):
            self.note("kill_central_and_promote: the standby holds no "
                      "copy yet")
            return False
        c.shut()
        try:
            with c.lock, sb.lock:
                c.want_running = False
                c.kill()
                kill_dir_procs(c.node.dir)
                t_copy = standby_copy_ms(sb.node.dir) / 1000.0
                r = sb.node.cli("promote", timeout=60)
                if r.rc != 0:
                    self.errors.append("promote: rc %s %s" % (
                        r.rc, r.err.strip()))
                    c.start()
                    return False
                cl.swap_central()
                self.lg.restored("central", t_copy, time.time())
                self.lg.restored_synced("central", time.time())
                # Its serve takes over in place: wait for the port.
                end = time.monotonic() + 20
                while time.monotonic() < end:
                    if not c.running():
                        c.node.proc = None
                        c.node.start()
                        break
                    try:
                        socket.create_connection(
                            ("127.0.0.1", c.node.port), 0.2).close()
                        break
                    except OSError:
                        time.sleep(0.05)
                self.count("kill_central_and_promote")
                return True
        finally:
            c.reopen()

    def f_old_central_returns(self, ev, rng):
        """After a promotion (made here first if none is pending), the
        old central's serve starts again on its old directory.  Provinces
        that saw the new epoch must refuse it and fence it; then it is
        stopped and `casesync rejoin` makes it the new standby."""
        with self.cl.ha_lock:
            if not self.cl.old_central:
                if not self.promote(ev):
                    return
                time.sleep(ev.p["dur"])
            self.old_returns(ev)

    def old_returns(self, ev):
        cl = self.cl
        c, sb = cl.central, cl.standby
        with sb.lock:
            sb.node.role = "central"
            sb.node.start()
            self.count("old_central_returns")
        end = time.monotonic() + ev.p["up"]
        fenced = 0
        while time.monotonic() < end or (not fenced and time.monotonic() <
                                         end + 20):
            r = sb.node.cli("status", "--json", timeout=30)
            if r.rc == 0:
                fenced = (r.json().get("ha") or {}).get("fenced_by") or 0
            time.sleep(0.3)
        with sb.lock:
            sb.node.stop()
            args = ["rejoin", "-d", sb.node.dir, "--primary",
                    c.node.endpoint]
            if not fenced:
                self.note("old_central_returns: no province fenced it "
                          "within %s s; rejoined with --force" % (
                              ev.p["up"] + 20))
                args.append("--force")
            else:
                self.count("old_central_returns:fenced")
            r = harness.run(args)
            if r.rc != 0:
                self.errors.append("rejoin: rc %s %s" % (r.rc,
                                                         r.err.strip()))
                return
            sb.node.role = "standby"
            sb.want_running = True
            sb.node.start()
            cl.old_central = False

    def f_restore(self, ev, rng):
        """A node's disk is lost and it is put back from its backup taken
        earlier in the round: `casesync backup` while it runs and work
        goes on, then the node dies (SIGKILL), its directory is wiped and
        `casesync restore` puts the backup back (docs/PROTOCOL.md,
        Recovery).  What it wrote between the backup and the loss may be
        lost if it reached no other node, and only that: the ledger knows
        the window (Ledger.restores).  A province is synced once before
        the workload writes to it again, as an operator would; writes in
        between may be refused (its view is older than central's)."""
        m = self.cl.central if ev.p["who"] == "central" else self.m(ev)
        if m.tainted:
            return      # its clock ran ahead: the backup would undo that
        node = m.node
        bk = os.path.join(self.tmp, "backup-%s-%d" % (m.name,
                                                     ev.p["seed"]))
        t_backup = time.time()
        r = m.node.cli("backup", bk, timeout=60)
        if r.rc != 0:
            self.errors.append("backup of %s: rc %s %s" % (
                m.name, r.rc, r.err.strip()))
            return
        time.sleep(ev.p["after"])
        m.disk.acquire()        # before shut(): see Member.disk
        m.shut()
        try:
            with m.lock:
                if m.tainted:
                    self.note("restore: %s's clock ran ahead since its "
                              "backup; not restored" % m.name)
                    return
                if m.node is not node:
                    self.note("restore: the standby was promoted since "
                              "the backup of %s; not restored" % m.name)
                    return
                was = m.want_running or m.role == "central"
                m.kill()
                # The machine died: no process of the lost disk goes on
                # (a `sync` the cron or another fault started there would
                # otherwise keep talking to central as the old node).
                kill_dir_procs(m.node.dir)
                conf = os.path.join(m.node.dir, "casesync.conf")
                with open(conf) as f:
                    kept = f.read()     # configuration management's copy
                m.free_disk()
                t_restore = time.time()
                # Restored beside the lost directory, then swapped in at
                # once: commands that other faults run on the node (a
                # sync, a list) see the old directory or the new one,
                # never none.
                new = m.node.dir + ".restored"
                harness.rmtree(new)
                r = harness.run(["restore", "-d", new, bk])
                if r.rc != 0:
                    self.errors.append("restore of %s: rc %s %s" % (
                        m.name, r.rc, r.err.strip()))
                    return
                with open(os.path.join(new, "casesync.conf"), "w") as f:
                    f.write(kept)
                exchange(new, m.node.dir)
                harness.rmtree(new)
                self.lg.restored(m.name, t_backup, t_restore)
                self.count("restore")
                self.count("restore:" + m.role)
                if was:
                    m.start()
                if m.role == "central":
                    self.lg.restored_synced(m.name, time.time())
            if m.role != "central":
                for _ in range(5):
                    r = m.node.sync(8)
                    if r.rc == 0:
                        break
                    time.sleep(0.5)
                harness.note_replaced(r.err)
                if r.rc not in (0, 3) and not (
                        r.rc == 2 and "disk full" in r.err):
                    self.errors.append("first sync of %s after its "
                                       "restore: rc %s %s" % (
                                           m.name, r.rc, r.err.strip()))
                self.lg.restored_synced(m.name, time.time())
        finally:
            m.reopen()
            m.disk.release()


def heal(cl, log=print):
    """Undoes every fault: processes resumed, links clean, disks freed,
    clocks right, central up."""
    for m in cl.all() + [cl.standby]:
        m.resume()
        for px in getattr(m, "proxies", {}).values():
            px.reset()
            px.trim()
        m.free_disk()
        if m.offset_ms:
            write_conf(m.node, "test_clock_offset_ms", "0")
            m.offset_ms = 0
    if not cl.central.running():
        cl.central.start()
    if not cl.old_central and not cl.standby.running():
        cl.standby.start()
