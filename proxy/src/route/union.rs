//! A UNION whose branches read rows of several sets.
//!
//! * `UNION ALL` of plain scans over sharded tables with the same sets: each row
//!   lives on exactly one set, so the sets' answers concatenate.
//! * `UNION` (distinct): each set runs the whole union (de-duplicating its own
//!   rows) inside a CTE that names the columns `__c0..`, and adds
//!   `WEIGHT_STRING(__cK)` of each column, sorted by the union's ORDER BY and then
//!   every column; the gateway merges the sorted streams and folds rows equal
//!   under MariaDB's comparison (collation weights, PAD SPACE) into one. The
//!   client sees the column definitions of the union itself (its text with
//!   `LIMIT 0`, run on one set), since the CTE renames the columns.
//!
//! Branches with aggregates, GROUP BY or HAVING would be computed per set and are
//! refused, as are single tables (on one set only).
//! * `UNION ALL` after a `UNION`: as a distinct UNION whose `UNION ALL` rows
//!   are tagged so that they never fold (see `union_mixed`).
//! * `UNION ALL` with ORDER BY or LIMIT: as a distinct UNION (each set sorts, the
//!   gateway merges the sorted streams and applies OFFSET/LIMIT) without folding;
//!   rows equal in the ORDER BY come in the order of their other columns.

use sqlparser::ast::{GroupByExpr, Query, Select, SetExpr, SetOperator, SetQuantifier};

use super::aggs::outer_aggregates;
use super::hidden::{normalize, resolve};
use super::place::{all_sets, single, Ctx, Placement};
use super::planned::{Merge, Plan, Target};
use super::select::{parse_limit, shape, split_items, Item};
use super::target_sets::target_sets;
use crate::error::ProxyError;
use crate::merge::collate::weight_sql;
use crate::merge::{AggSpec, KeySpec, MergeSpec, HIDDEN_MARK};
use crate::sql::lexer::{top_level_words, Token};

fn refuse<T>(why: &str) -> Result<T, ProxyError> {
    Err(ProxyError::NotSupported(format!(
        "UNION across sets ({why})"
    )))
}

/// The branches (plain SELECTs) of a union tree; false when a part is not one.
fn leaves<'q>(e: &'q SetExpr, out: &mut Vec<&'q Select>, all: &mut bool) -> bool {
    match e {
        SetExpr::Select(s) => {
            out.push(s);
            true
        }
        SetExpr::Query(q) if q.order_by.is_none() && q.limit_clause.is_none() => {
            leaves(&q.body, out, all)
        }
        SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier,
            left,
            right,
        } => {
            *all &= matches!(set_quantifier, SetQuantifier::All);
            leaves(left, out, all) && leaves(right, out, all)
        }
        _ => false,
    }
}

