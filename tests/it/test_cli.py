"""The command line (issue 2): help on every verb, clear one-line errors
with the documented exit codes, bad input that leaves the store exactly as
it was, import/export, a killed import, and verify catching a tampered
case table.

Exit codes: 0 ok, 1 usage, 2 rejected input, 3 cannot reach a peer,
4 integrity failure.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import harness
from harness import check, ok, run, sample_case

VERBS = ["init", "case", "status", "verify", "export", "import", "serve",
         "sync"]
CASE_SUBVERBS = ["add", "update", "get", "list", "history"]


# ---- helpers ---------------------------------------------------------------

def snapshot(node):
    """What must not change when a command is refused: every case as
    exported, and the counts, sequence and vector of `status --json`."""
    st = node.status()
    return (node.export(),
            {k: st[k] for k in ("node", "role", "cases", "entries",
                                "conflicts", "seq", "vector")})


def one_line_error(res, rc, what, *needles):
    """res failed with exit code rc and exactly one line on stderr, which
    starts with "casesync: " and contains every needle."""
    check(res.rc == rc, "%s: expected exit %d, got %r" % (what, rc, res))
    lines = res.err.splitlines()
    check(len(lines) == 1, "%s: expected one line on stderr, got %r" %
          (what, res.err))
    check(lines[0].startswith("casesync: "),
          "%s: error does not start with 'casesync: ': %r" % (what, res.err))
    for n in needles:
        check(n in lines[0], "%s: error %r does not mention %r" %
              (what, lines[0], n))


def refused_unchanged(node, what, rc, needles, *args, stdin=None, **kw):
    """Runs a verb that must be refused; checks the error and that the
    store is exactly as before."""
    before = snapshot(node)
    res = node.cli(*args, stdin=stdin, **kw)
    one_line_error(res, rc, what, *needles)
    check(snapshot(node) == before, "%s changed the store" % what)
    return res


def names_of(export_text):
    return [json.loads(l)["person"].get("full_name")
            for l in export_text.splitlines() if l.strip()]


def rich_case(node, i, rng):
    """Adds a case, then services and notes in separate updates (so that
    events carry different stamps), a cleared field and a changed one."""
    cid = node.add(sample_case(i, rng, person={
        "category": "victim", "sex": "female", "birth_year": 1990 + i % 20,
        "full_name": "FAKE Rich %d" % i, "phone": "+84 000 %04d" % i}))
    for k in range(3):
        ev = {"type": rng.choice(["medical", "legal_aid", "psychological"]),
              "on": "2026-03-%02d" % (k + 1)}
        if rng.random() < 0.5:
            ev["id"] = "svc-%d-%d-%s" % (i, k, rng.choice("zyxabc"))
        node.update(cid, {"services": [ev]})
    node.update(cid, {"notes": [{"on": "2026-03-09", "author": "worker1",
                                 "text": "FAKE note %d\nline two" % i}],
                      "person": {"phone": None}})
    node.update(cid, {"status": "receiving_support"})
    return cid


def log_entries(node):
    """The length of the node's change log, read with mdb_stat."""
    r = subprocess.run(["mdb_stat", "-s", "log", node.dir],
                       capture_output=True, text=True)
    m = re.search(r"Entries: (\d+)", r.stdout)
    return int(m.group(1)) if m else 0


def gen_lines(n, start=0):
    return "".join(json.dumps(sample_case(i)) + "\n"
                   for i in range(start, start + n))


# ---- help ------------------------------------------------------------------

def listed_verbs():
    """The verbs `casesync --help` lists (so that new verbs are covered)."""
    out = ok(run(["--help"]), "casesync --help").out
    verbs, inside = [], False
    for line in out.splitlines():
        if line == "verbs:":
            inside = True
        elif inside and re.match(r"^  [a-z]", line):
            verbs.append(line.split()[0])
        elif inside and line.strip() == "":
            break
    return verbs


