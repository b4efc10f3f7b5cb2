//! Co-location: a statement over several sharded tables can run on each set on
//! its own when every sharded table reference is tied to the others by shard-key
//! equality (`a.user_id = b.user_id`, `user_id IN (SELECT user_id FROM ...)`),
//! because then matching rows always live on the same set.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, SelectItem, SetExpr, Statement, TableFactor, Visit, Visitor,
};

use super::analyze::TableRef;

/// A sharded table reference: the names it answers to, its shard key, and its
/// position among all table references of the statement (in visiting order).
pub struct ShardedRef<'a> {
    pub tref: &'a TableRef,
    pub key: &'a str,
    pub pos: usize,
}

/// `(qualifier, column)`.
type ColRef = (Option<String>, String);

/// Column reference of an expression, if it is one.
fn column(e: &Expr) -> Option<ColRef> {
    match e {
        Expr::Identifier(id) => Some((None, id.value.clone())),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => Some((
            Some(parts[parts.len() - 2].value.clone()),
            parts[parts.len() - 1].value.clone(),
        )),
        Expr::Nested(inner) => column(inner),
        _ => None,
    }
}

/// An equality between two columns; for `x IN (SELECT y ...)` the positions of
/// the subquery's table references, where `y` must be found.
struct Pair {
    a: ColRef,
    b: ColRef,
    inner: Option<std::ops::Range<usize>>,
}

struct Equalities {
    pairs: Vec<Pair>,
    /// Table references visited so far.
    seen: usize,
}

/// Counts table references.
struct CountTables(usize);

impl Visitor for CountTables {
    type Break = ();
    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        if matches!(tf, TableFactor::Table { .. }) {
            self.0 += 1;
        }
        ControlFlow::Continue(())
    }
}

impl Visitor for Equalities {
    type Break = ();
    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        if matches!(tf, TableFactor::Table { .. }) {
            self.seen += 1;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => {
                if let (Some(a), Some(b)) = (column(left), column(right)) {
                    self.pairs.push(Pair { a, b, inner: None });
                }
            }
            // `NOT IN` too: per key value, the subquery's rows are on the same set.
            Expr::InSubquery { expr, subquery, .. } => {
                if let (Some(a), SetExpr::Select(s)) = (column(expr), subquery.body.as_ref()) {
                    if let [SelectItem::UnnamedExpr(inner)
                    | SelectItem::ExprWithAlias { expr: inner, .. }] = s.projection.as_slice()
                    {
                        if let Some(b) = column(inner) {
                            let mut n = CountTables(0);
                            let _ = subquery.visit(&mut n);
                            let inner = Some(self.seen..self.seen + n.0);
                            self.pairs.push(Pair { a, b, inner });
                        }
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Which references a column may mean: by qualifier (alias or name), or for an
/// unqualified name every sharded reference whose key it is.
fn candidates(col: &ColRef, refs: &[ShardedRef<'_>], within: impl Fn(usize) -> bool) -> Vec<usize> {
    refs.iter()
        .enumerate()
        .filter(|(_, r)| within(r.pos))
        .filter(|(_, r)| r.key.eq_ignore_ascii_case(&col.1))
        .filter(|(_, r)| match &col.0 {
            Some(q) => {
                r.tref.alias.as_deref() == Some(q.as_str())
                    || (r.tref.alias.is_none() && r.tref.name == *q)
            }
            None => true,
        })
        .map(|(i, _)| i)
        .collect()
}

/// Whether all `refs` are tied together by shard-key equalities in `stmt`.
pub fn colocated(stmt: &Statement, refs: &[ShardedRef<'_>]) -> bool {
    if refs.len() <= 1 {
        return true;
    }
    let mut eq = Equalities {
        pairs: Vec::new(),
        seen: 0,
    };
    let _ = stmt.visit(&mut eq);
    // Union-find over the references.
    let mut parent: Vec<usize> = (0..refs.len()).collect();
    fn find(p: &mut [usize], i: usize) -> usize {
        let mut r = i;
        while p[r] != r {
            r = p[r];
        }
        p[i] = r;
        r
    }
    for p in &eq.pairs {
        let (ca, cb) = match &p.inner {
            None => (
                candidates(&p.a, refs, |_| true),
                candidates(&p.b, refs, |_| true),
            ),
            Some(r) => (
                candidates(&p.a, refs, |pos| !r.contains(&pos)),
                candidates(&p.b, refs, |pos| r.contains(&pos)),
            ),
        };
        // Only an unambiguous side ties; an unqualified name shared by several
        // references ties nothing (its scope is unknown here).
        let (Some(&x), Some(&y)) = (one(&ca, &cb), one(&cb, &ca)) else {
            continue;
        };
        let (rx, ry) = (find(&mut parent, x), find(&mut parent, y));
        parent[rx] = ry;
    }
    let root = find(&mut parent, 0);
    (1..refs.len()).all(|i| find(&mut parent, i) == root)
}

/// The single candidate of `c`, preferring one that differs from the other side's.
fn one<'c>(c: &'c [usize], other: &[usize]) -> Option<&'c usize> {
    match c {
        [x] => Some(x),
        [a, b] if other.len() == 1 => {
            if other[0] == *a {
                Some(b)
            } else if other[0] == *b {
                Some(a)
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::analyze::analyze;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn colo(sql: &str) -> bool {
        let stmt = Parser::parse_sql(&MySqlDialect {}, sql).unwrap().remove(0);
        let a = analyze(&stmt);
        let refs: Vec<ShardedRef> = a
            .tables
            .iter()
            .filter(|t| t.name == "users" || t.name == "orders")
            .map(|t| ShardedRef {
                tref: t,
                key: "user_id",
                pos: t.pos,
            })
            .collect();
        colocated(&stmt, &refs)
    }

    #[test]
    fn joins_and_subqueries() {
        assert!(colo(
            "SELECT * FROM users u JOIN orders o ON u.user_id = o.user_id"
        ));
        assert!(colo("SELECT * FROM users JOIN orders ON orders.user_id = users.user_id WHERE orders.amount > 1"));
        assert!(colo(
            "SELECT * FROM users u WHERE u.user_id IN (SELECT user_id FROM orders)"
        ));
        assert!(colo(
            "SELECT * FROM users WHERE user_id IN (SELECT user_id FROM orders)"
        ));
        assert!(!colo(
            "SELECT * FROM users WHERE user_id IN (SELECT user_id + 1 FROM orders)"
        ));
        assert!(colo("SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id)"));
        assert!(!colo(
            "SELECT * FROM users u JOIN orders o ON u.name = o.status"
        ));
        assert!(!colo(
            "SELECT * FROM users u WHERE u.score > (SELECT AVG(score) FROM users)"
        ));
        assert!(!colo("SELECT * FROM users u, orders o WHERE u.user_id = 1"));
    }
}
