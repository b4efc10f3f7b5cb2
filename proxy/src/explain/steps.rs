//! A plan as the rows of `EXPLAIN SETWISE`: each set's text, then each step the
//! gateway takes with the answers.

use crate::merge::{AggSpec, KeySpec, MergeSpec, HIDDEN_MARK};
use crate::route::plan::{Merge, Plan, Target};

/// One row of `EXPLAIN SETWISE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Where the step runs: a set's name, or `gateway`.
    pub on: String,
    /// What it does: `send`, `concat`, `merge sort`, `group`, `limit`, ...
    pub action: String,
    /// The text sent, or the step's parameters.
    pub detail: String,
}

fn step(on: &str, action: &str, detail: impl Into<String>) -> Step {
    Step {
        on: on.to_string(),
        action: action.to_string(),
        detail: detail.into(),
    }
}

/// The steps of `plan` for the statement `sql`. `two_phase`: the write runs as one
/// distributed (XA) transaction of its own (an autocommit write on several sets).
pub fn steps(plan: &Plan, sql: &str, two_phase: bool) -> Vec<Step> {
    let mut out = Vec::new();
    let texts: Vec<(&str, &str)> = match &plan.target {
        Target::Sets(sets) => {
            let text = match &plan.merge {
                Merge::Merged(spec) => spec.sql.as_str(),
                _ => sql,
            };
            sets.iter().map(|s| (s.as_str(), text)).collect()
        }
        Target::PerSet(parts) => parts
            .iter()
            .map(|(s, q)| (s.as_str(), q.as_str()))
            .collect(),
    };
    for (set, text) in &texts {
        out.push(step(set, "send", *text));
    }
    let several = texts.len() > 1;
    match &plan.merge {
        Merge::Single => {
            out.push(step("gateway", "pass through", "the set's answer as it is"));
        }
        Merge::Concat => {
            out.push(step(
                "gateway",
                "concat",
                "rows of each set one after another, column definitions of the first",
            ));
        }
        Merge::SumAffected if several => {
            out.push(step(
                "gateway",
                "sum affected",
                "affected rows and info counters of every set added up",
            ));
        }
        Merge::SumAffected => {
            out.push(step("gateway", "pass through", "the set's answer as it is"));
        }
        Merge::Replicated => {
            out.push(step(
                "gateway",
                "replicated",
                "the same write on every copy of a broadcast table; one set's answer",
            ));
        }
        Merge::Merged(spec) => merged(spec, &mut out),
        Merge::Join(j) => {
            // The join's own steps: each side's query (routed like any
            // statement), then what the gateway does with their rows.
            out.retain(|s| s.action != "send");
            for line in j.describe() {
                let line = line.trim();
                let (action, detail) = match line.split_once(": ") {
                    Some((a, d)) => (a, d),
                    None => (line, ""),
                };
                out.push(step("gateway", action, detail));
            }
        }
    }
    if two_phase {
        out.push(step(
            "gateway",
            "two-phase commit",
            "XA PREPARE on every set, the decision written to etcd, then XA COMMIT",
        ));
    }
    out
}

fn merged(spec: &MergeSpec, out: &mut Vec<Step>) {
    if let Some(q) = &spec.columns_sql {
        out.push(step("gateway", "column definitions", q.clone()));
    }
    if spec.keys.is_empty() {
        out.push(step(
            "gateway",
            "concat",
            "rows of each set one after another",
        ));
    } else {
        out.push(step("gateway", "merge sort", keys(&spec.keys)));
    }
    if let Some(pre) = &spec.pre_group {
        out.push(step(
            "gateway",
            "group (distinct stage)",
            format!("{} on {}", aggs(pre), keys(&spec.keys)),
        ));
    }
    if let Some(group) = &spec.group {
        let on = spec.group_keys.as_deref().unwrap_or(&spec.keys);
        let on = if on.is_empty() {
            "one group of all rows".to_string()
        } else {
            format!("by {}", keys(on))
        };
        out.push(step("gateway", "group", format!("{on}: {}", aggs(group))));
    }
    if spec.rollup {
        out.push(step(
            "gateway",
            "rollup",
            "a total row per finished prefix of the group keys, a grand total last",
        ));
    }
    if !spec.computed.is_empty() {
        let cols: Vec<String> = spec.computed.iter().map(|(c, _)| col(*c)).collect();
        out.push(step(
            "gateway",
            "compute",
            format!("{} from the groups' totals", cols.join(", ")),
        ));
    }
    if spec.having.is_some() {
        out.push(step("gateway", "filter", "HAVING on the merged groups"));
    }
    if let Some(order) = &spec.final_order {
        out.push(step("gateway", "sort", keys(order)));
    }
    if spec.offset > 0 || spec.limit.is_some() {
        let limit = spec
            .limit
            .map(|l| l.to_string())
            .unwrap_or_else(|| "all".into());
        out.push(step(
            "gateway",
            "limit",
            format!("skip {}, then {limit} rows", spec.offset),
        ));
    }
    if spec.hidden > 0 {
        out.push(step(
            "gateway",
            "project",
            format!("{} helper column(s) dropped", spec.hidden),
        ));
    }
}

