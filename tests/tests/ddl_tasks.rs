//! DDL through the scheduler (docs/ddl.md): with a scheduler leader elected, the
//! gateway records each schema change as a task in etcd (`ddl/<id>`), the leader
//! applies it on every set's primary, and the client is answered when it ends.
//! Each test runs 2 sets (primary + 1 replica) with the gateway and a control plane
//! whose failover is off (a killed primary stays the primary and comes back).
//!
//! * a set down during an ALTER: the client waits, the task shows waiting-for-set,
//!   and it finishes when the set is back;
//! * a set failing over during an ALTER: it runs on the new primary;
//! * a leader killed while a set's ALTER waits on a metadata lock (its progress
//!   read from the processlist): the next leader checks and finishes the task;
//! * a CREATE whose outcome on a set was lost: checked in information_schema, not re-run;
//! * an ALTER that fails on one set only: MariaDB's error naming the set and
//!   `setwise ddl retry`; later DDL on the table is held back until the retry;
//! * DDL through two gateways at once on one table: serialised, each change once;
//! * `setwise ddl list | show | retry | cancel` with `--json` parsed;
//! * a long (copying) ALTER: the progress the set reports is in the task;
//! * the client's session state (sql_mode) and database apply on the sets.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::Value;
use setwise_tests::cluster::wait_accepting;
use setwise_tests::control::{wait_leader, ControlPlane, ControlPlaneConfig};
use setwise_tests::process::ChildGuard;
use setwise_tests::shop::SHOP_T;
use setwise_tests::{wait_for, wait_until, Cluster};
use topo::{DdlState, DdlTask, StepState};

/// Bound of every wait.
const WAIT: Duration = Duration::from_secs(60);

/// 2 sets with the gateway, `shop.t` sharded by `id` with rows on both sets
/// (created before the control plane: the gateway applies it itself), then agents
/// and `schedulers` schedulers with failover off.
async fn start(schedulers: usize) -> (Cluster, ControlPlane) {
    let c = Cluster::with_gateway(2, 1).await;
    let conn = c
        .create_shop(&[
            SHOP_T,
            "INSERT INTO shop.t (id, v) VALUES (1,1),(2,2),(3,3),(4,4),(5,5),(6,6)",
        ])
        .await;
    drop(conn);
    assert!(c.topo().list_ddl().await.unwrap().is_empty());
    let cfg = ControlPlaneConfig {
        failover_enabled: false,
        ..Default::default()
    };
    let cp = c.start_control_plane_with(schedulers, cfg).await.unwrap();
    (c, cp)
}

/// `shop.t`'s columns on `set`'s primary, in table order.
async fn columns(c: &Cluster, set: &str) -> Vec<String> {
    c.set(set)
        .primary()
        .query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION",
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect()
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

async fn tasks(c: &Cluster) -> Vec<DdlTask> {
    c.topo()
        .list_ddl()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.value)
        .collect()
}

/// The newest task whose statement contains `text`.
async fn task_with(c: &Cluster, text: &str) -> Option<DdlTask> {
    tasks(c)
        .await
        .into_iter()
        .rev()
        .find(|t| t.sql.contains(text))
}

fn step<'a>(t: &'a DdlTask, set: &str) -> &'a topo::DdlStep {
    t.steps.iter().find(|s| s.set == set).unwrap()
}

/// Runs `setwise ARGS --json`; the parsed stdout (the command must succeed).
async fn json(c: &Cluster, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let out = c.setwise(&all).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "setwise {all:?}: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("setwise {all:?}: {e}\n{stdout}"))
}

/// Runs `sql` through a new gateway connection in the background.
fn spawn_sql(c: &Cluster, sql: &str) -> tokio::task::JoinHandle<Result<(), mysql_async::Error>> {
    let opts = c.app_opts();
    let sql = sql.to_string();
    tokio::spawn(async move {
        let mut conn = mysql_async::Conn::new(opts).await?;
        conn.query_drop(sql).await
    })
}

