//! MariaDB's slot SQL (`topo::slot::slot_sql`, `inside_spans_sql`) agrees with
//! `topo::slot::slot_of` for every key type: integers (negative, large unsigned),
//! text (case, trailing spaces, whole alphabets, utf8mb4) and binary. The copy, the
//! verification and the gateway's orphan filter compute slots in SQL, the gateway
//! and the binlog catch-up in Rust: they must never disagree.

use mysql_async::prelude::*;
use setwise_tests::mariadb::NodeOptions;
use setwise_tests::workdir::WorkDir;
use setwise_tests::MariaDb;
use topo::model::KeyType;
use topo::moves::SlotSpan;
use topo::slot::{inside_spans_sql, slot_of, slot_sql};

/// `slot_sql` evaluated by MariaDB == `slot_of` for every key type.
#[tokio::test(flavor = "multi_thread")]
async fn slot_sql_agrees_with_slot_of() -> anyhow::Result<()> {
    let dir = WorkDir::new("slotsql")?;
    let db = MariaDb::start("db", dir.path(), 1, NodeOptions::primary(false)).await?;
    db.exec("CREATE DATABASE k").await?;
    db.exec(
        "CREATE TABLE k.v (id INT AUTO_INCREMENT PRIMARY KEY, \
         i BIGINT, u BIGINT UNSIGNED, ti TINYINT, t VARCHAR(100) CHARACTER SET utf8mb4, \
         bin VARBINARY(300))",
    )
    .await?;
    let mut c = db.conn().await?;
    let mut ints: Vec<i64> = vec![0, 1, -1, 7, 42, -42, i64::MIN, i64::MAX, 127, -128];
    let mut x: i64 = 0x2545F4914F6CDD1D;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ints.push(x >> (x & 63).rem_euclid(60));
    }
    for v in &ints {
        c.exec_drop("INSERT INTO k.v (i) VALUES (?)", (*v,)).await?;
    }
    let uints = [0u64, 1, 255, u64::MAX, u64::MAX - 1, 1 << 63, 9_999_999_999];
    for v in uints {
        c.exec_drop("INSERT INTO k.v (u) VALUES (?)", (v,)).await?;
    }
    for v in [-128i8, -1, 0, 1, 127] {
        c.exec_drop("INSERT INTO k.v (ti) VALUES (?)", (v,)).await?;
    }
    let mut texts: Vec<String> = [
        "Alice",
        "ALICE  ",
        "alice",
        " a",
        "a\t",
        "",
        " ",
        "Straße",
        "STRASSE",
        "Émile",
        "ÉMILE",
        "zoë",
        "ZOË",
        "😀",
        "😀 X ",
        "ΩMEGA",
        "ωmega",
        "Łódź",
        "ŁÓDŹ",
        "日本",
        "Ǆ",
        "ǅ",
        "ǆ",
        "ﬁ",
        "Ａｂｃ",
        "ÀÉÎÕÜ",
        "ÿŸ",
        "Σίσυφος",
        "ПРИВЕТ",
        "Ǳ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Every letter of a few alphabets, upper and lower case.
    for range in [
        0x41u32..0x5b,
        0xc0..0x250,
        0x370..0x3ff,
        0x400..0x530,
        0x531..0x556,
        0x10a0..0x10ff,
        0x13a0..0x13f6,
        0x1e00..0x1fff,
        0x2126..0x2184,
        0x24b6..0x24e9,
        0x2c00..0x2d2f,
        0xa640..0xa7ff,
        0xff21..0xff3b,
        0x10400..0x10450,
        0x1e900..0x1e922,
        0x1c80..0x1c90,
        0x10d50..0x10d90,
        0x16e40..0x16e60,
        0x10c80..0x10cb3,
        0x118a0..0x118c0,
    ] {
        for cp in range {
            if let Some(ch) = char::from_u32(cp) {
                texts.push(format!("{ch}x{ch}"));
            }
        }
    }
    for t in &texts {
        c.exec_drop("INSERT INTO k.v (t) VALUES (?)", (t.as_str(),))
            .await?;
    }
    let bins: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0xff, 0x00, 0x41],
        b"Alice".to_vec(),
        b"alice  ".to_vec(),
        (0..=255u8).collect(),
    ];
    for b in &bins {
        c.exec_drop("INSERT INTO k.v (bin) VALUES (?)", (b.clone(),))
            .await?;
    }

    let mut bad = Vec::new();
    for slots in [1024u32, 7] {
        for (col, kt) in [
            ("i", KeyType::Integer),
            ("u", KeyType::Integer),
            ("ti", KeyType::Integer),
            ("t", KeyType::Text),
            ("bin", KeyType::Binary),
        ] {
            let sql = format!(
                "SELECT CAST({col} AS BINARY), {} FROM k.v WHERE {col} IS NOT NULL",
                slot_sql(&format!("`{col}`"), kt, slots)
            );
            let rows: Vec<(Vec<u8>, u32)> = c.query(sql).await?;
            assert!(!rows.is_empty());
            for (v, s) in rows {
                let want = slot_of(&v, kt, slots);
                if want != Some(s) {
                    bad.push(format!(
                        "{col} {:?} ({kt:?}, {slots} slots): MariaDB {s}, slot_of {want:?}",
                        String::from_utf8_lossy(&v)
                    ));
                }
            }
            // The span condition selects exactly the rows whose slot_of is inside.
            let spans = [SlotSpan { start: 1, end: 4 }];
            let sql = format!(
                "SELECT CAST({col} AS BINARY) FROM k.v WHERE {col} IS NOT NULL AND {}",
                inside_spans_sql(&format!("`{col}`"), kt, slots, &spans)
            );
            let inside: Vec<Vec<u8>> = c.query(sql).await?;
            for v in inside {
                let s = slot_of(&v, kt, slots);
                if !s.is_some_and(|s| spans[0].contains(s)) {
                    bad.push(format!("{col} {:?}: inside_spans_sql but slot {s:?}", v));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
    c.disconnect().await?;
    Ok(())
}

/// Weighted text keys (`topo::weights`): in every supported collation, MariaDB's
/// slot SQL agrees with the gateway's `slot_of`, and values MariaDB finds equal
/// (`'a' = 'Ä'`, `'ß' = 's'`, a trailing no-break space in unicode_ci, full-width
/// forms) share a slot.
#[tokio::test(flavor = "multi_thread")]
async fn weighted_keys_hash_equal_values_alike() -> anyhow::Result<()> {
    let dir = WorkDir::new("slotsqlw")?;
    let db = MariaDb::start("db", dir.path(), 1, NodeOptions::primary(false)).await?;
    let collations = [
        ("utf8mb4", "utf8mb4_general_ci"),
        ("utf8mb4", "utf8mb4_unicode_ci"),
        ("utf8mb4", "utf8mb4_bin"),
        ("utf8mb4", "utf8mb4_general_nopad_ci"),
        ("utf8mb4", "utf8mb4_unicode_nopad_ci"),
        ("utf8mb4", "utf8mb4_nopad_bin"),
        ("utf8mb3", "utf8mb3_general_ci"),
        ("utf8mb3", "utf8mb3_unicode_ci"),
        ("latin1", "latin1_swedish_ci"),
        ("latin1", "latin1_german2_ci"),
        ("latin1", "latin1_bin"),
        ("ascii", "ascii_general_ci"),
    ];
    let cols: Vec<String> = collations
        .iter()
        .enumerate()
        .map(|(i, (cs, co))| format!("c{i} VARCHAR(40) CHARACTER SET {cs} COLLATE {co}"))
        .collect();
    db.exec("CREATE DATABASE k").await?;
    db.exec(&format!(
        "CREATE TABLE k.w (id INT AUTO_INCREMENT PRIMARY KEY, {})",
        cols.join(", ")
    ))
    .await?;
    let mut c = db.conn().await?;
    // Characters a column cannot hold are stored as '?' (no strict mode).
    c.query_drop("SET NAMES utf8mb4, sql_mode = ''").await?;
    let mut texts: Vec<String> = [
        "a", "A", "Ä", "ä", "á", "ª", "a ", "a  ", "a\u{a0}", "a\u{a0} ", " a", "a\t", "a\u{1}",
        "ß", "s", "ss", "SS", "ẞ", "ﬁ", "fi", "ａ", "Ａ", "ｱ", "ア", "あ", "Å", "A\u{30a}", "Ω",
        "Ω", "😀", "😁", "日本", "", " ", "\u{a0}", "\u{200b}", "Straße", "STRASSE", "Œ", "oe",
        "Ǆ", "ǅ", "ǆ", "DŽ", "İ", "ı", "i", "I", "€", "?", "Ÿ", "ÿ", "y",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for range in [
        0x20u32..0x7f,
        0xa0..0x250,
        0x370..0x3d0,
        0x400..0x460,
        0x1e00..0x1e20,
        0xff01..0xff60,
    ] {
        texts.extend(range.filter_map(char::from_u32).map(|ch| format!("{ch}")));
    }
    let list: Vec<String> = (0..collations.len()).map(|i| format!("c{i}")).collect();
    let marks = vec!["?"; collations.len()].join(",");
    let insert = format!("INSERT INTO k.w ({}) VALUES ({marks})", list.join(","));
    for t in &texts {
        let row: Vec<mysql_async::Value> = vec![t.as_str().into(); collations.len()];
        c.exec_drop(&insert, row).await?;
    }
    let mut bad = Vec::new();
    for (i, (_, name)) in collations.iter().enumerate() {
        let (id, pad) = topo::weights::resolve(&mut c, name).await?;
        topo::weights::load(&mut c, id).await?;
        let kt = KeyType::Weighted { collation: id, pad };
        let col = format!("`c{i}`");
        // The gateway's slot of each stored value, read back as UTF-8.
        let sql = format!(
            "SELECT CAST(CONVERT({col} USING utf8mb4) AS BINARY), {} FROM k.w",
            slot_sql(&col, kt, 1024)
        );
        let rows: Vec<(Vec<u8>, u32)> = c.query(sql).await?;
        assert_eq!(rows.len(), texts.len());
        for (v, s) in rows {
            let want = slot_of(&v, kt, 1024);
            if want != Some(s) {
                bad.push(format!(
                    "{name} {:?}: MariaDB {s}, slot_of {want:?}",
                    String::from_utf8_lossy(&v)
                ));
            }
        }
        // Values MariaDB finds equal share a slot.
        let sql = format!(
            "SELECT CONVERT(x.{col} USING utf8mb4), CONVERT(y.{col} USING utf8mb4) \
             FROM k.w x JOIN k.w y ON x.{col} = y.{col} WHERE {} <> {}",
            slot_sql(&format!("x.{col}"), kt, 1024),
            slot_sql(&format!("y.{col}"), kt, 1024)
        );
        let split: Vec<(String, String)> = c.query(sql).await?;
        for (a, b) in split.into_iter().take(5) {
            bad.push(format!("{name}: {a:?} = {b:?} but their slots differ"));
        }
        // ... and the equalities this test is about are there.
        let equal: Option<i64> = c
            .query_first(format!(
                "SELECT COUNT(*) FROM k.w x JOIN k.w y ON x.{col} = y.{col} AND x.id <> y.id"
            ))
            .await?;
        assert!(equal.unwrap_or(0) > 0, "{name}: no equal pairs");
    }
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
    c.disconnect().await?;
    Ok(())
}
