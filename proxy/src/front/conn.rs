//! The command phase: read a command, dispatch it to the [`Handler`], answer,
//! repeat — strictly in order, so pipelined commands are answered in sequence.

use std::io;

use tokio::net::TcpStream;
use tracing::debug;

use super::handshake::handshake;
use super::packet::PacketIo;
use super::responder::Responder;
use super::wire::{self, OkInfo};
use super::Handler;
use crate::error::ProxyError;

/// Command bytes (the protocol's `COM_*`).
mod com {
    pub const QUIT: u8 = 0x01;
    pub const INIT_DB: u8 = 0x02;
    pub const QUERY: u8 = 0x03;
    pub const PING: u8 = 0x0e;
    pub const SET_OPTION: u8 = 0x1b;
    pub const RESET_CONNECTION: u8 = 0x1f;
}

/// Serves one client connection until it quits or the stream breaks.
pub async fn serve<H: Handler>(
    stream: TcpStream,
    mut handler: H,
    conn_id: u32,
    server_version: &str,
) -> io::Result<()> {
    let peer = stream.peer_addr()?;
    let mut io = PacketIo::new(stream);
    let result = async {
        if handshake(&mut io, &mut handler, conn_id, server_version, peer)
            .await?
            .is_none()
        {
            return Ok(());
        }
        command_loop(&mut io, &mut handler).await
    }
    .await;
    handler.close().await;
    result
}

async fn command_loop<H: Handler>(io: &mut PacketIo, handler: &mut H) -> io::Result<()> {
    loop {
        io.flush().await?;
        let Some(pkt) = io.read().await? else {
            return Ok(());
        };
        let Some((&cmd, body)) = pkt.split_first() else {
            return Ok(());
        };
        debug!(cmd, len = body.len(), "command");
        match cmd {
            com::QUIT => return Ok(()),
            com::PING => ok(io, handler).await?,
            com::QUERY => match std::str::from_utf8(body) {
                Ok(sql) => {
                    let mut out = Responder::new(io, handler.status());
                    handler.query(sql, &mut out).await?;
                }
                Err(_) => err(io, handler, &ProxyError::BadText).await?,
            },
            com::INIT_DB => {
                let db = String::from_utf8_lossy(body).into_owned();
                match handler.init_db(&db).await {
                    Ok(()) => ok(io, handler).await?,
                    Err(e) => err(io, handler, &e).await?,
                }
            }
            com::RESET_CONNECTION => match handler.reset().await {
                Ok(()) => ok(io, handler).await?,
                Err(e) => err(io, handler, &e).await?,
            },
            com::SET_OPTION => {
                // Multi-statements are always accepted; answer as MariaDB does (EOF).
                let st = handler.status();
                io.write_with(|b| wire::eof_packet(b, 0, st)).await?;
            }
            _ => err(io, handler, &ProxyError::UnknownCommand).await?,
        }
    }
}

async fn ok<H: Handler>(io: &mut PacketIo, handler: &H) -> io::Result<()> {
    Responder::new(io, handler.status())
        .ok(&OkInfo::default())
        .await
}

async fn err<H: Handler>(io: &mut PacketIo, handler: &H, e: &ProxyError) -> io::Result<()> {
    Responder::new(io, handler.status()).error(e).await
}
