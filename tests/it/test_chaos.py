"""The chaos campaign's short run (issue 8), and the regressions it found.

`make chaos` runs the long campaign (tests/chaos/campaign.py,
docs/RELIABILITY.md).  `make check` runs this file: two seeded rounds of
central and six provinces under every kind of fault -- the seeds that
exposed the bugs below, replayed -- and one small deterministic test per
bug.

Bug 1 (seed 4): a province whose clock is behind refused central's
entries as "stamped in the future" and moved its feed cursor past them:
central's acknowledged changes, and referrals, never reached the owner.
Bug 2 (seed 2): an entry central refused (not the owner any more, or a
clock hours ahead) stayed in its origin's log and fold: the origin's copy
differed from central's for ever (at once for a clock ahead, after a
referral back for an ownership refusal).
Bug 3 (seed 2): an erase stamped beyond the skew bound was refused at
central after its origin had already redacted its log for good: the
person's data stayed nationally, and the origin showed digest markers in
place of the values.
Bug 4 (seed 4): the same for an erase made by the owner just after
central referred the case away: refused as "not the owner", and once the
case was referred back, that province showed digest markers where central
showed the values.
Bug 5 (seed 2; first seen on seed 44 at 20 s): a sync session overtaken by
another session of the same province took central's newer count of its
entries for a restore from a backup and exited 4.
Bug 7 (standby campaign, seed 3): a session's end put back the feed
position another session of the same province had just moved, and central
then refused the province for ever.
Harness bug (seed 2 in CI, 2026-12-03): the standby's port, reserved at
the start and bound only when it was promoted, was handed by the kernel to
a proxy made in between; the promoted central never listened and the
round never converged (harness.free_port).
"""
import json
import os
import sys
import tempfile

from harness import check, ok, refer, sample_case
import harness

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "chaos"))

HOUR = 3600 * 1000
SECONDS = 10        # per replayed round


def replay(seed):
    """Runs chaos round `seed` (as `make chaos SEED=seed ROUNDS=1
    SECONDS=10` does) and fails with its problems."""
    import campaign
    from cluster import snapshot_binary
    old = harness.BIN
    bindir = tempfile.mkdtemp(prefix="casesync-chaos-bin-")
    try:
        snapshot_binary(bindir)
        r = campaign.run_round(seed, SECONDS)
    finally:
        harness.BIN = old
        harness.rmtree(bindir)
    print("  " + campaign.round_line(0, r), flush=True)
    if not r["ok"]:
        lines = []
        campaign.report_failure(r, lines.append)
        raise AssertionError("\n".join(lines))
    # Every kind is scheduled; in a short round a few may not take effect
    # (an import that ends before its kill...).  The long campaign counts
    # them all.
    missing = [k for k in campaign.KINDS if not r["faults"].get(k)]
    if missing:
        print("  (this time without: %s)" % ", ".join(missing), flush=True)
    check(len(missing) <= 5, "seed %d: only %d fault kinds took effect; "
          "missing %s" % (seed, len(campaign.KINDS) - len(missing),
                          missing))
    return r


def test_campaign_seed_4_clock_behind(env):
    """Replays the round that found bug 1 (and replays bug 4)."""
    replay(4)


def test_campaign_seed_2_refusals(env):
    """Replays the round that found bugs 2 and 3 (and replays bug 5)."""
    replay(2)


def field(case, path):
    a, b = path.split(".")
    return case.get(a, {}).get(b)


