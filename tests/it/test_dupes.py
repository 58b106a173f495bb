"""Possible duplicates (issue 14, item 4): before a new case is saved,
the cases with the same birth year, sex and home province and a close
name are found on the blind name index; an admin links two cases of one
person, the link replicates, and reports count that person once."""
import json
import os

from harness import check, ok, sample_case


def person_case(i, name, year, sex="female", home="lao-cai"):
    c = sample_case(i)
    c["person"].update({"full_name": name, "birth_year": year, "sex": sex,
                        "home_province": home})
    return c


def report_cases(node):
    r = ok(node.cli("report", "--format", "json", "--min-cell", "1"),
           "report")
    return json.loads(r.out)


def test_duplicates_flagged_and_linked(env):
    from console import Console

    c = env.central().start()
    a = env.province("lao-cai", c)
    first = a.add(person_case(1, "FAKE Nguyễn Thị Lan", 1995))
    a.add(person_case(2, "FAKE Trần Văn Minh", 1995))
    a.add(person_case(3, "FAKE Nguyễn Thị Lan", 1996))
    a.add(person_case(4, "FAKE Nguyễn Thị Lan", 1995, sex="male"))
    a.add(person_case(5, "FAKE Nguyễn Thị Lan", 1995, home="ha-noi"))
    con = Console(a)
    cl = con.client()
    cl.login("viewer")
    check(cl.get("/api/duplicates?full_name=x&birth_year=1995&sex=female"
                  "&home_province=lao-cai").status == 403, "viewer")
    cl = con.client()
    cl.login("cw")

    def dupes(name, year="1995", sex="female", home="lao-cai"):
        from urllib.parse import urlencode
        q = urlencode({"full_name": name, "birth_year": year, "sex": sex,
                       "home_province": home})
        r = cl.get("/api/duplicates?" + q)
        check(r.status == 200, r)
        return [(d["id"], d["match"]) for d in r.json()["duplicates"]]

    # Folded (no diacritics), every word; then all but one word.
    check(dupes("Nguyen Thi Lan") == [(first, "all_words")],
          dupes("Nguyen Thi Lan"))
    check(dupes("fake nguyễn thị lan") == [(first, "all_words")], "case")
    check(dupes("FAKE Nguyen Thi Lann") == [(first, "all_but_one_word")],
          dupes("FAKE Nguyen Thi Lann"))
    check(dupes("FAKE Nguyen Lan") == [(first, "all_words")], "middle")
    check(dupes("Pham Van Hung") == [], "another name")
    check(dupes("Nguyen Thi Lan", year="1990") == [], "another year")
    for q in ("full_name=&birth_year=1995&sex=female&home_province=lao-cai",
              "full_name=x&sex=female&home_province=lao-cai",
              "full_name=x&birth_year=1995&sex=female&home_province=mars",
              "full_name=x&birth_year=1800&sex=female&home_province=lao-cai"):
        r = cl.get("/api/duplicates?" + q)
        check(r.status == 400 and "error" in r.json(), (q, r))
    audit = open(os.path.join(a.dir, "audit.log")).read()
    check("duplicates.view" in audit and "FAKE" not in audit, "audit")

    # The same person recorded again: counted twice until linked.
    before = report_cases(a)
    again = a.add(person_case(6, "FAKE Nguyễn Thị Lan", 1995))
    check(report_cases(a)["cases"] == before["cases"] + 1, "not counted")
    r = cl.post("/api/cases/%s/duplicate-of" % again, {"of": first})
    check(r.status == 403, "a caseworker linked: %r" % r)
    ad = con.client()
    ad.login("admin")
    for body, code in (({"of": again}, 400), ({"of": "x"}, 400), ({}, 400),
                       ({"of": first, "x": 1}, 400)):
        r = ad.post("/api/cases/%s/duplicate-of" % again, body)
        check(r.status == code, (body, r))
    r = ad.post("/api/cases/%s/duplicate-of" % again, {"of": first})
    check(r.status == 200 and r.json()["duplicate_of"] == first, r)
    # Linking the earlier case to the later one would make a cycle.
    r = ad.post("/api/cases/%s/duplicate-of" % first, {"of": again})
    check(r.status == 400, r)
    rep = report_cases(a)
    check(rep["cases"] == before["cases"] and
          rep["duplicates_left_out"] == 1, rep)
    check(a.get(again)["person"]["duplicate_of"] == first, a.get(again))
    # The link replicates: central counts the person once too.
    ok(a.sync(), "sync lao-cai")
    check(c.get(again)["person"]["duplicate_of"] == first, c.get(again))
    rep = report_cases(c)
    check(rep["cases"] == before["cases"] and
          rep["duplicates_left_out"] == 1, rep)
    for n in (a, c):
        ok(n.verify(), "verify " + n.name)


