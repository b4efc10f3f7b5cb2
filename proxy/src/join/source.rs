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

    /// Token index range `[a, b)` covering `span`, as it is.
    fn raw_tokens(&self, span: Span) -> Option<(usize, usize)> {
        if span.start.line == 0 {
            return None;
        }
        let s = self.offset(span.start)?;
        let e = self.offset(span.end)?;
        let a = self.sig.iter().position(|t| t.start >= s)?;
        let b = self.sig.iter().rposition(|t| t.end <= e.max(s + 1))? + 1;
        Some((a, b.max(a + 1)))
    }

    /// Token index range `[a, b)` covering `span`, parentheses balanced.
    pub fn tokens_of(&self, span: Span) -> Option<(usize, usize)> {
        let (mut a, mut b) = self.raw_tokens(span)?;
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

    /// The client's text of an expression. sqlparser's span of many
    /// expressions covers only their operand (`x IS NULL`, `NOT x`, `-x`,
    /// `CAST(x AS ...)`, `EXTRACT(YEAR FROM x)`: the span is `x`'s), so the
    /// text found is checked by parsing it again: when it is not `e`, the
    /// smallest range of tokens around it that parses as `e` is taken, and
    /// none within [`GROW`] tokens on either side gives `None` (the caller
    /// refuses) — never the operand in place of the expression.
    pub fn expr(&self, e: &Expr) -> Option<&'s str> {
        use sqlparser::ast::Spanned;
        let span = e.span();
        let (a, b) = match self.tokens_of(span) {
            Some(r) => r,
            // `EXTRACT(YEAR FROM x) = 1`: its span, `x) = 1`, cannot be balanced.
            None => self.raw_tokens(span)?,
        };
        let (a, b) = self
            .widened(a, b, e)
            .or_else(|| self.past_values(a, b, e))?;
        Some(&self.sql[self.sig[a].start..self.sig[b - 1].end])
    }

    /// A subquery's values as a JSON_TABLE (`super::collated`), whose span
    /// sqlparser leaves out: `[a, b)` grown to the `)` that closes it.
    fn past_values(&self, a: usize, b: usize, e: &Expr) -> Option<(usize, usize)> {
        if !self.sig[a..b]
            .iter()
            .any(|t| t.text(self.sql) == "setwise_v")
        {
            return None;
        }
        (b..=self.sig.len())
            .find(|&b2| {
                self.sig[b2 - 1].is_punct(self.sql, ")")
                    && self.balanced(a, b2)
                    && self.parses_as(a, b2, e)
            })
            .map(|b2| (a, b2))
    }

    /// The token range `[a, b)`, or the smallest one around it, whose text
    /// parses as `e` (spans ignored, as sqlparser's equality does).
    fn widened(&self, a: usize, b: usize, e: &Expr) -> Option<(usize, usize)> {
        let n = self.sig.len();
        for grow in 0..=2 * GROW {
            for before in grow.saturating_sub(GROW)..=grow.min(GROW) {
                let after = grow - before;
                let (Some(a2), true) = (a.checked_sub(before), b + after <= n) else {
                    continue;
                };
                let (b2, a2) = (b + after, a2);
                if self.balanced(a2, b2) && self.parses_as(a2, b2, e) {
                    return Some((a2, b2));
                }
            }
        }
        None
    }

    /// Whether the tokens `[a, b)` have as many `(` as `)`, never closing
    /// more than they opened.
    fn balanced(&self, a: usize, b: usize) -> bool {
        let mut depth = 0i64;
        for t in &self.sig[a..b] {
            if t.is_punct(self.sql, "(") {
                depth += 1;
            } else if t.is_punct(self.sql, ")") {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
        }
        depth == 0
    }

    /// Whether the text of tokens `[a, b)` is one whole expression equal to `e`.
    fn parses_as(&self, a: usize, b: usize, e: &Expr) -> bool {
        use sqlparser::dialect::MySqlDialect;
        use sqlparser::parser::Parser;
        use sqlparser::tokenizer::Token as SqlToken;
        let text = &self.sql[self.sig[a].start..self.sig[b - 1].end];
        // A subquery's values as a JSON_TABLE: its column types unread.
        let blanked = super::collated::parsed_text(text);
        let text = blanked.as_deref().unwrap_or(text);
        let Ok(mut p) = Parser::new(&MySqlDialect {}).try_with_sql(text) else {
            return false;
        };
        match p.parse_expr() {
            Ok(got) => got == *e && p.peek_token().token == SqlToken::EOF,
            Err(_) => false,
        }
    }
}

/// Most tokens [`Source::expr`] adds on either side of an expression's span
/// (`CAST(` ... `AS DECIMAL(10, 2))`, `NOT (` ... `IS NOT NULL)`).
const GROW: usize = 16;

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
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            self.depth += 1;
            // A subquery here is not the gateway's to split (the values of
            // one it read before excepted: they read no table).
            if !super::subquery::values_only(q) {
                self.bad = true;
            }
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
                "(a.id = b.k)",
                "b.v > 'x\\'y'",
                "a.n BETWEEN 1 AND 2",
                "é.x = '日本'"
            ]
        );
    }

    #[test]
    fn expressions_whose_span_is_their_operand() {
        let sql = "SELECT 1 FROM t WHERE b.d IS NULL AND NOT b.p > 15 AND -b.p < 3 \
                   AND EXTRACT(YEAR FROM b.d) = 1991 AND CAST(b.p AS DECIMAL(10, 2)) = 1 \
                   AND NOT (b.x IS NOT NULL) AND (b.q) = 2";
        let toks = tokenize(sql).unwrap();
        let src = Source::new(sql, &toks);
        let w = where_of(sql);
        let texts: Vec<Option<&str>> = conjuncts(&w).iter().map(|e| src.expr(e)).collect();
        assert_eq!(
            texts
                .into_iter()
                .map(|t| t.unwrap_or("?"))
                .collect::<Vec<_>>(),
            vec![
                "b.d IS NULL",
                "NOT b.p > 15",
                "-b.p < 3",
                "EXTRACT(YEAR FROM b.d) = 1991",
                "CAST(b.p AS DECIMAL(10, 2)) = 1",
                "NOT (b.x IS NOT NULL)",
                "(b.q) = 2"
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
