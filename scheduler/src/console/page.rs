//! The console's HTML: the cluster as the CLI's own tables (one `<table>` per
//! section, ids stable for scripts and tests), escaped, no external assets.

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::Result;
use topo::{DatabaseRecord, FailoverRecord, MoveRecord, Topo};

use super::html::escape;
use crate::cli::render::{self, format_age, Table};
use crate::cli::status::{self, StatusView};

pub const JS: &str = include_str!("assets/console.js");
pub const CSS: &str = include_str!("assets/console.css");

/// How many finished failovers the page lists (newest first).
const FAILOVERS_SHOWN: usize = 15;
/// How many query digests it lists (the largest total latency first).
const DIGESTS_SHOWN: usize = 10;
/// How many finished DDL tasks it lists (besides every unfinished one).
const DDL_FINISHED_SHOWN: usize = 10;

/// A gateway: id, address, live (registered) or lost, and its load (None: no
/// metrics port; Err: why it could not be read).
pub type GatewayRow = (
    String,
    String,
    bool,
    Option<Result<super::load::Load, String>>,
);

/// What the page shows, read from etcd at once.
pub struct Overview {
    pub status: StatusView,
    pub failovers: Vec<FailoverRecord>,
    pub moves: Vec<MoveRecord>,
    /// DDL tasks: unfinished ones and the last finished (newest last).
    pub ddl: Vec<topo::DdlTask>,
    pub dbs: HashMap<String, DatabaseRecord>,
    /// (id, address, live, load or why not)
    pub gateways: Vec<GatewayRow>,
    /// The top digests over every gateway with a metrics port (or why none).
    pub digests: Result<Vec<crate::cli::digests::Digest>, String>,
}

impl Overview {
    pub async fn read(topo: &Topo, cluster: &str, rates: &super::load::Rates) -> Result<Self> {
        let status = StatusView::read(topo, cluster).await?;
        let mut failovers = topo.list_failovers(None).await?;
        failovers.reverse();
        failovers.truncate(FAILOVERS_SHOWN);
        let (moves, dbs) = crate::cli::shard::list::read(topo, None).await?;
        let mut ddl: Vec<topo::DdlTask> = topo
            .list_ddl()
            .await?
            .into_iter()
            .map(|v| v.value)
            .collect();
        let finished = ddl.iter().filter(|t| t.state.is_finished()).count();
        let mut skip = finished.saturating_sub(DDL_FINISHED_SHOWN);
        ddl.retain(|t| {
            let drop = t.state.is_finished() && skip > 0;
            skip -= usize::from(drop);
            !drop
        });
        let live = topo.list_gateways().await?;
        let mut gateways = Vec::new();
        for g in &live {
            let load = match g.metrics.is_empty() {
                true => None,
                false => Some(rates.load(&g.metrics).await),
            };
            gateways.push((g.id.clone(), g.addr.clone(), true, load));
        }
        for k in topo.list_known_gateways().await? {
            if !live.iter().any(|l| l.id == k.id) {
                gateways.push((k.id, k.addr, false, None));
            }
        }
        let ports: Vec<String> = live
            .iter()
            .filter(|g| !g.metrics.is_empty())
            .map(|g| g.metrics.clone())
            .collect();
        let digests = match crate::cli::digests::collect(topo, &ports, None).await {
            Ok(mut d) => {
                d.truncate(DIGESTS_SHOWN);
                Ok(d)
            }
            Err(e) => Err(format!("{e:#}")),
        };
        Ok(Self {
            status,
            failovers,
            moves,
            ddl,
            dbs,
            gateways,
            digests,
        })
    }
}

/// The whole page: head, the sections ([`main`], after `action`: the progress
/// of the switchover it follows, if any), the actions' form and the script
/// that refreshes the sections.
pub fn full(v: &Overview, action: &str) -> String {
    let cluster = escape(&v.status.cluster);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Setwise · {cluster}</title>\
         <link rel=\"stylesheet\" href=\"/assets/console.css\"></head>\n<body>\
         <header><h1>Setwise <small>cluster {cluster}</small></h1>\
         <span id=\"live\" data-state=\"loaded\">rendered by the server</span></header>\n\
         <main id=\"main\">{action}{}</main>\n{}\n<script src=\"/assets/console.js\"></script></body></html>\n",
        main(v),
        super::actions::form(&switchover_targets(v))
    )
}

/// Each set and the replicas a switchover may go to.
fn switchover_targets(v: &Overview) -> Vec<(String, Vec<String>)> {
    v.status
        .sets
        .iter()
        .map(|set| {
            let replicas = v
                .status
                .nodes
                .iter()
                .filter(|n| n.set == set.name && n.role == topo::Role::Replica)
                .map(|n| n.id.clone())
                .collect();
            (set.name.clone(), replicas)
        })
        .collect()
}

