//! The target side of a catch-up: which row changes the filter keeps (the slot of
//! the key in each row image), the idempotent changes they make on the target, and
//! the batched statements that make them.

use anyhow::{anyhow, bail};
use mysql_async::Value;
use topo::model::KeyType;
use topo::moves::spans_contain;

use super::Filter;
use crate::moves::binlog::{RowChange, RowKind, TableSchema};

/// Rows per multi-row `REPLACE` / `DELETE`.
const BATCH_ROWS: usize = 500;
/// Bytes of values per statement (a larger row gets a statement of its own).
const BATCH_BYTES: usize = 4 << 20;

/// How a watched table is filtered: by its shard key, or (broadcast) not at all.
pub(super) struct TablePlan {
    key: Option<(usize, KeyType)>,
    /// Primary key column indexes.
    pk: Vec<usize>,
    /// Quoted column names.
    columns: Vec<String>,
    /// `` `db`.`t` ``
    qualified: String,
    /// `` `c1`,`c2`,... ``
    column_list: String,
}

/// A change to make on the target.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Replace { table: usize, row: Vec<Value> },
    Delete { table: usize, pk: Vec<Value> },
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub(super) fn plans(filter: &Filter, schemas: &[TableSchema]) -> anyhow::Result<Vec<TablePlan>> {
    schemas
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let key = match filter.tables.get(i) {
                Some(t) => {
                    let k = s.column_index(&t.key).ok_or_else(|| {
                        anyhow!(
                            "shard key {} of `{}`.`{}` not found",
                            t.key,
                            filter.db,
                            t.name
                        )
                    })?;
                    // The slot of a text key is computed over its UTF-8 text.
                    let cs = s.columns[k].charset.as_deref();
                    let text = matches!(t.key_type, KeyType::Text | KeyType::Weighted { .. });
                    if text && !matches!(cs, None | Some("utf8mb4" | "utf8mb3" | "utf8" | "ascii"))
                    {
                        bail!(
                            "shard key {} of `{}`.`{}` is in character set {}: the catch-up \
                             follows text keys in utf8mb4, utf8mb3 or ascii only",
                            t.key,
                            filter.db,
                            t.name,
                            cs.unwrap_or("?")
                        );
                    }
                    Some((k, t.key_type))
                }
                None => None,
            };
            Ok(TablePlan {
                key,
                pk: s.pk.clone(),
                columns: s.columns.iter().map(|c| quote(&c.name)).collect(),
                qualified: format!("{}.{}", quote(&filter.db), quote(&s.name)),
                column_list: s
                    .columns
                    .iter()
                    .map(|c| quote(&c.name))
                    .collect::<Vec<_>>()
                    .join(","),
            })
        })
        .collect()
}

/// The slot of a shard-key value (None: NULL, in no slot).
pub fn value_slot(v: &Value, key_type: KeyType, slots: u32) -> anyhow::Result<Option<u32>> {
    let slot = match v {
        Value::NULL => return Ok(None),
        Value::Int(i) => Some(topo::slot::slot_of_int(*i as i128, slots)),
        Value::UInt(u) => Some(topo::slot::slot_of_int(*u as i128, slots)),
        Value::Bytes(b) => topo::slot::slot_of(b, key_type, slots),
        _ => None,
    };
    match slot {
        Some(s) => Ok(Some(s)),
        None => bail!("a shard key value {v:?} has no slot for a {key_type:?} key"),
    }
}

/// Whether a row image is kept by the filter.
fn kept(plan: &TablePlan, filter: &Filter, row: &[Value]) -> anyhow::Result<bool> {
    let Some((k, kt)) = plan.key else {
        return Ok(true);
    };
    Ok(match value_slot(&row[k], kt, filter.slots)? {
        Some(s) => spans_contain(&filter.spans, s),
        None => false,
    })
}

