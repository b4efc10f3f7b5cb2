//! Row images of the binlog decoded into values to bind elsewhere: each column in
//! its binlog format (mysql_common's decoders, but negative `TIME(1|2)` by hand),
//! then what the binlog loses without `binlog_row_metadata` restored from the
//! column's `information_schema` type.

use anyhow::{anyhow, bail, Context};
use mysql_async::binlog::events::TableMapEvent;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::consts::ColumnType;
use mysql_async::Value;
use mysql_common::io::ParseBuf;

use super::{Column, TableSchema};

/// One row image (every column: `binlog_row_image=FULL`) as values to bind, in
/// ordinal order: the null bitmap, then each non-NULL value in its binlog format.
pub(super) fn read_image<'a>(
    tme: &'a TableMapEvent<'_>,
    schema: &TableSchema,
    present: usize,
    buf: &mut ParseBuf<'a>,
) -> anyhow::Result<Vec<Value>> {
    let ncols = schema.columns.len();
    if present != ncols {
        bail!(
            "a binlog row of `{}` holds {present} of its {ncols} columns: binlog_row_image must be FULL",
            schema.name,
        );
    }
    let nulls = buf
        .checked_eat(ncols.div_ceil(8))
        .ok_or_else(|| anyhow!("truncated binlog row of `{}`", schema.name))?;
    let mut values = Vec::with_capacity(ncols);
    for (i, col) in schema.columns.iter().enumerate() {
        if nulls[i / 8] & (1 << (i % 8)) != 0 {
            values.push(Value::NULL);
            continue;
        }
        let ty = tme
            .get_column_type(i)
            .map_err(|e| anyhow!("column {} of `{}`: {e}", col.name, schema.name))?
            .ok_or_else(|| anyhow!("column {} of `{}` has no type", col.name, schema.name))?;
        // Missing metadata would index out of bounds in mysql_common's decoders.
        let meta = tme.get_column_metadata(i).ok_or_else(|| {
            anyhow!(
                "column {} of `{}`: the table map has no metadata for it",
                col.name,
                schema.name
            )
        })?;
        check_meta(ty, meta)
            .map_err(|e| anyhow!("column {} of `{}`: {e}", col.name, schema.name))?;
        // A DATETIME2 below its offset (no MariaDB writes one) overflows in mysql_common.
        if ty == ColumnType::MYSQL_TYPE_DATETIME2 && buf.0.first().is_some_and(|b| b & 0x80 == 0) {
            bail!(
                "column {} of `{}`: a negative DATETIME",
                col.name,
                schema.name
            );
        }
        let v = match (ty, meta.first()) {
            (ColumnType::MYSQL_TYPE_TIME2, Some(&dec @ 1..=2)) => time2_short(buf, dec)?,
            _ => {
                // mysql_common's decoders trust the server's bytes (a DECIMAL digit
                // group out of range overflows): a value no MariaDB writes is an
                // error of this move, never a panic of the scheduler.
                let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    buf.parse::<BinlogValue<'_>>((ty, meta, false, false))
                        .map(Value::try_from)
                }))
                .map_err(|_| {
                    anyhow!(
                        "column {} of `{}`: an undecodable {ty:?} value",
                        col.name,
                        schema.name
                    )
                })?;
                decoded
                    .with_context(|| format!("decode column {} of `{}`", col.name, schema.name))?
                    .map_err(|e| anyhow!("column {} of `{}`: {e}", col.name, schema.name))?
            }
        };
        values.push(bindable(v, col));
    }
    Ok(values)
}

/// Refuses column metadata no MariaDB writes (mysql_common's decoders trust it
/// and would panic): too short for the type, a DECIMAL's precision and scale,
/// fractional seconds.
fn check_meta(ty: ColumnType, meta: &[u8]) -> anyhow::Result<()> {
    use ColumnType::*;
    let needed = match ty {
        MYSQL_TYPE_BIT
        | MYSQL_TYPE_NEWDECIMAL
        | MYSQL_TYPE_ENUM
        | MYSQL_TYPE_SET
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING => 2,
        MYSQL_TYPE_TIMESTAMP2
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIME2
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_GEOMETRY
        | MYSQL_TYPE_VECTOR
        | MYSQL_TYPE_TYPED_ARRAY => 1,
        _ => 0,
    };
    if meta.len() < needed {
        bail!("{ty:?} with {} bytes of metadata", meta.len());
    }
    match (ty, meta) {
        (ColumnType::MYSQL_TYPE_NEWDECIMAL, &[precision, scale, ..])
            if precision == 0 || precision > 65 || scale > 38 || scale > precision =>
        {
            bail!("DECIMAL({precision},{scale}) in the table map")
        }
        (
            ColumnType::MYSQL_TYPE_TIME2
            | ColumnType::MYSQL_TYPE_DATETIME2
            | ColumnType::MYSQL_TYPE_TIMESTAMP2,
            &[fsp, ..],
        ) if fsp > 6 => bail!("fractional seconds precision {fsp} in the table map"),
        _ => Ok(()),
    }
}

