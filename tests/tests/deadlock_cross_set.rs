//! Deadlocks through two sets (`proxy/src/deadlock`): a cycle of lock waits
//! that no set's InnoDB sees whole (session A waits on set2 for B's row, B on
//! set1 for A's) is ended by the gateway as MariaDB ends one on one server:
//! the transaction that changed fewer rows gets 1213 (40001) and is rolled
//! back on every set, the other goes on and commits. The sessions' lock wait
//! timeout is 120 s: the victim's 1213 (not 1205) comes back long before it.
//! * two sessions crossing the sets in both orders (text protocol), and with
//!   prepared statements (binary protocol);
//! * three sessions in a ring;
//! * waits that are no cycle (a chain ending in a transaction that commits)
//!   are never ended, though the detector reads them.

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_tests::scrape;
use setwise_tests::shop::t_slot as slot;
use setwise_tests::Cluster;

/// How long a statement caught in a cycle may take to be answered: far below
/// the sessions' lock wait timeout (120 s), far above the detector's delay
/// (about 1.5 s by default).
const ANSWERED_WITHIN: Duration = Duration::from_secs(40);

const DEADLOCK_MSG: &str = "Deadlock found when trying to get lock; try restarting transaction";

/// Two sets, the gateway (metrics on), and `shop.t` sharded by `id`.
async fn shop() -> Cluster {
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(false)
        .proxy_metrics(true)
        .start()
        .await
        .expect("start 2 sets");
    c.start_proxy().await.expect("start the gateway");
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    c
}

/// `n` keys owned by `set` not used yet, inserted with `v = 0`.
async fn keys_on(c: &Cluster, set: &str, n: usize) -> Vec<i64> {
    let map = c.shard_map("shop").await;
    let mut g = c.proxy_conn().await.unwrap();
    let used: Option<Option<i64>> = g.query_first("SELECT MAX(id) FROM shop.t").await.unwrap();
    let keys: Vec<i64> = (used.flatten().unwrap_or(0) + 1..1_000_000)
        .filter(|k| map.set_of_slot(slot(*k)) == Some(set))
        .take(n)
        .collect();
    assert_eq!(keys.len(), n);
    let values: Vec<String> = keys.iter().map(|k| format!("({k}, 0)")).collect();
    g.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(", ")))
        .await
        .unwrap();
    keys
}

/// A gateway session whose lock waits last 120 s.
async fn session(c: &Cluster) -> Conn {
    let mut s = c.proxy_conn().await.unwrap();
    s.query_drop("SET innodb_lock_wait_timeout = 120")
        .await
        .unwrap();
    s
}

