"""Central's checking thread (apply_pipeline, docs/PERFORMANCE.md, "The
two-thread pipeline"): the same fan-in into two copies of one central,
with the thread and without, gives the same store, answer for answer."""
import json
import os
import re
import shutil
import subprocess

from harness import check, ok
from test_sync import import_cases, verify_all

NAMES = ["lao-cai", "ha-noi", "an-giang", "ca-mau"]


def sync_all(provs):
    """Every province syncs at once; returns their summaries."""
    procs = [p.popen("sync", "--timeout", "120", stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True) for p in provs]
    outs = []
    for p, pr in zip(provs, procs):
        out, err = pr.communicate(timeout=240)
        check(pr.returncode == 0, "%s: rc %s %r" % (p.name, pr.returncode,
                                                     err))
        m = re.search(r"sent \d+, received \d+, refused \d+", out)
        check(m is not None, "%s: %r" % (p.name, out))
        outs.append(m.group(0))
    return outs


def views(c):
    """What central answers: verify, the case list, every case (export,
    and `case get` of some), the report (text and JSON), its counts."""
    v = {"verify": ok(c.verify()).out,
         "list": ok(c.cli("case", "list", "--json")).out,
         "export": ok(c.cli("export")).out,
         "report": ok(c.cli("report")).out,
         "report_json": ok(c.cli("report", "--format", "json")).out}
    st = c.status()
    v["counts"] = (st["cases"], st["entries"], st["vector"])
    for cid in sorted(x["id"] for x in json.loads(v["list"]))[::500]:
        v["case " + cid] = ok(c.cli("case", "get", cid)).out
    return v


def swap(a, b):
    tmp = a + ".swap"
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)


def test_pipeline_matches(env):
    """Four provinces' backlogs (3 batches each) and then updates, synced
    at once into central with apply_pipeline = on, and the same into a
    copy of central and the provinces with it off: central's verify,
    case list, every case, report and counts are identical, and so are
    the provinces' sync summaries."""
    c = env.central()
    provs = [env.province(n, c) for n in NAMES]
    for k, p in enumerate(provs):
        import_cases(p, 2100 + 100 * k)
    # Two worlds from one start: the copies wait beside the originals.
    dirs = [c.dir] + [p.dir for p in provs]
    for d in dirs:
        shutil.copytree(d, d + ".off")
    got = {}
    for mode in ("on", "off"):
        if mode == "off":
            for d in dirs:
                swap(d, d + ".off")
        c.set_conf("apply_pipeline", mode)
        logp = os.path.join(env.tmp, "central.log")
        seen = os.path.getsize(logp) if os.path.exists(logp) else 0
        c.start()
        sums = sync_all(provs)
        # Updates after the backlog: entries on cases central holds.
        for p in provs:
            upd = "".join(json.dumps({"id": cid, "status": "closed"}) +
                          "\n" for cid in sorted(p.ids())[:300])
            ok(p.cli("import", "-", stdin=upd))
        sums += sync_all(provs)
        c.stop()
        with open(logp, errors="replace") as f:
            f.seek(seen)
            log = f.read()
        check("cannot start the checking thread" not in log, log[-500:])
        check(("checking thread started" in log) == (mode == "on"),
              "apply_pipeline = %s: thread started? %r" % (mode, log[-500:]))
        verify_all(c, *provs)
        got[mode] = (sums, views(c))
        print("  apply_pipeline = %s: %s" % (mode, "; ".join(sums)),
              flush=True)
    on, off = got["on"], got["off"]
    check(on[0] == off[0], "sync summaries differ:\n on  %r\n off %r" %
          (on[0], off[0]))
    check(set(on[1]) == set(off[1]), "central's cases differ")
    for k in sorted(on[1]):
        check(on[1][k] == off[1][k], "%s differs:\n on  %.300s\n off %.300s"
              % (k, on[1][k], off[1][k]))
    n = on[1]["counts"]
    check(n[0] == sum(2100 + 100 * k for k in range(4)),
          "central holds %d cases" % n[0])
    check(n[1] == n[0] + 300 * len(provs), "central holds %d entries" % n[1])
