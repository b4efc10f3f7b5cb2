//! `CALL p(...)`: on the home set of the procedure's database, where procedures
//! are created (`schema::routines`); every result set passes through.

use sqlparser::ast::Function;

use super::analyze::split_name;
use super::place::{is_system_schema, single, Ctx};
use super::planned::{Merge, Plan, Target};
use crate::error::ProxyError;

pub(super) fn plan_call(ctx: &Ctx<'_>, f: &Function) -> Result<Plan, ProxyError> {
    let (db, _) = split_name(&f.name);
    let db = db
        .as_deref()
        .or(ctx.db)
        .ok_or(ProxyError::NoDatabaseSelected)?;
    if is_system_schema(db) {
        return single(Vec::new(), ctx);
    }
    let rec = ctx
        .snap
        .db(db)
        .ok_or_else(|| ProxyError::UnknownDatabase(db.to_string()))?;
    Ok(Plan {
        target: Target::Sets(vec![rec.home_set.clone()]),
        merge: Merge::Single,
    })
}
