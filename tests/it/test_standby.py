"""A standby central (issue 15, docs/HA.md): it follows central, is
promoted in one command when central is lost, provinces fail over to it by
themselves, and an old central that comes back is fenced and can be turned
into the new standby.

Asynchronous failover: central, standby and two provinces with writes
going on; central is SIGKILLed and the standby promoted while its `serve`
runs; the provinces, which list both endpoints, sync with it without any
change to their configuration; every entry any province holds ends on the
new central exactly once, and `verify` passes everywhere.

Split brain: the old central restarted after the promotion is refused by a
province that has seen the new epoch, which applies nothing from it and
tells it; the old central is then fenced (it refuses every province, also
one that never saw the new epoch), and `rejoin` turns it into the new
central's standby, which catches up.
"""
import json
import os
import random
import threading
import time

import harness
from harness import Node, check, free_port, ok, run, sample_case, wait_for
from test_restore import log_keys
from test_sync import check_replicas, exports_by_id, sync_ok, verify_all


def check_owned(central, provinces):
    """Every case a province owns reads on central exactly as there (a
    province keeps a copy without identifying fields of a case it referred
    away, so only owned cases compare)."""
    cen = exports_by_id(central)
    for p in provinces:
        for cid, line in exports_by_id(p).items():
            if json.loads(line)["owner"] != p.name:
                continue
            check(cen.get(cid) == line, "case %s differs:\n central  %s\n"
                  " %s %s" % (cid, cen.get(cid), p.name, line))


def standby_node(env, central, name="standby"):
    """A standby of central, enrolled both ways (`key`, `trust`)."""
    port = free_port()
    d = os.path.join(env.tmp, name)
    ok(run(["init", "-d", d, "--node", name, "--role", "standby",
            "--primary", central.endpoint,
            "--listen", "tcp://127.0.0.1:%d" % port]), "init standby")
    sb = Node.__new__(Node)
    sb.env, sb.name, sb.role, sb.dir = env, name, "standby", d
    sb.proc, sb.port = None, port
    sk = ok(sb.cli("key")).out.strip()
    ck = ok(central.cli("key")).out.strip()
    ok(central.cli("trust", name, sk), "central enrols the standby")
    ok(sb.cli("trust", central.name, ck), "the standby pins central")
    return sb


def ha_province(env, name, central, standby):
    """A province that lists central, then the standby, and pins both."""
    p = env.province(name, central, endpoint="%s %s" % (central.endpoint,
                                                        standby.endpoint))
    sk = ok(standby.cli("key")).out.strip()
    ok(p.cli("trust", standby.name, sk), "the province pins the standby")
    return p


def standby_ha(sb):
    return sb.status()["ha"]


def wait_current(central, sb, timeout=30):
    """Waits until the standby holds central's state as it is now."""
    want = central.status()["entries"]

    def current():
        h = standby_ha(sb).get("standby", {})
        return h.get("replica_entries", -1) >= want and \
            h.get("lag_entries", 1) == 0
    wait_for(current, timeout, 0.2, "the standby to catch up")


def promote_and_old_returns(c, sb):
    """The standby catches up with central and stops (its copy is
    central's state now); central dies, the standby is promoted while
    stopped, and the old central comes back before any province saw the
    new epoch: unfenced, it serves as central."""
    sb.start()
    wait_current(c, sb)
    sb.stop()
    c.kill()
    ok(sb.cli("promote"), "promote")
    sb.role = "central"
    c.start()


class Writer(threading.Thread):
    """Adds and updates cases on a province until stopped."""

    def __init__(self, p, base):
        super().__init__(daemon=True)
        self.p, self.base, self.ids, self.halt = p, base, [], False
        self.rng = random.Random(base)

    def run(self):
        i = 0
        while not self.halt:
            r = self.p.cli("case", "add", "-",
                           stdin=json.dumps(sample_case(self.base + i)))
            if r.rc == 0:
                self.ids.append(r.out.strip())
            # Never the first case: the test checks that central's edit
            # of it survives the failover, and a later write of the
            # province would (rightly) supersede it.
            if len(self.ids) > 1 and i % 2:
                self.p.cli("case", "update", self.rng.choice(self.ids[1:]),
                           "-", stdin=json.dumps({"status": "identified"}))
            i += 1
            time.sleep(0.1)


