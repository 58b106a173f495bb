#!/usr/bin/env python3
"""casesync benchmarks (issue 7): `make bench`, not part of `make check`.

Measures, each as the median of BENCH_RUNS (>= 3) independent runs:
  initial   a province with 100,000 cases (x BENCH_SCALE) to an empty central
  nightly   500 changes after a day offline (and 50 / 5,000 to show that the
            round trips do not grow with the number of changes)
  catchup   20,000 changes after a disconnect (process start and handshake
            included)
  fanin     8 provinces (34 with BENCH_SCALE >= 10 or BENCH_FANIN=34) syncing
            their backlogs to one central at once
and the same scenarios on PostgreSQL 15 logical replication, then prints a
table and writes a JSON file (build/bench.json).  docs/PERFORMANCE.md says
what each figure means and what bounds it.

Environment (each also a flag, see --help):
  BENCH_SCALE   backlog multiplier: 1 = 100,000 cases, 10 = 1,000,000;
                fractions (0.05) give a quick run for development
  BENCH_RUNS    repetitions per scenario (default 3; fewer only for
                development, the result says so)
  BENCH_FANIN   provinces in the fan-in scenario (default 8, or 34 at
                BENCH_SCALE >= 10)
  BENCH_PG      0 skips the PostgreSQL half
  BENCH_ONLY    comma list of scenarios: initial,nightly,catchup,fanin,wire
  BENCH_OUT     the JSON file (default build/bench.json)
  BENCH_TMP     where the temporary folder goes (default /tmp)
  BENCH_CENTRAL_CONF  central's casesync.conf settings, "key=value,..."
                (apply_pipeline=on, say)
  BENCH_FX_CACHE  a folder that keeps the synced pair and the change
                fixtures between bench runs (for profiling the nightly and
                the catch-up without re-importing the backlog each time).
                Used only without `initial` in BENCH_ONLY; filled by the
                first such run, reused while scale and sizes match.  The
                stores in it are made by the binary of that first run:
                empty the folder after a store layout change.
  CASESYNC_BIN  the binary (default build/casesync)

Fixtures are built once per bench run (the synthetic cases come from
deploy/gen_cases.py, the demo's generator) and every repetition works on a
fresh copy of the node folders, so repetitions are independent.  Every
process and folder the bench makes is removed at the end, also after an
error or Ctrl-C.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchlib as bl          # noqa: E402
import pgrepl                  # noqa: E402

ROOT = os.path.dirname(HERE)
BIN = os.environ.get("CASESYNC_BIN", os.path.join(ROOT, "build", "casesync"))
GEN = os.path.join(ROOT, "deploy", "gen_cases.py")
PROVINCES_TSV = os.path.join(ROOT, "deploy", "provinces.tsv")
MAIN = "lao-cai"                    # the province of the single-link runs
GEN_CHUNK = 50000                   # cases per generator call / import file
SCENARIOS = ("initial", "nightly", "catchup", "fanin", "wire")
RT_SIZES = (50, 500, 5000)          # nightly sizes for the round-trip probe
RT_DELAY = 0.05                     # one-way delay of the probe (s)
MIB = 1024.0

T0 = time.monotonic()


def log(msg):
    sys.stderr.write("[%7.1fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


def env(name, default):
    v = os.environ.get(name)
    return default if v in (None, "") else v


# ---- casesync nodes -------------------------------------------------------------

def cs(*args, timeout=None):
    r = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("casesync %s failed (rc %d): %s" % (
            " ".join(args[:3]), r.returncode, (r.stderr or r.stdout).strip()))
    return r.stdout


def set_conf(d, key, value):
    path = os.path.join(d, "casesync.conf")
    with open(path) as f:
        lines = [l for l in f.read().splitlines()
                 if not l.startswith(key + " ")]
    lines.append("%s = %s" % (key, value))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def copy_dir(src, dst):
    """cp -a: nodes are copied only while no process has them open.  The
    copy is then written out (fsync): otherwise the first LMDB commit of
    the measured run would pay for writing back the whole copied file
    (fdatasync flushes every dirty page of it, whoever dirtied it)."""
    subprocess.run(["cp", "-a", src, dst], check=True)
    for root, _, files in os.walk(dst):
        for f in files:
            fd = os.open(os.path.join(root, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def rm(path):
    subprocess.run(["rm", "-rf", path], check=True)


def province_ids():
    out = []
    with open(PROVINCES_TSV, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or line.startswith("code\t"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 2 and cols[1]:
                out.append(cols[1])
    return out


SUMMARY = re.compile(r"sent (\d+), received (\d+), refused (\d+), bytes out "
                     r"(\d+), bytes in (\d+), messages (\d+), sessions (\d+)")


class Bench:
    def __init__(self, a):
        self.a = a
        self.reg = bl.Registry()
        self.scale = a.scale
        self.runs = a.runs
        self.n_initial = max(100, int(round(100000 * a.scale)))
        self.n_nightly = min(500, self.n_initial)
        self.n_catchup = min(20000, self.n_initial)
        self.fanin = a.fanin
        self.n_fan_each = max(10, self.n_initial // self.fanin)
        self.only = set(a.only)
        self.res = {"config": {
            "scale": a.scale, "runs": a.runs, "n_initial": self.n_initial,
            "n_nightly": self.n_nightly, "n_catchup": self.n_catchup,
            "fanin": self.fanin, "n_fanin_each": self.n_fan_each,
            "binary": BIN, "scenarios": sorted(self.only)},
            "machine": bl.machine(), "casesync": {}, "postgresql": {},
            "notes": []}
        self.tmp = None
        self.sampler = None

    # -- plumbing --

    def path(self, *p):
        return os.path.join(self.tmp, *p)

    def start_central(self, cdir):
        port = bl.free_port()
        set_conf(cdir, "listen", "tcp://127.0.0.1:%d" % port)
        # The bench loads far more than a province's daily quota.
        for q in ("entries", "bytes", "cases", "referrals"):
            set_conf(cdir, "quota_%s_per_day" % q, 0)
        # BENCH_CENTRAL_CONF="key=value,...": central's settings to compare
        # (apply_pipeline=on, say).
        for kv in env("BENCH_CENTRAL_CONF", "").split(","):
            if kv.strip():
                k, _, v = kv.partition("=")
                set_conf(cdir, k.strip(), v.strip())
        logf = open(cdir + ".log", "a")
        p = self.reg.popen([BIN, "serve", "-d", cdir, "--log-level", "info"],
                           stdout=logf, stderr=logf)
        logf.close()
        bl.wait_port(port, proc=p)
        # serve runs its sessions in a child (node/supervise.h): that is
        # the process that works; the parent only waits for it.
        p.session_pid = bl.wait_child(p.pid)
        return p, port

    def stop_central(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.reg.forget(p)

    def sync(self, pdir, port, name="province", timeout=7200):
        """Runs `casesync sync` on pdir against central at port.  Returns
        a dict: wall seconds (process start to exit), the summary's
        numbers, peak RSS (ru_maxrss) and sampled peak RssAnon."""
        set_conf(pdir, "central", "tcp://127.0.0.1:%d" % port)
        out = open(pdir + ".sync.out", "w+")
        self.sampler.reset(name)
        t0 = time.monotonic()
        p = self.reg.popen([BIN, "sync", "-d", pdir, "--timeout",
                            str(timeout)], stdout=out, stderr=out)
        self.sampler.watch(name, p.pid)
        return {"proc": p, "t0": t0, "out": out, "name": name}

    def sync_wait(self, h):
        p = h["proc"]
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.monotonic()
        p.returncode = os.waitstatus_to_exitcode(status)
        self.reg.forget(p)
        self.sampler.unwatch(h["name"])
        h["out"].seek(0)
        text = h["out"].read()
        h["out"].close()
        m = SUMMARY.search(text)
        if p.returncode != 0 or m is None:
            raise RuntimeError("sync failed (rc %d): %s" % (p.returncode,
                                                           text.strip()))
        peak = self.sampler.get(h["name"])
        return {"wall_s": t1 - h["t0"], "sent": int(m.group(1)),
                "received": int(m.group(2)), "refused": int(m.group(3)),
                "bytes_out": int(m.group(4)), "bytes_in": int(m.group(5)),
                "messages": int(m.group(6)), "sessions": int(m.group(7)),
                "rss_peak_kib": ru.ru_maxrss,
                "anon_peak_kib": peak.get("RssAnon", 0),
                "cpu_s": ru.ru_utime + ru.ru_stime, "t1": t1}

    def wait_all(self, hs):
        """sync_wait on every handle at once (each exit time exact)."""
        rs = [None] * len(hs)
        errs = []

        def one(i):
            try:
                rs[i] = self.sync_wait(hs[i])
            except Exception as e:      # reported below
                errs.append(e)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(len(hs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errs:
            raise errs[0]
        return rs

    # -- fixtures --

    def gen(self, province, count, tag, start=0):
        """JSON Lines files of count cases from deploy/gen_cases.py, in
        chunks (the generator holds its output in memory)."""
        paths = []
        done = 0
        while done < count:
            n = min(GEN_CHUNK, count - done)
            path = self.path("gen", "%s-%d.jsonl" % (tag, done))
            subprocess.run([sys.executable, GEN, "--province", province,
                            "--seed", "7", "--count", str(n), "--start",
                            str(start + done), "--out", path], check=True)
            paths.append(path)
            done += n
        return paths

    @staticmethod
    def ids_of(paths):
        ids = []
        for p in paths:
            with open(p, encoding="utf-8") as f:
                for line in f:
                    ids.append(json.loads(line)["id"])
        return ids

    def changes(self, ids, n, tag):
        """n changes to existing cases: a status change and a new support
        service each (one casesync entry per change), spread over the
        cases."""
        statuses = ["receiving_support", "reintegration_followup",
                    "closed"]
        stride = 7919           # prime: visits distinct cases first
        out = []
        for k in range(n):
            cid = ids[(k * stride) % len(ids)]
            svc = {"id": "svc-%s-%06d" % (tag, k), "type": "medical",
                   "on": "2025-12-15", "amount_vnd": 500000}
            out.append((cid, statuses[k % 3], svc))
        return out

    def changes_jsonl(self, ch, path):
        with open(path, "w", encoding="utf-8") as f:
            for cid, status, svc in ch:
                f.write(json.dumps({"id": cid, "status": status,
                                    "services": [svc]}) + "\n")
        return path

    def new_central(self, d):
        cs("init", "-d", d, "--node", "central", "--role", "central",
           "--listen", "tcp://127.0.0.1:1")

    def new_province(self, d, name):
        cs("init", "-d", d, "--node", name, "--role", "province",
           "--central", "tcp://127.0.0.1:1")

    def enrol(self, cdir, pdir, name):
        pk = cs("key", "-d", pdir).strip()
        ck = cs("key", "-d", cdir).strip()
        cs("trust", "-d", cdir, name, pk)
        cs("trust", "-d", pdir, "central", ck)

    def import_files(self, d, paths):
        for p in paths:
            cs("import", "-d", d, p)

    def build_main(self):
        """fx/c0 (empty central, lao-cai enrolled), fx/p0 (lao-cai with the
        backlog)."""
        os.makedirs(self.path("fx"))
        log("generating %d cases for %s (deploy/gen_cases.py)" % (
            self.n_initial, MAIN))
        self.main_jsonl = self.gen(MAIN, self.n_initial, MAIN)
        self.main_ids = self.ids_of(self.main_jsonl)
        self.new_central(self.path("fx", "c0"))
        self.new_province(self.path("fx", "p0"), MAIN)
        self.enrol(self.path("fx", "c0"), self.path("fx", "p0"), MAIN)
        if "initial" in self.only:
            # The same node (keys, enrolment), for the ordered import.
            copy_dir(self.path("fx", "p0"), self.path("fx", "p0o"))
        t = time.monotonic()
        log("importing them into %s (each entry signed)" % MAIN)
        self.import_files(self.path("fx", "p0"), self.main_jsonl)
        dt = time.monotonic() - t
        # The same cases with ids in creation order: sorted by id before
        # the import, so each case's id ascends with its seq (as `case
        # add` makes them).  The generator's own order is shuffled (each
        # id is dated by a random intake day), like historic data
        # migrated in bulk.
        if "initial" in self.only:
            self.main_sorted = self.path("gen", "%s-sorted.jsonl" % MAIN)
            rows = []
            for path in self.main_jsonl:
                with open(path, encoding="utf-8") as f:
                    rows.extend(f.readlines())
            rows.sort(key=lambda l: json.loads(l)["id"])
            with open(self.main_sorted, "w", encoding="utf-8") as f:
                f.writelines(rows)
            del rows
            log("importing them again, ids in creation order")
            self.import_files(self.path("fx", "p0o"), [self.main_sorted])
        self.res["casesync"]["import"] = {"cases": self.n_initial, "s": dt,
                                          "per_s": self.n_initial / dt}
        log("imported in %.1f s (%.0f cases/s)" % (dt, self.n_initial / dt))

    def build_changes(self):
        """fx/pN: the synced province with N more changes (nightly sizes
        and the catch-up), made by `casesync import` of updates."""
        self.change_sets = {}
        for n in self.fx_sizes():
            ch = self.changes(self.main_ids, n, "u%d" % n)
            self.change_sets[n] = ch
            path = self.changes_jsonl(ch, self.path("gen", "upd-%d.jsonl"
                                                    % n))
            d = self.path("fx", "p%d" % n)
            copy_dir(self.path("fx", "ps"), d)
            log("fixture: %d changes on the synced %s" % (n, MAIN))
            cs("import", "-d", d, path)

    # -- the fixture cache (BENCH_FX_CACHE) --

    def fx_sizes(self):
        sizes = set()
        if "nightly" in self.only:
            sizes.add(self.n_nightly)
            sizes |= set(s for s in RT_SIZES if s <= self.n_initial)
        if "catchup" in self.only or "wire" in self.only:
            sizes.add(self.n_catchup)
        return sorted(sizes)

    def fx_cache_dir(self):
        d = env("BENCH_FX_CACHE", "")
        if not d or "initial" in self.only:
            return None
        return os.path.join(os.path.abspath(d), "scale-%g" % self.scale)

    def fx_from_cache(self):
        """Copies the synced pair and the change fixtures from the cache,
        if it holds them all.  True if it did."""
        d = self.fx_cache_dir()
        if d is None or not os.path.exists(os.path.join(d, "ids.json")):
            return False
        need = ["cs", "ps"] + ["p%d" % n for n in self.fx_sizes()]
        if not all(os.path.isdir(os.path.join(d, x)) for x in need):
            return False
        log("fixtures from the cache %s" % d)
        os.makedirs(self.path("fx"))
        for x in need:
            copy_dir(os.path.join(d, x), self.path("fx", x))
        with open(os.path.join(d, "ids.json")) as f:
            self.main_ids = json.load(f)
        self.main_jsonl = sorted(
            os.path.join(d, "gen", x) for x in os.listdir(
                os.path.join(d, "gen")))
        self.change_sets = {n: self.changes(self.main_ids, n, "u%d" % n)
                            for n in self.fx_sizes()}
        return True

    def fx_to_cache(self):
        d = self.fx_cache_dir()
        if d is None:
            return
        log("saving the fixtures to the cache %s" % d)
        rm(d)
        os.makedirs(os.path.join(d, "gen"))
        for x in os.listdir(self.path("fx")):
            if x == "cs" or (x.startswith("p") and x[1:].isdigit()
                             and x != "p0") or x == "ps":
                subprocess.run(["cp", "-a", self.path("fx", x), d],
                               check=True)
        for p in self.main_jsonl:
            shutil.copy2(p, os.path.join(d, "gen"))
        with open(os.path.join(d, "ids.json"), "w") as f:
            json.dump(self.main_ids, f)

    # -- scenarios --

    def run_initial(self, ordered=False):
        """Initial sync of the backlog to an empty central (ordered: the
        ids in creation order, else shuffled).  The last repetition's pair
        of nodes (shuffled) becomes the synced fixture."""
        reps = []
        nrep = self.runs if "initial" in self.only else 1
        key = "initial_ordered" if ordered else "initial"
        for i in range(nrep):
            rd = self.path("r")
            rm(rd)
            os.makedirs(rd)
            copy_dir(self.path("fx", "c0"), self.path("r", "c"))
            copy_dir(self.path("fx", "p0o" if ordered else "p0"),
                     self.path("r", "p"))
            txn0 = bl.lmdb_txnid(self.path("r", "c"))
            cp, port = self.start_central(self.path("r", "c"))
            self.sampler.reset("central")
            self.sampler.watch("central", cp.session_pid)
            cpu0 = bl.tree_cpu(cp.pid)
            io0 = bl.tree_io(cp.pid)
            sc0 = bl.tree_sched(cp.pid)
            h = self.sync(self.path("r", "p"), port)
            r = self.sync_wait(h)
            cpu1 = bl.tree_cpu(cp.pid)
            io1 = bl.tree_io(cp.pid)
            sc1 = bl.tree_sched(cp.pid)
            st = bl.proc_status(cp.session_pid) or {}
            self.sampler.unwatch("central")
            pk = self.sampler.get("central")
            self.stop_central(cp)
            txn1 = bl.lmdb_txnid(self.path("r", "c"))
            r.update({
                "central_commits": commits(txn0, txn1),
                "central_commits_per_100k": per_100k(commits(txn0, txn1),
                                                     r["sent"]),
                "entries_per_s": r["sent"] / r["wall_s"],
                "central_cpu_s": cpu1 - cpu0,
                "central_us_per_entry": (cpu1 - cpu0) * 1e6 / max(1,
                                                                  r["sent"]),
                "central_hwm_kib": st.get("VmHWM", 0),
                "central_anon_peak_kib": max(pk.get("RssAnon", 0),
                                             st.get("RssAnon", 0)),
                "central_file_peak_kib": max(pk.get("RssFile", 0),
                                             st.get("RssFile", 0)),
                "bytes_out_per_entry": r["bytes_out"] / max(1, r["sent"]),
                "central_disk_write_per_entry": disk_per_entry(io0, io1,
                                                               r["sent"]),
                "central_runq_wait_s": runq_wait(sc0, sc1)})
            r.pop("t1", None)
            if r["sent"] != self.n_initial:
                raise RuntimeError("initial sync sent %d of %d entries" % (
                    r["sent"], self.n_initial))
            log("%s %d/%d: %.2f s, %.0f entries/s, central %.1f us/entry,"
                " %s B written/entry, %s commits, RSS province %.1f MiB "
                "(anon %.1f), central %.1f MiB (anon %.1f)" % (
                    key, i + 1, nrep, r["wall_s"], r["entries_per_s"],
                    r["central_us_per_entry"],
                    fmt(r["central_disk_write_per_entry"], "", 0),
                    fmt(r["central_commits"]),
                           r["rss_peak_kib"] / MIB, r["anon_peak_kib"] / MIB,
                           r["central_hwm_kib"] / MIB,
                           r["central_anon_peak_kib"] / MIB))
            reps.append(r)
            if i == nrep - 1 and not ordered:
                os.rename(self.path("r", "c"), self.path("fx", "cs"))
                os.rename(self.path("r", "p"), self.path("fx", "ps"))
            rm(rd)
        if "initial" in self.only:
            self.res["casesync"][key] = summarise(reps)
        if ordered:
            return
        # The synced central's size on disk, for the notes.
        self.res["casesync"]["store_bytes"] = {
            "province": os.path.getsize(self.path("fx", "ps", "data.mdb")),
            "central": os.path.getsize(self.path("fx", "cs", "data.mdb"))}

    def one_change_run(self, n, proxy_delay=None):
        """One sync of the n-changes fixture against a fresh copy of the
        synced central; optionally through a proxy.  Returns the metrics."""
        rd = self.path("r")
        rm(rd)
        os.makedirs(rd)
        copy_dir(self.path("fx", "cs"), self.path("r", "c"))
        copy_dir(self.path("fx", "p%d" % n), self.path("r", "p"))
        txn0 = bl.lmdb_txnid(self.path("r", "c"))
        cp, port = self.start_central(self.path("r", "c"))
        px = None
        if proxy_delay is not None:
            px = bl.Proxy(port, proxy_delay)
            self.reg.proxies.append(px)
        self.sampler.reset("central")
        self.sampler.watch("central", cp.session_pid)
        cpu0 = bl.tree_cpu(cp.pid)
        io0 = bl.tree_io(cp.pid)
        sc0 = bl.tree_sched(cp.pid)
        h = self.sync(self.path("r", "p"), px.port if px else port)
        r = self.sync_wait(h)
        cpu1 = bl.tree_cpu(cp.pid)
        io1 = bl.tree_io(cp.pid)
        sc1 = bl.tree_sched(cp.pid)
        st = bl.proc_status(cp.session_pid) or {}
        self.sampler.unwatch("central")
        pk = self.sampler.get("central")
        self.stop_central(cp)
        txn1 = bl.lmdb_txnid(self.path("r", "c"))
        r.pop("t1", None)
        r.update({"central_commits": commits(txn0, txn1),
                  "central_commits_per_100k": per_100k(commits(txn0, txn1),
                                                       n),
                  "central_cpu_s": cpu1 - cpu0,
                  "central_us_per_entry": (cpu1 - cpu0) * 1e6 / max(1, n),
                  "central_disk_write_per_entry": disk_per_entry(io0, io1,
                                                                 n),
                  "central_runq_wait_s": runq_wait(sc0, sc1),
                  "central_hwm_kib": st.get("VmHWM", 0),
                  "central_anon_peak_kib": max(pk.get("RssAnon", 0),
                                               st.get("RssAnon", 0))})
        if px:
            px.stop()
            self.reg.proxies.remove(px)
            r.update({"wire_up": px.up, "wire_down": px.down,
                      "connections": px.conns})
        if r["sent"] != n:
            raise RuntimeError("sync sent %d of %d changes" % (r["sent"], n))
        rm(rd)
        return r

    def run_changes(self, key, n):
        reps = []
        for i in range(self.runs):
            r = self.one_change_run(n)
            log("%s %d/%d: %d changes in %.3f s, %d messages, %d B out, "
                "%d B in, central %.1f us/entry" % (
                    key, i + 1, self.runs, n, r["wall_s"], r["messages"],
                    r["bytes_out"], r["bytes_in"], r["central_us_per_entry"]))
            reps.append(r)
        self.res["casesync"][key] = summarise(reps)

    def run_rt_probe(self):
        """Round trips, measured: the same sync through a proxy without and
        with RT_DELAY added each way; the extra wall time / (2 * delay) is
        the number of round trips the session waited for (TCP connect and
        the ZMTP/CURVE handshake included)."""
        out = {}
        for n in RT_SIZES:
            if n > self.n_initial:
                continue
            t0 = median([self.one_change_run(n, 0.0)["wall_s"]
                         for _ in range(self.runs)])
            rd = self.one_change_run(n, RT_DELAY)
            rt = (rd["wall_s"] - t0) / (2 * RT_DELAY)
            out[str(n)] = {"wall_s": t0, "wall_delayed_s": rd["wall_s"],
                           "round_trips": rt, "messages": rd["messages"]}
            log("round trips, %d changes: %.1f (%d messages)" % (
                n, rt, rd["messages"]))
        self.res["casesync"]["round_trips"] = {"delay_s": RT_DELAY,
                                               "sizes": out}

    def run_wire(self):
        """Bytes on the wire per entry (through a counting proxy) against
        the encoded size of the same entries in the province's log."""
        out = {}
        enc = encoded_sizes(self.path("fx", "p%d" % self.n_catchup), MAIN,
                            self.n_initial, self.n_initial + self.n_catchup)
        r = self.one_change_run(self.n_catchup, 0.0)
        n = r["sent"]
        out["catchup"] = wire_row(r, n, enc)
        if self.n_initial <= 200000 and "initial" in self.only:
            enc0 = encoded_sizes(self.path("fx", "p0"), MAIN, 0,
                                 self.n_initial)
            rd = self.path("r")
            rm(rd)
            os.makedirs(rd)
            copy_dir(self.path("fx", "c0"), self.path("r", "c"))
            copy_dir(self.path("fx", "p0"), self.path("r", "p"))
            cp, port = self.start_central(self.path("r", "c"))
            px = bl.Proxy(port, 0.0)
            self.reg.proxies.append(px)
            h = self.sync(self.path("r", "p"), px.port)
            r0 = self.sync_wait(h)
            self.stop_central(cp)
            px.stop()
            self.reg.proxies.remove(px)
            r0.update({"wire_up": px.up, "wire_down": px.down})
            out["initial"] = wire_row(r0, r0["sent"], enc0)
            rm(rd)
        for k, v in out.items():
            if v.get("record_bytes"):
                log("wire, %s: %.0f B/entry on the wire, record %.0f B "
                    "(ratio %.3f), entry alone %.0f B (ratio %.3f)" % (
                        k, v["wire_per_entry"], v["record_bytes"],
                        v["ratio_record"], v["entry_bytes"],
                        v["ratio_entry"]))
        self.res["casesync"]["wire"] = out

    def build_fanin(self):
        provs = [p for p in province_ids()][:self.fanin]
        if len(provs) < self.fanin:
            raise RuntimeError("deploy/provinces.tsv has only %d provinces"
                               % len(provs))
        self.fan_provs = provs
        self.fan_jsonl = {}
        os.makedirs(self.path("fx"), exist_ok=True)
        cdir = self.path("fx", "fc0")
        self.new_central(cdir)
        log("fan-in fixtures: %d provinces x %d cases" % (self.fanin,
                                                          self.n_fan_each))
        for name in provs:
            self.fan_jsonl[name] = self.gen(name, self.n_fan_each,
                                            "fan-" + name)
            d = self.path("fx", "f-" + name)
            self.new_province(d, name)
            self.enrol(cdir, d, name)
            self.import_files(d, self.fan_jsonl[name])

    def run_fanin(self):
        reps = []
        total = self.fanin * self.n_fan_each
        for i in range(self.runs):
            rd = self.path("r")
            rm(rd)
            os.makedirs(rd)
            copy_dir(self.path("fx", "fc0"), self.path("r", "c"))
            for name in self.fan_provs:
                copy_dir(self.path("fx", "f-" + name),
                         self.path("r", name))
            txn0 = bl.lmdb_txnid(self.path("r", "c"))
            cp, port = self.start_central(self.path("r", "c"))
            self.sampler.reset("central")
            self.sampler.watch("central", cp.session_pid)
            cpu0 = bl.tree_cpu(cp.pid)
            io0 = bl.tree_io(cp.pid)
            sc0 = bl.tree_sched(cp.pid)
            t0 = time.monotonic()
            hs = [self.sync(self.path("r", name), port, name="fan-" + name)
                  for name in self.fan_provs]
            rs = self.wait_all(hs)
            t1 = max(r["t1"] for r in rs)
            cpu1 = bl.tree_cpu(cp.pid)
            io1 = bl.tree_io(cp.pid)
            sc1 = bl.tree_sched(cp.pid)
            st = bl.proc_status(cp.session_pid) or {}
            self.sampler.unwatch("central")
            pk = self.sampler.get("central")
            self.stop_central(cp)
            txn1 = bl.lmdb_txnid(self.path("r", "c"))
            sent, resumed = self.fanin_check(self.path("r", "c"), rs)
            r = {"wall_s": t1 - t0, "entries": sent,
                 "entries_per_s": sent / (t1 - t0),
                 "slowest_province_s": max(r["wall_s"] for r in rs),
                 "fastest_province_s": min(r["wall_s"] for r in rs),
                 "central_cpu_s": cpu1 - cpu0,
                 "central_us_per_entry": (cpu1 - cpu0) * 1e6 / sent,
                 "central_disk_write_per_entry": disk_per_entry(io0, io1,
                                                                sent),
                 "central_runq_wait_s": runq_wait(sc0, sc1),
                 "central_commits": commits(txn0, txn1),
                 "central_commits_per_100k": per_100k(commits(txn0, txn1),
                                                      sent),
                 "central_hwm_kib": st.get("VmHWM", 0),
                 "central_anon_peak_kib": max(pk.get("RssAnon", 0),
                                              st.get("RssAnon", 0)),
                 "province_rss_peak_kib": max(r["rss_peak_kib"] for r in rs),
                 "province_anon_peak_kib": max(r["anon_peak_kib"]
                                               for r in rs),
                 "sessions": sum(r["sessions"] for r in rs),
                 "provinces_resumed": resumed}
            log("fan-in %d/%d: %d provinces, %d entries in %.2f s = %.0f "
                "entries/s at central (%.1f us/entry CPU)" % (
                    i + 1, self.runs, self.fanin, sent, r["wall_s"],
                    r["entries_per_s"], r["central_us_per_entry"]))
            reps.append(r)
            rm(rd)
        self.res["casesync"]["fanin"] = summarise(reps)

    def fanin_check(self, cdir, rs):
        """Every province's backlog is at central: central's vector holds
        each province's n_fan_each entries, or the bench stops (a real
        loss, or a sync that did not finish).  A province's summary counts
        as sent only what an ACK confirmed, so a session that was cut
        after central's commit and before its ACK, then resumed, reports
        fewer: that is no loss, and is counted (provinces_resumed) and
        logged.  Returns (entries central holds, provinces resumed)."""
        st = json.loads(cs("status", "-d", cdir, "--json"))
        vec = st.get("vector", {})
        short = ["%s %d" % (n, vec.get(n, 0)) for n in self.fan_provs
                 if vec.get(n, 0) != self.n_fan_each]
        if short:
            raise RuntimeError("fan-in: central holds fewer (or more) than "
                               "the %d entries of each province: %s" % (
                                   self.n_fan_each, ", ".join(short)))
        resumed = 0
        for name, r in zip(self.fan_provs, rs):
            if r["sessions"] > 1 or r["sent"] != self.n_fan_each:
                resumed += 1
                log("fan-in: %s took %d sessions; its summary counts %d "
                    "sent, central holds all %d" % (
                        name, r["sessions"], r["sent"], self.n_fan_each))
        return sum(vec[n] for n in self.fan_provs), resumed

    # -- PostgreSQL --

    def run_pg(self):
        bindir = pgrepl.ensure_installed(log)
        if bindir is None:
            self.res["postgresql"] = {"skipped": "PostgreSQL 15 not "
                                      "available (see the log)"}
            return
        pg = pgrepl.PG(self.reg, bindir, self.tmp, bl.free_port, log)
        out = self.res["postgresql"]
        out["version"] = subprocess.run(
            [os.path.join(bindir, "postgres"), "--version"],
            capture_output=True, text=True).stdout.strip()
        need_main = self.only & {"initial", "nightly", "catchup"}
        if need_main:
            csvp = self.path("gen", "main.csv")
            pgrepl.write_csv(self.main_jsonl, csvp)
            log("PostgreSQL: publisher with %d documents" % self.n_initial)
            sub = pg.subscriber("central", 2)
            nrep = self.runs if "initial" in self.only else 1
            if "initial" in self.only:
                # The same documents, ids in creation order (as casesync's
                # initial_ordered): a publisher of its own, stopped after.
                csvo = self.path("gen", "main-sorted.csv")
                pgrepl.write_csv([self.main_sorted], csvo)
                pubo = pg.publisher("province-ordered", csvo)
                reps = []
                for i in range(nrep):
                    dt, name = pg.initial(pubo, sub, self.n_initial)
                    log("PostgreSQL initial copy, ids in creation order "
                        "%d/%d: %.2f s" % (i + 1, nrep, dt))
                    reps.append({"wall_s": dt,
                                 "entries_per_s": self.n_initial / dt})
                    pg.drop(sub, name)
                out["initial_ordered"] = summarise(reps)
                pubo.stop()
            pub = pg.publisher("province", csvp)
            reps = []
            name = None
            for i in range(nrep):
                dt, name = pg.initial(pub, sub, self.n_initial)
                log("PostgreSQL initial copy %d/%d: %.2f s (%.0f rows/s)" % (
                    i + 1, nrep, dt, self.n_initial / dt))
                reps.append({"wall_s": dt,
                             "entries_per_s": self.n_initial / dt})
                if i < nrep - 1:
                    pg.drop(sub, name)
            if "initial" in self.only:
                out["initial"] = summarise(reps)
            pg.add_marker(pub, sub)
            for key, n in (("nightly", self.n_nightly),
                           ("catchup", self.n_catchup)):
                if key not in self.only:
                    continue
                sqlp = self.path("gen", "pg-%s.sql" % key)
                pgrepl.write_updates_sql(self.changes(self.main_ids, n,
                                                      "u%d" % n), sqlp)
                reps = []
                for i in range(self.runs):
                    whole, apply_ = pg.catchup(pub, sub, name, sqlp)
                    log("PostgreSQL %s %d/%d: %d changes, whole %.3f s, "
                        "apply phase %.3f s" % (key, i + 1, self.runs, n,
                                                whole, apply_))
                    reps.append({"wall_s": whole, "apply_s": apply_})
                out[key] = summarise(reps)
            pub.stop()
            sub.stop()
        if "fanin" in self.only:
            pubs = []
            total = 0
            for name in self.fan_provs:
                csvp = self.path("gen", "fan-%s.csv" % name)
                total += pgrepl.write_csv(self.fan_jsonl[name], csvp)
                pubs.append(pg.publisher("fan-" + name, csvp,
                                         shared_buffers="32MB"))
            sub = pg.subscriber("fan-central", len(pubs))
            log("PostgreSQL fan-in: %d publishers x %d documents" % (
                len(pubs), self.n_fan_each))
            reps = []
            for i in range(self.runs):
                dt = pg.fanin(pubs, sub, total)
                log("PostgreSQL fan-in %d/%d: %.2f s (%.0f rows/s)" % (
                    i + 1, self.runs, dt, total / dt))
                reps.append({"wall_s": dt, "entries_per_s": total / dt})
            out["fanin"] = summarise(reps)
            for c in pubs + [sub]:
                c.stop()

    # -- the whole run --

    def run(self):
        base = env("BENCH_TMP", tempfile.gettempdir())
        self.tmp = tempfile.mkdtemp(prefix="casesync-bench-", dir=base)
        os.chmod(self.tmp, 0o755)
        if not self.a.keep:
            self.reg.dirs.append(self.tmp)
        os.makedirs(self.path("gen"))
        # Our own copy of the binary: a rebuild of build/casesync while the
        # bench runs (make check in another terminal) must not mix builds.
        global BIN
        shutil.copy2(BIN, self.path("casesync"))
        BIN = self.path("casesync")
        self.sampler = bl.Sampler()
        log("casesync bench: scale %g (%d cases), %d runs each, fan-in %d, "
            "in %s" % (self.scale, self.n_initial, self.runs, self.fanin,
                       self.tmp))
        if self.runs < 3:
            self.res["notes"].append("fewer than 3 runs per scenario: "
                                     "development figures only")
        main_needed = self.only & {"initial", "nightly", "catchup", "wire"}
        if main_needed:
            if not self.fx_from_cache():
                self.build_main()
                if "initial" in self.only:
                    self.run_initial(ordered=True)
                self.run_initial()
                if self.only & {"nightly", "catchup", "wire"}:
                    self.build_changes()
                self.fx_to_cache()
            if "nightly" in self.only:
                self.run_changes("nightly", self.n_nightly)
                self.run_rt_probe()
            if "catchup" in self.only:
                self.run_changes("catchup", self.n_catchup)
            if "wire" in self.only:
                self.run_wire()
            # The fixtures of the single link are no longer needed.
            for d in os.listdir(self.path("fx")):
                if not d.startswith("f"):
                    rm(self.path("fx", d))
        if "fanin" in self.only:
            self.build_fanin()
            self.run_fanin()
        if self.a.pg:
            self.run_pg()
        else:
            self.res["postgresql"] = {"skipped": "BENCH_PG=0 / --no-pg"}
        self.sampler.stop()


