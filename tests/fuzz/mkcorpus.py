#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets msg, cfg, schema and op
into tests/fuzz/corpus/NAME/ (small valid inputs, plus a few near misses).
The entry and state corpora are kept by hand.  Inputs that once crashed a
target are added by hand too, named crash-*, and never rewritten here.

Usage: python3 tests/fuzz/mkcorpus.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


# -- A minimal msgpack writer: the shortest encodings, as proto/mp.c wants.
def uint(v):
    if v < 0x80:
        return bytes([v])
    if v < 0x100:
        return b"\xcc" + bytes([v])
    if v < 0x10000:
        return b"\xcd" + struct.pack(">H", v)
    if v < 0x100000000:
        return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)


def arr(items):
    n = len(items)
    if n < 16:
        head = bytes([0x90 | n])
    elif n < 0x10000:
        head = b"\xdc" + struct.pack(">H", n)
    else:
        head = b"\xdd" + struct.pack(">I", n)
    return head + b"".join(items)


def s(text):
    b = text.encode()
    n = len(b)
    if n < 32:
        return bytes([0xa0 | n]) + b
    if n < 0x100:
        return b"\xd9" + bytes([n]) + b
    if n < 0x10000:
        return b"\xda" + struct.pack(">H", n) + b
    return b"\xdb" + struct.pack(">I", n) + b


