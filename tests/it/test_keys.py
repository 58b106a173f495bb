"""Keys over time (issue 16; docs/SECURITY.md, "Key lifecycle"): real
casesync processes on 127.0.0.1, real LMDB files, real sockets.

- Stolen disk: in passphrase mode identity.key is sealed under the
  passphrase-derived key, so a copy of the node directory without the
  passphrase can neither sign an entry nor complete a handshake with
  central; a node made before this is sealed in place at its next start;
  backup and restore keep working.

Needs /usr/bin/python3 (python3-zmq, python3-cryptography), as
tests/hostile.py does.
"""
import json
import os
import shutil

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
