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
    # An offer (docs/CONFLICTS.md): the case stays until ha-noi accepts,
    # and a second referral waits for the first one's answer.
    check(p.get(cid)["owner"] == "lao-cai")
    r = cw.post("/api/cases/%s/transfer" % cid,
                {"to": "nghe-an", "reason": "another"})
    check(r.status == 409, r)
    r = cw.post("/api/cases/" + cid, {"person": {"sex": "male"}})
    check(r.status == 200, r)
    ok(p.sync())
    case = c.get(cid)
    check(case["owner"] == "lao-cai" and
          case["referrals"][0]["status"] == "proposed" and
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
    page = admin.get("/cases/" + cid).text()
    check('id="note"' not in page and 'id="erase"' not in page and
          'id="service"' in page, "actions after the erase")
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


# ---- in the browser ---------------------------------------------------------

def _fill(d, name, value):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    el = d.find_element(By.NAME, name)
    if el.tag_name == "select":
        Select(el).select_by_value(value)
    else:
        el.clear()
        el.send_keys(value)


def test_browser_caseworker_day(env):
    """A caseworker of lao-cai records a case through the form in
    Vietnamese (a bad date and a missing required field first), adds a
    service, refers the case to Hà Nội; central gets it all with the
    caseworker as author.  Every form page fits 1280 and 390 px."""
    from selenium.webdriver.common.by import By

    c = env.central().start()
    p = env.province("lao-cai", c)
    ok(p.sync())
    con = Console(p)
    d = browser()
    try:
        sign_in(d, con, "cw")
        d.get(con.url + "/cases/new?lang=vi")
        check(d.find_element(By.TAG_NAME, "h1").text == "Thêm hồ sơ",
              d.find_element(By.TAG_NAME, "h1").text)
        names = {e.get_attribute("name") for e in d.find_elements(
            By.CSS_SELECTOR, "#newcase [name]")}
        missing = [f for f in FIELDS if f not in names]
        check(not missing, "fields not on the form: %r" % missing)
        label = d.find_element(By.CSS_SELECTOR,
                               'label[for="person.full_name"]').text
        check(label.startswith("Họ và tên"), label)
        opts = [o.text for o in d.find_elements(
            By.CSS_SELECTOR, 'select[name="person.category"] option')]
        check("nạn nhân" in [o.lower() for o in opts], opts)
        provs = [o.get_attribute("value") for o in d.find_elements(
            By.CSS_SELECTOR, 'select[name="person.home_province"] option')]
        check(len(provs) == 35 and "lao-cai" in provs, provs)
        svc = [o.text for o in d.find_elements(
            By.CSS_SELECTOR, 'select[name="services.1.type"] option')]
        check(any("(đ)" in s for s in svc), svc)
        both_widths(d, env, "new-case")
        # A bad date, and no sex (required): the browser's own checks
        # are taken away to reach the server's.
        _fill(d, "person.full_name", "FAKE Nguyễn Thị Mai")
        _fill(d, "person.birth_year", "2001")
        _fill(d, "person.category", "victim")
        _fill(d, "person.home_province", "ha-noi")
        d.find_element(By.CSS_SELECTOR, 'input[name="trafficking.purposes"]'
                       '[value="forced_marriage"]').click()
        _fill(d, "trafficking.destination_country", "cn")
        _fill(d, "intake.received_on", "31/02/2026")
        _fill(d, "intake.source", "border_guard")
        _fill(d, "services.1.type", "medical")
        _fill(d, "services.1.on", "02/03/2026")
        _fill(d, "services.1.amount_vnd", "1.500.000")
        _fill(d, "services.1.days", "3")
        d.execute_script("for (const e of document.querySelectorAll("
                         "'[required]')) e.removeAttribute('required')")
        d.find_element(By.CSS_SELECTOR, "#newcase button.primary").click()
        err = d.find_element(By.ID, "intake.received_on-err").text
        check("ngày" in err.lower(), err)
        err = d.find_element(By.ID, "person.sex-err").text
        check(err == "Bắt buộc.", err)
        check(d.find_element(By.NAME, "person.full_name").get_attribute(
            "value") == "FAKE Nguyễn Thị Mai", "the name was not kept")
        check(d.find_element(By.NAME, "intake.received_on").get_attribute(
            "value") == "31/02/2026", "the date was not kept")
        check(d.find_element(By.CSS_SELECTOR, 'input[name="trafficking.'
                             'purposes"][value="forced_marriage"]')
              .is_selected(), "the purpose was not kept")
        check(p.ids() == [], "a refused case was saved")
        both_widths(d, env, "new-case-errors")
        # Corrected: saved.
        _fill(d, "intake.received_on", "01/03/2026")
        _fill(d, "person.sex", "female")
        d.find_element(By.CSS_SELECTOR, "#newcase button.primary").click()
        harness.wait_for(lambda: "saved=new" in d.current_url, 10,
                         what="the saved case")
        cid = re.search(r"/cases/([0-9a-f-]{36})", d.current_url).group(1)
        case = p.get(cid)
        check(case["person"]["full_name"] == "FAKE Nguyễn Thị Mai" and
              case["person"]["sex"] == "female" and
              case["intake"]["received_on"] == "2026-03-01" and
              case["trafficking"]["destination_country"] == "CN" and
              case["status"] == "reported", case)
        check(case["services"][0]["amount_vnd"] == 1500000 and
              case["services"][0]["type"] == "medical", case)
        # A service from the case page: a bad date first, answered on a
        # page of its own with the error next to the date.
        f = d.find_element(By.ID, "service")
        _fill(d, "services.type", "essential_needs")
        _fill(d, "services.on", "32/03/2026")
        _fill(d, "services.days", "30")
        d.execute_script("for (const e of document.querySelectorAll("
                         "'[required]')) e.removeAttribute('required')")
        f.find_element(By.CSS_SELECTOR, "button.primary").click()
        # The answer is a page of its own: wait for it, under load the
        # click can return before the navigation has finished.
        harness.wait_for(lambda: d.find_elements(
            By.ID, "service-services.on-err"), 10, what="the date's error")
        err = d.find_element(By.ID, "service-services.on-err").text
        check("ngày" in err.lower(), err)
        check(len(p.get(cid)["services"]) == 1, "a refused service saved")
        both_widths(d, env, "action-error")
        _fill(d, "services.on", "03/03/2026")
        d.find_element(By.CSS_SELECTOR, "#service button.primary").click()
        harness.wait_for(lambda: "saved=service" in d.current_url, 10,
                         what="the service")
        check(len(p.get(cid)["services"]) == 2)
        # The status along the lifecycle.
        d.find_element(By.CSS_SELECTOR, '#status input[value='
                       '"under_verification"]').click()
        d.find_element(By.CSS_SELECTOR, "#status button.primary").click()
        harness.wait_for(lambda: "saved=status" in d.current_url, 10,
                         what="the status")
        check(p.get(cid)["status"] == "under_verification")
        both_widths(d, env, "case-page")
        # The edit form fits as well.
        d.get(con.url + "/cases/%s/edit" % cid)
        both_widths(d, env, "case-edit")
        # Referred to Hà Nội.
        d.get(con.url + "/cases/" + cid)
        _fill(d, "to", "ha-noi")
        _fill(d, "reason", "FAKE về tỉnh nhà để tái hòa nhập")
        d.find_element(By.CSS_SELECTOR, "#transfer button.primary").click()
        harness.wait_for(lambda: "saved=referred" in d.current_url, 10,
                         what="the referral")
        banner = d.find_element(By.ID, "syncbanner").text
        check("4 thay đổi đang chờ" in banner, banner)   # add, service,
        # status, referral
    finally:
        d.quit()
    check(p.get(cid)["owner"] == "lao-cai")
    ok(p.sync())
    case = c.get(cid)
    check(case["owner"] == "lao-cai" and len(case["services"]) == 2 and
          case["referrals"][0]["to"] == "ha-noi" and
          case["referrals"][0]["status"] == "proposed", case)
    hist = ok(c.cli("case", "history", cid, "--json")).json()
    check({h["author"] for h in hist} == {"cw@lao-cai"}, hist)
    check(all(h["signature"] == "verified" for h in hist), hist)


def test_browser_offline_province(env):
    """Central stopped: the province's console records and changes cases;
    the banner says what waits; all of it reaches central at the next
    sync, and the banner says so."""
    from selenium.webdriver.common.by import By

    c = env.central()          # not started: central is down
    p = env.province("lao-cai", c)
    r = p.sync(timeout=10)
    check(r.rc != 0, "synced with a stopped central: %r" % r)
    con = Console(p)
    d = browser()
    try:
        sign_in(d, con, "cw")
        d.get(con.url + "/cases/new?lang=en")
        check("Not yet synced with central" in
              d.find_element(By.ID, "syncbanner").text)
        _fill(d, "person.full_name", "FAKE Offline Person")
        _fill(d, "person.sex", "male")
        _fill(d, "person.category", "being_identified")
        _fill(d, "intake.received_on", "2026-04-05")
        d.find_element(By.CSS_SELECTOR, "#newcase button.primary").click()
        harness.wait_for(lambda: "saved=new" in d.current_url, 10,
                         what="the saved case")
        cid = re.search(r"/cases/([0-9a-f-]{36})", d.current_url).group(1)
        _fill(d, "notes.text", "FAKE first interview done")
        d.find_element(By.CSS_SELECTOR, "#note button.primary").click()
        harness.wait_for(lambda: "saved=note" in d.current_url, 10,
                         what="the note")
        d.find_element(By.ID, "followup-notes.on").send_keys("2026-04-20")
        d.find_element(By.ID, "followup-notes.text").send_keys(
            "FAKE visit at home")
        d.find_element(By.CSS_SELECTOR, "#followup button.primary").click()
        harness.wait_for(lambda: "saved=followup" in d.current_url, 10,
                         what="the follow-up")
        check("follow-up" in d.find_element(By.ID, "notes").text)
        banner = d.find_element(By.ID, "syncbanner").text
        check("3 changes waiting" in banner, banner)
        c.start()
        ok(p.sync())
        d.get(con.url + "/cases/" + cid)
        banner = d.find_element(By.ID, "syncbanner").text
        check("Every change here has reached central" in banner and
              "Last sync with central" in banner, banner)
    finally:
        d.quit()
    case = c.get(cid)
    check(case["person"]["full_name"] == "FAKE Offline Person" and
          len(case["notes"]) == 2, case)
    check(any(n["id"].startswith("followup-") for n in case["notes"]), case)


def test_banner_shows_central_refusal(env):
    """A change central refuses (the case was referred away at central
    before the province learnt of it): the province's banner says so."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(6, status="identified"))
    ok(p.sync())
    ok(c.cli("case", "transfer", cid, "--to", "ha-noi"), "transfer")
    con = Console(p)
    cw = con.client()
    cw.login("cw")
    r = cw.post("/api/cases/" + cid, {"status": "receiving_support"})
    check(r.status == 200, r)
    page = cw.get("/cases?lang=en").text()
    check("1 change waiting to go" in page, page[:3000])
    ok(p.sync())
    page = cw.get("/cases?lang=en").text()
    m = re.search(r'<div class="banner bad" id="syncbanner".*?</div></div>',
                  page, re.S)
    check(m and "Central refused 1 change from here" in m.group(0),
          page[:3000])
    # The notice carried central's own reason for that change, and the
    # banner links to its case, in English and in Vietnamese.
    ok(p.sync())
    for lang, want in (("en", "Latest reason:"), ("vi", "Lý do gần nhất:")):
        page = cw.get("/cases?lang=" + lang).text()
        m = re.search(r'<div class="banner bad" id="syncbanner".*?'
                      r'</div></div>', page, re.S)
        check(m, page[:3000])
        banner = html.unescape(m.group(0))
        reason = re.search(r'<q id="refusalreason">(.*?)</q>', banner)
        check(want in banner and reason and "does not own" in
              reason.group(1) and cid in reason.group(1) and
              "refused by central" not in banner, banner)
        check(('href="/cases/%s"' % cid) in banner or
              ('<code>%s</code>' % cid) in banner, banner)
    # Central recorded the same reason.
    log = open(os.path.join(env.tmp, "central.log")).read()
    check(reason.group(1) in log, "central's reason differs")
    # In the browser: the banner's link opens the refused case.
    from selenium.webdriver.common.by import By
    d = browser()
    try:
        sign_in(d, con, "cw")
        d.get(con.url + "/cases?lang=vi")
        b = d.find_element(By.ID, "syncbanner")
        check("Lý do gần nhất" in b.text and "does not own" in
              d.find_element(By.ID, "refusalreason").text, b.text)
        check(cid in d.find_element(By.ID, "refusedcase").text, b.text)
        links = d.find_elements(By.CSS_SELECTOR, "#refusedcase a")
        if links:
            links[0].click()
            harness.wait_for(lambda: cid in d.current_url, 10,
                             what="the refused case's page")
        both_widths(d, env, "banner-refusal")
    finally:
        d.quit()



def test_form_actions_refused(env):
    """The case page's actions check on the server: a bad date, a missing
    province, a step the lifecycle does not allow; each answers the form
    again with the error next to its field, and writes nothing."""
    p = env.province("lao-cai")
    cid = p.add(sample_case(1, status="reported"))
    con = Console(p)
    cw = con.client()
    cw.login("cw")
    csrf = page_csrf(cw)
    for path in ("/cases/new", "/cases/" + cid, "/cases/%s/edit" % cid):
        page = cw.get(path).text()
        check("<script" not in page and "style=" not in page,
              "inline script or style in " + path)
        check(page.count('name="csrf"') == page.count('method="post"'),
              "a form without its CSRF token in " + path)
    n = len(ok(p.cli("case", "history", cid, "--json")).json())
    r = form_post(cw, "/cases/%s/service?lang=en" % cid, {
        "csrf": csrf, "services.type": "medical", "services.on": "2026-13-01",
        "services.amount_vnd": "1.500.000"})
    check(r.status == 400 and 'id="service-services.on-err"' in r.text() and
          "Not a real date" in r.text(), r)
    check('value="1.500.000"' in r.text(), "the amount was not kept")
    r = form_post(cw, "/cases/%s/transfer?lang=en" % cid, {
        "csrf": csrf, "to": "", "reason": "x"})
    check(r.status == 400 and 'id="transfer-to-err"' in r.text(), r)
    r = form_post(cw, "/cases/%s/status?lang=en" % cid, {
        "csrf": csrf, "status": "closed"})
    check(r.status == 400 and "does not go from" in r.text(), r)
    r = form_post(cw, "/cases/%s/note" % cid, {"csrf": "0" * 64,
                                               "notes.text": "x"})
    check(r.status == 403, r)
    check(len(ok(p.cli("case", "history", cid, "--json")).json()) == n,
          "a refused action was written")
    check(p.get(cid)["status"] == "reported")
    r = form_post(cw, "/cases/%s/status" % cid, {
        "csrf": csrf, "status": "under_verification"})
    check(r.status == 303, r)
    check(p.get(cid)["status"] == "under_verification")


def test_edit_forged_base_ignored(env):
    """A form whose base stamp lies in the future (forged) does not make
    the field immune to later writes: the store takes the current stamp,
    and central accepts the change."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(2, status="reported"))
    ok(p.sync())
    con = Console(p)
    cw = con.client()
    cw.login("cw")
    form = hidden_inputs(cw.get("/cases/%s/edit" % cid).text())
    fields = dict(form)
    for k, v in form.items():
        if k.startswith("orig."):
            fields[k[5:]] = v
    fields["person.birth_year"] = "1977"
    fields["base.person.birth_year"] = "%d:central" % (1 << 62)
    r = form_post(cw, "/cases/%s/edit" % cid, fields)
    check(r.status == 303 and "conflict=" not in r.headers["location"], r)
    ok(p.sync())
    check(c.get(cid)["person"]["birth_year"] == 1977, "central refused it")
    c.update(cid, {"person": {"birth_year": 1978}})
    ok(p.sync())
    case = p.get(cid)
    check(case["person"]["birth_year"] == 1978 and case["conflicts"] == 0,
          case)
