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
from hostile import Hostile  # noqa: E402
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
