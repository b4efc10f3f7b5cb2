//! `GROUP BY ... WITH ROLLUP` across sets, as the grouped planner
//! (`scatter`) sees it: which statements the merge can roll up
//! (`merge::rollup` adds the rows), and where the client's column definitions
//! come from.

use super::hidden::unsupported;
use super::select::{apply_edits, Shape};
use crate::error::ProxyError;
use crate::merge::{AggSpec, KeySpec};

/// Whether a `GROUP BY ... WITH ROLLUP` can be re-aggregated by the merge:
/// every select item a group key or an aggregate the merge folds (or an
/// expression over such aggregates), no ORDER BY (MariaDB refuses it), no
/// two-stage grouping, no GROUP_CONCAT.
pub(super) fn check(
    sh: &Shape,
    aggs: &[AggSpec],
    keys: &[KeySpec],
    staged: bool,
    computed: &[usize],
) -> Result<(), ProxyError> {
    if !sh.order_by.is_empty() {
        return Err(ProxyError::Backend {
            code: 1221,
            state: "HY000".into(),
            message: "Incorrect usage of CUBE/ROLLUP and ORDER BY".into(),
        });
    }
    if staged {
        return Err(unsupported(
            "WITH ROLLUP with COUNT(DISTINCT ...) or GROUP_CONCAT(... ORDER BY / DISTINCT ...)",
        ));
    }
    for (i, a) in aggs.iter().enumerate().take(sh.items.len()) {
        match a {
            AggSpec::Any if !keys.iter().any(|k| k.value == i) && !computed.contains(&i) => {
                return Err(unsupported(
                    "WITH ROLLUP with a select item that is neither a GROUP BY column nor an aggregate",
                ))
            }
            AggSpec::Concat { .. } | AggSpec::OrderedConcat { .. } => {
                return Err(unsupported("WITH ROLLUP with GROUP_CONCAT() / JSON_ARRAYAGG()"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The statement whose column definitions the client sees: its own, with
/// LIMIT 0, on one set. MariaDB builds ROLLUP rows in its own temporary table,
/// with other column flags than the sets' plain grouping.
pub(super) fn columns_sql(sql: &str, sh: &Shape) -> String {
    match sh.limit_span {
        Some((s, e)) => apply_edits(sql, vec![(s, e, " LIMIT 0".to_string())]),
        None => format!("{} LIMIT 0", sql.trim_end().trim_end_matches(';')),
    }
}
