//! The acknowledgement a sender asked for (`Disposition-Notification-To`): an MDN
//! (RFC 8098, the MSSanté guide's form; [`crate::mdn`]) `processed`, or the error form with
//! the guide's code when the message was set aside. Held, not sent, when RFC 8098 says a
//! person must decide (the address differs from `Return-Path`) or when acknowledgements are
//! turned off; sent from the mailbox that received the message, with a null reverse path.

use std::collections::HashMap;

use bytes::Bytes;

use super::config::{MailboxSettings, ReceivingSettings};
use super::tracking::{AckRecord, AckState, MessageRecord};
use crate::inbox::{self, GuideCode, MessageOrigin};
use crate::mdn::{self, Disposition, MdnDecision};
use crate::smtp::{ClientCert, SmtpClient, SmtpError, SmtpSettings};

/// An MDN ready to go.
pub struct PendingMdn {
    mdn: mdn::Mdn,
}

impl PendingMdn {
    pub fn to(&self) -> &str {
        &self.mdn.to
    }

    pub fn message_id(&self) -> &str {
        &self.mdn.message_id
    }
}

/// What to do about a message's acknowledgement.
pub enum Plan {
    /// Nothing to send: not asked, held, or it cannot be built.
    Settled(AckRecord),
    Send(PendingMdn),
}

/// Builds and sends the acknowledgements of every mailbox.
pub struct Acknowledger {
    enabled: bool,
    /// Per mailbox (lower-case address): its SMTP client, `None` without an SMTP server.
    clients: HashMap<String, Option<SmtpClient>>,
}

impl Acknowledger {
    /// One SMTP client per mailbox, with the mailbox's own authentication when it has one.
    pub fn new(settings: &ReceivingSettings, smtp: &SmtpSettings) -> Result<Self, SmtpError> {
        let mut clients = HashMap::new();
        for mailbox in &settings.mailboxes {
            clients.insert(
                mailbox.address.trim().to_ascii_lowercase(),
                client_for(mailbox, smtp)?,
            );
        }
        Ok(Self {
            enabled: settings.acknowledgements,
            clients,
        })
    }

    /// Whether settling this record's acknowledgement needs the raw message.
    pub fn may_need_raw(&self, record: &MessageRecord) -> bool {
        record.ack.is_none()
    }

    /// Decides, and builds the MDN when one is to be sent.
    pub fn plan(&self, record: &MessageRecord, raw: &Bytes) -> Plan {
        let settled = |state, to: &str, detail: &str| {
            Plan::Settled(AckRecord {
                state,
                to: to.to_owned(),
                detail: detail.to_owned(),
                mdn_message_id: String::new(),
            })
        };
        let origin = MessageOrigin {
            mailbox: record.mailbox.clone(),
            uid_validity: record.uid_validity,
            uid: record.uid,
        };
        // Most messages ask for no acknowledgement, which their header section says: no second
        // full parse (MIME, XDM) of the message for them.
        if !record.set_aside()
            && inbox::parse_headers(raw, &origin)
                .is_some_and(|h| h.disposition_notification_to.is_none())
        {
            return settled(AckState::NotRequested, "", "");
        }
        let limits = inbox::Limits::default();
        let received = if record.set_aside() {
            inbox::parse_headers(raw, &origin)
        } else {
            inbox::parse(raw, &origin, &limits)
                .ok()
                .or_else(|| inbox::parse_headers(raw, &origin))
        };
        let Some(received) = received else {
            return settled(
                AckState::NotRequested,
                "",
                "the message's headers cannot be read: no acknowledgement possible",
            );
        };
        let to = match mdn::decide(&received) {
            MdnDecision::NotRequested => return settled(AckState::NotRequested, "", ""),
            MdnDecision::Held { to, reason } => return settled(AckState::Held, &to, &reason),
            MdnDecision::Send { to } => to,
        };
        if !self.enabled {
            return settled(
                AckState::Held,
                &to,
                "automatic acknowledgements are turned off (mss.receiving.acknowledgements)",
            );
        }
        let disposition = match &record.problem {
            None => Disposition::Processed,
            Some((label, code)) => Disposition::Error {
                code: guide_code(code),
                label: label.clone(),
            },
        };
        let reporting = match crate::address::MssAddress::parse(&record.mailbox) {
            Ok(address) => address,
            Err(e) => {
                return settled(
                    AckState::Failed,
                    &to,
                    &format!("the mailbox's address: {e}"),
                );
            }
        };
        let now = time::OffsetDateTime::now_utc();
        match mdn::build(&received, raw, &reporting, &disposition, now) {
            Ok(built) => Plan::Send(PendingMdn { mdn: built }),
            Err(e) => settled(AckState::Failed, &to, &format!("cannot build the MDN: {e}")),
        }
    }

    /// Sends it; the outcome to record (never retried: at most once).
    pub async fn send(&self, mailbox: &str, pending: PendingMdn) -> AckRecord {
        let mdn = pending.mdn;
        let record = |state, detail: String| AckRecord {
            state,
            to: mdn.to.clone(),
            detail,
            mdn_message_id: mdn.message_id.clone(),
        };
        let Some(Some(client)) = self.clients.get(&mailbox.trim().to_ascii_lowercase()) else {
            return record(
                AckState::Failed,
                "no SMTP server to send it (set mss.smtp.host)".to_owned(),
            );
        };
        // RFC 8098 §2.1: an MDN goes with a null reverse path (no bounce of a bounce).
        let envelope = mdn.envelope();
        match client
            .send(
                ClientCert::Configured,
                &envelope,
                std::slice::from_ref(&mdn.bytes),
            )
            .await
        {
            Ok(_) => record(AckState::Sent, String::new()),
            Err(e) => record(AckState::Failed, e.to_string()),
        }
    }
}

fn client_for(
    mailbox: &MailboxSettings,
    smtp: &SmtpSettings,
) -> Result<Option<SmtpClient>, SmtpError> {
    if smtp.host.trim().is_empty() {
        return Ok(None);
    }
    let mut settings = smtp.clone();
    if let Some(auth) = &mailbox.smtp_auth {
        settings.auth = auth.clone();
    }
    SmtpClient::new(&settings).map(Some)
}

/// `207^906` → the code.
fn guide_code(text: &str) -> GuideCode {
    let mut parts = text.split('^');
    let condition = parts.next().and_then(|c| c.parse().ok()).unwrap_or(207);
    let application = parts.next().and_then(|a| a.parse().ok());
    GuideCode {
        condition,
        application,
    }
}
