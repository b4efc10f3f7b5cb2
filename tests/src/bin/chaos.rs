//! `setwise-chaos`: repeated kill -9 of primaries under write load, measuring RTO and
//! RPO (not a CI test; run by `bench/chaos.sh`, see bench/README.md).
//!
//! Builds a cluster with the test harness — 2 sets × (primary + 2 replicas), the
//! gateway, an agent per node and 2 schedulers (200 ms rounds) — creates `shop.t`
//! sharded over both sets, and runs one writer per set committing numbered rows
//! through the gateway (ids chosen so each writer's rows land on its set), recording
//! every acknowledged commit. Then, round after round, on set1, set2, set1, ...:
//!
//! 1. `kill -9` the set's current primary (from routing);
//! 2. RTO = kill → the first write sent after the kill acknowledged through the gateway;
//! 3. waits for the failover record (`Done`, the new primary in routing);
//! 4. RPO = acknowledged rows of that set missing on the new primary (target 0);
//! 5. restarts the old primary (read-only, as every node starts; `--restart-writable`
//!    restarts it as it was) and waits until it rejoined: `rejoin` cleared,
//!    replicating from the new primary, every acknowledged row on it.
//!
//! Prints one line per round, then the median and maximum RTO, and writes the same
//! as Markdown to `bench/results/<date>-chaos.md` (`--out FILE`; `--out -`: nowhere).
//! Exit code 0 when every round had RPO 0 and the median RTO is within `--rto-target-ms`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use mysql_async::prelude::Queryable;
use setwise_tests::control::{self, wait_failover_done};
use setwise_tests::load::{missing_on, wait_all_on, wait_replicating_from, Writer};
use setwise_tests::mariadb::NodeOptions;
use setwise_tests::Cluster;
use topo::{KeyType, TableKind, Task};

const USAGE: &str = "usage: setwise-chaos [--rounds N] [--max-secs S] [--out FILE|-] \
                     [--rto-target-ms MS] [--restart-writable]";

/// Bounds of the waits in one round.
const FAILOVER_WAIT: Duration = Duration::from_secs(60);
const REJOIN_WAIT: Duration = Duration::from_secs(180);
const TABLE: &str = "shop.t";

struct Args {
    rounds: usize,
    max_secs: u64,
    out: Option<PathBuf>,
    rto_target_ms: u64,
    restart_writable: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        rounds: 6,
        max_secs: 1200,
        out: Some(
            setwise_tests::bins::workspace_root()
                .join("bench/results")
                .join(format!("{}-chaos.md", today())),
        ),
        rto_target_ms: 5000,
        restart_writable: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| anyhow!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--rounds" => a.rounds = value("--rounds")?.parse().context("--rounds")?,
            "--max-secs" => a.max_secs = value("--max-secs")?.parse().context("--max-secs")?,
            "--rto-target-ms" => {
                a.rto_target_ms = value("--rto-target-ms")?
                    .parse()
                    .context("--rto-target-ms")?
            }
            "--out" => {
                let v = value("--out")?;
                a.out = (v != "-").then(|| PathBuf::from(v));
            }
            "--restart-writable" => a.restart_writable = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if a.rounds == 0 || a.rounds > 1000 {
        bail!("--rounds must be within 1..=1000");
    }
    Ok(a)
}

