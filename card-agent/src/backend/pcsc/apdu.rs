//! APDU exchange over PC/SC, PC/SC errors mapped to [`CardError`], and a small BER-TLV reader.

use passerelle_ber_tlv::Element;

use crate::backend::CardError;

/// A response APDU: data and status word.
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Response {
    pub fn ok(&self) -> bool {
        self.sw == 0x9000
    }
}

/// Maps a PC/SC error. `reader` names the reader for [`CardError::ReaderRemoved`].
pub fn map_pcsc(e: pcsc::Error, reader: &str) -> CardError {
    use pcsc::Error as E;
    match e {
        // A protocol mismatch is passing too: pcscd reports it while another application's
        // reset of the card is still being negotiated (seen in the reset tests).
        E::ResetCard
        | E::SharingViolation
        | E::UnpoweredCard
        | E::UnresponsiveCard
        | E::ProtoMismatch => CardError::Transient(e.to_string()),
        E::RemovedCard | E::NoSmartcard => CardError::CardRemoved,
        E::UnknownReader | E::ReaderUnavailable | E::NoReadersAvailable => {
            CardError::ReaderRemoved(reader.to_owned())
        }
        other => CardError::Device(other.to_string()),
    }
}

/// A failed exchange: if the card is gone meanwhile (pulled out mid-command, the reader
/// reports a communication error first), say so.
fn after_failure(card: &pcsc::Card, e: pcsc::Error, reader: &str) -> CardError {
    let mapped = map_pcsc(e, reader);
    if matches!(mapped, CardError::Device(_)) {
        match card.status2_owned() {
            Err(e) => {
                if let gone @ (CardError::CardRemoved | CardError::ReaderRemoved(_)) =
                    map_pcsc(e, reader)
                {
                    return gone;
                }
            }
            Ok(s) if !s.status().contains(pcsc::Status::PRESENT) => return CardError::CardRemoved,
            Ok(_) => {}
        }
    }
    mapped
}

/// How commands reach one card application: the card, its reader (for errors), and what the
/// card's driver in the reference does differently per card.
#[derive(Clone, Copy)]
pub struct Link<'a> {
    pub card: &'a pcsc::Card,
    pub reader: &'a str,
    /// Logical channel in the class byte (`01` for the CPS4's ChipDoc applet, else `00`).
    pub channel: u8,
    /// How a path from the MF is selected.
    pub paths: PathSelect,
    /// P2 of a SELECT that asks for no FCI (`0C`; the CPS4 driver sends `00`).
    pub select_p2: u8,
    /// READ BINARY chunk (`E7` on a CPS3, 256 on a CPS4).
    pub chunk: usize,
    /// Selected again, and the command resent once, on `6Exx`/`6A86` (the CPS4 driver's
    /// automatic re-selection of the ChipDoc applet).
    pub reselect: Option<&'a [u8]>,
}

/// How a path from the MF is put in a SELECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathSelect {
    /// P1 = 08, the path without `3F00` (ISO 7816-4).
    FromMf,
    /// P1 = 09 with the whole path, `3F00` included (the CPS3 driver's `cps3_select_file`).
    WholePath,
}

impl<'a> Link<'a> {
    /// The basic channel, ISO selection (Vitale, unknown cards).
    pub fn basic(card: &'a pcsc::Card, reader: &'a str) -> Self {
        Self {
            card,
            reader,
            channel: 0,
            paths: PathSelect::FromMf,
            select_p2: 0x0C,
            chunk: 0xE7,
            reselect: None,
        }
    }

    /// Sends one command APDU (its class byte gets the link's channel); follows `61xx`
    /// (GET RESPONSE on the same channel) and `6Cxx` (wrong Le), and re-selects the
    /// application once on `6Exx`/`6A86` when the link says so.
    pub fn transmit(&self, cmd: &[u8]) -> Result<Response, CardError> {
        let mut cmd = cmd.to_vec();
        if let Some(cla) = cmd.first_mut() {
            *cla |= self.channel;
        }
        let r = transmit_raw(self.card, self.reader, &cmd, self.channel)?;
        let lost = r.sw & 0xFF00 == 0x6E00 || r.sw == 0x6A86;
        match self.reselect {
            Some(aid) if lost && cmd.get(1) != Some(&0xA4) => {
                let mut select = vec![self.channel, 0xA4, 0x04, 0x04, aid.len() as u8];
                select.extend_from_slice(aid);
                let s = transmit_raw(self.card, self.reader, &select, self.channel)?;
                if !s.ok() {
                    return Ok(r);
                }
                transmit_raw(self.card, self.reader, &cmd, self.channel)
            }
            _ => Ok(r),
        }
    }

    /// SELECT asking for no FCI (whatever the card answers is ignored).
    pub fn select(&self, p1: u8, data: &[u8]) -> Result<Response, CardError> {
        let mut cmd = vec![0x00, 0xA4, p1, self.select_p2, data.len() as u8];
        cmd.extend_from_slice(data);
        self.transmit(&cmd)
    }

    /// Selects a file by its path from the MF, given without `3F00` (empty: the MF).
    pub fn select_path(&self, fids: &[u8]) -> Result<Response, CardError> {
        match (self.paths, fids.is_empty()) {
            (PathSelect::FromMf, true) => self.select(0x00, &[0x3F, 0x00]),
            (PathSelect::FromMf, false) => self.select(0x08, fids),
            (PathSelect::WholePath, _) => self.select(0x09, &[&[0x3F, 0x00][..], fids].concat()),
        }
    }

