#!/usr/bin/env python3
"""PyMySQL under sql_mode NO_BACKSLASH_ESCAPES through the Setwise gateway.

PyMySQL escapes parameters on the client side and reads the server status flag
SERVER_STATUS_NO_BACKSLASH_ESCAPES to choose how: quotes doubled when the flag is
on, backslash escapes otherwise. The gateway must report the flag as MariaDB does,
or a value like O'Brien is sent as 'O\\'Brien', which MariaDB (in that mode) reads
differently. A literal with a backslash in that mode is refused with 1235 (the
gateway's own reading of it would differ from MariaDB's); out of the mode it works.

Run by tests/tests/clients_py.rs:
    python3 tests/py/pymysql_no_backslash.py --host 127.0.0.1 --port P --user app --password app
Prints one line per check and "ALL OK"; exit 0 if every check passed, 1 otherwise,
77 if PyMySQL is not installed.
"""

import argparse
import sys

try:
    import pymysql
    from pymysql.constants import SERVER_STATUS
except ImportError as e:
    print(f"SKIP: python module pymysql is missing ({e})")
    sys.exit(77)


def main():
    p = argparse.ArgumentParser()
    for a in ("--host", "--user", "--password"):
        p.add_argument(a, required=True)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    conn = pymysql.connect(host=args.host, port=args.port, user=args.user,
                           password=args.password, autocommit=True)
    cur = conn.cursor()
    failed = 0

    def check(name, got, want):
        nonlocal failed
        if got == want:
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name}: got {got!r}, want {want!r}")

    def flag():
        return bool(conn.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES)

    cur.execute("CREATE DATABASE IF NOT EXISTS nbe")
    cur.execute("CREATE TABLE IF NOT EXISTS nbe.people "
                "(id BIGINT PRIMARY KEY, name VARCHAR(60)) shardkey=id")
    check("flag off at start", flag(), False)

    cur.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
    check("flag on after SET sql_mode", flag(), True)
    cur.execute("SELECT @@sql_mode LIKE '%NO_BACKSLASH_ESCAPES%'")
    check("the mode is in effect", cur.fetchone()[0], 1)

    names = {1: "O'Brien", 2: "it''s", 3: "'", 4: "plain"}
    for i, n in names.items():
        cur.execute("INSERT INTO nbe.people VALUES (%s, %s)", (i, n))
    for i, n in names.items():
        cur.execute("SELECT name FROM nbe.people WHERE id = %s", (i,))
        check(f"row {i} read back", cur.fetchone()[0], n)
    cur.execute("SELECT id FROM nbe.people WHERE name = %s", ("O'Brien",))
    check("quote in a WHERE value", cur.fetchall(), ((1,),))

    try:
        cur.execute("INSERT INTO nbe.people VALUES (%s, %s)", (5, "C:\\dir\\"))
        check("backslash literal refused", "accepted", 1235)
    except pymysql.MySQLError as e:
        check("backslash literal refused", e.args[0], 1235)
    cur.execute("SELECT COUNT(*) FROM nbe.people WHERE id = 5")
    check("nothing written by the refused statement", cur.fetchone()[0], 0)

    cur.execute("SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
    check("flag off after the mode is removed", flag(), False)
    cur.execute("INSERT INTO nbe.people VALUES (%s, %s)", (5, "C:\\dir\\"))
    cur.execute("SELECT name FROM nbe.people WHERE id = %s", (5,))
    check("backslash value with escapes on", cur.fetchone()[0], "C:\\dir\\")

    cur.execute("DROP DATABASE nbe")
    conn.close()
    if failed:
        print(f"{failed} check(s) FAILED")
        sys.exit(1)
    print("ALL OK")


if __name__ == "__main__":
    main()
