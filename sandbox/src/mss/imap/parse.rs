//! Command lines: `tag SP command [SP arguments]`, arguments as atoms (a `[…]` section
//! kept in its atom, spaces included), quoted strings and parenthesised lists. Literals
//! (`{n}`) are refused: no command of this subset needs them. Nothing here panics.

/// An argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Atom(String),
    Quoted(String),
    List(Vec<Token>),
}

impl Token {
    /// An atom or a quoted string as text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Token::Atom(s) | Token::Quoted(s) => Some(s),
            Token::List(_) => None,
        }
    }
}

/// Lists nested deeper than this are refused (the parser recurses).
const MAX_DEPTH: usize = 8;

/// `tag`, command in upper case, the rest unparsed.
pub(crate) fn split_command(line: &str) -> Option<(&str, String, &str)> {
    let (tag, rest) = line.split_once(' ')?;
    if tag.is_empty()
        || !tag
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b))
    {
        return None;
    }
    let (command, args) = rest.split_once(' ').unwrap_or((rest, ""));
    if command.is_empty() {
        return None;
    }
    Some((tag, command.to_ascii_uppercase(), args))
}

/// The arguments of a command.
pub(crate) fn tokens(args: &str) -> Result<Vec<Token>, &'static str> {
    let bytes = args.as_bytes();
    let mut pos = 0;
    let out = list(bytes, &mut pos, 0)?;
    if pos < bytes.len() {
        return Err("unbalanced parenthesis");
    }
    Ok(out)
}

fn list(b: &[u8], pos: &mut usize, depth: usize) -> Result<Vec<Token>, &'static str> {
    if depth > MAX_DEPTH {
        return Err("lists nested too deep");
    }
    let mut out = Vec::new();
    loop {
        while b.get(*pos) == Some(&b' ') {
            *pos += 1;
        }
        match b.get(*pos) {
            None => return Ok(out),
            Some(b')') => return Ok(out),
            Some(b'(') => {
                *pos += 1;
                let inner = list(b, pos, depth + 1)?;
                if b.get(*pos) != Some(&b')') {
                    return Err("unbalanced parenthesis");
                }
                *pos += 1;
                out.push(Token::List(inner));
            }
            Some(b'"') => {
                *pos += 1;
                let mut s = Vec::new();
                loop {
                    match b.get(*pos) {
                        None => return Err("unterminated quoted string"),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            *pos += 1;
                            s.push(*b.get(*pos).ok_or("unterminated quoted string")?);
                        }
                        Some(c) => s.push(*c),
                    }
                    *pos += 1;
                }
                *pos += 1;
                out.push(Token::Quoted(String::from_utf8_lossy(&s).into_owned()));
            }
            Some(b'{') => return Err("literals are not supported"),
            Some(_) => {
                let start = *pos;
                let mut in_section = false;
                while let Some(&c) = b.get(*pos) {
                    match c {
                        b'[' => in_section = true,
                        b']' => in_section = false,
                        b' ' | b'(' | b')' if !in_section => break,
                        _ => {}
                    }
                    *pos += 1;
                }
                if in_section {
                    return Err("unterminated section");
                }
                let atom = String::from_utf8_lossy(&b[start..*pos]).into_owned();
                out.push(Token::Atom(atom));
            }
        }
    }
}

/// A sequence set (`1:3,5,7:*`) as inclusive ranges, `*` being `max`.
pub(crate) fn sequence_set(text: &str, max: u32) -> Option<Vec<(u32, u32)>> {
    let number = |s: &str| -> Option<u32> {
        if s == "*" {
            Some(max)
        } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().filter(|n| *n > 0)
        } else {
            None
        }
    };
    text.split(',')
        .map(|part| match part.split_once(':') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                Some((a.min(b), a.max(b)))
            }
            None => number(part).map(|n| (n, n)),
        })
        .collect()
}

pub(crate) fn in_set(set: &[(u32, u32)], n: u32) -> bool {
    set.iter().any(|(a, b)| (*a..=*b).contains(&n))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn commands_and_arguments_parse() {
        let (tag, cmd, args) =
            split_command("a1 uid FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM TO)])").unwrap();
        assert_eq!((tag, cmd.as_str()), ("a1", "UID"));
        let t = tokens(args).unwrap();
        assert_eq!(t[0], Token::Atom("FETCH".into()));
        assert_eq!(
            t[2],
            Token::List(vec![
                Token::Atom("UID".into()),
                Token::Atom("BODY.PEEK[HEADER.FIELDS (FROM TO)]".into())
            ])
        );
        assert_eq!(
            tokens(r#""a \"b\"" x"#).unwrap(),
            vec![Token::Quoted("a \"b\"".into()), Token::Atom("x".into())]
        );
        assert!(tokens("{5}").is_err());
        assert!(tokens("(a").is_err());
        assert!(tokens("a)").is_err());
        assert!(split_command("NOOP").is_none());
        assert_eq!(
            sequence_set("1:3,5,7:*", 9).unwrap(),
            vec![(1, 3), (5, 5), (7, 9)]
        );
        assert_eq!(sequence_set("*:4", 2).unwrap(), vec![(2, 4)]);
        assert!(sequence_set("0", 9).is_none());
        assert!(sequence_set("1,", 9).is_none());
    }

    #[test]
    fn random_lines_never_panic() {
        let alphabet = b"aZ09 ()[]{}\"\\*:,<>.%+-$\r\x00\xff";
        for _ in 0..20_000 {
            let len = rand::random::<u32>() % 60;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rand::random::<u32>() as usize % alphabet.len()])
                .collect();
            let line = String::from_utf8_lossy(&bytes);
            if let Some((_, _, args)) = split_command(&line) {
                let _ = tokens(args);
                let _ = sequence_set(args, rand::random::<u32>() % 5);
            }
            let _ = tokens(&line);
        }
        let deep = "(".repeat(10_000);
        assert!(tokens(&deep).is_err());
    }
}
