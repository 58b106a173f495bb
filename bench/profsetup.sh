# bench/profsetup.sh - the set-up bench/callgrind.sh and bench/perfrun.sh
# share; sourced by them (`. bench/profsetup.sh`), not run on its own.
#
# From the caller's arguments [NEW] [UPD] (defaults 2000 and 1000) and
# PROF_BIN (the binary to profile) it makes, in a temporary folder $T
# removed at exit: a copy of the binary ($CS), a central and a province
# enrolled with each other on a free loopback port ($PORT), with central's
# daily quotas off and heartbeats slowed, and two JSON Lines files:
# $T/new.jsonl (NEW generated cases of lao-cai) and $T/upd.jsonl (UPD
# updates of those cases, a status change and a new support service each,
# as bench/run.py's catch-up).  It defines
#   prof_sync NAME   wait for the `serve` the caller started in the
#                    background (its pid in $SERVE), run one `casesync
#                    sync` of the province, and stop serve.
set -eu
cd "$(dirname "$0")/.."
NEW=${1:-2000}
UPD=${2:-1000}
T=$(mktemp -d /tmp/casesync-cg-XXXXXX)
SERVE=
prof_cleanup() {
	[ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null || true
	rm -rf "$T"
}
trap prof_cleanup EXIT INT TERM
cp "$PROF_BIN" "$T/cs"
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
/usr/bin/python3 - "$T/new.jsonl" "$UPD" "$T/upd.jsonl" <<'PYEOF'
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
PYEOF

prof_sync() {	# prof_sync NAME
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
}
