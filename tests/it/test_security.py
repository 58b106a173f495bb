"""Security (DESIGN.md, Security; docs/SECURITY.md): real casesync
processes on 127.0.0.1, real LMDB files, real sockets.

- Keys: an unknown key and a revoked key cannot sync (exit 2, a clear
  message) while an enrolled province syncs during and after their tries;
  a server without central's key (an impostor) gets nothing.
- The link: a capture of a sync holds no case value in clear; a byte
  altered in flight, either way, is refused and nothing of it is applied;
  a recorded session replayed to central applies nothing; garbage,
  truncated and huge frames leave central up and serving.
- Data at rest: a copied data.mdb holds no identifying value.
- Ownership: a change to a case the province no longer owns is refused and
  logged, the rest of its batch applies.
- Provenance: `case history` shows author, origin and a verified signature
  on central (relayed entries) and on a province (central's entries);
  `verify` detects log records swapped between keys; a relayed entry whose
  own signature does not verify is refused, not a reason to stop syncing.

When the lmdb-utils tools (mdb_dump, mdb_load) are missing, the swap test
says "skip:" and passes.
"""
import json
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time

import harness
from harness import check, ok, run, sample_case, skip, wait_for

# Distinctive values, so that a byte search cannot match by accident.
NAME = "FAKE Zyxwvut Qonkerbelle"
NAME_VI = "FAKE Nguyễn Thị Ưởng"
IDNUM = "FAKEID-7Q3X9K2M"
PHONE = "+84 913 579 246"
ADDRESS = "FAKE 77 Phố Quxzibar, xã Wyvernhollow"
NOTE = "FAKE note: met at Quixotic border crossing"
PROVIDER = "FAKE Provider Jabberwock Clinic"
STATUS = "reintegration_followup"


def secret_case(i=0):
    c = sample_case(i, status=STATUS)
    c["person"].update({"full_name": NAME, "id_number": IDNUM,
                        "phone": PHONE, "address": ADDRESS})
    c["services"] = [{"type": "medical", "on": "2026-02-01",
                      "provider": PROVIDER}]
    c["notes"] = [{"on": "2026-02-02", "text": NOTE}]
    return c


def peer_row(node, peer):
    rows = [x for x in node.status()["peers"] if x["peer"] == peer]
    check(rows, "%s has no peer %s: %r" % (node.name, peer, node.status()))
    return rows[0]


def entries(node):
    return node.status()["entries"]


def log_text(env, node):
    path = os.path.join(env.tmp, node.name + ".log")
    return open(path, errors="replace").read() if os.path.exists(path) else ""


def sync_summary(res):
    m = re.search(r"sent (\d+), received (\d+), refused (\d+)", res.out)
    check(m is not None, "no sync summary in %r" % res)
    return [int(x) for x in m.groups()]


def alive(node):
    return node.proc is not None and node.proc.poll() is None


# ---- keys ------------------------------------------------------------------

def test_unknown_and_revoked_keys_refused(env):
    c = env.central().start()
    good = env.province("lao-cai", c)
    rev = env.province("cao-bang", c)
    unk = env.province("ha-noi", c, enrol=False)
    # The unknown province pins central's real key itself: it is its own
    # key that central does not know.
    ok(unk.cli("trust", "central", ok(c.cli("key")).out.strip()), "pin")
    good.add(sample_case(1))
    rev_first = rev.add(sample_case(2))
    unk.add(sample_case(3))
    ok(rev.sync(), "sync before revocation")
    check(entries(c) == 1, "central: %r" % c.status())

    r = unk.sync(20)
    check(r.rc == 2, "unknown key: %r" % r)
    check("refused this node's key" in r.err and "not enrolled" in r.err,
          "unclear message: %r" % r)

    # Revocation applies from the next connection, without a restart.
    r = ok(c.cli("revoke", "cao-bang"), "revoke")
    check("revoked cao-bang" in r.out, r)
    rev.add(sample_case(4))
    r = rev.sync(20)
    check(r.rc == 2, "revoked key: %r" % r)
    check("refused this node's key" in r.err and "revoked" in r.err, r)
    check("refused" in peer_row(rev, "central")["last_error"],
          rev.status())
    r = c.cli("revoke", "son-la")
    check(r.rc == 2 and "not enrolled" in r.err, r)

    # The refused ones keep trying while the enrolled one syncs.
    stop = threading.Event()
    tries = {"ha-noi": [], "cao-bang": []}

    def hammer(node):
        while not stop.is_set():
            tries[node.name].append(node.sync(5).rc)

    threads = [threading.Thread(target=hammer, args=(n,), daemon=True)
               for n in (unk, rev)]
    for t in threads:
        t.start()
    wait_for(lambda: all(tries.values()), what="refused syncs to start")
    for i in range(4):
        good.add(sample_case(10 + i))
        s = good.sync(30)
        check(s.rc == 0, "enrolled sync %d during refusals: %r" % (i, s))
    # A province running `serve` with a revoked key stops with exit 2.
    rev.start()
    rc = rev.proc.wait(30)
    check(rc == 2, "serve of a revoked province exited %r" % rc)
    stop.set()
    for t in threads:
        t.join(60)
    check(len(tries["ha-noi"]) >= 2 and len(tries["cao-bang"]) >= 2, tries)
    check(set(tries["ha-noi"]) == {2} and set(tries["cao-bang"]) == {2},
          "refused syncs: %r" % tries)

    # After: the enrolled one still syncs; nothing of the others arrived.
    good.add(sample_case(20))
    check(sync_summary(ok(good.sync(), "sync after"))[0] == 1, "sent")
    check(alive(c), "central died")
    st = c.status()
    check(st["vector"] == {"lao-cai": 6, "cao-bang": 1}, st)
    check(set(c.ids()) == set(good.ids()) | {rev_first},
          "central cases: %r" % c.ids())
    log = log_text(env, c)
    check("unknown key (not enrolled)" in log, "no refusal logged")
    check("key of cao-bang was revoked" in log, "no revocation logged")
    # Enrolling it again lets it sync what it kept.
    ok(c.cli("trust", "cao-bang", ok(rev.cli("key")).out.strip()), "trust")
    check(sync_summary(ok(rev.sync(), "sync re-enrolled"))[0] == 1, "sent")
    for n in (c, good, rev):
        ok(n.verify(), "verify " + n.name)


