"""The erase exception judged the same way by every central (issue 15,
standby chaos seed 31; docs/CONFLICTS.md, "Erasing a person's identifying
data").

Central referred lam-dong's case to ha-noi; lam-dong, not yet told, erased
it.  Central accepts that erase from a node that no longer owns the case.
It used to decide "not yet told" from the state of lam-dong's feed when
the erase arrived (the referral still unacknowledged), which a central
restored from a backup, or a promoted standby that meets the erase after
the old central took it, no longer holds: the central judging the erase a
second time refused it, while ha-noi had erased its copy.  An erase now
carries the stamp of the transfer that made its writer the owner in the
writer's view, and central decides from that stamp and the case's
transfers alone.

Each test needs lam-dong to acknowledge its feed at the central that will
judge the erase again, in a session that ends before the erase gets
through (a cut link, in the campaign): tests/hostile.py, with lam-dong's
keys, plays that session, so that nothing depends on timing.
"""
import json
import os
import sys

from harness import check, ok, sample_case
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from hostile import ACK, Hostile  # noqa: E402
from test_restore import backup, lose_and_restore  # noqa: E402
from test_standby import ha_province, standby_node, wait_current  # noqa: E402
from test_sync import sync_ok, verify_all  # noqa: E402


def peer_refused(c, name):
    for p in c.status()["peers"]:
        if p["peer"] == name:
            return p.get("refused", 0)
    return 0


def erased(node, cid):
    got = node.get(cid)
    return got is not None and got.get("erased") is True and \
        "full_name" not in got.get("person", {}) and \
        "#sha256" not in json.dumps(got)


def test_erase_exception_survives_central_restore(env):
    """The erase is accepted, reaches ha-noi, and central is then put back
    from a backup taken after its referral but before the erase: at
    lam-dong's next sync the restored central judges the erase again,
    with lam-dong's feed already acknowledged past the referral."""
    c = env.central().start()
    a = env.province("lam-dong", c)
    b = env.province("ha-noi", c)
    cid = a.add(sample_case(31))
    keep = a.add(sample_case(32))
    sync_ok(a)
    sync_ok(b)
    ok(c.cli("case", "transfer", cid, "--to", "ha-noi"), "central refers")
    bk = backup(c, "bk-central")
    ok(a.cli("case", "erase", cid), "erase on lam-dong, not yet told")
    r = sync_ok(a)
    check(a.get(cid)["owner"] == "ha-noi", "referral not applied: %r" % r)
    sync_ok(a)          # lam-dong's ACK of the referral is processed
    check(erased(c, cid), "central refused the erase: %r" % c.get(cid))
    sync_ok(b)
    check(erased(b, cid), "ha-noi did not get the erase: %r" % b.get(cid))
    check(peer_refused(c, "lam-dong") == 0, c.status())
    # central's disk is lost; it comes back from the backup
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    check(not c.get(cid).get("erased"), "the backup holds the erase?")
    # lam-dong's first session with the restored central acknowledges its
    # feed, the referral included, and is cut before lam-dong's erase gets
    # through (the hostile client stands in for that session).
    h = Hostile(a.dir, c.dir).connect()
    w = h.hello()
    check(w is not None and w[1] == 2 and any(
        e[5] == cid for _, e in h.feed), "feed: %r %r" % (w, h.feed))
    h.close()
    for _ in range(2):
        r = a.sync()
        check(r.rc == 0, "lam-dong's sync after the restore: %r" % r)
        r = b.sync()
        check(r.rc == 0, "ha-noi's sync after the restore: %r" % r)
    check(erased(c, cid), "the restored central refused the erase it had "
          "accepted before: %r" % c.get(cid))
    check(peer_refused(c, "lam-dong") == 0 and
          peer_refused(c, "ha-noi") == 0, "refusals: %r" % c.status())
    for n in (a, b):
        check(erased(n, cid), "%s: %r" % (n.name, n.get(cid)))
    check(c.get(cid) == b.get(cid), "ha-noi %r\ncentral %r" % (
        b.get(cid), c.get(cid)))
    check(c.get(keep) == a.get(keep), "lam-dong's other case differs")
    # The history shows the owner the eraser saw: lam-dong's own creation.
    hist = json.loads(ok(c.cli("case", "history", cid, "--json")).out)
    er = [(e, o) for e in hist for o in e["ops"] if o["op"] == "erase"]
    check(len(er) == 1 and er[0][0]["node"] == "lam-dong" and
          er[0][1].get("owner_seen", {}).get("node") == "lam-dong" and
          er[0][1]["owner_seen"]["hlc"] < er[0][0]["hlc"], er)
    txt = ok(c.cli("case", "history", cid)).out
    check("the owner as its writer saw it: made by lam-dong at" in txt, txt)
    verify_all(c, a, b)


