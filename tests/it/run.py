#!/usr/bin/env python3
"""Runs the command-line and multi-node tests: every function named test_*
in tests/it/test_*.py, each in a fresh temporary directory, with a time
limit.  Prints one line per test and ends with "N passed, N failed".

Usage: python3 tests/it/run.py [SUBSTRING ...]  (run only matching tests)
"""
import importlib.util
import os
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

TEST_LIMIT_S = int(os.environ.get("TEST_LIMIT_S", "240"))


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout("test exceeded %d s" % TEST_LIMIT_S)


def main():
    wanted = sys.argv[1:]
    files = sorted(f for f in os.listdir(HERE)
                   if f.startswith("test_") and f.endswith(".py"))
    passed = failed = 0
    signal.signal(signal.SIGALRM, on_alarm)
    for fname in files:
        spec = importlib.util.spec_from_file_location(fname[:-3],
                                                      os.path.join(HERE, fname))
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception:
            print("FAIL %s (does not load)" % fname)
            traceback.print_exc()
            failed += 1
            continue
        tests = [n for n in dir(mod) if n.startswith("test_")]
        tests.sort(key=lambda n: getattr(mod, n).__code__.co_firstlineno)
        for name in tests:
            full = "%s.%s" % (fname[:-3], name)
            if wanted and not any(w in full for w in wanted):
                continue
            tmp = tempfile.mkdtemp(prefix="casesync-it-")
            t0 = time.monotonic()
            signal.alarm(TEST_LIMIT_S)
            ok = False
            try:
                getattr(mod, name)(harness.Env(tmp))
                ok = True
            except Exception as e:
                why = "%s: %s" % (type(e).__name__, e)
                tb = traceback.format_exc()
            finally:
                signal.alarm(0)
                harness.cleanup()
            dt = time.monotonic() - t0
            if ok:
                passed += 1
                print("ok   %s (%.1f s)" % (full, dt), flush=True)
                harness.rmtree(tmp)
            else:
                failed += 1
                print("FAIL %s (%.1f s): %s" % (full, dt, why), flush=True)
                print("  " + tb.replace("\n", "\n  "), flush=True)
                print("  (files kept in %s)" % tmp, flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