def test_help_every_verb(env):
    verbs = listed_verbs()
    for v in VERBS:
        check(v in verbs, "casesync --help does not list " + v)
    for v in verbs:
        for flag in ("--help", "-h"):
            r = run([v, flag])
            check(r.rc == 0, "%s %s: %r" % (v, flag, r))
            check(r.out.startswith("usage: casesync " + v),
                  "%s %s does not print usage: %r" % (v, flag, r.out))
            check(r.err == "", "%s %s wrote to stderr: %r" % (v, flag,
                                                              r.err))
    subs = re.findall(r"casesync case (\w+)", ok(run(["case", "--help"])).out)
    for sub in CASE_SUBVERBS:
        check(sub in subs, "case --help does not show case " + sub)
    for sub in subs:
        r = run(["case", sub, "--help"])
        check(r.rc == 0 and "usage: casesync case" in r.out and
              "case " + sub in r.out, "case %s --help: %r" % (sub, r))
    # --help wins over everything else on the line, even a bad directory.
    r = run(["status", "-d", os.path.join(env.tmp, "nowhere"), "--help"])
    check(r.rc == 0 and r.out.startswith("usage:"), repr(r))
    # Without a verb: usage on stderr, exit 1.
    r = run([])
    check(r.rc == 1 and "usage: casesync" in r.err, repr(r))


def test_usage_errors_exit_1(env):
    p = env.province("lao-cai")
    before = snapshot(p)
    for args, what in (
            (["frobnicate"], "unknown verb"),
            ([], "no verb"),
            (["status", "-d", p.dir, "--bogus"], "unknown option"),
            (["case", "-d", p.dir, "frob"], "unknown case sub-verb"),
            (["case", "get", "-d", p.dir], "case get without id"),
            (["case", "update", "-d", p.dir], "case update without id"),
            (["export", "-d", p.dir, "extra"], "extra argument"),
            (["sync", "-d", p.dir, "--timeout", "soon"], "bad duration"),
            (["init", "-d", os.path.join(env.tmp, "x"), "--node", "BAD!",
              "--role", "province"], "bad node id"),
            (["init", "-d", os.path.join(env.tmp, "y"), "--node", "ha-noi",
              "--role", "king"], "bad role")):
        r = run(args)
        check(r.rc == 1, "%s: expected exit 1, got %r" % (what, r))
        check(r.err.strip() != "", "%s: nothing on stderr" % what)
    # Without -d and without CASESYNC_DIR: usage, one line.
    one_line_error(run(["status"]), 1, "no directory", "-d DIR")
    check(snapshot(p) == before, "usage errors changed the store")
    check(not os.path.exists(os.path.join(env.tmp, "x")) and
          not os.path.exists(os.path.join(env.tmp, "y")),
          "a refused init created its directory")


# ---- bad input leaves the store as it was ----------------------------------

