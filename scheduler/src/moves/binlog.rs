//! A source primary's binlog, streamed from a MariaDB GTID position and decoded
//! into the few things a slot move's catch-up needs: transaction boundaries (GTID,
//! XID/COMMIT, XA prepare/commit), and the row changes of the watched tables with
//! their values ready to bind on another server.
//!
//! MariaDB specifics (checked on 10.11 with mysql_async 0.37): the start position is
//! given with `@slave_connect_state` on the connection before a plain (file-less)
//! dump request; GTID (162) and GTID_LIST (163) events arrive as events the library
//! does not know and are parsed here. Column names, primary keys and signedness come
//! from `information_schema` at open (DDL on a moving table is blocked during a move),
//! so the source needs no `binlog_row_metadata`. Anything that could carry row
//! changes this reader does not decode (compressed or statement-based events, a
//! partial row image) is an error, never skipped.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures::StreamExt;
use mysql_async::binlog::events::{EventData, RowsEventData, TableMapEvent};
use mysql_async::binlog::value::BinlogValue;
use mysql_async::consts::ColumnType;
use mysql_async::prelude::*;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts, Value};
use mysql_common::io::ParseBuf;
use topo::gtid::Gtid;

/// MariaDB event types the library does not decode.
const MARIA_ANNOTATE_ROWS: u8 = 160;
const MARIA_BINLOG_CHECKPOINT: u8 = 161;
const MARIA_GTID: u8 = 162;
const MARIA_GTID_LIST: u8 = 163;
const MARIA_START_ENCRYPTION: u8 = 164;

/// GTID event flags (MariaDB `Gtid_log_event::flags2`).
pub const FL_STANDALONE: u8 = 1;
const FL_GROUP_COMMIT_ID: u8 = 2;
pub const FL_PREPARED_XA: u8 = 64;
pub const FL_COMPLETED_XA: u8 = 128;

/// One column of a watched table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// `information_schema.COLUMNS.DATA_TYPE`, lower case (`int`, `varchar`, ...).
    pub data_type: String,
    pub unsigned: bool,
    /// `CHARACTER_OCTET_LENGTH` (fixed-length `binary(n)` is padded back to it).
    pub octet_len: Option<u64>,
    /// `CHARACTER_SET_NAME` of a string column.
    pub charset: Option<String>,
}

/// A watched table's columns (in ordinal order) and primary key (column indexes).
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<Column>,
    pub pk: Vec<usize>,
}

impl TableSchema {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// name, data type, column type, octet length, character set.
type ColumnRow = (String, String, String, Option<u64>, Option<String>);

/// Reads `db.table`'s columns and primary key from `information_schema`.
pub async fn load_schema(conn: &mut Conn, db: &str, table: &str) -> anyhow::Result<TableSchema> {
    let rows: Vec<ColumnRow> = conn
        .exec(
            "SELECT COLUMN_NAME, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), CHARACTER_OCTET_LENGTH, \
             LOWER(CHARACTER_SET_NAME) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        .await
        .with_context(|| format!("read the columns of `{db}`.`{table}`"))?;
    if rows.is_empty() {
        bail!("table `{db}`.`{table}` does not exist on the source");
    }
    let columns: Vec<Column> = rows
        .into_iter()
        .map(
            |(name, data_type, column_type, octet_len, charset)| Column {
                name,
                unsigned: column_type.contains("unsigned"),
                data_type,
                octet_len,
                charset,
            },
        )
        .collect();
    let pk_names: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' \
             ORDER BY SEQ_IN_INDEX",
            (db, table),
        )
        .await
        .with_context(|| format!("read the primary key of `{db}`.`{table}`"))?;
    if pk_names.is_empty() {
        bail!("table `{db}`.`{table}` has no primary key: its rows cannot be moved");
    }
    let mut schema = TableSchema {
        name: table.to_string(),
        columns,
        pk: Vec::new(),
    };
    for n in &pk_names {
        let i = schema
            .column_index(n)
            .ok_or_else(|| anyhow!("primary key column {n} of `{db}`.`{table}` not found"))?;
        schema.pk.push(i);
    }
    Ok(schema)
}

/// Refuses a source whose binlog cannot be followed row by row.
pub async fn check_source(conn: &mut Conn) -> anyhow::Result<()> {
    let row: Option<(u32, String, String, String)> = conn
        .query_first(
            "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, \
             IF(@@log_bin_compress, 'ON', 'OFF')",
        )
        .await
        .context("read the source's binlog settings")?;
    let (log_bin, format, image, compress) =
        row.ok_or_else(|| anyhow!("the source's binlog settings are unreadable"))?;
    if log_bin == 0 {
        bail!("the source has no binlog (log_bin=OFF): its changes cannot be caught up");
    }
    if !format.eq_ignore_ascii_case("ROW") {
        bail!("the source's binlog_format is {format}: a slot move needs binlog_format=ROW");
    }
    if !image.eq_ignore_ascii_case("FULL") {
        bail!("the source's binlog_row_image is {image}: a slot move needs binlog_row_image=FULL");
    }
    if compress != "OFF" {
        bail!("the source has log_bin_compress=ON: compressed row events cannot be decoded");
    }
    Ok(())
}

/// What a GTID event says: the transaction's GTID, flags and, for XA, its xid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidEvent {
    pub gtid: Gtid,
    pub flags: u8,
    /// `formatID`, gtrid and bqual of an XA transaction (its identity).
    pub xid: Option<Vec<u8>>,
}