/// `YYYY-MM-DD` (UTC) without a date crate.
fn today() -> String {
    let days = (control::now_ms() / 86_400_000) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// One round's figures.
struct Round {
    n: usize,
    set: String,
    old: String,
    new: String,
    rto: Duration,
    failover_ms: u64,
    held_ms: u64,
    acked: usize,
    missing: usize,
    rejoin: String,
    rejoin_time: Duration,
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(2);
        }
    };
    match run(&args).await {
        Ok(ok) => std::process::exit(if ok { 0 } else { 1 }),
        Err(e) => {
            eprintln!("setwise-chaos: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<bool> {
    let started = Instant::now();
    let budget = Duration::from_secs(args.max_secs);
    eprintln!(
        "starting the cluster (2 sets x primary + 2 replicas, gateway, agents, 2 schedulers)"
    );
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(2)
        .proxy(true)
        .start()
        .await?;
    let mut conn = c.proxy_conn().await?;
    conn.query_drop("CREATE DATABASE shop").await?;
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await?;
    drop(conn);
    let cp = c.start_control_plane(2).await?;
    let map = c.shard_map("shop").await;
    let key_type = match c.topo().get_table("shop", "t").await? {
        Some(t) => match t.kind {
            TableKind::Sharded { key_type, .. } => key_type,
            other => bail!("shop.t is not sharded: {other:?}"),
        },
        None => KeyType::default(),
    };
    let sets = c.set_names();
    let writers: Vec<(String, Writer)> = sets
        .iter()
        .map(|s| {
            let (map, set) = (map.clone(), s.clone());
            let ids = (1..i64::MAX).filter(move |i| {
                topo::slot::slot_of(i.to_string().as_bytes(), key_type, map.slots)
                    .and_then(|slot| map.set_of_slot(slot))
                    == Some(set.as_str())
            });
            (s.clone(), Writer::start(c.app_opts(), TABLE, ids))
        })
        .collect();
    for (s, w) in &writers {
        w.wait_acked(20, Duration::from_secs(30))
            .await
            .with_context(|| format!("the writer of {s}"))?;
    }

    let mut rounds: Vec<Round> = Vec::new();
    let mut stopped_early = None;
    for n in 1..=args.rounds {
        if started.elapsed() > budget {
            stopped_early = Some(format!("time budget of {} s used up", args.max_secs));
            break;
        }
        let set = sets[(n - 1) % sets.len()].clone();
        let w = &writers.iter().find(|(s, _)| *s == set).expect("writer").1;
        match round(&mut c, args, n, &set, w).await {
            Ok(r) => {
                println!("{}", line(&r));
                rounds.push(r);
            }
            Err(e) => {
                eprintln!("{}", cp.scheduler_story(60));
                stopped_early = Some(format!("round {n} on {set} failed: {e:#}"));
                break;
            }
        }
    }
    let mut logs = Vec::new();
    for (s, w) in writers {
        logs.push((s, w.stop().await));
    }
    let report = summary(args, &rounds, stopped_early.as_deref(), &logs);
    println!("{report}");
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, &report).with_context(|| format!("write {}", out.display()))?;
        eprintln!("results written to {}", out.display());
    }
    let rto = median(&rounds);
    Ok(stopped_early.is_none()
        && rounds.len() == args.rounds
        && rounds.iter().all(|r| r.missing == 0)
        && rto.is_some_and(|m| m <= Duration::from_millis(args.rto_target_ms)))
}

async fn round(
    c: &mut Cluster,
    args: &Args,
    n: usize,
    set: &str,
    w: &Writer,
) -> anyhow::Result<Round> {
    let topo = c.topo().clone();
    let old = control::primary_of(&topo, set)
        .await?
        .ok_or_else(|| anyhow!("{set} has no primary in routing"))?;
    // Every node reports, so the round starts from a healthy set.
    let ids: Vec<String> = c
        .set(set)
        .nodes()
        .iter()
        .map(|n| n.name().to_string())
        .collect();
    let ids_ref: Vec<&str> = ids.iter().map(String::as_str).collect();
    control::wait_reporting(&topo, &ids_ref, Duration::from_secs(30)).await?;
    let before = w.acked();
    w.wait_acked(before + 10, Duration::from_secs(30)).await?;

    eprintln!("round {n}: kill -9 {old} (primary of {set})");
    let since = control::now_ms();
    let killed = Instant::now();
    c.kill_node(&old);
    let rto = w.wait_ack_after(killed, FAILOVER_WAIT).await?;
    let rec = wait_failover_done(&topo, set, since, FAILOVER_WAIT).await?;
    let new = rec.new_primary.clone().unwrap_or_default();
    w.wait_acks_after(killed, 10, FAILOVER_WAIT).await?;
    let acked = w.log().acked_ids();
    let missing = missing_on(c.node(&new), TABLE, &acked).await?;
    if !missing.is_empty() {
        eprintln!(
            "round {n}: {} acknowledged rows missing on {new}: {:?}",
            missing.len(),
            &missing[..missing.len().min(20)]
        );
    }

    let back = Instant::now();
    if !args.restart_writable {
        c.node_mut(&old).set_options(NodeOptions::replica());
    }
    c.restart_node(&old).await?;
    setwise_tests::wait_until(&format!("{old} to rejoin"), REJOIN_WAIT, || async {
        let n = control::node_record(&topo, set, &old).await?;
        Ok(n.rejoin.is_none())
    })
    .await?;
    wait_replicating_from(c.node(&old), c.node(&new).port(), REJOIN_WAIT).await?;
    let rejoin = match control::task_of(&topo, set, &old).await? {
        Some(t) => match t.task {
            Task::Repoint { .. } => "repoint".to_string(),
            Task::Rebuild { .. } => "rebuild".to_string(),
            other => other.name().to_string(),
        },
        None => "-".to_string(),
    };
    let acked_now = w.log().acked_ids();
    wait_all_on(c.node(&old), TABLE, &acked_now, REJOIN_WAIT).await?;
    Ok(Round {
        n,
        set: set.to_string(),
        old,
        new,
        rto,
        failover_ms: rec.duration_ms().unwrap_or(0),
        held_ms: rec.held_ms().unwrap_or(0),
        acked: acked.len(),
        missing: missing.len(),
        rejoin,
        rejoin_time: back.elapsed(),
    })
}

