//! Hash join: both sides read once (each a normal routed query, every set at
//! once), a hash table built on the side with fewer rows, probed with the
//! other. An outer join's preserved rows without a match come out
//! null-extended, whichever side was built.

use std::collections::HashMap;

use super::fetch::{fetch, finish, recover, route, start};
use super::key::Keyer;
use super::output::Emitter;
use super::plan::{JoinKind, TwoSided};
use super::Budget;
use crate::error::ProxyError;
use crate::exec::Exec;
use crate::front::Responder;
use crate::merge::value::Cell;

/// Runs the join; returns the sets' warnings.
pub async fn run(
    exec: &mut Exec<'_>,
    j: &TwoSided,
    em: &mut Emitter<'_>,
    budget: &mut Budget,
    out: &mut Responder<'_>,
) -> Result<u16, ProxyError> {
    let sql = [j.sides[0].sql(None), j.sides[1].sql(None)];
    let ((c0, rows0, w0), (c1, rows1, w1)) = if exec.txn.is_some() {
        // A transaction has one connection per set: one side after the other.
        let a = fetch(exec, &sql[0], budget).await?;
        let b = fetch(exec, &sql[1], budget).await?;
        ((a.cols, a.rows, a.warnings), (b.cols, b.rows, b.warnings))
    } else {
        both(exec, &sql, budget).await?
    };
    let mut k0 = Keyer::new(&j.sides[0], &c0)?;
    let mut k1 = Keyer::new(&j.sides[1], &c1)?;
    em.set_layout([&c0, &c1])?;
    let widths = [c0.len(), c1.len()];
    let rows = [rows0, rows1];
    let build = usize::from(rows[1].len() < rows[0].len());
    let probe = 1 - build;
    let keyed = |k0: &mut Keyer, k1: &mut Keyer| {
        let mut keyers = [k0, k1];
        let mut table: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, r) in rows[build].iter().enumerate() {
            if let Some(k) = keyers[build].key(r) {
                table.entry(k).or_default().push(i);
            }
        }
        // Probe keys first, so both sides' collations are known before any row goes out.
        let probe_keys: Vec<Option<Vec<u8>>> =
            rows[probe].iter().map(|r| keyers[probe].key(r)).collect();
        (table, probe_keys)
    };
    let (mut table, mut probe_keys) = keyed(&mut k0, &mut k1);
    if k0.reconcile(&mut k1) {
        // Keys of two collations that MariaDB compares in the binary one.
        (table, probe_keys) = keyed(&mut k0, &mut k1);
    }
    k0.check(&k1)?;
    let preserved = match j.kind {
        JoinKind::Outer { preserved } => Some(preserved),
        JoinKind::Inner => None,
    };
    let mut matched = vec![
        false;
        if preserved == Some(build) {
            rows[build].len()
        } else {
            0
        }
    ];
    for (pi, pr) in rows[probe].iter().enumerate() {
        if em.full() {
            break;
        }
        let hits = probe_keys[pi].as_ref().and_then(|k| table.get(k));
        match hits {
            Some(hits) => {
                for &bi in hits {
                    if let Some(m) = matched.get_mut(bi) {
                        *m = true;
                    }
                    let br = &rows[build][bi];
                    let row = if probe == 0 {
                        joined(pr, br)
                    } else {
                        joined(br, pr)
                    };
                    em.push(row, budget, out).await?;
                }
            }
            None if preserved == Some(probe) => {
                let row = null_extended(pr, probe, widths[build]);
                em.push(row, budget, out).await?;
            }
            None => {}
        }
    }
    if preserved == Some(build) {
        for (bi, br) in rows[build].iter().enumerate() {
            if !matched[bi] && !em.full() {
                let row = null_extended(br, build, widths[probe]);
                em.push(row, budget, out).await?;
            }
        }
    }
    Ok(w0.saturating_add(w1))
}

type Read = (
    std::sync::Arc<[mysql_common::packets::Column]>,
    Vec<Vec<Cell>>,
    u16,
);

/// Both sides at once (every set of both queries in flight).
async fn both(
    exec: &mut Exec<'_>,
    sql: &[String; 2],
    budget: &mut Budget,
) -> Result<(Read, Read), ProxyError> {
    let sets = [route(exec, &sql[0])?, route(exec, &sql[1])?];
    let s0 = start(exec, &sets[0], &sql[0]).await?;
    let s1 = match start(exec, &sets[1], &sql[1]).await {
        Ok(s) => s,
        Err(e) => {
            recover(exec, s0).await;
            return Err(e);
        }
    };
    let r0 = match finish(exec, s0, budget).await {
        Ok(r) => r,
        Err(e) => {
            recover(exec, s1).await;
            return Err(e);
        }
    };
    let r1 = finish(exec, s1, budget).await?;
    Ok((r0, r1))
}

/// Side 0's row then side 1's.
pub fn joined(a: &[Cell], b: &[Cell]) -> Vec<Cell> {
    let mut r = Vec::with_capacity(a.len() + b.len());
    r.extend_from_slice(a);
    r.extend_from_slice(b);
    r
}

/// A row of side `side` with NULLs for the other side's `width` columns.
pub fn null_extended(row: &[Cell], side: usize, width: usize) -> Vec<Cell> {
    let nulls = vec![None; width];
    if side == 0 {
        joined(row, &nulls)
    } else {
        joined(&nulls, row)
    }
}
