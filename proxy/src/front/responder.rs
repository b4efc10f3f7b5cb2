//! [`Responder`]: how a handler writes a command's answer — OK, ERR, or a result
//! set (column definitions, rows, EOF) — with the right status flags.

use std::io;

use mysql_common::constants::StatusFlags;
use mysql_common::packets::Column;

use super::packet::PacketIo;
use super::wire::{self, OkInfo};
use crate::error::ProxyError;

pub struct Responder<'a> {
    io: &'a mut PacketIo,
    /// Rows in the binary protocol (prepared statements), typed by `cols`.
    binary: bool,
    cols: Vec<Column>,
    /// Status flags of the session at the time of writing.
    pub status: StatusFlags,
    /// Set while more results of a multi-statement follow.
    more_results: bool,
    /// Whether the client allows several statements in one COM_QUERY.
    pub multi_statements: bool,
    /// Whether the client sends files for `LOAD DATA LOCAL INFILE`.
    pub local_files: bool,
    /// The next OK answers a `LOAD DATA` run as an INSERT
    /// (`session::load_data`): its info is rewritten in LOAD DATA's words.
    pub load_info: Option<LoadInfo>,
    /// In the current result set, the column naming a schema in an
    /// information_schema table: rows about the hidden schema are left out.
    hide_col: Option<usize>,
    /// The client's character set: error messages are written in it.
    pub codec: super::charset::Codec,
    /// The insert id the next OK reports instead of the backend's (ids the
    /// gateway assigned).
    pub insert_id: Option<u64>,
    /// Affected rows and insert id of the last OK written (the session's
    /// LAST_INSERT_ID() follows them).
    pub last_ok: Option<(u64, u64)>,
    /// The next OK answers an `INSERT ... SELECT` run as `INSERT ... VALUES`
    /// (`session::insert_select`): it carries the `Records:` info even for one
    /// row, as MariaDB's INSERT ... SELECT does.
    pub records_info: bool,
    /// The client's account: named in error messages instead of the backend's.
    pub account: Option<std::sync::Arc<super::account::Account>>,
    /// The MySQL code of the last error written (0: none since reset;
    /// `crate::observe`).
    pub error_code: u16,
    /// Rows written, raw answers' included (`crate::observe`).
    rows: super::rows::RowTally,
    /// Names for the next result set's columns: a prepared statement's items
    /// holding `?`, planned from its text with the values written in.
    pub names: Option<crate::sql::item_names::ItemNames>,
    /// The next result set's columns that are a prepared statement's bare `?`
    /// items, defined from the client's parameter types.
    pub params: Option<super::param_types::BareParams>,
    /// While a statement runs: its session's activity record, through which an
    /// error that is the interruption of a deadlock's victim is answered 1213
    /// (`crate::deadlock_victim::answer`).
    pub deadlock: Option<crate::deadlock_victim::Watch>,
    /// An error written was such a deadlock's answer: the session rolls its
    /// transaction back.
    pub deadlocked: bool,
}

/// A `LOAD DATA` answered by the INSERT it became: the file's rows and the
/// warnings reading them gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadInfo {
    /// Rows read from the file (`Records:`).
    pub records: u64,
    /// Warnings of reading the file (before the INSERT's own).
    pub warnings: u16,
    /// `REPLACE`: duplicates were replaced (`Deleted:`), else skipped (`Skipped:`).
    pub replace: bool,
}

impl LoadInfo {
    /// The INSERT's OK (`Records: n  Duplicates: d  Warnings: w`) as LOAD
    /// DATA's (`Records: n  Deleted: d  Skipped: s  Warnings: w`).
    fn answer(&self, ok: &OkInfo) -> OkInfo {
        let dups = ok
            .info
            .split("Duplicates:")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        let warnings = ok.warnings.saturating_add(self.warnings);
        let (deleted, skipped) = if self.replace { (dups, 0) } else { (0, dups) };
        OkInfo {
            warnings,
            info: format!(
                "Records: {}  Deleted: {deleted}  Skipped: {skipped}  Warnings: {warnings}",
                self.records
            ),
            // Explicit ids are not reported (an INSERT reports them); ids the
            // gateway assigned are, as [`Responder::insert_id`].
            last_insert_id: 0,
            ..ok.clone()
        }
    }
}

/// The gateway's own system database on every set (agents' heartbeats): never
/// shown to clients, not even through information_schema.
pub const HIDDEN_SCHEMA: &str = "setwise_sys";

impl<'a> Responder<'a> {
    pub(crate) fn new(io: &'a mut PacketIo, status: StatusFlags) -> Self {
        Self {
            io,
            binary: false,
            cols: Vec::new(),
            status,
            more_results: false,
            multi_statements: false,
            local_files: false,
            load_info: None,
            hide_col: None,
            codec: Default::default(),
            insert_id: None,
            last_ok: None,
            records_info: false,
            account: None,
            error_code: 0,
            rows: Default::default(),
            names: None,
            params: None,
            deadlock: None,
            deadlocked: false,
        }
    }

