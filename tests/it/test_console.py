"""The web console (issue 13): `casesync user`, the JSON API with its
security rules, the limits, and the pages in a real browser (Debian's
chromium and chromedriver through selenium).

Each test starts real nodes and a real `casesync console` on 127.0.0.1
over HTTPS with the self-signed certificate it makes at first start."""
import json
import os
import re
import socket
import threading
import time

import harness
from harness import ok, check, sample_case
from console import Console, add_user, browser, sign_in, PASSWORDS

XSS = "<img src=x onerror=alert(1)>"


def edit_both(env, pv, cv, path="status"):
    """A case of lao-cai, synced; then path edited on lao-cai and on
    central before the next sync: one open conflict."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(1, status="reported"))
    ok(p.sync(), "first sync")
    group, _, name = path.rpartition(".")

    def doc(v):
        return {group: {name: v}} if group else {name: v}

    p.update(cid, doc(pv))
    c.update(cid, doc(cv))
    ok(p.sync(), "sync after the concurrent edits")
    return c, p, cid


# ---- casesync user -------------------------------------------------------

def test_user_verbs(env):
    c = env.central()
    r = c.cli("user", "add", "minh", "--role", "admin", stdin="short\n")
    check(r.rc == 2 and "too short" in r.err, r)
    ok(c.cli("user", "add", "minh", "--role", "admin",
             stdin="long enough password\n"))
    r = c.cli("user", "add", "minh", "--role", "viewer",
              stdin="long enough password\n")
    check(r.rc == 2 and "exists" in r.err, r)
    r = c.cli("user", "add", "Bad Name", "--role", "viewer", stdin="x\n")
    check(r.rc == 1, r)
    r = c.cli("user", "add", "lan", "--role", "root", stdin="x\n")
    check(r.rc == 1 and "--role" in r.err, r)
    r = c.cli("user", "add", "lan", "--role", "viewer", "--password", "x")
    check(r.rc == 1, "a password on the command line: %r" % r)
    ok(c.cli("user", "add", "lan", "--role", "viewer",
             stdin="another password\n"))
    users = ok(c.cli("user", "list", "--json")).json()
    check([(u["name"], u["role"], u["disabled"]) for u in users] ==
          [("minh", "admin", False), ("lan", "viewer", False)], users)
    ok(c.cli("user", "disable", "lan"))
    check(ok(c.cli("user", "list", "--json")).json()[1]["disabled"])
    r = c.cli("user", "passwd", "nobody", stdin="a new password\n")
    check(r.rc == 2 and "no user" in r.err, r)
    ok(c.cli("user", "passwd", "minh", stdin="a new password\n"))
    text = open(os.path.join(c.dir, "users")).read()
    check("$argon2id$v=19$m=65536,t=3,p=1$" in text, text)
    check("long enough" not in text and "a new password" not in text)
    check(oct(os.stat(os.path.join(c.dir, "users")).st_mode & 0o777) ==
          "0o600")
    audit = open(os.path.join(c.dir, "audit.log")).read()
    check("user.add" in audit and "user.disable" in audit and
          "user.passwd" in audit, audit)
    ok(c.cli("user", "--help"))
    # A user's language: refused values, then English for minh whatever
    # the browser asks, and the browser's choice again after "browser".
    r = c.cli("user", "lang", "minh", "fr")
    check(r.rc == 1 and "vi, en or browser" in r.err, r)
    r = c.cli("user", "lang", "nobody", "en")
    check(r.rc == 2 and "no user" in r.err, r)
    ok(c.cli("user", "lang", "minh", "en"))
    check("user.lang" in open(os.path.join(c.dir, "audit.log")).read())
    # A disabled user cannot sign in; the others can.
    con = Console(c, users=False)
    cl = con.client()
    cl.login("lan", "another password", expect=401)
    cl.login("minh", "a new password", expect=200)
    page = cl.request("GET", "/", headers={"Accept-Language": "vi"}).text()
    check('<html lang="en"' in page, page[:300])
    ok(c.cli("user", "lang", "minh", "browser"))
    page = cl.request("GET", "/", headers={"Accept-Language": "vi"}).text()
    check('<html lang="vi"' in page, page[:300])


# ---- the API and its security rules ---------------------------------------

def test_api_security(env):
    c = env.central()
    c.add(sample_case(1))
    con = Console(c)
    out = con.output()
    check(re.search(r"certificate SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}",
                    out), out)
    cl = con.client()
    r = cl.get("/api/status")
    check(r.status == 401 and r.json()["error"] == "not signed in", r)
    r = cl.get("/")
    check(r.status == 303 and r.headers["location"] == "/login", r)
    r = cl.get("/login")
    h = r.headers
    check(h["content-security-policy"].startswith("default-src 'self'"), h)
    check(h["x-frame-options"] == "DENY", h)
    check(h["referrer-policy"] == "no-referrer", h)
    check("<script" not in r.text() and "style=" not in r.text(),
          "inline script or style attribute in the login page")
    cl.login("admin", "wrong password", expect=401)
    r = cl.login("admin")
    check(re.fullmatch(r"[0-9a-f]{64}", r.json()["csrf"]), r)
    cookie = r.headers["set-cookie"]
    check(re.match(r"cs_session=[0-9a-f]{64}; Path=/; HttpOnly; Secure; "
                   r"SameSite=Strict$", cookie), cookie)
    st = cl.get("/api/status")
    check(st.status == 200 and st.json()["cases"] == 1, st)
    # Every POST needs the CSRF token.
    r = cl.post("/api/logout", csrf=False)
    check(r.status == 403 and "CSRF" in r.json()["error"], r)
    r = cl.request("POST", "/api/logout", {}, headers={
        "X-CSRF-Token": "0" * 64})
    check(r.status == 403, r)
    check(cl.get("/api/status").status == 200, "the session ended")
    r = cl.post("/api/logout")
    check(r.status == 200, r)
    check(cl.get("/api/status").status == 401, "still signed in")
    # A form POST without its token is refused too.
    cl.login("admin")
    r = cl.request("POST", "/logout", "x=1",
                   ctype="application/x-www-form-urlencoded")
    check(r.status == 403, r)
    # Bad input: JSON errors with a 400, unknown paths 404, methods 405.
    r = cl.request("POST", "/api/conflicts/0123456789abcdef/resolve",
                   "{", headers={"X-CSRF-Token": cl.csrf},
                   ctype="application/json")
    check(r.status == 400 and "error" in r.json(), r)
    check(cl.get("/api/nothing").status == 404)
    check(cl.request("DELETE", "/api/status").status == 405)
    r = cl.get("/api/cases/not-a-case")
    check(r.status == 400, r)
    r = cl.get("/api/conflicts/0123456789abcdef")
    check(r.status == 404 and "no open conflict" in r.json()["error"], r)
    r = cl.post("/api/conflicts/0123456789abcdef/resolve",
                {"keep": "winner", "reason": "test"})
    check(r.status == 404 and r.json()["error"].startswith(
        "no open conflict 0123456789abcdef on this node"), r)


def test_api_login_throttle(env):
    c = env.central()
    con = Console(c)
    cl = con.client()
    codes = [cl.request("POST", "/api/login",
                        {"user": "admin", "password": "wrong %d" % i}).status
             for i in range(5)]
    check(codes == [401, 401, 401, 401, 429], codes)
    r = cl.request("POST", "/api/login", {"user": "admin",
                                          "password": PASSWORDS["admin"]})
    check(r.status == 429 and int(r.headers["retry-after"]) > 0,
          "the right password during the lock: %r" % r)
    # Another user from the same address is not locked yet.
    con.client().login("cw")
    audit = open(os.path.join(c.dir, "audit.log")).read()
    check(audit.count('"login.fail"') == 5 and "login.throttled" in audit,
          audit)


def test_api_session_timeout(env):
    c = env.central()
    con = Console(c, extra=["--idle", "2s"])
    cl = con.client()
    cl.login("viewer")
    check(cl.get("/api/status").status == 200)
    time.sleep(1.2)
    check(cl.get("/api/status").status == 200, "idle reset")
    time.sleep(2.5)
    r = cl.get("/api/status")
    check(r.status == 401, "a session past its idle timeout: %r" % r)


def test_api_roles_resolve_audit(env):
    c, p, cid = edit_both(env, "identified", "not_victim")
    con = Console(c)
    viewer, cw, admin = con.client(), con.client(), con.client()
    viewer.login("viewer")
    cw.login("cw")
    admin.login("admin")
    check(viewer.get("/api/status").status == 200)
    check(viewer.get("/api/report?year=2026").status == 200)
    for path in ("/api/cases", "/api/cases/" + cid, "/api/conflicts",
                 "/api/audit", "/cases", "/conflicts", "/audit"):
        r = viewer.get(path)
        check(r.status == 403, "viewer %s: %r" % (path, r))
    cfs = cw.get("/api/conflicts").json()["conflicts"]
    check(len(cfs) == 1 and cfs[0]["case"] == cid, cfs)
    cf = cfs[0]
    check(cf["winner"]["signature"] == "verified" and
          cf["loser"]["signature"] == "verified", cf)
    r = cw.post("/api/conflicts/%s/resolve" % cf["id"],
                {"keep": "loser", "reason": "phone call"})
    check(r.status == 403 and "role" in r.json()["error"], r)
    r = admin.post("/api/conflicts/%s/resolve" % cf["id"],
                   {"keep": "loser"})
    check(r.status == 400 and "reason" in r.json()["error"], r)
    r = admin.post("/api/conflicts/%s/resolve" % cf["id"],
                   {"keep": "maybe", "reason": "x"})
    check(r.status == 400, r)
    r = admin.post("/api/conflicts/%s/resolve" % cf["id"],
                   {"value": "bogus", "reason": "x"})
    check(r.status == 400 and "status" in r.json()["error"], r)
    loser = cf["loser"]["value"]
    r = admin.post("/api/conflicts/%s/resolve" % cf["id"],
                   {"keep": "loser", "reason": "confirmed with the province"})
    check(r.status == 200 and r.json()["value"] == loser, r)
    check(admin.get("/api/conflicts").json()["conflicts"] == [])
    r = admin.post("/api/conflicts/%s/resolve" % cf["id"],
                   {"keep": "loser", "reason": "again"})
    check(r.status == 404, r)
    # The author is the signed-in user; the reason is in the same entry.
    hist = cw.get("/api/cases/%s/history" % cid).json()
    last = hist[-1]
    check(last["author"] == "admin@central" and
          last["signature"] == "verified", last)
    ops = {o["op"]: o for o in last["ops"]}
    check(ops["set"].get("resolution") and ops["set"]["value"] == loser,
          last)
    check(ops["add"]["collection"] == "notes" and
          ops["add"]["id"] == "resolution-" + cf["id"] and
          ops["add"]["event"]["text"] == "confirmed with the province", last)
    check(cw.get("/api/cases/" + cid).json()["status"] == loser)
    # The audit log lists the views and the resolution.
    log = admin.get("/api/audit").json()
    acts = [(a["user"], a["action"], a["case"]) for a in log]
    check(("cw", "case.view", cid) in acts, acts)
    check(("cw", "case.history", cid) in acts, acts)
    check(("admin", "conflict.resolve", cid) in acts, acts)
    check(("admin", "login", "") in acts, acts)
    # The province gets the resolution and its reason at its next sync.
    ok(p.sync())
    check(p.get(cid)["status"] == loser)
    notes = p.get(cid)["notes"]
    check(any(n.get("text") == "confirmed with the province"
              for n in notes), notes)
    check(c.verify().rc == 0 and p.verify().rc == 0)


def test_api_cases_search(env):
    c = env.central()
    ids = [c.add(sample_case(i, person={"full_name": n, "sex": "female"}))
           for i, n in enumerate(["FAKE Nguyễn Thị Ánh", "FAKE Trần Văn Bình",
                                  "FAKE Nguyễn Văn Cường", XSS])]
    con = Console(c)
    cw = con.client()
    cw.login("cw")

    def names(q):
        r = cw.get("/api/cases?q=" + q)
        check(r.status == 200, r)
        return sorted(x["full_name"] for x in r.json()["cases"])

    check(names("nguyen") == ["FAKE Nguyễn Thị Ánh", "FAKE Nguyễn Văn Cường"],
          names("nguyen"))
    check(names("Nguy%E1%BB%85n%20van") == ["FAKE Nguyễn Văn Cường"])
    check(names("anh") == ["FAKE Nguyễn Thị Ánh"])
    check(names("onerror") == [XSS])
    check(names("zzz") == [])
    r = cw.get("/api/cases?q=" + ids[1][:33]).json()["cases"]
    check([x["id"] for x in r] == [ids[1]], r)
    # Renamed: the index follows; erased: the name is gone from it.
    c.update(ids[1], {"person": {"full_name": "FAKE Lê Thị Dung"}})
    check(names("binh") == [] and names("dung") == ["FAKE Lê Thị Dung"])
    ok(c.cli("case", "erase", ids[0]))
    check(names("anh") == [])
    # The index holds no name in clear.
    check(not c.files_contain("Cường".encode()), "a name in clear")


# ---- limits --------------------------------------------------------------

def test_garbage_and_slow_clients(env):
    c = env.central()
    con = Console(c)
    socks = []
    for i in range(300):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", con.port))
            if i % 3 == 0:
                s.sendall(os.urandom(200))
            elif i % 3 == 1:
                s.sendall(b"\x16\x03\x01\x02\x00" + os.urandom(64))
            # else: a slow client that says nothing
            socks.append(s)
        except OSError:
            s.close()
    # While they hang on, and after they are dropped, it still answers.
    cl = con.client()
    harness.wait_for(lambda: _try_login(cl), 30, 0.5,
                     "a sign-in beside 300 bad connections")
    for s in socks:
        s.close()
    time.sleep(0.5)
    r = cl.get("/api/status")
    check(r.status == 200, "after the bad connections: %r" % r)
    check(con.proc.poll() is None, "the console died")
    # A body over the limit is refused, the console goes on.
    r = cl.request("POST", "/api/login", "x" * (128 * 1024),
                   ctype="application/json")
    check(r.status == 413, r)
    r = cl.get("/api/status")
    check(r.status == 200, "after a body too large: %r" % r)


def _try_login(cl):
    try:
        return cl.request("POST", "/api/login",
                          {"user": "admin", "password":
                           PASSWORDS["admin"]}).status == 200
    except OSError:
        return False


def test_plain_http_loopback_only(env):
    c = env.central()
    r = c.cli("console", "--listen", "0.0.0.0:0", "--plain-http")
    check(r.rc == 1 and "loopback" in r.err, r)
    con = Console(c, plain=True)
    check(con.url.startswith("http://"))
    check(con.client().get("/login").status == 200)
    check(not os.path.exists(os.path.join(c.dir, "console.key")))


# ---- in the browser --------------------------------------------------------

def test_browser_resolve_by_clicking(env):
    from selenium.webdriver.common.by import By

    c, p, cid = edit_both(env, "identified", "not_victim")
    con = Console(c)
    d = browser()
    try:
        sign_in(d, con, "admin")
        check(d.find_element(By.TAG_NAME, "h1").text in ("Dashboard",
                                                         "Tổng quan"))
        d.get(con.url + "/conflicts")
        art = d.find_element(By.CSS_SELECTOR, "article.conflict")
        loser = art.find_elements(By.CSS_SELECTOR, ".side")[1].find_element(
            By.CSS_SELECTOR, ".value").text
        check("signature verified" in art.text or "đã xác minh" in art.text,
              art.text)
        art.find_element(By.CSS_SELECTOR,
                         "input[name=keep][value=loser]").click()
        # The reason is required: the browser refuses an empty one.
        art.find_element(By.CSS_SELECTOR, "button.primary").click()
        check(d.find_elements(By.CSS_SELECTOR, "article.conflict"),
              "resolved without a reason")
        art.find_element(By.NAME, "reason").send_keys("the province's call")
        art.find_element(By.CSS_SELECTOR, "button.primary").click()
        harness.wait_for(lambda: "resolved=" in d.current_url, 10,
                         what="the redirect after resolving")
        check(not d.find_elements(By.CSS_SELECTOR, "article.conflict"),
              "still listed")
    finally:
        d.quit()
    ok(p.sync())
    case = p.get(cid)
    check(case["status"] == loser and case["conflicts"] == 0, case)
    # The province's own console shows the reason in the history.
    pcon = Console(p)
    d = browser()
    try:
        sign_in(d, pcon, "cw")
        d.get(pcon.url + "/cases/" + cid)
        hist = d.find_element(By.ID, "history").text
        check("the province's call" in hist and "admin@central" in hist,
              hist)
    finally:
        d.quit()


def test_browser_viewer_sees_no_name(env):
    from selenium.webdriver.common.by import By

    c = env.central()
    for i in range(12):
        c.add(sample_case(i, person={"full_name": "FAKE Secret%d Name" % i,
                                     "sex": "female", "birth_year": 1990}))
    con = Console(c)
    d = browser()
    try:
        sign_in(d, con, "viewer")
        for path in ("/", "/sync", "/?year=2026", "/cases", "/conflicts",
                     "/audit", "/users", "/cases/x"):
            d.get(con.url + path)
            src = d.page_source
            check("Secret" not in src and "FAKEID" not in src,
                  "a name in %s" % path)
        d.get(con.url + "/")
        check(d.find_elements(By.CSS_SELECTOR, ".tile"), "no dashboard")
        nav = d.find_element(By.TAG_NAME, "nav").text
        check("Cases" not in nav and "Hồ sơ" not in nav, nav)
    finally:
        d.quit()
    # The API: no name either.
    cl = con.client()
    cl.login("viewer")
    for path in ("/api/status", "/api/report?year=2026"):
        check(b"Secret" not in cl.get(path).body, path)


def test_browser_name_is_text(env):
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import NoAlertPresentException

    c = env.central()
    cid = c.add(sample_case(1, person={"full_name": XSS}))
    con = Console(c)
    d = browser()
    try:
        sign_in(d, con, "cw")
        d.get(con.url + "/cases/" + cid)
        dd = [e.text for e in d.find_elements(By.CSS_SELECTOR, "dd.ident")]
        check(XSS in dd, dd)
        check(not d.find_elements(By.CSS_SELECTOR, "main img"),
              "the name became an element")
        d.get(con.url + "/cases?q=onerror")
        check(XSS in d.find_element(By.ID, "cases").text)
        try:
            d.switch_to.alert
            raise AssertionError("a script ran")
        except NoAlertPresentException:
            pass
        check("&lt;img src=x" in d.page_source)
    finally:
        d.quit()


def test_revoked_key_entries_tagged(env):
    """A change signed with a key revoked from its position (`revoke
    --from-seq`) is shown as REVOKED, with why, in English and in
    Vietnamese, never as "unsigned" or "verified"; the history API says
    REVOKED as `case history --json` does."""
    c = env.central().start()
    p = env.province("lao-cai", c)
    cid = p.add(sample_case(1))                     # lao-cai/1
    ok(p.sync(), "sync")
    p.update(cid, {"status": "identified"})         # lao-cai/2
    ok(p.sync(), "sync")
    ok(c.cli("revoke", "lao-cai", "--from-seq", "2"), "revoke")
    con = Console(c)
    cl = con.client()
    cl.login("admin")
    hist = cl.get("/api/cases/%s/history" % cid)
    check(hist.status == 200, hist)
    sigs = sorted((e["seq"], e["signature"]) for e in hist.json()
                  if e["node"] == "lao-cai")
    check(sigs == [(1, "verified"), (2, "REVOKED")], sigs)
    page = cl.get("/cases/%s?lang=en" % cid).text()
    entries = re.findall(r'<li class="entry">.*?</li>', page, re.S)
    two = [e for e in entries if "lao-cai/2" in e]
    one = [e for e in entries if "lao-cai/1" in e]
    check(two and 'class="tag bad revoked"' in two[0] and
          ">REVOKED<" in two[0] and "signing key of lao-cai revoked" in
          two[0] and "unsigned" not in two[0] and "verified" not in two[0],
          two)
    check(one and "signature verified" in one[0] and "REVOKED" not in
          one[0], one)
    page = cl.get("/cases/%s?lang=vi" % cid).text()
    two = [e for e in re.findall(r'<li class="entry">.*?</li>', page, re.S)
           if "lao-cai/2" in e]
    check(two and "THU HỒI" in two[0] and "khóa ký của lao-cai đã bị thu "
          "hồi" in two[0], two)
