"""Sync between provinces and central (issue 3): real processes on
127.0.0.1, real LMDB files.  Central down, central or a province killed in
the middle of a large sync, a link cut at random byte offsets, repeated
syncs, several provinces at once, replicas that must agree byte for byte,
and `serve` in continuous mode.

After every fault the check is the same: every entry is present exactly
once (log lengths and version vectors equal the number of entries
written), `verify` passes on every node, and every case reads the same on
central as on its owner.
"""
import json
import os
import random
import re
import signal
import subprocess
import threading
import time

from harness import check, ok, sample_case, wait_for

BACKLOG = 20000     # entries for the large-sync tests


# ---- helpers ---------------------------------------------------------------

def gen_file(env, name, n, start=0):
    path = os.path.join(env.tmp, name + ".jsonl")
    with open(path, "w") as f:
        for i in range(start, start + n):
            f.write(json.dumps(sample_case(i, person={
                "category": "victim", "sex": "female",
                "birth_year": 1980 + i % 30,
                "full_name": "FAKE %s %d" % (name, i)})) + "\n")
    return path


def import_cases(node, n, start=0, tag=None):
    path = gen_file(node.env, tag or node.name, n, start)
    r = ok(node.cli("import", path), "import into " + node.name)
    check(("imported %d cases" % n) in r.out, repr(r))


def summary(res):
    """The numbers of sync's one-line summary."""
    m = re.search(r"sent (\d+), received (\d+), refused (\d+)", res.out)
    check(m is not None, "no sync summary in %r" % res)
    return {"sent": int(m.group(1)), "received": int(m.group(2)),
            "refused": int(m.group(3))}


def sync_ok(p, timeout=60):
    r = p.sync(timeout)
    check(r.rc == 0, "sync of %s failed: %r" % (p.name, r))
    return summary(r)


def exports_by_id(node):
    out = {}
    for line in node.export().splitlines():
        out[json.loads(line)["id"]] = line
    return out


def check_replicas(central, provinces, exact_ids=True):
    """Every case a province owns reads on central exactly as on the
    province (the export form of `case get`, byte for byte), and, with
    exact_ids, central holds no case that no province owns."""
    cen = exports_by_id(central)
    union = set()
    for p in provinces:
        mine = exports_by_id(p)
        union |= set(mine)
        for cid, line in mine.items():
            check(cid in cen, "case %s of %s missing on central" %
                  (cid, p.name))
            check(cen[cid] == line, "case %s differs:\n central  %s\n %s %s"
                  % (cid, cen[cid], p.name, line))
    if exact_ids:
        check(set(cen) == union, "central holds %d cases, the provinces "
              "%d" % (len(cen), len(union)))


def check_counts(node, cases, entries, vector):
    st = node.status()
    check(st["cases"] == cases, "%s: %d cases, expected %d" %
          (node.name, st["cases"], cases))
    check(st["entries"] == entries, "%s: %d log entries, expected %d "
          "(lost or duplicated)" % (node.name, st["entries"], entries))
    check(st["vector"] == vector, "%s: vector %r, expected %r" %
          (node.name, st["vector"], vector))
    return st


def verify_all(*nodes):
    for n in nodes:
        ok(n.verify(), "verify " + n.name)


def central_entries(central):
    return central.status()["entries"]


