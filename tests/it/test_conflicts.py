"""Conflicts, referrals, erase and clock safety across real nodes.

Same-field edits on a province and on central between syncs converge on
one value everywhere and leave one conflict, with the same id on both
nodes, until it is resolved (keep winner, keep loser, or a new value).
Concurrent edits of different fields and concurrent service additions
never conflict.  A referral moves a case and its history to another
province through central; the old owner's late edit is refused there.  An
erase removes identifying data on every node that holds the case, for
good.  Entries stamped too far in the future are refused.
"""
import json
import os

from harness import check, ok, refer, sample_case


def conflicts(node):
    r = ok(node.cli("conflicts", "--json"), "conflicts --json on " +
           node.name)
    return json.loads(r.out)


def field(case, path):
    """The value of a dotted path in `case get` output, or None."""
    v = case
    for part in path.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return v


def edit_both(env, province_value, central_value, path="status"):
    """A case of lao-cai, synced; then path edited on lao-cai and on
    central before the next sync.  Returns (central, province, case id)."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(1, status="reported"))
    ok(p.sync(), "first sync")
    group, _, name = path.rpartition(".")

    def doc(v):
        return {group: {name: v}} if group else {name: v}

    p.update(cid, doc(province_value))
    c.update(cid, doc(central_value))
    ok(p.sync(), "sync after the concurrent edits")
    return c, p, cid


def same_everywhere(c, p, cid):
    a, b = c.get(cid), p.get(cid)
    check(a == b, "replicas differ:\n%r\n%r" % (a, b))
    return a


def one_conflict(c, p, cid, path, values):
    """Both nodes list the same single conflict on path, with values (a
    set of the two JSON values).  Returns it."""
    lc, lp = conflicts(c), conflicts(p)
    check(len(lc) == 1, "central lists %r" % lc)
    check(lc == lp, "the nodes list different conflicts:\n%r\n%r" %
          (lc, lp))
    cf = lc[0]
    check(cf["case"] == cid and cf["field"] == path, cf)
    check({json.dumps(cf["winner"]["value"]),
           json.dumps(cf["loser"]["value"])} == values, cf)
    for side in ("winner", "loser"):
        for k in ("author", "node", "time", "hlc"):
            check(cf[side].get(k), "%s.%s missing: %r" % (side, k, cf))
    check(same_everywhere(c, p, cid)["conflicts"] == 1, "case conflicts")
    return cf


def test_same_field_keep_winner(env):
    c, p, cid = edit_both(env, "identified", "not_victim")
    cf = one_conflict(c, p, cid, "status",
                      {'"identified"', '"not_victim"'})
    winner = cf["winner"]["value"]
    check(same_everywhere(c, p, cid)["status"] == winner, "shown value")
    # The text form names the same id, both values and both nodes.
    out = ok(c.cli("conflicts")).out
    check(cf["id"] in out and '"identified"' in out and
          '"not_victim"' in out and "lao-cai" in out, out)
    shown = ok(p.cli("conflicts", "show", cf["id"], "--json")).json()
    check(shown == cf, "show: %r" % shown)
    ok(c.cli("conflicts", "resolve", cf["id"], "--keep", "winner"),
       "resolve on central")
    check(conflicts(c) == [], "still open on central")
    ok(p.sync(), "sync")
    check(conflicts(p) == [] and conflicts(c) == [], "still open")
    case = same_everywhere(c, p, cid)
    check(case["status"] == winner and case["conflicts"] == 0, case)
    ok(c.verify(), "verify central")
    ok(p.verify(), "verify province")


def test_same_field_keep_loser(env):
    c, p, cid = edit_both(env, "identified", "not_victim")
    cf = one_conflict(c, p, cid, "status",
                      {'"identified"', '"not_victim"'})
    loser = cf["loser"]["value"]
    # The owner resolves this time; central learns at the next sync.
    ok(p.cli("conflicts", "resolve", cf["id"], "--keep", "loser"),
       "resolve on the province")
    check(conflicts(p) == [], "still open on the province")
    check(len(conflicts(c)) == 1, "closed on central before any sync")
    ok(p.sync(), "sync")
    check(conflicts(c) == [], "still open on central")
    case = same_everywhere(c, p, cid)
    check(case["status"] == loser and case["conflicts"] == 0, case)
    # An unrelated later edit raises no conflict.
    p.update(cid, {"status": "receiving_support"})
    ok(p.sync(), "sync")
    check(conflicts(c) == [] and conflicts(p) == [], "new conflict")
    ok(c.verify(), "verify central")
    ok(p.verify(), "verify province")


def test_same_field_new_value(env):
    c, p, cid = edit_both(env, "identified", "not_victim")
    cf = one_conflict(c, p, cid, "status",
                      {'"identified"', '"not_victim"'})
    r = c.cli("conflicts", "resolve", cf["id"], "--value", '"bogus"')
    check(r.rc == 2 and "bogus" in r.err, "schema: %r" % r)
    r = c.cli("conflicts", "resolve", cf["id"], "--value",
              '"closed", "person": {"sex": "male"}')
    check(r.rc == 2, "two values: %r" % r)
    ok(c.cli("conflicts", "resolve", cf["id"], "--value", ' "closed" '),
       "resolve with a value")
    r = c.cli("conflicts", "resolve", cf["id"], "--keep", "winner")
    check(r.rc == 2 and "no open conflict" in r.err, "twice: %r" % r)
    ok(p.sync(), "sync")
    check(conflicts(c) == [] and conflicts(p) == [], "still open")
    case = same_everywhere(c, p, cid)
    check(case["status"] == "closed" and case["conflicts"] == 0, case)
    ok(c.verify(), "verify central")
    ok(p.verify(), "verify province")


def test_identifying_conflict_not_logged(env):
    c, p, cid = edit_both(env, "FAKE Province Spelling",
                          "FAKE Central Spelling", "person.full_name")
    cf = one_conflict(c, p, cid, "person.full_name",
                      {'"FAKE Province Spelling"',
                       '"FAKE Central Spelling"'})
    check(cf["identifying"] is True, cf)
    # Shown to the operator ...
    out = ok(c.cli("conflicts", "show", cf["id"])).out
    check("FAKE Province Spelling" in out and
          "FAKE Central Spelling" in out, out)
    r = ok(c.cli("conflicts", "resolve", cf["id"], "--keep", "loser"),
           "resolve")
    ok(p.sync(), "sync")
    check(conflicts(c) == [] and conflicts(p) == [], "still open")
    case = same_everywhere(c, p, cid)
    check(field(case, "person.full_name") == cf["loser"]["value"], case)
    # ... never logged.
    c.stop()
    log = open(os.path.join(env.tmp, "central.log")).read()
    for name in ("FAKE Province Spelling", "FAKE Central Spelling"):
        check(name not in log and name not in r.err, "logged: " + name)


def test_different_fields_no_conflict(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(2, status="reported"))
    ok(p.sync(), "sync")
    p.update(cid, {"status": "identified"})
    c.update(cid, {"person": {"sex": "other"},
                   "trafficking": {"destination_country": "KH"}})
    ok(p.sync(), "sync")
    case = same_everywhere(c, p, cid)
    check(case["status"] == "identified", case)
    check(field(case, "person.sex") == "other", case)
    check(field(case, "trafficking.destination_country") == "KH", case)
    check(case["conflicts"] == 0, case)
    check(conflicts(c) == [] and conflicts(p) == [], "conflict listed")


def test_same_value_is_no_conflict(env):
    """Both nodes set the same value: no conflict, and none appears when
    the field is changed again later (both heads are superseded)."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(3, status="reported"))
    ok(p.sync(), "sync")
    p.update(cid, {"status": "identified"})
    c.update(cid, {"status": "identified"})
    ok(p.sync(), "sync")
    check(conflicts(c) == [] and conflicts(p) == [], "same value conflict")
    p.update(cid, {"status": "receiving_support"})
    ok(p.sync(), "sync")
    check(conflicts(c) == [] and conflicts(p) == [], "spurious conflict")
    case = same_everywhere(c, p, cid)
    check(case["status"] == "receiving_support", case)


