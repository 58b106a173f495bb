"""Disaster recovery (issue 12): `casesync backup`, `casesync restore`, and
the recovery at the next sync in both directions (docs/PROTOCOL.md,
"Recovery").

A disk is "lost" by deleting the node directory; the node comes back from
a backup taken earlier.  After restore and a sync or two, central must hold
exactly every case and every entry that any node still holds, the entries
made after the backup that reached the other side must be back on the
restored node, `verify` must pass everywhere, and new work must sync.  A
node put back by copying files instead of `restore` must be stopped at its
first sync with exit 4 and a one-line error naming `casesync restore`,
with no node's data changed.
"""
import json
import os
import shutil
import subprocess
import time

from harness import check, ok, run, rmtree, sample_case
from test_sync import (check_replicas, exports_by_id, import_cases,
                       sync_ok, verify_all)


def backup(node, name):
    out = os.path.join(node.env.tmp, name)
    r = ok(node.cli("backup", out), "backup of " + node.name)
    check("data.mdb" in r.out and "bytes in all" in r.out, repr(r))
    return out


def lose_and_restore(node, bk):
    """The disk is lost; the node directory comes back from bk."""
    rmtree(node.dir)
    r = run(["restore", "-d", node.dir, bk])
    check(r.rc == 0, "restore of %s: %r" % (node.name, r))
    check("new incarnation" in r.out and "LOST:" in r.out, repr(r))
    return r


def log_keys(node):
    """Every (origin, seq) in a node's log, from `case history`."""
    keys = set()
    for cid in node.ids():
        r = ok(node.cli("case", "history", cid, "--json"), "history")
        for e in json.loads(r.out):
            keys.add((e["node"], e["seq"]))
    return keys


def test_backup_restore_verbs(env):
    c = env.central()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(1))
    check(run(["backup", "--help"]).rc == 0, "backup --help")
    check(run(["restore", "--help"]).rc == 0, "restore --help")
    check(run(["backup", "-d", p.dir]).rc == 1, "backup without OUT")
    os.makedirs(os.path.join(env.tmp, "full"))
    open(os.path.join(env.tmp, "full", "x"), "w").close()
    r = run(["backup", "-d", p.dir, os.path.join(env.tmp, "full")])
    check(r.rc == 2 and "not empty" in r.err and r.err.count("\n") == 1,
          "backup into a non-empty directory: %r" % r)
    bk = backup(p, "bk")
    check(oct(os.stat(bk).st_mode & 0o777) == "0o700", "backup mode")
    for f in os.listdir(bk):
        check(os.stat(os.path.join(bk, f)).st_mode & 0o077 == 0,
              "%s readable by others" % f)
    # restore refuses a non-empty DIR without --force, and nothing changes
    r = run(["restore", "-d", p.dir, bk])
    check(r.rc == 2 and "--force" in r.err, "restore over a node: %r" % r)
    check(p.get(cid) is not None, "node changed by a refused restore")
    r = run(["restore", "-d", os.path.join(env.tmp, "x"),
             os.path.join(env.tmp, "full")])
    check(r.rc == 2 and "not a backup" in r.err, repr(r))
    # restore from the backup and from a plain copy of a node directory
    dst = os.path.join(env.tmp, "again")
    ok(run(["restore", "-d", dst, bk]), "restore")
    check(run(["case", "get", "-d", dst, cid]).rc == 0, "case after restore")
    ok(run(["verify", "-d", dst]), "verify after restore")
    st = json.loads(ok(run(["status", "-d", dst, "--json"])).out)
    check(st["incarnation"] > 0, "no new incarnation: %r" % st)
    plain = os.path.join(env.tmp, "plain")
    shutil.copytree(p.dir, plain)
    dst2 = os.path.join(env.tmp, "again2")
    ok(run(["restore", "-d", dst2, plain]), "restore from a plain copy")
    ok(run(["verify", "-d", dst2]), "verify after restore of a plain copy")
    # --force replaces a node directory
    ok(run(["restore", "-d", p.dir, "--force", bk]), "restore --force")
    ok(p.verify(), "verify after restore --force")