def test_clock_behind_province_takes_centrals_changes(env):
    """Bug 1: a province hours behind still applies what central sends
    (central already bounded every stamp by its own clock)."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    q = env.province("ha-noi", c)
    x = p.add(sample_case(1))
    y = q.add(sample_case(2))
    ok(p.sync(), "sync lao-cai")
    ok(q.sync(), "sync ha-noi")
    p.set_conf("test_clock_offset_ms", str(-4 * HOUR))
    ok(c.cli("case", "update", x, "-", stdin=json.dumps(
        {"intake": {"facility": "FAKE central edit"}})), "central edits")
    ok(c.cli("case", "transfer", y, "--to", "lao-cai"), "central refers")
    r = ok(p.sync(), "sync lao-cai, clock behind")
    check("refused 0" in r.out, r.out)
    check(field(p.get(x), "intake.facility") == "FAKE central edit",
          "central's change did not reach lao-cai: %r" % p.get(x))
    check(p.get(y) is not None and p.get(y)["owner"] == "lao-cai",
          "the referral did not reach lao-cai: %r" % p.get(y))
    # Its own changes, stamped behind central's, still count.
    p.update(x, {"status": "closed"})
    ok(p.sync(), "sync lao-cai")
    for cid in (x, y):
        check(p.get(cid) == c.get(cid), "case %s differs" % cid)
    check(c.get(x)["status"] == "closed", c.get(x))
    for n in (c, p, q):
        ok(n.verify(), "verify " + n.name)


def test_refused_entry_leaves_its_origin(env):
    """Bug 2: central refuses an entry; its origin learns of it from its
    feed and takes it out of its copy (kept aside for audit)."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(3))
    ok(a.sync(), "sync lao-cai")
    # Ownership: central refers X away while lao-cai, offline, edits it.
    ok(c.cli("case", "transfer", x, "--to", "ha-noi"), "transfer")
    a.update(x, {"intake": {"facility": "FAKE stale edit"}})
    r = ok(a.sync(), "sync lao-cai")
    check("refused 1" in r.out, r.out)
    ok(a.sync(), "sync lao-cai again (the refusal comes back)")
    check(field(a.get(x), "intake.facility") is None,
          "refused edit still in lao-cai's copy: %r" % a.get(x))
    hist = ok(a.cli("case", "history", x, "--json")).json()
    check(all("FAKE stale edit" not in json.dumps(e) for e in hist), hist)
    # ha-noi refers it back: lao-cai's copy is central's, exactly.
    ok(b.sync(), "sync ha-noi")
    refer(b, a, x)
    check(a.get(x) == c.get(x), "lao-cai %r\ncentral %r" % (a.get(x),
                                                         c.get(x)))
    # A clock hours ahead: central refuses its new case and its change;
    # lao-cai ends up with central's view.
    a.set_conf("test_clock_offset_ms", str(3 * HOUR))
    n = a.add(sample_case(4))
    a.update(x, {"status": "closed"})
    ok(a.sync(), "sync lao-cai, clock ahead")
    a.set_conf("test_clock_offset_ms", "0")
    s = ok(a.sync(), "sync lao-cai").out
    check(c.get(n) is None, "central took a case stamped 3 h ahead")
    check(a.get(n) is None, "refused case still on lao-cai")
    check(a.get(x) == c.get(x), "lao-cai %r\ncentral %r (%s)" % (
        a.get(x), c.get(x), s))
    st = a.status()
    check(st["seq"] == c.status()["vector"]["lao-cai"], st)
    # The refusals on record, on central and on lao-cai alike (what the
    # chaos checker takes as proof of a refusal): origin, seq, case and
    # reason, never a value.
    for m in (c, a):
        r = ok(m.cli("status", "--json", "--refused"))
        check("FAKE" not in r.out, "a value in status --refused on %s: %s"
              % (m.name, r.out))
        got = sorted((e["origin"], e["case"]) for e in
                     r.json()["refused_entries"])
        check(got == sorted([("lao-cai", x), ("lao-cai", x),
                             ("lao-cai", n)]),
              "refused entries on %s: %r (x %s, n %s)" % (m.name, got, x, n))
        check("refused_entries" not in m.status(), m.status())
    r = c.cli("status", "--refused")
    check(r.rc == 1 and "--refused needs --json" in r.err, r)
    for m in (a, b, c):
        ok(m.verify(), "verify " + m.name)


def test_erase_stamped_ahead_is_not_refused(env):
    """Bug 3: an erase from a province whose clock runs ahead still
    erases the case nationally; no digest marker shows anywhere."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    x = p.add(sample_case(5))
    ok(p.sync(), "sync lao-cai")
    p.set_conf("test_clock_offset_ms", str(5 * HOUR))
    ok(p.cli("case", "erase", x), "erase")
    ok(p.sync(), "sync lao-cai")
    ok(p.sync(), "sync lao-cai")
    for n in (c, p):
        got = n.get(x)
        check(got["erased"] and "full_name" not in got["person"] and
              "#sha256" not in json.dumps(got), "%s: %r" % (n.name, got))
    check(p.get(x) == c.get(x), "copies differ")
    check(not c.files_contain(b"FAKE Person 5"), "name in clear")
    for n in (c, p):
        ok(n.verify(), "verify " + n.name)


def test_erase_stamped_ahead_does_not_push_the_clock(env):
    """Chaos seed 28 (SEED=21 at 610e6c8): lao-cai, its clock 5 h ahead,
    erases its case, which central takes (an erase is not held to the
    skew bound); central then refers the case to ha-noi.  ha-noi's next
    write to it must be stamped by its own clock: following the erase's
    stamp (case_depends, node/own.c) stamped it, and every later write of
    ha-noi, 5 h ahead, and central refused them."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    q = env.province("ha-noi", c)
    x = p.add(sample_case(6))
    y = q.add(sample_case(7))
    ok(p.sync(), "sync lao-cai")
    ok(q.sync(), "sync ha-noi")
    p.set_conf("test_clock_offset_ms", str(5 * HOUR))
    ok(p.cli("case", "erase", x), "erase, clock ahead")
    ok(p.sync(), "sync lao-cai")
    check(c.get(x)["erased"], c.get(x))
    ok(c.cli("case", "transfer", x, "--to", "ha-noi"), "central refers")
    ok(q.sync(), "sync ha-noi")
    check(q.get(x)["owner"] == "ha-noi" and q.get(x)["erased"], q.get(x))
    q.update(x, {"status": "closed"})
    q.update(y, {"status": "closed"})
    r = ok(q.sync(), "sync ha-noi")
    check("refused 0" in r.out, r.out)
    cst = [s for s in c.status()["peers"] if s["peer"] == "ha-noi"]
    check(cst and cst[0]["refused"] == 0, cst)
    for cid in (x, y):
        check(c.get(cid)["status"] == "closed" and
              q.get(cid) == c.get(cid), (q.get(cid), c.get(cid)))
    for n in (c, p, q):
        ok(n.verify(), "verify " + n.name)


