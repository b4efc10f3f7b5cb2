//! Merging the OK packets of a write that ran on several sets: affected rows,
//! warnings and the counters of the `info` text.

use crate::front::OkInfo;
use crate::sql::lexer::{significant, tokenize};

/// The form of a split INSERT, as far as the `Duplicates` MariaDB counts for a
/// row differs: its `info` says `Records: r  Duplicates: d  Warnings: w`, with
/// `d` the rows replaced (REPLACE), ignored (IGNORE: rows not written), or
/// updated (ON DUPLICATE KEY UPDATE: changed rows; with CLIENT_FOUND_ROWS,
/// every row that met a duplicate, changed or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertForm {
    Plain,
    /// `INSERT IGNORE` (with ON DUPLICATE KEY UPDATE too: IGNORE's count).
    Ignore,
    Replace,
    /// `ON DUPLICATE KEY UPDATE`.
    Upsert,
}

impl InsertForm {
    /// The form of INSERT / REPLACE `sql`; `None` for another statement.
    pub fn of(sql: &str) -> Option<InsertForm> {
        let toks = tokenize(sql).ok()?;
        let sig = significant(&toks);
        let first = sig.first()?;
        if first.is_word(sql, "REPLACE") {
            return Some(InsertForm::Replace);
        }
        if !first.is_word(sql, "INSERT") {
            return None;
        }
        // `INSERT [LOW_PRIORITY | DELAYED | HIGH_PRIORITY] [IGNORE] [INTO] t`.
        let ignore = sig.iter().skip(1).take(2).any(|t| t.is_word(sql, "IGNORE"));
        let mut depth = 0i32;
        let mut upsert = false;
        for (i, t) in sig.iter().enumerate() {
            if t.is_punct(sql, "(") {
                depth += 1;
            } else if t.is_punct(sql, ")") {
                depth -= 1;
            } else if depth == 0
                && t.is_word(sql, "ON")
                && sig.get(i + 1).is_some_and(|n| n.is_word(sql, "DUPLICATE"))
            {
                upsert = true;
                break;
            }
        }
        Some(match (ignore, upsert) {
            (true, _) => InsertForm::Ignore,
            (false, true) => InsertForm::Upsert,
            (false, false) => InsertForm::Plain,
        })
    }

    /// The `Duplicates` of a one-row part that affected `affected` rows (MariaDB
    /// sends no info for one row). A new row and, with CLIENT_FOUND_ROWS, an
    /// unchanged duplicate of ON DUPLICATE KEY UPDATE both affect 1: counted as
    /// a new row.
    fn duplicates(self, affected: u64) -> u64 {
        match self {
            InsertForm::Plain => 0,
            // Rows not written: ignored, or (with an update) left as they were.
            InsertForm::Ignore => u64::from(affected == 0),
            // The rows it deleted, plus the one it wrote.
            InsertForm::Replace => affected.saturating_sub(1),
            // Changed: 2 (1 + 1); unchanged: 0, or 1 with found rows.
            InsertForm::Upsert => u64::from(affected == 2),
        }
    }
}

/// Sums OK packets of disjoint writes: affected rows, warnings, and the numbers in
/// `info` ("Records: 3  Duplicates: 0  Warnings: 0", "Rows matched: 1  Changed: 1 ...").
/// `insert_split`: the form of one multi-row INSERT split into these parts;
/// MariaDB sends no info for a one-row part, so its counters are derived
/// ([`InsertForm::duplicates`]).
pub fn sum_oks(mut oks: Vec<OkInfo>, insert_split: Option<InsertForm>) -> OkInfo {
    if let Some(form) = insert_split {
        for ok in oks.iter_mut().filter(|o| o.info.is_empty()) {
            let dup = form.duplicates(ok.affected_rows);
            ok.info = format!("Records: 1  Duplicates: {dup}  Warnings: {}", ok.warnings);
        }
    }
    let mut total = OkInfo::default();
    let mut info_nums: Option<(Vec<String>, Vec<u64>)> = None;
    for ok in oks {
        total.affected_rows += ok.affected_rows;
        total.warnings = total.warnings.saturating_add(ok.warnings);
        if total.last_insert_id == 0 {
            total.last_insert_id = ok.last_insert_id;
        }
        if let Some((labels, nums)) = parse_info(&ok.info) {
            match &mut info_nums {
                None => info_nums = Some((labels, nums)),
                Some((l, n)) if *l == labels => {
                    for (a, b) in n.iter_mut().zip(nums) {
                        *a += b;
                    }
                }
                Some(_) => {}
            }
        }
    }
    if let Some((labels, nums)) = info_nums {
        total.info = labels
            .iter()
            .zip(nums)
            .map(|(l, n)| format!("{l}: {n}"))
            .collect::<Vec<_>>()
            .join("  ");
    }
    total
}

