//! STD / VARIANCE across sets. MariaDB computes them in double with a running
//! (Welford) algorithm over the rows; the gateway gets from each set the count,
//! the sum and the sum of squared deviations from the set's mean (`M2`, from
//! `VAR_POP × COUNT`) and combines two sets' moments with Chan's parallel formula:
//!
//! `M2 = M2a + M2b + δ² · na · nb / (na + nb)`, `δ = mean_b − mean_a`,
//!
//! which is as stable as Welford's; results agree with MariaDB's to ~1e-12
//! relative. The value is printed at the column's scale (MariaDB's own column
//! definition: DOUBLE, decimals from the argument's type).

use super::value::Cell;
use super::VarKind;

fn f64_of(c: &Cell) -> Option<f64> {
    std::str::from_utf8(c.as_ref()?).ok()?.trim().parse().ok()
}

/// Combines `row`'s sum of squared deviations into `acc`'s. `count` and `sum` are
/// the helper columns, not yet added (the caller folds them afterwards).
pub fn fold_m2(acc: &mut [Cell], row: &[Cell], m2: usize, count: usize, sum: usize) {
    let n = |c: &Cell| f64_of(c).unwrap_or(0.0);
    let (na, nb) = (n(&acc[count]), n(&row[count]));
    if nb == 0.0 {
        return;
    }
    if na == 0.0 {
        acc[m2] = row[m2].clone();
        return;
    }
    let (sa, sb) = (n(&acc[sum]), n(&row[sum]));
    let delta = sb / nb - sa / na;
    let combined = n(&acc[m2]) + n(&row[m2]) + delta * delta * na * nb / (na + nb);
    acc[m2] = Some(format_full(combined).into_bytes());
}

/// The group's STD / VARIANCE from its count and combined `M2`, formatted for a
/// DOUBLE column with `decimals` (31: full precision).
pub fn finish(kind: VarKind, count: &Cell, m2: &Cell, decimals: u8) -> Cell {
    let n = f64_of(count).unwrap_or(0.0);
    let m2 = f64_of(m2).unwrap_or(0.0).max(0.0);
    let sample = matches!(kind, VarKind::VarSamp | VarKind::StdSamp);
    let d = if sample { n - 1.0 } else { n };
    if d <= 0.0 {
        return None;
    }
    let var = m2 / d;
    let v = match kind {
        VarKind::StdPop | VarKind::StdSamp => var.sqrt(),
        _ => var,
    };
    Some(format_at(v, decimals).into_bytes())
}

/// A double with full precision (shortest text that reads back the same).
fn format_full(v: f64) -> String {
    format!("{v:e}")
}

pub use super::value::format_double_at as format_at;

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cell {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn chan_matches_one_pass() {
        // Set a: 1, 2, 3 (mean 2, M2 2); set b: 10, 20 (mean 15, M2 50).
        let mut acc = vec![c("3"), c("6"), c("2")];
        fold_m2(&mut acc, &[c("2"), c("30"), c("50")], 2, 0, 1);
        // All five: mean 7.2, M2 = 254.8.
        let m2: f64 = std::str::from_utf8(acc[2].as_ref().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        assert!((m2 - 254.8).abs() < 1e-9);
        assert_eq!(finish(VarKind::VarPop, &c("5"), &acc[2], 4), c("50.9600"));
        assert_eq!(finish(VarKind::VarSamp, &c("1"), &c("0"), 4), None);
        assert_eq!(finish(VarKind::StdPop, &c("0"), &None, 4), None);
        assert_eq!(finish(VarKind::StdPop, &c("1"), &c("0"), 6), c("0.000000"));
        // An empty side leaves the other.
        let mut acc = vec![c("0"), None, None];
        fold_m2(&mut acc, &[c("2"), c("30"), c("50")], 2, 0, 1);
        assert_eq!(acc[2], c("50"));
    }
}
