#!/usr/bin/env python3
"""casesync chaos campaign: seeded rounds of a real cluster under faults.

    python3 tests/chaos/campaign.py [--seed N] [--rounds N] [--seconds N]
                                    [--provinces N] [--workers N] [--keep]
    make chaos [SEED=n] [ROUNDS=n] [SECONDS=n]

Round i runs with seed SEED+i: central and --provinces provinces (real
`casesync serve` processes on 127.0.0.1, each province behind its own
fault-injecting proxy and on its own tmpfs), a random workload for
--seconds while faults drawn from the seed hit the nodes, then heal,
converge and check (tests/chaos/checks.py).  One line per round, then a
summary.  A failing round prints its seed, the command that replays it,
its fault schedule and its problems, and keeps its files.

See docs/RELIABILITY.md.
"""
import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "it"))
sys.path.insert(0, HERE)

import harness                                   # noqa: E402
from cluster import Cluster, province_ids, snapshot_binary  # noqa: E402
from workload import Ledger, Workload            # noqa: E402
from faults import KINDS, Injector, heal, make_schedule   # noqa: E402
from checks import Checker, converge             # noqa: E402
from byzantine import Byzantine                  # noqa: E402


class Cron:
    """The nightly `sync` of the provinces that do not run `serve`,
    compressed: one at a time, every fraction of a second."""

    def __init__(self, cl, seed, inj):
        self.cl = cl
        self.inj = inj
        self.rng = random.Random("%s/cron" % seed)
        self._stop = threading.Event()
        self.t = None
        self.runs = 0

    def run(self):
        crons = [m for m in self.cl.provinces if m.mode == "cron"]
        while not self._stop.is_set():
            self.cl.watchdog(self.inj.note, self.inj.count)
            if not crons:
                self._stop.wait(0.5)
                continue
            m = self.rng.choice(crons)
            try:
                m.node.sync(8)
            except Exception:
                pass
            self.runs += 1
            self._stop.wait(self.rng.uniform(0.1, 0.8))

    def start(self):
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def stop(self):
        self._stop.set()
        if self.t:
            self.t.join(60)


def replay_cmd(seed, seconds, nprov, workers):
    extra = ""
    if nprov != 6 or workers != 3:
        extra = " (python3 tests/chaos/campaign.py --seed %d --rounds 1 " \
            "--seconds %s --provinces %d --workers %d)" % (
                seed, seconds, nprov, workers)
    return "make chaos SEED=%d ROUNDS=1 SECONDS=%s%s" % (seed, seconds, extra)


