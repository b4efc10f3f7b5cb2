#!/usr/bin/env python3
"""PyMySQL (text protocol) against the Setwise gateway.

Run by tests/tests/clients_py.rs:
    python3 tests/py/pymysql_client.py --host 127.0.0.1 --port P --user app --password app

Creates database `pydb` through the gateway (a sharded table `items`, a single table
`kv`) and checks what an application does with PyMySQL: connect with a database,
SELECT DATABASE(), SHOW TABLES, COM_INIT_DB, parameters (client-side escaped),
executemany (a multi-row INSERT split over the sets), Python types of the values read
back, scatter reads, affected-row counts, errors (1062, 1235 leaving the session
usable, 1045 bad password, 1049 unknown database), autocommit on and off
(rollback / commit, isolation from another session, a transaction spanning sets
either works or is refused with 1235), and multi-statements off (must be a syntax
error, as MariaDB answers) and on (several results).

Prints one line per check ("ok   name" / "FAIL name: ...") and "ALL OK" at the end;
exit 0 if every check passed, 1 otherwise, 77 if PyMySQL is not installed.
"""

import argparse
import datetime
import sys
import traceback
from decimal import Decimal

try:
    import pymysql
    from pymysql.constants import CLIENT
except ImportError as e:  # the Rust side decides whether that is a skip or a failure
    print(f"SKIP: python module pymysql is missing ({e})")
    sys.exit(77)

DB = "pydb"
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def row_for(i):
    """The row inserted for id i: unicode, quotes, backslashes, NULLs, decimals, dates."""
    names = ["alice", "José", "日本", "emoji 🙂", "O'Brien", "back\\slash", "Zoë"]
    name = None if i % 11 == 0 else f"{names[i % len(names)]}-{i}"
    price = None if i % 13 == 0 else Decimal(f"{(i * 37) % 2000 - 500}.{i % 100:02d}")
    born = None if i % 7 == 0 else datetime.date(1950 + i % 60, 1 + i % 12, 1 + i % 28)
    created = datetime.datetime(2020, 1 + i % 12, 1 + i % 28, i % 24, i % 60, i % 60, (i * 1000) % 1000000)
    note = None if i % 3 == 0 else "note é 日本 🙂 " * (i % 4)
    return (i, name, price, born, created, note)


IDS = list(range(1, 41))


class Ctx:
    def __init__(self, args):
        self.args = args

    def connect(self, **kw):
        opts = dict(host=self.args.host, port=self.args.port, user=self.args.user,
                    password=self.args.password, charset="utf8mb4", autocommit=True,
                    connect_timeout=10, read_timeout=30, write_timeout=30)
        opts.update(kw)
        return pymysql.connect(**opts)

    def one(self, conn, sql, params=None):
        with conn.cursor() as c:
            c.execute(sql, params)
            return c.fetchall()


def expect_error(fn, code, what):
    try:
        fn()
    except pymysql.MySQLError as e:
        got = e.args[0] if e.args else None
        assert got == code, f"{what}: expected error {code}, got {e!r}"
        return e
    raise AssertionError(f"{what}: expected error {code}, it succeeded")


