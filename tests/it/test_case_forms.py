"""Case work in the console (issue 14): the new-case form, the case
page's actions, the write API, the sync banner and the annual report's
downloads, on a province, with and without central.

Each test starts real nodes and a real `casesync console` on 127.0.0.1
over HTTPS; the browser tests drive Debian's chromium through selenium
and take screenshots at 1280 and 390 px wide."""
import html
import os
import re
import time

import harness
from harness import ok, check, sample_case
from console import Console, browser, sign_in, screenshot

SHOTS = os.environ.get("CASESYNC_SHOTS")   # keep screenshots there

# Every field of docs/SCHEMA.md, as the form must offer it.
FIELDS = ["status", "person.category", "person.principal_case",
          "person.legal_status", "person.sex", "person.birth_year",
          "person.ethnicity", "person.home_province", "person.full_name",
          "person.id_number", "person.phone", "person.address",
          "trafficking.purposes", "trafficking.destination_country",
          "trafficking.returned_on", "trafficking.return_route",
          "intake.source", "intake.received_on", "intake.facility"]


def shot_dir(env):
    d = SHOTS or os.path.join(env.tmp, "shots")
    os.makedirs(d, exist_ok=True)
    return d


def both_widths(d, env, name):
    """Screenshots at 1280 and 390 px; neither may scroll sideways."""
    for w in (1280, 390):
        path = os.path.join(shot_dir(env), "%s-%d.png" % (name, w))
        fits = screenshot(d, path, w)
        check(fits, "%s scrolls sideways at %d px" % (name, w))
    d.set_window_size(1280, 900)


def hidden_inputs(page):
    """The hidden inputs of a page, as a dict (last one wins)."""
    out = {}
    for m in re.finditer(r'<input type="hidden" name="([^"]*)" '
                         r'value="([^"]*)">', page):
        out[html.unescape(m.group(1))] = html.unescape(m.group(2))
    return out


def form_post(cl, path, fields):
    """POSTs an urlencoded form (with the session's CSRF token)."""
    from urllib.parse import urlencode
    body = urlencode(list(fields.items()) if isinstance(fields, dict)
                     else fields)
    return cl.request("POST", path, body,
                      ctype="application/x-www-form-urlencoded")


def page_csrf(cl):
    r = cl.get("/cases/new")
    check(r.status == 200, r)
    return hidden_inputs(r.text())["csrf"]


# ---- the JSON API ---------------------------------------------------------

