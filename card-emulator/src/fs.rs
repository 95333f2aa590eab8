//! A small ISO 7816-4 file system: DFs (optionally named by an AID) and transparent EFs,
//! SELECT (by FID, by AID, by path from the MF or from the current DF) and READ BINARY.

use std::collections::BTreeMap;

use crate::apdu::{
    Command, SW_FILE_NOT_FOUND, SW_NOT_SELECTED, SW_OK, SW_WRONG_P1P2, respond, status, tlv,
};

pub const MF: u16 = 0x3F00;

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

    fn select_path(&mut self, path: Vec<u16>) -> Vec<u8> {
        match self.nodes.get(&path) {
            None => status(SW_FILE_NOT_FOUND),
            Some(None) => {
                self.current_df = path;
                self.current_ef = None;
                status(SW_OK)
            }
            Some(Some(content)) => {
                let size = content.len().min(0xFFFF) as u16;
                let mut df = path.clone();
                df.pop();
                self.current_df = df;
                self.current_ef = Some(path);
                // FCP with the file size, returned only when asked (P2 = 04), see `select`.
                tlv(0x62, &tlv(0x80, &size.to_be_bytes()))
            }
        }
    }

    /// SELECT (INS A4). P1: 00/02 FID, 04 AID, 08 path from MF, 09 path from current DF.
    pub fn select(&mut self, cmd: &Command) -> Vec<u8> {
        let fids: Vec<u16> = cmd
            .data
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        let answer = match cmd.p1 {
            0x00 | 0x02 if cmd.data.is_empty() || fids == [MF] => self.select_path(vec![MF]),
            0x00 | 0x02 if fids.len() == 1 => {
                // A child of the current DF, else a sibling of it (ISO 7816-4 search order).
                let mut child = self.current_df.clone();
                child.push(fids[0]);
                if self.nodes.contains_key(&child) {
                    self.select_path(child)
                } else {
                    let mut sibling = self.current_df.clone();
                    sibling.pop();
                    sibling.push(fids[0]);
                    self.select_path(sibling)
                }
            }
            0x04 => {
                let found = self
                    .aids
                    .iter()
                    .find(|(aid, _)| aid.starts_with(&cmd.data) && !cmd.data.is_empty());
                match found.map(|(_, p)| p.clone()) {
                    Some(p) => self.select_path(p),
                    None => status(SW_FILE_NOT_FOUND),
                }
            }
            0x08 => {
                let mut p = vec![MF];
                p.extend(fids.iter().copied().skip_while(|f| *f == MF));
                self.select_path(p)
            }
            0x09 => {
                let mut p = self.current_df.clone();
                p.extend(fids);
                self.select_path(p)
            }
            _ => status(SW_WRONG_P1P2),
        };
        if answer.len() > 2 {
            // An EF: return its FCP only when asked (P2 = 04), else just 9000.
            if cmd.p2 & 0x0C == 0x0C {
                status(SW_OK)
            } else {
                respond(answer, SW_OK)
            }
        } else {
            answer
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
}
