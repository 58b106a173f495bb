"""After the faults: converge, then check every node against the ledger.

converge() syncs every province with central, in parallel passes, until a
whole pass moves nothing.  Checker.run() then checks:

- every acknowledged write is on central and on the case's current owner,
  exactly once (field values in `case history`, services, notes and
  referrals by their unique ids); a write missing there is "lost" unless
  - central was entitled to refuse it (legit_refusal: its origin's clock
    ran ahead, it was written on a restored province before that
    province's first sync after the restore, or central had transferred
    the case away from that province) AND the refusal is on record
    (refusal_proof, check_claims): the origin's or central's refused table
    (`status --json --refused`) holds an entry of its origin on its case,
    at least as many as writes of that origin on that case so counted.
    Then it is "refused-ok" and must be on no node at all, its origin
    included ("refused, never applied").  Entitled but on record nowhere
    is lost ("refused yet not refused");
  - or it was written on a node between its backup and its restore and
    is on no node ("restore-lost", Ledger.restore_lost_ok: the ledger's
    times of the backup and the restore);
- a command that exited 2 (rejected) wrote nothing anywhere;
- every case the owner holds reads byte for byte as on central (`export`
  lines), its conflict queue (`conflicts --json`) is the same on both, a
  read-only copy has no identifying field, and no province holds a case it
  never owned (data minimisation);
- central's log has exactly sum(vector) - refused entries (nothing lost,
  nothing twice), each province's own seq equals central's vector for it;
- `casesync verify` passes on every node;
- no identifying value ever written appears in clear in any file of any
  node directory (nor in the serve logs).
"""
import json
import os
import re
import threading
import time

SUMMARY = re.compile(r"sent (\d+), received (\d+), refused (\d+)")
IDENT_FIELDS = ("full_name", "id_number", "phone", "address")


def sync_once(m, timeout=30):
    try:
        r = m.node.sync(timeout)
    except Exception as e:       # subprocess timeout
        return m, None, str(e)
    return m, r, None


def converge(cl, limit_s=150, log=print):
    """Parallel sync passes until one moves nothing.  Returns (seconds
    until the last pass that moved data ended, passes, problems): when
    the passes never settle, problems says what the last pass saw (the
    provinces whose sync failed, and those still moving data)."""
    t0 = time.monotonic()
    last_move = t0
    passes = 0
    problems = []
    while time.monotonic() - t0 < limit_s:
        passes += 1
        res = {}
        ts = []
        for m in cl.provinces:
            t = threading.Thread(target=lambda m=m: res.__setitem__(
                m.name, sync_once(m)))
            t.start()
            ts.append(t)
        for t in ts:
            t.join()
        moved, ok = False, True
        problems = []
        for name, (m, r, err) in sorted(res.items()):
            if r is None or r.rc != 0:
                ok = False
                problems.append("%s: %s" % (name, err or repr(r)))
                continue
            s = SUMMARY.search(r.out)
            if not s:
                ok = False
                problems.append("%s: no summary in %r" % (name, r.out))
                continue
            if int(s.group(1)) or int(s.group(2)) or int(s.group(3)):
                moved = True
                # Kept for the report when the passes never settle.
                problems.append("%s still moving: %s" % (name, s.group(0)))
        if moved:
            last_move = time.monotonic()
        if ok and not moved:
            return last_move - t0, passes, []
    return None, passes, problems


