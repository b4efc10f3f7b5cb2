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
//! `JSON_ARRAYAGG` goes the same way; each set renders its sub-group's element
//! (`JSON_ARRAYAGG(x LIMIT 1)` in place of the call), see `merge::json`.
//!
//! Non-DISTINCT elements are told apart byte for byte (`CAST(x AS BINARY)`), so
//! 'a' and 'A' both appear; DISTINCT ones under the collation, and only when
//! the ORDER BY is on the concatenated values (otherwise MariaDB's choice of
//! which row's order key to keep is unspecified).

use super::aggs::ConcatCall;
use super::hidden::{normalize, unsupported, Hidden};
use crate::error::ProxyError;
use crate::merge::collate::weight_sql;
use crate::merge::json::JsonList;
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
    /// The call each set runs in place of the client's: only its column
    /// definition is used (an empty list), or for `JSON_ARRAYAGG` the element.
    pub call: String,
}

/// Plans the sub-grouping of one ordered / distinct `GROUP_CONCAT`.
pub(super) fn plan(call: &ConcatCall, hidden: &mut Hidden) -> Result<SubGroup, ProxyError> {
    let mut sub = SubGroup {
        keys: Vec::new(),
        group_by: Vec::new(),
        order_by: Vec::new(),
        spec: AggSpec::Any,
        helpers: Vec::new(),
        call: String::new(),
    };
    let key = |text: &str, desc: bool, hidden: &mut Hidden, sub: &mut SubGroup| -> usize {
        let value = hidden.add(format!("({text})"));
        let weight = hidden.add(weight_sql(text));
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
        let name = if call.json {
            "JSON_ARRAYAGG"
        } else {
            "GROUP_CONCAT"
        };
        if call.distinct && !arg_norm.contains(&normalize(text)) {
            return Err(unsupported(&format!(
                "{name}(DISTINCT ... ORDER BY an expression that is not concatenated)"
            )));
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
    let json = call.json.then(|| {
        let x = &call.args[0];
        let bound = hidden.add(format!("MAX(LENGTH({x}))"));
        sub.helpers.push((bound, AggSpec::Max { weight: None }));
        sub.call = format!("JSON_ARRAYAGG({x} LIMIT 1)");
        JsonList {
            limit: call.limit,
            seen: hidden.add("0".into()),
            bound,
        }
    });
    if !call.json {
        let empty: Vec<String> = call.args.iter().map(|a| format!("LEFT({a}, 0)")).collect();
        sub.call = format!("GROUP_CONCAT({} LIMIT 0)", empty.join(", "));
    }
    sub.spec = AggSpec::OrderedConcat {
        args,
        count,
        sep: call.sep.clone(),
        max_len,
        json,
    };
    Ok(sub)
}

/// The argument and ORDER BY texts of a `GROUP_CONCAT` / `JSON_ARRAYAGG`
/// call as the client wrote them (`call_sql`: the call's text), in place of
/// sqlparser's renderings (which lose escapes in string literals: `'\\'`).
/// `None` when the call does not read as expected.
pub(super) fn source_texts(call_sql: &str) -> Option<(Vec<String>, Vec<String>)> {
    use crate::sql::lexer::{significant, tokenize};
    let toks = significant(&tokenize(call_sql).ok()?);
    let open = toks.iter().position(|t| t.is_punct(call_sql, "("))?;
    if !toks.last()?.is_punct(call_sql, ")") {
        return None;
    }
    let inner = &toks[open + 1..toks.len() - 1];
    let (mut args, mut order) = (Vec::new(), Vec::new());
    let mut in_order = false;
    let mut depth = 0i32;
    let mut start: Option<usize> = None;
    let mut k = 0;
    let text = |a: usize, b: usize| call_sql[inner[a].start..inner[b].end].to_string();
    let mut close = |start: &mut Option<usize>, end: usize, in_order: bool| {
        if let Some(s) = start.take() {
            let mut e = end;
            if in_order
                && e > s
                && ["ASC", "DESC"]
                    .iter()
                    .any(|w| inner[e].is_word(call_sql, w))
            {
                e -= 1;
            }
            let t = text(s, e);
            if in_order {
                order.push(t)
            } else {
                args.push(t)
            }
        }
    };
    while k < inner.len() {
        let t = &inner[k];
        if t.is_punct(call_sql, "(") {
            depth += 1;
        } else if t.is_punct(call_sql, ")") {
            depth -= 1;
        } else if depth == 0 {
            if k == 0 && t.is_word(call_sql, "DISTINCT") {
                k += 1;
                continue;
            }
            if t.is_punct(call_sql, ",") {
                close(&mut start, k.checked_sub(1)?, in_order);
                k += 1;
                continue;
            }
            let by = inner.get(k + 1).is_some_and(|n| n.is_word(call_sql, "BY"));
            if t.is_word(call_sql, "ORDER") && by {
                close(&mut start, k.checked_sub(1)?, in_order);
                in_order = true;
                k += 2;
                continue;
            }
            if t.is_word(call_sql, "SEPARATOR") || t.is_word(call_sql, "LIMIT") {
                close(&mut start, k.checked_sub(1)?, in_order);
                break;
            }
        }
        start.get_or_insert(k);
        k += 1;
    }
    if k == inner.len() {
        close(&mut start, k.checked_sub(1)?, in_order);
    }
    Some((args, order))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_client_texts() {
        let (a, o) = super::source_texts(
            r"JSON_ARRAYAGG(DISTINCT CONCAT(x, '\\', f(a, b)) ORDER BY y DESC, LOWER(z) LIMIT 3)",
        )
        .unwrap();
        assert_eq!(a, vec![r"CONCAT(x, '\\', f(a, b))"]);
        assert_eq!(o, vec!["y", "LOWER(z)"]);
        let (a, o) = super::source_texts("GROUP_CONCAT(a, '-', b SEPARATOR ';')").unwrap();
        assert_eq!(a, vec!["a", "'-'", "b"]);
        assert!(o.is_empty());
    }
}
