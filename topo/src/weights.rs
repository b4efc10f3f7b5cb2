//! Collation weights of text shard keys: what makes two key values equal.
//!
//! MariaDB compares a text column by its collation's *weights*, not its characters:
//! in `utf8mb4_general_ci` `'a' = 'Ä'` and `'ß' = 's'`, in `utf8mb4_unicode_ci`
//! `'a' = 'a\u{A0}'` (a trailing no-break space weighs as a space, and PAD SPACE
//! collations ignore trailing spaces). A text key is therefore hashed by the
//! weights of its value ([`crate::slot`]): `CRC32(WEIGHT_STRING(value))`, less
//! trailing space weights in a PAD SPACE collation — the same in SQL and here.
//!
//! The weights come from MariaDB itself: a [`Weigher`] is loaded once per collation
//! from a set ([`load`]: the weight of every BMP character, one query, and a sample of
//! the supplementary planes), and kept in a process-wide registry ([`weigher`]).
//! A value's weights are then the concatenation of its characters' weights, which
//! holds for collations without contractions (several characters weighing as one,
//! as `ch` in `utf8mb4_czech_ci` or `И` + breve in `utf8mb4_uca1400_ai_ci`):
//! [`supported`] lists them; a text key in any other collation is refused.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use mysql_async::prelude::Queryable;

/// How the supplementary planes (U+10000 and above) weigh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Supplementary {
    /// All alike (`utf8mb4_general_ci`, `utf8mb4_unicode_ci`: as U+FFFD).
    Same(Vec<u8>),
    /// As their code point in 3 bytes, big-endian (`utf8mb4_bin`).
    CodePoint,
    /// The character set cannot hold them (utf8mb3, latin1, ascii).
    Unrepresentable,
}

/// The weights of one collation's characters.
#[derive(Debug)]
pub struct Weigher {
    pub id: u16,
    pub name: String,
    /// PAD SPACE: trailing space weights are not part of a value's identity.
    pub pad: bool,
    /// The weight of U+0020.
    space: Vec<u8>,
    /// `data[starts[c]..starts[c + 1]]` is the weight of BMP character `c`.
    starts: Vec<u32>,
    data: Vec<u8>,
    /// BMP characters the character set cannot hold (one bit each).
    absent: Vec<u64>,
    supplementary: Supplementary,
}

/// Why a value has no weights.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unweighable {
    #[error("character U+{0:04X} cannot be stored in collation {1}")]
    Unrepresentable(u32, String),
}

/// Why a collation's weights could not be had.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("unknown collation id {0}")]
    UnknownId(u16),
    #[error("unknown collation {0}")]
    UnknownName(String),
    #[error(
        "collation {0} is not supported for a text shard key (its weights are not per \
         character); use a *_general_ci, *_unicode_ci or *_bin collation of utf8mb4, \
         utf8mb3, latin1 or ascii, or a VARBINARY key"
    )]
    Unsupported(String),
    #[error("reading the weights of collation {0}: {1}")]
    Query(String, mysql_async::Error),
}

const BMP: usize = 0x1_0000;

/// Whether text keys in collation `name` (of character set `charset`) can be
/// hashed by per-character weights: no contractions, one weight level.
pub fn supported(name: &str, charset: &str) -> bool {
    let name = name.to_ascii_lowercase();
    match charset.to_ascii_lowercase().as_str() {
        // 8-bit collations: one weight per byte (latin1_german2_ci expands, per character).
        "latin1" | "ascii" => true,
        cs @ ("utf8mb4" | "utf8mb3") => matches!(
            name.strip_prefix(cs),
            Some(
                "_general_ci"
                    | "_general_nopad_ci"
                    | "_general_mysql500_ci"
                    | "_bin"
                    | "_nopad_bin"
                    | "_unicode_ci"
                    | "_unicode_nopad_ci"
            )
        ),
        _ => false,
    }
}