def test_standby_follows_and_async_failover(env):
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    b = ha_province(env, "ha-noi", c, sb)
    for i in range(5):
        a.add(sample_case(i))
        b.add(sample_case(100 + i))
    sync_ok(a)
    sync_ok(b)
    sb.start()
    wait_current(c, sb)
    # both sides show the standby's lag
    h = c.status()["ha"]["standby"]
    check(h["peer"] == "standby" and h["lag_entries"] == 0, repr(h))
    r = ok(sb.cli("status"))
    check("standby   of central" in r.out and "lag 0 entries" in r.out,
          r.out)
    r = ok(c.cli("status"))
    check("standby" in r.out and "lag " in r.out, r.out)
    # the standby's copy holds central's keys only sealed
    for f in ("replica/data.mdb", "central.secrets"):
        with open(os.path.join(sb.dir, f), "rb") as fh:
            check(b"FAKE Person" not in fh.read(), "clear text in " + f)
    # continuous writes on both provinces, which sync by themselves
    a.start()
    b.start()
    wa, wb = Writer(a, 1000), Writer(b, 2000)
    wa.start()
    wb.start()
    time.sleep(4)
    wait_current(c, sb, 30)
    # the standby falls behind: what follows is acknowledged by central
    # and reaches the provinces, but not the standby
    sb.stop()
    first_a = wa.ids[0]
    ok(c.cli("case", "update", first_a, "-",
             stdin=json.dumps({"status": "closed"})), "central's edit")
    ok(a.cli("case", "transfer", wa.ids[1], "--to", "ha-noi", "--reason",
             "FAKE referral"), "referral")
    referred = wa.ids[1]
    wait_for(lambda: a.get(first_a)["status"] == "closed" and
             b.get(referred) is not None, 60, 0.5,
             "central's edit and the referral to reach the provinces")
    time.sleep(2)                     # more the standby does not have
    c.kill()                          # central's machine is lost
    sb.start()
    time.sleep(1)
    r = ok(sb.cli("promote"), "promote")
    check("now central central at epoch" in r.out and "rejoin" in r.out,
          r.out)
    epoch = int(r.out.split("at epoch ")[1].split(",")[0])
    check(epoch > 0, r.out)
    sb.role = "central"
    # the running serve takes over in place: the port opens
    wait_for(lambda: sb.cli("status", "--json").rc == 0 and
             sb.status()["role"] == "central", 15, 0.2, "promotion")
    time.sleep(4)
    wa.halt = wb.halt = True
    wa.join()
    wb.join()
    # the provinces find the new central without a configuration change
    wait_for(lambda: a.status()["ha"]["central_epoch"] == epoch and
             b.status()["ha"]["central_epoch"] == epoch, 60, 0.5,
             "the provinces to fail over")
    a.stop()
    b.stop()
    for p in (a, b):
        sync_ok(p, 90)
        sync_ok(p, 90)
    check(len(wa.ids) > 5 and len(wb.ids) > 5, "few writes")
    # every entry any province holds is on the new central, exactly once
    ks = log_keys(sb)
    for p in (a, b):
        missing = log_keys(p) - ks
        check(not missing, "%s's entries missing on the new central: %r" %
              (p.name, sorted(missing)[:5]))
    check(sb.status()["entries"] == len(ks),
          "entries counted twice on the new central")
    check_owned(sb, [a, b])
    verify_all(sb, a, b)
    # what only the old central and the provinces had came back
    check(sb.get(first_a)["status"] == "closed", "central's edit lost")
    check(sb.status()["ha"]["epoch"] == epoch, "epoch on the new central")
    check(b.get(referred) is not None and
          sb.get(referred) is not None, "referred case lost")
    # new work flows both ways through the new central
    n = a.add(sample_case(9999))
    sync_ok(a)
    ok(sb.cli("case", "update", n, "-",
              stdin=json.dumps({"status": "identified"})), "central edit")
    sync_ok(a)
    check(a.get(n)["status"] == "identified", "edit of the new central")
    sb.stop()


def test_split_brain_old_central_fenced_and_rejoins(env):
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    only_old = env.province("ha-noi", c)      # lists the old central only
    ids = [a.add(sample_case(i)) for i in range(4)]
    sync_ok(a)
    sync_ok(only_old)
    sb.start()
    wait_current(c, sb)
    c.kill()
    sb.stop()                         # promoted while stopped: next serve
    r = ok(sb.cli("promote"), "promote")
    epoch = int(r.out.split("at epoch ")[1].split(",")[0])
    sb.role = "central"
    sb.start()
    ids.append(a.add(sample_case(10)))
    r = a.sync(60)
    check(r.rc == 0, "sync after the promotion: %r" % r)
    check(a.status()["ha"]["central_epoch"] == epoch, "epoch not kept")
    # the old central comes back, and writes before any province shows up
    c.start()
    ok(c.cli("case", "update", ids[0], "-",
             stdin=json.dumps({"status": "closed"})), "old central's edit")
    before = log_keys(a)
    ids.append(a.add(sample_case(11)))
    r = a.sync(60)
    check(r.rc == 0, "sync with the old central up: %r" % r)
    # nothing from the old central reached the province
    got = log_keys(a) - before
    check(all(k[0] == "lao-cai" for k in got),
          "the province applied entries it had not written: %r" % got)
    check(a.get(ids[0])["status"] != "closed", "old central's edit applied")
    check(sb.get(ids[2]) is not None, "the new central lacks a case")
    # the province told the old central, which is fenced now
    wait_for(lambda: c.status()["ha"]["fenced_by"] == epoch, 10, 0.2,
             "the old central to be fenced")
    r = ok(c.cli("status"))
    check("FENCED" in r.out, r.out)
    # and takes no local writes either
    r = c.cli("case", "update", ids[1], "-",
              stdin=json.dumps({"status": "closed"}))
    check(r.rc == 2 and "fenced" in r.err and r.err.count("\n") == 1,
          "a fenced central took a local write: %r" % r)
    # a province that never saw the new epoch is refused too
    r = only_old.sync(20)
    check(r.rc != 0 and "fenced" in r.err and r.err.count("\n") == 1,
          "a fenced central served a province: %r" % r)
    # the old central becomes the new standby in one command
    c.stop()
    r = run(["rejoin", "-d", c.dir, "--primary", sb.endpoint])
    check(r.rc == 0 and "is now the standby" in r.out, repr(r))
    c.role = "standby"
    c.start()
    wait_current(sb, c, 30)
    h = sb.status()["ha"]["standby"]
    check(h["lag_entries"] == 0 and h["peer"] == "standby", repr(h))
    check_replicas(sb, [a])
    verify_all(sb, a)
    c.stop()
    sb.stop()


def test_ha_verbs(env):
    c = env.central()
    for verb in ("promote", "rejoin"):
        check(run([verb, "--help"]).rc == 0, verb + " --help")
    r = run(["promote", "-d", c.dir])
    check(r.rc == 2 and "not a standby" in r.err and
          r.err.count("\n") == 1, repr(r))
    r = run(["rejoin", "-d", c.dir, "--primary", "tcp://127.0.0.1:9"])
    check(r.rc == 2 and "not fenced" in r.err, repr(r))
    r = run(["init", "-d", os.path.join(env.tmp, "x"), "--node", "standby",
             "--role", "standby"])
    check(r.rc == 1 and "--primary" in r.err, repr(r))
    sb = standby_node(env, c)
    r = run(["promote", "-d", sb.dir])
    check(r.rc == 2 and "no copy" in r.err, repr(r))
    r = run(["init", "-d", os.path.join(env.tmp, "y"), "--node", "lao-cai",
             "--role", "province", "--central", "tcp://a:1 nope"])
    check(r.rc == 1, repr(r))


