#!/usr/bin/env node
// mysql2 (Node.js) against the Setwise gateway: server-side prepared statements
// (connection.execute(), COM_STMT_PREPARE / EXECUTE, binary rows) and the text
// protocol with client-side placeholders (connection.query()).
//
// Run by tests/tests/clients_node.rs, after it created the database and the table
// through the gateway:
//
//   node tests/node/prepared.js --host 127.0.0.1 --port P --user app --password app \
//       --database nodedb [--table accounts] [--shard-map JSON]
//
// Every option may also come from the environment: SETWISE_HOST, SETWISE_PORT,
// SETWISE_USER, SETWISE_PASSWORD, SETWISE_DATABASE, SETWISE_TABLE, SETWISE_SHARD_MAP.
// The table must exist and be empty:
//
//   CREATE TABLE <table> (id BIGINT NOT NULL PRIMARY KEY, small INT NULL, big BIGINT NULL,
//     name VARCHAR(64) NULL, amount DECIMAL(12,2) NULL, created DATETIME(3) NULL,
//     note TEXT NULL) DEFAULT CHARSET=utf8mb4 shardkey=id
//
// The shard map (a topo ShardMap as JSON: {"slots":1024,"ranges":[{"start":0,"end":512,
// "set":"set1"},...]}) lets the script pick keys on different sets for the
// transactions; without it the even split of 1024 slots over set1 and set2 is assumed.
//
// Checks: INSERT / SELECT / UPDATE / DELETE through execute() with parameters of
// several types (JS numbers, sent as DOUBLE; BigInt, sent as strings; typed BIGINT /
// INT / DECIMAL / DATETIME parameters; strings with unicode; decimals as strings; JS
// Dates; NULL), point selects by shard key and IN lists, multi-set SELECTs with ORDER
// BY / LIMIT, aggregates over all sets, NULL parameters in WHERE, concurrent execute()
// on a pool of 4 connections, a transaction over two sets committed and one rolled
// back, query() with placeholders, a duplicate key, and at the end the whole
// table against the script's model of it. Every result is compared with the value
// expected.
//
// Prints one line per check and "ALL OK" at the end; exits 0 if every check passed,
// 1 if one failed, 2 on bad arguments, 77 if mysql2 is not installed.

'use strict';

let mysql;
let Typed;
try {
  mysql = require('mysql2/promise');
  Typed = require('mysql2').TypedParameter;
} catch (e) {
  console.log(
    `SKIP: the npm package mysql2 is missing (${e.code || e.message}): npm ci --prefix tests/node`
  );
  process.exit(77);
}
const assert = require('node:assert/strict');
const { version: MYSQL2_VERSION } = require('mysql2/package.json');

// ------------------------------------------------------------------ arguments

function parseArgs(argv) {
  const opts = {
    host: process.env.SETWISE_HOST || '127.0.0.1',
    port: process.env.SETWISE_PORT,
    user: process.env.SETWISE_USER || 'app',
    password: process.env.SETWISE_PASSWORD ?? 'app',
    database: process.env.SETWISE_DATABASE,
    table: process.env.SETWISE_TABLE || 'accounts',
    'shard-map': process.env.SETWISE_SHARD_MAP,
  };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in opts)) usage(`unknown argument ${argv[i]}`);
    const value = m[2] !== undefined ? m[2] : argv[++i];
    if (value === undefined) usage(`--${m[1]} needs a value`);
    opts[m[1]] = value;
  }
  if (!opts.port || !/^\d+$/.test(opts.port)) usage('--port (or SETWISE_PORT) is required');
  if (!opts.database) usage('--database (or SETWISE_DATABASE) is required');
  if (!/^\w+$/.test(opts.table)) usage(`bad table name ${opts.table}`);
  opts.port = Number(opts.port);
  opts.shardMap = opts['shard-map']
    ? JSON.parse(opts['shard-map'])
    : {
        slots: 1024,
        ranges: [
          { start: 0, end: 512, set: 'set1' },
          { start: 512, end: 1024, set: 'set2' },
        ],
      };
  return opts;
}

function usage(msg) {
  console.error(`prepared.js: ${msg}`);
  console.error(
    'usage: node prepared.js --port P --database D [--host H] [--user U] [--password PW] [--table T] [--shard-map JSON]'
  );
  process.exit(2);
}

