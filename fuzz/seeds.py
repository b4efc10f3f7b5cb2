#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target under fuzz/corpus/ (run from
anywhere; files are overwritten, found crashes kept alongside as regress-*)."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def u16(n):
    return struct.pack("<H", n)


def u32(n):
    return struct.pack("<I", n)


def lenenc(b):
    assert len(b) < 251
    return bytes([len(b)]) + b


def rec(kind, body):
    """A record of the session/execute targets: [kind][len u16][body]."""
    return bytes([kind]) + u16(len(body)) + body


# ---- SQL (lexer, planner) ------------------------------------------------
SQL = [
    "SELECT 1",
    "SELECT name FROM users WHERE user_id = 7",
    "SELECT * FROM users WHERE user_id IN (1, 2, 3) ORDER BY name DESC LIMIT 5, 10",
    "SELECT user_id, COUNT(*), SUM(v), AVG(v), MIN(name), MAX(v) FROM users GROUP BY user_id HAVING COUNT(*) > 1 ORDER BY 2 DESC",
    "SELECT DISTINCT name FROM users ORDER BY name LIMIT 3",
    "SELECT u.name, o.amount FROM users u JOIN orders o ON u.user_id = o.user_id WHERE o.amount > 5",
    "SELECT u.name FROM users u LEFT JOIN b ON b.id = u.v WHERE u.user_id = 1",
    "SELECT * FROM s JOIN b ON s.id = b.id",
    "(SELECT name FROM users WHERE user_id = 1) UNION (SELECT name FROM names) ORDER BY name LIMIT 2",
    "SELECT name FROM users UNION ALL SELECT name FROM names",
    "SELECT * FROM names WHERE name = 'Ab' LOCK IN SHARE MODE",
    "SELECT v MOD 3 FROM users GROUP BY v DESC WITH ROLLUP",
    "SELECT (SELECT MAX(amount) FROM orders) AS m, user_id FROM users WHERE user_id = 0x10",
    "SELECT * FROM d.users WHERE user_id = '007' OR user_id = 7.0",
    "SELECT * FROM e.t WHERE id = _binary'abc'",
    "INSERT INTO users (user_id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    "INSERT INTO users VALUES (4, 'x', 1)",
    "INSERT INTO b (id, x) VALUES (1, 2) ON DUPLICATE KEY UPDATE x = VALUES(x)",
    "REPLACE INTO names (name, v) VALUES ('A ', 1)",
    "INSERT INTO orders (order_id, user_id, amount) SELECT user_id, user_id, v FROM users",
    "UPDATE users SET v = v + 1 WHERE user_id = 5",
    "UPDATE users SET v = 0 ORDER BY user_id LIMIT 2",
    "UPDATE users SET user_id = 3 WHERE user_id = 2",
    "DELETE FROM orders WHERE order_id IN (1, 9) LIMIT 1",
    "DELETE u FROM users u JOIN orders o ON o.user_id = u.user_id WHERE u.user_id = 1",
    "CALL p(1, 'x')",
    "CREATE TABLE t2 (id INT PRIMARY KEY, v INT) shardkey=id",
    "CREATE PROCEDURE p() BEGIN SELECT 1; IF 1 THEN SELECT 2; END IF; END; SELECT 3",
    "XA START 'g', 'b', 1; XA END 'g'; XA PREPARE 'g'; XA COMMIT 'g'",
    "EXPLAIN SELECT * FROM users WHERE user_id = 1",
    "EXPLAIN SETWISE SELECT COUNT(*) FROM users",
    "SELECT @@session.autocommit, @x := 1, `we``ird`, \"dq\", N'n', b'101', X'ff', 1e10, .5",
    "/*! SELECT */ 1 -- c\n# hash\n; SELECT /* x */ 2;",
    "SELECT 'it''s', 'a\\'b', \"\\\\\" FROM dual",
    "SELECT ?, ? FROM users WHERE user_id = ? LIMIT ?, ?",
    "SET NAMES utf8mb4; SET autocommit = 0; BEGIN; COMMIT",
    "SELECT CONNECTION_ID(), LAST_INSERT_ID(), GET_LOCK('a', 1)",
    "SHOW TABLES; DESCRIBE users; USE d",
    "SELECT name FROM names WHERE name IN ('a', 'B', 'c ') GROUP BY name",
    "SELECT user_id FROM users WHERE user_id BETWEEN 1 AND 5 ORDER BY user_id LIMIT 0",
    "LOCK TABLES `t` READ /*!32311 LOCAL */, d.u AS a LOW_PRIORITY WRITE, v WRITE CONCURRENT WAIT 5; "
    "UNLOCK TABLES; FLUSH LOCAL TABLES WITH READ LOCK; FLUSH TABLES",
]
for i, s in enumerate(SQL):
    put("lexer", "sql-%02d" % i, s.encode())
    put("planner", "sql-%02d" % i, bytes([i % 3]) + s.encode())

