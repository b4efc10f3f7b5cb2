//! Merged plans (sorted, grouped, aggregated across sets) from the plan cache.
//!
//! A merged plan's per-set statement is the client's text rewritten (helper
//! columns added, ORDER BY / LIMIT adjusted), so it cannot serve other literal
//! values as a plain plan of [`super::cache`] does: such statements were parsed
//! and planned every time. They are cached here as a template instead — the
//! per-set texts with the places the client's literals go — keyed by the
//! statement's exact text with its literals taken out (spaces and case
//! included: MariaDB names an expression's column by its text as written).
//!
//! A template is kept only when the plan is shown to depend on the literals in
//! nothing but those places: the statement is planned again with every literal
//! replaced by a distinct marker (which finds the places), and once more with
//! zeros and empty strings; the three plans must be equal in everything but
//! the per-set text, and the template must give back each plan's text from its
//! literals. A literal the planner reads (LIMIT, HAVING, a positional ORDER BY,
//! a separator, arithmetic over aggregates) makes the plans differ: the shape
//! is remembered as not cacheable and planned every time, as before.
//!
//! `[backend] merge_plan_cache = false` turns this off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use topo::ClusterSnapshot;

use super::cross_set::RouterOnly;
use super::plan::{plan_statement, Dep, Planned};
use super::{Merge, Plan, Target};
use crate::merge::MergeSpec;
use crate::sql::lexer::{tokenize, Kind, Token};

/// Entries kept before the cache starts over (with [`MAX_LEN`]: at most a few
/// tens of MB per core).
const MAX_ENTRIES: usize = 4096;
/// Longer statements are not cached (their key would cost as much as it saves).
const MAX_LEN: usize = 4 * 1024;
/// Most literals in a cached statement (markers are numbered with 4 digits).
const MAX_LITERALS: usize = 1000;

/// Merged plans by exact statement shape, per core (`super::cache::PlanCache`).
#[derive(Default)]
pub struct MergedPlans {
    map: Mutex<HashMap<String, (i64, Entry)>>,
}

#[derive(Clone)]
enum Entry {
    Template(Arc<Template>),
    /// Planned every time (the plan is not merged, or depends on a literal).
    Uncacheable,
}

/// A merged plan with its per-set texts as templates.
struct Template {
    sets: Vec<String>,
    /// The plan's merge, `sql` empty (rendered from `sql` for each statement).
    spec: MergeSpec,
    sql: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// The text of the statement's literal number n.
    Literal(usize),
}

/// How a literal looks, as far as caching is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Digits only.
    Int,
    /// Digits with one decimal point inside.
    Decimal,
    /// `'...'` or `"..."`, opened by this quote.
    Str(u8),
}

fn class_of(sql: &str, t: &Token) -> Option<Class> {
    let text = t.text(sql).as_bytes();
    match t.kind {
        Kind::Number if !text.is_empty() && text.iter().all(u8::is_ascii_digit) => Some(Class::Int),
        Kind::Number => {
            let (int, frac) = t.text(sql).split_once('.')?;
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            (digits(int) && digits(frac)).then_some(Class::Decimal)
        }
        Kind::String => match text.first() {
            Some(&q @ (b'\'' | b'"')) => Some(Class::Str(q)),
            _ => None,
        },
        _ => None,
    }
}

/// A statement's cache key and its literals, or `None` when such a statement
/// is not looked up here: not a SELECT, too long, with a comment or a
/// placeholder, or a literal of another form (hex, bits, exponents).
pub fn key(sql: &str, tokens: &[Token], db: Option<&str>) -> Option<(String, Vec<Token>)> {
    if sql.len() > MAX_LEN {
        return None;
    }
    let first = tokens.iter().find(|t| !t.is_trivia())?;
    if !first.is_word(sql, "SELECT") {
        return None;
    }
    let mut key = String::with_capacity(sql.len() + 16);
    key.push_str(db.unwrap_or(""));
    key.push('\u{1}');
    let mut literals = Vec::new();
    let mut at = 0;
    for t in tokens {
        match t.kind {
            Kind::Comment | Kind::Placeholder => return None,
            Kind::Number | Kind::String => {
                key.push_str(&sql[at..t.start]);
                key.push(match class_of(sql, t)? {
                    Class::Int => '\u{2}',
                    Class::Decimal => '\u{3}',
                    Class::Str(b'\'') => '\u{4}',
                    Class::Str(_) => '\u{5}',
                });
                at = t.end;
                literals.push(*t);
            }
            _ => {}
        }
    }
    if literals.len() > MAX_LITERALS {
        return None;
    }
    key.push_str(&sql[at..]);
    Some((key, literals))
}

