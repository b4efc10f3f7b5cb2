#!/usr/bin/env python3
"""bench/scaleout.sh's writers and checker (needs pymysql).

write: N threads insert and update rows of sbtest.ledger (sharded by id) through the
  gateway, one autocommit statement at a time, until the stop file appears; every
  acknowledged write is appended to the ledger file as
  `<unix time> <I|U> <id> <value> <latency ms>`; an error is `<time> E <id> <value>
  <latency> <code>` (the statement did not happen), a lost connection `A` (it may have).
  An UPDATE of a row the writer inserted that matches no row is `M` (a lost row).

check: reads the ledger file, the shard map (JSON from etcd) and every set's primary
  directly, and prints rows lost / duplicated / wrong / orphaned for the ledger table,
  and per-slot counts and checksums of sbtest.sbtest1 on the owners vs through the
  gateway; `--window START END` adds the writers' longest latency inside the move.
"""

import argparse
import json
import os
import random
import sys
import threading
import time
import zlib

import pymysql


def connect(port, user, password, db=None):
    return pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                           database=db, autocommit=True, connect_timeout=5,
                           read_timeout=120, write_timeout=120)


def write(args):
    lock = threading.Lock()
    out = open(args.ledger, "a", buffering=1)
    stop = threading.Event()

    def log(line):
        with lock:
            out.write(line + "\n")

    def worker(tid):
        rnd = random.Random(tid)
        conn = None
        own = []
        seq = 0
        while not stop.is_set():
            if conn is None:
                try:
                    conn = connect(args.port, "app", "app", "sbtest")
                except pymysql.MySQLError:
                    time.sleep(0.2)
                    continue
            v = rnd.randrange(1, 1 << 40)
            if not own or rnd.random() < 0.4:
                op, key = "I", tid * 10**9 + seq
                seq += 1
                sql = "INSERT INTO ledger (id, v, w) VALUES (%s, %s, %s)"
                params = (key, v, tid)
            else:
                op, key = "U", rnd.choice(own)
                sql = "UPDATE ledger SET v = %s WHERE id = %s"
                params = (v, key)
            t0 = time.time()
            try:
                with conn.cursor() as cur:
                    n = cur.execute(sql, params)
                t1 = time.time()
                lat = (t1 - t0) * 1000
                if op == "U" and n != 1:
                    log(f"{t1:.3f} M {key} {v} {lat:.1f}")
                    continue
                if op == "I":
                    own.append(key)
                log(f"{t1:.3f} {op} {key} {v} {lat:.1f}")
            except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as e:
                t1 = time.time()
                code = e.args[0] if e.args else 0
                lost = code in (2006, 2013, 2014, 0) or not conn.open
                if lost:
                    log(f"{t1:.3f} A {key} {v} {(t1 - t0) * 1000:.1f} {code}")
                    if op == "I":
                        own.append(key)  # it may exist: later updates tell
                    try:
                        conn.close()
                    except Exception:
                        pass
                    conn = None
                else:
                    log(f"{t1:.3f} E {key} {v} {(t1 - t0) * 1000:.1f} {code}")
            except pymysql.MySQLError as e:
                t1 = time.time()
                code = e.args[0] if e.args else 0
                log(f"{t1:.3f} E {key} {v} {(t1 - t0) * 1000:.1f} {code}")

    threads = [threading.Thread(target=worker, args=(i + 1,), daemon=True)
               for i in range(args.threads)]
    for t in threads:
        t.start()
    while not os.path.exists(args.stop_file):
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(timeout=150)
    out.close()


def rows_of(port, user, password, sql):
    """Rows of `sql` on one set's primary; none when the set has no sbtest yet."""
    c = connect(port, user, password)
    try:
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    except pymysql.err.ProgrammingError as e:
        if e.args and e.args[0] in (1049, 1146):  # unknown database / table
            return ()
        raise
    finally:
        c.close()