def test_bad_case_input_rejected(env):
    p = env.province("lao-cai")
    cid = p.add(sample_case(1))
    p.add(sample_case(2))
    bad = [
        ("malformed JSON", '{"status": "reported", "person": {',
         ["not valid JSON"]),
        ("not an object", '["reported"]', ["JSON object"]),
        ("trailing garbage", '{"status": "reported"} x', ["JSON"]),
        ("unknown field", json.dumps({"status": "reported", "colour": "red"}),
         ["colour", "unknown field"]),
        ("unknown nested field",
         json.dumps({"person": {"sex": "female", "shoe_size": 38}}),
         ["person.shoe_size", "unknown field"]),
        ("unknown enumeration",
         json.dumps({"person": {"sex": "f"}}), ["person.sex", '"f"']),
        ("unknown status", json.dumps({"status": "lost"}),
         ["status", '"lost"']),
        ("unknown purpose",
         json.dumps({"trafficking": {"purposes": ["piracy"]}}),
         ["trafficking.purposes", '"piracy"']),
        ("wrong type",
         json.dumps({"person": {"birth_year": "1999"}}),
         ["person.birth_year", "integer"]),
        ("wrong type (object)", json.dumps({"person": "Nguyen"}),
         ["person"]),
        ("oversized value",
         json.dumps({"person": {"full_name": "A" * 100 * 1024}}),
         ["person.full_name", "too long"]),
        ("oversized input", json.dumps({"notes": [
            {"text": "x" * 1000} for _ in range(400)]}), ["larger than"]),
        ("bad date", json.dumps({"intake": {"received_on": "2025-02-30"}}),
         ["intake.received_on"]),
        ("owner given", json.dumps({"owner": "ha-noi"}), ["owner"]),
        ("nothing to change", "{}", ["nothing to change"]),
        ("NUL escape", '{"person": {"full_name": "a\\u0000b"}}', ["\\u0000"]),
    ]
    for what, text, needles in bad:
        refused_unchanged(p, "case add: " + what, 2, needles,
                          "case", "add", "-", stdin=text)
        if what != "owner given":
            refused_unchanged(p, "case update: " + what, 2, needles,
                              "case", "update", cid, "-", stdin=text)
    # From a file too, and a file that is not there.
    path = os.path.join(env.tmp, "bad.json")
    open(path, "w").write(json.dumps({"person": {"sex": "f"}}))
    refused_unchanged(p, "case add FILE", 2, ["person.sex"],
                      "case", "add", path)
    refused_unchanged(p, "case add missing FILE", 2, ["nothere.json"],
                      "case", "add", os.path.join(env.tmp, "nothere.json"))
    # Ids that are not ids, cases that do not exist.
    refused_unchanged(p, "update bad id", 2, ["not a case id"],
                      "case", "update", "123", "-",
                      stdin='{"status": "closed"}')
    refused_unchanged(p, "update unknown case", 2, [],
                      "case", "update", "01900000-0000-7000-8000-000000000000",
                      "-", stdin='{"status": "closed"}')
    refused_unchanged(p, "get unknown case", 2, ["no case"],
                      "case", "get", "01900000-0000-7000-8000-000000000000")
    refused_unchanged(p, "add existing id", 2, ["exists"],
                      "case", "add", "-",
                      stdin=json.dumps(dict(sample_case(3), id=cid)))
    ok(p.verify(), "verify after refusals")


def test_bad_import_rejected(env):
    p = env.province("lao-cai")
    p.add(sample_case(1))
    good = [json.dumps(sample_case(i)) for i in range(10, 20)]
    for what, line, needles in (
            ("malformed JSON", '{"status": ', ["not valid JSON"]),
            ("unknown field", '{"colour": "red"}', ["colour"]),
            ("unknown enumeration", '{"person": {"sex": "f"}}',
             ["person.sex", '"f"']),
            ("wrong type", '{"person": {"birth_year": true}}',
             ["person.birth_year"]),
            ("oversized value", json.dumps(
                {"person": {"full_name": "B" * 100 * 1024}}),
             ["person.full_name"])):
        text = "\n".join(good[:4] + [line] + good[4:]) + "\n"
        refused_unchanged(p, "import: " + what, 2,
                          ["line 5"] + needles + ["nothing imported"],
                          "import", "-", stdin=text)


# ---- directories that are not (usable) nodes -------------------------------

