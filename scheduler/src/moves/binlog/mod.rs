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
use mysql_async::prelude::*;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts, Value};
use mysql_common::io::ParseBuf;
use topo::gtid::Gtid;

#[cfg(any(test, feature = "fuzz"))]
#[doc(hidden)]
pub mod fuzz;
mod image;

pub use image::bindable;
use image::read_image;

/// MariaDB event types the library does not decode.
const MARIA_ANNOTATE_ROWS: u8 = 160;
const MARIA_BINLOG_CHECKPOINT: u8 = 161;
const MARIA_GTID: u8 = 162;
const MARIA_GTID_LIST: u8 = 163;
const MARIA_START_ENCRYPTION: u8 = 164;

/// How long the source may take to start a binlog stream.
const OPEN_WAIT: Duration = Duration::from_secs(10);

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
    let pk_names = crate::moves::sql::primary_key(conn, db, table)
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
    /// The first event, read at open (a refused start position fails the open).
    first: Option<BinlogEvent>,
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
        let mut reader = Self {
            stream,
            db: db.to_string(),
            tables: schemas,
            ids: HashMap::new(),
            first: None,
        };
        // The source answers at once: a (fake) rotation, or why it cannot start
        // there (a position it does not have, a duplicate server_id, ...).
        reader.first = reader
            .next(OPEN_WAIT)
            .await
            .with_context(|| format!("start the source's binlog at {from_gtid:?}"))?;
        Ok(reader)
    }

    pub fn tables(&self) -> &[TableSchema] {
        &self.tables
    }

    /// The next event, or `None` when nothing arrived within `wait`.
    pub async fn next(&mut self, wait: Duration) -> anyhow::Result<Option<BinlogEvent>> {
        if let Some(ev) = self.first.take() {
            return Ok(Some(ev));
        }
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
        let images = read_rows(
            tme,
            schema,
            rows.columns_before_image().map(|b| b.count_ones()),
            rows.columns_after_image().map(|b| b.count_ones()),
            rows.rows_data(),
        )?;
        let out = images
            .into_iter()
            .map(|(before, after)| RowChange {
                table: ti,
                kind,
                before,
                after,
            })
            .collect();
        Ok(BinlogEvent::Rows(out))
    }

    /// Closes the binlog connection.
    pub async fn close(self) {
        let _ = self.stream.close().await;
    }
}

/// A before and/or after image of one changed row.
pub(super) type Images = (Option<Vec<Value>>, Option<Vec<Value>>);

/// The rows of one rows event: each row's before and/or after image, `before`
/// and `after` being how many columns each image holds (`None`: the event has
/// no such image). Every row consumes bytes, or the event is refused.
pub(super) fn read_rows(
    tme: &TableMapEvent<'_>,
    schema: &TableSchema,
    before: Option<usize>,
    after: Option<usize>,
    data: &[u8],
) -> anyhow::Result<Vec<Images>> {
    let mut buf = ParseBuf(data);
    let mut out = Vec::new();
    while !buf.is_empty() {
        let left = buf.len();
        let b = match before {
            Some(n) => Some(read_image(tme, schema, n, &mut buf)?),
            None => None,
        };
        let a = match after {
            Some(n) => Some(read_image(tme, schema, n, &mut buf)?),
            None => None,
        };
        if buf.len() == left {
            bail!("a binlog row of `{}` without any image", schema.name);
        }
        out.push((b, a));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