def test_api_case_writes(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    con = Console(p)
    cw = con.client()
    cw.login("cw")
    viewer = con.client()
    viewer.login("viewer")
    # A case as `case add` takes it: 201 with its id.
    r = cw.post("/api/cases", sample_case(1))
    check(r.status == 201, r)
    cid = r.json()["id"]
    check(p.get(cid)["owner"] == "lao-cai")
    hist = ok(p.cli("case", "history", cid, "--json")).json()
    check(hist[0]["author"] == "cw@lao-cai", hist)
    # A refused field: 400 naming it, and nothing written.
    n = len(p.ids())
    r = cw.post("/api/cases", {"intake": {"received_on": "2025-02-30"}})
    check(r.status == 400, r)
    errs = r.json()["errors"]
    check(errs[0]["field"] == "intake.received_on" and
          "2025-02-30" in errs[0]["message"], errs)
    check(len(p.ids()) == n, "a refused case was written")
    # The rules: CSRF, role, JSON.
    check(cw.post("/api/cases", sample_case(2), csrf=False).status == 403)
    check(viewer.post("/api/cases", sample_case(3)).status == 403)
    check(cw.request("POST", "/api/cases", "x=1", headers={
        "X-CSRF-Token": cw.csrf},
        ctype="application/x-www-form-urlencoded").status == 415)
    check(len(p.ids()) == n)
    # Update: fields and events as `case update`; the lifecycle rules.
    r = cw.post("/api/cases/" + cid, {"status": "closed"})
    check(r.status == 400 and r.json()["errors"][0]["field"] == "status",
          r)
    st = p.get(cid)["status"]
    nxt = {"reported": "under_verification",
           "under_verification": "identified",
           "identified": "receiving_support",
           "receiving_support": "reintegration_followup"}[st]
    r = cw.post("/api/cases/" + cid, {
        "status": nxt,
        "services": [{"type": "medical", "on": "2026-03-02",
                      "amount_vnd": 1500000, "days": 3}]})
    check(r.status == 200 and r.json() == {"id": cid, "conflicts": []}, r)
    case = p.get(cid)
    check(case["status"] == nxt and len(case["services"]) == 1, case)
    r = cw.post("/api/cases/" + cid, {"person": {"sex": "f"}})
    check(r.status == 400 and
          r.json()["errors"][0]["field"] == "person.sex", r)
    # Transfer: {"to","reason"}.
    r = cw.post("/api/cases/%s/transfer" % cid, {"to": "atlantis",
                                                  "reason": "x"})
    check(r.status == 400 and r.json()["errors"][0]["field"] == "to", r)
    r = cw.post("/api/cases/%s/transfer" % cid,
                {"to": "ha-noi", "reason": "home province"})
    check(r.status == 200 and r.json()["to"] == "ha-noi", r)
    check(p.get(cid)["owner"] == "ha-noi")
    # No longer the owner: 409, as the CLI refuses it.
    r = cw.post("/api/cases/" + cid, {"person": {"sex": "male"}})
    check(r.status == 409, r)
    ok(p.sync())
    case = c.get(cid)
    check(case["owner"] == "ha-noi" and
          case["referrals"][0]["reason"] == "home province", case)
    audit = open(os.path.join(p.dir, "audit.log")).read()
    check("case.add" in audit and "case.transfer" in audit, audit)
    check("home province" not in audit, "a value in the audit log")


# ---- forms through plain HTTP: the edit conflict, erase ----------------------

def test_edit_becomes_conflict(env):
    """A field edited in the console while a sync brought a newer value
    of it: the change is kept and becomes a conflict, and the case page
    links to it."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(1, status="reported"))
    ok(p.sync())
    con = Console(p)
    cw = con.client()
    cw.login("cw")
    page = cw.get("/cases/%s/edit" % cid)
    check(page.status == 200, page)
    form = hidden_inputs(page.text())
    check(form["orig.person.ethnicity"] == "" and
          "base.person.birth_year" in form, form)
    # Meanwhile central changes the birth year, and it syncs here.
    c.update(cid, {"person": {"birth_year": 1999}})
    ok(p.sync())
    check(p.get(cid)["person"]["birth_year"] == 1999)
    # The form as the caseworker saw it, with the year changed.
    fields = dict(form)
    for k, v in form.items():
        if k.startswith("orig."):
            fields[k[5:]] = v
    fields["person.birth_year"] = "1988"
    fields["person.ethnicity"] = "Hmông"
    r = form_post(cw, "/cases/%s/edit" % cid, fields)
    check(r.status == 303, r)
    loc = r.headers["location"]
    m = re.search(r"conflict=([0-9a-f]{16})", loc)
    check(m and "saved=edit" in loc, loc)
    case = p.get(cid)
    check(case["conflicts"] == 1 and case["person"]["ethnicity"] == "Hmông",
          case)
    page = cw.get(loc).text()
    check('href="/conflicts#%s"' % m.group(1) in page, page[-3000:])
    # Nothing changed: nothing written.
    n = len(ok(p.cli("case", "history", cid, "--json")).json())
    page = cw.get("/cases/%s/edit" % cid).text()
    form = hidden_inputs(page)
    fields = dict(form)
    for k, v in form.items():
        if k.startswith("orig."):
            fields[k[5:]] = v
    r = form_post(cw, "/cases/%s/edit" % cid, fields)
    check(r.status == 303 and "saved=nothing" in r.headers["location"], r)
    check(len(ok(p.cli("case", "history", cid, "--json")).json()) == n)


def test_erase_admin_typed_confirmation(env):
    c = env.central()
    cid = c.add(sample_case(1, person={"full_name": "FAKE Erase Me",
                                       "sex": "female"}))
    con = Console(c)
    cw = con.client()
    cw.login("cw")
    admin = con.client()
    admin.login("admin")
    csrf = page_csrf(cw)
    r = form_post(cw, "/cases/%s/erase" % cid, {
        "csrf": csrf, "why": "person_request", "confirm": cid[:8]})
    check(r.status == 403, r)
    check('id="erase"' not in cw.get("/cases/" + cid).text())
    csrf = page_csrf(admin)
    check('id="erase"' in admin.get("/cases/" + cid).text())
    r = form_post(admin, "/cases/%s/erase" % cid, {
        "csrf": csrf, "why": "person_request", "confirm": "00000000"})
    check(r.status == 400, r)
    check(c.get(cid)["person"]["full_name"] == "FAKE Erase Me")
    r = form_post(admin, "/cases/%s/erase" % cid, {
        "csrf": csrf, "why": "person_request", "confirm": cid[:8]})
    check(r.status == 303, r)
    case = c.get(cid)
    check(case["erased"] and "full_name" not in case["person"], case)
    audit = open(os.path.join(c.dir, "audit.log")).read()
    check('"case.erase"' in audit and "person_request" in audit, audit)


def test_report_downloads(env):
    p = env.province("lao-cai")
    for i in range(3):
        p.add(sample_case(i))
    con = Console(p)
    cw = con.client()
    cw.login("cw")
    r = cw.get("/report.csv?year=2026")
    check(r.status == 200 and r.headers["content-type"].startswith(
        "text/csv"), r)
    check(r.headers["content-disposition"] ==
          'attachment; filename="report-lao-cai-2026.csv"', r.headers)
    cli = ok(p.cli("report", "--year", "2026", "--province", "lao-cai",
                   "--format", "csv")).out
    # The same figures as the CLI (the heading's date aside).
    strip = lambda t: [l for l in t.splitlines() if "generated" not in l]
    check(strip(r.text()) == strip(cli), (r.text()[:400], cli[:400]))
    r = cw.request("GET", "/report.html?year=2026",
                   headers={"Accept-Language": "vi"})
    check(r.status == 200 and 'lang="vi"' in r.text(), r)
    check("bao-cao-lao-cai-2026.html" in r.headers["content-disposition"])
    page = cw.get("/?year=2026").text()
    check('href="/report.csv?year=2026&amp;province=lao-cai"' in page,
          page)