class Checker:
    def __init__(self, cl, lg, log=print):
        self.cl = cl
        self.lg = lg
        # The Byzantine province (tests/chaos/byzantine.py): its name and
        # the cases it created, which honest provinces may hold.
        byz = getattr(cl, "byzantine", None)
        self.byz_names = {byz.name} if byz else set()
        self.byz_cases = set(byz.cases) if byz else set()
        self.log = log
        self.problems = []
        self.kinds = {}
        self.hist = {}
        self.metrics = {"acked": 0, "lost": 0, "dup": 0, "diverged": 0,
                        "refused_ok": 0, "refused_applied": 0, "leaks": 0,
                        "rejected_applied": 0, "verify_failed": 0,
                        "unacked_present": 0, "unacked_absent": 0,
                        "restore_lost": 0, "refused_unproven": 0}
        self.diverged = set()
        # (origin, case) -> [(write, why)]: writes counted as refused.
        self.claims = {}
        # (node, case, value): resolutions that wrote value again.
        self.rewrites = {}
        for w in lg.writes:
            if w.kind == "resolve" and w.acked and \
                    w.tokens.get("field") == "intake.facility" and \
                    "facility" not in w.tokens and "kept" in w.tokens:
                k = (w.node, w.case, w.tokens["kept"])
                self.rewrites[k] = self.rewrites.get(k, 0) + 1

    def bad(self, kind, msg):
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if len(self.problems) < 200:
            self.problems.append("%s: %s" % (kind, msg))

    # -- gathering ------------------------------------------------------------
    def gather(self):
        self.exp, self.conf, self.stat, self.refused = {}, {}, {}, {}
        for m in self.cl.all():
            r = m.node.cli("export")
            if r.rc != 0:
                self.bad("other", "export on %s: %r" % (m.name, r))
            e = {}
            for line in r.out.splitlines():
                o = json.loads(line)
                e[o["id"]] = (line, o)
            self.exp[m.name] = e
            r = m.node.cli("conflicts", "--json")
            if r.rc != 0:
                self.bad("other", "conflicts on %s: %r" % (m.name, r))
            self.conf[m.name] = json.loads(r.out or "[]") if r.rc == 0 \
                else []
            r = m.node.cli("status", "--json", "--refused")
            if r.rc != 0:
                self.bad("other", "status on %s: %r" % (m.name, r))
            self.stat[m.name] = json.loads(r.out) if r.rc == 0 else {}
            # (origin, case) -> how many entries of origin on that case
            # are in this node's refused table.
            ref = {}
            for e in self.stat[m.name].get("refused_entries", []):
                k = (e["origin"], e["case"])
                ref[k] = ref.get(k, 0) + 1
            self.refused[m.name] = ref

    def history(self, node, cid):
        key = (node, cid)
        if key not in self.hist:
            r = self.cl.members[node].node.cli("case", "history", cid,
                                               "--json")
            self.hist[key] = json.loads(r.out) if r.rc == 0 else None
        return self.hist[key]

    def owner_of(self, cid):
        """(owner province or None, its case object or None)"""
        c = self.exp["central"].get(cid)
        if c is None:
            return None, None
        o = c[1]["owner"]
        if o is None or o == "central" or o not in self.exp:
            return None, None
        p = self.exp[o].get(cid)
        return o, (p[1] if p else None)

    # -- checks ---------------------------------------------------------------
    def check_verify(self):
        for m in self.cl.all():
            r = m.node.verify()
            if r.rc != 0:
                self.metrics["verify_failed"] += 1
                self.bad("verify", "%s: %s" % (m.name, (r.err or r.out)
                                              .strip()))

    def check_replicas(self):
        cen = self.exp["central"]
        for cid, (line, obj) in sorted(cen.items()):
            o = obj["owner"]
            if o in (None, "central") or o in self.byz_names:
                continue
            if o not in self.exp:
                self.bad("diverged", "case %s owned by unknown node %s"
                         % (cid, o))
                continue
            mine = self.exp[o].get(cid)
            if mine is None:
                self.diverged.add(cid)
                self.bad("diverged", "case %s: owner %s does not hold it"
                         % (cid, o))
            elif mine[0] != line:
                self.diverged.add(cid)
                self.bad("diverged", "case %s differs:\n  central %s\n  %s "
                         "%s" % (cid, line, o, mine[0]))
        for m in self.cl.provinces:
            for cid, (line, obj) in sorted(self.exp[m.name].items()):
                rec = self.lg.cases.get(cid)
                c = cen.get(cid)
                if rec is None and cid in self.byz_cases:
                    # A junk case referred here: central's copy and this
                    # one were compared above; a province may hold one
                    # only as its owner.
                    if c is None or c[1]["owner"] != m.name or \
                            obj["owner"] != m.name:
                        self.bad("diverged", "%s holds junk case %s of "
                                 "%s (central: %s)" % (
                                     m.name, cid, ",".join(self.byz_names),
                                     c and c[1]["owner"]))
                    continue
                if rec is None:
                    self.bad("other", "%s holds case %s the workload never "
                             "wrote" % (m.name, cid))
                    continue
                if c is None:
                    if rec.probe:
                        # Central refused it (clock ahead); the refusal
                        # reached the origin, which must have taken it out.
                        self.metrics["refused_applied"] += 1
                        self.bad("refused_applied", "case %s, refused by "
                                 "central (%s's clock ahead), is still on %s"
                                 % (cid, rec.origin, m.name))
                        continue
                    self.diverged.add(cid)
                    self.bad("lost", "case %s is on %s but not on central"
                             % (cid, m.name))
                    continue
                if rec.probe:
                    self.bad("refused_applied", "case %s was written with "
                             "%s's clock hours ahead, yet central holds it"
                             % (cid, rec.origin))
                    self.metrics["refused_applied"] += 1
                cobj = c[1]
                if obj["owner"] == m.name:
                    if cobj["owner"] != m.name:
                        self.diverged.add(cid)
                        self.bad("diverged", "case %s: %s believes it owns "
                                 "it, central says %s" % (
                                     cid, m.name, cobj["owner"]))
                    continue
                refs = cobj["referrals"]
                if refs and refs[-1]["status"] == "proposed" and \
                        refs[-1]["to"] == m.name:
                    # An offer waits for this province: it holds the
                    # whole case to decide (docs/CONFLICTS.md).
                    continue
                # A read-only copy of a case referred away, or of an
                # offer this province declined.
                if not m.keep_transferred:
                    self.bad("other", "%s keeps a copy of case %s although "
                             "keep_transferred = no" % (m.name, cid))
                # Any receiver too (an offer declined or ended, or the
                # case came and went on): central names as `from` the
                # owner its copy knows, and after its restore or a
                # promotion that can be an earlier one than the province
                # the case actually left, which is told by that referral
                # all the same (docs/RELIABILITY.md, bugs 9 and 10).
                froms = [r["from"] for r in cobj["referrals"]] + \
                    [r["to"] for r in cobj["referrals"]]
                if m.name not in froms:
                    self.bad("minimisation", "%s holds case %s it never "
                             "referred away (owner %s)" % (
                                 m.name, cid, cobj["owner"]))
                leaked = [f for f in IDENT_FIELDS if f in obj["person"]]
                if leaked or obj["notes"]:
                    self.bad("leak", "read-only copy of %s on %s shows %s"
                             % (cid, m.name, leaked or "notes"))
        # Provinces never hold other provinces' cases.
        for m in self.cl.provinces:
            for cid in self.exp[m.name]:
                c = cen.get(cid)
                if c is None or cid in self.byz_cases:
                    continue
                rec = self.lg.cases.get(cid)
                allowed = {rec.origin if rec else None}
                for r in c[1]["referrals"]:
                    allowed.add(r["from"])
                    allowed.add(r["to"])
                if m.name not in allowed:
                    self.bad("minimisation", "%s holds case %s of %s" % (
                        m.name, cid, c[1]["owner"]))

    def check_conflicts(self):
        def by_case(lst):
            d = {}
            for x in lst:
                d.setdefault(x["case"], []).append(
                    json.dumps(x, sort_keys=True))
            return {k: sorted(v) for k, v in d.items()}
        cen = by_case(self.conf["central"])
        prov = {m.name: by_case(self.conf[m.name]) for m in self.cl.provinces}
        for cid, obj in ((k, v[1]) for k, v in self.exp["central"].items()):
            o = obj["owner"]
            if o not in prov:
                continue
            a, b = cen.get(cid, []), prov[o].get(cid, [])
            if a != b:
                self.diverged.add(cid)
                self.bad("diverged", "conflict queues of case %s differ:\n"
                         "  central %s\n  %s %s" % (cid, a, o, b))
        for name, d in prov.items():
            for cid in d:
                c = self.exp["central"].get(cid)
                if c is None or c[1]["owner"] != name:
                    self.bad("diverged", "%s lists conflicts of case %s it "
                             "does not own" % (name, cid))

    def check_accounting(self):
        cs = self.stat["central"]
        vec = cs["vector"]
        log = cs.get("log", {})
        refused = {p["peer"]: p["refused"] for p in cs["peers"]}
        restored = set(r[0] for r in self.lg.restores)
        for origin, v in sorted(vec.items()):
            have = log.get(origin, 0)
            if origin in restored and origin in self.stat:
                # A restored origin's seqs carry an incarnation: they are
                # not a count.  Central and the origin must hold the same
                # entries of it (docs/PROTOCOL.md, Recovery).
                want = self.stat[origin].get("log", {}).get(origin, 0)
                what = "%s holds %d" % (origin, want)
            elif origin in restored:
                continue        # central's own: the ledger checks them
            else:
                want = v - refused.get(origin, 0)
                what = "vector %d minus refused %d says %d" % (
                    v, refused.get(origin, 0), want)
            if have != want:
                self.metrics["dup" if have > want else "lost"] += \
                    abs(have - want)
                self.bad("accounting", "central holds %d log entries of "
                         "%s; %s" % (have, origin, what))
        for m in self.cl.provinces:
            st = self.stat[m.name]
            if m.name not in restored and vec.get(m.name, 0) != st["seq"]:
                self.bad("accounting", "%s wrote %d entries, central holds "
                         "%d of them" % (m.name, st["seq"],
                                         vec.get(m.name, 0)))
            for p in cs["peers"]:
                if p["peer"] == m.name and p["pending_out"]:
                    self.bad("accounting", "central still has %d entries "
                             "pending for %s" % (p["pending_out"], m.name))
            for p in st["peers"]:
                if p["peer"] == "central" and p["pending_out"]:
                    self.bad("accounting", "%s still has %d entries pending"
                             % (m.name, p["pending_out"]))
        for m in self.cl.provinces:
            if m.tainted and refused.get(m.name, 0) == 0 and any(
                    w.acked and w.tainted and w.node == m.name
                    for w in self.lg.writes):
                self.bad("refused_applied", "%s wrote with its clock hours "
                         "ahead, yet central refused nothing" % m.name)

    # -- the ledger -----------------------------------------------------------
    def count_token(self, node, cid, w, key, tok):
        """How many times token tok of write w is on node's copy of cid."""
        if node == "central":
            c = self.exp["central"].get(cid)
            obj = c[1] if c else None
        else:
            c = self.exp[node].get(cid)
            obj = c[1] if c else None
        if obj is None:
            return 0
        if key == "facility":
            # The entries w's node wrote with that value: w itself, and any
            # resolution by the same node that kept it (written again).
            h = self.history(node, cid) or []
            n = sum(1 for e in h if e["node"] == w.node for op in e["ops"]
                    if op.get("op") == "set" and
                    op.get("path") == "intake.facility" and
                    op.get("value") == tok)
            return max(1, n - self.rewrites.get((w.node, cid, tok), 0)) \
                if n else 0
        if key == "service":
            return sum(1 for s in obj["services"] if s.get("id") == tok)
        if key == "note":
            if obj.get("erased"):
                return None         # erased: notes are gone everywhere
            return sum(1 for s in obj["notes"] if s.get("id") == tok)
        if key == "reason":
            if obj.get("erased"):
                return None         # identifying: gone with the erase
            return sum(1 for r in obj["referrals"] if r.get("reason") == tok)
        return None

    def legit_refusal(self, w):
        """Why central was entitled to refuse w, or None."""
        if w.tainted:
            return "clock"
        if self.lg.restore_stale(w):
            return "restore"
        if w.node != "central" and (w.case, w.node) in self.lg.central_took:
            return "owner"
        return None

    def refusal_proof(self, w):
        """Where a refusal of w is recorded: the node whose refused table
        holds an entry of w's origin on w's case (the origin's own first,
        then central's), or None."""
        k = (w.node, w.case)
        for n in [w.node, "central"]:
            if self.refused.get(n, {}).get(k):
                return n
        return None

    def refused_why(self, w):
        """(why, proof): why central was entitled to refuse w, and where
        its refusal is recorded (None when no refusal is)."""
        why = self.legit_refusal(w)
        return why, (self.refusal_proof(w) if why else None)

    def unproven(self, w, why, what):
        """An acknowledged write central was entitled to refuse, missing
        where it should be, yet refused nowhere: lost."""
        self.metrics["lost"] += 1
        self.metrics["refused_unproven"] += 1
        self.bad("lost", "refused yet not refused: %s of acknowledged %r: "
                 "central was entitled to refuse it (%s), but neither %s's "
                 "nor central's refused table holds an entry of %s on case "
                 "%s" % (what, w, why, w.node, w.node, w.case))

    def check_write(self, w):
        cid = w.case
        owner, oobj = self.owner_of(cid)
        places = ["central"] + ([owner] if owner and oobj and
                                oobj["owner"] == owner else [])
        # A write central was entitled to refuse passes as refused only
        # with a refusal on record (refusal_proof); without one, missing
        # is lost ("refused yet not refused").
        entitled, proof = self.refused_why(w)
        why = entitled if proof else None
        results = []
        for key in ("facility", "service", "note", "reason"):
            tok = w.tokens.get(key)
            if tok is None:
                continue
            counts = {p: self.count_token(p, cid, w, key, tok)
                      for p in places}
            if any(v is None for v in counts.values()):
                continue
            results.append((key, tok, counts))
        lost_ok = self.lg.restore_lost_ok(w)
        if w.kind == "erase":
            for p in places:
                c = self.exp[p].get(cid)
                if c and not c[1]["erased"]:
                    if why or lost_ok:
                        results.append(("erase", None, {p: 0}))
                    elif entitled:
                        self.unproven(w, entitled, "case not erased on %s"
                                      % p)
                    else:
                        self.metrics["lost"] += 1
                        self.bad("lost", "acknowledged erase %r: case not "
                                 "erased on %s" % (w, p))
        if w.kind == "resolve" and "facility" not in w.tokens:
            for p in places:
                open_ = [x for x in self.conf[p] if x["id"] ==
                         w.tokens["conflict"]]
                if open_ and why:
                    results.append(("resolve", None, {p: 0}))
                elif open_ and not lost_ok and entitled:
                    self.unproven(w, entitled, "conflict still open on %s"
                                  % p)
                elif open_ and not lost_ok:
                    self.metrics["lost"] += 1
                    self.bad("lost", "acknowledged resolution %r: conflict "
                             "still open on %s" % (w, p))
        for key, tok, counts in results:
            vals = list(counts.values())
            if all(v == 1 for v in vals):
                continue
            if any(v > 1 for v in vals):
                self.metrics["dup"] += 1
                self.bad("dup", "%s %s of %r: %r" % (key, tok, w, counts))
            elif why and counts.get("central", 0) == 0:
                # Refused by central, as it may be, and on record: then
                # on no node.
                self.refused_ok(w, why, proof)
                if tok is not None:
                    self.check_nowhere(w, key, tok)
                return
            elif lost_ok and all(v == 0 for v in vals):
                # Written after its node's backup, lost with the disk
                # before it reached another node: what a restore loses.
                self.metrics["restore_lost"] += 1
                return
            elif entitled and counts.get("central", 0) == 0:
                self.unproven(w, entitled, "%s %s missing: %r" % (
                    key, tok, counts))
                return
            else:
                self.metrics["lost"] += 1
                self.bad("lost", "%s %s of acknowledged %r: %r" % (
                    key, tok, w, counts))

    def refused_ok(self, w, why, proof):
        """w counts as refused; the refusals on record must cover every
        such write of its origin on its case (check_claims)."""
        self.metrics["refused_ok"] += 1
        self.claims.setdefault((w.node, w.case), []).append((w, why))

    def check_claims(self):
        """Each write counted as refused is a refused entry of its own:
        no more such writes of an origin on a case than the refused
        entries of that origin on that case, on the origin or on
        central (whichever holds more)."""
        for (node, cid), ws in sorted(self.claims.items()):
            have = max(self.refused.get(n, {}).get((node, cid), 0)
                       for n in (node, "central"))
            if len(ws) > have:
                n = len(ws) - have
                self.metrics["refused_ok"] -= n
                self.metrics["refused_unproven"] += n
                self.metrics["lost"] += n
                self.bad("lost", "refused yet not refused: %d acknowledged "
                         "writes of %s on case %s counted as refused (%s), "
                         "but %s's and central's refused tables hold at "
                         "most %d entries of it there: %r" % (
                             len(ws), node, cid, ", ".join(sorted(set(
                                 y for _, y in ws))), node, have,
                             [w for w, _ in ws]))

    def check_nowhere(self, w, key, tok):
        """A refused write: on no node, not even its origin (which learns
        of the refusal from central and takes the write out)."""
        for m in self.cl.all():
            if w.case not in self.exp[m.name]:
                continue
            n = self.count_token(m.name, w.case, w, key, tok)
            if n:
                self.metrics["refused_applied"] += 1
                self.bad("refused_applied", "refused %r is on %s" % (w,
                                                                     m.name))

    def check_ledger(self):
        cen = self.exp["central"]
        for w in self.lg.writes:
            if w.kind == "import":
                ids = w.tokens["cases"]
                if w.acked:
                    self.metrics["acked"] += len(ids)
                for cid in ids:
                    rec = self.lg.cases[cid]
                    there = cid in cen
                    if w.acked and not rec.probe and not there and \
                            self.lg.restore_lost_ok(w):
                        self.metrics["restore_lost"] += 1
                    elif w.acked and not rec.probe and not there:
                        self.metrics["lost"] += 1
                        self.bad("lost", "case %s of an acknowledged import "
                                 "on %s is not on central" % (cid, w.node))
                    elif not w.acked and w.rc < 0 and not rec.probe:
                        self.metrics["unacked_present" if there else
                                     "unacked_absent"] += 1
                    elif not w.acked and w.rc > 0 and there:
                        self.metrics["rejected_applied"] += 1
                        self.bad("rejected_applied", "import on %s exited %d"
                                 " but case %s exists" % (w.node, w.rc, cid))
                continue
            if not w.acked:
                if w.rc > 0:
                    self.check_rejected(w)
                continue
            self.metrics["acked"] += 1
            if w.kind == "add":
                rec = self.lg.cases[w.case]
                if rec.probe or w.tainted:
                    if w.case in cen:
                        self.metrics["refused_applied"] += 1
                        self.bad("refused_applied", "%r is on central" % w)
                    elif self.refusal_proof(w):
                        self.refused_ok(w, "clock", self.refusal_proof(w))
                    else:
                        self.unproven(w, "clock", "case not on central")
                    continue
                if w.case not in cen and self.lg.restore_lost_ok(w):
                    self.metrics["restore_lost"] += 1
                    continue
                if w.case not in cen:
                    self.metrics["lost"] += 1
                    self.bad("lost", "acknowledged %r: case not on central"
                             % w)
                    continue
            self.check_write(w)

    def check_rejected(self, w):
        """A command that exited non-zero wrote nothing."""
        if w.case is None:
            return
        for key in ("facility", "service", "note", "reason"):
            tok = w.tokens.get(key)
            if tok is None:
                continue
            for m in self.cl.all():
                if w.case not in self.exp[m.name]:
                    continue
                n = self.count_token(m.name, w.case, w, key, tok)
                if n:
                    self.metrics["rejected_applied"] += 1
                    self.bad("rejected_applied", "%r exited %d (%s) but %s "
                             "is on %s" % (w, w.rc, w.err.strip(), tok,
                                           m.name))
                    return

    def check_leaks(self, tmp):
        """Identifying values in clear: search the distinctive prefixes
        every such value starts with, then name the value found."""
        seed = self.lg.seed
        prefixes = [b"FAKE Chaos", b"FAKE secret", ("CHX%d" % seed).encode(),
                    ("+84 9%d" % seed).encode()]
        files = []
        for m in self.cl.all():
            for root, _, names in os.walk(m.node.dir):
                files += [os.path.join(root, n) for n in names]
        files += [os.path.join(tmp, f) for f in os.listdir(tmp)
                  if f.endswith(".log")]
        for path in files:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for pre in prefixes:
                i = data.find(pre)
                if i >= 0:
                    self.metrics["leaks"] += 1
                    self.bad("leak", "%s holds %r in clear" % (
                        path, data[i:i + 40]))

    def run(self, tmp):
        self.gather()
        self.check_verify()
        self.check_replicas()
        self.check_conflicts()
        self.check_accounting()
        self.check_ledger()
        self.check_claims()
        self.check_leaks(tmp)
        self.metrics["diverged"] = len(self.diverged)
        return self.metrics, self.problems, self.kinds
