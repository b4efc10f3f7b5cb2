//! The life of nodes and sets through the `setwise` command line (docs/rebuild.md):
//!
//! * `node add` and `node replace` under write load through the gateway: the new
//!   node is rebuilt physically (mariadb-backup streamed from the primary's agent),
//!   replicates, catches up and acknowledges semi-sync; every acknowledged row is on
//!   every member afterwards;
//! * `node remove` refuses the primary and a removal below what strong sync needs
//!   (unless --force);
//! * `set create` from running nodes and `set delete` (refused while the set owns
//!   slots or is a home set).

use std::time::Duration;

use setwise_tests::control::ControlPlane;
use setwise_tests::load::{ids_on, wait_all_on, Writer};
use setwise_tests::mariadb::{MariaDb, NodeOptions};
use setwise_tests::process::ChildGuard;
use setwise_tests::{bins, Cluster};
use topo::Role;

const WAIT: Duration = Duration::from_secs(60);
const TABLE: &str = "shop.t";

async fn start(replicas: usize) -> (Cluster, ControlPlane) {
    let c = Cluster::with_shop_t(1, replicas).await;
    let cp = c.start_control_plane(1).await.unwrap();
    (c, cp)
}

/// A fresh MariaDB (not in the topology) and its agent for node `id` of `set`, which
/// may restart it (physical rebuild) and serves backups; waits for its first report.
async fn spare(c: &Cluster, id: &str, set: &str, server_id: u32) -> (MariaDb, ChildGuard) {
    let db = MariaDb::start(id, c.work_dir(), server_id, NodeOptions::replica())
        .await
        .unwrap();
    let mut args = c.common_args();
    for a in [
        "--node",
        id,
        "--set",
        set,
        "--mysql-addr",
        &db.addr(),
        "--mysql-user",
        "setwise",
        "--mysql-password",
        "setwise",
        "--interval-ms",
        "200",
        "--lease-ttl",
        "2",
        "--mysqld-start",
        &db.start_command(),
        "--backup-listen",
        "127.0.0.1:0",
    ] {
        args.push(a.to_string());
    }
    let agent = c.spawn(bins::AGENT, &format!("agent-{id}"), &args).unwrap();
    let t = c.topo().clone();
    setwise_tests::wait_until(&format!("{id}'s agent to report"), WAIT, || async {
        Ok(t.list_health()
            .await?
            .iter()
            .any(|r| r.node == id && r.readable && r.addr.is_some()))
    })
    .await
    .unwrap();
    (db, agent)
}

/// Runs the command line; (success, stdout + stderr).
async fn cli(c: &Cluster, args: &[&str]) -> (bool, String) {
    let out = c.setwise(args).await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn cli_ok(c: &Cluster, args: &[&str]) -> String {
    let (ok, text) = cli(c, args).await;
    assert!(ok, "setwise {args:?} failed:\n{text}");
    text
}

async fn status_var(db: &MariaDb, name: &str) -> String {
    db.query(&format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .await
        .unwrap()
        .first()
        .and_then(|r| r.get(1).cloned().flatten())
        .unwrap_or_default()
}

async fn members(c: &Cluster, set: &str) -> Vec<(String, Role)> {
    let mut v: Vec<(String, Role)> = c
        .topo()
        .nodes_of(set)
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.id, n.role))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test]
async fn node_add_and_replace_under_write_load() {
    let (c, _cp) = start(1).await;
    let w = Writer::start(c.app_opts(), TABLE, 1..=1_000_000);
    w.wait_acked(30, WAIT).await.unwrap();

    // add: rebuilt physically from the primary while the writes go on.
    let (n2, _a2) = spare(&c, "set1-n2", "set1", 190).await;
    let out = cli_ok(
        &c,
        &["node", "add", "--set", "set1", &n2.addr(), "--wait", "55"],
    )
    .await;
    assert!(out.contains("physical (mariadb-backup"), "{out}");
    assert!(out.contains("caught up"), "{out}");
    assert!(out.contains("rebuild of set1-n2"), "progress lines: {out}");
    assert_eq!(
        members(&c, "set1").await,
        vec![
            ("set1-n0".into(), Role::Primary),
            ("set1-n1".into(), Role::Replica),
            ("set1-n2".into(), Role::Replica)
        ]
    );
    // It acknowledges commits: its IO thread is a semi-sync slave, and the primary
    // counts two semi-sync replicas.
    assert_eq!(status_var(&n2, "Rpl_semi_sync_slave_status").await, "ON");
    assert_eq!(
        status_var(c.primary("set1"), "Rpl_semi_sync_master_clients").await,
        "2"
    );
    let t = std::time::Instant::now();
    w.wait_acks_after(t, 20, WAIT).await.unwrap();

    // replace: n3 joins, n1 leaves.
    let (n3, _a3) = spare(&c, "set1-n3", "set1", 191).await;
    let out = cli_ok(
        &c,
        &[
            "node",
            "replace",
            "--set",
            "set1",
            "set1-n1",
            &n3.addr(),
            "--wait",
            "55",
        ],
    )
    .await;
    assert!(out.contains("physical (mariadb-backup"), "{out}");
    assert!(out.contains("node set1-n1: removed"), "{out}");
    assert_eq!(
        members(&c, "set1").await,
        vec![
            ("set1-n0".into(), Role::Primary),
            ("set1-n2".into(), Role::Replica),
            ("set1-n3".into(), Role::Replica)
        ]
    );
    assert_eq!(status_var(&n3, "Rpl_semi_sync_slave_status").await, "ON");
    let t = std::time::Instant::now();
    w.wait_acks_after(t, 20, WAIT).await.unwrap();

    let log = w.stop().await;
    let acked = log.acked_ids();
    assert!(acked.len() >= 70, "{} acks", acked.len());
    // Every acknowledged row is on the primary and on both new replicas.
    let on_primary = ids_on(c.primary("set1"), TABLE).await.unwrap();
    let missing: Vec<&i64> = acked.iter().filter(|i| !on_primary.contains(i)).collect();
    assert!(missing.is_empty(), "acknowledged but missing: {missing:?}");
    for n in [&n2, &n3] {
        wait_all_on(n, TABLE, &acked, WAIT).await.unwrap();
    }
}

