//! The Grafana dashboard (deploy/grafana/setwise.json) against a real Prometheus
//! (Debian's) scraping a running cluster — the gateway, an agent per node and a
//! scheduler — under traffic: every query of every panel is valid PromQL, and
//! every panel but those that show events that did not happen here has data.
//! (Grafana itself is not packaged for Debian; the model's own shape is checked
//! in `tests/tests/metrics.rs`.)

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::Value;
use setwise_tests::control::{wait_leader, ControlPlaneConfig};
use setwise_tests::process::ChildGuard;
use setwise_tests::shop::SHOP_T;
use setwise_tests::{port, scrape, Cluster};

const WAIT: Duration = Duration::from_secs(60);

/// Panels that show events this test does not cause (backend failures, the
/// audit log — off —, failovers and slot moves): they may be empty.
const EVENT_PANELS: &[&str] = &[
    "Backend errors per second, by set",
    "Audit log: records written and dropped",
    "Failovers and switchovers",
    "Failover duration p99",
];

/// `s` percent-encoded for a URL query.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The series Prometheus on `port` answers for `expr` now, or why it refused it.
async fn query(port: u16, expr: &str) -> anyhow::Result<Vec<Value>> {
    let body = scrape::get(port, &format!("/api/v1/query?query={}", encode(expr))).await?;
    let v: Value = serde_json::from_str(&body)?;
    anyhow::ensure!(v["status"] == "success", "{body}");
    Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
}

/// A panel's queries with Grafana's `$__rate_interval` as it would be for a 1 s
/// scrape interval (at least four of them).
fn panels() -> Vec<(String, Vec<String>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/grafana/setwise.json")).unwrap(),
    )
    .unwrap();
    dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .map(|p| {
            let exprs = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    t["expr"]
                        .as_str()
                        .unwrap()
                        .replace("$__rate_interval", "20s")
                })
                .collect();
            (p["title"].as_str().unwrap().to_string(), exprs)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_of_the_dashboard_renders_on_prometheus() {
    if !std::path::Path::new("/usr/bin/prometheus").exists() {
        panic!("prometheus is not installed (apt-get install prometheus; tests/run.sh does)");
    }
    let c = Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .proxy_metrics(true)
        .start()
        .await
        .unwrap();
    // An agent per node and a scheduler, each with its metrics port.
    let addr = |p: &port::Port| format!("127.0.0.1:{}", p.get());
    let nodes = ["set1-n0", "set1-n1", "set2-n0", "set2-n1"];
    let agent_ports: Vec<port::Port> = nodes.iter().map(|_| port::reserve()).collect();
    let _agents: Vec<ChildGuard> = nodes
        .iter()
        .zip(&agent_ports)
        .map(|(n, p)| c.spawn_agent(n, &["--metrics-listen", &addr(p)]).unwrap())
        .collect();
    let sched_port = port::reserve();
    let sched_toml = c.work_dir().join("scheduler-dashboard.toml");
    std::fs::write(&sched_toml, ControlPlaneConfig::default().toml()).unwrap();
    let toml = sched_toml.display().to_string();
    let _sched = c
        .spawn_scheduler(
            "sched-1",
            &["--config", &toml, "--metrics-listen", &addr(&sched_port)],
        )
        .unwrap();
    wait_leader(c.topo(), None, WAIT).await.unwrap();

    // Prometheus scraping all of them every second.
    let targets: Vec<String> = std::iter::once(format!("127.0.0.1:{}", c.proxy_metrics_port()))
        .chain(agent_ports.iter().map(addr))
        .chain(std::iter::once(addr(&sched_port)))
        .collect();
    let prom_dir = c.work_dir().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let prom_yml = prom_dir.join("prometheus.yml");
    std::fs::write(
        &prom_yml,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: setwise\n    static_configs:\n      - targets: {}\n",
            serde_json::to_string(&targets).unwrap()
        ),
    )
    .unwrap();
    let prom_port = port::reserve();
    let mut cmd = std::process::Command::new("/usr/bin/prometheus");
    cmd.arg(format!("--config.file={}", prom_yml.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            prom_dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={}", addr(&prom_port)));
    let mut prom =
        ChildGuard::spawn("prometheus", cmd, &c.work_dir().join("prometheus.log")).unwrap();
    setwise_tests::cluster::wait_accepting(&mut prom, prom_port.get(), WAIT)
        .await
        .unwrap();

    // Traffic the whole time: reads, writes, an error, two-set transactions.
    let mut conn = c
        .create_shop(&[
            SHOP_T,
            "INSERT INTO shop.t VALUES (1, 1), (2, 2), (3, 3), (4, 4)",
        ])
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let id = i % 4 + 1;
                let _: Option<i64> = conn
                    .query_first(format!("SELECT v FROM shop.t WHERE id = {id}"))
                    .await
                    .unwrap();
                if i.is_multiple_of(10) {
                    conn.query_drop("BEGIN").await.unwrap();
                    conn.query_drop("UPDATE shop.t SET v = v + 1")
                        .await
                        .unwrap();
                    conn.query_drop("COMMIT").await.unwrap();
                    let _ = conn.query_drop("SELECT nope FROM shop.t").await;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    // Every target up, and enough samples for the rates.
    setwise_tests::wait_until("Prometheus to scrape every program", WAIT, || async {
        let up = query(prom_port.get(), "up == 1").await?;
        let samples = query(prom_port.get(), "count_over_time(up[30s])").await?;
        Ok(up.len() == targets.len()
            && samples.iter().all(|s| {
                s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|n| n >= 8.0)
            }))
    })
    .await
    .unwrap();

    let mut empty = BTreeSet::new();
    for (title, exprs) in panels() {
        let mut series = 0;
        for e in &exprs {
            match query(prom_port.get(), e).await {
                Ok(r) => series += r.len(),
                Err(err) => panic!("panel {title:?}: Prometheus refused {e}: {err:#}"),
            }
        }
        if series == 0 {
            empty.insert(title);
        }
    }
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    eprintln!("panels without data here (events that did not happen): {empty:?}");
    let unexpected: Vec<&String> = empty
        .iter()
        .filter(|t| !EVENT_PANELS.contains(&t.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "panels without data: {unexpected:?}");
}
