//! What a statement answered — rows with their column definitions, an OK, or an
//! error — in both protocols, and how two answers are compared and shown.

use std::fmt::Write as _;
use std::time::Duration;

use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::*;
use mysql_async::{Column, Conn, Params, QueryResult, Row, Value};

/// Bound for one statement on one server.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows shown per side in a failure report.
const SHOW_ROWS: usize = 8;

/// The fields of a column definition a client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColMeta {
    pub name: String,
    pub org_name: String,
    pub table: String,
    pub org_table: String,
    pub schema: String,
    pub column_type: ColumnType,
    pub flags: ColumnFlags,
    pub decimals: u8,
    pub charset: u16,
    pub length: u32,
}

impl From<&Column> for ColMeta {
    fn from(c: &Column) -> Self {
        ColMeta {
            name: c.name_str().into_owned(),
            org_name: c.org_name_str().into_owned(),
            table: c.table_str().into_owned(),
            org_table: c.org_table_str().into_owned(),
            schema: c.schema_str().into_owned(),
            column_type: c.column_type(),
            flags: c.flags(),
            decimals: c.decimals(),
            charset: c.character_set(),
            length: c.column_length(),
        }
    }
}

impl ColMeta {
    fn short(&self) -> String {
        format!(
            "`{}` {:?} {:?} dec={} cs={} len={} ({}.{}.{})",
            self.name,
            self.column_type,
            self.flags,
            self.decimals,
            self.charset,
            self.length,
            self.schema,
            self.org_table,
            self.org_name
        )
    }

    /// Field-by-field differences (`self` expected).
    fn diff(&self, got: &ColMeta) -> Vec<String> {
        let mut d = Vec::new();
        let mut f = |what: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{what}: {a} vs {b}"));
            }
        };
        f("name", self.name.clone(), got.name.clone());
        f("org_name", self.org_name.clone(), got.org_name.clone());
        f("table", self.table.clone(), got.table.clone());
        f("org_table", self.org_table.clone(), got.org_table.clone());
        f("schema", self.schema.clone(), got.schema.clone());
        f(
            "type",
            format!("{:?}", self.column_type),
            format!("{:?}", got.column_type),
        );
        f(
            "flags",
            format!("{:?}", self.flags),
            format!("{:?}", got.flags),
        );
        f(
            "decimals",
            self.decimals.to_string(),
            got.decimals.to_string(),
        );
        f("charset", self.charset.to_string(), got.charset.to_string());
        f("length", self.length.to_string(), got.length.to_string());
        d
    }
}

/// KNOWN BUG (gateway, via mysql_common 0.37/0.38 `Column::serialize`): column
/// definitions are written with `column_length` before `character_set`, the reverse
/// of the protocol (and of mysql_common's own parser), so clients read a charset that
/// is the low half of the length and a length made of the rest. When undoing exactly
/// that shift makes `got` equal `want`, undo it in place and return true, so that
/// this one bug is reported once instead of hiding every other difference.
pub fn undo_swapped_charset(want: &[ColMeta], got: &mut [ColMeta]) -> bool {
    let mut hit = false;
    for (w, g) in want.iter().zip(got.iter_mut()) {
        let length = g.charset as u32 | (g.length & 0xFFFF) << 16;
        let charset = (g.length >> 16) as u16;
        if (g.charset, g.length) != (w.charset, w.length)
            && (charset, length) == (w.charset, w.length)
        {
            g.charset = charset;
            g.length = length;
            hit = true;
        }
    }
    hit
}

/// One statement's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Rows {
        cols: Vec<ColMeta>,
        rows: Vec<Vec<Value>>,
        warnings: u16,
    },
    Done {
        affected: u64,
        info: String,
        warnings: u16,
    },
    Error {
        code: u16,
        state: String,
        message: String,
    },
}

impl Outcome {
    /// Whether this is ER_NOT_SUPPORTED_YET (1235, SQLSTATE 42000).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Outcome::Error { code: 1235, state, .. } if state == "42000")
    }

    fn from_err(e: mysql_async::Error) -> anyhow::Result<Outcome> {
        match e {
            mysql_async::Error::Server(s) => Ok(Outcome::Error {
                code: s.code,
                state: s.state,
                message: s.message,
            }),
            other => Err(anyhow::Error::new(other).context("not a server error")),
        }
    }

    fn summary(&self) -> String {
        match self {
            Outcome::Rows {
                cols,
                rows,
                warnings,
            } => {
                let mut s = format!("{} row(s), {warnings} warning(s); columns:", rows.len());
                for c in cols {
                    let _ = write!(s, "\n      {}", c.short());
                }
                for r in rows.iter().take(SHOW_ROWS) {
                    let _ = write!(s, "\n    {}", show_row(r));
                }
                if rows.len() > SHOW_ROWS {
                    let _ = write!(s, "\n    ... {} more", rows.len() - SHOW_ROWS);
                }
                s
            }
            Outcome::Done {
                affected,
                info,
                warnings,
            } => format!("OK affected={affected} warnings={warnings} info={info:?}"),
            Outcome::Error {
                code,
                state,
                message,
            } => format!("ERROR {code} ({state}): {message}"),
        }
    }
}

