//! A small ISO 7816-4 file system: DFs (optionally named by an AID) and transparent EFs,
//! SELECT (by FID, by AID, by path from the MF or from the current DF) and READ BINARY.

use std::collections::BTreeMap;

use crate::apdu::{
    Command, SW_FILE_NOT_FOUND, SW_NOT_SELECTED, SW_OK, SW_WRONG_DATA, SW_WRONG_P1P2, respond,
    status, tlv,
};

pub const MF: u16 = 0x3F00;

/// What a successful SELECT made current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    Df {
        fid: u16,
    },
    /// A transparent EF and its size.
    Ef {
        fid: u16,
        size: usize,
    },
}

/// The file ids of a path in SELECT data; None when the length is odd.
pub fn fids(data: &[u8]) -> Option<Vec<u16>> {
    if !data.len().is_multiple_of(2) {
        return None;
    }
    Some(
        data.chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    )
}

#[derive(Debug, Clone, Default)]
pub struct FileSystem {
    /// Paths from the MF (`[0x3F00, ...]`) → EF content, or None for a DF.
    nodes: BTreeMap<Vec<u16>, Option<Vec<u8>>>,
    aids: Vec<(Vec<u8>, Vec<u16>)>,
    current_df: Vec<u16>,
    current_ef: Option<Vec<u16>>,
}

impl FileSystem {
    pub fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(vec![MF], None);
        Self {
            nodes,
            aids: Vec::new(),
            current_df: vec![MF],
            current_ef: None,
        }
    }

    /// Adds a DF at `path` (parents created), optionally named by `aid`.
    pub fn add_df(&mut self, path: &[u16], aid: Option<&[u8]>) {
        for i in 1..=path.len() {
            self.nodes.entry(path[..i].to_vec()).or_insert(None);
        }
        if let Some(aid) = aid {
            self.aids.push((aid.to_vec(), path.to_vec()));
        }
    }

    pub fn add_ef(&mut self, path: &[u16], content: Vec<u8>) {
        if let Some((_, parent)) = path.split_last() {
            self.add_df(parent, None);
        }
        self.nodes.insert(path.to_vec(), Some(content));
    }

    /// Back to the MF (after a reset).
    pub fn reset(&mut self) {
        self.current_df = vec![MF];
        self.current_ef = None;
    }

    /// Makes the file at `path` (from the MF) current; None, and nothing changes, when there is
    /// no such file.
    pub fn select_path(&mut self, path: &[u16]) -> Option<Selected> {
        let (&fid, parent) = path.split_last()?;
        let size = match self.nodes.get(path)? {
            None => {
                self.current_df = path.to_vec();
                self.current_ef = None;
                return Some(Selected::Df { fid });
            }
            Some(content) => content.len(),
        };
        self.current_df = parent.to_vec();
        self.current_ef = Some(path.to_vec());
        Some(Selected::Ef { fid, size })
    }

    /// Where a file id designates: the MF, a child of the current DF, else a sibling of it
    /// (ISO 7816-4 search order).
    pub fn fid_path(&self, fid: u16) -> Vec<u16> {
        if fid == MF {
            return vec![MF];
        }
        let mut child = self.current_df.clone();
        child.push(fid);
        if self.nodes.contains_key(&child) {
            return child;
        }
        let mut sibling = self.current_df.clone();
        sibling.pop();
        sibling.push(fid);
        sibling
    }

    /// The DF whose name (AID) starts with `name` (ISO partial DF name selection).
    pub fn df_named(&self, name: &[u8]) -> Option<Vec<u16>> {
        if name.is_empty() {
            return None;
        }
        self.aids
            .iter()
            .find(|(aid, _)| aid.starts_with(name))
            .map(|(_, p)| p.clone())
    }

    /// SELECT (INS A4) as an IAS-ECC card (CPS3) or the Vitale card answers it. P1: 00/02 FID,
    /// 04 DF name, 08 path from the MF (a leading 3F00 is tolerated), 09 path from the current
    /// DF, or from the MF when it starts with 3F00 (the CPS3 reference driver sends the full
    /// path with P1=09). For an EF, the FCP `62 { 80 size }` unless P2 says "no answer" (0C).
    pub fn select(&mut self, cmd: &Command) -> Vec<u8> {
        let path = if cmd.p1 == 0x04 {
            self.df_named(&cmd.data)
        } else {
            let Some(fids) = fids(&cmd.data) else {
                return status(SW_WRONG_DATA);
            };
            match (cmd.p1, fids.as_slice()) {
                (0x00 | 0x02, []) => Some(vec![MF]),
                (0x00 | 0x02, [fid]) => Some(self.fid_path(*fid)),
                (0x08, _) => {
                    let mut p = vec![MF];
                    p.extend(fids.iter().copied().skip_while(|f| *f == MF));
                    Some(p)
                }
                (0x09, [MF, ..]) => Some(fids),
                (0x09, _) => {
                    let mut p = self.current_df.clone();
                    p.extend(fids);
                    Some(p)
                }
                _ => return status(SW_WRONG_P1P2),
            }
        };
        match path.and_then(|p| self.select_path(&p)) {
            None => status(SW_FILE_NOT_FOUND),
            Some(Selected::Ef { size, .. }) if cmd.p2 & 0x0C != 0x0C => {
                let size = size.min(0xFFFF) as u16;
                respond(tlv(0x62, &tlv(0x80, &size.to_be_bytes())), SW_OK)
            }
            Some(_) => status(SW_OK),
        }
    }

    /// READ BINARY (INS B0) of the current EF, offset in P1-P2 (15 bits).
    pub fn read_binary(&self, cmd: &Command) -> Vec<u8> {
        let Some(ef) = &self.current_ef else {
            return status(SW_NOT_SELECTED);
        };
        let Some(Some(content)) = self.nodes.get(ef) else {
            return status(SW_NOT_SELECTED);
        };
        let offset = usize::from(u16::from_be_bytes([cmd.p1 & 0x7F, cmd.p2]));
        if offset > content.len() {
            return status(SW_WRONG_P1P2);
        }
        let le = cmd.le.unwrap_or(256);
        let end = (offset + le).min(content.len());
        respond(content[offset..end].to_vec(), SW_OK)
    }

    pub fn current_df(&self) -> &[u16] {
        &self.current_df
    }

    /// The path of the selected EF, if any.
    pub fn current_ef(&self) -> Option<&[u16]> {
        self.current_ef.as_deref()
    }
}
