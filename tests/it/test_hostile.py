"""A compromised province (issue 18): tests/hostile.py holds lao-cai's keys
and sends valid-but-hostile traffic (valid CURVE, valid signatures, a
correctly continued hash chain).  One test per finding; each fails on the
code before the fix (checked by hand against the commit before it)."""
import json
import os
import sys
import threading
import time

from harness import check, ok, sample_case, wait_for
from test_sync import session_child

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from hostile import ACK, BUSY_CODE, ERROR, QUOTA_CODE, Hostile  # noqa: E402


def setup(env, *provinces, conf=None):
    c = env.central()
    for k, v in (conf or {}).items():
        c.set_conf(k, v)
    c.start()
    ps = [env.province(n, c) for n in provinces]
    return c, ps


def sync_ok(p, what=""):
    r = p.sync(30)
    check(r.rc == 0, "sync of %s %s: %r" % (p.name, what, r))
    return r


def hostile(env, c, name="lao-cai"):
    """The hostile client with the keys of province name (enrolled)."""
    p = env.province(name, c)
    return Hostile(p.dir, c.dir).connect()


def offer_id(feed, cid):
    """The event id of the referral (offer) of case cid in a feed."""
    ids = [o[2] for _, e in feed if e[5] == cid for o in e[6]
           if o[0] == 2 and o[1] == "referrals"]
    check(ids, "no referral of %s in the feed" % cid)
    return ids[-1]


def op_offer(evid, frm, to):
    return Hostile.op_event("referrals", evid, json.dumps(
        {"from": frm, "to": to, "on": "2026-12-01", "status": "proposed"},
        separators=(",", ":")))


def op_accept(evid):
    return Hostile.op_event("referral_answers", evid,
                            '{"on":"2026-12-01","status":"accepted"}')


def central_log(env):
    with open(os.path.join(env.tmp, "central.log"), errors="replace") as f:
        return f.read()


def status_peer(node, peer):
    for p in node.status().get("peers", []):
        if p.get("peer") == peer:
            return p
    return {}


# ---- finding 1: state must not depend on delivery order ----------------

def test_concurrent_head_flood_does_not_wedge_owner(env):
    """nghe-an writes status twice and refers the case to lao-cai, which
    sends 64 concurrent writes of status, each based on nghe-an's second
    write, and refers it back.  nghe-an used to fold this in origin-name
    order into 65 heads: every later sync exited 2 ("too big") and
    central's verify exited 4."""
    c, (n,) = setup(env, "nghe-an")
    h = hostile(env, c)
    cid = n.add(sample_case(1, status="reported"))
    n.update(cid, {"status": "identified"})
    ok(n.cli("case", "transfer", cid, "--to", "lao-cai"), "refer")
    sync_ok(n)
    w = h.hello()
    check(w is not None and w[1] == 2, "no WELCOME: %r" % (w,))
    sets = [Hostile.stamp_of(e) for _, e in h.feed
            if e[1] == "nghe-an" and e[5] == cid and
            any(o[0] == 1 and o[1] == "status" for o in e[6])]
    check(len(sets) >= 2, "nghe-an's status writes not in the feed: %r" %
          (h.feed,))
    base = max(sets)
    # lao-cai accepts the offer, floods, and offers the case back.
    recs = [h.entry(cid, [op_accept(offer_id(h.feed, cid)),
                          h.op_transfer("lao-cai")])]
    recs += [h.entry(cid, [h.op_set("status", '"%s"' % v, base)])
             for v in ["not_victim", "identified"] * 32]
    recs.append(h.entry(cid, [op_offer("back-1", "lao-cai", "nghe-an")]))
    a = h.push(recs)
    check(a is not None and a[1] == ACK, "flood not acknowledged: %r" %
          (a,))
    h.bye()
    h.close()
    sync_ok(n, "after the flood")
    ok(n.cli("case", "accept", cid), "nghe-an accepts it back")
    n.update(cid, {"status": "receiving_support"})
    sync_ok(n, "after a new write")
    check(ok(c.verify()).rc == 0, "central verify")
    check(ok(n.verify()).rc == 0, "nghe-an verify")
    got_n, got_c = n.get(cid), c.get(cid)
    check(got_n["status"] == got_c["status"] == "receiving_support",
          (got_n["status"], got_c["status"]))
    check(got_c.get("conflicts", 0) <= 1, got_c)


