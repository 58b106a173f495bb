"""`casesync export --format htcds|htcds-csv`: records of IOM's Human
Trafficking Case Data Standard 2.0 (docs/HTCDS.md).

HTCDS by IOM is licensed under CC BY 4.0 (docs/htcds/LICENSE.md); the
field list used here is docs/htcds/fields.csv.  No endorsement by IOM is
implied.

Every record is validated against docs/htcds/htcds-2.0.schema.json with a
small validator below (the subset of JSON Schema that
docs/htcds/gen_schema.py generates; any other keyword fails) and checked
against the field list itself.  The expected record of each case is
computed here, in Python, from the case as `casesync export` prints it,
with the mapping table of docs/HTCDS.md; the counts per
vic_TypeOfExploitation and prs_Gender are compared with `casesync report`.
"""
import collections
import csv
import datetime
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys

import harness
from harness import ROOT, check, ok

GEN = os.path.join(ROOT, "deploy", "gen_cases.py")
HT = os.path.join(ROOT, "docs", "htcds")
SCHEMA = os.path.join(HT, "htcds-2.0.schema.json")
FIELDS = os.path.join(HT, "fields.csv")

# The mapping of docs/HTCDS.md, written again here so that the test does
# not trust the C tables.
GENDER = {"female": "Feminine", "male": "Masculine"}
EXPLOITATION = {"sexual_exploitation": "SexualExploitation",
                "forced_labour": "ForcedLabour",
                "labour_export_fraud": "ForcedLabour",
                "organ_removal": "OrganRemoval",
                "surrogacy": "Surrogacy",
                "forced_marriage": "ForcedMarriage",
                "other": "Other"}
STATUS = {"reported": "Active", "under_verification": "Active",
          "identified": "Active", "receiving_support": "Active",
          "reintegration_followup": "FollowUp", "not_victim": "Closed",
          "closed": "Closed"}
TSTATUS = {"victim": "ActualVictimOfTrafficking",
           "being_identified": "PossibleVictimOfTrafficking"}
SUPPORT = {"essential_needs": "SocialCare", "medical": "Health",
           "interpretation": "SocialCare", "legal_support": "Legal",
           "legal_aid": "Legal", "travel": "Financial",
           "psychological": "Health", "education": "Education",
           "vocational_training": "Livelihood",
           "job_placement": "Livelihood", "hardship_allowance": "Financial",
           "loan": "Financial", "child_protection": "SocialCare"}
IDENT_FIELDS = {"prs_FirstName", "prs_MiddleName", "prs_SecondName",
                "prs_IdentityNumber", "prs_MobilePhone",
                "prs_MailingStreet"}


# ------------------------------------------------------------ the standard

def field_list():
    """The standard's fields in order: name -> row of fields.csv."""
    with open(FIELDS, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["field"] != "N/A"]
    return collections.OrderedDict((r["field"], r) for r in rows)


def picklist(row):
    """The picklist values of a field, or None when it has none."""
    if row["type"] not in ("Picklist", "Multiselect Picklist") or \
            not row["value_names"] or row["value_names"].startswith("Use "):
        return None
    return [v for v in row["value_names"].split("|") if v]


# ------------------------------------------------------------ validator

KNOWN = {"$schema", "$comment", "title", "description", "type",
         "properties", "required", "additionalProperties", "items",
         "minItems", "uniqueItems", "enum", "pattern", "format",
         "minLength"}


