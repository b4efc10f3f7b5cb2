//! Differential checks of the diagnostics area after writes that reach several
//! sets: an autocommit write to a broadcast table (every set), a multi-row INSERT
//! split over sets, an UPDATE/DELETE over every set, each run as one XA
//! transaction by the gateway. `SHOW WARNINGS`, `SHOW ERRORS`, `@@warning_count`
//! and `SHOW COUNT(*) WARNINGS` afterwards must be MariaDB's, messages included
//! (they were empty: the statement's connections went back to the pool at its
//! commit, and their diagnostics with them). Conditions naming a row (`... at
//! row 2`) number each set's part of a split statement on its own (README,
//! Warnings), so the split writes here give conditions that name none.

use setwise_tests::diff::data::Data;
use setwise_tests::diff::diagnostics::{self, Ids};
use setwise_tests::diff::{Diff, Q};

/// 40 characters: longer than `cities.name` (32) and `cities.country` (32).
const LONG: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCD";

/// A diagnostics read, compared with its messages (in any order: a statement
/// over several sets lists each set's conditions in set order, MariaDB in its
/// scan order).
fn read(sql: &str) -> Q {
    Q::any(sql).with_message()
}

/// Reads of the diagnostics area after a statement.
fn reads() -> Vec<Q> {
    vec![
        read("SHOW WARNINGS"),
        read("SELECT @@warning_count, @@error_count"),
        read("SHOW COUNT(*) WARNINGS"),
        read("SHOW ERRORS"),
    ]
}

#[tokio::test]
async fn diagnostics_after_writes_on_several_sets_match_a_plain_mariadb() {
    let data = Data::generate(20_261_207, 60, 100);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    d.pair("SET sql_mode = ''", "SET sql_mode = ''")
        .await
        .unwrap();
    // Two new users on different sets, so the INSERT below is split.
    let (mut one, mut two) = (None, None);
    for id in 1_000_000i64..1_000_100 {
        match d.owner(id).as_str() {
            "set1" if one.is_none() => one = Some(id),
            "set2" if two.is_none() => two = Some(id),
            _ => {}
        }
    }
    let (one, two) = (one.unwrap(), two.unwrap());
    // Two loaded users on different sets.
    let ids = data.user_ids();
    let on = |set: &str| *ids.iter().find(|&&id| d.owner(id) == set).unwrap();
    let (p1, p2) = (on("set1"), on("set2"));

    let mut steps: Vec<(&str, Q)> = vec![
        (
            "broadcast INSERT with a truncated value",
            Q::any(format!(
                "INSERT INTO cities VALUES ('{LONG}', 'x'), ('short', '{LONG}')"
            )),
        ),
        (
            "broadcast UPDATE with truncated values",
            Q::any(format!(
                "UPDATE cities SET country = CONCAT(country, '{LONG}') WHERE name LIKE 'short%'"
            )),
        ),
        (
            "broadcast INSERT IGNORE of duplicate keys",
            Q::any("INSERT IGNORE INTO cities VALUES ('short', 'dup'), ('short2', 'new')"),
        ),
        (
            "broadcast INSERT failing on a duplicate key",
            Q::any("INSERT INTO cities VALUES ('short', 'dup')").with_message(),
        ),
        (
            "INSERT split over two sets",
            Q::any(format!(
                "INSERT INTO users (user_id, name) VALUES ({one}, 'a'), ({two}, 'b')"
            )),
        ),
        (
            "UPDATE over every set with a bad value on each row",
            Q::any(format!(
                "UPDATE users SET score = CAST(CONCAT(user_id, 'x') AS SIGNED) \
                 WHERE user_id IN ({one}, {two})"
            )),
        ),
        (
            "UPDATE over every set, a bad value on one set only",
            Q::any(format!(
                "UPDATE users SET score = CAST(CONCAT(user_id, IF(user_id = {one}, 'x', '')) AS SIGNED) \
                 WHERE user_id IN ({one}, {two})"
            )),
        ),
        (
            "INSERT IGNORE split over two sets, duplicates on both",
            Q::any(format!(
                "INSERT IGNORE INTO users (user_id, name) VALUES ({one}, 'a'), ({two}, 'b')"
            )),
        ),
        (
            "DELETE over every set (clean: clears the area)",
            Q::any(format!("DELETE FROM users WHERE user_id IN ({one}, {two})")),
        ),
        (
            "broadcast DELETE (clean)",
            Q::any("DELETE FROM cities WHERE name LIKE 'short%' OR name LIKE 'abc%'"),
        ),
    ];
    // The same writes inside a transaction, then committed.
    steps.push(("BEGIN", Q::any("BEGIN")));
    steps.push((
        "a bad value on one set in a transaction",
        Q::any(format!(
            "UPDATE users SET score = CAST(CONCAT(user_id, 'x') AS SIGNED) WHERE user_id = {p1}"
        )),
    ));
    steps.push((
        "then a clean write on the other set (clears the area)",
        Q::any(format!("UPDATE users SET score = 5 WHERE user_id = {p2}")),
    ));
    steps.push((
        "then bad values on both sets",
        Q::any(format!(
            "UPDATE users SET score = CAST(CONCAT(user_id, 'x') AS SIGNED) \
             WHERE user_id IN ({p1}, {p2})"
        )),
    ));
    steps.push((
        "then a clean write on one set (clears the area)",
        Q::any(format!("UPDATE users SET score = 6 WHERE user_id = {p1}")),
    ));
    steps.push((
        "broadcast INSERT with a truncated value in a transaction",
        Q::any(format!("INSERT INTO cities VALUES ('{LONG}', 'x')")),
    ));
    steps.push(("COMMIT", Q::any("COMMIT")));
    steps.push((
        "broadcast DELETE after the transaction",
        Q::any("DELETE FROM cities WHERE name LIKE 'abc%'"),
    ));
    for (what, q) in steps {
        d.group(what);
        d.run(&q).await.unwrap();
        d.run_all(&reads()).await.unwrap();
    }
    d.group("table contents");
    d.compare_tables().await.unwrap();
    d.finish();
}

