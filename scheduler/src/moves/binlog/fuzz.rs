//! The binlog's fuzz targets (tests and the `fuzz` feature only): a rows event's
//! images decoded against a table map built from the input ([`rows`]), and a
//! MariaDB GTID event's body ([`gtid`]). See docs/fuzzing.md.

use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{FormatDescriptionEvent, TableMapEvent};
use mysql_common::binlog::BinlogCtx;
use mysql_common::io::ParseBuf;
use mysql_common::proto::MyDeserialize;

use super::{read_rows, Column, TableSchema};

/// `information_schema` types a column may have (what [`super::bindable`] and
/// the decoder restore from it).
const DATA_TYPES: &[&str] = &[
    "int",
    "tinyint",
    "smallint",
    "mediumint",
    "bigint",
    "timestamp",
    "year",
    "set",
    "binary",
    "varchar",
    "decimal",
    "time",
    "datetime",
    "date",
    "bit",
    "enum",
];

/// `data`: `[columns 1..=16][a type byte per column][metadata len][metadata]`
/// `[a schema byte per column: data type, unsigned bit][images: bit 0 before,
/// bit 1 after]` then the rows data.
pub fn rows(data: &[u8]) {
    let mut b = data;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (h, t) = b.split_at_checked(n)?;
        b = t;
        Some(h)
    };
    let Some(&[n]) = take(1) else { return };
    let n = (n % 16) as usize + 1;
    let Some(types) = take(n) else { return };
    let types = types.to_vec();
    let Some(&[mlen]) = take(1) else { return };
    let Some(meta) = take(mlen as usize) else {
        return;
    };
    let meta = meta.to_vec();
    let Some(cols) = take(n) else { return };
    let cols = cols.to_vec();
    let Some(&[images]) = take(1) else { return };
    let rows = b;

    // The table map event's body, as the server writes it.
    let mut tme = Vec::new();
    tme.extend_from_slice(&[1, 0, 0, 0, 0, 0]); // table id
    tme.extend_from_slice(&[1, 0]); // flags
    tme.extend_from_slice(&[1, b'd', 0, 1, b't', 0]);
    tme.push(n as u8);
    tme.extend_from_slice(&types);
    tme.push(meta.len() as u8);
    tme.extend_from_slice(&meta);
    tme.extend(std::iter::repeat_n(0xff, n.div_ceil(8)));
    let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let ctx = BinlogCtx::new(tme.len(), &fde, 19);
    let Ok(tme) = TableMapEvent::deserialize(ctx, &mut ParseBuf(&tme)) else {
        return;
    };
    let schema = TableSchema {
        name: "t".into(),
        columns: cols
            .iter()
            .enumerate()
            .map(|(i, c)| Column {
                name: format!("c{i}"),
                data_type: DATA_TYPES[(c & 15) as usize].into(),
                unsigned: c & 0x80 != 0,
                octet_len: Some((c >> 4 & 7) as u64 * 3),
                charset: None,
            })
            .collect(),
        pk: vec![0],
    };
    let before = (images & 1 != 0).then_some(n);
    let after = (images & 2 != 0).then_some(n);
    if let Ok(rows) = read_rows(&tme, &schema, before, after, rows) {
        for (b, a) in rows {
            assert_eq!(b.is_some(), before.is_some());
            assert_eq!(a.is_some(), after.is_some());
            assert!(b.into_iter().chain(a).all(|v| v.len() == n));
        }
    }
}

/// A GTID event's body.
pub fn gtid(data: &[u8]) {
    let _ = super::parse_gtid_event(data, 1);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use setwise_fuzzkit::Campaign;

    fn campaign(name: &str, iterations: usize) -> Campaign<'_> {
        Campaign {
            name,
            corpus_root: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus"),
            iterations,
            dict: &[],
            max_len: 4096,
        }
    }

    #[test]
    fn fuzz_binlog_rows() {
        campaign("binlog_rows", 5000).run(super::rows);
    }

    #[test]
    fn fuzz_binlog_gtid() {
        campaign("binlog_gtid", 2000).run(super::gtid);
    }
}
