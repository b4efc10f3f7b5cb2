//! A UNION whose later parts are `UNION ALL`: `a UNION b UNION ALL c` is, in
//! MariaDB, the distinct rows of `a` and `b` followed by every row of `c` (the
//! last distinct UNION removes duplicates from everything to its left only).
//!
//! Each branch gets a tag column: `''` for the branches of the distinct part,
//! a value unique to the row for the others (`host:port:` of the set's server
//! and `UUID()`). Each set runs the whole tagged union (its own rows of the
//! distinct part de-duplicated under the union's column types, as MariaDB does
//! in its one temporary table), the gateway merges the streams sorted on every
//! column then the tag and folds equal rows: the distinct part's across sets,
//! never two rows of the `UNION ALL` part (their tags differ).

use crate::sql::lexer::Token;

use super::select::shape;

/// The top-level branches of a union body (`tokens` inside `body`) as token
/// ranges, and for each `UNION` between them whether it is `ALL`.
fn branches(sql: &str, tokens: &[Token], body: (usize, usize)) -> (Vec<(usize, usize)>, Vec<bool>) {
    let mut depth = 0i32;
    let mut out = Vec::new();
    let mut all = Vec::new();
    let mut start = None;
    let mut k = 0;
    while k < tokens.len() {
        let t = &tokens[k];
        if t.start < body.0 || t.end > body.1 || t.is_trivia() {
            k += 1;
            continue;
        }
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && t.is_word(sql, "UNION") {
            if let Some(s) = start.take() {
                out.push((s, k));
            }
            // The quantifier, if any.
            let next = tokens[k + 1..].iter().position(|t| !t.is_trivia());
            if let Some(n) = next.map(|n| k + 1 + n) {
                let is_all = tokens[n].is_word(sql, "ALL");
                all.push(is_all);
                if is_all || tokens[n].is_word(sql, "DISTINCT") {
                    k = n;
                }
            }
            k += 1;
            continue;
        }
        start.get_or_insert(k);
        k += 1;
    }
    if let Some(s) = start {
        let end = tokens
            .iter()
            .rposition(|t| t.end <= body.1)
            .map_or(tokens.len(), |e| e + 1);
        out.push((s, end));
    }
    (out, all)
}

/// The index of the first branch after the last distinct UNION, when later
/// parts are `UNION ALL`; `None` otherwise (or when the body is not a flat
/// list of `branches` branches).
pub(super) fn first_all_branch(
    sql: &str,
    tokens: &[Token],
    body: (usize, usize),
    leaves: usize,
) -> Option<usize> {
    let (bs, all) = branches(sql, tokens, body);
    if bs.len() != leaves || all.len() + 1 != bs.len() {
        return None;
    }
    let last_distinct = all.iter().rposition(|a| !a)?;
    (last_distinct + 2 < bs.len()).then_some(last_distinct + 2)
}

/// The body with a tag column added to every branch's select list (see the
/// module doc); `None` when a branch is not a SELECT the gateway can read.
pub(super) fn tagged_body(
    sql: &str,
    tokens: &[Token],
    body: (usize, usize),
    first_all: usize,
) -> Option<String> {
    let (bs, _) = branches(sql, tokens, body);
    let mut out = String::new();
    let mut at = body.0;
    for (b, &(s, e)) in bs.iter().enumerate() {
        let mut toks = &tokens[s..e];
        // `(SELECT ...)`: the SELECT inside.
        while let (Some(o), Some(c)) = (
            toks.iter().position(|t| !t.is_trivia()),
            toks.iter().rposition(|t| !t.is_trivia()),
        ) {
            if toks[o].is_punct(sql, "(") && toks[c].is_punct(sql, ")") && c > o {
                toks = &toks[o + 1..c];
            } else {
                break;
            }
        }
        let sh = shape(sql, toks)?;
        if sh.unsupported.is_some() {
            return None;
        }
        let tag = if b < first_all {
            "''"
        } else {
            "CONCAT(@@hostname, ':', @@port, ':', UUID())"
        };
        out.push_str(&sql[at..sh.list_end]);
        out.push_str(&format!(", {tag}"));
        at = sh.list_end;
    }
    out.push_str(&sql[at..body.1]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    #[test]
    fn tags_the_branches() {
        let sql = "SELECT a FROM t UNION (SELECT b FROM u) UNION ALL SELECT c FROM v ORDER BY 1";
        let toks = tokenize(sql).unwrap();
        let body = (0, sql.find(" ORDER").unwrap());
        assert_eq!(first_all_branch(sql, &toks, body, 3), Some(2));
        assert_eq!(
            tagged_body(sql, &toks, body, 2).unwrap(),
            "SELECT a, '' FROM t UNION (SELECT b, '' FROM u) UNION ALL SELECT c, \
             CONCAT(@@hostname, ':', @@port, ':', UUID()) FROM v"
        );
        let sql = "SELECT a FROM t UNION ALL SELECT b FROM u UNION DISTINCT SELECT c FROM v";
        let toks = tokenize(sql).unwrap();
        assert_eq!(first_all_branch(sql, &toks, (0, sql.len()), 3), None);
    }
}
