"""The PostgreSQL 15 half of the bench: the same scenarios on logical
replication between throwaway clusters on loopback.

A "province" cluster publishes table cases(id uuid primary key, doc jsonb)
holding the same case documents casesync imports; a "central" cluster
subscribes.  Clusters live in the bench's temporary folder, run as an
unprivileged user (initdb refuses root) and are stopped with
`pg_ctl stop -m immediate` by the bench's cleanup, whatever happens.
"""
import csv
import json
import os
import pwd
import shutil
import subprocess
import time

PG_BINS = ["/usr/lib/postgresql/15/bin"]
MARKER = "00000000-0000-4000-8000-000000000000"


def find_bin():
    for d in PG_BINS:
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


def ensure_installed(log):
    """Returns the bin folder of PostgreSQL 15, installing Debian's
    postgresql package when missing and root.  None (with the reason
    logged) when it cannot."""
    d = find_bin()
    if d:
        return d
    if os.geteuid() != 0:
        log("PostgreSQL 15 is not installed and this is not root: skipping "
            "the PostgreSQL half (as root: apt-get install postgresql)")
        return None
    log("installing PostgreSQL 15 (apt-get install postgresql) ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "install", "-y", "-q", "postgresql"],
                ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "postgresql"]):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if cmd[1] == "install" and r.returncode == 0 and find_bin():
            return find_bin()
    log("could not install PostgreSQL 15: skipping the PostgreSQL half")
    return None


def pg_user():
    """The unprivileged user clusters run as (None: ourselves)."""
    if os.geteuid() != 0:
        return None
    for u in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(u)
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user (postgres, nobody) to run "
                       "PostgreSQL as")


class Cluster:
    def __init__(self, reg, bindir, base, name, port, extra_conf):
        self.reg = reg
        self.bin = bindir
        self.dir = os.path.join(base, name)
        self.port = port
        self.user = pg_user()
        self.started = False
        os.makedirs(self.dir, mode=0o700)
        if self.user:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self._run(["initdb", "-D", self.dir, "-A", "trust", "-U",
                   "postgres", "--no-sync", "-E", "UTF8", "--locale=C",
                   "--no-instructions"])
        conf = {"listen_addresses": "'127.0.0.1'", "port": str(port),
                "unix_socket_directories": "''",
                "log_min_messages": "warning",
                "logging_collector": "off"}
        conf.update(extra_conf)
        with open(os.path.join(self.dir, "postgresql.conf"), "a") as f:
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))
        reg.clusters.append(self)

    def _wrap(self, argv):
        argv = [os.path.join(self.bin, argv[0])] + argv[1:]
        if self.user:
            return ["runuser", "-u", self.user.pw_name, "--"] + argv
        return argv

    def _run(self, argv):
        r = subprocess.run(self._wrap(argv), capture_output=True, text=True,
                           cwd="/")
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (argv[0], r.stderr.strip()
                                                 or r.stdout.strip()))
        return r

    def start(self):
        self._run(["pg_ctl", "-D", self.dir, "-l",
                   os.path.join(self.dir, "server.log"), "-w", "-t", "60",
                   "start"])
        self.started = True

    def stop(self):
        if not self.started:
            return
        self.started = False
        r = subprocess.run(self._wrap(["pg_ctl", "-D", self.dir, "-m",
                                       "immediate", "-w", "stop"]),
                           capture_output=True, text=True, cwd="/")
        if r.returncode != 0:
            # Last resort: the postmaster's pid from its pid file.
            try:
                pid = int(open(os.path.join(self.dir,
                                            "postmaster.pid")).readline())
                os.kill(pid, 9)
            except (OSError, ValueError):
                pass

    def conninfo(self):
        return "host=127.0.0.1 port=%d user=postgres dbname=postgres" % \
            self.port

    def session(self):
        return Session(self.reg, self.port)

    def psql_file(self, path):
        r = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-h",
                            "127.0.0.1", "-p", str(self.port), "-U",
                            "postgres", "-d", "postgres", "-f", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql -f %s: %s" % (path, r.stderr.strip()))


class Session:
    """One long-lived psql connection: queries without a process start
    each (so that polling costs the server little)."""

    END = "__bench_end__"

    def __init__(self, reg, port):
        self.p = reg.popen(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-h",
                            "127.0.0.1", "-p", str(port), "-U", "postgres",
                            "-d", "postgres"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, bufsize=1)
        self.reg = reg

    def q(self, sql):
        """Runs sql; returns the output lines."""
        self.p.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " +
                           self.END + "\n")
        self.p.stdin.flush()
        out = []
        while True:
            line = self.p.stdout.readline()
            if line == "":
                raise RuntimeError("psql: %s" % self.p.stderr.read().strip())
            line = line.rstrip("\n")
            if line == self.END:
                return out
            out.append(line)

    def one(self, sql):
        r = self.q(sql)
        return r[0] if r else None

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(10)
        except Exception:
            self.p.kill()
        self.reg.forget(self.p)


