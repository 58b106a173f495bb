"""The systemd units in deploy/systemd/ (issue 18, finding 8).

Every unit there, whoever adds it (serve, sync and its timer, the console,
backups), must be clean under `systemd-analyze verify` and, for a service,
score an exposure of 2.0 or below under `systemd-analyze security
--offline=true`.  Neither needs systemd running as PID 1.

verify checks that ExecStart's program exists, so it runs with --root on a
scratch tree: the units in etc/systemd/system, this machine's own units
(for the targets they name), and build/casesync at the path each
ExecStart gives.
"""
import os
import re
import shutil
import subprocess

from harness import BIN, ROOT, check

UNIT_DIR = os.path.join(ROOT, "deploy", "systemd")
UNIT_SUFFIXES = (".service", ".timer", ".socket", ".path", ".target",
                 ".mount")
EXPOSURE_MAX = 2.0


def units():
    found = sorted(f for f in os.listdir(UNIT_DIR) if f.endswith(
        UNIT_SUFFIXES))
    check(found, "no units in %s" % UNIT_DIR)
    return found


def analyze():
    path = shutil.which("systemd-analyze")
    check(path is not None, "systemd-analyze is missing (Debian package "
          "systemd; deploy/bootstrap.sh installs it)")
    return path


def exec_programs(text):
    """The absolute programs of a unit's Exec*= lines (prefixes such as
    -, @, +, ! and : removed)."""
    out = []
    for m in re.finditer(r"^Exec[A-Za-z]*=\s*(\S+)", text, re.M):
        prog = m.group(1).lstrip("-@+!:|")
        if prog.startswith("/"):
            out.append(prog)
    return out


def scratch_root(tmp):
    """A tree for `verify --root`: the units, the system's units, and the
    programs the units run."""
    root = os.path.join(tmp, "root")
    etc = os.path.join(root, "etc", "systemd", "system")
    os.makedirs(etc)
    os.makedirs(os.path.join(root, "usr", "lib", "systemd"))
    shutil.copytree("/usr/lib/systemd/system",
                    os.path.join(root, "usr", "lib", "systemd", "system"),
                    symlinks=True)
    for u in units():
        shutil.copy(os.path.join(UNIT_DIR, u), etc)
        for prog in exec_programs(open(os.path.join(UNIT_DIR, u)).read()):
            dst = os.path.join(root, prog.lstrip("/"))
            if os.path.exists(dst):
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.basename(prog) == "casesync":
                shutil.copy(BIN, dst)
            else:
                check(os.path.exists(prog), "%s runs %s, which is neither "
                      "casesync nor on this machine" % (u, prog))
                shutil.copy(prog, dst)
    return root


def test_units_verify_clean(env):
    sa = analyze()
    root = scratch_root(env.tmp)
    for u in units():
        r = subprocess.run([sa, "verify", "--man=no", "--root=" + root, u],
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0 and r.stdout.strip() == "" and
              r.stderr.strip() == "", "systemd-analyze verify %s: rc %d\n%s%s"
              % (u, r.returncode, r.stdout, r.stderr))
    # The check itself works: an unknown key is reported.
    bad = os.path.join(root, "etc", "systemd", "system",
                       "casesync-probe.service")
    open(bad, "w").write("[Service]\nExecStart=/bin/true\nProtectFoo=yes\n")
    r = subprocess.run([sa, "verify", "--man=no", "--root=" + root,
                        "casesync-probe.service"], capture_output=True,
                       text=True, timeout=120)
    check("ProtectFoo" in r.stderr, "verify did not report a bad key: %r" %
          r.stderr)


def exposure(sa, path):
    r = subprocess.run([sa, "security", "--offline=true", "--no-pager",
                        path], capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)",
                  r.stdout + r.stderr)
    check(m is not None, "systemd-analyze security %s: %r" % (path, r.stdout
                                                              + r.stderr))
    return float(m.group(1)), r.stdout


def test_units_exposure_at_most_2(env):
    sa = analyze()
    scores = {}
    for u in units():
        if not u.endswith(".service"):
            continue
        score, detail = exposure(sa, os.path.join(UNIT_DIR, u))
        scores[u] = score
        check(score <= EXPOSURE_MAX, "%s: exposure %.1f > %.1f\n%s" %
              (u, score, EXPOSURE_MAX, "\n".join(
                  l for l in detail.splitlines() if "\u2717" in l)))
    check(scores, "no service units")
    print("  exposure: " + ", ".join("%s %.1f" % kv for kv in
                                     sorted(scores.items())), flush=True)