/// Plans a UNION: one set when every branch is on it, else see the module doc.
pub(super) fn plan_union(
    ctx: &Ctx<'_>,
    sql: &str,
    tokens: &[Token],
    q: &Query,
) -> Result<Plan, ProxyError> {
    let mut sel = Vec::new();
    let mut all = true;
    let simple = leaves(&q.body, &mut sel, &mut all);
    if !simple {
        // INTERSECT, EXCEPT, a parenthesized branch with its own ORDER BY /
        // LIMIT: on one set only, where every table it reads is.
        let a = super::analyze::analyze_node(q);
        match target_sets(ctx, &a.tables, None, false, None) {
            Ok((sets, _)) if sets.len() <= 1 => return single(sets, ctx),
            Ok(_) | Err(ProxyError::NotSupported(_)) => {}
            Err(e) => return Err(e),
        }
        return refuse(
            "only UNION [ALL] of plain SELECTs: not INTERSECT, EXCEPT or a branch with its own ORDER BY or LIMIT",
        );
    }
    // A distinct UNION at the top de-duplicates everything to its left too.
    let distinct = matches!(
        q.body.as_ref(),
        SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier: SetQuantifier::Distinct | SetQuantifier::None,
            ..
        }
    );
    let mut union: Vec<String> = Vec::new();
    let mut per_leaf = Vec::new();
    for s in &sel {
        let a = super::analyze::analyze_node(*s);
        let (sets, _) = target_sets(ctx, &a.tables, s.selection.as_ref(), false, None)?;
        for set in &sets {
            if !union.contains(set) {
                union.push(set.clone());
            }
        }
        per_leaf.push((a, s));
    }
    if union.len() <= 1 {
        return single(union, ctx);
    }
    // `a UNION b UNION ALL c`: the branches from `first_all` on keep their
    // duplicates (see `union_mixed`).
    let mut first_all = None;
    if !all && !distinct {
        let body = split(sql, tokens)?.body;
        first_all = super::union_mixed::first_all_branch(sql, tokens, body, sel.len());
        if first_all.is_none() {
            return refuse("UNION ALL after a UNION, in parentheses");
        }
    }
    if !all && (q.with.is_some() || q.fetch.is_some()) {
        return refuse("WITH or FETCH on a UNION");
    }
    // `UNION ALL ... ORDER BY / LIMIT`: every row kept, merged in order.
    let sorted_all = all && (q.order_by.is_some() || q.limit_clause.is_some());
    if sorted_all && (q.with.is_some() || q.fetch.is_some()) {
        return refuse("WITH or FETCH on a UNION ALL with ORDER BY or LIMIT");
    }
    let mut common: Option<Vec<String>> = None;
    let mut broadcast: Vec<Vec<String>> = Vec::new();
    for (b, (a, s)) in per_leaf.iter().enumerate() {
        // A branch whose rows are all kept: no duplicates may come from sets.
        let all = all || first_all.is_some_and(|f| b >= f);
        let plain = matches!(&s.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
            && s.having.is_none()
            && !outer_aggregates(s)
            && (s.distinct.is_none() || !all);
        if !plain {
            return refuse("a branch with aggregates, GROUP BY or HAVING");
        }
        if a.tables.is_empty() && all {
            return refuse("a branch without a table, which every set would answer");
        }
        for t in &a.tables {
            match ctx.place(t)? {
                Placement::Sharded { map, .. } => {
                    let sets = all_sets(map);
                    match &common {
                        None => common = Some(sets),
                        Some(c) if *c == sets => {}
                        Some(_) => return refuse("branches over tables spread on different sets"),
                    }
                }
                // Every set has a copy: duplicates go with the de-duplication.
                Placement::Broadcast(sets) if !all => broadcast.push(sets),
                Placement::Anywhere if !all => {}
                _ => return refuse("a branch reading a broadcast or single table"),
            }
        }
    }
    let sets = common.unwrap_or(union);
    if broadcast
        .iter()
        .any(|b| sets.iter().any(|s| !b.contains(s)))
    {
        return refuse("a broadcast table missing from some of the sets");
    }
    if all && !sorted_all {
        return Ok(Plan {
            target: Target::Sets(sets),
            merge: Merge::Concat,
        });
    }
    let spec = plan_sorted(sql, tokens, first_all, !all)?;
    Ok(Plan {
        target: Target::Sets(sets),
        merge: Merge::Merged(Box::new(spec)),
    })
}

/// The union's text split at the top level: its first branch's tokens, the body
/// (every branch), and the trailing ORDER BY / LIMIT of the whole union.
struct Parts<'t> {
    first: &'t [Token],
    body: (usize, usize),
    order_by: Vec<Item>,
    limit: Option<(u64, u64)>,
    /// Where the statement ends before its top-level LIMIT (its ORDER BY kept).
    before_limit: usize,
}

