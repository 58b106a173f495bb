"""Keys over time (issue 16; docs/SECURITY.md, "Key lifecycle"): real
casesync processes on 127.0.0.1, real LMDB files, real sockets.

- Stolen disk: in passphrase mode identity.key is sealed under the
  passphrase-derived key, so a copy of the node directory without the
  passphrase can neither sign an entry nor complete a handshake with
  central; a node made before this is sealed in place at its next start;
  backup and restore keep working.
- Rotation: `key rotate` between syncs, with `serve` running, twice; old
  and new entries verify everywhere; a hand-over central takes only when
  the old key signed it.
- Revocation from a seq: the stolen key's later entries are refused or
  flagged everywhere with the reason, earlier ones verify, `trust` of the
  new key lets the node go on.

Needs /usr/bin/python3 (python3-zmq, python3-cryptography), as
tests/hostile.py does.
"""
import json
import os
import shutil
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import \
    Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import \
    X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, \
    PublicFormat

from harness import check, ok, run, sample_case

PASS = "FAKE-passphrase-Keyhistory-5521"


class passphrase:
    """Every casesync started inside runs in passphrase mode."""

    def __enter__(self):
        os.environ["CASESYNC_PASSPHRASE"] = PASS
        return self

    def __exit__(self, *a):
        os.environ.pop("CASESYNC_PASSPHRASE", None)


NOPASS = {"CASESYNC_PASSPHRASE": ""}
WRONG = {"CASESYNC_PASSPHRASE": "FAKE-not-the-passphrase"}


def raw_pub(priv):
    return priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def pubs(line):
    """(sign_pub, curve_pub) of a `casesync key` line."""
    check(line.startswith("cs1-") and len(line) == 132, line)
    return bytes.fromhex(line[4:68]), bytes.fromhex(line[68:132])


def secret_windows(blob, sign_pub, curve_pub):
    """The offsets of blob where 32 bytes are the Ed25519 or X25519 secret
    of the given public keys: what a thief could lift from the file."""
    found = []
    for i in range(0, len(blob) - 31):
        w = blob[i:i + 32]
        if raw_pub(X25519PrivateKey.from_private_bytes(w)) == curve_pub:
            found.append(("curve", i))
        if raw_pub(Ed25519PrivateKey.from_private_bytes(w)) == sign_pub:
            found.append(("sign", i))
    return found


def check_no_secret(dir_, line):
    sp, cp = pubs(line)
    for f in sorted(os.listdir(dir_)):
        if f.startswith("data.mdb") or f == "lock.mdb":
            continue            # the store never holds the node's keys
        blob = open(os.path.join(dir_, f), "rb").read()
        hit = secret_windows(blob, sp, cp)
        check(not hit, "%s/%s holds the node's secret key at %r" %
              (dir_, f, hit))


def handshake(central, cpub, curve_pub, curve_sec, timeout=3.0):
    """Tries a CURVE handshake with central as (curve_pub, curve_sec) and
    a HELLO; returns the first reply frame or None."""
    import zmq
    from zmq.utils import z85
    import msgpack
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.curve_serverkey = z85.encode(cpub)
    s.curve_publickey = z85.encode(curve_pub)
    s.curve_secretkey = z85.encode(curve_sec)
    s.connect(central.endpoint)
    s.send(msgpack.packb([2, 1, "lao-cai", 0, 0, 8, 0, bytes(32), b""],
                         use_bin_type=True))
    got = None
    if s.poll(int(timeout * 1000)):
        got = s.recv()
    s.close()
    return got


