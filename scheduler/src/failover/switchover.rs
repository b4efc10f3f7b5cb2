//! A switchover request (`requests/<set>`, from `setwise switchover`) becomes an
//! operation, or — when the target cannot take over now — a failed record the command
//! line shows at once. Validation is a pure function of the records.

use anyhow::Result;
use topo::gtid::GtidPos;
use topo::{
    FailoverKind, FailoverPhase, FailoverRecord, HealthReport, NodeRecord, Role, SwitchoverRequest,
    Versioned,
};

use super::{new_record, Driver};
use crate::config::{FailoverConfig, MysqlConfig};
use crate::leader::LeaderCtx;
use crate::now_ms;

/// The primary to switch from and the replica to switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub old_primary: String,
    pub target: String,
}

/// Checks a request against the set's nodes and their reports (fresh = newer than
/// `fresh_after_ms`).
pub fn plan(
    req: &SwitchoverRequest,
    nodes: &[NodeRecord],
    health: &[HealthReport],
    fresh_after_ms: u64,
    max_gap: u64,
) -> Result<Plan, String> {
    let set = &req.set;
    let in_set: Vec<&NodeRecord> = nodes.iter().filter(|n| &n.set == set).collect();
    if in_set.is_empty() {
        return Err(format!("set {set} has no nodes"));
    }
    let primary = match in_set
        .iter()
        .filter(|n| n.role == Role::Primary)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [p] => (**p).clone(),
        [] => {
            return Err(format!(
                "set {set} has no primary (a failover may be needed)"
            ))
        }
        _ => return Err(format!("set {set} has several primaries")),
    };
    let report = |id: &str| {
        health
            .iter()
            .find(|h| h.node == id && &h.set == set && h.at_ms >= fresh_after_ms)
    };
    let p_report = report(&primary.id)
        .filter(|h| h.readable)
        .ok_or_else(|| format!("primary {} is not reporting healthy", primary.id))?;
    let p_pos = GtidPos::parse_lossy(p_report.gtid_binlog_pos.as_deref().unwrap_or(""));
    let lag = |n: &NodeRecord| -> Result<u64, String> {
        let h = report(&n.id)
            .filter(|h| h.readable)
            .ok_or_else(|| format!("{} is not reporting healthy", n.id))?;
        if h.slave_sql_running != Some(true) || h.slave_io_running != Some(true) {
            return Err(format!("{} is not replicating", n.id));
        }
        let pos = GtidPos::parse_lossy(h.gtid_current_pos.as_deref().unwrap_or(""));
        Ok(pos.gap_to(&p_pos))
    };
    let target = match &req.to {
        Some(t) => {
            let n = in_set
                .iter()
                .find(|n| &n.id == t)
                .ok_or_else(|| format!("{t} is not a node of set {set}"))?;
            if n.role != Role::Replica || n.rejoin.is_some() {
                return Err(format!("{t} is not a replica in service"));
            }
            let gap = lag(n)?;
            if gap > max_gap {
                return Err(format!(
                    "{t} is {gap} transactions behind (most allowed {max_gap})"
                ));
            }
            t.clone()
        }
        None => {
            let mut best: Option<(u64, String)> = None;
            for n in in_set
                .iter()
                .filter(|n| n.role == Role::Replica && n.rejoin.is_none())
            {
                if let Ok(gap) = lag(n) {
                    if gap <= max_gap && best.as_ref().is_none_or(|(g, id)| (gap, &n.id) < (*g, id))
                    {
                        best = Some((gap, n.id.clone()));
                    }
                }
            }
            best.map(|(_, id)| id).ok_or_else(|| {
                format!("set {set} has no healthy, replicating replica to switch to")
            })?
        }
    };
    Ok(Plan {
        old_primary: primary.id.clone(),
        target,
    })
}