impl Weigher {
    /// Built from the weights of the BMP (`(code point, weight, representable)`,
    /// surrogates absent) and of a sample of the supplementary planes.
    pub fn from_rows(
        id: u16,
        name: &str,
        charset: &str,
        bmp: &[(u32, Vec<u8>, bool)],
        supplementary: &[(u32, Vec<u8>, bool)],
    ) -> Result<Self, WeightsError> {
        let unsupported = || WeightsError::Unsupported(name.to_string());
        if !supported(name, charset) {
            return Err(unsupported());
        }
        let mut weights: Vec<Option<&[u8]>> = vec![None; BMP];
        for (cp, w, ok) in bmp {
            if *ok && (*cp as usize) < BMP {
                weights[*cp as usize] = Some(w);
            }
        }
        let space = weights[0x20].ok_or_else(unsupported)?.to_vec();
        if space.is_empty() {
            return Err(unsupported());
        }
        let mut starts = Vec::with_capacity(BMP + 1);
        let mut data = Vec::new();
        let mut absent = vec![0u64; BMP / 64];
        for (cp, w) in weights.iter().enumerate() {
            starts.push(data.len() as u32);
            match w {
                // Trailing spaces are trimmed weight by weight: every weight must be
                // whole units of the space's weight.
                Some(w) if w.len() % space.len() == 0 => data.extend_from_slice(w),
                Some(_) => return Err(unsupported()),
                None => absent[cp / 64] |= 1 << (cp % 64),
            }
        }
        starts.push(data.len() as u32);
        let supplementary = classify_supplementary(supplementary).ok_or_else(unsupported)?;
        Ok(Self {
            id,
            name: name.to_string(),
            pad: !name.to_ascii_lowercase().contains("_nopad_"),
            space,
            starts,
            data,
            absent,
            supplementary,
        })
    }

    /// The weight of one character; None when the character set cannot hold it.
    fn weight(&self, c: char) -> Option<std::borrow::Cow<'_, [u8]>> {
        let cp = c as usize;
        if cp < BMP {
            if self.absent[cp / 64] & (1 << (cp % 64)) != 0 {
                return None;
            }
            let (a, b) = (self.starts[cp] as usize, self.starts[cp + 1] as usize);
            return Some(self.data[a..b].into());
        }
        match &self.supplementary {
            Supplementary::Same(w) => Some(w.as_slice().into()),
            Supplementary::CodePoint => Some(code_point_weight(cp as u32).to_vec().into()),
            Supplementary::Unrepresentable => None,
        }
    }

    /// The identity of `value` in this collation: its weights, less trailing space
    /// weights when the collation is PAD SPACE. Equal exactly when MariaDB finds the
    /// values equal.
    pub fn key(&self, value: &str) -> Result<Vec<u8>, Unweighable> {
        let mut out = Vec::with_capacity(value.len() * 2);
        for c in value.chars() {
            let w = self
                .weight(c)
                .ok_or_else(|| Unweighable::Unrepresentable(c as u32, self.name.clone()))?;
            out.extend_from_slice(&w);
        }
        Ok(self.trimmed(out))
    }

    /// [`Self::key`] of the value MariaDB stores for `value` outside strict mode:
    /// each character the character set cannot hold becomes `?`. (In strict mode
    /// MariaDB refuses the value, on whichever set it is sent to.)
    pub fn stored_key(&self, value: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(value.len() * 2);
        for c in value.chars() {
            match self.weight(c).or_else(|| self.weight('?')) {
                Some(w) => out.extend_from_slice(&w),
                None => continue,
            }
        }
        self.trimmed(out)
    }

    fn trimmed(&self, mut w: Vec<u8>) -> Vec<u8> {
        if self.pad {
            let n = self.space.len();
            while w.len() >= n && w[w.len() - n..] == self.space[..] {
                w.truncate(w.len() - n);
            }
        }
        w
    }
}

fn code_point_weight(cp: u32) -> [u8; 3] {
    [(cp >> 16) as u8, (cp >> 8) as u8, cp as u8]
}

