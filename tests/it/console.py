"""Helpers for the console tests: start `casesync console` on a node, talk
to its JSON API and pages over HTTPS (self-signed certificate accepted),
and drive Debian's chromium through selenium."""
import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time

import harness
from harness import ok, check

PASSWORDS = {"admin": "admin password 1", "cw": "caseworker pass 2",
             "viewer": "viewer password 3"}


def add_user(node, name, role, password=None):
    password = password or PASSWORDS.get(name, "some password 9")
    return ok(node.cli("user", "add", name, "--role", role,
                       stdin=password + "\n"), "user add " + name)


class Console:
    """`casesync console` on node, with users admin, cw and viewer."""

    def __init__(self, node, users=True, extra=(), plain=False):
        self.node = node
        if users:
            path = os.path.join(node.dir, "users")
            have = [l.split("\t")[0] for l in open(path)] \
                if os.path.exists(path) else []
            for name, role in (("admin", "admin"), ("cw", "caseworker"),
                               ("viewer", "viewer")):
                if name not in have:
                    add_user(node, name, role)
        self.port = harness.free_port()
        self.plain = plain
        self.log = os.path.join(node.env.tmp, node.name + "-console.log")
        args = ["console", "-d", node.dir, "--listen",
                "127.0.0.1:%d" % self.port] + list(extra)
        if plain:
            args.append("--plain-http")
        self.proc = harness.popen(args, stdout=open(self.log, "w"),
                                  stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("console exited: " +
                                     open(self.log).read())
            # Listening, and its start-up lines written.
            if "listening on" in open(self.log).read():
                try:
                    socket.create_connection(("127.0.0.1", self.port),
                                             0.2).close()
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        else:
            raise AssertionError("console did not listen")
        self.url = "%s://127.0.0.1:%d" % ("http" if plain else "https",
                                         self.port)

    def output(self):
        return open(self.log).read()

    def stop(self):
        self.proc.terminate()
        return self.proc.wait(10)

    def client(self):
        return Client(self)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode("utf-8")

    def __repr__(self):
        return "%d %r" % (self.status, self.body[:300])


class Client:
    """One browser-like session: a cookie jar and the CSRF token."""

    def __init__(self, console):
        self.c = console
        self.cookies = {}
        self.csrf = None

    def request(self, method, path, body=None, headers=None, ctype=None):
        if self.c.plain:
            conn = http.client.HTTPConnection("127.0.0.1", self.c.port,
                                              timeout=30)
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", self.c.port,
                                               timeout=30, context=ctx)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in
                                    self.cookies.items())
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            ctype = ctype or "application/json"
        if isinstance(body, str):
            body = body.encode()
        if ctype:
            h["Content-Type"] = ctype
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                val = rest.split(";")[0]
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = val
        conn.close()
        return Response(r.status, {k.lower(): v for k, v in
                                   r.getheaders()}, data)

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None, csrf=True):
        h = {}
        if csrf and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        return self.request("POST", path, body if body is not None else
                            {}, headers=h)

    def login(self, user, password=None, expect=200):
        r = self.request("POST", "/api/login",
                         {"user": user,
                          "password": password or PASSWORDS[user]})
        check(r.status == expect, "login %s: %r" % (user, r))
        if r.status == 200:
            self.csrf = r.json()["csrf"]
        return r


def browser():
    """Headless chromium through chromedriver (Debian's packages)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--no-first-run", "--ignore-certificate-errors",
              "--lang=en-US",
              "--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-")):
        o.add_argument(a)
    o.accept_insecure_certs = True
    o.binary_location = "/usr/bin/chromium"
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                         options=o)
    d.set_window_size(1280, 900)
    d.set_page_load_timeout(30)
    return d


def sign_in(d, console, user, password=None):
    from selenium.webdriver.common.by import By

    d.get(console.url + "/login")
    d.find_element(By.ID, "user").send_keys(user)
    d.find_element(By.ID, "password").send_keys(password or PASSWORDS[user])
    d.find_element(By.CSS_SELECTOR, "button.primary").click()
    harness.wait_for(lambda: "/login" not in d.current_url, 10,
                     what="sign-in of " + user)


def screenshot(d, path, width):
    """A full-page screenshot at width px."""
    d.set_window_size(width, 900)
    h = d.execute_script("return document.documentElement.scrollHeight")
    d.set_window_size(width, min(max(h + 130, 700), 6000))
    d.save_screenshot(path)
    return d.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