def wait_midway(what, proc, poll, total, timeout=60):
    """Waits until 0 < poll() < total while proc runs; returns the value
    seen.  Fails when the sync ended before it could be interrupted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("%s finished (rc %s) before it could be "
                                 "interrupted" % (what, proc.returncode))
        v = poll()
        if 0 < v < total:
            return v
        check(v < total, "%s: all %d entries already there" % (what, total))
        time.sleep(0.05)
    raise AssertionError("%s made no progress in %d s" % (what, timeout))


# ---- central down ----------------------------------------------------------

def test_central_down_then_union(env):
    c = env.central()            # created, not started: down
    names = ["lao-cai", "ha-noi", "an-giang"]
    provs = [env.province(n, c) for n in names]
    rng = random.Random(3)
    for k, p in enumerate(provs):
        for i in range(15):
            cid = p.add(sample_case(100 * k + i, rng))
            if i % 3 == 0:
                p.update(cid, {"status": "identified", "services": [
                    {"type": "medical", "on": "2026-02-0%d" % (1 + i % 9)}]})
    before = {p.name: (p.export(), p.status()) for p in provs}
    for p in provs:
        t0 = time.monotonic()
        r = p.sync(2)
        took = time.monotonic() - t0
        check(r.rc == 3, "sync with central down: expected exit 3, got %r"
              % r)
        lines = r.err.splitlines()
        check(len(lines) == 1 and lines[0].startswith("casesync: "),
              "expected one line on stderr, got %r" % r.err)
        check(took < 10, "sync --timeout 2 took %.1f s" % took)
        st = p.status()
        check(p.export() == before[p.name][0], "cases changed")
        check(st["entries"] == before[p.name][1]["entries"] and
              st["vector"] == before[p.name][1]["vector"], st)
        peer = [x for x in st["peers"] if x["peer"] == "central"]
        check(peer and peer[0]["pending_out"] == st["seq"] and
              peer[0]["last_error"], "status does not show the backlog "
              "and the failure: %r" % st)
    c.start()
    for p in provs:
        s = sync_ok(p)
        check(s["sent"] == p.status()["seq"] and s["refused"] == 0, s)
    vec = {p.name: p.status()["seq"] for p in provs}
    check_counts(c, 45, sum(vec.values()), vec)
    check_replicas(c, provs)
    # `case get` (the pretty form) of every case: byte-equal on central
    # and on its owner.
    for p in provs:
        for cid in p.ids():
            a, b = p.cli("case", "get", cid), c.cli("case", "get", cid)
            check(a.rc == 0 and b.rc == 0 and a.out == b.out,
                  "case get %s differs" % cid)
    verify_all(c, *provs)
    for p in provs:
        st = p.status()
        peer = [x for x in st["peers"] if x["peer"] == "central"][0]
        check(peer["pending_out"] == 0 and peer["last_error"] == "", peer)


# ---- processes killed in the middle of a large sync ------------------------

def test_kill_central_mid_sync(env):
    c = env.central().start()
    px = env.proxy(c)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    import_cases(p, BACKLOG)
    px.rate = 2 * 1024 * 1024   # a slow link, so that "midway" is wide
    proc = p.popen("sync", "--timeout", "120", stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    seen = wait_midway("sync", proc, lambda: central_entries(c), BACKLOG)
    c.kill()
    st = c.status()
    check(0 < st["entries"] < BACKLOG, st)
    verify_all(c)
    # The province keeps trying; central comes back on the same port.
    time.sleep(1)
    px.rate = None
    c.start()
    out, err = proc.communicate(timeout=150)
    check(proc.returncode == 0, "the interrupted sync did not complete: "
          "rc %s %r" % (proc.returncode, err))
    check("sessions" in out, out)
    s = sync_ok(p)
    check(s["sent"] == 0 and s["received"] == 0, s)
    check_counts(c, BACKLOG, BACKLOG, {"lao-cai": BACKLOG})
    check_counts(p, BACKLOG, BACKLOG, {"lao-cai": BACKLOG})
    verify_all(c, p)
    check_replicas(c, [p])
    check(seen > 0, seen)


def test_kill_province_mid_sync(env):
    c = env.central().start()
    px = env.proxy(c)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    import_cases(p, BACKLOG)
    px.rate = 2 * 1024 * 1024
    proc = p.popen("sync", "--timeout", "120", stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wait_midway("sync", proc, lambda: central_entries(c), BACKLOG)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    verify_all(p, c)
    st = c.status()
    check(0 < st["entries"] < BACKLOG, st)
    px.rate = None
    s = sync_ok(p)
    check(s["sent"] == BACKLOG - st["entries"],
          "after the kill, sent %d; central had %d of %d" %
          (s["sent"], st["entries"], BACKLOG))
    check_counts(c, BACKLOG, BACKLOG, {"lao-cai": BACKLOG})
    check_counts(p, BACKLOG, BACKLOG, {"lao-cai": BACKLOG})
    verify_all(c, p)
    check_replicas(c, [p])


def test_kill_province_serve_while_receiving(env):
    """Central changes many of a province's cases; the province's serve is
    killed while it applies them; a later sync gets the rest, once."""
    c = env.central().start()
    px = env.proxy(c)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    n = 6000
    import_cases(p, n)
    sync_ok(p)
    # Central updates every case (central may change any case).
    ids = p.ids()
    upd = "".join(json.dumps({"id": cid, "status": "receiving_support",
                              "intake": {"facility": "FAKE centre %d" % i}})
                  + "\n" for i, cid in enumerate(ids))
    ok(c.cli("import", "-", stdin=upd), "central updates")
    px.rate = 512 * 1024
    p.start()
    wait_midway("serve", p.proc, lambda: p.status()["entries"] - n, n)
    p.kill()
    verify_all(p)
    px.rate = None
    s = sync_ok(p)
    got = p.status()
    check_counts(p, n, 2 * n, {"lao-cai": n, "central": n})
    check(s["received"] > 0, s)
    check_counts(c, n, 2 * n, {"lao-cai": n, "central": n})
    verify_all(c, p)
    check_replicas(c, [p])
    check(got["conflicts"] == 0, got)


# ---- a session process that dies by itself ---------------------------------
# libzmq 4.3.4 aborts a process now and then when a connection fails while
# it is read and written (zeromq/libzmq#4841).  `serve` and `sync` run
# their sessions in a child process (node/supervise.c); these tests abort
# that child the same way (SIGABRT) at the worst moment, mid-sync.

def children(pid):
    """The live processes whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()   # after "(comm)"
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            out.append(int(d))
    return out


