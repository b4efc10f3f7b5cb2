//! AUTO_INCREMENT ids of sharded and broadcast tables, assigned by the gateway
//! (every set would count on its own): [`segments`] holds the ids this gateway
//! reserved in etcd per table; [`rewrite`] finds which rows of an `INSERT` need
//! one and writes them into its text. [`Ids`] also caches which column of a
//! table is its AUTO_INCREMENT column, as the sets' information_schema says
//! (learnt from the sets rather than recorded at CREATE TABLE: it stays right
//! after an ALTER TABLE and for tables made sharded out of band; cleared by DDL).

pub mod counters;
pub mod rewrite;
pub mod segments;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use segments::{Resets, Segments};

/// A table's AUTO_INCREMENT column and its columns in definition order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoColumn {
    pub name: String,
    pub columns: Vec<String>,
}

/// `(db, table)` → its AUTO_INCREMENT column (`None`: it has none).
type AutoColumns = HashMap<(String, String), Option<Arc<AutoColumn>>>;

/// What the gateway keeps about ids, shared by every worker.
pub struct Ids {
    pub segments: Arc<Segments>,
    auto: Mutex<AutoColumns>,
}

impl Ids {
    pub fn new(segment: u64, resets: Arc<Resets>) -> Self {
        Self {
            segments: Arc::new(Segments::new(segment, resets)),
            auto: Default::default(),
        }
    }

    /// The cached AUTO_INCREMENT column of `db.table`: `None` when not looked up yet.
    pub fn auto_column(&self, db: &str, table: &str) -> Option<Option<Arc<AutoColumn>>> {
        let key = (db.to_string(), table.to_string());
        self.auto.lock().expect("ids").get(&key).cloned()
    }

    pub fn remember(&self, db: &str, table: &str, col: Option<Arc<AutoColumn>>) {
        let key = (db.to_string(), table.to_string());
        self.auto.lock().expect("ids").insert(key, col);
    }

    /// After a schema change: columns are looked up again.
    pub fn forget_columns(&self) {
        self.auto.lock().expect("ids").clear();
    }
}
