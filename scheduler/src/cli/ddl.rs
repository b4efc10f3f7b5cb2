//! `setwise ddl list | show | retry | cancel`: the DDL tasks the gateways recorded
//! and the scheduler leader applies (docs/ddl.md). `retry` re-runs a failed or
//! cancelled task on the sets that did not apply it (rolls it forward); `cancel`
//! gives up a task, and with `--force` also one that some sets already applied
//! (they keep it: the DBA's explicit word, shown in the task).

use super::outcome::StillRunning;
use super::progress::{Amount, Progress, Reading};
use super::render::Table;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::Value;
use topo::{DdlState, DdlTask, StepState, Topo};

use crate::ddl::record::edit;

#[derive(Debug, Subcommand)]
pub enum DdlCmd {
    /// Lists the DDL tasks, oldest first (unfinished ones and the last finished).
    #[command(after_help = "Example:\n  setwise ddl list --json")]
    List {
        /// Also every finished task (default: the last 20).
        #[arg(long)]
        all: bool,
        /// `--json` (global): one array of tasks (docs/cli-json.md).
        #[arg(skip)]
        json: bool,
    },
    /// One task with each set's step: state, primary, progress, error.
    #[command(after_help = "Example:\n  setwise ddl show 12")]
    Show {
        /// The task's id (`setwise ddl list`).
        id: u64,
        #[arg(skip)]
        json: bool,
    },
    /// Runs a failed or cancelled task again on the sets that did not apply it,
    /// and waits for its end.
    #[command(after_help = "Example:\n  setwise ddl retry 12 --wait 120")]
    Retry {
        id: u64,
        /// Seconds to wait for the task's end (0: do not wait).
        #[arg(long, default_value_t = 60, value_name = "SECS")]
        wait: u64,
        #[arg(skip)]
        json: bool,
    },
    /// Gives up a queued, running or failed task. A task some sets applied is only
    /// cancelled with --force (those sets keep the change).
    #[command(after_help = "Example:\n  setwise ddl cancel 12 --force")]
    Cancel {
        id: u64,
        /// Cancel even though some sets applied it (or may be applying it).
        #[arg(long)]
        force: bool,
        #[arg(skip)]
        json: bool,
    },
}

impl DdlCmd {
    /// Hands the global `--json` over.
    pub fn set_json(&mut self, on: bool) {
        match self {
            Self::List { json, .. }
            | Self::Show { json, .. }
            | Self::Retry { json, .. }
            | Self::Cancel { json, .. } => *json = on,
        }
    }
}

