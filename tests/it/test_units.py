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
import errno
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile

import harness
from harness import BIN, ROOT, check, ok, sample_case, skip, wait_for

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


# ---- casesync under the units' restrictions --------------------------------
# systemd is not PID 1 here (nor on most CI runners), so systemd-run cannot
# apply a unit.  tests/it/unitsandbox.py applies the unit's restrictions
# itself (mount namespace, no capabilities, nobody, no_new_privs, seccomp
# filters built from systemd's own system call groups) and runs casesync
# under them; its docstring lists what it applies and what it does not.

SANDBOX = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "unitsandbox.py")
NOBODY = 65534
PROBE = r'''
import ctypes, json, mmap, os, socket, sys
r = {}
def t(name, f):
    try:
        f()
        r[name] = "allowed"
    except OSError as e:
        r[name] = e.errno
libc = ctypes.CDLL(None, use_errno=True)
def call(fn, *a):
    if fn(*a) == -1:
        raise OSError(ctypes.get_errno(), "")
t("write_usr", lambda: open("/usr/casesync-probe", "w"))
t("write_rwdir", lambda: open(os.path.join(sys.argv[1], "probe"), "w"))
t("packet", lambda: socket.socket(17, socket.SOCK_RAW, 0))
t("bluetooth", lambda: socket.socket(31, socket.SOCK_STREAM, 0))
t("inet", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
t("unix", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
t("mmap_wx", lambda: mmap.mmap(-1, 4096, prot=7))
t("unshare", lambda: call(libc.unshare, 0x10000000))
t("personality", lambda: call(libc.personality, 0x0400000))
t("proc_1", lambda: open("/proc/1/status").read())
t("proc_sys", lambda: open("/proc/sys/kernel/hostname").read())
r["dev"] = sorted(os.listdir("/dev"))
r["status"] = {l.split(":")[0]: l.split(":")[1].strip() for l in
               open("/proc/self/status") if l.startswith(
                   ("CapBnd", "CapEff", "NoNewPrivs", "Seccomp:"))}
r["uid"] = os.getuid()
print(json.dumps(r))
'''


def exec_start(unit_path, extra):
    """The unit's ExecStart with build/casesync for casesync, --syslog
    replaced by extra (so that the log reaches the test)."""
    text = open(unit_path).read()
    m = re.search(r"^ExecStart=\s*(.+)$", text, re.M)
    check(m is not None, "%s has no ExecStart" % unit_path)
    argv = m.group(1).split()
    check(os.path.basename(argv[0].lstrip("-@+!:|")) == "casesync",
          "%s runs %s" % (unit_path, argv[0]))
    argv[0] = BIN
    if "--syslog" in argv:
        argv.remove("--syslog")
        argv += extra
    return argv


def boxed(unit, rwdir, argv):
    return [sys.executable, SANDBOX, os.path.join(UNIT_DIR, unit), rwdir,
            "--"] + argv


def as_nobody(args, env=None, stdin=None):
    return harness.run(args, env=env, stdin=stdin,
                       wrap=["setpriv", "--reuid=%d" % NOBODY,
                             "--regid=%d" % NOBODY, "--clear-groups", "--"])


