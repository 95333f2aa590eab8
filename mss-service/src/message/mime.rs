//! The MIME writing of a message (RFC 5322, 2045–2047, 2231), by hand: what a message needs
//! is small, and writing it ourselves lets the large attachments be encoded once, into shared
//! buffers that every audience's message points to, and the whole be deterministic (the same
//! request gives the same bytes, boundaries included).
//!
//! Every line ends in CRLF and has at most 78 characters but for a header holding a word
//! longer than that (at most 998 then); base64 lines have 76; no line starts with a dot.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use time::OffsetDateTime;

/// Longest line we write when we can choose (RFC 5322 §2.1.1 "SHOULD").
const FOLD_AT: usize = 78;
/// Base64 input bytes per output line: 57 bytes give 76 characters.
const BASE64_LINE_INPUT: usize = 57;
/// Quoted-printable: at most 76 characters a line, the soft break's `=` included.
const QP_LINE: usize = 76;
/// Raw bytes per RFC 2047 encoded word: 39 bytes give 52 base64 characters, a word of 64.
const WORD_BYTES: usize = 39;

/// The size of `n` bytes in base64 lines of 76 characters, each ended by CRLF.
pub fn base64_lines_len(n: usize) -> usize {
    let full = n / BASE64_LINE_INPUT;
    let rest = n % BASE64_LINE_INPUT;
    full * 78
        + if rest > 0 {
            rest.div_ceil(3) * 4 + 2
        } else {
            0
        }
}

/// `data` in base64, lines of 76 characters each ended by CRLF, in one buffer of the exact
/// size (no growth, no second copy).
pub fn base64_lines(data: &[u8]) -> Bytes {
    let mut out = vec![0u8; base64_lines_len(data.len())];
    let mut at = 0;
    for line in data.chunks(BASE64_LINE_INPUT) {
        // The buffer was sized for exactly these lines: encoding cannot run out of room.
        let n = STANDARD
            .encode_slice(line, &mut out[at..])
            .unwrap_or_default();
        at += n;
        out[at] = b'\r';
        out[at + 1] = b'\n';
        at += 2;
    }
    out.truncate(at);
    Bytes::from(out)
}

/// Text as quoted-printable (RFC 2045 §6.7): line breaks of any kind become CRLF; lines of
/// at most 76 characters (soft breaks `=`); `=`, non-ASCII and control characters, spaces at a
/// line's end and a dot at a line's start encoded.
pub fn quoted_printable(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(normalised.len() * 11 / 10 + 16);
    let mut first = true;
    for line in normalised.split('\n') {
        if !first {
            out.push_str("\r\n");
        }
        first = false;
        qp_line(line.as_bytes(), &mut out);
    }
    out
}

fn qp_line(line: &[u8], out: &mut String) {
    let mut width = 0;
    for (i, &b) in line.iter().enumerate() {
        let last = i + 1 == line.len();
        let literal = match b {
            b'=' => false,
            // Spaces at a line's end would be lost in transit.
            b' ' | b'\t' => !last,
            33..=126 => true,
            _ => false,
        };
        // Room for the soft break's `=` unless this is the line's last character.
        let limit = if last { QP_LINE } else { QP_LINE - 1 };
        if width + if literal { 1 } else { 3 } > limit {
            out.push_str("=\r\n");
            width = 0;
        }
        // A dot starting a line is encoded: no SMTP dot-stuffing needed, none lost.
        if literal && !(b == b'.' && width == 0) {
            out.push(char::from(b));
            width += 1;
        } else {
            out.push_str(&format!("={b:02X}"));
            width += 3;
        }
    }
}

/// Whether a header value can be written as it is (printable ASCII, no word that looks
/// encoded, no word too long to fold).
fn plain_header_text(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || (33..=126).contains(&b))
        && !s.contains("=?")
        && s.split(' ').all(|w| w.len() <= FOLD_AT - 12)
}

/// An unstructured header value (Subject): as it is when it can be; otherwise UTF-8 encoded
/// words (RFC 2047, `B`), split on character boundaries. Returned unfolded: words separated
/// by spaces, which [`header_line`] folds at.
pub fn unstructured(value: &str) -> String {
    // A header is one line: breaks and other controls become spaces.
    let clean: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if plain_header_text(&clean) {
        return clean;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in clean.chars() {
        if chunk.len() + c.len_utf8() > WORD_BYTES {
            words.push(encoded_word(&chunk));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(encoded_word(&chunk));
    }
    words.join(" ")
}

fn encoded_word(s: &str) -> String {
    format!("=?utf-8?B?{}?=", STANDARD.encode(s.as_bytes()))
}

/// `name: value` folded at spaces before 78 characters where it can be, ended by CRLF.
pub fn header_line(name: &str, value: &str) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + 8);
    out.push_str(name);
    out.push(':');
    let mut width = out.len();
    for (i, word) in value.split(' ').enumerate() {
        // Never before an empty word: a folded line of blanks only is obsolete syntax.
        if i > 0 && !word.is_empty() && width + 1 + word.len() > FOLD_AT {
            out.push_str("\r\n");
            width = 0;
        }
        out.push(' ');
        out.push_str(word);
        width += 1 + word.len();
    }
    out.push_str("\r\n");
    out
}

