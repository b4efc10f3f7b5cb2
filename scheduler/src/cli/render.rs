//! Text output of `setwise`: aligned tables for `list`, `status` and `shardmap`.

use topo::{
    DatabaseRecord, HealthReport, KeyType, NodeRecord, Role, SetRecord, SlotRange, SyncMode,
    TableKind, TableRecord, UserRecord,
};

/// A table of text cells, rendered with columns padded to their widest cell.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(headers: I) -> Self {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cells: I) -> &mut Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// Header line, then one line per row; two spaces between columns, no trailing blanks.
    pub fn render(&self) -> String {
        let ncols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; ncols];
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in line.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = line.get(i).map(String::as_str).unwrap_or("");
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `0-511 → set1` (slot numbers inclusive).
pub fn format_range(r: &SlotRange) -> String {
    format!("{}-{} → {}", r.start, r.end.saturating_sub(1), r.set)
}

/// A short age: `850ms`, `4.2s`, `3m10s`, `2h5m`.
pub fn format_age(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{}s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{}h{}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn opt_yes_no(b: Option<bool>) -> &'static str {
    b.map(yes_no).unwrap_or("-")
}

pub fn sync_name(s: SyncMode) -> &'static str {
    match s {
        SyncMode::Strong => "strong",
        SyncMode::Semi => "semi",
        SyncMode::Async => "async",
    }
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Primary => "primary",
        Role::Replica => "replica",
    }
}

/// `sharded(user_id, integer)`, `broadcast`, `single`.
pub fn kind_name(k: &TableKind) -> String {
    match k {
        TableKind::Sharded { key, key_type } => {
            let t = match key_type {
                KeyType::Integer => "integer".to_string(),
                KeyType::Text => "text by case".to_string(),
                KeyType::Binary => "binary".to_string(),
                KeyType::Weighted { collation, .. } => format!("text, collation id {collation}"),
            };
            format!("sharded({key}, {t})")
        }
        TableKind::Broadcast => "broadcast".into(),
        TableKind::Single => "single".into(),
    }
}

