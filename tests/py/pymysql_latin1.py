#!/usr/bin/env python3
"""PyMySQL with charset='latin1' against the Setwise gateway (the handshake asks
for latin1, PyMySQL encodes query text and parameters as latin1).

Run by tests/tests/charsets.rs, after it created `shop.u` (utf8mb4, sharded by the
VARCHAR `k`):
    python3 tests/py/pymysql_latin1.py --host 127.0.0.1 --port P --user app --password app

Writes keys with non-ASCII latin1 text through the latin1 connection (one by one
and with executemany), reads them back there and through a utf8mb4 connection.
Prints one line per check and "ALL OK"; exit 0 if every check passed, 1 otherwise,
77 if PyMySQL is not installed.
"""

import argparse
import sys

try:
    import pymysql
except ImportError as e:
    print(f"SKIP: python module pymysql is missing ({e})")
    sys.exit(77)

KEYS = ["café", "naïve", "über", "€uro", "Ã©té", "smørrebrød", "àéîõü"]


def main():
    p = argparse.ArgumentParser()
    for a in ("--host", "--user", "--password"):
        p.add_argument(a, required=True)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()

    def connect(charset):
        return pymysql.connect(host=args.host, port=args.port, user=args.user,
                               password=args.password, charset=charset, autocommit=True)

    failed = 0

    def check(name, got, want):
        nonlocal failed
        if got == want:
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name}: got {got!r}, want {want!r}")

    l1 = connect("latin1")
    cur = l1.cursor()
    cur.execute("SELECT @@character_set_client, HEX('café'), 'café'")
    check("latin1 session", cur.fetchone(), ("latin1", "636166E9", "café"))
    for i, k in enumerate(KEYS[:3]):
        cur.execute("INSERT INTO shop.u VALUES (%s, %s)", (k, i))
    cur.executemany("INSERT INTO shop.u VALUES (%s, %s)",
                    [(k, i) for i, k in enumerate(KEYS) if i >= 3])
    check("executemany rowcount", cur.rowcount, len(KEYS) - 3)
    for i, k in enumerate(KEYS):
        cur.execute("SELECT v, k FROM shop.u WHERE k = %s", (k,))
        check(f"latin1 read {k}", cur.fetchone(), (i, k))
    cur.execute("SELECT k FROM shop.u ORDER BY v")
    check("latin1 scatter", [r[0] for r in cur.fetchall()], KEYS)

    u8 = connect("utf8mb4")
    cur = u8.cursor()
    for i, k in enumerate(KEYS):
        cur.execute("SELECT v, k, HEX(k) FROM shop.u WHERE k = %s", (k,))
        check(f"utf8mb4 read {k}", cur.fetchone(), (i, k, k.encode("utf-8").hex().upper()))
    cur.execute("SELECT COUNT(*) FROM shop.u")
    check("count", cur.fetchone(), (len(KEYS),))
    if failed:
        print(f"{failed} check(s) failed")
        return 1
    print("ALL OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