def acked_own(p):
    """The province's own entries it saw central acknowledge: its own
    sequence numbers up to its own log's last minus what `status` counts
    as still to send."""
    own = sorted(s for (n, s) in log_keys(p) if n == p.name)
    cst = [x for x in p.status()["peers"] if x["peer"] == "central"]
    pending = cst[0]["pending_out"] if cst else len(own)
    top = own[-1] if own else 0
    return {(p.name, s) for s in own if s <= top - pending}


def read_log(env, node):
    with open(os.path.join(env.tmp, node.name + ".log")) as f:
        return f.read()


class SyncingWriter(threading.Thread):
    """Adds cases on a province and runs a one-shot sync after each (a
    one-shot sync records what central acknowledged when it ends)."""

    def __init__(self, p, base):
        super().__init__(daemon=True)
        self.p, self.base, self.halt, self.n = p, base, False, 0

    def run(self):
        while not self.halt:
            self.p.cli("case", "add", "-",
                       stdin=json.dumps(sample_case(self.base + self.n)))
            self.n += 1
            self.p.sync(4)


def test_sync_mode_no_acknowledged_entry_lost(env):
    """Synchronous mode: every entry a province saw acknowledged is on the
    promoted standby even when central's directory is deleted at the
    kill."""
    c = env.central()
    c.set_conf("standby_sync", "on")
    c.set_conf("standby_sync_timeout", "2")
    c.set_conf("standby_sync_fallback", "wait")
    c.start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    for i in range(3):
        a.add(sample_case(i))
    sb.start()
    time.sleep(0.5)
    sync_ok(a)                 # acknowledged once the standby holds it
    wait_current(c, sb)
    w = SyncingWriter(a, 500)
    w.start()
    time.sleep(5)              # the standby follows, acks flow
    check(w.n >= 3, "few writes with the standby up: %d" % w.n)
    sb.stop()                  # the standby is lost: central must wait
    time.sleep(5)
    log = read_log(env, c)
    check("waiting (standby_sync_fallback = wait)" in log,
          "central did not log that it waits")
    c.kill()                   # central's machine is lost, and its disk
    harness.rmtree(c.dir)
    w.halt = True
    w.join()
    r = ok(sb.cli("promote"), "promote")
    sb.role = "central"
    acked = acked_own(a)
    check(len(acked) >= 6, "few acknowledged entries: %d" % len(acked))
    held = log_keys(sb)
    missing = acked - held
    check(not missing, "acknowledged entries not on the promoted standby: "
          "%r" % sorted(missing)[:5])
    # and the province gives the rest to the new central
    sb.start()
    sync_ok(a, 60)
    check(not (log_keys(a) - log_keys(sb)), "entries missing after sync")
    verify_all(sb, a)
    sb.stop()


def test_sync_mode_degrades_to_async(env):
    """standby_sync_fallback = async: with the standby down, central
    acknowledges after the configured wait, logs that it degraded, and
    is synchronous again once the standby holds everything."""
    c = env.central()
    c.set_conf("standby_sync", "on")
    c.set_conf("standby_sync_timeout", "1")
    c.set_conf("standby_sync_fallback", "async")
    c.start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    a.add(sample_case(1))
    t0 = time.monotonic()
    sync_ok(a, 30)             # no standby: acknowledged after the wait
    check(time.monotonic() - t0 >= 1, "acknowledged without waiting")
    check("degrading to asynchronous" in read_log(env, c),
          "central did not log the degradation")
    sb.start()
    wait_for(lambda: "synchronous again" in read_log(env, c), 30, 0.2,
             "central to be synchronous again")
    a.add(sample_case(2))
    sync_ok(a, 30)
    wait_current(c, sb)
    sb.stop()
    c.stop()


def test_promoted_central_backup_restores(env):
    """A promoted standby's backup holds central.secrets (central's keys,
    sealed under its own data key): without it the restored store does
    not open (found by the chaos campaign: `restore` of central after a
    promotion failed)."""
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    ids = [a.add(sample_case(i)) for i in range(3)]
    sync_ok(a)
    sb.start()
    wait_current(c, sb)
    c.kill()
    sb.stop()
    ok(sb.cli("promote"), "promote")
    sb.role = "central"
    bk = os.path.join(env.tmp, "bk")
    ok(sb.cli("backup", bk), "backup of the promoted central")
    d = os.path.join(env.tmp, "restored")
    r = run(["restore", "-d", d, bk])
    check(r.rc == 0, "restore of the promoted central: %r" % r)
    r = run(["verify", "-d", d])
    check(r.rc == 0, "verify of the restored central: %r" % r)
    r = run(["case", "list", "-d", d, "--json"])
    check(r.rc == 0 and set(ids) <= {x["id"] for x in json.loads(r.out)},
          "cases of the restored central: %r" % r)


def test_named_endpoints_pair_keys_by_name(env):
    """`central = NAME@tcp://... NAME@tcp://...`: each endpoint goes with
    the key pinned under its name, whatever order the keys were pinned
    in (docs/HA.md, "Which key goes with which endpoint")."""
    c = env.central().start()
    sb = standby_node(env, c)
    named = "central@%s standby@%s" % (c.endpoint, sb.endpoint)
    p = env.province("lao-cai", c, endpoint=named, enrol=False)
    ok(c.cli("trust", "lao-cai", ok(p.cli("key")).out.strip()))
    # the standby's key pinned first, central's after it
    ok(p.cli("trust", "standby", ok(sb.cli("key")).out.strip()))
    time.sleep(0.05)
    ok(p.cli("trust", "central", ok(c.cli("key")).out.strip()))
    cid = p.add(sample_case(1))
    sync_ok(p, 30)
    check(c.get(cid) is not None, "the case did not reach central")
    # the same pins, unnamed: pin order pairs central's endpoint with the
    # standby's key, and no handshake succeeds
    p.set_conf("central", "%s %s" % (c.endpoint, sb.endpoint))
    r = p.sync(9)
    check(r.rc != 0, "pin order should pair the wrong keys: %r" % r)
    # a name that no pinned key has
    p.set_conf("central", "central@%s backup@%s" % (c.endpoint,
                                                    sb.endpoint))
    r = p.sync(5)
    check(r.rc != 0 and "no key is pinned as backup" in r.err and
          r.err.count("\n") == 1, repr(r))
    # all named or none
    r = run(["init", "-d", os.path.join(env.tmp, "z"), "--node", "ha-noi",
             "--role", "province", "--central",
             "central@%s %s" % (c.endpoint, sb.endpoint)])
    check(r.rc == 1, repr(r))
    c.stop()


