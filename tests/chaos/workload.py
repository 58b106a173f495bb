"""The chaos workload and its ledger.

Worker threads, each with its own seeded generator, run `casesync`
commands at random against the nodes of a cluster: record new cases,
update fields, add services and notes, make concurrent edits of the same
field at the owning province and at central, refer cases between
provinces (an offer from a province, which the receiving province
accepts or declines; a reassignment at once from central), erase cases,
resolve conflicts, import small batches.

Every command is recorded in the ledger with what it wrote: unique tokens
(intake.facility values, service and note ids, referral reasons, resolution
values) that the checker later looks for on every node, and every
identifying value ever written (names, id numbers, phones, note texts),
which must never appear in clear in any node's files.  A write counts as
acknowledged when the command exited 0.
"""
import json
import random
import re
import subprocess
import threading
import time

import harness

STATUSES = ["reported", "under_verification", "identified", "not_victim",
            "receiving_support", "reintegration_followup", "closed"]
SERVICES = ["essential_needs", "medical", "interpretation", "legal_support",
            "legal_aid", "travel", "psychological", "education",
            "vocational_training", "job_placement", "hardship_allowance"]
PURPOSES = ["sexual_exploitation", "forced_labour", "labour_export_fraud",
            "forced_marriage", "surrogacy", "other"]
SOURCES = ["police", "border_guard", "hotline_111", "ngo", "self_report",
           "social_facility"]


def case_id(rng):
    """A lowercase UUIDv7-shaped case id drawn from rng."""
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-7%s-%x%s-%s" % (h[:8], h[8:12], h[13:16],
                                  8 + rng.getrandbits(2), h[17:20], h[20:32])