def b(data):
    n = len(data)
    if n < 0x100:
        return b"\xc4" + bytes([n]) + data
    if n < 0x10000:
        return b"\xc5" + struct.pack(">H", n) + data
    return b"\xc6" + struct.pack(">I", n) + data


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def msg_corpus():
    v = uint(2)         # MSG_VERSION
    write("msg", "hello", arr([v, uint(1), s("lao-cai"), uint(5), uint(9),
                               uint(8), uint(3), b(bytes(range(32))),
                               b(b"central\x00" + bytes(7) + b"\x03")]))
    write("msg", "hello_restored", arr([
        v, uint(1), s("lao-cai"), uint((7 << 32) | 5), uint(9), uint(8),
        uint((28930424 << 32) | 4), b(bytes(32)), b(b"")]))
    write("msg", "welcome", arr([v, uint(2), s("central"), uint(3),
                                 uint(70000), uint(64), b(bytes(32)),
                                 uint(0), uint(0)]))
    write("msg", "welcome_restored", arr([
        v, uint(2), s("central"), uint(3), uint(28930424 << 32), uint(8),
        b(bytes(range(32))), uint(28930424), uint(17)]))
    with open(os.path.join(CORPUS, "entry", "record_signed"), "rb") as f:
        rec_signed = f.read()
    with open(os.path.join(CORPUS, "entry", "record_unsigned"), "rb") as f:
        rec_unsigned = f.read()
    write("msg", "batch", arr([v, uint(3), uint(1), uint(1), arr([
        arr([uint(7), b(rec_signed)]),
        arr([uint(8), b(rec_unsigned)])])]))
    # A batch that crosses into a later incarnation (proto/entry.h).
    write("msg", "batch_fork", arr([v, uint(3), uint(1), uint(1), arr([
        arr([uint(7), b(rec_signed)]),
        arr([uint((5 << 32) | 8), b(rec_unsigned)])])]))
    # An own entry central refused, resent after central's restore.
    write("msg", "batch_refused", arr([v, uint(3), uint(4), uint(0), arr([
        arr([uint(7), b(rec_signed), uint(1)]),
        arr([uint(8), b(rec_unsigned)])])]))
    write("msg", "batch_bad_flag", arr([v, uint(3), uint(4), uint(0), arr([
        arr([uint(7), b(rec_signed), uint(0)])])]))
    write("msg", "batch_empty", arr([v, uint(3), uint(2), uint(0), arr([])]))
    write("msg", "batch_raw", arr([v, uint(3), uint(300), uint(0), arr([
        arr([uint(2 ** 40), b(b"abc")])])]))
    # An erase carrying the owner its writer saw ([4, [hlc, node]]).
    with open(os.path.join(CORPUS, "entry", "erase_view"), "rb") as f:
        erase_view = f.read()
    write("msg", "batch_erase_view", arr([v, uint(3), uint(5), uint(0), arr([
        arr([uint(9), b(arr([uint(1), b(erase_view), b(b"")]))])])]))
    write("msg", "ack", arr([v, uint(4), uint(1), uint(8), uint(2), uint(0),
                             uint(1)]))
    write("msg", "bye", arr([v, uint(5)]))
    write("msg", "error", arr([v, uint(6), uint(2), s("unknown key (not "
                                                       "enrolled)")]))
    write("msg", "keys", arr([v, uint(7), arr([
        arr([s("central"), b(bytes(range(32)))]),
        arr([s("ha-noi"), b(bytes(32))])])]))
    # KEYS with a key history: epoch records [node, pub, epoch, from,
    # revoked_from] beside a plain key.
    write("msg", "keys_history", arr([v, uint(7), arr([
        arr([s("central"), b(bytes(range(32)))]),
        arr([s("lao-cai"), b(bytes(32)), uint(0), uint(1), uint(2)]),
        arr([s("lao-cai"), b(bytes([7] * 32)), uint(1), uint(3),
             uint(0)])])]))
    # A key hand-over (node/keyhist.h), and near misses: from 0, a short
    # signature.
    write("msg", "handover", arr([v, uint(13), s("lao-cai"), uint(1),
                                  uint(4), b(bytes([1] * 32)),
                                  b(bytes([2] * 32)), b(bytes([3] * 64))]))
    write("msg", "handover_from0", arr([v, uint(13), s("lao-cai"),
                                        uint(1), uint(0), b(bytes(32)),
                                        b(bytes(32)), b(bytes(64))]))
    write("msg", "handover_shortsig", arr([v, uint(13), s("lao-cai"),
                                           uint(1), uint(4), b(bytes(32)),
                                           b(bytes(32)), b(bytes(63))]))
    write("msg", "fetch", arr([v, uint(8), uint(10)]))
    write("msg", "recover", arr([v, uint(9), uint(1), uint(0), arr([
        arr([uint(11), b(rec_signed)]),
        arr([uint(14), b(rec_unsigned)])])]))
    write("msg", "return", arr([v, uint(10), uint(2), uint(1), arr([
        arr([uint(3), b(rec_signed)])])]))
    write("msg", "vector", arr([v, uint(11), arr([
        arr([s("lao-cai"), uint(12)]),
        arr([s("ha-noi"), uint((5 << 32) | 3)])])]))
    write("msg", "vector_bad_node", arr([v, uint(11), arr([
        arr([s("Ha Noi"), uint(1)])])]))
    write("msg", "give", arr([v, uint(12), uint(3), uint(0), arr([
        arr([uint(14), b(rec_unsigned)]),
        arr([uint(11), b(rec_signed)])])]))
    # High availability (docs/HA.md): EPOCH, FOLLOW, SNAP.
    write("msg", "epoch", arr([v, uint(14), s("central"), uint(28943191),
                               b(bytes(range(64)))]))
    write("msg", "epoch_short_sig", arr([v, uint(14), s("central"),
                                         uint(1), b(bytes(63))]))
    write("msg", "follow", arr([v, uint(15), s("standby"), uint(41),
                                uint(57), uint(1048576)]))
    write("msg", "snap_first", arr([v, uint(16), uint(57), uint(0),
                                    uint(3000000), uint(120),
                                    b(bytes(range(256)) * 4),
                                    b(bytes(96))]))
    write("msg", "snap_current", arr([v, uint(16), uint(41), uint(0),
                                      uint(0), uint(120), b(b""), b(b"")]))
    write("msg", "snap_past_total", arr([v, uint(16), uint(57), uint(10),
                                         uint(12), uint(0), b(b"abcd"),
                                         b(b"")]))
    # Central's console files for the standby (docs/HA.md): AUXASK, AUX.
    write("msg", "auxask", arr([v, uint(17), s("standby"), b(bytes(32)),
                                uint(5000), b(bytes(range(32)))]))
    write("msg", "auxask_first", arr([v, uint(17), s("standby"), b(b""),
                                      uint(0), b(b"")]))
    write("msg", "aux", arr([v, uint(18), uint(1),
                             b(b"admin\tadmin\tactive\ten\t1\t$argon2id$x\n"),
                             uint(0), uint(200),
                             b(b'{"time":"t","ms":1,"action":"login"}\n')]))
    write("msg", "aux_partial_line", arr([v, uint(18), uint(0), b(b""),
                                          uint(0), uint(10), b(b"abc")]))
    # The longer forms, with central's HTCDS key (sealed, 82 bytes).
    write("msg", "auxask_key", arr([v, uint(17), s("standby"), b(bytes(32)),
                                    uint(5000), b(bytes(range(32))),
                                    b(bytes(range(32, 64)))]))
    write("msg", "aux_key", arr([v, uint(18), uint(0), b(b""), uint(200),
                                 uint(200), b(b""), uint(1),
                                 b(b"casesync-htcds-key-v1\n" +
                                   bytes(range(60)))]))
    write("msg", "aux_key_same_with_data", arr([v, uint(18), uint(0), b(b""),
                                                uint(0), uint(0), b(b""),
                                                uint(0), b(b"x")]))
    # Near misses: trailing byte, wrong version, version 1's HELLO.
    write("msg", "bye_trailing", arr([v, uint(5)]) + b"\x00")
    write("msg", "bad_version", arr([uint(1), uint(5)]))
    write("msg", "hello_v1", arr([uint(1), uint(1), s("lao-cai"), uint(5),
                                  uint(9), uint(8)]))


def cfg_corpus():
    write("cfg", "central", """# casesync node configuration
node = central
role = central
listen = tcp://127.0.0.1:7777
# refuse remote changes stamped further ahead than this
skew_ms = 300000
log_level = info
sync_timeout = 60
keep_transferred = yes
""")
    write("cfg", "province", "node = lao-cai\nrole = province\n"
          "central = tcp://10.0.0.1:7777\r\nheartbeat_ms=500\n"
          "test_clock_offset_ms = -5000\nkeep_transferred = no")
    write("cfg", "minimal", "node=a\nrole=b")
    write("cfg", "edge", "a = 18446744073709551615\nd = 5\nb = " +
          "x" * 255 + "\n\t# comment\n\n")
    write("cfg", "duplicate", "node = a\nnode = b\n")
    write("cfg", "unknown", "node = a\nrole = central\ncolour = blue\n")