#[tokio::test]
async fn node_remove_refuses_the_primary_and_going_below_strong_sync() {
    let (c, _cp) = start(1).await;
    let (ok, out) = cli(&c, &["node", "remove", "--set", "set1", "set1-n0"]).await;
    assert!(!ok && out.contains("is the primary"), "{out}");
    let (ok, out) = cli(
        &c,
        &["node", "remove", "--set", "set1", "set1-n0", "--force"],
    )
    .await;
    assert!(!ok && out.contains("is the primary"), "{out}");
    // Strong sync needs one replicating replica: set1-n1 is the only one.
    let (ok, out) = cli(&c, &["node", "remove", "--set", "set1", "set1-n1"]).await;
    assert!(!ok && out.contains("needs 1"), "{out}");
    let (ok, out) = cli(&c, &["node", "remove", "--set", "set1", "nosuch"]).await;
    assert!(!ok && out.contains("unknown node nosuch"), "{out}");
    assert_eq!(members(&c, "set1").await.len(), 2);
    let out = cli_ok(
        &c,
        &["node", "remove", "--set", "set1", "set1-n1", "--force"],
    )
    .await;
    assert!(out.contains("node set1-n1: removed"), "{out}");
    assert_eq!(
        members(&c, "set1").await,
        vec![("set1-n0".into(), Role::Primary)]
    );
}

#[tokio::test]
async fn set_create_and_delete() {
    let (c, _cp) = start(1).await;
    // set1 holds shop (its home and all its slots).
    let (ok, out) = cli(&c, &["set", "delete", "set1"]).await;
    assert!(
        !ok && out.contains("refused") && out.contains("shop"),
        "{out}"
    );

    let (a, _aa) = spare(&c, "set9-n0", "set9", 901).await;
    let (b, _ab) = spare(&c, "set9-n1", "set9", 902).await;
    let nodes = format!("{},{}", a.addr(), b.addr());
    let out = cli_ok(
        &c,
        &["set", "create", "set9", "--nodes", &nodes, "--wait", "50"],
    )
    .await;
    assert!(out.contains("set set9: created"), "{out}");
    let json = cli_ok(&c, &["set", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let s9 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "set9")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(s9["primary"], "set9-n0");
    assert_eq!(s9["replicas"], serde_json::json!(["set9-n1"]));
    // Replication runs with semi-sync acknowledgements.
    assert_eq!(
        a.scalar("SELECT @@read_only").await.unwrap().as_deref(),
        Some("0")
    );
    assert_eq!(status_var(&a, "Rpl_semi_sync_master_clients").await, "1");
    a.exec(
        "CREATE DATABASE s9; CREATE TABLE s9.t (id INT PRIMARY KEY); INSERT INTO s9.t VALUES (7)",
    )
    .await
    .unwrap();
    wait_all_on(&b, "s9.t", &[7], WAIT).await.unwrap();
    let (ok, out) = cli(&c, &["set", "create", "set9", "--nodes", &nodes]).await;
    assert!(!ok && out.contains("exists"), "{out}");

    // It owns no slots and no database's home: it may go.
    let out = cli_ok(&c, &["set", "delete", "set9"]).await;
    assert!(out.contains("set set9: deleted (2 node(s)"), "{out}");
    assert!(c.topo().get_set("set9").await.unwrap().is_none());
    assert!(members(&c, "set9").await.is_empty());
    let (ok, out) = cli(&c, &["set", "delete", "set9"]).await;
    assert!(!ok && out.contains("unknown set set9"), "{out}");
}
