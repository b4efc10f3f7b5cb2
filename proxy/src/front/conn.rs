//! The command phase: read a command, dispatch it to the [`Handler`], answer,
//! repeat — strictly in order, so pipelined commands are answered in sequence.
//!
//! The handler's futures (a statement's whole plan-execute-merge chain) are boxed:
//! allocated while a command runs, not carried in every idle connection's task.

use std::io;

use tokio::net::TcpStream;
use tracing::debug;

use super::handshake::handshake;
use super::packet::PacketIo;
use super::responder::Responder;
use super::stmts::{Stmts, MAX_STMTS};
use super::wire::{self, OkInfo};
use super::Handler;
use crate::error::ProxyError;
use mysql_common::constants::ColumnType;
use mysql_common::packets::Column;
use mysql_common::proto::MySerialize;

/// Command bytes (the protocol's `COM_*`).
mod com {
    pub const QUIT: u8 = 0x01;
    pub const INIT_DB: u8 = 0x02;
    pub const QUERY: u8 = 0x03;
    pub const FIELD_LIST: u8 = 0x04;
    pub const STATISTICS: u8 = 0x09;
    pub const DEBUG: u8 = 0x0d;
    pub const PING: u8 = 0x0e;
    pub const CHANGE_USER: u8 = 0x11;
    pub const STMT_PREPARE: u8 = 0x16;
    pub const STMT_EXECUTE: u8 = 0x17;
    pub const STMT_SEND_LONG_DATA: u8 = 0x18;
    pub const STMT_CLOSE: u8 = 0x19;
    pub const STMT_RESET: u8 = 0x1a;
    pub const SET_OPTION: u8 = 0x1b;
    pub const RESET_CONNECTION: u8 = 0x1f;
}

/// Serves one client connection until it quits or the stream breaks; `tls`
/// offers TLS to it (docs/tls.md).
pub async fn serve<H: Handler>(
    stream: TcpStream,
    mut handler: H,
    conn_id: u32,
    server_version: &str,
    tls: Option<&super::tls::Acceptor>,
) -> io::Result<()> {
    let peer = stream.peer_addr()?;
    let mut io = PacketIo::new(stream);
    let result = async {
        // A handshake that does not complete in time is dropped (connect_timeout).
        let limit = crate::admission::admission().config().connect_timeout();
        let shake = Box::pin(handshake(
            &mut io,
            &mut handler,
            conn_id,
            server_version,
            peer,
            tls,
        ));
        let Some(est) = tokio::time::timeout(limit, shake)
            .await
            .unwrap_or(Ok(None))?
        else {
            return Ok(());
        };
        use mysql_common::constants::CapabilityFlags as Caps;
        handler.set_interactive(est.capabilities.contains(Caps::CLIENT_INTERACTIVE));
        let multi = est.capabilities.contains(Caps::CLIENT_MULTI_STATEMENTS);
        let local_files = est.capabilities.contains(Caps::CLIENT_LOCAL_FILES);
        command_loop(&mut io, &mut handler, multi, local_files).await
    }
    .await;
    Box::pin(handler.close()).await;
    result
}

