#!/usr/bin/env python3
"""mysql-connector-python with prepared=True (binary protocol) against the Setwise gateway.

Run by tests/tests/clients_py.rs:
    python3 tests/py/connector_prepared.py --host 127.0.0.1 --port P --user app --password app

Creates database `cpdb` through the gateway (sharded table `items`) and checks
server-side prepared statements (COM_STMT_PREPARE / EXECUTE / CLOSE) as an
application uses them: INSERT with typed parameters (int, str with unicode,
Decimal, date, datetime with microseconds, None), re-executing one statement with
new parameters, executemany, point selects and IN lists by shard key, a scatter
select with a parameter, UPDATE / DELETE row counts, the Python types of the values
read back in the binary protocol, a duplicate key (1062) leaving the cursor usable,
a rolled-back transaction, and 1045 / 1049 at connect.

Prints one line per check and "ALL OK" at the end; exit 0 if every check passed,
1 otherwise, 77 if mysql-connector-python is not installed.
"""

import argparse
import datetime
import sys
import traceback
from decimal import Decimal

try:
    import mysql.connector
    from mysql.connector import errors
except ImportError as e:  # the Rust side decides whether that is a skip or a failure
    print(f"SKIP: python module mysql.connector (mysql-connector-python) is missing ({e})")
    sys.exit(77)

DB = "cpdb"
CHECKS = []
INSERT = "INSERT INTO items (id, name, price, born, created, note) VALUES (?, ?, ?, ?, ?, ?)"
SELECT = "SELECT id, name, price, born, created, note FROM items WHERE id = ?"


def check(fn):
    CHECKS.append(fn)
    return fn


def row_for(i):
    names = ["alice", "José", "日本", "emoji 🙂", "O'Brien", "back\\slash", "Zoë"]
    name = None if i % 11 == 0 else f"{names[i % len(names)]}-{i}"
    price = None if i % 13 == 0 else Decimal(f"{(i * 37) % 2000 - 500}.{i % 100:02d}")
    born = None if i % 7 == 0 else datetime.date(1950 + i % 60, 1 + i % 12, 1 + i % 28)
    created = datetime.datetime(2021, 1 + i % 12, 1 + i % 28, i % 24, i % 60, i % 60, (i * 1000) % 1000000)
    note = None if i % 3 == 0 else "note é 日本 🙂 " * (i % 4)
    return (i, name, price, born, created, note)


IDS = list(range(1, 31))


class Ctx:
    def __init__(self, args):
        self.args = args

    def connect(self, **kw):
        opts = dict(host=self.args.host, port=self.args.port, user=self.args.user,
                    password=self.args.password, charset="utf8mb4", collation="utf8mb4_general_ci",
                    autocommit=True, use_pure=True, ssl_disabled=True, connection_timeout=10)
        opts.update(kw)
        return mysql.connector.connect(**opts)


def normalise(row):
    """Values as the binary protocol yields them; bytearrays of text columns as str."""
    return tuple(v.decode() if isinstance(v, (bytes, bytearray)) else v for v in row)


def expect_errno(fn, code, what):
    try:
        fn()
    except errors.Error as e:
        assert e.errno == code, f"{what}: expected error {code}, got {e!r}"
        return e
    raise AssertionError(f"{what}: expected error {code}, it succeeded")