def validate(s, v, where="$"):
    """Errors of value v against schema s (a list; empty when valid)."""
    unknown = set(s) - KNOWN
    if unknown:
        return ["%s: validator does not know %s" % (where, sorted(unknown))]
    errs = []
    t = s.get("type")
    types = {"object": dict, "array": list, "string": str,
             "boolean": bool}
    if t == "number":
        good = isinstance(v, (int, float)) and not isinstance(v, bool)
    elif t == "integer":
        good = isinstance(v, int) and not isinstance(v, bool)
    elif t is None:
        good = True
    else:
        good = isinstance(v, types[t])
    if not good:
        return ["%s: %r is not of type %s" % (where, v, t)]
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r is not one of %s" % (where, v, s["enum"]))
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append("%s: %r does not match %s" %
                        (where, v, s["pattern"]))
        if len(v) < s.get("minLength", 0):
            errs.append("%s: %r is too short" % (where, v))
        if s.get("format") == "date":
            try:
                datetime.date.fromisoformat(v)
            except ValueError:
                errs.append("%s: %r is not a date" % (where, v))
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0):
            errs.append("%s: fewer than %d items" % (where, s["minItems"]))
        if s.get("uniqueItems") and \
                len(set(map(json.dumps, v))) != len(v):
            errs.append("%s: items not unique" % where)
        for i, x in enumerate(v):
            errs += validate(s.get("items", {}), x, "%s[%d]" % (where, i))
    if isinstance(v, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in v:
                errs.append("%s: %s is required" % (where, k))
        for k, x in v.items():
            if k in props:
                errs += validate(props[k], x, where + "." + k)
            elif s.get("additionalProperties") is False:
                errs.append("%s: %s is not allowed" % (where, k))
    return errs


def test_htcds_validator_rejects(env):
    """The validator fails what it must: it is what proves the export."""
    schema = json.load(open(SCHEMA, encoding="utf-8"))
    good = {"id": "0" * 64, "prs_Gender": "Feminine",
            "vic_TypeOfExploitation": ["ForcedLabour"],
            "vic_AgeWhenTrafficked": 20, "cas_IncomingReferralDate":
            "2025-02-03", "spl_Type": ["Health"]}
    check(validate(schema, good) == [], validate(schema, good))
    for bad in ({"prs_Gender": "Feminine"},
                dict(good, id="x"),
                dict(good, prs_Gender="female"),
                dict(good, prs_Sex="Feminine"),
                dict(good, vic_TypeOfExploitation="ForcedLabour"),
                dict(good, vic_TypeOfExploitation=["Forced"]),
                dict(good, vic_TypeOfExploitation=["Other", "Other"]),
                dict(good, vic_TypeOfExploitation=[]),
                dict(good, vic_AgeWhenTrafficked="20"),
                dict(good, cas_IncomingReferralDate="2025-02-30"),
                dict(good, spl_Type="Health"),
                dict(good, prs_Citizenship=["Viet Nam"])):
        check(validate(schema, bad) != [], "accepted %r" % bad)


def test_htcds_schema_is_generated_from_the_field_list(env):
    r = subprocess.run([sys.executable, os.path.join(HT, "gen_schema.py"),
                        "--check"], capture_output=True, text=True)
    check(r.returncode == 0, r.stdout + r.stderr)
    schema = json.load(open(SCHEMA, encoding="utf-8"))
    fl = field_list()
    check(list(schema["properties"]) == ["id"] + list(fl),
          "schema fields are not the standard's, in its order")
    for name, row in fl.items():
        pl = picklist(row)
        p = schema["properties"][name]
        if pl is not None:
            check((p.get("items") or p)["enum"] == pl, name)
    for text in (schema["description"], schema["$comment"],
                 open(os.path.join(HT, "README.md")).read()):
        check("CC BY 4.0" in text and "IOM" in text and
              "endorse" in text, "attribution missing")


# ------------------------------------------------------------ data

def gen(province, seed, count, year=2025, start=0, undated=0.0):
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


def country(env):
    """Central and three provinces with generated cases (2025, and some
    2024; a few undated), two referrals, phones, addresses and notes on
    some cases; everything synced.  Returns central and the generated
    cases by id."""
    c = env.central().start()
    generated = {}
    provinces = {}
    for name, seed in (("lao-cai", 21), ("thanh-hoa", 22),
                       ("an-giang", 23)):
        p = env.province(name, c)
        cases, _ = gen(name, seed, 90, undated=0.03)
        older, _ = gen(name, seed, 20, year=2024, start=5000)
        for i, cs in enumerate(cases[:6]):
            cs["person"]["phone"] = "+84 FAKE %s %d" % (name, i)
            cs["person"]["address"] = "FAKE %d Đường Số %s" % (i, name)
            cs.setdefault("notes", []).append(
                {"text": "FAKE note, %s, case %d" % (name, i)})
        text = "".join(json.dumps(x, ensure_ascii=False) + "\n"
                       for x in cases + older)
        load(p, text, env)
        for cs in cases + older:
            generated[cs["id"]] = cs
        provinces[name] = p
    lao = provinces["lao-cai"]
    moved = [cs["id"] for cs in generated.values()
             if cs["person"]["full_name"].startswith("FAKE") and
             cs["intake"].get("received_on", "").startswith("2025") and
             lao.get(cs["id"]) is not None][:2]
    for cid in moved:
        # An offer that thanh-hoa accepts (docs/CONFLICTS.md).
        harness.refer(lao, provinces["thanh-hoa"], cid,
                      "FAKE reason: returns home to Nghệ An")
    for name in ("lao-cai", "thanh-hoa", "an-giang"):
        ok(provinces[name].sync(), "sync " + name)
    return c, generated, provinces


def exported_cases(node):
    return [json.loads(l) for l in node.export().splitlines()]


def in_scope(case, year=None, province=None):
    recv = case["intake"].get("received_on")
    if province is not None and case["owner"] != province:
        return False
    return year is None or (recv is not None and recv.startswith(year))


def expected_record(case, fl):
    """The HTCDS record of a case (as `export` prints it), without id."""
    p, t, i = case["person"], case["trafficking"], case["intake"]
    r = {"prs_Gender": GENDER.get(p.get("sex"), "NonSpecifiedUnknown")}
    if p.get("legal_status") == "citizen":
        r["prs_Citizenship"] = ["VN"]
    if case.get("status") == "not_victim":
        r["vic_TraffickingStatus"] = "NotAVictimOfTrafficking"
    elif p.get("category") in TSTATUS:
        r["vic_TraffickingStatus"] = TSTATUS[p["category"]]
    if "birth_year" in p and "received_on" in i:
        age = int(i["received_on"][:4]) - p["birth_year"]
        if 0 <= age <= 120:
            r["vic_AgeWhenTrafficked"] = age
    order = picklist(fl["vic_TypeOfExploitation"])
    ex = {EXPLOITATION[x] for x in t.get("purposes", [])}
    if ex:
        r["vic_TypeOfExploitation"] = sorted(ex, key=order.index)
    if "status" in case:
        r["cas_Status"] = STATUS[case["status"]]
    for side, date, reason in (("to", "cas_IncomingReferralDate",
                                "cas_ReasonForIncomingReferral"),
                               ("from", "cas_OutgoingReferralDate",
                                "cas_ReasonForOutgoingReferral")):
        best = None
        for ref in case["referrals"]:   # in the order recorded
            if ref[side] == case["owner"] and ref["status"] != "rejected" \
                    and (best is None or ref["on"] >= best):
                best = ref["on"]
        if best is not None:
            r[date] = best
            r[reason] = "MigrationOrChangeOfLocation"
    if "destination_country" in t:
        r["hte_Country"] = [t["destination_country"]]
        r["hte_Type"] = ["Exploitation"]
    order = picklist(fl["spl_Type"])
    sp = {SUPPORT[s["type"]] for s in case["services"]}
    if sp:
        r["spl_Type"] = sorted(sp, key=order.index)
    return r


def identifying_values(case):
    """Every value of a case that identifies or is free text."""
    p = case["person"]
    vals = [case["id"], p.get("ethnicity")]
    vals += [p.get(k) for k in ("full_name", "id_number", "phone",
                                "address")]
    vals += [case["intake"].get("facility")]
    vals += [n.get("text") for n in case.get("notes", [])]
    vals += [r.get("reason") for r in case.get("referrals", [])]
    vals += [s.get("provider") for s in case.get("services", [])]
    out = [v for v in vals if v]
    # Parts of a name are identifying too (but not the marker FAKE).
    for v in (p.get("full_name"), p.get("id_number")):
        out += [w for w in (v or "").split() if len(w) > 3 and
                w != "FAKE" and not w.isdigit()]
    return out


def htcds(node, *args, fmt="htcds"):
    r = ok(node.cli("export", "--format", fmt, *args), "export " + fmt)
    if fmt == "htcds":
        return [json.loads(l) for l in r.out.splitlines()]
    return list(csv.reader(io.StringIO(r.out, newline="")))


def report_counts(node, *args):
    rep = ok(node.cli("report", "--format", "json", *args)).json()
    dims = {d["name"]: {c["value"]: c["count"] for c in d["cells"]}
            for d in rep["dimensions"]}
    return rep["cases"], dims["sex"], dims["purpose"]


def check_against_report(c, cases, fl, *args, year=None, province=None):
    recs = htcds(c, *args)
    scope = [x for x in cases if in_scope(x, year, province)]
    n, sex, purpose = report_counts(c, *args)
    check(len(recs) == n == len(scope), "%s: %d records, report %d, "
          "cases %d" % (args, len(recs), n, len(scope)))
    gender = collections.Counter(r["prs_Gender"] for r in recs)
    want = collections.Counter()
    for k, v in sex.items():
        want[GENDER.get(k, "NonSpecifiedUnknown")] += v
    check(+gender == +want, "%s: gender %r, report %r" % (args, gender, sex))
    got = collections.Counter(v for r in recs
                              for v in r.get("vic_TypeOfExploitation", []))
    want = collections.Counter()
    for k, v in purpose.items():
        if k != "unknown":
            want[EXPLOITATION[k]] += v
    # The report counts a case under each of its purposes; a case with
    # two purposes that map to one HTCDS type counts once in the export.
    for x in scope:
        mapped = [EXPLOITATION[p] for p in x["trafficking"].get(
            "purposes", [])]
        for v in set(mapped):
            want[v] -= mapped.count(v) - 1
    check(+got == +want, "%s: exploitation %r, report %r" %
          (args, got, purpose))
    none = sum(1 for r in recs if "vic_TypeOfExploitation" not in r)
    check(none == purpose.get("unknown", 0), "%s: without purpose %d, "
          "report %r" % (args, none, purpose.get("unknown")))
    return recs


# ------------------------------------------------------------ tests

def test_htcds_export_validates_and_matches_report(env):
    c, generated, _ = country(env)
    schema = json.load(open(SCHEMA, encoding="utf-8"))
    fl = field_list()
    cases = exported_cases(c)
    check(sorted(x["id"] for x in cases) == sorted(generated),
          "central does not hold every generated case")
    recs = htcds(c)
    check(len(recs) == len(cases), "%d records for %d cases" %
          (len(recs), len(cases)))
    # Records come in case id order, as `export` does; the identifying
    # export (same order, same pseudonyms) proves the pairing.
    ident = htcds(c, "--identifying", "--confirm", "central")
    names = list(fl)
    referred = 0
    for rec, case, idr in zip(recs, cases, ident):
        errs = validate(schema, rec)
        check(errs == [], "%s: %s" % (case["id"], errs[:3]))
        keys = [k for k in rec if k != "id"]
        check(list(rec)[0] == "id" and all(k in fl for k in keys),
              "not a field of the standard: %r" % keys)
        check(keys == sorted(keys, key=names.index),
              "fields not in the standard's order: %r" % keys)
        for k in keys:
            pl = picklist(fl[k])
            vals = rec[k] if isinstance(rec[k], list) else [rec[k]]
            check(pl is None or all(v in pl for v in vals),
                  "%s: %r not in its picklist" % (k, rec[k]))
            check(k not in IDENT_FIELDS, "identifying field " + k)
        check(idr["id"] == rec["id"] and idr.get("prs_IdentityNumber") ==
              case["person"]["id_number"], "pairing by order failed")
        want = expected_record(case, fl)
        got = {k: v for k, v in rec.items() if k != "id"}
        check(got == want, "%s:\n got  %r\n want %r" % (case["id"], got,
                                                        want))
        referred += "cas_IncomingReferralDate" in rec
    check(referred == 2, "%d records with a referral" % referred)
    check(len({r["id"] for r in recs}) == len(recs), "pseudonyms collide")

    check_against_report(c, cases, fl)
    check_against_report(c, cases, fl, "--year", "2025", year="2025")
    check_against_report(c, cases, fl, "--year", "2024", year="2024")
    check_against_report(c, cases, fl, "--year", "2025", "--province",
                         "thanh-hoa", year="2025", province="thanh-hoa")
    check(htcds(c, "--year", "2019") == [], "2019 is empty")

    # The CSV layout holds the same records.
    rows = htcds(c, fmt="htcds-csv")
    head = rows[0]
    check(head[0] == "id" and head[1:] == sorted(head[1:],
                                                 key=names.index) and
          not set(head[1:]) - set(fl) and not set(head) & IDENT_FIELDS,
          "CSV header %r" % head)
    check(len(rows) == len(recs) + 1, "CSV rows")
    for row, rec in zip(rows[1:], recs):
        check(len(row) == len(head), "CSV row width")
        for k, cell in zip(head, row):
            v = rec.get(k)
            if v is None:
                check(cell == "", "%s: %r for nothing" % (k, cell))
            elif isinstance(v, list):
                check(cell.split(";") == v, "%s: %r vs %r" % (k, cell, v))
            else:
                check(cell == str(v), "%s: %r vs %r" % (k, cell, v))


def test_htcds_anonymous_and_pseudonymous(env):
    c, generated, provinces = country(env)
    cases = exported_cases(c)
    secrets = set()
    for case in cases:
        secrets.update(identifying_values(case))
    check(any("Đường" in s for s in secrets) and
          any("reason" in s for s in secrets) and
          any("note" in s for s in secrets), "the data lacks free text")
    out_json = ok(c.cli("export", "--format", "htcds")).out
    out_csv = ok(c.cli("export", "--format", "htcds-csv")).out
    for s in secrets:
        check(s not in out_json and s not in out_csv,
              "identifying value in the export: %r" % s)
    check("FAKE" not in out_json + out_csv, "a FAKE value leaked")
    # Central's own, deliberate identifying export does hold them.
    ident = ok(c.cli("export", "--format", "htcds", "--identifying",
                     "--confirm", "central")).out
    check("Đường" in ident and "FAKE" in ident, "identifying export")

    # Stable: the same case keeps its pseudonym, in both formats.
    again = ok(c.cli("export", "--format", "htcds")).out
    check(again == out_json, "a second export differs")
    ids = [json.loads(l)["id"] for l in out_json.splitlines()]
    csv_ids = [r[0] for r in csv.reader(io.StringIO(out_csv))][1:]
    check(ids == csv_ids, "CSV and JSON pseudonyms differ")
    key = os.path.join(c.dir, "htcds.key")
    st = os.stat(key)
    check(stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode))
    # Keyed: no pseudonym is a plain hash of the case id.
    for case in cases[:20]:
        h = hashlib.sha256(case["id"].encode()).hexdigest()
        check(h not in ids, "pseudonym is an unkeyed hash")

    # Another node's key gives other pseudonyms for the same cases: the
    # province's export of its own cases shares none with central's.
    lao = provinces["lao-cai"]
    lao_ids = {r["id"] for r in htcds(lao)}
    check(len(lao_ids) > 50 and not lao_ids & set(ids),
          "two nodes' keys gave the same pseudonym")
    # A new key (the old one lost) gives new pseudonyms.
    os.rename(key, key + ".old")
    fresh = [r["id"] for r in htcds(c)]
    check(len(fresh) == len(ids) and not set(fresh) & set(ids),
          "a new key kept old pseudonyms")
    os.replace(key + ".old", key)
    check([r["id"] for r in htcds(c)] == ids, "the old key came back")
    # A key that does not open under the node's data key is refused.
    with open(key, "r+b") as f:
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 1]))
    r = c.cli("export", "--format", "htcds")
    check(r.rc == 2 and r.out == "" and "htcds.key" in r.err and
          len(r.err.splitlines()) == 1, r)