@check
def create_schema(ctx):
    conn = ctx.connect()
    with conn.cursor() as c:
        c.execute(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        c.execute(f"CREATE TABLE {DB}.items (id BIGINT PRIMARY KEY, name VARCHAR(64), "
                  "price DECIMAL(10,2), born DATE, created DATETIME(6), note TEXT NULL) shardkey=id")
        c.execute(f"CREATE TABLE {DB}.kv (k VARCHAR(32) PRIMARY KEY, v VARCHAR(64))")
    conn.close()


@check
def connect_with_database(ctx):
    conn = ctx.connect(database=DB)
    assert ctx.one(conn, "SELECT DATABASE()") == ((DB,),), "SELECT DATABASE()"
    tables = {r[0] for r in ctx.one(conn, "SHOW TABLES")}
    assert {"items", "kv"} <= tables, f"SHOW TABLES: {tables}"
    conn.close()
    conn = ctx.connect()
    assert ctx.one(conn, "SELECT DATABASE()") == ((None,),), "no database at connect"
    conn.select_db(DB)  # COM_INIT_DB
    assert ctx.one(conn, "SELECT DATABASE()") == ((DB,),), "after COM_INIT_DB"
    conn.close()


@check
def parameters_executemany_and_types(ctx):
    conn = ctx.connect(database=DB)
    with conn.cursor() as c:
        n = c.executemany("INSERT INTO items (id, name, price, born, created, note) "
                          "VALUES (%s, %s, %s, %s, %s, %s)", [row_for(i) for i in IDS])
        assert n == len(IDS), f"executemany rowcount {n}"
        c.execute("INSERT INTO kv (k, v) VALUES (%s, %s), (%s, %s)", ("a", "ünï 🙂", "b", None))
        assert c.rowcount == 2
        for i in IDS:
            c.execute("SELECT id, name, price, born, created, note FROM items WHERE id = %s", (i,))
            got = c.fetchall()
            assert got == (row_for(i),), f"id {i}: {got!r} != {row_for(i)!r}"
        # The key as a string with leading zeros reaches the same row.
        c.execute("SELECT id FROM items WHERE id = %s", ("007",))
        assert c.fetchall() == ((7,),)
        c.execute("SELECT v FROM kv WHERE k = %s", ("a",))
        assert c.fetchall() == (("ünï 🙂",),)
        c.execute("SELECT CHAR_LENGTH(%s), %s + 1, %s", ("日本🙂", 41, None))
        assert c.fetchall() == ((3, 42, None),)
    conn.close()


@check
def scatter_reads_and_rowcounts(ctx):
    conn = ctx.connect(database=DB)
    ids = sorted(r[0] for r in ctx.one(conn, "SELECT id FROM items"))
    assert ids == IDS, f"scatter read: {ids}"
    got = sorted(r[0] for r in ctx.one(conn, "SELECT id FROM items WHERE id IN (%s, %s, %s, %s)",
                                            (1, 2, 3, 40)))
    assert got == [1, 2, 3, 40], got
    with conn.cursor() as c:
        c.execute("UPDATE items SET note = %s WHERE id <= %s", ("updated", 10))
        assert c.rowcount == 10, f"UPDATE across sets: rowcount {c.rowcount}"
        c.execute("DELETE FROM items WHERE id = %s", (40,))
        assert c.rowcount == 1
    IDS.remove(40)
    conn.close()


@check
def merged_reads_or_refused(ctx):
    conn = ctx.connect(database=DB)
    try:
        got = ctx.one(conn, "SELECT id FROM items ORDER BY id DESC LIMIT 3")
        assert got == ((39,), (38,), (37,)), f"ORDER BY ... LIMIT: {got}"
        got = ctx.one(conn, "SELECT COUNT(*), SUM(id) FROM items")
        assert got == ((39, Decimal(sum(IDS))),), f"aggregates: {got}"
    except pymysql.err.NotSupportedError as e:
        assert e.args[0] == 1235, repr(e)
        print(f"     (refused: {e.args[1]})")
    conn.close()


@check
def errors_leave_the_session_usable(ctx):
    conn = ctx.connect(database=DB)
    e = expect_error(lambda: ctx.one(conn, "INSERT INTO items (id, name) VALUES (%s, %s)", (1, "dup")),
                     1062, "duplicate key")
    assert isinstance(e, pymysql.err.IntegrityError), repr(e)
    try:
        got = ctx.one(conn, "SELECT GROUP_CONCAT(id) FROM items")
        assert sorted(int(x) for x in got[0][0].split(",")) == IDS, got
    except pymysql.err.NotSupportedError as e:
        assert e.args[0] == 1235, repr(e)
    expect_error(lambda: ctx.one(conn, "SELECT * FROM no_such_table"), 1146, "unknown table")
    assert ctx.one(conn, "SELECT 1") == ((1,),), "session usable after errors"
    conn.close()


@check
def autocommit_off_rollback_and_commit(ctx):
    conn = ctx.connect(database=DB, autocommit=False)
    other = ctx.connect(database=DB)
    assert ctx.one(conn, "SELECT @@autocommit") == ((0,),)
    with conn.cursor() as c:
        c.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (500, "tx"))
        assert ctx.one(conn, "SELECT name FROM items WHERE id = 500") == (("tx",),), "own write"
        assert ctx.one(other, "SELECT name FROM items WHERE id = 500") == (), "isolation"
        conn.rollback()
        assert ctx.one(other, "SELECT name FROM items WHERE id = 500") == (), "after rollback"
        c.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (500, "tx"))
        c.execute("UPDATE items SET name = %s WHERE id = %s", ("tx2", 500))
        conn.commit()
    assert ctx.one(other, "SELECT name FROM items WHERE id = 500") == (("tx2",),), "after commit"
    conn.close()
    other.close()


