//! `setwise-chaos`: repeated faults of primaries under write load — kill -9, a hung
//! (SIGSTOPped) primary, and kill -9 with the scheduler leader killed mid-failover —
//! measuring RTO, RPO and the time until the set is whole again (not a CI test; run
//! by `bench/chaos.sh`, see bench/README.md).
//!
//! Builds a cluster with the test harness — 2 sets × (primary + 2 replicas), the
//! gateway, an agent per node and 2 schedulers (200 ms rounds) — creates `shop.t`
//! sharded over both sets, and runs one writer per set committing numbered rows
//! through the gateway (ids chosen so each writer's rows land on its set), recording
//! every acknowledged commit. Then runs `--rounds` rounds, cycling through the
//! `--faults` list and alternating the sets (round.rs says what one round does), and
//! prints one line per round and a summary (report.rs), also written as Markdown to
//! `bench/results/<date>-chaos.md` (`--out FILE`; `--out -`: nowhere).
//!
//! Exit code 0 only when every round ran to its end with RPO 0 and the set whole
//! again, the median RTO is within `--rto-target-ms` and the maximum within
//! `--rto-max-ms`. A round that fails is reported with why (the waits are bounded)
//! and undone as far as possible (node resumed or restarted, scheduler restarted);
//! the next rounds still run, until three in a row failed or `--max-secs` is used up.

mod report;
mod round;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use mysql_async::prelude::Queryable;
use setwise_tests::control::ControlPlaneConfig;
use setwise_tests::load::Writer;
use setwise_tests::Cluster;

use round::Fault;

const USAGE: &str = "usage: setwise-chaos [--rounds N] [--faults kill,hang,leader] [--max-secs S] \
                     [--out FILE|-] [--rto-target-ms MS] [--rto-max-ms MS] [--takeover-ms MS] \
                     [--restart-writable]";

/// The table the writers fill.
pub const TABLE: &str = "shop.t";

/// Rounds failing one after the other before the run stops.
const MAX_FAILED_IN_A_ROW: usize = 3;

pub struct Args {
    pub rounds: usize,
    pub faults: Vec<Fault>,
    pub max_secs: u64,
    pub out: Option<PathBuf>,
    pub rto_target_ms: u64,
    pub rto_max_ms: u64,
    /// The schedulers' `takeover_ms` (0: a dead leader is replaced when its lease expires).
    pub takeover_ms: u64,
    pub restart_writable: bool,
}

impl Args {
    /// The schedulers' config: the harness's fast one with `takeover_ms` as
    /// deploy/local has it (a standby replaces a silent leader without waiting for the TTL).
    pub fn control_config(&self) -> ControlPlaneConfig {
        ControlPlaneConfig {
            takeover_ms: self.takeover_ms,
            ..ControlPlaneConfig::default()
        }
    }
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        rounds: 20,
        faults: vec![Fault::Kill, Fault::Hang, Fault::Leader],
        max_secs: 1800,
        out: Some(
            setwise_tests::bins::workspace_root()
                .join("bench/results")
                .join(format!("{}-chaos.md", report::today())),
        ),
        rto_target_ms: 1000,
        rto_max_ms: 2000,
        takeover_ms: 600,
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
            "--faults" => {
                a.faults = value("--faults")?
                    .split(',')
                    .map(|f| f.trim().parse())
                    .collect::<anyhow::Result<_>>()
                    .context("--faults")?
            }
            "--max-secs" => a.max_secs = value("--max-secs")?.parse().context("--max-secs")?,
            "--rto-target-ms" => {
                a.rto_target_ms = value("--rto-target-ms")?
                    .parse()
                    .context("--rto-target-ms")?
            }
            "--rto-max-ms" => {
                a.rto_max_ms = value("--rto-max-ms")?.parse().context("--rto-max-ms")?
            }
            "--takeover-ms" => {
                a.takeover_ms = value("--takeover-ms")?.parse().context("--takeover-ms")?
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
    if a.faults.is_empty() {
        bail!("--faults needs at least one of kill, hang, leader");
    }
    Ok(a)
}

/// The fault and set of round `n` (1-based): the faults in turn, the sets alternating;
/// when the number of faults is a multiple of the number of sets, the sets shift by
/// one every cycle so that every fault hits every set.
fn schedule<'a>(args: &Args, sets: &'a [String], n: usize) -> (Fault, &'a str) {
    let i = n - 1;
    let f = args.faults.len();
    let shift = if f.is_multiple_of(sets.len()) {
        i / f
    } else {
        0
    };
    (args.faults[i % f], &sets[(i + shift) % sets.len()])
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
    let mut cp = c.start_control_plane_with(2, args.control_config()).await?;
    let sets = c.set_names();
    let mut writers: Vec<(String, Writer)> = Vec::new();
    for s in &sets {
        let ids = setwise_tests::load::ids_of_set(&c, "shop", "t", s).await?;
        writers.push((s.clone(), Writer::start(c.app_opts(), TABLE, ids)));
    }
    for (s, w) in &writers {
        w.wait_acked(20, Duration::from_secs(30))
            .await
            .with_context(|| format!("the writer of {s}"))?;
    }

    println!("{}", report::HEADER);
    let mut rounds: Vec<round::Round> = Vec::new();
    let mut stopped_early = None;
    let mut failed_in_a_row = 0;
    for n in 1..=args.rounds {
        if started.elapsed() > budget {
            stopped_early = Some(format!(
                "time budget of {} s used up after {} rounds",
                args.max_secs,
                n - 1
            ));
            break;
        }
        let (fault, set) = schedule(args, &sets, n);
        let w = &writers.iter().find(|(s, _)| s == set).expect("writer").1;
        let r = round::run(&mut c, &mut cp, args, n, fault, set, w).await;
        println!("{}", report::line(&r));
        if let Some(why) = &r.failed {
            eprintln!("round {n} ({fault} on {set}) FAILED: {why}");
            eprintln!("{}", cp.scheduler_story(60));
            failed_in_a_row += 1;
        } else {
            failed_in_a_row = 0;
        }
        rounds.push(r);
        if failed_in_a_row >= MAX_FAILED_IN_A_ROW {
            stopped_early = Some(format!("{MAX_FAILED_IN_A_ROW} rounds in a row failed"));
            break;
        }
    }
    let mut logs = Vec::new();
    for (s, w) in writers {
        logs.push((s, w.stop().await));
    }
    let verdict = report::verdict(args, &rounds);
    let text = report::markdown(args, &rounds, &verdict, stopped_early.as_deref(), &logs);
    println!(
        "\n{}",
        report::summary_lines(args, &rounds, &verdict, stopped_early.as_deref(), &logs)
    );
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, &text).with_context(|| format!("write {}", out.display()))?;
        eprintln!("results written to {}", out.display());
    }
    Ok(verdict.is_empty() && stopped_early.is_none())
}