const ARGS = parseArgs(process.argv.slice(2));
const T = ARGS.table;

// ------------------------------------------------------------------ shard map (topo/src/slot.rs)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(text) {
  let c = 0xffffffff;
  for (const b of Buffer.from(text, 'utf8')) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The set owning integer key `id`: CRC32 of its decimal text, mod the slot count. */
function setOf(id) {
  const slot = crc32(String(id)) % ARGS.shardMap.slots;
  const r = ARGS.shardMap.ranges.find((r) => r.start <= slot && slot < r.end);
  if (!r) throw new Error(`no range of the shard map holds slot ${slot}`);
  return r.set;
}

/** The first `n` ids from `from` on, that set `set` owns. */
function idsOn(set, from, n) {
  const out = [];
  for (let id = from; out.length < n; id++) {
    if (id > from + 100000) throw new Error(`no ids on ${set} after ${from}`);
    if (setOf(id) === set) out.push(id);
  }
  return out;
}

const SETS = [...new Set(ARGS.shardMap.ranges.map((r) => r.set))];

// ------------------------------------------------------------------ the rows and the model

const COLS = ['id', 'small', 'big', 'name', 'amount', 'created', 'note'];
const INSERT = `INSERT INTO ${T} (${COLS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?)`;
const SELECT_ALL = `SELECT ${COLS.join(', ')} FROM ${T}`;
const NAMES = ['alice', 'José', '日本語', 'emoji 🙂🎉', "O'Brien", 'back\\slash', 'Zoë', 'Ελληνικά'];
const BIGS = [9007199254740993n, -9223372036854775808n, 9223372036854775807n, 0n, -1n];

function cents(s) {
  // '-12.05' -> -1205n
  const m = /^(-?)(\d+)\.(\d\d)$/.exec(s);
  if (!m) throw new Error(`not a DECIMAL(12,2) text: ${s}`);
  const v = BigInt(m[2]) * 100n + BigInt(m[3]);
  return m[1] ? -v : v;
}

/** A scaled integer as MariaDB prints a DECIMAL with `scale` digits after the point. */
function fixed(v, scale) {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const p = 10n ** BigInt(scale);
  const int = (a / p).toString();
  const frac = scale ? '.' + (a % p).toString().padStart(scale, '0') : '';
  return (neg ? '-' : '') + int + frac;
}

/** num / den rounded half away from zero (MariaDB's decimal division). */
function divRound(num, den) {
  const neg = num < 0n !== den < 0n;
  const a = num < 0n ? -num : num;
  const b = den < 0n ? -den : den;
  const q = (2n * a + b) / (2n * b);
  return neg ? -q : q;
}

/** Row `i` as inserted: the values the table holds, as mysql2 hands them back. */
function rowFor(i) {
  const amountCents = BigInt(((i * 3779) % 200000) - 50000);
  return {
    id: String(i), // BIGINT: a string (bigNumberStrings)
    small: i % 10 === 0 ? null : i * 7 - 100,
    big: i % 9 === 0 ? null : String(BIGS[i % BIGS.length] + (i % 5 === 3 ? BigInt(i) * 1000000007n : 0n)),
    name: i % 11 === 0 ? null : `${NAMES[i % NAMES.length]}-${i}`,
    amount: i % 13 === 0 ? null : fixed(amountCents, 2),
    created: new Date(Date.UTC(2020 + (i % 5), i % 12, 1 + (i % 28), i % 24, i % 60, (i * 7) % 60, (i * 37) % 1000)),
    note: i % 3 === 0 ? null : `note ${i} ` + 'é 日本 🙂 '.repeat(i % 4),
  };
}

/**
 * Parameters for row `r`, in one of several ways, so that every binary type the
 * gateway may meet is met: `way` 0 = plain JS values (numbers go as DOUBLE, BigInt as
 * a string), 1 = typed parameters (BIGINT / INT / DECIMAL / DATETIME), 2 = mixed.
 */
