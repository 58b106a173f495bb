#!/usr/bin/env python3
"""Generates synthetic, clearly fake trafficking-victim cases as JSON Lines
for `casesync import` (the `case add` form, one object per line).

The same arguments always give the same output: every random choice comes
from a generator seeded with (--seed, --province, --start).  The
distributions follow docs/REPORTS.md and ../shared/DOMAIN.md in shape only
(mostly women and girls; sexual exploitation, forced marriage and forced
labour first; destinations CN, KH, LA, MM and within Vietnam, by the
province's borders; border guard, police and hotline 111 among the
sources).  They are not statistics.  Every name starts with "FAKE".

usage: gen_cases.py --province ID [--seed N] [--count N] [--year Y]
                    [--start N] [--undated-rate R] [--out FILE]
       gen_cases.py --batch FILE [--seed N] [--year Y] [--undated-rate R]

--batch runs several jobs in one process (the demo uses it): FILE has one
job per line, "PROVINCE COUNT START OUTFILE", each the same as a run with
those --province, --count, --start and --out.
"""
import argparse
import datetime
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load_provinces():
    """Node id -> (name, borders) from deploy/provinces.tsv."""
    out = {}
    with open(os.path.join(HERE, "provinces.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or line.startswith("code\t"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 6:
                continue
            out[cols[1]] = (cols[2], [b for b in cols[5].split(",") if b])
    return out


def pick(rng, weights):
    """One key of weights (a list of (value, weight)), by weight."""
    total = sum(w for _, w in weights)
    x = rng.uniform(0, total)
    for v, w in weights:
        x -= w
        if x <= 0:
            return v
    return weights[-1][0]


# Provinces people are most often trafficked from (home provinces).
HOMES = [("thanh-hoa", 10), ("nghe-an", 10), ("ha-tinh", 6), ("son-la", 7),
         ("dien-bien", 7), ("lao-cai", 6), ("tuyen-quang", 6),
         ("lai-chau", 5), ("cao-bang", 4), ("lang-son", 3), ("ha-noi", 4),
         ("hai-phong", 2), ("quang-tri", 2), ("an-giang", 4),
         ("dong-thap", 3), ("can-tho", 3), ("ca-mau", 3), ("vinh-long", 2),
         ("ho-chi-minh", 3), ("gia-lai", 2), ("dak-lak", 2)]

DEST_BY_BORDER = {
    "CN": [("CN", 70), ("LA", 4), ("KH", 3), ("MM", 6), ("VN", 12),
           ("MY", 2), ("TW", 2), ("KR", 1)],
    "LA": [("LA", 40), ("CN", 25), ("TH", 8), ("MM", 4), ("KH", 3),
           ("VN", 18), ("MY", 2)],
    "KH": [("KH", 58), ("CN", 10), ("MM", 6), ("TH", 4), ("VN", 20),
           ("MY", 2)],
    "": [("CN", 35), ("KH", 20), ("LA", 8), ("MM", 10), ("VN", 20),
         ("MY", 3), ("KR", 2), ("JP", 1), ("TW", 1)],
}

SOURCES = [("border_guard", 30), ("police", 25), ("hotline_111", 10),
           ("commune_committee", 9), ("ngo", 8), ("mission_abroad", 7),
           ("social_facility", 5), ("coast_guard", 3), ("self_report", 3)]

PURPOSES = [("sexual_exploitation", 42), ("forced_marriage", 26),
            ("forced_labour", 20), ("labour_export_fraud", 8),
            ("surrogacy", 2), ("organ_removal", 1), ("other", 1)]
PURPOSE_ORDER = ["sexual_exploitation", "forced_labour",
                 "labour_export_fraud", "organ_removal", "surrogacy",
                 "forced_marriage", "other"]

ETHNIC_NORTH = [("Kinh", 45), ("H'Mông", 25), ("Thái", 10), ("Dao", 8),
                ("Tày", 7), ("Nùng", 5)]
ETHNIC_SOUTH = [("Kinh", 85), ("Khmer", 12), ("Hoa", 3)]

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Giàng", "Vàng", "Sùng", "Lò", "Lý", "Thào"]
GIVEN_F = ["Lan", "Hoa", "Mai", "Hương", "Thu", "Dung", "Mỷ", "Sua",
           "Pằng", "Nhung", "Ngọc", "Thảo"]
GIVEN_M = ["Minh", "Nam", "Hùng", "Dũng", "Sính", "Páo", "Tuấn", "Long"]

# type -> (VND per service (lo, hi), days (lo, hi) or None)
SERVICES = {
    "essential_needs": ((50_000, 60_000), (3, 90)),
    "medical": ((300_000, 3_000_000), (1, 10)),
    "psychological": ((500_000, 2_000_000), (1, 6)),
    "legal_aid": ((0, 1_000_000), None),
    "legal_support": ((0, 500_000), None),
    "travel": ((200_000, 1_500_000), None),
    "hardship_allowance": ((1_500_000, 3_000_000), None),
    "vocational_training": ((2_000_000, 6_000_000), (30, 90)),
    "job_placement": ((0, 500_000), None),
    "education": ((500_000, 2_000_000), (30, 120)),
    "interpretation": ((300_000, 1_000_000), (1, 3)),
    "loan": ((10_000_000, 50_000_000), None),
    "child_protection": ((0, 1_000_000), (1, 30)),
}
SERVICE_WEIGHTS = [("essential_needs", 30), ("medical", 22),
                   ("psychological", 14), ("travel", 10),
                   ("hardship_allowance", 9), ("legal_aid", 6),
                   ("legal_support", 3), ("vocational_training", 4),
                   ("job_placement", 1), ("education", 1)]


def fake_uuid(rng, day):
    """A UUIDv7-shaped id: the day's milliseconds, then seeded bits."""
    ms = int(datetime.datetime(day.year, day.month, day.day,
                               tzinfo=datetime.timezone.utc).timestamp()
             * 1000) + rng.randrange(86_400_000)
    r = rng.getrandbits(74)
    hi = ms & ((1 << 48) - 1)
    ver = (0x7 << 12) | (r >> 62)
    var = (0x2 << 14) | ((r >> 48) & 0x3fff)
    low = r & ((1 << 48) - 1)
    return "%08x-%04x-%04x-%04x-%012x" % (hi >> 16, hi & 0xffff, ver, var,
                                          low)


def age_for(rng, category):
    if category == "accompanying_child":
        return pick(rng, [(rng.randint(0, 11), 80),
                          (rng.randint(12, 17), 20)])
    band = pick(rng, [((12, 15), 8), ((16, 17), 12), ((18, 29), 50),
                      ((30, 44), 24), ((45, 60), 6)])
    return rng.randint(*band)


def status_for(rng, category):
    if category == "being_identified":
        return pick(rng, [("reported", 35), ("under_verification", 50),
                          ("not_victim", 15)])
    return pick(rng, [("identified", 15), ("receiving_support", 35),
                      ("reintegration_followup", 25), ("closed", 20),
                      ("under_verification", 5)])


def services_for(rng, category, status, received, year_end, idx):
    identified = status in ("identified", "receiving_support",
                            "reintegration_followup", "closed")
    if category == "being_identified":
        n = pick(rng, [(0, 60), (1, 30), (2, 10)])
    elif identified:
        n = pick(rng, [(0, 8), (1, 20), (2, 30), (3, 27), (4, 15)])
    else:
        n = pick(rng, [(0, 70), (1, 30)])
    types = []
    while len(types) < n:
        t = pick(rng, SERVICE_WEIGHTS)
        if category == "accompanying_child" and rng.random() < 0.5:
            t = "child_protection"
        if t not in types:
            types.append(t)
    out = []
    for k, t in enumerate(types):
        (vlo, vhi), days = SERVICES[t]
        on = received + datetime.timedelta(days=rng.randint(0, 20))
        if on > year_end:
            on = year_end
        ev = {"id": "svc-%06d-%d" % (idx, k), "type": t,
              "on": on.isoformat()}
        d = rng.randint(*days) if days else None
        if t == "essential_needs":
            ev["amount_vnd"] = d * rng.randint(vlo // 1000, vhi // 1000) \
                * 1000
        else:
            ev["amount_vnd"] = rng.randint(vlo // 1000, vhi // 1000) * 1000
        if d is not None:
            ev["days"] = d
        if rng.random() < 0.3:
            ev["provider"] = "FAKE provider"
        out.append(ev)
    return out


def make_case(rng, idx, province, provinces, year, undated_rate):
    name, borders = provinces[province]
    border = borders[0] if borders else ""
    category = pick(rng, [("victim", 70), ("being_identified", 24),
                          ("accompanying_child", 6)])
    if category == "accompanying_child":
        sex = pick(rng, [("female", 50), ("male", 50)])
    else:
        sex = pick(rng, [("female", 84), ("male", 14), ("unknown", 1.5),
                         ("other", 0.5)])
    start = datetime.date(year, 1, 1)
    year_end = datetime.date(year, 12, 31)
    received = start + datetime.timedelta(days=rng.randrange(
        (year_end - start).days + 1))
    age = age_for(rng, category)
    home = province if rng.random() < 0.55 else pick(rng, HOMES)
    given = GIVEN_F if sex == "female" else GIVEN_M
    middle = "Thị" if sex == "female" else "Văn"
    person = {
        "category": category,
        "legal_status": pick(rng, [("citizen", 97),
                                   ("stateless_resident", 1),
                                   ("foreigner", 2)]),
        "sex": sex,
        "home_province": home,
        "ethnicity": pick(rng, ETHNIC_SOUTH if border == "KH" or
                          province in ("can-tho", "ca-mau", "vinh-long",
                                       "ho-chi-minh") else ETHNIC_NORTH),
        "full_name": "FAKE %s %s %s %04d" % (rng.choice(FAMILY), middle,
                                             rng.choice(given), idx),
        "id_number": "FAKE%08d" % idx,
    }
    if rng.random() > 0.03:
        person["birth_year"] = year - age
    purposes = []
    if category != "accompanying_child" and rng.random() > 0.04:
        purposes.append(pick(rng, PURPOSES))
        if rng.random() < 0.12:
            p2 = pick(rng, PURPOSES)
            if p2 not in purposes:
                purposes.append(p2)
    traffic = {}
    if purposes:
        traffic["purposes"] = sorted(purposes, key=PURPOSE_ORDER.index)
    if rng.random() > 0.02:
        traffic["destination_country"] = pick(
            rng, DEST_BY_BORDER.get(border, DEST_BY_BORDER[""]))
    returned = received - datetime.timedelta(days=rng.randint(0, 7))
    if returned.year == year:
        traffic["returned_on"] = returned.isoformat()
    traffic["return_route"] = pick(rng, [("official_repatriation", 45),
                                         ("self_return", 35),
                                         ("domestic_rescue", 20)])
    if traffic.get("destination_country") == "VN":
        traffic["return_route"] = "domestic_rescue"
    intake = {"source": pick(rng, SOURCES),
              "facility": "FAKE social assistance facility, %s" % name}
    if rng.random() >= undated_rate:
        intake["received_on"] = received.isoformat()
    status = status_for(rng, category)
    case = {
        "id": fake_uuid(rng, received),
        "status": status,
        "person": person,
        "trafficking": traffic,
        "intake": intake,
        "services": services_for(rng, category, status, received,
                                 year_end, idx),
    }
    if rng.random() < 0.3:
        case["notes"] = [{"id": "note-%06d" % idx,
                          "on": received.isoformat(),
                          "author": "FAKE worker",
                          "text": "FAKE note %04d: first interview done."
                                  % idx}]
    return case


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--province",
                    help="node id of the receiving province")
    ap.add_argument("--batch", help="jobs, one per line: "
                    "PROVINCE COUNT START OUTFILE")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--start", type=int, default=0,
                    help="first index (names and ids number from it)")
    ap.add_argument("--undated-rate", type=float, default=0.0,
                    help="share of cases without intake.received_on")
    ap.add_argument("--out", help="write here instead of stdout")
    a = ap.parse_args(argv)
    provinces = load_provinces()
    if (a.province is None) == (a.batch is None):
        ap.error("give --province or --batch")
    jobs = []
    if a.batch:
        with open(a.batch, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                w = line.split()
                if not w:
                    continue
                if len(w) != 4 or not w[1].isdigit() or not w[2].isdigit():
                    ap.error("%s:%d: want PROVINCE COUNT START OUTFILE" %
                             (a.batch, n))
                jobs.append((w[0], int(w[1]), int(w[2]), w[3]))
    else:
        jobs.append((a.province, a.count, a.start, a.out))
    if not 1900 < a.year < 2100:
        ap.error("bad --year")
    for province, count, start, out in jobs:
        if province not in provinces:
            ap.error("unknown province %r (see deploy/provinces.tsv)" %
                     province)
        if count < 0 or start < 0:
            ap.error("bad --count or --start")
        rng = random.Random("%d:%s:%d" % (a.seed, province, start))
        text = "".join(json.dumps(make_case(rng, start + i, province,
                                            provinces, a.year,
                                            a.undated_rate),
                                  ensure_ascii=False) + "\n"
                       for i in range(count))
        if out:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
