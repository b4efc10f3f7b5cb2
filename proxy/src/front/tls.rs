//! TLS for the gateway's clients: the `[tls]` section of the config (a PEM
//! certificate chain and key), the rustls acceptor built from it once at start,
//! and [`ClientStream`] — a client's connection, plain TCP or TLS after the
//! client's SSLRequest — with what `Ssl_cipher` / `Ssl_version` report about it.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// `[tls]`: TLS for clients, offered (CLIENT_SSL) only when both paths are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain: the gateway's certificate first, then intermediates.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of that certificate.
    pub key: PathBuf,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        !self.cert.as_os_str().is_empty() || !self.key.as_os_str().is_empty()
    }
}

/// How long a client that asked for TLS has to finish the TLS handshake.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts TLS from clients with the configured certificate. Cheap to clone.
#[derive(Clone)]
pub struct Acceptor(tokio_rustls::TlsAcceptor);

impl Acceptor {
    /// The acceptor of `cfg`; `None` when TLS is not configured. Fails on an
    /// unreadable or mismatched certificate and key (the gateway does not start).
    pub fn from_config(cfg: &TlsConfig) -> anyhow::Result<Option<Self>> {
        if !cfg.enabled() {
            return Ok(None);
        }
        if cfg.cert.as_os_str().is_empty() || cfg.key.as_os_str().is_empty() {
            anyhow::bail!("[tls] needs both `cert` and `key`");
        }
        let certs = CertificateDer::pem_file_iter(&cfg.cert)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| anyhow::anyhow!("[tls] cert {}: {e}", cfg.cert.display()))?;
        if certs.is_empty() {
            anyhow::bail!("[tls] cert {}: no certificate in it", cfg.cert.display());
        }
        let key = PrivateKeyDer::from_pem_file(&cfg.key)
            .map_err(|e| anyhow::anyhow!("[tls] key {}: {e}", cfg.key.display()))?;
        // The process's crypto provider: ring, the only one built in.
        let config = rustls::ServerConfig::builder_with_protocol_versions(&[
            &rustls::version::TLS13,
            &rustls::version::TLS12,
        ])
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("[tls] cert and key: {e}"))?;
        Ok(Some(Self(tokio_rustls::TlsAcceptor::from(Arc::new(
            config,
        )))))
    }

    /// Runs the TLS handshake on `tcp`; `early` are bytes already read from it
    /// past the SSLRequest (the start of the client's ClientHello).
    pub async fn accept(&self, tcp: TcpStream, early: Vec<u8>) -> io::Result<ClientStream> {
        let stream = Rewind {
            early,
            at: 0,
            inner: tcp,
        };
        let tls = tokio::time::timeout(ACCEPT_TIMEOUT, self.0.accept(stream))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        Ok(ClientStream::Tls(Box::new(tls)))
    }
}

/// What a TLS client negotiated, named as MariaDB (OpenSSL) names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `Ssl_version`: `TLSv1.3`, `TLSv1.2`.
    pub version: String,
    /// `Ssl_cipher`: e.g. `TLS_AES_256_GCM_SHA384`, `ECDHE-RSA-AES256-GCM-SHA384`.
    pub cipher: String,
}

impl TlsInfo {
    fn of(conn: &rustls::ServerConnection) -> Self {
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(v) => format!("{v:?}"),
            None => String::new(),
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .map(openssl_name)
            .unwrap_or_default();
        Self { version, cipher }
    }
}

/// A rustls cipher suite name as OpenSSL (and so MariaDB's `Ssl_cipher`) spells it.
fn openssl_name(rustls: &str) -> String {
    if let Some(rest) = rustls.strip_prefix("TLS13_") {
        return format!("TLS_{rest}");
    }
    // TLS 1.2: TLS_ECDHE_<RSA|ECDSA>_WITH_<cipher>_<hash>.
    let Some(rest) = rustls.strip_prefix("TLS_ECDHE_") else {
        return rustls.to_string();
    };
    let Some((auth, cipher)) = rest.split_once("_WITH_") else {
        return rustls.to_string();
    };
    let cipher = match cipher {
        "AES_128_GCM_SHA256" => "AES128-GCM-SHA256",
        "AES_256_GCM_SHA384" => "AES256-GCM-SHA384",
        "CHACHA20_POLY1305_SHA256" => "CHACHA20-POLY1305",
        _ => return rustls.to_string(),
    };
    format!("ECDHE-{auth}-{cipher}")
}