# ---- results ---------------------------------------------------------------------

def median(xs):
    return bl.median(xs)


def summarise(reps):
    """Median of every numeric field, and the raw repetitions."""
    keys = [k for k in reps[0] if isinstance(reps[0][k], (int, float))]
    med = {k: median([r.get(k) for r in reps]) for k in keys}
    return {"median": med, "runs": reps}


def encoded_sizes(pdir, origin, lo, hi):
    """Sizes of the log records (origin, seq) with lo < seq <= hi as
    `casesync` encodes them (record = [1, entry, signature block]), from
    mdb_dump of the log: each value is the record sealed with AES-256-GCM
    (12-byte nonce + 16-byte tag).  None when mdb_dump is missing."""
    try:
        p = subprocess.Popen(["mdb_dump", "-s", "log", pdir],
                             stdout=subprocess.PIPE, text=True)
    except OSError:
        return None
    prefix = origin.encode().hex() + "00"
    rec = ent = n = 0
    key = None
    data = False
    for line in p.stdout:
        if not data:
            data = line.startswith("HEADER=END")
            continue
        if line.startswith("DATA=END"):
            break
        h = line.strip()
        if key is None:
            key = h
            continue
        if key.startswith(prefix) and len(key) == len(prefix) + 16:
            seq = int(key[len(prefix):], 16)
            if lo < seq <= hi:
                r = len(h) // 2 - 28
                # fixarray, version, bin header, entry, bin8 header, 96.
                e = r - 2 - 2 - 96
                e -= 2 if e < 256 else (3 if e < 65536 else 5)
                rec += r
                ent += e
                n += 1
        key = None
    p.wait()
    if n == 0:
        return None
    return {"n": n, "record_bytes": rec / n, "entry_bytes": ent / n}


