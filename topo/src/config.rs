//! The `[etcd]` section shared by every Setwise program's config file: endpoints,
//! cluster, timeouts, and TLS and user/password authentication where etcd
//! asks for them (docs/tls.md).

use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TopoError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdConfig {
    /// etcd client URLs, e.g. `["http://127.0.0.1:2379"]` (`https://` for TLS).
    pub endpoints: Vec<String>,
    /// Cluster name: every key lives under `/setwise/<cluster>/`.
    pub cluster: String,
    /// Connect and per-request timeout, in milliseconds.
    pub timeout_ms: u64,
    /// PEM CA certificate that signed etcd's server certificate; set: TLS
    /// (`https://` endpoints).
    pub ca: String,
    /// PEM client certificate and key, for an etcd started with
    /// `--client-cert-auth`; both or neither.
    pub cert: String,
    pub key: String,
    /// etcd user (`etcdctl user add`), for an etcd with authentication on;
    /// empty: none.
    pub user: String,
    pub password: String,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".into()],
            cluster: "local".into(),
            timeout_ms: 3000,
            ca: String::new(),
            cert: String::new(),
            key: String::new(),
            user: String::new(),
            password: String::new(),
        }
    }
}

impl EtcdConfig {
    /// etcd-client options: keep-alive and timeouts (`request_timeout`: per
    /// request, `None` for a client whose calls block on purpose), TLS and
    /// authentication as configured.
    pub fn connect_options(&self, request_timeout: bool) -> Result<ConnectOptions> {
        let t = Duration::from_millis(self.timeout_ms.max(100));
        // HTTP/2 keep-alive pings no more often than etcd accepts
        // (--grpc-keepalive-min-time, 5 s): more often and it closes the connection.
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(t)
            .with_keep_alive(Duration::from_secs(10), t);
        if request_timeout {
            opts = opts.with_timeout(t);
        }
        if let Some(tls) = self.tls()? {
            opts = opts.with_tls(tls);
        }
        if !self.user.is_empty() {
            opts = opts.with_user(self.user.clone(), self.password.clone());
        }
        Ok(opts)
    }

    fn tls(&self) -> Result<Option<TlsOptions>> {
        let read = |what: &'static str, path: &str| {
            std::fs::read(path).map_err(|e| TopoError::Invalid {
                what,
                why: format!("{path}: {e}"),
            })
        };
        if self.cert.is_empty() != self.key.is_empty() {
            return Err(TopoError::Invalid {
                what: "[etcd] TLS client identity",
                why: "`cert` and `key` go together".into(),
            });
        }
        if self.ca.is_empty() && self.cert.is_empty() {
            return Ok(None);
        }
        let mut tls = TlsOptions::new();
        if !self.ca.is_empty() {
            tls = tls.ca_certificate(Certificate::from_pem(read("[etcd] ca", &self.ca)?));
        }
        if !self.cert.is_empty() {
            tls = tls.identity(Identity::from_pem(
                read("[etcd] cert", &self.cert)?,
                read("[etcd] key", &self.key)?,
            ));
        }
        Ok(Some(tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_by_default_and_checked() {
        let cfg = EtcdConfig::default();
        assert!(cfg.tls().unwrap().is_none());
        assert!(cfg.connect_options(true).is_ok());
        let half = EtcdConfig {
            cert: "/c.pem".into(),
            ..Default::default()
        };
        assert!(half.tls().is_err());
        let missing = EtcdConfig {
            ca: "/nonexistent/ca.pem".into(),
            ..Default::default()
        };
        assert!(missing.tls().is_err());
        let old: EtcdConfig =
            serde_json::from_str(r#"{"endpoints":["http://e:2379"],"cluster":"c"}"#).unwrap();
        assert_eq!((old.user.as_str(), old.timeout_ms), ("", 3000));
    }
}
