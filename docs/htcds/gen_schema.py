#!/usr/bin/env python3
"""Generates the JSON Schema of an HTCDS 2.0 record, as `casesync export
--format htcds` writes one, from the standard's field list (fields.csv
next to this script), and checks the committed schema against it.

The Human Trafficking Case Data Standard (HTCDS) by IOM is licensed under
CC BY 4.0 (LICENSE.md).  Use of this work must be consistent with the
mandate and values of IOM; no use suggests that IOM endorses any
organisation, product or service, and the IOM logo is not used.  HTCDS
publishes no JSON Schema of its own: this one is derived from its field
list by casesync and is not IOM's.

usage: gen_schema.py            rewrite htcds-2.0.schema.json
       gen_schema.py --check    exit 1 unless the committed schema is what
                                fields.csv gives (and, when the shared copy
                                ../shared/data/htcds/fields.csv is there,
                                unless the two CSVs are the same)

Python 3, standard library only.  How each HTCDS type becomes a JSON
Schema type is written in docs/HTCDS.md ("The JSON Schema").
"""
import csv
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = os.path.join(HERE, "fields.csv")
OUT = os.path.join(HERE, "htcds-2.0.schema.json")
# The read-only shared copy the repository's CSV was taken from (CI has it
# as ../shared next to the repository).
SHARED = os.path.join(HERE, "..", "..", "..", "shared", "data", "htcds",
                      "fields.csv")

ATTRIBUTION = (
    "Human Trafficking Case Data Standard (HTCDS) by IOM is licensed under "
    "CC BY 4.0 (http://creativecommons.org/licenses/by/4.0/). Use of this "
    "work must be consistent with the mandate and values of IOM. In any "
    "use of this work, there should be no suggestion that IOM endorses any "
    "specific organization, product or services. The use of the IOM logo "
    "is not permitted.")

# Sections a case holds several records of.  Their fields are arrays:
# element i of each field belongs to the section's i-th record.
REPEATED = {"Historic Trafficking Events", "Support Plan", "Case Comment"}

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def value_schema(row):
    """The schema of one value of the field (an array item for
    multiselect picklists and repeated sections)."""
    t = row["type"]
    names = row["value_names"]
    if names.startswith("Use ISO 3166"):
        if "optional" in names:
            return {"type": "string", "pattern": "^[A-Z]{2,3}$"}
        return {"type": "string", "pattern": "^[A-Z]{2}$"}
    if names.startswith("Use ISO 639"):
        return {"type": "string", "pattern": "^[a-z]{2,3}$"}
    if t in ("Picklist", "Multiselect Picklist") and names:
        # spl_Type's list ends in "|": an empty value is not one.
        return {"type": "string",
                "enum": [v for v in names.split("|") if v != ""]}
    if t in ("Text", "Long Text", "Picklist", "Picklist or Text") or \
            t.startswith("Lookup"):
        return {"type": "string", "minLength": 1}
    if t in ("Number", "Geolocation"):
        return {"type": "number"}
    if t == "Date":
        return {"type": "string", "format": "date",
                "pattern": DATE_PATTERN}
    if t == "Checkbox":
        return {"type": "boolean"}
    raise SystemExit("gen_schema: %s: unknown HTCDS type %r" %
                     (row["field"], t))


def field_schema(row):
    item = value_schema(row)
    multi = row["type"] == "Multiselect Picklist" or \
        row["section"] in REPEATED
    if multi:
        s = {"type": "array", "items": item, "minItems": 1}
        if row["type"] == "Multiselect Picklist":
            s["uniqueItems"] = True
    else:
        s = item
    desc = row["label"]
    if row["description"]:
        desc += ": " + " ".join(row["description"].split())
    return dict({"description": "%s (%s%s)" % (
        desc, row["section"], ", core" if row["core"] else "")}, **s)


def fields(path=CSV):
    """The standard's fields, in its order, without the example
    questions (field N/A)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    want = ["section", "core", "field", "label", "type", "value_names",
            "description"]
    if not rows or list(rows[0].keys()) != want:
        raise SystemExit("gen_schema: %s: columns are not %s" %
                         (path, ",".join(want)))
    out = [r for r in rows if r["field"] != "N/A"]
    names = [r["field"] for r in out]
    if len(set(names)) != len(names):
        raise SystemExit("gen_schema: %s: a field is listed twice" % path)
    return out


def schema():
    props = {"id": {
        "description": "casesync's pseudonym of the case, the only key "
                       "that is not an HTCDS field: HMAC-SHA-256 of the "
                       "case id under a key that never leaves the "
                       "exporting node (docs/HTCDS.md)",
        "type": "string", "pattern": "^[0-9a-f]{64}$"}}
    for r in fields():
        props[r["field"]] = field_schema(r)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "HTCDS 2.0 case record, as casesync exports it",
        "description": "One case per object, as `casesync export --format "
                       "htcds` writes it: the fields of IOM's Human "
                       "Trafficking Case Data Standard 2.0, generated from "
                       "its field list by docs/htcds/gen_schema.py. "
                       "Derived by casesync; not published or endorsed by "
                       "IOM. " + ATTRIBUTION,
        "$comment": ATTRIBUTION,
        "type": "object",
        "properties": props,
        "required": ["id"],
        "additionalProperties": False,
    }


def text():
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    if argv not in ([], ["--check"]):
        sys.stderr.write(__doc__)
        return 2
    want = text()
    if not argv:
        with open(OUT, "w", encoding="utf-8") as f:
            f.write(want)
        print("wrote %s (%d fields)" % (OUT, len(schema()["properties"])))
        return 0
    try:
        with open(OUT, encoding="utf-8") as f:
            have = f.read()
    except OSError as e:
        print("gen_schema: %s" % e)
        return 1
    if have != want:
        print("gen_schema: %s does not match %s: run %s" %
              (os.path.relpath(OUT), os.path.relpath(CSV), sys.argv[0]))
        return 1
    if os.path.exists(SHARED):
        with open(SHARED, "rb") as a, open(CSV, "rb") as b:
            if a.read() != b.read():
                print("gen_schema: %s differs from the shared %s" %
                      (os.path.relpath(CSV), os.path.normpath(SHARED)))
                return 1
    print("gen_schema: the schema matches the field list")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
