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
    check(ok(c.cli("case", "referrals", "--days", "1", "--json")).json()
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


# ---- the console ----------------------------------------------------------

SHOTS = "/tmp/casesync-shots"


def test_console_referrals(env):
    """Issue 14: after syncs the receiving province's console lists the
    incoming referrals with reason and sending province; accepting one
    moves ownership after the next syncs, declining another returns it to
    the sender with the reason; central's console lists what waits and
    shows the whole history with the caseworkers as authors."""
    import os
    from selenium.webdriver.common.by import By
    from console import Console, browser, sign_in, screenshot
    import harness

    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(11, status="identified"))
    y = a.add(sample_case(12, status="identified"))
    z = a.add(sample_case(13, status="identified"))
    lan = {"CASESYNC_AUTHOR": "lan"}
    for cid, why in ((x, "FAKE returns to her home province"),
                     (y, "FAKE family lives in Ha Noi"),
                     (z, "FAKE third one")):
        ok(a.cli("case", "transfer", cid, "--to", "ha-noi", "--reason", why,
                 env=lan), "offer")
    ok(a.sync(), "sync lao-cai")
    ok(b.sync(), "sync ha-noi")
    os.makedirs(SHOTS, exist_ok=True)
    bcon = Console(b)
    ccon = Console(c)
    # The API: roles, CSRF, bad input.
    cl = bcon.client()
    cl.login("viewer")
    check(cl.get("/api/referrals").status == 403, "a viewer lists referrals")
    cl = bcon.client()
    cl.login("cw")
    got = cl.get("/api/referrals").json()
    check(got["total"] == 3 and {r["case"] for r in got["referrals"]} ==
          {x, y, z}, got)
    check(all(r["direction"] == "in" and r["from"] == "lao-cai"
              for r in got["referrals"]), got)
    r = cl.post("/api/referrals/%s/decline" % z, {})
    check(r.status == 400 and "reason" in r.json()["error"], r)
    r = cl.post("/api/referrals/%s/decline" % z, {"reason": "x",
                                                   "other": 1})
    check(r.status == 400, r)
    r = cl.post("/api/referrals/%s/accept" % z, {}, csrf=False)
    check(r.status == 403, r)
    r = cl.post("/api/referrals/not-a-case/accept", {})
    check(r.status == 400, r)
    check(b.get(z)["owner"] == "lao-cai", "a refused answer was written")
    r = cl.post("/api/referrals/%s/decline" % z,
                {"reason": "FAKE declined through the API"})
    check(r.status == 200 and r.json()["answer"] == "declined", r)
    r = cl.post("/api/referrals/%s/accept" % z, {})
    check(r.status == 409, "accepted after declining: %r" % r)
    d = browser()
    try:
        # Central sees the two offers waiting for ha-noi's answer.
        sign_in(d, ccon, "admin")
        d.get(ccon.url + "/referrals?days=0")
        cards = d.find_elements(By.CSS_SELECTOR, "article.referral")
        check(len(cards) == 3, d.find_element(By.TAG_NAME, "main").text)
        for w in (1280, 390):
            check(screenshot(d, os.path.join(
                SHOTS, "referrals-central-%d.png" % w), w),
                "central /referrals scrolls sideways at %d px" % w)
        d.get(ccon.url + "/referrals")
        check(not d.find_elements(By.CSS_SELECTOR, "article.referral"),
              "fresh referrals listed as waiting more than 7 days")
        d.delete_all_cookies()
        sign_in(d, bcon, "cw")
        d.get(bcon.url + "/referrals")
        main = d.find_element(By.TAG_NAME, "main").text
        for want in ("FAKE returns to her home province",
                     "FAKE family lives in Ha Noi", "Lào Cai"):
            check(want in main, "%r not on the inbox: %s" % (want, main))
        check(z not in main, "a declined referral still listed")
        for w in (1280, 390):
            check(screenshot(d, os.path.join(
                SHOTS, "referrals-inbox-%d.png" % w), w),
                "/referrals scrolls sideways at %d px" % w)
        d.set_window_size(1280, 900)
        card = d.find_element(By.ID, x)
        card.find_element(By.CSS_SELECTOR, "form.accept button").click()
        harness.wait_for(lambda: "done=accepted" in d.current_url, 10,
                         what="the redirect after accepting")
        card = d.find_element(By.ID, y)
        # The reason is required: the browser refuses an empty one.
        card.find_element(By.CSS_SELECTOR, "form.decline button").click()
        check("done=declined" not in d.current_url, "declined without a reason")
        card.find_element(By.NAME, "reason").send_keys(
            "FAKE no place in our shelter")
        card.find_element(By.CSS_SELECTOR, "form.decline button").click()
        harness.wait_for(lambda: "done=declined" in d.current_url, 10,
                         what="the redirect after declining")
        check(not d.find_elements(By.CSS_SELECTOR, "article.referral"),
              "answered referrals still listed")
        screenshot(d, os.path.join(SHOTS, "referrals-done-390.png"), 390)
    finally:
        d.quit()
    check(b.get(x)["owner"] == "ha-noi", b.get(x))
    ok(b.sync(), "sync ha-noi")
    ok(a.sync(), "sync lao-cai")
    check(c.get(x)["owner"] == "ha-noi" and a.get(x)["owner"] == "ha-noi",
          (c.get(x)["owner"], a.get(x)["owner"]))
    ref = a.get(y)["referrals"][-1]
    check(a.get(y)["owner"] == "lao-cai" and ref["status"] == "rejected" and
          ref["decline_reason"] == "FAKE no place in our shelter", ref)
    check(a.get(z)["referrals"][-1]["decline_reason"] ==
          "FAKE declined through the API", a.get(z))
    # Central's console: the whole history, with the caseworkers.
    d = browser()
    try:
        sign_in(d, ccon, "admin")
        d.get(ccon.url + "/cases/" + x)
        hist = d.find_element(By.ID, "history").text
        for want in ("lan@lao-cai", "cw@ha-noi"):
            check(want in hist, "%r not in central's history: %s" % (
                want, hist))
    finally:
        d.quit()
    audit = open(os.path.join(b.dir, "audit.log")).read()
    check("referral.accept" in audit and "referral.decline" in audit and
          "referral.view" in audit, audit)


