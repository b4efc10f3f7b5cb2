//! What a planned two-table join is ([`TwoSided`]): each side's query
//! ([`Side`]), where the output columns come from, the ORDER BY keys and the
//! null tests the gateway applies over joined rows, the operator
//! ([`Strategy`]); and its description for the plan statement. Making one is
//! [`super::plan`]'s job.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    /// LEFT (preserved 0) or RIGHT (preserved 1) join.
    Outer {
        preserved: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Read `outer`, then the other side by batches of its key values.
    Lookup {
        outer: usize,
    },
    Hash,
}

/// One table's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// `db.table` as the planner resolved it (for the plan's description).
    pub name: String,
    /// `FROM` text: the table, with its alias.
    pub from: String,
    /// Select items of this table, as written (one may be a `*`).
    pub items: Vec<String>,
    /// Which of `items` is a `*` (its width is known once the set answers).
    pub star: Option<usize>,
    /// Helper expressions after the items.
    pub hidden: Vec<String>,
    /// Pushed-down conditions, as written.
    pub conds: Vec<String>,
    /// Per join key: hidden index of its value and of its weight.
    pub keys: Vec<(usize, usize)>,
    /// Per join key: the expression (for `IN (...)` batches).
    pub key_exprs: Vec<String>,
    /// The table is sharded and its conditions pin the shard key.
    pub pinned: bool,
    /// The table is sharded and its (single) join key is the shard key.
    pub key_is_shard_key: bool,
    /// Hidden indexes of ON conditions on an outer join's preserved table
    /// (`(cond) IS TRUE`): a row failing one matches nothing, so it comes
    /// out null-extended.
    pub gates: Vec<usize>,
    /// Per join key: compared with `<=>` (NULL matches NULL).
    pub null_safe: Vec<bool>,
}

impl Side {
    /// The side's query, with `extra` conditions (a lookup batch).
    pub fn sql(&self, extra: Option<&str>) -> String {
        let mut list: Vec<&str> = self.items.iter().map(String::as_str).collect();
        list.extend(self.hidden.iter().map(String::as_str));
        let mut conds: Vec<String> = self.conds.iter().map(|c| format!("({c})")).collect();
        conds.extend(extra.map(str::to_string));
        let mut sql = format!("SELECT {} FROM {}", list.join(", "), self.from);
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql
    }
}

/// Where an output column comes from: side, item index; `constant`: the
/// item reads no column and calls no function (MariaDB never copies it into
/// a temporary table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutItem {
    pub side: usize,
    pub item: usize,
    pub constant: bool,
}

/// An ORDER BY key over joined rows: side, hidden value and weight, DESC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    pub side: usize,
    pub value: usize,
    pub weight: usize,
    pub desc: bool,
}

/// A WHERE test on the null-extended side of an outer join, done by the
/// gateway: hidden column `col` of `side` IS [NOT] NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NullTest {
    pub side: usize,
    pub col: usize,
    pub is_null: bool,
}

/// A two-table join run by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoSided {
    pub kind: JoinKind,
    pub sides: [Side; 2],
    pub out: Vec<OutItem>,
    pub order: Vec<OrderKey>,
    pub null_tests: Vec<NullTest>,
    pub offset: u64,
    pub limit: Option<u64>,
    pub strategy: Strategy,
    pub batch: usize,
    /// The join condition as written, for messages.
    pub keys_text: String,
    /// `SELECT COUNT(*)` of the joined rows: the item as written.
    pub count: Option<String>,
    /// GROUP BY / aggregates / DISTINCT / HAVING, grouped by the gateway.
    pub group: Option<Box<super::group::GroupPlan>>,
    /// With ORDER BY: a set holding both tables and the client's statement
    /// under `EXPLAIN`, which says whether MariaDB sorts the joined rows
    /// through a temporary table (whose columns carry no key flags;
    /// [`super::output`]).
    pub sort_plan: Option<(String, String)>,
}

impl TwoSided {
    pub fn describe(&self) -> Vec<String> {
        let kind = match self.kind {
            JoinKind::Inner => "INNER".to_string(),
            JoinKind::Outer { preserved } => {
                format!("OUTER (rows of {} kept)", self.sides[preserved].name)
            }
        };
        let mut v = Vec::new();
        match self.strategy {
            Strategy::Lookup { outer } => {
                let inner = 1 - outer;
                v.push(format!("lookup join {kind} on {}", self.keys_text));
                v.push(format!(
                    "  outer {}: {}",
                    self.sides[outer].name,
                    self.sides[outer].sql(None)
                ));
                v.push(format!(
                    "  inner {} by batches of {} key values: {}",
                    self.sides[inner].name,
                    self.batch,
                    self.sides[inner].sql(Some(&format!(
                        "{} IN (...)",
                        self.sides[inner].key_exprs.join(", ")
                    )))
                ));
            }
            Strategy::Hash => {
                v.push(format!("hash join {kind} on {}", self.keys_text));
                for s in &self.sides {
                    v.push(format!("  {}: {}", s.name, s.sql(None)));
                }
            }
        }
        if let Some(g) = &self.group {
            v.push(g.describe());
        }
        if !self.order.is_empty() || self.limit.is_some() || self.offset > 0 {
            v.push(format!(
                "  then in the gateway: {}sort keys, OFFSET {}, LIMIT {}",
                self.order.len(),
                self.offset,
                self.limit.map_or("none".to_string(), |l| l.to_string())
            ));
        }
        v
    }
}
