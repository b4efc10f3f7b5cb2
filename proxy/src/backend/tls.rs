//! TLS from the gateway to the sets' MariaDB (`[backend.tls]`): the modes, and the
//! mysql_async options they make (rustls with the ring provider).

use std::path::PathBuf;

use mysql_async::{ClientIdentity, SslOpts};
use serde::{Deserialize, Serialize};

/// How the gateway's connections to MariaDB use TLS (as MariaDB's client
/// `--ssl-mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain connections.
    #[default]
    Off,
    /// Encrypted, the server's certificate not checked.
    Required,
    /// Encrypted, the certificate signed by `ca` (any name).
    VerifyCa,
    /// Encrypted, the certificate signed by `ca` and naming the address connected
    /// to (host name or IP address).
    VerifyFull,
}

/// `[backend.tls]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendTls {
    pub mode: TlsMode,
    /// PEM CA certificate(s) the servers' certificates must be signed by
    /// (`verify-ca`, `verify-full`).
    pub ca: PathBuf,
    /// A client certificate and key (PEM) for servers that ask for one
    /// (`REQUIRE X509`); both or neither.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl BackendTls {
    /// The mysql_async options of this mode; `None` for plain connections.
    /// Fails on a mode that needs a CA without one, or half a client identity.
    pub fn ssl_opts(&self) -> anyhow::Result<Option<SslOpts>> {
        let set = |p: &PathBuf| !p.as_os_str().is_empty();
        if set(&self.cert) != set(&self.key) {
            anyhow::bail!("[backend.tls] needs both `cert` and `key`, or neither");
        }
        let mut opts = SslOpts::default();
        match self.mode {
            TlsMode::Off => return Ok(None),
            TlsMode::Required => opts = opts.with_danger_accept_invalid_certs(true),
            TlsMode::VerifyCa | TlsMode::VerifyFull => {
                if !set(&self.ca) {
                    anyhow::bail!("[backend.tls] mode {:?} needs `ca`", self.mode);
                }
                opts = opts
                    .with_root_certs(vec![self.ca.clone().into()])
                    .with_disable_built_in_roots(true)
                    .with_danger_skip_domain_validation(self.mode == TlsMode::VerifyCa);
            }
        }
        if set(&self.cert) {
            opts = opts.with_client_identity(Some(ClientIdentity::new(
                self.cert.clone().into(),
                self.key.clone().into(),
            )));
        }
        Ok(Some(opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert!(BackendTls::default().ssl_opts().unwrap().is_none());
        let req = BackendTls {
            mode: TlsMode::Required,
            ..Default::default()
        };
        assert!(req.ssl_opts().unwrap().unwrap().accept_invalid_certs());
        let no_ca = BackendTls {
            mode: TlsMode::VerifyCa,
            ..Default::default()
        };
        assert!(no_ca.ssl_opts().is_err());
        let full = BackendTls {
            mode: TlsMode::VerifyFull,
            ca: "/etc/ca.pem".into(),
            ..Default::default()
        };
        let o = full.ssl_opts().unwrap().unwrap();
        assert!(!o.accept_invalid_certs() && !o.skip_domain_validation());
        assert_eq!(o.root_certs().len(), 1);
        let half = BackendTls {
            mode: TlsMode::Required,
            cert: "/c.pem".into(),
            ..Default::default()
        };
        assert!(half.ssl_opts().is_err());
        let parsed: BackendTls = toml::from_str("mode = \"verify-ca\"\nca = \"/x\"").unwrap();
        assert_eq!(parsed.mode, TlsMode::VerifyCa);
    }
}