def cli(member, *args, stdin=None, timeout=40):
    try:
        return member.node.cli(*args, stdin=stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        return harness.Result(-9, "", "timed out after %d s" % timeout)


class CaseRec:
    def __init__(self, cid, origin, probe=False, hot=True):
        self.id = cid
        self.origin = origin
        self.probe = probe          # written on a province whose clock ran
                                    # ahead: central must refuse it
        self.hot = hot              # target of updates (not bulk imports)
        self.owner = origin         # owner as the workload believes it
        self.created = None         # True acked, False refused, None unknown
        self.erased = False
        self.offer = None           # (to, from) of an offer the workload
                                    # made and has not answered
        self.lock = threading.Lock()


class Write:
    def __init__(self, kind, node, case, tokens, res, t0, t1, tainted):
        self.kind = kind
        self.node = node
        self.case = case
        self.tokens = tokens
        self.rc = res.rc
        self.out = res.out
        self.err = res.err
        self.acked = res.rc == 0
        self.t0 = t0
        self.t1 = t1
        self.tainted = tainted

    def __repr__(self):
        return "%s@%s case %s %r rc=%s%s" % (
            self.kind, self.node, self.case, self.tokens, self.rc,
            " (clock ahead)" if self.tainted else "")


class Ledger:
    def __init__(self, seed):
        self.seed = seed
        self.lock = threading.Lock()
        self.cases = {}             # id -> CaseRec
        self.writes = []
        self.idents = set()         # identifying values ever written
        self.counter = 0
        # (case, province): central transferred the case away from that
        # province (so that province's concurrent writes may be refused).
        self.central_took = set()
        self.unacked_imports = 0
        # Restores (faults.f_restore): [node, backup time, restore time,
        # time of its first sync after (None: central, or not yet)].
        self.restores = []

    def restored(self, node, t_backup, t_restore):
        with self.lock:
            self.restores.append([node, t_backup, t_restore, None])

    def restored_synced(self, node, t):
        with self.lock:
            for r in self.restores:
                if r[0] == node and r[3] is None:
                    r[3] = t

    def restore_lost_ok(self, w):
        """Was w written on a node between its backup and the loss of its
        disk?  Then it is lost if it reached no other node."""
        return any(r[0] == w.node and w.t1 > r[1] and w.t0 < r[2]
                   for r in self.restores)

    def restore_stale(self, w):
        """Was w written on a restored province before its first sync
        after the restore?  Its view was older than central's."""
        return any(r[0] == w.node and w.t1 > r[2] and
                   (r[3] is None or w.t0 < r[3]) for r in self.restores)

    def tok(self, prefix):
        with self.lock:
            self.counter += 1
            return "%s%d-%05d" % (prefix, self.seed, self.counter)

    def add_case(self, rec):
        with self.lock:
            self.cases[rec.id] = rec

    def record(self, w):
        with self.lock:
            self.writes.append(w)
        return w

    def ident(self, v):
        with self.lock:
            self.idents.add(v)
        return v

    def hot_cases(self):
        with self.lock:
            return [c for c in self.cases.values()
                    if c.hot and not c.probe and c.created]

    def acked(self):
        return [w for w in self.writes if w.acked]


class Workload:
    """Runs the workers until stop(); see the module docstring."""

    WEIGHTS = [("add", 12), ("update", 34), ("concurrent", 9),
               ("transfer", 8), ("answer", 7), ("erase", 2), ("resolve", 9),
               ("import", 2), ("probe", 4), ("read", 4),
               ("referral_race", 3), ("overtaken_sync", 2)]

    def __init__(self, cluster, ledger, seed, workers=3, pace=(0.03, 0.2),
                 log=print):
        self.cl = cluster
        self.lg = ledger
        self.seed = seed
        self.nworkers = workers
        self.pace = pace
        self.log = log
        self._stop = threading.Event()
        self.threads = []
        self.errors = []
        self.ops = {}

    # -- helpers -------------------------------------------------------------
    def provinces(self, rng, tainted=None):
        return [m for m in self.cl.provinces
                if tainted is None or m.tainted == tainted]

    def run_on(self, m, kind, cid, tokens, args, stdin=None):
        """Runs a writing command on member m and records it.  A write
        on a province whose clock ran ahead is marked: central must
        refuse it, and then every node, its origin too, must be without
        it."""
        m.enter()
        try:
            tainted = m.tainted
            t0 = time.time()
            res = cli(m, *args, stdin=stdin)
            w = Write(kind, m.name, cid, tokens, res, t0, time.time(),
                      tainted)
            return self.lg.record(w)
        finally:
            m.leave()

    def new_case_body(self, rng, cid, facility):
        n = self.lg.tok("")
        body = {
            "id": cid,
            "status": rng.choice(STATUSES[:3]),
            "person": {
                "category": rng.choice(["victim", "being_identified"]),
                "sex": rng.choice(["female", "female", "male"]),
                "birth_year": rng.randint(1970, 2010),
                "full_name": self.lg.ident("FAKE Chaos Name %s" % n),
                "id_number": self.lg.ident("CHX%s" % n.replace("-", "")),
            },
            "trafficking": {"purposes": [rng.choice(PURPOSES)],
                            "destination_country": rng.choice(
                                ["CN", "KH", "LA", "MM", "VN"])},
            "intake": {"source": rng.choice(SOURCES),
                       "received_on": "2026-%02d-%02d" % (
                           rng.randint(1, 12), rng.randint(1, 28)),
                       "facility": facility},
        }
        if rng.random() < 0.3:
            body["person"]["address"] = self.lg.ident(
                "FAKE Chaos Street %s" % n)
        return body

    def pick_case(self, rng, pred=lambda c: True):
        cs = [c for c in self.lg.hot_cases() if pred(c)]
        rng.shuffle(cs)
        for c in cs[:8]:
            if c.lock.acquire(blocking=False):
                return c
        return None

    # -- operations ----------------------------------------------------------
    def op_add(self, rng, probe=False, member=None, hot=True):
        ps = [member] if member else self.provinces(
            rng, tainted=True if probe else None)
        if not ps:
            return
        m = rng.choice(ps)
        cid = case_id(rng)
        ftok = self.lg.tok("F")
        rec = CaseRec(cid, m.name, probe=probe, hot=hot)
        self.lg.add_case(rec)
        body = self.new_case_body(rng, cid, ftok)
        w = self.run_on(m, "add", cid, {"facility": ftok},
                        ("case", "add", "-"), stdin=json.dumps(body))
        if w is None:
            rec.created = False
            return
        rec.probe = w.tainted
        rec.created = True if w.acked else (None if w.rc < 0 else False)
        return rec

    def op_update(self, rng, case=None, node=None, body=None, kind="update"):
        c = case or self.pick_case(rng)
        if c is None:
            return
        try:
            if node is None:
                node = (self.cl.central if rng.random() < 0.3 else
                        self.cl.members[c.owner])
            tokens = {}
            if body is None:
                body = {}
                if rng.random() < 0.75:
                    tokens["facility"] = self.lg.tok("F")
                    body["intake"] = {"facility": tokens["facility"]}
                if rng.random() < 0.5 or not body:
                    tokens["service"] = self.lg.tok("s")
                    body["services"] = [{
                        "id": tokens["service"],
                        "type": rng.choice(SERVICES),
                        "on": "2026-%02d-%02d" % (rng.randint(1, 12),
                                                  rng.randint(1, 28)),
                        "amount_vnd": rng.randint(0, 5000000)}]
                if rng.random() < 0.25:
                    body["status"] = rng.choice(STATUSES)
                if rng.random() < 0.12:
                    body.setdefault("person", {})["phone"] = self.lg.ident(
                        "+84 9%s" % self.lg.tok("").replace("-", ""))
                if rng.random() < 0.1:
                    tokens["note"] = self.lg.tok("n")
                    body["notes"] = [{"id": tokens["note"],
                                      "on": "2026-05-01",
                                      "text": self.lg.ident(
                                          "FAKE secret note %s" %
                                          tokens["note"])}]
            else:
                tokens = dict(body.pop("_tokens", {}))
            self.run_on(node, kind, c.id, tokens,
                        ("case", "update", c.id, "-"),
                        stdin=json.dumps(body))
        finally:
            if case is None:
                c.lock.release()

    def op_concurrent(self, rng):
        """The owning province and central set the same field at once."""
        c = self.pick_case(rng, lambda c: c.owner != "central")
        if c is None:
            return
        try:
            owner = self.cl.members[c.owner]
            if rng.random() < 0.8:
                ta, tb = self.lg.tok("F"), self.lg.tok("F")
                ba = {"intake": {"facility": ta}, "_tokens": {"facility": ta}}
                bb = {"intake": {"facility": tb}, "_tokens": {"facility": tb}}
            else:
                sa, sb = rng.sample(STATUSES, 2)
                ba, bb = {"status": sa}, {"status": sb}
            def edit(node, body):
                try:
                    self.op_update(rng, c, node, body, "concurrent")
                except Exception as e:
                    self.errors.append("concurrent edit on %s: %s: %s" % (
                        node.name, type(e).__name__, e))
            ts = [threading.Thread(target=edit, args=(owner, ba)),
                  threading.Thread(target=edit, args=(self.cl.central, bb))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        finally:
            c.lock.release()

    def op_transfer(self, rng):
        c = self.pick_case(rng)
        if c is None:
            return
        try:
            node = (self.cl.central if rng.random() < 0.5 else
                    self.cl.members[c.owner])
            targets = [m.name for m in self.cl.provinces
                       if m.name != c.owner]
            if not targets:
                return
            to = rng.choice(targets)
            reason = self.lg.ident("FAKE secret reason %s" %
                                   self.lg.tok("R"))
            w = self.run_on(node, "transfer", c.id,
                            {"reason": reason, "to": to},
                            ("case", "transfer", c.id, "--to", to,
                             "--reason", reason))
            if w is not None and w.acked:
                frm = None
                parts = w.out.split()
                if "from" in parts:
                    frm = parts[parts.index("from") + 1]
                w.tokens["from"] = frm
                if node.role == "central":
                    if frm:
                        with self.lg.lock:
                            self.lg.central_took.add((c.id, frm))
                    c.owner = to
                    c.offer = None
                else:
                    # An offer: the case stays until `to` accepts.
                    c.offer = (to, frm)
        finally:
            c.lock.release()

    def op_answer(self, rng):
        """The receiving province accepts (mostly) or declines an offer
        the workload made; it may not have received it yet (exit 2,
        nothing written)."""
        c = self.pick_case(rng, lambda c: c.offer is not None)
        if c is None:
            return
        try:
            to, frm = c.offer
            m = self.cl.members.get(to)
            if m is None:
                return
            if rng.random() < 0.75:
                w = self.run_on(m, "accept", c.id, {},
                                ("case", "accept", c.id))
                if w is not None and w.acked:
                    # The former owner's writes made before it hears
                    # of the accept are refused at central.
                    if frm:
                        with self.lg.lock:
                            self.lg.central_took.add((c.id, frm))
                    c.owner = to
                    c.offer = None
            else:
                reason = self.lg.ident("FAKE secret decline %s" %
                                       self.lg.tok("D"))
                w = self.run_on(m, "decline", c.id, {},
                                ("case", "decline", c.id, "--reason",
                                 reason))
                if w is not None and w.acked:
                    c.offer = None
        finally:
            c.lock.release()

    def op_erase(self, rng, case=None, node=None):
        c = case or self.pick_case(rng)
        if c is None:
            return
        try:
            if node is None:
                node = (self.cl.central if rng.random() < 0.5 else
                        self.cl.members[c.owner])
            w = self.run_on(node, "erase", c.id, {}, ("case", "erase", c.id))
            if w is not None and w.acked:
                c.erased = True
        finally:
            if case is None:
                c.lock.release()

    def op_referral_race(self, rng):
        """Central refers a case away while its owner, not yet told,
        changes or erases it (central may refuse that); a moment later
        central refers the case back."""
        c = self.pick_case(rng, lambda c: c.owner != "central")
        if c is None:
            return
        try:
            a = self.cl.members[c.owner]
            others = [m.name for m in self.cl.provinces if m is not a]
            to = rng.choice(others)
            reason = self.lg.ident("FAKE secret reason %s" %
                                   self.lg.tok("R"))
            w = self.run_on(self.cl.central, "transfer", c.id,
                            {"reason": reason, "to": to},
                            ("case", "transfer", c.id, "--to", to,
                             "--reason", reason))
            if w is None or not w.acked:
                return
            parts = w.out.split()
            frm = parts[parts.index("from") + 1] if "from" in parts \
                else None
            w.tokens["from"] = frm
            # Central takes the case from a, the owner as the workload
            # knows it, whatever central's copy names as `from`: after
            # central's restore (or a promotion) central may not yet hold
            # the transfer that gave the case to a, and then names an
            # earlier owner, while a's write below is stamped after this
            # transfer all the same and refused as not the owner's
            # (chaos seed 101: central restored, its transfer to vinh-long
            # not yet given back, "from ca-mau"; docs/RELIABILITY.md).
            with self.lg.lock:
                self.lg.central_took.add((c.id, a.name))
                if frm:
                    self.lg.central_took.add((c.id, frm))
            c.owner = to
            c.offer = None
            if rng.random() < 0.3:
                self.op_erase(rng, case=c, node=a)
            else:
                tok = self.lg.tok("F")
                self.op_update(rng, case=c, node=a, body={
                    "intake": {"facility": tok},
                    "_tokens": {"facility": tok}}, kind="update")
            # The old owner syncs: central refuses (or, for an erase,
            # accepts) its late write, and tells it; then the case
            # comes back to it.
            try:
                a.node.sync(8)
            except Exception:
                pass
            time.sleep(rng.uniform(0.2, 2.0))
            reason = self.lg.ident("FAKE secret reason %s" %
                                   self.lg.tok("R"))
            w = self.run_on(self.cl.central, "transfer", c.id,
                            {"reason": reason, "to": a.name, "from": to},
                            ("case", "transfer", c.id, "--to", a.name,
                             "--reason", reason))
            if w is not None and w.acked:
                with self.lg.lock:
                    self.lg.central_took.add((c.id, to))
                c.owner = a.name
        finally:
            c.lock.release()

    def op_overtaken_sync(self, rng):
        """Two sessions of one province (`serve` and a manual `sync`, say):
        the first on a slow connection, overtaken by the second after a
        new local write.  The first must still complete."""
        m = rng.choice(self.cl.provinces)
        px = m.proxy
        conns = px.conns
        px.next_delay = rng.uniform(0.2, 0.4)
        a = m.node.popen("sync", "--timeout", "30", stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 5
        while px.conns == conns and a.poll() is None and \
                time.monotonic() < end:
            time.sleep(0.01)
        self.op_add(rng, member=m, hot=False)
        try:
            m.node.sync(8)
        except subprocess.TimeoutExpired:
            pass
        px.next_delay = None
        try:
            out, err = a.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            a.kill()
            out, err = a.communicate()
        harness.note_replaced(err)
        if a.returncode not in (0, 3, -9) and not (
                a.returncode == 2 and "disk full" in err):
            self.errors.append("overtaken sync on %s: rc %s %s" % (
                m.name, a.returncode, err.strip()))

    def op_resolve(self, rng):
        node = rng.choice(self.cl.all())
        r = cli(node, "conflicts", "--json")
        if r.rc != 0:
            return
        try:
            confs = json.loads(r.out or "[]")
        except ValueError:
            self.errors.append("conflicts --json on %s is not JSON: %r"
                               % (node.name, r.out[:200]))
            return
        if not confs:
            return
        cf = rng.choice(confs)
        c = self.lg.cases.get(cf["case"])
        if c is None or not c.lock.acquire(blocking=False):
            return
        try:
            tokens = {"conflict": cf["id"], "field": cf["field"]}
            choice = rng.random()
            if choice < 0.35:
                args = ("--keep", "winner")
            elif choice < 0.7:
                args = ("--keep", "loser")
            elif cf["field"] == "intake.facility":
                tokens["facility"] = self.lg.tok("F")
                args = ("--value", json.dumps(tokens["facility"]))
            elif cf["field"] == "status":
                args = ("--value", json.dumps(rng.choice(STATUSES)))
            else:
                args = ("--keep", "winner")
            tokens["how"] = " ".join(args)
            w = self.run_on(node, "resolve", c.id, tokens,
                            ("conflicts", "resolve", cf["id"]) + args)
            if w is not None and w.acked:
                # "resolved CID: case ID, FIELD = VALUE": the value kept
                # (a --keep resolution writes it again, under this node).
                m = re.search(r"^resolved \S+: case \S+, (\S+) = (.*)$",
                              w.out, re.M)
                if m:
                    try:
                        w.tokens["kept"] = json.loads(m.group(2))
                    except ValueError:
                        pass
        finally:
            c.lock.release()

    def import_lines(self, rng, m, n, probe=False, hot=False):
        """n new cases as JSON Lines; their CaseRecs (created unknown)."""
        recs, lines = [], []
        for _ in range(n):
            cid = case_id(rng)
            rec = CaseRec(cid, m.name, probe=probe, hot=hot)
            self.lg.add_case(rec)
            recs.append(rec)
            lines.append(json.dumps(self.new_case_body(
                rng, cid, self.lg.tok("F"))))
        return recs, "\n".join(lines) + "\n"

    def op_import(self, rng):
        ps = self.provinces(rng)
        if not ps:
            return
        m = rng.choice(ps)
        recs, data = self.import_lines(rng, m, rng.randint(3, 30), hot=True)
        w = self.run_on(m, "import", None, {"cases": [r.id for r in recs]},
                        ("import", "-"), stdin=data)
        for r in recs:
            if w is None:
                r.created = False
            else:
                r.probe = w.tainted
                r.created = True if w.acked else (
                    None if w.rc < 0 else False)

    def op_read(self, rng):
        """Reads while everything else happens: must never fail."""
        m = rng.choice(self.cl.all())
        r = cli(m, "case", "list", "--json")
        if r.rc == 0:
            try:
                json.loads(r.out)
            except ValueError:
                self.errors.append("case list --json on %s is not JSON"
                                   % m.name)

    # -- driver --------------------------------------------------------------
    def worker(self, k):
        rng = random.Random("%s/worker/%d" % (self.seed, k))
        names = [n for n, _ in self.WEIGHTS]
        weights = [w for _, w in self.WEIGHTS]
        # Seed the store with a few cases before the mix begins.
        for _ in range(3):
            self.op_add(rng)
        while not self._stop.is_set():
            op = rng.choices(names, weights)[0]
            self.ops[op] = self.ops.get(op, 0) + 1
            try:
                if op == "probe":
                    self.op_add(rng, probe=True)
                else:
                    getattr(self, "op_" + op)(rng)
            except Exception as e:     # a bug in the campaign itself
                self.errors.append("worker %d, %s: %s: %s" % (
                    k, op, type(e).__name__, e))
            time.sleep(rng.uniform(*self.pace))

    def start(self):
        for k in range(self.nworkers):
            t = threading.Thread(target=self.worker, args=(k,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(120)