# ---- data ----------------------------------------------------------------------

def write_csv(jsonl_paths, out_path):
    """The case documents as CSV (id, doc) for COPY: each JSON line as
    generated (the id is also inside the document, as in casesync)."""
    n = 0
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f)
        for p in jsonl_paths:
            with open(p, encoding="utf-8") as src:
                for line in src:
                    d = json.loads(line)
                    w.writerow([d["id"], line.strip()])
                    n += 1
    os.chmod(out_path, 0o644)
    return n


def write_updates_sql(changes, path, batch=1000):
    """The same changes as the casesync update fixtures: (id, status,
    service) -> an UPDATE per change, in transactions of `batch` changes
    (as `casesync import` commits), then the marker row's counter."""
    with open(path, "w") as f:
        for i, (cid, status, svc) in enumerate(changes):
            if i % batch == 0:
                if i:
                    f.write("COMMIT;\n")
                f.write("BEGIN;\n")
            f.write("UPDATE cases SET doc = jsonb_set(doc || %s, "
                    "'{services}', coalesce(doc->'services', '[]') || %s) "
                    "WHERE id = '%s';\n" % (
                        lit(json.dumps({"status": status})),
                        lit(json.dumps([svc])), cid))
        if changes:
            f.write("COMMIT;\n")
        f.write("UPDATE cases SET doc = jsonb_build_object('n', "
                "(doc->>'n')::int + 1) WHERE id = '%s';\n" % MARKER)
    os.chmod(path, 0o644)


def lit(s):
    return "'" + s.replace("'", "''") + "'::jsonb"


SCHEMA = "CREATE TABLE cases (id uuid PRIMARY KEY, doc jsonb NOT NULL)"


# ---- scenarios -----------------------------------------------------------------