fn shorten(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub fn sets_table(sets: &[SetRecord], nodes: &[NodeRecord]) -> Table {
    let mut t = Table::new(["SET", "SYNC", "EPOCH", "PRIMARY", "REPLICAS", "STATE"]);
    for s in sets {
        let of_set = || nodes.iter().filter(|n| n.set == s.name);
        let primary: Vec<&str> = of_set()
            .filter(|n| n.role == Role::Primary)
            .map(|n| n.id.as_str())
            .collect();
        let replicas: Vec<&str> = of_set()
            .filter(|n| n.role == Role::Replica)
            .map(|n| n.id.as_str())
            .collect();
        t.row([
            s.name.clone(),
            sync_name(s.sync).into(),
            s.epoch.to_string(),
            if primary.is_empty() {
                "-".into()
            } else {
                primary.join(",")
            },
            if replicas.is_empty() {
                "-".into()
            } else {
                replicas.join(",")
            },
            set_state(s),
        ]);
    }
    t
}

/// `ok`, or why the set runs below its configured durability.
fn set_state(s: &SetRecord) -> String {
    match (&s.writes_blocked, &s.degraded) {
        (Some(why), _) => format!("WRITES REFUSED: {why}"),
        (None, Some(d)) => format!(
            "DEGRADED since {}: {}",
            format_age(crate::now_ms().saturating_sub(d.since_ms)) + " ago",
            d.reason
        ),
        (None, None) => "ok".into(),
    }
}

/// Nodes, primary first within each set.
fn sorted_nodes(nodes: &[NodeRecord]) -> Vec<&NodeRecord> {
    let mut v: Vec<&NodeRecord> = nodes.iter().collect();
    v.sort_by(|a, b| {
        (&a.set, a.role != Role::Primary, &a.id).cmp(&(&b.set, b.role != Role::Primary, &b.id))
    });
    v
}

pub fn nodes_table(nodes: &[NodeRecord]) -> Table {
    let mut t = Table::new(["NODE", "SET", "ADDR", "ROLE"]);
    for n in sorted_nodes(nodes) {
        t.row([
            n.id.clone(),
            n.set.clone(),
            n.addr(),
            role_name(n.role).into(),
        ]);
    }
    t
}

/// Replication summary of a report: `io=yes sql=yes lag=0s`, or `-` if not a replica.
fn repl_summary(h: &HealthReport) -> String {
    if h.slave_io_running.is_none() && h.slave_sql_running.is_none() {
        return "-".into();
    }
    let lag = h
        .seconds_behind_master
        .map(|s| format!("{s}s"))
        .unwrap_or_else(|| "null".into());
    format!(
        "io={} sql={} lag={lag}",
        opt_yes_no(h.slave_io_running),
        opt_yes_no(h.slave_sql_running)
    )
}

/// Nodes with what their agents last reported (`now_ms` for the report age).
pub fn health_table(nodes: &[NodeRecord], health: &[HealthReport], now_ms: u64) -> Table {
    let mut t = Table::new([
        "NODE",
        "SET",
        "ADDR",
        "ROLE",
        "READABLE",
        "WRITABLE",
        "READ_ONLY",
        "AGE",
        "REPLICATION",
        "GTID",
        "ERROR",
    ]);
    for n in sorted_nodes(nodes) {
        let mut cells = vec![
            n.id.clone(),
            n.set.clone(),
            n.addr(),
            role_name(n.role).into(),
        ];
        match health.iter().find(|h| h.node == n.id && h.set == n.set) {
            None => cells.extend(["no report", "-", "-", "-", "-", "-", "-"].map(String::from)),
            Some(h) => {
                let err = h
                    .error
                    .as_deref()
                    .or(h.last_error.as_deref())
                    .map(|e| shorten(e, 60))
                    .unwrap_or_else(|| "-".into());
                cells.extend([
                    yes_no(h.readable).to_string(),
                    yes_no(h.writable).to_string(),
                    opt_yes_no(h.read_only).to_string(),
                    format_age(now_ms.saturating_sub(h.at_ms)),
                    repl_summary(h),
                    h.gtid_current_pos
                        .as_deref()
                        .filter(|g| !g.is_empty())
                        .unwrap_or("-")
                        .to_string(),
                    err,
                ]);
            }
        }
        t.row(cells);
    }
    t
}

pub fn dbs_table(dbs: &[DatabaseRecord]) -> Table {
    let mut t = Table::new(["DATABASE", "HOME", "SLOTS", "MAP VERSION", "SETS"]);
    for d in dbs {
        t.row([
            d.name.clone(),
            d.home_set.clone(),
            d.shard_map.slots.to_string(),
            d.shard_map.version.to_string(),
            d.sets().join(","),
        ]);
    }
    t
}

/// A database's shard map: a title line, then one row per slot range.
pub fn shardmap(db: &DatabaseRecord) -> String {
    let m = &db.shard_map;
    let mut out = format!(
        "database {}: {} slots, map version {}, home set {}\n",
        db.name, m.slots, m.version, db.home_set
    );
    let mut t = Table::new(["RANGE", "SLOTS"]);
    for r in &m.ranges {
        t.row([format_range(r), (r.end - r.start).to_string()]);
    }
    out.push_str(&t.render());
    out
}

pub fn tables_table(tables: &[TableRecord]) -> Table {
    let mut t = Table::new(["TABLE", "KIND"]);
    for r in tables {
        t.row([format!("{}.{}", r.db, r.name), kind_name(&r.kind)]);
    }
    t
}

pub fn users_table(users: &[UserRecord]) -> Table {
    let mut t = Table::new(["USER", "HOSTS", "PASSWORD", "READS", "REQUIRE", "ADMIN"]);
    for u in users {
        let hosts = if u.hosts.is_empty() {
            "any".to_string()
        } else {
            u.hosts
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let pw = if u.password_hash.is_empty() {
            "none"
        } else {
            "set"
        };
        let require = if u.require_ssl { "ssl" } else { "none" };
        t.row([
            u.name.clone(),
            hosts,
            pw.into(),
            u.reads.word().into(),
            require.into(),
            if u.admin { "yes" } else { "no" }.into(),
        ]);
    }
    t
}

/// Renders a table, or a `(no …)` line when it is empty.
pub fn list(t: &Table, what: &str) -> String {
    if t.is_empty() {
        format!("(no {what})\n")
    } else {
        t.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::status::{status, StatusView};
    use topo::ShardMap;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(["A", "LONG HEADER", "C"]);
        t.row(["xxxx", "y", ""]).row(["z", "→ ok", "w"]);
        assert_eq!(
            t.render(),
            "A     LONG HEADER  C\nxxxx  y\nz     → ok         w\n"
        );
        assert_eq!(list(&Table::new(["X"]), "sets"), "(no sets)\n");
    }

    #[test]
    fn ages() {
        assert_eq!(format_age(850), "850ms");
        assert_eq!(format_age(4200), "4.2s");
        assert_eq!(format_age(190_000), "3m10s");
        assert_eq!(format_age(7_500_000), "2h5m");
    }

    #[test]
    fn shard_map_as_ranges() {
        let db = DatabaseRecord {
            name: "user_db".into(),
            home_set: "set1".into(),
            shard_map: ShardMap::even(1024, &["set1".into(), "set2".into()]),
        };
        let expected = [
            "database user_db: 1024 slots, map version 1, home set set1",
            "RANGE            SLOTS",
            "0-511 → set1     512",
            "512-1023 → set2  512",
        ];
        assert_eq!(shardmap(&db), expected.join("\n") + "\n");
        assert_eq!(format_range(&db.shard_map.ranges[1]), "512-1023 → set2");
    }

    fn node(id: &str, set: &str, port: u16, role: Role) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            set: set.into(),
            host: "127.0.0.1".into(),
            port,
            role,
            rejoin: None,
        }
    }

    #[test]
    fn status_shows_health_and_leader() {
        let v = StatusView {
            cluster: "local".into(),
            leader: Some("sched-a".into()),
            sets: vec![SetRecord {
                epoch: 2,
                ..SetRecord::new("set1", SyncMode::Strong)
            }],
            nodes: vec![
                node("set1-n1", "set1", 3312, Role::Replica),
                node("set1-n0", "set1", 3311, Role::Primary),
            ],
            health: vec![HealthReport {
                node: "set1-n0".into(),
                set: "set1".into(),
                at_ms: 10_000,
                readable: true,
                writable: true,
                read_only: Some(false),
                gtid_current_pos: Some("0-1-42".into()),
                ..Default::default()
            }],
            dbs: vec![],
            ops: vec![],
            last_failover: None,
            tasks: vec![],
            now_ms: 10_300,
        };
        let s = status(&v);
        assert!(
            s.starts_with("cluster local: scheduler leader sched-a\n"),
            "{s}"
        );
        assert!(s.contains("set1  strong  2      set1-n0  set1-n1"), "{s}");
        let lines: Vec<&str> = s.lines().collect();
        let n0 = lines.iter().position(|l| l.starts_with("set1-n0")).unwrap();
        let n1 = lines.iter().position(|l| l.starts_with("set1-n1")).unwrap();
        assert!(n0 < n1, "primary first: {s}");
        let cells: Vec<&str> = lines[n0].split_whitespace().collect();
        assert_eq!(cells[4..9], ["yes", "yes", "no", "300ms", "-"], "{s}");
        assert!(lines[n0].contains("0-1-42"), "{s}");
        assert!(lines[n1].contains("no report"), "{s}");
        assert!(s.contains("DATABASES\n(none)\n"), "{s}");
        assert!(
            s.contains("set1  NOT WHOLE: set1-n1: no health report (agent down?)"),
            "{s}"
        );
    }

    #[test]
    fn replica_and_error_cells() {
        let h = HealthReport {
            slave_io_running: Some(true),
            slave_sql_running: Some(false),
            seconds_behind_master: None,
            ..Default::default()
        };
        assert_eq!(repl_summary(&h), "io=yes sql=no lag=null");
        assert_eq!(repl_summary(&HealthReport::default()), "-");
        assert_eq!(shorten("a\n  b", 10), "a b");
        assert_eq!(shorten("abcdefghijk", 5), "abcd…");
        let u = UserRecord {
            name: "app".into(),
            password_hash: "*X".into(),
            hosts: vec!["127.0.0.0/8".parse().unwrap()],
            reads: topo::Reads::Replica,
            require_ssl: true,
            admin: false,
        };
        assert_eq!(
            users_table(&[u]).render(),
            "USER  HOSTS        PASSWORD  READS    REQUIRE  ADMIN\napp   127.0.0.0/8  set       replica  ssl      no\n"
        );
    }
}
