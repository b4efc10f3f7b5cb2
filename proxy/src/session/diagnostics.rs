//! The diagnostics area: `SHOW WARNINGS` / `SHOW ERRORS` / `GET DIAGNOSTICS`
//! read where the session's last statement ran. A statement that left
//! warnings on several sets (a join or scatter across sets) is read on each:
//! the lists concatenated (at most `max_error_count`, 64, as MariaDB shows),
//! the counts (`@@warning_count`, `SHOW COUNT(*) WARNINGS`) summed.

use mysql_async::prelude::Queryable;

use super::{fail, Session};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use crate::route::{Merge, Plan, Target};
use crate::show;

impl Session {
    /// `SHOW WARNINGS` and friends: read where the last statement ran (the kept
    /// connection, or the open transaction's last set); with neither, any set
    /// answers (an empty diagnostics area, as after a clean statement).
    pub(super) async fn diagnostics(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        let first = sql.split_whitespace().next().unwrap_or_default();
        let read = ["SHOW", "SELECT"]
            .iter()
            .any(|w| first.eq_ignore_ascii_case(w));
        if let (false, [(set, conn), ..]) | (_, [(set, conn)]) = (read, self.diag.as_mut_slice()) {
            return match crate::exec::stream_all(conn, set, &self.codec.wire(sql), out).await? {
                Ok(()) => Ok(true),
                Err(e) => fail(out, &e).await,
            };
        }
        if self.diag.len() > 1 {
            let wire = self.codec.wire(sql).into_owned();
            let list = sql.split_whitespace().nth(1).is_some_and(|w| {
                ["WARNINGS", "ERRORS"]
                    .iter()
                    .any(|x| w.eq_ignore_ascii_case(x))
            });
            return match combined(&mut self.diag, &wire, list).await {
                Ok((cols, rows)) => {
                    out.columns(&cols).await?;
                    for r in &rows {
                        out.text_row(r.iter().map(|c| c.as_deref())).await?;
                    }
                    out.end_rows(0).await?;
                    Ok(true)
                }
                Err(e) => fail(out, &e).await,
            };
        }
        let snap = self.snapshot();
        if let Some(set) = self
            .txn
            .as_ref()
            .and_then(|t| t.conns.keys().next().cloned())
        {
            let plan = Plan {
                target: Target::Sets(vec![set]),
                merge: Merge::Single,
            };
            out.status = self.status();
            let mut exec = self.exec(&snap);
            exec.write = false;
            return exec.run(&plan, sql, out).await;
        }
        // No kept diagnostics: the last statement left none. A pooled connection
        // may still hold another session's, so clear them first (only a statement
        // that uses a table resets MariaDB's diagnostics area).
        let r = async {
            let set = show::any_set_of(&snap, self.db.as_deref())?;
            let mut conn = self.conns(&snap).pooled(&set).await?;
            conn.query_drop(crate::exec::CLEAR_DIAGNOSTICS)
                .await
                .map_err(|e| ProxyError::from_backend(&set, e))?;
            Ok::<_, ProxyError>((set, conn))
        }
        .await;
        match r {
            Ok((set, mut conn)) => {
                match crate::exec::stream_all(&mut conn, &set, &self.codec.wire(sql), out).await? {
                    Ok(()) => Ok(true),
                    Err(e) => fail(out, &e).await,
                }
            }
            Err(e) => fail(out, &e).await,
        }
    }
}

/// Most conditions MariaDB keeps for `SHOW WARNINGS` (`max_error_count`).
const MAX_ERROR_COUNT: usize = 64;

type Cells = Vec<Option<Vec<u8>>>;

/// `sql` (a diagnostics read) on each of `conns`: a list's rows
/// concatenated, or (counts) each cell summed.
async fn combined(
    conns: &mut [(String, crate::backend::Conn)],
    sql: &[u8],
    list: bool,
) -> Result<(Vec<mysql_common::packets::Column>, Vec<Cells>), ProxyError> {
    let mut cols = Vec::new();
    let mut rows: Vec<Cells> = Vec::new();
    for (k, (set, conn)) in conns.iter_mut().enumerate() {
        let err = |e| ProxyError::from_backend(set, e);
        let mut res = conn.query_iter(sql).await.map_err(err)?;
        if k == 0 {
            cols = res.columns().map(|c| c.to_vec()).unwrap_or_default();
        }
        let got: Vec<mysql_async::Row> = res.collect().await.map_err(err)?;
        res.drop_result().await.map_err(err)?;
        let got: Vec<Cells> = got
            .into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        mysql_async::Value::NULL => None,
                        mysql_async::Value::Bytes(b) => Some(b),
                        v => Some(v.as_sql(true).into_bytes()),
                    })
                    .collect()
            })
            .collect();
        if list || k == 0 {
            rows.extend(got);
            continue;
        }
        // Counts: summed cell by cell.
        for (a, b) in rows.iter_mut().zip(got) {
            for (x, y) in a.iter_mut().zip(b) {
                let n = |c: &Option<Vec<u8>>| {
                    c.as_deref()
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|s| s.parse::<u64>().ok())
                };
                if let (Some(p), Some(q)) = (n(x), n(&y)) {
                    *x = Some((p + q).to_string().into_bytes());
                }
            }
        }
    }
    rows.truncate(if list { MAX_ERROR_COUNT } else { rows.len() });
    Ok((cols, rows))
}
