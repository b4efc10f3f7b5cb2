#!/usr/bin/env python3
"""Parameter types of server-side prepared statements, gateway against MariaDB.

Run by tests/tests/differential_prepared_types.rs:
    python3 tests/py/prepared_types.py --gw-port P --gw-user app --gw-password app --ref-port R

mysql-connector-python with prepared=True binds each parameter with its own type
(TINY / SHORT / LONG / LONGLONG by an int's size, unsigned when not negative,
STRING for str and bytes, DECIMAL for Decimal, DOUBLE, DATE, DATETIME, TIME,
NULL). MariaDB types a `?` by that type, so the same statement must answer the
same column definitions (type, length, decimals, flags, character set) and the
same values through the gateway as on one plain MariaDB: point reads on one set,
reads over every set (ORDER BY, aggregates, GROUP BY, LIMIT ?), a broadcast
table, INSERTs of every type (compared as stored), one statement re-executed
with other parameter types, and the column definitions of the prepare answer
(also when the text was executed before).

Prints one line per mismatch and "ALL OK" at the end; exit 0 if all matched,
1 otherwise, 77 if mysql-connector-python is not installed.
"""

import argparse
import datetime
import io
import struct
import sys
from decimal import Decimal as D

try:
    import mysql.connector
    from mysql.connector import utils
    from mysql.connector.protocol import MySQLProtocol
except ImportError as e:
    print(f"SKIP: python module mysql.connector (mysql-connector-python) is missing ({e})")
    sys.exit(77)


def parse_column(packet, encoding="utf-8"):
    """The whole column definition (the stock parser drops length and decimals)."""
    packet, _ = utils.read_lc_string(packet[4:])
    packet, _ = utils.read_lc_string(packet)
    packet, _ = utils.read_lc_string(packet)
    packet, _ = utils.read_lc_string(packet)
    packet, name = utils.read_lc_string(packet)
    packet, _ = utils.read_lc_string(packet)
    charset, length, column_type, flags, decimals = struct.unpack("<xHIBHBxx", packet)
    return (name.decode(encoding), column_type, length, None, None, decimals,
            ~flags & 1, flags, charset)


MySQLProtocol.parse_column = staticmethod(parse_column)

DB = "ptdb"
T = ("CREATE TABLE t (id BIGINT PRIMARY KEY, d DECIMAL(12,2), i INT, s VARCHAR(20), "
     "dt DATE, ts DATETIME(6), tm TIME(6), b VARBINARY(16), bl BLOB, f DOUBLE, u TINYINT UNSIGNED)")
B = "CREATE TABLE bc (k VARCHAR(10) PRIMARY KEY, v DECIMAL(8,3), n INT)"
INSERT = "INSERT INTO t (id, d, i, s, dt, ts, tm, b, bl, f, u) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def row(i):
    """Row i, its values in every Python type the connector binds distinctly."""
    return (
        i,
        None if i % 9 == 0 else D(f"{i * 37 % 1000 - 300}.{i % 100:02d}"),
        None if i % 8 == 0 else [i, -i, i * 300, i * 70000][i % 4],
        None if i % 7 == 0 else ["abc", "Zoë", "10", "2.5e0", "O'Brien"][i % 5] + str(i % 3),
        None if i % 6 == 0 else datetime.date(2000 + i % 30, 1 + i % 12, 1 + i % 28),
        datetime.datetime(2020, 1 + i % 12, 1 + i % 28, i % 24, i % 60, i % 60, i * 1234 % 1000000),
        None if i % 5 == 0 else datetime.timedelta(hours=[-25, 3, 838, -1][i % 4], seconds=i % 60),
        None if i % 4 == 0 else bytes([i % 256, 0, 255, 39]),
        bytes([0, i % 256]) * (i % 3),
        None if i % 3 == 0 else i / 7,
        i % 256,
    )


class Blob(bytes):
    """A value sent as a file-like object: long data, typed BLOB (made anew each execute)."""


DT = datetime.datetime(2020, 1, 2, 3, 4, 5, 120000)
TM = datetime.timedelta(hours=-25, seconds=1)

