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


def test_former_owner_cannot_erase_after_referral_seen(env):
    """A province's key and store in an attacker's hands (a copy taken
    while the province owned case x).  Central refers x away; the real
    province syncs and so acknowledges the referral.  An erase of x then
    sent from the copy is refused: only an erase made before the province
    could know of the referral counts (docs/SECURITY.md).  The same erase
    sent before that acknowledgement is accepted
    (test_chaos.test_erase_by_province_just_referred_away)."""
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
    check(r.rc == 0 and sync_summary(r)[2] == 1, "refused count in %r" % r)
    cx = c.get(x)
    check(not cx.get("erased") and cx["person"]["full_name"] == NAME,
          "the late erase was applied: %r" % cx)
    log = log_text(env, c)
    check("lao-cai does not own case %s" % x in log, "refusal not logged")
    ok(b.sync(), "sync ha-noi")
    bx = b.get(x)
    check(bx["person"]["full_name"] == NAME and bx == cx, bx)
    for n in (c, b):
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