/// Parses a MariaDB GTID event's body: seq u64 LE, domain u32 LE, flags u8, then
/// (flag 2) a commit id u64 and (flags 64/128) an XID.
pub fn parse_gtid_event(data: &[u8], server_id: u32) -> anyhow::Result<GtidEvent> {
    if data.len() < 13 {
        bail!("short GTID event ({} bytes)", data.len());
    }
    let seq = u64::from_le_bytes(data[0..8].try_into()?);
    let domain = u32::from_le_bytes(data[8..12].try_into()?);
    let flags = data[12];
    let mut at = 13;
    if flags & FL_GROUP_COMMIT_ID != 0 {
        at += 8;
    }
    let xid = if flags & (FL_PREPARED_XA | FL_COMPLETED_XA) != 0 {
        let head = data
            .get(at..at + 6)
            .ok_or_else(|| anyhow!("short XA GTID event"))?;
        let len = head[4] as usize + head[5] as usize;
        let body = data
            .get(at..at + 6 + len)
            .ok_or_else(|| anyhow!("short XA GTID event"))?;
        Some(body.to_vec())
    } else {
        None
    };
    Ok(GtidEvent {
        gtid: Gtid {
            domain,
            server: server_id,
            seq,
        },
        flags,
        xid,
    })
}

/// The kind of a row change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Insert,
    Update,
    Delete,
}

/// One changed row of a watched table: before and/or after image, every column in
/// ordinal order, values ready to bind.
#[derive(Debug, Clone)]
pub struct RowChange {
    /// Index of the table in the watched list.
    pub table: usize,
    pub kind: RowKind,
    pub before: Option<Vec<Value>>,
    pub after: Option<Vec<Value>>,
}

/// A decoded binlog event.
#[derive(Debug)]
pub enum BinlogEvent {
    /// A transaction (event group) begins.
    Gtid(GtidEvent),
    /// Row changes of a watched table.
    Rows(Vec<RowChange>),
    /// A transaction commits (XID event).
    Xid,
    /// A query event: `BEGIN`, `COMMIT`, `XA COMMIT ...`, DDL, ...
    Query { schema: String, text: String },
    /// `XA PREPARE`: the group's end for a prepared XA transaction.
    XaPrepare,
    /// Anything else (rotation, format description, rows of other tables, ...).
    Other,
}

/// The stream of one source's binlog.
pub struct BinlogReader {
    stream: BinlogStream,
    db: String,
    tables: Vec<TableSchema>,
    /// table_id → index into `tables` (None: not watched), decided once per table map.
    ids: HashMap<u64, Option<usize>>,
}

