//! The operations commands of `setwise`: `switchover` (writes a request, waits for the
//! scheduler leader's record of it), `failovers` (in progress and finished) and `stats`
//! (the agents' per-node and per-table figures).

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use topo::{FailoverKind, FailoverPhase, FailoverRecord, NodeStats, SwitchoverRequest, Topo};

use super::outcome::StillRunning;
use super::progress::{Progress, Reading};
use super::render::{format_age, Table};

/// How often `switchover` re-reads the records while it waits.
const POLL: Duration = Duration::from_millis(200);

/// Requests a switchover of `set` and waits up to `wait_secs` for its outcome.
pub async fn switchover(
    topo: &Topo,
    set: &str,
    to: Option<String>,
    wait_secs: u64,
) -> Result<String> {
    let req = request_switchover(topo, set, to, &format!("cli-{}", std::process::id())).await?;
    let key = topo.keys().request(set);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_secs);
    let mut progress = Progress::stdout();
    loop {
        let now = tokio::time::Instant::now();
        match switchover_state(topo, set, &req.id).await? {
            SwitchoverState::Waiting(reading) => progress.show(&reading, now),
            SwitchoverState::Done(line) => {
                progress.finish();
                return Ok(format!("{line}\n"));
            }
            SwitchoverState::Failed(why) => {
                progress.finish();
                return Err(anyhow!("{why}"));
            }
        }
        if now >= deadline {
            progress.finish();
            // Not picked up: withdraw the request so it cannot run later by surprise.
            if let Some(v) = topo.get_request(set).await? {
                let withdraw = topo::Batch::new()
                    .unchanged(&key, v.mod_revision)
                    .delete(&key);
                if v.value.id == req.id && topo.commit(withdraw).await? {
                    bail!(
                        "no scheduler leader took the request within {wait_secs} s \
                         (is a setwise-scheduler running?); request withdrawn"
                    );
                }
            }
            return Err(StillRunning(format!(
                "switchover of {set} still in progress after {wait_secs} s; \
                 see `setwise failovers --set {set}`"
            ))
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Checks and writes the request for a switchover of `set` to `to` (None: the
/// scheduler leader picks the replica) — what `setwise switchover` and the
/// console's switchover button do. `origin` (`cli-<pid>`, `console-<user>`)
/// goes into the request's id.
pub async fn request_switchover(
    topo: &Topo,
    set: &str,
    to: Option<String>,
    origin: &str,
) -> Result<SwitchoverRequest> {
    if topo.get_set(set).await?.is_none() {
        bail!("no set {set:?}");
    }
    let nodes = topo.nodes_of(set).await?;
    if let Some(t) = &to {
        if !nodes.iter().any(|n| &n.id == t) {
            bail!("{t} is not a node of set {set}");
        }
    }
    if let Some(op) = topo.get_op(set).await? {
        bail!(
            "a {} of {set} is in progress (phase {:?}); see `setwise failovers --set {set}`",
            kind_word(op.value.kind),
            op.value.phase
        );
    }
    let now = crate::now_ms();
    let req = SwitchoverRequest {
        id: format!("{now}-{origin}"),
        set: set.to_string(),
        to,
        at_ms: now,
    };
    let key = topo.keys().request(set);
    if let Err(e) = topo.create(&key, &req).await {
        return Err(match e {
            topo::TopoError::CasConflict { .. } => {
                anyhow!("a switchover of {set} is already requested and waits for the scheduler")
            }
            other => other.into(),
        });
    }
    Ok(req)
}

/// Where a requested switchover stands.
#[derive(Debug, Clone, PartialEq)]
pub enum SwitchoverState {
    /// Requested or running: what it is doing.
    Waiting(Reading),
    /// Done: `switchover of set1: a -> b done in N ms (writes held M ms)`.
    Done(String),
    /// Failed, and why.
    Failed(String),
}

/// The state of the switchover of `set` asked for by request `request_id`.
pub async fn switchover_state(topo: &Topo, set: &str, request_id: &str) -> Result<SwitchoverState> {
    let running = topo.get_op(set).await?;
    if let Some(rec) = topo
        .list_failovers(Some(set))
        .await?
        .into_iter()
        .find(|f| f.request_id.as_deref() == Some(request_id))
    {
        return Ok(match rec.phase {
            FailoverPhase::Done => SwitchoverState::Done(format!(
                "switchover of {set}: {} -> {} done in {} ms (writes held {} ms)",
                rec.old_primary,
                rec.new_primary.as_deref().unwrap_or("-"),
                rec.duration_ms().unwrap_or(0),
                rec.held_ms().unwrap_or(0)
            )),
            _ => SwitchoverState::Failed(format!(
                "switchover of {set} failed: {}",
                rec.error.as_deref().unwrap_or("no reason recorded")
            )),
        });
    }
    Ok(SwitchoverState::Waiting(switchover_reading(
        set, running, request_id,
    )))
}

/// The switchover's state while the CLI waits: the scheduler's operation record once
/// it answers `request_id`, else "requested".
fn switchover_reading(
    set: &str,
    op: Option<topo::Versioned<FailoverRecord>>,
    request_id: &str,
) -> Reading {
    let op = op
        .map(|v| v.value)
        .filter(|o| o.request_id.as_deref() == Some(request_id));
    let Some(op) = op else {
        return Reading {
            phase: "requested".into(),
            line: format!("switchover of {set}: requested, waiting for the scheduler leader"),
            amount: None,
        };
    };
    let phase = format!("{:?}", op.phase).to_lowercase();
    let mut line = format!("switchover of {set}: {phase}, {}", op.old_primary);
    if let Some(new) = &op.new_primary {
        line.push_str(&format!(" -> {new}"));
    }
    if let Some(w) = &op.wait_gtid {
        line.push_str(&format!(", applying up to {w}"));
    }
    Reading {
        phase,
        line,
        amount: None,
    }
}

/// Operations in progress, then finished ones.
pub async fn failovers(topo: &Topo, set: Option<&str>, steps: bool, json: bool) -> Result<String> {
    let mut ops = topo.list_ops().await?;
    ops.retain(|o| set.is_none_or(|s| o.set == s));
    let done = topo.list_failovers(set).await?;
    if json {
        let all: Vec<FailoverRecord> = ops.into_iter().chain(done).collect();
        return super::json::text(&super::json::failovers(&all));
    }
    let now = crate::now_ms();
    let mut out = String::new();
    if !ops.is_empty() {
        out.push_str("IN PROGRESS\n");
        out.push_str(&failovers_table(&ops, now).render());
        out.push('\n');
    }
    if done.is_empty() {
        out.push_str("(no finished failovers or switchovers)\n");
    } else {
        out.push_str(&failovers_table(&done, now).render());
    }
    if steps {
        for r in ops.iter().chain(done.iter()) {
            let _ = writeln!(out, "\n{} {} {}:", r.id, kind_word(r.kind), r.set);
            let _ = writeln!(out, "  reason: {}", r.reason);
            for s in &r.steps {
                let _ = writeln!(out, "  {s}");
            }
        }
    }
    Ok(out)
}

/// Failovers and switchovers as `setwise failovers` (and the console) show them.
pub fn failovers_table(recs: &[FailoverRecord], now: u64) -> Table {
    let mut t = Table::new([
        "ID", "SET", "KIND", "OLD", "NEW", "AGO", "DURATION", "HELD", "RESULT",
    ]);
    for r in recs {
        let result = match (r.phase, &r.error) {
            (FailoverPhase::Done, _) => "done".to_string(),
            (FailoverPhase::Failed, e) => format!("failed: {}", e.as_deref().unwrap_or("")),
            (p, _) => format!("{p:?}").to_lowercase(),
        };
        t.row([
            r.id.clone(),
            r.set.clone(),
            kind_word(r.kind).to_string(),
            dash(&r.old_primary),
            dash(r.new_primary.as_deref().unwrap_or("")),
            format_age(now.saturating_sub(r.started_ms)),
            r.duration_ms()
                .map(format_age)
                .unwrap_or_else(|| "-".into()),
            r.held_ms().map(format_age).unwrap_or_else(|| "-".into()),
            result,
        ]);
    }
    t
}

/// Per node: CPU, disk, lag; then per table: rows, bytes, reads, writes.
pub async fn stats(topo: &Topo, set: Option<&str>, json: bool) -> Result<String> {
    let mut health = topo.list_health().await?;
    health.retain(|h| set.is_none_or(|s| h.set == s));
    health.sort_by(|a, b| (&a.set, &a.node).cmp(&(&b.set, &b.node)));
    let mut stats: Vec<NodeStats> = topo.list_stats().await?;
    stats.retain(|s| set.is_none_or(|x| s.set == x));
    stats.sort_by(|a, b| (&a.set, &a.node).cmp(&(&b.set, &b.node)));
    if json {
        return super::json::text(&super::json::stats(&health, &stats, crate::now_ms()));
    }
    let mut nodes = Table::new(["NODE", "SET", "CPU", "DATADIR", "GAP_TRX", "SEMI_SYNC"]);
    for h in &health {
        nodes.row([
            h.node.clone(),
            h.set.clone(),
            h.cpu_pct
                .map(|c| format!("{c:.1}%"))
                .unwrap_or_else(|| "-".into()),
            h.datadir_bytes.map(bytes).unwrap_or_else(|| "-".into()),
            h.gap_trx
                .map(|g| g.to_string())
                .unwrap_or_else(|| "-".into()),
            match (h.semi_sync_master, h.semi_sync_clients) {
                (Some(on), clients) => format!(
                    "{} clients={}",
                    if on { "on" } else { "off" },
                    clients.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
                ),
                (None, _) => "-".into(),
            },
        ]);
    }
    let mut tables = Table::new(["NODE", "TABLE", "ROWS", "SIZE", "ROWS_READ", "ROWS_CHANGED"]);
    for s in &stats {
        for t in &s.tables {
            tables.row([
                s.node.clone(),
                format!("{}.{}", t.db, t.table),
                t.rows.to_string(),
                bytes(t.bytes),
                t.rows_read.to_string(),
                t.rows_changed.to_string(),
            ]);
        }
    }
    let mut out = String::from("NODES\n");
    out.push_str(&super::render::list(&nodes, "health reports"));
    out.push_str("\nTABLES\n");
    out.push_str(&super::render::list(&tables, "table statistics"));
    Ok(out)
}

fn kind_word(k: FailoverKind) -> &'static str {
    match k {
        FailoverKind::Failover => "failover",
        FailoverKind::Switchover => "switchover",
    }
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// `1.5MiB`-style sizes.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b}B")
    } else {
        format!("{v:.1}{}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0GiB");
    }

    #[test]
    fn failover_table() {
        let mut r =
            crate::failover::new_record("set1", FailoverKind::Failover, "x".into(), "set1-n0");
        r.started_ms = 1_000;
        r.fenced_ms = Some(1_500);
        r.published_ms = Some(2_700);
        r.finished_ms = Some(3_000);
        r.new_primary = Some("set1-n2".into());
        r.phase = FailoverPhase::Done;
        let out = failovers_table(&[r], 5_000).render();
        assert!(out.contains("set1-n0"), "{out}");
        assert!(out.contains("set1-n2"));
        assert!(out.contains("2.0s"));
        assert!(out.contains("1.2s"));
        assert!(out.contains("done"));
    }
}
