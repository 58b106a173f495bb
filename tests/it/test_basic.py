"""Smoke tests of one node and one sync."""
from harness import check, ok, sample_case


def test_add_get_verify(env):
    p = env.province("lao-cai")
    cid = p.add(sample_case(1))
    c = p.get(cid)
    check(c["owner"] == "lao-cai" and c["person"]["full_name"] ==
          "FAKE Person 1", c)
    ok(p.verify(), "verify")


def test_sync_one_province(env):
    c = env.central().start()
    p = env.province("lao-cai", c)
    ids = [p.add(sample_case(i)) for i in range(5)]
    ok(p.sync(), "sync")
    for cid in ids:
        check(c.get(cid) == p.get(cid), "replica differs for " + cid)
    ok(c.verify(), "verify central")


def test_example_configs_parse(env):
    """The example configurations in deploy/examples are accepted as they
    are (only the endpoint is changed to a local one)."""
    import os
    import shutil
    from harness import ROOT
    for name, role in (("central.conf", "central"),
                       ("province.conf", "province")):
        n = env.central("central") if role == "central" else \
            env.province("lao-cai", enrol=False)
        shutil.copy(os.path.join(ROOT, "deploy", "examples", name),
                    os.path.join(n.dir, "casesync.conf"))
        st = ok(n.cli("status", "--json"), "status with " + name).json()
        check(st["role"] == role, st)
        shutil.rmtree(n.dir)