# ---- the link --------------------------------------------------------------

def test_impostor_central_gets_nothing(env):
    """A province pins central's key: a server with another key at
    central's address (here one that even enrolled the province's key)
    cannot complete the handshake and receives nothing."""
    c = env.central()
    p = env.province("lao-cai", c)
    fake = env.central(dir=os.path.join(env.tmp, "impostor"))
    ok(fake.cli("trust", "lao-cai", ok(p.cli("key")).out.strip()), "enrol")
    fake.start()
    p.set_conf("central", fake.endpoint)
    p.add(secret_case(1))
    r = p.sync(6)
    check(r.rc == 3, "sync with an impostor: %r" % r)
    check("handshake" in r.err and "trust" in r.err, "unclear: %r" % r)
    check(fake.status()["entries"] == 0, fake.status())
    check(alive(fake), "impostor died")
    fake.stop()
    # The real central, at the same address, is accepted.
    c.set_conf("listen", fake.endpoint)
    c.port = fake.port
    c.start()
    check(sync_summary(ok(p.sync(), "sync with central"))[0] == 1, "sent")



def test_capture_holds_no_case_value(env):
    c = env.central().start()
    px = env.proxy(c)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    cid = p.add(secret_case(1))
    ok(p.sync(), "sync")
    # Central's own write travels the other way.
    c.update(cid, {"person": {"full_name": NAME_VI},
                   "notes": [{"text": NOTE + " (central)"}]})
    s = sync_summary(ok(p.sync(), "sync back"))
    check(s[1] == 1, "central's change not received: %r" % s)
    check(p.get(cid)["person"]["full_name"] == NAME_VI, p.get(cid))
    cap = bytes(px.record)
    check(len(cap) > 2000, "capture too small: %d bytes" % len(cap))
    check(b"CURVE" in cap, "the link does not use CURVE")
    for v in (NAME, NAME_VI, IDNUM, PHONE, ADDRESS, NOTE, PROVIDER, STATUS,
              cid, "lao-cai", "FAKE", "medical", "2026-02-01"):
        for enc in (v.encode(), v.encode("utf-16-le")):
            check(enc not in cap, "%r is readable in the capture" % v)


def test_altered_message_refused(env):
    c = env.central().start()
    px = env.proxy(c, seed=11)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    ids = [p.add(secret_case(i)) for i in range(60)]
    # Every connection gets one byte flipped inside the province's first
    # batch (the handshake and HELLO take about 1 KB): it never applies.
    px.flip_dir = "c2s"
    px.flip_at = (3000, 12000)
    for _ in range(2):
        r = p.sync(3)
        check(r.rc == 3, "a sync over a corrupting link: %r" % r)
    check(px.flips >= 2, "flips: %d" % px.flips)
    check(alive(c), "central died")
    check(entries(c) == 0 and c.status()["vector"] == {},
          "something of an altered batch was applied: %r" % c.status())
    px.flip_at = None
    ok(p.sync(), "clean sync")
    check(entries(c) == 60, c.status())

    # The other way: central's batch (20 changes with long notes) is
    # altered on every connection; the province applies none of it.
    for cid in ids[:20]:
        c.update(cid, {"notes": [{"text": "FAKE central note " * 80}]})
    before = {cid: p.get(cid) for cid in ids[:20]}
    flips = px.flips
    px.flip_dir = "s2c"
    px.flip_at = (3000, 20000)
    for _ in range(2):
        r = p.sync(3)
        check(r.rc == 3, "a sync over a corrupting link: %r" % r)
    check(px.flips >= flips + 2, "flips: %d" % px.flips)
    check("central" not in p.status()["vector"], p.status())
    for cid in ids[:20]:
        check(p.get(cid) == before[cid], "case %s changed" % cid)

    # Anywhere, either way: whatever got through is intact.
    px.flip_dir = None
    px.flip_at = (0, 60000)
    for _ in range(2):
        r = p.sync(3)
        check(r.rc in (0, 3), repr(r))
        ok(c.verify(), "verify central")
        ok(p.verify(), "verify province")
    px.flip_at = None
    ok(p.sync(), "clean sync")
    check(p.status()["vector"].get("central") == 20, p.status())
    for cid in p.ids():
        check(c.get(cid) == p.get(cid), "case %s differs" % cid)
    ok(c.verify(), "verify central")
    ok(p.verify(), "verify province")


def raw_send(port, data, wait=3.0):
    """Connects to port, sends data, reads until closed or wait passes.
    Returns what came back."""
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(0.5)
    got = bytearray()
    try:
        s.sendall(data)
    except OSError:
        pass
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    s.close()
    return bytes(got)