# ---- COM_STMT_EXECUTE parameters ------------------------------------------
def execute(flags, sql, ops):
    return bytes([flags]) + u16(len(sql)) + sql + b"".join(ops)


def params(nulls, types, values):
    out = bytes(nulls) + (b"\x01" + b"".join(bytes([t, u]) for t, u in types) if types else b"\x00")
    return out + values


vals = (
    struct.pack("<q", -42)
    + lenenc(b"it's")
    + bytes([11]) + u16(2024) + bytes([1, 2, 3, 4, 5]) + u32(6)
    + bytes([12, 1]) + u32(2) + bytes([3, 4, 5]) + u32(7)
)
put("execute", "types", execute(1, b"SELECT ?, ?, ?, ? FROM t WHERE a = ? LIMIT ?",
    [rec(0, params([0b100000, ], [(8, 0), (253, 0), (12, 0), (11, 0), (6, 0), (3, 0x80)], vals + u32(9)))]))
put("execute", "rebind", execute(0, b"SELECT ? + ?",
    [rec(0, params([0], [(1, 0), (2, 0x80)], b"\xff\xff\xff")), rec(0, b"\x00\x00\x01\x02\x00"),
     rec(0, b"\x03\x00")]))
put("execute", "longdata", execute(3, b"INSERT INTO t VALUES (?, ?)",
    [rec(1, b"\x00abc\x00def"), rec(1, b"\x01\xe9t\xe9"), rec(0, params([0], [(252, 0), (254, 0)], b"")),
     rec(2, b""), rec(0, params([3], [(252, 0), (254, 0)], b""))]))
put("execute", "floats", execute(0, b"SELECT ? LIMIT ?",
    [rec(0, params([0], [(5, 0), (4, 0)], struct.pack("<d", 2.5) + struct.pack("<f", -1.5))),
     rec(0, params([0], [(5, 0), (4, 0)], struct.pack("<d", float("inf")) + b"\0\0\0\0"))]))
put("execute", "regress-time-days-overflow", execute(0, b"SELECT ?, ?, ?",
    [rec(0, params([0], [(10, 0), (7, 0), (11, 0)], b"\x04\xe8\x07\x02\x1d" + b"\x00" + b"\x08\x01\xff\xff\xff\xff\x17\x3b\x3b"))]))
put("execute", "noparams", execute(0, b"SELECT 1 -- ?", [rec(0, b"")]))

# ---- packet framing --------------------------------------------------------
def pkt(seq, body):
    return struct.pack("<I", len(body))[:3] + bytes([seq]) + body


put("packet", "two", pkt(0, b"\x03SELECT 1") + pkt(0, b"\x0e"))
put("packet", "empty", pkt(0, b"") + pkt(1, b""))
put("packet", "continued", b"\xff\xff\xff\x00" + b"x" * 64)
put("packet", "short-header", b"\x05\x00")
put("packet", "huge", b"\xfe\xff\xff\x00abc")

# ---- the whole front -------------------------------------------------------
CAPS = 0x1 | 0x8 | 0x200 | 0x8000 | 0x10000 | 0x20000 | 0x80000 | 0x100000 | 0x200000


def hello(user=b"app", auth=b"\x11" * 20, db=b"d", plugin=b"mysql_native_password",
          caps=CAPS, collation=45):
    b = u32(caps) + u32(1 << 24) + bytes([collation]) + b"\0" * 23 + user + b"\0"
    b += lenenc(auth) if caps & 0x200000 else bytes([len(auth)]) + auth
    if caps & 0x8:
        b += db + b"\0"
    if caps & 0x80000:
        b += plugin + b"\0"
    if caps & 0x100000:
        attrs = lenenc(b"_client_name") + lenenc(b"fuzz")
        b += lenenc(attrs)
    return b


def cmd(c, body=b""):
    return rec(0, bytes([c]) + body)


