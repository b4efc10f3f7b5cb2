//! TLS from any Setwise program to MariaDB (docs/tls.md): one config type used by
//! the gateway (`[backend.tls]`), the scheduler and the agents (`[mysql.tls]`), and
//! for replication (`[replication.tls]`). It makes the mysql_async options (rustls),
//! the MariaDB command-line programs' `--ssl*` arguments (mariadb, mariadb-dump,
//! mariadb-backup) and the `MASTER_SSL*` clause of a replica's `CHANGE MASTER TO`.

use std::path::{Path, PathBuf};

use mysql_async::{ClientIdentity, SslOpts};
use serde::{Deserialize, Serialize};

/// How a connection to MariaDB uses TLS (as MariaDB's client `--ssl-mode`).
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

/// A misconfigured TLS section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MysqlTlsError {
    #[error("TLS to MariaDB needs both `cert` and `key`, or neither")]
    HalfIdentity,
    #[error("TLS to MariaDB in mode {0:?} needs `ca`")]
    NoCa(TlsMode),
}

/// `[backend.tls]`, `[mysql.tls]`, `[replication.tls]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MysqlTls {
    pub mode: TlsMode,
    /// PEM CA certificate(s) the servers' certificates must be signed by
    /// (`verify-ca`, `verify-full`).
    pub ca: PathBuf,
    /// A client certificate and key (PEM) for servers that ask for one
    /// (`REQUIRE X509`); both or neither.
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn is_set(p: &Path) -> bool {
    !p.as_os_str().is_empty()
}

impl MysqlTls {
    /// Whether connections are encrypted at all.
    pub fn on(&self) -> bool {
        self.mode != TlsMode::Off
    }

    /// Fails on a mode that needs a CA without one, or half a client identity.
    pub fn check(&self) -> Result<(), MysqlTlsError> {
        if is_set(&self.cert) != is_set(&self.key) {
            return Err(MysqlTlsError::HalfIdentity);
        }
        if matches!(self.mode, TlsMode::VerifyCa | TlsMode::VerifyFull) && !is_set(&self.ca) {
            return Err(MysqlTlsError::NoCa(self.mode));
        }
        Ok(())
    }

    /// The mysql_async options of this mode; `None` for plain connections.
    pub fn ssl_opts(&self) -> Result<Option<SslOpts>, MysqlTlsError> {
        self.check()?;
        let mut opts = SslOpts::default();
        match self.mode {
            TlsMode::Off => return Ok(None),
            TlsMode::Required => opts = opts.with_danger_accept_invalid_certs(true),
            TlsMode::VerifyCa | TlsMode::VerifyFull => {
                opts = opts
                    .with_root_certs(vec![self.ca.clone().into()])
                    .with_disable_built_in_roots(true)
                    .with_danger_skip_domain_validation(self.mode == TlsMode::VerifyCa);
            }
        }
        if is_set(&self.cert) {
            opts = opts.with_client_identity(Some(ClientIdentity::new(
                self.cert.clone().into(),
                self.key.clone().into(),
            )));
        }
        Ok(Some(opts))
    }

    /// The `--ssl*` arguments of the MariaDB command-line programs (mariadb,
    /// mariadb-dump, mariadb-backup); none when off. Those programs check the
    /// chain and the name together (`--ssl-verify-server-cert`), so `verify-ca`
    /// gives them the CA without that switch.
    pub fn cli_args(&self) -> Vec<String> {
        if !self.on() {
            return Vec::new();
        }
        let mut a = vec!["--ssl".to_string()];
        if is_set(&self.ca) {
            a.push(format!("--ssl-ca={}", self.ca.display()));
        }
        if is_set(&self.cert) {
            a.push(format!("--ssl-cert={}", self.cert.display()));
            a.push(format!("--ssl-key={}", self.key.display()));
        }
        if self.mode == TlsMode::VerifyFull {
            a.push("--ssl-verify-server-cert".into());
        }
        a
    }

    /// The `, MASTER_SSL=1, ...` tail of a `CHANGE MASTER TO` for a replica
    /// connecting with this section (paths as seen by the replica's mariadbd);
    /// empty when off, so a DBA's own `MASTER_SSL` settings stay as they are.
    pub fn change_master_clause(&self) -> String {
        if !self.on() {
            return String::new();
        }
        let mut s = String::from(", MASTER_SSL=1");
        let path = |p: &Path| sql_quote(&p.display().to_string());
        if is_set(&self.ca) {
            s.push_str(&format!(", MASTER_SSL_CA={}", path(&self.ca)));
        }
        if is_set(&self.cert) {
            s.push_str(&format!(
                ", MASTER_SSL_CERT={}, MASTER_SSL_KEY={}",
                path(&self.cert),
                path(&self.key)
            ));
        }
        let verify = u8::from(self.mode == TlsMode::VerifyFull);
        s.push_str(&format!(", MASTER_SSL_VERIFY_SERVER_CERT={verify}"));
        s
    }
}

/// A single-quoted SQL string literal.
fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert!(MysqlTls::default().ssl_opts().unwrap().is_none());
        let req = MysqlTls {
            mode: TlsMode::Required,
            ..Default::default()
        };
        assert!(req.ssl_opts().unwrap().unwrap().accept_invalid_certs());
        let no_ca = MysqlTls {
            mode: TlsMode::VerifyCa,
            ..Default::default()
        };
        assert_eq!(
            no_ca.ssl_opts(),
            Err(MysqlTlsError::NoCa(TlsMode::VerifyCa))
        );
        let full = MysqlTls {
            mode: TlsMode::VerifyFull,
            ca: "/etc/ca.pem".into(),
            ..Default::default()
        };
        let o = full.ssl_opts().unwrap().unwrap();
        assert!(!o.accept_invalid_certs() && !o.skip_domain_validation());
        assert_eq!(o.root_certs().len(), 1);
        let half = MysqlTls {
            mode: TlsMode::Required,
            cert: "/c.pem".into(),
            ..Default::default()
        };
        assert_eq!(half.ssl_opts(), Err(MysqlTlsError::HalfIdentity));
        let parsed: MysqlTls = toml::from_str("mode = \"verify-ca\"\nca = \"/x\"").unwrap();
        assert_eq!(parsed.mode, TlsMode::VerifyCa);
    }

    #[test]
    fn cli_args_and_change_master() {
        let off = MysqlTls::default();
        assert!(off.cli_args().is_empty());
        assert_eq!(off.change_master_clause(), "");
        let full = MysqlTls {
            mode: TlsMode::VerifyFull,
            ca: "/pki/ca.pem".into(),
            cert: "/pki/c.pem".into(),
            key: "/pki/k'ey.pem".into(),
        };
        assert_eq!(
            full.cli_args(),
            [
                "--ssl",
                "--ssl-ca=/pki/ca.pem",
                "--ssl-cert=/pki/c.pem",
                "--ssl-key=/pki/k'ey.pem",
                "--ssl-verify-server-cert"
            ]
        );
        assert_eq!(
            full.change_master_clause(),
            ", MASTER_SSL=1, MASTER_SSL_CA='/pki/ca.pem', MASTER_SSL_CERT='/pki/c.pem', \
             MASTER_SSL_KEY='/pki/k\\'ey.pem', MASTER_SSL_VERIFY_SERVER_CERT=1"
        );
        let req = MysqlTls {
            mode: TlsMode::Required,
            ..Default::default()
        };
        assert_eq!(req.cli_args(), ["--ssl"]);
        assert_eq!(
            req.change_master_clause(),
            ", MASTER_SSL=1, MASTER_SSL_VERIFY_SERVER_CERT=0"
        );
    }
}