# ---- finding 2: memory, credit and backoff at central ------------------

def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_bad_batch_flood_is_backed_off_and_bounded(env):
    """lao-cai resends at once a 3.9 MB batch whose last signature is
    wrong, with a HELLO before each copy.  Each one used to cost central an
    apply and a roll back, and central read them all into memory.  Now
    the first failure backs lao-cai off (its HELLOs are refused unread),
    a connection queues at most a few frames, and central's RSS stays
    bounded."""
    c, _ = setup(env)
    h = hostile(env, c)
    w = h.hello()
    check(w is not None and w[1] == 2, "no WELCOME: %r" % (w,))
    cid = Hostile.new_case_id()
    recs = [h.entry(cid, [h.op_set("status", '"' + "x" * 3900 + '"')])
            for _ in range(960)]
    seq, last = recs[-1]
    # Break the last signature (the one central checks per batch).
    import msgpack
    rec = msgpack.unpackb(last, raw=False)
    rec[2] = bytes([rec[2][0] ^ 1]) + rec[2][1:]
    recs[-1] = (seq, msgpack.packb(rec, use_bin_type=True))
    batch = h.batch_msg(recs)
    child = session_child(c.proc)
    base_kb = vm_hwm_kb(child)
    hello = h.hello_msg(0, seq)
    stop = []

    def reader():
        while not stop:
            try:
                h.recv(0.2)
            except Exception:
                return
    t = threading.Thread(target=reader, daemon=True)
    for i in range(120):
        h.send(hello)
        h.send(batch)
        if i == 0:
            t.start()
    time.sleep(1)
    wait_for(lambda: "lao-cai" in central_log(env), 5)
    # Let central work through what it accepted.
    time.sleep(8)
    stop.append(1)
    t.join(2)
    peak_mb = vm_hwm_kb(child) / 1024.0
    failures = sum(1 for line in central_log(env).splitlines()
                   if " warn: batch from lao-cai" in line and
                   "does not verify" in line)
    print("  central: peak RSS %.0f MB (%.0f MB before), %d batches "
          "verified and rolled back out of 120" % (
              peak_mb, base_kb / 1024.0, failures), flush=True)
    check(failures <= 4, "%d bad batches applied and rolled back" % failures)
    check(peak_mb < 250, "central's peak RSS %.0f MB" % peak_mb)
    check(any(code == BUSY_CODE and "backed off" in why
              for code, why in h.errors), "no back-off: %r" % h.errors[:5])
    h.close()
    # Central still serves honest provinces.
    p = env.province("ha-noi", c)
    p.add(sample_case(3))
    sync_ok(p, "after the flood")


def test_ack_without_batch_in_flight_ends_session(env):
    """Each ACK used to return one credit whatever was in flight, so a
    province could make central queue its whole feed at once."""
    c, (n,) = setup(env, "nghe-an")
    h = hostile(env, c)
    w = h.hello(window=1, ack=False)
    check(w is not None and w[1] == 2, "no WELCOME")
    for _ in range(5):
        h.ack(1, 0)
    h.drain(1.0)
    check(any("ack without a batch in flight" in why
              for _, why in h.errors), "extra ACKs accepted: %r" % h.errors)


# ---- finding 3: quotas, junk referrals ---------------------------------