/// Column `i` as a person counts them (1-based), helper columns named as such.
fn col(i: usize) -> String {
    if i >= HIDDEN_MARK {
        format!("helper {}", i - HIDDEN_MARK + 1)
    } else {
        format!("column {}", i + 1)
    }
}

fn keys(ks: &[KeySpec]) -> String {
    ks.iter()
        .map(|k| {
            let by = match k.weight {
                Some(w) => format!(" (by the sort weight in {})", col(w)),
                None => String::new(),
            };
            format!(
                "{}{by} {}",
                col(k.value),
                if k.desc { "DESC" } else { "ASC" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn aggs(specs: &[AggSpec]) -> String {
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let how = match a {
                AggSpec::Any => return None,
                AggSpec::Count => "sum of counts",
                AggSpec::CountDistinct { .. } => "count of distinct values",
                AggSpec::Sum => "sum",
                AggSpec::Min { .. } => "least",
                AggSpec::Max { .. } => "greatest",
                AggSpec::Avg { .. } => "total sum / total count",
                AggSpec::Var { .. } => "variance from counts and squared deviations",
                AggSpec::M2 { .. } => "squared deviations combined",
                AggSpec::Bit(_) => "bitwise combination",
                AggSpec::OrderedConcat { .. } => "ordered concatenation",
                AggSpec::Concat { .. } => "concatenation",
            };
            Some(format!("{} = {how}", col(i)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scatter_with_order_and_limit() {
        let spec = MergeSpec {
            sql: "SELECT a, b FROM t ORDER BY b LIMIT 12".into(),
            visible: 2,
            keys: vec![KeySpec {
                value: 1,
                weight: None,
                desc: false,
            }],
            offset: 10,
            limit: Some(2),
            ..MergeSpec::default()
        };
        let plan = Plan {
            target: Target::Sets(vec!["set1".into(), "set2".into()]),
            merge: Merge::Merged(Box::new(spec)),
        };
        let s = steps(&plan, "SELECT a, b FROM t ORDER BY b LIMIT 10, 2", false);
        let rows: Vec<(&str, &str, &str)> = s
            .iter()
            .map(|s| (s.on.as_str(), s.action.as_str(), s.detail.as_str()))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("set1", "send", "SELECT a, b FROM t ORDER BY b LIMIT 12"),
                ("set2", "send", "SELECT a, b FROM t ORDER BY b LIMIT 12"),
                ("gateway", "merge sort", "column 2 ASC"),
                ("gateway", "limit", "skip 10, then 2 rows"),
            ]
        );
    }

    #[test]
    fn a_write_on_two_sets_commits_in_two_phases() {
        let plan = Plan {
            target: Target::PerSet(vec![
                ("set1".into(), "INSERT INTO t VALUES (1)".into()),
                ("set2".into(), "INSERT INTO t VALUES (2)".into()),
            ]),
            merge: Merge::SumAffected,
        };
        let s = steps(&plan, "INSERT INTO t VALUES (1), (2)", true);
        assert_eq!(s.len(), 4);
        assert_eq!(s[2].action, "sum affected");
        assert_eq!(s[3].action, "two-phase commit");
    }
}
