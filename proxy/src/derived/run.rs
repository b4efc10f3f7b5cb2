//! Runs a [`DerivedPlan`]: each block merged across sets, its rows written into
//! the statement as a typed `JSON_TABLE`, the rewritten statement planned and
//! run like any other, its answer sent under MariaDB's column definitions for
//! the client's statement (read from one set running it).

use std::sync::Arc;

use mysql_common::packets::Column;

use super::columns::{self, Collated};
use super::DerivedPlan;
use crate::error::ProxyError;
use crate::exec::{Answered, Exec};
use crate::front::Responder;
use crate::join::capture::fetch_merged;
use crate::join::fetch::fetch_on;
use crate::join::Budget;
use crate::merge::value::Cell;

pub async fn run(exec: &mut Exec<'_>, p: &DerivedPlan, out: &mut Responder<'_>) -> Answered {
    match answer(exec, p).await {
        Ok((cols, rows, warnings)) => {
            out.columns(&cols).await?;
            for r in &rows {
                out.text_row(r.iter().map(|c| c.as_deref())).await?;
            }
            out.end_rows(warnings).await?;
            Ok(true)
        }
        Err(ProxyError::ClientIo(e)) => Err(e),
        Err(e) => {
            out.error(&e).await?;
            Ok(false)
        }
    }
}

type Answer = (Arc<[Column]>, Vec<Vec<Cell>>, u16);

async fn answer(exec: &mut Exec<'_>, p: &DerivedPlan) -> Result<Answer, ProxyError> {
    let mut budget = Budget::new("a derived table materialized across sets");
    let mut text = String::with_capacity(p.sql.len());
    let mut at = 0;
    let mut warnings = 0u16;
    for b in &p.blocks {
        let (table, w) = materialize(exec, &b.sql, &p.probe_set, &mut budget).await?;
        warnings = warnings.saturating_add(w);
        text.push_str(&p.sql[at..b.start]);
        text.push_str(&table);
        if let Some(alias) = &b.alias {
            text.push_str(&format!(" AS `{}`", alias.replace('`', "``")));
        }
        at = b.end;
    }
    text.push_str(&p.sql[at..]);
    // MariaDB's column definitions for the client's statement: one set runs it.
    let mut scratch = Budget::new("the column definitions of a statement over a derived table");
    let want = fetch_on(exec, vec![p.probe_set.clone()], &p.sql, &mut scratch)
        .await?
        .cols;
    drop(scratch);
    let got = fetch_merged(exec, &text, &mut budget).await?;
    columns::agree(&want, &got.cols)?;
    Ok((want, got.rows, warnings.saturating_add(got.warnings)))
}

/// Runs `sql` (a SELECT) as a statement of its own, scattered and merged, and
/// returns its rows as a parenthesized `(SELECT ... FROM JSON_TABLE(...) AS
/// setwise_m)` whose columns have its types ([`columns::table`]; collations
/// read on `probe_set`, which holds its tables), and the warnings it gave.
pub async fn materialize(
    exec: &mut Exec<'_>,
    sql: &str,
    probe_set: &str,
    budget: &mut Budget,
) -> Result<(String, u16), ProxyError> {
    let f = fetch_merged(exec, sql, budget).await?;
    let collated = collations(exec, probe_set, sql, &f.cols).await?;
    let decls = f
        .cols
        .iter()
        .zip(&collated)
        .map(|(c, t)| columns::declared(c, t.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((columns::table(&f.cols, &decls, &f.rows)?, f.warnings))
}

/// The character set and collation of each text column of a block (`None` for
/// other columns), read on the probe set without running the block (`LIMIT 0`).
async fn collations(
    exec: &mut Exec<'_>,
    probe_set: &str,
    block: &str,
    cols: &[Column],
) -> Result<Vec<Option<Collated>>, ProxyError> {
    let texts: Vec<usize> = (0..cols.len())
        .filter(|&i| columns::is_text(&cols[i]))
        .collect();
    let mut out = vec![None; cols.len()];
    if texts.is_empty() {
        return Ok(out);
    }
    let items: Vec<String> = texts
        .iter()
        .map(|&i| {
            let c = format!(
                "setwise_x.`{}`",
                String::from_utf8_lossy(cols[i].name_ref()).replace('`', "``")
            );
            format!("CHARSET({c}), COLLATION({c})")
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM (SELECT 1) AS setwise_one LEFT JOIN (SELECT * FROM ({}) AS setwise_y LIMIT 0) AS setwise_x ON 1",
        items.join(", "),
        block
    );
    let mut budget = Budget::new("the collations of a derived table");
    let f = fetch_on(exec, vec![probe_set.to_string()], &sql, &mut budget).await?;
    let row = f.rows.into_iter().next().unwrap_or_default();
    let word = |v: Option<&Cell>| {
        v.cloned()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    };
    for (k, &i) in texts.iter().enumerate() {
        match (word(row.get(2 * k)), word(row.get(2 * k + 1))) {
            (Some(charset), Some(collation)) => {
                out[i] = Some(Collated { charset, collation })
            }
            _ => {
                return Err(ProxyError::NotSupported(
                    "a derived table over rows of several sets whose text columns' collation could not be read".into(),
                ))
            }
        }
    }
    Ok(out)
}