def set_clock_offset(node, ms):
    """The node's test clock offset (nodecfg test_clock_offset_ms)."""
    import os
    path = os.path.join(node.dir, "casesync.conf")
    lines = [l for l in open(path).read().splitlines()
             if not l.startswith("test_clock_offset_ms")]
    lines.append("test_clock_offset_ms = %d" % ms)
    open(path, "w").write("\n".join(lines) + "\n")


def test_central_lists_referrals_waiting_over_n_days(env):
    """Central's console lists the referrals that have waited N days or
    more (7 by default), at either end: one made 12 days before the
    console's today (lao-cai's test clock set 6 days back, the console's
    6 days ahead: the offset is bounded to 7 days) is listed, waiting for
    Hà Nội to sync and then for its answer; one made 6 days before is
    not, unless ?days=0; ?days=13 lists neither."""
    from console import Console

    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    set_clock_offset(a, -6 * 86400 * 1000)
    old = a.add(sample_case(1, status="identified"))
    offer(a, old, "ha-noi", "FAKE waited twelve days")
    set_clock_offset(a, 0)
    new = a.add(sample_case(2, status="identified"))
    offer(a, new, "ha-noi", "FAKE made today")
    ok(a.sync(), "sync lao-cai")
    set_clock_offset(c, 6 * 86400 * 1000)
    con = Console(c)
    cl = con.client()
    cl.login("admin")

    def listed(q):
        r = cl.get("/api/referrals" + q)
        check(r.status == 200, r)
        return {x["case"]: x for x in r.json()["referrals"]}

    got = listed("?days=7")
    check(list(got) == [old] and got[old]["days"] == 12 and
          got[old]["waiting_for"] == "receiver_sync", got)
    check(set(listed("?days=0")) == {old, new}, listed("?days=0"))
    check(listed("?days=13") == {}, listed("?days=13"))
    page = cl.get("/referrals?lang=en").text()
    check(old in page and new not in page and
          "Hà Nội to sync and receive it" in page, page[-3000:])
    ok(b.sync(), "sync ha-noi")
    got = listed("?days=7")
    check(got[old]["waiting_for"] == "receiver_answer", got)
    page = cl.get("/referrals?lang=en").text()
    check("the answer of Hà Nội" in page, page[-3000:])
    check(cl.get("/referrals?days=x").status == 400, "days=x accepted")