async fn command_loop<H: Handler>(
    io: &mut PacketIo,
    handler: &mut H,
    mut multi: bool,
    local_files: bool,
) -> io::Result<()> {
    let mut stmts = Stmts::default();
    loop {
        io.flush().await?;
        // Every command starts a new exchange at sequence id 0.
        io.reset_seq();
        // Idle past the session's wait_timeout: closed, as MariaDB does (no packet).
        let limit = handler.idle_timeout();
        let read = async {
            // Meanwhile, what may end the session's work unasked (an aborted
            // transaction's locks are freed at once).
            while let Some(wake) = handler.idle_wake() {
                tokio::select! {
                    // Something to read (or TLS, not waited for this way).
                    r = io.wait_readable() => { r?; break }
                    () = wake => Box::pin(handler.idle_woken()).await,
                }
            }
            io.read().await
        };
        let next = match limit {
            Some(t) => tokio::time::timeout(t, read).await.unwrap_or(Ok(None)),
            None => read.await,
        };
        let pkt = match next {
            Ok(Some(pkt)) => pkt,
            Ok(None) => return Ok(()),
            Err(e) if super::packet::out_of_order(&e) => {
                err(io, handler, &ProxyError::PacketsOutOfOrder).await?;
                return io.flush().await;
            }
            Err(e) => return Err(e),
        };
        let Some((&cmd, body)) = pkt.split_first() else {
            return Ok(());
        };
        debug!(cmd, len = body.len(), "command");
        match cmd {
            com::QUIT => return Ok(()),
            com::PING => ok(io, handler).await?,
            // Answered with a bare text packet, as MariaDB does (the CLI's `status`).
            com::STATISTICS => {
                let text = handler.statistics();
                io.write(text.as_bytes()).await?;
            }
            com::DEBUG => {
                let st = handler.status();
                io.write_with(|b| wire::eof_packet(b, 0, st)).await?;
            }
            // Text in the connection's character set, decoded losslessly.
            com::QUERY => match handler.codec().decode(body) {
                Ok(sql) => {
                    let mut out = Responder::new(io, handler.status());
                    out.multi_statements = multi;
                    out.local_files = local_files;
                    out.codec = handler.codec();
                    out.account = handler.account();
                    Box::pin(handler.query(&sql, &mut out)).await?;
                }
                Err(e) => err(io, handler, &e).await?,
            },
            com::INIT_DB => {
                let r = match handler.codec().decode(body) {
                    Ok(db) => Box::pin(handler.init_db(&db)).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(()) => ok(io, handler).await?,
                    Err(e) => err(io, handler, &e).await?,
                }
            }
            com::FIELD_LIST => {
                let table_end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
                let r = match handler.codec().decode(&body[..table_end]) {
                    Ok(table) => Box::pin(handler.field_list(&table)).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(cols) => {
                        for c in &cols {
                            // Column definition + its default value (unknown: NULL).
                            io.write_with(|b| {
                                wire::column_def(b, c);
                                b.push(0xfb);
                            })
                            .await?;
                        }
                        let st = handler.status();
                        io.write_with(|b| wire::eof_packet(b, 0, st)).await?;
                    }
                    Err(e) => err(io, handler, &e).await?,
                }
            }
            com::RESET_CONNECTION => {
                stmts = Stmts::default();
                match Box::pin(handler.reset()).await {
                    Ok(()) => ok(io, handler).await?,
                    Err(e) => err(io, handler, &e).await?,
                }
            }
            com::CHANGE_USER => {
                stmts = Stmts::default();
                change_user(io, handler, body).await?;
            }
            com::STMT_PREPARE => prepare(io, handler, &mut stmts, body).await?,
            com::STMT_EXECUTE => execute(io, handler, &mut stmts, body).await?,
            com::STMT_SEND_LONG_DATA => {
                // No answer, by protocol.
                if body.len() >= 6 {
                    let id = u32::from_le_bytes(body[0..4].try_into().expect("4"));
                    let param = u16::from_le_bytes([body[4], body[5]]) as usize;
                    stmts.long_data(id, param, &body[6..]);
                }
            }
            com::STMT_CLOSE => {
                // No answer, by protocol.
                if body.len() >= 4 {
                    stmts.close(u32::from_le_bytes(body[0..4].try_into().expect("4")));
                }
            }
            com::STMT_RESET => {
                // A body cut short is the id its bytes make, as MariaDB reads it.
                let mut id = [0u8; 4];
                let n = body.len().min(4);
                id[..n].copy_from_slice(&body[..n]);
                let id = u32::from_le_bytes(id);
                match stmts.reset(id) {
                    true => ok(io, handler).await?,
                    false => err(io, handler, &unknown_stmt(id, "mysqld_stmt_reset")).await?,
                }
            }
            com::SET_OPTION => match body {
                // MYSQL_OPTION_MULTI_STATEMENTS_ON / _OFF; answered with EOF, as MariaDB does.
                [0, 0] | [1, 0] => {
                    multi = body[0] == 0;
                    let st = handler.status();
                    io.write_with(|b| wire::eof_packet(b, 0, st)).await?;
                }
                _ => err(io, handler, &ProxyError::UnknownCommand).await?,
            },
            _ => err(io, handler, &ProxyError::UnknownCommand).await?,
        }
    }
}

