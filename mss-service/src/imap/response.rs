//! IMAP responses (RFC 3501 §7): a line, or lines joined by literals (`{n}\r\n` then n bytes)
//! anywhere; read into pieces, then parsed into tokens (atoms, quoted strings and literals,
//! parenthesised lists).

use bytes::Bytes;

/// One piece of a response: a line's text (without CRLF) or a literal's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(Vec<u8>),
    Literal(Bytes),
}

/// One whole response, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub pieces: Vec<Piece>,
}

impl Response {
    /// The first line's text.
    pub fn head(&self) -> &[u8] {
        match self.pieces.first() {
            Some(Piece::Text(t)) => t,
            _ => &[],
        }
    }

    /// `* ...`: the rest after `* `.
    pub fn untagged(&self) -> Option<&[u8]> {
        self.head().strip_prefix(b"* ")
    }

    pub fn is_continuation(&self) -> bool {
        let h = self.head();
        h == b"+" || h.starts_with(b"+ ")
    }

    /// `TAG STATUS text` when the tag is `tag`: the status word and the text.
    pub fn tagged(&self, tag: &str) -> Option<(String, String)> {
        let rest = self
            .head()
            .strip_prefix(tag.as_bytes())?
            .strip_prefix(b" ")?;
        let text = String::from_utf8_lossy(rest);
        let (status, text) = text.split_once(' ').unwrap_or((&text, ""));
        Some((status.to_ascii_uppercase(), text.to_owned()))
    }

    /// Every token after `* `.
    pub fn untagged_tokens(&self) -> Option<Vec<Token>> {
        let mut pieces = self.pieces.clone();
        match pieces.first_mut() {
            Some(Piece::Text(t)) if t.starts_with(b"* ") => {
                t.drain(..2);
            }
            _ => return None,
        }
        tokens(&pieces).ok()
    }
}

/// The length of the literal announced at the end of this line (`{n}` or `{n+}`), when the
/// brace is not inside a quoted string.
pub(crate) fn literal_len(line: &[u8]) -> Option<u64> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut quoted = false;
    let mut escaped = false;
    for &b in &line[..open] {
        match (quoted, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, _, b'"') => quoted = !quoted,
            _ => {}
        }
    }
    if quoted {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A parsed element of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An atom or number, `NIL`, a flag (`\Seen`), a section (`BODY[]`), a response code
    /// part.
    Atom(String),
    /// A quoted string or a literal.
    Str(Bytes),
    List(Vec<Token>),
}

impl Token {
    pub fn atom(&self) -> Option<&str> {
        match self {
            Self::Atom(a) => Some(a),
            _ => None,
        }
    }

    pub fn number(&self) -> Option<u32> {
        self.atom()?.parse().ok()
    }
}

