#!/usr/bin/env python3
"""Runs a command under the restrictions of a systemd service unit, the
way systemd would, on a machine where systemd is not PID 1 (a container, a
CI runner).  For tests only: it needs root, and it applies the unit's
restrictions as far as they matter to casesync, some of them stricter than
systemd does (said below).

  unitsandbox.py UNIT RWDIR[:RWDIR...] -- PROGRAM ARGS...

The RWDIRs stand for the unit's ReadWritePaths=, in order (the first also
for CASESYNC_DIR in its Environment=): the node directory of the test,
then any other (a backup directory).  The unit's User= is replaced by
nobody (65534).

What is applied, in this order, before PROGRAM is executed:
  mount namespace   ProtectSystem=strict (every mount read-only except
                    RWDIR, /dev, /proc and the private /tmp), ProtectHome
                    (empty read-only /home, /root, /run/user), PrivateTmp
                    (tmpfs /tmp, /var/tmp), PrivateDevices (tmpfs /dev with
                    null, zero, full, random, urandom, tty, a /dev/log
                    link, /dev/shm), ProtectKernelTunables (/proc/sys,
                    /sys read-only), ProtectControlGroups (/sys/fs/cgroup
                    read-only), ProtectProc=invisible + ProcSubset=pid (a
                    new /proc mounted hidepid=invisible,subset=pid),
                    ProtectHostname (a UTS namespace), PrivateIPC (an
                    IPC namespace), PrivateNetwork (a network namespace)
  credentials       CapabilityBoundingSet= (every capability dropped from
                    the bounding set), User= (nobody, no groups),
                    NoNewPrivileges, UMask=, LimitCORE=
  seccomp           SystemCallFilter= (the allow list expanded from
                    `systemd-analyze syscall-filter`, minus ~ groups; any
                    other call KILLS the process, stricter than
                    SystemCallErrorNumber=EPERM, so that no refused call
                    goes unnoticed), SystemCallArchitectures=native,
                    RestrictAddressFamilies= (others EAFNOSUPPORT),
                    MemoryDenyWriteExecute (mmap W+X, mprotect/
                    pkey_mprotect +X, shmat SHM_EXEC: EPERM),
                    RestrictNamespaces=yes (unshare, setns, clone with a
                    namespace flag: EPERM; clone3: ENOSYS, as systemd),
                    LockPersonality (any personality() but a query: EPERM,
                    stricter), RestrictRealtime (sched_setscheduler to
                    FIFO, RR or DEADLINE: EPERM), RestrictSUIDSGID
                    (chmod family with S_ISUID/S_ISGID: EPERM),
                    ProtectKernelLogs and ProtectClock (syslog(2) and the
                    @clock calls refused)
Not emulated (printed on stderr): PrivateUsers (a user namespace; the
process already runs as nobody with no capabilities), DevicePolicy (the
private /dev already holds no device), RemoveIPC, PrivateMounts (implied
by the mount namespace), KeyringMode, IPAddressDeny/IPAddressAllow (BPF).
"""
import ctypes
import ctypes.util
import errno
import os
import re
import resource
import subprocess
import sys

NOBODY = 65534
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
NS_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000,
            0x20000000, 0x40000000, 0x00000080]   # NS CGROUP UTS IPC USER
#                                                   PID NET TIME
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
PROT_WRITE, PROT_EXEC, SHM_EXEC = 2, 4, 0o100000
S_ISUID, S_ISGID = 0o4000, 0o2000

ACT_KILL_PROCESS = 0x80000000
ACT_ALLOW = 0x7fff0000
CMP_NE, CMP_EQ, CMP_GE, CMP_MASKED_EQ = 1, 4, 5, 7
AF_MAX = 46

HANDLED = {
    "User", "Group", "Environment", "ExecStart", "ReadWritePaths",
    "NoNewPrivileges", "CapabilityBoundingSet", "AmbientCapabilities",
    "PrivateTmp", "PrivateDevices", "ProtectSystem", "ProtectHome",
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
    "ProtectClock", "ProtectControlGroups", "ProtectHostname",
    "ProtectProc", "ProcSubset", "RestrictAddressFamilies",
    "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
    "LockPersonality", "MemoryDenyWriteExecute", "SystemCallArchitectures",
    "SystemCallFilter", "SystemCallErrorNumber", "UMask", "LimitCORE",
    "PrivateIPC", "PrivateNetwork"}