STATEMENTS = [
    # (text, [params per execute]); every execute of one text on one cursor.
    ("SELECT ?", [(1,), (300,), (70000,), (2**40,), (-1,), (2**63 + 5,), ("ab",), (b"\x00\xff",),
                  (1.5,), (D("1.50"),), (D("-0.05"),), (D(".5"),), (D("-000.0"),), (datetime.date(2020, 1, 2),),
                  (datetime.datetime(2020, 1, 2, 3, 4, 5, 123456),), (datetime.timedelta(hours=-25, seconds=1),),
                  (None,)]),
    ("SELECT ? AS x, ? + 1, ? / 3, CONCAT(?, 'x')", [
        (1, 2**40, 2**40, 2**40), (D("1.50"), D("2.5"), D("1.50"), D("1.50")),
        (datetime.date(2020, 1, 2), datetime.date(2020, 1, 2), datetime.date(2020, 1, 2), datetime.date(2020, 1, 2)),
        ("ab", "ab", "10", "ab"), (1.5, 1.5, 1.5, 1.5), (None, None, None, None)]),
    ("SELECT COALESCE(?, d), IF(?, i, s), ? * 2.5 FROM t WHERE id = ?", [
        (None, 1, D("-1.5"), 3), (None, 0, 2**40, 4), (None, 1, 2.5, 5)]),
    ("SELECT id, ?, d + ?, d = ? FROM t WHERE id = ?", [
        (1, D("0.01"), D("-294.02"), 2), ("ab", 1.5, -294.02, 2), (D("12.5"), 2**40, "-294.02", 2)]),
    ("SELECT id, dt = ?, ts > ?, tm < ?, s = ?, i = ? FROM t WHERE id IN (?, ?, ?) ORDER BY id", [
        (datetime.date(2003, 4, 4), datetime.datetime(2020, 3, 1), datetime.timedelta(hours=1), "Zoë0",
         -3, 1, 3, 10),
        ("2003-04-04", "2020-03-01", "01:00:00", "abc1", "-3", 2, 4, 11)]),
    ("SELECT id, ? FROM t WHERE d > ? ORDER BY id LIMIT ?", [
        (1, D("100.5"), 5), (D("1.0"), 100.5, 3), (datetime.date(2020, 1, 1), "100.5", 4)]),
    ("SELECT COUNT(*), SUM(d * ?), MAX(?), MIN(d) FROM t WHERE d < ?", [
        (D("1.5"), 2**40, D("0")), (2**40, "x", 0.0), (D("-2"), D("2.25"), "0")]),
    ("SELECT i % 4 AS g, COUNT(*), SUM(d + ?) FROM t GROUP BY g ORDER BY g", [
        (D("0.001"),), (2**40,), (datetime.date(2020, 1, 1),)]),
    ("SELECT id, d / ? FROM t ORDER BY d DESC, id LIMIT ?, ?", [
        (D("3"), 2, 4), (3, 1, 3), (3.0, 0, 2)]),
    # File-like values go as long data, typed BLOB: bytes, not text.
    ("SELECT ?, CONCAT(?, 'x'), LENGTH(?), ? = 'a' FROM t WHERE id = ?", [
        (Blob(b"\x00\xffa"), Blob(b"\xc3\xa9"), Blob(b"abc"), Blob(b"a"), 5)]),
    ("SELECT DISTINCT ?, UPPER(?) FROM t", [(Blob(b"\xc3\xa9"), Blob(b"ab"))]),
    # Merged across sets as a prepared statement per set.
    ("SELECT id, CONCAT(?, s) FROM t WHERE ts > ? ORDER BY id LIMIT 3", [
        (DT, datetime.datetime(2020, 3, 2)), (TM, DT), (D("1.5"), "2020-03-02")]),
    ("SELECT id, CONCAT(?, s) FROM t WHERE tm < ? ORDER BY id LIMIT 3", [
        (TM, datetime.timedelta(hours=5)), (datetime.date(2020, 1, 2), "05:00:00")]),
    # Planned from the text with the values written in (a join, DISTINCT
    # across sets): typed literals and bare items defined from the client's type.
    ("SELECT DISTINCT ? FROM t", [
        (DT,), (TM,), (datetime.date(2020, 1, 2),), (D("1.5"),), (1,), ("x",), (datetime.datetime(2020, 1, 2),)]),
    ("SELECT t.id, ?, CONCAT(?, 'x') FROM t JOIN t AS u ON u.id = t.i WHERE t.id < 9 ORDER BY t.id", [
        (DT, datetime.date(2020, 1, 2)), (TM, D("-1.25")), (300, "ab"), (D("1.5"), D("1.5"))]),
    ("SELECT ? + 1 FROM t GROUP BY i % 2 ORDER BY 1", [
        (datetime.date(2020, 1, 2),), (D("1.5"),)]),
    ("SELECT k, v * ?, ? FROM bc WHERE v > ? ORDER BY k", [
        (D("2"), 1, D("0.5")), (2**40, "s", 0.5), (2.0, datetime.date(2020, 1, 1), "0.5")]),
]


def defs(desc):
    return [(d[0], d[1], d[2], d[5], d[7], d[8]) for d in desc or []]


