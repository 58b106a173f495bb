#!/bin/sh
# tests/fuzz/run.sh [SECONDS] [TARGET ...]
#
# Builds every libFuzzer target (tests/fuzz/fuzz_NAME.c) into build/fuzz/
# and runs each for SECONDS (default 10) on a scratch copy of its seed
# corpus tests/fuzz/corpus/NAME/, so a run never grows the committed
# corpus.  With TARGET names (msg, cfg, ...) only those run.
#
# Prints one line per target and ends with "N passed, N failed".  A target
# fails when it does not build or when libFuzzer finds a crash, a leak, a
# timeout or undefined behaviour; the input is kept in build/fuzz/crashes/
# (add it to the corpus once the decoder is fixed) and the fuzzer's log in
# build/fuzz/NAME.log.
#
# The sanitizers need clang and libclang-rt-14-dev (deploy/bootstrap.sh).
set -u
cd "$(dirname "$0")/../.."

secs=${1:-10}
[ $# -gt 0 ] && shift
B=build/fuzz
CC=${FUZZ_CC:-clang}
PKGS="msgpack libcrypto libcjson libzmq lmdb"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -g -O1 -D_GNU_SOURCE -I. -fno-omit-frame-pointer $SAN"

case $secs in
''|*[!0-9]*) echo "usage: tests/fuzz/run.sh [SECONDS] [TARGET ...]" >&2
	exit 2 ;;
esac

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   fuzz_$1 ($2)"; }
bad() { fail=$((fail + 1)); echo "FAIL fuzz_$1: $2"; }

summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz: $CC not found (run deploy/bootstrap.sh)"
	fail=1
	summary
fi
if ! pkgflags=$(pkg-config --cflags --libs $PKGS 2>/dev/null); then
	echo "fuzz: pkg-config cannot find $PKGS (run deploy/bootstrap.sh)"
	fail=1
	summary
fi
mkdir -p "$B/obj" "$B/crashes"

# The decoders under test, compiled once with coverage for the fuzzer.
# node/schema.c and node/provinces.c (the case JSON and the op check),
# node/sign.c (the signed form's digest),
# node/offer.c (the check of referral offers and answers) and
# the console's request parsing (node/webreq.c, html.c, jsonr.c) are the
# only node/ modules a target needs; they depend on common/ only.
objs=""
for src in common/*.c proto/*.c node/schema.c node/provinces.c \
    node/sign.c node/offer.c node/webreq.c node/html.c node/jsonr.c; do
	obj="$B/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -f "$obj" ] || [ -n "$(find "$src" common proto node/schema.h \
	    node/provinces.h node/sign.h node/offer.h node/webreq.h node/html.h node/jsonr.h \
	    -newer "$obj" -name '*.[ch]' 2>/dev/null |
	    head -n 1)" ]; then
		if ! $CC $CFLAGS -fsanitize=fuzzer-no-link $pkgflags -c \
		    -o "$obj" "$src" 2>"$B/build.log"; then
			cat "$B/build.log"
			echo "fuzz: $src does not build with $CC"
			fail=1
			summary
		fi
	fi
	objs="$objs $obj"
done

if [ $# -gt 0 ]; then
	targets=$*
else
	targets=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
fi

for t in $targets; do
	src=tests/fuzz/fuzz_$t.c
	bin=$B/fuzz_$t
	log=$B/$t.log
	if [ ! -f "$src" ]; then
		bad "$t" "no $src"
		continue
	fi
	if ! $CC $CFLAGS -fsanitize=fuzzer -o "$bin" "$src" $objs \
	    $pkgflags >"$log" 2>&1; then
		cat "$log"
		bad "$t" "does not build"
		continue
	fi
	# A scratch copy: what the run adds stays out of the repository.
	work=$(mktemp -d)
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
	fi
	dict=""
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	rm -f "$B/crashes/$t-"*
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
	UBSAN_OPTIONS=print_stacktrace=1 \
	    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 -print_final_stats=1 $dict \
	    -artifact_prefix="$B/crashes/$t-" "$work" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	rm -rf "$work"
	if [ "$rc" -eq 0 ]; then
		ok "$t" "${runs:-?} runs in ${secs} s"
	else
		grep -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" |
		    head -n 5 | sed 's/^/     /'
		crash=$(ls "$B/crashes/$t-"* 2>/dev/null | head -n 1)
		bad "$t" "exit $rc after ${runs:-?} runs; input ${crash:-none},
     log $log"
	fi
done
summary