def test_missing_and_foreign_directory(env):
    missing = os.path.join(env.tmp, "missing")
    for verb in (["status"], ["verify"], ["export"], ["import", "-"],
                 ["case", "list"], ["case", "add", "-"]):
        argv = verb[:1] + (verb[1:2] if verb[0] == "case" else []) + \
            ["-d", missing] + (verb[2:] if verb[0] == "case" else verb[1:])
        r = run(argv, stdin=json.dumps(sample_case(1)))
        one_line_error(r, 2, "missing dir: " + " ".join(verb), missing)
        check(not os.path.exists(missing), "%s created %s" % (verb, missing))
    # CASESYNC_DIR is used when -d is not given.
    r = run(["status"], env={"CASESYNC_DIR": missing})
    one_line_error(r, 2, "CASESYNC_DIR missing", missing)

    # A directory of something else: nothing in it may change.
    foreign = os.path.join(env.tmp, "foreign")
    os.makedirs(foreign)
    open(os.path.join(foreign, "notes.txt"), "w").write("not casesync\n")
    open(os.path.join(foreign, "data.mdb"), "wb").write(b"\0garbage" * 64)
    listing = sorted(os.listdir(foreign))
    for verb in (["status"], ["verify"], ["export"], ["case", "list"],
                 ["case", "add", "-"], ["import", "-"]):
        argv = verb[:1] + (verb[1:2] if verb[0] == "case" else []) + \
            ["-d", foreign] + (verb[2:] if verb[0] == "case" else verb[1:])
        r = run(argv, stdin=json.dumps(sample_case(1)))
        one_line_error(r, 2, "foreign dir: " + " ".join(verb),
                       "not a casesync node")
        check(sorted(os.listdir(foreign)) == listing,
              "%s wrote into a foreign directory" % verb)
    check(open(os.path.join(foreign, "data.mdb"), "rb").read() ==
          b"\0garbage" * 64, "foreign data.mdb changed")
    # A regular file given as the directory.
    r = run(["status", "-d", os.path.join(foreign, "notes.txt")])
    one_line_error(r, 2, "file as dir", "not a directory")
    # A node whose store file is gone must not get a fresh empty one.
    p = env.province("lao-cai")
    os.unlink(os.path.join(p.dir, "data.mdb"))
    r = p.cli("case", "add", "-", stdin=json.dumps(sample_case(1)))
    one_line_error(r, 2, "node without data.mdb", "data.mdb")
    check(not os.path.exists(os.path.join(p.dir, "data.mdb")),
          "a store was created in place of the missing one")
    # A store that is not LMDB.
    q = env.province("ha-noi")
    junk = os.urandom(8192)
    open(os.path.join(q.dir, "data.mdb"), "wb").write(junk)
    r = q.cli("status")
    one_line_error(r, 2, "garbage data.mdb", "cannot open store")
    check(open(os.path.join(q.dir, "data.mdb"), "rb").read() == junk,
          "garbage data.mdb was changed")
    # init refuses to initialise a directory twice.
    r = run(["init", "-d", p.dir, "--node", "lao-cai", "--role", "province"])
    one_line_error(r, 2, "init twice", "already initialised")


def _set_mode(d, dmode, fmode, uid=None):
    for f in os.listdir(d):
        if uid is not None:
            os.chown(os.path.join(d, f), uid, uid)
        os.chmod(os.path.join(d, f), fmode)
    if uid is not None:
        os.chown(d, uid, uid)
    os.chmod(d, dmode)


def test_read_only_directory(env):
    """A node directory the user may read but not write: every verb fails
    cleanly (exit 2, one line naming the permission problem) and nothing
    changes.  Root ignores permission bits, so as root the CLI runs as
    nobody (setpriv, util-linux) on a copy of the node owned by nobody with
    the write bits off: the very situation of a non-root operator."""
    p = env.province("lao-cai")
    for i in range(3):
        p.add(sample_case(i))
    before = snapshot(p)
    wrap, uid, d = None, None, p.dir
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            return harness.skip("setpriv (util-linux) is not installed")
        d = os.path.join(env.tmp, "ro")
        shutil.copytree(p.dir, d)
        os.chmod(env.tmp, 0o711)
        uid = 65534
        wrap = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                "--clear-groups", "--"]
    _set_mode(d, 0o500, 0o400, uid)
    try:
        for what, args, stdin in (
                ("case add", ["case", "add", "-d", d, "-"],
                 json.dumps(sample_case(9))),
                ("case update", ["case", "update", "-d", d,
                                 json.loads(before[0].splitlines()[0])["id"],
                                 "-"], '{"status": "closed"}'),
                ("import", ["import", "-d", d, "-"], gen_lines(20)),
                ("status", ["status", "-d", d], None)):
            r = run(args, stdin=stdin, wrap=wrap)
            one_line_error(r, 2, "read-only: " + what)
            check("ermission denied" in r.err, "read-only %s: %r" %
                  (what, r.err))
    finally:
        _set_mode(d, 0o700, 0o600, 0 if uid is not None else None)
    r = ok(run(["export", "-d", d]), "export after the read-only runs")
    check(r.out == before[0], "the read-only store changed")
    check(snapshot(p) == before, "the store changed")
    ok(p.verify())


