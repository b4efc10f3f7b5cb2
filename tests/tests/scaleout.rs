//! Scale-out end to end: a slot move from two sets to a third under concurrent
//! inserts, updates, deletes and transactions through the gateway, while readers
//! check that a table nobody writes never changes its count or sum (orphans never
//! show). At the end every acknowledged write is present exactly once, on the set
//! that owns its slot, and nothing else is anywhere.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Pool, TxOpts};
use setwise_tests::control::ControlPlaneConfig;
use setwise_tests::Cluster;
use topo::{MovePhase, MoveRecord};

/// Rows of `orders` before the move; each writer owns the ids `id % WRITERS == w`.
const ORDERS: i64 = 3000;
const LEDGER: i64 = 1000;
const WRITERS: i64 = 4;
/// The whole move, under load, on a debug build.
const MOVE_TIMEOUT: Duration = Duration::from_secs(180);

/// What the writers know they wrote: id → amount (None: deleted).
type Record = Arc<Mutex<BTreeMap<i64, Option<i64>>>>;
/// Visits per e-mail (a table sharded by a case-insensitive text key).
type Visits = Arc<Mutex<BTreeMap<String, i64>>>;

fn retryable(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == 1213 || s.code == 1205)
}

/// One writer: inserts new ids, updates and deletes its own, alone and in small
/// transactions, until `stop`. Only acknowledged writes enter the record; a
/// retryable error (1213/1205) means nothing was written.
async fn writer(
    pool: Pool,
    w: i64,
    record: Record,
    visits: Visits,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    let mut conn = pool.get_conn().await?;
    // Multiples of WRITERS: `next_new + w` is one of this writer's ids.
    let mut next_new = 1_000_000 * WRITERS * (w + 1);
    let mut n: u64 = 0;
    let mut retried = 0u64;
    while !stop.load(Ordering::Relaxed) && n < 200_000 {
        n += 1;
        let pick = {
            let r = record.lock().unwrap();
            let mine: Vec<i64> = r
                .iter()
                .filter(|(id, v)| *id % WRITERS == w && v.is_some())
                .map(|(id, _)| *id)
                .collect();
            mine.get((n as usize * 7919) % mine.len().max(1)).copied()
        };
        if n.is_multiple_of(3) {
            // Mixed case: the key's slot is computed on its lower-cased text.
            let email = format!("W{w}-User{}@Example.com", n % 40);
            match conn
                .exec_drop(
                    "INSERT INTO shop.profiles (email, visits) VALUES (?, 1) \
                     ON DUPLICATE KEY UPDATE visits = visits + 1",
                    (&email,),
                )
                .await
            {
                Ok(()) => *visits.lock().unwrap().entry(email).or_insert(0) += 1,
                Err(e) if retryable(&e) => retried += 1,
                Err(e) => anyhow::bail!("upsert {email}: {e}"),
            }
            continue;
        }
        match (n % 5, pick) {
            (0 | 1, _) | (_, None) => {
                // New id of this writer (ids ≡ w mod WRITERS).
                next_new += WRITERS;
                let id = next_new + w;
                let amount = (n % 1000) as i64;
                match conn
                    .exec_drop(
                        "INSERT INTO shop.orders (id, amount, note) VALUES (?, ?, ?)",
                        (id, amount, format!("w{w}n{n}")),
                    )
                    .await
                {
                    Ok(()) => {
                        record.lock().unwrap().insert(id, Some(amount));
                    }
                    Err(e) if retryable(&e) => retried += 1,
                    Err(e) => anyhow::bail!("insert {id}: {e}"),
                }
            }
            (2, Some(id)) => {
                let amount = (n % 997) as i64;
                match conn
                    .exec_drop(
                        "UPDATE shop.orders SET amount = ? WHERE id = ?",
                        (amount, id),
                    )
                    .await
                {
                    Ok(()) => {
                        record.lock().unwrap().insert(id, Some(amount));
                    }
                    Err(e) if retryable(&e) => retried += 1,
                    Err(e) => anyhow::bail!("update {id}: {e}"),
                }
            }
            (3, Some(id)) => match conn
                .exec_drop("DELETE FROM shop.orders WHERE id = ?", (id,))
                .await
            {
                Ok(()) => {
                    record.lock().unwrap().insert(id, None);
                }
                Err(e) if retryable(&e) => retried += 1,
                Err(e) => anyhow::bail!("delete {id}: {e}"),
            },
            (_, Some(id)) => {
                // A transaction: update one of ours and insert a new one.
                next_new += WRITERS;
                let new_id = next_new + w;
                let amount = (n % 991) as i64;
                let r: Result<(), mysql_async::Error> = async {
                    let mut tx = conn.start_transaction(TxOpts::default()).await?;
                    tx.exec_drop(
                        "UPDATE shop.orders SET amount = ? WHERE id = ?",
                        (amount, id),
                    )
                    .await?;
                    tx.exec_drop(
                        "INSERT INTO shop.orders (id, amount, note) VALUES (?, ?, 'tx')",
                        (new_id, amount),
                    )
                    .await?;
                    tx.commit().await
                }
                .await;
                match r {
                    Ok(()) => {
                        let mut rec = record.lock().unwrap();
                        rec.insert(id, Some(amount));
                        rec.insert(new_id, Some(amount));
                    }
                    Err(e) if retryable(&e) => retried += 1,
                    Err(e) => anyhow::bail!("transaction on {id}/{new_id}: {e}"),
                }
            }
        }
    }
    Ok(retried)
}