FULL_CASE = {
    "id": "0190f5a2-7c1e-7b3a-9d2e-4f6a8b0c1d2e",
    "status": "receiving_support",
    "person": {
        "category": "victim", "legal_status": "citizen", "sex": "female",
        "birth_year": 1999, "ethnicity": "Hmông",
        "home_province": "lao-cai", "full_name": "FAKE Nguyễn Thị A",
        "id_number": "FAKE001", "phone": "+84 900 000 000",
        "address": "FAKE thôn 1, xã 2",
        "principal_case": "0190f5a2-7c1e-7b3a-9d2e-4f6a8b0c1d2f",
    },
    "trafficking": {
        "purposes": ["forced_marriage", "sexual_exploitation"],
        "destination_country": "CN", "returned_on": "2024-02-29",
        "return_route": "official_repatriation",
    },
    "intake": {"source": "border_guard", "received_on": "2024-03-01",
               "facility": "Trung tâm CTXH"},
    "services": [
        {"id": "01J0ABCDEF_xyz-9", "type": "medical", "on": "2024-03-02",
         "provider": "provincial hospital", "amount_vnd": 1500000,
         "days": 3},
        {"type": "legal_aid", "on": "2024-03-05"},
    ],
    "notes": [{"on": "2024-03-02", "author": "clerk",
               "text": "FAKE note\twith a tab\nand a line"}],
}


def schema_corpus():
    write("schema", "full_case", json.dumps(FULL_CASE, ensure_ascii=False))
    write("schema", "full_case_pretty", json.dumps(FULL_CASE, indent=2))
    write("schema", "status_only", '{"status":"closed"}')
    write("schema", "update", '{"person":{"phone":null,"sex":"male"},'
          '"trafficking":{"purposes":null}}')
    export = dict(FULL_CASE, owner="lao-cai", erased=False, conflicts=0,
                  referrals=[{"id": "r1", "from": "lao-cai",
                              "to": "ha-noi", "on": "2024-04-01",
                              "status": "completed"}])
    write("schema", "export_line", json.dumps(export))
    write("schema", "owner_refused", '{"owner":"ha-noi"}')
    write("schema", "unicode_escape", '{"person":{"full_name":'
          '"FAKE \\u00e9\\ud83d\\ude00"}}')
    write("schema", "big_numbers", '{"person":{"birth_year":1.999e3},'
          '"services":[{"type":"loan","on":"2024-01-01",'
          '"amount_vnd":999999999999999}]}')


def op_corpus():
    def op(t, path, evid, value):
        return bytes([t - 1]) + path.encode() + b"\0" + evid.encode() + \
            b"\0" + value.encode()
    write("op", "set_status", op(1, "status", "", '"identified"'))
    write("op", "set_name", op(1, "person.full_name", "",
                               '"FAKE Nguy\u1ec5n"'))
    write("op", "set_null", op(1, "person.phone", "", "null"))
    write("op", "set_purposes", op(1, "trafficking.purposes", "",
                                   '["sexual_exploitation","other"]'))
    write("op", "set_year", op(1, "person.birth_year", "", "1987"))
    write("op", "set_date", op(1, "trafficking.returned_on", "",
                               '"2024-02-29"'))
    write("op", "set_country", op(1, "trafficking.destination_country", "",
                                  '"CN"'))
    write("op", "event_service", op(2, "services", "01J0ABCDEF_xyz-9",
                                    '{"type":"medical","on":"2024-06-10",'
                                    '"provider":"hospital","days":3}'))
    write("op", "event_note", op(2, "notes", "n1", '{"on":"2024-06-10",'
                                 '"author":"clerk","text":"FAKE\\nnote"}'))
    write("op", "event_referral", op(2, "referrals", "r-1",
                                     '{"from":"lao-cai","to":"central",'
                                     '"on":"2024-06-10","reason":"x",'
                                     '"status":"completed"}'))
    write("op", "event_offer", op(2, "referrals", "r-1",
                                  '{"from":"lao-cai","to":"ha-noi",'
                                  '"on":"2026-12-01","status":"proposed"}'))
    write("op", "event_answer_accept", op(2, "referral_answers", "r-1",
                                          '{"on":"2026-12-02",'
                                          '"status":"accepted"}'))
    write("op", "event_answer_decline", op(2, "referral_answers", "r-1",
                                           '{"on":"2026-12-02",'
                                           '"status":"rejected"}'))
    write("op", "event_decline_reason", op(2, "decline_reasons", "r-1",
                                           '{"text":"FAKE no place"}'))
    write("op", "transfer", op(3, "ha-noi", "", ""))
    write("op", "erase", op(4, "", "", ""))


if __name__ == "__main__":
    msg_corpus()
    cfg_corpus()
    schema_corpus()
    op_corpus()