def test_disk_full(env):
    mnt = env.tmpfs("small", "3m")
    if mnt is None:
        return harness.skip("cannot mount a tmpfs here (not root, or no "
                            "CAP_SYS_ADMIN): the full-disk test needs one")
    p = env.province("lao-cai", dir=os.path.join(mnt, "node"))
    for i in range(20):
        p.add(sample_case(i))
    before = snapshot(p)
    # Take all the space that is left but a few pages.
    filler = os.path.join(mnt, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    # An import that cannot fit: refused as a whole, store unchanged.
    big = gen_lines(3000, 100)
    r = p.cli("import", "-", stdin=big)
    one_line_error(r, 2, "import on a full disk", "disk full")
    check(snapshot(p) == before, "a failed import changed the store")
    r = p.cli("case", "add", "-", stdin=json.dumps(sample_case(99)))
    check(r.rc in (0, 2), "case add on a full disk: %r" % r)
    if r.rc == 2:
        one_line_error(r, 2, "case add on a full disk", "disk full")
        check(snapshot(p) == before, "a failed add changed the store")
    ok(p.verify(), "verify on a full disk")
    # Space again: everything works and nothing was lost.
    os.unlink(filler)
    ok(p.cli("import", "-", stdin=gen_lines(500, 100)), "import after")
    st = p.status()
    check(st["cases"] == 20 + 500 + (1 if r.rc == 0 else 0), st)
    ok(p.verify(), "verify after the disk was freed")


# ---- import / export -------------------------------------------------------

def test_import_validates_whole_file_first(env):
    p = env.province("lao-cai")
    p.add(sample_case(0))
    lines = [json.dumps(sample_case(i)) for i in range(1, 3001)]
    lines[2499] = json.dumps({"person": {"sex": "unknown-sex"}})
    # Blank lines count as lines when naming the bad one.
    text = "\n".join(lines[:10]) + "\n\n" + "\n".join(lines[10:]) + "\n"
    refused_unchanged(p, "import with bad line 2501", 2,
                      ["line 2501", "person.sex", "nothing imported"],
                      "import", "-", stdin=text)
    # From a file: same.
    path = os.path.join(env.tmp, "in.jsonl")
    open(path, "w").write(text)
    refused_unchanged(p, "import FILE with bad line", 2, ["line 2501"],
                      "import", path)


def test_import_skip_bad(env):
    p = env.province("lao-cai")
    lines = [json.dumps(sample_case(i)) for i in range(100)]
    bad_at = {7: '{"person": {"sex": "f"}}', 42: "{not json",
              77: '{"colour": 1}'}
    for i, l in bad_at.items():
        lines[i] = l
    r = ok(p.cli("import", "--skip-bad", "-", stdin="\n".join(lines) + "\n"),
           "import --skip-bad")
    for i in bad_at:
        check("line %d" % (i + 1) in r.err, "bad line %d not listed: %r" %
              (i + 1, r.err))
    check("imported 97" in r.out and "skipped 3" in r.out, repr(r))
    names = sorted(names_of(p.export()))
    want = sorted("FAKE Person %d" % i for i in range(100) if i not in bad_at)
    check(names == want, "imported cases differ from the good lines")
    ok(p.verify())


def test_import_updates_existing(env):
    p = env.province("lao-cai")
    a = p.add(sample_case(1))
    b = p.add(sample_case(2))
    text = (json.dumps({"id": a, "status": "closed",
                        "person": {"full_name": "FAKE Renamed"}}) + "\n" +
            json.dumps(sample_case(3)) + "\n" +
            json.dumps({"id": b, "services": [{"id": "svc-x",
                                               "type": "medical",
                                               "on": "2026-01-05"}]}) + "\n")
    ok(p.cli("import", "-", stdin=text), "import with ids")
    ca, cb = p.get(a), p.get(b)
    check(ca["status"] == "closed" and
          ca["person"]["full_name"] == "FAKE Renamed", ca)
    check(ca["person"]["id_number"] == sample_case(1)["person"]["id_number"],
          "fields not given were changed")
    check([s["id"] for s in cb["services"]] == ["svc-x"], cb)
    check(p.status()["cases"] == 3, p.status())
    # An id that does not exist yet creates the case with that id.
    new = "01900000-0000-7000-8000-0000000000aa"
    ok(p.cli("import", "-", stdin=json.dumps(dict(sample_case(4), id=new))))
    check(p.get(new) is not None and p.get(new)["owner"] == "lao-cai",
          "case with a new id not created")
    ok(p.verify())


def test_export_import_round_trip(env):
    p = env.province("lao-cai")
    rng = random.Random(7)
    for i in range(12):
        rich_case(p, i, rng)
    for i in range(12, 40):
        p.add(sample_case(i))
    exported = p.export()
    check(any([s["id"] for s in c["services"]] !=
              sorted(s["id"] for s in c["services"])
              for c in map(json.loads, exported.splitlines())),
          "no case lists its services out of id order: the test would "
          "not see events reordered by an import")
    q = env.province("ha-noi")
    r = ok(q.cli("import", "-", stdin=exported), "import of an export")
    check("imported 40" in r.out, repr(r))

    def norm(text, owner):
        out = []
        for l in text.splitlines():
            c = json.loads(l)
            check(c["owner"] == owner, c)
            c.pop("owner")
            out.append(c)
        return out
    check(norm(q.export(), "ha-noi") == norm(exported, "lao-cai"),
          "export -> import -> export is not the same")
    ok(q.verify())
    # Importing the same export again into the source changes nothing
    # visible: the same values, the same events.
    ok(p.cli("import", "-", stdin=exported), "re-import into the source")
    check(p.export() == exported, "re-import changed the cases")
    ok(p.verify())
    # Byte-exact when the node name is the same.
    d = os.path.join(env.tmp, "copy")
    ok(run(["init", "-d", d, "--node", "lao-cai", "--role", "province"]))
    ok(run(["import", "-d", d, "-"], stdin=exported))
    check(ok(run(["export", "-d", d])).out == exported,
          "a same-named node does not export byte-identical cases")
    # export --out FILE writes the same.
    f = os.path.join(env.tmp, "out.jsonl")
    ok(p.cli("export", "--out", f))
    check(open(f).read() == exported, "export --out differs")


def test_import_killed_midway(env):
    p = env.province("lao-cai")
    n = 50000
    path = os.path.join(env.tmp, "big.jsonl")
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps(sample_case(i)) + "\n")
    proc = p.popen("import", path, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    entries = 0
    # Kill once a few batches have committed.  mdb_stat reads the log's
    # length in a few milliseconds (status takes longer on a big store).
    while time.monotonic() < deadline and proc.poll() is None:
        entries = log_entries(p)
        if entries >= 3000:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    check(proc.returncode == -signal.SIGKILL,
          "import finished before it could be killed (entries %d)" % entries)
    ok(p.verify(), "verify after a killed import")
    names = names_of(p.export())
    k = len(names)
    check(0 < k < n, "expected a part of the import, got %d cases" % k)
    check(k % 1000 == 0, "%d cases: not whole batches of 1000" % k)
    check(sorted(names) == sorted("FAKE Person %d" % i for i in range(k)),
          "the cases present are not the first %d lines" % k)
    st = p.status()
    check(st["entries"] == k and st["seq"] == k and
          st["vector"] == {"lao-cai": k}, st)
    # The store still takes writes: importing on from line K+1 continues
    # the same sequence.
    more = "".join(l for i, l in enumerate(open(path)) if k <= i < k + 3000)
    ok(p.cli("import", "-", stdin=more), "import from where it stopped")
    check(sorted(names_of(p.export())) ==
          sorted("FAKE Person %d" % i for i in range(k + 3000)),
          "resumed import differs")
    check(p.status()["seq"] == k + 3000, p.status())
    ok(p.verify())
    print("  killed import kept %d of %d lines" % (k, n), flush=True)


# ---- verify ----------------------------------------------------------------

UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     rb"[0-9a-f]{12}")