def test_replayed_session_applies_nothing(env):
    c = env.central()
    px = env.proxy(c)
    p = env.province("lao-cai", c, endpoint=px.endpoint)
    q = env.province("ha-noi", c)
    # Central as it was before the session, enrolments included.
    snap = os.path.join(env.tmp, "central-before")
    shutil.copytree(c.dir, snap)
    c.start()
    for i in range(5):
        p.add(secret_case(i))
    px.keep_sessions = True
    ok(p.sync(), "recorded sync")
    check(entries(c) == 5, c.status())
    sess = max(px.sessions, key=lambda s: len(s["c2s"]))
    sent = bytes(sess["c2s"])
    check(len(sent) > 1000, "recorded %d bytes" % len(sent))

    # Replayed to the same central: the session is bound to the old
    # handshake (CURVE cookie, ephemeral keys), so nothing applies.
    for _ in range(2):
        raw_send(c.port, sent)
    check(alive(c), "central died")
    check(entries(c) == 5, "a replay changed central: %r" % c.status())

    # Replayed to central as it was before the recorded session: applying
    # the replay would add the five entries.
    c.stop()
    shutil.rmtree(c.dir)
    shutil.copytree(snap, c.dir)
    c.start()
    check(entries(c) == 0, c.status())
    back = raw_send(c.port, sent)
    check(len(back) < 2000, "central answered a replay with %d bytes" %
          len(back))
    # Also in the pieces the province sent, one connection at a time.
    for n in (64, 300, 1000):
        raw_send(c.port, sent[:n], wait=0.5)
    time.sleep(0.5)
    check(alive(c), "central died")
    st = c.status()
    check(st["entries"] == 0 and st["vector"] == {},
          "a replay was applied: %r" % st)
    # Central serves legitimate syncs right after.
    q.add(sample_case(50))
    check(sync_summary(ok(q.sync(), "sync ha-noi"))[0] == 1, "ha-noi")
    ok(p.sync(), "sync lao-cai again")
    st = c.status()
    check(st["vector"] == {"lao-cai": 5, "ha-noi": 1}, st)
    ok(c.verify(), "verify central")


def zmtp_greeting(mechanism=b"CURVE", major=3, minor=0):
    return (b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([major, minor]) +
            mechanism.ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)


