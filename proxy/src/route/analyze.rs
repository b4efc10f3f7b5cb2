//! What a statement touches: every table reference (with its alias), names defined
//! by `WITH`, how many query blocks it has and whether it aggregates.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, Query, Statement, TableFactor, Visit, Visitor};

/// One table reference, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// Explicit database qualifier, if any.
    pub db: Option<String>,
    pub name: String,
    pub alias: Option<String>,
    /// Position among all table references in visiting order (CTE names
    /// included); `usize::MAX` for names added by the planner.
    pub pos: usize,
}

#[derive(Debug, Default)]
pub struct Analysis {
    pub tables: Vec<TableRef>,
    /// Query blocks (a plain SELECT has 1; each subquery adds one).
    pub queries: usize,
    /// An aggregate function appears somewhere.
    pub aggregates: bool,
    /// Names defined by `WITH` (not real tables).
    cte_names: Vec<String>,
    /// Table factors visited so far.
    seen: usize,
}

pub const AGGREGATES: &[&str] = &[
    "COUNT",
    "SUM",
    "MIN",
    "MAX",
    "AVG",
    "GROUP_CONCAT",
    "STD",
    "STDDEV",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "VARIANCE",
    "VAR_POP",
    "VAR_SAMP",
    "BIT_AND",
    "BIT_OR",
    "BIT_XOR",
    "JSON_ARRAYAGG",
    "JSON_OBJECTAGG",
];

/// Splits an object name into (database, table).
pub fn split_name(name: &ObjectName) -> (Option<String>, String) {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
        .collect();
    match parts.as_slice() {
        [t] => (None, t.clone()),
        [d, t] => (Some(d.clone()), t.clone()),
        [.., d, t] => (Some(d.clone()), t.clone()),
        [] => (None, String::new()),
    }
}

impl Visitor for Analysis {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.queries += 1;
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.cte_names.push(cte.alias.name.value.clone());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = tf {
            let (db, name) = split_name(name);
            let pos = self.seen;
            self.seen += 1;
            self.tables.push(TableRef {
                db,
                name,
                alias: alias.as_ref().map(|a| a.name.value.clone()),
                pos,
            });
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = e {
            let n = f.name.to_string().to_ascii_uppercase();
            if AGGREGATES.contains(&n.as_str()) && f.over.is_none() {
                self.aggregates = true;
            }
        }
        ControlFlow::Continue(())
    }
}

/// Analyses any part of a statement (e.g. one SELECT of a UNION).
pub fn analyze_node<T: Visit>(node: &T) -> Analysis {
    let mut a = Analysis::default();
    let _ = node.visit(&mut a);
    let ctes = std::mem::take(&mut a.cte_names);
    a.tables
        .retain(|t| !(t.db.is_none() && ctes.iter().any(|c| c == &t.name)));
    a
}

/// Analyses a statement. Table references of DML targets that are not table
/// factors (INSERT INTO t, DELETE FROM t's target list) are added by the planner.
pub fn analyze(stmt: &Statement) -> Analysis {
    let mut a = Analysis::default();
    let _ = stmt.visit(&mut a);
    let ctes = std::mem::take(&mut a.cte_names);
    a.tables
        .retain(|t| !(t.db.is_none() && ctes.iter().any(|c| c == &t.name)));
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn an(sql: &str) -> Analysis {
        let stmt = Parser::parse_sql(&MySqlDialect {}, sql).unwrap().remove(0);
        analyze(&stmt)
    }

    #[test]
    fn tables_aliases_ctes() {
        let a = an("WITH c AS (SELECT 1) SELECT * FROM db1.users u JOIN orders ON 1=1, c WHERE x IN (SELECT y FROM t3)");
        let names: Vec<_> = a
            .tables
            .iter()
            .map(|t| (t.db.as_deref(), t.name.as_str(), t.alias.as_deref()))
            .collect();
        assert_eq!(
            names,
            vec![
                (Some("db1"), "users", Some("u")),
                (None, "orders", None),
                (None, "t3", None)
            ]
        );
        assert_eq!(a.queries, 3);
        assert!(!a.aggregates);
    }

    #[test]
    fn aggregates() {
        assert!(an("SELECT count(*) FROM t").aggregates);
        assert!(!an("SELECT row_number() OVER () FROM t").aggregates);
    }
}
