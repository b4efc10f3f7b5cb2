//! `setwise shard …` against a real etcd (docs/scaleout.md): the command line only
//! writes requests (`moves/<id>` in phase `requested`, the `cancel` flag), so etcd is
//! all it needs. Sets, nodes, health reports and statistics are written as the
//! agents and `setwise` would. Every refusal exits non-zero with one clear line on
//! stderr and writes nothing; a valid move writes a `requested` record; `moves
//! --json` and `plan --json` parse; `--cancel` flags a move that has not flipped and
//! refuses one that has; `rebalance --dry-run` over 3 sets prints the expected moves.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use setwise_tests::workdir::WorkDir;
use setwise_tests::{bins, Etcd};
use topo::*;

const CLUSTER: &str = "shard";

struct Env {
    topo: Topo,
    etcd: Etcd,
    work: WorkDir,
}

impl Env {
    /// etcd with sets `set1..setN` (a primary each, healthy) and database `d`
    /// (1024 slots over set1 and set2) with a sharded table `d.t`.
    async fn start(sets: usize) -> Env {
        let work = WorkDir::new("shard-cli").unwrap();
        let etcd = Etcd::start(work.path()).await.unwrap();
        let topo = Topo::connect(&etcd.config(CLUSTER)).await.unwrap();
        let e = Env { topo, etcd, work };
        for i in 1..=sets {
            e.add_set(&format!("set{i}"), true).await;
        }
        e.topo
            .put_db(&DatabaseRecord {
                name: "d".into(),
                home_set: "set1".into(),
                shard_map: ShardMap::even(1024, &["set1".into(), "set2".into()]),
            })
            .await
            .unwrap();
        e.topo
            .put_table(&TableRecord {
                db: "d".into(),
                name: "t".into(),
                kind: TableKind::Sharded {
                    key: "id".into(),
                    key_type: KeyType::Integer,
                },
            })
            .await
            .unwrap();
        e
    }

    /// A set with primary `<set>-n0` and its health report (writable or not).
    async fn add_set(&self, set: &str, writable: bool) {
        self.topo
            .put_set(&SetRecord::new(set, SyncMode::Strong))
            .await
            .unwrap();
        let node = format!("{set}-n0");
        self.topo
            .put_node(&NodeRecord::new(&node, set, "127.0.0.1", 1, Role::Primary))
            .await
            .unwrap();
        self.report(set, writable, now_ms()).await;
    }

    async fn report(&self, set: &str, writable: bool, at_ms: u64) {
        let h = HealthReport {
            node: format!("{set}-n0"),
            set: set.into(),
            at_ms,
            readable: true,
            writable,
            read_only: Some(!writable),
            ..Default::default()
        };
        self.topo.put_health(&h, 0).await.unwrap();
    }

    async fn setwise(&self, args: &[&str]) -> Output {
        let out = tokio::process::Command::new(bins::bin(bins::CLI))
            .args(["--etcd", &self.etcd.endpoint(), "--cluster", CLUSTER])
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .expect("setwise finishes")
            .expect("run setwise")
    }

    /// Runs and expects success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.setwise(args).await;
        let (stdout, stderr) = texts(&out);
        assert!(
            out.status.success(),
            "setwise {args:?} failed: {stderr}\n{stdout}"
        );
        stdout
    }

    /// Runs and expects a refusal saying `what`, on one line, with no move written.
    async fn refused(&self, args: &[&str], what: &str) {
        let before = self.moves().await;
        let out = self.setwise(args).await;
        let (stdout, stderr) = texts(&out);
        assert!(
            !out.status.success(),
            "setwise {args:?} should fail: {stdout}"
        );
        assert!(
            stderr.contains(what),
            "setwise {args:?}: stderr {stderr:?} should say {what:?}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
        assert_eq!(self.moves().await, before, "setwise {args:?} wrote a move");
    }

    async fn moves(&self) -> Vec<MoveRecord> {
        self.topo
            .list_moves()
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.value)
            .collect()
    }

    /// Sets the phase of move `id` as the scheduler would.
    async fn set_phase(&self, id: &str, phase: MovePhase) {
        let key = self.topo.keys().move_of(id);
        self.topo
            .update(&key, |m: Option<MoveRecord>| {
                let mut m = m.expect("the move exists");
                m.phase = phase;
                if phase.is_finished() {
                    m.finished_ms = Some(now_ms());
                }
                Ok(m)
            })
            .await
            .unwrap();
    }
}

fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn bad_moves_are_refused_and_change_nothing() {
    let e = Env::start(3).await;
    let mv = |slots: &'static str, to: &'static str| {
        ["shard", "move", "--db", "d", "--slots", slots, "--to", to]
    };
    e.refused(
        &[
            "shard", "move", "--db", "nope", "--slots", "0-9", "--to", "set3",
        ],
        "database nope not found",
    )
    .await;
    e.refused(&mv("0-9", "set9"), "set set9 not found").await;
    e.refused(&mv("a-b", "set3"), "invalid slot range").await;
    e.refused(&mv("9-3", "set3"), "is after LAST").await;
    e.refused(&mv("1000-1024", "set3"), "outside").await;
    e.refused(&mv("0-100", "set1"), "set1 already owns slots 0-100")
        .await;

    // Unfit targets: not writable, stale report, writes blocked, no primary.
    e.add_set("ro", false).await;
    e.refused(&mv("0-9", "ro"), "is not writable").await;
    e.add_set("old", true).await;
    e.report("old", true, now_ms() - 60_000).await;
    e.refused(&mv("0-9", "old"), "stale").await;
    e.add_set("blocked", true).await;
    let mut b = e.topo.get_set("blocked").await.unwrap().unwrap();
    b.writes_blocked = Some("no replica acknowledges commits".into());
    e.topo.put_set(&b).await.unwrap();
    e.refused(&mv("0-9", "blocked"), "writes to set blocked are blocked")
        .await;
    e.topo
        .put_set(&SetRecord::new("empty", SyncMode::Strong))
        .await
        .unwrap();
    e.refused(&mv("0-9", "empty"), "set empty has no primary")
        .await;

    // A database without a sharded table.
    e.topo
        .put_db(&DatabaseRecord {
            name: "flat".into(),
            home_set: "set1".into(),
            shard_map: ShardMap::even(1024, &["set1".into()]),
        })
        .await
        .unwrap();
    e.topo
        .put_table(&TableRecord {
            db: "flat".into(),
            name: "b".into(),
            kind: TableKind::Broadcast,
        })
        .await
        .unwrap();
    e.refused(
        &[
            "shard", "move", "--db", "flat", "--slots", "0-9", "--to", "set3",
        ],
        "has no sharded table",
    )
    .await;
    assert!(e.moves().await.is_empty());

    // A valid move writes one `requested` record; an overlapping one is refused.
    let out = e.ok(&mv("0-340", "set3")).await;
    assert!(out.contains("requested"), "{out}");
    let moves = e.moves().await;
    assert_eq!(moves.len(), 1);
    let m = &moves[0];
    assert_eq!(m.phase, MovePhase::Requested);
    assert_eq!(
        (m.db.as_str(), m.start, m.end, m.to.as_str()),
        ("d", 0, 341, "set3")
    );
    assert_eq!(m.by, "cli");
    assert!(!m.cancel);
    e.refused(&mv("300-400", "set3"), &format!("overlap move {}", m.id))
        .await;
    e.refused(&mv("340", "set2"), "overlap").await;
    // Not overlapping: fine.
    e.ok(&mv("341-400", "set3")).await;
    assert_eq!(e.moves().await.len(), 2);

    // The shard map shows the moves in progress.
    let map = e.ok(&["shardmap", "d"]).await;
    assert!(map.contains("moves in progress"), "{map}");
    assert!(map.contains("0-340 → set3: requested"), "{map}");
}

#[tokio::test]
async fn moves_list_json_and_cancel() {
    let e = Env::start(3).await;
    assert!(e.ok(&["shard", "moves"]).await.contains("no slot moves"));
    e.ok(&[
        "shard", "move", "--db", "d", "--slots", "0-99", "--to", "set3",
    ])
    .await;
    e.ok(&[
        "shard", "move", "--db", "d", "--slots", "600-699", "--to", "set3",
    ])
    .await;
    let ids: Vec<String> = e.moves().await.into_iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), 2);

    let json = e.ok(&["shard", "moves", "--json"]).await;
    let v: Value = serde_json::from_str(&json).expect("moves --json parses");
    let arr = v.as_array().expect("an array");
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["phase"], "requested");
    assert_eq!(arr[0]["from"], serde_json::json!(["set1"]));
    assert_eq!(arr[1]["from"], serde_json::json!(["set2"]));
    assert_eq!(arr[0]["finished"], false);
    let table = e.ok(&["shard", "moves", "--db", "d"]).await;
    assert!(table.contains("IN PROGRESS"), "{table}");
    assert!(table.contains("set1→set3"), "{table}");

    // Cancel of a requested move sets the flag (the scheduler undoes it).
    let out = e.ok(&["shard", "moves", "--cancel", &ids[0]]).await;
    assert!(out.contains("cancel asked"), "{out}");
    let m = e.topo.get_move(&ids[0]).await.unwrap().unwrap().value;
    assert!(m.cancel);
    assert_eq!(m.phase, MovePhase::Requested);
    assert!(e.ok(&["shard", "moves"]).await.contains("cancel asked"));

    // Flipped or finished moves cannot be cancelled.
    e.set_phase(&ids[1], MovePhase::Cleanup).await;
    e.refused(&["shard", "moves", "--cancel", &ids[1]], "already flipped")
        .await;
    e.set_phase(&ids[1], MovePhase::Done).await;
    e.refused(
        &["shard", "moves", "--cancel", &ids[1]],
        "move the slots back instead",
    )
    .await;
    e.set_phase(&ids[0], MovePhase::Cancelled).await;
    e.refused(&["shard", "moves", "--cancel", &ids[0]], "already ended")
        .await;
    e.refused(&["shard", "moves", "--cancel", "m1"], "move m1 not found")
        .await;
    assert!(
        !e.topo
            .get_move(&ids[1])
            .await
            .unwrap()
            .unwrap()
            .value
            .cancel
    );

    let json = e.ok(&["shard", "moves", "--json"]).await;
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(v.as_array().unwrap().iter().all(|m| m["finished"] == true));
    let table = e.ok(&["shard", "moves"]).await;
    assert!(
        table.contains("FINISHED") && !table.contains("IN PROGRESS"),
        "{table}"
    );
}