fn server_err(e: &mysql_async::Error) -> (u16, String, String) {
    match e {
        mysql_async::Error::Server(s) => (s.code, s.state.clone(), s.message.clone()),
        other => panic!("not a server error: {other}"),
    }
}

#[tokio::test]
async fn a_set_down_during_ddl_gets_it_when_back() {
    let (mut c, _cp) = start(1).await;
    let k = c.set("set2").primary_index();
    c.set_mut("set2").kill(k);
    let client = spawn_sql(&c, "ALTER TABLE shop.t ADD COLUMN c1 INT");
    // set1 applied it; set2 waits; the task is running (waiting-for-set).
    let t = wait_for(
        "the task to wait for set2 after set1 applied it",
        WAIT,
        || async { Ok(task_with(&c, "c1").await) },
        |t: &DdlTask| {
            step(t, "set1").state == StepState::Done && step(t, "set2").state == StepState::Waiting
        },
    )
    .await
    .unwrap();
    assert_eq!(t.state, DdlState::Running);
    assert_eq!(t.shown_state(), "waiting-for-set");
    let shown = json(&c, &["ddl", "show", &t.id.to_string()]).await;
    assert_eq!(shown["status"], "waiting-for-set", "{shown}");
    assert!(
        shown["steps"][1]["waiting"]
            .as_str()
            .is_some_and(|w| w.contains("set2")),
        "{shown}"
    );
    assert!(!client.is_finished(), "the client waits for the task");
    assert_eq!(columns(&c, "set1").await, cols(&["id", "v", "c1"]));

    c.set_mut("set2").restart(k).await.unwrap();
    tokio::time::timeout(WAIT, client)
        .await
        .expect("the client is answered once set2 is back")
        .unwrap()
        .expect("OK once every set applied it");
    assert_eq!(columns(&c, "set2").await, cols(&["id", "v", "c1"]));
    let t = task_with(&c, "c1").await.unwrap();
    assert_eq!(t.state, DdlState::Done);
    // The gateway routes on: a write to both sets through the new column.
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("UPDATE shop.t SET c1 = id").await.unwrap();
    let n: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM shop.t WHERE c1 = id")
        .await
        .unwrap();
    assert_eq!(n, Some(6));
}

#[tokio::test]
async fn a_task_survives_a_leader_change() {
    let (c, mut cp) = start(2).await;
    let leader = wait_leader(c.topo(), None, WAIT).await.unwrap();
    // A transaction on set2's primary holds the table's metadata lock: set2's
    // ALTER waits for it there.
    let mut holder = c.set("set2").primary().conn().await.unwrap();
    holder.query_drop("BEGIN").await.unwrap();
    holder.query_drop("SELECT * FROM shop.t").await.unwrap();
    let client = spawn_sql(&c, "ALTER TABLE shop.t ADD COLUMN c2 INT");
    let t = wait_for(
        "set2's ALTER waiting on the metadata lock (its processlist state in the task)",
        WAIT,
        || async { Ok(task_with(&c, "c2").await) },
        |t: &DdlTask| {
            step(t, "set1").state == StepState::Done
                && step(t, "set2").state == StepState::Running
                && step(t, "set2")
                    .progress
                    .as_ref()
                    .is_some_and(|p| p.state.contains("metadata lock"))
        },
    )
    .await
    .unwrap();
    assert!(step(&t, "set2").unsure);
    cp.kill_scheduler(&leader);
    let next = wait_leader(c.topo(), Some(&leader), WAIT).await.unwrap();
    assert_ne!(next, leader);
    holder.query_drop("COMMIT").await.unwrap();
    tokio::time::timeout(WAIT, client)
        .await
        .expect("the client is answered after the leader change")
        .unwrap()
        .expect("OK: the next leader finished the task");
    let t = task_with(&c, "c2").await.unwrap();
    assert_eq!(t.state, DdlState::Done, "{t:?}");
    for set in ["set1", "set2"] {
        assert_eq!(columns(&c, set).await, cols(&["id", "v", "c2"]), "{set}");
    }
}