/// A client's connection: plain, or TLS after an SSLRequest.
pub enum ClientStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<Rewind>>),
    /// Between taking the plain stream and installing its TLS successor.
    Gone,
    /// No client: what is written is kept (up to [`MEMORY_CAP`] bytes), for a
    /// statement the gateway runs for itself through the executor
    /// (`crate::join::capture`); reads see the end of the stream.
    Memory(Vec<u8>),
}

/// The most a [`ClientStream::Memory`] keeps; more is an error.
pub const MEMORY_CAP: usize = 64 * 1024 * 1024;

impl ClientStream {
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self {
            ClientStream::Plain(s) => s.peer_addr(),
            ClientStream::Tls(s) => s.get_ref().0.inner.peer_addr(),
            ClientStream::Gone | ClientStream::Memory(_) => Err(gone()),
        }
    }

    /// What the client negotiated, if it speaks TLS.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        match self {
            ClientStream::Tls(s) => Some(TlsInfo::of(s.get_ref().1)),
            _ => None,
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection given up")
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Gone => Poll::Ready(Err(gone())),
            ClientStream::Memory(_) => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Gone => Poll::Ready(Err(gone())),
            ClientStream::Memory(v) if v.len() + buf.len() > MEMORY_CAP => {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    "a gateway-run statement's answer is too large",
                )))
            }
            ClientStream::Memory(v) => {
                v.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Gone => Poll::Ready(Err(gone())),
            ClientStream::Memory(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Gone => Poll::Ready(Err(gone())),
            ClientStream::Memory(_) => Poll::Ready(Ok(())),
        }
    }
}

/// A TCP stream whose first bytes were already read (into the packet reader's
/// buffer): they are read again first.
pub struct Rewind {
    early: Vec<u8>,
    at: usize,
    inner: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.at < me.early.len() {
            let n = (me.early.len() - me.at).min(buf.remaining());
            buf.put_slice(&me.early[me.at..me.at + n]);
            me.at += n;
            if me.at == me.early.len() {
                me.early = Vec::new();
                me.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut me.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// `rows` of `SHOW [SESSION] STATUS` from a set, with `Ssl_cipher` and
/// `Ssl_version` made the client's (empty for a plain connection): the set's
/// values describe the gateway's own connection to it.
pub fn overlay_status(rows: &mut [Vec<Option<Vec<u8>>>], tls: Option<&TlsInfo>) {
    for row in rows.iter_mut() {
        let [name, value] = &mut row[..] else {
            continue;
        };
        let Some(name) = name.as_deref() else {
            continue;
        };
        let mine = if name.eq_ignore_ascii_case(b"Ssl_cipher") {
            tls.map(|t| t.cipher.clone())
        } else if name.eq_ignore_ascii_case(b"Ssl_version") {
            tls.map(|t| t.version.clone())
        } else {
            continue;
        };
        *value = Some(mine.unwrap_or_default().into_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_names_as_openssl() {
        assert_eq!(
            openssl_name("TLS13_AES_256_GCM_SHA384"),
            "TLS_AES_256_GCM_SHA384"
        );
        assert_eq!(
            openssl_name("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            "ECDHE-RSA-AES256-GCM-SHA384"
        );
        assert_eq!(
            openssl_name("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        );
    }

    #[test]
    fn status_rows_show_the_clients_tls() {
        let row = |n: &str, v: &str| vec![Some(n.as_bytes().to_vec()), Some(v.as_bytes().to_vec())];
        let mut rows = vec![
            row("Ssl_cipher", "backend-cipher"),
            row("Ssl_version", "TLSv1.2"),
            row("Ssl_accepts", "0"),
        ];
        let info = TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_128_GCM_SHA256".into(),
        };
        overlay_status(&mut rows, Some(&info));
        assert_eq!(rows[0], row("Ssl_cipher", "TLS_AES_128_GCM_SHA256"));
        assert_eq!(rows[1], row("Ssl_version", "TLSv1.3"));
        assert_eq!(rows[2], row("Ssl_accepts", "0"));
        overlay_status(&mut rows, None);
        assert_eq!(rows[0], row("Ssl_cipher", ""));
    }

    #[test]
    fn config_off_without_paths() {
        assert!(Acceptor::from_config(&TlsConfig::default())
            .unwrap()
            .is_none());
        let half = TlsConfig {
            cert: "/nonexistent.pem".into(),
            key: PathBuf::new(),
        };
        assert!(Acceptor::from_config(&half).is_err());
    }
}
