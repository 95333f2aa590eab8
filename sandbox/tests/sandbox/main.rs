//! Integration tests of the sandbox (one test binary, shared helpers).

mod binary;
mod cps;
mod curl;
mod faults;
mod helpers;
mod pki;
mod replay;
mod searches;
mod tls;
mod wsdl;