def run_round(seed, seconds=20, nprov=6, workers=3, keep=False, log=print,
              verbose=False, byzantine=True):
    """One round.  Returns a dict: ok, seed, faults (by kind), metrics,
    converge_s, problems, schedule, tmp, wall_s."""
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="casesync-chaos-%d-" % seed)
    env = harness.Env(tmp)
    for k in harness.replaced:
        harness.replaced[k] = 0
    res = {"seed": seed, "ok": False, "faults": {}, "metrics": {},
           "converge_s": None, "problems": [], "schedule": [], "tmp": tmp,
           "notes": [], "replay": replay_cmd(seed, seconds, nprov, workers)}
    try:
        rng = random.Random("%s/cluster" % seed)
        cl = Cluster(env, rng, nprov)
        cl.start()
        lg = Ledger(seed)
        wl = Workload(cl, lg, seed, workers)
        events = make_schedule(seed, seconds, [m.name for m in cl.provinces])
        res["schedule"] = [repr(e) for e in events]
        if not cl.mount_ok:
            res["notes"].append("tmpfs mount not permitted: disk_full "
                                "cannot be exercised")
        inj = Injector(cl, wl, lg, events, tmp)
        cron = Cron(cl, seed, inj)
        byz = None
        if byzantine:
            # An enrolled province in an attacker's hands (issue 18).
            taken = {m.name for m in cl.provinces}
            name = next(n for n in province_ids() if n not in taken)
            byz = cl.byzantine = Byzantine(cl, lg, seed, name)
        wl.start()
        inj.start()
        cron.start()
        if byz:
            byz.start()
        time.sleep(seconds)
        if byz:
            byz.stop()
            res["byzantine"] = dict(byz.counts)
            res["rss_peak_mb"] = byz.rss_peak_kb / 1024.0
        inj.stop()
        wl.stop()
        cron.stop()
        cl.watchdog(inj.note, inj.count)
        t_heal = time.monotonic()
        heal(cl)
        for m in cl.provinces:
            m.stop()
        t_c0 = time.monotonic()
        t_conv, passes, cproblems = converge(cl)
        # Session processes that `serve` replaced, from its logs (those
        # of `sync` were counted as each command ended).
        for m in cl.all():
            try:
                with open(os.path.join(tmp, m.name + ".log"),
                          errors="replace") as f:
                    harness.note_replaced(f.read())
            except OSError:
                pass
        for k, v in harness.replaced.items():
            if v:
                inj.count("replaced:" + k, v)
        res["faults"] = dict(inj.counts)
        res["notes"] += inj.notes
        problems = list(inj.errors) + ["workload: " + e for e in wl.errors]
        if byz:
            problems += ["byzantine: " + e for e in byz.errors]
        if inj.counts.get("died:self"):
            # A casesync process that died by itself: a crash to look
            # into (a session process libzmq aborted is replaced by its
            # parent and counted as replaced:libzmq instead).
            problems += [n for n in inj.notes if "exited by itself" in n]
        if inj.counts.get("replaced:other"):
            problems.append("%d session processes died of a signal other "
                            "than libzmq's abort (see the node logs in %s)"
                            % (inj.counts["replaced:other"], tmp))
        if t_conv is None:
            problems.append("no convergence after %d passes: %s" % (
                passes, "; ".join(cproblems)))
            kinds = {"converge": 1}
            metrics = {}
        else:
            res["converge_s"] = (t_c0 - t_heal) + t_conv
            ck = Checker(cl, lg)
            metrics, cp, kinds = ck.run(tmp)
            problems += cp
        res["metrics"] = metrics
        res["kinds"] = kinds
        res["problems"] = problems
        res["passes"] = passes
        res["ops"] = dict(wl.ops)
        res["ok"] = not problems
    except Exception as e:
        res["problems"].append("campaign error: %s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc()))
    finally:
        if (keep or not res["ok"]) and "lg" in locals():
            # The ledger, for the post-mortem: one write per line.
            with open(os.path.join(tmp, "ledger.jsonl"), "w") as f:
                for w in lg.writes:
                    f.write(json.dumps({
                        "kind": w.kind, "node": w.node, "case": w.case,
                        "tokens": w.tokens, "rc": w.rc, "tainted": w.tainted,
                        "t0": w.t0, "t1": w.t1, "err": w.err.strip()}) + "\n")
        if not res["ok"]:
            # The provinces' directories live on tmpfs mounts that
            # cleanup() unmounts: keep a copy for the post-mortem.
            for m in getattr(locals().get("cl"), "provinces", []):
                if m.fs:
                    for q in cl.all():
                        q.resume()
                    shutil.copytree(m.node.dir, os.path.join(
                        tmp, "kept-" + m.name), dirs_exist_ok=True)
        harness.cleanup()
    res["wall_s"] = time.monotonic() - t_start
    if res["ok"] and not keep:
        harness.rmtree(tmp)
    return res


def fmt_faults(f):
    return ", ".join("%s %d" % (k, f[k]) for k in KINDS if f.get(k)) or "none"


def round_line(i, r):
    m = r["metrics"]
    return ("round %d seed %d: %s  faults %d  acked %s lost %s dup %s "
            "diverged %s refused-ok %s restore-lost %s converge %s%s  "
            "(%.0f s)" % (
                i, r["seed"], "ok  " if r["ok"] else "FAIL",
                sum(v for k, v in r["faults"].items() if ":" not in k),
                m.get("acked", "-"), m.get("lost", "-"), m.get("dup", "-"),
                m.get("diverged", "-"), m.get("refused_ok", "-"),
                m.get("restore_lost", "-"),
                ("%.1fs" % r["converge_s"]) if r["converge_s"] is not None
                else "never",
                ("  central RSS peak %.0f MB" % r["rss_peak_mb"])
                if r.get("rss_peak_mb") else "", r["wall_s"]))


def report_failure(r, out=print):
    # The problems come first: a CI log that keeps only the start of a
    # long failure still shows what went wrong.
    out("  seed %d failed; replay with: %s" % (r["seed"], r["replay"]))
    out("  problems (%d):" % len(r["problems"]))
    for p in r["problems"][:40]:
        out("    " + p.replace("\n", "\n    "))
    out("  files kept in %s" % r["tmp"])
    out("  fault schedule:")
    for e in r["schedule"]:
        out("    " + e)


def campaign(seed, rounds, seconds, nprov=6, workers=3, keep=False,
             out=print, verbose=False, byzantine=True):
    t0 = time.monotonic()
    results = []
    bindir = tempfile.mkdtemp(prefix="casesync-chaos-bin-")
    snapshot_binary(bindir)
    out("chaos campaign: seed %d, %d rounds of %s s, central + %d provinces"
        % (seed, rounds, seconds, nprov))
    for i in range(rounds):
        r = run_round(seed + i, seconds, nprov, workers, keep,
                      byzantine=byzantine)
        results.append(r)
        out(round_line(i, r))
        if verbose:
            out("  faults: %s" % ", ".join("%s %d" % kv for kv in
                                           sorted(r["faults"].items())))
            out("  ops: %s" % r.get("ops"))
            for n in r["notes"]:
                out("  note: " + n)
        if not r["ok"]:
            report_failure(r, out)
    # Summary.
    faults, eff = {}, {}
    tot = {"acked": 0, "lost": 0, "dup": 0, "diverged": 0, "refused_ok": 0,
           "leaks": 0, "refused_applied": 0, "rejected_applied": 0,
           "unacked_present": 0, "unacked_absent": 0, "restore_lost": 0,
           "refused_unproven": 0}
    conv = []
    for r in results:
        for k, v in r["faults"].items():
            (eff if ":" in k else faults)[k] = \
                (eff if ":" in k else faults).get(k, 0) + v
        for k in tot:
            tot[k] += r["metrics"].get(k, 0) or 0
        if r["converge_s"] is not None:
            conv.append(r["converge_s"])
    failed = [r for r in results if not r["ok"]]
    out("")
    out("summary: seed %d, %d rounds of %s s, %d passed, %d failed (%.0f s)"
        % (seed, rounds, seconds, len(results) - len(failed), len(failed),
           time.monotonic() - t0))
    out("  faults injected: %d (%s)" % (sum(faults.values()),
                                        fmt_faults(faults)))
    if eff:
        out("  links: %d connections cut, %d bytes corrupted in flight" % (
            eff.get("cut:connections", 0), eff.get("corrupt:bytes", 0)))
    out("  casesync processes that died by themselves: %d; session "
        "processes replaced after libzmq's abort (zeromq/libzmq#4841): %d, "
        "after another signal: %d" % (
            eff.get("died:self", 0), eff.get("replaced:libzmq", 0),
            eff.get("replaced:other", 0)))
    missing = [k for k in KINDS if not faults.get(k)]
    if missing:
        out("  fault kinds never exercised: %s" % ", ".join(missing))
    ops = {}
    for r in results:
        for k, v in r.get("ops", {}).items():
            ops[k] = ops.get(k, 0) + v
    out("  workload operations: %s" % ", ".join(
        "%s %d" % (k, ops[k]) for k in sorted(ops)))
    out("  writes acknowledged %d, lost %d, duplicates %d, diverged cases "
        "%d" % (tot["acked"], tot["lost"], tot["dup"], tot["diverged"]))
    out("  refused as they should be (clock ahead / not the owner / a "
        "restored province's stale view), each on record in a refused "
        "table %d, refused yet not refused (counted lost) %d, refused yet "
        "applied %d, rejected yet applied %d, identifying values in clear "
        "%d" % (tot["refused_ok"], tot["refused_unproven"],
                tot["refused_applied"], tot["rejected_applied"],
                tot["leaks"]))
    out("  lost in a restore (written after the backup, reached no other "
        "node): %d" % tot["restore_lost"])
    out("  killed imports: %d cases committed, %d not" % (
        tot["unacked_present"], tot["unacked_absent"]))
    byz = {}
    for r in results:
        for k, v in r.get("byzantine", {}).items():
            byz[k] = byz.get(k, 0) + v
    if byz:
        out("  byzantine province: %s" % ", ".join(
            "%s %d" % kv for kv in sorted(byz.items())))
        out("  central's RSS peak during the rounds: %.0f MB" % max(
            r.get("rss_peak_mb", 0) for r in results))
    if conv:
        conv.sort()
        out("  seconds to converge after heal: median %.1f, max %.1f" % (
            conv[len(conv) // 2], conv[-1]))
    for r in failed:
        out("  FAILED seed %d: %s" % (r["seed"], r["replay"]))
    shutil.rmtree(bindir, ignore_errors=True)
    return results, not failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--provinces", type=int, default=6)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="print each round's faults, operations and notes")
    ap.add_argument("--no-byzantine", action="store_true",
                    help="leave out the Byzantine province")
    ap.add_argument("--keep", action="store_true",
                    help="keep the files of passing rounds too")
    a = ap.parse_args()
    secs = int(a.seconds) if a.seconds == int(a.seconds) else a.seconds

    def out(s):
        print(s, flush=True)

    # Stop cleanly (processes killed, tmpfs unmounted: run_round's
    # finally) on SIGTERM, and on SIGINT even when started in the
    # background, where the shell ignores it.
    def stop(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _, ok = campaign(a.seed, a.rounds, secs, a.provinces, a.workers, a.keep,
                     out, a.verbose, not a.no_byzantine)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