def test_new_case_form_shows_duplicates_before_saving(env):
    """The new-case form: a draft matching a recorded person shows the
    possible duplicates (with a link to open each) and saves nothing; the
    next submit ("save anyway") saves."""
    from urllib.parse import urlencode
    from console import Console
    from test_case_forms import hidden_inputs

    c = env.central()
    a = env.province("lao-cai", c)
    first = a.add(person_case(1, "FAKE Nguyễn Thị Hoa", 1990))
    con = Console(a)
    cl = con.client()
    cl.login("cw")
    page = cl.get("/cases/new")
    csrf = hidden_inputs(page.text())["csrf"]
    fields = {"csrf": csrf, "status": "reported",
              "person.full_name": "FAKE Nguyen Thi Hoa",
              "person.birth_year": "1990", "person.sex": "female",
              "person.home_province": "lao-cai",
              "person.category": "victim",
              "intake.received_on": "2026-11-30"}

    def post(extra=None):
        body = dict(fields, **(extra or {}))
        return cl.request("POST", "/cases/new", urlencode(body),
                          ctype="application/x-www-form-urlencoded")

    n = len(a.ids())
    r = post()
    text = r.text()
    check(r.status == 200 and 'id="duplicates"' in text and
          "/cases/" + first in text, (r.status, text[:2000]))
    check('name="dupes_ok"' in text, "no save-anyway")
    check(len(a.ids()) == n, "saved before the duplicates were seen")
    r = post({"dupes_ok": "1"})
    check(r.status == 303 and "/cases/" in r.headers["location"], r)
    check(len(a.ids()) == n + 1, "not saved")
    # Another person: saved at once.
    r = post({"person.full_name": "FAKE Lê Văn Tám"})
    check(r.status == 303, r)


def test_browser_duplicates_panel(env):
    """In the browser: the possible duplicate is listed, with a link to
    open it, before the case is saved; "save anyway" saves.  The form
    with the panel fits 1280 and 390 px."""
    from selenium.webdriver.common.by import By
    import harness
    from console import Console, browser, sign_in
    from test_case_forms import _fill, both_widths

    c = env.central()
    a = env.province("lao-cai", c)
    first = a.add(person_case(1, "FAKE Nguyễn Thị Hoa", 1990))
    con = Console(a)
    d = browser()
    try:
        sign_in(d, con, "cw")
        d.get(con.url + "/cases/new?lang=vi")
        _fill(d, "person.full_name", "FAKE Nguyen Thi Hoa")
        _fill(d, "person.birth_year", "1990")
        _fill(d, "person.sex", "female")
        _fill(d, "person.category", "victim")
        _fill(d, "person.home_province", "lao-cai")
        _fill(d, "intake.received_on", "30/11/2026")
        d.find_element(By.CSS_SELECTOR, "#newcase button.primary").click()
        panel = d.find_element(By.ID, "duplicates")
        check("FAKE Nguyễn Thị Hoa" in panel.text and
              "trùng" in panel.text, panel.text)
        link = panel.find_element(By.TAG_NAME, "a").get_attribute("href")
        check(link.endswith("/cases/" + first), link)
        check(len(a.ids()) == 1, "saved before the duplicate was seen")
        check(d.find_element(By.NAME, "person.full_name").get_attribute(
            "value") == "FAKE Nguyen Thi Hoa", "the name was not kept")
        both_widths(d, env, "new-case-duplicates")
        d.find_element(By.CSS_SELECTOR, "#newcase button.primary").click()
        harness.wait_for(lambda: "saved=new" in d.current_url, 10,
                         what="the save after the duplicates")
    finally:
        d.quit()
    check(len(a.ids()) == 2, a.ids())