#[tokio::test]
async fn an_alter_failing_on_one_set_then_retry() {
    let (c, _cp) = start(1).await;
    // A conflicting column made directly on set2's primary.
    c.set("set2")
        .primary()
        .exec("ALTER TABLE shop.t ADD COLUMN c3 INT")
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    let e = conn
        .query_drop("ALTER TABLE shop.t ADD COLUMN c3 INT")
        .await
        .unwrap_err();
    let (code, state, msg) = server_err(&e);
    assert_eq!((code, state.as_str()), (1060, "42S21"), "{msg}");
    let t = task_with(&c, "c3").await.unwrap();
    assert!(msg.contains("set2: Duplicate column name 'c3'"), "{msg}");
    assert!(msg.contains("applied on set1"), "{msg}");
    assert!(
        msg.contains(&format!("setwise ddl retry {}", t.id)),
        "{msg}"
    );
    assert_eq!(t.state, DdlState::Failed);
    assert!(t.half_applied());

    // A later change on the table is held back until the half-applied one is settled.
    let e = conn
        .query_drop("ALTER TABLE shop.t ADD COLUMN c4 INT")
        .await
        .unwrap_err();
    let (code, _, msg) = server_err(&e);
    assert_eq!(code, 1105, "{msg}");
    assert!(msg.contains(&format!("DDL task {} ", t.id)), "{msg}");
    assert!(msg.contains("half-applied"), "{msg}");
    assert_eq!(columns(&c, "set1").await, cols(&["id", "v", "c3"]));

    // Cancel without --force is refused: set1 applied it.
    let out = c
        .setwise(&["ddl", "cancel", &t.id.to_string()])
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set1") && err.contains("retry"), "{err}");

    // Fix the cause on set2, then retry: rolled forward.
    c.set("set2")
        .primary()
        .exec("ALTER TABLE shop.t DROP COLUMN c3")
        .await
        .unwrap();
    let done = json(&c, &["ddl", "retry", &t.id.to_string()]).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["retries"], 1, "{done}");
    for set in ["set1", "set2"] {
        assert_eq!(columns(&c, set).await, cols(&["id", "v", "c3"]), "{set}");
    }
    conn.query_drop("ALTER TABLE shop.t ADD COLUMN c4 INT")
        .await
        .unwrap();
    for set in ["set1", "set2"] {
        assert_eq!(columns(&c, set).await, cols(&["id", "v", "c3", "c4"]));
    }
    // Refused alike on every set: MariaDB's own error, word for word.
    let e = conn
        .query_drop("ALTER TABLE shop.t ADD COLUMN c4 INT")
        .await
        .unwrap_err();
    assert_eq!(
        server_err(&e),
        (1060, "42S21".into(), "Duplicate column name 'c4'".into())
    );
}