def test_erase_exception_survives_promotion_and_old_central(env):
    """Seed 31 itself: the old central, back after the standby's promotion
    and not yet fenced, takes lam-dong's erase and routes it to ha-noi;
    lam-dong then acknowledges the referral to it.  The promoted central,
    whose copy predates the erase, meets it afterwards and must accept it
    too, and ha-noi's copy of it."""
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lam-dong", c, sb)
    b = ha_province(env, "ha-noi", c, sb)
    cid = a.add(sample_case(31))
    sync_ok(a)
    sync_ok(b)
    ok(c.cli("case", "transfer", cid, "--to", "ha-noi"), "central refers")
    sb.start()
    wait_current(c, sb)
    sb.stop()
    c.stop()
    ok(sb.cli("promote"), "promote")
    sb.role = "central"
    # The old central comes back before any province has met the new
    # epoch: it is not fenced yet and serves as central.
    c.start()
    ok(a.cli("case", "erase", cid), "erase on lam-dong, not yet told")
    sync_ok(a)
    check(a.get(cid)["owner"] == "ha-noi", "referral not applied")
    sync_ok(a)          # lam-dong's ACK of the referral, to the old one
    check(erased(c, cid), "the old central refused the erase")
    sync_ok(b)
    check(erased(b, cid), "ha-noi did not get the erase: %r" % b.get(cid))
    c.stop()
    sb.start()
    # lam-dong's first session with the promoted central acknowledges its
    # feed and is cut before the erase gets through (the hostile client).
    h = Hostile(a.dir, sb.dir).connect()
    w = h.hello()
    check(w is not None and w[1] == 2 and any(
        e[5] == cid for _, e in h.feed), "feed: %r %r" % (w, h.feed))
    h.close()
    for _ in range(2):
        r = a.sync(60)
        check(r.rc == 0, "lam-dong's sync with the new central: %r" % r)
        r = b.sync(60)
        check(r.rc == 0, "ha-noi's sync with the new central: %r" % r)
    check(erased(sb, cid), "the promoted central refused the erase: %r"
          % sb.get(cid))
    check(peer_refused(sb, "lam-dong") == 0 and
          peer_refused(sb, "ha-noi") == 0, "refusals: %r" % sb.status())
    check(sb.get(cid) == b.get(cid), "ha-noi %r\ncentral %r" % (
        b.get(cid), sb.get(cid)))
    verify_all(sb, a, b)
    sb.stop()


# ---- the rule, entry by entry (tests/hostile.py as lao-cai) -----------

def transfers_in_feed(h, cid):
    """(stamp, to) of every transfer of case cid that h received."""
    return [(Hostile.stamp_of(e), o[1]) for _, e in h.feed if e[5] == cid
            for o in e[6] if o[0] == 3]


def refused(a):
    return a is not None and a[1] == ACK and a[4] == 0 and a[6] == 1


def applied(a):
    return a is not None and a[1] == ACK and a[4] == 1 and a[6] == 0