impl BinlogReader {
    /// Connects to the source, checks its settings, reads the watched tables'
    /// schemas and asks for its binlog from `from_gtid` ("" = the beginning).
    pub async fn open(
        source: Opts,
        db: &str,
        tables: &[String],
        from_gtid: &str,
        server_id: u32,
    ) -> anyhow::Result<Self> {
        let mut conn = Conn::new(source)
            .await
            .context("connect to the source primary")?;
        check_source(&mut conn).await?;
        let mut schemas = Vec::with_capacity(tables.len());
        for t in tables {
            schemas.push(load_schema(&mut conn, db, t).await?);
        }
        let from = topo::gtid::GtidPos::parse(from_gtid).map_err(|e| anyhow!(e))?;
        conn.query_drop("SET @mariadb_slave_capability=4").await?;
        conn.exec_drop("SET @slave_connect_state=?", (from.to_string(),))
            .await?;
        conn.query_drop("SET @slave_gtid_strict_mode=1").await?;
        conn.query_drop("SET @slave_gtid_ignore_duplicates=0")
            .await?;
        let stream = conn
            .get_binlog_stream(BinlogStreamRequest::new(server_id))
            .await
            .with_context(|| format!("ask the source for its binlog from {from_gtid:?}"))?;
        Ok(Self {
            stream,
            db: db.to_string(),
            tables: schemas,
            ids: HashMap::new(),
        })
    }

    pub fn tables(&self) -> &[TableSchema] {
        &self.tables
    }

    /// The next event, or `None` when nothing arrived within `wait`.
    pub async fn next(&mut self, wait: Duration) -> anyhow::Result<Option<BinlogEvent>> {
        let ev = match tokio::time::timeout(wait, self.stream.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => bail!("the source ended the binlog stream"),
            Ok(Some(ev)) => ev.context("read the source's binlog")?,
        };
        self.decode(&ev).map(Some)
    }

    fn decode(&mut self, ev: &mysql_async::binlog::events::Event) -> anyhow::Result<BinlogEvent> {
        let header = ev.header();
        let raw = header.event_type_raw();
        match raw {
            MARIA_GTID => {
                return Ok(BinlogEvent::Gtid(parse_gtid_event(
                    ev.data(),
                    header.server_id(),
                )?))
            }
            MARIA_ANNOTATE_ROWS
            | MARIA_BINLOG_CHECKPOINT
            | MARIA_GTID_LIST
            | MARIA_START_ENCRYPTION => return Ok(BinlogEvent::Other),
            _ => {}
        }
        let data = match ev.read_data().context("decode a binlog event")? {
            Some(d) => d,
            None => bail!(
                "binlog event type {raw} cannot be decoded (compressed or unknown events may \
                 carry row changes: refusing to skip it)"
            ),
        };
        Ok(match data {
            EventData::XidEvent(_) => BinlogEvent::Xid,
            EventData::QueryEvent(q) => BinlogEvent::Query {
                schema: q.schema().into_owned(),
                text: q.query().into_owned(),
            },
            EventData::XaPrepareLogEvent(_) => BinlogEvent::XaPrepare,
            EventData::IncidentEvent(i) => bail!(
                "the source's binlog has an incident (events lost): {:?}",
                i.message()
            ),
            EventData::RowsEvent(rows) => self.rows(&rows)?,
            EventData::TableMapEvent(t) => {
                // A new map for an id: decide again whether it is watched.
                self.ids.remove(&t.table_id());
                BinlogEvent::Other
            }
            EventData::FormatDescriptionEvent(_)
            | EventData::RotateEvent(_)
            | EventData::HeartbeatEvent
            | EventData::IgnorableEvent(_)
            | EventData::RowsQueryEvent(_)
            | EventData::StopEvent
            | EventData::IntvarEvent(_)
            | EventData::RandEvent(_)
            | EventData::UserVarEvent(_)
            | EventData::UnknownEvent => BinlogEvent::Other,
            other => bail!(
                "binlog event type {raw} is not supported by the slot move's catch-up: {:?}",
                std::mem::discriminant(&other)
            ),
        })
    }

    fn watched(&mut self, table_id: u64) -> anyhow::Result<Option<usize>> {
        if let Some(w) = self.ids.get(&table_id) {
            return Ok(*w);
        }
        let tme = self
            .stream
            .get_tme(table_id)
            .ok_or_else(|| anyhow!("row event for table id {table_id} without its table map"))?;
        let w = if tme.database_name() == self.db.as_str() {
            let name = tme.table_name();
            self.tables.iter().position(|t| t.name == name.as_ref())
        } else {
            None
        };
        self.ids.insert(table_id, w);
        Ok(w)
    }