fn parse_info(info: &str) -> Option<(Vec<String>, Vec<u64>)> {
    let mut labels = Vec::new();
    let mut nums = Vec::new();
    for part in info.split("  ").filter(|p| !p.trim().is_empty()) {
        let (l, n) = part.split_once(':')?;
        labels.push(l.trim().to_string());
        nums.push(n.trim().parse().ok()?);
    }
    (!labels.is_empty()).then_some((labels, nums))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_info_of_one_row_parts() {
        let one = |affected, warnings| OkInfo {
            affected_rows: affected,
            last_insert_id: 0,
            warnings,
            info: String::new(),
        };
        let form = InsertForm::of;
        let ignore = form("INSERT IGNORE INTO t VALUES (1), (2)");
        let replace = form("REPLACE t VALUES (1), (2)");
        let upsert = "INSERT t (a) VALUES (1), (2) ON DUPLICATE KEY UPDATE a = VALUES(a)";
        // INSERT IGNORE of a duplicate (0, 1 warning) and a new row (1).
        let s = sum_oks(vec![one(0, 1), one(1, 0)], ignore);
        assert_eq!(s.info, "Records: 2  Duplicates: 1  Warnings: 1");
        // REPLACE over an existing row (2), over two (3), and a new one (1).
        let s = sum_oks(vec![one(2, 0), one(3, 0), one(1, 0)], replace);
        assert_eq!(s.info, "Records: 3  Duplicates: 3  Warnings: 0");
        assert_eq!(s.affected_rows, 6);
        // ON DUPLICATE KEY UPDATE: unchanged (0), changed (2), new (1).
        let s = sum_oks(vec![one(0, 0), one(2, 0), one(1, 0)], form(upsert));
        assert_eq!(s.info, "Records: 3  Duplicates: 1  Warnings: 0");
        // Found rows: changed (2) counts; 1 is taken for a new row.
        let s = sum_oks(vec![one(2, 0), one(1, 0)], form(upsert));
        assert_eq!(s.info, "Records: 2  Duplicates: 1  Warnings: 0");
    }

    #[test]
    fn insert_forms() {
        let f = InsertForm::of;
        assert_eq!(f("insert into t values (1)"), Some(InsertForm::Plain));
        assert_eq!(
            f("INSERT LOW_PRIORITY IGNORE t VALUES (1)"),
            Some(InsertForm::Ignore)
        );
        assert_eq!(f("REPLACE INTO t VALUES (1)"), Some(InsertForm::Replace));
        assert_eq!(
            f("INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = 2"),
            Some(InsertForm::Upsert)
        );
        // `ON DUPLICATE` inside a string or parentheses is not the clause.
        assert_eq!(
            f("INSERT INTO t (a) VALUES ('on duplicate')"),
            Some(InsertForm::Plain)
        );
        assert_eq!(f("UPDATE t SET a = 1"), None);
        assert_eq!(f("DELETE FROM t"), None);
    }

    #[test]
    fn sums_info() {
        let a = OkInfo {
            affected_rows: 2,
            last_insert_id: 0,
            warnings: 0,
            info: "Records: 2  Duplicates: 0  Warnings: 0".into(),
        };
        let b = OkInfo {
            affected_rows: 3,
            last_insert_id: 7,
            warnings: 1,
            info: "Records: 3  Duplicates: 1  Warnings: 1".into(),
        };
        let s = sum_oks(vec![a, b], None);
        assert_eq!(s.affected_rows, 5);
        assert_eq!(s.last_insert_id, 7);
        assert_eq!(s.info, "Records: 5  Duplicates: 1  Warnings: 1");
    }
}