def test_daily_quotas_refuse_and_status_shows(env):
    c, (n,) = setup(env, "nghe-an", conf={"quota_cases_per_day": 5,
                                          "quota_referrals_per_day": 2})
    h = hostile(env, c)
    h.hello()
    ids = [Hostile.new_case_id() for _ in range(8)]
    first = [h.entry(i, [h.op_set("status", '"reported"'),
                         h.op_transfer("lao-cai")]) for i in ids[:4]]
    a = h.push(first)
    check(a is not None and a[1] == ACK, "4 cases refused: %r" % (a,))
    mark = h.mark()
    more = [h.entry(i, [h.op_set("status", '"reported"'),
                        h.op_transfer("lao-cai")]) for i in ids[4:]]
    a = h.push(more)
    check(a is not None and a[1] == ERROR and a[2] == QUOTA_CODE and
          "quota of 5 new cases" in a[3], "over-quota batch: %r" % (a,))
    check(c.status()["cases"] == 4, c.status())
    peer = status_peer(c, "lao-cai")
    check("quota" in peer.get("last_error", ""), "status: %r" % peer)
    r = ok(c.cli("status"))
    check("quota of 5 new cases" in r.out, r.out)
    h.rewind(mark)      # nothing of the refused batch was applied
    # A province cannot give a case away: only an offer, which nghe-an
    # would have to accept.
    h.connect()
    h.hello()
    a = h.push([h.entry(ids[0], [h.op_transfer("nghe-an")])])
    check(a is not None and a[1] == ACK and a[4] == 0 and a[6] == 1,
          "a transfer to another province was not refused: %r" % (a,))
    # The refusal notice comes back in the feed with central's reason
    # ([pos, record, 1, reason], docs/PROTOCOL.md "Refusals").
    h.connect()
    h.hello()
    check(any("own" in why or "transfer" in why or "offer" in why
              for _, why in h.refusals), h.refusals)
    # Junk offers into nghe-an's inbox: at most 2 a day.
    mark = h.mark()
    junk = [h.entry(i, [op_offer("junk-%d" % k, "lao-cai", "nghe-an")])
            for k, i in enumerate(ids[:3])]
    a = h.push(junk)
    check(a is not None and a[1] == ERROR and "referrals" in a[3],
          "junk referrals: %r" % (a,))
    sync_ok(n)
    check(n.status()["cases"] == 0, n.status())
    h.rewind(mark)
    h.connect()
    h.hello()
    a = h.push([h.entry(i, [op_offer("junk-%d" % k, "lao-cai", "nghe-an")])
                for k, i in enumerate(ids[:2])])
    check(a is not None and a[1] == ACK and a[4] == 2, "2 referrals: %r" %
          (a,))
    sync_ok(n)
    check(n.status()["cases"] == 2, n.status())
    # Offers only: none counts as nghe-an's until it accepts.
    check(all(x["owner"] == "lao-cai" and x["referral_pending"] == "nghe-an"
              for x in ok(n.cli("case", "list", "--json")).json()),
          "junk offers owned by nghe-an")
    h.close()


# ---- finding 4: the erase exception -------------------------------------

def test_erase_exception_not_from_referred_history(env):
    """A case created by nghe-an is offered to lao-cai, which never
    acknowledges its feed and erases it without accepting.  The creator's
    first transfer in the history sent to lao-cai used to count as "a
    referral away from lao-cai"; an offer never made lao-cai the owner."""
    c, (n,) = setup(env, "nghe-an")
    h = hostile(env, c)
    cid = n.add(sample_case(7, status="reported"))
    ok(n.cli("case", "transfer", cid, "--to", "lao-cai"), "refer")
    sync_ok(n)
    h.hello(ack=False)
    check(any(e[5] == cid for _, e in h.feed), "case not in the feed")
    h.close()
    n.update(cid, {"status": "receiving_support"})
    sync_ok(n, "after nghe-an's addition")
    h.connect()
    h.hello(ack=False)
    a = h.push([h.entry(cid, [h.op_erase()])])
    check(a is not None and a[1] == ACK, "erase batch: %r" % (a,))
    check(a[6] == 1 and a[4] == 0, "the erase was not refused: %r" % (a,))
    # Nor may it answer for another province, or accept twice.
    oid = offer_id(h.feed, cid)
    a = h.push([h.entry(cid, [op_accept(oid), h.op_transfer("nghe-an")])])
    check(a is not None and a[1] == ACK and a[6] == 1, "answer: %r" % (a,))
    got = c.get(cid)
    check(not got.get("erased") and got["person"].get("full_name") and
          got["owner"] == "nghe-an", "central erased nghe-an's case: %r" % got)
    h.close()


# ---- finding 9: session bound to its key, KEYS minimised ---------------

