//! The harness itself: a set replicates with GTID + semi-sync (on the primary only),
//! a killed replica catches up after a restart, and a cluster registers its topology.

use std::time::Duration;

use setwise_tests::workdir::WorkDir;
use setwise_tests::{Cluster, MariaSet};
use topo::Role;

async fn var(db: &setwise_tests::MariaDb, name: &str) -> String {
    db.scalar(&format!("SELECT @@GLOBAL.{name}"))
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn status(db: &setwise_tests::MariaDb, name: &str) -> String {
    let rows = db
        .query(&format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .await
        .unwrap();
    rows[0][1].clone().unwrap_or_default()
}

#[tokio::test]
async fn set_replicates_with_semi_sync_on_the_primary_only() {
    let work = WorkDir::new("harness").unwrap();
    let mut set = MariaSet::start(work.path(), "set1", 1, 2).await.unwrap();
    assert_eq!(set.nodes().len(), 3);
    assert_eq!(set.primary().name(), "set1-n0");

    let p = set.primary();
    assert_eq!(var(p, "rpl_semi_sync_master_enabled").await, "1");
    assert_eq!(
        var(p, "rpl_semi_sync_master_wait_point").await,
        "AFTER_SYNC"
    );
    assert_eq!(var(p, "read_only").await, "0");
    assert_eq!(var(p, "gtid_strict_mode").await, "1");
    assert_eq!(var(p, "binlog_format").await, "ROW");
    for r in set.replicas() {
        assert_eq!(r.role(), Role::Replica);
        assert_eq!(
            var(r, "rpl_semi_sync_master_enabled").await,
            "0",
            "{}",
            r.name()
        );
        assert_eq!(
            var(r, "rpl_semi_sync_slave_enabled").await,
            "1",
            "{}",
            r.name()
        );
        assert_eq!(var(r, "read_only").await, "1", "{}", r.name());
    }
    assert_eq!(status(p, "Rpl_semi_sync_master_clients").await, "2");

    // The accounts of docs/contracts.md exist everywhere.
    for n in set.nodes() {
        let mut c = mysql_async::Conn::new(n.setwise_opts()).await.unwrap();
        let grants = setwise_tests::sql::rows(&mut c, "SHOW GRANTS")
            .await
            .unwrap();
        assert!(
            format!("{grants:?}").contains("ALL PRIVILEGES ON *.*"),
            "{grants:?}"
        );
        c.disconnect().await.unwrap();
        let c = mysql_async::Conn::new(n.opts("repl", "repl"))
            .await
            .unwrap();
        c.disconnect().await.unwrap();
    }

    // A write on the primary reaches every replica, acknowledged by semi-sync.
    p.exec("CREATE DATABASE h").await.unwrap();
    p.exec("CREATE TABLE h.t (id INT PRIMARY KEY, v VARCHAR(10))")
        .await
        .unwrap();
    p.exec("INSERT INTO h.t VALUES (1, 'one'), (2, 'two')")
        .await
        .unwrap();
    set.sync_replicas().await.unwrap();
    for r in set.replicas() {
        let rows = r.query("SELECT id, v FROM h.t ORDER BY id").await.unwrap();
        assert_eq!(
            rows,
            setwise_tests::sql::expect(&[&["1", "one"], &["2", "two"]])
        );
    }
    let acked: u64 = status(p, "Rpl_semi_sync_master_yes_tx")
        .await
        .parse()
        .unwrap();
    assert!(acked >= 3, "semi-sync acknowledged {acked} transactions");
    assert_eq!(status(p, "Rpl_semi_sync_master_status").await, "ON");

    // A replica killed with -9 catches up after a restart.
    set.kill(2);
    assert!(!set.node_mut(2).is_running());
    set.primary()
        .exec("INSERT INTO h.t VALUES (3, 'three')")
        .await
        .unwrap();
    set.restart(2).await.unwrap();
    set.catch_up(2, 0, Duration::from_secs(30)).await.unwrap();
    let n = set
        .node(2)
        .scalar("SELECT COUNT(*) FROM h.t")
        .await
        .unwrap();
    assert_eq!(n.as_deref(), Some("3"));
    set.wait_semi_sync_clients(0, 2).await.unwrap();
}

#[tokio::test]
async fn cluster_registers_topology_and_databases() {
    let c = Cluster::builder()
        .sets(2)
        .replicas(1)
        .start()
        .await
        .unwrap();
    let snap = c.topo().snapshot().await.unwrap();
    assert_eq!(
        snap.sets.keys().cloned().collect::<Vec<_>>(),
        vec!["set1", "set2"]
    );
    assert_eq!(snap.nodes.len(), 4);
    let p = snap.primary_of("set2").unwrap();
    assert_eq!(p.id, "set2-n0");
    assert_eq!(p.addr(), c.primary_addr("set2"));
    assert_eq!(
        snap.nodes_of("set1")
            .iter()
            .map(|n| n.addr())
            .collect::<Vec<_>>()[1..],
        c.replica_addrs("set1")[..]
    );
    let app = snap.user("app").unwrap();
    assert_eq!(app.password_hash, topo::password::native_hash("app"));
    assert!(app.host_allowed("127.0.0.1".parse().unwrap()));
    assert!(!app.host_allowed("10.1.2.3".parse().unwrap()));

    let rec = c.create_db("user_db", &["set1", "set2"]).await.unwrap();
    assert_eq!(rec.shard_map.set_of_slot(0), Some("set1"));
    assert_eq!(rec.shard_map.set_of_slot(1023), Some("set2"));
    let stored = c.topo().get_db("user_db").await.unwrap().unwrap().value;
    assert_eq!(stored, rec);
    for s in ["set1", "set2"] {
        let dbs = c.primary(s).query("SHOW DATABASES").await.unwrap();
        assert!(
            dbs.iter().any(|r| r[0].as_deref() == Some("user_db")),
            "{s}"
        );
    }
    // Set servers have distinct server ids.
    let mut ids: Vec<u32> = c
        .sets()
        .iter()
        .flat_map(|s| s.nodes().iter().map(|n| n.server_id()))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

/// The other programs start with the flags docs/contracts.md gives them, through the
/// harness's helpers: an agent reports health, a scheduler leads, the CLI answers.
#[tokio::test]
async fn programs_start_with_the_contract_flags() {
    let c = Cluster::builder()
        .sets(1)
        .replicas(1)
        .start()
        .await
        .unwrap();
    let t = c.topo();
    let mut agent = c.spawn_agent("set1-n1", &[]).unwrap();
    let mut sched = c.spawn_scheduler("s1", &[]).unwrap();
    setwise_tests::wait_until(
        "a health report of set1-n1",
        Duration::from_secs(20),
        || async {
            let h = t.list_health().await?;
            Ok(h.iter().any(|h| h.node == "set1-n1" && h.readable))
        },
    )
    .await
    .unwrap();
    setwise_tests::wait_until("scheduler s1 to lead", Duration::from_secs(20), || async {
        Ok(topo::election::leader(t, "scheduler").await?.as_deref() == Some("s1"))
    })
    .await
    .unwrap();
    let out = c.setwise(&["status"]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "setwise status: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("set1-n1"), "{stdout}");
    assert!(agent.is_running() && sched.is_running());
}