def test_node_works_under_unit_restrictions(env):
    """Central serves (passphrase mode) and a province syncs, each under
    its unit's restrictions: entries go both ways, a session process that
    aborts is replaced, SIGTERM stops both cleanly, no process dies of a
    refused system call.  Probes under the same restrictions show that
    they are in force."""
    if os.geteuid() != 0:
        return skip("not root: the sandbox needs namespaces and mounts")
    if shutil.which("setpriv") is None:
        return skip("setpriv (util-linux) is not installed")
    units_here = units()
    for u in ("casesync-serve.service", "casesync-sync.service"):
        check(u in units_here, "%s is missing" % u)
    r = subprocess.run(boxed("casesync-serve.service", env.tmp,
                             ["/bin/true"]), capture_output=True, text=True)
    if r.returncode == 125 and "unshare" in r.stderr:
        return skip("no mount namespaces here: %s" % r.stderr.strip())
    check(r.returncode == 0, "sandbox: %r" % r.stderr)
    base = tempfile.mkdtemp(prefix="unit-sandbox-", dir=os.path.dirname(BIN))
    try:
        run_nodes(env, base)
    finally:
        harness.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def run_nodes(env, base):
    os.chmod(base, 0o755)
    dirs = {}
    for n in ("central", "lao-cai"):
        dirs[n] = os.path.join(base, n)
        os.mkdir(dirs[n], 0o700)
        os.chown(dirs[n], NOBODY, NOBODY)
    penv = {"CASESYNC_PASSPHRASE": "FAKE unit passphrase"}
    port = harness.free_port()
    ep = "tcp://127.0.0.1:%d" % port
    ok(as_nobody(["init", "-d", dirs["central"], "--node", "central",
                  "--role", "central", "--listen", ep], env=penv))
    ok(as_nobody(["init", "-d", dirs["lao-cai"], "--node", "lao-cai",
                  "--role", "province", "--central", ep]))
    ck = ok(as_nobody(["key", "-d", dirs["central"]], env=penv)).out.strip()
    pk = ok(as_nobody(["key", "-d", dirs["lao-cai"]])).out.strip()
    ok(as_nobody(["trust", "-d", dirs["central"], "lao-cai", pk], env=penv))
    ok(as_nobody(["trust", "-d", dirs["lao-cai"], "central", ck]))
    ids = [ok(as_nobody(["case", "add", "-d", dirs["lao-cai"], "-"],
                        stdin=json.dumps(sample_case(i)))).out.strip()
           for i in range(3)]

    logpath = os.path.join(env.tmp, "boxed.log")
    log = open(logpath, "a")
    e = dict(os.environ)
    e.update(penv)
    serve = exec_start(os.path.join(UNIT_DIR, "casesync-serve.service"),
                       ["--log-level", "info"])
    c = harness.GroupPopen(boxed("casesync-serve.service", dirs["central"],
                                 serve), env=e, stdout=log, stderr=log)
    harness._procs.append(c)
    wait_for(lambda: port_open(port), 15, what="central to listen")
    # The province's nightly sync, under casesync-sync.service.
    sync = exec_start(os.path.join(UNIT_DIR, "casesync-sync.service"), [])
    r = subprocess.run(boxed("casesync-sync.service", dirs["lao-cai"], sync),
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "boxed sync: rc %d %s" % (r.returncode,
                                                       r.stderr))
    st = ok(as_nobody(["status", "-d", dirs["central"], "--json"],
                      env=penv)).json()
    check(st["cases"] == 3, "central after the boxed sync: %r" % st)
    # Central's node process aborts (as libzmq's do): replaced in the box.
    kids = children(c.pid)
    check(len(kids) == 1, "sandboxed serve has %r" % kids)
    os.kill(kids[0], signal.SIGABRT)
    wait_for(lambda: harness.REPLACED in open(logpath).read(), 15,
             what="the node process to be replaced")
    wait_for(lambda: port_open(port), 15, what="central to listen again")
    ok(as_nobody(["case", "update", "-d", dirs["central"], ids[0], "-"],
                 env=penv, stdin='{"status": "closed"}'))
    # The province syncing continuously, under casesync-serve.service.
    p = harness.GroupPopen(boxed("casesync-serve.service", dirs["lao-cai"],
                                 serve), env=dict(os.environ), stdout=log,
                           stderr=log)
    harness._procs.append(p)

    def got_it():
        g = as_nobody(["case", "get", "-d", dirs["lao-cai"], ids[0]])
        return g.rc == 0 and json.loads(g.out)["status"] == "closed"
    wait_for(got_it, 30, what="the boxed province to receive the update")
    for proc, what in ((p, "province serve"), (c, "central serve")):
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(20) == 0, "%s under the unit: exit %r\n%s" %
              (what, proc.returncode, open(logpath).read()[-2000:]))
    text = open(logpath).read()
    check("signal 31" not in text and "Bad system call" not in text,
          "a refused system call killed a process:\n" + text[-2000:])
    exercised = {"casesync-serve.service", "casesync-sync.service"}
    if "casesync-console.service" in units():
        console_boxed(dirs["central"], e, log, logpath)
        exercised.add("casesync-console.service")
    if "casesync-backup.service" in units():
        backup_boxed(base, dirs["lao-cai"])
        exercised.add("casesync-backup.service")
    rest = [u for u in units() if u.endswith(".service") and
            u not in exercised]
    if rest:
        print("  not run under their restrictions (no scenario here): " +
              ", ".join(rest), flush=True)
    probe(dirs["lao-cai"])


