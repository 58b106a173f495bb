"""The store migrations (issue 19): stores written by the layout before
internal ids (tests/fixtures/store-v1, made once by the old build with
tests/fixtures/make_store_v1.py) and by layout 2, whose case rows are in
state encoding 1 (tests/fixtures/store-v2, make_store_v2.py), open with
this build, are migrated in one transaction (1 -> 2 -> 3, or 2 -> 3),
record their layout, hold every case row in state encoding 2, and answer
`verify`, `case list`, `case get`, `case history`, `conflicts`, `report`,
`export` and `status` exactly as the old build did.  Afterwards they keep
working: a name search finds the migrated names, a new case and a sync
go through, and a backup of the migrated store restores; a backup of a
layout 2 store restores too (migrated in the restored copy, the backup
left as it was).
"""
import hashlib
import json
import os
import shutil
import subprocess

import harness
from harness import check, ok, sample_case
from console import Console

FIXTURE = os.path.join(harness.ROOT, "tests", "fixtures", "store-v1")
FIXTURE_V2 = os.path.join(harness.ROOT, "tests", "fixtures", "store-v2")
LAYOUT = 3      # what this build writes (node/store_int.h, STORE_LAYOUT)


def fixture_node(env, name, role, fixture=FIXTURE, where=None):
    """A copy of the fixture's node folder, as a harness Node."""
    n = harness.Node.__new__(harness.Node)
    n.env, n.name, n.role = env, name, role
    n.dir = os.path.join(env.tmp, where or name)
    n.proc = None
    n.port = None
    shutil.copytree(os.path.join(fixture, name), n.dir)
    # git keeps no modes but the executable bit: a fresh clone checks the
    # fixture's key files out world-readable, and casesync rightly refuses
    # to open those.  Give them back the modes `init` gives them.
    os.chmod(n.dir, 0o700)
    for f in os.listdir(n.dir):
        os.chmod(os.path.join(n.dir, f), 0o600)
    return n


def tables(node):
    """The sub-databases of the node's store (mdb_stat, lmdb-utils)."""
    r = subprocess.run(["mdb_stat", "-a", node.dir], capture_output=True,
                       text=True)
    check(r.returncode == 0, "mdb_stat: " + r.stderr)
    return [l.split("Status of ", 1)[1].strip()
            for l in r.stdout.splitlines() if "Status of " in l]


def row_versions(node):
    """The state encoding of every case row: the first two bytes of each
    (mdb_dump's hex; 9a01 is encoding 1's array of 10 and version 1,
    9c02 encoding 2's array of 12 and version 2)."""
    r = subprocess.run(["mdb_dump", "-s", "states", node.dir],
                       capture_output=True, text=True)
    check(r.returncode == 0, "mdb_dump: " + r.stderr)
    body = r.stdout.split("HEADER=END\n", 1)[1].splitlines()
    vals = [l.strip() for l in body if l.startswith(" ")][1::2]
    check(vals, "no case rows")
    return sorted(set(v[:4] for v in vals))


def answers(node):
    """The same questions tests/fixtures/make_store_v1.py asked."""
    def j(*a):
        return json.loads(ok(node.cli(*a), " ".join(a)).out)
    ids = sorted(c["id"] for c in j("case", "list", "--json"))
    v = node.verify()
    return {
        "verify": {"rc": v.rc, "out": v.out},
        "list": j("case", "list", "--json"),
        "get": {cid: j("case", "get", cid) for cid in ids},
        "history": {cid: j("case", "history", cid, "--json")
                    for cid in ids},
        "conflicts": j("conflicts", "--json"),
        "report": j("report", "--format", "json"),
        "export": ok(node.cli("export"), "export").out,
        "status": {k: v for k, v in j("status", "--json").items()
                   if k in ("node", "role", "cases", "entries", "conflicts",
                            "seq", "incarnation", "vector", "log")},
    }


def undated(answers):
    """The answers without the report's day of generation, which is the
    day the test runs, not a property of the store."""
    a = json.loads(json.dumps(answers))
    a["report"].get("report", {}).pop("generated", None)
    return a


def same(got, want, what):
    got, want = undated(got), undated(want)
    for k in sorted(want):
        check(got[k] == want[k], "%s: %s differs after the migration:\n"
              "old build: %r\nthis build: %r" % (what, k, want[k], got[k]))


def test_migrate_store_v1(env):
    for name, role in (("central", "central"), ("lao-cai", "province")):
        n = fixture_node(env, name, role)
        before = tables(n)
        check("cases" in before and "caselog" in before and
              "states" not in before, "not a layout 1 fixture: %r" % before)
        with open(os.path.join(FIXTURE, name + ".json"),
                  encoding="utf-8") as f:
            want = json.load(f)
        got = answers(n)
        check(want["verify"]["rc"] == 0, want["verify"])
        same(got, want, name)
        st = ok(n.cli("status", "--json")).json()
        check(st.get("store_layout") == LAYOUT, st)
        check(row_versions(n) == ["9c02"], row_versions(n))
        after = tables(n)
        check("states" in after and "caseids" in after and
              "clog" in after and "cases" not in after and
              "caselog" not in after and "names" not in after, after)
        # Opened again: nothing more to migrate, the same answers.
        same(answers(n), want, name + " (second open)")