def test_session_bound_to_its_curve_key(env):
    """nghe-an opens a session with a chosen routing id and goes away;
    lao-cai connects with that routing id and acknowledges nghe-an's feed.
    Central used to take the ACK as nghe-an's (its erase window closed,
    its pending count went to 0)."""
    c, (n, q) = setup(env, "nghe-an", "ha-noi")
    for i in range(3):
        cid = q.add(sample_case(20 + i))
        ok(q.cli("case", "transfer", cid, "--to", "nghe-an"), "refer")
    sync_ok(q)
    victim = Hostile(n.dir, c.dir).connect(routing_id=b"victim-id")
    w = victim.hello(ack=False)
    check(w is not None and w[1] == 2 and victim.feed_recv > 0,
          "nghe-an got no feed: %r" % (w,))
    victim.close()
    time.sleep(0.5)
    h = hostile(env, c)
    h.connect(routing_id=b"victim-id")
    for no in range(1, 4):
        h.ack(no, victim.feed_recv)
    h.drain(1.0)
    # No record of nghe-an at central yet means nothing was acknowledged.
    pend = status_peer(c, "nghe-an").get("pending_out")
    check(pend is None or pend > 0, "lao-cai acknowledged nghe-an's feed: "
          "pending_out %r" % pend)
    check(len([1 for code, _ in h.errors if code == 4]) == 3,
          "ACKs on nghe-an's session not refused: %r" % h.errors)
    h.close()


def test_keys_only_for_origins_in_feed(env):
    c, (n, q) = setup(env, "nghe-an", "ha-noi")
    h = hostile(env, c)
    h.hello()
    check(h.keys is not None and set(h.keys) == {"central"},
          "KEYS to a province with an empty feed: %r" % sorted(h.keys or {}))
    h.close()
    cid = q.add(sample_case(30))
    ok(q.cli("case", "transfer", cid, "--to", "lao-cai"), "refer")
    sync_ok(q)
    h2 = Hostile(h.dir, c.dir).connect()
    h2.hello()
    check(set(h2.keys) == {"central", "ha-noi"}, sorted(h2.keys))
    h2.close()


# ---- group commit (issue 19) -------------------------------------------

def test_bad_batch_in_a_group_fails_alone(env):
    """Central applies the batches queued at one moment in one
    transaction (group commit).  lao-cai's batch, whose last signature is
    wrong, is queued between nghe-an's batches while central applies
    nghe-an's first: it shares the next commit with them, is rolled back
    alone (lao-cai gets an error and a back-off), and every entry of
    nghe-an is applied once, none refused."""
    c, _ = setup(env)
    good = hostile(env, c, "nghe-an")
    w = good.hello()
    check(w is not None and w[1] == 2, "no WELCOME: %r" % (w,))
    import msgpack
    lc = env.province("lao-cai", c)
    # Whether lao-cai's batch lands in the same group as nghe-an's depends
    # on when central picks up its queue: on a busy machine it may take
    # nghe-an's first batch, then lao-cai's, alone.  So the exchange is
    # made again (with new cases, once lao-cai's back-off is over) until
    # a group held both, at most 4 times; every attempt's outcome is
    # checked, and a group that held lao-cai's batch must have been seen.
    attempts, shared = 0, []
    while not shared and attempts < 4:
        attempts += 1
        deadline = time.monotonic() + 30
        while True:             # lao-cai's back-off after a failed batch
            bad = Hostile(lc.dir, c.dir).connect()
            w = bad.hello()
            if w is not None and w[1] == 2:
                break
            bad.close()
            check(w is not None and "backed off" in str(w[3]) and
                  time.monotonic() < deadline, "no WELCOME: %r" % (w,))
            time.sleep(0.5)
        batches = []
        for _ in range(3):
            batches.append([good.entry(Hostile.new_case_id(), [
                good.op_set("status", '"reported"'),
                good.op_transfer("nghe-an")]) for _ in range(600)])
        recs = [bad.entry(Hostile.new_case_id(), [
            bad.op_set("status", '"reported"'), bad.op_transfer("lao-cai")])
            for _ in range(600)]
        seq, last = recs[-1]
        rec = msgpack.unpackb(last, raw=False)
        rec[2] = bytes([rec[2][0] ^ 1]) + rec[2][1:]
        recs[-1] = (seq, msgpack.packb(rec, use_bin_type=True))
        good.send_batch(batches[0])
        bad.send_batch(recs)
        good.send_batch(batches[1])
        good.send_batch(batches[2])
        acks = []
        while len(acks) < 3:
            m = good.recv_until(lambda m: m[1] in (ACK, ERROR), 60)
            check(m is not None and m[1] == ACK, "nghe-an's batch not "
                  "acknowledged: %r" % (m,))
            acks.append(m)
        m = bad.recv_until(lambda m: m[1] == ERROR, 30)
        check(m is not None and "does not verify" in m[3],
              "lao-cai: %r" % (m,))
        check(sum(a[4] for a in acks) == 1800 and
              sum(a[6] for a in acks) == 0, "ACKs: %r" % (acks,))
        check(acks[-1][3] == 1800 * attempts, "ACKs: %r" % (acks,))
        bad.close()
        shared = [line for line in central_log(env).splitlines()
                  if "one commit for" in line and "lao-cai (failed)" in line
                  and "nghe-an" in line]
    check(shared, "lao-cai's batch shared no commit with nghe-an's in %d "
          "attempts:\n%s" % (attempts, central_log(env)))
    if attempts > 1:
        print("  group commit: lao-cai's batch shared a commit at "
              "attempt %d" % attempts)
    good.bye()
    good.close()
    st = c.status()
    n = 1800 * attempts
    check(st["entries"] == n and st["cases"] == n and
          st["vector"] == {"nghe-an": n}, st)
    check(ok(c.verify()).rc == 0, "central verify")