def test_late_offer_tells_nothing_to_a_receiver_never_given_the_case(env):
    """khanh-hoa offers its case to son-la while offline; central
    reassigns it to thai-nguyen meanwhile; khanh-hoa syncs later.  The
    offer, stamped before the reassignment, is never pending, and central
    never routed the case to son-la: son-la must receive nothing of it,
    neither a stub of the case nor central's referral reason (the end of
    a late offer waits for the receiver's HELLO, which shows that only
    this central's feed served it: feed.c, endnote).  The case where
    another central did route the offer to it is chaos seed 149
    (test_standby.py, test_offer_routed_by_unfenced_old_central_...)."""
    from test_sync import sync_ok
    c = env.central().start()
    k = env.province("khanh-hoa", c)
    s = env.province("son-la", c)
    t = env.province("thai-nguyen", c)
    cid = k.add(sample_case(3))
    sync_ok(k)
    sync_ok(s)
    ok(k.cli("case", "transfer", cid, "--to", "son-la", "--reason",
             "FAKE offer written offline"), "offer")
    ok(c.cli("case", "transfer", cid, "--to", "thai-nguyen", "--reason",
             "FAKE reassignment reason"), "central reassigns")
    sync_ok(k)
    sync_ok(t)
    sync_ok(s)
    sync_ok(s)
    r = s.cli("case", "history", cid, "--json")
    check(r.rc != 0 and "FAKE reassignment reason" not in r.out,
          "son-la, never given the case, holds entries of it: %s" % r.out)
    check(s.cli("case", "get", cid).rc != 0, "son-la holds a stub case")
    got = c.get(cid)
    check(got["owner"] == "thai-nguyen", "central: %r" % got)


def test_answer_from_province_with_clock_behind(env):
    """Chaos seed 8: ha-noi's clock is 2 h behind, so it ignores the
    stamps of central and lao-cai (hlc_update's skew bound).  Its accept,
    and its update after it, must still be stamped after the offer and the
    transfer they depend on: written and acknowledged here, they must
    never be refused at central (case_depends in node/own.c)."""
    HOUR = 3600 * 1000
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(8, status="identified"))
    ok(a.sync(), "sync lao-cai")
    b.set_conf("test_clock_offset_ms", str(-2 * HOUR))
    offer(a, x, "ha-noi", "FAKE offered to a province behind")
    ok(a.sync(), "sync lao-cai")
    ok(b.sync(), "sync ha-noi")
    ok(b.cli("case", "accept", x), "accept, clock behind")
    b.update(x, {"status": "closed"})
    r = ok(b.sync(), "sync ha-noi")
    check("refused 0" in r.out, r.out)
    ok(b.sync(), "sync ha-noi again")
    ok(a.sync(), "sync lao-cai")
    got = c.get(x)
    check(got["owner"] == "ha-noi" and got["status"] == "closed", got)
    check(b.get(x) == got, (b.get(x), got))
    cst = [p for p in c.status()["peers"] if p["peer"] == "ha-noi"]
    check(cst and cst[0]["refused"] == 0, cst)
    for n in (a, b, c):
        ok(n.verify(), "verify " + n.name)


def history(n, cid):
    return ok(n.cli("case", "history", cid, "--json"), "history").json()