/// How a sample of the supplementary planes weighs (None: in no known way).
fn classify_supplementary(rows: &[(u32, Vec<u8>, bool)]) -> Option<Supplementary> {
    if rows.is_empty() {
        return None;
    }
    if rows.iter().all(|(_, _, ok)| !ok) {
        return Some(Supplementary::Unrepresentable);
    }
    if !rows.iter().all(|(_, _, ok)| *ok) {
        return None;
    }
    if rows.iter().all(|(_, w, _)| *w == rows[0].1) {
        return Some(Supplementary::Same(rows[0].1.clone()));
    }
    if rows
        .iter()
        .all(|(cp, w, _)| w[..] == code_point_weight(*cp)[..])
    {
        return Some(Supplementary::CodePoint);
    }
    None
}

fn registry() -> &'static RwLock<HashMap<u16, Arc<Weigher>>> {
    static REGISTRY: OnceLock<RwLock<HashMap<u16, Arc<Weigher>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The weights of collation `id`, if loaded in this process.
pub fn weigher(id: u16) -> Option<Arc<Weigher>> {
    registry()
        .read()
        .expect("weights registry")
        .get(&id)
        .cloned()
}

/// Keeps `w` for the rest of the process.
pub fn register(w: Weigher) -> Arc<Weigher> {
    let w = Arc::new(w);
    registry()
        .write()
        .expect("weights registry")
        .insert(w.id, w.clone());
    w
}

/// The id of collation `name` and whether it is PAD SPACE, asked of a server;
/// refused unless text keys in it can be hashed ([`supported`]).
pub async fn resolve(
    conn: &mut mysql_async::Conn,
    name: &str,
) -> Result<(u16, bool), WeightsError> {
    let row: Option<(u16, String, String)> = conn
        .exec_first(
            "SELECT ID, COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS \
             WHERE COLLATION_NAME = ?",
            (name,),
        )
        .await
        .map_err(|e| WeightsError::Query(name.to_string(), e))?;
    let (id, name, charset) = row.ok_or_else(|| WeightsError::UnknownName(name.to_string()))?;
    if !supported(&name, &charset) {
        return Err(WeightsError::Unsupported(name));
    }
    Ok((id, !name.to_ascii_lowercase().contains("_nopad_")))
}

