//! Branches of a session's next transaction started by its COMMIT
//! (`proxy/src/exec/txn/primed.rs`): the COMMIT's round trip on each set also
//! runs `XA START` for the next transaction, which its BEGIN takes.
//!
//! * the next transaction still reads what others committed after that
//!   COMMIT (an XA branch takes its read view at its first read, not at
//!   `XA START`), and the branch holds no metadata lock (DDL of another
//!   session does not wait for it);
//! * its BEGIN starts no branch of its own (the primed ones are used);
//! * a command other than BEGIN, or `START TRANSACTION READ ONLY`, gives the
//!   branches back (`XA ROLLBACK`), and the next transaction behaves as one
//!   MariaDB: writes commit or roll back, READ ONLY refuses writes (1792).

use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::Cluster;

/// Bound for any wait in this file.
const WAIT: Duration = Duration::from_secs(60);

/// Two sets (a primary each), `shop.t` sharded by `id` with rows 1..=40 (v = 0).
async fn shop() -> Cluster {
    let c = Cluster::two_sets_with_gateway().await;
    let mut g = c.proxy_conn().await.unwrap();
    g.query_drop("CREATE DATABASE shop").await.unwrap();
    g.query_drop("CREATE TABLE shop.t (id INT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=40).map(|id| format!("({id}, 0)")).collect();
    g.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    c
}

async fn status(c: &Cluster, set: &str, name: &str) -> i64 {
    let rows = c
        .primary(set)
        .query(&format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .await
        .unwrap();
    rows[0][1].as_deref().unwrap().parse().unwrap()
}

/// `name`'s counter on each set.
async fn counts(c: &Cluster, name: &str) -> [i64; 2] {
    [status(c, "set1", name).await, status(c, "set2", name).await]
}

fn moved(after: [i64; 2], before: [i64; 2]) -> [i64; 2] {
    [after[0] - before[0], after[1] - before[1]]
}

const SUM: &str = "SELECT CAST(SUM(v) AS SIGNED) FROM shop.t";

#[tokio::test]
async fn the_next_transaction_reads_what_was_committed_after_the_commit_that_started_it() {
    let c = shop().await;
    let mut r = c.proxy_conn().await.unwrap();
    let mut w = c.proxy_conn().await.unwrap();

    r.query_drop("BEGIN").await.unwrap();
    let first: Option<i64> = r.query_first(SUM).await.unwrap();
    assert_eq!(first, Some(0));
    let before = counts(&c, "Com_xa_start").await;
    r.query_drop("COMMIT").await.unwrap();
    // The COMMIT started the next transaction's branch on both sets.
    assert_eq!(
        moved(counts(&c, "Com_xa_start").await, before),
        [1, 1],
        "XA START run by the COMMIT"
    );

    // Another session commits on both sets now, after those XA STARTs.
    w.query_drop("UPDATE shop.t SET v = v + 1").await.unwrap();
    // A schema change waits for no metadata lock of the primed branches.
    tokio::time::timeout(WAIT, w.query_drop("ALTER TABLE shop.t ADD COLUMN note INT"))
        .await
        .expect("ALTER TABLE did not wait for the primed branches")
        .unwrap();

    let before = counts(&c, "Com_xa_start").await;
    r.query_drop("BEGIN").await.unwrap();
    let sum: Option<i64> = r.query_first(SUM).await.unwrap();
    assert_eq!(
        sum,
        Some(40),
        "the transaction sees what was committed before its BEGIN"
    );
    assert_eq!(
        moved(counts(&c, "Com_xa_start").await, before),
        [0, 0],
        "BEGIN took the primed branches"
    );
    // Its snapshot holds from its first read on, as on one MariaDB.
    w.query_drop("UPDATE shop.t SET v = v + 1").await.unwrap();
    let again: Option<i64> = r.query_first(SUM).await.unwrap();
    assert_eq!(again, Some(40));
    r.query_drop("COMMIT").await.unwrap();
    let after: Option<i64> = r.query_first(SUM).await.unwrap();
    assert_eq!(after, Some(80));
}

#[tokio::test]
async fn other_commands_and_read_only_transactions_give_the_branches_back() {
    let c = shop().await;
    let mut r = c.proxy_conn().await.unwrap();

    // A write on one set: a one-phase commit, which primes.
    r.query_drop("BEGIN").await.unwrap();
    r.query_drop("UPDATE shop.t SET v = 5 WHERE id = 1")
        .await
        .unwrap();
    let _: Option<i64> = r.query_first(SUM).await.unwrap();
    r.query_drop("COMMIT").await.unwrap();

    // START TRANSACTION READ ONLY cannot use XA branches: they are given back,
    // and a write is refused as on one MariaDB.
    let rolled = counts(&c, "Com_xa_rollback").await;
    r.query_drop("START TRANSACTION READ ONLY").await.unwrap();
    let e = r
        .query_drop("UPDATE shop.t SET v = 6 WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(
        setwise_tests::sql::server_error(&e).map(|e| e.0),
        Some(1792)
    );
    r.query_drop("COMMIT").await.unwrap();
    setwise_tests::wait_until("the primed branches rolled back", WAIT, || async {
        Ok(moved(counts(&c, "Com_xa_rollback").await, rolled) == [1, 1])
    })
    .await
    .unwrap();

    // Written, rolled back, written again and committed: as on one server.
    for (sql, end) in [
        ("UPDATE shop.t SET v = 6 WHERE id = 1", "ROLLBACK"),
        ("UPDATE shop.t SET v = 7 WHERE id = 1", "COMMIT"),
        ("UPDATE shop.t SET v = 8 WHERE id = 1", "ROLLBACK"),
    ] {
        r.query_drop("BEGIN").await.unwrap();
        r.query_drop(sql).await.unwrap();
        let _: Option<i64> = r.query_first(SUM).await.unwrap();
        r.query_drop(end).await.unwrap();
    }
    let v: Option<i64> = r
        .query_first("SELECT v FROM shop.t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(v, Some(7));

    // A statement between COMMIT and BEGIN gives the branches back too.
    r.query_drop("BEGIN").await.unwrap();
    let _: Option<i64> = r.query_first(SUM).await.unwrap();
    r.query_drop("COMMIT").await.unwrap();
    let rolled = counts(&c, "Com_xa_rollback").await;
    r.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await
        .unwrap();
    setwise_tests::wait_until("the primed branches rolled back", WAIT, || async {
        Ok(moved(counts(&c, "Com_xa_rollback").await, rolled) == [1, 1])
    })
    .await
    .unwrap();
    // READ COMMITTED now: a second read sees another session's commit.
    let mut w = c.proxy_conn().await.unwrap();
    r.query_drop("BEGIN").await.unwrap();
    let first: Option<i64> = r.query_first(SUM).await.unwrap();
    w.query_drop("UPDATE shop.t SET v = v + 1").await.unwrap();
    let second: Option<i64> = r.query_first(SUM).await.unwrap();
    assert_eq!(second, first.map(|s| s + 40));
    r.query_drop("COMMIT").await.unwrap();

    // A session that ends holding primed branches leaves none behind.
    r.query_drop("BEGIN").await.unwrap();
    let _: Option<i64> = r.query_first(SUM).await.unwrap();
    r.query_drop("COMMIT").await.unwrap();
    drop(r);
    let mut x = c.proxy_conn().await.unwrap();
    x.query_drop("BEGIN").await.unwrap();
    x.query_drop("UPDATE shop.t SET v = 0").await.unwrap();
    x.query_drop("COMMIT").await.unwrap();
    let sum: Option<i64> = x.query_first(SUM).await.unwrap();
    assert_eq!(sum, Some(0));
}

/// Gtrids of branches left prepared on `set`.
async fn prepared_on(c: &Cluster, set: &str) -> usize {
    c.primary(set).query("XA RECOVER").await.unwrap().len()
}

#[tokio::test]
async fn a_two_phase_commit_primes_the_branches_that_prepared() {
    let c = shop().await;
    let mut r = c.proxy_conn().await.unwrap();
    let mut w = c.proxy_conn().await.unwrap();

    // Writes on both sets: a two-phase commit. The branch that prepared
    // starts the next transaction's with its XA COMMIT; the coordinator's
    // one-phase commit (which decides) carries nothing else. (Once recovery
    // made the sets' decision tables: before, every branch prepares.)
    setwise_tests::wait_until("the decision tables", WAIT, || async {
        for set in ["set1", "set2"] {
            let q = "SELECT 1 FROM setwise_sys.xa_decisions LIMIT 1";
            if c.primary(set).query(q).await.is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await
    .unwrap();
    r.query_drop("BEGIN").await.unwrap();
    r.query_drop("UPDATE shop.t SET v = v + 1").await.unwrap();
    let before = counts(&c, "Com_xa_start").await;
    let prepared = counts(&c, "Com_xa_prepare").await;
    r.query_drop("COMMIT").await.unwrap();
    let [a, b] = moved(counts(&c, "Com_xa_prepare").await, prepared);
    assert_eq!(
        a + b,
        1,
        "one branch prepared (the other is the coordinator): {a} + {b}"
    );
    assert_eq!(
        moved(counts(&c, "Com_xa_start").await, before),
        [a, b],
        "the prepared branch's set started the next transaction's branch"
    );
    let sum: Option<i64> = w.query_first(SUM).await.unwrap();
    assert_eq!(sum, Some(40), "committed on both sets");

    // The next transactions: they see others' commits, roll back and commit
    // as on one MariaDB.
    w.query_drop("UPDATE shop.t SET v = v + 1").await.unwrap();
    r.query_drop("BEGIN").await.unwrap();
    let seen: Option<i64> = r.query_first(SUM).await.unwrap();
    assert_eq!(seen, Some(80));
    r.query_drop("UPDATE shop.t SET v = v + 1").await.unwrap();
    r.query_drop("ROLLBACK").await.unwrap();
    r.query_drop("BEGIN").await.unwrap();
    r.query_drop("UPDATE shop.t SET v = v + 2").await.unwrap();
    r.query_drop("COMMIT").await.unwrap();
    r.query_drop("BEGIN").await.unwrap();
    r.query_drop("UPDATE shop.t SET v = v - 1").await.unwrap();
    r.query_drop("COMMIT").await.unwrap();
    let sum: Option<i64> = w.query_first(SUM).await.unwrap();
    assert_eq!(sum, Some(120));
    drop(r);
    for set in ["set1", "set2"] {
        assert_eq!(
            prepared_on(&c, set).await,
            0,
            "{set}: no branch left prepared"
        );
    }
}
