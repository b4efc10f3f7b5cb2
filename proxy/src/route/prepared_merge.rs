//! A client's prepared statement whose answer is merged across sets (sort,
//! group, aggregate) runs as a prepared statement on the sets: the per-set
//! text keeps the client's `?` and the sets get its typed values, so MariaDB
//! does not parse the statement on every execute (`crate::exec` runs it).
//!
//! The merge is planned from the text with the values spliced in (as every
//! statement is); the per-set text with `?` comes from planning the client's
//! own text (once per text and routing revision, kept here). It is used only
//! when it is provably the same statement: both plans merge alike, and the
//! `?` text with the values spliced in, token by token, is the spliced plan's
//! text — each `?` where one of the client's values went, in the client's
//! order. A value spliced as more than one token (a negative number, NULL, a
//! string with an introducer), a `?` the planner moved, dropped or repeated,
//! or a plan that reads a value (LIMIT ?) keeps the text path.
//!
//! `[backend] prepared_merges = false` turns this off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mysql_async::Value;
use topo::ClusterSnapshot;

use super::cross_set::RouterOnly;
use super::plan::{plan_statement, Dep};
use super::{Merge, Target};
use crate::merge::MergeSpec;
use crate::sql::lexer::{tokenize, Kind, Token};

/// Entries kept before the cache starts over.
const MAX_ENTRIES: usize = 4096;
/// Longer texts run as text (kept per text, they would cost memory).
const MAX_LEN: usize = 4 * 1024;

/// The `?` plans of clients' prepared statements, per core
/// (`super::cache::PlanCache`).
#[derive(Default)]
pub struct PreparedMerges {
    map: Mutex<HashMap<String, (i64, Known)>>,
}

/// A client's text's merge planned with its `?`; `None`: not a merge that
/// can run prepared.
type Known = Option<Arc<Planned>>;

/// The merge planned from a client's text with `?`, and the significant
/// tokens of both texts with `?` (the client's and the per-set one), read
/// once per text instead of on every execute.
struct Planned {
    spec: MergeSpec,
    text: Vec<Token>,
    sql: Vec<Token>,
}

/// The tokens of `sql` but whitespace; `None` when it does not tokenize.
fn significant(sql: &str) -> Option<Vec<Token>> {
    let mut t = tokenize(sql).ok()?;
    t.retain(|t| t.kind != Kind::Space);
    Some(t)
}

impl PreparedMerges {
    /// The per-set text (with `?`) of the client's prepared statement `text`
    /// executed with `values`, whose spliced text `spliced` was planned to
    /// merge by `spec` over `sets`; `None`: run it as text.
    #[allow(clippy::too_many_arguments)]
    pub fn per_set_text(
        &self,
        snap: &ClusterSnapshot,
        db: Option<&str>,
        text: &str,
        spliced: &str,
        values: &[Value],
        sets: &[String],
        spec: &MergeSpec,
    ) -> Option<String> {
        if values.is_empty() || text.len() > MAX_LEN {
            return None;
        }
        let key = format!("{}\u{1}{text}", db.unwrap_or(""));
        let known = {
            let map = self.map.lock().expect("prepared merges");
            map.get(&key)
                .filter(|(r, _)| *r == snap.revision)
                .map(|(_, q)| q.clone())
        };
        let q = match known {
            Some(q) => q?,
            None => {
                let q = plan_text(snap, db, text, sets).and_then(|spec| {
                    Some(Arc::new(Planned {
                        text: significant(text)?,
                        sql: significant(&spec.sql)?,
                        spec,
                    }))
                });
                let mut map = self.map.lock().expect("prepared merges");
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
                map.insert(key, (snap.revision, q.clone()));
                q?
            }
        };
        same_statement(text, spliced, values, &q, spec).then(|| q.spec.sql.clone())
    }
}

/// The merge planned from the client's text with `?`, when it runs on `sets`.
fn plan_text(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    text: &str,
    sets: &[String],
) -> Option<MergeSpec> {
    let tokens = tokenize(text).ok()?;
    let stmt = crate::sql::parse_one(text).ok()?;
    // Only a merge is kept: the gateway's own planners make none.
    let planned = plan_statement(snap, db, text, &tokens, &stmt, None, &RouterOnly).ok()?;
    if !matches!(planned.dep, Dep::None) {
        return None;
    }
    match (planned.plan.target, planned.plan.merge) {
        (Target::Sets(s), Merge::Merged(spec)) if s == sets && spec.columns_sql.is_none() => {
            Some(*spec)
        }
        _ => None,
    }
}

/// Whether `q` (planned from `text`) with `values` is the statement `spec`
/// (planned from `spliced`, `text` with the values spliced in).
fn same_statement(
    text: &str,
    spliced: &str,
    values: &[Value],
    q: &Planned,
    spec: &MergeSpec,
) -> bool {
    if !same_but_text(&q.spec, spec) {
        return false;
    }
    // The literal each value was spliced as, in the client's order.
    let Some(params) = placeholders_as(text, &q.text, spliced) else {
        return false;
    };
    if params.len() != values.len() {
        return false;
    }
    // Two values spliced alike must be alike (their `?` could trade places).
    for i in 0..params.len() {
        for k in i + 1..params.len() {
            if params[i] == params[k] && values[i] != values[k] {
                return false;
            }
        }
    }
    // The per-set texts: a `?` where each value went, in the same order.
    placeholders_as(&q.spec.sql, &q.sql, &spec.sql).is_some_and(|at| at == params)
}

