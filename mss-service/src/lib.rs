//! mss-service: MSSanté secure health mail for any hospital or health-centre software, over
//! gRPC and the bus — a letter to professionals (MSSanté Professionnel) and to the patient's
//! own mailbox (MSSanté Citoyen), and the directory's MSSanté addresses.
//!
//! - [`address`]: MSSanté addresses, the patient's from a qualified INS;
//! - [`rules`]: the MSSanté management matrix (recipients × the document's visibility);
//! - [`message`]: the messages by the MSSanté rules (MIME, IHE_XDM.zip, `X-MSS-*` headers);
//! - [`smtp`]: the SMTP submission client (STARTTLS or implicit TLS, certificate, SASL
//!   EXTERNAL or password);
//! - [`directory`]: the national directory (Annuaire Santé FHIR API, extraction file).

pub mod address;
pub mod directory;
pub mod message;
pub mod rules;
pub mod smtp;