/// Reads a table nobody writes, again and again: its count and sum never change.
async fn reader(pool: Pool, stop: Arc<AtomicBool>, want: (i64, i64)) -> anyhow::Result<u64> {
    let mut conn = pool.get_conn().await?;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) && n < 100_000 {
        n += 1;
        let got: Option<(i64, i64)> = conn
            .query_first("SELECT COUNT(*), CAST(SUM(v) AS SIGNED) FROM shop.ledger")
            .await?;
        anyhow::ensure!(got == Some(want), "ledger count/sum {got:?}, want {want:?}");
        let groups: Vec<(i64, i64)> = conn
            .query("SELECT v % 3, COUNT(*) FROM shop.ledger GROUP BY v % 3 ORDER BY 1")
            .await?;
        let total: i64 = groups.iter().map(|g| g.1).sum();
        anyhow::ensure!(total == want.0, "ledger groups {groups:?}");
        let regions: Option<i64> = conn
            .query_first("SELECT COUNT(*) FROM shop.regions")
            .await?;
        anyhow::ensure!(regions == Some(5), "regions {regions:?}");
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_move_under_writes_loses_and_duplicates_nothing() {
    let c = Cluster::builder()
        .sets(3)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    c.create_db("shop", &["set1", "set2"]).await.unwrap();
    // Small, throttled chunks: the copy takes a while, so the writers' changes reach
    // the target through the binlog catch-up as well as through the copy.
    let cfg = ControlPlaneConfig {
        extra_toml: "[moves]\nchunk_rows = 200\nthrottle_ms = 150\n".into(),
        ..Default::default()
    };
    let cp = c.start_control_plane_with(1, cfg).await.unwrap();
    let pool = c.proxy_pool();
    let mut conn = pool.get_conn().await.unwrap();
    for ddl in [
        "CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, amount INT NOT NULL, note VARCHAR(40)) shardkey=id",
        "CREATE TABLE shop.ledger (id BIGINT PRIMARY KEY, v INT NOT NULL) shardkey=id",
        "CREATE TABLE shop.regions (id INT PRIMARY KEY, name VARCHAR(20)) shardkey=noshardkey_allset",
        "CREATE TABLE shop.profiles (email VARCHAR(64) COLLATE utf8mb4_unicode_ci PRIMARY KEY, visits INT NOT NULL) shardkey=email",
    ] {
        conn.query_drop(ddl).await.unwrap();
    }
    let record: Record = Arc::new(Mutex::new(BTreeMap::new()));
    let visits: Visits = Arc::new(Mutex::new(BTreeMap::new()));
    for chunk in (1..=ORDERS).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, {}, 'seed')", i % 100))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO shop.orders (id, amount, note) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
        let mut r = record.lock().unwrap();
        for i in chunk {
            r.insert(*i, Some(i % 100));
        }
    }
    let values: Vec<String> = (1..=LEDGER).map(|i| format!("({i}, {})", i * 3)).collect();
    conn.query_drop(format!(
        "INSERT INTO shop.ledger (id, v) VALUES {}",
        values.join(",")
    ))
    .await
    .unwrap();
    conn.query_drop("INSERT INTO shop.regions VALUES (1,'a'),(2,'b'),(3,'c'),(4,'d'),(5,'e')")
        .await
        .unwrap();
    let ledger = (LEDGER, (1..=LEDGER).map(|i| i * 3).sum::<i64>());

    // Load first, then the move: slots 300..700 (set1 gives 300..512, set2 512..700).
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        writers.push(tokio::spawn(writer(
            pool.clone(),
            w,
            record.clone(),
            visits.clone(),
            stop.clone(),
        )));
    }
    let readers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(reader(pool.clone(), stop.clone(), ledger)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rec = MoveRecord::request("shop", 300, 700, "set3", "test", topo_now());
    let id = rec.id.clone();
    c.topo()
        .create(&c.topo().keys().move_of(&id), &rec)
        .await
        .unwrap();
    let started = Instant::now();
    let done = loop {
        let m = c.topo().get_move(&id).await.unwrap().unwrap().value;
        if m.phase.is_finished() {
            break m;
        }
        assert!(
            started.elapsed() < MOVE_TIMEOUT,
            "move not finished in {MOVE_TIMEOUT:?}: {m:#?}\n{}",
            cp.log_tails(40)
        );
        let early = writers
            .iter()
            .chain(readers.iter())
            .any(|h| h.is_finished());
        if early {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let mut retried = 0;
    for h in writers {
        retried += h.await.unwrap().expect("a writer failed");
    }
    for h in readers {
        let reads = h.await.unwrap().expect("a reader saw a wrong answer");
        assert!(reads > 0);
    }
    assert_eq!(
        done.phase,
        MovePhase::Done,
        "move ended {:?}: {:?}\n{}",
        done.phase,
        done.error,
        cp.log_tails(40)
    );
    eprintln!(
        "move {id}: {} rows copied, {} events applied, longest hold {:?} ms, {} holds, {} retried writes, {:?}",
        done.rows_copied(),
        done.events_applied(),
        done.longest_hold_ms,
        done.holds,
        retried,
        started.elapsed()
    );

    // The map: 300..700 on set3, version bumped.
    let map = c.shard_map("shop").await;
    for slot in [300, 511, 512, 699] {
        assert_eq!(map.set_of_slot(slot), Some("set3"), "slot {slot}: {map:?}");
    }
    assert_eq!(map.set_of_slot(299), Some("set1"));
    assert_eq!(map.set_of_slot(700), Some("set2"));

    // Every acknowledged write exactly once, on its owner; nothing else anywhere.
    let want: BTreeMap<i64, i64> = record
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(id, v)| v.map(|a| (*id, a)))
        .collect();
    let mut seen: BTreeMap<i64, (String, i64)> = BTreeMap::new();
    for set in ["set1", "set2", "set3"] {
        let rows = c
            .primary(set)
            .query("SELECT id, amount FROM shop.orders")
            .await
            .unwrap_or_default();
        for row in rows {
            let num = |i: usize| -> i64 { row[i].as_deref().unwrap().parse().unwrap() };
            let (id, amount) = (num(0), num(1));
            let slot = topo::slot::slot_of_int(id as i128, map.slots);
            assert_eq!(
                map.set_of_slot(slot),
                Some(set),
                "id {id} (slot {slot}) found on {set}"
            );
            if let Some(prev) = seen.insert(id, (set.to_string(), amount)) {
                panic!("id {id} on {} and on {set}", prev.0);
            }
        }
    }
    let got: BTreeMap<i64, i64> = seen.iter().map(|(id, (_, a))| (*id, *a)).collect();
    let lost: Vec<_> = want
        .keys()
        .filter(|k| !got.contains_key(k))
        .take(10)
        .collect();
    let extra: Vec<_> = got
        .keys()
        .filter(|k| !want.contains_key(k))
        .take(10)
        .collect();
    let wrong: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(k).is_some_and(|g| g != *v))
        .take(10)
        .collect();
    assert!(
        lost.is_empty() && extra.is_empty() && wrong.is_empty(),
        "lost {lost:?}, extra {extra:?}, wrong values {wrong:?} (of {} rows)",
        want.len()
    );
    // The text-keyed table: every acknowledged upsert counted once, on its owner.
    let want_visits = visits.lock().unwrap().clone();
    let mut got_visits: BTreeMap<String, i64> = BTreeMap::new();
    for set in ["set1", "set2", "set3"] {
        for row in c
            .primary(set)
            .query("SELECT email, visits FROM shop.profiles")
            .await
            .unwrap_or_default()
        {
            let email = row[0].clone().unwrap();
            assert_eq!(
                c.set_of_key("shop", "profiles", &email).await,
                set,
                "{email} on {set}"
            );
            let v: i64 = row[1].as_deref().unwrap().parse().unwrap();
            assert!(
                got_visits.insert(email.clone(), v).is_none(),
                "{email} twice"
            );
        }
    }
    assert_eq!(got_visits, want_visits, "profiles after the move");
    // Through the gateway too, and the broadcast table reached set3.
    let count: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM shop.orders")
        .await
        .unwrap();
    assert_eq!(count, Some(want.len() as i64));
    let regions = c
        .primary("set3")
        .scalar("SELECT GROUP_CONCAT(id ORDER BY id) FROM shop.regions")
        .await
        .unwrap();
    assert_eq!(regions.as_deref(), Some("1,2,3,4,5"));
    drop(cp);
}