/// A second gateway of the cluster.
async fn second_gateway(c: &Cluster) -> (ChildGuard, setwise_tests::port::Port) {
    let port = setwise_tests::port::reserve();
    let dir = c.work_dir().join(format!("proxy2-{}", port.get()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = c.common_args();
    args.extend([
        "--listen".into(),
        format!("127.0.0.1:{}", port.get()),
        "--routing-cache".into(),
        dir.join("routing.json").display().to_string(),
        "--backend-user".into(),
        "setwise_proxy".into(),
        "--backend-password".into(),
        "setwise".into(),
    ]);
    let mut child = c
        .spawn(
            setwise_tests::bins::PROXY,
            &format!("proxy2-{}", port.get()),
            &args,
        )
        .unwrap();
    wait_accepting(&mut child, port.get(), WAIT).await.unwrap();
    (child, port)
}

#[tokio::test]
async fn ddl_through_two_gateways_at_once_is_serialised() {
    let (c, _cp) = start(1).await;
    let (_g2, port2) = second_gateway(&c).await;
    let opts2 = mysql_async::OptsBuilder::from_opts(c.app_opts()).tcp_port(port2.get());
    let mut want = cols(&["id", "v"]);
    for i in 0..5 {
        // The same change from both: exactly one applies it, the other gets
        // MariaDB's 1060 (from every set alike, nothing half-done).
        let same = format!("ALTER TABLE shop.t ADD COLUMN s{i} INT");
        let mut a = c.proxy_conn().await.unwrap();
        let mut b = mysql_async::Conn::new(opts2.clone()).await.unwrap();
        let (ra, rb) = tokio::join!(a.query_drop(&same), b.query_drop(&same));
        let oks = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
        assert_eq!(oks, 1, "{ra:?} {rb:?}");
        let e = [ra, rb].into_iter().find_map(|r| r.err()).unwrap();
        assert_eq!(
            server_err(&e),
            (
                1060,
                "42S21".into(),
                format!("Duplicate column name 's{i}'")
            )
        );
        want.push(format!("s{i}"));
        // Different changes from both: both apply.
        let (ra, rb) = tokio::join!(
            a.query_drop(format!("ALTER TABLE shop.t ADD COLUMN a{i} INT")),
            b.query_drop(format!("ALTER TABLE shop.t ADD COLUMN b{i} INT"))
        );
        ra.unwrap();
        rb.unwrap();
        want.push(format!("a{i}"));
        want.push(format!("b{i}"));
    }
    want.sort();
    for set in ["set1", "set2"] {
        let mut got = columns(&c, set).await;
        got.sort();
        assert_eq!(got, want, "{set}");
    }
    // Every task ran alone on the table, in id order.
    let all = tasks(&c).await;
    assert_eq!(all.len(), 20);
    let mut spans: Vec<(u64, u64, u64)> = all
        .iter()
        .map(|t| (t.id, t.started_ms.unwrap(), t.finished_ms.unwrap()))
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].2 <= w[1].1, "task {} overlaps task {}", w[0].0, w[1].0);
    }
}