def test_erase_by_province_just_referred_away(env):
    """Bug 4: a province erases a case central has just referred away,
    before it hears of that: one it created (x), and one it received by
    referral and never changed (y).  Each erase is accepted (the province
    owned the case), and when the case comes back the copies are equal,
    without digest markers."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(6))
    y = b.add(sample_case(7))
    ok(b.sync(), "sync ha-noi")
    refer(b, a, y)
    check(a.get(y)["owner"] == "lao-cai", a.get(y))
    for cid in (x, y):
        ok(c.cli("case", "transfer", cid, "--to", "ha-noi"),
           "central refers %s" % cid)
        ok(a.cli("case", "erase", cid), "erase on lao-cai, not yet told")
    r = ok(a.sync(), "sync lao-cai")
    check("refused 0" in r.out, r.out)
    ok(a.sync(), "sync lao-cai")
    ok(b.sync(), "sync ha-noi")
    for cid in (x, y):
        for n in (c, b):
            got = n.get(cid)
            check(got["erased"] and "full_name" not in got["person"],
                  "%s: %r" % (n.name, got))
        ok(c.cli("case", "transfer", cid, "--to", "lao-cai"), "refer back")
    ok(a.sync(), "sync lao-cai")
    for cid in (x, y):
        check(a.get(cid) == c.get(cid), "lao-cai %r\ncentral %r" % (
            a.get(cid), c.get(cid)))
        check("#sha256" not in json.dumps(a.get(cid)), a.get(cid))
    cst = [p for p in c.status()["peers"] if p["peer"] == "lao-cai"]
    check(cst[0]["refused"] == 0, cst)
    for n in (a, b, c):
        ok(n.verify(), "verify " + n.name)


def test_erase_during_the_session_that_brings_the_referral(env):
    """An erase committed while the session that brings the referral
    away runs (after the province's first look at its own entries, before
    it applies that referral) is sent in that same session, and central
    accepts it (repl.c, flush_acks).  Written before the erase carried the
    owner its writer saw, that order was what made central accept it
    (authorise.c, referral_unseen): sent after that batch's ACK, it was
    refused, and the province's copy stayed redacted while central kept
    the values.  Now the view it carries decides (erase_view_ok)."""
    import subprocess
    import time
    c = env.central().start()
    px = env.proxy(c)
    a = env.province("lao-cai", c, endpoint=px.endpoint)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(6))
    n = 1500
    lines = "".join(json.dumps(sample_case(100 + i)) + "\n" for i in range(n))
    ok(a.cli("import", "-", stdin=lines), "import")
    ok(a.sync(), "sync lao-cai")
    ids = [i for i in a.ids() if i != x]
    # Central changes lao-cai's cases (more than one batch of its feed),
    # then refers x away: the referral comes last, seconds into the sync.
    upd = "".join(json.dumps({"id": cid, "status": "receiving_support"}) +
                  "\n" for cid in ids)
    ok(c.cli("import", "-", stdin=upd), "central updates")
    ok(c.cli("case", "transfer", x, "--to", "ha-noi"), "central refers x")
    px.rate = 150 * 1024
    log = os.path.join(env.tmp, "central.log")
    before = open(log).read().count("session with lao-cai")
    p = a.popen("sync", "--timeout", "120", stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
    harness.wait_for(lambda: open(log).read().count(
        "session with lao-cai") > before, 20, 0.02, "the session's HELLO")
    time.sleep(0.5)
    check(a.get(x)["owner"] == "lao-cai", "the referral arrived too soon")
    ok(a.cli("case", "erase", x), "erase on lao-cai during the session")
    out, err = p.communicate(timeout=150)
    check(p.returncode == 0, "sync: rc %s %r" % (p.returncode, err))
    check(a.get(x)["owner"] == "ha-noi", a.get(x))
    cx = c.get(x)
    check(cx["erased"] and "full_name" not in cx["person"],
          "central did not take the erase: %r %r" % (cx, out))
    cst = [q for q in c.status()["peers"] if q["peer"] == "lao-cai"]
    check(cst[0]["refused"] == 0, cst)
    px.rate = None
    ok(c.cli("case", "transfer", x, "--to", "lao-cai"), "refer back")
    ok(a.sync(), "sync lao-cai")
    check(a.get(x) == c.get(x), "lao-cai %r\ncentral %r" % (
        a.get(x), c.get(x)))
    ok(b.sync(), "sync ha-noi")
    for q in (a, b, c):
        ok(q.verify(), "verify " + q.name)


def test_two_syncs_of_one_province(env):
    """Bug 5: a session whose HELLO is overtaken by another session of the
    same province (`serve` and a manual `sync`, say) must not take
    central's newer position for a restore from a backup (exit 4)."""
    import subprocess
    import time
    from cluster import ChaosProxy, write_conf
    c = env.central().start()
    px = ChaosProxy(c.port, seed=5)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    for i in range(3):
        p.add(sample_case(20 + i))
    ok(p.sync(), "sync lao-cai")
    # A: a sync on a link that holds every chunk half a second.
    px.delay = 0.5
    a = p.popen("sync", "--timeout", "60", stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    # B: more local changes, sent straight to central meanwhile.
    more = [p.add(sample_case(30 + i)) for i in range(2)]
    write_conf(p, "central", c.endpoint)
    r = ok(p.sync(), "sync lao-cai, direct")
    check("sent 2," in r.out, r.out)
    out, err = a.communicate(timeout=90)
    check(a.returncode == 0, "the overtaken sync: rc %s %r" % (
        a.returncode, err))
    check(c.status()["vector"]["lao-cai"] == 5, c.status())
    check(all(c.get(x) == p.get(x) for x in more), "copies differ")
    for n in (c, p):
        ok(n.verify(), "verify " + n.name)


def test_session_end_keeps_the_feed_position_of_another_session(env):
    """Bug 7 (seed 3 of the standby campaign): a province's session
    recorded its end (last sync, error, acknowledged count) by reading
    the peer record, then writing it back in a second transaction.  A
    second session of the same province (`serve` and a `sync`, or the
    cron's) that applied a feed batch in between had its feed position
    put back, but not the entry recorded at it: the province then told
    central it held position N with the entry of N+1, and central
    refused every session for ever ("central was put back from a copy of
    its files ... gave another entry").  The end is now recorded in one
    transaction (store_peer_update)."""
    import subprocess
    c = env.central().start()
    p = env.province("lao-cai", c)
    x = p.add(sample_case(1))
    ok(p.sync(), "sync lao-cai")
    ok(c.cli("case", "update", x, "-", stdin=json.dumps(
        {"intake": {"facility": "FAKE central edit 1"}})), "central edits")
    # A: takes feed position 1, then is held (as a loaded machine's
    # scheduler may) before it records the end of its session.
    a = p.popen("sync", "--timeout", "30", stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
                env=dict(os.environ, CASESYNC_TEST_SESSION_END_MS="4000"))
    harness.wait_for(lambda: field(p.get(x), "intake.facility") ==
                     "FAKE central edit 1", what="sync A applied the feed")
    # B: meanwhile takes position 2.
    ok(c.cli("case", "update", x, "-", stdin=json.dumps(
        {"intake": {"facility": "FAKE central edit 2"}})), "central edits")
    ok(p.sync(), "sync B")
    out, err = a.communicate(timeout=60)
    check(a.returncode == 0, "sync A: rc %s %r" % (a.returncode, err))
    r = p.sync()
    check(r.rc == 0, "the next sync was refused: %r" % r)
    ok(c.cli("case", "update", x, "-", stdin=json.dumps(
        {"intake": {"facility": "FAKE central edit 3"}})), "central edits")
    ok(p.sync(), "sync lao-cai")
    check(p.get(x) == c.get(x), "copies differ")
    for n in (c, p):
        ok(n.verify(), "verify " + n.name)


def test_free_port_never_hands_out_a_port_twice(env):
    """The harness bug of seed 2 in CI: a port reserved for a listener that
    binds later (the standby, bound on its promotion) must not be handed
    to another listener meanwhile.  bind(0) repeats ports within a few
    hundred calls (the kernel does not know of the reservation); none of
    free_port's is repeated, none is in the ephemeral range (where a
    connect() or another process's bind(0) could take it), and each can
    be bound."""
    import socket
    lo, hi = harness._ephemeral_range()
    ports = [harness.free_port() for _ in range(2000)]
    check(len(set(ports)) == len(ports), "%d ports handed out twice" % (
        len(ports) - len(set(ports))))
    inside = [q for q in ports if lo <= q <= hi]
    check(not inside, "ports in the ephemeral range %d-%d: %r" % (
        lo, hi, inside[:5]))
    for q in ports[:50]:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", q))
        finally:
            s.close()


def test_checker_counts_a_refusal_only_on_record(env):
    """The chaos checker counts an acknowledged write missing from central
    as refused only when central was entitled to refuse it AND a refused
    table (the origin's or central's, `status --json --refused`) holds an
    entry of its origin on its case, one per write so counted; otherwise
    it is lost ("refused yet not refused").  Here lao-cai's write on a
    case central had referred away (so central was entitled to refuse it)
    is on no node, lao-cai keeping no copy: before, that passed as
    refused-ok whether or not anything refused it."""
    from types import SimpleNamespace as NS
    import checks
    import workload
    cid = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"
    lg = workload.Ledger(9)
    lg.central_took.add((cid, "lao-cai"))

    def write(tok):
        return workload.Write("update", "lao-cai", cid, {"service": tok},
                              harness.Result(0, "", ""), 1.0, 2.0, False)

    cl = NS(provinces=[], members={},
            all=lambda: [NS(name="central"), NS(name="lao-cai")])

    def run(refused, writes, took=True):
        lg.central_took.clear()
        if took:
            lg.central_took.add((cid, "lao-cai"))
        ck = checks.Checker(cl, lg, log=lambda *a: None)
        ck.exp = {"central": {cid: ("", {
            "owner": "ha-noi", "services": [], "notes": [],
            "referrals": [], "erased": False})}, "lao-cai": {}}
        ck.conf = {"central": [], "lao-cai": []}
        ck.refused = {"central": {}, "lao-cai": {}}
        for n, k in refused:
            ck.refused[n][k] = ck.refused[n].get(k, 0) + 1
        for w in writes:
            ck.check_write(w)
        ck.check_claims()
        m = ck.metrics
        return m["refused_ok"], m["lost"], m["refused_unproven"], \
            ck.problems

    w1, w2 = write("S9-1"), write("S9-2")
    mine, other = ("lao-cai", cid), ("lao-cai", "0190aaaa-bbbb-7ccc-"
                                                "8ddd-ffffffffffff")
    # Refused nowhere: lost, though central was entitled to refuse it.
    ok_, lost, unproven, probs = run([], [w1])
    check((ok_, lost, unproven) == (0, 1, 1) and
          "refused yet not refused" in probs[0], (ok_, lost, probs))
    # A refusal of the origin on another case proves nothing.
    ok_, lost, unproven, probs = run([("central", other)], [w1])
    check((ok_, lost) == (0, 1), (ok_, lost, probs))
    # On record at the origin only (a promoted standby's refused table
    # starts empty), or at central only (a restored origin, before the
    # notice comes back): refused.
    for where in ("lao-cai", "central"):
        ok_, lost, unproven, probs = run([(where, mine)], [w1])
        check((ok_, lost, probs) == (1, 0, []), (where, ok_, lost, probs))
    # Two writes counted as refused, one refusal on record: one lost.
    ok_, lost, unproven, probs = run([("central", mine), ("lao-cai", mine)],
                                     [w1, w2])
    check((ok_, lost, unproven) == (1, 1, 1) and len(probs) == 1 and
          "refused yet not refused: 2" in probs[0], (ok_, lost, probs))
    ok_, lost, unproven, probs = run([("central", mine), ("central", mine)],
                                     [w1, w2])
    check((ok_, lost, probs) == (2, 0, []), (ok_, lost, probs))
    # Not entitled to refuse: a refusal on record does not excuse it.
    ok_, lost, unproven, probs = run([("central", mine)], [w1], took=False)
    check((ok_, lost, unproven) == (0, 1, 0) and
          "refused yet not refused" not in probs[0], (ok_, lost, probs))
