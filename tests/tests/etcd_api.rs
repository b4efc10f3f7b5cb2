//! The etcd-client 0.21.1 APIs Setwise uses, through `topo`, against the etcd the
//! machine has (Debian: 3.4.23): typed records, compare-and-swap, prefix watch from a
//! revision, leases with keep-alive, and leader election.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use setwise_tests::workdir::WorkDir;
use setwise_tests::{wait_until, Etcd};
use topo::election::{self, Leadership};
use topo::lease::Lease;
use topo::store::is_delete;
use topo::*;

const BOUND: Duration = Duration::from_secs(15);

struct Env {
    topo: Topo,
    _etcd: Etcd,
    _work: WorkDir,
}

async fn env() -> Env {
    let work = WorkDir::new("etcd").unwrap();
    let etcd = Etcd::start(work.path()).await.unwrap();
    let topo = Topo::connect(&etcd.config("t1")).await.unwrap();
    Env {
        topo,
        _etcd: etcd,
        _work: work,
    }
}

fn set_rec(name: &str) -> SetRecord {
    SetRecord::new(name, SyncMode::Strong)
}

fn node_rec(set: &str, k: u16, role: Role) -> NodeRecord {
    NodeRecord {
        id: format!("{set}-n{k}"),
        set: set.into(),
        host: "127.0.0.1".into(),
        port: 3310 + k,
        role,
        rejoin: None,
    }
}

#[tokio::test]
async fn typed_records_put_get_list_delete() {
    let e = env().await;
    let t = &e.topo;
    assert_eq!(t.get_set("set1").await.unwrap(), None);
    for s in ["set2", "set1"] {
        t.put_set(&set_rec(s)).await.unwrap();
    }
    assert_eq!(t.get_set("set1").await.unwrap(), Some(set_rec("set1")));
    let names: Vec<String> = t
        .list_sets()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["set1", "set2"], "listed in key order");

    t.put_node(&node_rec("set1", 0, Role::Primary))
        .await
        .unwrap();
    t.put_node(&node_rec("set1", 1, Role::Replica))
        .await
        .unwrap();
    t.put_node(&node_rec("set2", 0, Role::Primary))
        .await
        .unwrap();
    assert_eq!(t.nodes_of("set1").await.unwrap().len(), 2);
    assert_eq!(t.list_nodes().await.unwrap().len(), 3);

    let user = UserRecord {
        name: "app".into(),
        password_hash: topo::password::native_hash("app"),
        hosts: vec!["127.0.0.0/8".parse().unwrap()],
        reads: Default::default(),
        require_ssl: false,
        admin: false,
    };
    t.put_user(&user).await.unwrap();
    assert_eq!(t.get_user("app").await.unwrap(), Some(user.clone()));

    let db = DatabaseRecord {
        name: "user_db".into(),
        home_set: "set1".into(),
        shard_map: ShardMap::even(1024, &["set1".into(), "set2".into()]),
    };
    t.put_db(&db).await.unwrap();
    assert_eq!(t.get_db("user_db").await.unwrap().unwrap().value, db);
    let table = TableRecord {
        db: "user_db".into(),
        name: "users".into(),
        kind: TableKind::Sharded {
            key: "user_id".into(),
            key_type: KeyType::Integer,
        },
    };
    t.put_table(&table).await.unwrap();
    assert_eq!(
        t.get_table("user_db", "users").await.unwrap(),
        Some(table.clone())
    );
    assert_eq!(t.list_tables("user_db").await.unwrap(), vec![table]);

    let snap = t.snapshot().await.unwrap();
    assert!(snap.revision > 0);
    assert_eq!(snap.sets.len(), 2);
    assert_eq!(snap.primary_of("set1").unwrap().id, "set1-n0");
    assert_eq!(snap.user("app"), Some(&user));
    assert!(snap.table("user_db", "users").is_some());

    // Bad names are refused before reaching etcd.
    assert!(t.put_set(&set_rec("a/b")).await.is_err());

    assert!(t.delete_db("user_db").await.unwrap());
    assert!(t.get_db("user_db").await.unwrap().is_none());
    assert!(
        t.list_tables("user_db").await.unwrap().is_empty(),
        "tables go with the db"
    );
    assert!(t.delete_user("app").await.unwrap());
    assert!(!t.delete_user("app").await.unwrap());
}