def test_refused_accept_and_erase_then_referred_back_restores_values(env):
    """Chaos seed 113 (campaign SEED=101): the receiving province accepts
    an offer that central's reassignment has already ended, and erases
    the case it now believes it owns; its log is redacted at once.  Both
    are refused at central (the accept: no referral waiting; the erase:
    its view is that refused accept) and taken out of its copy.  When
    central later refers the case to that province, the case's whole
    history comes in clear again: the province's copy must show the
    values, as central's does, not the digest markers of its own refused
    erase."""
    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    x = a.add(sample_case(13))
    offer(a, x, "ha-noi", "FAKE reason thirteen")
    ok(a.sync(), "sync lao-cai")
    ok(b.sync(), "sync ha-noi")
    check(b.get(x)["person"].get("full_name") == "FAKE Person 13", b.get(x))
    ok(c.cli("case", "transfer", x, "--to", "nghe-an",
             "--reason", "FAKE central's reason"), "reassign")
    ok(b.cli("case", "accept", x), "accept before hearing")
    ok(b.cli("case", "erase", x), "erase on ha-noi, its owner in its view")
    check("#sha256" in json.dumps(history(b, x)),
          "ha-noi's log is redacted")
    ok(b.sync(), "sync ha-noi")
    ok(b.sync(), "sync ha-noi again")
    got = c.get(x)
    check(got["owner"] == "nghe-an" and not got["erased"] and
          got["person"].get("full_name") == "FAKE Person 13", got)
    cst = [p for p in c.status()["peers"] if p["peer"] == "ha-noi"]
    check(cst and cst[0]["refused"] == 2, cst)
    ok(c.cli("case", "transfer", x, "--to", "ha-noi",
             "--reason", "FAKE back to ha-noi"), "refer to ha-noi")
    ok(b.sync(), "sync ha-noi")
    check(b.get(x) == c.get(x), "ha-noi %r\ncentral %r" % (b.get(x),
                                                            c.get(x)))
    hist = history(b, x)
    check("#sha256" not in json.dumps(hist), hist)
    check(hist == history(c, x),
          "histories differ:\n%r\n%r" % (hist, history(c, x)))
    for n in (b, c):
        ok(n.verify(), "verify " + n.name)


def test_decline_judged_at_its_stamp_after_central_restore(env):
    """Chaos seed 136 (SEED=101 at 03464fc): an-giang declined hung-yen's
    offer; central took the decline and routed it, then reassigned the
    case to phu-tho.  Central lost its disk and came back from a backup
    holding only the offer.  phu-tho's first sync gave back central's
    reassignment (RETURN) before the decline (GIVE), and central, judging
    the decline by the case as it was on arrival, found no referral
    waiting and refused it, while hung-yen kept it: the copies diverged.
    An answer valid when it was written now counts, as an offer does
    (offer_then): every central judges it the same."""
    from test_restore import backup, lose_and_restore
    from test_sync import sync_ok, verify_all

    c = env.central().start()
    h = env.province("hung-yen", c)
    a = env.province("an-giang", c)
    p = env.province("phu-tho", c)
    x = h.add(sample_case(136, status="identified"))
    sync_ok(h)
    offer(h, x, "an-giang", "FAKE offered before the backup")
    sync_ok(h)
    sync_ok(a)
    c.stop()
    bk = backup(c, "bk-central")
    c.start()
    ok(a.cli("case", "decline", x, "--reason", "FAKE no place"), "decline")
    sync_ok(a)
    ok(c.cli("case", "transfer", x, "--to", "phu-tho", "--reason",
             "FAKE reassigned after the decline"), "central reassigns")
    sync_ok(h)
    sync_ok(p)
    check(p.get(x)["owner"] == "phu-tho", p.get(x))
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    for n in (p, h, a, p, h, a):
        r = n.sync(60)
        check(r.rc == 0, "%s's sync after the restore: %r" % (n.name, r))
    got = c.get(x)
    check(got["owner"] == "phu-tho", got)
    refs = {r["to"]: r["status"] for r in got["referrals"]}
    check(refs.get("an-giang") == "rejected", got["referrals"])
    check(p.get(x) == got, "phu-tho differs:\n %r\n %r" % (p.get(x), got))
    # hung-yen and an-giang keep copies without identifying values; the
    # decline stands in both.
    for n in (h, a):
        mine = n.get(x)
        check(mine is not None and [r["status"] for r in mine["referrals"]
                                    if r["to"] == "an-giang"] ==
              ["rejected"], "%s: %r" % (n.name, mine))
    check(all(q.get("refused", 0) == 0 for q in c.status()["peers"]),
          c.status()["peers"])
    verify_all(c, h, a, p)