fn topo_now() -> u64 {
    setwise_tests::control::now_ms()
}

/// A gateway killed without deregistering (it might as well be cut off from etcd,
/// routing with the old map) stops moves from holding until it comes back or a DBA
/// forgets it; `setwise gateway list` shows it lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hold_while_a_gateway_is_lost() {
    let mut c = Cluster::builder()
        .sets(3)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    c.set_proxy_extra("[moves]\nlease_ttl_s = 2\n");
    c.start_proxy().await.unwrap();
    c.create_db("shop", &["set1", "set2"]).await.unwrap();
    let cp = c.start_control_plane(1).await.unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=300).map(|i| format!("({i}, {i})")).collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    drop(conn);
    let t = c.topo().clone();
    setwise_tests::wait_until("the gateway registers", Duration::from_secs(20), || {
        let t = t.clone();
        async move { Ok(!t.list_gateways().await?.is_empty()) }
    })
    .await
    .unwrap();
    let gw = c.topo().list_gateways().await.unwrap()[0].id.clone();
    c.kill_proxy();

    let rec = MoveRecord::request("shop", 100, 200, "set3", "test", topo_now());
    let id = rec.id.clone();
    c.topo()
        .create(&c.topo().keys().move_of(&id), &rec)
        .await
        .unwrap();
    let (t, mid) = (c.topo().clone(), id.clone());
    setwise_tests::wait_until(
        "the move waits for the lost gateway",
        Duration::from_secs(60),
        || {
            let (t, mid) = (t.clone(), mid.clone());
            async move {
                let m = t.get_move(&mid).await?.unwrap().value;
                anyhow::ensure!(!m.phase.is_finished(), "move ended: {m:?}");
                Ok(m.steps
                    .iter()
                    .any(|s| s.text.contains("known but not registered")))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", cp.log_tails(30)));
    let m = c.topo().get_move(&id).await.unwrap().unwrap().value;
    assert_eq!(m.phase, MovePhase::CatchUp, "{m:?}");
    // A hold may have begun while the killed gateway's lease still ran; it did not
    // flip without the gateway's acknowledgement.
    assert_eq!(m.new_map_version, None, "not flipped: {m:?}");

    let out = c.setwise(&["gateway", "list", "--json"]).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], gw.as_str());
    assert_eq!(list[0]["state"], "lost", "{list}");
    let out = c
        .setwise(&["gateway", "forget", "no-such-gw"])
        .await
        .unwrap();
    assert!(!out.status.success());
    let out = c.setwise(&["gateway", "forget", &gw]).await.unwrap();
    assert!(out.status.success(), "{out:?}");

    let (t, mid) = (c.topo().clone(), id.clone());
    setwise_tests::wait_until("the move finishes", Duration::from_secs(90), || {
        let (t, mid) = (t.clone(), mid.clone());
        async move { Ok(t.get_move(&mid).await?.unwrap().value.phase.is_finished()) }
    })
    .await
    .unwrap();
    let m = c.topo().get_move(&id).await.unwrap().unwrap().value;
    assert_eq!(m.phase, MovePhase::Done, "{m:?}\n{}", cp.log_tails(30));
    assert_eq!(c.shard_map("shop").await.set_of_slot(150), Some("set3"));
}