/// Keys owned by set1 and set2, all of set1's below set2's (so that MariaDB's
/// row order is the gateway's set order).
fn ids(d: &Diff) -> Ids {
    let on = |set: &str, from: i64, n: usize| -> Vec<i64> {
        (from..from + 10_000)
            .filter(|&i| d.owner(i) == set)
            .take(n)
            .collect()
    };
    let a = on("set1", 1, 3);
    let b = on("set2", a[2] + 1, 3);
    assert!(
        a.len() == 3 && b.len() == 3,
        "keys of both sets: {a:?} {b:?}"
    );
    Ids {
        a1: a[0],
        a2: a[1],
        new_a: a[2],
        b1: b[0],
        b2: b[1],
        new_b: b[2],
    }
}

/// `SHOW WARNINGS [LIMIT]`, `SHOW ERRORS`, the counts, after autocommit writes
/// across sets and inside a transaction; statements using no table keep the
/// area (see `setwise_tests::diff::diagnostics`).
#[tokio::test]
async fn diagnostics_reads_after_writes_across_sets_match_a_plain_mariadb() {
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.create_db().await.expect("create diffdb");
    let ddl = diagnostics::TABLE;
    d.pair(&format!("{ddl}{}", diagnostics::SHARDING), ddl)
        .await
        .unwrap();
    let ids = ids(&d);
    let load = diagnostics::load(&ids);
    d.pair(&load, &load).await.unwrap();
    d.group("diagnostics after autocommit writes across sets");
    d.run_all(&diagnostics::autocommit(&ids)).await.unwrap();
    d.group("diagnostics in a transaction across sets");
    d.run_all(&diagnostics::in_transaction(&ids)).await.unwrap();
    d.finish();
}