/// What the cache knows of a key.
pub enum Lookup {
    /// Not seen (under this routing revision): plan, then [`MergedPlans::learn`].
    Unknown,
    /// Planned every time.
    Uncacheable,
    Hit(Plan),
}

impl MergedPlans {
    /// The plan of the statement `sql` (its `key` and `literals` from [`key`])
    /// under routing revision `revision`.
    pub fn get(&self, key: &str, literals: &[Token], sql: &str, revision: i64) -> Lookup {
        let entry = {
            let map = self.map.lock().expect("merged plan cache");
            match map.get(key) {
                Some((r, e)) if *r == revision => e.clone(),
                _ => return Lookup::Unknown,
            }
        };
        match entry {
            Entry::Uncacheable => Lookup::Uncacheable,
            Entry::Template(t) => {
                let texts: Vec<&str> = literals.iter().map(|l| l.text(sql)).collect();
                let Some(text) = render(&t.sql, &texts) else {
                    return Lookup::Uncacheable;
                };
                let mut spec = t.spec.clone();
                spec.sql = text;
                Lookup::Hit(Plan {
                    target: Target::Sets(t.sets.clone()),
                    merge: Merge::Merged(Box::new(spec)),
                })
            }
        }
    }

    /// Remembers how `planned` (the plan of `sql`, whose key and literals are
    /// `key` and `literals`) may be reused: as a template when the checks of
    /// the module doc hold, else as not cacheable.
    pub fn learn(
        &self,
        key: String,
        literals: &[Token],
        sql: &str,
        snap: &ClusterSnapshot,
        db: Option<&str>,
        planned: &Planned,
    ) {
        let entry = match template(literals, sql, snap, db, planned) {
            Some(t) => Entry::Template(Arc::new(t)),
            None => Entry::Uncacheable,
        };
        let mut map = self.map.lock().expect("merged plan cache");
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (snap.revision, entry));
    }
}

/// The template of a merged plan, when it passes the checks (module doc).
fn template(
    literals: &[Token],
    sql: &str,
    snap: &ClusterSnapshot,
    db: Option<&str>,
    planned: &Planned,
) -> Option<Template> {
    let (sets, spec) = merged(planned)?;
    if spec.columns_sql.is_some() {
        return None;
    }
    let classes: Vec<Class> = literals
        .iter()
        .map(|t| class_of(sql, t))
        .collect::<Option<_>>()?;
    let markers: Vec<String> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Class::Int => format!("9182736{i:04}"),
            Class::Decimal => format!("9182736{i:04}.5"),
            Class::Str(q) => format!("{q}swlit{i:04}x{q}", q = char::from(*q)),
        })
        .collect();
    let zeros: Vec<String> = classes
        .iter()
        .map(|c| match c {
            Class::Int => "0".to_string(),
            Class::Decimal => "0.0".to_string(),
            Class::Str(q) => format!("{q}{q}", q = char::from(*q)),
        })
        .collect();
    // The places of the literals, from the plan with markers.
    let marked = replan(sql, literals, &markers, snap, db)?;
    let (msets, mspec) = merged(&marked)?;
    let pieces = pieces(&mspec.sql, &markers)?;
    let originals: Vec<&str> = literals.iter().map(|t| t.text(sql)).collect();
    if msets != sets
        || !same_but_text(mspec, spec)
        || render(&pieces, &strs(&markers)).as_deref() != Some(mspec.sql.as_str())
        || render(&pieces, &originals).as_deref() != Some(spec.sql.as_str())
    {
        return None;
    }
    // Edge values: the plan must not change with them either.
    let zeroed = replan(sql, literals, &zeros, snap, db)?;
    let (zsets, zspec) = merged(&zeroed)?;
    if zsets != sets
        || !same_but_text(zspec, spec)
        || render(&pieces, &strs(&zeros)).as_deref() != Some(zspec.sql.as_str())
    {
        return None;
    }
    let mut spec = spec.clone();
    spec.sql = String::new();
    Some(Template {
        sets: sets.to_vec(),
        spec,
        sql: pieces,
    })
}