def test_stolen_disk_passphrase_mode(env):
    """With CASESYNC_PASSPHRASE, identity.key is sealed: a copy of the
    whole node directory, without the passphrase, cannot sign an entry
    and cannot complete a handshake with central.  The owner, with the
    passphrase, syncs as before."""
    with passphrase():
        c = env.central().start()
        p = env.province("lao-cai", c)
        cid = p.add(sample_case(1))
        ok(p.sync(), "sync with the passphrase")
        check(c.get(cid) is not None, "central lacks the case")
        line = ok(p.cli("key")).out.strip()
        cpub = pubs(ok(c.cli("key")).out.strip())[1]
    stolen = os.path.join(env.tmp, "stolen")
    shutil.copytree(p.dir, stolen)
    head = open(os.path.join(stolen, "identity.key"), "rb").read(22)
    check(head == b"casesync-identity-v2\ns", "not sealed: %r" % head)
    # Nothing in the copy is a secret key of the node.
    check_no_secret(stolen, line)
    for e, what in ((NOPASS, "no passphrase"), (WRONG, "a wrong one")):
        r = run(["case", "add", "-d", stolen, "-"], env=e,
                stdin=json.dumps(sample_case(2)))
        check(r.rc == 2, "signed an entry with %s: %r" % (what, r))
        r = run(["sync", "-d", stolen, "--timeout", "5"], env=e)
        check(r.rc == 2, "synced with %s: %r" % (what, r))
    r = run(["case", "add", "-d", stolen, "-"], env=WRONG,
            stdin=json.dumps(sample_case(2)))
    check("does not open" in r.err and r.err.count("\n") == 1, r)
    # The bytes where an identity in clear kept the transport secret do
    # not make a handshake: central answers nothing.
    blob = open(os.path.join(stolen, "identity.key"), "rb").read()
    sp, cp = pubs(line)
    got = handshake(c, cpub, cp, blob[21 + 96:21 + 128])
    check(got is None, "a handshake from the copy's bytes got %r" % got)
    # Control: the same probe with the real key gets an answer, so the
    # probe itself works (the secret comes from a data.key-mode node that
    # central enrols for this).
    q = env.province("son-la", c, enrol=False)
    with passphrase():
        env.enrol(c, q)
    qraw = open(os.path.join(q.dir, "identity.key"), "rb").read()
    check(qraw.startswith(b"casesync-identity-v1\n"), "data.key mode")
    got = handshake(c, cpub, qraw[21 + 64:21 + 96], qraw[21 + 96:21 + 128])
    check(got is not None, "the probe gets no answer even with a real key")
    # Nothing of the owner's changed: it still syncs.
    with passphrase():
        p.add(sample_case(3))
        ok(p.sync(), "sync after the theft")
        check(c.status()["vector"].get("lao-cai") == 2, c.status())


def test_identity_sealed_in_place_and_backups(env):
    """A passphrase-mode node made before identity.key was sealed (a file
    in clear) is sealed in place the first time it opens with its
    passphrase, keeping its keys; backup and restore carry the sealed file
    and restore needs the passphrase."""
    scratch = env.province("son-la", enrol=False)
    clear = open(os.path.join(scratch.dir, "identity.key"), "rb").read()
    check(clear.startswith(b"casesync-identity-v1\n"), clear[:22])
    line = ok(scratch.cli("key")).out.strip()
    with passphrase():
        p = env.province("lao-cai", enrol=False)
        # What a node of the earlier version held: its keys in clear.
        os.unlink(os.path.join(p.dir, "identity.key"))
        with open(os.path.join(p.dir, "identity.key"), "wb") as f:
            f.write(clear)
        os.chmod(os.path.join(p.dir, "identity.key"), 0o600)
        r = ok(p.cli("key"), "key")
        check(r.out.strip() == line, "the keys changed: %r" % r)
        check("now sealed" in r.err, r)
        check_no_secret(p.dir, line)
        r = ok(p.cli("key"), "key again")
        check(r.out.strip() == line and r.err == "", r)
        cid = p.add(sample_case(1))
        ok(p.cli("backup", os.path.join(env.tmp, "bk")), "backup")
    check_no_secret(os.path.join(env.tmp, "bk"), line)
    r = run(["restore", "-d", os.path.join(env.tmp, "r1"),
             os.path.join(env.tmp, "bk")], env=NOPASS)
    check(r.rc == 2 and "PASSPHRASE" in r.err, r)
    check(not os.path.exists(os.path.join(env.tmp, "r1")), "restore wrote")
    with passphrase():
        ok(run(["restore", "-d", os.path.join(env.tmp, "r2"),
                os.path.join(env.tmp, "bk")]), "restore")
        r = ok(run(["key", "-d", os.path.join(env.tmp, "r2")]))
        check(r.out.strip() == line, r)
        r = ok(run(["case", "get", "-d", os.path.join(env.tmp, "r2"),
                    cid]))
        ok(run(["verify", "-d", os.path.join(env.tmp, "r2")]), "verify")
    check_no_secret(os.path.join(env.tmp, "r2"), line)


def history(node, cid):
    return [(e["node"], e["seq"], e["signature"]) for e in
            ok(node.cli("case", "history", cid, "--json")).json()]


def all_verified(node, cid, n=None):
    h = history(node, cid)
    check(h and all(s == "verified" for _, _, s in h),
          "%s: history of %s: %r" % (node.name, cid, h))
    if n is not None:
        check(len(h) == n, "%s: %d entries, not %d: %r" %
              (node.name, len(h), n, h))
    return h


