//! Text shard keys answer as one MariaDB: values the key's collation finds equal
//! (`'a' = 'Ä'` and `'ß' = 's'` in utf8mb4_general_ci, `'ß' = 'ss'` and full-width
//! forms in utf8mb4_unicode_ci, trailing spaces under PAD SPACE, every emoji alike
//! in both) live on one set, so a duplicate is refused with 1062 and a read by key
//! finds every equal row — over the text and the binary protocol, in autocommit
//! and in a transaction. Before keys were hashed by collation weights
//! (`topo::weights`), `'a'` and `'Ä'` could land on different sets.

use mysql_async::Value;
use setwise_tests::diff::{Diff, Q};

/// Key columns in the collations the tables are created with (`None`: the
/// database's default, `diffdb`'s).
const TABLES: &[(&str, &str)] = &[
    (
        "tg",
        "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
    ),
    (
        "tu",
        "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    ),
    (
        "tb",
        "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    ),
    (
        "tn",
        "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_nopad_ci",
    ),
    ("tl", "VARCHAR(20) CHARACTER SET latin1"),
    ("t3", "CHAR(20) CHARACTER SET utf8mb3"),
    ("td", "VARCHAR(20)"),
];

/// Keys written one statement at a time, in this order (each with its own `v`):
/// many collide with an earlier one in some collation.
const KEYS: &[&str] = &[
    "Ä", "a", "a ", "A", "á", "ß", "s", "ss", "SS", "ẞ", "Ａ", "a\u{a0}", "😀", "😁", "Ü", "Y",
    "y", "ü", "Œ", "oe", "日本", "ｱ", "ア", "", " ", "x\u{1}",
];

/// Values read back by key.
const PROBES: &[&str] = &[
    "a", "A  ", "ä", "Á", "s", "ss", "ß", "ẞ", "ａ", "😂", "y", "Ý", "ü", "OE", "日本 ", "ｱ", "",
    "x", "x\u{1}", "?",
];

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

async fn loaded() -> Diff {
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.create_db().await.expect("create diffdb");
    d.pair("SET NAMES utf8mb4", "SET NAMES utf8mb4")
        .await
        .unwrap();
    for (t, ty) in TABLES {
        let ddl = format!("CREATE TABLE {t} (k {ty} NOT NULL PRIMARY KEY, v INT)");
        d.pair(&format!("{ddl} shardkey=k"), &ddl).await.unwrap();
    }
    d
}

#[tokio::test]
async fn equal_keys_live_together_in_every_collation() {
    let mut d = loaded().await;
    // sql_mode without strict: a character latin1/utf8mb3 cannot hold is stored as '?'.
    d.pair("SET sql_mode = ''", "SET sql_mode = ''")
        .await
        .unwrap();
    for (t, _) in TABLES {
        d.group(&format!("writes {t}"));
        let mut qs = Vec::new();
        for (i, k) in KEYS.iter().enumerate() {
            qs.push(Q::any(format!("INSERT INTO {t} VALUES ({}, {i})", lit(k))));
        }
        // Several rows at once, some equal to each other or to stored rows.
        qs.push(Q::any(format!(
            "INSERT INTO {t} VALUES ('b', 100), ('B ', 101)"
        )));
        qs.push(Q::any(format!(
            "INSERT IGNORE INTO {t} VALUES ('c', 102), ('Ç', 103), ('ä', 104)"
        )));
        qs.push(Q::any(format!(
            "INSERT INTO {t} VALUES ('à', 105) ON DUPLICATE KEY UPDATE v = v + 1000"
        )));
        qs.push(Q::any(format!("REPLACE INTO {t} VALUES ('SS', 106)")));
        qs.push(Q::any("SELECT ROW_COUNT()"));
        qs.push(Q::any(format!("INSERT INTO {t} VALUES (?, 107)")).bin(vec![Value::from("A")]));
        qs.push(Q::any(format!("UPDATE {t} SET v = v + 1 WHERE k = 'Á'")));
        qs.push(Q::any(format!("DELETE FROM {t} WHERE k = 'ÿ'")));
        d.run_all(&qs).await.unwrap();
        d.group(&format!("reads {t}"));
        let mut qs = vec![Q::exact(format!("SELECT HEX(k), v FROM {t} ORDER BY v"))];
        for p in PROBES {
            qs.push(Q::any(format!(
                "SELECT HEX(k), v FROM {t} WHERE k = {}",
                lit(p)
            )));
            qs.push(
                Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k = ?")).bin(vec![Value::from(*p)]),
            );
        }
        qs.push(Q::any(format!(
            "SELECT HEX(k), v FROM {t} WHERE k IN ('a', 'S', 'ｓｓ', 'y')"
        )));
        qs.push(Q::any(format!(
            "SELECT COUNT(*) FROM {t} WHERE k = 'A' OR k = 'ü'"
        )));
        d.run_all(&qs).await.unwrap();
    }
    d.finish();
}

#[tokio::test]
async fn equal_keys_in_a_transaction_and_strict_mode() {
    let mut d = loaded().await;
    let strict = "SET sql_mode = 'STRICT_TRANS_TABLES'";
    d.pair(strict, strict).await.unwrap();
    for (t, _) in TABLES {
        d.group(&format!("transaction {t}"));
        let qs = vec![
            Q::any("BEGIN"),
            Q::any(format!("INSERT INTO {t} VALUES ('Ä', 1), ('ö', 2)")),
            Q::any(format!("INSERT INTO {t} VALUES ('a', 3)")),
            Q::any(format!(
                "SELECT HEX(k), v FROM {t} WHERE k = 'A' FOR UPDATE"
            )),
            Q::any(format!("INSERT INTO {t} VALUES ('😀', 4)")),
            Q::any(format!("INSERT INTO {t} VALUES ('😁', 5)")),
            Q::any(format!("UPDATE {t} SET v = 10 WHERE k = 'O'")),
            Q::any("COMMIT"),
            Q::exact(format!("SELECT HEX(k), v FROM {t} ORDER BY v")),
        ];
        d.run_all(&qs).await.unwrap();
    }
    d.finish();
}

/// A number compared with a string key is compared numerically by MariaDB
/// (`'012' = 12`, `'12abc' = 12`): such rows live on any set, so the read goes to
/// every set; an integer written into a string key is stored as its digits.
#[tokio::test]
async fn numbers_compared_with_a_string_key() {
    let mut d = loaded().await;
    d.pair("SET sql_mode = ''", "SET sql_mode = ''")
        .await
        .unwrap();
    for t in ["tg", "tu", "tb"] {
        d.group(&format!("numbers {t}"));
        let mut qs = Vec::new();
        for (i, k) in ["12", "012", " 12", "12.0", "12abc", "13", "1e1", "10"]
            .iter()
            .enumerate()
        {
            qs.push(Q::any(format!("INSERT INTO {t} VALUES ({}, {i})", lit(k))));
        }
        qs.extend([
            Q::any(format!("INSERT INTO {t} VALUES (42, 100)")),
            Q::any(format!("INSERT INTO {t} VALUES (-7, 101)")),
            Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k = '42'")),
            Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k = '-7'")),
            Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k = 12")),
            Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k = 10")),
            Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k IN (13, '12')")),
            Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k = ?")).bin(vec![Value::from(12)]),
            Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k = ?")).bin(vec![Value::from("12")]),
            Q::any(format!("SELECT HEX(k), v FROM {t} WHERE k = 0x3132")),
            Q::any(format!("UPDATE {t} SET v = v + 1 WHERE k = 12")),
            Q::exact(format!("SELECT HEX(k), v FROM {t} ORDER BY v")),
        ]);
        d.run_all(&qs).await.unwrap();
    }
    d.finish();
}
