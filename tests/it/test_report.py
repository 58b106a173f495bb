"""`casesync report`: figures, small-cell suppression, formats, errors.

The expected figures are computed here, in Python, from the generated JSON
that was imported (deploy/gen_cases.py), never from casesync's output.  The
suppression audit is independent of the C engine too: for every "<K" cell
it asks whether another value is consistent with everything the report
publishes (line sums for the 1-D tables and the support figures; a flow
model for the sex x age band table with its margins).
"""
import collections
import csv
import html.parser
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import harness
from harness import ROOT, check, ok

GEN = os.path.join(ROOT, "deploy", "gen_cases.py")
IDENTIFIED = {"identified", "receiving_support", "reintegration_followup",
              "closed"}
DIMS = ["province", "category", "sex", "age_band", "purpose", "destination",
        "source", "status", "service", "referral_out", "referral_in",
        "referral_pending"]
LINE_DIMS = ["province", "category", "destination", "source", "status"]


def gen(province, seed, count, year=2025, start=0, undated=0.0):
    """Generated cases (list of dicts) and the JSON Lines text."""
    p = subprocess.run([sys.executable, GEN, "--province", province,
                        "--seed", str(seed), "--count", str(count),
                        "--year", str(year), "--start", str(start),
                        "--undated-rate", str(undated)],
                       capture_output=True, text=True, check=True)
    return [json.loads(l) for l in p.stdout.splitlines()], p.stdout