NOT_EMULATED = {"PrivateUsers", "DevicePolicy", "RemoveIPC",
                "PrivateMounts", "KeyringMode", "IPAddressDeny",
                "IPAddressAllow"}
IGNORED = {"Type", "KillSignal", "TimeoutStopSec", "Restart", "RestartSec",
           "Description", "After", "Wants", "WantedBy", "Documentation",
           "Requires", "SuccessExitStatus", "RestartPreventExitStatus"}

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong, ctypes.c_ulong]


def die(msg):
    sys.stderr.write("unitsandbox: %s\n" % msg)
    sys.exit(125)


def parse_unit(path):
    props = {}
    section = None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        k, _, v = line.partition("=")
        if section == "[Service]":
            props.setdefault(k.strip(), []).append(v.strip())
    return props


def yes(props, key):
    v = props.get(key, ["no"])[-1].lower()
    return v in ("yes", "true", "1", "on", "strict", "full", "invisible",
                 "pid", "read-only")


def mount(src, dst, fstype, flags=0, data=None):
    if libc.mount(src and src.encode(), dst.encode(),
                  fstype and fstype.encode(), flags,
                  data and ctypes.c_char_p(data.encode())) != 0:
        e = ctypes.get_errno()
        die("mount %s on %s: %s" % (src, dst, os.strerror(e)))


def mountpoints():
    out = []
    for line in open("/proc/self/mountinfo"):
        f = line.split()
        out.append(f[4].replace("\\040", " "))
    return out


def statvfs_flags(path):
    st = os.statvfs(path)
    flags = 0
    for bit, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
                    (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME),
                    (os.ST_NODIRATIME, MS_NODIRATIME),
                    (os.ST_RELATIME, MS_RELATIME)):
        if st.f_flag & bit:
            flags |= ms
    return flags


def make_readonly(path):
    try:
        flags = statvfs_flags(path)
    except OSError:
        return
    if libc.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND |
                  MS_RDONLY | flags, None) != 0:
        die("cannot make %s read-only: %s" % (path,
                                              os.strerror(ctypes.get_errno())))


def setup_mounts(props, rwdirs):
    flags = CLONE_NEWNS
    for key, bit in (("ProtectHostname", CLONE_NEWUTS),
                     ("PrivateIPC", CLONE_NEWIPC),
                     ("PrivateNetwork", CLONE_NEWNET)):
        if yes(props, key):
            flags |= bit
    if libc.unshare(flags) != 0:
        die("unshare: %s" % os.strerror(ctypes.get_errno()))
    mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    for d in rwdirs:
        mount(d, d, None, MS_BIND, None)
    keep = set(rwdirs)
    rwdir = rwdirs[0]
    if yes(props, "PrivateTmp"):
        for d in ("/tmp", "/var/tmp"):
            if not rwdir.startswith(d + "/"):
                mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
                keep.add(d)
    if yes(props, "PrivateDevices"):
        # The nodes are bound from the real /dev, held open for that.
        fds = {n: os.open("/dev/" + n, os.O_PATH) for n in
               ("null", "zero", "full", "random", "urandom", "tty")}
        mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755")
        for n, fd in fds.items():
            open("/dev/" + n, "w").close()
            mount("/proc/self/fd/%d" % fd, "/dev/" + n, None, MS_BIND, None)
            os.close(fd)
        os.symlink("/run/systemd/journal/dev-log", "/dev/log")
        os.symlink("/proc/self/fd", "/dev/fd")
        for i, n in enumerate(("stdin", "stdout", "stderr")):
            os.symlink("/proc/self/fd/%d" % i, "/dev/" + n)
        os.mkdir("/dev/shm")
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    if yes(props, "ProtectHome"):
        for d in ("/home", "/root", "/run/user"):
            if os.path.isdir(d) and not rwdir.startswith(d + "/"):
                mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      "mode=000")
                make_readonly(d)
    if yes(props, "ProtectKernelTunables"):
        mount("/proc/sys", "/proc/sys", None, MS_BIND, None)
        make_readonly("/proc/sys")
    if yes(props, "ProtectSystem"):
        for mp in mountpoints():
            if mp in keep or mp.startswith(("/proc", "/dev")):
                continue
            if any(mp.startswith(k + "/") for k in keep):
                continue
            make_readonly(mp)
    if yes(props, "ProtectKernelTunables") or yes(props,
                                                   "ProtectControlGroups"):
        for mp in mountpoints():
            if mp == "/sys" or mp.startswith("/sys/"):
                make_readonly(mp)
    if yes(props, "ProtectProc") or yes(props, "ProcSubset"):
        opts = []
        if yes(props, "ProtectProc"):
            opts.append("hidepid=invisible")
        if yes(props, "ProcSubset"):
            opts.append("subset=pid")
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              ",".join(opts))