# ---- the credit, counted (issue 19) ---------------------------------------

def test_batch_beyond_credit_ends_the_session(env):
    """With three sessions open central grants the third a window of
    16 / 3 = 5 batches.  lao-cai sends 5 batches at once, as it may: all
    are acknowledged.  Then it sends 12 at once without waiting for an
    ACK: central applies those read within the credit, ends the
    session at the first beyond it ("a batch beyond the credit of 5
    batches") and backs lao-cai off.  Before the count, central read,
    applied and acknowledged all 12 (group commit reads up to 8 batches
    before any ACK goes out)."""
    c, _ = setup(env)
    others = [hostile(env, c, n) for n in ("ha-noi", "an-giang")]
    for o in others:
        w = o.hello()
        check(w is not None and w[1] == 2, "%s: %r" % (o.node, w))
    h = hostile(env, c)
    w = h.hello()
    check(w is not None and w[1] == 2, "no WELCOME: %r" % (w,))
    check(w[5] == 5, "window %r granted with three sessions" % w[5])
    from hostile import pack

    def case():
        return h.entry(Hostile.new_case_id(), [
            h.op_set("status", '"reported"'), h.op_transfer("lao-cai")])

    def burst(n, first=1):
        """n batches sent at once (packed and signed beforehand), the
        first of `first` new cases, the others of one: while central
        applies the first, the others are all queued at it."""
        frames = [pack(h.batch_msg([case() for _ in range(
            first if i == 0 else 1)])) for i in range(n)]
        for f in frames:
            h.sock.send(f, copy=False)
    # Exactly the credit, at once: an honest province may; all applied.
    burst(5)
    acks = []
    while len(acks) < 5:
        m = h.recv_until(lambda m: m[1] in (ACK, ERROR), 30)
        check(m is not None and m[1] == ACK, "a batch within the credit "
              "was not acknowledged: %r" % (m,))
        acks.append(m)
    check(acks[-1][3] == 5, "ACKs: %r" % (acks,))
    burst(12, 400)
    m = h.recv_until(lambda m: m[1] == ERROR, 30)
    check(m is not None and "beyond the credit of 5 batches" in m[3],
          "no refusal of the batch beyond the credit: %r" % (m,))
    wait_for(lambda: "lao-cai backed off" in central_log(env), 10, 0.1,
             "central to log lao-cai's back-off")
    st = c.status()
    got = st["vector"].get("lao-cai", 0)
    check(5 <= got < 5 + 400 + 11, "central applied %d of lao-cai's "
          "entries" % got)
    # What was read within the credit was applied; the next HELLO is
    # answered BUSY.
    check(st["entries"] == got and st["cases"] == got, st)
    h2 = Hostile(h.dir, c.dir).connect()
    h2.send(h2.hello_msg(0, got))
    m = h2.recv_until(lambda m: m[1] in (2, ERROR), 10)
    check(m is not None and m[1] == ERROR and m[2] == BUSY_CODE,
          "lao-cai not backed off: %r" % (m,))
    for x in others + [h, h2]:
        x.close()
    check(ok(c.verify()).rc == 0, "central verify")
