//! Every subject of the system, in one place so that a rename is a compile error rather than
//! a silent `NoResponders`. Subjects are versioned (`v1`) like the protobuf packages they
//! carry: a breaking change gets a new subject and both can be served during a migration.
//!
//! Request subjects carry a protobuf request and answer with a `passerelle.bus.v1.Reply`
//! wrapping the response (see [`crate::proto_rpc`]). Event subjects carry the event message
//! itself.
//!
//! Also here: the syntax checks shared by both bus implementations, so that the in-process
//! bus rejects exactly what NATS would and a mistake shows up in the embedded mode already.

use crate::BusError;

/// INS search by identity traits.
/// Request `passerelle.ins.v1.SearchByTraitsRequest` → `passerelle.ins.v1.SearchResponse`.
pub const INS_SEARCH_BY_TRAITS: &str = "passerelle.ins.v1.search";

/// INS search from a carte Vitale.
/// Request `passerelle.ins.v1.SearchByVitaleRequest` → `passerelle.ins.v1.SearchResponse`.
pub const INS_SEARCH_BY_VITALE: &str = "passerelle.ins.v1.search_vitale";

/// Local check of a matricule and its key.
/// Request `passerelle.ins.v1.CheckMatriculeRequest` → `passerelle.ins.v1.CheckMatriculeResponse`.
pub const INS_CHECK_MATRICULE: &str = "passerelle.ins.v1.check_matricule";

/// Verification of a known INS against INSi, trait by trait.
/// Request `passerelle.ins.v1.VerifyInsRequest` → `passerelle.ins.v1.VerifyInsResponse`.
pub const INS_VERIFY: &str = "passerelle.ins.v1.verify";

/// Identity-vigilance status (qualification) of an identity.
/// Request `passerelle.ins.v1.QualifyIdentityRequest` → `passerelle.ins.v1.QualifyIdentityResponse`.
pub const INS_QUALIFY: &str = "passerelle.ins.v1.qualify";

/// Queue group of the ins-service instances: they share the `passerelle.ins.v1.*` requests.
pub const INS_QUEUE_GROUP: &str = "ins-service";

/// Event after every INS search, published durably.
/// Payload `passerelle.events.v1.InsSearched`.
pub const EVENTS_INS_SEARCHED: &str = "passerelle.events.v1.ins.searched";

/// Event when an identity becomes qualifiée, published durably.
/// Payload `passerelle.events.v1.IdentityQualified`.
pub const EVENTS_IDENTITY_QUALIFIED: &str = "passerelle.events.v1.ins.qualified";

/// Audit event of every call made to INSi (each attempt), published durably.
/// Payload `passerelle.events.v1.InsiCallAudited`.
pub const EVENTS_AUDIT_INSI: &str = "passerelle.events.v1.audit.insi";

/// Audit event of every CPS signature made by a card-agent, published durably.
/// Payload `passerelle.card.v1.SignatureAudited`.
pub const EVENTS_AUDIT_CARD: &str = "passerelle.events.v1.audit.card";

/// DMP: status of the patient's DMP and this professional's authorisation (TD0.2).
/// Request `passerelle.dmp.v1.GetStatusRequest` → `passerelle.dmp.v1.GetStatusResponse`.
pub const DMP_STATUS: &str = "passerelle.dmp.v1.status";

/// DMP: add or remove this professional's authorisation (TD0.3).
/// Request `passerelle.dmp.v1.SetAuthorizationRequest` → `SetAuthorizationResponse`.
pub const DMP_SET_AUTHORIZATION: &str = "passerelle.dmp.v1.set_authorization";

/// DMP: the DMPs this professional may access (TD0.4).
/// Request `passerelle.dmp.v1.ListAccessibleRequest` → `ListAccessibleResponse`.
pub const DMP_LIST_ACCESSIBLE: &str = "passerelle.dmp.v1.list_accessible";

/// DMP: deposit of a document (TD2.1).
/// Request `passerelle.dmp.v1.DepositRequest` → `passerelle.dmp.v1.DepositResponse`.
pub const DMP_DEPOSIT: &str = "passerelle.dmp.v1.deposit";

/// DMP: deposit of the VSM, replacing the current one (TD2.1).
/// Request `passerelle.dmp.v1.DepositVsmRequest` → `passerelle.dmp.v1.DepositResponse`.
pub const DMP_DEPOSIT_VSM: &str = "passerelle.dmp.v1.deposit_vsm";

/// DMP: the patient's documents (TD3.1).
/// Request `passerelle.dmp.v1.ListDocumentsRequest` → `ListDocumentsResponse`.
pub const DMP_LIST_DOCUMENTS: &str = "passerelle.dmp.v1.list_documents";