#[tokio::test]
async fn compare_and_swap() {
    let e = env().await;
    let t = &e.topo;
    let key = format!("{}scratch/counter", t.keys().root());

    let r1 = t.create(&key, &json!({"n": 0})).await.unwrap();
    assert!(r1 > 0);
    assert!(matches!(
        t.create(&key, &json!({"n": 99})).await,
        Err(TopoError::CasConflict { .. })
    ));
    let cur = t.get::<Value>(&key).await.unwrap().unwrap();
    assert_eq!(cur.mod_revision, r1);
    let r2 = t.cas(&key, &json!({"n": 1}), r1).await.unwrap();
    assert!(r2 > r1);
    assert!(
        matches!(
            t.cas(&key, &json!({"n": 2}), r1).await,
            Err(TopoError::CasConflict { .. })
        ),
        "a stale revision must lose"
    );

    // Concurrent read-modify-write: no increment is lost.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let t = t.clone();
            let key = key.clone();
            tokio::spawn(async move {
                t.update::<Value, _>(&key, |cur| {
                    let n = cur.and_then(|v| v["n"].as_i64()).unwrap_or(0);
                    Ok(json!({ "n": n + 1 }))
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(t.get::<Value>(&key).await.unwrap().unwrap().value["n"], 9);

    // Shard maps: CAS on the database record's revision; the version is bumped.
    let sets: Vec<String> = vec!["set1".into(), "set2".into()];
    t.put_db(&DatabaseRecord {
        name: "d".into(),
        home_set: "set1".into(),
        shard_map: ShardMap::even(1024, &sets),
    })
    .await
    .unwrap();
    let v = t.get_db("d").await.unwrap().unwrap();
    let mut moved = v.value.shard_map.clone();
    moved.ranges[0].end = 256;
    moved.ranges[1].start = 256;
    t.cas_shard_map("d", moved.clone(), v.mod_revision)
        .await
        .unwrap();
    let after = t.get_db("d").await.unwrap().unwrap();
    assert_eq!(after.value.shard_map.version, v.value.shard_map.version + 1);
    assert_eq!(after.value.shard_map.set_of_slot(300), Some("set2"));
    assert!(
        matches!(
            t.cas_shard_map("d", moved, v.mod_revision).await,
            Err(TopoError::CasConflict { .. })
        ),
        "a map computed from an old revision must be refused"
    );
    let mut bad = after.value.shard_map.clone();
    bad.ranges.pop();
    assert!(matches!(
        t.cas_shard_map("d", bad, after.mod_revision).await,
        Err(TopoError::Invalid { .. })
    ));
}

/// Next watch message within [`BOUND`].
async fn next(w: &mut etcd_client::WatchStream) -> etcd_client::WatchResponse {
    tokio::time::timeout(BOUND, w.message())
        .await
        .expect("watch message in time")
        .expect("watch stream error")
        .expect("watch stream ended")
}

#[tokio::test]
async fn prefix_watch_from_a_revision() {
    let e = env().await;
    let t = &e.topo;
    t.put_set(&set_rec("old")).await.unwrap();
    let from = t.snapshot().await.unwrap().revision + 1;
    t.put_set(&set_rec("set1")).await.unwrap(); // at `from`, before the watch starts

    let mut w = t.watch_cluster(from).await.unwrap();
    let ack = next(&mut w).await;
    assert!(ack.created(), "first message is the creation ack");
    assert!(ack.events().is_empty(), "the ack carries no events");

    let mut seen: Vec<(String, bool)> = Vec::new();
    let want = |set: &str, delete: bool| (t.keys().set(set), delete);
    t.put_node(&node_rec("set1", 0, Role::Primary))
        .await
        .unwrap();
    t.delete(&t.keys().set("old")).await.unwrap();
    // Health is under the same prefix but not a routing key.
    t.put(
        &t.keys().health_of("set1", "set1-n0"),
        &HealthReport::default(),
    )
    .await
    .unwrap();
    let start = Instant::now();
    while seen.len() < 4 {
        assert!(start.elapsed() < BOUND, "saw only {seen:?}");
        for ev in next(&mut w).await.events() {
            let kv = ev.kv().unwrap();
            seen.push((kv.key_str().unwrap().to_string(), is_delete(ev)));
        }
    }
    assert_eq!(
        seen[0],
        want("set1", false),
        "history from the start revision"
    );
    assert_eq!(seen[1], (t.keys().node("set1", "set1-n0"), false));
    assert_eq!(seen[2], want("old", true));
    assert!(t.is_routing_key(&seen[1].0));
    assert!(!t.is_routing_key(&seen[3].0), "health is not routing");

    // An idle watch outlives the client's request timeout (2 s) and still delivers.
    let quiet = tokio::time::timeout(Duration::from_millis(2500), w.message()).await;
    assert!(quiet.is_err(), "no message expected while idle: {quiet:?}");
    t.put_set(&set_rec("late")).await.unwrap();
    let late = next(&mut w).await;
    assert_eq!(
        late.events()[0].kv().unwrap().key_str().unwrap(),
        t.keys().set("late")
    );
}

#[tokio::test]
async fn leases_keep_keys_alive_and_expire_them() {
    let e = env().await;
    let t = &e.topo;
    let ttl = 2;
    let report = |node: &str| HealthReport {
        node: node.into(),
        set: "set1".into(),
        readable: true,
        ..Default::default()
    };

    // Kept alive: the key outlives twice its TTL.
    let kept = Lease::grant(t, ttl).await.unwrap();
    assert_eq!(kept.ttl(), ttl);
    t.put_health(&report("set1-n0"), kept.id()).await.unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(ttl as u64 * 2500) {
        let live = t.list_health().await.unwrap();
        assert_eq!(
            live.len(),
            1,
            "leased key vanished after {:?}",
            start.elapsed()
        );
        assert!(!kept.is_lost(), "keep-alive failed");
        tokio::time::sleep(setwise_tests::POLL * 4).await;
    }

    // Revoked: gone at once.
    let revoked = Lease::grant(t, ttl).await.unwrap();
    t.put_health(&report("set1-n1"), revoked.id())
        .await
        .unwrap();
    assert_eq!(t.list_health().await.unwrap().len(), 2);
    revoked.revoke(t).await.unwrap();
    let names: Vec<String> = t
        .list_health()
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.node)
        .collect();
    assert_eq!(names, ["set1-n0"]);

    // Dropped (holder died): gone after the TTL.
    drop(kept);
    let dropped_at = Instant::now();
    wait_until("the dropped lease's key to expire", BOUND, || async {
        Ok(t.list_health().await?.is_empty())
    })
    .await
    .unwrap();
    assert!(
        dropped_at.elapsed() >= Duration::from_millis(500),
        "expired too early"
    );
}

async fn leader_is(t: &Topo, want: Option<&str>) {
    wait_until(&format!("leader {want:?}"), BOUND, || async {
        Ok(election::leader(t, "sched").await?.as_deref() == want)
    })
    .await
    .unwrap();
}

fn candidate(t: &Topo, id: &'static str) -> tokio::task::JoinHandle<Leadership> {
    let t = t.clone();
    tokio::spawn(async move { election::campaign(&t, "sched", id, 2).await.unwrap() })
}

async fn won(h: tokio::task::JoinHandle<Leadership>) -> Leadership {
    tokio::time::timeout(BOUND, h)
        .await
        .expect("candidate elected in time")
        .unwrap()
}

/// A topo client whose request timeout exceeds every wait below, so a campaign that
/// blocks while another candidate leads is not cut short by the client (see
/// `standby_outlasts_the_request_timeout` for that case).
async fn patient(e: &Env) -> Topo {
    let mut cfg = e._etcd.config("t1");
    cfg.timeout_ms = 60_000;
    Topo::connect(&cfg).await.unwrap()
}

#[tokio::test]
async fn election_hands_over_on_resign_revoke_and_expiry() {
    let e = env().await;
    let t = &patient(&e).await;
    assert_eq!(election::leader(t, "sched").await.unwrap(), None);

    let a = won(candidate(t, "a")).await;
    assert!(a.is_held());
    leader_is(t, Some("a")).await;

    // b waits while a leads; a resigns and b takes over.
    let b = candidate(t, "b");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        assert!(!b.is_finished(), "b must not lead while a does");
        assert_eq!(
            election::leader(t, "sched").await.unwrap().as_deref(),
            Some("a")
        );
        tokio::time::sleep(setwise_tests::POLL * 4).await;
    }
    a.resign(t).await.unwrap();
    let b = won(b).await;
    leader_is(t, Some("b")).await;

    // Revoking the leader's lease hands over at once.
    let c = candidate(t, "c");
    let b_lease = b.lease;
    b_lease.revoke(t).await.unwrap();
    let c = won(c).await;
    leader_is(t, Some("c")).await;

    // A leader that dies (its lease is no longer kept alive) loses after the TTL.
    let d = candidate(t, "d");
    assert_eq!(
        election::leader(t, "sched").await.unwrap().as_deref(),
        Some("c")
    );
    drop(c);
    let d = won(d).await;
    leader_is(t, Some("d")).await;
    d.resign(t).await.unwrap();
    leader_is(t, None).await;
}

/// Candidacies (one key per campaigning lease) under election `sched`.
async fn candidacies(t: &Topo) -> usize {
    let prefix = format!("{}/", t.keys().election("sched"));
    let opts = etcd_client::GetOptions::new()
        .with_prefix()
        .with_count_only();
    let resp = t.client().get(prefix, Some(opts)).await.unwrap();
    resp.count() as usize
}

/// A standby campaigns while the leader lives — here longer than the client's request
/// timeout (`timeout_ms` = 2 s in the harness). `topo::election::campaign` may block all
/// along, or give up with the request timeout (etcd-client applies it to the blocking
/// Campaign call; the scheduler then campaigns again). Either way the standby never
/// leads while the leader does, a campaign that gave up leaves no candidacy behind (no
/// phantom leader after the leader resigns), and a new campaign takes over.
#[tokio::test]
async fn standby_outlasts_the_request_timeout() {
    let e = env().await;
    let t = &e.topo;
    let a = won(candidate(t, "a")).await;
    let t2 = t.clone();
    let b = tokio::spawn(async move { election::campaign(&t2, "sched", "b", 2).await });
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) && !b.is_finished() {
        assert_eq!(
            election::leader(t, "sched").await.unwrap().as_deref(),
            Some("a")
        );
        tokio::time::sleep(setwise_tests::POLL * 4).await;
    }
    let b = if b.is_finished() {
        let err = match b.await.unwrap() {
            Ok(_) => panic!("b won while a leads"),
            Err(e) => e,
        };
        eprintln!("note: the standby's campaign gave up after the request timeout: {err}");
        wait_until("the abandoned candidacy to go", BOUND, || async {
            Ok(candidacies(t).await == 1)
        })
        .await
        .unwrap();
        a.resign(t).await.unwrap();
        leader_is(t, None).await;
        won(candidate(t, "b")).await
    } else {
        a.resign(t).await.unwrap();
        won(tokio::spawn(async move { b.await.unwrap().unwrap() })).await
    };
    leader_is(t, Some("b")).await;
    b.resign(t).await.unwrap();
    assert_eq!(candidacies(t).await, 0);
}
