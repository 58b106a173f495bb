"""Referrals as offers (issue 14, item 3): a province's referral waits for
the receiving province's answer.  Accepting moves ownership after the next
syncs; declining leaves the case with the sender, which sees the reason.
The answers are refused from anyone but the receiving province, twice, or
for an offer that is no longer pending; pending referrals count apart.
"""
import json

from harness import check, ok, sample_case


def pending_to(case, node):
    refs = [r for r in case["referrals"] if r["status"] == "proposed"]
    return bool(refs) and refs[-1]["to"] == node


def offer(a, cid, to, reason):
    r = ok(a.cli("case", "transfer", cid, "--to", to, "--reason", reason),
           "offer")
    check("offered from %s to %s" % (a.name, to) in r.out, r.out)
    return r


def test_offer_accept_decline(env):
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(1, status="identified"))
    y = a.add(sample_case(2, status="identified"))
    ok(a.sync(), "sync lao-cai")
    offer(a, x, "ha-noi", "FAKE returns home")
    offer(a, y, "ha-noi", "FAKE second referral")
    # Until the answer the sender owns the case and may change it.
    got = a.get(x)
    check(got["owner"] == "lao-cai" and pending_to(got, "ha-noi"), got)
    check(got["person"].get("full_name") == "FAKE Person 1", got)
    a.update(x, {"services": [{"id": "while-pending", "type": "medical",
                               "on": "2026-02-01"}]})
    # One offer waits at a time.
    r = a.cli("case", "transfer", x, "--to", "nghe-an")
    check(r.rc == 2 and "already referred to ha-noi" in r.err, r)
    # Nobody but the receiving province answers, and only once it has
    # the offer.
    for n, args in ((a, ("accept", x)), (c, ("accept", x)),
                    (b, ("accept", x)),
                    (b, ("decline", y, "--reason", "no place"))):
        r = n.cli("case", *args)
        check(r.rc == 2 and "\n" not in r.err.strip(), (n.name, args, r))
    ok(a.sync(), "sync lao-cai")
    ok(b.sync(), "sync ha-noi")
    # The receiving province holds the whole case to decide, not owning it.
    inc = b.get(x)
    check(inc["owner"] == "lao-cai" and pending_to(inc, "ha-noi"), inc)
    check(inc["person"].get("full_name") == "FAKE Person 1", inc)
    check([s["id"] for s in inc["services"]] == ["while-pending"], inc)
    r = b.cli("case", "update", x, "-", stdin=json.dumps({"status":
                                                          "closed"}))
    check(r.rc == 2, "the receiving province changed a pending case: %r"
          % r)
    lst = ok(b.cli("case", "referrals", "--json")).json()
    check(sorted(i["case"] for i in lst) == sorted([x, y]), lst)
    check({i["reason"] for i in lst} ==
          {"FAKE returns home", "FAKE second referral"}, lst)
    check({(i["direction"], i["from"]) for i in lst} == {("in", "lao-cai")},
          lst)
    lst = ok(c.cli("case", "referrals", "--json")).json()
    check(len(lst) == 2 and all(i["days"] == 0 for i in lst), lst)
    check(ok(c.cli("case", "referrals", "--days", "3", "--json")).json()
          == [], "central lists fresh referrals as overdue")
    # Bad answers write nothing.
    for args, code in ((("decline", y), 1),
                       (("decline", y, "--reason", ""), 2),
                       (("decline", y, "--reason", "x" * 501), 2),
                       (("accept", "not-a-case"), 2),
                       (("accept",), 1)):
        r = b.cli("case", *args)
        check(r.rc == code and r.err.count("\n") <= 1, (args, r))
    check(pending_to(b.get(y), "ha-noi"), "a bad answer was written")
    ok(b.cli("case", "accept", x), "accept")
    ok(b.cli("case", "decline", y, "--reason", "FAKE no shelter place"),
       "decline")
    r = b.cli("case", "accept", x)
    check(r.rc == 2, "accepted twice: %r" % r)
    r = b.cli("case", "accept", y)
    check(r.rc == 2, "accepted after declining: %r" % r)
    # ha-noi owns x at once; y is a read-only copy without names.
    check(b.get(x)["owner"] == "ha-noi", b.get(x))
    gy = b.get(y)
    check(gy["owner"] == "lao-cai" and "full_name" not in gy["person"], gy)
    ok(b.sync(), "sync ha-noi")
    check(c.get(x)["owner"] == "ha-noi", c.get(x))
    check(c.get(y)["owner"] == "lao-cai", c.get(y))
    ok(a.sync(), "sync lao-cai")
    ax, ay = a.get(x), a.get(y)
    check(ax["owner"] == "ha-noi" and "full_name" not in ax["person"], ax)
    check(ay["owner"] == "lao-cai", ay)
    ref = ay["referrals"][-1]
    check(ref["status"] == "rejected" and
          ref.get("decline_reason") == "FAKE no shelter place" and
          ref.get("answered_on"), ref)
    check(not pending_to(ay, "ha-noi"), ay)
    # The sender may change the declined case and refer it again.
    a.update(y, {"status": "receiving_support"})
    offer(a, y, "nghe-an", "FAKE try another province")
    # Central and the new owner agree on x; the reason is sealed at rest.
    ok(b.sync(), "sync ha-noi")
    check(c.get(x) == b.get(x), "central and ha-noi differ")
    for n in (a, b, c):
        check(not n.files_contain(b"FAKE no shelter place"),
              "the decline reason is in clear on " + n.name)
        ok(n.verify(), "verify " + n.name)
    hist = ok(c.cli("case", "history", x, "--json")).json()
    check([h["node"] for h in hist][-1] == "ha-noi", hist)


def test_offer_answer_refused_at_central(env):
    """The sender's offer is overtaken by central's reassignment: the
    receiving province's accept, made before it heard, is refused at
    central and taken out of its copy; everyone agrees on the owner."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(3))
    offer(a, x, "ha-noi", "FAKE reason three")
    ok(a.sync(), "sync lao-cai")
    ok(b.sync(), "sync ha-noi")
    ok(c.cli("case", "transfer", x, "--to", "nghe-an"), "reassign")
    ok(b.cli("case", "accept", x), "accept before hearing")
    ok(b.sync(), "sync ha-noi")
    check(c.get(x)["owner"] == "nghe-an", c.get(x))
    ok(b.sync(), "sync ha-noi again")
    got = b.get(x)
    check(got is None or got["owner"] == "nghe-an", got)
    cst = [p for p in c.status()["peers"] if p["peer"] == "ha-noi"]
    check(cst and cst[0]["refused"] == 1, cst)
    for n in (b, c):
        ok(n.verify(), "verify " + n.name)