def console_boxed(d, e, log, logpath):
    """The web console of central under casesync-console.service answers
    over HTTPS and stops cleanly."""
    port = harness.free_port()
    argv = exec_start(os.path.join(UNIT_DIR, "casesync-console.service"),
                      [])
    argv += ["--listen", "127.0.0.1:%d" % port]
    c = harness.GroupPopen(boxed("casesync-console.service", d, argv),
                           env=e, stdout=log, stderr=log)
    harness._procs.append(c)
    wait_for(lambda: port_open(port), 20, what="the boxed console")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), 5) as raw:
        with ctx.wrap_socket(raw) as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                        b"Connection: close\r\n\r\n")
            head = tls.recv(4096).decode("latin-1")
    check(re.match(r"HTTP/1\.[01] (200|30[237]) ", head) is not None,
          "boxed console answered %r" % head[:200])
    c.send_signal(signal.SIGTERM)
    check(c.wait(20) == 0, "boxed console: exit %r\n%s" %
          (c.returncode, open(logpath).read()[-2000:]))


def backup_boxed(base, node):
    """casesync backup under casesync-backup.service writes a backup that
    restores."""
    bdir = os.path.join(base, "backups")
    os.mkdir(bdir, 0o700)
    os.chown(bdir, NOBODY, NOBODY)
    out = os.path.join(bdir, "b1")
    r = subprocess.run(boxed("casesync-backup.service", node + ":" + bdir,
                             [BIN, "backup", "-d", node, out]),
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "boxed backup: rc %d %s" % (r.returncode,
                                                         r.stderr))
    for f in ("data.mdb", "identity.key", "casesync.conf"):
        check(os.path.exists(os.path.join(out, f)), "backup lacks " + f)
    ok(as_nobody(["verify", "-d", out]), "verify the boxed backup")


def probe(rwdir):
    r = subprocess.run(boxed("casesync-serve.service", rwdir,
                             ["/usr/bin/python3", "-c", PROBE, rwdir]),
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "probe: %r" % r.stderr)
    got = json.loads(r.stdout)
    want = {"write_usr": errno.EROFS, "write_rwdir": "allowed",
            "packet": errno.EAFNOSUPPORT, "bluetooth": errno.EAFNOSUPPORT, "inet": "allowed",
            "unix": "allowed", "mmap_wx": errno.EPERM,
            "unshare": errno.EPERM, "personality": errno.EPERM,
            "proc_1": errno.ENOENT, "proc_sys": errno.ENOENT}
    for k, v in want.items():
        check(got[k] == v, "probe %s: %r, expected %r" % (k, got[k], v))
    check(not any(d.startswith(("sd", "vd", "nvme", "mem", "kmsg"))
                  for d in got["dev"]), "devices in /dev: %r" % got["dev"])
    check(got["status"]["CapBnd"] == "0000000000000000" and
          got["status"]["CapEff"] == "0000000000000000" and
          got["status"]["NoNewPrivs"] == "1" and
          got["status"]["Seccomp"] == "2" and got["uid"] == NOBODY,
          "probe credentials: %r" % got)
    # A call outside @system-service (acct, in @privileged) kills.
    r = subprocess.run(boxed("casesync-serve.service", rwdir, [
        "/usr/bin/python3", "-c",
        "import ctypes; ctypes.CDLL(None).acct(None); print('alive')"]),
        capture_output=True, text=True, timeout=60)
    check(r.returncode == -signal.SIGSYS and "alive" not in r.stdout,
          "acct under the filter: rc %d %r" % (r.returncode, r.stdout))


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            out.append(int(d))
    return out