def load(node, text, env, name="in.jsonl"):
    path = os.path.join(env.tmp, node.name + "-" + name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    ok(node.cli("import", path), "import")


# ------------------------------------------------------------ expectations

def age_band(case, recv):
    by = case.get("person", {}).get("birth_year")
    if by is None or not recv:
        return "unknown"
    age = int(recv[:4]) - by
    if age < 0:
        return "unknown"
    for hi, band in ((11, "0-11"), (15, "12-15"), (17, "16-17"),
                     (29, "18-29"), (44, "30-44")):
        if age <= hi:
            return band
    return "45+"


def expected(records, lo=None, hi=None, province=None):
    """records: (owner, case dict, [(from, to)] referrals).  Returns the
    figures as plain dicts, counted the way docs/REPORTS.md says."""
    e = {"cases": 0, "undated": 0,
         "dims": {d: collections.Counter() for d in DIMS},
         "sex_by_age_band": collections.Counter(),
         "purpose_by_sex": collections.Counter(),
         "identified": 0, "with": 0,
         "events": collections.Counter(), "vnd": collections.Counter(),
         "days": collections.Counter()}
    period = lo is not None or hi is not None
    for owner, c, refs in records:
        recv = c.get("intake", {}).get("received_on")
        mine = province is None or owner == province
        if period:
            inside = bool(recv) and (lo is None or recv >= lo) and \
                (hi is None or recv <= hi)
        else:
            inside = True
        if not recv and mine:
            e["undated"] += 1
        if not inside:
            continue
        for f, t, *pending in refs:
            if pending:
                # An offer not yet answered counts apart.
                if province is None or f == province:
                    e["dims"]["referral_pending"][t] += 1
                elif t == province:
                    e["dims"]["referral_pending"][f] += 1
            elif province is None:
                e["dims"]["referral_out"][f] += 1
                e["dims"]["referral_in"][t] += 1
            else:
                if f == province:
                    e["dims"]["referral_out"][t] += 1
                if t == province:
                    e["dims"]["referral_in"][f] += 1
        if not mine:
            continue
        person = c.get("person", {})
        traf = c.get("trafficking", {})
        e["cases"] += 1
        d = e["dims"]
        d["province"][owner] += 1
        cat = person.get("category", "unknown")
        d["category"][cat] += 1
        sex = person.get("sex", "unknown")
        d["sex"][sex] += 1
        band = age_band(c, recv)
        d["age_band"][band] += 1
        e["sex_by_age_band"][(sex, band)] += 1
        for p in traf.get("purposes") or ["unknown"]:
            d["purpose"][p] += 1
            e["purpose_by_sex"][(p, sex)] += 1
        d["destination"][traf.get("destination_country", "unknown")] += 1
        d["source"][c.get("intake", {}).get("source", "unknown")] += 1
        status = c.get("status", "unknown")
        d["status"][status] += 1
        types = set()
        for s in c.get("services", []):
            types.add(s["type"])
            e["events"][s["type"]] += 1
            e["vnd"][s["type"]] += s.get("amount_vnd", 0)
            e["days"][s["type"]] += s.get("days", 0)
        for t in types:
            d["service"][t] += 1
        if cat == "victim" and status in IDENTIFIED:
            e["identified"] += 1
            e["with"] += 1 if types else 0
    return e


def nonzero(counter):
    return {k: v for k, v in counter.items() if v != 0}


def report_json(node, *args):
    r = ok(node.cli("report", "--format", "json", *args), "report json")
    return json.loads(r.out)


def check_figures(rep, e, what):
    """Every figure of an unsuppressed JSON report equals the expectation."""
    check(rep["cases"] == e["cases"], "%s: cases %r != %r" %
          (what, rep["cases"], e["cases"]))
    check(rep["undated"] == e["undated"], "%s: undated %r != %r" %
          (what, rep["undated"], e["undated"]))
    dims = {d["name"]: d for d in rep["dimensions"]}
    check(sorted(dims) == sorted(DIMS), "%s: dimensions %r" %
          (what, sorted(dims)))
    for name in DIMS:
        got = nonzero({c["value"]: c["count"] for c in dims[name]["cells"]})
        check(got == nonzero(e["dims"][name]), "%s: %s: %r != %r" %
              (what, name, got, dict(e["dims"][name])))
        if name in LINE_DIMS or name in ("sex", "age_band"):
            check(dims[name]["total"] == e["cases"], what + ": total")
    cross = {x["name"]: x for x in rep["cross"]}
    for name in ("sex_by_age_band", "purpose_by_sex"):
        x = cross[name]
        got = {}
        for i, rv in enumerate(x["row_values"]):
            for j, cv in enumerate(x["col_values"]):
                if x["cells"][i][j]:
                    got[(rv, cv)] = x["cells"][i][j]
        check(got == nonzero(e[name]), "%s: %s: %r != %r" %
              (what, name, got, dict(e[name])))
    s = rep["support"]
    check(s["identified_victims"] == e["identified"] and
          s["with_service"] == e["with"] and
          s["without_service"] == e["identified"] - e["with"],
          "%s: support %r, expected %d/%d" % (what, s, e["with"],
                                              e["identified"]))
    if e["identified"]:
        share = round(100.0 * e["with"] / e["identified"], 1)
        check(abs(s["share_pct"] - share) < 0.051, "%s: share %r != %r" %
              (what, s["share_pct"], share))
    for sv in rep["services"]:
        t = sv["type"]
        check(sv["services"] == e["events"][t] and sv["vnd"] == e["vnd"][t]
              and sv["days"] == e["days"][t],
              "%s: service %s: %r" % (what, t, sv))
    check(rep["services_total"]["vnd"] == sum(e["vnd"].values()) and
          rep["services_total"]["days"] == sum(e["days"].values()),
          what + ": service totals")


# ------------------------------------------------------------ tests

def test_report_figures_match_generated_data(env):
    c = env.central().start()
    provinces = {"lao-cai": 11, "thanh-hoa": 12, "an-giang": 13}
    records = {}
    for name, seed in provinces.items():
        p = env.province(name, c)
        cases, text = gen(name, seed, 120, undated=0.03)
        older, text2 = gen(name, seed, 25, year=2024, start=5000)
        load(p, text + text2, env)
        for case in cases + older:
            records[case["id"]] = [name, case, []]
        provinces[name] = p
    # Referrals, when this build has `case transfer`: two border cases go
    # to thanh-hoa.
    lao = provinces["lao-cai"]
    if "case transfer" in lao.cli("case", "--help").out:
        moved = [cid for cid, (o, cs, _) in records.items()
                 if o == "lao-cai" and
                 cs["intake"].get("received_on", "").startswith("2025")][:2]
        # The first is accepted, the second still waits for an answer.
        harness.refer(lao, provinces["thanh-hoa"], moved[0], "home province")
        records[moved[0]][0] = "thanh-hoa"
        records[moved[0]][2].append(("lao-cai", "thanh-hoa"))
        ok(lao.cli("case", "transfer", moved[1], "--to", "thanh-hoa",
                   "--reason", "home province"), "transfer")
        records[moved[1]][2].append(("lao-cai", "thanh-hoa", "pending"))
    for name in ("lao-cai", "thanh-hoa", "an-giang"):
        ok(provinces[name].sync(), "sync " + name)
    recs = [tuple(v) for v in records.values()]

    check_figures(report_json(c), expected(recs), "all")
    check_figures(report_json(c, "--year", "2025"),
                  expected(recs, "2025-01-01", "2025-12-31"), "2025")
    check_figures(report_json(c, "--from", "2025-03-01", "--to",
                              "2025-06-30", "--province", "thanh-hoa"),
                  expected(recs, "2025-03-01", "2025-06-30", "thanh-hoa"),
                  "thanh-hoa spring")
    check_figures(report_json(c, "--from", "2025-10-01"),
                  expected(recs, "2025-10-01", None), "from october")
    check_figures(report_json(c, "--province", "lao-cai", "--to",
                              "2024-12-31"),
                  expected(recs, None, "2024-12-31", "lao-cai"),
                  "lao-cai to 2024")

    # CSV and text carry the same numbers as JSON.
    rep = report_json(c, "--year", "2025")
    rows = list(csv.reader(io.StringIO(ok(c.cli(
        "report", "--year", "2025", "--format", "csv")).out)))
    check(rows[0] == ["dimension", "value", "count"], rows[0])
    table = {(r[0], r[1]): r[2] for r in rows[1:]}
    check(table[("cases", "total")] == str(rep["cases"]), "csv total")
    for d in rep["dimensions"]:
        for cell in d["cells"]:
            check(table[(d["name"], cell["value"])] == str(cell["count"]),
                  "csv %s %s" % (d["name"], cell["value"]))
    for x in rep["cross"]:
        for i, rv in enumerate(x["row_values"]):
            for j, cv in enumerate(x["col_values"]):
                check(table[(x["name"], rv + "/" + cv)] ==
                      str(x["cells"][i][j]), "csv cross")
    s = rep["support"]
    check(table[("support", "identified_victims")] ==
          str(s["identified_victims"]) and
          table[("support_share_pct", "with_service")] ==
          "%.1f" % s["share_pct"], "csv support")
    for sv in rep["services"]:
        check(table[("service_vnd", sv["type"])] == str(sv["vnd"]) and
              table[("service_days", sv["type"])] == str(sv["days"]),
              "csv measures")
    text = ok(c.cli("report", "--year", "2025")).out
    check("Cases received: %d\n" % rep["cases"] in text, text[:400])
    check(re.search(r"identified victims +%d\n" % s["identified_victims"],
                    text), "text support")
    check("%.1f%%" % s["share_pct"] in text, "text share")
    for line in text.splitlines():
        check(len(line) <= 80, "text line too long: %r" % line)


def test_report_on_a_province_and_empty_store(env):
    p = env.province("nghe-an")
    r = report_json(p)
    check(r["cases"] == 0 and r["support"]["share_pct"] is None, r)
    ok(p.cli("report"), "text on an empty store")
    cases, text = gen("nghe-an", 5, 40)
    load(p, text, env)
    recs = [("nghe-an", cs, []) for cs in cases]
    check_figures(report_json(p, "--province", "nghe-an"),
                  expected(recs, province="nghe-an"), "province node")
    r = report_json(p, "--province", "ha-tinh")
    check(r["cases"] == 0, "another province's cases: %r" % r["cases"])


# ------------------------------------------------------------ suppression

def bounds(v, k, withheld):
    """What a reader knows about a published count."""
    if isinstance(v, int):
        return v, v
    if v == "<%d" % k:
        return 1, k - 1
    check(v == "x", "unexpected cell %r" % v)
    return (0, None) if withheld else (k, None)


def line_alternatives(cells, total, k, withheld, small):
    """For a line sum(cells) == total, the values each "<k" entry (a cell,
    or the total, index len(cells)) can take given every published number
    of the line.  Integer sums of intervals are intervals, so the interval
    arithmetic below is exact.  Returns [(index, values)]."""
    b = [bounds(c, k, withheld) for c in cells]
    tb = bounds(total, k, withheld)
    out = []
    for at, v in enumerate(list(cells) + [total]):
        if v != small:
            continue
        lo, hi = b[at] if at < len(cells) else tb
        others = [x for i, x in enumerate(b) if i != at]
        o_lo = sum(x[0] for x in others)
        o_hi = None if any(x[1] is None for x in others) else \
            sum(x[1] for x in others)
        vals = []
        for val in range(lo, hi + 1):
            if at < len(cells):
                # val + others must be able to equal the total.
                if tb[1] is not None and val + o_lo > tb[1]:
                    continue
                if o_hi is not None and val + o_hi < tb[0]:
                    continue
            else:
                if val < o_lo or (o_hi is not None and val > o_hi):
                    continue
            vals.append(val)
        out.append((at, vals))
    return out


def is_withheld(cells):
    return all(c == "x" for c in cells)


class Flow:
    """Max flow (Edmonds-Karp) on a small graph."""

    def __init__(self, n):
        self.n = n
        self.cap = [[0] * n for _ in range(n)]

    def add(self, u, v, c):
        self.cap[u][v] += c

    def maxflow(self, s, t):
        total = 0
        while True:
            prev = [-1] * self.n
            prev[s] = s
            q = [s]
            for u in q:
                for v in range(self.n):
                    if prev[v] < 0 and self.cap[u][v] > 0:
                        prev[v] = u
                        q.append(v)
            if prev[t] < 0:
                return total
            f, v = None, t
            while v != s:
                u = prev[v]
                f = self.cap[u][v] if f is None else min(f, self.cap[u][v])
                v = u
            v = t
            while v != s:
                u = prev[v]
                self.cap[u][v] -= f
                self.cap[v][u] += f
                v = u
            total += f


def table_feasible(cells, rows, cols, n, k, withheld, fix=None):
    """Is there a sex x age table with these published cells, margins
    rows/cols and total n (cell (i, j) forced to fix[1] when fix is
    ((i, j), v); (i, -1) a row margin, (-1, j) a column margin)?"""
    nr, nc = len(rows), len(cols)
    S, T = nr + nc, nr + nc + 1
    SS, TT = nr + nc + 2, nr + nc + 3
    fl = Flow(nr + nc + 4)
    excess = [0] * (nr + nc + 4)

    def edge(u, v, b):
        lo, hi = b
        hi = n if hi is None else min(hi, n)
        if lo > hi:
            return False
        fl.add(u, v, hi - lo)
        excess[v] += lo
        excess[u] -= lo
        return True

    def b(v, where):
        if fix and fix[0] == where:
            return fix[1], fix[1]
        return bounds(v, k, withheld)

    good = True
    for i in range(nr):
        good &= edge(S, i, b(rows[i], (i, -1)))
        for j in range(nc):
            good &= edge(i, nr + j, b(cells[i][j], (i, j)))
    for j in range(nc):
        good &= edge(nr + j, T, b(cols[j], (-1, j)))
    good &= edge(T, S, (n, n))
    if not good:
        return False
    need = 0
    for v in range(nr + nc + 2):
        if excess[v] > 0:
            fl.add(SS, v, excess[v])
            need += excess[v]
        elif excess[v] < 0:
            fl.add(v, TT, -excess[v])
    return fl.maxflow(SS, TT) == need


def audit(rep, k, truth=None):
    """Fails when a count from 1 to k-1 is shown, or when a "<k" cell has
    only one value consistent with what the report publishes."""
    small = "<%d" % k
    n = rep["cases"]
    check(isinstance(n, int) and not 1 <= n < k, "total %r" % n)

    def no_small(v, where):
        check(not (isinstance(v, int) and 1 <= v < k),
              "%s shows %r with --min-cell %d" % (where, v, k))

    dims = {d["name"]: d for d in rep["dimensions"]}
    for d in rep["dimensions"]:
        for c in d["cells"]:
            no_small(c["count"], d["name"])
    for x in rep["cross"]:
        for row in x["cells"]:
            for v in row:
                no_small(v, x["name"])
    for key in ("identified_victims", "with_service", "without_service"):
        no_small(rep["support"][key], key)
    for sv in rep["services"]:
        no_small(sv["persons"], "service persons")
        no_small(sv["services"], "services")
    no_small(rep["undated"], "undated")
    found = 0

    def line(cells, total, where):
        nonlocal found
        w = is_withheld(list(cells) + [total])
        for at, vals in line_alternatives(cells, total, k, w, small):
            found += 1
            check(len(vals) >= 2, "%s: entry %d recomputable: %r" %
                  (where, at, vals))

    # 1-D tables whose cells sum to the published total.
    for name in LINE_DIMS:
        line([c["count"] for c in dims[name]["cells"]], n, name)
    # Support: with + without = identified.
    s = rep["support"]
    line([s["with_service"], s["without_service"]],
         s["identified_victims"], "support")
    # Purpose x sex: each row sums to its purpose count.
    x = {c["name"]: c for c in rep["cross"]}["purpose_by_sex"]
    for i, row in enumerate(x["cells"]):
        line(row, x["row_totals"][i], "purpose x sex row %d" % i)
    # Tables with no relation between their cells.
    for name in ("service", "referral_out", "referral_in"):
        for c in dims[name]["cells"]:
            if c["count"] == small:
                found += 1
                check(k >= 3, "a free <%d cell is exact" % k)
    # Sex x age band with its margins: a flow model.
    x = {c["name"]: c for c in rep["cross"]}["sex_by_age_band"]
    rows, cols, cells = x["row_totals"], x["col_totals"], x["cells"]
    allc = [v for r in cells for v in r] + rows + cols
    w = is_withheld(allc)
    check(table_feasible(cells, rows, cols, n, k, w), "published table "
          "has no solution")
    spots = [((i, j), cells[i][j]) for i in range(len(rows))
             for j in range(len(cols))]
    spots += [((i, -1), rows[i]) for i in range(len(rows))]
    spots += [((-1, j), cols[j]) for j in range(len(cols))]
    for where, v in spots:
        if v != small:
            continue
        found += 1
        alts = [a for a in range(1, k)
                if table_feasible(cells, rows, cols, n, k, w, (where, a))]
        check(len(alts) >= 2, "sex x age %r recomputable: %r" %
              (where, alts))
        if truth is not None:
            i, j = where
            real = truth["sex_by_age_band"][(x["row_values"][i],
                                             x["col_values"][j])] \
                if i >= 0 and j >= 0 else None
            check(real is None or real in alts, "truth not feasible")
    return found


# The headings small_cells_in_text must recognise, in each language.
TEXT_HEADS = {
    "en": {"received": ("Cases received:",
                        "Cases without a reception date:"),
           "services": "Services by type"},
    "vi": {"received": ("S\u1ed1 h\u1ed3 s\u01a1 ti\u1ebfp nh\u1eadn:",
                        "H\u1ed3 s\u01a1 kh\u00f4ng c\u00f3 ng\u00e0y "
                        "ti\u1ebfp nh\u1eadn:"),
           "services": "H\u1ed7 tr\u1ee3 theo ch\u1ebf \u0111\u1ed9"},
}


def small_cells_in_text(text, k, lang="en"):
    """Integers from 1 to k-1 shown in the count columns of the text."""
    heads = TEXT_HEADS[lang]
    bad = []
    section = ""
    for line in text.splitlines():
        if not line.startswith("  "):
            section = line
            if line.startswith(heads["received"]):
                v = line.split(":")[1].strip()
                if v.isdigit() and 1 <= int(v) < k:
                    bad.append(line)
            continue
        if line.startswith("  (") or line.startswith("   "):
            continue        # a note, or the next line of one
        toks = line.split()
        if section.startswith(heads["services"]):
            toks = toks[-4:-2] if len(toks) >= 4 else []
        elif "\\" in line:
            continue        # a cross-table header
        for t in toks:
            if t.isdigit() and 1 <= int(t) < k:
                bad.append(line)
    return bad


def small_cells_in_html(doc, k):
    return [v for v in re.findall(r'class="n cnt">([^<]*)<', doc) +
            re.findall(r'class="cnt">([^<]*)<', doc)
            if v.isdigit() and 1 <= int(v) < k]


def check_all_formats(node, k, args, truth=None):
    rep = report_json(node, "--min-cell", str(k), *args)
    found = audit(rep, k, truth)
    rows = list(csv.reader(io.StringIO(ok(node.cli(
        "report", "--format", "csv", "--min-cell", str(k), *args)).out)))
    for r in rows[1:]:
        if r[0] in ("report", "service_vnd", "service_days",
                    "support_share_pct"):
            continue
        check(not (r[2].isdigit() and 1 <= int(r[2]) < k),
              "csv row %r with K=%d" % (r, k))
    text = ok(node.cli("report", "--min-cell", str(k), *args)).out
    check(small_cells_in_text(text, k) == [], "text shows small cells: %r"
          % small_cells_in_text(text, k)[:5])
    doc = ok(node.cli("report", "--format", "html", "--min-cell", str(k),
                      *args)).out
    check(small_cells_in_html(doc, k) == [], "html shows small cells")
    # In Vietnamese too: the same cells, other words around them.
    text = ok(node.cli("report", "--lang", "vi", "--min-cell", str(k),
                       *args)).out
    check(small_cells_in_text(text, k, "vi") == [], "vi text shows small "
          "cells: %r" % small_cells_in_text(text, k, "vi")[:5])
    doc = ok(node.cli("report", "--lang", "vi", "--format", "html",
                      "--min-cell", str(k), *args)).out
    check(small_cells_in_html(doc, k) == [], "vi html shows small cells")
    return rep, found


def make_case(sex, band_age, **kw):
    c = {"status": kw.get("status", "receiving_support"),
         "person": {"category": kw.get("category", "victim"), "sex": sex,
                    "birth_year": 2025 - band_age,
                    "full_name": "FAKE Hidden Name"},
         "trafficking": {"purposes": kw.get("purposes",
                                            ["sexual_exploitation"]),
                         "destination_country": kw.get("dest", "CN")},
         "intake": {"source": kw.get("source", "border_guard"),
                    "received_on": "2025-04-01"},
         "services": kw.get("services", [{"type": "medical",
                                          "on": "2025-04-02"}]),
         "notes": [{"text": "FAKE secret note"}]}
    return c


def import_cases(node, env, cases, name):
    load(node, "".join(json.dumps(c) + "\n" for c in cases), env, name)


def test_report_suppression_crafted(env):
    # A complementary cell is needed: one small cell in a line.
    p = env.province("lao-cai")
    cases = ([make_case("female", 25) for _ in range(20)] +
             [make_case("male", 25) for _ in range(6)] +
             [make_case("other", 35)])
    import_cases(p, env, cases, "a")
    rep, found = check_all_formats(p, 5, [])
    sex = {c["value"]: c["count"] for c in rep["dimensions"][2]["cells"]}
    check(sex["other"] == "<5" and "x" in sex.values(), sex)
    check(found >= 2, "expected suppressed cells, found %d" % found)

    # A line of 1 and K: no cycle protects the 1, the table is withheld.
    q = env.province("thanh-hoa")
    cases = ([make_case("female", 25) for _ in range(5)] +
             [make_case("male", 25)])
    import_cases(q, env, cases, "b")
    rep, _ = check_all_formats(q, 5, [])
    sex = [c["count"] for c in rep["dimensions"][2]["cells"]]
    check(all(v == "x" for v in sex), "expected a withheld table: %r" % sex)

    # Fewer than K cases: nothing is published at all.
    r = env.province("son-la")
    import_cases(r, env, [make_case("female", 25) for _ in range(3)], "c")
    rep = report_json(r, "--public")
    check(rep["withheld"] is True and "dimensions" not in rep, rep)
    text = ok(r.cli("report", "--public")).out
    check("nothing is published" in text, text)

    # Identifying fields and notes are never read, in any format.
    for fmt in ("text", "csv", "json", "html"):
        out = ok(p.cli("report", "--format", fmt)).out
        check("FAKE" not in out and "secret" not in out, fmt)


def test_report_suppression_generated(env):
    """Small generated data sets, several K: no small cell is shown and no
    "<K" cell can be worked out, in all four formats."""
    total = 0
    for i, (name, count) in enumerate((("lao-cai", 30), ("an-giang", 45),
                                       ("nghe-an", 70), ("ha-tinh", 120))):
        p = env.province(name)
        cases, text = gen(name, 100 + i, count, undated=0.05)
        load(p, text, env)
        truth = expected([(name, c, []) for c in cases])
        for k in (3, 5, 11):
            _, found = check_all_formats(p, k, [], truth)
            total += found
        rep, _ = check_all_formats(p, 5, ["--year", "2025", "--public"])
        check(rep["report"]["min_cell"] == 5, "--public is K=5")
    check(total > 20, "the data sets should have small cells: %d" % total)


# ------------------------------------------------------------ HTML

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col",
        "embed", "source", "track", "wbr"}