#[tokio::test]
async fn wait_times_out_without_a_scheduler() {
    let e = Env::start(3).await;
    let out = e
        .setwise(&[
            "shard",
            "move",
            "--db",
            "d",
            "--slots",
            "0-9",
            "--to",
            "set3",
            "--wait",
            "--timeout",
            "1",
        ])
        .await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(
        out.status.code(),
        Some(4),
        "gave up waiting, the move goes on: {stdout}"
    );
    assert!(stdout.contains("requested"), "{stdout}");
    assert!(stderr.contains("still in phase requested"), "{stderr}");
    // The request stays for the scheduler.
    assert_eq!(e.moves().await.len(), 1);
}

#[tokio::test]
async fn rebalance_over_three_sets() {
    let e = Env::start(3).await;
    let out = e
        .ok(&["shard", "rebalance", "--db", "d", "--dry-run"])
        .await;
    assert!(
        out.contains("2 move(s) to balance d by slots over set1, set2, set3"),
        "{out}"
    );
    assert!(
        out.contains("slots 341-511 (171 slots): set1 → set3"),
        "{out}"
    );
    assert!(
        out.contains("slots 512-681 (170 slots): set2 → set3"),
        "{out}"
    );
    assert!(out.contains("dry run"), "{out}");
    assert!(e.moves().await.is_empty());

    // An unhealthy set is left out (and said so).
    e.add_set("ro", false).await;
    let out = e
        .ok(&["shard", "rebalance", "--db", "d", "--dry-run"])
        .await;
    assert!(
        out.contains("left out: primary ro-n0 of set ro is not writable"),
        "{out}"
    );

    // For real: two requests, oldest first; then the database has unfinished moves.
    let out = e.ok(&["shard", "rebalance", "--db", "d"]).await;
    assert!(out.contains("requested"), "{out}");
    let moves = e.moves().await;
    assert_eq!(moves.len(), 2);
    assert_eq!((moves[0].start, moves[0].end), (341, 512));
    assert_eq!((moves[1].start, moves[1].end), (512, 682));
    assert!(moves
        .iter()
        .all(|m| m.phase == MovePhase::Requested && m.by == "rebalance" && m.to == "set3"));
    e.refused(&["shard", "rebalance", "--db", "d"], "unfinished")
        .await;
    e.refused(
        &["shard", "rebalance", "--db", "nope"],
        "database nope not found",
    )
    .await;
}