def test_old_central_fenced_by_province_holding_new_centrals_entries(env):
    """A province that holds the new central's own entries meets the old
    central, restarted: the old central sees it lacks them and refuses
    the session as "put back from a copy" before any epoch is compared.
    The province must then show it the new epoch (fencing it) and move
    on to the new central, not stop (found by the chaos campaign: serve
    exited with rc 4 on every retry)."""
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    ids = [a.add(sample_case(i)) for i in range(3)]
    sync_ok(a)
    sb.start()
    wait_current(c, sb)
    c.kill()
    r = ok(sb.cli("promote"), "promote")
    epoch = int(r.out.split("at epoch ")[1].split(",")[0])
    sb.role = "central"
    wait_for(lambda: sb.cli("status", "--json").rc == 0 and
             sb.status()["role"] == "central", 15, 0.2, "promotion")
    # the new central writes: an entry of its new epoch
    ok(sb.cli("case", "update", ids[0], "-",
              stdin=json.dumps({"status": "closed"})), "new central's edit")
    sync_ok(a, 60)
    check(a.get(ids[0])["status"] == "closed", "edit not received")
    c.start()                         # the old central comes back
    n = a.add(sample_case(50))
    r = a.sync(60)
    check(r.rc == 0, "sync with the old central back: %r" % r)
    check(sb.get(n) is not None, "the new case is not on the new central")
    wait_for(lambda: c.status()["ha"]["fenced_by"] == epoch, 10, 0.2,
             "the old central to be fenced")
    c.stop()
    sb.stop()


def test_promotion_takes_central_htcds_key(env):
    """Central's htcds.key follows the standby over the link (AUXASK/AUX)
    into central.files/htcds.key (0600, sealed under the data key of
    central's store), with no manual copy; `promote` re-seals it under the
    standby's own data key, so HTCDS exports keep their pseudonyms.  And
    back: the old central, rejoined as the standby of the promoted one,
    gets its key the same way (central re-seals it for the link: on a
    promoted central htcds.key is sealed under that node's own data key,
    not the store's), and promoted back exports the same pseudonyms
    (docs/HA.md)."""
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    for i in range(4):
        a.add(sample_case(i))
    sync_ok(a)
    before = ok(c.cli("export", "--format", "htcds")).out
    check(before.count("\n") >= 4, "few exported cases")
    sb.start()
    wait_current(c, sb)
    copy = os.path.join(sb.dir, "central.files", "htcds.key")
    wait_for(lambda: os.path.exists(copy) and
             c.status()["ha"]["standby"].get("htcds_key") == "current",
             30, 0.2, "central's HTCDS key on the standby")
    mode = os.stat(copy).st_mode & 0o777
    check(mode == 0o600, "the key's copy has mode %o" % mode)
    check(standby_ha(sb)["standby"]["htcds_key"] == "current",
          repr(standby_ha(sb)))
    check(not os.path.exists(os.path.join(sb.dir, "central.htcds.key")),
          "a manual copy")
    c.kill()
    sb.stop()
    r = ok(sb.cli("promote"), "promote")
    check("took the old central's HTCDS pseudonym key "
          "(central.files/htcds.key, current" in r.out, r.out)
    check(not os.path.exists(copy), "the copy stayed")
    sb.role = "central"
    after = ok(sb.cli("export", "--format", "htcds")).out
    check(after == before, "pseudonyms changed with the promotion")
    # back: the old central becomes the standby of the promoted one
    sb.start()
    r = run(["rejoin", "-d", c.dir, "--primary", sb.endpoint, "--force"])
    check(r.rc == 0, repr(r))
    c.role = "standby"
    c.start()
    wait_current(sb, c)
    wait_for(lambda: sb.status()["ha"]["standby"].get("htcds_key") ==
             "current", 30, 0.2, "the promoted central's key on the "
             "rebuilt standby")
    sb.kill()
    c.stop()
    r = ok(c.cli("promote"), "promote back")
    check("took the old central's HTCDS pseudonym key" in r.out, r.out)
    c.role = "central"
    again = ok(c.cli("export", "--format", "htcds")).out
    check(again == before, "pseudonyms changed with the promotion back")
    # and without the copy, a promotion says the pseudonyms are new
    c2 = env.central("central2")
    c2.set_conf("standby", "standby2")
    c2.start()
    sb2 = standby_node(env, c2, "standby2")
    sb2.start()
    wait_for(lambda: os.path.exists(os.path.join(sb2.dir, "replica",
                                                 "data.mdb")), 30, 0.2,
             "the second standby's first copy")
    c2.kill()
    sb2.stop()
    r = ok(sb2.cli("promote"), "promote")
    check("new pseudonyms" in r.out, r.out)


