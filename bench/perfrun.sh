#!/bin/sh
# bench/perfrun.sh [NEW] [UPD] - central's session child under `perf
# record`, natively (docs/PERFORMANCE.md, "Native profile and levers").
#
# bench/callgrind.sh counts instructions, which misses what is dear
# natively: page faults and system calls.  This runs the same three
# phases (an idle sync, NEW new cases, UPD updates; defaults 2000 and
# 1000) with `casesync serve` under perf record (it follows the fork),
# and prints the session child's (the busiest process's) samples per
# phase: with the default cpu-clock event, its CPU time and the µs per
# entry less the idle phase's.  PERF_EV replaces the event options, e.g.
# PERF_EV="-e page-faults -c 1" counts every page fault (then the figures
# are counts, not time).  The perf.data of each phase is kept in
# PERF_KEEP (default /tmp/casesync-perf) as idle.data, new.data and
# upd.data, for `perf report -i ... --children --sort symbol -g none`.
# Build first with `make OPT="-O2 -g -fno-omit-frame-pointer" all`; uses
# build/casesync, or CS_BIN.
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
cp "${CS_BIN:-build/casesync}" "$T/cs"
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

KEEP=${PERF_KEEP:-/tmp/casesync-perf}
mkdir -p "$KEEP"

# phase NAME: central serves under perf for one sync of the province;
# prints the busiest process's event total (ns of cpu-clock, or a count).
phase() {
	perf record ${PERF_EV:--F 2000 --call-graph dwarf,16384} \
	    -o "$KEEP/$1.data" -- \
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
	perf report -i "$KEEP/$1.data" --stdio -g none --sort pid 2>/dev/null |
	    awk '/^# Event count/ { t = $NF } /^ *[0-9.]+%/ && !p {
	    p = $1 + 0 } END { printf "%.0f\n", t * p / 100 }'
}

idle=$(phase idle)
$CS import -d "$T/p" "$T/new.jsonl" > /dev/null
new=$(phase new)
$CS import -d "$T/p" "$T/upd.jsonl" > /dev/null
upd=$(phase upd)
echo "idle session child: $idle"
echo "new cases: $NEW, session child $new, $(( (new - idle) / NEW )) per new case"
echo "updates: $UPD, session child $upd, $(( (upd - idle) / UPD )) per update"
echo "(cpu-clock: ns; perf.data in $KEEP)"
