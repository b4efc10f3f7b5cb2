//! A write that changes a broadcast table must change every copy alike: each
//! set runs it on its own copy, so whatever else the statement reads must be
//! the same on every set — other broadcast tables, or no table. A sharded or
//! single table read there (a join, a subquery) gives each set other rows, and
//! the copies would drift apart (or, pinned to one set, only one copy would
//! change). Such UPDATE / DELETE / INSERT ... VALUES statements are refused;
//! `INSERT ... SELECT` is read by the gateway first (`ProxyError::InsertSelect`).

use sqlparser::ast::{
    AssignmentTarget, FromTable, ObjectName, Statement, TableFactor, TableWithJoins,
    UpdateTableFromKind,
};

use super::analyze::{split_name, TableRef};
use super::place::{Ctx, Placement};
use crate::error::ProxyError;

/// The error for a write to broadcast table `table` that reads other tables.
pub(super) fn refused(table: &str) -> ProxyError {
    ProxyError::NotSupported(format!(
        "a write to broadcast table `{table}` that reads a sharded or single table \
         (each set's copy would see other rows)"
    ))
}

/// Whether every table of `tables` is the same on every set (broadcast, or a
/// system schema / `DUAL`).
pub(super) fn reads_only_copies(ctx: &Ctx<'_>, tables: &[TableRef]) -> Result<bool, ProxyError> {
    for t in tables {
        match ctx.place(t)? {
            Placement::Broadcast(_) | Placement::Anywhere => {}
            Placement::Home(_) | Placement::Sharded { .. } => return Ok(false),
        }
    }
    Ok(true)
}

/// Refuses an UPDATE / DELETE that may change a broadcast table while it reads
/// a table that differs per set. `tables` are every table the statement names.
pub(super) fn check(
    ctx: &Ctx<'_>,
    stmt: &Statement,
    tables: &[TableRef],
) -> Result<(), ProxyError> {
    let written = written(stmt);
    let mut broadcast = None;
    for t in &written {
        if let Ok(Placement::Broadcast(_)) = ctx.place(t) {
            broadcast = Some(t.name.clone());
            break;
        }
    }
    let Some(name) = broadcast else {
        return Ok(());
    };
    if reads_only_copies(ctx, tables)? {
        return Ok(());
    }
    Err(refused(&name))
}

/// A table factor of the statement's table list: the table and its alias.
fn factors(list: &[TableWithJoins]) -> Vec<TableRef> {
    let mut out = Vec::new();
    for twj in list {
        for f in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
            if let TableFactor::Table { name, alias, .. } = f {
                let (db, name) = split_name(name);
                out.push(TableRef {
                    db,
                    name,
                    alias: alias.as_ref().map(|a| a.name.value.clone()),
                    pos: usize::MAX,
                });
            }
        }
    }
    out
}

/// Whether `q` (an alias or a table name as written in a qualifier or a
/// DELETE target list) names `t`.
fn names(q: &str, t: &TableRef) -> bool {
    match &t.alias {
        Some(a) => a.eq_ignore_ascii_case(q),
        None => t.name.eq_ignore_ascii_case(q),
    }
}

fn last_part(n: &ObjectName) -> Option<String> {
    n.0.last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
}

/// The tables an UPDATE or DELETE may change (conservatively: an UPDATE's
/// unqualified assignment may name a column of any table of its list).
fn written(stmt: &Statement) -> Vec<TableRef> {
    match stmt {
        Statement::Update(u) => {
            let mut list = vec![u.table.clone()];
            if let Some(UpdateTableFromKind::BeforeSet(f) | UpdateTableFromKind::AfterSet(f)) =
                &u.from
            {
                list.extend(f.iter().cloned());
            }
            let all = factors(&list);
            let mut out: Vec<TableRef> = Vec::new();
            let targets = u.assignments.iter().flat_map(|a| match &a.target {
                AssignmentTarget::ColumnName(n) => vec![n],
                AssignmentTarget::Tuple(v) => v.iter().collect(),
            });
            for n in targets {
                let parts: Vec<String> =
                    n.0.iter()
                        .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
                        .collect();
                let hit: Vec<&TableRef> = match parts.len() {
                    0 | 1 => all.iter().collect(),
                    k => all.iter().filter(|t| names(&parts[k - 2], t)).collect(),
                };
                for t in hit {
                    if !out.contains(t) {
                        out.push(t.clone());
                    }
                }
            }
            out
        }
        Statement::Delete(d) => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
            let mut all = factors(d.using.as_deref().unwrap_or_default());
            all.extend(factors(from));
            if d.tables.is_empty() && d.using.is_none() {
                return factors(from);
            }
            // `DELETE t1, t2 FROM ...` / `DELETE FROM t1, t2 USING ...`: the
            // targets name references of the list (by alias or name).
            let targets: Vec<String> = if d.tables.is_empty() {
                factors(from)
                    .iter()
                    .map(|t| t.alias.clone().unwrap_or(t.name.clone()))
                    .collect()
            } else {
                d.tables.iter().filter_map(last_part).collect()
            };
            let mut out = Vec::new();
            for q in targets {
                match all.iter().find(|t| names(&q, t)) {
                    Some(t) => out.push(t.clone()),
                    None => out.push(TableRef {
                        db: None,
                        name: q,
                        alias: None,
                        pos: usize::MAX,
                    }),
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(sql: &str) -> Vec<String> {
        let stmt = crate::sql::parse_one(sql).unwrap();
        written(&stmt).into_iter().map(|t| t.name).collect()
    }

    #[test]
    fn finds_the_tables_a_write_changes() {
        assert_eq!(w("UPDATE b SET v = 1"), ["b"]);
        assert_eq!(w("UPDATE s JOIN b ON b.k = s.k SET s.v = b.v"), ["s"]);
        assert_eq!(w("UPDATE s x JOIN b y ON y.k = x.k SET y.v = x.v"), ["b"]);
        assert_eq!(
            w("UPDATE s CROSS JOIN b SET v = 1 WHERE s.k = b.k"),
            ["s", "b"]
        );
        assert_eq!(
            w("UPDATE s CROSS JOIN b SET s.v = 1 WHERE s.k = b.k"),
            ["s"]
        );
        assert_eq!(w("UPDATE b SET v = (SELECT COUNT(*) FROM s)"), ["b"]);
        assert_eq!(w("DELETE FROM b WHERE k IN (SELECT k FROM s)"), ["b"]);
        assert_eq!(w("DELETE b FROM b JOIN s ON s.k = b.k"), ["b"]);
        assert_eq!(w("DELETE x FROM s JOIN b x ON s.k = x.k"), ["b"]);
        assert_eq!(w("DELETE s FROM s JOIN b ON s.k = b.k"), ["s"]);
        assert_eq!(w("DELETE FROM x USING s, b x WHERE s.k = x.k"), ["b"]);
        assert_eq!(w("DELETE FROM s USING s, b WHERE s.k = b.k"), ["s"]);
    }
}