/// The weights of collation `id`: from the registry, else read from the server
/// behind `conn` (two queries, ~65k rows) and registered.
pub async fn load(conn: &mut mysql_async::Conn, id: u16) -> Result<Arc<Weigher>, WeightsError> {
    if let Some(w) = weigher(id) {
        return Ok(w);
    }
    let row: Option<(String, String)> = conn
        .exec_first(
            "SELECT COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS \
             WHERE ID = ?",
            (id,),
        )
        .await
        .map_err(|e| WeightsError::Query(format!("id {id}"), e))?;
    let (name, charset) = row.ok_or(WeightsError::UnknownId(id))?;
    if !supported(&name, &charset) {
        return Err(WeightsError::Unsupported(name));
    }
    // Code points from hex digits (no Sequence engine, no privilege on any table).
    let digits = (0..16)
        .map(|d| format!("SELECT {d} d"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows = |seq: &str, digit_tables: &[&str]| {
        let from: Vec<String> = digit_tables
            .iter()
            .map(|t| format!("({digits}) {t}"))
            .collect();
        format!(
            "SELECT seq, WEIGHT_STRING(CONVERT(CHAR(seq USING utf32) USING {charset}) \
             COLLATE {name}), BINARY CONVERT(CONVERT(CHAR(seq USING utf32) USING {charset}) \
             USING utf32) = BINARY CHAR(seq USING utf32) \
             FROM (SELECT {seq} AS seq FROM {}) n \
             WHERE seq NOT BETWEEN 55296 AND 57343 AND seq <= 1114111",
            from.join(", ")
        )
    };
    let fetch = |rows: Vec<(u32, Option<Vec<u8>>, Option<i64>)>| -> Vec<(u32, Vec<u8>, bool)> {
        rows.into_iter()
            .map(|(cp, w, ok)| (cp, w.unwrap_or_default(), ok == Some(1)))
            .collect()
    };
    let bmp = conn
        .query(rows(
            "a.d * 4096 + b.d * 256 + c.d * 16 + e.d",
            &["a", "b", "c", "e"],
        ))
        .await
        .map_err(|e| WeightsError::Query(name.clone(), e))?;
    // A sample of the supplementary planes, every 997th code point.
    let supplementary = conn
        .query(rows(
            "65536 + 997 * (b.d * 256 + c.d * 16 + e.d)",
            &["b", "c", "e"],
        ))
        .await
        .map_err(|e| WeightsError::Query(name.clone(), e))?;
    let w = Weigher::from_rows(id, &name, &charset, &fetch(bmp), &fetch(supplementary))?;
    Ok(register(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy general_ci: letters weigh as their upper case, 'Ä' as 'A', '\u{1}' absent.
    fn toy(name: &str, charset: &str) -> Weigher {
        let bmp: Vec<(u32, Vec<u8>, bool)> = (0u32..0x100)
            .map(|cp| {
                let c = char::from_u32(cp).unwrap();
                let w = match c {
                    'Ä' | 'ä' => 'A' as u32,
                    c => c.to_ascii_uppercase() as u32,
                };
                (cp, vec![0, w as u8], cp != 1)
            })
            .collect();
        let supp = vec![
            (0x10000, vec![0xFF, 0xFD], true),
            (0x1F600, vec![0xFF, 0xFD], true),
        ];
        Weigher::from_rows(45, name, charset, &bmp, &supp).unwrap()
    }

    #[test]
    fn equal_values_have_equal_keys() {
        let w = toy("utf8mb4_general_ci", "utf8mb4");
        assert!(w.pad);
        assert_eq!(w.key("a").unwrap(), w.key("Ä").unwrap());
        assert_eq!(w.key("a").unwrap(), w.key("A  ").unwrap());
        assert_ne!(w.key("a").unwrap(), w.key(" a").unwrap());
        assert_eq!(w.key("😀").unwrap(), w.key("\u{10000}").unwrap());
        assert_eq!(w.key("").unwrap(), Vec::<u8>::new());
        assert!(matches!(
            w.key("\u{1}"),
            Err(Unweighable::Unrepresentable(1, _))
        ));
        assert_eq!(w.stored_key("a\u{1}"), w.key("a?").unwrap());
    }

    #[test]
    fn nopad_keeps_trailing_spaces() {
        let w = toy("utf8mb4_general_nopad_ci", "utf8mb4");
        assert!(!w.pad);
        assert_ne!(w.key("a").unwrap(), w.key("a ").unwrap());
    }

    #[test]
    fn collations_with_contractions_are_refused() {
        assert!(supported("utf8mb4_unicode_ci", "utf8mb4"));
        assert!(supported("utf8mb3_general_ci", "utf8mb3"));
        assert!(supported("latin1_german2_ci", "latin1"));
        assert!(supported("utf8mb4_nopad_bin", "utf8mb4"));
        assert!(!supported("utf8mb4_czech_ci", "utf8mb4"));
        assert!(!supported("utf8mb4_uca1400_ai_ci", "utf8mb4"));
        assert!(!supported("utf8mb4_unicode_520_ci", "utf8mb4"));
        assert!(!supported("ucs2_general_ci", "ucs2"));
    }

    #[test]
    fn supplementary_planes_are_classified() {
        let same = [
            (0x10000, vec![0xFF, 0xFD], true),
            (0x1F600, vec![0xFF, 0xFD], true),
        ];
        assert_eq!(
            classify_supplementary(&same),
            Some(Supplementary::Same(vec![0xFF, 0xFD]))
        );
        let cp = [
            (0x10000, vec![1, 0, 0], true),
            (0x1F600, vec![1, 0xF6, 0], true),
        ];
        assert_eq!(classify_supplementary(&cp), Some(Supplementary::CodePoint));
        let none = [(0x10000, vec![0x3F], false)];
        assert_eq!(
            classify_supplementary(&none),
            Some(Supplementary::Unrepresentable)
        );
        let odd = [(0x10000, vec![1], true), (0x1F600, vec![2], true)];
        assert_eq!(classify_supplementary(&odd), None);
    }
}