async fn collect<P: Protocol>(mut res: QueryResult<'_, '_, P>) -> mysql_async::Result<Outcome> {
    let cols = res.columns().filter(|c| !c.is_empty());
    let out = match cols {
        Some(cols) => {
            let rows: Vec<Row> = res.collect().await?;
            Outcome::Rows {
                cols: cols.iter().map(ColMeta::from).collect(),
                rows: rows.into_iter().map(Row::unwrap).collect(),
                warnings: res.warnings(),
            }
        }
        None => Outcome::Done {
            affected: res.affected_rows(),
            info: res.info().into_owned(),
            warnings: res.warnings(),
        },
    };
    res.drop_result().await?;
    Ok(out)
}

async fn bounded<F: std::future::Future<Output = mysql_async::Result<Outcome>>>(
    sql: &str,
    f: F,
) -> anyhow::Result<Outcome> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, f).await {
        Err(_) => anyhow::bail!("no answer within {STATEMENT_TIMEOUT:?}: {sql}"),
        Ok(Ok(o)) => Ok(o),
        Ok(Err(e)) => Outcome::from_err(e).map_err(|e| e.context(sql.to_string())),
    }
}

/// Runs `sql` in the text protocol (COM_QUERY); the first result only.
pub async fn run_text(conn: &mut Conn, sql: &str) -> anyhow::Result<Outcome> {
    bounded(sql, async {
        let res = conn.query_iter(sql).await?;
        collect(res).await
    })
    .await
}

/// A prepared statement's metadata (COM_STMT_PREPARE): result columns and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepMeta {
    pub columns: Vec<ColMeta>,
    pub params: Vec<ColMeta>,
}

/// Prepares `sql`, compares nothing, executes it with `params` in the binary
/// protocol (COM_STMT_EXECUTE) and closes it. A failed prepare is the outcome.
pub async fn run_binary(
    conn: &mut Conn,
    sql: &str,
    params: &[Value],
) -> anyhow::Result<(Option<PrepMeta>, Outcome)> {
    let stmt = match tokio::time::timeout(STATEMENT_TIMEOUT, conn.prep(sql)).await {
        Err(_) => anyhow::bail!("prepare: no answer within {STATEMENT_TIMEOUT:?}: {sql}"),
        Ok(Err(e)) => return Ok((None, Outcome::from_err(e)?)),
        Ok(Ok(s)) => s,
    };
    let meta = PrepMeta {
        columns: stmt.columns().iter().map(ColMeta::from).collect(),
        params: stmt.params().iter().map(ColMeta::from).collect(),
    };
    let p = if params.is_empty() {
        Params::Empty
    } else {
        Params::Positional(params.to_vec())
    };
    let out = bounded(sql, async {
        let res = conn.exec_iter(&stmt, p).await?;
        collect(res).await
    })
    .await?;
    conn.close(stmt).await?;
    Ok((Some(meta), out))
}

/// Prepares `sql` once, executes it with each of `params` in turn (an error
/// answer does not end the run), then closes it. A failed prepare is the
/// answer to every execute.
pub async fn execs(
    conn: &mut Conn,
    sql: &str,
    params: &[Vec<Value>],
) -> anyhow::Result<Vec<Outcome>> {
    let stmt = match tokio::time::timeout(STATEMENT_TIMEOUT, conn.prep(sql)).await {
        Err(_) => anyhow::bail!("prepare: no answer within {STATEMENT_TIMEOUT:?}: {sql}"),
        Ok(Err(e)) => {
            let o = Outcome::from_err(e)?;
            return Ok(vec![o; params.len()]);
        }
        Ok(Ok(s)) => s,
    };
    let mut out = Vec::with_capacity(params.len());
    for p in params {
        let p = Params::Positional(p.clone());
        let o = bounded(sql, async {
            let res = conn.exec_iter(&stmt, p).await?;
            collect(res).await
        })
        .await?;
        out.push(o);
    }
    conn.close(stmt).await?;
    Ok(out)
}