def norm(rows):
    return [tuple(bytes(v) if isinstance(v, bytearray) else v for v in r) for r in rows]


class Side:
    def __init__(self, port, user, password):
        self.conn = mysql.connector.connect(
            host="127.0.0.1", port=port, user=user, password=password, charset="utf8mb4",
            collation="utf8mb4_general_ci", autocommit=True, use_pure=True, ssl_disabled=True,
            connection_timeout=20)
        self.text = self.conn.cursor()

    def run(self, sql):
        self.text.execute(sql)
        if self.text.with_rows:
            self.text.fetchall()

    def execute(self, cur, sql, params):
        """(prepare-time columns, columns, rows) or the error code."""
        params = tuple(io.BytesIO(p) if isinstance(p, Blob) else p for p in params)
        try:
            cur.execute(sql, params)
            rows = norm(cur.fetchall()) if cur.description else cur.rowcount
            prepared = getattr(cur, "_prepared", None) or {}
            prep = (defs(prepared.get("columns")), defs(prepared.get("parameters")))
            return (prep, defs(cur.description), rows)
        except mysql.connector.Error as e:
            return ("error", e.errno)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gw-port", type=int, required=True)
    ap.add_argument("--gw-user", default="app")
    ap.add_argument("--gw-password", default="app")
    ap.add_argument("--ref-port", type=int, required=True)
    ap.add_argument("--ref-user", default="root")
    ap.add_argument("--ref-password", default="")
    a = ap.parse_args()
    gw = Side(a.gw_port, a.gw_user, a.gw_password)
    rf = Side(a.ref_port, a.ref_user, a.ref_password)
    bad = []
    for side, sharded in ((gw, True), (rf, False)):
        side.run(f"DROP DATABASE IF EXISTS {DB}")
        side.run(f"CREATE DATABASE {DB}")
        side.run(f"USE {DB}")
        side.run(T + (" shardkey=id" if sharded else ""))
        side.run(B + (" shardkey=noshardkey_allset" if sharded else ""))
    checks = 0

    def compare(what, g, r):
        nonlocal checks
        checks += 1
        if g != r:
            bad.append(what)
            print(f"MISMATCH {what}\n  gateway:   {g!r}\n  reference: {r!r}")

    # INSERTs of every type through one prepared statement, then as stored.
    gc, rc = gw.conn.cursor(prepared=True), rf.conn.cursor(prepared=True)
    for i in range(1, 41):
        compare(f"insert {i} {row(i)!r}", gw.execute(gc, INSERT, row(i)), rf.execute(rc, INSERT, row(i)))
    for k, v, n in (("a", D("1.125"), 1), ("b", 2.5, 300), ("c", "0.75", 70000), ("d", None, None)):
        q = "INSERT INTO bc VALUES (?, ?, ?)"
        compare(f"insert bc {k}", gw.execute(gc, q, (k, v, n)), rf.execute(rc, q, (k, v, n)))
    # A DECIMAL shard key; values converted by the column they go to.
    q = "INSERT INTO t (id, i, s, d, b) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)"
    v = (D("41"), D("1.5"), datetime.date(2020, 1, 2), "2.555", 1.25,
         D("42.0"), D("-2.5"), D("0.10"), 7, DT)
    compare("insert decimal keys", gw.execute(gc, q, v), rf.execute(rc, q, v))
    q = "UPDATE t SET d = d + ?, s = CONCAT(s, ?) WHERE id = ?"
    compare("update by decimal key", gw.execute(gc, q, (D("0.5"), TM, D("41"))),
            rf.execute(rc, q, (D("0.5"), TM, D("41"))))
    stored = ("SELECT id, d, i, s, dt, ts, tm, HEX(b), HEX(bl), f, u FROM t ORDER BY id",
              "SELECT k, v, n FROM bc ORDER BY k")
    for q in stored:
        g = (gw.text.execute(q), defs(gw.text.description), gw.text.fetchall())
        r = (rf.text.execute(q), defs(rf.text.description), rf.text.fetchall())
        compare(f"stored: {q}", g, r)
    # Twice: the second prepare of a text comes after executes of it (whose
    # columns were typed by their parameters).
    for _ in range(2):
        for sql, runs in STATEMENTS:
            gc, rc = gw.conn.cursor(prepared=True), rf.conn.cursor(prepared=True)
            for params in runs:
                compare(f"{sql} {params!r}", gw.execute(gc, sql, params), rf.execute(rc, sql, params))
    print(f"{checks} checks, {len(bad)} mismatches")
    if bad:
        sys.exit(1)
    print("ALL OK")


if __name__ == "__main__":
    main()