fn line(r: &Round) -> String {
    format!(
        "| {} | {} | {} -> {} | {} | {} | {} | {} | {} | {} in {:.1} s |",
        r.n,
        r.set,
        r.old,
        r.new,
        r.rto.as_millis(),
        r.failover_ms,
        r.held_ms,
        r.acked,
        r.missing,
        r.rejoin,
        r.rejoin_time.as_secs_f64()
    )
}

fn median(rounds: &[Round]) -> Option<Duration> {
    let mut v: Vec<Duration> = rounds.iter().map(|r| r.rto).collect();
    v.sort();
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

fn summary(
    args: &Args,
    rounds: &[Round],
    stopped: Option<&str>,
    logs: &[(String, setwise_tests::load::WriteLog)],
) -> String {
    let mut s = format!(
        "# Chaos: kill -9 of primaries under write load ({})\n\n\
         2 sets x (primary + 2 replicas), strong sync (semi-sync AFTER_SYNC, no fallback), \
         gateway, agents (200 ms probes, lease 2 s), 2 schedulers (200 ms rounds, \
         failover after 2 rounds). One writer per set: autocommit INSERTs through the \
         gateway, one at a time, 10 ms apart. The old primary restarts {}.\n\n\
         RTO: kill -> first write sent after the kill acknowledged. Failover: the \
         record's start (detection) -> done. Held: fence -> publish. Acked: rows of the \
         set acknowledged so far; missing: of those, not on the new primary (RPO).\n\n\
         | round | set | primary | RTO ms | failover ms | held ms | acked | missing | rejoin |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        today(),
        if args.restart_writable {
            "as it was (read_only=OFF)"
        } else {
            "read-only"
        }
    );
    for r in rounds {
        s.push_str(&line(r));
        s.push('\n');
    }
    let rpo_ok = rounds.iter().all(|r| r.missing == 0);
    let max = rounds.iter().map(|r| r.rto).max();
    s.push_str(&format!(
        "\n{} of {} rounds; RPO 0 in every round: {}; median RTO {} ms (target <= {} ms), max {} ms\n",
        rounds.len(),
        args.rounds,
        if rpo_ok { "yes" } else { "NO" },
        median(rounds).map_or("-".into(), |m| m.as_millis().to_string()),
        args.rto_target_ms,
        max.map_or("-".into(), |m| m.as_millis().to_string()),
    ));
    for (set, l) in logs {
        s.push_str(&format!(
            "writer of {set}: {} acknowledged, {} failed{}\n",
            l.acks.len(),
            l.failures.len(),
            if l.failures.is_empty() {
                String::new()
            } else {
                format!(" (errors: {})", l.error_summary(3).join(" | "))
            }
        ));
    }
    if let Some(why) = stopped {
        s.push_str(&format!("\nSTOPPED EARLY: {why}\n"));
    }
    s
}
