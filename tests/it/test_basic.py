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