@check
def create_schema(ctx):
    conn = ctx.connect()
    c = conn.cursor()
    c.execute(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    c.execute(f"CREATE TABLE {DB}.items (id BIGINT PRIMARY KEY, name VARCHAR(64), "
              "price DECIMAL(10,2), born DATE, created DATETIME(6), note TEXT NULL) shardkey=id")
    conn.close()


@check
def prepared_inserts_with_typed_parameters(ctx):
    conn = ctx.connect(database=DB)
    c = conn.cursor(prepared=True)
    for i in IDS[:20]:  # one statement, executed again and again
        c.execute(INSERT, row_for(i))
        assert c.rowcount == 1, f"insert {i}: rowcount {c.rowcount}"
    c.executemany(INSERT, [row_for(i) for i in IDS[20:]])
    assert c.rowcount == len(IDS[20:]), f"executemany: rowcount {c.rowcount}"
    conn.close()


@check
def prepared_point_selects_and_types(ctx):
    conn = ctx.connect(database=DB)
    c = conn.cursor(prepared=True)
    for i in IDS:
        c.execute(SELECT, (i,))
        got = [normalise(r) for r in c.fetchall()]
        assert got == [row_for(i)], f"id {i}: {got!r} != {row_for(i)!r}"
    c.execute(SELECT, ("007",))  # the key as a string with leading zeros
    assert [r[0] for r in c.fetchall()] == [7]
    c.execute("SELECT id FROM items WHERE id = ?", (999,))
    assert c.fetchall() == []
    c.execute("SELECT DATABASE()")
    assert [normalise(r) for r in c.fetchall()] == [(DB,)]
    conn.close()


@check
def prepared_in_list_and_scatter(ctx):
    conn = ctx.connect(database=DB)
    c = conn.cursor(prepared=True)
    c.execute("SELECT id, name FROM items WHERE id IN (?, ?, ?, ?)", (1, 2, 3, 30))
    got = sorted(normalise(r) for r in c.fetchall())
    want = sorted((i, row_for(i)[1]) for i in (1, 2, 3, 30))
    assert got == want, f"IN list: {got}"
    c.execute("SELECT id, price FROM items WHERE price > ?", (Decimal("100.00"),))
    got = sorted(r[0] for r in c.fetchall())
    want = sorted(i for i in IDS if row_for(i)[2] is not None and row_for(i)[2] > 100)
    assert got == want, f"scatter with a parameter: {got} != {want}"
    c.execute("SELECT id FROM items WHERE born < ?", (datetime.date(1980, 1, 1),))
    got = sorted(r[0] for r in c.fetchall())
    want = sorted(i for i in IDS if row_for(i)[3] is not None and row_for(i)[3] < datetime.date(1980, 1, 1))
    assert got == want, f"date parameter: {got} != {want}"
    conn.close()


@check
def prepared_update_delete_rowcounts(ctx):
    conn = ctx.connect(database=DB)
    c = conn.cursor(prepared=True)
    c.execute("UPDATE items SET note = ? WHERE id <= ?", ("upd 🙂", 10))
    assert c.rowcount == 10, f"UPDATE across sets: rowcount {c.rowcount}"
    c.execute("UPDATE items SET price = ? WHERE id = ?", (Decimal("-0.01"), 5))
    assert c.rowcount == 1
    c.execute("DELETE FROM items WHERE id = ?", (30,))
    assert c.rowcount == 1
    c.execute("SELECT price, note FROM items WHERE id = ?", (5,))
    assert [normalise(r) for r in c.fetchall()] == [(Decimal("-0.01"), "upd 🙂")]
    IDS.remove(30)
    conn.close()


@check
def duplicate_key_keeps_the_cursor_usable(ctx):
    conn = ctx.connect(database=DB)
    c = conn.cursor(prepared=True)
    expect_errno(lambda: c.execute(INSERT, row_for(1)), 1062, "duplicate key")
    c.execute(SELECT, (2,))
    assert [normalise(r) for r in c.fetchall()] == [row_for(2)[:5] + ("upd 🙂",)]
    conn.close()


@check
def prepared_in_a_rolled_back_transaction(ctx):
    conn = ctx.connect(database=DB, autocommit=False)
    c = conn.cursor(prepared=True)
    c.execute(INSERT, row_for(700))
    c.execute(SELECT, (700,))
    assert [normalise(r) for r in c.fetchall()] == [row_for(700)], "own write"
    conn.rollback()
    c.execute(SELECT, (700,))
    assert c.fetchall() == [], "after rollback"
    conn.close()


@check
def bad_password_is_1045(ctx):
    expect_errno(lambda: ctx.connect(password="wrong"), 1045, "bad password")


@check
def unknown_database_is_1049(ctx):
    expect_errno(lambda: ctx.connect(database="no_such_db"), 1049, "unknown database")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="app")
    p.add_argument("--password", default="app")
    args = p.parse_args()
    ctx = Ctx(args)
    failed = []
    for fn in CHECKS:
        try:
            fn(ctx)
            print(f"ok   {fn.__name__}", flush=True)
        except Exception as e:  # report every check, not only the first failure
            failed.append(fn.__name__)
            print(f"FAIL {fn.__name__}: {e!r}", flush=True)
            traceback.print_exc(file=sys.stdout)
    print(f"mysql-connector-python {mysql.connector.__version__}: "
          f"{len(CHECKS) - len(failed)}/{len(CHECKS)} checks passed")
    if failed:
        print("FAILED: " + ", ".join(failed))
        sys.exit(1)
    print("ALL OK")


if __name__ == "__main__":
    main()