/// The target changes one row change makes.
pub(super) fn ops_of(
    plans: &[TablePlan],
    filter: &Filter,
    c: RowChange,
    out: &mut Vec<Op>,
) -> anyhow::Result<()> {
    let plan = &plans[c.table];
    let pk_of = |row: &[Value]| -> Vec<Value> { plan.pk.iter().map(|&i| row[i].clone()).collect() };
    match (c.kind, c.before, c.after) {
        (RowKind::Insert, _, Some(after)) => {
            if kept(plan, filter, &after)? {
                out.push(Op::Replace {
                    table: c.table,
                    row: after,
                });
            }
        }
        (RowKind::Update, Some(before), Some(after)) => {
            let b = kept(plan, filter, &before)?;
            let a = kept(plan, filter, &after)?;
            let old_pk = pk_of(&before);
            if b && (!a || old_pk != pk_of(&after)) {
                out.push(Op::Delete {
                    table: c.table,
                    pk: old_pk,
                });
            }
            if a {
                out.push(Op::Replace {
                    table: c.table,
                    row: after,
                });
            }
        }
        (RowKind::Delete, Some(before), _) => {
            if kept(plan, filter, &before)? {
                out.push(Op::Delete {
                    table: c.table,
                    pk: pk_of(&before),
                });
            }
        }
        (kind, _, _) => bail!("a {kind:?} row change without its row image"),
    }
    Ok(())
}

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Bytes(b) => b.len(),
        _ => 8,
    }
}

/// How many of `ops` (at least one) go into one statement: the same kind on the
/// same table, within the row and byte limits.
pub(super) fn batch_len(ops: &[Op]) -> usize {
    let same = |a: &Op, b: &Op| match (a, b) {
        (Op::Replace { table: x, .. }, Op::Replace { table: y, .. }) => x == y,
        (Op::Delete { table: x, .. }, Op::Delete { table: y, .. }) => x == y,
        _ => false,
    };
    let mut bytes = 0;
    let mut n = 0;
    for op in ops {
        if n > 0 && (n >= BATCH_ROWS || !same(&ops[0], op)) {
            break;
        }
        let vals = match op {
            Op::Replace { row, .. } => row,
            Op::Delete { pk, .. } => pk,
        };
        let b: usize = vals.iter().map(value_bytes).sum();
        if n > 0 && bytes + b > BATCH_BYTES {
            break;
        }
        bytes += b;
        n += 1;
    }
    n
}