#[tokio::test]
async fn ddl_commands_with_json() {
    let (mut c, _cp) = start(1).await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE TABLE shop.u (id BIGINT PRIMARY KEY) shardkey=noshardkey_allset")
        .await
        .unwrap();
    conn.query_drop("CREATE INDEX iv ON shop.t (v)")
        .await
        .unwrap();
    conn.query_drop("TRUNCATE TABLE shop.u").await.unwrap();
    conn.query_drop("RENAME TABLE shop.u TO shop.u2")
        .await
        .unwrap();
    // topo followed the rename (the scheduler recorded it).
    assert!(c.topo().get_table("shop", "u2").await.unwrap().is_some());
    assert!(c.topo().get_table("shop", "u").await.unwrap().is_none());
    let list = json(&c, &["ddl", "list"]).await;
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 4, "{list}");
    for (r, sql) in rows
        .iter()
        .zip(["CREATE TABLE", "CREATE INDEX", "TRUNCATE", "RENAME"])
    {
        assert_eq!(r["status"], "done", "{r}");
        assert!(r["sql"].as_str().unwrap().starts_with(sql), "{r}");
        assert_eq!(r["steps"].as_array().unwrap().len(), 2, "{r}");
    }
    let id = rows[0]["id"].as_u64().unwrap();
    let shown = json(&c, &["ddl", "show", &id.to_string()]).await;
    assert_eq!(shown["id"], id);
    assert_eq!(shown["steps"][0]["state"], "done", "{shown}");
    assert!(shown["steps"][0]["node"].as_str().is_some(), "{shown}");
    // Plain output too.
    let out = c.setwise(&["ddl", "list"]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ID"), "{text}");
    assert!(text.contains("RENAME TABLE shop.u TO shop.u2"), "{text}");

    // A task waiting for a set that is down: cancel needs --force (set1 has it).
    let k = c.set("set2").primary_index();
    c.set_mut("set2").kill(k);
    let client = spawn_sql(&c, "DROP INDEX iv ON shop.t");
    let t = wait_for(
        "the DROP INDEX to wait for set2",
        WAIT,
        || async { Ok(task_with(&c, "DROP INDEX").await) },
        |t: &DdlTask| step(t, "set2").state == StepState::Waiting,
    )
    .await
    .unwrap();
    let out = c
        .setwise(&["ddl", "cancel", &t.id.to_string()])
        .await
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let cancelled = json(&c, &["ddl", "cancel", &t.id.to_string(), "--force"]).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let e = tokio::time::timeout(WAIT, client)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    let (code, _, msg) = server_err(&e);
    assert_eq!(code, 1105, "{msg}");
    assert!(msg.contains("cancelled"), "{msg}");
    // Unknown ids and finished tasks: one clear line, non-zero exit.
    let out = c.setwise(&["ddl", "show", "999"]).await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no DDL task 999"));
    let out = c.setwise(&["ddl", "retry", &id.to_string()]).await.unwrap();
    assert!(!out.status.success());
    c.set_mut("set2").restart(k).await.unwrap();
    wait_until("set2 back", WAIT, || async {
        Ok(c.set("set2").primary().scalar("SELECT 1").await.is_ok())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_long_alter_shows_its_progress() {
    let (c, _cp) = start(1).await;
    // Many rows on set1's primary (its slots or not: an ALTER copies them all).
    c.set("set1")
        .primary()
        .exec("INSERT INTO shop.t (id, v) SELECT seq + 100, seq FROM shop.seq_1_to_1500000")
        .await
        .unwrap();
    let client = spawn_sql(&c, "ALTER TABLE shop.t ADD COLUMN p INT, ALGORITHM=COPY");
    let t = wait_for(
        "set1's copying ALTER with its progress in the task",
        WAIT,
        || async { Ok(task_with(&c, "ALGORITHM=COPY").await) },
        |t: &DdlTask| {
            step(t, "set1")
                .progress
                .as_ref()
                .is_some_and(|p| p.max_stage > 0 && p.percent > 0.0)
        },
    )
    .await
    .unwrap();
    let p = step(&t, "set1").progress.clone().unwrap();
    assert!(p.percent < 100.0, "{p:?}");
    let shown = c
        .setwise(&["ddl", "show", &t.id.to_string()])
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("% stage"), "{text}");
    tokio::time::timeout(WAIT, client)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let t = task_with(&c, "ALGORITHM=COPY").await.unwrap();
    assert_eq!(t.state, DdlState::Done);
    assert!(step(&t, "set1").progress.is_none(), "cleared when done");
}

#[tokio::test]
async fn a_create_whose_outcome_was_lost_is_checked_not_rerun() {
    let (c, _cp) = start(1).await;
    // As a leader that died right after sending the CREATE to set2 leaves it: the
    // table is there, the step says sent (`unsure`) with no outcome.
    let create = "CREATE TABLE shop.n (id INT PRIMARY KEY)";
    c.set("set2").primary().exec(create).await.unwrap();
    let mut steps = vec![
        topo::DdlStep::new("set1", create),
        topo::DdlStep::new("set2", create),
    ];
    steps[1].state = StepState::Running;
    steps[1].unsure = true;
    steps[1].attempts = 1;
    let mut t = DdlTask::new(
        create,
        Some("shop".into()),
        steps,
        setwise_tests::control::now_ms(),
    );
    t.state = DdlState::Running;
    t.objects = vec![topo::DdlObject::table("shop", "n")];
    t.check = topo::DdlCheck::TableExists {
        db: "shop".into(),
        table: "n".into(),
    };
    t.change.tables.push(topo::TableChange {
        db: "shop".into(),
        name: "n".into(),
        kind: Some(topo::TableKind::Broadcast),
    });
    let id = c.topo().submit_ddl(&mut t).await.unwrap();
    let t = wait_for(
        "the leader to finish the task",
        WAIT,
        || async { Ok(c.topo().get_ddl(id).await?.map(|v| v.value)) },
        |t: &DdlTask| t.state.is_finished(),
    )
    .await
    .unwrap();
    assert_eq!(t.state, DdlState::Done, "{t:?}");
    let s2 = step(&t, "set2");
    assert_eq!(s2.attempts, 1, "checked, not sent again: {s2:?}");
    assert!(
        s2.note
            .as_deref()
            .is_some_and(|n| n.contains("already applied")),
        "{s2:?}"
    );
    assert!(!s2.unsure);
    assert_eq!(step(&t, "set1").state, StepState::Done);
    let rec = c.topo().get_table("shop", "n").await.unwrap().unwrap();
    assert_eq!(rec.kind, topo::TableKind::Broadcast);
    let n = c
        .set("set1")
        .primary()
        .scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'n'")
        .await
        .unwrap();
    assert_eq!(n.as_deref(), Some("1"));
}

#[tokio::test]
async fn a_set_failing_over_gets_the_ddl_on_its_new_primary() {
    // Failover on, 2 replicas per set (a set keeps one after losing its primary).
    let c = Cluster::builder()
        .sets(2)
        .replicas(2)
        .proxy(true)
        .start()
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let _cp = c.start_control_plane(1).await.unwrap();
    let since = setwise_tests::control::now_ms();
    let mut c = c;
    let old = c.set("set2").primary().name().to_string();
    c.kill_node(&old);
    let client = spawn_sql(&c, "ALTER TABLE shop.t ADD COLUMN f INT");
    let rec = setwise_tests::control::wait_failover_done(c.topo(), "set2", since, WAIT)
        .await
        .unwrap();
    let new = rec.new_primary.unwrap();
    assert_ne!(new, old);
    tokio::time::timeout(WAIT, client)
        .await
        .expect("answered once set2 has its new primary")
        .unwrap()
        .expect("OK");
    let t = task_with(&c, "ADD COLUMN f").await.unwrap();
    assert_eq!(t.state, DdlState::Done, "{t:?}");
    assert_eq!(step(&t, "set2").node.as_deref(), Some(new.as_str()));
    let cols_on = |id: &str| {
        let node = c.node(id);
        async move {
            node.query(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION",
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(cols_on(&new).await, cols(&["id", "v", "f"]));
    assert_eq!(columns(&c, "set1").await, cols(&["id", "v", "f"]));
}

#[tokio::test]
async fn the_client_session_state_applies_on_the_sets() {
    let (c, _cp) = start(1).await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE'")
        .await
        .unwrap();
    // MariaDB refuses the zero default under NO_ZERO_DATE + strict: so must the sets.
    let e = conn
        .query_drop("CREATE TABLE shop.z (id INT PRIMARY KEY, d DATE DEFAULT '0000-00-00')")
        .await
        .unwrap_err();
    assert_eq!(
        server_err(&e),
        (1067, "42000".into(), "Invalid default value for 'd'".into())
    );
    conn.query_drop("SET SESSION sql_mode = DEFAULT")
        .await
        .unwrap();
    conn.query_drop("USE shop").await.unwrap();
    conn.query_drop("CREATE TABLE z (id INT PRIMARY KEY, d DATE DEFAULT '0000-00-00', n VARCHAR(8) DEFAULT 'café')")
        .await
        .unwrap();
    let t = task_with(&c, "CREATE TABLE z").await.unwrap();
    assert_eq!(t.state, DdlState::Done);
    assert_eq!(t.db.as_deref(), Some("shop"));
    let d = c
        .set("set1")
        .primary()
        .scalar("SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'z' AND COLUMN_NAME = 'n'")
        .await
        .unwrap();
    assert_eq!(d.as_deref(), Some("'café'"));
}