@check
def transaction_across_sets_works_or_is_refused(ctx):
    conn = ctx.connect(database=DB, autocommit=False)
    other = ctx.connect(database=DB)
    conn.begin()
    refused = None
    with conn.cursor() as c:
        for i in range(600, 620):  # 20 keys: some land on every set
            try:
                c.execute("INSERT INTO items (id, name) VALUES (%s, 'span')", (i,))
            except pymysql.err.NotSupportedError as e:
                assert e.args[0] == 1235, repr(e)
                refused = e.args[1]
                break
    conn.rollback()
    left = ctx.one(other, "SELECT id FROM items WHERE id BETWEEN 600 AND 619")
    assert left == (), f"rows left after ROLLBACK: {left}"
    if refused:
        print(f"     (refused: {refused})")
    conn.close()
    other.close()


@check
def multi_statements_off_is_a_syntax_error(ctx):
    conn = ctx.connect(database=DB)  # PyMySQL does not ask for CLIENT_MULTI_STATEMENTS
    expect_error(lambda: ctx.one(conn, "SELECT 1; SELECT 2"), 1064, "two statements without the flag")
    assert ctx.one(conn, "SELECT 3") == ((3,),), "session usable"
    conn.close()


@check
def multi_statements_on(ctx):
    conn = ctx.connect(database=DB, client_flag=CLIENT.MULTI_STATEMENTS)
    with conn.cursor() as c:
        c.execute("SELECT 1; SELECT 'two'; UPDATE items SET note = 'm' WHERE id = 2; SELECT note FROM items WHERE id = 2")
        assert c.fetchall() == ((1,),)
        assert c.nextset()
        assert c.fetchall() == (("two",),)
        assert c.nextset()
        assert c.rowcount == 1, f"UPDATE in a multi-statement: {c.rowcount}"
        assert c.nextset()
        assert c.fetchall() == (("m",),)
        assert not c.nextset()
    assert ctx.one(conn, "SELECT 4") == ((4,),)
    conn.close()


@check
def bad_password_is_1045(ctx):
    expect_error(lambda: ctx.connect(password="wrong"), 1045, "bad password")


@check
def unknown_database_is_1049(ctx):
    expect_error(lambda: ctx.connect(database="no_such_db"), 1049, "unknown database at connect")
    conn = ctx.connect()
    expect_error(lambda: conn.select_db("no_such_db"), 1049, "COM_INIT_DB unknown database")
    conn.close()


@check
def show_warnings_reads_the_last_statement(ctx):
    conn = ctx.connect(database=DB)
    ctx.one(conn, "SELECT 1/0")
    w = ctx.one(conn, "SHOW WARNINGS")
    assert [r[1] for r in w] == [1365], f"warnings after 1/0: {w}"
    assert ctx.one(conn, "SELECT @@warning_count") == ((1,),)
    # As in MariaDB, a statement that uses a table starts a new diagnostics area.
    ctx.one(conn, "SELECT id FROM items WHERE id = 1")
    w = ctx.one(conn, "SHOW WARNINGS")
    assert w == (), f"a clean statement leaves no warnings, got {w}"
    # A new session never sees another session's warnings.
    other = ctx.connect(database=DB)
    ctx.one(other, "SELECT 1")
    w = ctx.one(other, "SHOW WARNINGS")
    assert w == (), f"a new session sees warnings: {w}"
    other.close()
    try:
        ctx.one(conn, "SELECT no_such_column FROM items WHERE id = 1")
    except pymysql.err.MySQLError:
        pass
    e = ctx.one(conn, "SHOW ERRORS")
    assert [r[1] for r in e] == [1054], f"errors after a bad column: {e}"
    conn.close()


@check
def processlist_and_kill_speak_gateway_ids(ctx):
    a = ctx.connect(database=DB)
    b = ctx.connect(database=DB)
    ids = {r[0] for r in ctx.one(a, "SHOW PROCESSLIST")}
    assert {a.thread_id(), b.thread_id()} <= ids, f"processlist ids {ids}"
    assert ctx.one(b, "SELECT CONNECTION_ID()") == ((b.thread_id(),),), "CONNECTION_ID() is the gateway's id"
    try:
        ctx.one(a, "KILL 987654")
        raise AssertionError("KILL of an unknown id succeeded")
    except pymysql.err.MySQLError as e:
        assert e.args[0] == 1094, f"unknown id: {e.args}"
    ctx.one(a, f"KILL {b.thread_id()}")
    try:
        ctx.one(b, "SELECT 1")
        raise AssertionError("the killed connection still answers")
    except pymysql.err.MySQLError:
        pass
    ids = {r[0] for r in ctx.one(a, "SHOW PROCESSLIST")}
    assert b.thread_id() not in ids, f"killed id still listed: {ids}"
    a.close()