/// When both answers are errors: their messages, if they differ.
pub fn message_difference(want: &Outcome, got: &Outcome) -> Option<String> {
    match (want, got) {
        (Outcome::Error { message: w, .. }, Outcome::Error { message: g, .. }) if w != g => {
            Some(format!("message {w:?} vs {g:?}"))
        }
        _ => None,
    }
}

/// How rows must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Same rows in the same order (the query orders by a unique key).
    Exact,
    /// Same multiset of rows (both sides sorted before comparing).
    Any,
    /// Same multiset once strings are folded as a case-insensitive PAD SPACE
    /// collation compares them (lower case, trailing spaces dropped): for results
    /// where MariaDB keeps any one of several equal strings (UNION, DISTINCT).
    AnyFolded,
}

/// Whether column `c` holds doubles (compared with a relative tolerance:
/// MariaDB's running STD/VARIANCE and the gateway's combination of per-set
/// moments agree to ~1e-12, not to the last bit).
fn is_double(c: &ColMeta) -> bool {
    matches!(
        c.column_type,
        ColumnType::MYSQL_TYPE_DOUBLE | ColumnType::MYSQL_TYPE_FLOAT
    )
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        Value::Double(d) => Some(*d),
        Value::Float(f) => Some(*f as f64),
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        _ => None,
    }
}

/// Two doubles equal within 1e-9 relative (or 1e-12 absolute near zero).
fn close(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (as_f64(a), as_f64(b)) {
        (Some(x), Some(y)) => {
            let scale = x.abs().max(y.abs());
            (x - y).abs() <= (1e-9 * scale).max(1e-12)
        }
        _ => false,
    }
}

/// Rows as compared: doubles rounded to 8 significant digits (for sorting; the
/// comparison itself uses [`close`]), strings folded for [`Order::AnyFolded`].
fn normalized(rows: &[Vec<Value>], cols: &[ColMeta], order: Order) -> Vec<Vec<Value>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Bytes(b)
                        if order == Order::AnyFolded && !cols.get(i).is_some_and(is_double) =>
                    {
                        let s = String::from_utf8_lossy(b).to_lowercase();
                        Value::Bytes(s.trim_end_matches(' ').as_bytes().to_vec())
                    }
                    _ => v.clone(),
                })
                .collect()
        })
        .collect()
}

fn sort_key(r: &[Value], cols: &[ColMeta]) -> String {
    let vals: Vec<String> = r
        .iter()
        .enumerate()
        .map(
            |(i, v)| match (cols.get(i).is_some_and(is_double), as_f64(v)) {
                (true, Some(x)) => format!("{x:.8e}"),
                // (Not `{v:?}`: mysql_common shortens long byte strings there.)
                _ => show_value(v),
            },
        )
        .collect();
    vals.join("\u{1}")
}

/// Same rows (in order for `Exact`), doubles within tolerance.
fn rows_agree(want: &[Vec<Value>], got: &[Vec<Value>], cols: &[ColMeta], order: Order) -> bool {
    if want.len() != got.len() {
        return false;
    }
    let (mut w, mut g) = (normalized(want, cols, order), normalized(got, cols, order));
    if order != Order::Exact {
        w.sort_by_cached_key(|r| sort_key(r, cols));
        g.sort_by_cached_key(|r| sort_key(r, cols));
    }
    w.iter().zip(&g).all(|(a, b)| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .enumerate()
                .all(|(i, (x, y))| x == y || (cols.get(i).is_some_and(is_double) && close(x, y)))
    })
}

/// A value as a client would print it.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".into(),
        Value::Bytes(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => format!("{u}u"),
        Value::Float(f) => format!("{f}f32"),
        Value::Double(d) => format!("{d}f64"),
        Value::Date(y, mo, d, h, mi, s, us) => {
            format!("DATE({y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06})")
        }
        Value::Time(neg, d, h, mi, s, us) => format!(
            "TIME({}{d}d {h:02}:{mi:02}:{s:02}.{us:06})",
            if *neg { "-" } else { "" }
        ),
    }
}

pub fn show_row(r: &[Value]) -> String {
    let vals: Vec<String> = r.iter().map(show_value).collect();
    format!("({})", vals.join(", "))
}

fn row_key(r: &[Value]) -> String {
    format!("{r:?}")
}

