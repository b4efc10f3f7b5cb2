//! Executable comments: `/*! ... */`, `/*!NNNNN ... */` and `/*M!NNNNNN ... */`.
//!
//! MariaDB executes the text inside them as SQL (mysqldump and mariadb-dump write
//! them everywhere). This module reads them as MariaDB 10.11 does, so the gateway
//! classifies, routes and plans what the sets will execute: [`unwrap`] blanks the
//! markers of each comment MariaDB executes (same byte length, so positions in
//! error messages stay the client's) and leaves the others as comments:
//! - `/*!` without a number, or `/*M!` without a number: executed;
//! - `/*!NNNNN` (5 or 6 digits): executed when NNNNN <= the sets' version id and
//!   the number is not a MySQL 5.7+ one (50700..=99999), which MariaDB ignores;
//! - `/*M!NNNNNN`: executed when the number <= the sets' version id;
//! - `/* ... */` and optimizer hints `/*+ ... */` stay comments.

use super::lexer::LexError;

/// MYSQL_VERSION_ID of the MariaDB the sets run and the gateway announces
/// (10.11.19).
pub const VERSION_ID: u64 = 101119;

/// `sql` with the markers of every executable comment MariaDB runs replaced by
/// spaces; `None` when there is none. Strings, quoted names and ordinary comments
/// are skipped as the lexer reads them.
pub fn unwrap(sql: &str) -> Result<Option<String>, LexError> {
    if !sql.contains("/*!") && !sql.contains("/*M!") {
        return Ok(None);
    }
    let b = sql.as_bytes();
    let mut out = b.to_vec();
    let mut changed = false;
    let mut inside = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i = quoted_end(b, i, q).ok_or(LexError {
                    at: i,
                    what: "unterminated string",
                })?;
            }
            b'#' => i = line_end(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = line_end(b, i)
            }
            b'*' if inside && b.get(i + 1) == Some(&b'/') => {
                out[i] = b' ';
                out[i + 1] = b' ';
                inside = false;
                i += 2;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let maria = b.get(i + 2) == Some(&b'M') && b.get(i + 3) == Some(&b'!');
                if !inside && (maria || b.get(i + 2) == Some(&b'!')) {
                    let mut j = i + if maria { 4 } else { 3 };
                    let digits = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let run = if digits >= 5 {
                        let n = digits.min(6);
                        let version: u64 = sql[j..j + n].parse().unwrap_or(u64::MAX);
                        j += n;
                        version <= VERSION_ID && (maria || !(50700..=99999).contains(&version))
                    } else {
                        true
                    };
                    // An empty one stays a comment (MariaDB: not an empty query).
                    let blank = b[j..]
                        .iter()
                        .take_while(|c| c.is_ascii_whitespace())
                        .count();
                    if run && !b[j + blank..].starts_with(b"*/") {
                        out[i..j].fill(b' ');
                        inside = true;
                        changed = true;
                        i = j;
                        continue;
                    }
                }
                // An ordinary comment, or one MariaDB skips: up to its first `*/`.
                let off = find(&b[i + 2..], b"*/").ok_or(LexError {
                    at: i,
                    what: "unterminated comment",
                })?;
                i += 2 + off + 2;
            }
            _ => i += 1,
        }
    }
    if inside {
        return Err(LexError {
            at: b.len(),
            what: "unterminated comment",
        });
    }
    if !changed {
        return Ok(None);
    }
    // Only ASCII markers were blanked, so the text is still UTF-8.
    Ok(Some(
        String::from_utf8(out).expect("ASCII edits keep UTF-8"),
    ))
}

fn line_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// End (exclusive) of a quoted token at `i`; a doubled quote is a quote; `\`
/// escapes in strings (the gateway refuses backslash literals under
/// NO_BACKSLASH_ESCAPES before it reads the text).
fn quoted_end(b: &[u8], mut i: usize, q: u8) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' if q != b'`' => i += 2,
            c if c == q => {
                if b.get(i + 1) == Some(&q) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::unwrap;

    fn u(s: &str) -> String {
        unwrap(s).unwrap().unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn executed_comments_are_unwrapped() {
        assert_eq!(
            u("/*!40101 SET NAMES utf8mb4 */"),
            "         SET NAMES utf8mb4   "
        );
        assert_eq!(
            u("/*! INSERT INTO t VALUES (1) */"),
            "    INSERT INTO t VALUES (1)   "
        );
        assert_eq!(u("/*M!100100 SET @a=1 */"), "           SET @a=1   ");
        assert_eq!(
            u("INSERT INTO t /*!VALUES (1)*/"),
            "INSERT INTO t    VALUES (1)  "
        );
        assert_eq!(u("/*!101119 SET @a=1*/").trim(), "SET @a=1");
    }

    #[test]
    fn others_stay_comments() {
        for s in [
            "/* x */ SELECT 1",
            "/*+ MAX_EXECUTION_TIME(1) */ SELECT 1",
            "/*!80016 DEFAULT ENCRYPTION='N' */ SELECT 1",
            "/*!50700 SET @a=1 */ SELECT 1",
            "/*!101200 SET @a=1 */ SELECT 1",
            "/*M!999999 SET @a=1 */ SELECT 1",
            "SELECT '/*! x */', `/*!a*/` -- /*! y */",
        ] {
            assert_eq!(unwrap(s).unwrap(), None, "{s}");
        }
        // MariaDB-only syntax runs for MySQL 5.7+ numbers.
        assert_eq!(u("/*M!50700 SET @a=1 */").trim(), "SET @a=1");
    }

    #[test]
    fn strings_inside_are_skipped() {
        assert_eq!(u("/*! SELECT '*/' */").trim(), "SELECT '*/'");
        assert!(unwrap("/*! SELECT 1").is_err());
        assert_eq!(unwrap("/*!40101 */").unwrap(), None);
    }
}
