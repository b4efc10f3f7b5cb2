//! A query the gateway needs the answer of for itself (a subquery's values)
//! that routes to several sets *with a merge* — aggregates, GROUP BY, ORDER BY
//! with LIMIT, DISTINCT: it is planned and run by the whole executor, exactly
//! as a client's statement would be, with the answer written to memory
//! ([`PacketIo::memory`]) and read back here as columns and rows. Queries that
//! only concatenate go through [`super::fetch`] instead (no encoding round trip).

use mysql_common::constants::StatusFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::Column;
use mysql_common::proto::MyDeserialize;

use super::fetch::Fetched;
use super::Budget;
use crate::error::ProxyError;
use crate::exec::Exec;
use crate::front::packet::PacketIo;
use crate::front::responder::Responder;
use crate::merge::value::Cell;

/// Runs `sql` through the executor and collects its answer (rows counted in
/// `budget`). An error the statement got is returned as that error.
pub async fn fetch_merged(
    exec: &mut Exec<'_>,
    sql: &str,
    budget: &mut Budget,
) -> Result<Fetched, ProxyError> {
    let plan = super::run::plan_text(exec, sql).await?;
    let sets = match &plan.target {
        crate::route::Target::Sets(s) => s.clone(),
        _ => Vec::new(),
    };
    let mut io = PacketIo::memory();
    {
        let mut out = Responder::new(&mut io, StatusFlags::empty());
        Box::pin(super::run::run_plan(exec, &plan, sql, &mut out))
            .await
            .map_err(|e| ProxyError::Internal(format!("a subquery's answer: {e}")))?;
    }
    let bytes = io
        .take_memory()
        .await
        .map_err(|e| ProxyError::Internal(format!("a subquery's answer: {e}")))?;
    let (cols, rows, warnings) = parse(&bytes)?;
    for r in &rows {
        budget.hold(r)?;
    }
    Ok(Fetched {
        cols: cols.into(),
        rows,
        warnings,
        sets,
    })
}

/// Runs a query the gateway wrote where it routes: concatenated by
/// [`super::fetch`], or merged by the executor ([`fetch_merged`]).
pub async fn read(
    exec: &mut Exec<'_>,
    sql: &str,
    budget: &mut Budget,
) -> Result<Fetched, ProxyError> {
    match super::fetch::route_or_merge(exec, sql)? {
        Some(sets) => super::fetch::fetch_on(exec, sets, sql, budget).await,
        None => fetch_merged(exec, sql, budget).await,
    }
}

/// The logical packets of `bytes` (headers stripped, continuations joined).
fn packets(bytes: &[u8]) -> Result<Vec<Vec<u8>>, ProxyError> {
    let bad = || ProxyError::Internal("a subquery's answer: a truncated packet".into());
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes.get(at..at + 4).ok_or_else(bad)?;
        let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
        let body = bytes.get(at + 4..at + 4 + len).ok_or_else(bad)?;
        cur.extend_from_slice(body);
        at += 4 + len;
        if len < 0xff_ffff {
            out.push(std::mem::take(&mut cur));
        }
    }
    Ok(out)
}

