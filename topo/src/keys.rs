//! The etcd key layout. Every key of a cluster lives under `/setwise/<cluster>/`:
//!
//! | key | record |
//! |---|---|
//! | `sets/<set>` | [`SetRecord`](crate::SetRecord) |
//! | `nodes/<set>/<node>` | [`NodeRecord`](crate::NodeRecord) |
//! | `dbs/<db>` | [`DatabaseRecord`](crate::DatabaseRecord) (with its shard map) |
//! | `tables/<db>/<table>` | [`TableRecord`](crate::TableRecord) |
//! | `users/<user>` | [`UserRecord`](crate::UserRecord) |
//! | `health/<set>/<node>` | [`HealthReport`](crate::HealthReport), under the agent's lease |
//! | `xa/<gtrid>` | [`XaDecision`](crate::XaDecision): a distributed transaction's outcome |
//! | `app-xa/<xid>` | [`AppXaRecord`](crate::AppXaRecord): a transaction the application prepared (`XA PREPARE`) |
//! | `election/<name>` | leader election (etcd's election API) |
//! | `tasks/<set>/<node>` | [`TaskRecord`](crate::TaskRecord): the node's current task |
//! | `ops/<set>` | [`FailoverRecord`](crate::FailoverRecord) in progress |
//! | `failovers/<set>/<id>` | [`FailoverRecord`](crate::FailoverRecord), finished |
//! | `requests/<set>` | [`SwitchoverRequest`](crate::SwitchoverRequest) |
//! | `stats/<set>/<node>` | [`NodeStats`](crate::NodeStats), under the agent's lease |
//! | `moves/<id>` | [`MoveRecord`](crate::MoveRecord): a slot move, its phase and progress |
//! | `moving/<id>` | [`MoveFence`](crate::MoveFence): what gateways must do about a move (routing) |
//! | `gateways/<id>` | [`GatewayRecord`](crate::GatewayRecord), under the gateway's lease |
//! | `gateways-known/<id>` | [`GatewayRecord`](crate::GatewayRecord) of every gateway that registered and did not shut down cleanly |
//! | `move-acks/<move>/<gateway>` | [`HoldAck`](crate::HoldAck): a gateway holds a move's writes |
//! | `capacity` | the scheduler leader's capacity view (loads, limits, proposal; JSON owned by the scheduler) |
//! | `ids/<db>/<table>` | the table's AUTO_INCREMENT counter: the next id no gateway holds ([`crate::ids`]) |
//! | `ids-reset/<db>/<table>` | the value a DDL set the counter to (`AUTO_INCREMENT = n`): gateways void the ids they hold (a deleted `ids/` key does the same for TRUNCATE, DROP, RENAME) |
//! | `ddl/<id>` | [`DdlTask`](crate::DdlTask): a schema change the scheduler applies to the sets (id zero-padded: key order is queue order) |
//! | `ddl-seq` | the last DDL task id given out |
//!
//! Routing = sets + nodes + dbs + tables + users + moving: everything a gateway needs, read
//! in one range request and watched with one prefix watch (see [`crate::snapshot`]).
//!
//! Database and table names are anything MariaDB accepts (dots, spaces, quotes,
//! slashes, any Unicode): in a key they are written by [`segment`], which keeps
//! a name of letters, digits and `_ - . $` as it is (so keys written before stay
//! where they were) and percent-encodes every other byte. Records carry their
//! names, so nothing ever decodes a key.

/// Key builder for one cluster.
#[derive(Debug, Clone)]
pub struct Keys {
    root: String,
}