function paramsFor(r, way) {
  const id = Number(r.id);
  const big = r.big === null ? null : BigInt(r.big);
  switch (way) {
    case 0:
      return [id, r.small, big, r.name, r.amount, r.created, r.note];
    case 1:
      return [
        Typed.BIGINT(id),
        r.small === null ? null : Typed.INT(r.small),
        big === null ? null : Typed.BIGINT(big),
        r.name,
        r.amount === null ? null : Typed.DECIMAL(r.amount),
        Typed.DATETIME(r.created),
        r.note,
      ];
    default:
      return [BigInt(id), r.small === null ? null : Typed.INT(r.small), r.big, r.name, r.amount, r.created, r.note];
  }
}

/** The table as the script believes it is: id (number) -> row. */
const MODEL = new Map();

function modelRows(filter = () => true) {
  return [...MODEL.values()].filter(filter).sort((a, b) => Number(a.id) - Number(b.id));
}

/** A row as comparable plain data (Dates as ISO text). */
function plain(row) {
  const out = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = v instanceof Date ? `Date(${Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString()})` : v;
  }
  return out;
}

function same(got, want, what) {
  assert.deepStrictEqual(got.map(plain), want.map(plain), what);
}

// ------------------------------------------------------------------ connections

function connectOptions() {
  return {
    host: ARGS.host,
    port: ARGS.port,
    user: ARGS.user,
    password: ARGS.password,
    database: ARGS.database,
    charset: 'UTF8MB4_GENERAL_CI',
    timezone: 'Z', // JS Dates are sent and read as UTC
    supportBigNumbers: true,
    bigNumberStrings: true, // BIGINT and DECIMAL results as exact strings
    decimalNumbers: false,
    dateStrings: false,
    connectTimeout: 10000,
  };
}

function connect() {
  return mysql.createConnection(connectOptions());
}

async function expectError(promise, errno, what) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.errno, errno, `${what}: expected error ${errno}, got ${e.errno} ${e.message}`);
    return e;
  }
  assert.fail(`${what}: expected error ${errno}, it succeeded`);
}

// ------------------------------------------------------------------ checks

const CHECKS = [];
const check = (name, fn) => CHECKS.push({ name, fn });

const IDS = Array.from({ length: 40 }, (_, k) => k + 1);

check('connection and session', async (c) => {
  const [rows] = await c.execute('SELECT DATABASE() AS db, 1 + ? AS two', [1]);
  assert.deepStrictEqual(rows, [{ db: ARGS.database, two: 2 }]);
  const [empty] = await c.execute(`SELECT COUNT(*) AS n FROM ${T}`);
  assert.deepStrictEqual(empty, [{ n: '0' }], 'the table must start empty');
  for (const set of SETS) {
    assert.ok(IDS.some((i) => setOf(i) === set), `no id of 1..40 on ${set}: the rows would not cover every set`);
  }
});

check('execute: INSERT with typed parameters', async (c) => {
  for (const i of IDS) {
    const r = rowFor(i);
    const [res] = await c.execute(INSERT, paramsFor(r, i % 3));
    assert.equal(res.affectedRows, 1, `insert ${i}: affectedRows`);
    MODEL.set(i, r);
  }
  // One statement, two rows on two different sets: split by the gateway.
  const [a] = idsOn(SETS[0], 41, 1);
  const [b] = idsOn(SETS[SETS.length - 1], 41, 1);
  const two = [rowFor(a), rowFor(b)];
  const [res] = await c.execute(
    `INSERT INTO ${T} (${COLS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?)`,
    [...paramsFor(two[0], 0), ...paramsFor(two[1], 1)]
  );
  assert.equal(res.affectedRows, 2, `two-row insert of ${a} (${setOf(a)}) and ${b} (${setOf(b)}): affectedRows`);
  MODEL.set(a, two[0]);
  MODEL.set(b, two[1]);
});

