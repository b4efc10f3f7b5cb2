//! Encoders for the protocol's small packets (OK, EOF, ERR) and length-encoded
//! values — the parts of the server side that mysql_common does not serialize.

use mysql_common::constants::StatusFlags;
use mysql_common::packets::Column;

/// What an OK packet reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OkInfo {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub warnings: u16,
    pub info: String,
}

pub fn put_lenenc_int(buf: &mut Vec<u8>, v: u64) {
    match v {
        0..=250 => buf.push(v as u8),
        251..=0xffff => {
            buf.push(0xfc);
            buf.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            buf.push(0xfd);
            buf.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
        }
        _ => {
            buf.push(0xfe);
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
}

pub fn put_lenenc_str(buf: &mut Vec<u8>, s: &[u8]) {
    put_lenenc_int(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

/// Reads a length-encoded integer; returns it and the bytes consumed.
pub fn get_lenenc_int(b: &[u8]) -> Option<(u64, usize)> {
    match *b.first()? {
        v @ 0..=250 => Some((v as u64, 1)),
        0xfc => Some((u16::from_le_bytes(b.get(1..3)?.try_into().ok()?) as u64, 3)),
        0xfd => {
            let s = b.get(1..4)?;
            Some((u32::from_le_bytes([s[0], s[1], s[2], 0]) as u64, 4))
        }
        0xfe => Some((u64::from_le_bytes(b.get(1..9)?.try_into().ok()?), 9)),
        _ => None,
    }
}

/// A column definition packet (Protocol::ColumnDefinition41), byte for byte as
/// MariaDB sent it. Written here because mysql_common 0.37's `Column::serialize`
/// swaps the character set and the column length (its parser reads them right).
pub fn column_def(buf: &mut Vec<u8>, c: &Column) {
    put_lenenc_str(buf, b"def");
    put_lenenc_str(buf, c.schema_ref());
    put_lenenc_str(buf, c.table_ref());
    put_lenenc_str(buf, c.org_table_ref());
    put_lenenc_str(buf, c.name_ref());
    put_lenenc_str(buf, c.org_name_ref());
    buf.push(0x0c);
    buf.extend_from_slice(&c.character_set().to_le_bytes());
    buf.extend_from_slice(&c.column_length().to_le_bytes());
    buf.push(c.column_type() as u8);
    buf.extend_from_slice(&c.flags().bits().to_le_bytes());
    buf.push(c.decimals());
    buf.extend_from_slice(&[0, 0]);
}

pub fn ok_packet(buf: &mut Vec<u8>, ok: &OkInfo, status: StatusFlags) {
    buf.push(0x00);
    put_lenenc_int(buf, ok.affected_rows);
    put_lenenc_int(buf, ok.last_insert_id);
    buf.extend_from_slice(&status.bits().to_le_bytes());
    buf.extend_from_slice(&ok.warnings.to_le_bytes());
    // MariaDB and MySQL servers send the info length-encoded (libmariadb reads it so).
    if !ok.info.is_empty() {
        put_lenenc_str(buf, ok.info.as_bytes());
    }
}

pub fn eof_packet(buf: &mut Vec<u8>, warnings: u16, status: StatusFlags) {
    buf.push(0xfe);
    buf.extend_from_slice(&warnings.to_le_bytes());
    buf.extend_from_slice(&status.bits().to_le_bytes());
}

pub fn err_packet(buf: &mut Vec<u8>, code: u16, state: &str, msg: &str) {
    err_packet_in(buf, code, state, msg, super::charset::Codec::Utf8)
}

/// [`err_packet`] with the message in the client's character set.
pub fn err_packet_in(
    buf: &mut Vec<u8>,
    code: u16,
    state: &str,
    msg: &str,
    codec: super::charset::Codec,
) {
    buf.push(0xff);
    buf.extend_from_slice(&code.to_le_bytes());
    buf.push(b'#');
    let st = state.as_bytes();
    let mut s = [b'H', b'Y', b'0', b'0', b'0'];
    if st.len() == 5 {
        s.copy_from_slice(st);
    }
    buf.extend_from_slice(&s);
    // Keep messages inside MySQL's 512-byte limit, on a char boundary.
    let mut end = msg.len().min(512);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    buf.extend_from_slice(&codec.wire(&msg[..end]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_roundtrip() {
        for v in [
            0u64,
            250,
            251,
            65535,
            65536,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_lenenc_int(&mut b, v);
            assert_eq!(get_lenenc_int(&b), Some((v, b.len())));
        }
    }

    #[test]
    fn ok_layout() {
        let mut b = Vec::new();
        ok_packet(
            &mut b,
            &OkInfo {
                affected_rows: 3,
                last_insert_id: 300,
                warnings: 1,
                info: String::new(),
            },
            StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        );
        assert_eq!(b, vec![0, 3, 0xfc, 44, 1, 2, 0, 1, 0]);
    }

    #[test]
    fn column_def_roundtrip() {
        use mysql_common::constants::{ColumnFlags, ColumnType};
        use mysql_common::io::ParseBuf;
        use mysql_common::proto::MyDeserialize;
        let c = Column::new(ColumnType::MYSQL_TYPE_LONGLONG)
            .with_name(b"COUNT(*)")
            .with_character_set(63)
            .with_column_length(21)
            .with_flags(ColumnFlags::BINARY_FLAG | ColumnFlags::NOT_NULL_FLAG);
        let mut b = Vec::new();
        column_def(&mut b, &c);
        let back = Column::deserialize((), &mut ParseBuf(&b)).unwrap();
        assert_eq!(back.character_set(), 63);
        assert_eq!(back.column_length(), 21);
        assert_eq!(back.name_ref(), b"COUNT(*)");
        assert_eq!(back.flags(), c.flags());
    }

    #[test]
    fn err_layout() {
        let mut b = Vec::new();
        err_packet(&mut b, 1045, "28000", "Access denied");
        assert_eq!(
            &b[..9],
            &[0xff, 0x15, 0x04, b'#', b'2', b'8', b'0', b'0', b'0']
        );
    }
}
