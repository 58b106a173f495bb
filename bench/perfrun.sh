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
# build/casesync, or CS_BIN.  The set-up is bench/profsetup.sh, shared
# with bench/callgrind.sh.
PROF_BIN=${CS_BIN:-build/casesync}
. "$(dirname "$0")/profsetup.sh"

KEEP=${PERF_KEEP:-/tmp/casesync-perf}
mkdir -p "$KEEP"

# phase NAME: central serves under perf for one sync of the province;
# prints the busiest process's event total (ns of cpu-clock, or a count).
phase() {
	perf record ${PERF_EV:--F 2000 --call-graph dwarf,16384} \
	    -o "$KEEP/$1.data" -- \
	    "$CS" serve -d "$T/c" > "$T/serve-$1.log" 2>&1 &
	SERVE=$!
	prof_sync "$1"
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