def test_migrated_store_keeps_working(env):
    c = fixture_node(env, "central", "central")
    p = fixture_node(env, "lao-cai", "province")
    port = harness.free_port()
    c.port = port
    c.set_conf("listen", "tcp://127.0.0.1:%d" % port)
    p.set_conf("central", "tcp://127.0.0.1:%d" % port)
    with open(os.path.join(FIXTURE, "lao-cai.json"), encoding="utf-8") as f:
        want = json.load(f)
    c.start()
    new = p.add(sample_case(77, person={"full_name": "FAKE Hồ Thị Xuân",
                                        "sex": "female"}))
    upd = sorted(want["get"])[1]
    p.update(upd, {"status": "closed"})
    ok(p.sync(), "sync after the migration")
    for n in (c, p):
        ok(n.verify(), "verify on " + n.name)
        got = n.get(new)
        check(got and got["person"]["full_name"] == "FAKE Hồ Thị Xuân", got)
        check(n.get(upd)["status"] == "closed", n.get(upd))
    # The name index was built again from the opened names, under
    # internal ids: the console finds migrated names (two of them the old
    # build had dropped from its index when their case was updated) and
    # the new one.
    con = Console(c)
    cw = con.client()
    cw.login("cw")
    for q, names in (("binh", ["FAKE Trần Văn Bình"]),
                     ("van long", ["FAKE Bùi Văn Long"]),
                     ("xuan", ["FAKE Hồ Thị Xuân"]),
                     ("nguyen thi anh", ["FAKE Nguyễn Thị Ánh",
                                         "FAKE Nguyễn Thị Ánh Hai"])):
        r = cw.get("/api/cases?q=" + q.replace(" ", "%20"))
        check(r.status == 200, r)
        got = sorted(x["full_name"] for x in r.json()["cases"])
        check(got == names, "search %r: %r" % (q, got))
    con.stop()
    # Every migrated case reads the same on the province, but the one
    # updated.
    for cid, case in want["get"].items():
        if cid != upd:
            check(p.get(cid) == case, "case %s changed" % cid)
    # A backup of the migrated central restores and verifies.
    bk = os.path.join(env.tmp, "backup")
    ok(c.cli("backup", bk), "backup")
    c.stop()
    shutil.rmtree(c.dir)
    ok(harness.run(["restore", "-d", c.dir, bk]), "restore")
    ok(c.verify(), "verify the restored central")
    check(c.get(new)["person"]["full_name"] == "FAKE Hồ Thị Xuân",
          c.get(new))


def test_migrate_store_v2(env):
    for name, role in (("central", "central"), ("lao-cai", "province")):
        n = fixture_node(env, name, role, FIXTURE_V2)
        before = tables(n)
        check("states" in before and "caseids" in before and
              "cases" not in before, "not a layout 2 fixture: %r" % before)
        check(row_versions(n) == ["9a01"], row_versions(n))
        with open(os.path.join(FIXTURE_V2, name + ".json"),
                  encoding="utf-8") as f:
            want = json.load(f)
        check(want["verify"]["rc"] == 0, want["verify"])
        got = answers(n)
        same(got, want, name)
        st = ok(n.cli("status", "--json")).json()
        check(st.get("store_layout") == LAYOUT, st)
        # Every row rewritten in encoding 2, no table added or lost.
        check(row_versions(n) == ["9c02"], row_versions(n))
        check(tables(n) == before, (tables(n), before))
        same(answers(n), want, name + " (second open)")


def digest(d):
    h = hashlib.sha256()
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            h.update(f.encode() + b"\0" + fh.read())
    return h.hexdigest()


def test_restore_backup_of_layout_2(env):
    """A backup taken before the upgrade (a node folder of layout 2, the
    shape `casesync backup` writes) restores with this build: the
    restored copy is migrated, the backup is not."""
    for name, role in (("central", "central"), ("lao-cai", "province")):
        bk = fixture_node(env, name, role, FIXTURE_V2, "backup-" + name)
        for f in ("lock.mdb",):
            if os.path.exists(os.path.join(bk.dir, f)):
                os.unlink(os.path.join(bk.dir, f))
        was = digest(bk.dir)
        n = harness.Node.__new__(harness.Node)
        n.env, n.name, n.role = env, name, role
        n.dir = os.path.join(env.tmp, "restored-" + name)
        n.proc = None
        n.port = None
        ok(harness.run(["restore", "-d", n.dir, bk.dir]), "restore")
        check(digest(bk.dir) == was, "restore changed the backup")
        check(row_versions(bk) == ["9a01"], row_versions(bk))
        st = ok(n.cli("status", "--json")).json()
        check(st.get("store_layout") == LAYOUT, st)
        check(row_versions(n) == ["9c02"], row_versions(n))
        with open(os.path.join(FIXTURE_V2, name + ".json"),
                  encoding="utf-8") as f:
            want = json.load(f)
        # A restore starts a new incarnation: status differs by design.
        got = answers(n)
        del want["status"]
        same(got, want, name + " (restored)")