/// Whether two merges are alike in every field but their text (`sql`). The
/// fields are listed by destructuring, so a new field must be added here.
fn same_but_text(a: &MergeSpec, b: &MergeSpec) -> bool {
    let MergeSpec {
        sql: _,
        columns_sql,
        visible,
        hidden,
        keys,
        group,
        group_keys,
        pre_group,
        one_row,
        computed,
        having,
        final_order,
        offset,
        limit,
        rollup,
    } = a;
    *columns_sql == b.columns_sql
        && *visible == b.visible
        && *hidden == b.hidden
        && *keys == b.keys
        && *group == b.group
        && *group_keys == b.group_keys
        && *pre_group == b.pre_group
        && *one_row == b.one_row
        && *computed == b.computed
        && *having == b.having
        && *final_order == b.final_order
        && *offset == b.offset
        && *limit == b.limit
        && *rollup == b.rollup
}

/// Reads `with_q` (text with `?`, its significant tokens `a`) against
/// `spliced` (the same text with a literal in place of each `?`) token by
/// token: the literal's text for each `?` in order, or `None` when they
/// differ anywhere else or a `?` does not stand for exactly one literal (a
/// number, a string, or a typed temporal literal `TIME'...'`).
fn placeholders_as<'s>(with_q: &str, a: &[Token], spliced: &'s str) -> Option<Vec<&'s str>> {
    let b = tokenize(spliced).ok()?;
    let mut bs = b.iter().filter(|t| t.kind != Kind::Space);
    let mut out = Vec::new();
    for ta in a {
        let tb = bs.next()?;
        if ta.kind == Kind::Placeholder {
            match tb.kind {
                Kind::Number | Kind::String => out.push(tb.text(spliced)),
                // A temporal parameter's typed literal (`TIMESTAMP'...'`).
                Kind::Word
                    if ["DATE", "TIME", "TIMESTAMP"]
                        .iter()
                        .any(|w| tb.is_word(spliced, w)) =>
                {
                    let s = bs.next().filter(|s| s.kind == Kind::String)?;
                    out.push(&spliced[tb.start..s.end]);
                }
                _ => return None,
            }
        } else if ta.kind != tb.kind || ta.text(with_q) != tb.text(spliced) {
            return None;
        }
    }
    bs.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`placeholders_as`] with the `?` text tokenized here.
    fn placeholders(with_q: &str, spliced: &str) -> Option<Vec<String>> {
        let a = significant(with_q)?;
        placeholders_as(with_q, &a, spliced).map(|v| v.into_iter().map(String::from).collect())
    }

    fn planned(text: &str, spec: MergeSpec) -> Planned {
        Planned {
            text: significant(text).unwrap(),
            sql: significant(&spec.sql).unwrap(),
            spec,
        }
    }

    #[test]
    fn placeholders_read_against_the_spliced_text() {
        assert_eq!(
            placeholders(
                "SELECT SUM(k) FROM t WHERE id BETWEEN ? AND ?",
                "SELECT SUM(k) FROM t WHERE id BETWEEN 5 AND 104"
            ),
            Some(vec!["5".to_string(), "104".to_string()])
        );
        assert_eq!(
            placeholders(
                "SELECT a FROM t WHERE s = ?",
                "SELECT a FROM t WHERE s = 'it''s'"
            ),
            Some(vec!["'it''s'".to_string()])
        );
        assert_eq!(
            placeholders(
                "SELECT a FROM t WHERE ts > ? AND tm < ?",
                "SELECT a FROM t WHERE ts > TIMESTAMP'2020-01-02 03:04:05' AND tm < TIME '01:00:00'"
            ),
            Some(vec![
                "TIMESTAMP'2020-01-02 03:04:05'".to_string(),
                "TIME '01:00:00'".to_string()
            ])
        );
        // A negative number, NULL, an introducer: not one literal token.
        for spliced in [
            "SELECT a FROM t WHERE x = -5",
            "SELECT a FROM t WHERE x = NULL",
            "SELECT a FROM t WHERE x = _binary'a'",
        ] {
            assert_eq!(placeholders("SELECT a FROM t WHERE x = ?", spliced), None);
        }
        assert_eq!(
            placeholders("SELECT a FROM t WHERE x = ?", "SELECT a FROM t WHERE y = 5"),
            None
        );
    }

    #[test]
    fn the_same_statement_only() {
        let spec = |sql: &str| MergeSpec {
            sql: sql.into(),
            columns_sql: None,
            visible: 1,
            hidden: 0,
            keys: Vec::new(),
            group: None,
            group_keys: None,
            pre_group: None,
            one_row: true,
            computed: Vec::new(),
            having: None,
            final_order: None,
            offset: 0,
            limit: None,
            rollup: false,
        };
        let text = "SELECT SUM(k) FROM t WHERE id BETWEEN ? AND ?";
        let spliced = "SELECT SUM(k) FROM t WHERE id BETWEEN 5 AND 104";
        let values = [Value::Int(5), Value::Int(104)];
        let q = planned(
            text,
            spec("SELECT SUM(k) AS x FROM t WHERE id BETWEEN ? AND ?"),
        );
        let s = spec("SELECT SUM(k) AS x FROM t WHERE id BETWEEN 5 AND 104");
        assert!(same_statement(text, spliced, &values, &q, &s));
        // The planner swapped the `?`s.
        let swapped = spec("SELECT SUM(k) AS x FROM t WHERE id BETWEEN 104 AND 5");
        assert!(!same_statement(text, spliced, &values, &q, &swapped));
        // It repeated one.
        let q2 = planned(
            text,
            spec("SELECT SUM(k), ? FROM t WHERE id BETWEEN ? AND ?"),
        );
        let s2 = spec("SELECT SUM(k), 5 FROM t WHERE id BETWEEN 5 AND 104");
        assert!(!same_statement(text, spliced, &values, &q2, &s2));
        // It read a value.
        let mut limited = s.clone();
        limited.limit = Some(5);
        assert!(!same_statement(text, spliced, &values, &q, &limited));
    }
}