@check
def kill_query_interrupts_only_the_statement(ctx):
    import threading
    import time
    a = ctx.connect(database=DB)
    b = ctx.connect(database=DB)
    res = {}

    def run():
        try:
            ctx.one(a, "SELECT SLEEP(20) FROM items WHERE id = 1")
            res["ok"] = True
        except pymysql.err.MySQLError as e:
            res["err"] = e.args[0]

    t = threading.Thread(target=run)
    t.start()
    deadline = time.time() + 10
    while time.time() < deadline:  # wait until the statement runs
        rows = ctx.one(b, "SHOW PROCESSLIST")
        if any(r[0] == a.thread_id() and r[4] == "Query" for r in rows):
            break
        time.sleep(0.05)
    started = time.time()
    ctx.one(b, f"KILL QUERY {a.thread_id()}")
    t.join(15)
    assert not t.is_alive(), "the statement was not interrupted"
    assert time.time() - started < 10, "KILL QUERY took too long"
    assert res.get("err") == 1317 or res.get("ok"), f"interrupted statement: {res}"
    assert ctx.one(a, "SELECT 1") == ((1,),), "the connection lives on"
    a.close()
    b.close()


@check
def the_system_schema_stays_hidden(ctx):
    conn = ctx.connect()
    # The agents' heartbeat schema exists on the sets but never reaches clients.
    schemas = {r[0] for r in ctx.one(conn, "SELECT schema_name FROM information_schema.schemata")}
    assert "setwise_sys" not in schemas, f"information_schema shows setwise_sys: {schemas}"
    assert "setwise_sys" not in {r[0] for r in ctx.one(conn, "SHOW DATABASES")}
    try:
        conn.select_db("setwise_sys")
        raise AssertionError("USE setwise_sys succeeded")
    except pymysql.err.MySQLError as e:
        assert e.args[0] == 1049, e.args
    conn.close()


@check
def pipelined_commands_answered_in_order(ctx):
    """Three COM_QUERY packets in one TCP write: three answers, in order."""
    import struct
    conn = ctx.connect(database=DB)
    queries = [b"SELECT 1 AS a", b"SELECT 'two' AS b", b"SELECT 3 + 0 AS c"]
    wire = b"".join(struct.pack("<I", len(q) + 1)[:3] + b"\x00" + b"\x03" + q for q in queries)
    conn._sock.sendall(wire)
    got = []
    for _ in queries:
        conn._next_seq_id = 1  # each answer starts a new exchange
        result = pymysql.connections.MySQLResult(conn)
        result.read()
        got.append((result.fields[0].name, result.rows[0][0]))
    assert got == [("a", 1), ("b", "two"), ("c", 3)], f"pipelined answers: {got}"
    # The connection is still in step afterwards.
    assert ctx.one(conn, "SELECT 4") == ((4,),)
    conn.close()


@check
def non_utf8_query_text_is_forwarded(ctx):
    # Bytes that are not UTF-8 on a utf8mb4 connection reach MariaDB as sent (as
    # a direct connection would): HEX shows them.
    import struct
    conn = ctx.connect(database=DB)
    q = b"SELECT HEX('\xff\xfe')"
    conn._sock.sendall(struct.pack("<I", len(q) + 1)[:3] + b"\x00" + b"\x03" + q)
    conn._next_seq_id = 1
    res = pymysql.connections.MySQLResult(conn)
    res.read()
    assert res.rows == (("FFFE",),), f"got {res.rows}"
    assert ctx.one(conn, "SELECT 5") == ((5,),), "connection usable after it"
    conn.close()


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
    print(f"pymysql {pymysql.__version__}: {len(CHECKS) - len(failed)}/{len(CHECKS)} checks passed")
    if failed:
        print("FAILED: " + ", ".join(failed))
        sys.exit(1)
    print("ALL OK")


if __name__ == "__main__":
    main()
