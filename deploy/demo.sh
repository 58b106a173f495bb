#!/bin/sh
# The local multi-node demo (`make demo`): a central node and provincial
# nodes on 127.0.0.1, each a separate `casesync serve` / `casesync sync`
# process with its own store, playing several nights:
#   - every province records the day's cases offline (synthetic, clearly
#     fake: deploy/gen_cases.py) and syncs with central at night;
#   - one province misses each night; one night central itself is down,
#     so every `casesync sync` exits 3 and catches up the next night;
#   - border provinces refer cases to the person's home province
#     (`casesync case transfer`), and central and a province edit the same
#     field (`casesync conflicts`), when this build has those verbs;
# then prints a sync summary and the national report, and writes the
# public HTML report, in English and in Vietnamese.  Everything runs in a
# temporary folder that is removed at the end, with every process it
# started stopped.
#
# Settings (environment):
#   DEMO_NIGHTS=4       nights to play (at least 1)
#   DEMO_PROVINCES=10   provinces (2 to 10)
#   DEMO_CASES=8        new cases per province per night (on average)
#   DEMO_YEAR=2025      reception year of the cases; the report's year
#   DEMO_SEED=1         seed of the generator
#   DEMO_OUT=build/demo where report.html, report-vi.html (Vietnamese)
#                       and report.txt are written
#   DEMO_TMPDIR=...     parent of the temporary folder (default $TMPDIR)
#   DEMO_KEEP=1         keep the temporary folder (node stores, logs)
#   CASESYNC_BIN=...    the casesync binary (default build/casesync)
#
# Central's web console (docs/CONSOLE.md) is started too, signed in to
# with headless Chromium, and its dashboard, conflict queue, sync health,
# referrals, new-case form and a case page saved to DEMO_OUT/console-*.png
# (deploy/demo_console.py).  With --keep (make demo
# KEEP=1) the demo country and its console keep running: the URL and a
# demo admin's password are printed, and Ctrl-C stops everything.
set -u

KEEP_RUNNING=0
for a in "$@"; do
	case $a in
	--keep) KEEP_RUNNING=1 ;;
	*) echo "usage: deploy/demo.sh [--keep]" >&2; exit 1 ;;
	esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CASESYNC_BIN:-$ROOT/build/casesync}
NIGHTS=${DEMO_NIGHTS:-4}
NPROV=${DEMO_PROVINCES:-10}
CASES=${DEMO_CASES:-8}
YEAR=${DEMO_YEAR:-2025}
SEED=${DEMO_SEED:-1}
OUT=${DEMO_OUT:-$ROOT/build/demo}
GEN="python3 $ROOT/deploy/gen_cases.py"

# Border provinces (where people are received) and home provinces (where
# they return), interleaved so that a short run still has both kinds.
ALL_PROVINCES="lao-cai thanh-hoa an-giang nghe-an lang-son son-la \
quang-ninh ha-noi tay-ninh dien-bien"

die() {
	echo "demo: $*" >&2
	exit 1
}

case $NIGHTS in ''|*[!0-9]*) die "DEMO_NIGHTS must be a number" ;; esac
case $NPROV in ''|*[!0-9]*) die "DEMO_PROVINCES must be a number" ;; esac
case $CASES in ''|*[!0-9]*) die "DEMO_CASES must be a number" ;; esac
[ "$NIGHTS" -ge 1 ] || die "DEMO_NIGHTS must be at least 1"
[ "$NPROV" -ge 2 ] && [ "$NPROV" -le 10 ] ||
	die "DEMO_PROVINCES must be from 2 to 10"
[ -x "$BIN" ] || die "no $BIN: run make first"
command -v python3 >/dev/null 2>&1 || die "python3 is needed"

PROVINCES=$(echo $ALL_PROVINCES | tr ' ' '\n' | head -n "$NPROV" |
	tr '\n' ' ')
BORDER="lao-cai an-giang lang-son quang-ninh tay-ninh dien-bien"

T0=$(date +%s)
TMP=$(mktemp -d "${DEMO_TMPDIR:-${TMPDIR:-/tmp}}/casesync-demo.XXXXXX") ||
	die "cannot make a temporary folder"
CENTRAL_PID=""
CONSOLE_PID=""

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	stop_console
	stop_central
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "demo: node stores and logs kept in $TMP"
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cs() {
	"$BIN" "$@"
}