    /// `LOAD DATA LOCAL INFILE`: asks the client for file `name` and reads what
    /// it sends, up to an empty packet. `Err(n)` (the file's size) when it is
    /// larger than `limit` bytes: the rest is read and dropped.
    pub async fn local_infile(
        &mut self,
        name: &[u8],
        limit: usize,
    ) -> io::Result<Result<Vec<u8>, usize>> {
        let mut req = Vec::with_capacity(name.len() + 1);
        req.push(0xFB);
        req.extend_from_slice(name);
        self.io.write(&req).await?;
        self.io.flush().await?;
        let (mut data, mut size) = (Vec::new(), 0usize);
        loop {
            let Some(pkt) = self.io.read().await? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the client closed the connection while sending a LOAD DATA file",
                ));
            };
            if pkt.is_empty() {
                break;
            }
            size += pkt.len();
            if size <= limit {
                data.extend_from_slice(&pkt);
            } else {
                data = Vec::new();
            }
        }
        Ok(if size <= limit { Ok(data) } else { Err(size) })
    }

    /// Whether rows go out in the binary protocol.
    pub(crate) fn is_binary(&self) -> bool {
        self.binary
    }

    /// A responder that writes rows in the binary protocol (COM_STMT_EXECUTE).
    pub(crate) fn binary(io: &'a mut PacketIo, status: StatusFlags) -> Self {
        let mut r = Self::new(io, status);
        r.binary = true;
        r
    }

    /// Marks that another result follows the next OK/EOF (multi-statements).
    pub fn set_more_results(&mut self, more: bool) {
        self.more_results = more;
    }

    /// A count that moves whenever anything is written to the client: equal
    /// before and after, nothing of an answer was sent.
    pub fn packets_written(&self) -> u64 {
        self.io.written()
    }

    /// A statement starts: no error yet, and raw bytes start a new answer.
    pub fn begin_statement(&mut self) {
        self.error_code = 0;
        self.rows.answer_start();
    }

    /// Rows written to the client so far (every result of this responder).
    pub fn rows_sent(&self) -> u64 {
        self.rows.count()
    }

    /// Result sets started so far (every result of this responder).
    pub fn results_sent(&self) -> u64 {
        self.rows.results()
    }

    /// Whether the caller announced more results after this one.
    pub fn more_results(&self) -> bool {
        self.more_results
    }

    fn flags(&self) -> StatusFlags {
        let mut s = self.status;
        if self.more_results {
            s |= StatusFlags::SERVER_MORE_RESULTS_EXISTS;
        }
        s
    }

    pub async fn ok(&mut self, ok: &OkInfo) -> io::Result<()> {
        let st = self.flags();
        let with_info;
        let ok = if std::mem::take(&mut self.records_info) && ok.info.is_empty() {
            // One row (affected 1 = new; 0 or 2 = it met a duplicate).
            let dup = u64::from(ok.affected_rows != 1);
            with_info = OkInfo {
                info: format!("Records: 1  Duplicates: {dup}  Warnings: {}", ok.warnings),
                ..ok.clone()
            };
            &with_info
        } else {
            ok
        };
        let loaded;
        let ok = match self.load_info.take() {
            Some(l) => {
                loaded = l.answer(ok);
                &loaded
            }
            None => ok,
        };
        let replaced;
        // (Nothing inserted, e.g. INSERT IGNORE of a duplicate: MariaDB's 0.)
        let ok = match self.insert_id.filter(|_| ok.affected_rows > 0) {
            Some(id) => {
                replaced = OkInfo {
                    last_insert_id: id,
                    ..ok.clone()
                };
                &replaced
            }
            None => ok,
        };
        self.last_ok = Some((ok.affected_rows, ok.last_insert_id));
        self.io.write_with(|b| wire::ok_packet(b, ok, st)).await
    }

    pub async fn error(&mut self, e: &ProxyError) -> io::Result<()> {
        let victim = self
            .deadlock
            .as_ref()
            .and_then(|w| crate::deadlock_victim::answer(w, e));
        let e = match &victim {
            Some(d) => {
                self.deadlocked = true;
                d
            }
            None => e,
        };
        let (code, state, mut msg) = (e.code(), e.sqlstate().to_string(), e.to_string());
        if let Some(a) = &self.account {
            msg = a.mask(&msg).into_owned();
        }
        metrics::counter!(crate::metrics::ERRORS, "code" => code.to_string()).increment(1);
        self.error_code = code;
        self.io
            .write_with(|b| wire::err_packet_in(b, code, &state, &msg, self.codec))
            .await
    }

    /// Whether the next result set's column definitions are the gateway's to
    /// write (renamed or retyped items of a prepared statement), so its
    /// answer cannot be forwarded as a set sent it.
    pub fn rewrites_columns(&self) -> bool {
        self.names.is_some() || self.params.is_some()
    }

    /// Starts a result set: the column count and the column definitions.
    pub async fn columns(&mut self, cols: &[Column]) -> io::Result<()> {
        let retyped = self.params.take().and_then(|p| p.apply(cols));
        let cols = retyped.as_deref().unwrap_or(cols);
        self.rows.answer_start();
        self.rows.result_start();
        self.hide_col = cols.iter().position(|c| {
            c.schema_ref().eq_ignore_ascii_case(b"information_schema")
                && (c.org_name_ref().eq_ignore_ascii_case(b"SCHEMA_NAME")
                    || c.org_name_ref().eq_ignore_ascii_case(b"TABLE_SCHEMA"))
        });
        if self.binary {
            self.cols = cols.to_vec();
        }
        self.io
            .write_with(|b| wire::put_lenenc_int(b, cols.len() as u64))
            .await?;
        let names = self.names.take();
        let names = names.as_ref().map(|n| n.names(cols.len()));
        for (i, c) in cols.iter().enumerate() {
            match names.as_ref().and_then(|n| n[i]) {
                Some(name) => {
                    let c = c.clone().with_name(&self.codec.wire(name));
                    self.io.write_with(|b| wire::column_def(b, &c)).await?;
                }
                None => self.io.write_with(|b| wire::column_def(b, c)).await?,
            }
        }
        let st = self.flags();
        self.io.write_with(|b| wire::eof_packet(b, 0, st)).await
    }

    /// One row, from its values in text form: a text-protocol row (each value a
    /// length-encoded string, NULL as 0xfb), or in binary mode a binary row.
    pub async fn text_row<'v, I>(&mut self, values: I) -> io::Result<()>
    where
        I: IntoIterator<Item = Option<&'v [u8]>>,
    {
        if self.binary || self.hide_col.is_some() {
            let vals: Vec<Option<&[u8]>> = values.into_iter().collect();
            if let Some(i) = self.hide_col {
                if vals.get(i).copied().flatten() == Some(HIDDEN_SCHEMA.as_bytes()) {
                    return Ok(());
                }
            }
            self.rows.add(1);
            if !self.binary {
                return self
                    .io
                    .write_with(|b| {
                        for v in &vals {
                            match v {
                                Some(v) => wire::put_lenenc_str(b, v),
                                None => b.push(0xfb),
                            }
                        }
                    })
                    .await;
            }
            let cols = &self.cols;
            return self
                .io
                .write_with(|b| super::binary::encode_row(b, cols, &vals))
                .await;
        }
        self.rows.add(1);
        self.io
            .write_with(|b| {
                for v in values {
                    match v {
                        Some(v) => wire::put_lenenc_str(b, v),
                        None => b.push(0xfb),
                    }
                }
            })
            .await
    }

    /// One binary-protocol row of typed values (a backend's binary row).
    pub async fn values_row(&mut self, values: &[mysql_common::value::Value]) -> io::Result<()> {
        if let Some(i) = self.hide_col {
            if matches!(values.get(i), Some(mysql_common::value::Value::Bytes(b)) if b == HIDDEN_SCHEMA.as_bytes())
            {
                return Ok(());
            }
        }
        self.rows.add(1);
        let cols = &self.cols;
        self.io
            .write_with(|b| super::binary::encode_values_row(b, cols, values))
            .await
    }

    /// A backend's answer, raw packets forwarded as they came (the fast path;
    /// never for information_schema reads, whose rows may need hiding).
    pub async fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(code) = self.rows.raw(bytes) {
            // An error MariaDB sent, forwarded as is.
            metrics::counter!(crate::metrics::ERRORS, "code" => code.to_string()).increment(1);
            self.error_code = code;
        }
        self.io.write_raw(bytes).await
    }

    /// Ends a result set.
    pub async fn end_rows(&mut self, warnings: u16) -> io::Result<()> {
        let st = self.flags();
        self.io
            .write_with(|b| wire::eof_packet(b, warnings, st))
            .await
    }

    /// Sends what is buffered (e.g. before a slow backend step).
    pub async fn flush(&mut self) -> io::Result<()> {
        self.io.flush().await
    }
}

/// What a statement handler returns. `Ok(true)`: answered; `Ok(false)`: an
/// error was sent to the client; `Err`: the client connection broke.
pub type Answered = io::Result<bool>;

/// Sends `e` as the statement's answer: `Ok(false)` (answered with an error).
pub async fn fail(out: &mut Responder<'_>, e: &ProxyError) -> Answered {
    out.error(e).await?;
    Ok(false)
}