def test_restored_province_recovers(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    early = [a.add(sample_case(i)) for i in range(5)]
    b.add(sample_case(100))
    sync_ok(a)
    sync_ok(b)
    bk = backup(a, "bk-a")
    # work after the backup that reaches central
    late = [a.add(sample_case(10 + i)) for i in range(5)]
    a.update(early[0], {"status": "identified"})
    check(sync_ok(a)["sent"] == 6, "late work not sent")
    # central edits one of a's cases after the backup; a gets it
    ok(c.cli("case", "update", late[0], "-",
             stdin=json.dumps({"status": "closed"})), "central edit")
    sync_ok(a)
    before = exports_by_id(c)
    # the disk is lost; a comes back from last night's backup
    lose_and_restore(a, bk)
    check(a.get(late[0]) is None, "the backup holds a later case?")
    # a keeps writing offline before its first sync: nothing collides
    offline = [a.add(sample_case(30 + i)) for i in range(3)]
    a.update(early[1], {"status": "identified"})
    r = a.sync()
    check(r.rc == 0, "first sync after restore: %r" % r)
    check("recovered 6 of this node's entries" in r.out, repr(r))
    sync_ok(a)
    for cid in early + late + offline:
        check(a.get(cid) is not None, "case %s lost on the province" % cid)
    check(a.get(late[0])["status"] == "closed", "central's edit lost")
    check(a.get(early[0])["status"] == "identified", "late update lost")
    check_replicas(c, [a, b])
    cen = exports_by_id(c)
    for cid in before:
        check(cid in cen, "case %s lost on central" % cid)
    check(log_keys(a) <= log_keys(c), "central lacks entries a holds")
    verify_all(c, a, b)
    # new work on the restored node syncs normally
    n = a.add(sample_case(50))
    sync_ok(a)
    check(c.get(n) is not None, "new work after recovery not synced")
    check(sync_ok(a)["sent"] == 0, "a resync sends again")
    verify_all(c, a)


def test_restored_central_recovers(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    ca = [a.add(sample_case(i)) for i in range(4)]
    cb = [b.add(sample_case(100 + i)) for i in range(3)]
    sync_ok(a)
    sync_ok(b)
    ok(c.cli("case", "update", ca[0], "-",
             stdin=json.dumps({"status": "identified"})), "central edit")
    sync_ok(a)
    bk = backup(c, "bk-central")     # while central serves
    # more work after the backup, including an edit made at central
    ca += [a.add(sample_case(10 + i)) for i in range(3)]
    sync_ok(a)
    ok(c.cli("case", "update", ca[1], "-",
             stdin=json.dumps({"status": "closed"})), "central edit")
    ok(c.cli("case", "update", ca[5], "-",
             stdin=json.dumps({"status": "closed"})), "central edit")
    sync_ok(a)
    cb += [b.add(sample_case(110))]
    sync_ok(b)
    keys_before = log_keys(c)
    # central's disk is lost; it comes back from the backup
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    check(c.get(ca[1]) is None or c.get(ca[1])["status"] != "closed",
          "the backup holds the later edit?")
    # central writes before any province syncs: no collision either
    ok(c.cli("case", "update", ca[2], "-",
             stdin=json.dumps({"status": "identified"})), "central edit")
    ra = a.sync()
    check(ra.rc == 0, "province sync after central's restore: %r" % ra)
    check("gave back" in ra.out, repr(ra))
    rb = b.sync()
    check(rb.rc == 0, "province sync after central's restore: %r" % rb)
    sync_ok(a)
    sync_ok(b)
    check(c.get(ca[1])["status"] == "closed", "central's own edit lost")
    check(c.get(ca[5])["status"] == "closed", "central's own edit lost")
    check(a.get(ca[2])["status"] == "identified", "central's new edit")
    check(keys_before <= log_keys(c), "central lacks entries it had: %r" % (keys_before - log_keys(c)))
    check_replicas(c, [a, b])
    verify_all(c, a, b)
    # new work syncs normally both ways
    n = a.add(sample_case(60))
    sync_ok(a)
    ok(c.cli("case", "update", n, "-",
             stdin=json.dumps({"status": "identified"})), "central edit")
    sync_ok(a)
    check(a.get(n)["status"] == "identified", "new central edit")
    check_replicas(c, [a, b])
    verify_all(c, a, b)


def test_raw_copy_of_province_detected(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    for i in range(3):
        a.add(sample_case(i))
    sync_ok(a)
    a.cli("status")
    copy = os.path.join(env.tmp, "copy-a")
    shutil.copytree(a.dir, copy)
    for i in range(3):
        a.add(sample_case(10 + i))
    sync_ok(a)
    # put back by copying files, not with restore, and written to
    rmtree(a.dir)
    shutil.copytree(copy, a.dir)
    a.add(sample_case(20))
    cen, mine = c.export(), a.export()
    r = a.sync(10)
    check(r.rc == 4, "raw copy: expected exit 4, got %r" % r)
    check("casesync restore" in r.err and r.err.count("\n") == 1,
          "one line naming casesync restore: %r" % r.err)
    check(c.export() == cen and a.export() == mine, "data changed")
    # the same copy put back with restore recovers
    r = run(["restore", "-d", a.dir, "--force", copy])
    check(r.rc == 0, repr(r))
    sync_ok(a)
    check(len(a.ids()) == 6, "province did not recover its cases")
    verify_all(c, a)


def test_raw_copy_of_central_detected(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    cid = a.add(sample_case(1))
    sync_ok(a)
    c.stop()
    copy = os.path.join(env.tmp, "copy-central")
    shutil.copytree(c.dir, copy)
    c.start()
    for i in range(3):
        ok(c.cli("case", "update", cid, "-", stdin=json.dumps(
            {"status": ["identified", "closed", "receiving_support"][i]})),
           "central edit")
    sync_ok(a)
    c.stop()
    rmtree(c.dir)
    shutil.copytree(copy, c.dir)
    c.start()
    # the copy reuses its positions for a new edit
    ok(c.cli("case", "update", cid, "-",
             stdin=json.dumps({"status": "reported"})), "central edit")
    cen, mine = c.export(), a.export()
    r = a.sync(10)
    check(r.rc == 4, "raw copy of central: expected exit 4, got %r" % r)
    check("casesync restore" in r.err and r.err.count("\n") == 1,
          "one line naming casesync restore: %r" % r.err)
    check(c.export() == cen and a.export() == mine, "data changed")


def test_backup_during_large_sync(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    import_cases(a, 20000)
    proc = a.popen("sync", "--timeout", "300", stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and \
            c.status()["entries"] == 0 and proc.poll() is None:
        time.sleep(0.1)
    bc = backup(c, "bk-c")
    ba = backup(a, "bk-a")
    mid = c.status()["entries"]
    out, err = proc.communicate(timeout=300)
    check(proc.returncode == 0, "sync: %r" % err)
    check(0 < mid, "the backup was not taken during the sync")
    for name, bk in (("rc", bc), ("ra", ba)):
        dst = os.path.join(env.tmp, name)
        ok(run(["restore", "-d", dst, bk]), "restore " + name)
        ok(run(["verify", "-d", dst], timeout=300), "verify " + name)


def test_restore_from_backup_taken_before_recovery(env):
    """A backup taken right after a restore, before the first sync, has
    holes (the entries central still had to give back): restored from it,
    the node still gets every one of them back."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    ids = [a.add(sample_case(i)) for i in range(3)]
    sync_ok(a)
    bk1 = backup(a, "bk1")
    ids += [a.add(sample_case(10 + i)) for i in range(3)]
    sync_ok(a)
    lose_and_restore(a, bk1)
    ids.append(a.add(sample_case(20)))
    bk2 = backup(a, "bk2")          # holds a new entry, not the lost ones
    sync_ok(a)                      # central: everything, the new entry last
    time.sleep(1.1)                 # incarnations are seconds
    lose_and_restore(a, bk2)
    # central's position for a is the new entry, which bk2 holds: only
    # the holes below it show that entries are missing
    r = a.sync()
    check(r.rc == 0, "sync after the second restore: %r" % r)
    check("recovered 3 of this node's entries" in r.out, repr(r))
    for cid in ids:
        check(a.get(cid) is not None, "case %s lost" % cid)
    ids.append(a.add(sample_case(22)))
    sync_ok(a)
    check(len(c.ids()) == len(ids), "central: %d cases, expected %d" %
          (len(c.ids()), len(ids)))
    check(log_keys(a) == log_keys(c), "logs differ")
    check_replicas(c, [a])
    verify_all(c, a)


def test_refused_entry_stays_refused_after_central_restore(env):
    """An entry central refused after its backup comes back from its
    province when central is restored (positions stay contiguous) and is
    refused again, even though the case looks, by then, as if its origin
    could write it: the origin took it out of its copy."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    cid = a.add(sample_case(1))
    sync_ok(a)
    sync_ok(b)
    bk = backup(c, "bk-central")
    ok(c.cli("case", "transfer", cid, "--to", "ha-noi", "--reason",
             "FAKE reason one"), "transfer away")
    a.update(cid, {"intake": {"facility": "FAKE-REFUSED"}})
    r = a.sync()
    check(r.rc == 0 and summary_refused(r) == 1, "not refused: %r" % r)
    sync_ok(b)
    ok(c.cli("case", "transfer", cid, "--to", "lao-cai", "--reason",
             "FAKE reason two"), "transfer back")
    sync_ok(a)
    sync_ok(b)
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    for _ in range(2):
        sync_ok(a)
        sync_ok(b)
    check(c.get(cid)["intake"].get("facility") != "FAKE-REFUSED",
          "central holds the entry it refused before its restore")
    check(c.get(cid)["owner"] == "lao-cai", "owner: %r" % c.get(cid))
    check_replicas(c, [a], exact_ids=False)
    verify_all(c, a, b)


def summary_refused(r):
    import re
    m = re.search(r"refused (\d+)", r.out)
    return int(m.group(1)) if m else -1


def test_central_restore_transfer_back_first(env):
    """Central restored; the province that received a case by central's
    referral syncs first and gives back that referral (central's own entry)
    before the old owner resends the edit it made before the referral.
    Judged by the owner *now*, the edit would be refused although the old
    central accepted it and the new owner holds it (chaos seed 29); judged
    by the owner when it was written, it is accepted."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    a.add(sample_case(0))
    sync_ok(a)
    sync_ok(b)
    bk = backup(c, "bk-central")
    cid = a.add(sample_case(1))
    a.update(cid, {"intake": {"facility": "F-after-backup"}})
    sync_ok(a)
    ok(c.cli("case", "transfer", cid, "--to", "ha-noi"), "central refers")
    sync_ok(b)
    check(b.get(cid)["owner"] == "ha-noi", "referral reached ha-noi")
    sync_ok(a)
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    sync_ok(b)          # gives back central's referral first
    sync_ok(a)          # then resends its edit made before it
    sync_ok(b)
    sync_ok(a)
    got = c.get(cid)
    check(got["owner"] == "ha-noi", "owner on central: %r" % got)
    check(got["intake"]["facility"] == "F-after-backup",
          "the old owner's edit was refused after central's restore: %r"
          % got)
    check(a.get(cid)["intake"]["facility"] == "F-after-backup",
          "lao-cai lost its own edit")
    check_replicas(c, [b], exact_ids=False)
    verify_all(c, a, b)


def test_central_restore_gets_lost_origin_from_others(env):
    """Central restored and the origin of some lost entries is gone too (its
    disk lost for good): the province that holds them gives them back
    (GIVE), so central ends with every entry any province holds, and the
    new owner's later edits are accepted."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    cid = a.add(sample_case(2))
    sync_ok(a)
    bk = backup(c, "bk-central")
    a.update(cid, {"intake": {"facility": "F-by-lao-cai"}})
    ok(a.cli("case", "transfer", cid, "--to", "ha-noi"), "lao-cai refers")
    other = a.add(sample_case(3))
    sync_ok(a)
    sync_ok(b)
    ok(b.cli("case", "accept", cid), "ha-noi accepts the referral")
    sync_ok(b)
    check(b.get(cid)["owner"] == "ha-noi", "referral reached ha-noi")
    keys_b = {k for k in log_keys(b) if k[0] == "lao-cai"}
    # lao-cai never syncs again; central loses its disk
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    r = b.sync()
    check(r.rc == 0, "ha-noi's sync after central's restore: %r" % r)
    got = c.get(cid)
    check(got is not None and got["owner"] == "ha-noi" and
          got["intake"]["facility"] == "F-by-lao-cai",
          "central did not get lao-cai's entries back from ha-noi: %r"
          % got)
    check(keys_b <= log_keys(c), "central lacks lao-cai's entries that "
          "ha-noi holds: %r" % (keys_b - log_keys(c)))
    check(c.get(other) is None or other in b.ids(),
          "a case ha-noi never held appeared on central")
    b.update(cid, {"status": "closed"})
    sync_ok(b)
    check(c.get(cid)["status"] == "closed", "the new owner's edit was "
          "refused after central's restore")
    verify_all(c, b)


def test_central_restore_offer_before_centrals_reassignment(env):
    """Central restored (chaos seed 13 of the standby campaign).  Before
    the loss, ha-noi offered its case to hai-phong and central then
    reassigned the case to hai-phong itself; hai-phong holds both.  After
    the restore, hai-phong gives back central's reassignment first, and
    the offer comes after it.  Judged against the case as it is *now*
    (owned by hai-phong), the offer was refused ("a referral is made from
    its owner hai-phong, not from ha-noi") although the old central had
    accepted it and hai-phong kept it: the copies diverged.  An offer is
    judged, like the owner of any entry, by the case as it was when it
    was written."""
    c = env.central().start()
    a = env.province("ha-noi", c)
    b = env.province("hai-phong", c)
    cid = a.add(sample_case(4))
    sync_ok(a)
    sync_ok(b)
    bk = backup(c, "bk-central")
    ok(a.cli("case", "transfer", cid, "--to", "hai-phong", "--reason",
             "FAKE offer before the reassignment"), "ha-noi offers")
    sync_ok(a)
    sync_ok(b)
    ok(c.cli("case", "transfer", cid, "--to", "hai-phong", "--reason",
             "FAKE central's reassignment"), "central reassigns")
    sync_ok(b)
    sync_ok(a)
    want = c.get(cid)
    check(len(want["referrals"]) == 2, "both referrals on central: %r"
          % want)
    check(b.get(cid) == want, "hai-phong differs before the loss")
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    sync_ok(b)          # gives back central's reassignment, then the offer
    sync_ok(a)          # resends its offer
    sync_ok(b)
    sync_ok(a)
    got = c.get(cid)
    check(got == want, "central after its restore:\n %r\nbefore:\n %r" % (
        got, want))
    check(b.get(cid) == got, "hai-phong differs from central:\n %r\n %r"
          % (b.get(cid), got))
    check_replicas(c, [b], exact_ids=False)
    verify_all(c, a, b)


def test_central_restore_former_owner_told_of_later_transfer(env):
    """Central restored (chaos seeds 103 and 112 of the standby campaign,
    there after a promotion).  Central referred dien-bien's case to
    ha-noi, and lost that referral with its disk: ha-noi alone holds it.
    The restored central, not knowing of it, referred the case to
    hung-yen; then ha-noi gave back the first referral.  Central routed
    its later referral by the owner it knew when it made it (dien-bien),
    and the given-back one, stamped earlier, changed no owner, so ha-noi
    was never told that the case had left it: it believed it owned the
    case while central said hung-yen.  Who owned a case just before a
    transfer is a matter of stamps, like the owner itself: the province
    a late entry makes the owner of a period learns of the transfer that
    ended that period."""
    c = env.central().start()
    a = env.province("dien-bien", c)
    b = env.province("ha-noi", c)
    d = env.province("hung-yen", c)
    cid = a.add(sample_case(5))
    sync_ok(a)
    bk = backup(c, "bk-central")
    ok(c.cli("case", "transfer", cid, "--to", "ha-noi"), "central refers")
    sync_ok(b)
    sync_ok(a)
    check(b.get(cid)["owner"] == "ha-noi", "referral reached ha-noi")
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    r = ok(c.cli("case", "transfer", cid, "--to", "hung-yen"),
           "restored central refers again")
    check("from dien-bien" in r.out, "central knew of ha-noi: %r" % r)
    sync_ok(d)
    sync_ok(a)
    sync_ok(b)          # gives back the referral to itself
    sync_ok(b)
    sync_ok(a)
    sync_ok(d)
    check(c.get(cid)["owner"] == "hung-yen", "owner on central: %r"
          % c.get(cid))
    for p in (a, b):
        got = p.get(cid)
        check(got is None or got["owner"] == "hung-yen",
              "%s believes %s owns the case, central says hung-yen"
              % (p.name, got["owner"]))
        check(got is None or "full_name" not in got["person"],
              "%s's read-only copy keeps identifying fields" % p.name)
    check_replicas(c, [d], exact_ids=False)
    verify_all(c, a, b, d)


def test_central_restore_creator_told_of_transfer_given_back_first(env):
    """Central restored (chaos seed 103 of the standby campaign, there
    after a promotion and an unfenced old central's return).  Central
    referred thanh-hoa's new case to hue, then lost its disk with the
    case and the referral; hue holds both.  Hue synced first: it gave
    back central's referral (RETURN) before thanh-hoa's entry that
    created the case (GIVE), so central knew no owner to tell when it
    took the referral back, and thanh-hoa, whose own entry came back as
    a duplicate, was never told: it believed it owned the case while
    central said hue."""
    c = env.central().start()
    a = env.province("thanh-hoa", c)
    b = env.province("hue", c)
    a.add(sample_case(6))
    sync_ok(a)
    bk = backup(c, "bk-central")
    cid = a.add(sample_case(7))
    r = a.sync()
    check(r.rc == 0, "thanh-hoa's sync: %r" % r)
    ok(c.cli("case", "transfer", cid, "--to", "hue"), "central refers")
    sync_ok(b)
    check(b.get(cid)["owner"] == "hue", "referral reached hue")
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    sync_ok(b)          # central's referral first, then thanh-hoa's entry
    sync_ok(a)
    sync_ok(b)
    sync_ok(a)
    check(c.get(cid)["owner"] == "hue", "owner on central: %r"
          % c.get(cid))
    got = a.get(cid)
    check(got is None or got["owner"] == "hue",
          "thanh-hoa believes %s owns the case, central says hue"
          % got["owner"])
    check("full_name" not in got["person"], "thanh-hoa's read-only copy "
          "keeps identifying fields: %r" % got)
    check_replicas(c, [b], exact_ids=False)
    verify_all(c, a, b)


def test_central_restore_offer_receiver_told_it_ended(env):
    """Central restored (chaos seed 136 of the standby campaign, there
    after a promotion).  hung-yen offered its case to an-giang, which got
    the whole case to decide; central lost the offer with its disk, and,
    restored, reassigned the case to ha-tinh.  hung-yen then resent its
    offer, accepted as valid when it was written (offer_then) but ended
    by the reassignment stamped after it, so central routed nothing to
    an-giang, which had no way to learn that the offer had ended: it kept
    the whole case, identifying fields included, with an offer waiting
    for its answer that central no longer had."""
    c = env.central().start()
    a = env.province("hung-yen", c)
    b = env.province("an-giang", c)
    d = env.province("ha-tinh", c)
    cid = a.add(sample_case(8))
    sync_ok(a)
    bk = backup(c, "bk-central")
    ok(a.cli("case", "transfer", cid, "--to", "an-giang", "--reason",
             "FAKE offer lost with central's disk"), "hung-yen offers")
    sync_ok(a)
    sync_ok(b)
    check("full_name" in b.get(cid)["person"], "the offer reached an-giang")
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    ok(c.cli("case", "transfer", cid, "--to", "ha-tinh", "--reason",
             "FAKE central's reassignment"), "restored central reassigns")
    sync_ok(d)
    sync_ok(a)          # resends its offer, stamped before the reassignment
    sync_ok(b)
    sync_ok(a)
    sync_ok(d)
    got = c.get(cid)
    check(got["owner"] == "ha-tinh" and len(got["referrals"]) == 2,
          "central: %r" % got)
    mine = b.get(cid)
    check(mine is None or ("full_name" not in mine["person"] and
                           mine["owner"] == "ha-tinh"),
          "an-giang keeps the whole case for an offer that ended: %r"
          % mine)
    r = ok(b.cli("case", "referrals", "--json"), "referrals")
    check(cid not in r.out, "an-giang still lists the offer: %s" % r.out)
    check_replicas(c, [d], exact_ids=False)
    verify_all(c, a, b, d)


def test_central_put_back_from_copy_older_than_a_restore(env):
    """Central queued an update of an-giang's case, and its disk was then
    lost before an-giang took it: restored (incarnation I1, without the
    update), central went on, and an-giang took I1's feed.  Then central
    was put back from a copy that predates that restore but holds the
    update (chaos seed 136: the standby's copy, promoted; here a second
    restore, from a later backup of the first lineage).  an-giang's feed
    position, (I1, 1), is of an incarnation this central never had, and
    positions are ordered by incarnation first, so central sent only its
    new incarnation: the update stayed "behind" an-giang for good, and the
    case differed on central and its owner.  What an-giang took of this
    lineage's feed is only what it acknowledged to it: the rest is queued
    again."""
    c = env.central().start()
    p = env.province("an-giang", c)
    cid = p.add(sample_case(9))
    sync_ok(p)
    bk_old = backup(c, "bk-before-update")
    c.update(cid, {"intake": {"facility": "F-queued-before-the-loss"}})
    bk_new = backup(c, "bk-with-update")
    c.stop()
    lose_and_restore(c, bk_old)        # incarnation I1, without the update
    c.start()
    c.update(cid, {"status": "closed"})
    sync_ok(p)
    check(p.get(cid)["status"] == "closed", "an-giang took I1's feed")
    c.stop()
    time.sleep(1.1)                     # another incarnation (seconds)
    lose_and_restore(c, bk_new)        # I2: the update, not I1
    c.start()
    sync_ok(p)
    sync_ok(p)
    got = c.get(cid)
    check(got["intake"].get("facility") == "F-queued-before-the-loss" and
          got["status"] == "closed", "central: %r" % got)
    mine = p.get(cid)
    check(mine["intake"].get("facility") == "F-queued-before-the-loss",
          "an-giang never got central's update queued before the loss: %r"
          % mine)
    check_replicas(c, [p])
    verify_all(c, p)