pub async fn execute(topo: &Topo, cmd: DdlCmd) -> Result<String> {
    match cmd {
        DdlCmd::List { all, json } => {
            let mut tasks: Vec<DdlTask> = topo
                .list_ddl()
                .await?
                .into_iter()
                .map(|v| v.value)
                .collect();
            if !all {
                let finished = tasks.iter().filter(|t| t.state.is_finished()).count();
                let mut skip = finished.saturating_sub(20);
                tasks.retain(|t| {
                    let drop = t.state.is_finished() && skip > 0;
                    if drop {
                        skip -= 1;
                    }
                    !drop
                });
            }
            if json {
                let v: Vec<Value> = tasks.iter().map(task_json).collect();
                return crate::cli::json::text(&Value::Array(v));
            }
            Ok(crate::cli::render::list(&tasks_table(&tasks), "DDL tasks"))
        }
        DdlCmd::Show { id, json } => {
            let t = get(topo, id).await?;
            if json {
                return crate::cli::json::text(&task_json(&t));
            }
            Ok(show(&t))
        }
        DdlCmd::Retry { id, wait, json } => {
            get(topo, id).await?;
            // A later task on the same object already under way runs first.
            let all: Vec<DdlTask> = topo
                .list_ddl()
                .await?
                .into_iter()
                .map(|v| v.value)
                .collect();
            let me = all.iter().find(|t| t.id == id);
            if let Some(later) = me.and_then(|me| {
                all.iter().find(|o| {
                    o.id > id
                        && o.state == DdlState::Running
                        && o.objects
                            .iter()
                            .any(|a| me.objects.iter().any(|b| a.conflicts(b)))
                })
            }) {
                bail!(
                    "DDL task {} on the same object is running: retry {id} once it has ended",
                    later.id
                );
            }
            edit(topo, id, |t| {
                match t.state {
                    DdlState::Failed | DdlState::Cancelled => {}
                    DdlState::Done => bail!("DDL task {id} is done: nothing to retry"),
                    _ => bail!(
                        "DDL task {id} is {}: the scheduler is still on it",
                        t.shown_state()
                    ),
                }
                for s in &mut t.steps {
                    if s.state != StepState::Done {
                        s.state = StepState::Pending;
                        s.error = None;
                        s.waiting = None;
                        s.progress = None;
                    }
                }
                t.state = DdlState::Queued;
                t.error = None;
                t.finished_ms = None;
                t.retries += 1;
                Ok(())
            })
            .await?;
            let t = wait_end(topo, id, Duration::from_secs(wait)).await?;
            if json {
                return crate::cli::json::text(&task_json(&t));
            }
            Ok(match t.state {
                DdlState::Done => format!("DDL task {id} done\n"),
                DdlState::Failed => bail!("DDL task {id} failed again: {}", t.client_error().2),
                _ if wait == 0 => format!("DDL task {id} queued again\n"),
                _ => {
                    return Err(StillRunning(format!(
                        "DDL task {id} is still {} after {wait} s (`setwise ddl show {id}`)",
                        t.shown_state()
                    ))
                    .into())
                }
            })
        }
        DdlCmd::Cancel { id, force, json } => {
            get(topo, id).await?;
            let t = edit(topo, id, |t| {
                if t.state == DdlState::Done {
                    bail!("DDL task {id} is done: every set applied it");
                }
                if t.state == DdlState::Cancelled {
                    bail!("DDL task {id} is already cancelled");
                }
                if t.state == DdlState::Failed && !t.half_applied() {
                    bail!("DDL task {id} failed and no set applied it: nothing to cancel");
                }
                let applied = applied_sets(t);
                if !applied.is_empty() && !force {
                    bail!(
                        "DDL task {id} was applied (or is being applied) on {}: \
                         `setwise ddl retry {id}` rolls it forward; \
                         `setwise ddl cancel {id} --force` leaves those sets changed",
                        applied.join(", ")
                    );
                }
                t.state = DdlState::Cancelled;
                t.finished_ms = Some(crate::now_ms());
                t.error = Some(if applied.is_empty() {
                    "cancelled by the DBA before any set applied it".into()
                } else {
                    format!(
                        "cancelled by the DBA (--force); applied or applying on {}, \
                         and topo was not changed",
                        applied.join(", ")
                    )
                });
                Ok(())
            })
            .await?;
            if json {
                return crate::cli::json::text(&task_json(&t));
            }
            Ok(format!("DDL task {id} cancelled\n"))
        }
    }
}

async fn get(topo: &Topo, id: u64) -> Result<DdlTask> {
    match topo.get_ddl(id).await? {
        Some(t) => Ok(t.value),
        None => bail!("no DDL task {id} (see `setwise ddl list`)"),
    }
}