fn split<'t>(sql: &str, tokens: &'t [Token]) -> Result<Parts<'t>, ProxyError> {
    let mut depth = 0i32;
    let mut first_union = None;
    let mut last_union = None;
    for (i, t) in tokens.iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && t.is_word(sql, "UNION") {
            first_union.get_or_insert(i);
            last_union = Some(i);
        }
    }
    let (Some(first_union), Some(last_union)) = (first_union, last_union) else {
        return refuse("this form of UNION");
    };
    let sig: Vec<&Token> = tokens[last_union..]
        .iter()
        .filter(|t| !t.is_trivia() && !t.is_punct(sql, ";"))
        .collect();
    let Some(first_sig) = tokens.iter().find(|t| !t.is_trivia()) else {
        return refuse("this form of UNION");
    };
    let end = sig.last().map_or(sql.len(), |t| t.end);
    // Top-level ORDER BY / LIMIT after the last branch.
    let mut order_at = None;
    let mut limit_at = None;
    for (j, w) in top_level_words(sql, sig.iter().copied()) {
        match w.as_str() {
            "ORDER" if sig.get(j + 1).is_some_and(|n| n.is_word(sql, "BY")) => order_at = Some(j),
            "LIMIT" => limit_at = Some(j),
            "INTO" | "PROCEDURE" | "FOR" | "LOCK" | "OFFSET" | "FETCH"
                if w != "OFFSET" || limit_at.is_none() =>
            {
                return refuse(&format!("{w} on the union"));
            }
            _ => {}
        }
    }
    let tail_start = order_at.or(limit_at);
    let body_end = match tail_start {
        Some(j) => sig[j - 1].end,
        None => end,
    };
    let order_by = match order_at {
        Some(j) => split_items(sql, &sig[j + 2..limit_at.unwrap_or(sig.len())], true),
        None => Vec::new(),
    };
    let limit = match limit_at {
        Some(j) => Some(parse_limit(sql, &sig[j + 1..]).ok_or_else(|| {
            ProxyError::NotSupported("a LIMIT that is not literal numbers".into())
        })?),
        None => None,
    };
    let before_limit = match limit_at {
        Some(j) => sig[j - 1].end,
        None => end,
    };
    Ok(Parts {
        first: &tokens[..first_union],
        body: (first_sig.start, body_end),
        order_by,
        limit,
        before_limit,
    })
}

