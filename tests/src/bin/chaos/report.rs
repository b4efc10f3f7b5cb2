//! What `setwise-chaos` prints and writes: one table row per round, the summary
//! (RPO, RTO median and maximum against their targets, time to whole, the same per
//! fault kind), the verdict, and the Markdown file.

use std::time::Duration;

use setwise_tests::control;
use setwise_tests::load::WriteLog;

use crate::round::{Fault, Round};
use crate::Args;

pub const HEADER: &str =
    "| round | fault | set | primary | RTO ms | failover ms | held ms | acked | \
                          missing | old primary back by | whole s | result |\n\
                          |---|---|---|---|---|---|---|---|---|---|---|---|";

/// Longest failure text in a table cell (the whole text is in the Failures section).
const CELL_CHARS: usize = 160;

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "/")
}

pub fn line(r: &Round) -> String {
    let fault = if r.detail.is_empty() {
        r.fault.to_string()
    } else {
        format!("{} ({})", r.fault, r.detail)
    };
    let result = match &r.failed {
        None => "ok".to_string(),
        Some(why) => {
            let why = one_line(why);
            let cut: String = why.chars().take(CELL_CHARS).collect();
            format!(
                "FAILED: {cut}{}",
                if cut.len() < why.len() { " …" } else { "" }
            )
        }
    };
    format!(
        "| {} | {fault} | {} | {} -> {} | {} | {} | {} | {} | {} | {} | {} | {result} |",
        r.n,
        r.set,
        r.old,
        r.new.as_deref().unwrap_or("?"),
        opt(r.rto.map(|d| d.as_millis())),
        opt(r.failover_ms),
        opt(r.held_ms),
        r.acked,
        opt(r.missing),
        r.rejoin,
        opt(r.whole.map(|d| format!("{:.1}", d.as_secs_f64()))),
    )
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

/// Median and maximum RTO and time to whole of `rounds` (those that measured them).
struct Figures {
    rounds: usize,
    failed: usize,
    rto_median: Option<Duration>,
    rto_max: Option<Duration>,
    whole_median: Option<Duration>,
    whole_max: Option<Duration>,
}

fn figures<'a>(rounds: impl Iterator<Item = &'a Round> + Clone) -> Figures {
    let rto: Vec<Duration> = rounds.clone().filter_map(|r| r.rto).collect();
    let whole: Vec<Duration> = rounds.clone().filter_map(|r| r.whole).collect();
    Figures {
        rounds: rounds.clone().count(),
        failed: rounds.filter(|r| r.failed.is_some()).count(),
        rto_median: median(rto.clone()),
        rto_max: rto.iter().max().copied(),
        whole_median: median(whole.clone()),
        whole_max: whole.iter().max().copied(),
    }
}

fn ms(d: Option<Duration>) -> String {
    opt(d.map(|d| d.as_millis()))
}

fn secs(d: Option<Duration>) -> String {
    opt(d.map(|d| format!("{:.1} s", d.as_secs_f64())))
}

/// Why the run does not pass (empty: it passes).
pub fn verdict(args: &Args, rounds: &[Round]) -> Vec<String> {
    let mut out = Vec::new();
    if rounds.len() < args.rounds {
        out.push(format!("{} of {} rounds run", rounds.len(), args.rounds));
    }
    let failed: Vec<String> = rounds
        .iter()
        .filter(|r| r.failed.is_some())
        .map(|r| r.n.to_string())
        .collect();
    if !failed.is_empty() {
        out.push(format!("rounds failed: {}", failed.join(", ")));
    }
    let lost: Vec<String> = rounds
        .iter()
        .filter(|r| r.missing.is_some_and(|m| m > 0))
        .map(|r| r.n.to_string())
        .collect();
    if !lost.is_empty() {
        out.push(format!(
            "acknowledged writes lost in rounds {}",
            lost.join(", ")
        ));
    }
    let f = figures(rounds.iter());
    let target = Duration::from_millis(args.rto_target_ms);
    let max = Duration::from_millis(args.rto_max_ms);
    if f.rto_median.is_none_or(|m| m > target) {
        out.push(format!(
            "median RTO {} ms over the target {} ms",
            ms(f.rto_median),
            args.rto_target_ms
        ));
    }
    if f.rto_max.is_none_or(|m| m > max) {
        out.push(format!(
            "max RTO {} ms over the limit {} ms",
            ms(f.rto_max),
            args.rto_max_ms
        ));
    }
    out
}

