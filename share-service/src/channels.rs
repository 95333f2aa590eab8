//! The channels of a share and the rules each must pass before anything is sent: pure, so
//! that a refusal is decided (and tested) without a bus. A refusal names its rule and says
//! what to do; the other channels go on.

use mss_service::address::MssAddress;
use mss_service::rules::{self, Flags, PatientIns, SendCase};
use passerelle_domain::{NotQualified, QualifiedIns};
use passerelle_proto::share::v1::Channel;
use passerelle_service_kit::letters;

use crate::errors::ShareError;

/// Rule ids of the share's own rules (the MSSanté matrix's are `M1.…`, `M2.…`).
pub mod rule_ids {
    /// MSSanté Citoyen: the patient's mailbox is made from a qualified INS only.
    pub const CITIZEN_NEEDS_QUALIFIED_INS: &str = "CITIZEN_NEEDS_QUALIFIED_INS";
    /// MSSanté Citoyen: a document hidden from the patient is not sent to the patient.
    pub const CITIZEN_DOCUMENT_HIDDEN: &str = "CITIZEN_DOCUMENT_HIDDEN";
    /// MSSanté Professionnel: at least one professional (`to`, `cc`).
    pub const MSS_PRO_NEEDS_RECIPIENT: &str = "MSS_PRO_NEEDS_RECIPIENT";
}

/// The name of a channel in the CLI and in JSON: `dmp`, `mss-pro`, `mss-citizen`.
pub fn name(channel: Channel) -> &'static str {
    match channel {
        Channel::Dmp => "dmp",
        Channel::MssPro => "mss-pro",
        Channel::MssCitizen => "mss-citizen",
        Channel::Unspecified => "unspecified",
    }
}

/// The channel named `name` (as [`name`] writes it).
pub fn parse_name(name: &str) -> Option<Channel> {
    match name.trim().to_ascii_lowercase().as_str() {
        "dmp" => Some(Channel::Dmp),
        "mss-pro" => Some(Channel::MssPro),
        "mss-citizen" => Some(Channel::MssCitizen),
        _ => None,
    }
}

/// The channels asked, checked: at least one, each known, none twice.
pub fn checked(channels: &[i32]) -> Result<Vec<Channel>, ShareError> {
    if channels.is_empty() {
        return Err(ShareError::invalid(
            "channels",
            "no channel: give at least one of CHANNEL_DMP, CHANNEL_MSS_PRO, CHANNEL_MSS_CITIZEN",
        ));
    }
    let mut out = Vec::with_capacity(channels.len());
    for (i, &c) in channels.iter().enumerate() {
        let channel = match Channel::try_from(c) {
            Ok(Channel::Unspecified) | Err(_) => {
                return Err(ShareError::invalid(
                    format!("channels[{i}]"),
                    format!(
                        "unknown channel {c}: use CHANNEL_DMP, CHANNEL_MSS_PRO or CHANNEL_MSS_CITIZEN"
                    ),
                ));
            }
            Ok(channel) => channel,
        };
        if out.contains(&channel) {
            return Err(ShareError::invalid(
                format!("channels[{i}]"),
                format!("channel {} is given twice: give it once", name(channel)),
            ));
        }
        out.push(channel);
    }
    Ok(out)
}

/// The document's visibility, as the rules read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Visibility {
    pub hide_from_professionals: bool,
    pub hide_from_patient: bool,
    pub hide_from_legal_representatives: bool,
}

/// What the rules are judged on.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    pub channels: &'a [Channel],
    /// The patient's INS, qualified or why not.
    pub patient: Result<&'a QualifiedIns, &'a NotQualified>,
    pub visibility: Visibility,
    pub to: &'a [MssAddress],
    pub cc: &'a [MssAddress],
    /// A read acknowledgement asked (a flag of the MSSanté matrix).
    pub acknowledgement: bool,
}

/// A channel refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub rule: String,
    pub detail: String,
}