check('execute: point selects by shard key', async (c) => {
  const sql = `${SELECT_ALL} WHERE id = ?`;
  for (const [id, want] of MODEL) {
    // The key as a JS number (DOUBLE), a BigInt (string) and a typed BIGINT.
    for (const key of [id, BigInt(id), Typed.BIGINT(id)]) {
      const [rows] = await c.execute(sql, [key]);
      same(rows, [want], `id ${id} given as ${typeof key}`);
    }
  }
  const [seven] = await c.execute(`SELECT id, name FROM ${T} WHERE id = ?`, ['007']);
  same(seven, [{ id: '7', name: MODEL.get(7).name }], "id given as the string '007'");
  const [none] = await c.execute(sql, [99999]);
  same(none, [], 'a missing id');
  const [fields] = await c.execute(`SELECT id, small, amount, created FROM ${T} WHERE id = ?`, [1]);
  assert.equal(typeof fields[0].small, 'number', 'INT comes back as a number');
  assert.ok(fields[0].created instanceof Date, 'DATETIME comes back as a Date');
});

check('execute: IN lists by shard key', async (c) => {
  const ids = [1, 2, 3, 17, 29, 40, 99999];
  for (const s of SETS) assert.ok(ids.some((i) => setOf(i) === s), `the IN list misses ${s}`);
  const [rows] = await c.execute(`${SELECT_ALL} WHERE id IN (?, ?, ?, ?, ?, ?, ?)`, ids);
  same(
    [...rows].sort((a, b) => Number(a.id) - Number(b.id)),
    modelRows((r) => ids.includes(Number(r.id))),
    'IN list'
  );
  const [desc] = await c.execute(`SELECT id, name FROM ${T} WHERE id IN (?, ?, ?, ?) ORDER BY id DESC`, [
    5,
    BigInt(6),
    '7',
    Typed.BIGINT(8),
  ]);
  same(
    desc,
    [8, 7, 6, 5].map((i) => ({ id: String(i), name: MODEL.get(i).name })),
    'IN list of mixed parameter types, ORDER BY id DESC'
  );
});

check('execute: multi-set SELECT with ORDER BY and LIMIT', async (c) => {
  const byAmount = modelRows((r) => r.amount !== null)
    .sort((a, b) => {
      const d = cents(b.amount) - cents(a.amount);
      return d !== 0n ? (d > 0n ? 1 : -1) : Number(a.id) - Number(b.id);
    })
    .slice(0, 5)
    .map((r) => ({ id: r.id, amount: r.amount }));
  const [top] = await c.execute(
    `SELECT id, amount FROM ${T} WHERE amount IS NOT NULL ORDER BY amount DESC, id LIMIT 5`
  );
  same(top, byAmount, 'ORDER BY amount DESC, id LIMIT 5');

  const [page] = await c.execute(`SELECT id, name, created FROM ${T} WHERE id > ? ORDER BY id LIMIT ?, ?`, [
    Typed.BIGINT(10),
    Typed.INT(3),
    Typed.INT(4),
  ]);
  same(
    page,
    modelRows((r) => Number(r.id) > 10)
      .slice(3, 7)
      .map((r) => ({ id: r.id, name: r.name, created: r.created })),
    'WHERE id > ? ORDER BY id LIMIT ?, ? (offset 3, count 4)'
  );

  // Plain JS numbers are sent as DOUBLE: the same statement (prepared once by
  // mysql2) paged with several offsets and counts, past the end included.
  for (const [offset, count] of [[0, 0], [0, 3], [2, 5], [7, 100], [1000, 2]]) {
    const [rows] = await c.execute(`SELECT id FROM ${T} WHERE id > ? ORDER BY id LIMIT ?, ?`, [0, offset, count]);
    same(
      rows,
      modelRows((r) => Number(r.id) > 0)
        .slice(offset, offset + count)
        .map((r) => ({ id: r.id })),
      `WHERE id > ? ORDER BY id LIMIT ?, ? with JS numbers (offset ${offset}, count ${count})`
    );
    const [off] = await c.execute(`SELECT id FROM ${T} ORDER BY id DESC LIMIT ? OFFSET ?`, [count, offset]);
    same(
      off,
      modelRows(() => true)
        .reverse()
        .slice(offset, offset + count)
        .map((r) => ({ id: r.id })),
      `ORDER BY id DESC LIMIT ? OFFSET ? with JS numbers (offset ${offset}, count ${count})`
    );
  }

  const [latest] = await c.execute(`SELECT id, created FROM ${T} WHERE created < ? ORDER BY created DESC, id LIMIT 3`, [
    new Date(Date.UTC(2023, 0, 1)),
  ]);
  same(
    latest,
    modelRows((r) => r.created < new Date(Date.UTC(2023, 0, 1)))
      .sort((a, b) => b.created - a.created || Number(a.id) - Number(b.id))
      .slice(0, 3)
      .map((r) => ({ id: r.id, created: r.created })),
    'WHERE created < Date ORDER BY created DESC LIMIT 3'
  );
});

