//! What a token is: its [`Kind`] and byte span into the statement's text
//! ([`Token`]). Made by [`super::lexer`]; read by it and [`super::scan`].

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unquoted identifier or keyword.
    Word,
    /// `` `quoted identifier` ``
    QuotedIdent,
    /// `'string'` or `"string"` (also `N'..'`, `_utf8mb4'..'` start as a Word).
    String,
    /// Integer, decimal, float, hex `0x..`, `X'..'`, `b'..'`.
    Number,
    /// `?` placeholder.
    Placeholder,
    /// `@var` or `@@var`.
    Variable,
    /// Operators and punctuation: `(`, `)`, `,`, `;`, `=`, `<=`, ...
    Punct,
    /// Whitespace.
    Space,
    /// `-- ...`, `# ...` or `/* ... */` (including `/*! ... */`).
    Comment,
}

/// A token: its kind and its byte range in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }
    /// Whether this is the keyword `kw` (case-insensitive).
    pub fn is_word(&self, sql: &str, kw: &str) -> bool {
        self.kind == Kind::Word && self.text(sql).eq_ignore_ascii_case(kw)
    }
    pub fn is_punct(&self, sql: &str, p: &str) -> bool {
        self.kind == Kind::Punct && self.text(sql) == p
    }
    /// Whitespace or comment.
    pub fn is_trivia(&self) -> bool {
        matches!(self.kind, Kind::Space | Kind::Comment)
    }
}