def _mdb_rows(node, table):
    """The dump of a sub-database (mdb_dump, lmdb-utils): its lines and
    the index of the first key line."""
    for tool in ("mdb_dump", "mdb_load"):
        check(shutil.which(tool) is not None,
              "%s missing: install lmdb-utils (deploy/bootstrap.sh)" % tool)
    dump = subprocess.run(["mdb_dump", "-s", table, node.dir],
                          capture_output=True, text=True)
    check(dump.returncode == 0, "mdb_dump: " + dump.stderr)
    lines = dump.stdout.splitlines()
    return lines, lines.index("HEADER=END") + 1


def _mdb_load(node, table, lines):
    load = subprocess.run(["mdb_load", "-s", table, node.dir],
                          input="\n".join(lines) + "\n",
                          capture_output=True, text=True)
    check(load.returncode == 0, "mdb_load: " + load.stderr)


def _mdb_tamper(node, mutate):
    """Rewrites one case row (the `states` sub-database, keyed by the
    case's internal id) with mdb_dump and mdb_load.  mutate(bytes) ->
    bytes.  Returns the case id of the row."""
    lines, start = _mdb_rows(node, "states")
    # Key and value lines alternate, each " hex"; take the second case.
    key_i = start + 2
    val = bytes.fromhex(lines[key_i + 1].strip())
    new = mutate(val)
    check(new != val, "mutation did nothing")
    lines[key_i + 1] = " " + new.hex()
    _mdb_load(node, "states", lines)
    return UUID_RE.search(val).group(0).decode()


