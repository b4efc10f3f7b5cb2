//! Merging the OK packets of a write that ran on several sets: affected rows,
//! warnings and the counters of the `info` text.

use crate::front::OkInfo;

/// Sums OK packets of disjoint writes: affected rows, warnings, and the numbers in
/// `info` ("Records: 3  Duplicates: 0  Warnings: 0", "Rows matched: 1  Changed: 1 ...").
/// `insert_split`: the parts of one multi-row INSERT; MariaDB sends no info for a
/// one-row part, so its counters are derived (affected 1 = new row; 0 or 2 = the
/// row met a duplicate: ignored, unchanged, updated or replaced).
pub fn sum_oks(mut oks: Vec<OkInfo>, insert_split: bool) -> OkInfo {
    if insert_split {
        for ok in oks.iter_mut().filter(|o| o.info.is_empty()) {
            let dup = u64::from(ok.affected_rows != 1);
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
        // INSERT IGNORE of a duplicate (0, 1 warning) and a new row (1).
        let s = sum_oks(vec![one(0, 1), one(1, 0)], true);
        assert_eq!(s.info, "Records: 2  Duplicates: 1  Warnings: 1");
        // REPLACE over an existing row (2) and a new one (1).
        let s = sum_oks(vec![one(2, 0), one(1, 0)], true);
        assert_eq!(s.info, "Records: 2  Duplicates: 1  Warnings: 0");
        assert_eq!(s.affected_rows, 3);
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
        let s = sum_oks(vec![a, b], false);
        assert_eq!(s.affected_rows, 5);
        assert_eq!(s.last_insert_id, 7);
        assert_eq!(s.info, "Records: 5  Duplicates: 1  Warnings: 1");
    }
}
