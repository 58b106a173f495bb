#!/usr/bin/env python3
"""The console at scale (issue 13): central holding BENCH_CONSOLE_CASES
cases (default 100,000), a few dozen open conflicts and 20 referrals
waiting, its console over HTTPS; the median and 95th percentile time of
the conflict queue (API and page), a case page, a name search (API and
page) and the referrals waiting (API and page), over 30 requests
each, from a client on the same machine.  A figure for `make bench`, not
a timed test.  Writes build/bench-console.json.

Run by `make bench`; alone: python3 bench/console.py (after make)."""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CASESYNC_BIN", os.path.join(ROOT, "build", "casesync"))
N = int(os.environ.get("BENCH_CONSOLE_CASES", "100000"))
CONFLICTS = 40
REFERRALS = 20
RUNS = 30
procs = []


def cs(*args, stdin=None):
    r = subprocess.run([BIN] + list(args), input=stdin, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise SystemExit("casesync %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


# The tests' free_port: a port outside the kernel's ephemeral range, never
# handed out twice (tests/it/harness.py says why).
# (Appended, not put first: tests/it has a console.py of its own.)
sys.path.append(os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "it"))
from harness import free_port  # noqa: E402,F401


def wait_port(port):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("nothing listens on %d" % port)


def start(*args):
    p = subprocess.Popen([BIN] + list(args), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    procs.append(p)
    return p


def cpu_ms(pid):
    """User + system CPU time of process pid and its threads, in ms."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def request(port, cookie, path, body=None, csrf=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=60,
                                    context=ctx)
    h = {"Cookie": cookie} if cookie else {}
    if body is not None:
        h["Content-Type"] = "application/json"
    if csrf:
        h["X-CSRF-Token"] = csrf
    c.request("POST" if body is not None else "GET", path,
              body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    data = r.read()
    cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
    c.close()
    return r.status, data, cookies


def main():
    tmp = tempfile.mkdtemp(prefix="casesync-bench-console-")
    try:
        run(tmp)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    c, p = os.path.join(tmp, "central"), os.path.join(tmp, "lao-cai")
    zport = free_port()
    cs("init", "-d", c, "--node", "central", "--role", "central",
       "--listen", "tcp://127.0.0.1:%d" % zport)
    cs("init", "-d", p, "--node", "lao-cai", "--role", "province",
       "--central", "tcp://127.0.0.1:%d" % zport)
    cs("trust", "-d", c, "lao-cai", cs("key", "-d", p).strip())
    cs("trust", "-d", p, "central", cs("key", "-d", c).strip())
    print("console bench: generating and importing %d cases..." % N,
          flush=True)
    t0 = time.monotonic()
    gen = os.path.join(tmp, "cases.jsonl")
    subprocess.run([sys.executable, os.path.join(ROOT, "deploy",
                    "gen_cases.py"), "--province", "ha-noi", "--count",
                    str(N), "--year", "2026", "--out", gen], check=True)
    cs("import", "-d", c, gen)
    print("  imported in %.0f s" % (time.monotonic() - t0), flush=True)
    # Open conflicts: the province and central edit the same field.
    start("serve", "-d", c)
    wait_port(zport)
    pgen = os.path.join(tmp, "p.jsonl")
    subprocess.run([sys.executable, os.path.join(ROOT, "deploy",
                    "gen_cases.py"), "--province", "lao-cai", "--count",
                    str(CONFLICTS), "--start", str(N), "--year", "2026",
                    "--out", pgen], check=True)
    cs("import", "-d", p, pgen)
    cs("sync", "-d", p, "--timeout", "60")
    ids = [json.loads(l)["id"] for l in open(pgen)]
    # Referrals waiting for ha-noi's answer: lao-cai offers some of its
    # cases (a referral is an offer; nobody answers in the bench).
    for i in ids[:REFERRALS]:
        cs("case", "transfer", "-d", p, i, "--to", "ha-noi", "--reason",
           "FAKE bench referral")
    cs("import", "-d", p, "-", stdin="".join(json.dumps(
        {"id": i, "status": "closed"}) + "\n" for i in ids))
    cs("import", "-d", c, "-", stdin="".join(json.dumps(
        {"id": i, "status": "not_victim"}) + "\n" for i in ids))
    cs("sync", "-d", p, "--timeout", "60")
    name = json.loads(open(gen).readline())["person"]["full_name"]
    words = name.split()
    cs("user", "add", "-d", c, "bench", "--role", "admin",
       stdin="bench password 1\n")
    port = free_port()
    con = start("console", "-d", c, "--listen", "127.0.0.1:%d" % port)
    wait_port(port)
    st, data, ck = request(port, None, "/api/login",
                           {"user": "bench", "password": "bench password 1"})
    assert st == 200, data
    cookie = ck[0].split(";")[0]
    st, data, _ = request(port, cookie, "/api/conflicts")
    nconf = json.loads(data)["total"]
    st, data, _ = request(port, cookie, "/api/referrals")
    nref = json.loads(data)["total"]
    assert nref == REFERRALS, data[:300]
    case_id = json.loads(open(gen).readline())["id"]
    q = urllib.parse.quote(" ".join(w.lower() for w in words[1:3]))
    targets = [
        ("conflict queue (API)", "/api/conflicts"),
        ("conflict queue (page)", "/conflicts"),
        ("case page", "/cases/" + case_id),
        ("name search (API)", "/api/cases?q=" + q),
        ("name search (page)", "/cases?q=" + q),
        ("referrals (API)", "/api/referrals"),
        ("referrals (page)", "/referrals?days=0"),
    ]
    results = {"cases": N, "open_conflicts": nconf, "referrals": nref,
               "runs": RUNS,
               "query": q, "timings_ms": {}}
    print("\n%d cases, %d open conflicts, %d referrals waiting, %d requests "
          "each; name search for %r" % (N, nconf, nref, RUNS,
                                        urllib.parse.unquote(q)))
    load = os.getloadavg()[0]
    results["load_average"] = load
    print("(load average %.1f on %d CPUs: wall times include waiting for a "
          "CPU; the console's own CPU time per request does not)" %
          (load, os.cpu_count()))
    print("  %-24s %9s %9s %11s" % ("request", "median", "p95",
                                    "CPU/request"))
    for label, path in targets:
        times = []
        cpu0 = cpu_ms(con.pid)
        for _ in range(RUNS):
            t = time.perf_counter()
            st, data, _ = request(port, cookie, path)
            times.append((time.perf_counter() - t) * 1000)
            assert st == 200, (path, st, data[:200])
        cpu = (cpu_ms(con.pid) - cpu0) / RUNS
        times.sort()
        med = statistics.median(times)
        p95 = times[int(len(times) * 0.95) - 1]
        results["timings_ms"][label] = {"median": round(med, 1),
                                        "p95": round(p95, 1),
                                        "cpu": round(cpu, 1)}
        print("  %-24s %7.1f ms %7.1f ms %8.1f ms" % (label, med, p95,
                                                      cpu))
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench-console.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0]
                                 .replace("\n", " "))
    ap.add_argument("--cases", type=int, default=N,
                    help="cases central holds (default: "
                    "BENCH_CONSOLE_CASES or 100000)")
    a = ap.parse_args()
    if a.cases < CONFLICTS + REFERRALS:
        ap.error("--cases must be at least %d" % (CONFLICTS + REFERRALS))
    N = a.cases
    main()