/// DMP: one document, put in the document store (TD3.2).
/// Request `passerelle.dmp.v1.GetDocumentRequest` → `GetDocumentResponse`.
pub const DMP_GET_DOCUMENT: &str = "passerelle.dmp.v1.get_document";

/// DMP: masking and visibility (TD3.3a/b).
/// Request `passerelle.dmp.v1.ChangeVisibilityRequest` → `DocumentChangeResponse`.
pub const DMP_CHANGE_VISIBILITY: &str = "passerelle.dmp.v1.change_visibility";

/// DMP: archive, unarchive, delete (TD3.3c/d).
/// Request `passerelle.dmp.v1.ChangeStatusRequest` → `DocumentChangeResponse`.
pub const DMP_CHANGE_STATUS: &str = "passerelle.dmp.v1.change_status";

/// Queue group of the dmp-service instances: they share the `passerelle.dmp.v1.*` requests.
pub const DMP_QUEUE_GROUP: &str = "dmp-service";

/// Event when a document was deposited in a DMP, published durably.
/// Payload `passerelle.events.v1.DocumentDeposited`.
pub const EVENTS_DMP_DOCUMENT_DEPOSITED: &str = "passerelle.events.v1.dmp.document_deposited";

/// Event when a document's visibility changed, published durably.
/// Payload `passerelle.events.v1.DocumentVisibilityChanged`.
pub const EVENTS_DMP_VISIBILITY_CHANGED: &str = "passerelle.events.v1.dmp.visibility_changed";

/// Event when a document was deleted from a DMP, published durably.
/// Payload `passerelle.events.v1.DocumentDeleted`.
pub const EVENTS_DMP_DOCUMENT_DELETED: &str = "passerelle.events.v1.dmp.document_deleted";

/// Event when a document was archived or unarchived, published durably.
/// Payload `passerelle.events.v1.DocumentStatusChanged`.
pub const EVENTS_DMP_STATUS_CHANGED: &str = "passerelle.events.v1.dmp.status_changed";

/// Audit event of every call made to the DMP (each attempt), published durably.
/// Payload `passerelle.events.v1.DmpCallAudited`.
pub const EVENTS_AUDIT_DMP: &str = "passerelle.events.v1.audit.dmp";

/// MSSanté: send a message (to professionals, to the patient's mailbox).
/// Payload `passerelle.mss.v1.SendRequest` → `SendResponse`.
pub const MSS_SEND: &str = "passerelle.mss.v1.send";

/// MSSanté: the messages a send would send, nothing sent.
/// Payload `passerelle.mss.v1.SendRequest` → `PreviewResponse`.
pub const MSS_PREVIEW: &str = "passerelle.mss.v1.preview";

/// MSSanté: a professional's mailboxes in the directory.
/// Payload `passerelle.mss.v1.SearchDirectoryRequest` → `SearchDirectoryResponse`.
pub const MSS_DIRECTORY_SEARCH: &str = "passerelle.mss.v1.directory.search";

/// MSSanté: import the directory's extraction file (by reference) into the service's index.
/// Payload `passerelle.mss.v1.ImportDirectoryRequest` → `ImportDirectoryResponse`.
pub const MSS_DIRECTORY_IMPORT: &str = "passerelle.mss.v1.directory.import";

/// Queue group of the mss-service instances: they share the `passerelle.mss.v1.*` requests.
pub const MSS_QUEUE_GROUP: &str = "mss-service";

/// Event when an MSSanté message was accepted by the server, published durably.
/// Payload `passerelle.events.v1.MssMessageSent`.
pub const EVENTS_MSS_MESSAGE_SENT: &str = "passerelle.events.v1.mss.message_sent";

/// Audit event of every message handed to the SMTP server (and of a session that failed to open), published durably.
/// Payload `passerelle.events.v1.MssCallAudited`.
pub const EVENTS_AUDIT_MSS: &str = "passerelle.events.v1.audit.mss";

/// MSSanté, receiving: the messages received in a mailbox.
/// Payload `passerelle.mss.v1.ListMessagesRequest` → `ListMessagesResponse`.
pub const MSS_INBOX_LIST: &str = "passerelle.mss.v1.inbox.list";

/// MSSanté, receiving: one received message, its documents by reference.
/// Payload `passerelle.mss.v1.GetMessageRequest` → `ReceivedMessage`.
pub const MSS_INBOX_GET: &str = "passerelle.mss.v1.inbox.get";

