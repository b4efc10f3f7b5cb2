//! Join keys that are strings of two collations, compared as MariaDB compares
//! them: before a join runs, each side's key expressions' collation,
//! character set and derivation (`COERCIBILITY()`) are read on a set holding
//! its table (a `LEFT JOIN ... ON 0` of one row, so even an empty table
//! answers), and aggregated by MariaDB's rules for a comparison
//! (`DTCollation::aggregate` with superset and coercible conversions): the
//! stronger derivation wins; of one character set and one derivation, a
//! binary-sort collation wins and two others are ERROR 1267; of two character
//! sets, the Unicode superset wins (utf8mb4 over latin1 or utf8mb3). The
//! losing side's key is then written in the winner's collation (`CONVERT(k
//! USING cs) COLLATE c`), so its weights — and a lookup batch's `IN (...)` —
//! compare in it.

use super::fetch::{fetch_on, route};
use super::plan::{add_hidden, TwoSided};
use super::Budget;
use crate::error::ProxyError;
use crate::exec::Exec;
use crate::merge::collate::weight_sql;

/// A key expression's collation as MariaDB describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCollation {
    pub collation: String,
    pub charset: String,
    /// 0 explicit, 1 none, 2 implicit, 3 system constant, 4 coercible, 5
    /// numeric, 6 ignorable.
    pub derivation: u8,
}

/// What aggregating two keys' collations gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregated {
    /// Nothing to change (one collation, or not two strings).
    Same,
    /// Side `0` or `1`'s collation wins.
    Wins(usize),
    /// ERROR 1267.
    Mix,
}

fn unicode(cs: &str) -> bool {
    matches!(
        cs,
        "utf8mb3" | "utf8mb4" | "ucs2" | "utf16" | "utf16le" | "utf32"
    )
}

fn is_bin(c: &KeyCollation) -> bool {
    c.collation.ends_with("_bin")
}

/// MariaDB's `left_is_superset`: `l`'s character set can take `r`'s values.
fn superset(l: &KeyCollation, r: &KeyCollation) -> bool {
    let stronger_or_same =
        |tie: bool| l.derivation < r.derivation || l.derivation == r.derivation && tie;
    let supplement = l.charset == "utf8mb4" && r.charset == "utf8mb3";
    if unicode(&l.charset) && stronger_or_same(!unicode(&r.charset) || supplement) {
        return true;
    }
    r.charset == "ascii" && stronger_or_same(l.charset != "ascii")
}

/// MariaDB's aggregation of two collations for a comparison.
pub fn aggregate(a: &KeyCollation, b: &KeyCollation) -> Aggregated {
    if a.charset == "binary" || b.charset == "binary" || a.collation == b.collation {
        return Aggregated::Same;
    }
    if a.charset != b.charset {
        return if superset(a, b) {
            Aggregated::Wins(0)
        } else if superset(b, a) {
            Aggregated::Wins(1)
        } else if a.derivation < b.derivation && b.derivation >= 3 {
            Aggregated::Wins(0)
        } else if b.derivation < a.derivation && a.derivation >= 3 {
            Aggregated::Wins(1)
        } else {
            Aggregated::Mix
        };
    }
    match a.derivation.cmp(&b.derivation) {
        std::cmp::Ordering::Less => Aggregated::Wins(0),
        std::cmp::Ordering::Greater => Aggregated::Wins(1),
        std::cmp::Ordering::Equal if a.derivation == 0 => Aggregated::Mix,
        std::cmp::Ordering::Equal if is_bin(a) => Aggregated::Wins(0),
        std::cmp::Ordering::Equal if is_bin(b) => Aggregated::Wins(1),
        std::cmp::Ordering::Equal => Aggregated::Mix,
    }
}

fn derivation_name(d: u8) -> &'static str {
    match d {
        0 => "EXPLICIT",
        1 => "NONE",
        2 => "IMPLICIT",
        3 => "SYSCONST",
        4 => "COERCIBLE",
        5 => "NUMERIC",
        _ => "IGNORABLE",
    }
}

