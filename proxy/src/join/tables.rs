//! The two tables of a join while planning: which one a column reference
//! (qualified or not) belongs to, from the FROM clause and the column lists
//! the session looked up.

use sqlparser::ast::{Expr, ObjectName, TableFactor};
use topo::{ClusterSnapshot, TableKind};

use super::source::{columns_of, quoted};
use super::unsupported;
use crate::error::ProxyError;
use crate::route::plan::KnownTable;

/// One side while planning.
pub struct Table<'a> {
    pub db: String,
    pub name: String,
    pub alias: Option<String>,
    pub columns: Option<&'a [String]>,
    pub shard_key: Option<String>,
}

impl Table<'_> {
    pub fn matches(&self, quals: &[String]) -> bool {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        match (quals, &self.alias) {
            ([q], Some(a)) => q == a,
            ([q], None) => eq(q, &self.name),
            ([d, t], None) => eq(d, &self.db) && eq(t, &self.name),
            _ => false,
        }
    }
    fn has_column(&self, c: &str) -> Option<bool> {
        self.columns
            .map(|cols| cols.iter().any(|x| x.eq_ignore_ascii_case(c)))
    }
}

/// The sides (a bitmask: 1 = side 0, 2 = side 1) an expression refers to.
pub fn sides_of(e: &Expr, t: &[Table; 2]) -> Result<u8, ProxyError> {
    let cols = columns_of(e).ok_or_else(|| unsupported("a subquery inside a join across sets"))?;
    let mut m = 0u8;
    for (quals, col) in cols {
        if quals.is_empty() {
            let mut found = 0u8;
            for (i, tb) in t.iter().enumerate() {
                match tb.has_column(&col) {
                    Some(true) => found |= 1 << i,
                    Some(false) => {}
                    None => {
                        return Err(ProxyError::NeedColumns {
                            db: tb.db.clone(),
                            table: tb.name.clone(),
                        })
                    }
                }
            }
            if found == 0 || found == 3 {
                return Err(unsupported(format!(
                    "column '{col}' in a join across sets: not a column of exactly one of its tables (qualify it)"
                )));
            }
            m |= found;
        } else {
            match t.iter().position(|tb| tb.matches(&quals)) {
                Some(i) => m |= 1 << i,
                None => {
                    return Err(unsupported(format!(
                        "column '{}.{col}' in a join across sets: not a column of its tables",
                        quals.join(".")
                    )))
                }
            }
        }
    }
    Ok(m)
}

pub fn table_of<'a>(
    tf: &TableFactor,
    snap: &ClusterSnapshot,
    db: Option<&str>,
    known: &'a [KnownTable],
) -> Result<(Table<'a>, String), ProxyError> {
    let TableFactor::Table {
        name, alias, args, ..
    } = tf
    else {
        return Err(unsupported(
            "a derived table or table function in a join across sets",
        ));
    };
    if args.is_some() {
        return Err(unsupported("a table function in a join across sets"));
    }
    let parts = name_parts(name)?;
    let (tdb, tname) = match parts.as_slice() {
        [t] => (
            db.ok_or(ProxyError::NoDatabaseSelected)?.to_string(),
            t.clone(),
        ),
        [d, t] => (d.clone(), t.clone()),
        _ => return Err(unsupported("a three-part table name in a join across sets")),
    };
    let shard_key = match snap.table(&tdb, &tname).map(|r| &r.kind) {
        Some(TableKind::Sharded { key, .. }) => Some(key.clone()),
        _ => None,
    };
    let alias = alias.as_ref().map(|a| a.name.value.clone());
    let mut from = match &name.0[..] {
        [_] => quoted(&[sqlparser::ast::Ident::new(&tname)]),
        _ => format!(
            "`{}`.`{}`",
            tdb.replace('`', "``"),
            tname.replace('`', "``")
        ),
    };
    if let Some(a) = &alias {
        from.push_str(&format!(" AS `{}`", a.replace('`', "``")));
    }
    let columns = known
        .iter()
        .find(|k| k.db == tdb && k.table == tname)
        .map(|k| k.columns.as_slice());
    Ok((
        Table {
            db: tdb,
            name: tname,
            alias,
            columns,
            shard_key,
        },
        from,
    ))
}

pub fn name_parts(name: &ObjectName) -> Result<Vec<String>, ProxyError> {
    name.0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(|i| i.value.clone())
                .ok_or_else(|| unsupported("this table name in a join across sets"))
        })
        .collect()
}