def test_console_users_and_audit_reach_promoted_standby(env):
    """Central's console users and audit log follow the standby over the
    link (AUXASK/AUX) into DIR/central.files/, and `promote` installs
    them: a user added on central signs in to the promoted standby's
    console, and the audit lines central wrote before the kill are in the
    promoted central's audit log, which continues them (docs/HA.md)."""
    import console
    c = env.central().start()
    sb = standby_node(env, c)
    console.add_user(c, "admin", "admin")
    sb.start()
    # a user added while the standby follows, and an audit line from
    # central's console
    con = console.Console(c, users=False)
    cl = con.client()
    cl.login("admin")
    console.add_user(c, "cw", "caseworker")
    con.stop()
    audit = os.path.join(c.dir, "audit.log")
    want = open(audit, "rb").read()
    check(b'"cw"' in want or b"cw" in want, "no audit line of user add")

    def current():
        h = standby_ha(sb).get("standby", {})
        return h.get("audit_bytes") == len(want) and \
            h.get("audit_lag_bytes") == 0 and \
            h.get("users_age_seconds") is not None
    wait_for(current, 30, 0.2, "the standby to copy users and audit log")
    copy = os.path.join(sb.dir, "central.files")
    check(open(os.path.join(copy, "users")).read() ==
          open(os.path.join(c.dir, "users")).read(), "users differ")
    for f in ("users", "audit.log"):
        mode = os.stat(os.path.join(copy, f)).st_mode & 0o777
        check(mode == 0o600, "%s has mode %o" % (f, mode))
    # the standby's own files are not touched until the promotion
    check(not os.path.exists(os.path.join(sb.dir, "users")),
          "the copy clashes with the standby's own users")
    r = ok(sb.cli("status"))
    check("console   central's users: current" in r.out and
          "0 behind" in r.out, r.out)
    c.kill()
    r = ok(sb.cli("promote"), "promote")
    check("took central's console users (2" in r.out and
          "took central's audit log" in r.out, r.out)
    sb.role = "central"
    wait_for(lambda: sb.status()["role"] == "central", 15, 0.2,
             "promotion")
    sb.stop()
    got = open(os.path.join(sb.dir, "audit.log"), "rb").read()
    check(got.startswith(want), "central's audit lines are not on the "
          "promoted standby")
    check(b"central.promote" in got[len(want):], "no promotion line")
    con = console.Console(sb, users=False)
    try:
        for u in ("admin", "cw"):
            con.client().login(u)
    finally:
        con.stop()
    # the promoted central's console continues the same audit log
    got2 = open(os.path.join(sb.dir, "audit.log"), "rb").read()
    check(got2.startswith(got) and len(got2) > len(got),
          "the promoted central's console does not continue the log")


def copies(c):
    """What central's status says of its standby's copies."""
    return c.status()["ha"].get("standby", {})


def test_central_status_shows_standby_copies(env):
    """Central's own `status` shows what deciding a promotion needs: the
    standby's lag, whether it holds central's users file as it is now,
    the audit bytes and lines it lacks, its copy of the HTCDS key and the
    time of its last request: all current after a sync, and behind while
    the standby is stopped and central adds a console user, writes audit
    lines, takes entries and makes a new HTCDS key (docs/HA.md)."""
    import console
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    a.add(sample_case(1))
    sync_ok(a)
    ok(c.cli("export", "--format", "htcds"), "export: makes htcds.key")
    console.add_user(c, "admin", "admin")
    audit = os.path.join(c.dir, "audit.log")
    sb.start()

    def current():
        h = copies(c)
        return h.get("users_current") is True and \
            h.get("audit_lag_bytes") == 0 and \
            h.get("audit_bytes") == os.path.getsize(audit) and \
            h.get("htcds_key") == "current" and h.get("lag_entries") == 0
    wait_for(current, 30, 0.2, "central to see the standby's copies current")
    h = copies(c)
    check(h["audit_lag_lines"] == 0 and h["audit_size"] > 0 and
          h["last_request_seconds"] is not None and
          h["last_request_seconds"] <= 5 and h["users_age_seconds"] <= 5,
          repr(h))
    r = ok(c.cli("status"))
    check("copies    users: current;" in r.out and
          "0 behind (0 lines); HTCDS key: current" in r.out and
          "promoting now would lose: nothing" in r.out, r.out)
    # the standby stops; central goes on
    sb.stop()
    held = os.path.getsize(audit)
    console.add_user(c, "cw", "caseworker")
    a.add(sample_case(2))
    sync_ok(a)
    os.unlink(os.path.join(c.dir, "htcds.key"))     # pseudonyms start over
    ok(c.cli("export", "--format", "htcds"), "export: a new htcds.key")
    tail = open(audit, "rb").read()[held:]
    check(len(tail) > 0 and tail.count(b"\n") > 0, "no new audit lines")
    h = copies(c)
    check(h["users_current"] is False and h["audit_bytes"] == held and
          h["audit_lag_bytes"] == len(tail) and
          h["audit_lag_lines"] == tail.count(b"\n") and
          h["htcds_key"] == "behind" and h["lag_entries"] > 0, repr(h))
    r = ok(c.cli("status"))
    check("users: BEHIND;" in r.out and
          "%d behind (%d lines)" % (len(tail), tail.count(b"\n")) in r.out
          and "HTCDS key: BEHIND" in r.out and
          "promoting now would lose: %d log entries" % h["lag_entries"]
          in r.out and "central's users file as it is now" in r.out and
          "audit lines" in r.out and "the HTCDS key" in r.out, r.out)
    # back: everything current again
    sb.start()
    wait_for(current, 30, 0.2, "the standby to catch up")
    r = ok(c.cli("status"))
    check("promoting now would lose: nothing" in r.out, r.out)
    sb.stop()
    c.stop()