def session_child(proc):
    """The session process of a running `serve` or `sync`."""
    found = []

    def one():
        found[:] = children(proc.pid)
        return len(found) == 1
    wait_for(one, 10, 0.02, "the session process of pid %d" % proc.pid)
    return found[0]


def test_sync_session_abort_is_retried(env):
    c = env.central().start()
    px = env.proxy(c)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    import_cases(p, BACKLOG)
    px.rate = 2 * 1024 * 1024
    proc = p.popen("sync", "--timeout", "120", stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    first = session_child(proc)
    wait_midway("sync", proc, lambda: central_entries(c), BACKLOG)
    os.kill(first, signal.SIGABRT)
    px.rate = None
    out, err = proc.communicate(timeout=150)
    check(proc.returncode == 0, "sync did not survive its session's abort: "
          "rc %s %r" % (proc.returncode, err))
    check("died of signal %d" % signal.SIGABRT in err and
          "starting another" in err, err)
    check(summary(ok(p.sync(), "second sync"))["sent"] == 0, "resent")
    check_counts(c, BACKLOG, BACKLOG, {"lao-cai": BACKLOG})
    verify_all(c, p)
    check_replicas(c, [p])


def test_central_session_abort_restarts_it(env):
    c = env.central().start()
    px = env.proxy(c)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    import_cases(p, BACKLOG)
    px.rate = 2 * 1024 * 1024
    node = session_child(c.proc)
    proc = p.popen("sync", "--timeout", "120", stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    wait_midway("sync", proc, lambda: central_entries(c), BACKLOG)
    os.kill(node, signal.SIGABRT)
    px.rate = None
    out, err = proc.communicate(timeout=150)
    check(proc.returncode == 0, "the province's sync did not complete "
          "after central's node process aborted: rc %s %r" % (
              proc.returncode, err))
    check(c.proc.poll() is None, "central's serve exited (rc %s)" %
          c.proc.returncode)
    again = session_child(c.proc)
    check(again != node, "no new node process")
    log = open(os.path.join(env.tmp, "central.log")).read()
    check("died of signal %d" % signal.SIGABRT in log and "restart 1" in log,
          log[-500:])
    check_counts(c, BACKLOG, BACKLOG, {"lao-cai": BACKLOG})
    verify_all(c, p)
    check_replicas(c, [p])
    # SIGTERM still stops central cleanly, its node process with it.
    check(c.stop() == 0, "central did not stop cleanly")
    check(children_gone(again), "the node process outlived serve")


def children_gone(pid):
    """Has pid exited (a zombie counts: it runs no more)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return True
    return st[st.rindex(")") + 2:].split()[0] in ("Z", "X")


def test_kill_serve_kills_its_session(env):
    """SIGKILL of `serve` alone (not its group) leaves no session behind
    writing to the store: it dies with its parent."""
    c = env.central().start()
    node = session_child(c.proc)
    os.kill(c.proc.pid, signal.SIGKILL)
    c.proc.wait()
    wait_for(lambda: children_gone(node), 5, 0.02,
             "the node process to die with serve")
    c.proc = None
    c.start()
    p = env.province("lao-cai", c)
    import_cases(p, 10)
    ok(p.sync(), "sync after central's restart")
    check_counts(c, 10, 10, {"lao-cai": 10})


# ---- a full disk -----------------------------------------------------------

def test_central_disk_full_mid_sync(env):
    """Central's disk fills up in the middle of a sync: the batch that does
    not fit is not acknowledged, central keeps serving, and once there is
    room again the next sync resumes; every entry arrives once."""
    mnt = env.tmpfs("cdisk", "4m")
    if mnt is None:
        from harness import skip
        return skip("cannot mount a tmpfs here (not root?)")
    c = env.central(dir=os.path.join(mnt, "central")).start()
    p = env.province("lao-cai", c)
    n = 8000
    import_cases(p, n)
    r = p.sync(6)
    check(r.rc == 3, "sync into a full central: expected exit 3, got %r" % r)
    check(len(r.err.splitlines()) == 1, "expected one line: %r" % r.err)
    check("disk full" in r.err, "the error does not say why: %r" % r.err)
    check(c.proc.poll() is None, "central died when its disk filled up")
    st = c.status()
    check(0 < st["entries"] < n, "central holds %d entries" % st["entries"])
    verify_all(c, p)
    subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
    s = sync_ok(p)
    check(s["sent"] == n - st["entries"], "sent %d after the disk was "
          "freed; central had %d of %d" % (s["sent"], st["entries"], n))
    check_counts(c, n, n, {"lao-cai": n})
    verify_all(c, p)
    check_replicas(c, [p])


# ---- a link cut at random byte offsets -------------------------------------

def test_link_cut_mid_batch(env):
    c = env.central().start()
    px = env.proxy(c, seed=11)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    import_cases(p, 3000)
    sync_ok(p)
    # Central changes some of the province's cases: traffic both ways.
    ids = p.ids()
    upd = "".join(json.dumps({"id": cid, "status": "closed"}) + "\n"
                  for cid in ids[::10])
    ok(c.cli("import", "-", stdin=upd))
    import_cases(p, 4000, start=3000, tag="more")
    rng = random.Random(5)
    svc = "".join(json.dumps({"id": rng.choice(ids), "services": [
        {"type": "medical", "on": "2026-04-01"}]}) + "\n" for _ in range(200))
    ok(p.cli("import", "-", stdin=svc), "200 updates")
    # Short syncs over a link that cuts every connection within its first
    # 400 KB, so that most batches (up to 1 MB) never arrive whole.
    px.cut_after = (200, 400000)
    results = []
    for _ in range(6):
        r = p.sync(2)
        check(r.rc in (0, 3), "sync over a cutting link: %r" % r)
        if r.rc == 3:
            lines = r.err.splitlines()
            check(len(lines) == 1, "expected one line: %r" % r.err)
        results.append(r.rc)
        verify_all(p)
    check(px.cuts >= 10, "the proxy cut only %d times" % px.cuts)
    verify_all(c)
    # One sync over a link that still cuts every connection, later: it
    # gets there on its own, session after session.
    cuts = px.cuts
    px.cut_after = (150000, 1500000)
    t0 = time.monotonic()
    r = p.sync(90)
    check(r.rc == 0, "sync over a link cut every 0.15-1.5 MB: %r" % r)
    took = time.monotonic() - t0
    m = re.search(r"sessions (\d+)", r.out)
    print("  link cut: %d cuts in short syncs (exits %r), then %d cuts and "
          "%s sessions in one sync of %.1f s" %
          (cuts, results, px.cuts - cuts, m and m.group(1), took),
          flush=True)
    px.cut_after = None
    s = sync_ok(p)
    check(s["sent"] == 0 and s["received"] == 0, s)
    seq = p.status()["seq"]
    check(seq == 3000 + 4000 + 200, seq)
    cen = len(ids[::10])
    check_counts(c, 7000, seq + cen, {"lao-cai": seq, "central": cen})
    check_counts(p, 7000, seq + cen, {"lao-cai": seq, "central": cen})
    verify_all(c, p)
    check_replicas(c, [p])


def test_link_down_for_a_while_mid_sync(env):
    """The link drops in the middle of sending and stays down for longer
    than a send waits (5 s): the same `sync` run resumes once the link is
    back and completes within its own timeout."""
    c = env.central().start()
    px = env.proxy(c)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    n = 8000
    import_cases(p, n)
    px.rate = 1024 * 1024
    proc = p.popen("sync", "--timeout", "60", stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    wait_midway("sync", proc, lambda: central_entries(c), n)
    px.paused = True
    px.drop()
    time.sleep(7)
    if proc.poll() is not None:
        raise AssertionError("sync gave up while the link was down: %r" %
                             (proc.communicate(),))
    px.paused = False
    px.rate = None
    out, err = proc.communicate(timeout=90)
    check(proc.returncode == 0, "sync did not resume after the link came "
          "back: rc %s %r" % (proc.returncode, err))
    check_counts(c, n, n, {"lao-cai": n})
    verify_all(c, p)
    check_replicas(c, [p])


def test_corrupted_bytes_are_refused_not_applied(env):
    """A byte flipped on the wire is caught (authenticated link): the
    session ends, nothing wrong is stored, and a clean link converges."""
    c = env.central().start()
    px = env.proxy(c, seed=3)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    import_cases(p, 1500)
    px.flip_at = (100, 400000)
    for _ in range(3):
        r = p.sync(2)
        check(r.rc in (0, 3), repr(r))
        verify_all(p)
    check(px.flips > 0, "no byte was flipped")
    verify_all(c, p)
    px.flip_at = None
    sync_ok(p)
    check_counts(c, 1500, 1500, {"lao-cai": 1500})
    verify_all(c, p)
    check_replicas(c, [p])


# ---- nothing new, nothing sent ---------------------------------------------

def test_repeated_sync_sends_nothing(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    q = env.province("ha-noi", c)
    for i in range(20):
        p.add(sample_case(i))
        q.add(sample_case(100 + i))
    s = sync_ok(p)
    check(s["sent"] == 20 and s["received"] == 0, s)
    sync_ok(q)
    ids = p.ids()
    ok(c.cli("case", "update", ids[0], "-", stdin='{"status": "closed"}'))
    s = sync_ok(p)
    check(s["sent"] == 0 and s["received"] == 1, s)
    for _ in range(3):
        for n in (p, q):
            s = sync_ok(n)
            check(s["sent"] == 0 and s["received"] == 0,
                  "a sync with nothing new transferred entries: %r" % s)
    check(p.get(ids[0])["status"] == "closed", p.get(ids[0]))
    # Provinces never receive other provinces' cases.
    check(sorted(p.ids()) == sorted(ids), "lao-cai holds foreign cases")
    check_counts(c, 40, 41, {"lao-cai": 20, "ha-noi": 20, "central": 1})
    check_replicas(c, [p, q])


# ---- several provinces at the same moment ----------------------------------

def last_txnid(node):
    """LMDB's last committed transaction id of node's store."""
    r = subprocess.run(["mdb_stat", "-e", node.dir], capture_output=True,
                       text=True, check=True)
    m = re.search(r"Last transaction ID: (\d+)", r.stdout)
    check(m is not None, "mdb_stat: %r" % r.stdout)
    return int(m.group(1))


def test_parallel_provinces(env):
    """Four provinces sync at once, both ways.  Their batches share
    central's commits (group commit, issue 19): 12 batches (3 of each
    province) take fewer commits than batches, and central's log shows a
    commit shared by batches of two provinces."""
    c = env.central().start()
    names = ["lao-cai", "ha-noi", "an-giang", "ca-mau"]
    provs = [env.province(n, c) for n in names]
    threads = [threading.Thread(target=import_cases, args=(p, 2500))
               for p in provs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    txn0 = last_txnid(c)
    procs = [p.popen("sync", "--timeout", "120", stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True) for p in provs]
    for p, pr in zip(provs, procs):
        out, err = pr.communicate(timeout=180)
        check(pr.returncode == 0, "%s: rc %s %r" % (p.name, pr.returncode,
                                                     err))
        check("sent 2500," in out, "%s: %r" % (p.name, out))
    # One commit per session's end (BYE) besides the batches' own.
    commits = last_txnid(c) - txn0 - len(provs)
    print("  central: %d commits for %d batches" % (commits, 3 * len(provs)),
          flush=True)
    check(commits < 3 * len(provs), "%d commits for %d batches: none "
          "shared" % (commits, 3 * len(provs)))
    with open(os.path.join(env.tmp, "central.log"), errors="replace") as f:
        shared = [line for line in f if "one commit for" in line and
                  len([n for n in names if n in line]) >= 2]
    check(shared, "no commit shared by two provinces' batches")
    # And again at once, now with central's changes to send back.
    upd = ""
    for p in provs:
        for cid in p.ids()[:50]:
            upd += json.dumps({"id": cid, "status": "closed"}) + "\n"
    ok(c.cli("import", "-", stdin=upd))
    procs = [p.popen("sync", "--timeout", "120", stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True) for p in provs]
    for p, pr in zip(provs, procs):
        out, err = pr.communicate(timeout=180)
        check(pr.returncode == 0, "%s: rc %s %r" % (p.name, pr.returncode,
                                                     err))
        check("received 50," in out, "%s: %r" % (p.name, out))
    vec = dict((n, 2500) for n in names)
    vec["central"] = 200
    check_counts(c, 10000, 10200, vec)
    # A province holds only central's changes to its own cases: its vector
    # entry for central is the highest of those (central wrote 50 for each
    # province, in the order of provs).
    for k, p in enumerate(provs):
        check_counts(p, 2500, 2550, {p.name: 2500, "central": 50 * (k + 1)})
    verify_all(c, *provs)
    check_replicas(c, provs)


# ---- replicas agree --------------------------------------------------------

def test_replicas_agree(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    q = env.province("ha-noi", c)
    rng = random.Random(9)
    ids = {p.name: [], q.name: []}
    for k, n in enumerate((p, q)):
        for i in range(12):
            cid = n.add(sample_case(50 * k + i, rng))
            ids[n.name].append(cid)
            n.update(cid, {"notes": [{"on": "2026-01-0%d" % (1 + i % 9),
                                      "text": "FAKE note\nwith two lines"}],
                           "person": {"phone": "+84 %07d" % i}})
    for n in (p, q):
        sync_ok(n)
    # Central edits; the provinces edit other fields meanwhile.
    for cid in ids["lao-cai"][:4] + ids["ha-noi"][:4]:
        ok(c.cli("case", "update", cid, "-", stdin=json.dumps(
            {"status": "identified", "services": [
                {"type": "legal_aid", "on": "2026-05-05"}]})))
    for cid in ids["lao-cai"][2:6]:
        p.update(cid, {"intake": {"facility": "FAKE shelter"}})
    for _ in range(2):
        for n in (p, q):
            sync_ok(n)
    for n in (p, q):
        for cid in ids[n.name]:
            a = ok(n.cli("case", "get", cid)).out
            b = ok(c.cli("case", "get", cid)).out
            check(a == b, "case %s reads differently on %s and central:"
                  "\n%s\n%s" % (cid, n.name, a, b))
        hist = ok(n.cli("case", "history", ids[n.name][0], "--json")).out
        chist = ok(c.cli("case", "history", ids[n.name][0], "--json")).out
        check(json.loads(hist) == json.loads(chist), "histories differ")
    check_replicas(c, [p, q])
    verify_all(c, p, q)


# ---- serve ------------------------------------------------------------------

def test_serve_continuous_and_sigterm(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    first = [p.add(sample_case(i)) for i in range(5)]
    p.start()
    wait_for(lambda: c.status()["cases"] == 5, 30, 0.2,
             "central to get the first cases")
    more = [p.add(sample_case(10 + i)) for i in range(7)]
    wait_for(lambda: c.status()["cases"] == 12, 30, 0.2,
             "central to get cases added while serve runs")
    # And the other way: central's change reaches the running province.
    ok(c.cli("case", "update", first[0], "-", stdin='{"status": "closed"}'))
    wait_for(lambda: (p.get(first[0]) or {}).get("status") == "closed", 30,
             0.2, "the province to get central's change")
    check(all(c.get(x) == p.get(x) for x in first + more),
          "replicas differ while serving")
    rc = p.stop()
    check(rc == 0, "province serve: SIGTERM exit %r" % rc)
    rc = c.stop()
    check(rc == 0, "central serve: SIGTERM exit %r" % rc)
    check_counts(c, 12, 13, {"lao-cai": 12, "central": 1})
    verify_all(c, p)
    # SIGINT too, and a province whose central is down stops promptly.
    c2 = env.central("central2")
    q = env.province("ha-noi", c2)
    q.start()
    time.sleep(1.5)
    t0 = time.monotonic()
    rc = q.stop(signal.SIGINT)
    check(rc == 0 and time.monotonic() - t0 < 5,
          "province serve with central down: SIGINT exit %r" % rc)
