//! Clinical documents as the DMP and MSSanté take them, built once for both, offline:
//!
//! - [`header`]: what a document says about itself (patient with a qualified INS, author,
//!   custodian, legal authenticator, service event, type, confidentiality, identifiers) — the
//!   one source of truth from which the CDA header *and* the XDS metadata are written;
//! - [`codes`]: the value-set entries the project uses (ANS JDV J01, J02, J04, J07, J08; the
//!   DMP's class, format and type codes), kept here so nothing is read from `../shared` at run
//!   time;
//! - [`cda`]: the CDA R2 header writer and the level-1 body (a PDF or plain text, streamed);
//! - [`vsm`]: the Volet de Synthèse Médicale (CDA level 3) from JSON input;
//! - [`letter`]: a caller's file (PDF, text, the VSM's JSON) as the CDA both services send,
//!   with its XDS facts;
//! - [`xds`]: the XDS.b metadata (ebRIM 3.0) of a document, for an ITI-41 submission and for
//!   an XDM `METADATA.XML`; [`xdm`]: the `IHE_XDM.zip` package of MSSanté (one or several
//!   documents).

pub mod cda;
pub mod codes;
pub mod header;
pub mod ids;
pub mod letter;
pub mod vsm;
pub mod xdm;
pub mod xds;

#[cfg(feature = "testing")]
pub mod testing;