class Balance(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.svgs = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag == "svg":
            self.svgs.append(dict(attrs).get("data-dimension"))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if tag == "svg":
            self.svgs.append(dict(attrs).get("data-dimension"))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %r" % (tag, self.stack[-1:]))
            return
        self.stack.pop()


def test_report_html_well_formed(env):
    p = env.province("quang-ninh")
    cases, text = gen("quang-ninh", 7, 90)
    load(p, text, env)
    out = os.path.join(env.tmp, "r.html")
    for args in ([], ["--public"], ["--min-cell", "11"]):
        ok(p.cli("report", "--format", "html", "--out", out, *args))
        doc = open(out, encoding="utf-8").read()
        b = Balance()
        b.feed(doc)
        b.close()
        check(b.errors == [] and b.stack == [], "unbalanced: %r %r" %
              (b.errors[:3], b.stack))
        check(b.scripts == 0, "no script")
        check(sorted(b.svgs) == sorted(DIMS), "one chart per dimension: %r"
              % b.svgs)
        root = ET.fromstring(doc.split("\n", 1)[1])   # after <!DOCTYPE>
        check(root.tag == "html", root.tag)
        low = doc.lower()
        for bad in ("src=", "href=", "url(", "@import", "<script", "<link"):
            check(bad not in low, "external reference %r" % bad)
        check('name="viewport"' in doc and "@media print" in doc and
              "@media (max-width" in doc, "responsive and printable")
        check(doc.startswith("<!DOCTYPE html>") and 'charset="utf-8"' in doc,
              "doctype, charset")


# ------------------------------------------------------------ languages

# Known Vietnamese labels (Law 53/2024 terms, ../shared/DOMAIN.md).
VI_TEXT = [
    "H\u1ed3 s\u01a1 theo gi\u1edbi t\u00ednh",      # Cases by sex
    "b\u00f3c l\u1ed9t t\u00ecnh d\u1ee5c",          # sexual exploitation
    "nhu c\u1ea7u thi\u1ebft y\u1ebfu (a)",          # essential needs (a)
    "tr\u1ee3 gi\u00fap ph\u00e1p l\u00fd (\u0111)",  # legal aid (đ)
    "b\u1ed9 \u0111\u1ed9i bi\u00ean ph\u00f2ng",    # border guard
    "ng\u01b0\u1eddi d\u01b0\u1edbi 18 tu\u1ed5i \u0111i c\u00f9ng",
    "n\u1eef",                                        # female
    "01/01/2025",                                      # dd/mm/yyyy
]


def test_report_lang(env):
    p = env.province("quang-ninh")
    _, text = gen("quang-ninh", 11, 150)
    load(p, text, env)
    args = ["--year", "2025"]
    en = ok(p.cli("report", *args)).out
    vi = ok(p.cli("report", "--lang", "vi", *args)).out
    for word in VI_TEXT:
        check(word in vi, "vi text lacks %r" % word)
        check(word not in en, "en text has %r" % word)
    check(vi.startswith("B\u00e1o c\u00e1o casesync: h\u1ed3 s\u01a1 "
                        "ti\u1ebfp nh\u1eadn t\u1eeb 01/01/2025 "
                        "\u0111\u1ebfn 31/12/2025"), vi[:120])
    check(en.startswith("casesync report: cases received from 2025-01-01 "
                        "to 2025-12-31"), en[:120])
    # The default is English; region subtags and case are accepted.
    check(ok(p.cli("report", "--lang", "en", *args)).out == en, "en")
    check(ok(p.cli("report", "--lang", "vi-VN", *args)).out == vi, "vi-VN")
    check(ok(p.cli("report", "--lang", "EN_us", *args)).out == en, "EN_us")
    # casesync picks the language itself: LANGUAGE and the locale of the
    # environment change nothing.
    check(ok(p.cli("report", "--lang", "vi", *args,
                   env={"LANGUAGE": "fr:de", "LC_ALL": "C",
                        "LANG": "C"})).out == vi, "environment")

    # The HTML page: lang="vi", UTF-8, Vietnamese headings.
    doc = ok(p.cli("report", "--lang", "vi", "--format", "html", *args)).out
    check('<html lang="vi">' in doc and 'charset="utf-8"' in doc, doc[:200])
    for word in VI_TEXT:
        check(word in doc, "vi html lacks %r" % word)
    check("N\u1ea1n nh\u00e2n b\u1ecb mua b\u00e1n" in doc, "h1")
    check('<html lang="en">' in ok(p.cli("report", "--format", "html",
                                         *args)).out, "en html")

    # CSV keeps its machine keys: the same bytes in both languages.
    csv_en = ok(p.cli("report", "--format", "csv", *args)).out
    check(ok(p.cli("report", "--format", "csv", "--lang", "vi",
                   *args)).out == csv_en, "csv differs between languages")
    # JSON: the same keys, values and counts; only titles, labels and the
    # definition are in the language asked for.
    je = json.loads(ok(p.cli("report", "--format", "json", *args)).out)
    jv = json.loads(ok(p.cli("report", "--format", "json", "--lang", "vi",
                             *args)).out)
    check(je["report"]["lang"] == "en" and jv["report"]["lang"] == "vi",
          "lang member")

    def strip(j):
        j = json.loads(json.dumps(j))
        for k in ("lang", "identified_victims_definition"):
            j["report"].pop(k)
        for d in j["dimensions"]:
            d.pop("title")
            for c in d["cells"]:
                c.pop("label")
        for sv in j["services"]:
            sv.pop("label")
        return j
    check(strip(je) == strip(jv), "json figures differ between languages")
    sex = {c["value"]: c["label"] for c in jv["dimensions"][2]["cells"]}
    check(sex["female"] == "n\u1eef" and sex["male"] == "nam", sex)


def test_report_lang_errors(env):
    p = env.province("lao-cai")
    import_cases(p, env, [make_case("female", 25)], "e")
    out = os.path.join(env.tmp, "never.html")
    for lang in ("xx", "", "fr", "vie", "vi-", "en US", "vi\u1ec7t"):
        r = p.cli("report", "--format", "html", "--out", out, "--lang", lang)
        check(r.rc == 1, "%r: rc %d" % (lang, r.rc))
        check(r.out == "" and r.err.count("\n") == 1 and
              r.err.startswith("casesync: ") and "--lang" in r.err,
              "%r: %r" % (lang, r))
        check(not os.path.exists(out), "%r wrote the file" % lang)
        check([f for f in os.listdir(env.tmp) if "never" in f] == [],
              "temporary file left")
    r = p.cli("report", "--lang")
    check(r.rc == 1 and r.err.count("\n") == 1, r)
    check("--lang" in ok(p.cli("report", "--help")).out, "help")


# ------------------------------------------------------------ errors

def test_report_errors(env):
    p = env.province("lao-cai")
    import_cases(p, env, [make_case("female", 25)], "e")
    out = os.path.join(env.tmp, "never.txt")
    bad = [
        ["--year", "20x5"], ["--year", "1800"], ["--from", "2025-02-30"],
        ["--from", "2025-13-01"], ["--to", "2025-1-1"], ["--to", "tomorrow"],
        ["--from", "2025-06-01", "--to", "2025-05-01"],
        ["--year", "2025", "--from", "2025-01-01"],
        ["--province", "atlantis"], ["--province", "LAO-CAI"],
        ["--format", "pdf"], ["--format", ""], ["--min-cell", "0"],
        ["--min-cell", "-3"], ["--min-cell", "five"], ["--min-cell", ""],
        ["--bogus"], ["extra-argument"], ["--min-cell"],
    ]
    for args in bad:
        r = p.cli("report", "--out", out, *args)
        check(r.rc == 1, "%r: rc %d" % (args, r.rc))
        check(r.out == "" and r.err.count("\n") == 1 and
              r.err.startswith("casesync: "), "%r: %r" % (args, r))
        check(not os.path.exists(out), "%r wrote the file" % (args,))
        check([f for f in os.listdir(env.tmp) if "never" in f] == [],
              "temporary file left")
    # An existing file is left untouched by a failing run, replaced whole
    # by a good one.
    open(out, "w").write("old\n")
    check(p.cli("report", "--out", out, "--format", "xml").rc == 1, "xml")
    check(open(out).read() == "old\n", "file changed by a failed run")
    ok(p.cli("report", "--out", out, "--year", "2025"))
    check(open(out).read().startswith("casesync report:"), "replaced")
    r = ok(p.cli("report", "--help"))
    check("--min-cell" in r.out, "help")
