//! Connection phase: the server greeting with a fresh random salt, the client's
//! handshake response, an auth switch to `mysql_native_password` for clients that
//! start with another plugin (MySQL 8 clients default to caching_sha2_password),
//! and the handler's verdict. With TLS configured the greeting offers CLIENT_SSL;
//! a client's SSLRequest switches the connection to TLS and its handshake
//! response follows inside it.

use std::io;
use std::net::SocketAddr;

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::{MyDeserialize, MySerialize};
use rand::Rng;

use super::packet::PacketIo;
use super::tls::Acceptor;
use super::{wire, Credentials, Handler};
use crate::error::ProxyError;

/// The capabilities the gateway offers.
pub fn server_capabilities() -> CapabilityFlags {
    CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_FOUND_ROWS
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB
        | CapabilityFlags::CLIENT_IGNORE_SPACE
        | CapabilityFlags::CLIENT_LOCAL_FILES
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_INTERACTIVE
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_MULTI_STATEMENTS
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_CONNECT_ATTRS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
}

const NATIVE: &[u8] = b"mysql_native_password";
/// utf8mb4_general_ci, MariaDB 10.11's default.
const DEFAULT_COLLATION: u8 = 45;

/// 20 random salt bytes, printable and never NUL (as MariaDB generates them).
pub(crate) fn new_salt() -> [u8; 20] {
    let mut rng = rand::thread_rng();
    let mut s = [0u8; 20];
    for b in &mut s {
        *b = rng.gen_range(0x21..0x7f);
    }
    s
}

/// The SSLRequest: the handshake response's fixed part (capabilities, max
/// packet, collation, 23 filler bytes) alone.
const SSL_REQUEST_LEN: usize = 32;

/// What the handshake settled, for the command loop.
pub struct Established {
    pub capabilities: CapabilityFlags,
}

/// Runs the connection phase. `Ok(None)` when the client was refused (an ERR was
/// sent) or went away.
pub async fn handshake<H: Handler>(
    io: &mut PacketIo,
    handler: &mut H,
    conn_id: u32,
    server_version: &str,
    peer: SocketAddr,
    tls: Option<&Acceptor>,
) -> io::Result<Option<Established>> {
    let salt = new_salt();
    let offered = match tls {
        Some(_) => server_capabilities() | CapabilityFlags::CLIENT_SSL,
        None => server_capabilities(),
    };
    // Part 2 of the salt goes out NUL-terminated (13 bytes), as MariaDB sends it.
    let mut salt_2 = salt[8..].to_vec();
    salt_2.push(0);
    let greeting = HandshakePacket::new(
        10,
        format!("5.5.5-{server_version}").into_bytes(),
        conn_id,
        salt[..8].try_into().expect("8 bytes"),
        Some(salt_2),
        offered,
        DEFAULT_COLLATION,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(NATIVE),
    );
    let mut buf = Vec::with_capacity(128);
    greeting.serialize(&mut buf);
    io.reset_seq();
    io.write(&buf).await?;
    io.flush().await?;

    let Some(mut pkt) = io.read().await? else {
        return Ok(None);
    };
    if let Some(acceptor) = tls.filter(|_| is_ssl_request(&pkt)) {
        // A client that sent garbage instead of a ClientHello (or timed out)
        // loses its connection; nothing else is affected.
        io.start_tls(acceptor).await?;
        pkt = match io.read().await? {
            Some(p) => p,
            None => return Ok(None),
        };
    }
    let resp = match HandshakeResponse::deserialize((), &mut mysql_common::io::ParseBuf(&pkt)) {
        Ok(r) => r,
        Err(_) => {
            send_err(io, &ProxyError::BadHandshake, 1043, "08S01").await?;
            return Ok(None);
        }
    };
    let client_caps = resp.capabilities();
    if !client_caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
        send_err(
            io,
            &ProxyError::NotSupported("pre-4.1 protocol".into()),
            1251,
            "08004",
        )
        .await?;
        return Ok(None);
    }
    let user = String::from_utf8_lossy(resp.user()).into_owned();
    let db = resp
        .db_name()
        .filter(|d| !d.is_empty())
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let mut scramble = resp.scramble_buf().to_vec();
    let plugin_is_native = match resp.auth_plugin() {
        None | Some(AuthPlugin::MysqlNativePassword) => true,
        Some(_) => false,
    };
    if !plugin_is_native && client_caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) {
        // Ask the client to answer our salt with mysql_native_password.
        let mut data = salt.to_vec();
        data.push(0);
        let switch = AuthSwitchRequest::new(NATIVE, data);
        buf.clear();
        switch.serialize(&mut buf);
        io.write(&buf).await?;
        io.flush().await?;
        let Some(answer) = io.read().await? else {
            return Ok(None);
        };
        scramble = answer;
    }
    let cred = Credentials {
        user,
        scramble,
        salt,
        db,
        peer,
        collation: resp.collation(),
        found_rows: client_caps.contains(CapabilityFlags::CLIENT_FOUND_ROWS),
        tls: io.tls_info(),
    };
    match handler.authenticate(&cred).await {
        Ok(()) => {
            let st = handler.status();
            io.write_with(|b| wire::ok_packet(b, &wire::OkInfo::default(), st))
                .await?;
            io.flush().await?;
            Ok(Some(Established {
                capabilities: client_caps & server_capabilities(),
            }))
        }
        Err(e) => {
            send_err(io, &e, e.code(), e.sqlstate()).await?;
            Ok(None)
        }
    }
}

/// Whether `pkt` is an SSLRequest: the fixed part of a handshake response alone,
/// with CLIENT_SSL set.
fn is_ssl_request(pkt: &[u8]) -> bool {
    pkt.len() == SSL_REQUEST_LEN
        && pkt.get(..4).is_some_and(|c| {
            let caps = u32::from_le_bytes(c.try_into().expect("4 bytes"));
            CapabilityFlags::from_bits_truncate(caps).contains(CapabilityFlags::CLIENT_SSL)
        })
}

async fn send_err(io: &mut PacketIo, e: &ProxyError, code: u16, state: &str) -> io::Result<()> {
    let msg = e.to_string();
    let state = state.to_string();
    io.write_with(|b| wire::err_packet(b, code, &state, &msg))
        .await?;
    io.flush().await
}
