"""A hostile province: a test client that holds an enrolled province's keys
and speaks the sync protocol as a real province does (valid CURVE
handshake, valid Ed25519 signatures, a correctly continued hash chain), so
that it can send valid-but-hostile traffic (issue 18).

Needs Debian's python3-zmq, python3-msgpack and python3-cryptography, that
is /usr/bin/python3.  The byte layouts are those of proto/SCHEMA.md and
proto/msg.h; signing is node/sign.h (entries without identifying values
only: their signed form is the entry itself).

    h = Hostile(node_dir_of_the_province, central_node_dir)
    h.connect(); h.hello()            # WELCOME, KEYS and feed batches
    e = h.entry(case_id, [h.op_set("status", '"identified"', base)])
    h.send_batch([e]); h.recv_until(lambda m: m[1] == ACK)
"""
import hashlib
import os
import time
import uuid

import msgpack
import zmq
from cryptography.hazmat.primitives.asymmetric.ed25519 import \
    Ed25519PrivateKey
from zmq.utils import z85

HELLO, WELCOME, BATCH, ACK, BYE, ERROR, KEYS = 1, 2, 3, 4, 5, 6, 7
ALIVE = 19                                      # central's keepalive
PROTO_CODE, BUSY_CODE, QUOTA_CODE = 1, 6, 8     # ERROR codes (msg.h)
V = 2                                           # MSG_VERSION
ID_MAGIC = b"casesync-identity-v1\n"
ID_MAGIC2 = b"casesync-identity-v2\n"
CHAIN_TAG = b"casesync-chain-v1"


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def load_identity(node_dir):
    """(sign_pub, sign_sec, curve_pub, curve_sec) from identity.key: the
    v1 file, or a v2 file in clear (a data.key node after `key rotate`;
    node/identity.h).  A sealed v2 file (passphrase mode) is refused."""
    raw = open(os.path.join(node_dir, "identity.key"), "rb").read()
    if raw.startswith(ID_MAGIC2 + b"c"):
        k = raw[len(ID_MAGIC2) + 1 + 4:]
    else:
        assert raw.startswith(ID_MAGIC) and len(raw) == len(ID_MAGIC) + 128
        k = raw[len(ID_MAGIC):]
    return k[0:32], k[32:64], k[64:96], k[96:128]


def hlc_now(last=0):
    h = int(time.time() * 1000) << 16
    return h if h > last else last + 1


def decode_entry(data):
    """An entry (list) from a record's bytes."""
    rec = msgpack.unpackb(data, raw=False)
    return msgpack.unpackb(rec[1], raw=False)