/// Each channel asked, in order, with its refusal if a rule forbids it.
pub fn judge(case: &Case<'_>) -> Vec<(Channel, Option<Refused>)> {
    let mut verdicts: Vec<(Channel, Option<Refused>)> =
        case.channels.iter().map(|&c| (c, None)).collect();
    let refuse = |rule: &str, detail: String| {
        Some(Refused {
            rule: rule.to_owned(),
            detail,
        })
    };
    for (channel, verdict) in &mut verdicts {
        match channel {
            Channel::MssCitizen => {
                if let Err(why) = case.patient {
                    *verdict = refuse(
                        rule_ids::CITIZEN_NEEDS_QUALIFIED_INS,
                        format!(
                            "not sent to the patient's MSSanté Citoyen mailbox (rule {}): its address is made from a qualified INS only; {why}",
                            rule_ids::CITIZEN_NEEDS_QUALIFIED_INS
                        ),
                    );
                } else if case.visibility.hide_from_patient {
                    *verdict = refuse(
                        rule_ids::CITIZEN_DOCUMENT_HIDDEN,
                        format!(
                            "not sent to the patient's MSSanté Citoyen mailbox (rule {}): the document is hidden from the patient; make it visible to the patient, or share it without mss-citizen",
                            rule_ids::CITIZEN_DOCUMENT_HIDDEN
                        ),
                    );
                }
            }
            Channel::MssPro if case.to.is_empty() && case.cc.is_empty() => {
                *verdict = refuse(
                    rule_ids::MSS_PRO_NEEDS_RECIPIENT,
                    format!(
                        "not sent by MSSanté Professionnel (rule {}): no professional recipient; give at least one MSSanté address in to or cc",
                        rule_ids::MSS_PRO_NEEDS_RECIPIENT
                    ),
                );
            }
            _ => {}
        }
    }

    // The MSSanté matrix judges the recipients of both MSSanté channels together (one send).
    let runs = |c: Channel, v: &[(Channel, Option<Refused>)]| {
        v.iter().any(|(ch, r)| *ch == c && r.is_none())
    };
    let pro = runs(Channel::MssPro, &verdicts);
    let citizen = runs(Channel::MssCitizen, &verdicts);
    if pro || citizen {
        let mut flags = Flags::hidden_from(&letters::hidden_from(
            case.visibility.hide_from_professionals,
            case.visibility.hide_from_patient,
            case.visibility.hide_from_legal_representatives,
        ));
        flags.ack_lecture_mss = case.acknowledgement;
        let patient = match case.patient {
            Ok(q) => PatientIns::Qualified(q),
            Err(why) => PatientIns::NotQualified(why),
        };
        let (to, cc): (&[MssAddress], &[MssAddress]) =
            if pro { (case.to, case.cc) } else { (&[], &[]) };
        if let Err(refusal) = rules::judge(&SendCase {
            to,
            cc,
            to_patient: citizen,
            patient,
            document: Some(flags),
        }) {
            let rule = refusal.first().map(|r| r.id()).unwrap_or_default();
            let detail = refusal.to_string();
            for (channel, verdict) in &mut verdicts {
                if matches!(channel, Channel::MssPro | Channel::MssCitizen) && verdict.is_none() {
                    *verdict = refuse(&rule, detail.clone());
                }
            }
        }
    }
    verdicts
}