def test_console_sync_page_shows_standby(env):
    """Central's console shows its standby on the sync health page (and
    in /api/status), not as a province that never synced: its copies
    current after a sync, behind once the standby stops and central adds
    a console user; in English and Vietnamese."""
    import console
    c = env.central().start()
    sb = standby_node(env, c)
    console.add_user(c, "admin", "admin")
    sb.start()
    con = console.Console(c, users=False)
    try:
        cl = con.client()
        cl.login("admin")

        def api():
            return cl.get("/api/status").json()["standby"]

        def current():
            h = api()
            return h is not None and h["users_current"] is True and \
                h["audit_lag_bytes"] == 0 and not h["promotion_loses"]
        wait_for(current, 30, 0.2, "the console to show the standby current")
        check(api()["peer"] == "standby", repr(api()))
        page = cl.get("/sync?lang=en").text()
        check('id="standby"' in page and "Standby central" in page and
              "would lose nothing the standby copies" in page, page)
        # the standby is not listed as a province that never synced
        table = page.split('id="sync"')[1].split("</table>")[0]
        check(">standby<" not in table, table)
        sb.stop()
        console.add_user(c, "cw", "caseworker")
        h = api()
        check(h["users_current"] is False and h["audit_lag_lines"] > 0 and
              h["promotion_loses"] is True, repr(h))
        page = cl.get("/sync?lang=vi").text()
        check("Máy chủ trung ương dự phòng" in page and
              "sẽ mất những gì được đánh dấu ở trên" in page, page)
        row = page.split('id="sb-users"')[1].split("</td>")[0]
        check('class="bad"' in row and "chậm hơn" in row, row)
        # As an administrator sees it: the page at desktop and phone
        # widths, in Vietnamese, fits without scrolling sideways.
        from test_case_forms import both_widths
        d = console.browser("vi-VN")
        try:
            console.sign_in(d, con, "admin")
            d.get(con.url + "/sync?lang=vi")
            check("Máy chủ trung ương dự phòng" in d.page_source,
                  "the browser's sync page shows no standby")
            both_widths(d, env, "sync-standby-behind-vi")
        finally:
            d.quit()
    finally:
        con.stop()
    c.stop()


def test_province_sync_page_with_a_standby(env):
    """A province that lists central and its standby syncs with central
    only: its sync page does not show the standby in red as "never
    synced", nor its own changes as waiting for it (what central took
    the standby copies); it shows the standby as not used yet.  The row
    turns red only when no central has synced with the province lately
    (the page's rule for a stale link)."""
    import html
    import re
    import console

    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    for i in range(3):
        a.add(sample_case(i))
    sync_ok(a)
    a.add(sample_case(3))       # one change not yet sent
    con = console.Console(a)
    try:
        cl = con.client()
        cl.login("viewer")
        for lang, note in (("en", "not used yet"), ("vi", "chưa dùng")):
            page = html.unescape(cl.get("/sync?lang=" + lang).text())
            table = page.split('id="sync"')[1].split("</table>")[0]
            rows = {m.group(1): m.group(0) for m in re.finditer(
                r'<tr><th scope="row">([^<]+)</th>.*?</tr>', table,
                re.S)}
            check(set(rows) == {"central", "standby"}, repr(rows))
            check('class="bad"' not in rows["standby"] and
                  note in rows["standby"], rows["standby"])
            check('class="bad"' not in rows["central"] and
                  note not in rows["central"], rows["central"])
            for n, tr in rows.items():
                waiting = re.findall(r'<td class="num">(\d+)</td>', tr)
                check(waiting[:1] == ["1"], "%s: waiting %r in %s" % (
                    n, waiting, tr))
        peers = {q["peer"]: q for q in cl.get("/api/status").json()["peers"]}
        check(peers["standby"]["last_sync"] is None and
              peers["standby"]["pending_out"] == 1 and
              peers["central"]["pending_out"] == 1, repr(peers))
    finally:
        con.stop()
    c.stop()


def tried(r):
    """The endpoints a sync tried, in order (its `centrals tried` line)."""
    check(r.rc == 0, "sync failed: %r" % r)
    for line in r.out.splitlines():
        if line.startswith("sync: centrals tried, in order: "):
            return line.split(": ", 2)[2].split()
    raise AssertionError("no `centrals tried` line: %r" % r)


def test_province_tries_the_central_that_answered_last_first(env):
    """After a failover a province remembers the endpoint that answered as
    a valid central and tries it first: its next sync does not wait on the
    dead endpoint (docs/HA.md, *Province failover*).  The fencing is as
    before: the old central, back, is shown the new epoch (the province
    passed it over) and fenced, and nothing of it is applied."""
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "lao-cai", c, sb)
    ids = [a.add(sample_case(i)) for i in range(3)]
    check(tried(a.sync(60)) == [c.endpoint], "first sync")
    sb.start()
    wait_current(c, sb)
    c.kill()
    r = ok(sb.cli("promote"), "promote")
    epoch = int(r.out.split("at epoch ")[1].split(",")[0])
    sb.role = "central"
    wait_for(lambda: sb.cli("status", "--json").rc == 0 and
             sb.status()["role"] == "central", 15, 0.2, "promotion")
    ids.append(a.add(sample_case(10)))
    # the first sync after the promotion waits on the dead endpoint ...
    check(tried(a.sync(60)) == [c.endpoint, sb.endpoint],
          "failover sync")
    # ... the next ones go to the new central at once
    ids.append(a.add(sample_case(11)))
    check(tried(a.sync(60)) == [sb.endpoint], "the dead endpoint was "
          "tried first again")
    check(sb.get(ids[-1]) is not None, "the case is not on the new central")
    # the old central comes back: passed over, shown the epoch, fenced
    c.start()
    ok(c.cli("case", "update", ids[0], "-",
             stdin=json.dumps({"status": "closed"})), "old central's edit")
    before = log_keys(a)
    ids.append(a.add(sample_case(12)))
    check(tried(a.sync(60)) == [sb.endpoint], "old central tried first")
    wait_for(lambda: c.status()["ha"]["fenced_by"] == epoch, 10, 0.2,
             "the old central to be fenced")
    got = log_keys(a) - before
    check(all(k[0] == "lao-cai" for k in got),
          "the province applied entries it had not written: %r" % got)
    check(a.get(ids[0])["status"] != "closed", "old central's edit applied")
    # the new central gone, the province goes back to the list's order
    # and still refuses the old central (older epoch): no sync succeeds
    sb.stop()
    r = a.sync(15)
    check(r.rc != 0 and ("fenced" in r.err or "older" in r.err),
          "a province synced with a fenced, older central: %r" % r)
    c.stop()