/// The tokens of a response's pieces.
pub(crate) fn tokens(pieces: &[Piece]) -> Result<Vec<Token>, String> {
    let mut stack: Vec<Vec<Token>> = vec![Vec::new()];
    let mut pending_literal = false;
    for piece in pieces {
        let text = match piece {
            Piece::Literal(bytes) => {
                if !pending_literal {
                    return Err("a literal nobody announced".to_owned());
                }
                pending_literal = false;
                push(&mut stack, Token::Str(bytes.clone()));
                continue;
            }
            Piece::Text(t) => t,
        };
        if pending_literal {
            return Err("an announced literal is missing".to_owned());
        }
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b' ' => i += 1,
                b'(' => {
                    stack.push(Vec::new());
                    i += 1;
                }
                b')' => {
                    if stack.len() < 2 {
                        return Err("an unbalanced ')'".to_owned());
                    }
                    let list = stack.pop().unwrap_or_default();
                    push(&mut stack, Token::List(list));
                    i += 1;
                }
                b'"' => {
                    let mut s = Vec::new();
                    i += 1;
                    loop {
                        match text.get(i) {
                            None => return Err("an unterminated quoted string".to_owned()),
                            Some(b'"') => break,
                            Some(b'\\') => {
                                s.push(*text.get(i + 1).ok_or("a dangling escape")?);
                                i += 2;
                            }
                            Some(&b) => {
                                s.push(b);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                    push(&mut stack, Token::Str(Bytes::from(s)));
                }
                b'{' if literal_len(&text[i..]).is_some() => {
                    pending_literal = true;
                    i = text.len();
                }
                _ => {
                    // An atom; a section in brackets may hold spaces and parentheses.
                    let start = i;
                    let mut depth = 0usize;
                    while let Some(&b) = text.get(i) {
                        match b {
                            b'[' => depth += 1,
                            b']' => depth = depth.saturating_sub(1),
                            b' ' | b'(' | b')' if depth == 0 => break,
                            _ => {}
                        }
                        i += 1;
                    }
                    let atom = String::from_utf8_lossy(&text[start..i]).into_owned();
                    push(&mut stack, Token::Atom(atom));
                }
            }
        }
    }
    if pending_literal {
        return Err("an announced literal is missing".to_owned());
    }
    if stack.len() != 1 {
        return Err("an unbalanced '('".to_owned());
    }
    Ok(stack.pop().unwrap_or_default())
}

fn push(stack: &mut [Vec<Token>], token: Token) {
    if let Some(top) = stack.last_mut() {
        top.push(token);
    }
}

/// `[CODE value]` at the start of a status text: the code (upper case) and its value.
pub(crate) fn response_code(text: &str) -> Option<(String, String)> {
    let inner = text.strip_prefix('[')?;
    let end = inner.find(']')?;
    let inner = &inner[..end];
    let (code, value) = inner.split_once(' ').unwrap_or((inner, ""));
    Some((code.to_ascii_uppercase(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Piece {
        Piece::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn literal_lengths_outside_quotes_only() {
        assert_eq!(literal_len(b"* 1 FETCH (BODY[] {12}"), Some(12));
        assert_eq!(literal_len(b"A LOGIN {5+}"), Some(5));
        assert_eq!(literal_len(b"* OK \"odd {3}"), None);
        assert_eq!(literal_len(b"* OK \"a\\\"\" {3}"), Some(3));
        assert_eq!(literal_len(b"* OK {x}"), None);
        assert_eq!(literal_len(b"* OK }"), None);
    }

    #[test]
    fn fetch_with_literals_quoted_strings_and_sections() {
        let pieces = vec![
            text("1 FETCH (UID 7 FLAGS (\\Seen $MDNSent) BODY[HEADER.FIELDS (SUBJECT)] {4}"),
            Piece::Literal(Bytes::from_static(b"S: x")),
            text(" X \"a \\\"q\\\" (b)\" BODY[] {3}"),
            Piece::Literal(Bytes::from_static(b"a)b")),
            text(")"),
        ];
        let t = tokens(&pieces).unwrap();
        assert_eq!(t[0], Token::Atom("1".into()));
        assert_eq!(t[1], Token::Atom("FETCH".into()));
        let Token::List(items) = &t[2] else { panic!() };
        assert_eq!(items[1].number(), Some(7));
        assert_eq!(
            items[3],
            Token::List(vec![
                Token::Atom("\\Seen".into()),
                Token::Atom("$MDNSent".into())
            ])
        );
        assert_eq!(
            items[4],
            Token::Atom("BODY[HEADER.FIELDS (SUBJECT)]".into())
        );
        assert_eq!(items[5], Token::Str(Bytes::from_static(b"S: x")));
        assert_eq!(items[7], Token::Str(Bytes::from_static(b"a \"q\" (b)")));
        assert_eq!(items[9], Token::Str(Bytes::from_static(b"a)b")));
        assert!(tokens(&[text("(a")]).is_err());
        assert!(tokens(&[text("a {3}")]).is_err());
    }

    #[test]
    fn tagged_untagged_and_codes() {
        let r = Response {
            pieces: vec![text("A0002 NO [UNAVAILABLE] try later")],
        };
        assert_eq!(
            r.tagged("A0002"),
            Some(("NO".into(), "[UNAVAILABLE] try later".into()))
        );
        assert_eq!(r.tagged("A0001"), None);
        assert_eq!(
            response_code("[UIDVALIDITY 42] ok"),
            Some(("UIDVALIDITY".into(), "42".into()))
        );
        let c = Response {
            pieces: vec![text("+ ")],
        };
        assert!(c.is_continuation() && c.untagged().is_none());
    }
}