def test_htcds_passphrase_node(env):
    pw = {"CASESYNC_PASSPHRASE": "FAKE correct horse battery"}
    d = os.path.join(env.tmp, "pc")
    from harness import run
    ok(run(["init", "-d", d, "--node", "central", "--role", "central",
            "--listen", "tcp://127.0.0.1:9"], env=pw), "init")
    cases, text = gen("lao-cai", 3, 12)
    path = os.path.join(env.tmp, "in.jsonl")
    open(path, "w", encoding="utf-8").write(text)
    ok(run(["import", "-d", d, path], env=pw), "import")
    a = ok(run(["export", "-d", d, "--format", "htcds"], env=pw)).out
    b = ok(run(["export", "-d", d, "--format", "htcds"], env=pw)).out
    check(a == b and len(a.splitlines()) == 12, "passphrase export")
    raw = open(os.path.join(d, "htcds.key"), "rb").read()
    check(raw.startswith(b"casesync-htcds-key-v1\n") and len(raw) == 82,
          "key file form")
    r = run(["export", "-d", d, "--format", "htcds"])
    check(r.rc == 2 and r.out == "", "export without the passphrase")


def test_htcds_pseudonyms_survive_backup_and_restore(env):
    from harness import run
    c = env.central()
    cases, text = gen("lao-cai", 6, 15)
    load(c, text, env)
    ids = [r["id"] for r in htcds(c)]
    check(len(ids) == 15, "export")
    bk = os.path.join(env.tmp, "bk")
    ok(run(["backup", "-d", c.dir, bk]), "backup")
    check(os.path.exists(os.path.join(bk, "htcds.key")), "key not backed up")
    dst = os.path.join(env.tmp, "restored")
    ok(run(["restore", "-d", dst, bk]), "restore")
    r = ok(run(["export", "-d", dst, "--format", "htcds"]), "export")
    check([json.loads(l)["id"] for l in r.out.splitlines()] == ids,
          "pseudonyms changed by backup and restore")