/** COUNT / SUM / AVG / MIN / MAX of the model rows matching `filter`, as MariaDB prints them. */
function aggregates(filter) {
  const rows = modelRows(filter);
  const amounts = rows.filter((r) => r.amount !== null).map((r) => cents(r.amount));
  const smalls = rows.filter((r) => r.small !== null).map((r) => BigInt(r.small));
  const sumA = amounts.reduce((a, b) => a + b, 0n);
  const sumS = smalls.reduce((a, b) => a + b, 0n);
  const min = (xs) => xs.reduce((a, b) => (b < a ? b : a));
  return {
    n: String(rows.length),
    n_amount: String(amounts.length),
    sum_amount: amounts.length ? fixed(sumA, 2) : null,
    // AVG(DECIMAL(12,2)): scale 2 + div_precision_increment (4).
    avg_amount: amounts.length ? fixed(divRound(sumA * 10000n, BigInt(amounts.length)), 6) : null,
    min_amount: amounts.length ? fixed(min(amounts), 2) : null,
    max_id: rows.length ? rows[rows.length - 1].id : null,
    sum_small: smalls.length ? fixed(sumS, 0) : null,
    // AVG(INT): scale 0 + 4.
    avg_small: smalls.length ? fixed(divRound(sumS * 10000n, BigInt(smalls.length)), 4) : null,
  };
}

const AGG_SQL = `SELECT COUNT(*) AS n, COUNT(amount) AS n_amount, SUM(amount) AS sum_amount,
  AVG(amount) AS avg_amount, MIN(amount) AS min_amount, MAX(id) AS max_id,
  SUM(small) AS sum_small, AVG(small) AS avg_small FROM ${T}`;

check('execute: aggregates over all sets', async (c) => {
  const [all] = await c.execute(AGG_SQL);
  same(all, [aggregates(() => true)], 'COUNT/SUM/AVG/MIN/MAX over the whole table');
  const [some] = await c.execute(`${AGG_SQL} WHERE id > ? AND amount < ?`, [12, '100.00']);
  same(
    some,
    [aggregates((r) => Number(r.id) > 12 && r.amount !== null && cents(r.amount) < 10000n)],
    "the same WHERE id > 12 AND amount < '100.00'"
  );
  const [grouped] = await c.execute(
    `SELECT small % 2 AS parity, COUNT(*) AS n, SUM(amount) AS s FROM ${T} WHERE small IS NOT NULL GROUP BY small % 2 ORDER BY parity`
  );
  // small % 2 of a negative is negative in MariaDB: fold the model the same way.
  const want = [];
  for (const p of [-1, 0, 1]) {
    const rows = modelRows((r) => r.small !== null && r.small % 2 === p);
    if (!rows.length) continue;
    const amounts = rows.filter((r) => r.amount !== null).map((r) => cents(r.amount));
    want.push({
      parity: String(p),
      n: String(rows.length),
      s: amounts.length ? fixed(amounts.reduce((a, b) => a + b, 0n), 2) : null,
    });
  }
  same(grouped, want, 'GROUP BY small % 2 over all sets');
});

