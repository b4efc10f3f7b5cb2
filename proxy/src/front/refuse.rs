//! A connection refused before the handshake: one error packet in place of the
//! server greeting, then the socket is closed — what MariaDB sends when it is
//! over `max_connections` (sequence 0, no SQLSTATE marker: the client has not
//! said it speaks protocol 4.1 yet; clients still show 1040 with 08004).

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::error::ProxyError;

/// The packet MariaDB sends in place of the greeting for error `e`.
pub fn greeting_error(e: &ProxyError) -> Vec<u8> {
    let msg = e.to_string();
    let len = 3 + msg.len();
    let mut b = Vec::with_capacity(4 + len);
    b.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
    b.push(0);
    b.push(0xff);
    b.extend_from_slice(&e.code().to_le_bytes());
    b.extend_from_slice(msg.as_bytes());
    b
}

/// Sends `e` in place of the greeting and closes the connection.
pub async fn refuse(mut stream: TcpStream, e: &ProxyError) {
    let _ = stream.write_all(&greeting_error(e)).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn as_mariadb_sends_it() {
        // Captured from MariaDB 10.11 over max_connections.
        assert_eq!(
            super::greeting_error(&crate::error::ProxyError::TooManyConnections),
            b"\x17\x00\x00\x00\xff\x10\x04Too many connections"
        );
    }
}