/// Event when a received MSSanté message was read, its documents stored: once per message.
/// Payload `passerelle.events.v1.MssMessageReceived`.
pub const EVENTS_MSS_MESSAGE_RECEIVED: &str = "passerelle.events.v1.mss.message_received";

/// Sharing: share a document on several channels. Payload `passerelle.share.v1.ShareRequest`
/// → `ShareStatus`.
pub const SHARE_SHARE: &str = "passerelle.share.v1.share";

/// Sharing: a share's state. Payload `passerelle.share.v1.GetShareRequest` → `ShareStatus`.
pub const SHARE_GET: &str = "passerelle.share.v1.get";

/// Sharing: run the failed channels again. Payload `passerelle.share.v1.RetryShareRequest`
/// → `ShareStatus`.
pub const SHARE_RETRY: &str = "passerelle.share.v1.retry";

/// Queue group of the share-service instances.
pub const SHARE_QUEUE_GROUP: &str = "share-service";

/// The work of a share, durable: dmp-service and mss-service consume it.
/// Payload `passerelle.share.v1.ShareRequested`.
pub const EVENTS_SHARE_REQUESTED: &str = "passerelle.events.v1.share.requested";

/// A share channel's outcome, durable: share-service's status projection consumes it.
/// Payload `passerelle.share.v1.ShareChannelResult`.
pub const EVENTS_SHARE_CHANNEL_RESULT: &str = "passerelle.events.v1.share.channel_result";

/// JetStream object store (and embedded store) of the documents passed by reference.
pub const DOCUMENTS_BUCKET: &str = "PASSERELLE_DOCUMENTS";

/// Operations a card-agent serves under `passerelle.card.v1.<workstation>.<op>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOp {
    /// `passerelle.card.v1.ListReadersRequest` → `ListReadersResponse`.
    Readers,
    /// `passerelle.card.v1.ReadCardRequest` → `ReadCardResponse`.
    Read,
    /// `passerelle.card.v1.SignRequest` (without PIN) → `SignResponse`.
    Sign,
    /// Events `passerelle.card.v1.CardEvent` (insertion, removal).
    Events,
}

impl CardOp {
    pub fn token(self) -> &'static str {
        match self {
            Self::Readers => "readers",
            Self::Read => "read",
            Self::Sign => "sign",
            Self::Events => "events",
        }
    }
}

/// The subject of `op` on the card-agent of `workstation`; the workstation id must be a single
/// token (see [`validate_token`]), so that it cannot reach another workstation's subjects.
pub fn card_subject(workstation: &str, op: CardOp) -> Result<String, BusError> {
    validate_token(workstation)?;
    Ok(format!("passerelle.card.v1.{workstation}.{}", op.token()))
}

/// Every event: the pattern captured by the JetStream stream [`EVENTS_STREAM`].
pub const EVENTS_ALL: &str = "passerelle.events.>";

/// JetStream stream that stores the durable events ([`EVENTS_ALL`]).
pub const EVENTS_STREAM: &str = "PASSERELLE_EVENTS";

/// Header of a durable event's deduplication id (JetStream's own name): a second event
/// with the id of one already stored is acknowledged and dropped, on NATS within the
/// stream's duplicate window ([`EVENTS_DUPLICATE_WINDOW`] for a stream we create), in the
/// embedded log as long as the first is kept.
pub const HEADER_MSG_ID: &str = "Nats-Msg-Id";

/// Duplicate window of the events stream when we create it.
pub const EVENTS_DUPLICATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Header carrying the request id, end to end (gRPC metadata → bus → logs → events).
pub const HEADER_REQUEST_ID: &str = "request-id";

/// The service (queue group) expected to serve a request subject, for error messages that
/// tell the operator what to start.
pub fn serving_service(subject: &str) -> Option<&'static str> {
    if subject.starts_with("passerelle.ins.") {
        Some(INS_QUEUE_GROUP)
    } else if subject.starts_with("passerelle.dmp.") {
        Some(DMP_QUEUE_GROUP)
    } else if subject.starts_with("passerelle.mss.") {
        Some(MSS_QUEUE_GROUP)
    } else if subject.starts_with("passerelle.share.") {
        Some(SHARE_QUEUE_GROUP)
    } else {
        None
    }
}

