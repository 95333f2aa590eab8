//! The MSS service's own settings, beside the kit's (`[grpc]`, `[bus]`, `[log]`, `[worker]`,
//! `[shutdown]`, `[documents]`): defaults, then the file, then `PASSERELLE__…` variables (e.g.
//! `PASSERELLE__MSS__SMTP__HOST`).

use std::time::Duration;

use passerelle_domain::Platform;
use passerelle_service_kit::audit::AuditSettings;
use passerelle_service_kit::letters::DocumentSettings;
use serde::{Deserialize, Serialize};

use crate::directory::DirectorySettings;
use crate::receiving::ReceivingSettings;
use crate::sharing::ShareSettings;
use crate::smtp::SmtpSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MssSettings {
    pub mss: MssConfig,
    pub document: DocumentSettings,
    pub audit: AuditSettings,
    /// How long the workstation's card-agent may take to answer (the PIN is entered there).
    #[serde(with = "humantime_serde")]
    pub card_timeout: Duration,
    /// `[share]`: the MSSanté channels of the shares (the `mss-share` consumer).
    pub share: ShareSettings,
}

impl Default for MssSettings {
    fn default() -> Self {
        Self {
            mss: MssConfig::default(),
            document: DocumentSettings::default(),
            audit: AuditSettings::default(),
            card_timeout: passerelle_card_client::DEFAULT_AGENT_TIMEOUT,
            share: ShareSettings::default(),
        }
    }
}

/// `[mss]`: the operator's SMTP server, the sender, the directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MssConfig {
    pub smtp: SmtpSettings,
    /// The organisation's mailbox (its applicative or organisational MSSanté address): the
    /// sender in organisation mode when the request names none. In CPS mode the sender is
    /// the card holder's personal mailbox in the directory.
    pub default_from: Option<String>,
    /// `X-MSS-NIL`: the software's reference on the MSSanté convergence platform, when it has
    /// one (e.g. `DEV935997`); not sent otherwise.
    pub nil: Option<String>,
    /// OID of the sending system, the XDM submission set's `sourceId`.
    pub source_id: String,
    /// On a test platform the test INS-NIR OID (1.2.250.1.213.1.4.10) is a qualified INS.
    pub test_platform: bool,
    pub directory: DirectorySettings,
    /// `[mss.receiving]`: the mailboxes read, over IMAP.
    pub receiving: ReceivingSettings,
}

impl MssSettings {
    /// Where the INS is used: the test INS-NIR OID is qualified only on a test platform.
    pub fn platform(&self) -> Platform {
        if self.mss.test_platform {
            Platform::Test
        } else {
            Platform::Production
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::imap::ImapAuth;

    /// The README's receiving example reads as it says.
    #[test]
    fn receiving_settings_read_from_the_readme_example() {
        let readme = include_str!("../README.md");
        let start = readme
            .find("```toml\n[mss.receiving]")
            .expect("the example")
            + 8;
        let end = start + readme[start..].find("```").unwrap();
        let settings: MssSettings = toml::from_str(&readme[start..end]).unwrap();
        let r = &settings.mss.receiving;
        assert_eq!(r.lease, Duration::from_secs(30));
        assert_eq!(r.imap.host, "imap.operateur.mssante.fr");
        assert_eq!(r.imap.auth, ImapAuth::External);
        assert_eq!(r.mailboxes.len(), 2);
        assert_eq!(r.mailboxes[0].folder, "INBOX");
        assert!(matches!(
            r.mailboxes[1].imap_auth,
            Some(ImapAuth::Password { ref user, .. }) if user == "jean.fouquerey@hopital.mssante.fr"
        ));
        assert!(r.mailboxes[1].smtp_auth.is_some());
    }

    /// The README's sharing example reads as it says, and is the default.
    #[test]
    fn share_settings_read_from_the_readme_example() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n[share]").expect("the example") + 8;
        let end = start + readme[start..].find("```").unwrap();
        let settings: MssSettings = toml::from_str(&readme[start..end]).unwrap();
        assert_eq!(settings.share, ShareSettings::default());
        assert_eq!(settings.share.ack_wait, Duration::from_secs(60));
        assert_eq!(settings.share.max_deliver, 5);
        assert!(settings.share.enabled);
        let off: MssSettings = toml::from_str("[share]\nenabled = false").unwrap();
        assert!(!off.share.enabled);
    }
}