/// A `TIME(1)` / `TIME(2)` value (mysql_common 0.37.3 overflows on negative ones):
/// 3 bytes of `hms + 0x800000` big-endian, 1 byte of hundredths.
fn time2_short(buf: &mut ParseBuf<'_>, dec: u8) -> anyhow::Result<Value> {
    let b = buf
        .checked_eat(4)
        .ok_or_else(|| anyhow!("truncated TIME({dec}) value"))?;
    let mut int = (((b[0] as i64) << 16) | ((b[1] as i64) << 8) | b[2] as i64) - 0x80_0000;
    let mut frac = b[3] as i64;
    if int < 0 && frac > 0 {
        int += 1;
        frac -= 0x100;
    }
    Ok(mysql_common::binlog::misc::time_from_packed(
        (int << 24) + frac * 10_000,
    ))
}

/// A binlog value as a value to bind into the same column elsewhere: the binlog
/// carries unsigned integers as signed (no signedness metadata), TIMESTAMP as Unix
/// seconds, YEAR 0 as 1900, SET as a bit mask, and strips `binary(n)`'s padding.
pub fn bindable(v: Value, c: &Column) -> Value {
    match (v, c.data_type.as_str()) {
        (Value::Int(i), t) if c.unsigned => Value::UInt(match t {
            "tinyint" => i as u8 as u64,
            "smallint" => i as u16 as u64,
            "mediumint" => (i as u64) & 0xFF_FFFF,
            "int" => i as u32 as u64,
            _ => i as u64,
        }),
        (Value::Bytes(b), "timestamp") => match timestamp_text(&b) {
            Some(t) => Value::Bytes(t.into_bytes()),
            None => Value::Bytes(b),
        },
        (Value::Int(i), "timestamp") => timestamp_text(i.to_string().as_bytes())
            .map(|t| Value::Bytes(t.into_bytes()))
            .unwrap_or(Value::Int(i)),
        (Value::Bytes(b), "year") => {
            let y: i64 = std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            Value::Int(if y == 1900 { 0 } else { y })
        }
        (Value::Bytes(b), "set") => {
            let mut mask = 0u64;
            for (i, byte) in b.iter().take(8).enumerate() {
                mask |= (*byte as u64) << (8 * i);
            }
            Value::UInt(mask)
        }
        (Value::Bytes(mut b), "binary") => {
            if let Some(n) = c.octet_len {
                if (b.len() as u64) < n {
                    b.resize(n as usize, 0);
                }
            }
            Value::Bytes(b)
        }
        (v, _) => v,
    }
}

/// `"<unix seconds>[.<micros>]"` → `YYYY-MM-DD hh:mm:ss[.ffffff]` in UTC (the target
/// session runs with `time_zone='+00:00'`); 0 is the zero timestamp.
fn timestamp_text(b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?;
    let (secs, frac) = match s.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (s, None),
    };
    let secs: i64 = secs.parse().ok()?;
    if secs == 0 {
        return Some(match frac {
            Some(f) => format!("0000-00-00 00:00:00.{f}"),
            None => "0000-00-00 00:00:00".to_string(),
        });
    }
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: &str, unsigned: bool) -> Column {
        Column {
            name: "c".into(),
            data_type: t.into(),
            unsigned,
            octet_len: Some(4),
            charset: None,
        }
    }

    #[test]
    fn values_become_bindable() {
        assert_eq!(
            bindable(Value::Int(-1), &col("int", true)),
            Value::UInt(4_294_967_295)
        );
        assert_eq!(
            bindable(Value::Int(-1), &col("bigint", true)),
            Value::UInt(u64::MAX)
        );
        assert_eq!(
            bindable(Value::Int(-1), &col("mediumint", true)),
            Value::UInt(0xFF_FFFF)
        );
        assert_eq!(bindable(Value::Int(-1), &col("int", false)), Value::Int(-1));
        assert_eq!(
            bindable(
                Value::Bytes(b"1700000000.123000".to_vec()),
                &col("timestamp", false)
            ),
            Value::Bytes(b"2023-11-14 22:13:20.123000".to_vec())
        );
        assert_eq!(
            bindable(Value::Bytes(b"1900".to_vec()), &col("year", false)),
            Value::Int(0)
        );
        assert_eq!(
            bindable(Value::Bytes(vec![5, 1]), &col("set", false)),
            Value::UInt(261)
        );
        assert_eq!(
            bindable(Value::Bytes(b"ab".to_vec()), &col("binary", false)),
            Value::Bytes(b"ab\0\0".to_vec())
        );
    }
}