/// An ERR packet as the error it carries.
fn err_of(p: &[u8]) -> ProxyError {
    let code = p
        .get(1..3)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .unwrap_or(0);
    let (state, msg) = match p.get(3) {
        Some(b'#') if p.len() >= 9 => (
            String::from_utf8_lossy(&p[4..9]).into_owned(),
            String::from_utf8_lossy(&p[9..]).into_owned(),
        ),
        _ => (
            "HY000".to_string(),
            String::from_utf8_lossy(p.get(3..).unwrap_or_default()).into_owned(),
        ),
    };
    ProxyError::Backend {
        code,
        state,
        message: msg,
    }
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

/// A length-encoded integer at `p[*at..]`.
fn lenenc(p: &[u8], at: &mut usize) -> Option<u64> {
    let first = *p.get(*at)?;
    *at += 1;
    let width = match first {
        0..=0xfa => return Some(u64::from(first)),
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return None,
    };
    let b = p.get(*at..*at + width)?;
    *at += width;
    Some(b.iter().rev().fold(0u64, |v, x| v << 8 | u64::from(*x)))
}

/// A text-protocol row.
fn text_row(p: &[u8], n: usize) -> Option<Vec<Cell>> {
    let mut at = 0;
    let mut row = Vec::with_capacity(n);
    for _ in 0..n {
        if p.get(at) == Some(&0xfb) {
            at += 1;
            row.push(None);
            continue;
        }
        let len = lenenc(p, &mut at)? as usize;
        row.push(Some(p.get(at..at + len)?.to_vec()));
        at += len;
    }
    (at == p.len()).then_some(row)
}

/// Columns, rows and warnings.
type Answer = (Vec<Column>, Vec<Vec<Cell>>, u16);

/// Columns, rows and warnings of one text-protocol result set (its
/// intermediate EOF packets included, as the gateway always writes them).
fn parse(bytes: &[u8]) -> Result<Answer, ProxyError> {
    let bad = |what: &str| ProxyError::Internal(format!("a subquery's answer: {what}"));
    let ps = packets(bytes)?;
    let first = ps.first().ok_or_else(|| bad("nothing written"))?;
    match first.first() {
        Some(0xff) => return Err(err_of(first)),
        Some(0x00) => return Err(bad("no result set")),
        _ => {}
    }
    let mut at = 0;
    let n = lenenc(first, &mut at).ok_or_else(|| bad("a bad column count"))? as usize;
    let mut cols = Vec::with_capacity(n);
    for p in ps
        .get(1..1 + n)
        .ok_or_else(|| bad("missing column definitions"))?
    {
        cols.push(
            Column::deserialize((), &mut ParseBuf(p))
                .map_err(|e| bad(&format!("a column definition: {e}")))?,
        );
    }
    let mut rest = ps[1 + n..].iter();
    if !rest.next().is_some_and(|p| is_eof(p)) {
        return Err(bad("no EOF after the column definitions"));
    }
    let mut rows = Vec::new();
    for p in rest {
        if p.first() == Some(&0xff) {
            return Err(err_of(p));
        }
        if is_eof(p) {
            let warnings = p
                .get(1..3)
                .map(|w| u16::from_le_bytes([w[0], w[1]]))
                .unwrap_or(0);
            return Ok((cols, rows, warnings));
        }
        rows.push(text_row(p, n).ok_or_else(|| bad("a malformed row"))?);
    }
    Err(bad("no EOF after the rows"))
}

// The tests build answers the way `Responder` writes them.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::wire;
    use mysql_common::constants::ColumnType;

    fn framed(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            let len = p.len() as u32;
            out.extend_from_slice(&len.to_le_bytes()[..3]);
            out.push(i as u8);
            out.extend_from_slice(p);
        }
        out
    }

    #[test]
    fn a_result_set_and_an_error() {
        let col = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_name(b"AVG(qty)");
        let mut def = Vec::new();
        wire::column_def(&mut def, &col);
        let mut eof = Vec::new();
        wire::eof_packet(&mut eof, 0, StatusFlags::empty());
        let mut last = Vec::new();
        wire::eof_packet(&mut last, 2, StatusFlags::empty());
        let mut row = Vec::new();
        wire::put_lenenc_str(&mut row, b"12.5000");
        let bytes = framed(&[vec![1], def, eof, row, vec![0xfb], last]);
        let (cols, rows, warnings) = parse(&bytes).unwrap();
        assert_eq!(cols[0].name_ref(), b"AVG(qty)");
        assert_eq!(rows, vec![vec![Some(b"12.5000".to_vec())], vec![None]]);
        assert_eq!(warnings, 2);

        let mut err = Vec::new();
        wire::err_packet_in(
            &mut err,
            1242,
            "21000",
            "Subquery returns more than 1 row",
            Default::default(),
        );
        match parse(&framed(&[err])) {
            Err(ProxyError::Backend { code, state, .. }) => {
                assert_eq!((code, state.as_str()), (1242, "21000"))
            }
            other => panic!("{:?}", other.map(|r| r.1)),
        }
        assert!(parse(&framed(&[vec![1]])).is_err());
    }
}