def test_garbage_frames_leave_central_up(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    rng = random.Random(7)
    g = zmtp_greeting()
    hundred_mb = 100 * 1024 * 1024
    attacks = [
        bytes(rng.getrandbits(8) for _ in range(4096)),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x00" * 10000,
        g[:11],                                   # truncated greeting
        g,                                        # greeting, then silence
        g + bytes(rng.getrandbits(8) for _ in range(3000)),
        zmtp_greeting(b"NULL") + b"\x04\x19\x05READY\x0bSocket-Type"
        b"\x00\x00\x00\x06DEALER",                # plaintext, no CURVE
        zmtp_greeting(b"PLAIN"),
        zmtp_greeting(major=1),
        zmtp_greeting(major=255, minor=255),
        # A CURVE HELLO command announcing 100 MB.
        g + b"\x06" + hundred_mb.to_bytes(8, "big") + b"\x05HELLO" +
        b"\x00" * 4000,
        # A message frame announcing 100 MB, then 2^63 - 1.
        g + b"\x02" + hundred_mb.to_bytes(8, "big") + b"\x00" * 4000,
        g + b"\x06" + (2 ** 63 - 1).to_bytes(8, "big"),
        g + b"\x04\xff" + b"\x05HELLO" + b"\x00" * 100,   # truncated
        g + b"\x04\xc8\x05HELLO\x01\x00" + b"\x00" * 198,  # bad HELLO box
    ]
    for a in attacks:
        raw_send(c.port, a, wait=0.3)
    # Many half-open connections at once, and 100 MB actually sent on
    # one of them.
    idle = [socket.create_connection(("127.0.0.1", c.port), 5)
            for _ in range(40)]
    for s in idle[:20]:
        s.sendall(g)
    big = socket.create_connection(("127.0.0.1", c.port), 5)
    big.settimeout(10)
    sent = 0
    try:
        big.sendall(g + b"\x02" + hundred_mb.to_bytes(8, "big"))
        chunk = b"\xa5" * (1 << 20)
        while sent < hundred_mb:
            big.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass            # central closed the connection: what we want
    big.close()
    check(sent < hundred_mb, "central read 100 MB from an unauthenticated "
          "peer")
    check(alive(c), "central died")
    # A legitimate sync works while the junk connections are still open.
    p.add(secret_case(1))
    check(sync_summary(ok(p.sync(), "sync after junk"))[0] == 1, "sent")
    for s in idle:
        s.close()
    check(alive(c), "central died")
    p.add(secret_case(2))
    check(sync_summary(ok(p.sync(), "sync after"))[0] == 1, "sent")
    check(entries(c) == 2, c.status())
    ok(c.verify(), "verify central")


# ---- data at rest ----------------------------------------------------------

def test_copied_data_mdb_reveals_no_person(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(secret_case(1))
    # Earlier values too (LMDB reuses freed pages; they held sealed data).
    p.update(cid, {"person": {"full_name": NAME + " Junior"}})
    p.update(cid, {"person": {"full_name": NAME}})
    other = p.add(sample_case(2, person={"full_name": NAME_VI,
                                         "phone": PHONE}))
    ok(p.sync(), "sync")
    c.update(other, {"person": {"address": ADDRESS}})
    ok(p.sync(), "sync back")
    check(c.get(cid)["person"]["full_name"] == NAME, c.get(cid))
    check(p.get(other)["person"]["address"] == ADDRESS, p.get(other))
    c.stop()
    for n in (c, p):
        copy = os.path.join(env.tmp, n.name + "-stolen.mdb")
        shutil.copyfile(os.path.join(n.dir, "data.mdb"), copy)
        data = open(copy, "rb").read()
        # The search works: case ids are keys, stored in clear.
        check(cid.encode() in data, "control: case id not found")
        for v in (NAME, NAME_VI, IDNUM, PHONE, ADDRESS, NOTE,
                  NAME + " Junior", "Zyxwvut", "7Q3X9K2M", "579 246",
                  "Quxzibar", "Quixotic"):
            for enc in (v.encode(), v.encode("utf-16-le")):
                check(enc not in data, "%s: %r readable in a copy of "
                      "data.mdb" % (n.name, v))
        # Nor in any other file but the keys.
        for f in os.listdir(n.dir):
            if f in ("data.key", "identity.key"):
                continue
            blob = open(os.path.join(n.dir, f), "rb").read()
            check(NAME.encode() not in blob and IDNUM.encode() not in blob,
                  "%s/%s holds an identifying value" % (n.name, f))
        # The copy alone opens no case: without data.key it is refused.
        stolen = os.path.join(env.tmp, n.name + "-stolen")
        os.makedirs(stolen)
        shutil.copyfile(copy, os.path.join(stolen, "data.mdb"))
        for f in ("casesync.conf", "identity.key"):
            shutil.copyfile(os.path.join(n.dir, f), os.path.join(stolen, f))
        r = run(["case", "get", "-d", stolen, cid])
        check(r.rc != 0, "opened without data.key: %r" % r)
        check(NAME not in r.out and NAME not in r.err,
              "name shown without data.key")


# ---- ownership -------------------------------------------------------------

def test_change_to_case_not_owned_refused(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    if c.cli("case", "transfer", "--help").rc != 0:
        skip("`casesync case transfer` is not available")
        return
    x = a.add(secret_case(1))
    y = a.add(sample_case(2))
    ok(a.sync(), "sync lao-cai")
    # Central refers X to ha-noi while lao-cai is offline.
    ok(c.cli("case", "transfer", x, "--to", "ha-noi"), "transfer on central")
    # lao-cai, not knowing, edits X; its batch also holds good changes.
    a.update(x, {"status": "closed", "person": {"full_name": "FAKE Late"}})
    seq_x = a.status()["seq"]
    a.update(y, {"status": "closed"})
    z = a.add(sample_case(3))
    r = ok(a.sync(), "sync lao-cai")
    check(sync_summary(r)[2] == 1, "refused count in %r" % r)
    cx = c.get(x)
    check(cx["owner"] == "ha-noi" and cx["status"] == STATUS and
          cx["person"]["full_name"] == NAME, "refused change applied: %r" %
          cx)
    check(c.get(y)["status"] == "closed", "the rest of the batch: y")
    check(c.get(z) is not None, "the rest of the batch: z")
    check(c.status()["vector"]["lao-cai"] == a.status()["seq"],
          "central's vector skips the refused entry: %r" % c.status())
    check(peer_row(c, "lao-cai")["refused"] == 1, c.status())
    check(peer_row(a, "central")["refused"] == 1, a.status())
    log = log_text(env, c)
    check(("refused entry lao-cai/%d (case %s): lao-cai does not own" %
           (seq_x, x)) in log, "refusal not logged")
    hist = ok(c.cli("case", "history", x, "--json")).json()
    check(all(e["seq"] != seq_x or e["node"] != "lao-cai" for e in hist),
          "the refused entry is in central's history: %r" % hist)
    # The new owner receives X without the refused edit.
    ok(b.sync(), "sync ha-noi")
    bx = b.get(x)
    check(bx["status"] == STATUS and bx["person"]["full_name"] == NAME, bx)
    check(bx == c.get(x), "ha-noi and central differ")
    # Syncing again refuses nothing new.
    r = ok(a.sync(), "sync lao-cai again")
    check(sync_summary(r)[2] == 0, r)
    check(peer_row(c, "lao-cai")["refused"] == 1, c.status())
    for n in (c, a, b):
        ok(n.verify(), "verify " + n.name)


def test_former_owner_erase_after_referral_seen_is_signed_and_converges(env):
    """A province's key and store in an attacker's hands (a copy taken
    while the province owned case x).  Central refers x away; the real
    province syncs and so acknowledges the referral.  An erase of x then
    sent from the copy says that lao-cai still saw itself as the owner,
    which central cannot tell from an honest province that erased before
    it heard: it is accepted (docs/SECURITY.md, "The erase exception has
    no end in time"; before, it was refused by the state of lao-cai's
    feed, which a restored or promoted central did not have: standby
    chaos seed 31).  What still holds: the erase is signed by lao-cai and
    shows in the case's history on every node, no value is revealed, and
    every copy converges.  An erase without that view (an older
    release's) after the acknowledgement is still refused
    (test_erase_exception.test_erase_view_accepted_after_the_referral_is_acknowledged)."""
    import copy
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(secret_case(1))
    ok(a.sync(), "sync lao-cai")
    stolen = copy.copy(a)
    stolen.dir = os.path.join(env.tmp, "stolen")
    shutil.copytree(a.dir, stolen.dir)
    ok(c.cli("case", "transfer", x, "--to", "ha-noi"), "central refers x")
    ok(a.sync(), "lao-cai hears of the referral")
    check(a.get(x)["owner"] == "ha-noi", a.get(x))
    ok(stolen.cli("case", "erase", x), "erase on the stolen copy")
    r = stolen.sync()
    check(r.rc == 0 and sync_summary(r)[2] == 0, "refused count in %r" % r)
    cx = c.get(x)
    check(cx.get("erased") and "full_name" not in cx["person"], cx)
    ok(b.sync(), "sync ha-noi")
    check(b.get(x) == cx, "ha-noi %r\ncentral %r" % (b.get(x), cx))
    for n in (c, b):
        h = ok(n.cli("case", "history", x, "--json")).json()
        last = h[-1]
        check(last["node"] == "lao-cai" and last["signature"] ==
              "verified", "%s: the erase's provenance: %r" % (n.name, last))
        ok(n.verify(), "verify " + n.name)


# ---- provenance ------------------------------------------------------------

def test_history_shows_verified_provenance(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = ok(p.cli("case", "add", "-", stdin=json.dumps(secret_case(1)),
                   env={"CASESYNC_AUTHOR": "worker7"})).out.strip()
    ok(p.cli("case", "update", cid, "-", stdin='{"status": "closed"}',
             env={"CASESYNC_AUTHOR": "chief2"}))
    ok(p.sync(), "sync")
    ok(c.cli("case", "update", cid, "-", stdin='{"status": "identified"}',
             env={"CASESYNC_AUTHOR": "admin1"}))
    ok(p.sync(), "sync back")
    want = [("lao-cai", 1, "worker7@lao-cai"), ("lao-cai", 2,
            "chief2@lao-cai"), ("central", 1, "admin1@central")]
    for n in (c, p):
        h = ok(n.cli("case", "history", cid, "--json")).json()
        got = [(e["node"], e["seq"], e["author"]) for e in h]
        check(got == want, "%s history: %r" % (n.name, got))
        check([e["signature"] for e in h] == ["verified"] * 3,
              "%s signatures: %r" % (n.name, h))
        txt = ok(n.cli("case", "history", cid)).out
        for node, seq, author in want:
            check(re.search(r"%s/%d\s+%s\s+signature verified" %
                            (node, seq, re.escape(author)), txt),
                  "%s history text lacks %s/%d: %s" % (n.name, node, seq,
                                                        txt))
    check(p.get(cid)["status"] == "identified", p.get(cid))
    for n in (c, p):
        ok(n.verify(), "verify " + n.name)


def swap_log_records(node):
    """Swaps the sealed values of the first two records of the `log`
    sub-database with mdb_dump/mdb_load.  Returns False when the LMDB
    tools are missing."""
    if shutil.which("mdb_dump") is None or shutil.which("mdb_load") is None:
        return False
    dump = subprocess.run(["mdb_dump", "-s", "log", node.dir],
                          capture_output=True, text=True, check=True).stdout
    lines = dump.split("\n")
    h = lines.index("HEADER=END")
    e = lines.index("DATA=END")
    body = lines[h + 1:e]
    check(len(body) >= 4, "log has fewer than two records")
    body[1], body[3] = body[3], body[1]
    path = os.path.join(node.env.tmp, node.name + "-log.dump")
    with open(path, "w") as f:
        f.write("\n".join(lines[:h + 1] + body + lines[e:]))
    subprocess.run(["mdb_load", "-s", "log", "-f", path, node.dir],
                   capture_output=True, check=True)
    return True


def test_verify_detects_swapped_log_records(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    a = p.add(secret_case(1))
    p.add(secret_case(2))
    ok(p.sync(), "sync")
    c.stop()
    for n in (p, c):
        ok(n.verify(), "verify before")
        if not swap_log_records(n):
            skip("mdb_dump/mdb_load (lmdb-utils) not installed")
            return
        r = n.verify()
        check(r.rc == 4, "%s: verify after a swap: %r" % (n.name, r))
        check("do not match the log" in r.err or "does not open" in r.err or
              "do not decode" in r.err, r)
        r = n.cli("case", "history", a)
        check(r.rc == 4 and "verify" in r.err, "history: %r" % r)


def test_unverifiable_relayed_entry_refused_not_blocking(env):
    """Central checks a province's batch with one signature (the chain's
    last): the entries before it are authentic, but their own signatures
    are not checked.  A province re-keyed before it synced (or a
    compromised one) gets entries with signatures that do not verify under
    its enrolled key into central's log.  Relayed to another province (a
    referral sends the case's whole history), such an entry must be
    refused and logged there, not block that province's every sync."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(secret_case(1))                  # lao-cai/1, old key
    a.update(x, {"status": "closed"})          # lao-cai/2, old key
    # lao-cai gets a new identity; central enrols the new key.
    scratch = env.province("son-la", enrol=False)
    shutil.copyfile(os.path.join(scratch.dir, "identity.key"),
                    os.path.join(a.dir, "identity.key"))
    r = ok(c.cli("trust", "lao-cai", ok(a.cli("key")).out.strip()), "trust")
    check("replacing the key" in r.err, r)
    y = a.add(sample_case(2))                  # lao-cai/3, new key
    ok(a.sync(), "sync lao-cai")
    check(c.status()["vector"] == {"lao-cai": 3}, c.status())
    h = ok(c.cli("case", "history", x, "--json")).json()
    check([e["signature"] for e in h] == ["FAILED", "FAILED"], h)
    ok(c.cli("case", "transfer", x, "--to", "ha-noi"), "transfer")
    ok(c.cli("case", "transfer", y, "--to", "ha-noi"), "transfer")
    r = b.cli("sync", "--timeout", "20", env={"CASESYNC_LOG_LEVEL": "warn"})
    check(r.rc == 0, "ha-noi cannot sync any more: %r" % r)
    check(sync_summary(r)[1] == 3, "received in %r" % r)
    for seq in (1, 2):
        check(re.search(r"refused entry lao-cai/%d .*signature does not "
                        r"verify" % seq, r.err), "not logged: %r" % r)
    check(peer_row(b, "central")["refused"] == 2, b.status())
    # What does verify is applied: the transfers and lao-cai/3.
    check(b.get(y) is not None and b.get(y)["owner"] == "ha-noi", b.ids())
    check(b.get(x) is not None and b.get(x)["owner"] == "ha-noi", b.ids())
    r = ok(b.sync(), "sync ha-noi again")
    check(sync_summary(r)[1] == 0, r)
    check(peer_row(b, "central")["refused"] == 2, b.status())
    ok(b.verify(), "verify ha-noi")
    ok(c.verify(), "verify central")


# ---- local hardening (issue 18, findings 5 to 9) ---------------------------

UMASK0 = ["sh", "-c", 'umask 000; exec "$@"', "sh"]


def one_line(res, rc, what, *needles):
    check(res.rc == rc, "%s: expected exit %d, got %r" % (what, rc, res))
    lines = res.err.splitlines()
    check(len(lines) == 1 and lines[0].startswith("casesync: "),
          "%s: expected one error line, got %r" % (what, res.err))
    for n in needles:
        check(n in lines[0], "%s: %r does not mention %r" % (what, lines[0],
                                                             n))


def leftovers(d):
    return [f for f in os.listdir(d) if f.startswith(".casesync-out-")]


def test_out_files_private_and_never_through_links(env):
    """Finding 6: every --out file is created 0600 (even under umask 000)
    as a new file next to the target and renamed over it; a target that is
    a symbolic link is refused in one line and nothing is written; an
    existing file (or a hard link to someone else's file) is replaced, not
    written into."""
    p = env.province("lao-cai")
    p.add(secret_case(1))
    out = os.path.join(env.tmp, "outdir")
    os.makedirs(out)
    verbs = (("export", ["export"]),
             ("report", ["report", "--format", "csv"]))
    for what, args in verbs:
        f = os.path.join(out, what + ".out")
        ok(p.cli(*args, "--out", f, wrap=UMASK0), what)
        mode = os.stat(f).st_mode & 0o7777
        check(mode == 0o600, "%s --out under umask 000: mode %o" %
              (what, mode))
        check(leftovers(out) == [], "%s left %r" % (what, leftovers(out)))
        # A symbolic link planted at the target: refused, not followed.
        victim = os.path.join(env.tmp, what + "-victim")
        open(victim, "w").write("someone else's file\n")
        os.chmod(victim, 0o644)
        link = os.path.join(out, what + ".link")
        os.symlink(victim, link)
        r = p.cli(*args, "--out", link)
        one_line(r, 2, what + " --out through a symlink", link,
                 "symbolic link")
        check(open(victim).read() == "someone else's file\n",
              "%s wrote through a symbolic link" % what)
        check(os.path.islink(link), "%s replaced the link" % what)
        check(os.stat(victim).st_mode & 0o7777 == 0o644,
              "%s changed the victim's mode" % what)
        # A dangling link is refused too (it would create the victim).
        dangling = os.path.join(out, what + ".dangling")
        target = os.path.join(env.tmp, what + "-created")
        os.symlink(target, dangling)
        one_line(p.cli(*args, "--out", dangling), 2,
                 what + " --out through a dangling symlink", "symbolic link")
        check(not os.path.exists(target), "%s created the link's target" %
              what)
        # A hard link to another user's file: replaced, never written.
        other = os.path.join(env.tmp, what + "-other")
        open(other, "w").write("other user's data\n")
        os.chown(other, 65534, 65534)
        os.chmod(other, 0o666)
        hard = os.path.join(out, what + ".hard")
        os.link(other, hard)
        ok(p.cli(*args, "--out", hard), what + " over a hard link")
        check(open(other).read() == "other user's data\n",
              "%s wrote into another user's file" % what)
        st = os.stat(hard)
        check(st.st_uid == os.geteuid() and st.st_mode & 0o7777 == 0o600,
              "%s: replaced file owned by %d, mode %o" %
              (what, st.st_uid, st.st_mode & 0o7777))
        # A directory is not a file to write.
        one_line(p.cli(*args, "--out", out), 2, what + " --out DIR",
                 "not a regular file")
        check(leftovers(out) == [], "%s left %r" % (what, leftovers(out)))
    check(NAME in open(os.path.join(out, "export.out")).read(),
          "control: export wrote the case")


def test_init_refuses_directory_others_control(env):
    """Finding 7: `init` refuses an existing directory that another user
    owns or that group or others may write to (they could swap in node
    files of their own), and writes nothing there; every verb checks the
    directory again; key files are checked by owner as well as by mode."""
    init = ["init", "--node", "lao-cai", "--role", "province"]
    for what, mode in (("world-writable", 0o777), ("sticky /tmp-like",
                                                   0o1777),
                       ("group-writable", 0o770), ("other-writable", 0o702)):
        d = os.path.join(env.tmp, "open-%o" % mode)
        os.makedirs(d)
        os.chmod(d, mode)
        r = run(init[:1] + ["-d", d] + init[1:])
        one_line(r, 2, "init in a %s directory" % what, d, "%04o" % mode)
        check(os.listdir(d) == [], "init wrote into a %s directory: %r" %
              (what, os.listdir(d)))
    if os.geteuid() == 0:
        # A directory another user made, closed to everyone else.
        d = os.path.join(env.tmp, "theirs")
        os.makedirs(d)
        os.chmod(d, 0o755)
        os.chown(d, 65534, 65534)
        r = run(init[:1] + ["-d", d] + init[1:])
        one_line(r, 2, "init in another user's directory", d, "owned by")
        check(os.listdir(d) == [], "init wrote into another user's "
              "directory")
    else:
        skip("not root: cannot make a directory another user owns")
    # A good node; a later chmod opens it: every verb refuses it.
    p = env.province("lao-cai")
    cid = p.add(secret_case(1))
    os.chmod(p.dir, 0o777)
    one_line(p.cli("case", "get", cid), 2, "case get in an open directory",
             "chmod 700")
    one_line(p.cli("status"), 2, "status in an open directory")
    os.chmod(p.dir, 0o700)
    ok(p.cli("case", "get", cid), "case get after chmod 700")
    # Key files are checked by owner, not only by mode (root reads any).
    if os.geteuid() == 0:
        for f in ("identity.key", "data.key"):
            path = os.path.join(p.dir, f)
            os.chown(path, 65534, 65534)
            r = p.cli("case", "get", cid)
            one_line(r, 2, f + " owned by another user", f, "owned by")
            check(NAME not in r.out, "case shown with a foreign " + f)
            os.chown(path, 0, 0)
        ok(p.cli("case", "get", cid), "case get with our own key files")


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
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            out.append(int(d))
    return out


def core_limit(pid):
    for line in open("/proc/%d/limits" % pid):
        if line.startswith("Max core file size"):
            return line.split()[4:6]
    raise AssertionError("no core limit for %d" % pid)


def check_key_process(pid, what, secret, owner_shows_dumpable):
    """pid writes no core, is not dumpable and has secret in neither its
    environment nor its command line."""
    lim = core_limit(pid)
    check(lim == ["0", "0"], "%s (%d): core file size limit %r" %
          (what, pid, lim))
    if owner_shows_dumpable:
        # The files of a process that is not dumpable belong to root.
        uid = os.stat("/proc/%d/status" % pid).st_uid
        check(uid == 0, "%s (%d) is dumpable: /proc/%d/status belongs to "
              "uid %d" % (what, pid, pid, uid))
    for f in ("environ", "cmdline"):
        try:
            blob = open("/proc/%d/%s" % (pid, f), "rb").read()
        except PermissionError:
            continue        # not readable to us: nothing shows either
        check(secret.encode() not in blob, "%s (%d): the passphrase is in "
              "/proc/%d/%s" % (what, pid, pid, f))


def test_no_core_dump_and_passphrase_leaves_environment(env):
    """Finding 5: every casesync process that may hold a key dumps no core
    (RLIMIT_CORE 0, not dumpable), even when started with core dumps
    allowed, and CASESYNC_PASSPHRASE is out of its environment; the
    session processes that serve and sync fork still get the passphrase
    (a replaced one too).  A session process killed by SIGABRT leaves no
    core file.  As root the nodes run as nobody (setpriv), so that the
    owner of /proc/PID/status shows whether a process is dumpable."""
    secret = "FAKE-passphrase-Quuxinator-8841"
    penv = {"CASESYNC_PASSPHRASE": secret}
    wrap, uid = [], os.geteuid()
    if uid == 0:
        if shutil.which("setpriv") is None:
            return skip("setpriv (util-linux) is not installed")
        uid = 65534
        wrap = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                "--clear-groups", "--"]
        os.chmod(env.tmp, 0o711)
    owner_shows = uid != 0
    dirs = {}
    for name in ("central", "lao-cai", "cores"):
        dirs[name] = os.path.join(env.tmp, name)
        os.makedirs(dirs[name], 0o700)
        os.chown(dirs[name], uid, uid)
    port = harness.free_port()
    ep = "tcp://127.0.0.1:%d" % port
    ok(run(["init", "-d", dirs["central"], "--node", "central", "--role",
            "central", "--listen", ep], env=penv, wrap=wrap), "init central")
    ok(run(["init", "-d", dirs["lao-cai"], "--node", "lao-cai", "--role",
            "province", "--central", ep], env=penv, wrap=wrap), "init")
    keys = {n: ok(run(["key", "-d", dirs[n]], env=penv, wrap=wrap)).out
            .strip() for n in ("central", "lao-cai")}
    ok(run(["trust", "-d", dirs["central"], "lao-cai", keys["lao-cai"]],
           env=penv, wrap=wrap), "trust")
    ok(run(["trust", "-d", dirs["lao-cai"], "central", keys["central"]],
           env=penv, wrap=wrap), "pin")
    ok(run(["case", "add", "-d", dirs["lao-cai"], "-"], env=penv, wrap=wrap,
           stdin=json.dumps(secret_case(1))), "case add")

    def allow_cores():
        import resource
        resource.setrlimit(resource.RLIMIT_CORE,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def start(args, log):
        e = dict(os.environ)
        e.pop("CASESYNC_DIR", None)
        e.update(penv)
        p = harness.GroupPopen(wrap + [harness.BIN] + args, env=e,
                               cwd=dirs["cores"], preexec_fn=allow_cores,
                               stdout=log, stderr=log)
        harness._procs.append(p)
        return p

    def child_of(p):
        found = []

        def one():
            found[:] = children(p.pid)
            return len(found) == 1
        wait_for(one, 15, what="the session process of %d" % p.pid)
        return found[0]

    logpath = os.path.join(env.tmp, "nodes.log")
    log = open(logpath, "a")
    # sync, while central is not there yet: parent and session process.
    s = start(["sync", "-d", dirs["lao-cai"], "--timeout", "20"], log)
    sc = child_of(s)
    check_key_process(s.pid, "sync", secret, owner_shows)
    check_key_process(sc, "sync's session process", secret, owner_shows)
    s.kill()
    s.wait()
    # serve on central, with a province syncing through it.
    c = start(["serve", "-d", dirs["central"], "--log-level", "info"], log)
    cc = child_of(c)
    check_key_process(c.pid, "serve", secret, owner_shows)
    check_key_process(cc, "serve's node process", secret, owner_shows)
    r = run(["sync", "-d", dirs["lao-cai"], "--timeout", "30"], env=penv,
            wrap=wrap, timeout=60)
    ok(r, "sync in passphrase mode")
    check(sync_summary(r)[0] == 1, r)
    # A session process that aborts (as libzmq's do) leaves no core.
    os.kill(cc, 6)
    wait_for(lambda: harness.REPLACED in open(logpath).read(), 15,
             what="serve to replace its node process")
    cc2 = child_of(c)
    check(cc2 != cc, "not replaced")
    check_key_process(cc2, "serve's replaced node process", secret,
                      owner_shows)
    ok(run(["case", "add", "-d", dirs["lao-cai"], "-"], env=penv, wrap=wrap,
           stdin=json.dumps(secret_case(2))), "case add")
    r = ok(run(["sync", "-d", dirs["lao-cai"], "--timeout", "30"],
               env=penv, wrap=wrap, timeout=60), "sync after the restart")
    check(sync_summary(r)[0] == 1, r)
    pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    if pattern.startswith("|") or "/" in pattern:
        skip("core_pattern %r does not write cores to the working "
             "directory; checked the limits and flags only" % pattern)
    else:
        for d in dirs.values():
            cores = [f for f in os.listdir(d) if f.startswith("core")]
            check(cores == [], "core files written: %s %r" % (d, cores))
    check(secret not in open(logpath).read(), "the passphrase is logged")


def test_authors_sealed_at_rest(env):
    """Finding 9 (third point): staff names in entries' `author` are
    personal data.  A copy of data.mdb holds none of them, while `case
    history` and `conflicts` still show them to the node's user, every
    signature still verifies and `verify` passes."""
    staff = {"p": "FAKE Staff Wobblethorpe", "p2": "FAKE Nurse Grindlevane",
             "c": "FAKE Officer Plumtreeworth"}
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = ok(p.cli("case", "add", "-", stdin=json.dumps(secret_case(1)),
                   env={"CASESYNC_AUTHOR": staff["p"]})).out.strip()
    ok(p.cli("case", "update", cid, "-", env={"CASESYNC_AUTHOR": staff["p2"]},
             stdin=json.dumps({"notes": [{"on": "2026-02-03",
                                          "text": "FAKE second note"}]})))
    ok(p.sync(), "sync")
    # Concurrent edits of one field: a conflict on both nodes.
    ok(p.cli("case", "update", cid, "-", stdin='{"status": "closed"}',
             env={"CASESYNC_AUTHOR": staff["p"]}))
    ok(c.cli("case", "update", cid, "-", stdin='{"status": "identified"}',
             env={"CASESYNC_AUTHOR": staff["c"]}))
    ok(p.sync(), "sync both ways")
    want = {staff["p"] + "@lao-cai", staff["p2"] + "@lao-cai",
            staff["c"] + "@central"}
    for n in (c, p):
        h = ok(n.cli("case", "history", cid, "--json")).json()
        check({e["author"] for e in h} == want, "%s history authors: %r" %
              (n.name, [e["author"] for e in h]))
        check(all(e["signature"] == "verified" for e in h),
              "%s signatures: %r" % (n.name, h))
        conf = ok(n.cli("conflicts", "--json")).json()
        check(len(conf) == 1, "%s conflicts: %r" % (n.name, conf))
        sides = {conf[0]["winner"]["author"], conf[0]["loser"]["author"]}
        check(sides == {staff["p"] + "@lao-cai", staff["c"] + "@central"},
              "%s conflict authors: %r" % (n.name, conf))
        ok(n.verify(), "verify " + n.name)
    c.stop()
    for n in (c, p):
        data = open(os.path.join(n.dir, "data.mdb"), "rb").read()
        check(cid.encode() in data, "control: case id not found")
        for name in staff.values():
            for v in (name, name.split()[-1]):
                for enc in (v.encode(), v.encode("utf-16-le")):
                    check(enc not in data, "%s: author %r readable in "
                          "data.mdb" % (n.name, v))


def test_backup_and_restore_write_only_private_directories(env):
    """Findings 6 and 7 for `backup` and `restore`: the copy holds the keys,
    so an existing OUT (or restore's DIR) that group or others may write to
    is refused, and nothing is written there."""
    p = env.province("lao-cai")
    p.add(secret_case(1))
    for verb, what in (("backup", "OUT"), ("restore", "DIR")):
        d = os.path.join(env.tmp, verb + "-open")
        os.makedirs(d)
        os.chmod(d, 0o777)
        if verb == "backup":
            r = run(["backup", "-d", p.dir, d])
        else:
            good = os.path.join(env.tmp, "good-backup")
            ok(run(["backup", "-d", p.dir, good]), "backup")
            st = os.stat(os.path.join(good, "identity.key"))
            check(st.st_mode & 0o777 == 0o600, "backup key mode %o" %
                  (st.st_mode & 0o777))
            r = run(["restore", "-d", d, good])
        one_line(r, 2, "%s into an open %s" % (verb, what), d, "chmod 700")
        check(os.listdir(d) == [], "%s wrote into an open directory: %r" %
              (verb, os.listdir(d)))