/// The addresses of `field` (`to`, `cc`), checked.
pub fn addresses(field: &str, list: &[String]) -> Result<Vec<MssAddress>, ShareError> {
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            MssAddress::parse(a).map_err(|e| {
                ShareError::invalid(
                    format!("{field}[{i}]"),
                    format!("{e}: give an MSSanté address"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use passerelle_domain::{IdentityStatus, Ins, InsOid, PatientIdentity, Platform};

    fn identity(status: IdentityStatus) -> PatientIdentity {
        PatientIdentity {
            ins: Ins::typed("2480392630010", "64", InsOid::TestNir).unwrap(),
            traits: None,
            status,
        }
    }

    fn pro() -> Vec<MssAddress> {
        vec![MssAddress::parse("jean.fouquerey@passerelle-sandbox.mssante.fr").unwrap()]
    }

    fn verdicts(
        channels: &[Channel],
        status: IdentityStatus,
        visibility: Visibility,
        to: &[MssAddress],
    ) -> Vec<(Channel, Option<Refused>)> {
        let id = identity(status);
        let q = QualifiedIns::try_new(&id, Platform::Test);
        judge(&Case {
            channels,
            patient: q.as_ref(),
            visibility,
            to,
            cc: &[],
            acknowledgement: false,
        })
    }

    fn rule(v: &[(Channel, Option<Refused>)], c: Channel) -> Option<String> {
        v.iter()
            .find(|(ch, _)| *ch == c)
            .and_then(|(_, r)| r.as_ref().map(|r| r.rule.clone()))
    }

    const ALL: [Channel; 3] = [Channel::Dmp, Channel::MssPro, Channel::MssCitizen];

    #[test]
    fn all_three_pass_with_a_qualified_ins_and_a_visible_document() {
        let v = verdicts(
            &ALL,
            IdentityStatus::Qualifiee,
            Visibility::default(),
            &pro(),
        );
        assert!(v.iter().all(|(_, r)| r.is_none()), "{v:?}");
    }

    #[test]
    fn citizen_needs_a_qualified_ins_the_others_go_on() {
        let v = verdicts(&ALL, IdentityStatus::Validee, Visibility::default(), &pro());
        assert_eq!(
            rule(&v, Channel::MssCitizen).as_deref(),
            Some(rule_ids::CITIZEN_NEEDS_QUALIFIED_INS)
        );
        assert_eq!(rule(&v, Channel::Dmp), None);
        // mss-pro alone with a document visible to the patient is row M2, which wants it hidden.
        assert_eq!(
            rule(&v, Channel::MssPro).as_deref(),
            Some("M2.INVISIBLE_PATIENT")
        );
    }

    #[test]
    fn citizen_refuses_a_document_hidden_from_the_patient() {
        let hidden = Visibility {
            hide_from_patient: true,
            ..Visibility::default()
        };
        let v = verdicts(&ALL, IdentityStatus::Qualifiee, hidden, &pro());
        assert_eq!(
            rule(&v, Channel::MssCitizen).as_deref(),
            Some(rule_ids::CITIZEN_DOCUMENT_HIDDEN)
        );
        // Professionals only, hidden from the patient: row M2 admits it.
        assert_eq!(rule(&v, Channel::MssPro), None);
        let detail = v[2].1.as_ref().unwrap().detail.clone();
        assert!(
            detail.contains("make it visible to the patient"),
            "{detail}"
        );
    }

    #[test]
    fn mss_pro_needs_a_recipient() {
        let v = verdicts(
            &[Channel::MssPro],
            IdentityStatus::Qualifiee,
            Visibility::default(),
            &[],
        );
        assert_eq!(
            rule(&v, Channel::MssPro).as_deref(),
            Some(rule_ids::MSS_PRO_NEEDS_RECIPIENT)
        );
    }

    #[test]
    fn a_matrix_refusal_refuses_both_mssante_channels_not_the_dmp() {
        let v = verdicts(
            &ALL,
            IdentityStatus::Qualifiee,
            Visibility {
                hide_from_legal_representatives: true,
                ..Visibility::default()
            },
            &pro(),
        );
        assert_eq!(
            rule(&v, Channel::MssPro).as_deref(),
            Some("M1.INVISIBLE_REP_LEGAUX")
        );
        assert_eq!(
            rule(&v, Channel::MssCitizen).as_deref(),
            Some("M1.INVISIBLE_REP_LEGAUX")
        );
        assert_eq!(rule(&v, Channel::Dmp), None);
    }

    #[test]
    fn channel_lists_are_checked() {
        assert!(checked(&[]).is_err());
        assert!(checked(&[0]).is_err());
        assert!(checked(&[9]).is_err());
        assert!(checked(&[1, 1]).is_err());
        assert_eq!(
            checked(&[3, 1]).unwrap(),
            vec![Channel::MssCitizen, Channel::Dmp]
        );
        for c in ALL {
            assert_eq!(parse_name(name(c)), Some(c));
        }
        assert_eq!(parse_name("fax"), None);
    }
}