/// The merge of a distinct UNION (`dedup`), or of a `UNION ALL` with ORDER BY or
/// LIMIT (every row kept): each set sorts its rows by the union's ORDER BY and then
/// every column, the gateway merges the sorted streams (see the module doc).
fn plan_sorted(
    sql: &str,
    tokens: &[Token],
    first_all: Option<usize>,
    dedup: bool,
) -> Result<MergeSpec, ProxyError> {
    let parts = split(sql, tokens)?;
    // `(SELECT ...) UNION ...`: the first branch inside its parentheses.
    let mut first_toks = parts.first;
    while let Some(open) = first_toks.iter().position(|t| !t.is_trivia()) {
        if !first_toks[open].is_punct(sql, "(") {
            break;
        }
        let close = first_toks.iter().rposition(|t| t.is_punct(sql, ")"));
        match close {
            Some(c) if c > open => first_toks = &first_toks[open + 1..c],
            _ => break,
        }
    }
    let first = shape(sql, first_toks).ok_or_else(|| {
        ProxyError::NotSupported("UNION across sets whose first branch is parenthesized".into())
    })?;
    let items = &first.items;
    let n = items.len();
    if items
        .iter()
        .any(|i| sql[i.expr.0..i.expr.1].trim_end().ends_with('*'))
    {
        return refuse("SELECT * in the first branch of a UNION merged in order");
    }
    // Sort keys: the union's ORDER BY, then every other column (equal rows are
    // then neighbours in every set's stream and in the merge).
    let mut keys: Vec<KeySpec> = Vec::new();
    for it in &parts.order_by {
        let text = sql[it.expr.0..it.expr.1].trim();
        let col = resolve(sql, it, items).or_else(|| {
            // A column name: the first branch's `t.col`.
            let t = normalize(text);
            items.iter().position(|s| {
                let e = normalize(&sql[s.expr.0..s.expr.1]);
                e.rsplit('.').next() == Some(t.as_str())
            })
        });
        let Some(col) = col else {
            return refuse("ORDER BY an expression that is not a column of the union");
        };
        if !keys.iter().any(|k| k.value == col) {
            keys.push(KeySpec {
                value: col,
                weight: Some(HIDDEN_MARK + col),
                desc: it.desc,
            });
        }
    }
    for col in 0..n {
        if !keys.iter().any(|k| k.value == col) {
            keys.push(KeySpec {
                value: col,
                weight: Some(HIDDEN_MARK + col),
                desc: false,
            });
        }
    }
    let mut names: Vec<String> = (0..n).map(|i| format!("`__c{i}`")).collect();
    let mut weights: Vec<String> = (0..n)
        .map(|i| format!("{} AS `__sw{i}`", weight_sql(&format!("`__c{i}`"))))
        .collect();
    let mut order: Vec<String> = keys
        .iter()
        .map(|k| format!("`__c{}`{}", k.value, if k.desc { " DESC" } else { "" }))
        .collect();
    let raw_body = &sql[parts.body.0..parts.body.1];
    let body = match first_all {
        Some(f) => {
            // The tag (see `union_mixed`): the last key, after the weights.
            names.push("`__swt`".into());
            weights.push("`__swt`".into());
            order.push("`__swt`".into());
            keys.push(KeySpec {
                value: HIDDEN_MARK + n,
                weight: None,
                desc: false,
            });
            super::union_mixed::tagged_body(sql, tokens, parts.body, f)
                .ok_or_else(|| ProxyError::NotSupported("UNION across sets (this branch)".into()))?
        }
        None => raw_body.to_string(),
    };
    let hidden = weights.len();
    let (offset, limit) = match parts.limit {
        Some((o, c)) => (o, Some(c)),
        None => (0, None),
    };
    let mut per_set = format!(
        "WITH `__swu`({}) AS ({body}) SELECT {}, {} FROM `__swu` ORDER BY {}",
        names.join(", "),
        names[..n].join(", "),
        weights.join(", "),
        order.join(", ")
    );
    if let Some(c) = limit {
        per_set.push_str(&format!(" LIMIT {}", offset.saturating_add(c)));
    }
    Ok(MergeSpec {
        sql: per_set,
        // A UNION ALL's column definitions depend on its ORDER BY (MariaDB keeps
        // the columns' origins when it sorts the whole union): ask with it.
        columns_sql: Some(if dedup {
            format!("{raw_body} LIMIT 0")
        } else {
            format!("{} LIMIT 0", &sql[parts.body.0..parts.before_limit])
        }),
        visible: n,
        hidden,
        keys: keys
            .into_iter()
            .map(|k| KeySpec {
                value: if k.value >= HIDDEN_MARK {
                    k.value - HIDDEN_MARK + n
                } else {
                    k.value
                },
                weight: k.weight.map(|w| w - HIDDEN_MARK + n),
                ..k
            })
            .collect(),
        group: dedup.then(|| vec![AggSpec::Any; n + hidden]),
        offset,
        limit,
        ..MergeSpec::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    #[test]
    fn distinct_union_per_set_statement() {
        let sql = "SELECT name AS n, u.city FROM users u UNION SELECT k, v FROM (SELECT 1) x ORDER BY city DESC, 1 LIMIT 2, 3";
        let spec = plan_sorted(sql, &tokenize(sql).unwrap(), None, true).unwrap();
        assert_eq!(
            spec.sql,
            format!("WITH `__swu`(`__c0`, `__c1`) AS (SELECT name AS n, u.city FROM users u UNION SELECT k, v FROM (SELECT 1) x) \
             SELECT `__c0`, `__c1`, {} AS `__sw0`, {} AS `__sw1` \
             FROM `__swu` ORDER BY `__c1` DESC, `__c0` LIMIT 5",
            weight_sql("`__c0`"),
            weight_sql("`__c1`")
        )
        );
        assert_eq!(
            spec.columns_sql.as_deref(),
            Some(
                "SELECT name AS n, u.city FROM users u UNION SELECT k, v FROM (SELECT 1) x LIMIT 0"
            )
        );
        assert_eq!((spec.offset, spec.limit), (2, Some(3)));
        assert_eq!(spec.keys[0].value, 1);
        assert_eq!(spec.keys[0].weight, Some(3));
        assert!(spec.keys[0].desc);
    }
}
