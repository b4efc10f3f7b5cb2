//! AST nodes located in the client's text: sqlparser's spans (line and column)
//! turned into byte ranges snapped to token boundaries, with parentheses
//! balanced (a nested expression's span may stop before its `)`). Pushed-down
//! conditions and select items are sent as the client wrote them, never
//! re-printed from the AST (whose string escapes differ from MariaDB's).

use sqlparser::ast::{Expr, Ident};
use sqlparser::tokenizer::{Location, Span};

use crate::sql::lexer::Token;

/// The client's text with its significant tokens, for locating nodes.
pub struct Source<'s> {
    pub sql: &'s str,
    pub sig: Vec<Token>,
    line_starts: Vec<usize>,
}

impl<'s> Source<'s> {
    pub fn new(sql: &'s str, tokens: &[Token]) -> Self {
        let mut line_starts = vec![0];
        for (i, b) in sql.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        Self {
            sql,
            sig: tokens.iter().filter(|t| !t.is_trivia()).cloned().collect(),
            line_starts,
        }
    }

    /// Byte offset of a location (1-based line and char column).
    fn offset(&self, l: Location) -> Option<usize> {
        let start = *self.line_starts.get((l.line as usize).checked_sub(1)?)?;
        let col = (l.column as usize).checked_sub(1)?;
        let rest = &self.sql[start..];
        match rest.char_indices().nth(col) {
            Some((i, _)) => Some(start + i),
            None if rest.chars().count() == col => Some(self.sql.len()),
            None => None,
        }
    }

    /// Token index range `[a, b)` covering `span`, parentheses balanced.
    pub fn tokens_of(&self, span: Span) -> Option<(usize, usize)> {
        if span.start.line == 0 {
            return None;
        }
        let s = self.offset(span.start)?;
        let e = self.offset(span.end)?;
        let a = self.sig.iter().position(|t| t.start >= s)?;
        let mut b = self.sig.iter().rposition(|t| t.end <= e.max(s + 1))? + 1;
        if b <= a {
            b = a + 1;
        }
        let mut a = a;
        loop {
            let depth: i64 = self.sig[a..b]
                .iter()
                .map(|t| match t.text(self.sql) {
                    "(" if t.kind == crate::sql::lexer::Kind::Punct => 1,
                    ")" if t.kind == crate::sql::lexer::Kind::Punct => -1,
                    _ => 0,
                })
                .sum();
            if depth > 0 && b < self.sig.len() && self.sig[b].is_punct(self.sql, ")") {
                b += 1;
            } else if depth < 0 && a > 0 && self.sig[a - 1].is_punct(self.sql, "(") {
                a -= 1;
            } else if depth == 0 {
                return Some((a, b));
            } else {
                return None;
            }
        }
    }

    /// For a parenthesized subquery starting at `span`'s start: token indexes
    /// of its first token and of its closing `)` (matched by depth, whatever
    /// the span's end says).
    pub fn parenthesized(&self, span: Span) -> Option<(usize, usize)> {
        if span.start.line == 0 {
            return None;
        }
        let s = self.offset(span.start)?;
        let a = self.sig.iter().position(|t| t.start >= s)?;
        if a == 0 || !self.sig[a - 1].is_punct(self.sql, "(") {
            return None;
        }
        let mut depth = 1i64;
        for (i, t) in self.sig.iter().enumerate().skip(a) {
            if t.is_punct(self.sql, "(") {
                depth += 1;
            } else if t.is_punct(self.sql, ")") {
                depth -= 1;
                if depth == 0 {
                    return (i > a).then_some((a, i));
                }
            }
        }
        None
    }

    /// Byte range of `span` in the text.
    pub fn range(&self, span: Span) -> Option<(usize, usize)> {
        let (a, b) = self.tokens_of(span)?;
        Some((self.sig[a].start, self.sig[b - 1].end))
    }

    /// The client's text of `span`.
    pub fn text(&self, span: Span) -> Option<&'s str> {
        let (a, b) = self.range(span)?;
        Some(&self.sql[a..b])
    }

    /// The client's text of an expression.
    pub fn expr(&self, e: &Expr) -> Option<&'s str> {
        use sqlparser::ast::Spanned;
        self.text(e.span())
    }
}

/// `` `a`.`b` `` from identifiers.
pub fn quoted(parts: &[Ident]) -> String {
    parts
        .iter()
        .map(|i| format!("`{}`", i.value.replace('`', "``")))
        .collect::<Vec<_>>()
        .join(".")
}

/// Column references of an expression, not looking into subqueries: each as
/// (qualifier parts, column name).
pub fn columns_of(e: &Expr) -> Option<Vec<(Vec<String>, String)>> {
    use sqlparser::ast::{Query, Visit, Visitor};
    use std::ops::ControlFlow;
    struct V {
        out: Vec<(Vec<String>, String)>,
        depth: usize,
        bad: bool,
    }
    impl Visitor for V {
        type Break = ();
        fn pre_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
            self.depth += 1;
            // A subquery here is not the gateway's to split.
            self.bad = true;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if self.depth > 0 {
                return ControlFlow::Continue(());
            }
            match e {
                Expr::Identifier(i) => self.out.push((vec![], i.value.clone())),
                Expr::CompoundIdentifier(p) if p.len() >= 2 => {
                    let n = p.len();
                    self.out.push((
                        p[..n - 1].iter().map(|i| i.value.clone()).collect(),
                        p[n - 1].value.clone(),
                    ))
                }
                Expr::CompoundIdentifier(_) => self.bad = true,
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut v = V {
        out: vec![],
        depth: 0,
        bad: false,
    };
    let _ = e.visit(&mut v);
    if v.bad {
        return None;
    }
    Some(v.out)
}

/// The conjuncts of `e` (split on top-level `AND`, through parentheses).
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    use sqlparser::ast::BinaryOperator;
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut v = conjuncts(left);
            v.extend(conjuncts(right));
            v
        }
        Expr::Nested(inner)
            if matches!(
                inner.as_ref(),
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            conjuncts(inner)
        }
        _ => vec![e],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;
    use sqlparser::ast::{SetExpr, Statement};

    fn where_of(sql: &str) -> Expr {
        let st = crate::sql::parse_one(sql).unwrap();
        let Statement::Query(q) = st else { panic!() };
        let SetExpr::Select(s) = *q.body else {
            panic!()
        };
        s.selection.unwrap()
    }

    #[test]
    fn conjunct_texts_as_written() {
        let sql = "SELECT 1 FROM t WHERE (a.id = b.k) AND b.v > 'x\\'y'\n AND a.n BETWEEN 1 AND 2 AND é.x = '日本'";
        let toks = tokenize(sql).unwrap();
        let src = Source::new(sql, &toks);
        let w = where_of(sql);
        let texts: Vec<&str> = conjuncts(&w).iter().map(|e| src.expr(e).unwrap()).collect();
        assert_eq!(
            texts,
            vec![
                "a.id = b.k",
                "b.v > 'x\\'y'",
                "a.n BETWEEN 1 AND 2",
                "é.x = '日本'"
            ]
        );
    }

    #[test]
    fn column_references() {
        let w = where_of("SELECT 1 FROM t WHERE a.x + y = db.t.z");
        let c = columns_of(&w).unwrap();
        assert_eq!(
            c,
            vec![
                (vec!["a".to_string()], "x".to_string()),
                (vec![], "y".to_string()),
                (vec!["db".to_string(), "t".to_string()], "z".to_string())
            ]
        );
        assert!(columns_of(&where_of("SELECT 1 FROM t WHERE x IN (SELECT 1)")).is_none());
    }
}
