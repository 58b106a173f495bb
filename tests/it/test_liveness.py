"""Session liveness (issue 19): a province whose batches wait at central
keeps its session, and central enforces the credit it grants.

A province restarts its session when central has sent it nothing for
3 x heartbeat_ms + 5 s.  With group commit a province's ACK waits behind
other provinces' batches (or, in synchronous standby mode, for the
standby), and that wait can cross the limit: a reconnect and a CURVE
handshake each time, and a resumed session that counts fewer entries as
sent.  Central now sends ALIVE to a session
it has sent nothing for a second (docs/PROTOCOL.md, "Liveness")."""
import os
import re
import threading

from harness import check, sample_case
from test_sync import check_counts, import_cases


def sessions(out):
    m = re.search(r"sent (\d+), .*sessions (\d+)", out)
    check(m, "no sync summary in %r" % out)
    return int(m.group(1)), int(m.group(2))


def test_session_survives_a_long_wait_for_its_ack(env):
    """Central holds a province's ACK for 8 s (synchronous standby mode,
    the standby down, then it degrades to asynchronous): longer than the
    province's silence limit of 5.3 s (heartbeat_ms = 100).  Central's
    ALIVE messages keep the session: one session, every entry sent.
    Before ALIVE the province restarted its session during the wait."""
    c = env.central()
    c.set_conf("standby_sync", "on")
    c.set_conf("standby_sync_timeout", "8")
    c.set_conf("standby_sync_fallback", "async")
    c.start()
    p = env.province("lao-cai", c)
    p.set_conf("heartbeat_ms", "100")
    for i in range(3):
        p.add(sample_case(i))
    r = p.sync(60)
    check(r.rc == 0, "sync: %r" % (r,))
    sent, n = sessions(r.out)
    check("degrading to asynchronous" in open(
        os.path.join(env.tmp, "central.log"), errors="replace").read(),
        "central did not hold the ACK (no degradation logged)")
    check(n == 1, "the province restarted its session while central held "
          "its ACK: %r" % r.out)
    check(sent == 3, "sent %d of 3: %r" % (sent, r.out))


def test_fan_in_keeps_every_session(env):
    """Eight provinces with 1,500 cases each sync at once: central grants
    them windows of 8 down to 2 batches, reads batches of several
    provinces before each group commit and counts each province's batches
    against its credit.  Every province completes in one session (no
    silence restart, no session ended for a batch beyond its credit) and
    central holds everything.  heartbeat_ms = 1000: with 100 the
    transport's own 300 ms heartbeat timeout closes connections on a
    loaded machine (docs/PERFORMANCE.md, "The full bench at 100,000
    cases"), which is not what this tests."""
    c = env.central().start()
    names = ["lao-cai", "ha-noi", "an-giang", "ca-mau", "hue", "son-la",
             "nghe-an", "gia-lai"]
    provs = [env.province(n, c) for n in names]
    for p in provs:
        p.set_conf("heartbeat_ms", "1000")
    done = []

    def imp(p):
        import_cases(p, 1500)
        done.append(p.name)
    threads = [threading.Thread(target=imp, args=(p,)) for p in provs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(len(done) == len(provs), "imports failed: only %r" % done)
    procs = [p.popen("sync", "--timeout", "300", stdout=-1, stderr=-1,
                     text=True) for p in provs]
    for p, pr in zip(provs, procs):
        out, err = pr.communicate(timeout=400)
        check(pr.returncode == 0, "%s: rc %s %r" % (p.name, pr.returncode,
                                                     err))
        sent, n = sessions(out)
        check(n == 1 and sent == 1500, "%s: %r" % (p.name, out))
    log = open(os.path.join(env.tmp, "central.log"), errors="replace").read()
    check("beyond the credit" not in log, "an honest province was ended "
          "for a batch beyond its credit")
    check_counts(c, 8 * 1500, 8 * 1500, dict((n, 1500) for n in names))