/// One statement for a batch of ops of one kind on one table.
pub(super) fn statement(plans: &[TablePlan], ops: &[Op]) -> (String, Vec<Value>) {
    let mut params = Vec::new();
    match &ops[0] {
        Op::Replace { table, row } => {
            let plan = &plans[*table];
            let one = format!("({})", vec!["?"; row.len()].join(","));
            let sql = format!(
                "REPLACE INTO {} ({}) VALUES {}",
                plan.qualified,
                plan.column_list,
                vec![one.as_str(); ops.len()].join(",")
            );
            for op in ops {
                if let Op::Replace { row, .. } = op {
                    params.extend(row.iter().cloned());
                }
            }
            (sql, params)
        }
        Op::Delete { table, .. } => {
            let plan = &plans[*table];
            let one = format!(
                "({})",
                plan.pk
                    .iter()
                    .map(|&i| format!("{} = ?", plan.columns[i]))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            );
            let sql = format!(
                "DELETE FROM {} WHERE {}",
                plan.qualified,
                vec![one.as_str(); ops.len()].join(" OR ")
            );
            for op in ops {
                if let Op::Delete { pk, .. } = op {
                    params.extend(pk.iter().cloned());
                }
            }
            (sql, params)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::moves::{MoveTable, SlotSpan};

    fn plan(key: Option<(usize, KeyType)>) -> TablePlan {
        TablePlan {
            key,
            pk: vec![0],
            qualified: "`d`.`t`".into(),
            columns: vec!["`id`".into(), "`v`".into()],
            column_list: "`id`,`v`".into(),
        }
    }

    fn filter(spans: Vec<SlotSpan>) -> Filter {
        Filter {
            db: "d".into(),
            tables: vec![MoveTable {
                name: "t".into(),
                key: "id".into(),
                key_type: KeyType::Integer,
            }],
            slots: 1024,
            spans,
            broadcast: Vec::new(),
        }
    }

    fn slot(i: i64) -> u32 {
        topo::slot::slot_of_int(i as i128, 1024)
    }

    fn change(kind: RowKind, before: Option<i64>, after: Option<i64>) -> RowChange {
        let row = |k: i64| vec![Value::Int(k), Value::Bytes(b"x".to_vec())];
        RowChange {
            table: 0,
            kind,
            before: before.map(row),
            after: after.map(row),
        }
    }

    fn ops(f: &Filter, c: RowChange) -> Vec<String> {
        let mut out = Vec::new();
        ops_of(&[plan(Some((0, KeyType::Integer)))], f, c, &mut out).unwrap();
        out.iter()
            .map(|o| match o {
                Op::Replace { row, .. } => format!("R{:?}", row[0]),
                Op::Delete { pk, .. } => format!("D{:?}", pk[0]),
            })
            .collect()
    }

    #[test]
    fn updates_follow_the_slots() {
        let s = slot(1);
        let f = filter(vec![SlotSpan {
            start: s,
            end: s + 1,
        }]);
        let out = (2..10_000).find(|&k| slot(k) != s).unwrap();
        let inn = (2..10_000).find(|&k| slot(k) == s).unwrap();
        assert_eq!(ops(&f, change(RowKind::Insert, None, Some(1))), ["RInt(1)"]);
        assert!(ops(&f, change(RowKind::Insert, None, Some(out))).is_empty());
        assert_eq!(
            ops(&f, change(RowKind::Update, Some(1), Some(1))),
            ["RInt(1)"]
        );
        assert_eq!(
            ops(&f, change(RowKind::Update, Some(1), Some(out))),
            ["DInt(1)"]
        );
        assert_eq!(
            ops(&f, change(RowKind::Update, Some(out), Some(1))),
            ["RInt(1)"]
        );
        assert_eq!(
            ops(&f, change(RowKind::Update, Some(1), Some(inn))),
            ["DInt(1)".to_string(), format!("RInt({inn})")]
        );
        assert!(ops(&f, change(RowKind::Update, Some(out), Some(out))).is_empty());
        assert_eq!(ops(&f, change(RowKind::Delete, Some(1), None)), ["DInt(1)"]);
        assert!(ops(&f, change(RowKind::Delete, Some(out), None)).is_empty());
    }

    #[test]
    fn statements_batch_by_kind_and_table() {
        let r = |k| Op::Replace {
            table: 0,
            row: vec![Value::Int(k), Value::NULL],
        };
        let d = |k| Op::Delete {
            table: 0,
            pk: vec![Value::Int(k)],
        };
        let ops = [r(1), r(2), d(3), d(4), r(5)];
        assert_eq!(batch_len(&ops), 2);
        assert_eq!(batch_len(&ops[2..]), 2);
        let plans = [plan(None)];
        let (sql, params) = statement(&plans, &ops[..2]);
        assert_eq!(sql, "REPLACE INTO `d`.`t` (`id`,`v`) VALUES (?,?),(?,?)");
        assert_eq!(params.len(), 4);
        let (sql, _) = statement(&plans, &ops[2..4]);
        assert_eq!(sql, "DELETE FROM `d`.`t` WHERE (`id` = ?) OR (`id` = ?)");
        let big = Op::Replace {
            table: 0,
            row: vec![Value::Int(1), Value::Bytes(vec![0; BATCH_BYTES])],
        };
        assert_eq!(batch_len(&[big.clone(), big]), 1);
    }

    #[test]
    fn null_keys_are_in_no_slot() {
        assert_eq!(
            value_slot(&Value::NULL, KeyType::Integer, 1024).unwrap(),
            None
        );
        assert_eq!(
            value_slot(&Value::UInt(u64::MAX), KeyType::Integer, 1024).unwrap(),
            Some(topo::slot::slot_of_int(u64::MAX as i128, 1024))
        );
        assert_eq!(
            value_slot(&Value::Bytes(b"Ab ".to_vec()), KeyType::Text, 1024).unwrap(),
            topo::slot::slot_of(b"ab", KeyType::Text, 1024)
        );
        assert!(value_slot(&Value::Bytes(vec![0xff]), KeyType::Text, 1024).is_err());
    }
}