impl Keys {
    pub fn new(cluster: &str) -> Self {
        Self {
            root: format!("/setwise/{cluster}/"),
        }
    }
    /// `/setwise/<cluster>/` — the prefix of everything.
    pub fn root(&self) -> &str {
        &self.root
    }
    pub fn sets(&self) -> String {
        format!("{}sets/", self.root)
    }
    pub fn set(&self, set: &str) -> String {
        format!("{}sets/{set}", self.root)
    }
    pub fn nodes(&self) -> String {
        format!("{}nodes/", self.root)
    }
    pub fn nodes_of(&self, set: &str) -> String {
        format!("{}nodes/{set}/", self.root)
    }
    pub fn node(&self, set: &str, node: &str) -> String {
        format!("{}nodes/{set}/{node}", self.root)
    }
    pub fn dbs(&self) -> String {
        format!("{}dbs/", self.root)
    }
    pub fn db(&self, db: &str) -> String {
        format!("{}dbs/{}", self.root, segment(db))
    }
    pub fn tables(&self) -> String {
        format!("{}tables/", self.root)
    }
    pub fn tables_of(&self, db: &str) -> String {
        format!("{}tables/{}/", self.root, segment(db))
    }
    pub fn table(&self, db: &str, table: &str) -> String {
        format!("{}tables/{}/{}", self.root, segment(db), segment(table))
    }
    pub fn users(&self) -> String {
        format!("{}users/", self.root)
    }
    pub fn user(&self, user: &str) -> String {
        format!("{}users/{user}", self.root)
    }
    pub fn health(&self) -> String {
        format!("{}health/", self.root)
    }
    pub fn health_of(&self, set: &str, node: &str) -> String {
        format!("{}health/{set}/{node}", self.root)
    }
    pub fn xa(&self) -> String {
        format!("{}xa/", self.root)
    }
    pub fn xas(&self) -> String {
        format!("{}xa/", self.root)
    }
    pub fn xa_of(&self, gtrid: &str) -> String {
        format!("{}xa/{gtrid}", self.root)
    }
    pub fn app_xas(&self) -> String {
        format!("{}app-xa/", self.root)
    }
    /// `xid` is [`AppXaRecord::xid`]: format and hex parts, safe in a key.
    pub fn app_xa(&self, xid: &str) -> String {
        format!("{}app-xa/{xid}", self.root)
    }
    pub fn election(&self, name: &str) -> String {
        format!("{}election/{name}", self.root)
    }
    /// The leader's heartbeat of election `name` (under the leader's lease).
    pub fn election_beat(&self, name: &str) -> String {
        format!("{}election-beat/{name}", self.root)
    }
    /// The AUTO_INCREMENT counter of `db.table` (`/` and `%` in names escaped).
    pub fn ids(&self, db: &str, table: &str) -> String {
        let esc = |s: &str| s.replace('%', "%25").replace('/', "%2F");
        format!("{}ids/{}/{}", self.root, esc(db), esc(table))
    }
    /// Every AUTO_INCREMENT counter of `db`.
    pub fn ids_of(&self, db: &str) -> String {
        let esc = |s: &str| s.replace('%', "%25").replace('/', "%2F");
        format!("{}ids/{}/", self.root, esc(db))
    }
    /// Written with a counter set anew (`AUTO_INCREMENT = n`): gateways
    /// watching it void the ids of `db.table` they hold.
    pub fn ids_reset(&self, db: &str, table: &str) -> String {
        let esc = |s: &str| s.replace('%', "%25").replace('/', "%2F");
        format!("{}ids-reset/{}/{}", self.root, esc(db), esc(table))
    }
    /// The `(db, table)` of an AUTO_INCREMENT counter's key ([`Keys::ids`]) or
    /// of its reset marker ([`Keys::ids_reset`]).
    pub fn ids_table_of(&self, key: &str) -> Option<(String, String)> {
        let rest = key.strip_prefix(self.root.as_str())?;
        let rest = rest
            .strip_prefix("ids/")
            .or_else(|| rest.strip_prefix("ids-reset/"))?;
        let (db, table) = rest.split_once('/')?;
        let unesc = |s: &str| s.replace("%2F", "/").replace("%25", "%");
        // (An escaped `%` is `%25`, so each `%2F` left is an escaped `/`.)
        Some((unesc(db), unesc(table)))
    }
    pub fn tasks(&self) -> String {
        format!("{}tasks/", self.root)
    }
    pub fn task(&self, set: &str, node: &str) -> String {
        format!("{}tasks/{set}/{node}", self.root)
    }
    pub fn ops(&self) -> String {
        format!("{}ops/", self.root)
    }
    pub fn op(&self, set: &str) -> String {
        format!("{}ops/{set}", self.root)
    }
    pub fn failovers(&self) -> String {
        format!("{}failovers/", self.root)
    }
    pub fn failovers_of(&self, set: &str) -> String {
        format!("{}failovers/{set}/", self.root)
    }
    pub fn failover(&self, set: &str, id: &str) -> String {
        format!("{}failovers/{set}/{id}", self.root)
    }
    pub fn requests(&self) -> String {
        format!("{}requests/", self.root)
    }
    pub fn request(&self, set: &str) -> String {
        format!("{}requests/{set}", self.root)
    }
    pub fn stats(&self) -> String {
        format!("{}stats/", self.root)
    }
    pub fn stats_of(&self, set: &str, node: &str) -> String {
        format!("{}stats/{set}/{node}", self.root)
    }
    pub fn moves(&self) -> String {
        format!("{}moves/", self.root)
    }
    pub fn move_of(&self, id: &str) -> String {
        format!("{}moves/{id}", self.root)
    }
    pub fn fences(&self) -> String {
        format!("{}moving/", self.root)
    }
    pub fn fence(&self, id: &str) -> String {
        format!("{}moving/{id}", self.root)
    }
    pub fn gateways(&self) -> String {
        format!("{}gateways/", self.root)
    }
    pub fn gateway(&self, id: &str) -> String {
        format!("{}gateways/{id}", self.root)
    }
    pub fn gateways_known(&self) -> String {
        format!("{}gateways-known/", self.root)
    }
    pub fn gateway_known(&self, id: &str) -> String {
        format!("{}gateways-known/{id}", self.root)
    }
    pub fn hold_acks(&self, move_id: &str) -> String {
        format!("{}move-acks/{move_id}/", self.root)
    }
    pub fn hold_ack(&self, move_id: &str, gateway: &str) -> String {
        format!("{}move-acks/{move_id}/{gateway}", self.root)
    }
    /// The scheduler leader's latest capacity view (not a routing key).
    pub fn capacity(&self) -> String {
        format!("{}capacity", self.root)
    }
    pub fn ddl_tasks(&self) -> String {
        format!("{}ddl/", self.root)
    }
    pub fn ddl_task(&self, id: u64) -> String {
        format!("{}ddl/{id:020}", self.root)
    }
    pub fn ddl_seq(&self) -> String {
        format!("{}ddl-seq", self.root)
    }
    /// The kind of record a key holds, from its first path segment after the root.
    pub fn kind_of<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(self.root.as_str())?.split('/').next()
    }
}

