//! The agent against real MariaDB: the health report's replication fields (GTID
//! positions, master, semi-sync clients, gap to the primary, CPU, datadir), per-table
//! statistics, the set's sync mode applied on the primary, and the node tasks
//! (read_only, promote, repoint, rebuild) driven through `tasks/<set>/<node>` as the
//! scheduler does.

use std::time::Duration;

use setwise_tests::{wait_until, Cluster};
use topo::{HealthReport, NodeStats, Role, SyncMode, Task, TaskRecord, TaskState, Topo};

/// Bound for a report, a setting or replication to show up.
const WAIT: Duration = Duration::from_secs(30);
/// Bound for a task to finish (a rebuild copies data).
const TASK_WAIT: Duration = Duration::from_secs(120);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn health(t: &Topo, node: &str) -> anyhow::Result<Option<HealthReport>> {
    Ok(t.get::<HealthReport>(&t.keys().health_of("set1", node))
        .await?
        .map(|v| v.value))
}

/// Waits until `node`'s report satisfies `f`; returns that report.
async fn wait_report(
    t: &Topo,
    node: &str,
    what: &str,
    f: impl Fn(&HealthReport) -> bool,
) -> HealthReport {
    setwise_tests::wait_for(&format!("{node}: {what}"), WAIT, || health(t, node), f)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

async fn global(db: &setwise_tests::MariaDb, name: &str) -> String {
    db.scalar(&format!("SELECT @@GLOBAL.{name}"))
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn wait_global(db: &setwise_tests::MariaDb, name: &str, want: &str) {
    wait_until(&format!("{}: {name} = {want}", db.name()), WAIT, || async {
        Ok(global(db, name).await == want)
    })
    .await
    .unwrap();
}

/// Gives `node` a new pending task; returns its id.
async fn give(t: &Topo, node: &str, task: Task) -> String {
    let rec = TaskRecord::new("set1", node, task, "test", now_ms());
    t.put_task(&rec).await.unwrap();
    rec.id
}

/// Waits until task `id` of `node` is finished; returns the record.
async fn finished(t: &Topo, node: &str, id: &str) -> TaskRecord {
    setwise_tests::wait_for(
        &format!("task {id} of {node} to finish"),
        TASK_WAIT,
        || async { Ok(t.get_task("set1", node).await?.map(|v| v.value)) },
        |r| r.id == id && r.is_finished(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Runs a task to completion and asserts it is done.
async fn run_ok(t: &Topo, node: &str, task: Task) -> TaskRecord {
    let id = give(t, node, task).await;
    let rec = finished(t, node, &id).await;
    assert_eq!(rec.state, TaskState::Done, "{rec:#?}");
    assert!(rec.error.is_none(), "{rec:#?}");
    assert!(rec.updated_ms >= rec.created_ms);
    rec
}

async fn set_role(t: &Topo, node: &str, role: Role) {
    let mut rec = t
        .nodes_of("set1")
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.id == node)
        .unwrap();
    rec.role = role;
    t.put_node(&rec).await.unwrap();
}

async fn set_sync(t: &Topo, sync: SyncMode, semi_timeout_ms: u64) {
    let mut s = t.get_set("set1").await.unwrap().unwrap();
    s.sync = sync;
    s.semi_timeout_ms = semi_timeout_ms;
    t.put_set(&s).await.unwrap();
}

async fn count(db: &setwise_tests::MariaDb, sql: &str) -> u64 {
    db.scalar(sql).await.unwrap().unwrap().parse().unwrap()
}

#[tokio::test]
async fn health_statistics_sync_mode_and_read_only() {
    let c = Cluster::builder()
        .sets(1)
        .replicas(2)
        .start()
        .await
        .unwrap();
    let t = c.topo();
    let stats = ["--stats-interval-ms", "300"];
    let _agents: Vec<_> = ["set1-n0", "set1-n1", "set1-n2"]
        .iter()
        .map(|n| c.spawn_agent(n, &stats).unwrap())
        .collect();
    let p = c.primary("set1");
    let n2 = c.node("set1-n2");

    // Strong sync (the harness's set record): the primary never falls back to async.
    wait_global(p, "rpl_semi_sync_master_timeout", "4294967295").await;
    assert_eq!(global(p, "rpl_semi_sync_master_enabled").await, "1");
    assert_eq!(
        global(p, "rpl_semi_sync_master_wait_point").await,
        "AFTER_SYNC"
    );

    p.exec("CREATE DATABASE shop").await.unwrap();
    p.exec("CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20))")
        .await
        .unwrap();
    p.exec("INSERT INTO shop.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .await
        .unwrap();

    // The primary: its binlog position, both replicas acknowledging, no gap, host figures.
    // (A report taken before the writes above reached the binlog is not the one.)
    let r = wait_report(t, "set1-n0", "semi-sync with 2 clients", |r| {
        r.semi_sync_master == Some(true)
            && r.semi_sync_clients == Some(2)
            && r.gtid_binlog_pos
                .as_deref()
                .and_then(|p| topo::gtid::GtidPos::parse(p).ok())
                .is_some_and(|p| p.domain(0).is_some_and(|g| g.seq >= 3))
            && r.cpu_pct.is_some()
            && r.datadir_bytes.is_some_and(|b| b > 0)
    })
    .await;
    assert_eq!(r.gap_trx, Some(0));
    assert_eq!(r.master, None);
    assert_eq!(r.gtid_io_pos, None);
    let binlog = topo::gtid::GtidPos::parse(r.gtid_binlog_pos.as_deref().unwrap()).unwrap();
    assert!(binlog.domain(0).is_some_and(|g| g.seq >= 3), "{r:#?}");

    // A replica: what it received, whom from, and no gap once caught up.
    // (CPU needs two samples of mariadbd's times: wait for the report that has it.)
    let r = wait_report(t, "set1-n1", "caught up", |r| {
        r.gap_trx == Some(0) && r.gtid_io_pos.is_some() && r.cpu_pct.is_some()
    })
    .await;
    assert_eq!(r.master.as_deref(), Some(c.primary_addr("set1").as_str()));
    assert_eq!(
        r.semi_sync_master, None,
        "semi-sync master is off on replicas"
    );
    assert_eq!(r.read_only, Some(true));
    assert!(r.cpu_pct.is_some() && r.datadir_bytes.is_some(), "{r:#?}");

    // A replica that applies nothing falls behind by what the primary writes.
    n2.exec("STOP SLAVE SQL_THREAD").await.unwrap();
    for i in 10..15 {
        p.exec(&format!("INSERT INTO shop.t VALUES ({i}, 'x')"))
            .await
            .unwrap();
    }
    wait_report(t, "set1-n2", "a gap of at least 5 transactions", |r| {
        r.gap_trx.is_some_and(|g| g >= 5)
    })
    .await;
    n2.exec("START SLAVE SQL_THREAD").await.unwrap();
    wait_report(t, "set1-n2", "no gap", |r| r.gap_trx == Some(0)).await;

    // Per-table statistics (userstat turned on by the agent; counters count from then).
    wait_global(p, "userstat", "1").await;
    p.exec("UPDATE shop.t SET v = 'z' WHERE id < 3")
        .await
        .unwrap();
    p.query("SELECT * FROM shop.t").await.unwrap();
    let key = t.keys().stats_of("set1", "set1-n0");
    let s = setwise_tests::wait_for(
        "statistics of shop.t",
        WAIT,
        || async { Ok(t.get::<NodeStats>(&key).await?.map(|v| v.value)) },
        |s: &NodeStats| {
            s.tables.iter().any(|x| {
                x.db == "shop"
                    && x.table == "t"
                    && x.rows_changed >= 2
                    && x.rows_read >= 8
                    && x.bytes > 0
            })
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((s.node.as_str(), s.set.as_str()), ("set1-n0", "set1"));
    assert!(
        s.tables.iter().all(
            |x| !["mysql", "setwise_sys", "sys", "performance_schema"].contains(&x.db.as_str())
        ),
        "{s:#?}"
    );

    // Sync mode follows the set record: semi with its timeout, async, strong again.
    set_sync(t, SyncMode::Semi, 2500).await;
    wait_global(p, "rpl_semi_sync_master_timeout", "2500").await;
    assert_eq!(global(p, "rpl_semi_sync_master_enabled").await, "1");
    set_sync(t, SyncMode::Async, 2500).await;
    wait_global(p, "rpl_semi_sync_master_enabled", "0").await;
    wait_report(t, "set1-n0", "no semi-sync status under async", |r| {
        r.semi_sync_master.is_none()
    })
    .await;
    set_sync(t, SyncMode::Strong, 2500).await;
    wait_global(p, "rpl_semi_sync_master_enabled", "1").await;
    wait_global(p, "rpl_semi_sync_master_timeout", "4294967295").await;
    // Replicas are left alone.
    assert_eq!(
        global(c.node("set1-n1"), "rpl_semi_sync_master_enabled").await,
        "0"
    );

    // read_only fences the primary even while commits hang: both replicas stop, so
    // under strong sync a commit waits for an acknowledgement that never comes.
    for n in ["set1-n1", "set1-n2"] {
        c.node(n).exec("STOP SLAVE").await.unwrap();
    }
    wait_report(t, "set1-n0", "no semi-sync clients", |r| {
        r.semi_sync_clients == Some(0)
    })
    .await;
    let mut conn = mysql_async::Conn::new(p.root_opts()).await.unwrap();
    let hung = tokio::spawn(async move {
        use mysql_async::prelude::Queryable;
        conn.query_drop("INSERT INTO shop.t VALUES (99, 'hung')")
            .await
    });
    wait_until(
        "the INSERT to wait for an acknowledgement",
        WAIT,
        || async {
            let n = p
                .scalar(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE INFO LIKE 'INSERT INTO shop.t VALUES (99%'",
                )
                .await?;
            Ok(n.as_deref() == Some("1"))
        },
    )
    .await
    .unwrap();
    // The result is the fenced primary's final binlog position.
    let rec = run_ok(t, "set1-n0", Task::ReadOnly).await;
    let r = tokio::time::timeout(WAIT, hung).await.unwrap().unwrap();
    assert!(r.is_err(), "the hung commit's session is ended: {r:?}");
    assert_eq!(
        count(p, "SELECT COUNT(*) FROM shop.t WHERE id = 99").await,
        1
    );
    assert_eq!(global(p, "read_only").await, "1");
    assert_eq!(
        rec.gtid.as_deref(),
        Some(p.gtid_binlog_pos().await.unwrap().as_str())
    );
    wait_report(t, "set1-n0", "read-only", |r| {
        r.read_only == Some(true) && !r.writable
    })
    .await;
}

#[tokio::test]
async fn promote_a_replica_and_repoint_the_other() {
    let mut c = Cluster::builder()
        .sets(1)
        .replicas(2)
        .start()
        .await
        .unwrap();
    let t = c.topo().clone();
    let p = c.primary("set1");
    p.exec("CREATE DATABASE shop").await.unwrap();
    p.exec("CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20))")
        .await
        .unwrap();
    p.exec("INSERT INTO shop.t VALUES (1, 'a'), (2, 'b')")
        .await
        .unwrap();
    c.set("set1").sync_replicas().await.unwrap();
    let _a1 = c.spawn_agent("set1-n1", &[]).unwrap();
    let _a2 = c.spawn_agent("set1-n2", &[]).unwrap();

    c.kill_node("set1-n0");
    // Elect as the scheduler does: the replica's received position is what it must apply.
    let r = wait_report(&t, "set1-n1", "a received position", |r| {
        r.gtid_io_pos.is_some()
    })
    .await;
    let promote = Task::Promote {
        wait_gtid: r.gtid_io_pos.clone(),
        sync: SyncMode::Strong,
        semi_timeout_ms: 10_000,
    };
    let rec = run_ok(&t, "set1-n1", promote.clone()).await;
    let n1 = c.node("set1-n1");
    assert_eq!(global(n1, "read_only").await, "0");
    assert!(n1.query("SHOW SLAVE STATUS").await.unwrap().is_empty());
    assert_eq!(global(n1, "rpl_semi_sync_master_enabled").await, "1");
    assert_eq!(
        global(n1, "rpl_semi_sync_master_timeout").await,
        "4294967295"
    );
    assert_eq!(
        global(n1, "rpl_semi_sync_master_wait_point").await,
        "AFTER_SYNC"
    );
    let promoted = rec.gtid.clone().unwrap();
    assert!(
        topo::gtid::GtidPos::parse(&promoted)
            .unwrap()
            .contains(&topo::gtid::GtidPos::parse(r.gtid_io_pos.as_deref().unwrap()).unwrap()),
        "promoted at {promoted}, received {:?}",
        r.gtid_io_pos
    );
    // Publish as the scheduler does.
    set_role(&t, "set1-n1", Role::Primary).await;
    set_role(&t, "set1-n0", Role::Replica).await;

    // Promoting a writable primary again changes nothing.
    run_ok(&t, "set1-n1", promote).await;
    assert_eq!(global(n1, "read_only").await, "0");

    // Repoint the other replica. The record is left `running`, as by an agent that died
    // during it: the agent runs it again.
    let mut rec = TaskRecord::new(
        "set1",
        "set1-n2",
        Task::Repoint {
            host: "127.0.0.1".into(),
            port: n1.port(),
            from_binlog: false,
        },
        "test",
        now_ms(),
    );
    rec.state = TaskState::Running;
    t.put_task(&rec).await.unwrap();
    let done = finished(&t, "set1-n2", &rec.id).await;
    assert_eq!(done.state, TaskState::Done, "{done:#?}");
    let n2 = c.node("set1-n2");
    assert_eq!(global(n2, "read_only").await, "1");
    assert_eq!(global(n2, "rpl_semi_sync_slave_enabled").await, "1");

    // Rows written on the new primary (acknowledged by the repointed replica: strong)
    // arrive there.
    c.set("set1").wait_semi_sync_clients(1, 1).await.unwrap();
    n1.exec("INSERT INTO shop.t VALUES (3, 'after failover'), (4, 'd')")
        .await
        .unwrap();
    let pos = n1.gtid_binlog_pos().await.unwrap();
    let r = n2
        .scalar(&format!("SELECT MASTER_GTID_WAIT('{pos}', 30)"))
        .await
        .unwrap();
    assert_eq!(r.as_deref(), Some("0"));
    assert_eq!(count(n2, "SELECT COUNT(*) FROM shop.t").await, 4);
    assert_eq!(
        n2.scalar("SELECT v FROM shop.t WHERE id = 3")
            .await
            .unwrap()
            .as_deref(),
        Some("after failover")
    );
    let r = wait_report(&t, "set1-n2", "replicating from the new primary", |r| {
        r.master.as_deref() == Some(n1.addr().as_str()) && r.slave_io_running == Some(true)
    })
    .await;
    assert_eq!(r.slave_sql_running, Some(true));
    wait_report(&t, "set1-n1", "its replica acknowledging", |r| {
        r.semi_sync_clients == Some(1) && r.writable && r.gap_trx == Some(0)
    })
    .await;

    // Repointing again (every task is idempotent) succeeds.
    let id = give(
        &t,
        "set1-n2",
        Task::Repoint {
            host: "127.0.0.1".into(),
            port: c.node("set1-n1").port(),
            from_binlog: false,
        },
    )
    .await;
    let ok = finished(&t, "set1-n2", &id).await;
    assert_eq!(ok.state, TaskState::Done, "{ok:#?}");
}

#[tokio::test]
async fn rebuild_discards_a_divergent_replica() {
    let c = Cluster::builder()
        .sets(1)
        .replicas(1)
        .start()
        .await
        .unwrap();
    let t = c.topo();
    let p = c.primary("set1");
    let n1 = c.node("set1-n1");
    p.exec("CREATE DATABASE shop").await.unwrap();
    p.exec("CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20))")
        .await
        .unwrap();
    p.exec("INSERT INTO shop.t VALUES (1, 'a'), (2, 'b')")
        .await
        .unwrap();
    p.exec("CREATE DATABASE `we``ird`").await.unwrap();
    p.exec("CREATE TABLE `we``ird`.x (k INT PRIMARY KEY)")
        .await
        .unwrap();
    p.exec("INSERT INTO `we``ird`.x VALUES (7)").await.unwrap();
    c.set("set1").sync_replicas().await.unwrap();

    // The replica diverges: a transaction of its own (root ignores read_only) and a
    // database the primary does not have; then the primary writes on.
    n1.exec("INSERT INTO shop.t VALUES (100, 'divergent')")
        .await
        .unwrap();
    n1.exec("CREATE DATABASE junk").await.unwrap();
    p.exec("INSERT INTO shop.t VALUES (3, 'c')").await.unwrap();
    let n1_pos = n1.gtid_binlog_pos().await.unwrap();
    assert!(
        n1_pos.contains(&format!("-{}-", n1.server_id())),
        "{n1_pos}"
    );

    let _agent = c.spawn_agent("set1-n1", &[]).unwrap();
    // Its SQL thread stops on the primary's transaction (out-of-order GTID): a promote
    // waiting for that transaction fails with the replication error.
    let id = give(
        t,
        "set1-n1",
        Task::Promote {
            wait_gtid: Some(p.gtid_binlog_pos().await.unwrap()),
            sync: SyncMode::Strong,
            semi_timeout_ms: 10_000,
        },
    )
    .await;
    let failed = finished(t, "set1-n1", &id).await;
    assert_eq!(failed.state, TaskState::Failed, "{failed:#?}");
    let err = failed.error.unwrap_or_default();
    assert!(err.contains("SQL thread stopped with an error"), "{err}");
    assert_eq!(global(n1, "read_only").await, "1");

    let rec = run_ok(
        t,
        "set1-n1",
        Task::Rebuild {
            host: "127.0.0.1".into(),
            port: p.port(),
        },
    )
    .await;
    assert!(rec.gtid.is_some());
    // The primary has no agent serving backups: the logical fallback, and it says so.
    let outcome = rec.outcome.clone().unwrap_or_default();
    assert!(
        outcome.starts_with("logical copy (mariadb-dump)") && outcome.contains("serves no backups"),
        "{rec:?}"
    );

    // Exactly the primary's data, replicating again.
    let dbs = n1.query("SHOW DATABASES").await.unwrap();
    assert!(
        !dbs.iter().any(|r| r[0].as_deref() == Some("junk")),
        "{dbs:?}"
    );
    assert_eq!(
        n1.query("SELECT id, v FROM shop.t ORDER BY id")
            .await
            .unwrap(),
        setwise_tests::sql::expect(&[&["1", "a"], &["2", "b"], &["3", "c"]])
    );
    assert_eq!(count(n1, "SELECT k FROM `we``ird`.x").await, 7);
    assert_eq!(global(n1, "read_only").await, "1");
    p.exec("INSERT INTO shop.t VALUES (4, 'd')").await.unwrap();
    c.set("set1").catch_up(1, 0, WAIT).await.unwrap();
    assert_eq!(count(n1, "SELECT COUNT(*) FROM shop.t").await, 4);
    // Nothing of its own is left in its binlog: its position is the primary's.
    assert_eq!(
        n1.gtid_binlog_pos().await.unwrap(),
        p.gtid_binlog_pos().await.unwrap()
    );
    let r = wait_report(t, "set1-n1", "replicating", |r| {
        r.slave_io_running == Some(true) && r.slave_sql_running == Some(true)
    })
    .await;
    assert_eq!(r.master.as_deref(), Some(p.addr().as_str()));
    assert_eq!(r.last_error, None);

    // A rebuild from a source that does not answer fails with a clear error.
    let id = give(
        t,
        "set1-n1",
        Task::Rebuild {
            host: "127.0.0.1".into(),
            port: 1,
        },
    )
    .await;
    let failed = finished(t, "set1-n1", &id).await;
    assert_eq!(failed.state, TaskState::Failed);
    let err = failed.error.unwrap_or_default();
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

/// CPU ticks (utime + stime) of process `pid`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[tokio::test]
async fn tasks_run_again_after_etcd_comes_back() {
    let mut c = Cluster::builder()
        .sets(1)
        .replicas(1)
        .start()
        .await
        .unwrap();
    let mut agent = c.spawn_agent("set1-n1", &[]).unwrap();
    let t = c.topo().clone();
    wait_report(&t, "set1-n1", "readable", |r| r.readable).await;
    run_ok(&t, "set1-n1", Task::ReadOnly).await;

    let pid = agent.pid().unwrap();
    let (ticks, since) = (cpu_ticks(pid), std::time::Instant::now());
    c.etcd_mut().kill();
    let log = agent.log_path().to_path_buf();
    for what in [
        "cannot publish health report",
        "cannot read the task record",
    ] {
        wait_until(&format!("the agent to log {what:?}"), WAIT, || {
            let log = log.clone();
            async move { Ok(std::fs::read_to_string(&log)?.contains(what)) }
        })
        .await
        .unwrap();
    }
    // Without etcd the agent waits; it does not spin (well under half a core).
    let used = (cpu_ticks(pid) - ticks) as f64 / 100.0;
    let share = used / since.elapsed().as_secs_f64();
    assert!(
        share < 0.5,
        "the agent used {share:.2} of a core without etcd"
    );
    assert!(agent.is_running());

    c.etcd_mut().restart().await.unwrap();
    wait_report(&t, "set1-n1", "readable again", |r| r.readable).await;
    let rec = run_ok(&t, "set1-n1", Task::ReadOnly).await;
    assert!(rec.gtid.is_some());
    assert!(agent.is_running());
}

#[tokio::test]
async fn switchover_fences_promotes_and_rejoins_the_old_primary() {
    let c = Cluster::builder()
        .sets(1)
        .replicas(2)
        .start()
        .await
        .unwrap();
    let t = c.topo();
    let _agents: Vec<_> = ["set1-n0", "set1-n1", "set1-n2"]
        .iter()
        .map(|n| c.spawn_agent(n, &[]).unwrap())
        .collect();
    let (n0, n1, n2) = (c.node("set1-n0"), c.node("set1-n1"), c.node("set1-n2"));
    n0.exec("CREATE DATABASE shop").await.unwrap();
    n0.exec("CREATE TABLE shop.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    n0.exec("INSERT INTO shop.t VALUES (1), (2)").await.unwrap();
    wait_report(t, "set1-n0", "writable", |r| r.writable).await;

    // Fence the old primary; its final position is what the target must apply.
    let fenced = run_ok(t, "set1-n0", Task::ReadOnly).await;
    let final_pos = fenced.gtid.clone().unwrap();
    assert_eq!(final_pos, n0.gtid_binlog_pos().await.unwrap());
    let promoted = run_ok(
        t,
        "set1-n1",
        Task::Promote {
            wait_gtid: Some(final_pos.clone()),
            sync: SyncMode::Semi,
            semi_timeout_ms: 3000,
        },
    )
    .await;
    assert_eq!(promoted.gtid.as_deref(), Some(final_pos.as_str()));
    assert_eq!(global(n1, "rpl_semi_sync_master_timeout").await, "3000");
    set_sync(t, SyncMode::Semi, 3000).await;
    set_role(t, "set1-n1", Role::Primary).await;
    set_role(t, "set1-n0", Role::Replica).await;

    // The old primary rejoins from its own binlog position; the other replica follows.
    for (node, from_binlog) in [("set1-n0", true), ("set1-n2", false)] {
        run_ok(
            t,
            node,
            Task::Repoint {
                host: "127.0.0.1".into(),
                port: n1.port(),
                from_binlog,
            },
        )
        .await;
    }
    assert_eq!(global(n0, "rpl_semi_sync_master_enabled").await, "0");
    assert_eq!(global(n0, "read_only").await, "1");
    c.set("set1").wait_semi_sync_clients(1, 2).await.unwrap();
    n1.exec("INSERT INTO shop.t VALUES (3)").await.unwrap();
    let pos = n1.gtid_binlog_pos().await.unwrap();
    for n in [n0, n2] {
        let r = n
            .scalar(&format!("SELECT MASTER_GTID_WAIT('{pos}', 30)"))
            .await
            .unwrap();
        assert_eq!(r.as_deref(), Some("0"), "{}", n.name());
        assert_eq!(count(n, "SELECT COUNT(*) FROM shop.t").await, 3);
    }
    wait_report(t, "set1-n0", "replicating from the new primary", |r| {
        r.master.as_deref() == Some(n1.addr().as_str())
            && r.slave_sql_running == Some(true)
            && r.last_error.is_none()
    })
    .await;
}