def drop_credentials(props, last_cap):
    if "CapabilityBoundingSet" in props and \
            props["CapabilityBoundingSet"][-1] == "":
        for cap in range(last_cap + 1):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if "User" in props:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    if yes(props, "NoNewPrivileges") or "SystemCallFilter" in props:
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            die("no_new_privs")
    if "UMask" in props:
        os.umask(int(props["UMask"][-1], 8))
    if "LimitCORE" in props:
        n = int(props["LimitCORE"][-1])
        resource.setrlimit(resource.RLIMIT_CORE, (n, n))


# ---- seccomp (libseccomp through ctypes) ----------------------------------

class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def seccomp_lib():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    lib = ctypes.CDLL(name)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
        ctypes.POINTER(ArgCmp)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def act_errno(e):
    return 0x00050000 | (e & 0xffff)


class Filter:
    def __init__(self, lib, default):
        self.lib = lib
        self.ctx = lib.seccomp_init(default)
        if not self.ctx:
            die("seccomp_init")

    def rule(self, action, name, *cmps):
        nr = self.lib.seccomp_syscall_resolve_name(name.encode())
        if nr == -1:        # __NR_SCMP_ERROR: unknown here
            return False
        arr = (ArgCmp * max(1, len(cmps)))(*[ArgCmp(*c) for c in cmps])
        rc = self.lib.seccomp_rule_add_array(self.ctx, action, nr, len(cmps),
                                             arr)
        return rc == 0

    def load(self):
        if self.lib.seccomp_load(self.ctx) != 0:
            die("seccomp_load")
        self.lib.seccomp_release(self.ctx)


def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"],
                         capture_output=True, text=True, check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if not line.startswith(" ") and s.startswith("@"):
            cur = s
            groups[cur] = []
        elif cur and line.startswith(" "):
            groups[cur].append(s)
    return groups


def expand(groups, names):
    out, todo, seen = set(), list(names), set()
    while todo:
        n = todo.pop()
        if n.startswith("@"):
            if n not in seen:
                seen.add(n)
                if n not in groups:
                    die("unknown system call group %s" % n)
                todo.extend(groups[n])
        else:
            out.add(n)
    return out


def allowed_syscalls(props):
    groups = syscall_groups()
    allow = None
    for line in props.get("SystemCallFilter", []):
        deny = line.startswith("~")
        names = line.lstrip("~").split()
        if allow is None:
            if deny:
                die("a deny-list SystemCallFilter is not emulated")
            allow = set()
        if deny:
            allow -= expand(groups, names)
        else:
            allow |= expand(groups, names)
    if yes(props, "ProtectClock"):
        allow -= expand(groups, ["@clock"])
    if yes(props, "ProtectKernelLogs"):
        allow.discard("syslog")
    if yes(props, "ProtectKernelModules"):
        allow -= expand(groups, ["@module"])
    return allow