def test_second_offer_after_decline_survives_central_restore(env):
    """Chaos seed 210 (SEED=201 at aeae310): khanh-hoa offered its case
    to son-la, son-la declined, khanh-hoa offered it to son-la again and
    son-la accepted; central took all four and routed them.  Central then
    came back without them (a restore; in the round, a promoted standby
    while the old central, back and unfenced, had served both).  At
    khanh-hoa's first sync the decline, given back (GIVE) before the case
    existed there, was left to son-la; khanh-hoa's second offer then
    came in its own stream, and central, holding the first offer but not
    its answer, refused it ("already referred to son-la; wait for its
    answer"), then son-la's accept of it.  Two acknowledged writes gone,
    and khanh-hoa kept son-la's accept (routed by the old central) while
    central kept khanh-hoa as owner; son-la kept a full copy with the
    second offer waiting.  A later offer withdraws an earlier one (the
    merge's rule, offer.h), so central now takes it whether or not the
    earlier one's answer has reached it.

    Case y is the same history with the roles swapped, so that each
    order of arrival is met: for x the offering province syncs first
    after the restore, for y the receiving one."""
    from test_restore import backup, lose_and_restore
    from test_sync import sync_ok, verify_all

    c = env.central().start()
    k = env.province("khanh-hoa", c)
    s = env.province("son-la", c)
    sync_ok(k)
    sync_ok(s)
    c.stop()
    bk = backup(c, "bk-central")
    c.start()
    x = k.add(sample_case(210, status="identified"))
    y = s.add(sample_case(211, status="identified"))
    for sender, recv, cid in ((k, s, x), (s, k, y)):
        offer(sender, cid, recv.name, "FAKE first offer " + cid[:8])
        sync_ok(sender)
        sync_ok(recv)
        ok(recv.cli("case", "decline", cid, "--reason", "FAKE no place"),
           "decline")
        sync_ok(recv)
        sync_ok(sender)
        check(not pending_to(sender.get(cid), recv.name), sender.get(cid))
        offer(sender, cid, recv.name, "FAKE second offer " + cid[:8])
        sync_ok(sender)
        sync_ok(recv)
        ok(recv.cli("case", "accept", cid), "accept")
        sync_ok(recv)
        sync_ok(sender)
        check(sender.get(cid)["owner"] == recv.name, sender.get(cid))
    c.stop()
    lose_and_restore(c, bk)
    c.start()
    for n in (k, s, k, s):
        sync_ok(n)
    for cid, sender, recv in ((x, k, s), (y, s, k)):
        got = c.get(cid)
        check(got["owner"] == recv.name, got)
        check([(r["to"], r["status"]) for r in got["referrals"]] ==
              [(recv.name, "rejected"), (recv.name, "accepted")],
              got["referrals"])
        check(recv.get(cid) == got, "%s differs:\n %r\n %r" % (
            recv.name, recv.get(cid), got))
        mine = sender.get(cid)
        check(mine["owner"] == recv.name and
              "full_name" not in mine["person"], mine)
        check([r["status"] for r in mine["referrals"]] ==
              ["rejected", "accepted"], mine["referrals"])
    check(all(q.get("refused", 0) == 0 for q in c.status()["peers"]),
          c.status()["peers"])
    verify_all(c, k, s)


def test_later_offer_withdraws_an_earlier_one_central_holds(env):
    """Central takes a later offer while it still sees an earlier one
    waiting (chaos seed 210), and the later one withdraws it: here
    khanh-hoa, put back from a backup taken before its offer to son-la,
    offers the case to nghe-an before its first sync.  son-la, which held
    the whole case to decide, is told and keeps a copy without
    identifying values; its answer to the withdrawn offer is refused;
    nghe-an gets the case to decide and accepts it."""
    from test_restore import backup, lose_and_restore
    from test_sync import sync_ok, verify_all

    c = env.central().start()
    k = env.province("khanh-hoa", c)
    s = env.province("son-la", c)
    n = env.province("nghe-an", c)
    x = k.add(sample_case(212, status="identified"))
    sync_ok(k)
    bk = backup(k, "bk-khanh-hoa")
    offer(k, x, "son-la", "FAKE the offer khanh-hoa loses")
    sync_ok(k)
    sync_ok(s)
    check(pending_to(s.get(x), "son-la") and
          s.get(x)["person"].get("full_name") == "FAKE Person 212", s.get(x))
    lose_and_restore(k, bk)
    offer(k, x, "nghe-an", "FAKE offered again after the restore")
    sync_ok(k)
    sync_ok(k)
    got = c.get(x)
    check([(r["to"], r["status"]) for r in got["referrals"]] ==
          [("son-la", "proposed"), ("nghe-an", "proposed")] and
          pending_to(got, "nghe-an"), got["referrals"])
    check(k.get(x) == got, "khanh-hoa differs:\n %r\n %r" % (k.get(x), got))
    sync_ok(s)
    mine = s.get(x)
    check(mine is not None and "full_name" not in mine["person"] and
          not pending_to(mine, "son-la"), mine)
    r = s.cli("case", "accept", x)
    check(r.rc == 2, "son-la accepted a withdrawn offer: %r" % r)
    sync_ok(n)
    check(pending_to(n.get(x), "nghe-an") and
          n.get(x)["person"].get("full_name") == "FAKE Person 212", n.get(x))
    ok(n.cli("case", "accept", x), "accept")
    sync_ok(n)
    sync_ok(k)
    got = c.get(x)
    check(got["owner"] == "nghe-an" and n.get(x) == got, (n.get(x), got))
    check("full_name" not in k.get(x)["person"], k.get(x))
    check(all(q.get("refused", 0) == 0 for q in c.status()["peers"]),
          c.status()["peers"])
    verify_all(c, k, s, n)