/// COM_CHANGE_USER: authenticated like a new connection (with a fresh salt
/// through an auth switch), then the session starts over.
async fn change_user<H: Handler>(
    io: &mut PacketIo,
    handler: &mut H,
    body: &[u8],
) -> io::Result<()> {
    fn cstr(b: &[u8]) -> (&[u8], &[u8]) {
        match b.iter().position(|&c| c == 0) {
            Some(i) => (&b[..i], &b[i + 1..]),
            None => (b, &[]),
        }
    }
    let (user, rest) = cstr(body);
    let Some((&alen, rest)) = rest.split_first() else {
        return err(
            io,
            handler,
            &ProxyError::Syntax("malformed COM_CHANGE_USER".into()),
        )
        .await;
    };
    let rest = rest.get(alen as usize..).unwrap_or(&[]);
    let (db, rest) = cstr(rest);
    let collation = rest.first().copied();
    // Always re-authenticate against a fresh salt: the client proves the password
    // for this exchange, not a replay of the connect-time scramble.
    let salt = super::handshake::new_salt();
    let mut data = salt.to_vec();
    data.push(0);
    let mut buf = Vec::new();
    mysql_common::packets::AuthSwitchRequest::new(&b"mysql_native_password"[..], data)
        .serialize(&mut buf);
    io.write(&buf).await?;
    io.flush().await?;
    let Some(scramble) = io.read().await? else {
        return Ok(());
    };
    let peer = io.peer_addr()?;
    let cred = super::Credentials {
        user: String::from_utf8_lossy(user).into_owned(),
        scramble,
        salt,
        db: (!db.is_empty()).then(|| String::from_utf8_lossy(db).into_owned()),
        peer,
        collation: collation.unwrap_or(45),
        found_rows: handler.found_rows(),
        tls: io.tls_info(),
    };
    match Box::pin(handler.change_user(&cred)).await {
        Ok(()) => ok(io, handler).await,
        Err(e) => {
            err(io, handler, &e).await?;
            // MariaDB closes the connection after a failed change of user.
            io.flush().await?;
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "change user refused",
            ))
        }
    }
}

fn unknown_stmt(id: u32, what: &str) -> ProxyError {
    ProxyError::Backend {
        code: 1243,
        state: "HY000".into(),
        message: format!("Unknown prepared statement handler ({id}) given to {what}"),
    }
}

async fn prepare<H: Handler>(
    io: &mut PacketIo,
    handler: &mut H,
    stmts: &mut Stmts,
    body: &[u8],
) -> io::Result<()> {
    let sql = match handler.codec().decode(body) {
        Ok(sql) => sql,
        Err(e) => return err(io, handler, &e).await,
    };
    let sql = &*sql;
    if stmts.len() >= MAX_STMTS {
        let e = ProxyError::Backend {
            code: 1461,
            state: "42000".into(),
            message: format!("Can't create more than max_prepared_stmt_count statements (current value: {MAX_STMTS})"),
        };
        return err(io, handler, &e).await;
    }
    let (id, n) = match stmts.add(sql) {
        Ok(x) => x,
        Err(msg) => return err(io, handler, &ProxyError::Syntax(msg)).await,
    };
    let meta = match Box::pin(handler.prepare(sql, n)).await {
        Ok(m) => m,
        Err(e) => {
            stmts.close(id);
            return err(io, handler, &e).await;
        }
    };
    // The parameter count is ours (it drives substitution); definitions from MariaDB.
    let mut params = meta.params;
    params.resize(n, Column::new(ColumnType::MYSQL_TYPE_VAR_STRING));
    io.write_with(|b| {
        b.push(0x00);
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&(meta.columns.len() as u16).to_le_bytes());
        b.extend_from_slice(&(n as u16).to_le_bytes());
        b.push(0);
        b.extend_from_slice(&meta.warnings.to_le_bytes());
    })
    .await?;
    let st = handler.status();
    for group in [&params, &meta.columns] {
        if group.is_empty() {
            continue;
        }
        for c in group.iter() {
            io.write_with(|b| wire::column_def(b, c)).await?;
        }
        io.write_with(|b| wire::eof_packet(b, 0, st)).await?;
    }
    Ok(())
}

async fn execute<H: Handler>(
    io: &mut PacketIo,
    handler: &mut H,
    stmts: &mut Stmts,
    body: &[u8],
) -> io::Result<()> {
    if body.len() < 9 {
        return err(io, handler, &ProxyError::MalformedPacket).await;
    }
    let id = u32::from_le_bytes(body[0..4].try_into().expect("4"));
    // body[4] = cursor flags (cursors are not kept: rows are sent at once);
    // body[5..9] = iteration count (always 1).
    let escapes = handler.backslash_escapes();
    match stmts.bind(id, &body[9..], escapes, handler.codec()) {
        None => err(io, handler, &unknown_stmt(id, "mysqld_stmt_execute")).await,
        Some(Err(bad)) => err(io, handler, &bad.error()).await,
        Some(Ok(bound)) => {
            let mut out = Responder::binary(io, handler.status());
            out.codec = handler.codec();
            out.account = handler.account();
            Box::pin(handler.execute(bound, &mut out)).await
        }
    }
}

async fn ok<H: Handler>(io: &mut PacketIo, handler: &H) -> io::Result<()> {
    Responder::new(io, handler.status())
        .ok(&OkInfo::default())
        .await
}

async fn err<H: Handler>(io: &mut PacketIo, handler: &H, e: &ProxyError) -> io::Result<()> {
    let mut out = Responder::new(io, handler.status());
    out.codec = handler.codec();
    out.account = handler.account();
    out.error(e).await
}