def load_seccomp(props):
    lib = seccomp_lib()
    filters = []
    fams = props.get("RestrictAddressFamilies")
    if fams:
        names = fams[-1].split()
        nums = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16,
                "AF_PACKET": 17}
        ok = {nums[n] for n in names}
        f = Filter(lib, ACT_ALLOW)
        for fam in range(AF_MAX):
            if fam not in ok:
                f.rule(act_errno(errno.EAFNOSUPPORT), "socket",
                       (0, CMP_EQ, fam, 0))
        f.rule(act_errno(errno.EAFNOSUPPORT), "socket", (0, CMP_GE, AF_MAX, 0))
        filters.append(f)
    f = Filter(lib, ACT_ALLOW)
    if yes(props, "MemoryDenyWriteExecute"):
        wx = PROT_WRITE | PROT_EXEC
        f.rule(act_errno(errno.EPERM), "mmap", (2, CMP_MASKED_EQ, wx, wx))
        for s in ("mprotect", "pkey_mprotect"):
            f.rule(act_errno(errno.EPERM), s,
                   (2, CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        f.rule(act_errno(errno.EPERM), "shmat",
               (2, CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
    if yes(props, "RestrictNamespaces"):
        f.rule(act_errno(errno.EPERM), "setns")
        for bit in NS_FLAGS:
            f.rule(act_errno(errno.EPERM), "unshare",
                   (0, CMP_MASKED_EQ, bit, bit))
            f.rule(act_errno(errno.EPERM), "clone",
                   (0, CMP_MASKED_EQ, bit, bit))
        f.rule(act_errno(errno.ENOSYS), "clone3")
    if yes(props, "LockPersonality"):
        f.rule(act_errno(errno.EPERM), "personality",
               (0, CMP_NE, 0xffffffff, 0))
    if yes(props, "RestrictRealtime"):
        # As systemd: the realtime policies (FIFO, RR, DEADLINE), with or
        # without SCHED_RESET_ON_FORK.
        for pol in (1, 2, 6):
            for flag in (0, 0x40000000):
                f.rule(act_errno(errno.EPERM), "sched_setscheduler",
                       (1, CMP_EQ, pol | flag, 0))
    if yes(props, "RestrictSUIDSGID"):
        for s, arg in (("chmod", 1), ("fchmod", 1), ("fchmodat", 2)):
            for bit in (S_ISUID, S_ISGID):
                f.rule(act_errno(errno.EPERM), s,
                       (arg, CMP_MASKED_EQ, bit, bit))
    filters.append(f)
    # The allow list goes last: loading a filter is itself a system call.
    allow = allowed_syscalls(props) if "SystemCallFilter" in props else None
    if allow is not None:
        f = Filter(lib, ACT_KILL_PROCESS)
        n = sum(f.rule(ACT_ALLOW, s) for s in sorted(allow))
        if n < 100:
            die("only %d system calls resolved" % n)
        filters.append(f)
    for f in filters:
        f.load()


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        die("usage: unitsandbox.py UNIT RWDIR[:RWDIR...] -- PROGRAM ARGS")
    unit, argv = sys.argv[1], sys.argv[4:]
    rwdirs = [os.path.realpath(d) for d in sys.argv[2].split(":")]
    rwdir = rwdirs[0]
    props = parse_unit(unit)
    unknown = set(props) - HANDLED - NOT_EMULATED - IGNORED
    if unknown:
        die("%s: restrictions this sandbox cannot apply: %s" %
            (unit, ", ".join(sorted(unknown))))
    skipped = sorted(set(props) & NOT_EMULATED)
    if skipped:
        sys.stderr.write("unitsandbox: not emulated: %s\n" %
                         ", ".join(skipped))
    env = dict(os.environ)
    for line in props.get("Environment", []):
        for kv in re.findall(r'(?:[^\s"]|"[^"]*")+', line):
            k, _, v = kv.strip('"').partition("=")
            env[k] = rwdir if k == "CASESYNC_DIR" else v
    if os.geteuid() != 0:
        die("needs root")
    last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())
    setup_mounts(props, rwdirs)
    drop_credentials(props, last_cap)
    load_seccomp(props)
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    main()