free_port() {
	python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT SECS: succeeds once 127.0.0.1:PORT accepts a connection.
wait_port() {
	python3 - "$1" "$2" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

start_central() {
	# "$BIN" itself, not the cs function: $! must be the server's pid.
	"$BIN" serve -d "$TMP/central" --log-level warn \
	    >>"$TMP/central.log" 2>&1 &
	CENTRAL_PID=$!
	if ! wait_port "$PORT" 10
	then
		tail -n 5 "$TMP/central.log" >&2
		die "central did not start"
	fi
}

stop_central() {
	if [ -n "$CENTRAL_PID" ]; then
		kill "$CENTRAL_PID" 2>/dev/null
		wait "$CENTRAL_PID" 2>/dev/null
		CENTRAL_PID=""
	fi
}

stop_console() {
	if [ -n "$CONSOLE_PID" ]; then
		kill "$CONSOLE_PID" 2>/dev/null
		wait "$CONSOLE_PID" 2>/dev/null
		CONSOLE_PID=""
	fi
}

# Starts central's console with a demo admin; sets CONSOLE_URL, DEMO_PW.
start_console() {
	DEMO_PW=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
	echo "$DEMO_PW" | cs user add -d "$TMP/central" demo-admin \
	    --role admin >/dev/null || die "user add"
	cport=$(free_port) || die "no free port"
	"$BIN" console -d "$TMP/central" --listen "127.0.0.1:$cport" \
	    >>"$TMP/console.log" 2>&1 &
	CONSOLE_PID=$!
	CONSOLE_URL="https://127.0.0.1:$cport"
	if ! wait_port "$cport" 15
	then
		tail -n 5 "$TMP/console.log" >&2
		die "the console did not start"
	fi
}

has_verb() {
	# A verb this build knows answers --help with exit 0.
	cs "$@" --help >/dev/null 2>&1
}

# ---------------------------------------------------------------- setup
PORT=$(free_port) || die "no free port"
echo "== casesync demo: central + $NPROV provinces, $NIGHTS nights, in $TMP"
cs init -d "$TMP/central" --node central --role central \
    --listen "tcp://127.0.0.1:$PORT" >/dev/null || die "init central"
for p in $PROVINCES; do
	cs init -d "$TMP/$p" --node "$p" --role province \
	    --central "tcp://127.0.0.1:$PORT" >/dev/null || die "init $p"
done
if has_verb trust && has_verb key; then
	# Enrolment: central learns each province's key, each province pins
	# central's.
	ckey=$(cs key -d "$TMP/central") || die "key central"
	for p in $PROVINCES; do
		cs trust -d "$TMP/central" "$p" "$(cs key -d "$TMP/$p")" \
		    >/dev/null || die "enrol $p"
		cs trust -d "$TMP/$p" central "$ckey" >/dev/null ||
			die "pin central on $p"
	done
	echo "enrolled $NPROV provinces with central (keys exchanged)"
fi
HAS_TRANSFER=0
cs case --help 2>/dev/null | grep -q "case transfer" && HAS_TRANSFER=1
HAS_CONFLICTS=0
has_verb conflicts && HAS_CONFLICTS=1
start_central
echo "central listening on tcp://127.0.0.1:$PORT (pid $CENTRAL_PID)"

# One province's sync: prints "  PROVINCE  exit N  summary".
sync_one() {
	out=$(cs sync -d "$TMP/$1" --timeout "$2" --quiet 2>&1)
	rc=$?
	printf '  %-11s exit %d  %s\n' "$1" "$rc" \
	    "$(echo "$out" | tail -n 1 | sed 's/^casesync: //')"
}

# Syncs the provinces given, in parallel, and prints their lines in order.
sync_round() {
	tmo=$1
	shift
	pids=""
	for p in "$@"; do
		sync_one "$p" "$tmo" >"$TMP/sync.$p" &
		pids="$pids $!"
	done
	for j in $pids; do
		wait "$j"
	done
	for p in "$@"; do
		cat "$TMP/sync.$p"
	done
}

# Prints "province id home" lines: for each province given, the first case
# it recorded that is not referred yet and, with $1 = home, whose person's
# home is another demo province (with $1 = any, any case).  One python
# process for all: each start costs a noticeable fraction of a second.
pick_cases() {
	want=$1
	shift
	touch "$TMP/transferred"
	python3 - "$TMP" "$want" "$PROVINCES" "$@" <<'EOF'
import json, os, sys
tmp, want, provinces = sys.argv[1], sys.argv[2], sys.argv[3].split()
skip = set(open(os.path.join(tmp, "transferred")).read().split())
for me in sys.argv[4:]:
    for line in open(os.path.join(tmp, "cases.%s.jsonl" % me),
                     encoding="utf-8"):
        c = json.loads(line)
        home = c["person"].get("home_province")
        if c["id"] in skip:
            continue
        if want == "any" or (home and home != me and home in provinces):
            print(me, c["id"], home)
            break
EOF
}

# ---------------------------------------------------------------- nights
DOWN_NIGHT=0
[ "$NIGHTS" -ge 2 ] && DOWN_NIGHT=2
CONFLICT_NIGHT=0
[ "$NIGHTS" -ge 2 ] && CONFLICT_NIGHT=$NIGHTS
[ "$NIGHTS" -ge 3 ] && CONFLICT_NIGHT=3
CONFLICT_CASE=""
FIRST=$(echo $PROVINCES | cut -d' ' -f1)
index=0
night=1
while [ "$night" -le "$NIGHTS" ]; do
	echo
	echo "== night $night"
	# Day: every province records cases offline.
	i=0
	recorded=0
	: >"$TMP/batch"
	for p in $PROVINCES; do
		n=$(( (CASES * (2 + (i * 7 + night * 3) % 5)) / 4 ))
		echo "$p $n $(( night * 10000 + i * 1000 )) $TMP/day.$p" \
		    >>"$TMP/batch"
		recorded=$((recorded + n))
		i=$((i + 1))
	done
	$GEN --batch "$TMP/batch" --seed "$SEED" --year "$YEAR" \
	    --undated-rate 0.02 || die "gen_cases"
	for p in $PROVINCES; do
		cat "$TMP/day.$p" >>"$TMP/cases.$p.jsonl"
		cs import -d "$TMP/$p" "$TMP/day.$p" >/dev/null ||
			die "import into $p"
	done
	echo "recorded $recorded new cases offline in $NPROV provinces"

	# Day: border provinces refer a case to the person's home province.
	if [ "$HAS_TRANSFER" = 1 ] && [ "$night" -ge 2 ]; then
		border=""
		for p in $PROVINCES; do
			case " $BORDER " in *" $p "*) border="$border $p" ;; esac
		done
		# shellcheck disable=SC2086
		pick_cases home $border >"$TMP/pick"
		while read -r p id home; do
			cs case transfer -d "$TMP/$p" "$id" --to "$home" \
			    --reason "reintegration in home province" \
			    >/dev/null 2>&1 &&
			    echo "referral: $p -> $home (case $id)"
			echo "$id" >>"$TMP/transferred"
		done <"$TMP/pick"
	fi

	# Day: central and the owner correct the same field concurrently.
	# (A case recorded on night 1, which central holds since then.)
	if [ "$HAS_CONFLICTS" = 1 ] && [ "$night" -eq "$CONFLICT_NIGHT" ]; then
		CONFLICT_CASE=$(pick_cases any "$FIRST" | cut -d' ' -f2)
		if [ -n "$CONFLICT_CASE" ] &&
		    echo '{"status":"receiving_support"}' | cs case update \
		    -d "$TMP/$FIRST" "$CONFLICT_CASE" - >/dev/null 2>&1 &&
		    echo '{"status":"reintegration_followup"}' | cs case update \
		    -d "$TMP/central" "$CONFLICT_CASE" - >/dev/null 2>&1; then
			echo "conflict: $FIRST and central both set the status" \
			    "of case $CONFLICT_CASE"
			echo "$CONFLICT_CASE" >>"$TMP/transferred"
		else
			CONFLICT_CASE=""
		fi
	fi

	# Night: the syncs.
	if [ "$night" -eq "$DOWN_NIGHT" ]; then
		stop_central
		echo "central is down tonight: every sync fails (exit 3)," \
		    "nothing is lost"
		# shellcheck disable=SC2086
		sync_round 2 $PROVINCES
	else
		[ -n "$CENTRAL_PID" ] || { start_central &&
		    echo "central is back (pid $CENTRAL_PID)"; }
		miss=$(echo $PROVINCES | cut -d' ' -f$(( (night * 3) % NPROV + 1 )))
		echo "$miss misses tonight's sync (link down)"
		tonight=$(echo $PROVINCES | tr ' ' '\n' | grep -vx "$miss" |
		    tr '\n' ' ')
		# shellcheck disable=SC2086
		sync_round 10 $tonight
	fi
	night=$((night + 1))
done

# ---------------------------------------------------------------- catch-up
echo
echo "== catch-up: every province syncs (twice, so referrals reach the" \
    "receiving province)"
[ -n "$CENTRAL_PID" ] || start_central
# shellcheck disable=SC2086
sync_round 10 $PROVINCES
# shellcheck disable=SC2086
sync_round 10 $PROVINCES >/dev/null

# Reception: each receiving province answers the referrals that wait for
# it (an offer until then, docs/CONFLICTS.md): it accepts all but one,
# which is declined with a reason; the next syncs carry the answers.
if [ "$HAS_TRANSFER" = 1 ] && has_verb case accept; then
	echo
	echo "== reception: the receiving provinces answer their referrals"
	accepted=0
	declined=0
	for p in $PROVINCES; do
		for id in $(cs case referrals -d "$TMP/$p" 2>/dev/null |
		    awk '$2 == "in" { print $1 }'); do
			if [ "$declined" = 0 ]; then
				cs case decline -d "$TMP/$p" "$id" --reason \
				    "no place in the shelter this month" \
				    >/dev/null 2>&1 && declined=1 &&
				    echo "declined: $p declines case $id"
			else
				cs case accept -d "$TMP/$p" "$id" >/dev/null \
				    2>&1 && accepted=$((accepted + 1))
			fi
		done
	done
	echo "accepted $accepted referrals, declined $declined"
	# shellcheck disable=SC2086
	sync_round 10 $PROVINCES >/dev/null
	# shellcheck disable=SC2086
	sync_round 10 $PROVINCES >/dev/null
fi

echo
echo "== central's web console"
mkdir -p "$OUT" || die "cannot create $OUT"
start_console
echo "console: $CONSOLE_URL ($(grep -o 'SHA-256 .*' "$TMP/console.log"))"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
$PY "$ROOT/deploy/demo_console.py" "$CONSOLE_URL" demo-admin "$DEMO_PW" \
    "$OUT" "$YEAR" || echo "demo: no console screenshots (see above)"

if [ "$KEEP_RUNNING" = 1 ]; then
	echo
	echo "The demo country keeps running: central (pid $CENTRAL_PID) and"
	echo "its console (pid $CONSOLE_PID)."
	echo "  console:  $CONSOLE_URL/   (self-signed certificate)"
	echo "  user:     demo-admin"
	echo "  password: $DEMO_PW"
	echo "  nodes:    $TMP"
	echo "Ctrl-C stops everything."
	wait "$CONSOLE_PID"
	exit 0
fi
stop_console

if [ "$HAS_CONFLICTS" = 1 ] && [ -n "$CONFLICT_CASE" ]; then
	echo
	echo "== open conflicts at central"
	cs conflicts list -d "$TMP/central"
	cid=$(cs conflicts list -d "$TMP/central" --json 2>/dev/null |
	    python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
items = d if isinstance(d, list) else d.get("conflicts", [])
for c in items:
    cid = c.get("cid") or c.get("id")
    if cid:
        print(cid)
        break
')
	if [ -n "$cid" ] && cs conflicts resolve -d "$TMP/central" "$cid" \
	    --keep winner --reason "checked with $FIRST" >/dev/null; then
		echo "resolved $cid at central (kept the winner)"
		# shellcheck disable=SC2086
		sync_round 10 $PROVINCES >/dev/null
	fi
fi

echo
echo "== sync summary"
for n in central $PROVINCES; do
	cs status -d "$TMP/$n" --json
done | python3 -c '
import json, sys
print("  %-12s %-9s %6s %8s %9s  %s" % ("node", "role", "cases", "entries",
                                      "conflicts", "last sync"))
for line in sys.stdin:
    s = json.loads(line)
    last = max([p.get("last_sync") or "" for p in s.get("peers", [])] or [""])
    print("  %-12s %-9s %6d %8d %9d  %s" % (s["node"], s["role"], s["cases"],
          s["entries"], s["conflicts"], last or "-"))
'
cs verify -d "$TMP/central" >/dev/null && echo "central verifies: the" \
    "case table matches its change log"

echo
echo "== national report $YEAR (public: small cells suppressed)"
mkdir -p "$OUT" || die "cannot create $OUT"
cs report -d "$TMP/central" --year "$YEAR" --public --format text \
    --out "$OUT/report.txt" || die "report"
cat "$OUT/report.txt"
cs report -d "$TMP/central" --year "$YEAR" --public --format html \
    --out "$OUT/report.html" || die "report html"
cs report -d "$TMP/central" --year "$YEAR" --public --format html \
    --lang vi --out "$OUT/report-vi.html" || die "report html vi"
stop_central
OUT_ABS=$(cd "$OUT" && pwd)
echo
echo "The HTML report (open it in a browser, or print it) is in"
echo "  $OUT_ABS/report.html"
echo "in Vietnamese in $OUT_ABS/report-vi.html, the text above in"
echo "$OUT_ABS/report.txt, and the console's screenshots in"
echo "$OUT_ABS/console-*.png."
echo "demo finished in $(( $(date +%s) - T0 )) s; every process stopped."