def test_verify_detects_tampered_case(env):
    for how in ("value", "garbage", "forged"):
        p = env.province("lao-cai", dir=os.path.join(env.tmp, how))
        for i in range(5):
            p.add(sample_case(i))
        ok(p.verify(), "verify before tampering")
        before = p.export()
        if how == "value":
            # Still decodes: a destination country changed (a field that
            # is not encrypted at rest, so the edit is a plain one).
            cid = _mdb_tamper(p, lambda v: re.sub(
                rb'"(CN|KH|LA|MM|VN)"', b'"ZZ"', v, count=1))
        elif how == "garbage":
            # No longer decodes.
            cid = _mdb_tamper(p, lambda v: v[:len(v) // 2])
        else:
            # A case slipped into the table that no log entry made.
            # The first row copied under a new internal id, with the
            # forged id, and that id in the ids index.
            cid = "01900000-0000-7000-8000-00000000beef"
            iid = (0x7fff).to_bytes(8, "big")
            lines, start = _mdb_rows(p, "states")
            val = bytes.fromhex(lines[start + 1].strip())
            val = val.replace(UUID_RE.search(val).group(0), cid.encode(), 1)
            _mdb_load(p, "states", lines[:start] + [" " + iid.hex(),
                                                   " " + val.hex(),
                                                   "DATA=END"])
            lines, start = _mdb_rows(p, "caseids")
            _mdb_load(p, "caseids", lines[:start] + [
                " " + bytes.fromhex(cid.replace("-", "")).hex(),
                " " + iid.hex(), "DATA=END"])
        if how != "garbage":
            check(p.export() != before,
                  "tampering did not reach the case table")
        else:
            # Export cannot read the case either, and says so.
            r = p.cli("export")
            check(r.rc == 4, "export of an undecodable case: %r" % r)
        r = p.verify()
        one_line_error(r, 4, "verify after tampering (%s)" % how, cid)


# ---- history, list, status -------------------------------------------------

def test_history_shows_author_node_time(env):
    p = env.province("lao-cai")
    t0 = time.time()
    cid = ok(p.cli("case", "add", "-", stdin=json.dumps(sample_case(1)),
                   env={"CASESYNC_AUTHOR": "worker7"})).out.strip()
    ok(p.cli("case", "update", cid, "-", stdin='{"status": "identified"}',
             env={"CASESYNC_AUTHOR": "chief2"}))
    h = json.loads(ok(p.cli("case", "history", cid, "--json")).out)
    check(len(h) == 2, h)
    check([e["author"] for e in h] == ["worker7@lao-cai", "chief2@lao-cai"],
          h)
    check(all(e["node"] == "lao-cai" for e in h), h)
    check([e["seq"] for e in h] == [1, 2], h)
    for e in h:
        ts = time.mktime(time.strptime(e["time"][:19], "%Y-%m-%dT%H:%M:%S"))
        ts -= time.timezone
        check(abs(ts - t0) < 120, "history time %s is not now" % e["time"])
    check({"op": "set", "path": "status", "value": "identified"} in
          h[1]["ops"], h[1])
    txt = ok(p.cli("case", "history", cid)).out
    check("worker7@lao-cai" in txt and "chief2@lao-cai" in txt and
          "lao-cai/2" in txt and 'set status = "identified"' in txt, txt)
    check(h[0]["time"][:10] in txt, txt)
    refused_unchanged(p, "history of unknown case", 2, ["no case"],
                      "case", "history",
                      "01900000-0000-7000-8000-000000000000")


def test_list_status_filter(env):
    p = env.province("lao-cai")
    want = {}
    for i, st in enumerate(["reported", "identified", "identified", "closed",
                            "receiving_support", "identified"]):
        cid = p.add(sample_case(i, status=st))
        want[cid] = st
    for st in ("identified", "closed", "reported", "not_victim"):
        got = json.loads(ok(p.cli("case", "list", "--status", st,
                                  "--json")).out)
        check(sorted(c["id"] for c in got) ==
              sorted(c for c, s in want.items() if s == st),
              "list --status %s: %r" % (st, got))
        check(all(c["status"] == st and c["owner"] == "lao-cai"
                  for c in got), got)
        txt = ok(p.cli("case", "list", "--status", st)).out
        check(len(txt.splitlines()) == sum(1 for s in want.values()
                                           if s == st), txt)
    allc = json.loads(ok(p.cli("case", "list", "--json")).out)
    check(sorted(c["id"] for c in allc) == sorted(want), allc)


def test_status_json(env):
    p = env.province("lao-cai")
    st = p.status()
    check(st["node"] == "lao-cai" and st["role"] == "province", st)
    check(st["cases"] == 0 and st["entries"] == 0 and st["seq"] == 0, st)
    a = p.add(sample_case(1))
    p.add(sample_case(2))
    p.update(a, {"status": "closed"})
    st = p.status()
    for k in ("node", "role", "cases", "entries", "conflicts", "seq",
              "vector", "peers"):
        check(k in st, "status --json lacks %s: %r" % (k, st))
    check(st["cases"] == 2 and st["entries"] == 3 and st["seq"] == 3 and
          st["conflicts"] == 0, st)
    check(st["vector"] == {"lao-cai": 3}, st)
    c = env.central()
    cs = c.status()
    check(cs["node"] == "central" and cs["role"] == "central" and
          cs["vector"] == {} and cs["cases"] == 0, cs)
    txt = ok(p.cli("status")).out
    check("lao-cai" in txt and "province" in txt, txt)
