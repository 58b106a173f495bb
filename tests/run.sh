#!/bin/sh
# Runs every test: the module selftests under ASan/UBSan, the message
# catalogues' completeness (tests/po_check.sh), then the command-line and multi-node tests (real processes, real sockets on
# 127.0.0.1, real LMDB files), then a short run of every fuzz target
# (tests/fuzz/run.sh).  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0

count() {
	# Reads the "N passed, N failed" line of a runner's output file.
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		total_fail=$((total_fail + 1))
		echo "FAIL $2 (no summary: it crashed?)"
		return
	fi
	p=$(echo "$line" | cut -d' ' -f1)
	f=$(echo "$line" | cut -d' ' -f3)
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

out=$(mktemp)
echo "== unit selftests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1 ./build/selftest >"$out" 2>&1
cat "$out"
count "$out" selftest

echo "== message catalogues (every msgid translated)"
sh tests/po_check.sh >"$out" 2>&1
cat "$out"
count "$out" po

echo "== command-line and multi-node tests"
# Debian's python3 (/usr/bin) has python3-selenium for the console's
# browser tests and python3-zmq, -msgpack, -cryptography for the
# hostile-province client; another python3 first on PATH may not.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
$PY tests/it/run.py ${TESTS:-} 2>&1 | tee "$out"
count "$out" it

echo "== fuzz targets, ${FUZZ_CHECK_SECONDS:-10} s each (make fuzz runs longer)"
sh tests/fuzz/run.sh "${FUZZ_CHECK_SECONDS:-10}" 2>&1 | tee "$out"
count "$out" fuzz

rm -f "$out"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