def test_routine_rotation(env):
    """A province rotates its key between syncs, with an entry of the old
    key not synced yet.  Its next sync hands the new key over; every entry,
    old and new, shows "signature verified" on the province, on central
    and, after a referral, on another province; `verify` passes on all
    three; the old transport key is refused from then on."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(1))                   # lao-cai/1, old key
    a.update(x, {"status": "closed"})           # 2
    ok(a.sync(), "sync")
    y = a.add(sample_case(2))                   # 3, old key, not synced
    old = ok(a.cli("key")).out.strip()
    old_id = open(os.path.join(a.dir, "identity.key"), "rb").read()
    r = ok(a.cli("key", "rotate"), "key rotate")
    check("epoch 1" in r.out and "seq 4" in r.out, r)
    new = r.out.strip().splitlines()[-1]
    check(new != old and new == ok(a.cli("key")).out.strip(), r)
    z = a.add(sample_case(3))                   # 4, new key
    a.update(x, {"status": "receiving_support"})     # 5, new key
    for cid, n in ((x, 3), (y, 1), (z, 1)):
        all_verified(a, cid, n)
    ok(a.verify(), "verify on the province before its sync")
    r = ok(a.sync(), "sync with the hand-over")
    check(c.status()["vector"].get("lao-cai") == 5, c.status())
    for cid, n in ((x, 3), (y, 1), (z, 1)):
        all_verified(c, cid, n)
    # The rotation is complete: the node now connects with its new key.
    w = a.add(sample_case(4))                   # 6
    ok(a.sync(), "sync with the new key")
    check(c.status()["vector"].get("lao-cai") == 6, c.status())
    all_verified(c, w, 1)
    # Another province learns the key history through KEYS.
    for cid in (x, y, w):
        ok(c.cli("case", "transfer", cid, "--to", "ha-noi"), "transfer")
    ok(b.sync(), "sync ha-noi")
    all_verified(b, x, 4)
    all_verified(b, y, 2)
    all_verified(b, w, 2)
    for n in (a, b, c):
        ok(n.verify(), "verify on " + n.name)
    # A second rotation goes the same way.
    ok(a.cli("key", "rotate"), "second rotation")
    v = a.add(sample_case(5))                   # 7, epoch 2
    ok(a.sync(), "sync after the second rotation")
    all_verified(c, v, 1)
    ok(c.verify(), "verify on central")
    # The old transport key is refused: a copy of the node made before
    # the rotation cannot sync any more.
    stolen = os.path.join(env.tmp, "stolen")
    shutil.copytree(a.dir, stolen)
    os.chmod(os.path.join(stolen, "identity.key"), 0o600)
    with open(os.path.join(stolen, "identity.key"), "wb") as f:
        f.write(old_id)
    r = run(["sync", "-d", stolen, "--timeout", "5"])
    check(r.rc in (2, 3) and r.rc != 0, "the old key still syncs: %r" % r)
    check(c.status()["vector"].get("lao-cai") == 7, c.status())


def test_revocation_from_a_seq(env):
    """A province's disk is copied after its seq 1.  Its operator rotates
    the key; central revokes the stolen key from seq 2.  The thief's copy
    is refused; the province's own entry 2, signed with the stolen key, is
    refused at central with the reason (it cannot be told from the
    thief's), entry 1 still verifies.  Enrolling the new key with `trust`
    lets the province go on.  A later revocation of a key from a seq
    flags what central already holds (`case history` REVOKED, `verify`
    exit 4) and another province refuses those entries when relayed."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(1))                       # lao-cai/1
    ok(a.sync(), "sync")
    stolen = os.path.join(env.tmp, "stolen")
    shutil.copytree(a.dir, stolen)                  # the theft
    a.update(x, {"status": "closed"})               # 2, stolen key
    r = ok(a.cli("key", "rotate"), "key rotate")
    new = r.out.strip().splitlines()[-1]
    a.update(x, {"status": "receiving_support"})    # 3, new key
    r = ok(c.cli("revoke", "lao-cai", "--from-seq", "2"), "revoke")
    check("from seq 2" in r.out and "refused until" in r.out, r)
    # The thief is refused, and nothing of it is applied.
    r = run(["case", "update", "-d", stolen, x, "-"],
            stdin=json.dumps({"status": "not_victim"}))
    ok(r, "the thief writes on its copy")
    r = run(["sync", "-d", stolen, "--timeout", "5"])
    check(r.rc != 0, "the stolen key synced: %r" % r)
    check(c.status()["vector"].get("lao-cai") == 1, c.status())
    # So is the province, until its new key is enrolled.
    r = a.sync(timeout=5)
    check(r.rc != 0, "synced under a revoked key: %r" % r)
    ok(c.cli("trust", "lao-cai", new), "trust the new key")
    ok(a.sync(), "sync with the new key")
    check(c.status()["vector"].get("lao-cai") == 3, c.status())
    h = history(c, x)
    check(h == [("lao-cai", 1, "verified"), ("lao-cai", 3, "verified")],
          "central: %r" % h)
    rows = [p for p in c.status()["peers"] if p["peer"] == "lao-cai"]
    check(rows and rows[0].get("refused", 0) >= 1, c.status())
    log = open(os.path.join(env.tmp, "central.log")).read()
    check("revoked from seq 2" in log, "no reason in central's log")
    ok(c.verify(), "verify on central")
    # The province took entry 2 out of its copy when told.
    ok(a.sync(), "sync again")
    check(a.get(x)["status"] == "receiving_support", a.get(x))
    ok(a.verify(), "verify on the province")
    # Revoking the new key from its first seq flags what central holds.
    ok(c.cli("revoke", "lao-cai", "--from-seq", "3"), "revoke again")
    h = history(c, x)
    check(h == [("lao-cai", 1, "verified"), ("lao-cai", 3, "REVOKED")],
          "central: %r" % h)
    r = c.verify()
    check(r.rc == 4 and "revoked from seq 3" in r.err, r)
    # Relayed after a referral, the revoked entry is refused; the rest
    # verifies.
    ok(c.cli("case", "transfer", x, "--to", "ha-noi"), "transfer")
    ok(b.sync(), "sync ha-noi")
    h = history(b, x)
    check([e for e in h if e[0] == "lao-cai"] ==
          [("lao-cai", 1, "verified")], "ha-noi: %r" % h)
    check(all(s == "verified" for _, _, s in h), h)
    ok(b.verify(), "verify on ha-noi")
    # Bad input: one line, nothing written.
    for args in (["--from-seq", "0"], ["--from-seq", "x"],
                 ["--from", "yesterday"],
                 ["--from-seq", "2", "--from", "2026-01-01"]):
        r = c.cli("revoke", "lao-cai", *args)
        check(r.rc == 1 and r.err.count("\n") == 1, "%r: %r" % (args, r))
    r = c.cli("revoke", "nowhere", "--from-seq", "2")
    check(r.rc == 2 and "not enrolled" in r.err, r)


def test_rotation_while_serve_runs(env):
    """A province's `serve` notices that `key rotate` replaced identity.key
    and starts a node process with the new keys, which hands them over:
    no restart by hand, nothing refused."""
    from harness import wait_for
    c = env.central().start()
    a = env.province("lao-cai", c)
    a.start()
    x = a.add(sample_case(1))
    wait_for(lambda: c.status()["vector"].get("lao-cai") == 1, 30,
             what="the first entry at central")
    ok(a.cli("key", "rotate"), "key rotate")
    a.update(x, {"status": "closed"})
    wait_for(lambda: c.status()["vector"].get("lao-cai") == 2, 30,
             what="the new key's entry at central")
    all_verified(c, x, 2)
    a.update(x, {"status": "receiving_support"})
    wait_for(lambda: c.status()["vector"].get("lao-cai") == 3, 30,
             what="the next entry at central")
    all_verified(c, x, 3)
    check(a.stop() == 0, "serve did not stop cleanly")
    log = open(os.path.join(env.tmp, "lao-cai.log")).read()
    check("identity.key changed" in log, "no reload in the log")
    check("died of signal" not in log, log[-2000:])
    clog = open(os.path.join(env.tmp, "central.log")).read()
    check("batch from lao-cai" not in clog, "central refused a batch")


def test_handover_accepted_only_under_the_old_key(env):
    """Central takes a hand-over only when the node's current key signed
    it: one whose signature was altered (or made by another key) is
    refused with the reason, nothing signed with the new key is applied,
    and the node keeps its enrolled key."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    a.add(sample_case(1))
    ok(a.sync(), "sync")
    ok(a.cli("key", "rotate"), "key rotate")
    a.add(sample_case(2))                           # 2, new key
    path = os.path.join(a.dir, "identity.key")
    good = open(path, "rb").read()
    check(good.startswith(b"casesync-identity-v2\nc"), good[:22])
    bad = bytearray(good)
    bad[-1] ^= 1                                    # the hand-over's sig
    with open(path, "wb") as f:
        f.write(bytes(bad))
    r = a.sync(timeout=10)
    check(r.rc == 2 and "not signed with this node's current key" in
          r.err and r.err.count("\n") == 1, r)
    check(c.status()["vector"].get("lao-cai") == 1, c.status())
    # Put right, the same hand-over goes (after central's back-off).
    with open(path, "wb") as f:
        f.write(good)
    time.sleep(2.5)
    ok(a.sync(), "sync with the hand-over as signed")
    check(c.status()["vector"].get("lao-cai") == 2, c.status())
    ok(c.verify(), "verify on central")