def test_case_page_links_duplicates_and_refuses_cycles(env):
    """An admin links a case to the earlier case of the same person from
    the case page (typed id, CSRF); a link that would lead back (A->B->A,
    A->A, or round a chain C->B->A) is refused there, through the API and
    through `case update`, in the user's language, and nothing is
    written.  A caseworker has no such form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    import harness
    from console import Console, browser, sign_in
    from test_case_forms import _fill, both_widths, form_post

    c = env.central()
    a = env.province("lao-cai", c)
    x = a.add(person_case(1, "FAKE Lê Thị Thu", 1991))
    y = a.add(person_case(2, "FAKE Lê Thị Thu", 1991))
    z = a.add(person_case(3, "FAKE Le Thi Thu", 1991))
    con = Console(a)
    cw = con.client()
    cw.login("cw")
    check('id="duplicate-of"' not in cw.get("/cases/" + y).text(),
          "a caseworker is offered the link")
    d = browser()
    try:
        sign_in(d, con, "admin")
        d.get(con.url + "/cases/%s?lang=vi" % y)
        form = d.find_element(By.ID, "duplicate-of")
        check("Cùng một người với hồ sơ khác" in form.text, form.text)
        _fill(d, "of", x)
        form.find_element(By.CSS_SELECTOR, "button.primary").click()
        harness.wait_for(lambda: d.current_url.endswith("/cases/" + y), 10,
                         what="the link")
        check(a.get(y)["person"]["duplicate_of"] == x, a.get(y))
        check(x in d.find_element(By.ID, "dupe-now").text,
              d.find_element(By.ID, "dupe-now").text)
        both_widths(d, env, "case-duplicate-link")
        # x -> y would close the cycle x -> y -> x.
        d.get(con.url + "/cases/%s?lang=vi" % x)
        _fill(d, "of", y)
        d.find_element(By.CSS_SELECTOR,
                       "#duplicate-of button.primary").click()
        # The click starts a navigation; wait for the answer page.
        err = WebDriverWait(d, 15).until(
            lambda d: d.find_element(By.ID, "dupe-error")).text
        check("vòng lặp" in err, err)
        d.get(con.url + "/cases/%s?lang=en" % x)
        _fill(d, "of", y)
        d.find_element(By.CSS_SELECTOR,
                       "#duplicate-of button.primary").click()
        # The click starts a navigation; wait for the answer page.
        err = WebDriverWait(d, 15).until(
            lambda d: d.find_element(By.ID, "dupe-error")).text
        check("would form a cycle" in err, err)
    finally:
        d.quit()
    check("duplicate_of" not in a.get(x)["person"], a.get(x))
    ad = con.client()
    ad.login("admin")
    # A -> A, through the API, and without the CSRF token.
    r = ad.post("/api/cases/%s/duplicate-of" % x, {"of": x})
    check(r.status == 400, r)
    r = ad.post("/api/cases/%s/duplicate-of" % z, {"of": x}, csrf=False)
    check(r.status == 403, r)
    r = form_post(ad, "/cases/%s/duplicate-of" % z, {"of": x})
    check(r.status == 403, "a form without its CSRF token: %r" % r)
    # A chain z -> y -> x (y linked first, z to y through the log as a
    # sync would bring it), then x -> z closes it: refused by `case
    # update` too, which writes the field directly.
    r = a.cli("case", "update", z, "-",
              stdin=json.dumps({"person": {"duplicate_of": y}}))
    ok(r, "z -> y")
    r = a.cli("case", "update", x, "-",
              stdin=json.dumps({"person": {"duplicate_of": z}}))
    check(r.rc != 0 and "cycle" in r.err, r)
    r = a.cli("case", "update", x, "-",
              stdin=json.dumps({"person": {"duplicate_of": x}}))
    check(r.rc != 0 and "itself" in r.err, r)
    check("duplicate_of" not in a.get(x)["person"], a.get(x))
    # The report counts the person once: x is the root of the chain.
    rep = report_cases(a)
    check(rep["duplicates_left_out"] == 2, rep)
