//! Pieces shared by the simulators: the namespace-aware XML tree, exclusive C14N, the
//! enveloped XML signature check and the mutual-TLS set-up.

pub(crate) mod c14n;
pub(crate) mod dsig;
pub(crate) mod serve;
pub(crate) mod tls;
pub(crate) mod xml;