def test_offer_ends_for_receiver_already_moved_to_the_promoted_central(env):
    """Chaos seed 238 (SEED=201 at aeae310): the standby was promoted,
    and the old central came back and served the provinces unfenced.
    da-nang offered its case to lai-chau (keep_transferred = no) through
    the old central, which routed the whole case to lai-chau to decide;
    the promoted central, which did not have the offer, reassigned the
    case to khanh-hoa.  Once the old central stopped, lai-chau's first
    HELLO at the promoted central showed a feed position of the old
    central's, and that session moved it onto the promoted central's
    feed; only then did the offer reach the promoted central (da-nang's
    run, and lai-chau's own gift of it, in the commit right after that
    HELLO), stamped before the reassignment.  Central routed the case to
    lai-chau never, so it kept the end of the offer for lai-chau's next
    HELLO (feed.c, endnote), which showed a position of its own feed:
    the note was dropped as if lai-chau had never been given the case.
    lai-chau kept the whole case ("leak: read-only copy of ... on
    lai-chau shows ['full_name', 'id_number']")."""
    from test_standby import check_owned, ha_province, \
        promote_and_old_returns, standby_node
    from test_sync import sync_ok, verify_all

    c = env.central().start()
    sb = standby_node(env, c)
    d = ha_province(env, "da-nang", c, sb)
    lc = ha_province(env, "lai-chau", c, sb)
    kh = ha_province(env, "khanh-hoa", c, sb)
    lc.set_conf("keep_transferred", "no")
    x = d.add(sample_case(238, status="identified"))
    y = lc.add(sample_case(239, status="reported"))
    for p in (d, lc, kh):
        sync_ok(p)
    promote_and_old_returns(c, sb)  # its copy: both cases, no offer
    offer(d, x, "lai-chau", "FAKE offer through the old central")
    sync_ok(d)
    sync_ok(lc)
    check(pending_to(lc.get(x), "lai-chau") and
          lc.get(x)["person"].get("full_name") == "FAKE Person 238",
          "the offer reached lai-chau through the old central")
    c.stop()
    ok(sb.cli("case", "transfer", x, "--to", "khanh-hoa", "--reason",
              "FAKE reassignment by the promoted central"),
       "the promoted central reassigns, without the offer")
    sb.update(y, {"status": "identified"})
    sb.start()
    # lai-chau first: its HELLO shows the old central's feed position,
    # and the session moves it onto the promoted central's feed (it takes
    # central's edit of its own case y).
    sync_ok(lc)
    check(lc.get(y)["status"] == "identified", lc.get(y))
    sync_ok(d)                  # the offer reaches the promoted central
    sync_ok(lc)
    sync_ok(kh)
    sync_ok(lc)
    got = sb.get(x)
    check(got["owner"] == "khanh-hoa" and
          [(r["to"], r["status"]) for r in got["referrals"]] ==
          [("lai-chau", "proposed"), ("khanh-hoa", "completed")],
          "promoted central: %r" % got)
    mine = lc.get(x)
    check(mine is None, "lai-chau (keep_transferred = no) keeps a copy for "
          "an offer that ended: %r" % mine)
    r = ok(lc.cli("case", "referrals", "--json"), "referrals")
    check(x not in r.out, "lai-chau still lists the offer: %s" % r.out)
    check_owned(sb, [d, lc, kh])
    verify_all(sb, d, lc, kh)
    sb.stop()


