//! Counting the rows a responder sends, raw answers included: a pipelined point
//! read's answer is forwarded as MariaDB's packets, so its rows are counted by
//! walking the packet headers (column count, definitions, EOF, rows, EOF).

/// Where in a raw answer the next packet falls.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Phase {
    /// The first packet: OK, ERR or a column count.
    #[default]
    Start,
    /// Column definitions still to come, then their EOF.
    Columns(u64),
    Rows,
    /// The answer ended (a later packet starts a new one).
    Done,
}

#[derive(Debug, Default)]
pub struct RowTally {
    rows: u64,
    /// Result sets started (column definitions sent), raw ones included.
    results: u64,
    phase: Phase,
}

impl RowTally {
    pub fn count(&self) -> u64 {
        self.rows
    }

    pub fn add(&mut self, n: u64) {
        self.rows += n;
    }

    /// Result sets started so far.
    pub fn results(&self) -> u64 {
        self.results
    }

    /// A result set starts (its column definitions are written).
    pub fn result_start(&mut self) {
        self.results += 1;
    }

    /// The next raw bytes start a new answer.
    pub fn answer_start(&mut self) {
        self.phase = Phase::Start;
    }

    /// Counts the rows among `bytes`: whole packets of a raw answer. Returns the
    /// code of an ERR packet among them, if any.
    pub fn raw(&mut self, bytes: &[u8]) -> Option<u16> {
        let mut error = None;
        let mut at = 0;
        while at + 4 <= bytes.len() {
            let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], 0]) as usize;
            let p = &bytes[at + 4..(at + 4 + len).min(bytes.len())];
            at += 4 + len;
            let first = p.first().copied().unwrap_or(0);
            let eof = first == 0xfe && p.len() < 9;
            if first == 0xff && !matches!(self.phase, Phase::Columns(_)) {
                error = p.get(1..3).map(|c| u16::from_le_bytes([c[0], c[1]]));
            }
            self.phase = match self.phase {
                Phase::Start | Phase::Done => match first {
                    0x00 | 0xff | 0xfb => Phase::Done,
                    n if n < 0xfb => {
                        self.results += 1;
                        Phase::Columns(n as u64 + 1)
                    }
                    _ => {
                        self.results += 1;
                        Phase::Columns(
                            // A length-encoded count past 250 columns.
                            p.get(1..3)
                                .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as u64)
                                + 1,
                        )
                    }
                },
                Phase::Columns(1) => Phase::Rows,
                Phase::Columns(n) => Phase::Columns(n - 1),
                Phase::Rows if eof || first == 0xff => Phase::Done,
                Phase::Rows => {
                    self.rows += 1;
                    Phase::Rows
                }
            };
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(b: &mut Vec<u8>, payload: &[u8]) {
        b.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
        b.push(0);
        b.extend_from_slice(payload);
    }

    #[test]
    fn counts_rows_of_a_raw_answer() {
        let mut b = Vec::new();
        packet(&mut b, &[2]);
        packet(&mut b, b"\x03defcol1");
        packet(&mut b, b"\x03defcol2");
        packet(&mut b, &[0xfe, 0, 0, 2, 0]);
        packet(&mut b, b"\x01a\x01b");
        packet(&mut b, b"\x01c\x01d");
        packet(&mut b, &[0xfe, 0, 0, 2, 0]);
        let mut t = RowTally::default();
        // Chunks hold whole packets: the answer in two, cut after the column EOF.
        let cut = 4 + 1 + 2 * (4 + 8) + 4 + 5;
        t.raw(&b[..cut]);
        t.raw(&b[cut..]);
        assert_eq!(t.count(), 2);
        assert_eq!(t.results(), 1);
        let mut ok = Vec::new();
        packet(&mut ok, &[0, 0, 0, 2, 0, 0, 0]);
        t.answer_start();
        assert_eq!(t.raw(&ok), None);
        assert_eq!(t.count(), 2);
        assert_eq!(t.results(), 1);
        let mut err = Vec::new();
        packet(&mut err, b"\xff\x1e\x04#42S22Unknown column");
        t.answer_start();
        assert_eq!(t.raw(&err), Some(1054));
    }
}