/// Each key's collation on `side` of `j`.
async fn read(
    exec: &mut Exec<'_>,
    j: &TwoSided,
    side: usize,
    budget: &mut Budget,
) -> Result<Vec<KeyCollation>, ProxyError> {
    let s = &j.sides[side];
    let sets = route(exec, &format!("SELECT 1 FROM {}", s.from))?;
    let Some(set) = sets.into_iter().next() else {
        return Ok(Vec::new());
    };
    let items: Vec<String> = s
        .key_exprs
        .iter()
        .map(|k| format!("COLLATION({k}), CHARSET({k}), COERCIBILITY({k})"))
        .collect();
    let sql = format!(
        "SELECT {} FROM (SELECT 1) AS setwise_one LEFT JOIN {} ON 0",
        items.join(", "),
        s.from
    );
    let f = fetch_on(exec, vec![set], &sql, budget).await?;
    let row = f.rows.into_iter().next().unwrap_or_default();
    let cell = |i: usize| {
        row.get(i)
            .cloned()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    Ok((0..s.key_exprs.len())
        .map(|k| KeyCollation {
            collation: cell(3 * k),
            charset: cell(3 * k + 1),
            derivation: cell(3 * k + 2).parse().unwrap_or(6),
        })
        .collect())
}

fn plain(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `j` with its string keys compared in the collation MariaDB aggregates
/// (`None`: unchanged), or ERROR 1267 where it aggregates none.
pub async fn align(
    exec: &mut Exec<'_>,
    j: &TwoSided,
    budget: &mut Budget,
) -> Result<Option<TwoSided>, ProxyError> {
    // A side whose collations cannot be read (a table form the read does
    // not route): its keys compared as before, by their weights.
    let (a, b) = match (
        read(exec, j, 0, budget).await,
        read(exec, j, 1, budget).await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e @ ProxyError::ClientIo(_)), _) | (_, Err(e @ ProxyError::ClientIo(_))) => {
            return Err(e)
        }
        _ => return Ok(None),
    };
    let mut out: Option<TwoSided> = None;
    for (k, (x, y)) in a.iter().zip(&b).enumerate() {
        let (win, lose) = match aggregate(x, y) {
            Aggregated::Same => continue,
            Aggregated::Mix => {
                let show =
                    |c: &KeyCollation| format!("{},{}", c.collation, derivation_name(c.derivation));
                // Named in the order the condition writes them, as MariaDB does.
                let at = |s: usize| j.keys_text.find(j.sides[s].key_exprs[k].as_str());
                return Err(match (at(0), at(1)) {
                    (Some(a), Some(b)) if b < a => ProxyError::CollationMix(show(y), show(x)),
                    _ => ProxyError::CollationMix(show(x), show(y)),
                });
            }
            Aggregated::Wins(w) => (w, 1 - w),
        };
        let (wc, lc) = if win == 0 { (x, y) } else { (y, x) };
        if wc.collation == lc.collation || !plain(&wc.collation) || !plain(&wc.charset) {
            continue;
        }
        let j2 = out.get_or_insert_with(|| j.clone());
        let side = &mut j2.sides[lose];
        let e = &side.key_exprs[k];
        let written = match wc.charset == lc.charset {
            true => format!("({e}) COLLATE {}", wc.collation),
            false => format!("CONVERT({e} USING {}) COLLATE {}", wc.charset, wc.collation),
        };
        let v = add_hidden(side, written.clone());
        let w = add_hidden(side, weight_sql(&written));
        side.keys[k] = (v, w);
        side.key_exprs[k] = written;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(collation: &str, charset: &str, derivation: u8) -> KeyCollation {
        KeyCollation {
            collation: collation.into(),
            charset: charset.into(),
            derivation,
        }
    }

    #[test]
    fn aggregates_as_mariadb() {
        let general = k("utf8mb4_general_ci", "utf8mb4", 2);
        let unicode = k("utf8mb4_unicode_ci", "utf8mb4", 2);
        let latin = k("latin1_swedish_ci", "latin1", 2);
        assert_eq!(aggregate(&general, &unicode), Aggregated::Mix);
        assert_eq!(aggregate(&general, &general), Aggregated::Same);
        assert_eq!(
            aggregate(&general, &k("utf8mb4_unicode_ci", "utf8mb4", 0)),
            Aggregated::Wins(1)
        );
        assert_eq!(
            aggregate(&general, &k("utf8mb4_bin", "utf8mb4", 2)),
            Aggregated::Wins(1)
        );
        assert_eq!(aggregate(&latin, &general), Aggregated::Wins(1));
        assert_eq!(aggregate(&general, &latin), Aggregated::Wins(0));
        assert_eq!(
            aggregate(&k("latin1_general_ci", "latin1", 0), &general),
            Aggregated::Mix
        );
        assert_eq!(
            aggregate(&k("utf8mb3_general_ci", "utf8mb3", 2), &general),
            Aggregated::Wins(1)
        );
        assert_eq!(
            aggregate(&k("binary", "binary", 5), &general),
            Aggregated::Same
        );
    }
}
