//! Prometheus metrics of every program (docs/observability.md): the gateway's,
//! an agent's and the scheduler's `/metrics` fetched and parsed after some
//! traffic; a failover moves the scheduler's counters.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use setwise_tests::control::{now_ms, wait_failover_done, ControlPlaneConfig};
use setwise_tests::port;
use setwise_tests::scrape::{self, has, sum, Sample};
use setwise_tests::Cluster;

const WAIT: Duration = Duration::from_secs(30);

/// Waits (bounded) until `port`'s metrics satisfy `ok`; returns them.
async fn metrics_until(what: &str, port: u16, ok: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let start = std::time::Instant::now();
    loop {
        let got = scrape::metrics(port).await;
        match got {
            Ok(s) if ok(&s) => return s,
            Ok(s) if start.elapsed() > WAIT => {
                let lines: Vec<String> = s
                    .iter()
                    .map(|x| format!("{} {:?} {}", x.name, x.labels, x.value))
                    .collect();
                panic!(
                    "timed out waiting for {what}; last scrape:\n{}",
                    lines.join("\n")
                );
            }
            Err(e) if start.elapsed() > WAIT => panic!("timed out waiting for {what}: {e:#}"),
            _ => tokio::time::sleep(setwise_tests::POLL).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_program_serves_metrics_and_a_failover_moves_the_schedulers() {
    let mut c = Cluster::builder()
        .sets(1)
        .replicas(1)
        .proxy(true)
        .proxy_metrics(true)
        .start()
        .await
        .unwrap();

    // Gateway: statements of each kind and outcome, then its endpoint.
    let mut conn = c.proxy_shop().await.unwrap();
    for i in 1..=5 {
        conn.query_drop(format!("INSERT INTO t VALUES ({i}, {i})"))
            .await
            .unwrap();
    }
    for i in 1..=5 {
        let _: Option<i64> = conn
            .query_first(format!("SELECT v FROM t WHERE id = {i}"))
            .await
            .unwrap();
    }
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("UPDATE t SET v = 0 WHERE id = 1")
        .await
        .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert!(conn.query_drop("SELECT nope FROM t").await.is_err());
    let g = c.proxy_metrics_port();
    let s = metrics_until("the gateway's statements", g, |s| {
        sum(
            s,
            "setwise_proxy_statements_total",
            &[
                ("kind", "select"),
                ("db", "shop"),
                ("user", "app"),
                ("outcome", "ok"),
            ],
        ) >= 5.0
    })
    .await;
    assert!(
        sum(
            &s,
            "setwise_proxy_statements_total",
            &[("kind", "insert"), ("outcome", "ok")]
        ) >= 5.0
    );
    assert!(
        sum(
            &s,
            "setwise_proxy_statements_total",
            &[("kind", "select"), ("outcome", "error")]
        ) >= 1.0
    );
    assert!(
        sum(
            &s,
            "setwise_proxy_statement_seconds_count",
            &[("kind", "select")]
        ) >= 6.0
    );
    assert!(
        has(&s, "setwise_proxy_statement_seconds_bucket"),
        "latency histogram buckets"
    );
    assert!(
        sum(
            &s,
            "setwise_proxy_backend_seconds_count",
            &[("set", "set1")]
        ) >= 10.0
    );
    assert!(sum(&s, "setwise_proxy_plan_cache_total", &[("result", "hit")]) >= 1.0);
    assert!(
        sum(
            &s,
            "setwise_proxy_commits_total",
            &[("kind", "one_phase"), ("outcome", "committed")]
        ) >= 1.0
    );
    assert!(sum(&s, "setwise_proxy_client_connections", &[]) >= 1.0);
    assert!(sum(&s, "setwise_proxy_routing_revision", &[]) > 0.0);
    assert!(sum(&s, "setwise_proxy_backend_pools", &[]) >= 1.0);
    assert!(sum(&s, "setwise_proxy_errors_total", &[]) >= 1.0);
    assert!(has(&s, "setwise_proxy_point_reads_total"));
    drop(conn);

    // Agents and a scheduler with their metrics ports.
    let cfg = ControlPlaneConfig::default();
    let sched_toml = c.work_dir().join("scheduler-metrics.toml");
    std::fs::write(&sched_toml, cfg.toml()).unwrap();
    let (pa0, pa1, ps) = (port::reserve(), port::reserve(), port::reserve());
    let addr = |p: &port::Port| format!("127.0.0.1:{}", p.get());
    let _a0 = c
        .spawn_agent("set1-n0", &["--metrics-listen", &addr(&pa0)])
        .unwrap();
    let _a1 = c
        .spawn_agent("set1-n1", &["--metrics-listen", &addr(&pa1)])
        .unwrap();
    let toml = sched_toml.display().to_string();
    let _s = c
        .spawn_scheduler(
            "sched-1",
            &["--config", &toml, "--metrics-listen", &addr(&ps)],
        )
        .unwrap();

    let a0 = metrics_until("the primary's agent to report", pa0.get(), |s| {
        sum(s, "setwise_agent_probes_total", &[("outcome", "ok")]) >= 2.0
            && sum(s, "setwise_agent_mariadb_up", &[]) == 1.0
    })
    .await;
    assert!(
        sum(
            &a0,
            "setwise_agent_probe_seconds_count",
            &[("node", "set1-n0"), ("set", "set1")]
        ) >= 2.0
    );
    assert_eq!(sum(&a0, "setwise_agent_mariadb_writable", &[]), 1.0);
    assert!(has(&a0, "setwise_agent_semi_sync_master_on"));
    assert!(sum(&a0, "setwise_agent_datadir_bytes", &[]) > 0.0);
    let a1 = metrics_until("the replica's agent to report its lag", pa1.get(), |s| {
        sum(s, "setwise_agent_replication_lag_seconds", &[]) >= 0.0
            && sum(s, "setwise_agent_replication_running", &[]) == 1.0
            && sum(s, "setwise_agent_gtid_gap_transactions", &[]) >= 0.0
    })
    .await;
    assert_eq!(sum(&a1, "setwise_agent_mariadb_writable", &[]), 0.0);

    let s0 = metrics_until(
        "the scheduler to lead and judge set1 healthy",
        ps.get(),
        |s| {
            sum(s, "setwise_scheduler_leader", &[]) == 1.0
                && sum(s, "setwise_scheduler_set_healthy", &[("set", "set1")]) == 1.0
        },
    )
    .await;
    assert_eq!(
        sum(
            &s0,
            "setwise_scheduler_operations_total",
            &[("kind", "failover")]
        ),
        0.0
    );

    // A failover moves the scheduler's counters.
    let since = now_ms();
    c.kill_node("set1-n0");
    wait_failover_done(c.topo(), "set1", since, WAIT)
        .await
        .unwrap();
    let s1 = metrics_until("the scheduler's failover counters", ps.get(), |s| {
        sum(
            s,
            "setwise_scheduler_operations_total",
            &[("kind", "failover"), ("outcome", "done")],
        ) >= 1.0
    })
    .await;
    assert!(
        sum(
            &s1,
            "setwise_scheduler_operation_seconds_count",
            &[("kind", "failover")]
        ) >= 1.0
    );
    assert!(sum(&s1, "setwise_scheduler_leader_terms_total", &[]) >= 1.0);
}

/// The backend-latency sample count of each of `sets` in a scrape.
fn backend_counts(s: &[Sample], sets: &[&str]) -> Vec<f64> {
    sets.iter()
        .map(|set| sum(s, "setwise_proxy_backend_seconds_count", &[("set", set)]))
        .collect()
}

/// Asserts that every set's backend-latency count moved between two scrapes.
async fn each_set_moved(what: &str, port: u16, before: &[f64]) -> Vec<f64> {
    let sets = ["set1", "set2"];
    let s = metrics_until(what, port, |s| {
        backend_counts(s, &sets)
            .iter()
            .zip(before)
            .all(|(after, before)| after > before)
    })
    .await;
    backend_counts(&s, &sets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_set_work_books_backend_latency_per_set() {
    let c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(true)
        .proxy_metrics(true)
        .start()
        .await
        .unwrap();
    let mut conn = c.proxy_shop().await.unwrap();
    let values: Vec<String> = (1..=40).map(|i| format!("({i}, {i})")).collect();
    conn.query_drop(format!("INSERT INTO t VALUES {}", values.join(", ")))
        .await
        .unwrap();
    let g = c.proxy_metrics_port();
    let sets = ["set1", "set2"];
    let mut counts = backend_counts(&scrape::metrics(g).await.unwrap(), &sets);

    // A scatter whose rows the gateway merges (sorted across sets).
    let rows: Vec<(i64, i64)> = conn
        .query("SELECT id, v FROM t ORDER BY v DESC")
        .await
        .unwrap();
    assert_eq!(rows.len(), 40);
    counts = each_set_moved("a sorted scatter on each set", g, &counts).await;

    // An aggregate over every set.
    let n: Option<i64> = conn.query_first("SELECT COUNT(*) FROM t").await.unwrap();
    assert_eq!(n, Some(40));
    each_set_moved("an aggregate on each set", g, &counts).await;

    // A transaction that wrote to both sets: XA prepare and commit on each.
    let commits = |s: &[Sample]| {
        sum(
            s,
            "setwise_proxy_commits_total",
            &[("kind", "two_phase"), ("outcome", "committed")],
        )
    };
    let two_phase = commits(&scrape::metrics(g).await.unwrap());
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("UPDATE t SET v = v + 1").await.unwrap();
    let after_writes = backend_counts(&scrape::metrics(g).await.unwrap(), &sets);
    conn.query_drop("COMMIT").await.unwrap();
    let s = metrics_until("the two-phase commit", g, |s| commits(s) > two_phase).await;
    let after_commit = backend_counts(&s, &sets);
    for (i, set) in sets.iter().enumerate() {
        assert!(
            after_commit[i] > after_writes[i],
            "the commit's XA phases on {set} booked no backend latency ({} -> {})",
            after_writes[i],
            after_commit[i]
        );
    }
    // No failure was booked on either set.
    for set in sets {
        assert_eq!(
            sum(&s, "setwise_proxy_backend_errors_total", &[("set", set)]),
            0.0,
            "backend errors on {set}"
        );
    }
}

/// Every metric the Grafana dashboard (deploy/grafana/setwise.json) queries is one
/// a program defines.
#[test]
fn the_dashboard_reads_metrics_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/grafana/setwise.json")).unwrap(),
    )
    .unwrap();
    let defined: String = [
        "proxy/src/metrics.rs",
        "scheduler/src/metrics.rs",
        "agent/src/metrics.rs",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(root.join(p)).unwrap())
    .collect();
    // A Grafana dashboard model: its schema version, the Prometheus data source
    // it asks for on import, panels with unique ids that fit the 24-column grid,
    // each query with a refId and that data source.
    assert!(dash["schemaVersion"].as_u64().is_some_and(|v| v >= 30));
    assert!(dash["title"].is_string() && dash["uid"].is_string());
    let input = &dash["__inputs"][0];
    assert_eq!(
        (input["name"].as_str(), input["pluginId"].as_str()),
        (Some("DS_PROMETHEUS"), Some("prometheus"))
    );
    let mut ids = std::collections::BTreeSet::new();
    for p in dash["panels"].as_array().unwrap() {
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "panel id {} twice",
            p["id"]
        );
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(
            x + w <= 24 && g["h"].as_u64().unwrap() > 0,
            "{}",
            p["title"]
        );
        if p["type"] == "row" {
            continue;
        }
        assert!(["timeseries", "stat", "gauge", "table"].contains(&p["type"].as_str().unwrap()));
        for t in p["targets"].as_array().unwrap() {
            assert!(t["refId"].is_string(), "{}", p["title"]);
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
        }
    }
    let mut checked = 0;
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !word.starts_with("setwise_") {
                    continue;
                }
                let base = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| word.strip_suffix(s))
                    .unwrap_or(word);
                assert!(
                    defined.contains(&format!("\"{base}\"")),
                    "the dashboard queries {word}, which no program defines"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20);
}