def test_old_centrals_routing_of_an_entry_the_promoted_central_refuses(env):
    """Chaos seed 341 (SEED=301 at df24d65, round 40): the standby was
    promoted (06:45:29.278) and the old central came back and served the
    provinces unfenced (29.410).  dong-nai had offered its case to
    dong-thap (dong-nai/6, in the standby's copy); the promoted central
    reassigned the case to ha-tinh (central/(I2, 9), 29.442), which the
    old central never had.  dong-nai, on the old central, then set the
    facility (dong-nai/15, 29.482, stamped after the reassignment); the
    old central accepted it (the case was still dong-nai's there) and
    routed it to dong-thap, the offer's receiver, which holds the case
    to decide.  After the old central stopped, dong-thap gave the entry
    back ("left to its origin (dong-nai does not own case ... (owner
    ha-tinh))") and dong-nai's own run brought it: refused, as it should
    be (dong-nai did not own the case at its stamp), and the refusal
    notice took it out of dong-nai's copy.  But a refusal notice goes to
    the origin only: dong-thap's copy kept the facility that central
    refused ("refused_applied: refused update@dong-nai ... is on
    dong-thap").  (In the seed dong-nai was also put back from a backup
    taken before its edit and recovered it from the old central; that
    does not matter here.)"""
    refused_entry_routed_by_old_central(env, origin_first=False)


def test_old_centrals_routing_of_a_refused_entry_origin_first(env):
    """Seed 341's sequence in the other order of arrival at the promoted
    central: dong-nai's own run first (refused, the notice to dong-nai),
    then dong-thap, which then has nothing to give back (central's
    position for dong-nai counts the refused entry)."""
    refused_entry_routed_by_old_central(env, origin_first=True)


def refused_entry_routed_by_old_central(env, origin_first):
    from test_standby import ha_province, promote_and_old_returns, \
        standby_node
    from test_sync import sync_ok, verify_all

    c = env.central().start()
    sb = standby_node(env, c)
    dn = ha_province(env, "dong-nai", c, sb)
    dt = ha_province(env, "dong-thap", c, sb)
    ht = ha_province(env, "ha-tinh", c, sb)
    dt.set_conf("keep_transferred", "yes")
    x = dn.add(sample_case(341, status="identified"))
    sync_ok(dn)
    offer(dn, x, "dong-thap", "FAKE offer before the promotion")
    for p in (dn, dt, ht):
        sync_ok(p)
    check(pending_to(dt.get(x), "dong-thap"), dt.get(x))
    promote_and_old_returns(c, sb)  # its copy: the case and the offer
    ok(sb.cli("case", "transfer", x, "--to", "ha-tinh", "--reason",
              "FAKE reassignment by the promoted central"),
       "the promoted central reassigns, the offer waiting")
    dn.update(x, {"intake": {"facility": "F341-01450"}})
    sync_ok(dn)                 # the old central accepts it ...
    sync_ok(dt)                 # ... and routes it to the receiver
    check(dt.get(x)["intake"].get("facility") == "F341-01450",
          "the edit reached dong-thap through the old central: %r"
          % dt.get(x))
    c.stop()
    sb.start()
    if origin_first:
        sync_ok(dn)             # its own run: refused, the notice back
        sync_ok(dt)             # nothing to give: the position is counted
    else:
        sync_ok(dt)             # gives the edit back: left to its origin
        sync_ok(dn)             # its own run: refused, the notice back
    for p in (dn, dt, ht, dt, dn):
        sync_ok(p)
    got = sb.get(x)
    check(got["owner"] == "ha-tinh" and
          got["intake"].get("facility") != "F341-01450",
          "promoted central: %r" % got)
    check(dn.get(x) is None or
          dn.get(x)["intake"].get("facility") != "F341-01450",
          "dong-nai keeps its refused edit: %r" % dn.get(x))
    mine = dt.get(x)
    check(mine is None or mine["intake"].get("facility") != "F341-01450",
          "dong-thap keeps dong-nai's edit that central refused: %r" % mine)
    verify_all(sb, dn, dt, ht)
    sb.stop()
    return x, dn, dt


