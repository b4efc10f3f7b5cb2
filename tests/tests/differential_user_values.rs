//! Differential checks of what a session reads back from rows, against a
//! plain MariaDB with the same data: `LAST_INSERT_ID(expr)` evaluated over rows
//! (it was ignored: the session's value stayed), user variables assigned from
//! rows of several sets (`SELECT ... INTO @v`, `SET @v = (SELECT ...)`: they
//! were refused), the diagnostics those leave (1329, 1172, 1287), the error of
//! a read over several sets, concatenated or merged, in `SHOW WARNINGS` (it was
//! empty), and `SHOW DATABASES LIKE`
//! (it listed every database under the plain column name).

use setwise_tests::diff::data::Data;
use setwise_tests::diff::{Diff, Q};

/// A diagnostics read, messages compared.
fn warnings() -> Q {
    Q::exact("SHOW WARNINGS").with_message()
}

#[tokio::test]
async fn values_read_back_from_rows_match_a_plain_mariadb() {
    let data = Data::generate(20_261_214, 80, 120);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    let ids = data.user_ids();
    let on = |d: &Diff, set: &str| *ids.iter().find(|&&id| d.owner(id) == set).unwrap();
    let (p1, p2) = (on(&d, "set1"), on(&d, "set2"));
    let most_negative = *ids.iter().min().unwrap();
    let missing = (123_456_789i64..).find(|id| !ids.contains(id)).unwrap();

    d.group("LAST_INSERT_ID(expr) of rows");
    let last = || Q::exact("SELECT LAST_INSERT_ID()");
    for sql in [
        format!("SELECT LAST_INSERT_ID(user_id) FROM users WHERE user_id = {p1}"),
        format!("SELECT LAST_INSERT_ID(score + 1) FROM users WHERE user_id = {p2}"),
        // No row: the value stays.
        format!("SELECT LAST_INSERT_ID(user_id) FROM users WHERE user_id = {missing}"),
        format!("SELECT LAST_INSERT_ID(7) FROM users WHERE user_id = {missing}"),
        format!("SELECT LAST_INSERT_ID(user_id) FROM users WHERE user_id = {most_negative}"),
        format!("SELECT LAST_INSERT_ID(user_id), LAST_INSERT_ID() FROM users WHERE user_id = {p1}"),
        "SELECT LAST_INSERT_ID(LENGTH(k)) FROM settings ORDER BY k".to_string(),
        "SELECT LAST_INSERT_ID(CHAR_LENGTH(name)) FROM cities ORDER BY name".to_string(),
        "SELECT LAST_INSERT_ID(5 + 1)".to_string(),
        "DO LAST_INSERT_ID(6 * 7)".to_string(),
        "SELECT LAST_INSERT_ID(NULL)".to_string(),
    ] {
        d.run(&Q::exact(sql)).await.unwrap();
        d.run(&last()).await.unwrap();
    }
    // Over rows of several sets: the last row's value is the merged order's.
    let got = d
        .run(
            &Q::exact("SELECT LAST_INSERT_ID(user_id) FROM users ORDER BY user_id LIMIT 3")
                .or_unsupported(),
        )
        .await
        .unwrap();
    assert!(got.is_unsupported(), "{got:?}");
    d.run(&last()).await.unwrap();

    d.group("SELECT ... INTO @v over rows of several sets");
    for (sql, read) in [
        (
            "SELECT COUNT(*), SUM(balance), MAX(name), MIN(created) INTO @c, @s, @n, @t FROM users",
            "SELECT @c, @s, @n, COLLATION(@n), @t, @s + 0",
        ),
        (
            "SELECT user_id, name INTO @i, @nm FROM users ORDER BY user_id DESC LIMIT 1",
            "SELECT @i, @nm",
        ),
        (
            "SELECT city, COUNT(*) INTO @city, @cnt FROM users WHERE city IS NOT NULL \
             GROUP BY city ORDER BY COUNT(*) DESC, city LIMIT 1",
            "SELECT @city, @cnt",
        ),
        // INTO after FROM: MariaDB's 1287 deprecation warning too.
        ("SELECT SUM(score) FROM users INTO @sum", "SELECT @sum"),
        // Several rows: the first is assigned, then 1172.
        (
            "SELECT user_id INTO @z FROM users WHERE user_id > 0 ORDER BY user_id",
            "SELECT @z",
        ),
        // (A plain scatter, no merge: the variable is not compared, the rows
        // come in no order.)
        (
            "SELECT user_id INTO @any FROM users WHERE user_id > 0",
            "SELECT 1",
        ),
        // No row: 1329, the variable stays.
        (
            "SELECT user_id INTO @z FROM users WHERE user_id > 9223372036854775806 ORDER BY user_id",
            "SELECT @z",
        ),
        (
            "SET @m = (SELECT MAX(balance) FROM users), @q = 5",
            "SELECT @m, @q",
        ),
        (
            "SET @first = (SELECT name FROM users WHERE name IS NOT NULL ORDER BY name LIMIT 1)",
            "SELECT @first, COLLATION(@first)",
        ),
        // A scalar subquery of several rows: 1242.
        ("SET @e = (SELECT user_id FROM users WHERE user_id > 0)", "SELECT 1"),
    ] {
        d.run(&Q::exact(sql).with_message()).await.unwrap();
        d.run(&warnings()).await.unwrap();
        d.run(&Q::exact(read)).await.unwrap();
    }
    // In a transaction: its own uncommitted write is read.
    for sql in [
        "BEGIN",
        &format!("UPDATE users SET balance = 99999.99 WHERE user_id = {p2}"),
        "SELECT MAX(balance) INTO @tx FROM users",
        "SELECT @tx",
        "SET @tx2 = (SELECT COUNT(*) FROM users WHERE balance = 99999.99)",
        "SELECT @tx2",
        "ROLLBACK",
    ] {
        d.run(&Q::exact(sql)).await.unwrap();
    }
    // One set, no row: 1329 in SHOW WARNINGS (the statement's connection is
    // not reused, its conditions were lost with it).
    d.run(&Q::exact(format!(
        "SELECT name INTO @one FROM users WHERE user_id = {missing}"
    )))
    .await
    .unwrap();
    d.run(&warnings()).await.unwrap();
    // AVG keeps more digits in a variable than its column shows: refused.
    for sql in [
        "SELECT AVG(balance) INTO @avg FROM users",
        "SET @avg = (SELECT AVG(balance) FROM users)",
    ] {
        let got = d.run(&Q::exact(sql).or_unsupported()).await.unwrap();
        assert!(got.is_unsupported(), "{sql}: {got:?}");
    }

    d.group("the error of a read over several sets in SHOW WARNINGS");
    for sql in [
        "SELECT nosuchcol FROM users",
        "SELECT user_id, nosuchcol FROM users WHERE score > 0",
        // Merged by the gateway (sorted, aggregated, grouped).
        "SELECT nosuchcol FROM users ORDER BY user_id",
        "SELECT COUNT(nosuchcol) FROM users",
        "SELECT city FROM users GROUP BY city HAVING nosuch > 1",
    ] {
        d.run(&Q::exact(sql).with_message()).await.unwrap();
        d.run(&warnings()).await.unwrap();
        d.run(&Q::exact("SELECT @@warning_count, @@error_count"))
            .await
            .unwrap();
    }

    d.group("SHOW DATABASES LIKE / WHERE");
    for sql in [
        "SHOW DATABASES LIKE 'diff%'",
        "SHOW SCHEMAS LIKE 'DIFFDB'",
        "SHOW DATABASES LIKE 'nomatch%'",
        "SHOW DATABASES LIKE 'information\\_schema'",
        "SHOW DATABASES WHERE `Database` LIKE '%ff%' OR `Database` = 'mysql'",
    ] {
        d.run(&Q::any(sql)).await.unwrap();
    }
    d.finish();
}
