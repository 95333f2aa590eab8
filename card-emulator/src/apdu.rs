//! Command APDUs (ISO 7816-4, short form) and the status words the emulated cards answer.

/// A parsed short command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected length (0 means 256 when present), None when absent.
    pub le: Option<usize>,
}

impl Command {
    /// Parses cases 1 to 4 (short). None when malformed.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        if raw.len() < 4 {
            return None;
        }
        let (cla, ins, p1, p2) = (raw[0], raw[1], raw[2], raw[3]);
        let body = &raw[4..];
        let (data, le) = match body.len() {
            0 => (Vec::new(), None),
            1 => (Vec::new(), Some(le_of(body[0]))),
            n => {
                let lc = usize::from(body[0]);
                if lc == 0 || n < 1 + lc {
                    return None;
                }
                let data = body[1..1 + lc].to_vec();
                match n - 1 - lc {
                    0 => (data, None),
                    1 => (data, Some(le_of(body[1 + lc]))),
                    _ => return None,
                }
            }
        };
        Some(Self {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
    }
}

fn le_of(b: u8) -> usize {
    if b == 0 { 256 } else { usize::from(b) }
}

pub const SW_OK: u16 = 0x9000;
pub const SW_WRONG_LENGTH: u16 = 0x6700;
pub const SW_CHANNEL_NOT_SUPPORTED: u16 = 0x6881;
pub const SW_CHAINING_NOT_SUPPORTED: u16 = 0x6884;
pub const SW_SECURITY_NOT_SATISFIED: u16 = 0x6982;
pub const SW_AUTH_BLOCKED: u16 = 0x6983;
pub const SW_CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
pub const SW_WRONG_DATA: u16 = 0x6A80;
pub const SW_FILE_NOT_FOUND: u16 = 0x6A82;
pub const SW_INCORRECT_P1P2: u16 = 0x6A86;
pub const SW_REFERENCE_NOT_FOUND: u16 = 0x6A88;
pub const SW_WRONG_P1P2: u16 = 0x6B00;
pub const SW_INS_NOT_SUPPORTED: u16 = 0x6D00;
pub const SW_CLA_NOT_SUPPORTED: u16 = 0x6E00;
pub const SW_NOT_SELECTED: u16 = 0x6986;

/// `data || SW1 SW2`.
pub fn respond(mut data: Vec<u8>, sw: u16) -> Vec<u8> {
    data.extend_from_slice(&sw.to_be_bytes());
    data
}

pub fn status(sw: u16) -> Vec<u8> {
    sw.to_be_bytes().to_vec()
}

/// BER-TLV encoding, shared with the card-agent that reads it.
pub use passerelle_ber_tlv::encode as tlv;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_cases() {
        assert_eq!(
            Command::parse(&[0, 0x20, 0, 0x81]).map(|c| c.le),
            Some(None)
        );
        let c = Command::parse(&[0, 0xB0, 0, 0, 0]).unwrap();
        assert_eq!((c.data.len(), c.le), (0, Some(256)));
        let c = Command::parse(&[0, 0xA4, 4, 0x0C, 2, 0x3F, 0]).unwrap();
        assert_eq!((c.data, c.le), (vec![0x3F, 0], None));
        let c = Command::parse(&[0, 0x2A, 0x9E, 0x9A, 1, 7, 0]).unwrap();
        assert_eq!((c.data, c.le), (vec![7], Some(256)));
        assert!(Command::parse(&[0, 0xA4, 4, 0x0C, 3, 1]).is_none());
    }
}