check('execute: UPDATE and DELETE', async (c) => {
  let [res] = await c.execute(`UPDATE ${T} SET name = ?, amount = ?, created = ? WHERE id = ?`, [
    'upd ✓ ünïcode 🙂',
    '-0.05',
    new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
    4,
  ]);
  assert.equal(res.affectedRows, 1, 'UPDATE by id: affectedRows');
  Object.assign(MODEL.get(4), {
    name: 'upd ✓ ünïcode 🙂',
    amount: '-0.05',
    created: new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
  });

  // Over both sets: a range of ids, no shard key equality.
  [res] = await c.execute(`UPDATE ${T} SET small = COALESCE(small, 0) + ?, note = ? WHERE id BETWEEN ? AND ?`, [
    Typed.INT(1000),
    null,
    11,
    20,
  ]);
  const hit = modelRows((r) => Number(r.id) >= 11 && Number(r.id) <= 20);
  assert.ok(new Set(hit.map((r) => setOf(r.id))).size === SETS.length, 'ids 11..20 should be on every set');
  assert.equal(res.affectedRows, hit.length, 'UPDATE over the sets: affectedRows');
  for (const r of hit) Object.assign(r, { small: (r.small ?? 0) + 1000, note: null });

  [res] = await c.execute(`UPDATE ${T} SET big = ? WHERE id = ?`, [Typed.BIGINT(-9223372036854775808n), 5]);
  assert.equal(res.affectedRows, 1);
  MODEL.get(5).big = '-9223372036854775808';

  [res] = await c.execute(`DELETE FROM ${T} WHERE id = ?`, [BigInt(39)]);
  assert.equal(res.affectedRows, 1, 'DELETE by id: affectedRows');
  MODEL.delete(39);
  [res] = await c.execute(`DELETE FROM ${T} WHERE id IN (?, ?, ?)`, [36, 37, 99999]);
  assert.equal(res.affectedRows, 2, 'DELETE IN list: affectedRows');
  MODEL.delete(36);
  MODEL.delete(37);
  [res] = await c.execute(`DELETE FROM ${T} WHERE id = ?`, [99999]);
  assert.equal(res.affectedRows, 0, 'DELETE of a missing id: affectedRows');

  const [rows] = await c.execute(`${SELECT_ALL} WHERE id IN (?, ?, ?, ?, ?, ?) ORDER BY id`, [4, 5, 11, 20, 36, 39]);
  same(rows, modelRows((r) => [4, 5, 11, 20].includes(Number(r.id))), 'rows after UPDATE / DELETE');
});

check('execute: NULL parameters in WHERE over all sets', async (c) => {
  let [rows] = await c.execute(`SELECT id FROM ${T} WHERE name <=> ? ORDER BY id`, [null]);
  same(rows, modelRows((r) => r.name === null).map((r) => ({ id: r.id })), 'name <=> NULL');
  [rows] = await c.execute(`SELECT id FROM ${T} WHERE name = ? ORDER BY id`, [null]);
  same(rows, [], 'name = NULL matches nothing');
  [rows] = await c.execute(`SELECT COUNT(*) AS n FROM ${T} WHERE note IS NULL AND id < ?`, [Typed.BIGINT(30)]);
  same(rows, [{ n: String(modelRows((r) => r.note === null && Number(r.id) < 30).length) }], 'note IS NULL AND id < ?');
});

check('pool: concurrent execute() on 4 connections', async () => {
  const pool = mysql.createPool({ ...connectOptions(), connectionLimit: 4 });
  try {
    const ids = modelRows().map((r) => Number(r.id)).slice(0, 20);
    const rounds = 5;
    const ops = [];
    for (let k = 0; k < rounds; k++) {
      for (const id of ids) {
        ops.push(
          pool.execute(`UPDATE ${T} SET small = COALESCE(small, 0) + ? WHERE id = ?`, [1, id]).then(([res]) => {
            assert.equal(res.affectedRows, 1, `concurrent UPDATE of ${id}`);
          })
        );
        ops.push(
          pool.execute(`SELECT id FROM ${T} WHERE id = ?`, [id]).then(([rows]) => {
            same(rows, [{ id: String(id) }], `concurrent point select of ${id}`);
          })
        );
      }
    }
    const results = await Promise.allSettled(ops);
    const bad = results.filter((r) => r.status === 'rejected');
    if (bad.length) throw new Error(`${bad.length}/${ops.length} operations failed, first: ${bad[0].reason.message}`);
    for (const id of ids) MODEL.get(id).small = (MODEL.get(id).small ?? 0) + rounds;
    const [rows] = await pool.execute(`SELECT id, small FROM ${T} WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id`, ids);
    same(rows, ids.map((id) => ({ id: String(id), small: MODEL.get(id).small })), `after ${ops.length} concurrent statements`);
  } finally {
    await pool.end();
  }
});

