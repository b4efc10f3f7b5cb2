//! Who the client is, as MariaDB would name it: the gateway user at the client's
//! address (`USER()`), the account its user record matched (`CURRENT_USER()`),
//! and the backend account it must never see (masked in error messages).

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;

/// A client's account (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    /// The client's host as MariaDB with `skip-name-resolve` shows it: its IP.
    pub host: String,
    /// The host part of the matched account: `%`, an IP, or `ip/netmask`.
    pub pattern: String,
    /// The account the gateway uses on the sets.
    pub backend_user: String,
    /// `mysql_native_password` hash of the user's password (SHOW GRANTS shows it).
    pub password_hash: String,
    /// The gateway's administrative privilege (`RELOAD`), as the user's record
    /// had it at login (MariaDB's global privileges too are read at connect).
    pub admin: bool,
}

impl Account {
    /// The account of `user` connecting from `ip`, its record allowing `hosts`
    /// (empty: anywhere).
    pub fn new(user: &str, ip: IpAddr, hosts: &[IpNet], backend_user: &str) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let pattern = hosts
            .iter()
            .find(|n| n.contains(&ip))
            .map_or_else(|| "%".to_string(), host_pattern);
        Self {
            user: user.to_string(),
            host: ip.to_string(),
            pattern,
            backend_user: backend_user.to_string(),
            password_hash: String::new(),
            admin: false,
        }
    }

    /// `USER()`: `user@client-host`.
    pub fn user_at_host(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }

    /// `CURRENT_USER()`: `user@matched-pattern`.
    pub fn current_user(&self) -> String {
        format!("{}@{}", self.user, self.pattern)
    }

    /// `msg` with the backend account (`'setwise_proxy'@'host'`) replaced by the
    /// client's (`'app'@'client-host'`).
    pub fn mask<'a>(&self, msg: &'a str) -> Cow<'a, str> {
        let needle = format!("'{}'@'", self.backend_user);
        if !msg.contains(&needle) {
            return Cow::Borrowed(msg);
        }
        let mut out = String::with_capacity(msg.len());
        let mut rest = msg;
        while let Some(i) = rest.find(&needle) {
            out.push_str(&rest[..i]);
            let after = &rest[i + needle.len()..];
            let end = after.find('\'').map_or(after.len(), |j| j + 1);
            out.push_str(&format!(
                "'{}'@'{}'",
                self.user.replace('\'', "''"),
                self.host
            ));
            rest = &after[end..];
        }
        out.push_str(rest);
        Cow::Owned(out)
    }
}

/// An allowed network as a MariaDB account host: the address for a single host,
/// `address/netmask` for an IPv4 network.
fn host_pattern(n: &IpNet) -> String {
    match n {
        IpNet::V4(v4) if v4.prefix_len() == 32 => v4.addr().to_string(),
        IpNet::V4(v4) => format!("{}/{}", v4.network(), v4.netmask()),
        IpNet::V6(v6) if v6.prefix_len() == 128 => v6.addr().to_string(),
        IpNet::V6(v6) => v6.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_masks() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = Account::new("app", ip, &[], "setwise_proxy");
        assert_eq!(a.user_at_host(), "app@127.0.0.1");
        assert_eq!(a.current_user(), "app@%");
        let nets: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        assert_eq!(Account::new("app", ip, &nets, "p").pattern, "127.0.0.1");
        let ip: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        let b = Account::new("app", ip, &nets, "p");
        assert_eq!(
            (b.host.as_str(), b.pattern.as_str()),
            ("10.1.2.3", "10.0.0.0/255.0.0.0")
        );
        assert_eq!(
            a.mask("SELECT command denied to user 'setwise_proxy'@'localhost' for table `t`"),
            "SELECT command denied to user 'app'@'127.0.0.1' for table `t`"
        );
        assert_eq!(a.mask("no account here"), "no account here");
    }
}
