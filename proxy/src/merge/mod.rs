//! Merging the answers of several sets into the one result a single MariaDB would
//! give: k-way merge on the sort keys ([`sort`]), grouping and re-aggregation
//! ([`aggregate`]), a final in-memory sort with a memory limit, then OFFSET/LIMIT.
//! Each set's rows arrive through a bounded channel ([`stream`]), so a scatter
//! over millions of rows runs in bounded memory unless it must re-sort.
//!
//! The plan ([`MergeSpec`]) is data, made by `route::scatter`.

pub mod aggregate;
pub mod calc;
pub mod collate;
pub mod concat;
pub mod fidelity;
pub mod filter;
pub mod json;
pub mod moments;
pub mod rollup;
pub mod run;
pub mod sort;
pub mod stream;
pub mod typed;
pub mod value;

/// A key the per-set streams (or the final rows) are ordered by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// Column holding the value.
    pub value: usize,
    /// Column holding `WEIGHT_STRING(value)`, used when the value is a string
    /// compared under a collation.
    pub weight: Option<usize>,
    pub desc: bool,
}

/// How one output column of a grouped result is combined across sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggSpec {
    /// A group key or a column MariaDB would take from any row: the first set's.
    Any,
    /// Sum of the sets' counts.
    Count,
    /// `COUNT(DISTINCT x)` next to another distinct argument: the group's
    /// distinct non-NULL values of column `value` (compared by `weight` when a
    /// collated string), counted by the grouper in the last stage.
    CountDistinct {
        value: usize,
        weight: Option<usize>,
    },
    /// Sum of the sets' sums (NULL when every set's is NULL).
    Sum,
    /// Least / greatest of the sets' values; `weight` when a collated string.
    Min {
        weight: Option<usize>,
    },
    Max {
        weight: Option<usize>,
    },
    /// Total of hidden `SUM` / total of hidden `COUNT`, at AVG's scale —
    /// or, `exact`, with all the digits of MariaDB's quotient: an average
    /// that an expression computed by the gateway uses (`AVG(x) * 1000`
    /// multiplies the unrounded average).
    Avg {
        sum: usize,
        count: usize,
        exact: bool,
    },
    /// STD / VARIANCE: from the group's helper COUNT and its combined sum of
    /// squared deviations (`m2`), as a DOUBLE at the column's scale.
    Var {
        kind: VarKind,
        count: usize,
        m2: usize,
    },
    /// One set's sum of squared deviations from its mean, combined with another
    /// set's by Chan's formula, which needs both sets' `count` and `sum`
    /// helpers before they are added (see [`moments`]).
    M2 {
        count: usize,
        sum: usize,
    },
    /// BIT_AND / BIT_OR / BIT_XOR: the sets' results under the same operator.
    Bit(BitOp),
    /// `GROUP_CONCAT` with ORDER BY / DISTINCT: each incoming row is one element
    /// (the `args` columns concatenated, `count` times), appended in row order
    /// and cut at `group_concat_max_len` (helper `max_len`), see [`concat`].
    OrderedConcat {
        args: Vec<usize>,
        count: Option<usize>,
        sep: Vec<u8>,
        max_len: usize,
        /// A `JSON_ARRAYAGG` list instead (see [`json`]).
        json: Option<json::JsonList>,
    },
    /// `GROUP_CONCAT` without ORDER BY: the sets' lists joined with `sep`
    /// (MariaDB's order within such a list is unspecified), cut at the
    /// session's `group_concat_max_len` (helper `max_len`) with warning 1260;
    /// helper `len` is each set's `SUM(LENGTH(element) + LENGTH(sep))` (a Sum),
    /// telling whether a list was cut, see [`concat`].
    Concat {
        sep: Vec<u8>,
        max_len: usize,
        len: usize,
    },
}

/// Which member of the STD / VARIANCE family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    /// VAR_POP, VARIANCE
    VarPop,
    /// VAR_SAMP
    VarSamp,
    /// STD, STDDEV, STDDEV_POP
    StdPop,
    /// STDDEV_SAMP
    StdSamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
}

/// What the gateway does with the rows of the sets. The default merges
/// nothing: rows pass in set order, none hidden, no group, no limit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergeSpec {
    /// The statement each set runs (the client's, rewritten).
    pub sql: String,
    /// A statement run first on one set for its column definitions only, shown
    /// to the client instead of `sql`'s (whose columns are renamed: a UNION
    /// wrapped to add weights).
    pub columns_sql: Option<String>,
    /// Leading columns the client sees (`usize::MAX`: all but the `hidden` last ones,
    /// when the select list has a `*`).
    pub visible: usize,
    /// Helper columns at the end of each row.
    pub hidden: usize,
    /// Order of each set's rows, kept by the merge.
    pub keys: Vec<KeySpec>,
    /// Rows equal on the group keys form a group, combined per column by these.
    pub group: Option<Vec<AggSpec>>,
    /// Group keys when they differ from `keys` (two-stage grouping).
    pub group_keys: Option<Vec<KeySpec>>,
    /// First stage of a two-stage grouping (for `COUNT(DISTINCT x)`): rows equal
    /// on `keys` (the group keys plus `x`) fold with these first.
    pub pre_group: Option<Vec<AggSpec>>,
    /// An aggregate query without GROUP BY: one row even when no set has a row.
    pub one_row: bool,
    /// Columns computed from helper aggregates once a group is complete.
    pub computed: Vec<(usize, calc::Calc)>,
    /// Groups that fail this (HAVING) are dropped.
    pub having: Option<filter::Filter>,
    /// Re-sort after grouping, in memory (`ORDER BY` that differs from the keys).
    pub final_order: Option<Vec<KeySpec>>,
    pub offset: u64,
    pub limit: Option<u64>,
    /// `WITH ROLLUP`: after each group, a row per finished prefix of the group
    /// keys (the rest of the keys NULL), and a grand total last.
    pub rollup: bool,
}

/// A column index `HIDDEN_MARK + n` means "helper column n" (counted from the
/// first helper), resolved by [`MergeSpec::resolve`] once the width is known.
pub const HIDDEN_MARK: usize = 1 << 30;

impl MergeSpec {
    /// This spec with every column index absolute, for rows of `ncols` columns.
    pub fn resolve(&self, ncols: usize) -> Option<MergeSpec> {
        let visible = if self.visible == usize::MAX {
            ncols.checked_sub(self.hidden)?
        } else {
            self.visible
        };
        let abs = |i: usize| {
            if i >= HIDDEN_MARK {
                visible + (i - HIDDEN_MARK)
            } else {
                i
            }
        };
        let keys = |ks: &[KeySpec]| -> Vec<KeySpec> {
            ks.iter()
                .map(|k| KeySpec {
                    value: abs(k.value),
                    weight: k.weight.map(abs),
                    desc: k.desc,
                })
                .collect()
        };
        let mut out = self.clone();
        out.visible = visible;
        out.keys = keys(&self.keys);
        out.group_keys = self.group_keys.as_deref().map(keys);
        out.final_order = self.final_order.as_deref().map(keys);
        if visible + self.hidden != ncols {
            return None;
        }
        Some(out)
    }
}

/// Most bytes of rows the gateway holds for one statement's re-sort.
pub const MEMORY_LIMIT: usize = 256 * 1024 * 1024;
