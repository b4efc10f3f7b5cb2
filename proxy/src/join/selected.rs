//! Subqueries in the select list of a statement over several sets, read first
//! like those of its WHERE (`super::subquery`): the values written in change
//! the item's text, which names its column, and its type (a literal `5` is an
//! `INT(1) NOT NULL`, `(SELECT COUNT(*) ...)` a nullable `BIGINT(21)`). So the
//! client gets the column definitions of its own statement with `LIMIT 0`
//! (MariaDB gives a subquery item the same definition there), run on a set
//! holding every table it reads, and the rows of the rewritten statement,
//! whose values print as the subquery's would.

use crate::error::ProxyError;
use crate::merge::MergeSpec;
use crate::route::{Merge, Plan, Target};
use crate::sql::lexer::{clause_words, Token};

/// Where the client's column definitions come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// The client's statement with `LIMIT 0`.
    pub sql: String,
    /// The sets holding every table the statement reads (any one answers).
    pub sets: Vec<String>,
    /// The rewritten statement reads no table (`super::union_reads`): it runs
    /// on the first of `sets`.
    pub anywhere: bool,
}

/// The client's statement `sql` with its top-level LIMIT replaced by
/// `LIMIT 0`; `None` when a clause after it would not allow that (INTO, FOR
/// UPDATE, LOCK IN SHARE MODE, PROCEDURE).
pub fn columns_sql(sql: &str, tokens: &[Token]) -> Option<String> {
    let (sig, words) = clause_words(sql, tokens);
    if words.iter().any(|(_, w)| {
        [
            "INTO",
            "FOR",
            "LOCK",
            "PROCEDURE",
            "UNION",
            "INTERSECT",
            "EXCEPT",
        ]
        .contains(&w.as_str())
    }) {
        return None;
    }
    let end = match words.iter().find(|(_, w)| w == "LIMIT") {
        Some((j, _)) => sig[*j].start,
        None => sig.last()?.end,
    };
    Some(format!("{} LIMIT 0", sql[..end].trim_end()))
}

/// Whether the top-level ORDER BY of `sql` sorts by one of `items` (select
/// items holding a subquery: their aliases, texts, or positions 1-based):
/// MariaDB may then sort through a temporary table, whose column definitions
/// (key flags, origins) its statement with `LIMIT 0` does not show.
pub fn sorts_by(sql: &str, tokens: &[Token], items: &[(usize, Option<String>, String)]) -> bool {
    let (sig, words) = clause_words(sql, tokens);
    let Some(order) = words
        .iter()
        .position(|(j, w)| w == "ORDER" && sig.get(j + 1).is_some_and(|t| t.is_word(sql, "BY")))
    else {
        return false;
    };
    let from = words[order].0 + 2;
    let to = words
        .iter()
        .find(|(j, w)| *j > from && w == "LIMIT")
        .map_or(sig.len(), |(j, _)| *j);
    if from >= to {
        return false;
    }
    let text = &sql[sig[from].start..sig[to - 1].end];
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != '`' && !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let mut depth = 0i32;
    let mut parts = vec![String::new()];
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().expect("one part").push(c);
    }
    parts.iter().any(|p| {
        let p = p.trim();
        let p = p
            .strip_suffix(" DESC")
            .or_else(|| p.strip_suffix(" desc"))
            .or_else(|| p.strip_suffix(" ASC"))
            .or_else(|| p.strip_suffix(" asc"))
            .unwrap_or(p);
        let n = norm(p);
        n.contains("select")
            || items.iter().any(|(pos, alias, item)| {
                n == pos.to_string()
                    || alias.as_deref().is_some_and(|a| norm(a) == n)
                    || norm(item) == n
            })
    })
}

/// `plan` (of the rewritten statement `text`) answering with the column
/// definitions of `cols`: a merged read whose first set holds every table of
/// the client's statement.
pub fn with_columns(plan: Plan, text: &str, cols: &Columns) -> Result<Plan, ProxyError> {
    let refused = || {
        super::unsupported(
            "a subquery across sets in the select list of this statement (its column definitions could not be read)",
        )
    };
    let Target::Sets(mut sets) = plan.target else {
        return Err(refused());
    };
    if cols.anywhere && matches!(plan.merge, Merge::Single) {
        sets = cols.sets.iter().take(1).cloned().collect();
    }
    // A set that can run the client's statement goes first: it gives the
    // column definitions.
    let first = sets
        .iter()
        .position(|s| cols.sets.contains(s))
        .ok_or_else(refused)?;
    sets.swap(0, first);
    let spec = match plan.merge {
        Merge::Single => {
            sets.truncate(1);
            plain(text, cols)
        }
        Merge::Concat => plain(text, cols),
        Merge::Merged(mut spec) if spec.columns_sql.is_none() => {
            spec.columns_sql = Some(cols.sql.clone());
            *spec
        }
        _ => return Err(refused()),
    };
    Ok(Plan {
        target: Target::Sets(sets),
        merge: Merge::Merged(Box::new(spec)),
    })
}

/// Every set's rows as they come, under `cols`' definitions.
fn plain(text: &str, cols: &Columns) -> MergeSpec {
    MergeSpec {
        sql: text.to_string(),
        columns_sql: Some(cols.sql.clone()),
        visible: usize::MAX,
        ..MergeSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn cs(sql: &str) -> Option<String> {
        columns_sql(sql, &tokenize(sql).unwrap())
    }

    #[test]
    fn the_statement_with_limit_zero() {
        assert_eq!(
            cs("SELECT a, (SELECT MAX(b) FROM u) FROM t WHERE a IN (SELECT 1 LIMIT 3);").as_deref(),
            Some("SELECT a, (SELECT MAX(b) FROM u) FROM t WHERE a IN (SELECT 1 LIMIT 3) LIMIT 0")
        );
        assert_eq!(
            cs("SELECT (SELECT 1) FROM t ORDER BY a LIMIT 5, 10").as_deref(),
            Some("SELECT (SELECT 1) FROM t ORDER BY a LIMIT 0")
        );
        assert_eq!(cs("SELECT (SELECT 1) FROM t FOR UPDATE"), None);
        let sorts = |sql: &str| {
            let items = [(
                2,
                Some("n".to_string()),
                "(SELECT COUNT(*) FROM u)".to_string(),
            )];
            sorts_by(sql, &tokenize(sql).unwrap(), &items)
        };
        assert!(sorts(
            "SELECT a, (SELECT COUNT(*) FROM u) AS n FROM t ORDER BY `n` DESC, a LIMIT 3"
        ));
        assert!(sorts(
            "SELECT a, (SELECT COUNT(*) FROM u) AS n FROM t ORDER BY a, 2"
        ));
        assert!(!sorts(
            "SELECT a, (SELECT COUNT(*) FROM u) AS n FROM t ORDER BY a DESC LIMIT 3"
        ));
        assert!(!sorts("SELECT a, (SELECT COUNT(*) FROM u) AS n FROM t"));
    }
}
