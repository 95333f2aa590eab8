//! Server replies (RFC 5321 §4.2: one or more lines `ddd-text`, the last `ddd text`), their
//! enhanced status codes (RFC 3463) and the EHLO capabilities.

use std::fmt;

/// A server reply: its code, its enhanced status code when it has one, its lines' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// `5.1.1`, read from the first line when the text starts with one.
    pub enhanced: Option<EnhancedCode>,
    /// Each line's text, after the code and separator (the enhanced code left in).
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 4xx: the same command may succeed later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: repeating the same command will fail again.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The text, lines joined by a space, without the enhanced code (which RFC 2034 repeats
    /// on every line).
    pub fn text(&self) -> String {
        let code = self.enhanced.map(|c| c.to_string());
        let mut out = String::new();
        for line in &self.lines {
            let line = match &code {
                Some(code) => line
                    .strip_prefix(code.as_str())
                    .filter(|rest| rest.is_empty() || rest.starts_with(' '))
                    .map_or(line.as_str(), str::trim_start),
                None => line.as_str(),
            };
            if !out.is_empty() && !line.is_empty() {
                out.push(' ');
            }
            out.push_str(line);
        }
        out
    }

    /// The message is too large for the server (`552`, or `x.3.4`).
    pub fn is_size_refusal(&self) -> bool {
        self.code == 552
            || self
                .enhanced
                .is_some_and(|e| e.subject == 3 && e.detail == 4)
    }
}

