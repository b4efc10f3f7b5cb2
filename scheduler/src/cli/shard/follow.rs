//! `--wait`: follows a move's record until it ends, showing its progress through
//! [`crate::cli::progress`] (a live bar on a terminal, plain lines otherwise). Done is
//! success; Failed, Cancelled or the timeout is an error saying why.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use tokio::time::Instant;
use topo::{MovePhase, MoveRecord, Topo};

use super::check::span;
use crate::cli::outcome::StillRunning;
use crate::cli::progress::{Amount, Progress, Reading};
use crate::cli::render::format_age;

/// How often the record is read.
const POLL: Duration = Duration::from_millis(300);
/// A move still `requested` after this long with no scheduler leader gets a warning.
const NO_LEADER_WARN: Duration = Duration::from_secs(5);

/// Follows move `id` until it ends or `deadline`; returns the finished record.
pub async fn follow(topo: &Topo, id: &str, deadline: Option<Instant>) -> Result<MoveRecord> {
    let mut progress = Progress::stdout();
    let started = Instant::now();
    let mut rate = Rate::default();
    let mut warned = false;
    loop {
        let rec = topo
            .get_move(id)
            .await?
            .ok_or_else(|| anyhow!("move {id} disappeared from etcd"))?
            .value;
        let now = Instant::now();
        rate.sample(now, rec.rows_copied());
        progress.show(&reading(&rec, rate.eta(&rec)), now);
        if rec.phase.is_finished() {
            progress.finish();
            return finished(rec);
        }
        if !warned && rec.phase == MovePhase::Requested && started.elapsed() >= NO_LEADER_WARN {
            warned = true;
            if topo::election::leader(topo, crate::leader::ELECTION)
                .await?
                .is_none()
            {
                progress.note("warning: no setwise-scheduler leads: the move waits until one runs");
            }
        }
        if deadline.is_some_and(|d| now >= d) {
            progress.finish();
            return Err(StillRunning(format!(
                "move {id} is still in phase {} after the timeout; it goes on (follow it with \
                 `setwise shard moves`, stop it with `setwise shard moves --cancel {id}`)",
                rec.phase.word()
            ))
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What the progress display shows of `rec`: the copy phase has a size.
fn reading(rec: &MoveRecord, eta: Option<Duration>) -> Reading {
    Reading {
        phase: rec.phase.word().to_string(),
        line: progress_line(rec, eta),
        amount: (rec.phase == MovePhase::Copy && rec.rows_total > 0).then(|| Amount {
            done: rec.rows_copied(),
            total: rec.rows_total,
            bytes: false,
        }),
    }
}

/// Success for a move that is done, else its error.
fn finished(rec: MoveRecord) -> Result<MoveRecord> {
    let why = rec.error.as_deref().unwrap_or("no reason recorded");
    match rec.phase {
        MovePhase::Done => Ok(rec),
        MovePhase::Cancelled => bail!("move {} was cancelled: {why}", rec.id),
        _ => bail!("move {} failed: {why}", rec.id),
    }
}

/// One line: phase, rows, events, lag, holds, ETA.
pub fn progress_line(rec: &MoveRecord, eta: Option<Duration>) -> String {
    let mut s = format!(
        "{} slots {} → {}: {}",
        rec.id,
        span(rec.start, rec.end),
        rec.to,
        rec.phase.word()
    );
    if rec.cancel && !rec.phase.is_finished() {
        s.push_str(" (cancel asked)");
    }
    let copied = rec.rows_copied();
    if rec.rows_total > 0 {
        let pct = (copied as f64 * 100.0 / rec.rows_total as f64).min(100.0);
        s.push_str(&format!(", rows {copied}/{} ({pct:.0}%)", rec.rows_total));
    } else if copied > 0 {
        s.push_str(&format!(", rows {copied}"));
    }
    if rec.events_applied() > 0 || rec.phase >= MovePhase::CatchUp {
        s.push_str(&format!(", events {}", rec.events_applied()));
    }
    if let Some(l) = rec.lag_trx() {
        s.push_str(&format!(", lag {l} trx"));
    }
    if rec.holds > 0 {
        s.push_str(&format!(", holds {}", rec.holds));
    }
    if let Some(h) = rec.longest_hold_ms {
        s.push_str(&format!(" (longest {})", format_age(h)));
    }
    if let Some(e) = eta.filter(|_| rec.phase == MovePhase::Copy) {
        s.push_str(&format!(", ETA {}", format_age(e.as_millis() as u64)));
    }
    if let Some(d) = rec.finished_ms {
        s.push_str(&format!(
            ", took {}",
            format_age(d.saturating_sub(rec.created_ms))
        ));
    }
    s
}

/// The copy rate the CLI observed (rows/s), for the ETA.
#[derive(Debug, Default)]
struct Rate {
    first: Option<(Instant, u64)>,
    last: Option<(Instant, u64)>,
}

impl Rate {
    fn sample(&mut self, at: Instant, rows: u64) {
        if self.first.is_none_or(|(_, r)| rows < r) {
            self.first = Some((at, rows));
        }
        self.last = Some((at, rows));
    }

    fn eta(&self, rec: &MoveRecord) -> Option<Duration> {
        let ((t0, r0), (t1, r1)) = (self.first?, self.last?);
        let secs = t1.duration_since(t0).as_secs_f64();
        if r1 <= r0 || secs < 1.0 || rec.rows_total <= r1 {
            return None;
        }
        let per_s = (r1 - r0) as f64 / secs;
        Some(Duration::from_secs_f64(
            (rec.rows_total - r1) as f64 / per_s,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::SourceProgress;

    #[test]
    fn progress_lines() {
        let mut r = MoveRecord::request("d", 0, 341, "set3", "cli", 1000);
        assert_eq!(
            progress_line(&r, None),
            "m1000 slots 0-340 → set3: requested"
        );
        r.phase = MovePhase::Copy;
        r.rows_total = 1000;
        r.sources.push(SourceProgress {
            set: "set1".into(),
            rows_copied: 250,
            ..Default::default()
        });
        assert_eq!(
            progress_line(&r, Some(Duration::from_secs(3))),
            "m1000 slots 0-340 → set3: copy, rows 250/1000 (25%), ETA 3.0s"
        );
        r.phase = MovePhase::Done;
        r.sources[0].events_applied = 7;
        r.sources[0].lag_trx = Some(0);
        r.holds = 1;
        r.longest_hold_ms = Some(120);
        r.finished_ms = Some(6000);
        assert_eq!(
            progress_line(&r, None),
            "m1000 slots 0-340 → set3: done, rows 250/1000 (25%), events 7, lag 0 trx, \
             holds 1 (longest 120ms), took 5.0s"
        );
        assert!(finished(r.clone()).is_ok());
        r.phase = MovePhase::Failed;
        r.error = Some("verify failed".into());
        assert!(finished(r)
            .unwrap_err()
            .to_string()
            .contains("failed: verify failed"));
    }
}