check('transaction over two sets: commit', async (c, other) => {
  const [a, b] = [idsOn(SETS[0], 1, 1)[0], idsOn(SETS[SETS.length - 1], 1, 1)[0]];
  assert.notEqual(setOf(a), setOf(b), 'two keys on different sets');
  const [na, nb] = [idsOn(SETS[0], 1000, 1)[0], idsOn(SETS[SETS.length - 1], 1000, 1)[0]];
  const before = { a: { ...MODEL.get(a) }, b: { ...MODEL.get(b) } };

  await c.beginTransaction();
  let [res] = await c.execute(`UPDATE ${T} SET amount = amount - ?, note = ? WHERE id = ?`, ['10.00', 'txn debit', a]);
  assert.equal(res.affectedRows, 1);
  [res] = await c.execute(`UPDATE ${T} SET amount = amount + ?, note = ? WHERE id = ?`, ['10.00', 'txn credit', b]);
  assert.equal(res.affectedRows, 1);
  const ra = { ...rowFor(na), note: 'txn insert a' };
  const rb = { ...rowFor(nb), note: 'txn insert b' };
  await c.execute(INSERT, paramsFor(ra, 1));
  await c.execute(INSERT, paramsFor(rb, 0));

  const after = {
    a: { ...before.a, amount: fixed(cents(before.a.amount) - 1000n, 2), note: 'txn debit' },
    b: { ...before.b, amount: fixed(cents(before.b.amount) + 1000n, 2), note: 'txn credit' },
  };
  const q = `${SELECT_ALL} WHERE id IN (?, ?, ?, ?) ORDER BY id`;
  const sorted = (...rows) => rows.sort((x, y) => Number(x.id) - Number(y.id));
  let [rows] = await c.execute(q, [a, b, na, nb]);
  same(rows, sorted(after.a, after.b, ra, rb), 'inside the transaction: its own writes');
  [rows] = await other.execute(q, [a, b, na, nb]);
  same(rows, sorted(before.a, before.b), 'another connection before COMMIT: nothing of it');
  await c.commit();

  [rows] = await other.execute(q, [a, b, na, nb]);
  same(rows, sorted(after.a, after.b, ra, rb), 'another connection after COMMIT: all of it');
  MODEL.set(a, after.a);
  MODEL.set(b, after.b);
  MODEL.set(na, ra);
  MODEL.set(nb, rb);
});

check('transaction over two sets: rollback', async (c, other) => {
  const a = idsOn(SETS[0], 2, 1)[0];
  const b = idsOn(SETS[SETS.length - 1], 2, 1)[0];
  const nb = idsOn(SETS[SETS.length - 1], 2000, 1)[0];
  const q = `${SELECT_ALL} WHERE id IN (?, ?, ?) ORDER BY id`;
  const want = modelRows((r) => [a, b].includes(Number(r.id)));
  assert.equal(want.length, 2, `rows ${a} and ${b} exist`);

  await c.beginTransaction();
  let [res] = await c.execute(`UPDATE ${T} SET name = ? WHERE id = ?`, ['rolled back', a]);
  assert.equal(res.affectedRows, 1);
  [res] = await c.execute(`DELETE FROM ${T} WHERE id = ?`, [b]);
  assert.equal(res.affectedRows, 1);
  await c.execute(INSERT, paramsFor(rowFor(nb), 2));
  let [rows] = await c.execute(q, [a, b, nb]);
  same(
    rows,
    [{ ...MODEL.get(a), name: 'rolled back' }, rowFor(nb)].sort((x, y) => Number(x.id) - Number(y.id)),
    'inside the transaction'
  );
  await c.rollback();

  [rows] = await c.execute(q, [a, b, nb]);
  same(rows, want, 'the same connection after ROLLBACK');
  [rows] = await other.execute(q, [a, b, nb]);
  same(rows, want, 'another connection after ROLLBACK');
  // autocommit is back on: a write is visible elsewhere at once.
  [res] = await c.execute(`UPDATE ${T} SET small = ? WHERE id = ?`, [Typed.INT(-7), a]);
  assert.equal(res.affectedRows, 1);
  MODEL.get(a).small = -7;
  [rows] = await other.execute(`SELECT small FROM ${T} WHERE id = ?`, [a]);
  same(rows, [{ small: -7 }], 'autocommit after the transaction');
});