def test_services_added_concurrently(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(4))
    ok(p.sync(), "sync")
    p.update(cid, {"services": [{"type": "medical", "on": "2026-03-01"}]})
    c.update(cid, {"services": [{"type": "legal_aid", "on": "2026-03-02",
                                 "provider": "FAKE legal aid centre"}]})
    p.update(cid, {"services": [{"type": "psychological",
                                 "on": "2026-03-03", "days": 10}]})
    ok(p.sync(), "sync")
    case = same_everywhere(c, p, cid)
    types = sorted(s["type"] for s in case["services"])
    check(types == ["legal_aid", "medical", "psychological"], case)
    check(case["conflicts"] == 0, case)


def test_referral_through_central(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    cid = a.add(sample_case(5, status="identified"))
    a.update(cid, {"services": [{"type": "medical", "on": "2026-02-01"}]})
    ok(a.sync(), "sync lao-cai")
    ok(b.sync(), "sync ha-noi")
    check(b.get(cid) is None, "ha-noi holds another province's case")

    r = b.cli("case", "transfer", cid, "--to", "ha-noi")
    check(r.rc == 2, "a non-holder transferred: %r" % r)
    ok(a.cli("case", "transfer", cid, "--to", "ha-noi", "--reason",
             "returns to her home province"), "transfer")
    # An offer: lao-cai keeps the case until ha-noi accepts.
    check(a.get(cid)["owner"] == "lao-cai", a.get(cid))
    ok(a.sync(), "sync lao-cai")
    check(c.get(cid)["owner"] == "lao-cai", "central owner")
    ok(b.sync(), "sync ha-noi")
    ok(b.cli("case", "accept", cid), "accept")
    ok(b.sync(), "sync ha-noi")
    ok(a.sync(), "sync lao-cai")
    # The old owner keeps a read-only copy without identifying fields.
    old = a.get(cid)
    check(old["owner"] == "ha-noi", old)
    check(field(old, "person.full_name") is None, old)
    check(field(old, "person.sex") is not None, old)
    r = a.cli("case", "update", cid, "-",
              stdin=json.dumps({"status": "closed"}))
    check(r.rc == 2 and "referred to ha-noi" in r.err, r)
    listed = ok(a.cli("case", "list", "--json")).json()
    check([x["read_only"] for x in listed if x["id"] == cid] == [True],
          listed)
    check(c.get(cid)["owner"] == "ha-noi", "central owner")
    new = b.get(cid)
    check(new is not None, "ha-noi did not receive the case")
    check(new["owner"] == "ha-noi", new)
    check(field(new, "person.full_name") == "FAKE Person 5", new)
    check([s["type"] for s in new["services"]] == ["medical"], new)
    refs = new["referrals"]
    check(len(refs) == 1 and refs[0]["from"] == "lao-cai" and
          refs[0]["to"] == "ha-noi" and
          refs[0]["status"] == "accepted" and
          refs[0]["reason"] == "returns to her home province", refs)
    hist = ok(b.cli("case", "history", cid, "--json")).json()
    check(len(hist) == 4, "history: %r" % hist)
    check(hist[-2]["node"] == "lao-cai" and
          [o["op"] for o in hist[-2]["ops"]] == ["add", "add"], hist)
    check(hist[-1]["node"] == "ha-noi" and
          [o["op"] for o in hist[-1]["ops"]] == ["add", "transfer"], hist)
    # The reason is free text that may name the person: an identifying
    # event of its own, so it is sealed at rest and missing from the old
    # owner's read-only copy (and an erase takes it, below).
    check("reason" not in old["referrals"][0], old)
    for n in (a, b, c):
        check(not n.files_contain(b"returns to her home province"),
              "the reason is in clear in a file of " + n.name)
    check(hist[0]["node"] == "lao-cai", hist)

    # The new owner edits; central takes it; the old owner cannot.
    b.update(cid, {"status": "receiving_support"})
    ok(b.sync(), "sync ha-noi")
    check(c.get(cid)["status"] == "receiving_support", "central")
    check(c.get(cid) == b.get(cid), "central and ha-noi differ")
    ok(a.sync(), "sync lao-cai")
    # The old owner's copy is what it was at the referral: central sends
    # a province only the cases it owns (data minimisation).
    check(a.get(cid)["status"] == "identified", "old owner's copy changed")
    # An erase takes the reason too, on the owner and on central.
    ok(b.cli("case", "erase", cid), "erase on ha-noi")
    ok(b.sync(), "sync ha-noi")
    for n in (b, c):
        got = n.get(cid)
        check(got["erased"] and len(got["referrals"]) == 1 and
              "reason" not in got["referrals"][0], got)
    for n in (a, b, c):
        ok(n.verify(), "verify " + n.name)


def test_old_owner_edit_refused_at_central(env):
    """Central refers a case while its owner is offline; the owner's edit
    made before it learns of that is refused at central, the rest of its
    batch applies, and both sides count the refusal."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    cid = a.add(sample_case(6, status="identified"))
    ok(a.sync(), "sync lao-cai")
    ok(c.cli("case", "transfer", cid, "--to", "ha-noi"), "transfer")
    a.update(cid, {"status": "closed",
                   "person": {"full_name": "FAKE Late Edit"}})
    other = a.add(sample_case(7))
    ok(a.sync(), "sync lao-cai")
    check(c.get(cid)["status"] == "identified", "refused edit applied")
    check(field(c.get(cid), "person.full_name") == "FAKE Person 6",
          "refused edit applied")
    check(c.get(other) is not None, "the rest of the batch was lost")
    cst = [x for x in c.status()["peers"] if x["peer"] == "lao-cai"]
    check(cst and cst[0]["refused"] >= 1, "central status: %r" % cst)
    ast = [x for x in a.status()["peers"] if x["peer"] == "central"]
    check(ast and ast[0]["refused"] >= 1, "province status: %r" % ast)
    # lao-cai has learned of the transfer: now refused locally too.
    r = a.cli("case", "update", cid, "-",
              stdin=json.dumps({"status": "closed"}))
    check(r.rc == 2 and "referred to ha-noi" in r.err, r)
    ok(b.sync(), "sync ha-noi")
    new = b.get(cid)
    check(new["status"] == "identified" and
          field(new, "person.full_name") == "FAKE Person 6", new)
    check(new == c.get(cid), "ha-noi and central differ")
    b.update(cid, {"status": "receiving_support"})
    ok(b.sync(), "sync ha-noi")
    check(c.get(cid)["status"] == "receiving_support", "new owner edit")
    for n in (b, c):
        ok(n.verify(), "verify " + n.name)


def test_keep_transferred_no(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    a.set_conf("keep_transferred", "no")
    cid = a.add(sample_case(8))
    keep = a.add(sample_case(9))
    ok(a.sync(), "sync lao-cai")
    refer(a, b, cid)
    check(a.get(cid) is None, "lao-cai kept a copy")
    check(a.ids() == [keep], "case list: %r" % a.ids())
    r = a.cli("case", "update", cid, "-",
              stdin=json.dumps({"status": "closed"}))
    check(r.rc == 2 and "no copy" in r.err, r)
    ok(a.verify(), "verify lao-cai")
    check(field(b.get(cid), "person.full_name") == "FAKE Person 8",
          "ha-noi")
    # Referred back: lao-cai rebuilds the whole case from its log and
    # what central sends.
    b.update(cid, {"status": "receiving_support"})
    refer(b, a, cid)
    back = a.get(cid)
    check(back is not None and back["owner"] == "lao-cai", back)
    check(field(back, "person.full_name") == "FAKE Person 8", back)
    check(back["status"] == "receiving_support", back)
    check(back == c.get(cid), "lao-cai and central differ")
    check(len(back["referrals"]) == 2, back)
    ok(a.verify(), "verify lao-cai")
    # ha-noi keeps a read-only copy (keep_transferred = yes).
    check(b.get(cid)["owner"] == "lao-cai" and
          field(b.get(cid), "person.full_name") is None, b.get(cid))
    ok(b.verify(), "verify ha-noi")


def test_erase(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    name, idno = "FAKE Person 10", "FAKEID000000010"
    cid = p.add(sample_case(10, notes=[{"text": "FAKE note about her"}]))
    p.update(cid, {"services": [{"type": "medical", "on": "2026-01-05"}]})
    ok(p.sync(), "sync")
    # Written on the province before it hears of the erase, and older
    # than it: arrives at central after the erase.
    late = "FAKE Renamed Person"
    p.update(cid, {"person": {"full_name": late, "phone": "FAKE 0900"}})
    before = c.get(cid)
    ok(c.cli("case", "erase", cid), "erase on central")
    r = c.cli("case", "update", cid, "-",
              stdin=json.dumps({"person": {"full_name": "FAKE Again"}}))
    check(r.rc == 2 and "erased" in r.err, r)
    ok(p.sync(), "sync")
    for n in (c, p):
        case = n.get(cid)
        check(case["erased"] is True, case)
        for path in ("person.full_name", "person.id_number",
                     "person.phone", "person.address"):
            check(field(case, path) is None, "%s on %s: %r" %
                  (path, n.name, case))
        check(case["notes"] == [], case)
        # What statistics need stays.
        for path in ("person.sex", "person.birth_year", "status",
                     "trafficking.purposes", "intake.received_on"):
            check(field(case, path) == field(before, path),
                  "%s lost on %s" % (path, n.name))
        check([s["type"] for s in case["services"]] == ["medical"], case)
        ok(n.verify(), "verify " + n.name)
    check(c.get(cid) == p.get(cid), "replicas differ")
    r = p.cli("case", "update", cid, "-",
              stdin=json.dumps({"person": {"full_name": "FAKE Again"}}))
    check(r.rc == 2 and "erased" in r.err, r)
    out = ok(c.cli("case", "erase", cid)).out
    check("already" in out, out)
    # needs log redaction (security work): the change log keeps the
    # entries written before the erase unless they are redacted; the raw
    # files are encrypted at rest, so the history (which opens the log)
    # is checked too.
    for n in (c, p):
        hist = ok(n.cli("case", "history", cid, "--json")).out
        for needle in (name, idno, late, "FAKE 0900", "FAKE note about her"):
            if n.files_contain(needle.encode()) or needle in hist:
                print("SKIP(pending log redaction): %r on %s" %
                      (needle, n.name))
                return


def test_erase_on_province_reaches_central(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(11))
    ok(p.sync(), "sync")
    ok(p.cli("case", "erase", cid), "erase on the province")
    ok(p.sync(), "sync")
    case = c.get(cid)
    check(case["erased"] is True and
          field(case, "person.full_name") is None, case)
    check(case == p.get(cid), "replicas differ")


def test_erase_then_referral(env):
    """The new owner of an erased case receives its history, redacted or
    not, and shows no identifying value either."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    cid = a.add(sample_case(14, notes=[{"text": "FAKE note"}]))
    ok(a.sync(), "sync")
    ok(c.cli("case", "erase", cid), "erase")
    ok(a.sync(), "sync")
    refer(a, b, cid)
    case = b.get(cid)
    check(case is not None and case["erased"] is True, case)
    check(field(case, "person.full_name") is None and case["notes"] == [],
          case)
    check(field(case, "person.sex") is not None, case)
    check(case == c.get(cid), "ha-noi and central differ")
    cst = [x for x in c.status()["peers"] if x["peer"] == "ha-noi"]
    bst = [x for x in b.status()["peers"] if x["peer"] == "central"]
    check(cst[0]["refused"] == 0 and bst[0]["refused"] == 0, "refused")
    for n in (b, c):
        ok(n.verify(), "verify " + n.name)


def test_future_stamps_refused(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    p.set_conf("test_clock_offset_ms", "7200000")
    cid = p.add(sample_case(12))
    r = ok(p.sync(), "sync")
    check(c.get(cid) is None, "central took an entry 2 h in the future")
    cst = [x for x in c.status()["peers"] if x["peer"] == "lao-cai"]
    check(cst and cst[0]["refused"] >= 1, "central status: %r" % cst)
    pst = [x for x in p.status()["peers"] if x["peer"] == "central"]
    check(pst and pst[0]["refused"] >= 1, "province status: %r" % pst)
    check("refused 1" in r.out, r.out)
    c.stop()
    log = open(os.path.join(env.tmp, "central.log")).read()
    check("refused" in log and "skew" in log, "no logged reason:\n" + log)


def test_cli_usage(env):
    c = env.central()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(13))
    for args in (("conflicts", "--help"), ("conflicts", "list", "--help"),
                 ("conflicts", "show", "--help"),
                 ("conflicts", "resolve", "--help"),
                 ("case", "transfer", "--help"),
                 ("case", "accept", "--help"), ("case", "decline", "--help"),
                 ("case", "referrals", "--help"),
                 ("case", "erase", "--help")):
        r = p.cli(*args)
        check(r.rc == 0 and "usage:" in r.out, "%s: %r" % (args, r))
    r = p.cli("conflicts")
    check(r.rc == 0 and "no open conflicts" in r.out, r)
    check(ok(p.cli("conflicts", "list", "--json")).json() == [], "json")
    bad = [
        (("conflicts", "frobnicate"), 1),
        (("conflicts", "show"), 1),
        (("conflicts", "show", "xyz"), 1),
        (("conflicts", "show", "0123456789abcdef"), 2),
        (("conflicts", "resolve", "0123456789abcdef"), 1),
        (("conflicts", "resolve", "0123456789abcdef", "--keep", "both"), 1),
        (("conflicts", "resolve", "0123456789abcdef", "--keep", "winner",
          "--value", "1"), 1),
        (("conflicts", "resolve", "0123456789abcdef", "--keep", "winner"),
         2),
        (("conflicts", "list", "--keep", "winner"), 1),
        (("case", "transfer", cid), 1),
        (("case", "transfer", cid, "--to", "atlantis"), 2),
        (("case", "transfer", cid, "--to", "central"), 2),
        (("case", "transfer", cid, "--to", "lao-cai"), 2),
        (("case", "transfer", cid, "--to", "ha-noi", "--reason", "x" * 501),
         2),
        (("case", "transfer", "not-a-case", "--to", "ha-noi"), 2),
        (("case", "transfer", "0190b5c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d",
          "--to", "ha-noi"), 2),
        (("case", "accept"), 1),
        (("case", "accept", cid), 2),
        (("case", "accept", cid, "extra"), 1),
        (("case", "decline", cid), 1),
        (("case", "decline", cid, "--reason", "no"), 2),
        (("case", "referrals", "--days", "x"), 1),
        (("case", "referrals", "extra"), 1),
        (("case", "erase"), 1),
        (("case", "erase", "0190b5c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d"), 2),
    ]
    for args, want in bad:
        r = p.cli(*args)
        check(r.rc == want and r.err.strip() != "",
              "%s: want %d, got %r" % (args, want, r))
    check(p.get(cid)["owner"] == "lao-cai", "refused transfer applied")
