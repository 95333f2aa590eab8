//! The INS service's own settings, beside the kit's (`[grpc]`, `[bus]`, `[log]`, `[worker]`,
//! `[shutdown]`): defaults, then the file, then `PASSERELLE__…` variables (e.g.
//! `PASSERELLE__INSI__ENDPOINT`).

use serde::{Deserialize, Serialize};

use crate::audit::AuditSettings;
use crate::insi::InsiClientConfig;
use crate::retry::RetryPolicy;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InsSettings {
    pub insi: InsiClientConfig,
    /// Retries of transient INSi failures (the timeout of one call is `insi.timeout`).
    pub insi_retry: RetryPolicy,
    pub audit: AuditSettings,
}