class Hostile:
    def __init__(self, node_dir, central_dir, node=None, endpoint=None):
        self.dir = node_dir
        self.node = node or os.path.basename(node_dir.rstrip("/"))
        (self.sign_pub, sign_sec, self.curve_pub,
         self.curve_sec) = load_identity(node_dir)
        self.signer = Ed25519PrivateKey.from_private_bytes(sign_sec)
        self.central_curve = load_identity(central_dir)[2]
        if endpoint is None:
            for line in open(os.path.join(central_dir, "casesync.conf")):
                if line.startswith("listen"):
                    endpoint = line.split("=", 1)[1].strip()
        self.endpoint = endpoint
        self.seq = 0
        self.chain = bytes(32)
        self.chains = {0: self.chain}   # seq -> chain hash after it
        self.records = {}               # seq -> record, as sent
        self.hlc = 0
        self.batch_no = 0
        self.feed = []          # (pos, entry) received in feed batches
        self.feed_recv = 0
        self.ctx = zmq.Context.instance()
        self.sock = None
        self.welcome = None
        self.keys = None
        self.errors = []
        self.refusals = []     # (feed position, central's reason)
        self.alive = 0         # ALIVE messages received (skipped by recv)

    # ---- transport ---------------------------------------------------
    def connect(self, routing_id=None):
        self.close()
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_secretkey = z85.encode(self.curve_sec)
        s.curve_publickey = z85.encode(self.curve_pub)
        s.curve_serverkey = z85.encode(self.central_curve)
        if routing_id is not None:
            s.setsockopt(zmq.ROUTING_ID, routing_id)
        s.connect(self.endpoint)
        self.sock = s
        return self

    def close(self):
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None

    def send(self, msg):
        self.sock.send(pack(msg), copy=False)

    def recv(self, timeout=5.0):
        """The next message (decoded list), or None on timeout.  ALIVE,
        central's keepalive, is counted in self.alive and skipped."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0, deadline - time.monotonic())
            if not self.sock.poll(int(left * 1000)):
                return None
            m = msgpack.unpackb(self.sock.recv(), raw=False)
            if m[1] != ALIVE:
                break
            self.alive += 1
        if m[1] == ERROR:
            self.errors.append((m[2], m[3]))
        elif m[1] == KEYS:
            self.keys = dict((k[0], k[1]) for k in m[2])
        elif m[1] == WELCOME:
            self.welcome = m
        elif m[1] == BATCH:
            # [pos, record], or a refusal notice [pos, record, 1] or
            # [pos, record, 1, reason] (docs/PROTOCOL.md, "Refusals").
            for rec in m[4]:
                pos, data = rec[0], rec[1]
                if len(rec) == 4:
                    self.refusals.append((pos, rec[3]))
                if pos > self.feed_recv:
                    self.feed.append((pos, decode_entry(data)))
                    self.feed_recv = pos
        return m

    def recv_until(self, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(max(0.05, deadline - time.monotonic()))
            if m is not None and pred(m):
                return m
        return None

    def drain(self, quiet=0.5):
        """Reads until nothing arrives for quiet seconds; returns them."""
        out = []
        while True:
            m = self.recv(quiet)
            if m is None:
                return out
            out.append(m)

    # ---- protocol ----------------------------------------------------
    def hello(self, window=8, feed_recv=None, ack=True, timeout=10.0):
        """HELLO, then WELCOME; receives the feed (acknowledging each batch
        unless ack is False).  Sets self.seq/self.chain from central's
        `have` only when this client wrote nothing yet."""
        self.send(self.hello_msg(
            self.feed_recv if feed_recv is None else feed_recv, self.seq,
            window))
        w = self.recv_until(lambda m: m[1] in (WELCOME, ERROR), timeout)
        if w is None or w[1] == ERROR:
            return w
        more = True
        while more:
            m = self.recv_until(lambda m: m[1] in (BATCH, ERROR), 5)
            if m is None or m[1] == ERROR:
                break
            more = bool(m[3])
            if ack:
                self.ack(m[2], self.feed_recv)
        return w

    def hello_msg(self, feed_recv, own_seq, window=8):
        """HELLO without the recovery claims (no central entry seen, no
        feed reference): central checks nothing more."""
        return [V, HELLO, self.node, feed_recv, own_seq, window, 0,
                bytes(32), b""]

    def ack(self, no, pos):
        self.send([V, ACK, no, pos, 0, 0, 0])

    def bye(self):
        self.send([V, BYE])

    # ---- entries -----------------------------------------------------
    @staticmethod
    def op_set(path, value, base=None, also=()):
        b = base or (0, "")
        return [1, path, value, b[0], b[1], [list(a) for a in also]]

    @staticmethod
    def op_event(coll, evid, value):
        return [2, coll, evid, value]

    @staticmethod
    def op_transfer(to):
        return [3, to]

    @staticmethod
    def op_erase(view=None):
        """[4], or [4, [hlc, node]]: the stamp of the transfer that made
        the owner in the writer's view (docs/CONFLICTS.md)."""
        return [4] if view is None else [4, [view[0], view[1]]]

    @staticmethod
    def new_case_id():
        return str(uuid.uuid4())

    def entry(self, case_id, ops, hlc=None, author=None):
        """Signs the next entry of this origin; returns (seq, record)."""
        self.seq += 1
        self.hlc = hlc if hlc is not None else hlc_now(self.hlc)
        ent = pack([1, self.node, self.seq, self.hlc,
                    author or "mallory@" + self.node, case_id, ops])
        d = hashlib.sha256(ent).digest()
        prev = self.chain
        h = hashlib.sha256(CHAIN_TAG + prev + d).digest()
        sig = self.signer.sign(h)
        self.chain = h
        self.chains[self.seq] = h
        self.records[self.seq] = pack([1, ent, sig + prev])
        return (self.seq, self.records[self.seq])

    def mark(self):
        """The chain position, to rewind to after a batch central did
        not apply."""
        return (self.seq, self.chain, self.hlc)

    def rewind(self, mark):
        """Forgets the entries after mark: central did not apply them."""
        for q in range(mark[0] + 1, self.seq + 1):
            self.records.pop(q, None)
        self.seq, self.chain, self.hlc = mark

    def unsent(self, have):
        """The records after have (what central's WELCOME says it holds),
        to send again as a province does after central lost them."""
        return [(q, self.records[q]) for q in range(have + 1, self.seq + 1)
                if q in self.records]

    def batch_msg(self, recs, more=0):
        self.batch_no += 1
        return [V, BATCH, self.batch_no, more, [list(r) for r in recs]]

    def send_batch(self, recs, more=0):
        self.send(self.batch_msg(recs, more))

    def push(self, recs, timeout=15.0):
        """Sends recs in batches of at most 512 within a window of 1 and
        waits for each ACK; returns the last ACK or ERROR."""
        last = None
        for i in range(0, len(recs), 512):
            self.send_batch(recs[i:i + 512])
            last = self.recv_until(lambda m: m[1] in (ACK, ERROR), timeout)
            if last is None or last[1] == ERROR:
                return last
        return last

    @staticmethod
    def stamp_of(entry):
        """(hlc, origin) of a decoded entry."""
        return (entry[3], entry[1])
