"""A Byzantine province for the chaos campaign (issue 18).

An enrolled province whose keys are in an attacker's hands: during the
round it speaks the sync protocol directly to central (tests/hostile.py:
valid CURVE, valid signatures, a correctly continued hash chain) and sends
valid-but-hostile traffic, one action per session:

- flood: a case of its own with 64 concurrent writes of one field, then
  (often) referred to an honest province, which must take it without
  wedging (finding 1);
- junk: new junk cases referred to honest provinces (finding 3);
- erase: erases of honest provinces' cases (from the ledger), which must
  all be refused (finding 4);
- credit: more batches than its window back to back without reading, and
  ACKs with nothing in flight (finding 2);
- badsig: a batch whose last signature is wrong, resent at once with a
  3.9 MB copy; central must back it off (finding 2).

Meanwhile it samples the resident memory of central's node process; the
campaign reports the peak.  Honest provinces must still end with nothing
lost, duplicated or diverged (tests/chaos/checks.py knows its cases).
"""
import os
import random
import sys
import threading
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from hostile import ACK, BUSY_CODE, ERROR, WELCOME, Hostile  # noqa: E402

ACTIONS = ["flood", "junk", "erase", "credit", "badsig"]


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Byzantine:
    def __init__(self, cl, lg, seed, name):
        self.cl = cl
        self.lg = lg
        self.name = name
        self.rng = random.Random("%s/byzantine" % seed)
        c = cl.central.node
        self.node = cl.env.province(name, c)
        self.h = Hostile(self.node.dir, c.dir, node=name)
        self.cases = set()          # cases it created
        self.counts = {}
        self.errors = []
        self.rss_peak_kb = 0
        self._stop = threading.Event()
        self.threads = []

    def count(self, k, n=1):
        self.counts[k] = self.counts.get(k, 0) + n

    # -- sessions --------------------------------------------------------
    def session(self):
        """A fresh connection and HELLO; returns the window, or None when
        central refused (backed off, busy, down)."""
        h = self.h
        h.connect()
        w = h.hello(timeout=3.0)
        if w is None:
            self.count("no_answer")
            return None
        if w[1] != WELCOME:
            self.count("backed_off" if w[2] == BUSY_CODE else "refused")
            return None
        again = h.unsent(w[3])
        if again:
            # Central lost them (a restore): send them again, as a
            # province does, before anything new.
            self.count("resent", len(again))
            a = h.push(again, timeout=8)
            if a is None or a[1] != ACK:
                return None
        return w[5]

    def honest(self):
        return [m.name for m in self.cl.provinces]

    def push(self, recs, what):
        a = self.h.push(recs, timeout=8)
        if a is None:
            self.count(what + ":lost")
        elif a[1] == ERROR:
            self.count(what + ":error")
        else:
            self.count(what + ":applied", a[4])
            self.count(what + ":refused", a[6])
        return a

    # -- actions ---------------------------------------------------------
    def flood(self):
        h = self.h
        cid = Hostile.new_case_id()
        first = h.entry(cid, [h.op_set("status", '"reported"'),
                              h.op_transfer(self.name)])
        base = (h.hlc, self.name)
        recs = [first]
        for i in range(64):
            recs.append(h.entry(cid, [h.op_set(
                "status", '"%s"' % ("identified", "not_victim")[i % 2],
                base)]))
        if self.rng.random() < 0.7:
            recs.append(h.entry(cid, [h.op_transfer(
                self.rng.choice(self.honest()))]))
        self.cases.add(cid)
        self.push(recs, "flood")

    def junk(self):
        h = self.h
        recs = []
        for _ in range(self.rng.randint(1, 4)):
            cid = Hostile.new_case_id()
            self.cases.add(cid)
            recs.append(h.entry(cid, [
                h.op_set("status", '"reported"'),
                h.op_set("person.sex", '"female"'),
                h.op_transfer(self.name)]))
            recs.append(h.entry(cid, [h.op_transfer(
                self.rng.choice(self.honest()))]))
        self.push(recs, "junk")

    def erase(self):
        with self.lg.lock:
            ids = list(self.lg.cases)
        if not ids:
            return
        h = self.h
        recs = [h.entry(cid, [h.op_erase()])
                for cid in self.rng.sample(ids, min(4, len(ids)))]
        a = self.push(recs, "erase")
        if a is not None and a[1] == ACK and a[4] != 0:
            self.errors.append("central accepted %d erases of honest "
                               "provinces' cases from %s" % (a[4],
                                                              self.name))

    def credit(self, window):
        h = self.h
        for _ in range(window + 4):
            cid = Hostile.new_case_id()
            self.cases.add(cid)
            h.send_batch([h.entry(cid, [h.op_set("status", '"reported"'),
                                        h.op_transfer(self.name)])])
        for _ in range(3):
            h.ack(999, 0)
        got = h.drain(1.0)
        self.count("credit:acks", sum(1 for m in got if m[1] == ACK))
        self.count("credit:errors", sum(1 for m in got if m[1] == ERROR))

    def badsig(self):
        h = self.h
        mark = h.mark()
        cid = Hostile.new_case_id()
        recs = [h.entry(cid, [h.op_set("status", '"' + "x" * 3900 + '"')])
                for _ in range(960)]
        seq, last = recs[-1]
        rec = msgpack.unpackb(last, raw=False)
        rec[2] = bytes([rec[2][0] ^ 1]) + rec[2][1:]
        recs[-1] = (seq, msgpack.packb(rec, use_bin_type=True))
        batch = h.batch_msg(recs)
        hello = h.hello_msg(h.feed_recv, seq)
        h.send(batch)
        for _ in range(12):
            h.send(hello)
            h.send(batch)
        got = h.drain(1.0)
        self.count("badsig:errors", sum(1 for m in got if m[1] == ERROR))
        self.count("badsig:backed_off", sum(
            1 for m in got if m[1] == ERROR and m[2] == BUSY_CODE))
        h.rewind(mark)

    # -- threads -----------------------------------------------------------
    def run(self):
        while not self._stop.is_set():
            try:
                window = self.session()
                if window is not None:
                    act = self.rng.choice(ACTIONS)
                    self.count("action:" + act)
                    if act == "credit":
                        self.credit(window)
                    elif act == "badsig":
                        self.badsig()
                    else:
                        getattr(self, act)()
                    self.h.bye()
            except Exception as e:      # a hostile client never stops
                self.count("client_error")
                if len(self.errors) < 5 and not isinstance(
                        e, (OSError, ValueError)):
                    self.count("client_exception:" + type(e).__name__)
            finally:
                self.h.close()
            self._stop.wait(self.rng.uniform(0.05, 0.4))

    def sample(self):
        while not self._stop.is_set():
            p = self.cl.central.node.proc
            if p is not None and p.poll() is None:
                for c in children(p.pid) + [p.pid]:
                    self.rss_peak_kb = max(self.rss_peak_kb, rss_kb(c))
            self._stop.wait(0.2)

    def start(self):
        for f in (self.run, self.sample):
            t = threading.Thread(target=f, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(60)
        self.h.close()