/// A header parameter (`name="value"`, or RFC 2231 `name*=utf-8''…` when the value is not
/// plain ASCII).
pub fn parameter(name: &str, value: &str) -> String {
    let plain = value
        .bytes()
        .all(|b| (32..=126).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        format!("{name}=\"{value}\"")
    } else {
        let mut encoded = String::with_capacity(value.len() * 3);
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!("{name}*=utf-8''{encoded}")
    }
}

/// The RFC 5322 date of `t`, in its own offset: `Wed, 02 Oct 2024 10:30:00 +0200`.
pub fn date(t: OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let offset = t.offset();
    let minutes = offset.whole_minutes();
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month()) - 1)],
        t.year(),
        t.hour(),
        t.minute(),
        t.second(),
        if minutes < 0 { '-' } else { '+' },
        minutes.unsigned_abs() / 60,
        minutes.unsigned_abs() % 60,
    )
}

/// HTML of a text: escaped, blank lines making paragraphs, line breaks kept.
pub fn html_of_text(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut html =
        String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n");
    for paragraph in normalised.split("\n\n").filter(|p| !p.trim().is_empty()) {
        html.push_str("<p>");
        let lines: Vec<String> = paragraph
            .trim_matches('\n')
            .split('\n')
            .map(escape)
            .collect();
        html.push_str(&lines.join("<br>\n"));
        html.push_str("</p>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// HTML escaping of text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Removes the folding of a header line: the value as a reader sees it.
pub fn unfold(value: &str) -> String {
    value.replace("\r\n", "")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn base64_lines_have_76_characters_and_decode_back() {
        for n in [0, 1, 2, 3, 56, 57, 58, 114, 1000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 256) as u8).collect();
            let encoded = base64_lines(&data);
            assert_eq!(encoded.len(), base64_lines_len(n), "{n}");
            let text = std::str::from_utf8(&encoded).unwrap();
            let lines: Vec<&str> = text.split_terminator("\r\n").collect();
            assert!(lines.iter().all(|l| l.len() <= 76 && !l.is_empty()), "{n}");
            assert!(
                lines[..lines.len().saturating_sub(1)]
                    .iter()
                    .all(|l| l.len() == 76)
            );
            assert_eq!(STANDARD.decode(lines.concat()).unwrap(), data);
        }
    }

    #[test]
    fn quoted_printable_keeps_lines_short_and_encodes_what_it_must() {
        let qp = quoted_printable("Café = 1 \n.point\r\n");
        assert_eq!(qp, "Caf=C3=A9 =3D 1=20\r\n=2Epoint\r\n");
        let long = "é".repeat(100) + &"a".repeat(200);
        let qp = quoted_printable(&long);
        for line in qp.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
            assert!(!line.starts_with('.'));
        }
        // No encoded triplet is cut by a soft break.
        assert!(qp.split("=\r\n").all(|part| !part.ends_with('=')));
    }

    #[test]
    fn non_ascii_subjects_are_encoded_words_and_plain_ones_kept() {
        assert_eq!(unstructured("Courrier standard"), "Courrier standard");
        assert_eq!(unstructured("Ligne 1\r\nBcc: x"), "Ligne 1  Bcc: x");
        let s = unstructured("Compte rendu — échographie");
        assert!(s.starts_with("=?utf-8?B?"), "{s}");
        let line = header_line("Subject", &unstructured(&"é".repeat(80)));
        for l in line.split("\r\n") {
            assert!(l.len() <= 78, "{l}");
        }
    }

    #[test]
    fn headers_fold_at_spaces() {
        let addresses = ["jean.fouquerey@passerelle-sandbox.mssante.fr"; 4].join(", ");
        let line = header_line("To", &addresses);
        assert!(line.lines().all(|l| l.len() <= 78), "{line}");
        assert_eq!(
            unfold(line.trim_end_matches("\r\n")),
            format!("To: {addresses}")
        );
    }

    #[test]
    fn dates_are_rfc_5322() {
        assert_eq!(
            date(datetime!(2024-10-02 10:30:05 +02:00)),
            "Wed, 02 Oct 2024 10:30:05 +0200"
        );
        assert_eq!(
            date(datetime!(2024-01-07 23:00 -03:30)),
            "Sun, 07 Jan 2024 23:00:00 -0330"
        );
    }

    #[test]
    fn parameters_are_quoted_or_rfc_2231() {
        assert_eq!(
            parameter("filename", "IHE_XDM.zip"),
            "filename=\"IHE_XDM.zip\""
        );
        assert_eq!(
            parameter("filename", "Synthèse.pdf"),
            "filename*=utf-8''Synth%C3%A8se.pdf"
        );
    }

    #[test]
    fn html_from_text_is_escaped() {
        let html = html_of_text("Cher confrère,\n<b>x</b> & y\n\nBien à vous");
        assert!(html.contains("<p>Cher confrère,<br>\n&lt;b&gt;x&lt;/b&gt; &amp; y</p>"));
        assert!(html.contains("<p>Bien à vous</p>"));
    }
}