/// The sections, as the script swaps them in.
pub fn main(v: &Overview) -> String {
    let s = &v.status;
    let mut out = String::new();
    let _ = write!(
        out,
        "<p class=\"leader\">scheduler leader: <b id=\"leader\">{}</b></p>",
        escape(s.leader.as_deref().unwrap_or("(none)"))
    );
    if !s.ops.is_empty() {
        let mut t = Table::new(["SET", "KIND", "FROM", "PHASE", "FOR"]);
        for op in &s.ops {
            t.row([
                op.set.clone(),
                format!("{:?}", op.kind).to_lowercase(),
                op.old_primary.clone(),
                format!("{:?}", op.phase).to_lowercase(),
                format_age(s.now_ms.saturating_sub(op.started_ms)),
            ]);
        }
        section(&mut out, "in-progress", "In progress", &t);
    }
    section(
        &mut out,
        "sets",
        "Sets",
        &render::sets_table(&s.sets, &s.nodes),
    );
    section(
        &mut out,
        "redundancy",
        "Redundancy",
        &status::redundancy_table(s),
    );
    section(
        &mut out,
        "nodes",
        "Nodes",
        &render::health_table(&s.nodes, &s.health, s.now_ms),
    );
    section(
        &mut out,
        "databases",
        "Databases",
        &render::dbs_table(&s.dbs),
    );
    let mut slots = Table::new(["DATABASE", "SLOTS", "SET", "COUNT"]);
    for d in &s.dbs {
        for r in &d.shard_map.ranges {
            slots.row([
                d.name.clone(),
                format!("{}-{}", r.start, r.end.saturating_sub(1)),
                r.set.clone(),
                (r.end - r.start).to_string(),
            ]);
        }
    }
    section(&mut out, "slots", "Slot ownership", &slots);
    let moves: Vec<&MoveRecord> = v.moves.iter().collect();
    section(
        &mut out,
        "moves",
        "Slot moves",
        &crate::cli::shard::list::moves_table(&moves, &v.dbs, s.now_ms),
    );
    section(
        &mut out,
        "ddl",
        "DDL tasks",
        &crate::cli::ddl::tasks_table(&v.ddl),
    );
    section(
        &mut out,
        "failovers",
        "Failovers and switchovers (newest first)",
        &crate::cli::ops::failovers_table(&v.failovers, s.now_ms),
    );
    let mut gw = Table::new(["GATEWAY", "ADDRESS", "STATE", "QPS", "AVG_MS", "CLIENTS"]);
    for (id, addr, live, load) in &v.gateways {
        let (qps, avg, clients) = match load {
            Some(Ok(l)) => (
                l.qps.map_or("…".into(), |q| format!("{q:.0}")),
                l.avg_ms.map_or("-".into(), |a| format!("{a:.2}")),
                l.clients.to_string(),
            ),
            Some(Err(e)) => (format!("metrics: {e}"), "-".into(), "-".into()),
            None => ("no metrics port".into(), "-".into(), "-".into()),
        };
        gw.row([
            id.clone(),
            addr.clone(),
            if *live { "live" } else { "lost" }.into(),
            qps,
            avg,
            clients,
        ]);
    }
    section(
        &mut out,
        "gateways",
        "Gateways (live load since the last refresh)",
        &gw,
    );
    match &v.digests {
        Ok(d) => section(
            &mut out,
            "digests",
            "Top query digests (all gateways)",
            &crate::cli::digests::digests_table(d),
        ),
        Err(why) => {
            let _ = write!(
                out,
                "<section><h2>Top query digests</h2><p class=\"none\" id=\"digests\">{}</p></section>",
                escape(why)
            );
        }
    }
    out
}

/// `<section>` with a title and the table (or a "none" line).
fn section(out: &mut String, id: &str, title: &str, t: &Table) {
    let _ = write!(out, "<section><h2>{}</h2>", escape(title));
    if t.is_empty() {
        let _ = write!(out, "<p class=\"none\" id=\"{id}\">none</p></section>");
        return;
    }
    let _ = write!(out, "<table id=\"{id}\"><thead><tr>");
    for h in t.headers() {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in t.rows() {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let col = t.headers().get(i).map(|h| h.to_ascii_lowercase());
            let _ = write!(
                out,
                "<td data-col=\"{}\">{}</td>",
                escape(col.as_deref().unwrap_or("")),
                escape(cell)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_escaped_with_stable_ids() {
        let mut t = Table::new(["SET", "PRIMARY"]);
        t.row(["set1", "<n0>&\"'"]);
        let mut out = String::new();
        section(&mut out, "sets", "Sets", &t);
        assert_eq!(
            out,
            "<section><h2>Sets</h2><table id=\"sets\"><thead><tr><th>SET</th><th>PRIMARY</th>\
             </tr></thead><tbody><tr><td data-col=\"set\">set1</td>\
             <td data-col=\"primary\">&lt;n0&gt;&amp;&quot;&#39;</td></tr></tbody></table></section>"
        );
        let mut out = String::new();
        section(&mut out, "moves", "Slot moves", &Table::new(["ID"]));
        assert!(out.contains("<p class=\"none\" id=\"moves\">none</p>"));
    }
}
