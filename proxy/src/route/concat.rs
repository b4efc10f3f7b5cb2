//! `GROUP_CONCAT` with ORDER BY and/or DISTINCT across sets.
//!
//! Each set also groups by the concatenated values (and the ORDER BY
//! expressions), so one row carries one distinct element of a group — with
//! `COUNT(*)` of its repetitions unless DISTINCT — sorted by the group keys, the
//! ORDER BY and the values. The merge folds equal (group, element) rows across
//! sets in a first stage, and in the second appends each group's elements in
//! that order, then cuts the list at the session's `group_concat_max_len`
//! (read from each set as a helper column) with warning 1260, as MariaDB does.
//!
//! Non-DISTINCT elements are told apart byte for byte (`CAST(x AS BINARY)`), so
//! 'a' and 'A' both appear; DISTINCT ones under the collation, and only when
//! the ORDER BY is on the concatenated values (otherwise MariaDB's choice of
//! which row's order key to keep is unspecified).

use super::aggs::ConcatCall;
use super::scatter::{normalize, unsupported, Hidden};
use crate::error::ProxyError;
use crate::merge::{AggSpec, KeySpec};

/// What the per-set statement and the merge need for one ordered concat.
pub(super) struct SubGroup {
    /// Keys after the group keys (first merge stage).
    pub keys: Vec<KeySpec>,
    /// Expressions added to each set's GROUP BY.
    pub group_by: Vec<String>,
    /// Expressions added to each set's ORDER BY (with DESC).
    pub order_by: Vec<String>,
    /// The item's spec in the final stage.
    pub spec: AggSpec,
    /// Helper specs (the same in both stages).
    pub helpers: Vec<(usize, AggSpec)>,
}

/// Plans the sub-grouping of one ordered / distinct `GROUP_CONCAT`.
pub(super) fn plan(call: &ConcatCall, hidden: &mut Hidden) -> Result<SubGroup, ProxyError> {
    let mut sub = SubGroup {
        keys: Vec::new(),
        group_by: Vec::new(),
        order_by: Vec::new(),
        spec: AggSpec::Any,
        helpers: Vec::new(),
    };
    let key = |text: &str, desc: bool, hidden: &mut Hidden, sub: &mut SubGroup| -> usize {
        let value = hidden.add(format!("({text})"));
        let weight = hidden.add(format!("WEIGHT_STRING({text})"));
        sub.keys.push(KeySpec {
            value,
            weight: Some(weight),
            desc,
        });
        sub.order_by
            .push(format!("{text}{}", if desc { " DESC" } else { "" }));
        value
    };
    let arg_norm: Vec<String> = call.args.iter().map(|a| normalize(a)).collect();
    for (text, desc) in &call.order {
        if call.distinct && !arg_norm.contains(&normalize(text)) {
            return Err(unsupported(
                "GROUP_CONCAT(DISTINCT ... ORDER BY an expression that is not concatenated)",
            ));
        }
        key(text, *desc, hidden, &mut sub);
        sub.group_by.push(text.clone());
    }
    let mut args = Vec::new();
    for a in &call.args {
        let value = key(a, false, hidden, &mut sub);
        args.push(value);
        if call.distinct {
            if !sub.group_by.iter().any(|g| normalize(g) == normalize(a)) {
                sub.group_by.push(a.clone());
            }
        } else {
            // Byte for byte: 'a' and 'A' are two elements.
            sub.group_by.push(a.clone());
            let bin = format!("CAST({a} AS BINARY)");
            let b = hidden.add(format!("({bin})"));
            sub.keys.push(KeySpec {
                value: b,
                weight: None,
                desc: false,
            });
            sub.order_by.push(bin.clone());
            sub.group_by.push(bin);
        }
    }
    let count = (!call.distinct).then(|| hidden.add("COUNT(*)".into()));
    if let Some(c) = count {
        sub.helpers.push((c, AggSpec::Count));
    }
    let max_len = hidden.add("@@group_concat_max_len".into());
    sub.spec = AggSpec::OrderedConcat {
        args,
        count,
        sep: call.sep.clone(),
        max_len,
    };
    Ok(sub)
}