def test_standby_audit_copy_rotation_and_torn_tail(env):
    """The standby's copy of central's audit log: bytes past the offset it
    recorded (a crash between the write and the record) are cut at the
    next start and copied again; when central's log is rotated the copy
    is kept aside (central.files/audit-MS.log), never overwritten, and the
    new log copied from its start (docs/HA.md)."""
    import console
    import glob
    c = env.central().start()
    sb = standby_node(env, c)
    console.add_user(c, "admin", "admin")
    sb.start()
    audit = os.path.join(c.dir, "audit.log")
    copy = os.path.join(sb.dir, "central.files", "audit.log")

    def same():
        return os.path.exists(copy) and \
            open(copy, "rb").read() == open(audit, "rb").read() and \
            standby_ha(sb)["standby"].get("audit_lag_bytes") == 0
    wait_for(same, 30, 0.2, "the audit log copy")
    first = open(copy, "rb").read()
    # a torn tail: bytes the standby never recorded as written
    sb.stop()
    with open(copy, "ab") as f:
        f.write(b'{"torn":' + b'x' * 5000)
    console.add_user(c, "cw", "caseworker")
    sb.start()
    wait_for(same, 30, 0.2, "the copy cut and caught up")
    check(b"torn" not in open(copy, "rb").read(), "torn tail kept")
    check(not glob.glob(os.path.join(sb.dir, "central.files",
                                     "audit-*.log")), "copy set aside")
    # central's log rotated: the old copy is kept, the new log copied
    held = open(copy, "rb").read()
    check(held.startswith(first), "copy rewritten")
    os.rename(audit, audit + ".1")
    console.add_user(c, "viewer", "viewer")
    wait_for(same, 30, 0.2, "the rotated log copied")
    aside = glob.glob(os.path.join(sb.dir, "central.files", "audit-*.log"))
    check(len(aside) == 1 and open(aside[0], "rb").read() == held,
          "the copy of the rotated log was not kept: %r" % aside)
    sb.stop()
    c.stop()


def test_promoted_copy_sends_feed_tail_a_restored_central_lacked(env):
    """Chaos seed 136 (standby campaign at 3cf9c55): central queued its own
    edit of an-giang's case in an-giang's feed (position 1 of incarnation
    0), and the standby copied that state; an-giang had not fetched it.
    Central then lost its disk and was restored from a backup taken before
    the edit (incarnation I1): an-giang synced with it and acknowledged
    feed positions of I1.  Central's machine was then lost and the standby
    promoted (I2 > I1).  The promoted central sent an-giang only positions
    after its cursor (I1, n), above (0, 1) by number: central's edit,
    acknowledged to the workload and held by the new central, never
    reached the owner ("lost", "diverged")."""
    from test_restore import backup, lose_and_restore
    c = env.central().start()
    sb = standby_node(env, c)
    a = ha_province(env, "an-giang", c, sb)
    cid = a.add(sample_case(1))
    other = a.add(sample_case(2))
    sync_ok(a)
    bk = backup(c, "bk-central")
    ok(c.cli("case", "update", cid, "-", stdin=json.dumps({
        "services": [{"id": "s-central-tail", "type": "legal_aid",
                      "on": "2026-04-22", "amount_vnd": 1000}]})),
       "central's edit, queued for an-giang")
    sb.start()
    wait_current(c, sb)
    sb.stop()                   # its copy holds the edit and the queue
    c.stop()
    lose_and_restore(c, bk)     # the edit is lost with central's disk
    c.start()
    ok(c.cli("case", "update", other, "-",
             stdin=json.dumps({"status": "closed"})),
       "the restored central's edit, queued in its new incarnation")
    sync_ok(a)
    pos = a.status()["peers"][0]["received_position"]
    check(pos >> 32 > 0, "an-giang holds no position of the restored "
          "central's incarnation: %d" % pos)
    check(not any(s["id"] == "s-central-tail"
                  for s in a.get(cid).get("services", [])),
          "the edit reached an-giang before the promotion")
    c.kill()
    time.sleep(1.1)             # the promotion's epoch is a later second
    ok(sb.cli("promote"), "promote")
    sb.role = "central"
    sb.start()
    sync_ok(a)
    sync_ok(a)
    got = [s["id"] for s in a.get(cid).get("services", [])]
    check("s-central-tail" in got,
          "central's edit, held by the promoted central, never reached "
          "the owner: %r" % got)
    check_replicas(sb, [a])
    verify_all(sb, a)
    sb.stop()


def test_offer_routed_by_unfenced_old_central_ends_at_promoted(env):
    """Chaos seed 149 (standby campaign at 3cf9c55): the standby was
    promoted, and the old central came back and served the provinces,
    none of which had seen the new epoch, so none could fence it
    (docs/HA.md, "What is not fenced").  khanh-hoa offered its case to
    son-la through the old central, which routed the whole case to son-la
    to decide.  The promoted central, which did not have the offer yet,
    reassigned the case to thai-nguyen; the offer reached it afterwards,
    stamped before the reassignment, so it was never pending there and
    nothing told son-la that it had ended: son-la kept the whole case,
    identifying fields included ("leak: read-only copy ... on son-la
    shows ['full_name', 'id_number', 'address']")."""
    c = env.central().start()
    sb = standby_node(env, c)
    k = ha_province(env, "khanh-hoa", c, sb)
    s = ha_province(env, "son-la", c, sb)
    t = ha_province(env, "thai-nguyen", c, sb)
    cid = k.add(sample_case(3))
    sync_ok(k)
    sync_ok(s)
    sync_ok(t)
    promote_and_old_returns(c, sb)  # its copy: the case, no offer
    ok(k.cli("case", "transfer", cid, "--to", "son-la", "--reason",
             "FAKE offer through the old central"), "khanh-hoa offers")
    sync_ok(k)
    sync_ok(s)
    check("full_name" in s.get(cid)["person"],
          "the offer reached son-la through the old central")
    c.stop()
    ok(sb.cli("case", "transfer", cid, "--to", "thai-nguyen", "--reason",
              "FAKE reassignment by the promoted central"),
       "the promoted central reassigns, without the offer")
    sb.start()
    sync_ok(t)
    sync_ok(k)                  # the offer reaches the promoted central
    sync_ok(s)
    sync_ok(t)
    sync_ok(s)
    got = sb.get(cid)
    check(got["owner"] == "thai-nguyen" and len(got["referrals"]) == 2,
          "promoted central: %r" % got)
    mine = s.get(cid)
    check(mine is None or ("full_name" not in mine["person"] and
                           "id_number" not in mine["person"]),
          "son-la keeps the whole case for an offer that ended: %r" % mine)
    check_replicas(sb, [t], exact_ids=False)
    verify_all(sb, k, s, t)
    sb.stop()