def commits(txn0, txn1):
    """LMDB write transactions committed between two reads of the last
    transaction id (None when mdb_stat is missing)."""
    if txn0 is None or txn1 is None:
        return None
    return txn1 - txn0


def per_100k(x, n):
    return None if x is None or n == 0 else x * 100000.0 / n


def disk_per_entry(io0, io1, n):
    """Bytes central passed to write calls per entry (wchar of /proc/PID/io:
    LMDB's page writes, plus the few bytes of its ACKs).  The kernel's
    write_bytes is not used: on this virtual disk it counted 15x what the
    pwrite calls wrote."""
    if "wchar" not in io0 or "wchar" not in io1 or n == 0:
        return None
    return (io1["wchar"] - io0["wchar"]) / n


def runq_wait(sc0, sc1):
    """Seconds central was ready to run but waited for a CPU."""
    if sc0 is None or sc1 is None:
        return None
    return sc1[1] - sc0[1]


def wire_row(r, n, enc):
    row = {"entries": n, "wire_up": r["wire_up"], "wire_down": r["wire_down"],
           "wire_per_entry": (r["wire_up"] + r["wire_down"]) / n,
           "summary_per_entry": (r["bytes_out"] + r["bytes_in"]) / n}
    if enc:
        row.update({"record_bytes": enc["record_bytes"],
                    "entry_bytes": enc["entry_bytes"],
                    "ratio_record": row["wire_per_entry"] /
                    enc["record_bytes"],
                    "ratio_entry": row["wire_per_entry"] /
                    enc["entry_bytes"]})
    return row


