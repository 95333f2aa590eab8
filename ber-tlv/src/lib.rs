//! BER-TLV as smart cards use it (ISO/IEC 7816-4 data objects, PKCS#15 directory files), read
//! and written once for the card-agent and the card emulator.
//!
//! - Tags of one to four bytes (a first byte `xx011111` is followed by bytes whose high bit
//!   says another one follows), kept as their bytes, big-endian, in a `u32`: `0x65`,
//!   `0x5F20`, `0xBF8105`.
//! - Definite lengths only: short form, or `81`–`84` followed by one to four bytes. The
//!   indefinite form (`80`) has no place on a card.
//! - `00` or `FF` where a tag should start is padding (ISO/IEC 7816-4 § 5.2.2): it ends the
//!   data objects of a file.
//!
//! No crate was used: the maintained ASN.1 crates read tags as class and number rather than
//! the raw bytes card specifications name, and treat `00` as an end-of-contents tag; the
//! ISO 7816 TLV crates build owned trees and reject a whole file for one malformed nested
//! object, where a card's reader must take what is readable.

/// One data object: its tag (bytes big-endian) and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

impl<'a> Element<'a> {
    /// Whether its value holds data objects (bit 6 of the tag's first byte).
    pub fn is_constructed(&self) -> bool {
        let first = self.tag.to_be_bytes().into_iter().find(|b| *b != 0);
        first.is_some_and(|b| b & 0x20 != 0)
    }

    /// The data objects of its value.
    pub fn children(&self) -> Elements<'a> {
        elements(self.value)
    }
}

/// Why a data object cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("a tag without its following bytes")]
    TruncatedTag,
    #[error("a tag longer than 4 bytes")]
    TagTooLong,
    #[error("a tag without a length")]
    NoLength,
    #[error("length form {0:#04X} (only definite lengths of up to 4 bytes)")]
    LengthForm(u8),
    #[error("a length cut short")]
    ShortLength,
    #[error("an element of {length} bytes with only {left} left")]
    Truncated { length: usize, left: usize },
}

/// The data objects of `data`, one after the other, until its end or padding. After an error
/// the iteration ends.
pub fn elements(data: &[u8]) -> Elements<'_> {
    Elements { rest: data }
}

/// Iterator of [`elements`].
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Element<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match next_element(self.rest) {
            Ok(Some((element, rest))) => {
                self.rest = rest;
                Some(Ok(element))
            }
            Ok(None) => {
                self.rest = &[];
                None
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Every data object of `data`, or the first reason one cannot be read.
pub fn parse_all(data: &[u8]) -> Result<Vec<Element<'_>>, Error> {
    elements(data).collect()
}

/// The data objects of `data` up to the first one that cannot be read: what a card file
/// holds before garbage or a truncation.
pub fn parse_readable(data: &[u8]) -> Vec<Element<'_>> {
    elements(data).map_while(Result::ok).collect()
}

/// The first of `items` tagged `tag`.
pub fn find<'a>(items: &[Element<'a>], tag: u32) -> Option<Element<'a>> {
    items.iter().find(|e| e.tag == tag).copied()
}

/// The value of the first data object tagged `tag` anywhere in `data`, looking inside
/// constructed ones (depth first, in order). Reading stops at the first object that cannot
/// be read.
pub fn find_deep(data: &[u8], tag: u32) -> Option<&[u8]> {
    for element in elements(data) {
        let element = element.ok()?;
        if element.tag == tag {
            return Some(element.value);
        }
        if element.is_constructed()
            && let Some(found) = find_deep(element.value, tag)
        {
            return Some(found);
        }
    }
    None
}

/// The data object `tag` ‖ length ‖ `value`, length in its shortest definite form.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let tag_bytes = tag.to_be_bytes();
    let tag_start = tag_bytes.iter().position(|b| *b != 0).unwrap_or(3);
    let length = value.len().to_be_bytes();
    let length_start = length
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(length.len() - 1);
    let length = &length[length_start..];
    let mut out = Vec::with_capacity(4 + 5 + value.len());
    out.extend_from_slice(&tag_bytes[tag_start..]);
    match length {
        [short] if *short < 0x80 => out.push(*short),
        // 0x81..=0x84 (a value of more than 4 GiB is not card data).
        long => {
            out.push(0x80 | long.len() as u8);
            out.extend_from_slice(long);
        }
    }
    out.extend_from_slice(value);
    out
}