def read_ledger(path):
    """Expected value per id, ids whose state is uncertain, and the writes."""
    expect, uncertain, writes, missing, errors = {}, set(), [], 0, {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 5:
                continue
            t, op, key, v, lat = float(p[0]), p[1], int(p[2]), int(p[3]), float(p[4])
            if op in ("I", "U"):
                expect[key] = v
                writes.append((t, lat))
                # An acknowledged write settles an id made uncertain by a lost connection
                # only for the value; it stays uncertain for "was it there at all".
            elif op == "A":
                uncertain.add(key)
            elif op == "M":
                missing += 1
            elif op == "E":
                errors[p[5] if len(p) > 5 else "?"] = errors.get(p[5] if len(p) > 5 else "?", 0) + 1
    return expect, uncertain, writes, missing, errors


def check(args):
    dbrec = json.loads(args.map_json)
    m = dbrec["shard_map"]
    slots = m["slots"]
    owner = [None] * slots
    for r in m["ranges"]:
        for s in range(r["start"], r["end"]):
            owner[s] = r["set"]
    sets = dict(x.split("=") for x in args.sets.split(","))
    slot_of = lambda key: zlib.crc32(str(key).encode()) % slots  # noqa: E731

    expect, uncertain, writes, missing, errors = read_ledger(args.ledger)
    found, dup, orphan = {}, 0, 0
    for name, port in sets.items():
        for key, v in rows_of(int(port), args.user, args.password, "SELECT id, v FROM sbtest.ledger"):
            if owner[slot_of(key)] != name:
                orphan += 1
                continue
            if key in found:
                dup += 1
            found[key] = v
    lost = [k for k in expect if k not in found and k not in uncertain]
    wrong = [k for k in expect if k in found and found[k] != expect[k] and k not in uncertain]
    extra = [k for k in found if k not in expect and k not in uncertain]
    print(f"ledger: {len(expect)} ids written and acknowledged ({len(writes)} writes), "
          f"lost {len(lost)}, duplicated {dup}, wrong value {len(wrong)}, unexpected {len(extra)}, "
          f"orphan rows {orphan}, updates that found no row {missing}, "
          f"uncertain (connection lost) {len(uncertain)}, errors {errors or 0}")

    # sbtest1: per-slot counts and checksums on the owners vs through the gateway.
    q = ("SELECT CRC32(id) %% %d AS s, COUNT(*), BIT_XOR(CRC32(CONCAT_WS('#', id, k, c, pad))) "
         "FROM sbtest1 GROUP BY s" % slots)
    owners, sb_orphans, sb_dups = {}, 0, 0
    for name, port in sets.items():
        for s, n, x in rows_of(int(port), args.user, args.password, q.replace("sbtest1", "sbtest.sbtest1")):
            if owner[s] != name:
                sb_orphans += n
                continue
            if s in owners:
                sb_dups += n
            owners[s] = (n, x)
    g = connect(args.gateway_port, "app", "app", "sbtest")
    with g.cursor() as cur:
        cur.execute(q)
        via = {s: (n, x) for s, n, x in cur.fetchall()}
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM sbtest1")
        total, distinct = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM ledger")
        (ledger_via,) = cur.fetchone()
    g.close()
    diffs = sorted(s for s in set(owners) | set(via) if owners.get(s) != via.get(s))
    differ = len(diffs)
    for s in diffs[:3]:
        print(f"  slot {s}: owner {owner[s]} has {owners.get(s)}, the gateway says {via.get(s)}")
    owned_rows = sum(n for n, _ in owners.values())
    print(f"sbtest1: {owned_rows} rows on their owners (prepared {args.rows}), "
          f"{total} through the gateway ({distinct} distinct ids), rows on sets not owning "
          f"their slot {sb_orphans}, slots on two sets {sb_dups}, slots whose count or "
          f"checksum differs owners vs gateway {differ} of {len(owners)}")
    print(f"ledger through the gateway: {ledger_via} rows (owners hold {len(found)})")

    if args.window:
        a, b = args.window
        during = [lat for t, lat in writes if a <= t <= b + 1]
        print(f"writers: longest acknowledged write {max((l for _, l in writes), default=0):.0f} ms "
              f"overall, {max(during, default=0):.0f} ms during the move ({len(during)} writes)")
    bad = len(lost) + dup + len(wrong) + len(extra) + orphan + missing + sb_orphans + sb_dups + differ
    bad += 0 if total == args.rows == distinct else 1
    print("RESULT: " + ("OK: 0 lost, 0 duplicated" if bad == 0 else "PROBLEMS (see above)"))
    return 0 if bad == 0 else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--threads", type=int, default=4)
    w.add_argument("--ledger", required=True)
    w.add_argument("--stop-file", required=True)
    c = sub.add_parser("check")
    c.add_argument("--ledger", required=True)
    c.add_argument("--map-json", required=True)
    c.add_argument("--sets", required=True, help="set1=PORT,set2=PORT,...")
    c.add_argument("--gateway-port", type=int, required=True)
    c.add_argument("--rows", type=int, required=True)
    c.add_argument("--user", default="setwise")
    c.add_argument("--password", default="setwise")
    c.add_argument("--window", type=float, nargs=2)
    a = ap.parse_args()
    if a.cmd == "write":
        write(a)
        return 0
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
