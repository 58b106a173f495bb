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
# Uses build/casesync as it is (build it with `make OPT=-O2 all` first),
# or CS_BIN.  Everything lives in a temporary folder, removed at the end
# (the set-up is bench/profsetup.sh, shared with bench/perfrun.sh).
PROF_BIN=${CS_BIN:-build/casesync}
. "$(dirname "$0")/profsetup.sh"

# phase NAME: central serves under callgrind for one sync of the province.
phase() {
	mkdir -p "$T/cg-$1"
	valgrind --tool=callgrind --trace-children=yes \
	    --callgrind-out-file="$T/cg-$1/out.%p" \
	    "$CS" serve -d "$T/c" > "$T/serve-$1.log" 2>&1 &
	SERVE=$!
	prof_sync "$1"
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
