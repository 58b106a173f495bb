"""Helpers for the console tests: start `casesync console` on a node, talk
to its JSON API and pages over HTTPS (self-signed certificate accepted),
and drive Debian's chromium through selenium."""
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time

import harness
from harness import ok, check

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "deploy"))
import webshot  # noqa: E402

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


def browser(lang="en-US"):
    """Headless chromium through chromedriver (Debian's packages)."""
    return webshot.browser(lang)


def sign_in(d, console, user, password=None):
    ok_ = webshot.sign_in(d, console.url, user,
                          password or PASSWORDS[user], timeout=10)
    check(ok_, "sign-in of " + user)


def screenshot(d, path, width):
    """A full-page screenshot at width px; True when it does not scroll
    sideways."""
    return webshot.screenshot(d, path, width)