/// `code [enhanced] text`, patients' addresses hidden (a citizen address is the INS, and
/// servers quote addresses in their refusals): fit for logs and error messages. The
/// untouched text is in [`Reply::lines`].
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = &self.enhanced {
            write!(f, " {e}")?;
        }
        let text = self.text();
        if !text.is_empty() {
            write!(f, " {}", mask_patient_addresses(&text))?;
        }
        Ok(())
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463), e.g. `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedCode {
    fn parse(text: &str) -> Option<Self> {
        let word = text.split_ascii_whitespace().next()?;
        let mut parts = word.splitn(3, '.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject: u16 = parts.next()?.parse().ok()?;
        let detail: u16 = parts.next()?.parse().ok()?;
        matches!(class, 2 | 4 | 5).then_some(Self {
            class,
            subject,
            detail,
        })
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One reply line, split.
pub(crate) struct Line {
    pub code: u16,
    pub last: bool,
    pub text: String,
}

/// Parses a line without its CRLF; `None` when it is not `ddd`, `ddd text` or `ddd-text`.
pub(crate) fn parse_line(line: &[u8]) -> Option<Line> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let (last, text) = match line.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return None,
    };
    Some(Line {
        code,
        last,
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

/// Builds the reply of its lines (all with the same code, checked by the reader).
pub(crate) fn reply_of(code: u16, lines: Vec<String>) -> Reply {
    let enhanced = lines
        .first()
        .and_then(|l| EnhancedCode::parse(l))
        .filter(|e| u16::from(e.class) == code / 100);
    Reply {
        code,
        enhanced,
        lines,
    }
}

/// What the server offers, from its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub starttls: bool,
    /// SASL mechanisms, upper case (`EXTERNAL`, `PLAIN`, `LOGIN`…).
    pub auth: Vec<String>,
    /// `SIZE` offered: the `SIZE=` parameter may be sent.
    pub size: bool,
    /// The server's limit (`SIZE n`, n > 0).
    pub size_limit: Option<u64>,
    pub eight_bit_mime: bool,
    pub dsn: bool,
    pub enhanced_status_codes: bool,
    pub pipelining: bool,
}

impl Capabilities {
    /// Reads the EHLO reply's lines after the first (the server's name and greeting).
    pub fn of_ehlo(reply: &Reply) -> Self {
        let mut caps = Self::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            // `AUTH=PLAIN LOGIN`: the pre-standard form some servers still send.
            let (keyword, first) = match keyword.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (keyword, None),
            };
            match keyword.as_str() {
                "STARTTLS" => caps.starttls = true,
                "AUTH" => {
                    for m in first.into_iter().chain(words.map(str::to_ascii_uppercase)) {
                        if !m.is_empty() && !caps.auth.contains(&m) {
                            caps.auth.push(m);
                        }
                    }
                }
                "SIZE" => {
                    caps.size = true;
                    caps.size_limit = words.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
                }
                "8BITMIME" => caps.eight_bit_mime = true,
                "DSN" => caps.dsn = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                "PIPELINING" => caps.pipelining = true,
                _ => {}
            }
        }
        caps
    }

    pub fn offers_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m == mechanism)
    }
}

const PATIENT_DOMAIN: &str = "@patient.mssante.fr";

/// Replaces every MSSanté Citoyen address (`<INS>@patient.mssante.fr`) in `text` by
/// `[patient]`.
pub fn mask_patient_addresses(text: &str) -> String {
    // ASCII lower-casing keeps byte offsets.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(PATIENT_DOMAIN) {
        let at = from + found;
        let start = text[..at]
            .rfind(|c: char| c.is_whitespace() || "<>\"'(),:;[]".contains(c))
            .map_or(0, |i| i + 1)
            .max(copied);
        let end = at + PATIENT_DOMAIN.len();
        out.push_str(&text[copied..start]);
        out.push_str("[patient]");
        copied = end;
        from = end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, lines: &[&str]) -> Reply {
        reply_of(code, lines.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn lines_and_enhanced_codes() {
        let l = parse_line(b"250-PIPELINING").unwrap();
        assert_eq!(
            (l.code, l.last, l.text.as_str()),
            (250, false, "PIPELINING")
        );
        let l = parse_line(b"354").unwrap();
        assert_eq!((l.code, l.last, l.text.as_str()), (354, true, ""));
        assert!(parse_line(b"25").is_none());
        assert!(parse_line(b"250_x").is_none());
        assert!(parse_line(b"650 x").is_none());

        let r = reply(550, &["5.1.1 <a@b.fr>: Recipient address rejected", "more"]);
        assert_eq!(r.enhanced.map(|e| e.to_string()).as_deref(), Some("5.1.1"));
        assert_eq!(r.text(), "<a@b.fr>: Recipient address rejected more");
        assert!(r.is_permanent() && !r.is_transient());
        // A code of another class is not an enhanced code of this reply.
        assert_eq!(reply(250, &["5.1.1 odd"]).enhanced, None);
        assert!(reply(552, &["too big"]).is_size_refusal());
        assert!(reply(554, &["5.3.4 Message too big"]).is_size_refusal());
    }

    #[test]
    fn patient_addresses_are_hidden_when_shown() {
        let r = reply(
            554,
            &["5.7.1 <248039263001064@Patient.MSSante.fr>: Relay access denied"],
        );
        assert_eq!(r.to_string(), "554 5.7.1 <[patient]>: Relay access denied");
        assert_eq!(
            mask_patient_addresses("a@x.fr 1@patient.mssante.fr, 2@patient.mssante.fr"),
            "a@x.fr [patient], [patient]"
        );
        assert!(
            r.lines[0].contains("248039263001064"),
            "kept for the caller"
        );
    }

    #[test]
    fn capabilities() {
        let r = reply(
            250,
            &[
                "mx.example greets you",
                "PIPELINING",
                "SIZE 10240000",
                "auth PLAIN login",
                "AUTH=EXTERNAL",
                "8BITMIME",
                "DSN",
                "ENHANCEDSTATUSCODES",
            ],
        );
        let c = Capabilities::of_ehlo(&r);
        assert_eq!(c.auth, ["PLAIN", "LOGIN", "EXTERNAL"]);
        assert!(c.offers_auth("EXTERNAL") && !c.starttls);
        assert_eq!((c.size, c.size_limit), (true, Some(10_240_000)));
        assert!(c.eight_bit_mime && c.dsn && c.enhanced_status_codes && c.pipelining);
        let c = Capabilities::of_ehlo(&reply(250, &["x", "SIZE", "STARTTLS"]));
        assert_eq!((c.size, c.size_limit, c.starttls), (true, None, true));
    }
}