/// Lock waits on the primary of `set` now. (Read no more often than every
/// 250 ms: InnoDB refreshes what information_schema shows of them only after
/// 100 ms without a read.)
async fn waits_on(c: &Cluster, set: &str) -> usize {
    tokio::time::sleep(Duration::from_millis(250)).await;
    let n = c
        .primary(set)
        .scalar("SELECT COUNT(*) FROM information_schema.INNODB_LOCK_WAITS")
        .await
        .unwrap();
    n.and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Waits until `set` shows at least `n` lock waits, while `waiter` (the
/// statement expected to wait) has not ended.
async fn wait_waits(c: &Cluster, set: &str, n: usize, waiter: &Waiting) {
    setwise_tests::wait_until(
        &format!("{n} lock wait(s) on {set}"),
        Duration::from_secs(20),
        || async {
            anyhow::ensure!(
                !waiter.is_finished(),
                "the statement expected to wait ended"
            );
            Ok(waits_on(c, set).await >= n)
        },
    )
    .await
    .unwrap();
}

/// `UPDATE shop.t SET v = v WHERE id = k` for each key, as text or prepared
/// (binary protocol). (One statement per key: an IN list may scan, and lock,
/// every row of a small table.)
async fn update(s: &mut Conn, keys: &[i64], v: i64, prepared: bool) -> mysql_async::Result<()> {
    for k in keys {
        if prepared {
            s.exec_drop("UPDATE shop.t SET v = ? WHERE id = ?", (v, *k))
                .await?;
        } else {
            s.query_drop(format!("UPDATE shop.t SET v = {v} WHERE id = {k}"))
                .await?;
        }
    }
    Ok(())
}

/// A statement running in a task of its own: its session and outcome.
type Waiting = tokio::task::JoinHandle<(Conn, mysql_async::Result<()>)>;

fn waiting_update(mut s: Conn, keys: Vec<i64>, v: i64, prepared: bool) -> Waiting {
    tokio::spawn(async move {
        let r = update(&mut s, &keys, v, prepared).await;
        (s, r)
    })
}

async fn outcome(h: Waiting, who: &str) -> (Conn, mysql_async::Result<()>) {
    tokio::time::timeout(ANSWERED_WITHIN, h)
        .await
        .unwrap_or_else(|_| panic!("{who}'s statement still waits after {ANSWERED_WITHIN:?}"))
        .unwrap()
}

fn assert_deadlock(r: &mysql_async::Result<()>, who: &str) {
    let e = r.as_ref().expect_err(&format!("{who} is the victim"));
    assert_eq!(
        answer(e),
        Some((1213, "40001".into(), DEADLOCK_MSG.into())),
        "{who}: {e}"
    );
}

/// An error's code, SQLSTATE and message, when a server sent it.
fn answer(e: &mysql_async::Error) -> Option<(u16, String, String)> {
    match e {
        mysql_async::Error::Server(s) => Some((s.code, s.state.clone(), s.message.clone())),
        _ => None,
    }
}

/// What one MariaDB answers the victim of a deadlock on its own (set1's
/// primary, a database of its own): the answer the gateway gives.
async fn mariadb_deadlock(c: &Cluster) -> (u16, String, String) {
    let m = c.primary("set1");
    let mut setup = m.conn().await.unwrap();
    setup.query_drop("CREATE DATABASE plain").await.unwrap();
    setup
        .query_drop("CREATE TABLE plain.t (id BIGINT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    setup
        .query_drop("INSERT INTO plain.t VALUES (1, 0), (2, 0)")
        .await
        .unwrap();
    let (mut a, mut b) = (m.conn().await.unwrap(), m.conn().await.unwrap());
    for (s, id) in [(&mut a, 1), (&mut b, 2)] {
        s.query_drop("BEGIN").await.unwrap();
        s.query_drop(format!("UPDATE plain.t SET v = 1 WHERE id = {id}"))
            .await
            .unwrap();
    }
    let a_waits = tokio::spawn(async move {
        let r = a.query_drop("UPDATE plain.t SET v = 1 WHERE id = 2").await;
        (a, r)
    });
    wait_waits(c, "set1", 1, &a_waits).await;
    let rb = b.query_drop("UPDATE plain.t SET v = 1 WHERE id = 1").await;
    let (mut a, ra) = outcome(a_waits, "A").await;
    let e = ra
        .err()
        .or(rb.err())
        .expect("one MariaDB ends the deadlock");
    for s in [&mut a, &mut b] {
        s.query_drop("ROLLBACK").await.unwrap();
    }
    setup.query_drop("DROP DATABASE plain").await.unwrap();
    answer(&e).expect("a server error")
}

async fn v_of(c: &Cluster, id: i64) -> i64 {
    let mut g = c.proxy_conn().await.unwrap();
    let v: Option<i64> = g
        .query_first(format!("SELECT v FROM shop.t WHERE id = {id}"))
        .await
        .unwrap();
    v.unwrap()
}

async fn assert_no_xa_left(c: &Cluster) {
    for set in c.set_names() {
        let rows = c.primary(&set).query("XA RECOVER").await.unwrap();
        assert!(rows.is_empty(), "prepared branches left on {set}: {rows:?}");
    }
}

async fn deadlocks(c: &Cluster) -> (f64, f64) {
    let m = scrape::metrics(c.proxy_metrics_port()).await.unwrap();
    (
        scrape::sum(&m, "setwise_proxy_deadlocks_total", &[]),
        scrape::sum(&m, "setwise_proxy_deadlock_probes_total", &[]),
    )
}

/// Two sessions crossing the sets: A locks keys on `a_first` and then wants
/// B's first key on the other set; B locks keys there and then wants A's
/// first key. `a_heavier`: A changed three rows and B two (B is the victim),
/// else the other way round.
async fn cross(c: &Cluster, a_first: &str, a_heavier: bool, prepared: bool) {
    let b_first = if a_first == "set1" { "set2" } else { "set1" };
    let on_a = keys_on(c, a_first, 3).await;
    let on_b = keys_on(c, b_first, 3).await;
    let (va, vb) = (11, 22);
    let (a_keys, b_keys) = if a_heavier {
        (on_a.clone(), on_b[..2].to_vec())
    } else {
        (on_a[..2].to_vec(), on_b.clone())
    };
    let mut a = session(c).await;
    let mut b = session(c).await;
    a.query_drop("BEGIN").await.unwrap();
    b.query_drop("BEGIN").await.unwrap();
    update(&mut a, &a_keys, va, prepared).await.unwrap();
    update(&mut b, &b_keys, vb, prepared).await.unwrap();
    // A waits on B's set for B's first key; then B on A's set for A's: a
    // cycle through both sets.
    let a_waits = waiting_update(a, vec![on_b[0]], va, prepared);
    wait_waits(c, b_first, 1, &a_waits).await;
    let b_waits = waiting_update(b, vec![on_a[0]], vb, prepared);
    let (mut a, ra) = outcome(a_waits, "A").await;
    let (mut b, rb) = outcome(b_waits, "B").await;
    // (victim, survivor, the survivor's value, a key only the victim wrote,
    // one only the survivor wrote)
    let (victim, survivor, won, victim_only, survivor_only) = if a_heavier {
        assert!(ra.is_ok(), "A goes on: {ra:?}");
        assert_deadlock(&rb, "B");
        (&mut b, &mut a, va, on_b[1], on_a[1])
    } else {
        assert!(rb.is_ok(), "B goes on: {rb:?}");
        assert_deadlock(&ra, "A");
        (&mut a, &mut b, vb, on_a[1], on_b[1])
    };
    survivor.query_drop("COMMIT").await.unwrap();
    // The survivor's rows are there, on both sets; none of the victim's.
    assert_eq!(v_of(c, on_a[0]).await, won);
    assert_eq!(v_of(c, on_b[0]).await, won);
    assert_eq!(v_of(c, survivor_only).await, won);
    assert_eq!(
        v_of(c, victim_only).await,
        0,
        "the victim's write was rolled back"
    );
    assert_no_xa_left(c).await;
    // The victim's transaction ended; its session runs a new one.
    victim.query_drop("BEGIN").await.unwrap();
    update(victim, &[victim_only], 99, prepared).await.unwrap();
    victim.query_drop("COMMIT").await.unwrap();
    assert_eq!(v_of(c, victim_only).await, 99);
    assert_no_xa_left(c).await;
}

#[tokio::test]
async fn two_sessions_crossing_two_sets_in_both_orders() {
    let c = shop().await;
    assert_eq!(
        mariadb_deadlock(&c).await,
        (1213, "40001".into(), DEADLOCK_MSG.into()),
        "the gateway answers as one MariaDB"
    );
    // A: set1 then set2, heavier (B goes); A: set2 then set1, lighter (A goes).
    cross(&c, "set1", true, false).await;
    cross(&c, "set2", false, false).await;
    let (found, probes) = deadlocks(&c).await;
    assert_eq!(found, 2.0, "two deadlocks counted");
    assert!(
        probes >= 2.0,
        "the detector read lock waits ({probes} rounds)"
    );
    let log = std::fs::read_to_string(c.work_dir().join("proxy.log")).unwrap();
    assert_eq!(
        log.matches("deadlock through several sets").count(),
        2,
        "one log line per deadlock"
    );
}

#[tokio::test]
async fn prepared_statements_crossing_two_sets() {
    let c = shop().await;
    cross(&c, "set1", false, true).await;
    cross(&c, "set2", true, true).await;
    assert_eq!(deadlocks(&c).await.0, 2.0);
}

#[tokio::test]
async fn three_sessions_in_a_ring() {
    let c = shop().await;
    let k1 = keys_on(&c, "set1", 4).await;
    let k2 = keys_on(&c, "set2", 4).await;
    let (mut a, mut b, mut cc) = (session(&c).await, session(&c).await, session(&c).await);
    for s in [&mut a, &mut b, &mut cc] {
        s.query_drop("BEGIN").await.unwrap();
    }
    // A holds k1[0] and two more rows, C holds k1[1] and one more, B holds
    // k2[0] alone: B changed the fewest rows.
    update(&mut a, &[k1[0], k1[2], k1[3]], 1, false)
        .await
        .unwrap();
    update(&mut b, &[k2[0]], 2, false).await.unwrap();
    update(&mut cc, &[k1[1], k2[1]], 3, false).await.unwrap();
    // A waits for B (set2), B for C (set1), C for A (set1): no set sees a
    // cycle of its own.
    let a_waits = waiting_update(a, vec![k2[0]], 1, false);
    wait_waits(&c, "set2", 1, &a_waits).await;
    let b_waits = waiting_update(b, vec![k1[1]], 2, false);
    wait_waits(&c, "set1", 1, &b_waits).await;
    let c_waits = waiting_update(cc, vec![k1[0]], 3, false);
    let (b, rb) = outcome(b_waits, "B").await;
    assert_deadlock(&rb, "B");
    // B's rollback lets A on; A's commit lets C on.
    let (mut a, ra) = outcome(a_waits, "A").await;
    assert!(ra.is_ok(), "A goes on: {ra:?}");
    a.query_drop("COMMIT").await.unwrap();
    let (mut cc, rc) = outcome(c_waits, "C").await;
    assert!(rc.is_ok(), "C goes on: {rc:?}");
    cc.query_drop("COMMIT").await.unwrap();
    drop(b);
    assert_eq!(
        v_of(&c, k2[0]).await,
        1,
        "A's write over B's rolled-back one"
    );
    assert_eq!(v_of(&c, k1[0]).await, 3, "C's write after A's");
    assert_eq!(v_of(&c, k1[1]).await, 3);
    assert_eq!(v_of(&c, k2[1]).await, 3);
    assert_eq!(v_of(&c, k1[2]).await, 1);
    assert_no_xa_left(&c).await;
    assert_eq!(deadlocks(&c).await.0, 1.0);
}

#[tokio::test]
async fn waits_that_are_no_cycle_are_left_alone() {
    let c = shop().await;
    let k1 = keys_on(&c, "set1", 1).await;
    let k2 = keys_on(&c, "set2", 1).await;
    let (mut a, mut b, mut cc) = (session(&c).await, session(&c).await, session(&c).await);
    for s in [&mut a, &mut b, &mut cc] {
        s.query_drop("BEGIN").await.unwrap();
    }
    // A holds k1 and then runs a long statement of its own; B holds k2 and
    // waits for A's k1; C waits for B's k2: C → B → A, no cycle.
    update(&mut a, &[k1[0]], 1, false).await.unwrap();
    update(&mut b, &[k2[0]], 2, false).await.unwrap();
    let probes_before = deadlocks(&c).await.1;
    let sleep = format!("SELECT SLEEP(4) FROM shop.t WHERE id = {}", k1[0]);
    let a_sleeps = tokio::spawn(async move {
        let r = a.query_drop(sleep).await;
        (a, r)
    });
    let b_waits = waiting_update(b, vec![k1[0]], 2, false);
    wait_waits(&c, "set1", 1, &b_waits).await;
    let c_waits = waiting_update(cc, vec![k2[0]], 3, false);
    wait_waits(&c, "set2", 1, &c_waits).await;
    // The detector reads the waits (three statements run long) and finds no
    // cycle.
    setwise_tests::wait_until(
        "the detector to read the lock waits",
        Duration::from_secs(20),
        || async { Ok(deadlocks(&c).await.1 >= probes_before + 2.0) },
    )
    .await
    .unwrap();
    let (mut a, r) = outcome(a_sleeps, "A").await;
    r.unwrap();
    a.query_drop("COMMIT").await.unwrap();
    let (mut b, rb) = outcome(b_waits, "B").await;
    assert!(rb.is_ok(), "B waited and goes on: {rb:?}");
    b.query_drop("COMMIT").await.unwrap();
    let (mut cc, rc) = outcome(c_waits, "C").await;
    assert!(rc.is_ok(), "C waited and goes on: {rc:?}");
    cc.query_drop("COMMIT").await.unwrap();
    assert_eq!(v_of(&c, k1[0]).await, 2);
    assert_eq!(v_of(&c, k2[0]).await, 3);
    assert_eq!(deadlocks(&c).await.0, 0.0, "no deadlock counted");
    assert_no_xa_left(&c).await;
}