def test_htcds_bad_input_and_identifying_refusals(env):
    c = env.central()
    p = env.province("lao-cai", c)
    cases, text = gen("lao-cai", 4, 10)
    load(c, text, env)
    load(p, text, env)
    out = os.path.join(env.tmp, "out.jsonl")
    for node, args, rc in (
            (c, ["--format", "htcsd"], 1),
            (c, ["--format", "htcds", "--year", "20x5"], 1),
            (c, ["--format", "htcds", "--year", "1800"], 1),
            (c, ["--format", "htcds", "--province", "atlantis"], 1),
            (c, ["--format", "htcds", "--out", ""], 1),
            (c, ["--format", "htcds", "--confirm", "central"], 1),
            (c, ["--year", "2025"], 1),
            (c, ["--format"], 1),
            (c, ["--format", "htcds", "--bogus"], 1),
            (c, ["--format", "htcds", "--identifying"], 2),
            (c, ["--format", "htcds", "--identifying", "--confirm",
                 "yes"], 2),
            (p, ["--format", "htcds", "--identifying", "--confirm",
                 "lao-cai"], 2)):
        r = node.cli("export", *args, "--out", out) if "--out" not in \
            args else node.cli("export", *args)
        check(r.rc == rc, "%r: %r" % (args, r))
        check(r.out == "" and len(r.err.strip().splitlines()) == 1,
              "%r: not one line: %r" % (args, r))
        check(not os.path.exists(out), "%r: wrote %s" % (args, out))
    check(not os.path.exists(os.path.join(p.dir, "htcds.key")),
          "a refused export made a key")
    r = ok(c.cli("export", "--format", "htcds-csv", "--year", "2025",
                 "--out", out))
    check(stat.S_IMODE(os.stat(out).st_mode) == 0o600, "--out mode")
    check(len(open(out).read().splitlines()) == 11, "csv --out")
    h = ok(c.cli("export", "--help")).out
    check("htcds" in h and "CC BY 4.0" in h, h)

    # Every HTCDS export, and every refused identifying one, is in the
    # node's audit log, without a value.
    ok(c.cli("export", "--format", "htcds", "--identifying", "--confirm",
             "central"))
    audit = [json.loads(l) for l in open(os.path.join(c.dir,
                                                      "audit.log"))]
    acts = [(a["action"], a["detail"]) for a in audit]
    check(acts == [("export.identifying", "refused: --identifying not "
                    "confirmed")] * 2 +
          [("export.htcds", "10 cases, htcds-csv, year 2025, to " + out),
           ("export.identifying", "10 cases, htcds, to stdout")],
          "central audit: %r" % acts)
    audit = [json.loads(l) for l in open(os.path.join(p.dir, "audit.log"))]
    check([(a["action"], a["detail"]) for a in audit] ==
          [("export.identifying", "refused: --identifying on a province")],
          "province audit: %r" % audit)
    text = open(os.path.join(c.dir, "audit.log")).read()
    check("FAKE" not in text, "a value in the audit log")