/// Acts on one request: runs the switchover, or files it as failed.
pub async fn handle(
    ctx: LeaderCtx,
    cfg: FailoverConfig,
    account: MysqlConfig,
    req: Versioned<SwitchoverRequest>,
    nodes: Vec<NodeRecord>,
    health: Vec<HealthReport>,
    fresh_after_ms: u64,
) -> Result<FailoverRecord> {
    let r = &req.value;
    let req_key = ctx.topo.keys().request(&r.set);
    let reason = format!(
        "requested{}",
        r.to.as_ref()
            .map(|t| format!(" to {t}"))
            .unwrap_or_default()
    );
    match plan(r, &nodes, &health, fresh_after_ms, cfg.switchover_max_gap) {
        Ok(p) => {
            let mut rec = new_record(&r.set, FailoverKind::Switchover, reason, &p.old_primary);
            rec.request_id = Some(r.id.clone());
            rec.target = Some(p.target);
            let driver =
                Driver::start(ctx, cfg, account, rec, Some((req_key, req.mod_revision))).await?;
            driver.run().await
        }
        Err(why) => {
            let mut rec = new_record(&r.set, FailoverKind::Switchover, reason, "");
            rec.request_id = Some(r.id.clone());
            rec.target = r.to.clone();
            rec.phase = FailoverPhase::Failed;
            rec.error = Some(why);
            rec.finished_ms = Some(now_ms());
            rec.by = vec![ctx.id.clone()];
            let batch = topo::Batch::new()
                .unchanged(&req_key, req.mod_revision)
                .delete(&req_key)
                .put(&ctx.topo.keys().failover(&rec.set, &rec.id), &rec)?;
            ctx.topo.commit(batch).await?;
            Ok(rec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, role: Role) -> NodeRecord {
        NodeRecord::new(id, "s", "127.0.0.1", 1, role)
    }
    fn rep(id: &str, pos: &str, replicating: bool) -> HealthReport {
        HealthReport {
            node: id.into(),
            set: "s".into(),
            at_ms: 100,
            readable: true,
            gtid_current_pos: Some(pos.into()),
            gtid_binlog_pos: Some(pos.into()),
            slave_io_running: Some(replicating),
            slave_sql_running: Some(replicating),
            ..Default::default()
        }
    }
    fn req(to: Option<&str>) -> SwitchoverRequest {
        SwitchoverRequest {
            id: "r".into(),
            set: "s".into(),
            to: to.map(String::from),
            at_ms: 0,
        }
    }

    #[test]
    fn picks_the_least_lagging_replicating_replica() {
        let nodes = vec![
            node("s-n0", Role::Primary),
            node("s-n1", Role::Replica),
            node("s-n2", Role::Replica),
            node("s-n3", Role::Replica),
        ];
        let health = vec![
            rep("s-n0", "0-1-100", false),
            rep("s-n1", "0-1-90", true),
            rep("s-n2", "0-1-99", true),
            rep("s-n3", "0-1-100", false),
        ];
        let p = plan(&req(None), &nodes, &health, 0, 50).unwrap();
        assert_eq!(p.old_primary, "s-n0");
        assert_eq!(p.target, "s-n2");
        assert_eq!(
            plan(&req(Some("s-n1")), &nodes, &health, 0, 50)
                .unwrap()
                .target,
            "s-n1"
        );
        let e = plan(&req(Some("s-n1")), &nodes, &health, 0, 5).unwrap_err();
        assert!(e.contains("10 transactions behind"), "{e}");
        assert!(plan(&req(Some("s-n3")), &nodes, &health, 0, 50)
            .unwrap_err()
            .contains("not replicating"));
        assert!(plan(&req(Some("s-n0")), &nodes, &health, 0, 50)
            .unwrap_err()
            .contains("not a replica"));
        assert!(plan(&req(Some("x")), &nodes, &health, 0, 50)
            .unwrap_err()
            .contains("not a node"));
        assert!(plan(&req(None), &nodes, &health, 200, 50)
            .unwrap_err()
            .contains("not reporting healthy"));
    }
}