/// Checks that `s` can be used as one token of a subject (a workstation id, a queue group):
/// non-empty, ASCII letters, digits, `-` and `_` only. Stricter than NATS on purpose: such
/// tokens often come from user input and must not smuggle dots or wildcards into a subject.
pub fn validate_token(s: &str) -> Result<(), BusError> {
    let invalid = |reason: &str| BusError::InvalidSubject {
        subject: s.to_owned(),
        reason: reason.to_owned(),
    };
    if s.is_empty() {
        return Err(invalid("empty token"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(invalid(&format!(
            "character {c:?} not allowed in a token (letters, digits, '-', '_')"
        )));
    }
    Ok(())
}

/// Checks a subject one publishes or requests on: dot-separated non-empty tokens, no
/// whitespace or control characters, no wildcard.
pub fn validate_subject(subject: &str) -> Result<(), BusError> {
    check_tokens(subject, false)
}

/// Checks a subscription pattern: like a subject, but a token may be `*` (exactly one token)
/// and the last token may be `>` (one or more tokens).
pub fn validate_pattern(pattern: &str) -> Result<(), BusError> {
    check_tokens(pattern, true)
}

fn check_tokens(subject: &str, wildcards: bool) -> Result<(), BusError> {
    let invalid = |reason: &str| BusError::InvalidSubject {
        subject: subject.to_owned(),
        reason: reason.to_owned(),
    };
    if subject.is_empty() {
        return Err(invalid("empty subject"));
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("whitespace or control character"));
    }
    let count = subject.split('.').count();
    for (i, token) in subject.split('.').enumerate() {
        match token {
            "" => return Err(invalid("empty token (leading, trailing or double dot)")),
            "*" | ">" if !wildcards => {
                return Err(invalid("wildcards are only allowed in subscriptions"));
            }
            ">" if i + 1 != count => return Err(invalid("'>' must be the last token")),
            "*" | ">" => {}
            t if t.contains(['*', '>']) => {
                return Err(invalid("a wildcard must be a whole token"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `subject` matches `pattern` with NATS semantics. Both are assumed valid.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for p in pattern.split('.') {
        match (p, subject_tokens.next()) {
            (">", Some(_)) => return true,
            (_, None) => return false,
            ("*", Some(_)) => {}
            (p, Some(s)) if p == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(validate_token("ws-01_A").is_ok());
        assert!(validate_token("").is_err());
        assert!(validate_token("a.b").is_err());
        assert!(validate_token("a*").is_err());
        assert!(validate_token("é").is_err());
    }

    #[test]
    fn subjects_and_patterns() {
        for s in [
            INS_SEARCH_BY_TRAITS,
            INS_SEARCH_BY_VITALE,
            INS_CHECK_MATRICULE,
            INS_VERIFY,
            INS_QUALIFY,
            EVENTS_INS_SEARCHED,
            EVENTS_IDENTITY_QUALIFIED,
            EVENTS_AUDIT_INSI,
            DMP_STATUS,
            DMP_DEPOSIT,
            EVENTS_DMP_DOCUMENT_DEPOSITED,
            EVENTS_AUDIT_DMP,
        ] {
            assert!(validate_subject(s).is_ok(), "{s}");
        }
        assert!(validate_pattern(EVENTS_ALL).is_ok());
        assert!(validate_subject(EVENTS_ALL).is_err());
        for bad in ["", "a..b", ".a", "a.", "a b", "a.>.b", "a.b*", "a\tb"] {
            assert!(validate_pattern(bad).is_err(), "{bad:?}");
        }
        assert!(validate_pattern("a.*.c").is_ok());
        assert!(validate_pattern(">").is_ok());
    }

    #[test]
    fn matching() {
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(!matches("a.b.c", "a.b"));
        assert!(matches("a.*", "a.b"));
        assert!(!matches("a.*", "a.b.c"));
        assert!(matches("a.*.c", "a.b.c"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
        assert!(matches(">", "a"));
        assert!(matches(EVENTS_ALL, EVENTS_INS_SEARCHED));
        assert!(!matches(EVENTS_ALL, INS_SEARCH_BY_TRAITS));
    }

    #[test]
    fn card_subjects_take_one_token() {
        assert_eq!(
            card_subject("ward-3_pc12", CardOp::Sign).unwrap(),
            "passerelle.card.v1.ward-3_pc12.sign"
        );
        for bad in ["", "a.b", "*", ">", "a b", "ws.*"] {
            assert!(card_subject(bad, CardOp::Read).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serving() {
        assert_eq!(serving_service(INS_CHECK_MATRICULE), Some(INS_QUEUE_GROUP));
        assert_eq!(serving_service(DMP_DEPOSIT), Some(DMP_QUEUE_GROUP));
        assert_eq!(serving_service(MSS_SEND), Some(MSS_QUEUE_GROUP));
        assert_eq!(serving_service(SHARE_SHARE), Some(SHARE_QUEUE_GROUP));
        assert_eq!(serving_service("passerelle.unknown.v1.x"), None);
    }
}
