//! Lookup join (nested loop by batches): the outer side is read first; its
//! distinct join-key values go to the inner side as `key IN (v1, ..., vn)`
//! batches of `[join] batch` values — routed like any statement, so when the
//! inner key is its table's shard key each batch goes only to the sets owning
//! its values. Inner rows are matched to the outer rows of their key and
//! dropped after each batch.

use std::collections::HashMap;

use super::fetch::fetch;
use super::hash::{joined, null_extended};
use super::key::{literal, Keyer};
use super::output::Emitter;
use super::plan::{JoinKind, TwoSided};
use super::Budget;
use crate::error::ProxyError;
use crate::exec::Exec;
use crate::front::Responder;

/// Runs the join with `outer` read first; returns the sets' warnings, or
/// `None` before any row went out when the keys turn out to compare in the
/// binary one of two collations (`Keyer::reconcile`): the caller runs it as
/// a hash join, which keys both sides alike.
pub async fn run(
    exec: &mut Exec<'_>,
    j: &TwoSided,
    outer: usize,
    em: &mut Emitter<'_>,
    budget: &mut Budget,
    out: &mut Responder<'_>,
) -> Result<Option<u16>, ProxyError> {
    let inner = 1 - outer;
    let o = fetch(exec, &j.sides[outer].sql(None), budget).await?;
    let mut warnings = o.warnings;
    let mut ko = Keyer::new(&j.sides[outer], &o.cols)?;
    let visible = o.cols.len() - j.sides[outer].hidden.len();
    let (kv, _) = j.sides[outer].keys[0];
    let key_col = &o.cols[visible + kv];
    // Distinct keys in first-seen order, each with its outer rows.
    let mut order: Vec<Vec<u8>> = Vec::new();
    let mut rows_of: HashMap<Vec<u8>, (String, Vec<usize>)> = HashMap::new();
    for (i, r) in o.rows.iter().enumerate() {
        let Some(k) = ko.key(r) else { continue };
        let e = rows_of.entry(k.clone()).or_insert_with(|| {
            order.push(k);
            let v = r[visible + kv].as_deref().unwrap_or_default();
            (literal(key_col, v), Vec::new())
        });
        e.1.push(i);
    }
    let preserved = matches!(j.kind, JoinKind::Outer { preserved } if preserved == outer);
    let mut matched = vec![false; if preserved { o.rows.len() } else { 0 }];
    let key_expr = paren(&j.sides[inner].key_exprs[0]);
    let mut inner_width = None;
    // Strings that arrive as binary (character_set_results binary or NULL)
    // cannot be written as literals in their collation: the inner side is
    // read whole, as by a hash join.
    let whole = super::key::kind_of(key_col)? == super::key::KeyKind::Weight
        && super::key::charset_of(key_col) == "binary";
    let mut batches: Vec<&[Vec<u8>]> = order.chunks(j.batch).collect();
    if whole {
        batches = vec![&order[..]];
    }
    if batches.is_empty() {
        // No key: the inner side's column definitions only.
        batches.push(&[]);
    }
    for batch in batches {
        if em.full() {
            break;
        }
        let extra = if whole {
            "1".to_string()
        } else if batch.is_empty() {
            "0".to_string()
        } else {
            let lits: Vec<&str> = batch.iter().map(|k| rows_of[k].0.as_str()).collect();
            format!("{key_expr} IN ({})", lits.join(", "))
        };
        let f = fetch(exec, &j.sides[inner].sql(Some(&extra)), budget).await?;
        tracing::debug!(keys = batch.len(), sets = ?f.sets, rows = f.rows.len(), "lookup join batch");
        warnings = warnings.saturating_add(f.warnings);
        let cols = if outer == 0 {
            [&o.cols, &f.cols]
        } else {
            [&f.cols, &o.cols]
        };
        em.set_layout(cols)?;
        inner_width = Some(f.cols.len());
        let mut ki = Keyer::new(&j.sides[inner], &f.cols)?;
        for r in &f.rows {
            let Some(k) = ki.key(r) else { continue };
            if ki.reconcile(&mut ko) {
                return Ok(None);
            }
            ki.check(&ko)?;
            let Some((_, idx)) = rows_of.get(&k) else {
                continue;
            };
            for &oi in idx {
                if let Some(m) = matched.get_mut(oi) {
                    *m = true;
                }
                let or = &o.rows[oi];
                let row = if outer == 0 {
                    joined(or, r)
                } else {
                    joined(r, or)
                };
                em.push(row, budget, out).await?;
            }
        }
        for r in &f.rows {
            budget.release(r);
        }
    }
    if preserved {
        let w = inner_width.unwrap_or(0);
        for (oi, or) in o.rows.iter().enumerate() {
            if !matched[oi] && !em.full() {
                em.push(null_extended(or, outer, w), budget, out).await?;
            }
        }
    }
    Ok(Some(warnings))
}

/// A key expression safe before `IN`: bare column references as they are.
fn paren(e: &str) -> String {
    let plain = e
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '`' | '$'));
    if plain {
        e.to_string()
    } else {
        format!("({e})")
    }
}