def g(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def fmt(v, unit="", prec=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%." + str(prec) + "f%s") % (v, unit)
    return "%s%s" % (v, unit)


def report(res):
    """The terminal table and the target checks (also stored in res)."""
    c, p, cfg = res["casesync"], res["postgresql"], res["config"]
    rows = []
    targets = []

    def ratio(a, b):
        return a / b if a is not None and b else None

    def add(name, cval, pval, unit, prec=2, cmp_=True):
        r = ratio(cval, pval) if cmp_ else None
        rows.append([name, fmt(cval, unit, prec), fmt(pval, unit, prec),
                     fmt(r, "", 3)])
        return r

    ini = g(c, "initial", "median")
    pini = g(p, "initial", "median")
    if ini:
        n = cfg["n_initial"]
        r = add("initial sync %d: seconds" % n, ini["wall_s"],
                g(pini, "wall_s"), " s")
        add("initial sync: entries/s", ini["entries_per_s"],
            g(pini, "entries_per_s"), "", 0)
        add("initial: central CPU per entry", ini["central_us_per_entry"],
            None, " us", 1, False)
        add("initial: central disk writes per entry",
            ini.get("central_disk_write_per_entry"), None, " B", 0, False)
        add("initial: central CPU / waiting for a CPU", None, None, "")
        rows[-1][1] = "%.1f s / %s" % (ini["central_cpu_s"], fmt(
            ini.get("central_runq_wait_s"), " s", 1))
        add("initial: province peak RSS total (anon)", None, None, "")
        rows[-1][1] = "%.1f (%.1f) MiB" % (ini["rss_peak_kib"] / MIB,
                                           ini["anon_peak_kib"] / MIB)
        add("initial: central peak RSS total (anon)", None, None, "")
        rows[-1][1] = "%.1f (%.1f) MiB" % (ini["central_hwm_kib"] / MIB,
                                           ini["central_anon_peak_kib"] / MIB)
        add("initial: central commits per 100k entries",
            ini.get("central_commits_per_100k"), None, "", 0, False)
        targets.append(("initial sync (ids shuffled) <= 0.5x PostgreSQL's "
                        "initial copy", None if r is None else r <= 0.5,
                        "casesync/PG = %s" % fmt(r, "", 3)))
        targets.append(("central CPU <= 15 us per new case",
                        ini["central_us_per_entry"] <= 15,
                        "%.1f us (ids shuffled)" %
                        ini["central_us_per_entry"]))
        wpe = ini.get("central_disk_write_per_entry")
        targets.append(("<= 4 KB written per new case",
                        None if wpe is None else wpe <= 4096,
                        "%s B (ids shuffled)" % fmt(wpe, "", 0)))
        ino = g(c, "initial_ordered", "median")
        if ino:
            ro = add("initial sync, ids in creation order: seconds",
                     ino["wall_s"], g(p, "initial_ordered", "median",
                                      "wall_s"), " s")
            add("initial, creation order: central CPU per entry",
                ino["central_us_per_entry"], None, " us", 1, False)
            add("initial, creation order: central writes per entry",
                ino.get("central_disk_write_per_entry"), None, " B", 0,
                False)
            add("initial, creation order: commits per 100k entries",
                ino.get("central_commits_per_100k"), None, "", 0, False)
            targets.append(("initial sync (ids in creation order) <= 0.5x "
                            "PostgreSQL's", None if ro is None else
                            ro <= 0.5, "casesync/PG = %s; %.1f us/entry, "
                            "%s B written/entry" % (
                                fmt(ro, "", 3), ino["central_us_per_entry"],
                                fmt(ino.get("central_disk_write_per_entry"),
                                    "", 0))))
        big = n >= 1000000
        worst_anon = max(ini["anon_peak_kib"], ini["central_anon_peak_kib"])
        worst_tot = max(ini["rss_peak_kib"], ini["central_hwm_kib"])
        targets.append(("peak RSS either side < 64 MiB for a 1M backlog",
                        (worst_anon < 64 * MIB) if big else None,
                        "%s: anon %.1f MiB, total incl. LMDB file pages "
                        "%.1f MiB" % ("1M backlog" if big else
                                      "measured at %d only (BENCH_SCALE=10 "
                                      "for 1M)" % n, worst_anon / MIB,
                                      worst_tot / MIB)))
    ni = g(c, "nightly", "median")
    pni = g(p, "nightly", "median")
    if ni:
        n = cfg["n_nightly"]
        add("nightly %d changes: seconds" % n, ni["wall_s"],
            g(pni, "wall_s"), " s", 3)
        add("nightly: PG apply phase only", ni["wall_s"],
            g(pni, "apply_s"), " s", 3)
        add("nightly: messages", ni["messages"], None, "", 0, False)
        add("nightly: bytes out / in", None, None, "")
        rows[-1][1] = "%d / %d" % (ni["bytes_out"], ni["bytes_in"])
        rt = g(c, "round_trips", "sizes") or {}
        rts = {k: v["round_trips"] for k, v in rt.items()}
        for k in sorted(rts, key=int):
            add("round trips, %s changes (measured)" % k, rts[k], None, "", 1,
                False)
            rows[-1][1] += " (%d msgs)" % rt[k]["messages"]
        # Constant: the sizes that fit one batch must wait for the same
        # number of round trips.  Larger ones are shown too, but with
        # 100 ms of round-trip time a transfer of megabytes also waits for
        # TCP slow start, whatever the protocol does (docs/PERFORMANCE.md).
        small = [v for k, v in rts.items() if int(k) <= 1024]
        const = (max(small) - min(small) < 1.0) if len(small) > 1 else None
        targets.append(("nightly: constant round trips, < 100 ms on loopback",
                        None if const is None else
                        (const and ni["wall_s"] < 0.1),
                        "%.0f ms; round trips measured %s (larger sizes add "
                        "TCP slow start)" % (
                            ni["wall_s"] * 1000, ", ".join(
                                "%s: %.1f" % (k, rts[k])
                                for k in sorted(rts, key=int)))))
    cu = g(c, "catchup", "median")
    pcu = g(p, "catchup", "median")
    if cu:
        n = cfg["n_catchup"]
        r1 = add("catch-up %d changes: seconds" % n, cu["wall_s"],
                 g(pcu, "wall_s"), " s", 3)
        r2 = add("catch-up vs PG apply phase only", cu["wall_s"],
                 g(pcu, "apply_s"), " s", 3)
        add("catch-up: central CPU per entry", cu["central_us_per_entry"],
            None, " us", 1, False)
        add("catch-up: central disk writes per entry",
            cu.get("central_disk_write_per_entry"), None, " B", 0, False)
        add("catch-up: central commits per 100k entries",
            cu.get("central_commits_per_100k"), None, "", 0, False)
        add("catch-up: central CPU / waiting for a CPU", None, None, "")
        rows[-1][1] = "%.2f s / %s" % (cu["central_cpu_s"], fmt(
            cu.get("central_runq_wait_s"), " s", 2))
        targets.append(("catch-up <= 0.25x PG's whole catch-up",
                        None if r1 is None else r1 <= 0.25,
                        "casesync/PG = %s" % fmt(r1, "", 3)))
        targets.append(("catch-up <= 0.5x PG's apply phase",
                        None if r2 is None else r2 <= 0.5,
                        "casesync/PG = %s" % fmt(r2, "", 3)))
        targets.append(("central CPU <= 10 us per update",
                        cu["central_us_per_entry"] <= 10,
                        "%.1f us" % cu["central_us_per_entry"]))
    fi = g(c, "fanin", "median")
    pfi = g(p, "fanin", "median")
    if fi:
        k = cfg["fanin"]
        add("fan-in %d x %d: seconds" % (k, cfg["n_fanin_each"]),
            fi["wall_s"], g(pfi, "wall_s"), " s")
        add("fan-in: entries/s at central", fi["entries_per_s"],
            g(pfi, "entries_per_s"), "", 0)
        add("fan-in: central CPU per entry", fi["central_us_per_entry"],
            None, " us", 1, False)
        add("fan-in: central commits per 100k entries",
            fi.get("central_commits_per_100k"), None, "", 0, False)
        add("fan-in: central CPU / waiting for a CPU", None, None, "")
        rows[-1][1] = "%.1f s / %s" % (fi["central_cpu_s"], fmt(
            fi.get("central_runq_wait_s"), " s", 1))
        add("fan-in: central peak RSS total (anon)", None, None, "")
        rows[-1][1] = "%.1f (%.1f) MiB" % (fi["central_hwm_kib"] / MIB,
                                           fi["central_anon_peak_kib"] / MIB)
        # Sessions over all provinces and repetitions: one each when no
        # province restarted its session (docs/PROTOCOL.md, "Liveness").
        reps = g(c, "fanin", "runs") or []
        add("fan-in: sessions (provinces resumed), all runs", None, None, "")
        rows[-1][1] = "%d (%d) for %d syncs" % (
            sum(r.get("sessions", 0) for r in reps),
            sum(r.get("provinces_resumed", 0) for r in reps),
            k * len(reps))
    w = g(c, "wire") or {}
    for key in ("initial", "catchup"):
        v = w.get(key)
        if not v:
            continue
        add("wire bytes/entry, %s" % key, v["wire_per_entry"], None, " B", 0,
            False)
        if v.get("record_bytes"):
            rows[-1][1] += " (%.3fx record, %.3fx entry)" % (
                v["ratio_record"], v["ratio_entry"])
    if w:
        worst = max((v.get("ratio_record") or 0) for v in w.values())
        worst_e = max((v.get("ratio_entry") or 0) for v in w.values())
        targets.append(("wire bytes per entry within 1.15x of the encoded "
                        "entry", worst and worst <= 1.15,
                        "%.3fx the signed record, %.3fx the entry without "
                        "its 96-byte signature block" % (worst, worst_e)))
    res["targets"] = [{"target": t, "met": m, "detail": d}
                      for t, m, d in targets]
    lines = [bl.table(rows, ["scenario (median of %d)" % cfg["runs"],
                             "casesync", "PostgreSQL", "cs/PG"])]
    if p.get("skipped"):
        lines.append("PostgreSQL half skipped: " + p["skipped"])
    lines.append("")
    for t, m, d in targets:
        lines.append("%-9s %s: %s" % ({True: "MET", False: "MISSED",
                                       None: "n/a"}[m], t, d))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="casesync benchmarks (issue 7); see docs/PERFORMANCE.md",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float,
                    default=float(env("BENCH_SCALE", "1")))
    ap.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", "3")))
    ap.add_argument("--fanin", type=int, default=None)
    ap.add_argument("--no-pg", dest="pg", action="store_false",
                    default=env("BENCH_PG", "1") != "0")
    ap.add_argument("--only", default=env("BENCH_ONLY", ",".join(SCENARIOS)))
    ap.add_argument("--out", default=env("BENCH_OUT", os.path.join(
        ROOT, "build", "bench.json")))
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary folder (debugging)")
    a = ap.parse_args(argv)
    if a.fanin is None:
        a.fanin = int(env("BENCH_FANIN", "34" if a.scale >= 10 else "8"))
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in a.only if s not in SCENARIOS]
    if bad or a.runs < 1 or a.scale <= 0 or a.fanin < 1:
        ap.error("bad --only %s / --runs / --scale / --fanin" % bad)
    if not os.access(BIN, os.X_OK):
        ap.error("%s not found: run make first" % BIN)
    bl.on_signals()
    b = Bench(a)
    try:
        b.run()
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        if b.sampler:
            b.sampler.stop()
        b.reg.cleanup()
        if a.keep and b.tmp:
            log("kept %s" % b.tmp)
    try:
        b.res["machine"]["loadavg_at_end"] = " ".join(
            open("/proc/loadavg").read().split()[:3])
    except OSError:
        pass
    text = report(b.res)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(b.res, f, indent=1, sort_keys=True)
    print(text)
    print("\nmachine: %s x %s, kernel %s, load average at start %s, at end "
          "%s" % (b.res["machine"]["nproc"], b.res["machine"]["cpu"],
                  b.res["machine"]["kernel"],
                  b.res["machine"]["loadavg_at_start"],
                  b.res["machine"].get("loadavg_at_end", "?")))
    print("results: %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