/// Rows of `a` missing from `b` (multiset difference), as shown text.
fn missing(a: &[Vec<Value>], b: &[Vec<Value>]) -> Vec<String> {
    let mut bk: Vec<String> = b.iter().map(|r| row_key(r)).collect();
    bk.sort();
    let mut used = vec![false; bk.len()];
    let mut out = Vec::new();
    for r in a {
        let k = row_key(r);
        let start = bk.partition_point(|x| x < &k);
        match (start..bk.len()).find(|&i| bk[i] == k && !used[i]) {
            Some(i) => used[i] = true,
            None => out.push(show_row(r)),
        }
    }
    out
}

fn sorted(rows: &[Vec<Value>]) -> Vec<&Vec<Value>> {
    let mut v: Vec<&Vec<Value>> = rows.iter().collect();
    v.sort_by_cached_key(|r| row_key(r));
    v
}

/// `None` when `got` answers like `want`; else what differs. Errors agree when
/// their code and SQLSTATE do (messages may name sets).
pub fn differences(want: &Outcome, got: &Outcome, order: Order) -> Option<String> {
    let mut d: Vec<String> = Vec::new();
    match (want, got) {
        (
            Outcome::Rows {
                cols: wc,
                rows: wr,
                warnings: ww,
            },
            Outcome::Rows {
                cols: gc,
                rows: gr,
                warnings: gw,
            },
        ) => {
            if wc.len() != gc.len() {
                d.push(format!("{} columns vs {}", wc.len(), gc.len()));
            }
            for (i, (a, b)) in wc.iter().zip(gc).enumerate() {
                for x in a.diff(b) {
                    d.push(format!("column {i} `{}`: {x}", a.name));
                }
            }
            let same_rows = match order {
                Order::Exact => wr == gr,
                Order::Any | Order::AnyFolded => sorted(wr) == sorted(gr),
            } || rows_agree(wr, gr, wc, order);
            if !same_rows {
                d.push(format!("{} rows vs {}", wr.len(), gr.len()));
                let only_want = missing(wr, gr);
                let only_got = missing(gr, wr);
                if only_want.is_empty() && only_got.is_empty() {
                    d.push("same rows in another order".into());
                    for (i, (a, b)) in wr.iter().zip(gr).enumerate() {
                        if a != b {
                            d.push(format!(
                                "first difference at row {i}: {} vs {}",
                                show_row(a),
                                show_row(b)
                            ));
                            break;
                        }
                    }
                }
                for (what, rows) in [("reference", &only_want), ("gateway", &only_got)] {
                    if !rows.is_empty() {
                        d.push(format!("rows only from the {what} ({}):", rows.len()));
                        d.extend(rows.iter().take(SHOW_ROWS).map(|r| format!("  {r}")));
                    }
                }
            }
            if ww != gw {
                d.push(format!("warnings {ww} vs {gw}"));
            }
        }
        (
            Outcome::Done {
                affected: wa,
                info: wi,
                warnings: ww,
            },
            Outcome::Done {
                affected: ga,
                info: gi,
                warnings: gw,
            },
        ) => {
            if wa != ga {
                d.push(format!("affected rows {wa} vs {ga}"));
            }
            if wi != gi {
                d.push(format!("info {wi:?} vs {gi:?}"));
            }
            if ww != gw {
                d.push(format!("warnings {ww} vs {gw}"));
            }
        }
        (
            Outcome::Error {
                code: wc,
                state: ws,
                ..
            },
            Outcome::Error {
                code: gc,
                state: gs,
                ..
            },
        ) => {
            if wc != gc || ws != gs {
                d.push(format!("error {wc} ({ws}) vs {gc} ({gs})"));
            }
        }
        _ => d.push("different kinds of answer".into()),
    }
    (!d.is_empty()).then(|| d.join("\n    "))
}

/// The report printed for a mismatch.
pub fn report(what: &str, sql: &str, want: &Outcome, got: &Outcome, diff: &str) -> String {
    format!(
        "{what}\n  query: {sql}\n  reference (plain MariaDB): {}\n  gateway: {}\n  diff:\n    {diff}",
        want.summary(),
        got.summary()
    )
}

/// Differences of prepared-statement metadata, if any.
pub fn prep_differences(want: &PrepMeta, got: &PrepMeta) -> Option<String> {
    let mut d = Vec::new();
    for (what, w, g) in [
        ("result column", &want.columns, &got.columns),
        ("parameter", &want.params, &got.params),
    ] {
        if w.len() != g.len() {
            d.push(format!("{} {what}s vs {}", w.len(), g.len()));
        }
        for (i, (a, b)) in w.iter().zip(g).enumerate() {
            for x in a.diff(b) {
                d.push(format!("{what} {i} `{}`: {x}", a.name));
            }
        }
    }
    (!d.is_empty()).then(|| d.join("\n    "))
}
