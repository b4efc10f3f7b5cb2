//! Who may change the gateway's state over its metrics port: `/digests?reset=1`
//! needs what `SHOW SETWISE DIGESTS RESET` needs, a gateway user with the admin
//! privilege (MariaDB's `RELOAD`, `setwise user add ... --admin yes`). The user
//! is named by HTTP Basic authentication (`Authorization: Basic
//! base64(user:password)`), checked against the user's stored
//! `mysql_native_password` hash and the networks it may connect from.

use std::net::IpAddr;

use topo::ClusterSnapshot;

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An admin user, from an address it may connect from.
    Admin,
    /// No credentials, or credentials of no user (HTTP 401).
    Unauthenticated,
    /// A user without the admin privilege (HTTP 403).
    NotAdmin,
}

/// The verdict on a request whose head is `head`, sent from `peer`.
pub fn check(head: &str, peer: IpAddr, snap: &ClusterSnapshot) -> Verdict {
    let Some((user, password)) = basic_credentials(head) else {
        return Verdict::Unauthenticated;
    };
    let Some(rec) = snap.user(&user) else {
        return Verdict::Unauthenticated;
    };
    if !rec.host_allowed(peer) || topo::password::native_hash(&password) != rec.password_hash {
        return Verdict::Unauthenticated;
    }
    if rec.admin {
        Verdict::Admin
    } else {
        Verdict::NotAdmin
    }
}

/// `(user, password)` of the request's `Authorization: Basic` header.
fn basic_credentials(head: &str) -> Option<(String, String)> {
    let value = head.lines().skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("authorization")
            .then(|| value.trim())
    })?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let plain = String::from_utf8(base64_decode(token.trim())?).ok()?;
    let (user, password) = plain.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 (RFC 4648, `=` padding optional); `None` for anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> ClusterSnapshot {
        let mut s = ClusterSnapshot::default();
        for (name, admin, hosts) in [
            ("ops", true, vec![]),
            ("app", false, vec![]),
            ("far", true, vec!["10.0.0.0/8".parse().unwrap()]),
        ] {
            s.users.insert(
                name.into(),
                topo::UserRecord {
                    name: name.into(),
                    password_hash: topo::password::native_hash("pw"),
                    hosts,
                    reads: Default::default(),
                    require_ssl: false,
                    admin,
                },
            );
        }
        s
    }

    fn head(auth: &str) -> String {
        format!("GET /digests?reset=1 HTTP/1.0\r\nHost: x\r\n{auth}\r\n\r\n")
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn base64_decodes_rfc4648() {
        assert_eq!(base64_decode("b3BzOnB3").unwrap(), b"ops:pw");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a b").is_none());
    }

    #[test]
    fn only_an_admin_with_its_password_from_its_networks() {
        let s = snap();
        // ops:pw, app:pw, far:pw, ops:no
        let ops = "Authorization: Basic b3BzOnB3";
        assert_eq!(check(&head(ops), LOCAL, &s), Verdict::Admin);
        let lower = "authorization:  basic b3BzOnB3";
        assert_eq!(check(&head(lower), LOCAL, &s), Verdict::Admin);
        assert_eq!(
            check(&head("Authorization: Basic YXBwOnB3"), LOCAL, &s),
            Verdict::NotAdmin
        );
        assert_eq!(
            check(&head("Authorization: Basic ZmFyOnB3"), LOCAL, &s),
            Verdict::Unauthenticated
        );
        assert_eq!(
            check(
                &head("Authorization: Basic ZmFyOnB3"),
                "10.1.2.3".parse().unwrap(),
                &s
            ),
            Verdict::Admin
        );
        assert_eq!(
            check(&head("Authorization: Basic b3BzOm5v"), LOCAL, &s),
            Verdict::Unauthenticated
        );
        assert_eq!(check(&head("X-No: 1"), LOCAL, &s), Verdict::Unauthenticated);
        assert_eq!(
            check(&head("Authorization: Bearer b3BzOnB3"), LOCAL, &s),
            Verdict::Unauthenticated
        );
    }
}
