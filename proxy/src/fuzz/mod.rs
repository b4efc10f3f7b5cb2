//! Fuzz entry points (built for tests and with the `fuzz` feature only): each
//! takes arbitrary bytes and runs one of the gateway's decoders on them, the way
//! a client's bytes reach it. A panic, a hang or a runaway allocation here is a
//! crashed client session. Driven by the cargo-fuzz targets in `fuzz/` and, on
//! stable Rust, by the bounded `fuzz_*` unit tests (`setwise-fuzzkit`); see
//! docs/fuzzing.md.
//!
//! | target | what |
//! |---|---|
//! | [`front::packet`] | packet framing ([`crate::front::packet`]) |
//! | [`front::session`] | handshake, auth switch, every command ([`crate::front::serve`]) |
//! | [`execute`] | COM_STMT_PREPARE text + COM_STMT_EXECUTE parameters ([`crate::front::stmts`]) |
//! | [`lexer`] | the lexer, executable comments and everything that reads tokens before a parse |
//! | [`planner`] | parse + plan + plan cache against a fixed routing snapshot |

pub mod front;
pub(crate) mod planner;
#[cfg(test)]
mod tests;

pub use planner::planner;

use crate::front::charset::Codec;
use crate::front::stmts::Stmts;
use crate::sql::lexer::{self, Kind};

/// COM_STMT_PREPARE then COM_STMT_EXECUTE(s): `data` is `[flags][sql len u16
/// LE][sql]` then records `[op][len u16 LE][bytes]`: op 0 executes with the bytes
/// as the parameter block, op 1 sends them as long data for parameter `bytes[0]`,
/// op 2 resets the statement. Flags: bit 0 backslash escapes, bits 1-2 the
/// character set (utf8, latin1, another).
pub fn execute(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (sql, mut rest) = take_record(rest);
    let codec = match (flags >> 1) & 3 {
        0 => Codec::Utf8,
        1 => Codec::Latin1,
        _ => Codec::AsciiOnly,
    };
    let Ok(sql) = codec.decode(sql) else {
        return;
    };
    let mut stmts = Stmts::default();
    let Ok((id, n)) = stmts.add(&sql) else {
        return;
    };
    assert!(stmts.bind(id.wrapping_add(1), &[], true, codec).is_none());
    while let Some((&op, r)) = rest.split_first() {
        let (body, r) = take_record(r);
        rest = r;
        match op % 3 {
            0 => {
                let Some(Ok(bound)) = stmts.bind(id, body, flags & 1 != 0, codec) else {
                    continue;
                };
                assert_eq!(bound.values.len(), n);
                // What the gateway plans: the spliced text must lex as cleanly
                // as the text prepared (a literal never opens a quote or comment).
                // Not checked without backslash escapes: the lexer always reads
                // `\'` as an escaped quote (docs/fuzzing.md, known limits).
                if flags & 1 == 0 {
                    continue;
                }
                if let Err(e) = lexer::tokenize(&bound.spliced) {
                    panic!("spliced text does not lex ({e:?}): {:?}", bound.spliced);
                }
            }
            1 => {
                let param = body.first().copied().unwrap_or(0) as usize;
                stmts.long_data(id, param, body.get(1..).unwrap_or(&[]));
            }
            _ => {
                stmts.reset(id);
            }
        }
    }
}

/// `[len u16 LE][bytes]` (a short input: what is left).
fn take_record(b: &[u8]) -> (&[u8], &[u8]) {
    match b {
        [x, y, rest @ ..] => {
            let n = (u16::from_le_bytes([*x, *y]) as usize).min(rest.len());
            rest.split_at(n)
        }
        _ => (b, &[]),
    }
}

/// The lexer and what reads its tokens before (or instead of) a parse: `data`
/// as text (lossy UTF-8). Checks that the tokens cover the text exactly.
pub fn lexer(data: &[u8]) {
    let sql = String::from_utf8_lossy(data);
    let sql = sql.as_ref();
    let Ok(tokens) = lexer::tokenize(sql) else {
        return;
    };
    let mut at = 0;
    for t in &tokens {
        assert_eq!(t.start, at, "tokens leave a gap or overlap");
        assert!(t.end > t.start, "an empty token");
        assert!(sql.is_char_boundary(t.start) && sql.is_char_boundary(t.end));
        at = t.end;
        match t.kind {
            Kind::String if t.text(sql).len() >= 2 => {
                let _ = lexer::string_value(sql, t);
            }
            Kind::QuotedIdent | Kind::Word => {
                let _ = lexer::ident_text(sql, t);
            }
            _ => {}
        }
    }
    assert_eq!(at, sql.len(), "tokens do not cover the text");
    let _ = lexer::top_level_words(sql, &tokens);
    let parts = lexer::split_statements(sql, &tokens);
    for piece in crate::sql::comment_only::pieces(sql, &tokens, &parts) {
        match piece {
            crate::sql::comment_only::Piece::Run(s, e) => assert!(parts.contains(&(s, e))),
            crate::sql::comment_only::Piece::Near(at) => assert_eq!(&sql[at..at + 1], ";"),
            crate::sql::comment_only::Piece::Comments => {}
        }
    }
    // Executable comments unwrapped: same length, still text.
    if let Ok(Some(u)) = crate::sql::exec_comment::unwrap(sql) {
        assert_eq!(u.len(), sql.len(), "unwrapping changed the length");
    }
    for (s, e) in parts {
        let part = &sql[s..e];
        let Ok(toks) = lexer::tokenize(part) else {
            panic!("a statement split off a text that lexes does not lex: {part:?}");
        };
        classify(part, &toks);
    }
}

/// Everything the session reads off one statement's tokens.
pub(crate) fn classify(sql: &str, tokens: &[lexer::Token]) {
    let sig = lexer::significant(tokens);
    let _ = crate::sql::effects::classify(sql, &sig);
    let _ = crate::sql::xa::parse(sql, &sig);
    let _ = crate::sql::shardkey::strip(sql, tokens);
    let _ = crate::explain::classify(sql, &sig);
    let _ = crate::route::cache::fingerprint(sql, tokens, Some("d"));
    let _ = crate::front::limits::limit_placeholders(sql, tokens);
    let _ = crate::command::lexed_tables(sql, &sig);
    // LOCK TABLES clauses (read from the third token on, whatever the verb).
    let _ = crate::command::lock::parse(sql, &sig);
    let _ = crate::exec::fast_eligible(sql, tokens);
    for i in 0..sig.len().min(4) {
        let _ = lexer::qualified_name_at(sql, &sig, i);
    }
    // The session's classifier: every kind of command, with its names.
    let stmt = crate::command::Statement::new(sql, tokens.to_vec());
    if let Some(t) = crate::session::text::planning_text(&stmt) {
        let _ = lexer::tokenize(&t);
    }
}