def test_erase_view_accepted_after_the_referral_is_acknowledged(env):
    """lao-cai creates a case, central refers it to nghe-an, lao-cai
    acknowledges that referral in one session and erases in the next.  An
    erase without the owner lao-cai saw is judged by the feed (the
    referral is acknowledged: refused, as before); the same erase naming
    lao-cai's own creating transfer as the owner it saw is accepted (the
    transfer after it is central's referral away), and reaches nghe-an,
    which applies the new form of the op."""
    c = env.central().start()
    n = env.province("nghe-an", c)
    env.province("lao-cai", c)
    h = Hostile(os.path.join(env.tmp, "lao-cai"), c.dir).connect()
    check(h.hello() is not None, "no WELCOME")
    cid = Hostile.new_case_id()
    a = h.push([h.entry(cid, [h.op_set("status", '"reported"'),
                              h.op_transfer("lao-cai")])])
    check(applied(a), "create: %r" % (a,))
    t0 = (h.hlc, "lao-cai")
    ok(c.cli("case", "transfer", cid, "--to", "nghe-an"), "central refers")
    h.connect()
    h.hello()                           # acknowledges the referral
    check([to for _, to in transfers_in_feed(h, cid)] == ["nghe-an"],
          "feed: %r" % (h.feed,))
    h.connect()
    h.hello()
    a = h.push([h.entry(cid, [h.op_erase()])])
    check(refused(a), "an erase without a view, after the ACK: %r" % (a,))
    a = h.push([h.entry(cid, [h.op_erase(t0)])])
    check(applied(a), "the erase naming the owner lao-cai saw: %r" % (a,))
    h.close()
    got = c.get(cid)
    check(got["erased"] and got["owner"] == "nghe-an", got)
    sync_ok(n)
    check(erased(n, cid), "nghe-an: %r" % n.get(cid))
    ok(n.verify(), "verify nghe-an")
    ok(c.verify(), "verify central")


def test_erase_view_refused_unless_it_names_the_writer(env):
    """The owner an erase says its writer saw must be a transfer central
    holds, stamped before the erase, that names the writer: not the
    referral away, not a stamp central does not hold, not another
    province's creating transfer in a history offered to the writer
    (issue 18, finding 4), not a referral event, not a view on only some
    of the entry's ops."""
    c = env.central().start()
    n = env.province("nghe-an", c)
    env.province("lao-cai", c)
    h = Hostile(os.path.join(env.tmp, "lao-cai"), c.dir).connect()
    h.hello()
    cid = Hostile.new_case_id()
    a = h.push([h.entry(cid, [h.op_set("status", '"reported"'),
                              h.op_transfer("lao-cai")])])
    check(applied(a), "create: %r" % (a,))
    t0 = (h.hlc, "lao-cai")
    ok(c.cli("case", "transfer", cid, "--to", "nghe-an"), "central refers")
    # A case of nghe-an's, offered to lao-cai (never its owner).
    other = n.add(sample_case(40, status="reported"))
    ok(n.cli("case", "transfer", other, "--to", "lao-cai"), "offer")
    sync_ok(n)
    h.connect()
    h.hello()
    away = transfers_in_feed(h, cid)
    check(len(away) == 1 and away[0][1] == "nghe-an", away)
    created = transfers_in_feed(h, other)
    check(len(created) == 1 and created[0][1] == "nghe-an", created)
    offer = [Hostile.stamp_of(e) for _, e in h.feed if e[5] == other and
             any(o[0] == 2 and o[1] == "referrals" for o in e[6])]
    check(offer, "no offer in the feed")
    h.connect()
    h.hello()
    for what, ops in (
            ("the referral away", [h.op_erase(away[0][0])]),
            ("a stamp central does not hold",
             [h.op_erase((t0[0] + 1, "lao-cai"))]),
            ("a view on one op of two", [h.op_erase(t0), h.op_erase()])):
        a = h.push([h.entry(cid, ops)])
        check(refused(a), "%s: %r" % (what, a))
    # A view stamped after the erase itself.
    a = h.push([h.entry(cid, [h.op_erase(t0)], hlc=t0[0] - 1000)])
    check(refused(a), "a view after the erase: %r" % (a,))
    h.hlc = t0[0] + 5000
    for what, view in (("nghe-an's creating transfer", created[0][0]),
                       ("nghe-an's offer", offer[-1])):
        a = h.push([h.entry(other, [h.op_erase(view)])])
        check(refused(a), "%s: %r" % (what, a))
    check(not c.get(cid)["erased"] and not c.get(other)["erased"],
          "central erased a case")
    # The same erase, naming the owner lao-cai saw, is accepted.
    a = h.push([h.entry(cid, [h.op_erase(t0)])])
    check(applied(a), "the erase naming the owner lao-cai saw: %r" % (a,))
    h.close()
    check(c.get(cid)["erased"], c.get(cid))
    ok(c.verify(), "verify central")