/// The next data object of `data` and what follows it; `None` at the end or at padding.
fn next_element(data: &[u8]) -> Result<Option<(Element<'_>, &[u8])>, Error> {
    let Some((&first, mut rest)) = data.split_first() else {
        return Ok(None);
    };
    if first == 0x00 || first == 0xFF {
        return Ok(None);
    }
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        let mut tag_len = 1;
        loop {
            let (&b, after) = rest.split_first().ok_or(Error::TruncatedTag)?;
            rest = after;
            tag_len += 1;
            if tag_len > 4 {
                return Err(Error::TagTooLong);
            }
            tag = (tag << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let (&l0, after) = rest.split_first().ok_or(Error::NoLength)?;
    rest = after;
    let length = match l0 {
        short if short < 0x80 => usize::from(short),
        0x81..=0x84 => {
            let k = usize::from(l0 & 0x7F);
            if rest.len() < k {
                return Err(Error::ShortLength);
            }
            let (bytes, after) = rest.split_at(k);
            rest = after;
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        other => return Err(Error::LengthForm(other)),
    };
    if rest.len() < length {
        return Err(Error::Truncated {
            length,
            left: rest.len(),
        });
    }
    let (value, rest) = rest.split_at(length);
    Ok(Some((Element { tag, value }, rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_and_two_byte_tags_nested_and_stops_at_padding() {
        let data = [
            0x65, 0x06, 0x80, 0x01, b'A', 0x5F, 0x20, 0x00, 0x80, 0x81, 0x01, b'B', 0xFF, 0x80,
            0x01, b'C',
        ];
        let items = parse_all(&data).unwrap();
        assert_eq!(items.len(), 2, "padding ends the objects");
        assert_eq!(items[0].tag, 0x65);
        assert!(items[0].is_constructed());
        let inner: Vec<_> = items[0].children().map(Result::unwrap).collect();
        assert_eq!(find(&inner, 0x80).unwrap().value, b"A");
        assert_eq!(inner[1].tag, 0x5F20);
        assert!(inner[1].value.is_empty());
        assert_eq!(find(&items, 0x80).unwrap().value, b"B");
        assert!(!items[1].is_constructed());
    }

    #[test]
    fn reads_long_lengths_and_multi_byte_tags() {
        let big = [vec![0x04, 0x82, 0x01, 0x2C], vec![7; 300]].concat();
        assert_eq!(parse_all(&big).unwrap()[0].value.len(), 300);
        let three = [0xBF, 0x81, 0x05, 0x03, 0x80, 0x01, 0x09];
        let items = parse_all(&three).unwrap();
        assert_eq!(items[0].tag, 0xBF8105);
        assert!(items[0].is_constructed());
    }

    #[test]
    fn malformed_data_is_an_error_or_ends_what_is_readable() {
        assert_eq!(
            parse_all(&[0x30, 0x05, 0x01]),
            Err(Error::Truncated { length: 5, left: 1 })
        );
        assert_eq!(parse_all(&[0x30]), Err(Error::NoLength));
        assert_eq!(
            parse_all(&[0x30, 0x80, 0x00, 0x00]),
            Err(Error::LengthForm(0x80))
        );
        assert_eq!(parse_all(&[0x30, 0x82, 0x01]), Err(Error::ShortLength));
        assert_eq!(parse_all(&[0x5F]), Err(Error::TruncatedTag));
        assert_eq!(
            parse_all(&[0x5F, 0x81, 0x81, 0x81, 0x01, 0x00]),
            Err(Error::TagTooLong)
        );
        let readable = parse_readable(&[0x80, 0x01, b'A', 0x81, 0x05, b'B']);
        assert_eq!(
            readable,
            vec![Element {
                tag: 0x80,
                value: b"A"
            }]
        );
    }

    #[test]
    fn finds_a_tag_deep_inside_constructed_objects() {
        // AODF-like: a three-byte constructed tag holding a sequence holding the reference.
        let data = [
            0x30, 0x03, 0x04, 0x01, 0x01, // a first object without it
            0xBF, 0x81, 0x05, 0x05, 0x30, 0x03, 0x80, 0x01, 0x81,
        ];
        assert_eq!(find_deep(&data, 0x80), Some(&[0x81][..]));
        assert_eq!(find_deep(&data, 0x02), None);
        // A primitive object's value is not searched.
        assert_eq!(find_deep(&[0x04, 0x03, 0x80, 0x01, 0x01], 0x80), None);
        // Garbage stops the search.
        assert_eq!(find_deep(&[0x30, 0x09, 0x80, 0x01, 0x01], 0x80), None);
    }

    #[test]
    fn writes_the_shortest_length_and_reads_back() {
        assert_eq!(encode(0x80, &[1, 2]), vec![0x80, 2, 1, 2]);
        assert_eq!(&encode(0x80, &[0; 200])[..3], &[0x80, 0x81, 200]);
        assert_eq!(&encode(0x80, &[0; 300])[..4], &[0x80, 0x82, 1, 44]);
        assert_eq!(
            &encode(0x80, &[0; 70_000])[..5],
            &[0x80, 0x83, 0x01, 0x11, 0x70]
        );
        assert_eq!(encode(0x5F20, b"X"), vec![0x5F, 0x20, 1, b'X']);
        assert_eq!(encode(0x00, &[]), vec![0x00, 0x00]);
        for (tag, len) in [(0x04, 0), (0x30, 127), (0x7F49, 128), (0xBF8105, 65_536)] {
            let value = vec![0xA5; len];
            let encoded = encode(tag, &value);
            assert_eq!(
                parse_all(&encoded).unwrap(),
                vec![Element { tag, value: &value }]
            );
        }
    }
}
