#!/usr/bin/env python3
"""Fault exploration against a local cluster (deploy/local/up.sh) with replicas.

N sessions run transactions through the gateway that write both sets: an INSERT of a unique
client-made value, and a move of 1 between two accounts on different sets (the sum of balances
is invariant). While they run, one fault is injected (kill -9 / SIGSTOP of one of the cluster's
own processes, found by its pid file in $SETWISE_HOME/pids), the process is restarted with its
own command line, and afterwards the script checks:
  - every acknowledged row is present exactly once (read from every primary directly), no row
    of a transaction that failed before its COMMIT is present;
  - every account's balance is what the present rows say (atomicity) and the sum holds;
  - no XA transaction is left prepared (XA RECOVER on every node);
  - each session's error codes and longest stall;
  - how long until `setwise --json status` shows every set whole again.

  bench/faultload.py setup
  bench/faultload.py run --fault kill-primary --set set1 [--secs 40] [--at 8] [--sessions 6]
Faults: none kill-primary stop-primary kill-replica kill-gateway kill-etcd kill-scheduler
        kill-agent kill-primary-twice
Environment: the deploy/local variables (SETWISE_HOME, SETWISE_ETCD_PORT, SETWISE_PROXY_PORT,
SETWISE_BIN_DIR).
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pymysql

HOME = os.environ.get("SETWISE_HOME", "/tmp/setwise")
ETCD = "http://127.0.0.1:%s" % os.environ.get("SETWISE_ETCD_PORT", "2379")
GW_PORT = int(os.environ.get("SETWISE_PROXY_PORT", "3306"))
BIN = os.environ.get("SETWISE_BIN_DIR", "target/debug")
ACCOUNTS = 16
START_BAL = 1000


def log(msg):
    print("[%7.2f] %s" % (time.time() - T0, msg), flush=True)


T0 = time.time()


def gw(db="fl", **kw):
    return pymysql.connect(host="127.0.0.1", port=GW_PORT, user="app", password="app",
                           database=db, connect_timeout=10, read_timeout=90,
                           write_timeout=90, autocommit=True, **kw)


def node_conn(addr, db=None):
    host, port = addr.split(":")
    return pymysql.connect(host=host, port=int(port), user="root", password="", database=db,
                           connect_timeout=5, read_timeout=30, autocommit=True)


def status():
    out = subprocess.run([os.path.join(BIN, "setwise"), "--etcd", ETCD, "--json", "status"],
                         capture_output=True, text=True, timeout=20)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return json.loads(out.stdout)


def whole(st, replicas=2):
    """Why the cluster is not whole yet ('' when it is)."""
    if not st.get("leader"):
        return "no scheduler leader"
    if st.get("in_progress"):
        return "failover in progress"
    for s in st["sets"]:
        if s.get("writes_blocked"):
            return "%s writes blocked" % s["name"]
        if not s["redundancy"]["whole"] or len(s["replicas"]) != replicas:
            return "%s: %s" % (s["name"], s["redundancy"]["text"])
        for n in s["nodes"]:
            h = n.get("health")
            if not h or h.get("age_ms", 10**9) > 3000:
                return "%s: no fresh health" % n["id"]
            if n["role"] == "primary" and not h.get("writable"):
                return "%s: primary not writable" % n["id"]
            if n["role"] == "replica" and not (h.get("slave_io_running") and h.get("slave_sql_running")):
                return "%s: replica not replicating" % n["id"]
    return ""


def primaries(st):
    out = {}
    for s in st["sets"]:
        for n in s["nodes"]:
            if n["id"] == s["primary"]:
                out[s["name"]] = n["addr"]
    return out


def all_nodes(st):
    return [(s["name"], n["id"], n["addr"]) for s in st["sets"] for n in s["nodes"]]


# ------------------------------------------------------------------ setup


def setup(_args):
    c = gw(db=None)
    cur = c.cursor()
    cur.execute("CREATE DATABASE IF NOT EXISTS fl")
    cur.execute("USE fl")
    cur.execute("DROP TABLE IF EXISTS acct")
    cur.execute("DROP TABLE IF EXISTS ev")
    cur.execute("CREATE TABLE acct (id INT PRIMARY KEY, bal BIGINT NOT NULL) shardkey=id")
    cur.execute("CREATE TABLE ev (u VARCHAR(64) PRIMARY KEY, src INT, dst INT, sess INT) shardkey=u")
    # Wait until the DDL is on every set (the scheduler applies it).
    deadline = time.time() + 60
    while True:
        try:
            cur.execute("INSERT INTO acct VALUES " + ",".join(
                "(%d,%d)" % (i, START_BAL) for i in range(1, ACCOUNTS + 1)))
            break
        except pymysql.MySQLError as e:
            if time.time() > deadline:
                raise
            log("waiting for the tables: %s" % (e,))
            time.sleep(0.5)
    where = {}
    for name, addr in primaries(status()).items():
        n = node_conn(addr, "fl")
        nc = n.cursor()
        nc.execute("SELECT id FROM acct")
        for (i,) in nc.fetchall():
            where[i] = name
    with open(os.path.join(HOME, "fl-accounts.json"), "w") as f:
        json.dump(where, f)
    log("accounts by set: %s" % where)


# ------------------------------------------------------------------ load


class Session(threading.Thread):
    def __init__(self, sid, deadline, pairs):
        super().__init__(daemon=True)
        self.sid = sid
        self.deadline = deadline
        self.pairs = pairs
        self.acked = []
        self.unknown = []
        self.aborted = []
        self.errors = {}
        self.max_op = (0.0, "")
        self.max_gap = 0.0
        self.hangs = 0
        self.conn = None

    def op(self, what, fn):
        t = time.time()
        res = "ok"
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            res = str(e)[:100]
            raise
        finally:
            d = time.time() - t
            if d > 2:
                log("session %d: %s from %.1f took %.1fs: %s" % (self.sid, what, t - T0, d, res))
            if d > self.max_op[0]:
                self.max_op = (d, "%s at %.1f" % (what, t - T0))

    def err(self, e, stage):
        code = e.args[0] if e.args and isinstance(e.args[0], int) else type(e).__name__
        key = "%s@%s" % (code, stage)
        if key not in self.errors:
            self.errors[key] = [0, str(e)[:160]]
        self.errors[key][0] += 1
        if "timed out" in str(e):
            self.hangs += 1

    def run(self):
        i = 0
        last_ack = time.time()
        rnd = random.Random(self.sid)
        while time.time() < self.deadline:
            if self.conn is None:
                try:
                    self.conn = self.op("connect", gw)
                except Exception as e:  # noqa: BLE001
                    self.err(e, "connect")
                    time.sleep(0.2)
                    continue
            i += 1
            u = "r%d-s%d-%d" % (int(T0), self.sid, i)
            a, b = rnd.choice(self.pairs)
            if rnd.random() < 0.5:
                a, b = b, a
            cur = self.conn.cursor()
            stage = "begin"
            try:
                self.op("begin", lambda: cur.execute("BEGIN"))
                stage = "insert"
                self.op("insert", lambda: cur.execute(
                    "INSERT INTO ev VALUES (%s,%s,%s,%s)", (u, a, b, self.sid)))
                stage = "update"
                # Lock the accounts in id order: a cycle across sets is no deadlock MariaDB
                # sees (it ends in the 50 s lock wait timeout), so the load avoids it.
                for acc, delta in sorted([(a, -1), (b, 1)]):
                    self.op("update", lambda: cur.execute(
                        "UPDATE acct SET bal = bal + %s WHERE id = %s", (delta, acc)))
                stage = "commit"
                self.op("commit", lambda: cur.execute("COMMIT"))
                self.acked.append(u)
                now = time.time()
                self.max_gap = max(self.max_gap, now - last_ack)
                last_ack = now
            except Exception as e:  # noqa: BLE001
                self.err(e, stage)
                (self.unknown if stage == "commit" else self.aborted).append(u)
                lost = isinstance(e, pymysql.err.OperationalError) and e.args and e.args[0] in (2006, 2013, 2003, 2014)
                if not lost:
                    try:
                        self.op("rollback", lambda: cur.execute("ROLLBACK"))
                    except Exception as e2:  # noqa: BLE001
                        self.err(e2, "rollback")
                        lost = True
                if lost or not isinstance(e, pymysql.MySQLError):
                    try:
                        self.conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                    self.conn = None
                time.sleep(0.05)
        self.max_gap = max(self.max_gap, time.time() - last_ack)


# ------------------------------------------------------------------ faults


def pid_of(name):
    with open(os.path.join(HOME, "pids", name + ".pid")) as f:
        return int(f.read().strip())


def argv_of(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        # (Empty arguments stay: e.g. `--metrics-listen ""`.)
        data = f.read()
    return [a.decode() for a in data[:-1].split(b"\0")]


def restart(name, argv):
    logf = open(os.path.join(HOME, "logs", name + ".log"), "a")
    logf.write("\n==== faultload restart: %s\n" % " ".join(argv))
    logf.flush()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                         start_new_session=True)
    with open(os.path.join(HOME, "pids", name + ".pid"), "w") as f:
        f.write("%d\n" % p.pid)
    log("restarted %s as pid %d" % (name, p.pid))
    return p


def kill9(name):
    pid = pid_of(name)
    argv = argv_of(pid)
    os.kill(pid, signal.SIGKILL)
    log("kill -9 %s (pid %d)" % (name, pid))
    # wait until gone (it is our own child only if we restarted it)
    for _ in range(200):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z":
            break
        time.sleep(0.05)
    return argv


def wait_for(desc, pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            r = pred()
            if r:
                return r
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.3)
    log("gave up waiting for %s" % desc)
    return None


def primary_node(set_name):
    st = status()
    return [s for s in st["sets"] if s["name"] == set_name][0]["primary"]


def kill_primary(set_name, restart_after=True):
    old = primary_node(set_name)
    argv = kill9("mariadb-" + old)
    newp = wait_for("a new primary of " + set_name,
                    lambda: (p := primary_node(set_name)) != old and p, 90)
    log("new primary of %s: %s" % (set_name, newp))
    if restart_after:
        restart("mariadb-" + old, argv)
    return old


def fault(args):
    f = args.fault
    if f == "none":
        return
    if f == "kill-primary":
        kill_primary(args.set)
    elif f == "kill-primary-twice":
        kill_primary(args.set)
        wait_for("the cluster whole again", lambda: whole(status()) == "", 150)
        log("whole again; second fault")
        kill_primary(args.set)
    elif f == "stop-primary":
        old = primary_node(args.set)
        pid = pid_of("mariadb-" + old)
        os.kill(pid, signal.SIGSTOP)
        log("SIGSTOP %s (pid %d)" % (old, pid))
        time.sleep(args.hold)
        os.kill(pid, signal.SIGCONT)
        log("SIGCONT %s" % old)
    elif f == "kill-replica":
        st = status()
        s = [s for s in st["sets"] if s["name"] == args.set][0]
        r = s["replicas"][0]
        argv = kill9("mariadb-" + r)
        time.sleep(args.hold)
        restart("mariadb-" + r, argv)
    elif f == "kill-gateway":
        argv = kill9("proxy")
        time.sleep(args.hold)
        restart("proxy", argv)
    elif f == "kill-etcd":
        argv = kill9("etcd")
        time.sleep(args.hold)
        restart("etcd", argv)
    elif f == "kill-scheduler":
        leader = status()["leader"]
        argv = kill9("scheduler-" + leader)
        time.sleep(args.hold)
        restart("scheduler-" + leader, argv)
    elif f == "kill-agent":
        p = primary_node(args.set)
        argv = kill9("agent-" + p)
        time.sleep(args.hold)
        restart("agent-" + p, argv)
    else:
        raise SystemExit("unknown fault " + f)


# ------------------------------------------------------------------ check


def check(sessions, st):
    acked = {u for s in sessions for u in s.acked}
    unknown = {u for s in sessions for u in s.unknown}
    aborted = {u for s in sessions for u in s.aborted}
    rows = {}
    bal = {}
    problems = []
    for name, addr in primaries(st).items():
        c = node_conn(addr, "fl")
        cur = c.cursor()
        cur.execute("SELECT u, src, dst FROM ev")
        for u, src, dst in cur.fetchall():
            rows.setdefault(u, []).append((name, src, dst))
        cur.execute("SELECT id, bal FROM acct")
        for i, b in cur.fetchall():
            if i in bal:
                problems.append("account %d on two sets" % i)
            bal[i] = b
    dup = [u for u, v in rows.items() if len(v) > 1]
    missing = sorted(acked - rows.keys())
    ghost = sorted(aborted & rows.keys())
    stray = sorted(u for u in rows.keys() - acked - unknown - aborted if u.startswith("r%d-" % int(T0)))
    expect = {i: START_BAL for i in range(1, ACCOUNTS + 1)}
    for u, v in rows.items():
        _, src, dst = v[0]
        expect[src] -= 1
        expect[dst] += 1
    wrong = {i: (bal.get(i), expect[i]) for i in expect if bal.get(i) != expect[i]}
    total = sum(bal.values())
    if dup:
        problems.append("duplicated rows: %s" % dup[:5])
    if missing:
        problems.append("%d acknowledged rows missing: %s" % (len(missing), missing[:5]))
    if ghost:
        problems.append("%d rows of failed transactions present: %s" % (len(ghost), ghost[:5]))
    if wrong:
        problems.append("balances disagree with the rows: %s" % wrong)
    if total != ACCOUNTS * START_BAL:
        problems.append("sum %d != %d" % (total, ACCOUNTS * START_BAL))
    for set_name, node, addr in all_nodes(st):
        try:
            c = node_conn(addr)
            cur = c.cursor()
            cur.execute("XA RECOVER")
            xa = cur.fetchall()
            if xa:
                problems.append("%s: %d XA prepared: %s" % (node, len(xa), [x[3] for x in xa][:3]))
        except Exception as e:  # noqa: BLE001
            problems.append("%s: XA RECOVER failed: %s" % (node, e))
    committed_unknown = len(unknown & rows.keys())
    print("rows: acked %d present %d, unknown outcome %d (%d committed), aborted %d, stray %d"
          % (len(acked), len(rows), len(unknown), committed_unknown, len(aborted), len(stray)))
    return problems


def run(args):
    with open(os.path.join(HOME, "fl-accounts.json")) as f:
        where = {int(k): v for k, v in json.load(f).items()}
    s1 = [i for i, s in where.items() if s == "set1"]
    s2 = [i for i, s in where.items() if s == "set2"]
    pairs = [(a, b) for a in s1 for b in s2]
    if not whole(status()) == "":
        raise SystemExit("cluster not whole before the run: " + whole(status()))
    global T0
    T0 = time.time()
    deadline = T0 + args.secs
    sessions = [Session(i, deadline, pairs) for i in range(args.sessions)]
    for s in sessions:
        s.start()
    heal = {"degraded": None, "whole": None, "why": []}

    def monitor():
        while True:
            try:
                why = whole(status())
            except Exception as e:  # noqa: BLE001
                why = "status failed: %s" % str(e)[:80]
            now = time.time() - T0
            if why:
                if heal["degraded"] is None and now >= args.at:
                    heal["degraded"] = now
                if not heal["why"] or heal["why"][-1][1] != why:
                    heal["why"].append((round(now, 1), why))
                heal["whole"] = None
            elif heal["degraded"] is not None and heal["whole"] is None:
                heal["whole"] = now
            if stop_mon.is_set():
                return
            time.sleep(0.5)

    stop_mon = threading.Event()
    mon = threading.Thread(target=monitor, daemon=True)
    mon.start()
    time.sleep(args.at)
    fault_t = time.time() - T0
    fault(args)
    for s in sessions:
        s.join(timeout=args.secs + 200)
        if s.is_alive():
            log("session %d still running: HANG" % s.sid)
    log("load done; waiting for the cluster to be whole")
    wait_for("whole", lambda: whole(status()) == "" and (heal["degraded"] is None or heal["whole"] is not None), args.heal_timeout)
    stop_mon.set()
    mon.join()
    st = status()
    print("fault %s at %.1fs; degraded seen at %s; whole again at %s (%s after the fault)"
          % (args.fault, fault_t, heal["degraded"] and round(heal["degraded"], 1),
             heal["whole"] and round(heal["whole"], 1),
             heal["whole"] and round(heal["whole"] - fault_t, 1)))
    for t, why in heal["why"][:30]:
        print("   %6.1f %s" % (t, why))
    for s in sessions:
        print("session %d: acked %d unknown %d aborted %d, longest op %.2fs (%s), longest gap %.2fs, hangs %d, errors %s"
              % (s.sid, len(s.acked), len(s.unknown), len(s.aborted), s.max_op[0], s.max_op[1],
                 s.max_gap, s.hangs, s.errors))
    problems = check(sessions, st)
    for p in problems:
        print("PROBLEM: " + p)
    print("OK" if not problems else "FAILED")
    return 0 if not problems else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("setup")
    r = sub.add_parser("run")
    r.add_argument("--fault", default="none")
    r.add_argument("--set", default="set1")
    r.add_argument("--secs", type=float, default=40)
    r.add_argument("--at", type=float, default=8)
    r.add_argument("--hold", type=float, default=5, help="seconds before restart / SIGCONT")
    r.add_argument("--sessions", type=int, default=6)
    r.add_argument("--heal-timeout", type=float, default=180)
    args = ap.parse_args()
    if args.cmd == "setup":
        setup(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