/// A database or table name as one key segment: unchanged when it is made of
/// letters, digits and `_ - . $` (the only names older versions stored, so
/// their keys stay where they were), else with every other byte as `%XX`
/// (`%` itself too) — one name, one segment, never a `/`.
pub fn segment(name: &str) -> std::borrow::Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$');
    if name.bytes().all(plain) {
        return name.into();
    }
    let mut out = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.into()
}

/// A database or table name the keys can hold: what MariaDB accepts is
/// checked by MariaDB; here only that it is not empty and at most 64
/// characters (MariaDB's limit).
pub fn valid_object_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 64
}

/// Names used as key segments must not contain `/` and must not be empty.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let k = Keys::new("c1");
        assert_eq!(k.node("set1", "n1"), "/setwise/c1/nodes/set1/n1");
        assert_eq!(k.kind_of(&k.table("db", "t")), Some("tables"));
        assert_eq!(k.kind_of("/other/x"), None);
        assert!(valid_name("user_db"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn any_name_is_one_segment() {
        let k = Keys::new("c1");
        // Plain names stay as older versions wrote them.
        assert_eq!(
            k.table("user_db", "t.1$"),
            "/setwise/c1/tables/user_db/t.1$"
        );
        assert_eq!(
            k.table("inspectdb_special", "x.table name"),
            "/setwise/c1/tables/inspectdb_special/x.table%20name"
        );
        assert_eq!(k.db("a/b"), "/setwise/c1/dbs/a%2Fb");
        assert_eq!(k.tables_of(".."), "/setwise/c1/tables/../");
        assert_eq!(segment("\"quoted\""), "%22quoted%22");
        assert_eq!(segment("`é%"), "%60%C3%A9%25");
        // Distinct names, distinct segments.
        assert_ne!(segment("a%2Fb"), segment("a/b"));
        assert_ne!(segment("a b"), segment("a%20b"));
        assert!(valid_object_name("a.b c\"/`é"));
        assert!(!valid_object_name(""));
        assert!(!valid_object_name(&"x".repeat(65)));
    }
}
