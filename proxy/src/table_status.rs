//! `SHOW TABLE STATUS`: asked of every set of the database. A sharded table's
//! `Rows`, `Data_length`, `Index_length` and `Data_free` are its sets' added up
//! (each MariaDB's own estimate), `Avg_row_length` is computed again from them
//! and `Auto_increment` is the largest; every other table is shown as its home
//! set has it. (During a slot move the copied rows count on both sets.)

use topo::TableKind;

use crate::error::ProxyError;
use crate::exec::{Answered, Exec};
use crate::front::responder::fail;
use crate::front::Responder;
use crate::show_rows::{fetch, write_rows, Fetched};

/// Answers `sql` (a `SHOW TABLE STATUS` of database `db`, without WHERE).
pub async fn table_status(
    exec: &mut Exec<'_>,
    sql: &str,
    db: &str,
    out: &mut Responder<'_>,
) -> Answered {
    let Some(rec) = exec.conns.snap.db(db) else {
        return fail(out, &ProxyError::UnknownDatabase(db.to_string())).await;
    };
    let mut answers = Vec::new();
    for set in rec.sets() {
        match fetch(exec, &set, sql).await {
            Ok(f) => answers.push(f),
            Err(e) => return fail(out, &e).await,
        }
    }
    let mut answers = answers.into_iter();
    let Some((cols, mut rows)) = answers.next() else {
        return fail(
            out,
            &ProxyError::NoRouting("the database has no set".into()),
        )
        .await;
    };
    let others: Vec<Fetched> = answers.collect();
    let sharded = |name: &str| {
        matches!(
            exec.conns.snap.table(db, name).map(|t| &t.kind),
            Some(TableKind::Sharded { .. })
        )
    };
    add_up(&cols, &mut rows, &others, sharded);
    write_rows(out, &cols, &rows).await
}

/// The columns added up over the sets, and the one whose largest is kept.
const SUMMED: [&str; 4] = ["Rows", "Data_length", "Index_length", "Data_free"];
const LARGEST: &str = "Auto_increment";

/// Adds to each row of `rows` naming a table `sharded` says is sharded the
/// same table's row of every answer in `others`.
fn add_up(
    cols: &[mysql_async::Column],
    rows: &mut [Vec<Option<Vec<u8>>>],
    others: &[Fetched],
    sharded: impl Fn(&str) -> bool,
) {
    let at = |cols: &[mysql_async::Column], name: &str| {
        cols.iter()
            .position(|c| c.name_str().eq_ignore_ascii_case(name))
    };
    let Some(name_at) = at(cols, "Name") else {
        return;
    };
    let number = |v: &Option<Vec<u8>>| -> Option<u64> {
        std::str::from_utf8(v.as_deref()?).ok()?.parse().ok()
    };
    for row in rows.iter_mut() {
        let Some(name) = row.get(name_at).cloned().flatten() else {
            continue;
        };
        if !sharded(&String::from_utf8_lossy(&name)) {
            continue;
        }
        for (ocols, orows) in others {
            let Some(oname_at) = at(ocols, "Name") else {
                continue;
            };
            let Some(other) = orows
                .iter()
                .find(|r| r.get(oname_at) == Some(&Some(name.clone())))
            else {
                continue;
            };
            for col in SUMMED.iter().chain([&LARGEST]) {
                let (Some(i), Some(j)) = (at(cols, col), at(ocols, col)) else {
                    continue;
                };
                let (Some(a), Some(b)) = (number(&row[i]), number(&other[j])) else {
                    continue;
                };
                let v = if *col == LARGEST {
                    a.max(b)
                } else {
                    a.saturating_add(b)
                };
                row[i] = Some(v.to_string().into_bytes());
            }
        }
        if let (Some(r), Some(d), Some(avg)) = (
            at(cols, "Rows"),
            at(cols, "Data_length"),
            at(cols, "Avg_row_length"),
        ) {
            if let (Some(n), Some(len)) = (number(&row[r]), number(&row[d])) {
                row[avg] = Some(len.checked_div(n).unwrap_or(0).to_string().into_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;

    fn cols(names: &[&str]) -> Vec<mysql_async::Column> {
        names
            .iter()
            .map(|n| {
                mysql_async::Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_name(n.as_bytes())
            })
            .collect()
    }

    fn row(v: &[Option<&str>]) -> Vec<Option<Vec<u8>>> {
        v.iter().map(|x| x.map(|s| s.as_bytes().to_vec())).collect()
    }

    #[test]
    fn a_sharded_tables_sizes_add_up_and_others_stay() {
        let names = [
            "Name",
            "Rows",
            "Avg_row_length",
            "Data_length",
            "Index_length",
            "Data_free",
            "Auto_increment",
        ];
        let c = cols(&names);
        let mut rows = vec![
            row(&[
                Some("t"),
                Some("10"),
                Some("1638"),
                Some("16384"),
                Some("0"),
                Some("0"),
                Some("21"),
            ]),
            row(&[
                Some("b"),
                Some("5"),
                Some("3276"),
                Some("16384"),
                Some("0"),
                Some("0"),
                None,
            ]),
        ];
        let other = (
            std::sync::Arc::from(cols(&names)),
            vec![
                row(&[
                    Some("b"),
                    Some("5"),
                    Some("3276"),
                    Some("16384"),
                    Some("0"),
                    Some("0"),
                    None,
                ]),
                row(&[
                    Some("t"),
                    Some("30"),
                    Some("546"),
                    Some("16384"),
                    Some("16384"),
                    Some("0"),
                    Some("40"),
                ]),
            ],
        );
        add_up(&c, &mut rows, &[other], |n| n == "t");
        assert_eq!(
            rows[0],
            row(&[
                Some("t"),
                Some("40"),
                Some("819"),
                Some("32768"),
                Some("16384"),
                Some("0"),
                Some("40")
            ])
        );
        assert_eq!(
            rows[1][1],
            Some(b"5".to_vec()),
            "a broadcast table is one copy's"
        );
    }
}
