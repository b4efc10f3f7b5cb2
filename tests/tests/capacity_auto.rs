//! The capacity monitor under real fill: set1 really holds more rows than
//! `[capacity] max_rows` (keys chosen on its slots, counted by its agent from
//! InnoDB's table statistics), set2 has room. With `auto = false` the leader only
//! proposes (`setwise shard plan`: set1 → set2, the rows over the limit as the
//! reason) and writes nothing; restarted with `auto = true` it requests that move
//! by itself (`by: auto`), the driver carries it out like any other (recorded in
//! `moves/`, shown by `setwise shard moves`) while a writer keeps inserting
//! through the gateway, and afterwards every row — seeded and written — is
//! present exactly once, on the set that owns its slot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::*;
use serde_json::Value;
use setwise_tests::control::ControlPlaneConfig;
use setwise_tests::Cluster;
use topo::{MovePhase, MoveRecord};

/// Rows seeded on set1's slots, and on set2's.
const ON_SET1: usize = 4000;
const ON_SET2: usize = 300;
const MAX_ROWS: u64 = 3000;

fn capacity_toml(auto: bool) -> String {
    format!(
        "[capacity]\nauto = {auto}\nmax_rows = {MAX_ROWS}\nmax_datadir_bytes = 0\n\
         max_cpu_pct = 0\nmin_headroom_pct = 30\nmin_interval_s = 600\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_set_over_its_row_limit_gives_slots_to_a_set_with_room_by_itself() {
    let c = Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    c.create_db("fill", &["set1", "set2"]).await.unwrap();
    let pool = c.proxy_pool();
    let mut conn = setwise_tests::retry(
        "the gateway to know fill",
        Duration::from_secs(30),
        || async {
            let mut conn = pool.get_conn().await?;
            conn.query_drop("USE fill").await?;
            anyhow::Ok(conn)
        },
    )
    .await
    .unwrap();
    conn.query_drop(
        "CREATE TABLE fill.t (id BIGINT PRIMARY KEY, pad VARCHAR(64) NOT NULL) shardkey=id",
    )
    .await
    .unwrap();
    let map = c.shard_map("fill").await;
    let owner = |id: i64| {
        map.set_of_slot(topo::slot::slot_of_int(id as i128, map.slots))
            .unwrap()
            .to_string()
    };
    let mut ids: Vec<i64> = (1..)
        .filter(|i| owner(*i) == "set1")
        .take(ON_SET1)
        .collect();
    ids.extend((1..).filter(|i| owner(*i) == "set2").take(ON_SET2));
    for chunk in ids.chunks(500) {
        let values: Vec<String> = chunk.iter().map(|i| format!("({i}, 'seed-{i}')")).collect();
        conn.query_drop(format!("INSERT INTO fill.t VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    // InnoDB's row estimates (what the agents report) made exact.
    for set in ["set1", "set2"] {
        c.primary(set).exec("ANALYZE TABLE fill.t").await.unwrap();
    }

    // Proposal only.
    let cfg = ControlPlaneConfig {
        agent_args: vec!["--stats-interval-ms".into(), "1000".into()],
        extra_toml: capacity_toml(false),
        ..Default::default()
    };
    let mut cp = c.start_control_plane_with(1, cfg).await.unwrap();
    let plan = setwise_tests::retry(
        "the leader's capacity proposal",
        Duration::from_secs(60),
        || async {
            let out = c.setwise(&["shard", "plan", "--json"]).await?;
            anyhow::ensure!(out.status.success(), "{out:?}");
            let v: Value = serde_json::from_slice(&out.stdout)?;
            anyhow::ensure!(
                v["source"]
                    .as_str()
                    .unwrap_or("")
                    .contains("scheduler leader"),
                "not the leader's view yet: {v}"
            );
            anyhow::ensure!(v["moves"].as_array().is_some_and(|m| !m.is_empty()), "{v}");
            Ok(v)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", cp.log_tails(20)));
    let m = &plan["moves"][0];
    assert_eq!(
        (m["db"].as_str(), m["from"].as_str()),
        (Some("fill"), Some("set1")),
        "{plan}"
    );
    assert_eq!(m["to"], "set2", "{plan}");
    let reason = m["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("> max_rows {MAX_ROWS}")),
        "{reason}"
    );
    let set1_load = plan["loads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["set"] == "set1")
        .unwrap();
    assert!(set1_load["rows"].as_u64().unwrap() > MAX_ROWS, "{plan}");
    let text = c.setwise(&["shard", "plan"]).await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("setwise shard move --db fill --slots"),
        "{text}"
    );
    assert!(
        c.topo().list_moves().await.unwrap().is_empty(),
        "auto = false writes no move"
    );

    // Auto: the leader (restarted with the new config) requests the move itself.
    cp.kill_scheduler("sched-1");
    let toml = std::fs::read_to_string(cp.config_path()).unwrap();
    std::fs::write(
        cp.config_path(),
        toml.replace(&capacity_toml(false), &capacity_toml(true)),
    )
    .unwrap();
    cp.start_scheduler(&c, "sched-1").unwrap();

    // A writer inserting through the gateway all along.
    let stop = Arc::new(AtomicBool::new(false));
    let written: Arc<Mutex<BTreeMap<i64, String>>> = Arc::default();
    let writer = {
        let (pool, stop, written) = (pool.clone(), stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut conn = pool.get_conn().await?;
            let mut id = 10_000_000i64;
            while !stop.load(Ordering::Relaxed) && id < 10_100_000 {
                id += 1;
                let pad = format!("w-{id}");
                match conn
                    .exec_drop("INSERT INTO fill.t VALUES (?, ?)", (id, &pad))
                    .await
                {
                    Ok(()) => {
                        written.lock().unwrap().insert(id, pad);
                    }
                    Err(mysql_async::Error::Server(e)) if e.code == 1213 || e.code == 1205 => {}
                    Err(e) => anyhow::bail!("insert {id}: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            anyhow::Ok(())
        })
    };
    let auto: MoveRecord = setwise_tests::retry(
        "an automatic move request",
        Duration::from_secs(60),
        || async {
            c.topo()
                .list_moves()
                .await?
                .into_iter()
                .map(|v| v.value)
                .find(|m| m.by == "auto")
                .ok_or_else(|| anyhow::anyhow!("none yet"))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", cp.log_tails(30)));
    assert_eq!(
        (auto.db.as_str(), auto.to.as_str()),
        ("fill", "set2"),
        "{auto:?}"
    );
    assert!(
        auto.reason
            .as_deref()
            .unwrap_or("")
            .contains("set1 over capacity"),
        "{auto:?}"
    );
    let (t, id) = (c.topo().clone(), auto.id.clone());
    let done = setwise_tests::wait_until("the automatic move", Duration::from_secs(180), || {
        let (t, id) = (t.clone(), id.clone());
        async move { Ok(t.get_move(&id).await?.unwrap().value.phase.is_finished()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap().unwrap();
    let rec = c.topo().get_move(&auto.id).await.unwrap().unwrap().value;
    if let Err(e) = done {
        panic!("{e:#}: {rec:?}\n{}", cp.log_tails(30));
    }
    assert_eq!(rec.phase, MovePhase::Done, "{rec:?}\n{}", cp.log_tails(30));
    assert!(rec.rows_total > 0, "{rec:?}");
    let moves = c
        .setwise(&["shard", "moves", "--db", "fill"])
        .await
        .unwrap();
    let moves = String::from_utf8_lossy(&moves.stdout);
    assert!(moves.contains(&auto.id), "{moves}");
    // One move only: min_interval_s holds the next, and set1 is under its limit now.
    let all = c.topo().list_moves().await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");

    // Every row exactly once, on the set that owns its slot.
    let map = c.shard_map("fill").await;
    assert!(map
        .set_of_slot(topo::slot::slot_of_int(ids[0] as i128, map.slots))
        .is_some());
    let mut want: BTreeMap<i64, String> = ids.iter().map(|i| (*i, format!("seed-{i}"))).collect();
    want.extend(written.lock().unwrap().clone());
    assert!(want.len() > ids.len(), "the writer wrote during the move");
    let mut seen: BTreeMap<i64, (String, String)> = BTreeMap::new();
    for set in ["set1", "set2"] {
        let rows = c
            .primary(set)
            .query("SELECT id, pad FROM fill.t")
            .await
            .unwrap();
        for r in rows {
            let id: i64 = r[0].as_deref().unwrap().parse().unwrap();
            let pad = r[1].clone().unwrap();
            if let Some((other, _)) = seen.insert(id, (set.to_string(), pad)) {
                panic!("id {id} on {other} and {set}");
            }
        }
    }
    for (id, pad) in &want {
        let (set, got) = seen.get(id).unwrap_or_else(|| panic!("id {id} lost"));
        assert_eq!(got, pad, "id {id}");
        let owner = map
            .set_of_slot(topo::slot::slot_of_int(*id as i128, map.slots))
            .unwrap();
        assert_eq!(set, owner, "id {id} on its owner");
    }
    assert_eq!(seen.len(), want.len(), "nothing else anywhere");
    let n: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM fill.t")
        .await
        .unwrap();
    assert_eq!(n, Some(want.len() as u64));
}
