//! `--json` output of the `setwise` listings: one JSON document on stdout per
//! command, with the field names documented in docs/cli-json.md. They are a
//! contract for scripts: fields may be added, never renamed or removed. Records
//! stored in etcd appear with their etcd field names (docs/contracts.md); a
//! user's password hash never appears.

use anyhow::Result;
use serde_json::{json, Value};
use topo::{
    DatabaseRecord, FailoverRecord, HealthReport, NodeRecord, NodeStats, SetRecord, TableKind,
    TableRecord, UserRecord,
};

use super::render::{role_name, sync_name};

/// Pretty JSON text with a final newline.
pub fn text(v: &Value) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(v)?))
}

/// `setwise set list --json`: `[{name, sync, semi_timeout_ms, epoch, writes_blocked,
/// degraded, primary, replicas}]`.
pub fn sets(sets: &[SetRecord], nodes: &[NodeRecord]) -> Value {
    Value::Array(sets.iter().map(|s| set(s, nodes)).collect())
}

fn set(s: &SetRecord, nodes: &[NodeRecord]) -> Value {
    let members: Vec<&NodeRecord> = nodes.iter().filter(|n| n.set == s.name).collect();
    let primary = members
        .iter()
        .find(|n| n.role == topo::Role::Primary)
        .map(|n| n.id.clone());
    let replicas: Vec<String> = members
        .iter()
        .filter(|n| n.role == topo::Role::Replica)
        .map(|n| n.id.clone())
        .collect();
    json!({
        "name": s.name,
        "sync": sync_name(s.sync),
        "semi_timeout_ms": s.semi_timeout_ms,
        "epoch": s.epoch,
        "writes_blocked": s.writes_blocked,
        "degraded": s.degraded.as_ref().map(|d| serde_json::to_value(d).unwrap_or(Value::Null)),
        "primary": primary,
        "replicas": replicas,
    })
}

/// `setwise node list --json`: `[{id, set, addr, host, port, role, rejoin}]`.
pub fn nodes(nodes: &[NodeRecord]) -> Value {
    Value::Array(nodes.iter().map(node).collect())
}

fn node(n: &NodeRecord) -> Value {
    json!({
        "id": n.id,
        "set": n.set,
        "addr": n.addr(),
        "host": n.host,
        "port": n.port,
        "role": role_name(n.role),
        "rejoin": n.rejoin.as_ref().map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
    })
}

/// `setwise db list --json`: `[{name, home_set, sets, slots, map_version, ranges}]`.
pub fn dbs(dbs: &[DatabaseRecord]) -> Value {
    Value::Array(dbs.iter().map(db).collect())
}

/// One database with its shard map (`setwise shardmap DB --json` too).
pub fn db(d: &DatabaseRecord) -> Value {
    json!({
        "name": d.name,
        "home_set": d.home_set,
        "sets": d.sets(),
        "slots": d.shard_map.slots,
        "map_version": d.shard_map.version,
        "ranges": d.shard_map.ranges.iter().map(|r| json!({
            "first": r.start,
            "last": r.end.saturating_sub(1),
            "set": r.set,
        })).collect::<Vec<_>>(),
    })
}

/// `setwise table list --json`: `[{db, name, kind, shardkey, key_type}]`
/// (`kind`: `sharded`, `broadcast` or `single`; the key fields only when sharded).
pub fn tables(tables: &[TableRecord]) -> Value {
    Value::Array(
        tables
            .iter()
            .map(|t| {
                let (kind, key, key_type) = match &t.kind {
                    TableKind::Sharded { key, key_type } => (
                        "sharded",
                        Some(key.clone()),
                        serde_json::to_value(key_type).ok(),
                    ),
                    TableKind::Broadcast => ("broadcast", None, None),
                    TableKind::Single => ("single", None, None),
                };
                json!({
                    "db": t.db,
                    "name": t.name,
                    "kind": kind,
                    "shardkey": key,
                    "key_type": key_type,
                })
            })
            .collect(),
    )
}

/// `setwise user list --json`: `[{name, hosts, reads, admin}]` (never the password hash).
pub fn users(users: &[UserRecord]) -> Value {
    Value::Array(
        users
            .iter()
            .map(|u| {
                json!({
                    "name": u.name,
                    "hosts": u.hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
                    "reads": u.reads.word(),
                    "admin": u.admin,
                })
            })
            .collect(),
    )
}

/// One node's last health report, as the agent wrote it, plus its age.
fn health(h: &HealthReport, now_ms: u64) -> Value {
    let mut v = serde_json::to_value(h).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("age_ms".into(), json!(now_ms.saturating_sub(h.at_ms)));
    }
    v
}

/// `setwise status --json`: `{cluster, leader, sets: [set + {redundancy: {whole,
/// text}, nodes: [node + {health}]}], databases, in_progress, last_failover,
/// tasks}`.
pub fn status(v: &super::status::StatusView) -> Value {
    let sets: Vec<Value> = v
        .sets
        .iter()
        .map(|s| {
            let mut out = set(s, &v.nodes);
            let r = crate::redundancy::assess(s, &v.nodes, &v.health, &v.tasks);
            let members: Vec<Value> = v
                .nodes
                .iter()
                .filter(|n| n.set == s.name)
                .map(|n| {
                    let mut nv = node(n);
                    let h = v.health.iter().find(|h| h.node == n.id && h.set == n.set);
                    nv["health"] = h.map(|h| health(h, v.now_ms)).unwrap_or(Value::Null);
                    nv
                })
                .collect();
            out["redundancy"] = json!({ "whole": r.is_whole(), "text": r.describe() });
            out["nodes"] = Value::Array(members);
            out
        })
        .collect();
    json!({
        "cluster": v.cluster,
        "leader": v.leader,
        "sets": sets,
        "databases": dbs(&v.dbs),
        "in_progress": failovers(&v.ops),
        "last_failover": v.last_failover.as_ref().map(|f| serde_json::to_value(f).unwrap_or(Value::Null)),
        "tasks": serde_json::to_value(&v.tasks).unwrap_or(Value::Null),
    })
}

/// `setwise failovers --json`: the failover records (in progress first, then
/// finished, oldest first), as etcd holds them.
pub fn failovers(records: &[FailoverRecord]) -> Value {
    serde_json::to_value(records).unwrap_or(Value::Null)
}

/// `setwise stats --json`: `{nodes: [health report + age_ms], tables: [{node,
/// set, db, table, rows, bytes, rows_read, rows_changed}]}`.
pub fn stats(health_reports: &[HealthReport], stats: &[NodeStats], now_ms: u64) -> Value {
    let tables: Vec<Value> = stats
        .iter()
        .flat_map(|s| {
            s.tables.iter().map(move |t| {
                json!({
                    "node": s.node,
                    "set": s.set,
                    "db": t.db,
                    "table": t.table,
                    "rows": t.rows,
                    "bytes": t.bytes,
                    "rows_read": t.rows_read,
                    "rows_changed": t.rows_changed,
                })
            })
        })
        .collect();
    json!({
        "nodes": health_reports.iter().map(|h| health(h, now_ms)).collect::<Vec<_>>(),
        "tables": tables,
    })
}