def test_restored_province_recovered_from_old_central_fetches_rest(env):
    """Chaos seed 16 (campaign SEED=1 at 641424b): ninh-binh's entry 4
    reached only the promoted standby.  Then the old central came back,
    and ninh-binh lost its disk: restored from a backup taken before the
    promotion, it had never seen the new epoch, so it took the old
    central, which held its entries up to 3, and its recovery ended
    there.  At its next sync the promoted central held entry 4 of an
    earlier incarnation, which ninh-binh lacked, and refused it at every
    sync as "put back from a copy of its files".  An entry of an earlier
    incarnation that a node lacks was lost in a restore, whichever
    central the recovery met first: the node fetches it again."""
    from test_restore import backup, lose_and_restore

    c = env.central().start()
    sb = standby_node(env, c)
    p = ha_province(env, "ninh-binh", c, sb)
    ids = [p.add(sample_case(i)) for i in range(3)]
    sync_ok(p)
    bk = backup(p, "bk-ninh-binh")
    sb.start()
    wait_current(c, sb)
    c.kill()
    ok(sb.cli("promote"), "promote")
    sb.role = "central"
    ids.append(p.add(sample_case(3)))
    sync_ok(p)                          # entry 4: on the promoted only
    check(sb.get(ids[3]) is not None, "the promoted central lacks it")
    c.start()                           # the old central is back
    lose_and_restore(p, bk)
    ids.append(p.add(sample_case(4)))
    r = p.sync(60)                      # meets the old central first
    check(r.rc == 0, "sync with the old central: %r" % r)
    c.kill()                            # gone again: on to the promoted
    r = p.sync(60)
    check(r.rc == 0, "sync with the promoted central: %r" % r)
    r = p.sync(60)
    check(r.rc == 0, "sync again: %r" % r)
    for cid in ids:
        check(p.get(cid) is not None and sb.get(cid) == p.get(cid),
              "case %s differs: %r / %r" % (cid, p.get(cid), sb.get(cid)))
    check_owned(sb, [p])
    verify_all(sb, p)
    sb.stop()


def test_promotion_in_the_second_of_a_restore_of_central(env):
    """Chaos seed 630 (campaign SEED=601 at 35e5c02, round 29): central
    was restored from its backup and, a quarter of a second later, in the
    same second, killed and its standby promoted from a copy taken before
    the restore.  Both took the incarnation of that second, so the old
    central, back unfenced on its restored directory, had the promoted
    central's epoch: no province refused or fenced it, and it handed
    dak-lak feed positions of that incarnation.  After its rejoin the
    promoted central found dak-lak holding positions of its own current
    incarnation that it never gave, and refused every sync as "central
    was put back from a copy of its files".  The promotion's epoch is
    above every incarnation the old central took before it, also in the
    same second."""
    from test_restore import backup, lose_and_restore

    c = env.central().start()
    sb = standby_node(env, c)
    d = ha_province(env, "dak-lak", c, sb)
    n = ha_province(env, "da-nang", c, sb)
    cid = d.add(sample_case(1))
    other = n.add(sample_case(2))
    sync_ok(d)
    sync_ok(n)
    ok(c.cli("case", "update", cid, "-",
             stdin=json.dumps({"status": "closed"})),
       "central's edit before its backup")
    sync_ok(d)
    bk = backup(c, "bk-central")
    sb.start()
    wait_current(c, sb)
    sb.stop()                   # its copy predates the restore
    c.kill()
    # The restore and the promotion in one second, as in the round.
    for _ in range(20):
        while time.time() % 1.0 > 0.05:
            time.sleep(0.01)
        r = lose_and_restore(c, bk)
        t0 = time.time()
        if t0 % 1.0 < 0.6:
            break
    inc = int(r.out.split("new incarnation ")[1].split(":")[0])
    r = ok(sb.cli("promote"), "promote")
    t1 = time.time()
    epoch = int(r.out.split(" at epoch ")[1].split(",")[0])
    check(int(t0) == int(t1) == inc + 1767225600,
          "the restore (incarnation %d) and the promotion (%.3f to %.3f) "
          "were not in one second: the test proves nothing" % (inc, t0, t1))
    sb.role = "central"
    sb.start()
    sync_ok(n)                  # da-nang takes the promoted epoch
    c.start()                   # the old central is back, unfenced
    ok(c.cli("case", "update", cid, "-", stdin=json.dumps({
        "services": [{"id": "s-old-central", "type": "legal_aid",
                      "on": "2026-04-22", "amount_vnd": 1000}]})),
       "the old central's edit, queued for dak-lak")
    r = d.sync(30)              # dak-lak never saw the epoch: old central
    check(r.rc == 0, "sync with the old central: %r" % r)
    pos = d.status()["peers"][0]["received_position"]
    check(pos >> 32 == inc, "dak-lak holds no feed position of the "
          "restored central: %d" % pos)
    c.kill()                    # gone again: on to the promoted central
    r = d.sync(30)
    check(r.rc == 0, "sync with the promoted central: %r" % r)
    sync_ok(d)
    sync_ok(n)
    check(epoch > inc, "the promotion took epoch %d, the restored "
          "central's incarnation %d" % (epoch, inc))
    got = [s["id"] for s in (sb.get(cid) or {}).get("services", [])]
    check("s-old-central" in got, "the old central's edit did not come "
          "back: %r" % got)
    check(sb.get(other) == n.get(other), "da-nang's case differs")
    check_owned(sb, [d, n])
    verify_all(sb, d, n)
    sb.stop()
