"""The local multi-node demo (deploy/demo.sh, `make demo`), shortened: it
runs end to end, shows a night with central down (sync exit 3) and the
catch-up, prints the national report, writes a well-formed HTML report,
and leaves no process and no temporary folder behind."""
import html.parser
import os
import subprocess
import time

from harness import BIN, ROOT, check


def demo_processes(tmp):
    """casesync processes whose command line names the demo's folder."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if any("casesync" in a for a in args[:1]) and \
                any(tmp in a for a in args):
            found.append((pid, " ".join(args)))
    return found


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.svgs, self.bad = [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self.svgs += 1
        if tag != "meta":
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass                # <meta .../>, <rect .../>: nothing to close

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.bad += 1


def test_demo_end_to_end(env):
    out = os.path.join(env.tmp, "out")
    e = dict(os.environ, DEMO_NIGHTS="2", DEMO_PROVINCES="4",
             DEMO_CASES="6", DEMO_TMPDIR=env.tmp, DEMO_OUT=out,
             CASESYNC_BIN=BIN)
    t0 = time.monotonic()
    p = subprocess.Popen(["sh", os.path.join(ROOT, "deploy", "demo.sh")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=e)
    try:
        log, _ = p.communicate(timeout=180)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    dt = time.monotonic() - t0
    check(p.returncode == 0, "demo failed (rc %s):\n%s" % (p.returncode,
                                                         log[-3000:]))
    check(dt < 170, "demo took %.1f s" % dt)
    # Night 2: central is down, every province's sync exits 3 ...
    check(log.count(" exit 3 ") == 4, "expected four failed syncs:\n" + log)
    # ... and the catch-up succeeds for all four.
    catch = log.split("== catch-up", 1)[1].split("==", 1)[0]
    check(catch.count(" exit 0 ") == 4, "catch-up:\n" + catch)
    # Reception: the receiving provinces accept all but one referral.
    import re
    m = re.search(r"accepted (\d+) referrals, declined (\d)", log)
    check(m and int(m.group(1)) >= 1 and m.group(2) == "1",
          "reception:\n" + log[-3000:])
    for want in ("== sync summary", "== national report 2025",
                 "Cases received: ", "Sex \u00d7 age band",
                 "share with at least one service", "report.html"):
        check(want in log, "missing %r in:\n%s" % (want, log[-2000:]))
    # Every province's cases reached central: 4 provinces, 2 nights.
    summary = log.split("== sync summary", 1)[1].split("==", 1)[0]
    rows = [l.split() for l in summary.splitlines()[2:] if l.strip()]
    nodes = {r[0]: int(r[2]) for r in rows if len(r) > 3 and
             r[2].isdigit()}
    check(len(nodes) == 5, "summary rows: %r" % rows)
    check(nodes["central"] >= sum(v for k, v in nodes.items()
                                  if k != "central") - 8,
          "central should hold (nearly) every case: %r" % nodes)
    page = os.path.join(out, "report.html")
    check(os.path.exists(page) and os.path.exists(
        os.path.join(out, "report.txt")), "report files")
    t = Tags()
    t.feed(open(page, encoding="utf-8").read())
    check(t.bad == 0 and t.stack == [] and t.svgs == 12,
          "html: %d unbalanced, open %r, %d charts" % (t.bad, t.stack,
                                                       t.svgs))
    # Central's console: signed in with headless Chromium, screenshots.
    for name in ("dashboard", "conflicts", "sync", "referrals", "new-case",
                 "case"):
        for suffix in ("", "-phone"):
            f = os.path.join(out, "console-%s%s.png" % (name, suffix))
            check(os.path.exists(f) and open(f, "rb").read(8) ==
                  b"\x89PNG\r\n\x1a\n", "no screenshot " + f)
    # The same page in Vietnamese (--lang vi).
    vi = open(os.path.join(out, "report-vi.html"), encoding="utf-8").read()
    t = Tags()
    t.feed(vi)
    check(t.bad == 0 and t.stack == [] and t.svgs == 12, "vi html")
    check('<html lang="vi">' in vi and
          "H\u1ed3 s\u01a1 theo gi\u1edbi t\u00ednh" in vi, "vi labels")
    # Nothing left behind: no process, no temporary folder.
    time.sleep(0.2)
    check(demo_processes(env.tmp) == [], "left running: %r" %
          demo_processes(env.tmp))
    left = [f for f in os.listdir(env.tmp) if f.startswith("casesync-demo")]
    check(left == [], "temporary folder left: %r" % left)


def test_demo_keep_leaves_the_console_running(env):
    """deploy/demo.sh --keep (make demo KEEP=1): the console stays up with
    the printed URL and password until Ctrl-C, which stops everything."""
    import re
    import signal
    from console import Client

    e = dict(os.environ, DEMO_NIGHTS="1", DEMO_PROVINCES="2",
             DEMO_CASES="3", DEMO_TMPDIR=env.tmp,
             DEMO_OUT=os.path.join(env.tmp, "out"), CASESYNC_BIN=BIN)
    p = subprocess.Popen(["sh", os.path.join(ROOT, "deploy", "demo.sh"),
                          "--keep"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=e,
                         start_new_session=True)
    seen = ""
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and "Ctrl-C" not in seen:
            line = p.stdout.readline()
            if not line:
                break
            seen += line
        url = re.search(r"console:  https://127\.0\.0\.1:(\d+)/", seen)
        pw = re.search(r"password: (\S+)", seen)
        check(url and pw, "no URL or password:\n" + seen[-2000:])
        time.sleep(1)
        check(p.poll() is None, "the demo ended")

        class Con:
            port, plain = int(url.group(1)), False
        cl = Client(Con)
        r = cl.request("POST", "/api/login", {"user": "demo-admin",
                                              "password": pw.group(1)})
        check(r.status == 200, r)
        cl.csrf = r.json()["csrf"]
        check(cl.get("/api/status").json()["cases"] > 0)
        os.killpg(p.pid, signal.SIGINT)
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    time.sleep(0.3)
    check(demo_processes(env.tmp) == [], "left running: %r" %
          demo_processes(env.tmp))
    left = [f for f in os.listdir(env.tmp) if f.startswith("casesync-demo")]
    check(left == [], "temporary folder left: %r" % left)


def test_demo_stops_everything_when_interrupted(env):
    """A demo stopped half way (SIGTERM) still stops central and removes
    its folder."""
    e = dict(os.environ, DEMO_NIGHTS="3", DEMO_PROVINCES="3",
             DEMO_TMPDIR=env.tmp, DEMO_OUT=os.path.join(env.tmp, "out"),
             CASESYNC_BIN=BIN)
    p = subprocess.Popen(["sh", os.path.join(ROOT, "deploy", "demo.sh")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=e)
    deadline = time.monotonic() + 60
    seen = ""
    try:
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            seen += line
            if "central listening" in line or not line:
                break
        check("central listening" in seen, "demo did not start:\n" + seen)
        check(demo_processes(env.tmp) != [], "central should be running")
        p.terminate()
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    time.sleep(0.3)
    check(demo_processes(env.tmp) == [], "left running: %r" %
          demo_processes(env.tmp))
    left = [f for f in os.listdir(env.tmp) if f.startswith("casesync-demo")]
    check(left == [], "temporary folder left: %r" % left)