stmt_exec = u32(1) + b"\x00" + u32(1) + params([0], [(8, 0), (253, 0)], struct.pack("<q", 5) + lenenc(b"x"))
put("session", "commands", rec(0, hello()) + b"".join([
    cmd(0x03, b"SELECT 1"), cmd(0x03, b"SELECT 12"), cmd(0x03, b"SELECT 123"),
    cmd(0x16, b"SELECT ?, ? FROM t"), cmd(0x18, u32(1) + u16(1) + b"long"),
    cmd(0x17, stmt_exec), cmd(0x1a, u32(1)), cmd(0x17, stmt_exec), cmd(0x19, u32(1)),
    cmd(0x17, stmt_exec), cmd(0x04, b"t\0"), cmd(0x02, b"d"), cmd(0x02, b""),
    cmd(0x1b, b"\x01\x00"), cmd(0x1b, b"\x09"), cmd(0x0e), cmd(0x09), cmd(0x0d), cmd(0x1f),
    cmd(0x42), cmd(0x01),
]))
put("session", "auth-switch", rec(0, hello(plugin=b"caching_sha2_password", auth=b"\x01" * 32))
    + rec(1, b"\x03" + b"\x22" * 20) + cmd(0x03, b"SELECT 'x'") + cmd(0x01))
put("session", "change-user", rec(0, hello(db=b"")) + cmd(0x11, b"other\0" + lenenc(b"\x05" * 20)[0:1] + b"\x05" * 20 + b"d\0" + u16(8) + b"mysql_native_password\0")
    + rec(1, b"\x02" + b"\x33" * 20) + cmd(0x03, b"SELECT 'caf\xe9'") + cmd(0x11, b"deny\0\x00\0") + rec(0, b""))
put("session", "denied", rec(0, hello(user=b"deny")))
put("session", "old-protocol", rec(0, hello(caps=0x1 | 0x8)))
put("session", "prepare-many", rec(0, hello(collation=8)) + b"".join(
    cmd(0x16, b"SELECT ? LIMIT ?") for _ in range(3)) + cmd(0x17, u32(3) + b"\x00" + u32(1) + b"\x00\x01\x03\x00\x08\x80" + u32(1) + struct.pack("<Q", 2**64 - 1))
    + cmd(0x17, u32(99) + b"\x00" + u32(1)) + cmd(0x17, b"\x01"))
put("session", "raw-garbage", rec(0, hello()) + rec(2, b"\xff\xff\xff\x00\x03SEL"))
put("session", "bad-seq", rec(0, hello()) + rec(1, b"\x05\x03SELECT 1") + cmd(0x03, b"SELECT 1"))

# ---- binlog row images (scheduler) ----------------------------------------
def table(types, meta, schema, images, rows):
    return bytes([len(types) - 1]) + bytes(types) + bytes([len(meta)]) + bytes(meta) + bytes(schema) + bytes([images]) + rows


row1 = b"\x00" + struct.pack("<i", -5) + b"\x03abc" + bytes([0x7f, 0xff, 0xff, 0x9c])
put("binlog_rows", "int-varchar-time2", table([3, 15, 19], [0x40, 0, 2], [0x80, 9, 11], 2, row1 + row1))
row2 = (b"\x00\x00" + bytes([0x80, 0x00, 0x01, 0x00, 0x00]) + bytes([0x99, 0xb2, 0x42, 0x00, 0x00, 0x01])
        + struct.pack(">I", 1700000000) + b"\x02\x00hi" + b"\x03ab " + bytes([124]) + bytes([0x0f, 0x91, 0x82])
        + b"\x01" + struct.pack("<d", 1.5))
put("binlog_rows", "many-types", table([246, 18, 17, 252, 254, 13, 10, 16, 5],
    [10, 2, 1, 0, 2, 0xfe, 4, 0, 1, 8],
    [10, 12, 5, 9, 8, 6, 13, 14, 9], 3, row2 + row2))
put("binlog_rows", "set-enum", table([254, 254], [0xf8, 1, 0xf7, 2], [7, 15], 1, b"\x00\x05\x01\x00"))
put("binlog_rows", "nulls", table([8, 8, 8], [], [4, 0x84, 3], 3, b"\x07\x07" * 3))
put("binlog_rows", "time2-short", table([19, 19], [1, 2], [11, 11], 2, b"\x00" + bytes([0x7f, 0xff, 0xff, 0xf6, 0x80, 0x00, 0x01, 0x05])))

gtid = struct.pack("<QI", 57, 3)
put("binlog_gtid", "standalone", gtid + b"\x01")
put("binlog_gtid", "xa", gtid + bytes([64 | 2]) + struct.pack("<Q", 77) + u32(1) + bytes([2, 1]) + b"abc")
put("binlog_gtid", "short", gtid[:5])
