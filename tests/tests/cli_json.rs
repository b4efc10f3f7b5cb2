//! `setwise ... --json` against a running cluster (etcd, 2 sets of primary +
//! replica, agents, a scheduler, the gateway): every listing prints one JSON
//! document with the fields docs/cli-json.md promises, parsed here.

use std::time::Duration;

use serde_json::Value;
use setwise_tests::Cluster;

const WAIT: Duration = Duration::from_secs(30);

/// Runs `setwise ARGS --json`; the parsed stdout.
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

fn names(v: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x[field].as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn every_listing_prints_json() {
    let c = Cluster::with_gateway(2, 1).await;
    let _conn = c
        .create_shop(&[
            "CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, v INT) shardkey=id",
            "CREATE TABLE shop.codes (code INT PRIMARY KEY) shardkey=noshardkey_allset",
        ])
        .await;
    let out = c
        .setwise(&[
            "user",
            "add",
            "ann",
            "--password",
            "secret-pw",
            "--host",
            "127.0.0.0/8",
        ])
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let _cp = c.start_control_plane(1).await.unwrap();

    // status: the leader, both sets with their primary, every node's health.
    let status = setwise_tests::wait_for(
        "status with a leader and every node's health",
        WAIT,
        || async {
            let s = json(&c, &["status"]).await;
            let all_reported = s["sets"].as_array().is_some_and(|sets| {
                sets.iter().all(|set| {
                    set["nodes"]
                        .as_array()
                        .is_some_and(|n| n.iter().all(|n| n["health"]["readable"] == true))
                })
            });
            anyhow::Ok((!s["leader"].is_null() && all_reported).then_some(s))
        },
        |_| true,
    )
    .await
    .unwrap();
    assert!(status["cluster"].is_string(), "{status:#}");
    assert_eq!(names(&status["sets"], "name"), ["set1", "set2"]);
    for set in status["sets"].as_array().unwrap() {
        let name = set["name"].as_str().unwrap();
        assert_eq!(set["primary"], format!("{name}-n0"), "{set:#}");
        assert_eq!(set["replicas"], serde_json::json!([format!("{name}-n1")]));
        assert!(set["redundancy"]["whole"].is_boolean(), "{set:#}");
        assert!(set["nodes"][0]["health"]["age_ms"].is_u64(), "{set:#}");
    }
    assert_eq!(names(&status["databases"], "name"), ["shop"]);

    let sets = json(&c, &["set", "list"]).await;
    assert_eq!(names(&sets, "name"), ["set1", "set2"]);
    assert!(sets[0]["sync"].is_string());

    let nodes = json(&c, &["node", "list"]).await;
    assert_eq!(
        names(&nodes, "id"),
        ["set1-n0", "set1-n1", "set2-n0", "set2-n1"]
    );
    let n0 = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "set1-n0")
        .unwrap();
    assert_eq!(n0["role"], "primary");
    assert_eq!(n0["addr"], c.primary_addr("set1"));

    let dbs = json(&c, &["db", "list"]).await;
    assert_eq!(names(&dbs, "name"), ["shop"]);
    let map = json(&c, &["shardmap", "shop"]).await;
    assert_eq!(map["slots"], 1024);
    let ranges = map["ranges"].as_array().unwrap();
    assert_eq!(ranges.first().unwrap()["first"], 0);
    assert_eq!(ranges.last().unwrap()["last"], 1023);
    let covered: u64 = ranges
        .iter()
        .map(|r| r["last"].as_u64().unwrap() - r["first"].as_u64().unwrap() + 1)
        .sum();
    assert_eq!(covered, 1024);

    let tables = json(&c, &["table", "list", "shop"]).await;
    let kind = |t: &str| {
        tables
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == t)
            .unwrap_or_else(|| panic!("{t} missing: {tables:#}"))
            .clone()
    };
    assert_eq!(kind("orders")["kind"], "sharded");
    assert_eq!(kind("orders")["shardkey"], "id");
    assert_eq!(kind("codes")["kind"], "broadcast");

    let users = json(&c, &["user", "list"]).await;
    let ann = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "ann")
        .expect("ann listed")
        .clone();
    assert_eq!(ann["hosts"], serde_json::json!(["127.0.0.0/8"]));
    assert!(!users.to_string().contains("password"), "{users:#}");

    assert!(json(&c, &["failovers"]).await.is_array());
    let stats = json(&c, &["stats"]).await;
    assert!(
        stats["nodes"].is_array() && stats["tables"].is_array(),
        "{stats:#}"
    );
    assert!(json(&c, &["shard", "moves"]).await.is_array());
    let gateways = json(&c, &["gateway", "list"]).await;
    assert_eq!(gateways[0]["state"], "live", "{gateways:#}");
    // The flag is global: before the command too.
    let out = c.setwise(&["--json", "set", "list"]).await.unwrap();
    assert!(serde_json::from_slice::<Value>(&out.stdout).is_ok());
}