/// The sets and merge of a merged plan that depends on no literal for its routing.
fn merged(p: &Planned) -> Option<(&[String], &MergeSpec)> {
    if !matches!(p.dep, Dep::None) {
        return None;
    }
    match (&p.plan.target, &p.plan.merge) {
        (Target::Sets(sets), Merge::Merged(spec)) => Some((sets.as_slice(), spec.as_ref())),
        _ => None,
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Whether two merges are the same but for their per-set text.
fn same_but_text(a: &MergeSpec, b: &MergeSpec) -> bool {
    let blank = |s: &MergeSpec| MergeSpec {
        sql: String::new(),
        ..s.clone()
    };
    blank(a) == blank(b)
}

/// `sql` with its literals replaced by `values`, parsed and planned.
fn replan(
    sql: &str,
    literals: &[Token],
    values: &[String],
    snap: &ClusterSnapshot,
    db: Option<&str>,
) -> Option<Planned> {
    let mut text = String::with_capacity(sql.len() + 16 * values.len());
    let mut at = 0;
    for (t, v) in literals.iter().zip(values) {
        text.push_str(&sql[at..t.start]);
        text.push_str(v);
        at = t.end;
    }
    text.push_str(&sql[at..]);
    let tokens = tokenize(&text).ok()?;
    let stmt = crate::sql::parse_one(&text).ok()?;
    // Only merged plans are kept: the gateway's own planners make none.
    plan_statement(snap, db, &text, &tokens, &stmt, None, &RouterOnly).ok()
}

/// `text` cut at each literal token that is one of `markers`.
fn pieces(text: &str, markers: &[String]) -> Option<Vec<Piece>> {
    let index: HashMap<&str, usize> = markers
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut out = Vec::new();
    let mut at = 0;
    for t in tokenize(text).ok()? {
        if !matches!(t.kind, Kind::Number | Kind::String) {
            continue;
        }
        if let Some(&i) = index.get(t.text(text)) {
            if at < t.start {
                out.push(Piece::Text(text[at..t.start].to_string()));
            }
            out.push(Piece::Literal(i));
            at = t.end;
        }
    }
    if at < text.len() {
        out.push(Piece::Text(text[at..].to_string()));
    }
    Some(out)
}

/// The text of `pieces` with `literals`; `None` if one is missing.
fn render(pieces: &[Piece], literals: &[&str]) -> Option<String> {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => s.push_str(t),
            Piece::Literal(i) => s.push_str(literals.get(*i)?),
        }
    }
    Some(s)
}

/// The fuzz target's check (`crate::fuzz::planner`): a template kept for
/// `sql` (planned as `planned`) plans it, and the same text with other literal
/// values, exactly as the planner does. Whether a template was kept.
#[cfg(any(test, feature = "fuzz"))]
pub fn check(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    sql: &str,
    tokens: &[Token],
    planned: &Planned,
) -> bool {
    let Some((k, lits)) = key(sql, tokens, db) else {
        return false;
    };
    let cache = MergedPlans::default();
    cache.learn(k.clone(), &lits, sql, snap, db, planned);
    match cache.get(&k, &lits, sql, snap.revision) {
        Lookup::Hit(p) => assert_eq!(p, planned.plan, "the merged plan cache plans {sql:?}"),
        _ => return false,
    }
    // Other values: each literal one character longer, of the same class.
    let values: Vec<String> = lits
        .iter()
        .map(|t| {
            let text = t.text(sql);
            match t.kind {
                Kind::String => format!("{}z{}", &text[..1], &text[1..]),
                _ => format!("{text}7"),
            }
        })
        .collect();
    let mut other = String::new();
    let mut at = 0;
    for (t, v) in lits.iter().zip(&values) {
        other.push_str(&sql[at..t.start]);
        other.push_str(v);
        at = t.end;
    }
    other.push_str(&sql[at..]);
    let Ok(tokens) = tokenize(&other) else {
        return true;
    };
    let Some((k2, lits2)) = key(&other, &tokens, db) else {
        return true;
    };
    if k2 != k {
        return true;
    }
    let fresh = crate::sql::parse_one(&other)
        .ok()
        .and_then(|stmt| plan_statement(snap, db, &other, &tokens, &stmt, None, &RouterOnly).ok());
    if let Lookup::Hit(p) = cache.get(&k2, &lits2, &other, snap.revision) {
        let fresh = fresh.unwrap_or_else(|| panic!("cached, but not planned: {other:?}"));
        assert_eq!(p, fresh.plan, "the merged plan cache plans {other:?}");
    }
    true
}

#[cfg(test)]
#[path = "merged_cache_tests.rs"]
mod tests;
