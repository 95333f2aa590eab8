//! Document identifiers: the `id` (XDS `uniqueId`) and `setId` of a document, derived from
//! an idempotency key the caller gives — so that a retry of the same deposit carries the same
//! uniqueId and the DMP recognises it — or generated once and returned for the caller to keep.
//!
//! An id is a UUID written as an OID under `2.25` (ITU-T X.667): `2.25.<the UUID as one
//! decimal integer>`, at most 64 characters as XDS requires.

use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::header::DocumentId;

/// The namespace of the name-based (v5) UUIDs of Passerelle's documents: a fixed, random
/// UUID, so that the same key always gives the same id and no other scheme collides.
const PASSERELLE_DOCUMENTS: Uuid = Uuid::from_u128(0x6f1c_2a4e_8d3b_4f6a_9b2e_51c7_d0a8_e314);

/// An idempotency key that cannot make an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "the idempotency key is empty: give the caller's own stable id of the document (e.g. its id in the source software), or none to have one generated"
    )]
    EmptyKey,
    #[error(
        "the idempotency key is {0} characters long: at most 256 are accepted; give a shorter stable id"
    )]
    KeyTooLong(usize),
}

/// The identifiers of a new document (version 1): its id, its set id, and the key they
/// came from — return the key to the caller when it was generated, so that a retry reuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentIds {
    pub id: DocumentId,
    pub set_id: DocumentId,
    pub key: String,
}

const MAX_KEY_CHARS: usize = 256;

impl DocumentIds {
    /// Ids derived from the caller's idempotency key: the same key gives the same ids.
    pub fn from_key(key: &str) -> Result<Self, IdError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(IdError::EmptyKey);
        }
        let chars = key.chars().count();
        if chars > MAX_KEY_CHARS {
            return Err(IdError::KeyTooLong(chars));
        }
        Ok(Self {
            // The document and its set get distinct ids from the one key.
            id: uuid_oid(name_based(&format!("document:{key}"))),
            set_id: uuid_oid(name_based(&format!("set:{key}"))),
            key: key.to_owned(),
        })
    }

    /// Ids from a new random key, returned in [`DocumentIds::key`].
    pub fn generate() -> Self {
        let key = Uuid::new_v4().to_string();
        Self {
            id: uuid_oid(name_based(&format!("document:{key}"))),
            set_id: uuid_oid(name_based(&format!("set:{key}"))),
            key,
        }
    }

    /// The id of a replacement of the document whose set id is `set_id`: a new document id
    /// from `key`, the same set id (the caller gives `versionNumber` = previous + 1).
    pub fn replacement(key: &str, set_id: DocumentId) -> Result<Self, IdError> {
        let mut ids = Self::from_key(key)?;
        ids.set_id = set_id;
        Ok(ids)
    }
}

/// UUID version 5 (RFC 9562: SHA-1 of namespace and name).
fn name_based(name: &str) -> Uuid {
    let mut h = Sha1::new();
    h.update(PASSERELLE_DOCUMENTS.as_bytes());
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

fn uuid_oid(u: Uuid) -> DocumentId {
    DocumentId {
        root: format!("2.25.{}", u.as_u128()),
        extension: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_ids_and_another_key_others() {
        let a = DocumentIds::from_key("LETTRE-2024-0042").unwrap();
        let b = DocumentIds::from_key("LETTRE-2024-0042").unwrap();
        let c = DocumentIds::from_key("LETTRE-2024-0043").unwrap();
        assert_eq!(a, b);
        assert_ne!(a.id, c.id);
        assert_ne!(a.id, a.set_id);
    }

    #[test]
    fn ids_are_uuid_oids_within_the_xds_length() {
        let ids = DocumentIds::generate();
        for id in [&ids.id, &ids.set_id] {
            let rest = id.root.strip_prefix("2.25.").unwrap();
            assert!(rest.bytes().all(|b| b.is_ascii_digit()), "{}", id.root);
            assert!(!rest.starts_with('0'));
            assert!(id.root.len() <= 64);
            assert_eq!(id.extension, None);
        }
        // The generated key, given back on retry, gives the same ids.
        assert_eq!(DocumentIds::from_key(&ids.key).unwrap(), ids);
        assert_ne!(DocumentIds::generate().id, ids.id);
    }

    #[test]
    fn the_uuid_is_a_version_5() {
        let u = name_based("x");
        assert_eq!(u.get_version_num(), 5);
    }

    #[test]
    fn a_replacement_keeps_the_set_id() {
        let first = DocumentIds::from_key("k1").unwrap();
        let second = DocumentIds::replacement("k2", first.set_id.clone()).unwrap();
        assert_eq!(second.set_id, first.set_id);
        assert_ne!(second.id, first.id);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(DocumentIds::from_key("  "), Err(IdError::EmptyKey));
        assert_eq!(
            DocumentIds::from_key(&"k".repeat(300)),
            Err(IdError::KeyTooLong(300))
        );
    }
}
