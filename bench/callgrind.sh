#!/bin/sh
# bench/callgrind.sh [NEW] [UPD] - central's instructions per new case and
# per update, counted by callgrind (docs/PERFORMANCE.md, "Issue 19").
#
# Wall and CPU time are noisy on a shared machine; instruction counts are
# not.  This imports NEW cases (default 2000) into a province, then runs
# central's `serve` under `valgrind --tool=callgrind` three times, each
# for one `casesync sync`: with nothing to send (the idle cost of a
# session child: start, handshake, store open), with the NEW cases, and
# with UPD updates (default 1000: a status change and a new support
# service each, as bench/run.py's catch-up).  It prints the session
# child's instructions for each, less the idle ones, per entry.
#
# CG_KEEP=DIR keeps the session child's callgrind file of each phase
# there (DIR/new.out, DIR/upd.out) for callgrind_annotate.
# Uses build/casesync as it is (build it with `make OPT=-O2 all` first).
# Everything lives in a temporary folder, removed at the end.
set -eu
cd "$(dirname "$0")/.."
NEW=${1:-2000}
UPD=${2:-1000}
T=$(mktemp -d /tmp/casesync-cg-XXXXXX)
SERVE=
cleanup() {
	[ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
cp build/casesync "$T/cs"
CS="$T/cs"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); \
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

conf() {	# conf DIR KEY VALUE
	grep -v "^$2 " "$1/casesync.conf" > "$1/casesync.conf.new" || true
	echo "$2 = $3" >> "$1/casesync.conf.new"
	mv "$1/casesync.conf.new" "$1/casesync.conf"
}

$CS init -d "$T/c" --node central --role central \
    --listen "tcp://127.0.0.1:$PORT" > /dev/null
$CS init -d "$T/p" --node lao-cai --role province \
    --central "tcp://127.0.0.1:$PORT" > /dev/null
$CS trust -d "$T/c" lao-cai "$($CS key -d "$T/p")" > /dev/null
$CS trust -d "$T/p" central "$($CS key -d "$T/c")" > /dev/null
for q in entries bytes cases referrals; do
	conf "$T/c" "quota_${q}_per_day" 0
done
conf "$T/c" heartbeat_ms 600000
conf "$T/p" heartbeat_ms 600000
/usr/bin/python3 deploy/gen_cases.py --province lao-cai --seed 7 \
    --count "$NEW" --out "$T/new.jsonl"
/usr/bin/python3 - "$T/new.jsonl" "$UPD" "$T/upd.jsonl" <<'EOF'
import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1], encoding="utf-8")]
n = int(sys.argv[2])
st = ["receiving_support", "reintegration_followup", "closed"]
with open(sys.argv[3], "w", encoding="utf-8") as f:
    for k in range(n):
        f.write(json.dumps({"id": ids[(k * 7919) % len(ids)],
            "status": st[k % 3], "services": [{"id": "svc-u-%06d" % k,
            "type": "medical", "on": "2025-12-15",
            "amount_vnd": 500000}]}) + "\n")
EOF

# phase NAME: central serves under callgrind for one sync of the province.
phase() {
	mkdir -p "$T/cg-$1"
	valgrind --tool=callgrind --trace-children=yes \
	    --callgrind-out-file="$T/cg-$1/out.%p" \
	    "$CS" serve -d "$T/c" > "$T/serve-$1.log" 2>&1 &
	SERVE=$!
	i=0
	until $CS status -d "$T/c" > /dev/null 2>&1 &&
	    /usr/bin/python3 -c "import socket; socket.create_connection( \
	    ('127.0.0.1', $PORT), 1)" 2> /dev/null; do
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "serve did not start" >&2; exit 1; }
		sleep 0.2
	done
	$CS sync -d "$T/p" --timeout 3600 > "$T/sync-$1.log" 2>&1 || {
		cat "$T/sync-$1.log" >&2; exit 1; }
	kill -TERM "$SERVE"
	wait "$SERVE" || true
	SERVE=
	# The session child is the file with the most instructions.
	for f in "$T/cg-$1"/out.*; do
		sed -n 's/^summary: //p' "$f"
	done | sort -n | tail -1
	if [ -n "${CG_KEEP:-}" ]; then
		mkdir -p "$CG_KEEP"
		cp "$(grep -l "^summary: $(for f in "$T/cg-$1"/out.*; do
		    sed -n 's/^summary: //p' "$f"; done | sort -n | tail -1)$" \
		    "$T/cg-$1"/out.* | head -1)" "$CG_KEEP/$1.out"
	fi
}

idle=$(phase idle)
$CS import -d "$T/p" "$T/new.jsonl" > /dev/null
new=$(phase new)
$CS import -d "$T/p" "$T/upd.jsonl" > /dev/null
upd=$(phase upd)
echo "idle session child: $idle instructions"
echo "new cases: $NEW, session child $new instructions, $(( (new - idle) / NEW )) per new case"
echo "updates: $UPD, session child $upd instructions, $(( (upd - idle) / UPD )) per update"
