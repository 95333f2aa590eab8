//! The share service's own settings, beside the kit's (`[grpc]`, `[bus]`, `[log]`, `[worker]`,
//! `[shutdown]`, `[documents]`): defaults, then the file, then `PASSERELLE__…` variables (e.g.
//! `PASSERELLE__SHARE__TEST_PLATFORM`).

use std::time::Duration;

use passerelle_bus::consumer::{DEFAULT_ACK_WAIT, DEFAULT_MAX_DELIVER};
use passerelle_domain::Platform;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ShareSettings {
    pub share: ShareConfig,
}

/// `[share]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ShareConfig {
    /// On a test platform the test INS-NIR OID (1.2.250.1.213.1.4.10) is a qualified INS
    /// (the MSSanté Citoyen channel needs one). Set it like mss-service's `mss.test_platform`.
    pub test_platform: bool,
    /// The status projection's durable consumer (`share-status`): a result not acknowledged
    /// this long after its delivery is delivered again.
    #[serde(with = "humantime_serde")]
    pub consumer_ack_wait: Duration,
    /// Deliveries of one result at most before it is given up.
    pub consumer_max_deliver: u32,
    /// WatchShare re-reads the status at least this often, even without an event (an event
    /// missed while the face reconnected to the bus).
    #[serde(with = "humantime_serde")]
    pub watch_poll: Duration,
}

impl Default for ShareConfig {
    fn default() -> Self {
        Self {
            test_platform: false,
            consumer_ack_wait: DEFAULT_ACK_WAIT,
            consumer_max_deliver: DEFAULT_MAX_DELIVER,
            watch_poll: Duration::from_secs(2),
        }
    }
}

impl ShareSettings {
    /// Where the INS is used: the test INS-NIR OID is qualified only on a test platform.
    pub fn platform(&self) -> Platform {
        if self.share.test_platform {
            Platform::Test
        } else {
            Platform::Production
        }
    }
}
