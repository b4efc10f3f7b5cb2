//! What the orphan filter works with: the moving tables of one set a statement
//! is filtered against ([`Moving`]), the edits the rewrite makes to its text
//! ([`Edit`]) and what it refuses ([`Refused`]). Below [`super::rewrite`] and
//! [`super::walk`], which both use them.

use topo::moves::SlotSpan;
use topo::KeyType;

/// A sharded table (or sharded view) some of whose rows on the set are orphans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovingTable {
    pub db: String,
    pub name: String,
    pub key: String,
    pub key_type: KeyType,
    pub slots: u32,
    /// The slots whose rows the set holds without owning them.
    pub spans: Vec<SlotSpan>,
}

impl MovingTable {
    /// The condition keeping the rows of `col` (quoted) outside the orphans.
    pub(super) fn outside(&self, col: &str) -> String {
        topo::slot::outside_spans_sql(col, self.key_type, self.slots, &self.spans)
    }
}

/// What a statement is filtered against: the moving tables of one set.
#[derive(Debug, Clone)]
pub struct Moving<'a> {
    /// The session's current database (unqualified names resolve there).
    pub session_db: Option<&'a str>,
    pub tables: Vec<MovingTable>,
}

impl Moving<'_> {
    /// The moving table `db.name` (the session's database when `db` is None).
    pub fn find(&self, db: Option<&str>, name: &str) -> Option<&MovingTable> {
        let db = db.or(self.session_db)?;
        self.tables.iter().find(|t| t.db == db && t.name == name)
    }

    /// A moving table of this name in any database.
    pub(super) fn named(&self, name: &str) -> Option<&MovingTable> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// A statement that cannot be filtered: `what` it is, and the database whose
/// slots move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub what: String,
    pub db: String,
}

pub(super) fn refused(what: impl Into<String>, t: &MovingTable) -> Refused {
    Refused {
        what: what.into(),
        db: t.db.clone(),
    }
}

/// One change to the text: `start..end` replaced by `text`.
#[derive(Debug)]
pub(super) struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}
