//! The session's side of the read/write split (`crate::split`): its
//! `setwise_read_from` variable, which of its statements may read from
//! replicas and under which read-your-writes conditions, and what its writes
//! leave for later reads to wait for.

use super::*;
use crate::split::statement::{self as split_sql, ReadFrom};
use crate::split::ReplicaReads;
use crate::sql::lexer::{significant, Kind, Token};

impl Session {
    /// Where the user's reads go by its record (`setwise user add --reads`).
    pub(super) fn user_reads(&self, snap: &topo::ClusterSnapshot) -> ReadFrom {
        self.user
            .as_deref()
            .and_then(|u| snap.user(u))
            .map_or(ReadFrom::Primary, |u| u.reads.into())
    }

    /// Notes whether the statement being run carries `/*slave*/` (`tokens`:
    /// all of them, comments included).
    pub(super) fn note_hint(&mut self, sql: &str, tokens: &[Token]) {
        self.split.hint = split_sql::slave_hint(sql, tokens);
        self.split.hinted |= self.split.hint;
    }

    /// `SET setwise_read_from = ...`: `None` when the statement is another SET.
    pub(super) fn set_read_from(
        &mut self,
        sql: &str,
        sig: &[Token],
    ) -> Option<Result<(), ProxyError>> {
        Some(split_sql::parse_set(sql, sig)?.map(|v| self.split.var = v))
    }

    /// `SELECT @@setwise_read_from`: the text that answers it.
    pub(super) fn read_from_text(&self, sql: &str, sig: &[Token]) -> Option<String> {
        if sig.len() > 3 || !sig.get(1).is_some_and(|t| t.kind == Kind::Variable) {
            return None;
        }
        let user = self.user_reads(&self.shared.routing.get());
        split_sql::select_text(sql, sig, self.split.read_from(user))
    }

    /// Forgets the session's own setting (COM_RESET_CONNECTION, COM_CHANGE_USER);
    /// its writes are still waited for.
    pub(super) fn reset_read_from(&mut self) {
        self.split.var = None;
    }

    /// Whether the GTIDs of this session's writes are read as they commit.
    pub(super) fn tracks_gtids(&self, snap: &topo::ClusterSnapshot) -> bool {
        self.split.tracks(self.user_reads(snap))
    }

    /// What the statement `sql` about to run by `plan` may read from replicas:
    /// `None` unless the session asks for replicas and it is a plain read
    /// outside any transaction. Sets the session wrote to at a position not
    /// known yet learn it from their primary first.
    pub(super) async fn replica_reads(
        &mut self,
        snap: &topo::ClusterSnapshot,
        plan: &Plan,
        sql: &str,
    ) -> Option<Box<ReplicaReads>> {
        if !self.split.wants_replica(self.user_reads(snap)) {
            return None;
        }
        // Inside a transaction (autocommit off included), on the session's own
        // connections (temporary tables, named locks): the primary.
        if self.txn.is_some()
            || !self.autocommit
            || !self.temp_tables.is_empty()
            || !self.pins.is_empty()
        {
            return None;
        }
        let tokens = tokenize(sql).ok()?;
        if !split_sql::plain_read(sql, &significant(&tokens), &self.effects_next) {
            return None;
        }
        let sets = plan_set_names(plan);
        let unknown: Vec<&String> = sets
            .iter()
            .filter(|s| self.split.unknown.contains(*s))
            .collect();
        for set in unknown {
            let pos = async {
                let mut c = self.conns(snap).pooled(set).await.ok()?;
                c.query_first::<String, _>("SELECT @@gtid_binlog_pos")
                    .await
                    .ok()
                    .flatten()
            }
            .await;
            if let Some(pos) = pos {
                self.split.learnt(set, &pos);
            }
        }
        Some(Box::new(ReplicaReads {
            health: self.shared.routing.health().clone(),
            cfg: self.shared.cfg.reads.clone(),
            required: sets
                .iter()
                .filter_map(|s| Some((s.clone(), self.split.written.get(s)?.clone())))
                .collect(),
            primary_only: sets
                .iter()
                .filter(|s| self.split.unknown.contains(*s))
                .cloned()
                .collect(),
            turn: Default::default(),
        }))
    }

    /// After a write by `plan`: what later replica reads of its sets wait for
    /// (`gtids`: the `(set, GTID)` read as it committed).
    pub(super) fn note_write(&mut self, plan: &Plan, gtids: &[(String, String)]) {
        let sets = plan_set_names(plan);
        self.split.wrote(sets.iter().map(String::as_str), gtids);
    }

    /// A transaction that wrote to `sets` is about to commit.
    pub(super) fn note_commit(&mut self, sets: &std::collections::BTreeSet<String>) {
        self.split.wrote(sets.iter().map(String::as_str), &[]);
    }
}

/// The sets a plan runs on.
fn plan_set_names(plan: &Plan) -> Vec<String> {
    match &plan.target {
        Target::Sets(sets) => sets.clone(),
        Target::PerSet(parts) => parts.iter().map(|(s, _)| s.clone()).collect(),
    }
}