    /// Selects an EF by path from the MF and reads it whole; None when it is not there.
    pub fn read_path(&self, path: &[u16]) -> Result<Option<Vec<u8>>, CardError> {
        let data: Vec<u8> = path.iter().flat_map(|f| f.to_be_bytes()).collect();
        let r = self.select_path(&data)?;
        if !r.ok() {
            return Ok(None);
        }
        self.read_current().map(Some)
    }

    /// READ BINARY of the current EF until a short answer.
    pub fn read_current(&self) -> Result<Vec<u8>, CardError> {
        let chunk = self.chunk.clamp(1, 256);
        let mut out = Vec::new();
        loop {
            if out.len() > 0x7FFF {
                return Err(CardError::Device("file too large".into()));
            }
            let off = (out.len() as u16).to_be_bytes();
            // Le 00 asks for 256 bytes.
            let r = self.transmit(&[0x00, 0xB0, off[0], off[1], chunk as u8])?;
            match r.sw {
                0x9000 | 0x6282 => {
                    let n = r.data.len();
                    out.extend(r.data);
                    if n < chunk || r.sw == 0x6282 {
                        return Ok(out);
                    }
                }
                // Offset past the end of a file whose size is a multiple of the chunk.
                0x6B00 if !out.is_empty() => return Ok(out),
                // A file readable only after the PIN.
                0x6982 => return Err(CardError::PinRequired),
                sw => return Err(CardError::Device(format!("READ BINARY answered {sw:04X}"))),
            }
        }
    }
}

/// One exchange, following `61xx` and `6Cxx`.
fn transmit_raw(
    card: &pcsc::Card,
    reader: &str,
    cmd: &[u8],
    channel: u8,
) -> Result<Response, CardError> {
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let mut out = Vec::new();
    let mut cmd = cmd.to_vec();
    for _ in 0..32 {
        let rsp = match card.transmit(&cmd, &mut buf) {
            Ok(r) => r,
            Err(e) => return Err(after_failure(card, e, reader)),
        };
        if rsp.len() < 2 {
            // vpcd (and some readers) give an empty answer when the card went away during the
            // command; pcscd notices the removal a moment later.
            for _ in 0..10 {
                match card.status2_owned() {
                    Err(e) => {
                        if let gone @ (CardError::CardRemoved | CardError::ReaderRemoved(_)) =
                            map_pcsc(e, reader)
                        {
                            return Err(gone);
                        }
                    }
                    Ok(s) if !s.status().contains(pcsc::Status::PRESENT) => {
                        return Err(CardError::CardRemoved);
                    }
                    Ok(_) => {}
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            return Err(CardError::Device(
                "response APDU shorter than a status word".into(),
            ));
        }
        let (data, sw) = rsp.split_at(rsp.len() - 2);
        out.extend_from_slice(data);
        match (sw[0], sw[1]) {
            (0x61, n) => cmd = vec![channel, 0xC0, 0x00, 0x00, n],
            (0x6C, n) if cmd.len() >= 5 => {
                let last = cmd.len() - 1;
                cmd[last] = n;
            }
            _ => {
                return Ok(Response {
                    data: out,
                    sw: u16::from_be_bytes([sw[0], sw[1]]),
                });
            }
        }
    }
    Err(CardError::Device("card keeps answering 61xx/6Cxx".into()))
}

/// The value of the first element with `tag`, as text (Latin-1 tolerated).
pub fn text(items: &[Element<'_>], tag: u32) -> String {
    items
        .iter()
        .find(|t| t.tag == tag)
        .map(|t| match std::str::from_utf8(t.value) {
            Ok(s) => s.trim().to_owned(),
            Err(_) => t
                .value
                .iter()
                .map(|&b| char::from(b))
                .collect::<String>()
                .trim()
                .to_owned(),
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_ber_tlv::parse_readable;

    #[test]
    fn pcsc_errors_map_to_what_the_agent_reports() {
        // A reader unplugged in the middle of a command: a clear error naming it.
        for e in [
            pcsc::Error::ReaderUnavailable,
            pcsc::Error::UnknownReader,
            pcsc::Error::NoReadersAvailable,
        ] {
            assert_eq!(map_pcsc(e, "R"), CardError::ReaderRemoved("R".into()));
        }
        assert_eq!(
            map_pcsc(pcsc::Error::RemovedCard, "R"),
            CardError::CardRemoved
        );
        assert!(map_pcsc(pcsc::Error::ResetCard, "R").is_transient());
        assert!(map_pcsc(pcsc::Error::SharingViolation, "R").is_transient());
    }

    #[test]
    fn text_of_a_tag_utf8_or_latin1_trimmed() {
        let data = [
            0x65, 0x06, 0x80, 0x01, b'A', 0x5F, 0x20, 0x00, 0x80, 0x81, 0x01, b'B', 0xFF,
        ];
        let items = parse_readable(&data);
        let inner = parse_readable(items[0].value);
        assert_eq!(text(&inner, 0x80), "A");
        assert_eq!(text(&items, 0x80), "B");
        assert_eq!(text(&items, 0x5F20), "", "absent");
        let latin1 = [0x80, 0x05, b'R', 0xE9, b'M', b'I', b' '];
        assert_eq!(text(&parse_readable(&latin1), 0x80), "RéMI");
    }
}
