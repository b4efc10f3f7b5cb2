//! `EXPLAIN SETWISE` while slots move: the text of each `send` step is the one
//! the executor sends that set, with the orphan filter
//! ([`crate::orphans::text_for`]) applied — the `NOT IFNULL(slot(key) BETWEEN
//! ..., 0)` conditions that hide rows the set holds without owning them — or the
//! filter's refusal (1235), as running the statement would give.

use topo::ClusterSnapshot;

use super::Step;
use crate::error::ProxyError;

/// Rewrites the detail of every `send` step to a set as that set gets it.
pub fn filter_sends(
    steps: &mut [Step],
    snap: &ClusterSnapshot,
    session_db: Option<&str>,
) -> Result<(), ProxyError> {
    if snap.moving.is_empty() {
        return Ok(());
    }
    for s in steps
        .iter_mut()
        .filter(|s| s.action == "send" && snap.sets.contains_key(&s.on))
    {
        if let std::borrow::Cow::Owned(text) =
            crate::orphans::text_for(snap, session_db, &s.on, &s.detail)?
        {
            s.detail = text;
        }
    }
    Ok(())
}

/// `send` steps for a join's side query `sql` on `sets` where the filter changes
/// its text (the join's own steps show it unfiltered).
pub fn side_sends(
    snap: &ClusterSnapshot,
    session_db: Option<&str>,
    sets: &[String],
    sql: &str,
) -> Result<Vec<Step>, ProxyError> {
    let mut out = Vec::new();
    if snap.moving.is_empty() {
        return Ok(out);
    }
    for set in sets {
        if let std::borrow::Cow::Owned(text) = crate::orphans::text_for(snap, session_db, set, sql)?
        {
            out.push(Step {
                on: set.clone(),
                action: "send".into(),
                detail: text,
            });
        }
    }
    Ok(out)
}