#[tokio::test]
async fn rebalance_by_data_and_plan() {
    let e = Env::start(2).await;
    // set1 holds 3000 rows of d.t, set2 1000.
    for (set, rows, bytes) in [("set1", 3000, 900 << 20), ("set2", 1000, 300 << 20)] {
        let stats = NodeStats {
            node: format!("{set}-n0"),
            set: set.into(),
            at_ms: now_ms(),
            tables: vec![TableStats {
                db: "d".into(),
                table: "t".into(),
                rows,
                ..Default::default()
            }],
        };
        e.topo.put_stats(&stats, 0).await.unwrap();
        let h = HealthReport {
            node: format!("{set}-n0"),
            set: set.into(),
            at_ms: now_ms(),
            readable: true,
            writable: true,
            cpu_pct: Some(20.0),
            datadir_bytes: Some(bytes),
            ..Default::default()
        };
        e.topo.put_health(&h, 0).await.unwrap();
    }
    let out = e
        .ok(&[
            "shard",
            "rebalance",
            "--db",
            "d",
            "--by",
            "data",
            "--dry-run",
        ])
        .await;
    assert!(out.contains("1 move(s) to balance d by rows"), "{out}");
    assert!(out.contains("set1 → set2"), "{out}");
    assert!(
        out.contains("~1000 rows") || out.contains("~1002 rows"),
        "{out}"
    );

    // Under the default limits: balanced.
    let json = e.ok(&["shard", "plan", "--json"]).await;
    let v: Value = serde_json::from_str(&json).expect("plan --json parses");
    assert_eq!(v["loads"].as_array().unwrap().len(), 2);
    assert_eq!(v["moves"], serde_json::json!([]));
    assert!(v["verdict"].as_str().unwrap().starts_with("balanced"));
    let text = e.ok(&["shard", "plan"]).await;
    assert!(text.contains("proposal: balanced"), "{text}");

    // A CLI config with a 1 GiB datadir limit: set1 (900 MiB) is not over, set2 neither;
    // with 800 MiB set1 is, and a new empty set3 has room.
    e.add_set("set3", true).await;
    let conf = e.work.path().join("setwise.toml");
    std::fs::write(
        &conf,
        "[capacity]\nmax_datadir_bytes = 838860800\nmin_headroom_pct = 30.0\n",
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let json = e.ok(&["--config", conf, "shard", "plan", "--json"]).await;
    let v: Value = serde_json::from_str(&json).unwrap();
    let m = &v["moves"][0];
    assert_eq!(m["from"], "set1", "{v}");
    assert_eq!(m["to"], "set3", "{v}");
    assert_eq!(m["db"], "d");
    assert!(m["reason"].as_str().unwrap().contains("datadir"), "{v}");
    let text = e.ok(&["--config", conf, "shard", "plan"]).await;
    assert!(text.contains("setwise shard move --db d --slots"), "{text}");
}

/// `[capacity] auto = true`: the scheduler leader turns the proposal into a move
/// request by itself (`by: auto`, the numbers in `reason`), from the set over a limit
/// to the healthy set with the most room.
#[tokio::test]
async fn the_leader_requests_the_capacity_proposal_when_auto() {
    let e = Env::start(3).await;
    for (set, bytes, rows) in [("set1", 2000, 5120), ("set2", 500, 5120), ("set3", 100, 0)] {
        e.topo
            .put_stats(
                &NodeStats {
                    node: format!("{set}-n0"),
                    set: set.into(),
                    at_ms: now_ms(),
                    tables: vec![TableStats {
                        db: "d".into(),
                        table: "t".into(),
                        rows,
                        ..Default::default()
                    }],
                },
                0,
            )
            .await
            .unwrap();
        let h = HealthReport {
            node: format!("{set}-n0"),
            set: set.into(),
            at_ms: now_ms(),
            readable: true,
            writable: true,
            datadir_bytes: Some(bytes),
            ..Default::default()
        };
        e.topo.put_health(&h, 0).await.unwrap();
    }
    let conf = e.work.path().join("scheduler.toml");
    std::fs::write(
        &conf,
        "[monitor]\ninterval_ms = 200\nstale_ms = 600000\n[failover]\nenabled = false\n\
         [capacity]\nauto = true\nmax_datadir_bytes = 1000\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(bins::bin(bins::SCHEDULER));
    cmd.args([
        "--etcd",
        &e.etcd.endpoint(),
        "--cluster",
        CLUSTER,
        "--id",
        "s1",
    ])
    .arg("--config")
    .arg(&conf);
    let _sched = setwise_tests::process::ChildGuard::spawn(
        "scheduler",
        cmd,
        &e.work.path().join("scheduler.log"),
    )
    .unwrap();
    let m = setwise_tests::retry(
        "an automatic move request",
        Duration::from_secs(30),
        || async {
            let moves = e.topo.list_moves().await?;
            moves
                .into_iter()
                .map(|v| v.value)
                .find(|m| m.by == "auto")
                .ok_or_else(|| anyhow::anyhow!("none yet"))
        },
    )
    .await
    .unwrap();
    assert_eq!((m.db.as_str(), m.to.as_str()), ("d", "set3"), "{m:?}");
    // From the end of set1's range (0-511).
    assert_eq!(m.end, 512, "{m:?}");
    assert!(m.start > 0 && m.start < 512, "{m:?}");
    let reason = m.reason.unwrap_or_default();
    assert!(
        reason.contains("set1 over capacity") && reason.contains("datadir"),
        "{reason}"
    );
    // `shard plan` shows the leader's published view (its limits, not the CLI's defaults).
    let v: Value = serde_json::from_str(&e.ok(&["shard", "plan", "--json"]).await).unwrap();
    assert!(
        v["source"]
            .as_str()
            .unwrap()
            .contains("scheduler leader s1"),
        "{v}"
    );
    assert_eq!(v["limits"]["max_datadir_bytes"], 1000, "{v}");
    assert_eq!(v["loads"].as_array().unwrap().len(), 3, "{v}");
}