/// The summary lines (printed, and the end of the Markdown).
pub fn summary_lines(
    args: &Args,
    rounds: &[Round],
    verdict: &[String],
    stopped: Option<&str>,
    logs: &[(String, WriteLog)],
) -> String {
    let f = figures(rounds.iter());
    let rpo_ok = rounds.iter().all(|r| r.missing == Some(0));
    let whole_ok = rounds.iter().all(|r| r.whole.is_some());
    let mut s = format!(
        "{} of {} rounds run, {} failed; RPO 0 in every round: {}; whole again after every round: {}\n\
         RTO median {} ms (target <= {} ms), max {} ms (target <= {} ms); \
         time to whole median {}, max {}\n",
        f.rounds,
        args.rounds,
        f.failed,
        if rpo_ok { "yes" } else { "NO" },
        if whole_ok { "yes" } else { "NO" },
        ms(f.rto_median),
        args.rto_target_ms,
        ms(f.rto_max),
        args.rto_max_ms,
        secs(f.whole_median),
        secs(f.whole_max),
    );
    for fault in Fault::ALL {
        let of = || rounds.iter().filter(move |r| r.fault == fault);
        if of().next().is_none() {
            continue;
        }
        let k = figures(of());
        s.push_str(&format!(
            "{fault}: {} rounds, {} failed; RTO median {} ms, max {} ms; \
             time to whole median {}, max {}\n",
            k.rounds,
            k.failed,
            ms(k.rto_median),
            ms(k.rto_max),
            secs(k.whole_median),
            secs(k.whole_max),
        ));
    }
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
        s.push_str(&format!("STOPPED EARLY: {why}\n"));
    }
    if verdict.is_empty() {
        s.push_str("PASS\n");
    } else {
        s.push_str(&format!("FAIL: {}\n", verdict.join("; ")));
    }
    s
}

/// The whole report as Markdown.
pub fn markdown(
    args: &Args,
    rounds: &[Round],
    verdict: &[String],
    stopped: Option<&str>,
    logs: &[(String, WriteLog)],
) -> String {
    let faults: Vec<String> = args.faults.iter().map(|f| f.to_string()).collect();
    let cfg = args.control_config();
    let mut s = format!(
        "# Chaos: faults of primaries under write load ({})\n\n\
         2 sets x (primary + 2 replicas), strong sync (semi-sync AFTER_SYNC, no fallback), \
         gateway, agents (200 ms probes, lease 2 s), 2 schedulers ({} ms rounds, \
         failover after {} bad round(s), probe timeout {} ms, election TTL {} s, takeover of \
         a silent leader after {} ms, 0: off). One writer \
         per set: autocommit INSERTs \
         through the gateway, one at a time, 10 ms apart. Faults in turn: {}; sets \
         alternating. kill: kill -9 the primary, restart it {} after the failover. hang: \
         SIGSTOP the primary, SIGCONT it after the failover (it must be fenced and rejoin \
         by itself). leader: kill -9 the primary and, once the failover is fenced, the \
         scheduler leader; both restarted after the failover.\n\n\
         RTO: fault -> first write sent after the fault acknowledged. Failover: the \
         record's start (detection) -> done. Held: fence -> publish. Acked: rows of the \
         set acknowledged so far; missing: of those, not on the new primary (RPO). Old \
         primary back by: its last task (repoint, rebuild). Whole: fault -> the set has \
         one writable primary, every other node read-only replicating from it (IO and SQL \
         threads running) and every acknowledged row on every node.\n\n{}\n\n{HEADER}\n",
        today(),
        cfg.interval_ms,
        cfg.confirm_rounds,
        cfg.probe_timeout_ms,
        cfg.election_ttl,
        cfg.takeover_ms,
        faults.join(", "),
        if args.restart_writable {
            "as it was (read_only=OFF)"
        } else {
            "read-only"
        },
        provenance(),
    );
    for r in rounds {
        s.push_str(&line(r));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&summary_lines(args, rounds, verdict, stopped, logs));
    let failed: Vec<&Round> = rounds.iter().filter(|r| r.failed.is_some()).collect();
    if !failed.is_empty() {
        s.push_str("\n## Failures\n\n");
        for r in failed {
            s.push_str(&format!(
                "Round {} ({} on {}):\n\n```\n{}\n```\n\n",
                r.n,
                r.fault,
                r.set,
                r.failed.as_deref().unwrap_or_default()
            ));
        }
    }
    s
}

/// The commit the run was made from and the programs it ran.
fn provenance() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(setwise_tests::bins::workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    let dirty = git(&[
        "status",
        "--porcelain",
        "--",
        "proxy",
        "agent",
        "scheduler",
        "topo",
    ])
    .is_some_and(|s| !s.is_empty());
    format!(
        "Commit {commit}{}; programs from {}.",
        if dirty {
            " (with uncommitted changes in proxy/, agent/, scheduler/ or topo/)"
        } else {
            ""
        },
        std::env::var("SETWISE_BIN_DIR").unwrap_or_else(|_| "the harness's default".into())
    )
}

/// `YYYY-MM-DD` (UTC) without a date crate.
pub fn today() -> String {
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