/// Waits (bounded) until task `id` has finished, showing each set's step on stderr
/// (`super::progress`: stdout keeps the result, JSON included).
async fn wait_end(topo: &Topo, id: u64, wait: Duration) -> Result<DdlTask> {
    let until = tokio::time::Instant::now() + wait;
    let mut shown = (!wait.is_zero()).then(Progress::stderr);
    loop {
        let t = get(topo, id).await?;
        let now = tokio::time::Instant::now();
        if let Some(p) = shown.as_mut() {
            p.show(&reading(&t), now);
        }
        if t.state.is_finished() || now >= until {
            return Ok(t);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A task's progress: its state, then each set's step (with MariaDB's own ALTER
/// progress where the set reports it); the bar follows the slowest running step.
fn reading(t: &DdlTask) -> Reading {
    let steps: Vec<String> = t
        .steps
        .iter()
        .map(|s| match &s.progress {
            Some(p) if s.state == StepState::Running => format!(
                "{} {} {:.0}% (stage {}/{} {})",
                s.set,
                s.state.word(),
                p.percent,
                p.stage,
                p.max_stage,
                p.state
            ),
            _ => format!("{} {}", s.set, s.state.word()),
        })
        .collect();
    let percent = t
        .steps
        .iter()
        .filter(|s| s.state == StepState::Running)
        .filter_map(|s| s.progress.as_ref().map(|p| p.percent))
        .reduce(f64::min);
    Reading {
        phase: t.shown_state().to_string(),
        line: format!(
            "DDL task {}: {}; {}",
            t.id,
            t.shown_state(),
            steps.join(", ")
        ),
        amount: percent.map(|p| Amount {
            done: p.clamp(0.0, 100.0) as u64,
            total: 100,
            bytes: false,
        }),
    }
}

/// Sets where the task took effect or may be taking effect.
/// DDL tasks as `setwise ddl list` (and the console) show them.
pub fn tasks_table(tasks: &[DdlTask]) -> Table {
    let mut t = Table::new(["ID", "STATE", "SETS", "DB", "SQL"]);
    for task in tasks {
        t.row([
            task.id.to_string(),
            task.shown_state().to_string(),
            sets_done(task),
            task.db.clone().unwrap_or_else(|| "-".into()),
            one_line(&task.sql, 80),
        ]);
    }
    t
}

fn applied_sets(t: &DdlTask) -> Vec<String> {
    t.steps
        .iter()
        .filter(|s| s.state == StepState::Done || s.unsure)
        .map(|s| s.set.clone())
        .collect()
}

fn sets_done(t: &DdlTask) -> String {
    let done = t
        .steps
        .iter()
        .filter(|s| s.state == StepState::Done)
        .count();
    format!("{done}/{}", t.steps.len())
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}...", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

/// The task as `--json` prints it: its etcd record plus `status` (the state as
/// `list` shows it, `waiting-for-set` included).
pub fn task_json(t: &DdlTask) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("status".into(), Value::String(t.shown_state().into()));
    }
    v
}

fn show(t: &DdlTask) -> String {
    let mut out = format!(
        "task {}: {}\nsql: {}\ndb: {}\ngateway: {}\n",
        t.id,
        t.shown_state(),
        t.sql,
        t.db.as_deref().unwrap_or("-"),
        if t.gateway.is_empty() {
            "-"
        } else {
            &t.gateway
        },
    );
    if t.retries > 0 {
        out.push_str(&format!("retries: {}\n", t.retries));
    }
    if let Some(e) = &t.error {
        out.push_str(&format!("error: {e}\n"));
    }
    out.push_str(&format!(
        "{:<12} {:<16} {:<14} {:<28} {}\n",
        "SET", "STATE", "NODE", "PROGRESS", "DETAIL"
    ));
    for s in &t.steps {
        let progress = match &s.progress {
            Some(p) if p.max_stage > 0 => format!(
                "{:.1}% stage {}/{} {}",
                p.percent, p.stage, p.max_stage, p.state
            ),
            Some(p) => p.state.clone(),
            None => "-".into(),
        };
        let detail = match (&s.error, &s.waiting, &s.note) {
            (Some(e), _, _) => format!("{} ({}, {})", e.message, e.code, e.sqlstate),
            (_, Some(w), _) => w.clone(),
            (_, _, Some(n)) => n.clone(),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{:<12} {:<16} {:<14} {:<28} {}\n",
            s.set,
            s.state.word(),
            s.node.as_deref().unwrap_or("-"),
            progress,
            detail
        ));
    }
    out
}