check('query(): text protocol with placeholders', async (c) => {
  const id = 500;
  const r = { ...rowFor(id), name: "text \\ 'quoted' \"é\" 🙂", note: null };
  const [ins] = await c.query(`INSERT INTO ${T} (${COLS.join(', ')}) VALUES (?)`, [
    [id, r.small, BigInt(r.big), r.name, r.amount, r.created, r.note],
  ]);
  assert.equal(ins.affectedRows, 1, 'text INSERT: affectedRows');
  MODEL.set(id, r);

  let [rows] = await c.query(`${SELECT_ALL} WHERE id = ?`, [id]);
  same(rows, [r], 'text point select');
  const ids = [1, 2, 3, 17, 29, id, 99999];
  [rows] = await c.query(`${SELECT_ALL} WHERE id IN (?) ORDER BY id`, [ids]);
  same(rows, modelRows((m) => ids.includes(Number(m.id))), 'text IN list (array expanded by mysql2)');

  const [upd] = await c.query(`UPDATE ${T} SET ? WHERE id = ?`, [{ name: 'set by object', amount: '0.01' }, id]);
  assert.equal(upd.affectedRows, 1, 'text UPDATE ... SET ?: affectedRows');
  Object.assign(r, { name: 'set by object', amount: '0.01' });

  [rows] = await c.query(`${AGG_SQL} WHERE id >= ?`, [1]);
  same(rows, [aggregates(() => true)], 'text aggregates over all sets');
  [rows] = await c.query(`SELECT id, amount FROM ${T} WHERE amount > ? ORDER BY amount, id LIMIT ?`, ['0', 3]);
  same(
    rows,
    modelRows((m) => m.amount !== null && cents(m.amount) > 0n)
      .sort((x, y) => {
        const d = cents(x.amount) - cents(y.amount);
        return d !== 0n ? (d > 0n ? 1 : -1) : Number(x.id) - Number(y.id);
      })
      .slice(0, 3)
      .map((m) => ({ id: m.id, amount: m.amount })),
    'text ORDER BY amount LIMIT 3'
  );
  const [del] = await c.query(`DELETE FROM ${T} WHERE id = ?`, [id]);
  assert.equal(del.affectedRows, 1);
  MODEL.delete(id);
});

check('duplicate key: error 1062, connection still usable', async (c) => {
  const e = await expectError(c.execute(INSERT, paramsFor(rowFor(1), 0)), 1062, 'duplicate id 1');
  assert.equal(e.sqlState, '23000');
  const [rows] = await c.execute(`${SELECT_ALL} WHERE id = ?`, [1]);
  same(rows, [MODEL.get(1)], 'after the error');
});

check('the whole table against the model', async (c) => {
  const [rows] = await c.execute(`${SELECT_ALL} ORDER BY id`);
  same(rows, modelRows(), 'SELECT * ORDER BY id over all sets');
  const [[{ n }]] = await c.execute(`SELECT COUNT(*) AS n FROM ${T}`);
  assert.equal(n, String(MODEL.size), 'COUNT(*)');
});

// ------------------------------------------------------------------ main

async function main() {
  const watchdog = setTimeout(() => {
    console.log('FAIL: the checks did not finish within 90 s');
    process.exit(1);
  }, 90_000);
  watchdog.unref();

  const c = await connect();
  const other = await connect();
  const failed = [];
  for (const { name, fn } of CHECKS) {
    try {
      await fn(c, other);
      console.log(`ok   ${name}`);
    } catch (e) {
      failed.push(name);
      console.log(`FAIL ${name}: ${e.message}`);
      if (e.code && e.errno) console.log(`     (${e.code} ${e.errno} ${e.sqlState}: ${e.sqlMessage})`);
      if (!(e instanceof assert.AssertionError)) console.log(e.stack);
      // A check that failed inside a transaction must not leave it open for the next.
      await c.rollback().catch(() => {});
    }
  }
  await Promise.allSettled([c.end(), other.end()]);
  console.log(`mysql2 ${MYSQL2_VERSION}, node ${process.version}: ${CHECKS.length - failed.length}/${CHECKS.length} checks passed`);
  if (failed.length) {
    console.log(`FAILED: ${failed.join(', ')}`);
    process.exit(1);
  }
  console.log('ALL OK');
}

main().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