def refused_rows(page):
    """The rows of the sync page's refused table: {(origin, seq): the
    row's HTML}."""
    import re
    m = re.search(r'<table [^>]*id="refused"[^>]*>.*?</table>', page,
                  re.S)
    check(m, "no refused table: %s" % page[-3000:])
    rows = {}
    for tr in re.findall(r"<tr[ >].*?</tr>", m.group(0), re.S):
        o = re.search(r'data-origin="([^"]*)"', tr)
        q = re.search(r'data-seq="([0-9]+)"', tr)
        if o and q:
            rows[(o.group(1), int(q.group(1)))] = tr
    return rows


def test_sync_page_tells_another_provinces_refused_change(env):
    """Seed 341's refusal seen in the consoles: since bug 15 dong-thap's
    refused table holds dong-nai's change that central refused and that
    was taken out of dong-thap's copy.  dong-thap's sync page shows it
    with its origin, as another province's change, and dong-nai's shows
    its own as this province's; in English and Vietnamese, with no value
    of the case (the refused facility, the name, the id number), and
    both fit a desktop and a phone."""
    import html
    import os
    import re
    from selenium.webdriver.common.by import By
    from console import Console, browser, sign_in, screenshot
    from test_case_forms import shot_dir

    x, dn, dt = refused_entry_routed_by_old_central(env, origin_first=True)
    secret = ("F341-01450", "FAKE Person 341", "FAKEID000000341")
    labels = {"en": ("This province's change", "Another province's change",
                     "taken out of this province's copy"),
              "vi": ("Thay đổi của tỉnh này", "Thay đổi của tỉnh khác",
                     "đã được gỡ khỏi dữ liệu của tỉnh này")}
    tcon, ncon = Console(dt), Console(dn)
    for con, mine in ((tcon, False), (ncon, True)):
        cl = con.client()
        cl.login("viewer")
        for lang, (own, other, out) in labels.items():
            page = html.unescape(cl.get("/sync?lang=" + lang).text())
            rows = refused_rows(page)
            dnr = [(k, v) for k, v in rows.items() if k[0] == "dong-nai"]
            check(len(dnr) == 1, "%s: dong-nai's refused rows: %r"
                  % (con.node.name, rows))
            (_, seq), tr = dnr[0]
            check("dong-nai" in re.sub(r"<[^>]*>", " ", tr) and
                  "Đồng Nai" in tr, "the origin is not shown: " + tr)
            if mine:
                check(own in tr and other not in tr,
                      "%s: dong-nai's own row: %s" % (lang, tr))
            else:
                check(other in tr and out in tr and own not in tr,
                      "%s: dong-thap's row of dong-nai's change: %s"
                      % (lang, tr))
            for s in secret:
                check(s not in page, "%r on %s's sync page" %
                      (s, con.node.name))
        api = cl.get("/api/status").json()
        got = [r for r in api["refused"] if r["origin"] == "dong-nai"]
        check(len(got) == 1 and got[0]["seq"] == seq and
              got[0]["own"] is mine, "%s: %r" % (con.node.name, api))
    d = browser()
    try:
        sign_in(d, tcon, "cw")
        for lang in ("vi", "en"):
            d.get(tcon.url + "/sync?lang=" + lang)
            row = d.find_element(By.CSS_SELECTOR,
                                 '#refused tr[data-origin="dong-nai"]')
            check(labels[lang][1] in row.text, row.text)
            for w in (1280, 390):
                path = os.path.join(shot_dir(env), "sync-refused-other-"
                                    "%s-%d.png" % (lang, w))
                check(screenshot(d, path, w), "/sync scrolls sideways at "
                      "%d px (%s)" % (w, lang))
            d.set_window_size(1280, 900)
        d.delete_all_cookies()
        sign_in(d, ncon, "cw")
        d.get(ncon.url + "/sync?lang=vi")
        for w in (1280, 390):
            path = os.path.join(shot_dir(env), "sync-refused-own-vi-%d.png"
                                % w)
            check(screenshot(d, path, w), "/sync scrolls sideways at %d px"
                  % w)
    finally:
        d.quit()
