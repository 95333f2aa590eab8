//! SOAP 1.2 plumbing shared by the INSi client and, later, the DMP client: namespace constants,
//! XMLDSig pieces written in canonical form ([`dsig`]), a namespace-correct envelope writer over quick-xml's `Writer`, a namespace-aware reader over
//! `NsReader` (URIs, never prefixes; no DTD, no entity expansion, bounded input) and SOAP faults.

pub mod dsig;
mod error;
mod fault;
pub mod ns;
mod read;
mod write;

pub use error::SoapError;
pub use fault::{SoapFault, parse_fault};
pub use ns::Ns;
pub use read::{Attribute, Element, Envelope, Limits, SoapVersion, parse_document};
pub use write::{XmlWriter, write_envelope};