    fn rows(&mut self, rows: &RowsEventData<'_>) -> anyhow::Result<BinlogEvent> {
        let kind = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                RowKind::Insert
            }
            RowsEventData::UpdateRowsEventV1(_) | RowsEventData::UpdateRowsEvent(_) => {
                RowKind::Update
            }
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                RowKind::Delete
            }
            RowsEventData::PartialUpdateRowsEvent(_) => {
                bail!("partial (JSON) row updates are not supported by the slot move's catch-up")
            }
        };
        let table_id = rows.table_id();
        let Some(ti) = self.watched(table_id)? else {
            return Ok(BinlogEvent::Other);
        };
        let tme = self
            .stream
            .get_tme(table_id)
            .ok_or_else(|| anyhow!("row event for table id {table_id} without its table map"))?;
        let schema = &self.tables[ti];
        if tme.columns_count() as usize != schema.columns.len() {
            bail!(
                "binlog row of `{}`.`{}` has {} columns, the table has {} (DDL during the move?)",
                self.db,
                schema.name,
                tme.columns_count(),
                schema.columns.len()
            );
        }
        let mut buf = ParseBuf(rows.rows_data());
        let mut out = Vec::new();
        while !buf.is_empty() {
            let before = match rows.columns_before_image() {
                Some(bits) => Some(read_image(tme, schema, bits.count_ones(), &mut buf)?),
                None => None,
            };
            let after = match rows.columns_after_image() {
                Some(bits) => Some(read_image(tme, schema, bits.count_ones(), &mut buf)?),
                None => None,
            };
            out.push(RowChange {
                table: ti,
                kind,
                before,
                after,
            });
        }
        Ok(BinlogEvent::Rows(out))
    }

    /// Closes the binlog connection.
    pub async fn close(self) {
        let _ = self.stream.close().await;
    }
}

/// One row image (every column: `binlog_row_image=FULL`) as values to bind, in
/// ordinal order: the null bitmap, then each non-NULL value in its binlog format.
fn read_image<'a>(
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
        let meta = tme.get_column_metadata(i).unwrap_or(&[]);
        let v = match (ty, meta.first()) {
            (ColumnType::MYSQL_TYPE_TIME2, Some(&dec @ 1..=2)) => time2_short(buf, dec)?,
            _ => {
                let v: BinlogValue<'_> = buf
                    .parse((ty, meta, false, false))
                    .with_context(|| format!("decode column {} of `{}`", col.name, schema.name))?;
                Value::try_from(v)
                    .map_err(|e| anyhow!("column {} of `{}`: {e}", col.name, schema.name))?
            }
        };
        values.push(bindable(v, col));
    }
    Ok(values)
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
    fn gtid_event_parses() {
        let mut d = Vec::new();
        d.extend_from_slice(&57u64.to_le_bytes());
        d.extend_from_slice(&3u32.to_le_bytes());
        d.push(FL_STANDALONE);
        let g = parse_gtid_event(&d, 101).unwrap();
        assert_eq!(
            g.gtid,
            Gtid {
                domain: 3,
                server: 101,
                seq: 57
            }
        );
        assert_eq!(g.flags, FL_STANDALONE);
        assert!(g.xid.is_none());
        // XA with a commit id.
        let mut d = Vec::new();
        d.extend_from_slice(&9u64.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        d.push(FL_PREPARED_XA | FL_GROUP_COMMIT_ID);
        d.extend_from_slice(&77u64.to_le_bytes());
        d.extend_from_slice(&1u32.to_le_bytes());
        d.extend_from_slice(&[2, 1, b'a', b'b', b'c']);
        let g = parse_gtid_event(&d, 1).unwrap();
        assert_eq!(
            g.xid.as_deref(),
            Some(&[1, 0, 0, 0, 2, 1, b'a', b'b', b'c'][..])
        );
        assert!(parse_gtid_event(&d[..5], 1).is_err());
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