class PG:
    """Publisher(s) and subscriber for one bench run."""

    def __init__(self, reg, bindir, base, free_port, log):
        self.reg = reg
        self.bin = bindir
        self.base = os.path.join(base, "pg")
        os.makedirs(self.base)
        os.chmod(self.base, 0o755)
        u = pg_user()
        if u:
            os.chown(self.base, u.pw_uid, u.pw_gid)
        self.free_port = free_port
        self.log = log
        self.nsub = 0
        self.woke = {}          # subscriber dir -> when its launcher last ran

    def cluster(self, name, conf):
        c = Cluster(self.reg, self.bin, self.base, name, self.free_port(),
                    conf)
        c.start()
        return c

    def publisher(self, name, csv_path, shared_buffers="128MB"):
        c = self.cluster(name, {"wal_level": "logical",
                                "max_wal_senders": "10",
                                "max_replication_slots": "10",
                                "shared_buffers": shared_buffers,
                                "max_connections": "30"})
        s = c.session()
        s.q(SCHEMA)
        s.q("\\copy cases FROM '%s' WITH (FORMAT csv)" % csv_path)
        s.q("CREATE PUBLICATION pub FOR TABLE cases")
        s.q("CHECKPOINT")
        s.close()
        return c

    def subscriber(self, name, nsubs):
        c = self.cluster(name, {
            "max_logical_replication_workers": str(2 * nsubs + 4),
            "max_worker_processes": str(2 * nsubs + 8),
            "max_replication_slots": str(nsubs + 4),
            "max_sync_workers_per_subscription": "2",
            "shared_buffers": "128MB", "max_connections": "60"})
        s = c.session()
        s.q(SCHEMA)
        s.close()
        return c

    def subname(self):
        self.nsub += 1
        return "sub%d" % self.nsub

    def initial(self, pub, sub, nrows, timeout=3600):
        """Seconds from CREATE SUBSCRIPTION (copy_data) until the
        subscriber's row count equals nrows.  Leaves the subscription in
        place (its name is returned too)."""
        s = sub.session()
        s.q("TRUNCATE cases")
        self.settle(pub, sub)
        self.quiet_launcher(sub)
        name = self.subname()
        t0 = time.monotonic()
        s.q("CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION pub WITH "
            "(copy_data = true)" % (name, pub.conninfo()))
        self._wait_rows(s, [name], nrows, t0 + timeout)
        dt = time.monotonic() - t0
        s.close()
        return dt, name

    def quiet_launcher(self, sub):
        """PostgreSQL's launcher starts workers at most once per
        wal_retrieve_retry_interval (5 s by default), counted from its last
        start attempt, which dropping or disabling a subscription triggers.
        Waits that long since the bench last did so on sub, so that a
        timed run does not pay for the bench's previous step."""
        t = self.woke.get(sub.dir)
        if t is None:
            return
        s = sub.session()
        v = s.one("SELECT setting FROM pg_settings WHERE name = "
                  "'wal_retrieve_retry_interval'")
        s.close()
        left = t + int(v) / 1000.0 + 0.5 - time.monotonic()
        if left > 0:
            time.sleep(left)

    def settle(self, *clusters):
        """A checkpoint on each cluster before the clock starts, so that a
        repetition does not pay for writing back the one before it (as
        the casesync copies are fsync'ed first)."""
        for c in clusters:
            s = c.session()
            s.q("CHECKPOINT")
            s.close()

    def _wait_rows(self, s, names, nrows, deadline):
        states = ",".join("'%s'" % n for n in names)
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL initial copy did not finish")
            # Cheap first: has every table copy committed?
            busy = s.one("SELECT count(*) FROM pg_subscription_rel r JOIN "
                         "pg_subscription s ON s.oid = r.srsubid WHERE "
                         "s.subname IN (%s) AND r.srsubstate IN ('i', 'd')"
                         % states)
            if busy == "0" and int(s.one("SELECT count(*) FROM cases")) >= \
                    nrows:
                return
            time.sleep(0.02)

    def drop(self, sub, name):
        s = sub.session()
        s.q("DROP SUBSCRIPTION %s" % name)
        s.close()
        self.woke[sub.dir] = time.monotonic()

    def add_marker(self, pub, sub):
        """A row whose counter the update scripts bump last: when the
        subscriber shows the new value, every change before it is
        applied (apply is in commit order)."""
        s = pub.session()
        s.q("INSERT INTO cases VALUES ('%s', '{\"n\": 0}') ON CONFLICT (id) "
            "DO UPDATE SET doc = '{\"n\": 0}'" % MARKER)
        s.close()
        s = sub.session()
        deadline = time.monotonic() + 120
        while s.one("SELECT doc->>'n' FROM cases WHERE id = '%s'" %
                    MARKER) != "0":
            if time.monotonic() > deadline:
                raise RuntimeError("marker row did not replicate")
            time.sleep(0.02)
        s.close()

    def catchup(self, pub, sub, name, sql_path, timeout=3600):
        """Disables the subscription, applies the changes in sql_path on
        the publisher, enables it again.  Returns (whole, apply): seconds
        from ENABLE until the subscriber shows the marker bump, and from
        the moment its apply worker is running."""
        s = sub.session()
        m = s.one("SELECT doc->>'n' FROM cases WHERE id = '%s'" % MARKER)
        want = str(int(m) + 1)
        s.q("ALTER SUBSCRIPTION %s DISABLE" % name)
        deadline = time.monotonic() + 60
        while s.one("SELECT count(*) FROM pg_stat_subscription WHERE "
                    "subname = '%s' AND pid IS NOT NULL" % name) != "0":
            if time.monotonic() > deadline:
                raise RuntimeError("apply worker did not stop")
            time.sleep(0.02)
        self.woke[sub.dir] = time.monotonic()
        pub.psql_file(sql_path)
        self.settle(pub, sub)
        self.quiet_launcher(sub)
        t0 = time.monotonic()
        s.q("ALTER SUBSCRIPTION %s ENABLE" % name)
        t_apply = None
        deadline = t0 + timeout
        while True:
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError("PostgreSQL catch-up did not finish")
            if t_apply is None and s.one(
                    "SELECT count(*) FROM pg_stat_subscription WHERE "
                    "subname = '%s' AND pid IS NOT NULL" % name) != "0":
                t_apply = time.monotonic()
            if s.one("SELECT doc->>'n' FROM cases WHERE id = '%s'" %
                     MARKER) == want:
                t1 = time.monotonic()
                break
            time.sleep(0.005)
        s.close()
        return t1 - t0, t1 - (t_apply if t_apply is not None else t0)

    def fanin(self, pubs, sub, nrows, timeout=3600):
        """All subscriptions (copy_data) enabled in one transaction;
        seconds until the subscriber holds nrows rows.  Subscriptions are
        created disabled first, so that slot creation (sequential, one
        connection each) is not timed."""
        s = sub.session()
        s.q("TRUNCATE cases")
        names = []
        for p in pubs:
            n = self.subname()
            s.q("CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION pub "
                "WITH (copy_data = true, enabled = false)" % (n,
                                                               p.conninfo()))
            names.append(n)
        self.settle(sub, *pubs)
        self.quiet_launcher(sub)
        t0 = time.monotonic()
        s.q("BEGIN; " + " ".join("ALTER SUBSCRIPTION %s ENABLE;" % n
                                 for n in names) + " COMMIT")
        self._wait_rows(s, names, nrows, t0 + timeout)
        dt = time.monotonic() - t0
        for n in names:
            s.q("DROP SUBSCRIPTION %s" % n)
        s.close()
        self.woke[sub.dir] = time.monotonic()
        return dt

    def cleanup_dir(self):
        shutil.rmtree(self.base, ignore_errors=True)
