//! Who may receive what: the MSSanté management matrix (transmission-cda-r2, « Règles de
//! gestion MSSanté »), as data, followed literally — « Le tableau présente une liste exhaustive
//! des combinaisons possibles … Les cas non représentés génèrent un message d'erreur. »
//!
//! The recipients choose the row — professionals and the patient (M1), professionals only
//! (M2), the patient only (M3) — and the row says which values of the document's flags it
//! admits. A send is judged before anything is built or sent; a refusal lists *every* rule at
//! fault, each with a message naming the rule and saying how to fix it. Besides the matrix: a
//! message needs a recipient (M0), the patient's mailbox needs a qualified INS, and the only
//! patient mailbox allowed is the document's patient's (one patient per message).
//!
//! The matrix is about a document; a message without one is judged on its recipients only.

use std::fmt;

use passerelle_clinical_documents::header::HiddenFrom;
use passerelle_domain::{NotQualified, QualifiedIns};

use crate::address::{MssAddress, PatientMailbox};

/// A row of the matrix, chosen by the recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Row {
    /// Professionals (or organisations, applications) and the patient.
    M1,
    /// Professionals only.
    M2,
    /// The patient only.
    M3,
}

impl Row {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "M1",
            Self::M2 => "M2",
            Self::M3 => "M3",
        }
    }

    /// The row of these recipients; `None` when there is none (M0).
    pub fn of(professionals: bool, patient: bool) -> Option<Self> {
        match (professionals, patient) {
            (true, true) => Some(Self::M1),
            (true, false) => Some(Self::M2),
            (false, true) => Some(Self::M3),
            (false, false) => None,
        }
    }

    /// The row as the matrix writes it.
    pub fn rule(self) -> &'static RowRule {
        match self {
            Self::M1 => &MATRIX[0],
            Self::M2 => &MATRIX[1],
            Self::M3 => &MATRIX[2],
        }
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A flag of the matrix (the OBX of the PFI flows, table MetaDMPMSS), with its official name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    MasquePs,
    InvisiblePatient,
    InvisibleRepLegaux,
    ConnexionSecrete,
    ModifConfCode,
    DestDmp,
    AckReception,
    AckLectureMss,
}

impl Flag {
    pub const ALL: [Self; 8] = [
        Self::MasquePs,
        Self::InvisiblePatient,
        Self::InvisibleRepLegaux,
        Self::ConnexionSecrete,
        Self::ModifConfCode,
        Self::DestDmp,
        Self::AckReception,
        Self::AckLectureMss,
    ];

    /// The official name (`MASQUE_PS`…).
    pub fn name(self) -> &'static str {
        match self {
            Self::MasquePs => "MASQUE_PS",
            Self::InvisiblePatient => "INVISIBLE_PATIENT",
            Self::InvisibleRepLegaux => "INVISIBLE_REP_LEGAUX",
            Self::ConnexionSecrete => "CONNEXION_SECRETE",
            Self::ModifConfCode => "MODIF_CONF_CODE",
            Self::DestDmp => "DESTDMP",
            Self::AckReception => "ACK_RECEPTION",
            Self::AckLectureMss => "ACK_LECTURE_MSS",
        }
    }
}

/// What a row admits for a flag: « N », « Y », « N ou Y ».
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Admits {
    N,
    Y,
    Either,
}

impl Admits {
    pub fn admits(self, value: bool) -> bool {
        match self {
            Self::N => !value,
            Self::Y => value,
            Self::Either => true,
        }
    }
}

/// A row of the matrix: the recipients it is for (DESTMSSANTEPS / DESTMSSANTEPAT), what it
/// admits of each flag, and its official result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRule {
    pub row: Row,
    pub professionals: bool,
    pub patient: bool,
    pub flags: [(Flag, Admits); 8],
    pub result: &'static str,
}

impl RowRule {
    pub fn admits(&self, flag: Flag) -> Admits {
        self.flags
            .iter()
            .find(|(f, _)| *f == flag)
            .map_or(Admits::Either, |(_, a)| *a)
    }
}

use Admits::{Either, N, Y};

/// The matrix, as `regles-gestion-mssante` writes it (revision of 2026-04-21).
pub const MATRIX: [RowRule; 3] = [
    RowRule {
        row: Row::M1,
        professionals: true,
        patient: true,
        flags: [
            (Flag::MasquePs, N),
            (Flag::InvisiblePatient, N),
            (Flag::InvisibleRepLegaux, N),
            (Flag::ConnexionSecrete, Either),
            (Flag::ModifConfCode, Either),
            (Flag::DestDmp, Either),
            (Flag::AckReception, Either),
            (Flag::AckLectureMss, Either),
        ],
        result: "« Envoi du document sur la boite MSSanté du PS/organisation/BAL applicative du destinataire et du Patient »",
    },
    RowRule {
        row: Row::M2,
        professionals: true,
        patient: false,
        flags: [
            (Flag::MasquePs, N),
            (Flag::InvisiblePatient, Y),
            (Flag::InvisibleRepLegaux, N),
            (Flag::ConnexionSecrete, Either),
            (Flag::ModifConfCode, Either),
            (Flag::DestDmp, Either),
            (Flag::AckReception, Either),
            (Flag::AckLectureMss, Either),
        ],
        result: "« Envoi du document sur la boite MSSanté du PS/organisation/BAL applicative du destinataire »",
    },
    RowRule {
        row: Row::M3,
        professionals: false,
        patient: true,
        flags: [
            (Flag::MasquePs, Either),
            (Flag::InvisiblePatient, N),
            (Flag::InvisibleRepLegaux, Either),
            (Flag::ConnexionSecrete, N),
            (Flag::ModifConfCode, Either),
            (Flag::DestDmp, N),
            (Flag::AckReception, Either),
            (Flag::AckLectureMss, Either),
        ],
        result: "« Envoi du document sur la boite MSSanté du patient »",
    },
];

/// The flags of a send with a document (Y = true).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// Hidden from professionals (`MASQUE_PS`).
    pub masque_ps: bool,
    /// Not visible to the patient (`INVISIBLE_PATIENT`).
    pub invisible_patient: bool,
    /// Not visible to the legal representatives (`INVISIBLE_REP_LEGAUX`).
    pub invisible_rep_legaux: bool,
    /// The patient's secret connection (`CONNEXION_SECRETE`).
    pub connexion_secrete: bool,
    /// The confidentiality code was changed (`MODIF_CONF_CODE`).
    pub modif_conf_code: bool,
    /// Also deposited in the DMP (`DESTDMP`).
    pub dest_dmp: bool,
    /// A reception acknowledgement asked (`ACK_RECEPTION`, a DSN).
    pub ack_reception: bool,
    /// A read acknowledgement asked (`ACK_LECTURE_MSS`, Disposition-Notification-To).
    pub ack_lecture_mss: bool,
}

impl Flags {
    /// The visibility flags of a document hidden from `hidden_from`.
    pub fn hidden_from(hidden_from: &[HiddenFrom]) -> Self {
        Self {
            masque_ps: hidden_from.contains(&HiddenFrom::Professionals),
            invisible_patient: hidden_from.contains(&HiddenFrom::Patient),
            invisible_rep_legaux: hidden_from.contains(&HiddenFrom::LegalRepresentatives),
            ..Self::default()
        }
    }

    pub fn get(&self, flag: Flag) -> bool {
        match flag {
            Flag::MasquePs => self.masque_ps,
            Flag::InvisiblePatient => self.invisible_patient,
            Flag::InvisibleRepLegaux => self.invisible_rep_legaux,
            Flag::ConnexionSecrete => self.connexion_secrete,
            Flag::ModifConfCode => self.modif_conf_code,
            Flag::DestDmp => self.dest_dmp,
            Flag::AckReception => self.ack_reception,
            Flag::AckLectureMss => self.ack_lecture_mss,
        }
    }

    pub fn set(&mut self, flag: Flag, value: bool) {
        let field = match flag {
            Flag::MasquePs => &mut self.masque_ps,
            Flag::InvisiblePatient => &mut self.invisible_patient,
            Flag::InvisibleRepLegaux => &mut self.invisible_rep_legaux,
            Flag::ConnexionSecrete => &mut self.connexion_secrete,
            Flag::ModifConfCode => &mut self.modif_conf_code,
            Flag::DestDmp => &mut self.dest_dmp,
            Flag::AckReception => &mut self.ack_reception,
            Flag::AckLectureMss => &mut self.ack_lecture_mss,
        };
        *field = value;
    }
}

/// The id of a rule a send broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleId {
    /// `M0.NO_RECIPIENT`.
    NoRecipient,
    /// `M1.MASQUE_PS`…: the row's requirement on the flag.
    Matrix(Row, Flag),
    /// `PAT.NO_PATIENT`: a patient mailbox without the patient's identity.
    NoPatient,
    /// `PAT.INS_NOT_QUALIFIED`.
    InsNotQualified,
    /// `PAT.ADDRESS_NOT_PATIENT`: another patient's mailbox.
    AddressNotPatient,
}

impl RuleId {
    pub fn id(self) -> String {
        match self {
            Self::NoRecipient => "M0.NO_RECIPIENT".to_owned(),
            Self::Matrix(row, flag) => format!("{row}.{}", flag.name()),
            Self::NoPatient => "PAT.NO_PATIENT".to_owned(),
            Self::InsNotQualified => "PAT.INS_NOT_QUALIFIED".to_owned(),
            Self::AddressNotPatient => "PAT.ADDRESS_NOT_PATIENT".to_owned(),
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// One rule at fault, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub rule: RuleId,
    pub message: String,
}

/// A send refused: every rule at fault, in the order checked (recipients, the patient, the
/// matrix row's flags in the matrix's order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    pub faults: Vec<Fault>,
}

impl Refusal {
    /// The ids of the rules at fault (`rules` in the error's metadata).
    pub fn ids(&self) -> Vec<String> {
        self.faults.iter().map(|f| f.rule.id()).collect()
    }

    /// The first rule at fault (`rule` in the error's metadata).
    pub fn first(&self) -> Option<RuleId> {
        self.faults.first().map(|f| f.rule)
    }

    /// Whether the only problem is the patient's INS (the service answers INS_NOT_QUALIFIED
    /// then, as everywhere else).
    pub fn only_ins_not_qualified(&self) -> bool {
        !self.faults.is_empty()
            && self
                .faults
                .iter()
                .all(|f| f.rule == RuleId::InsNotQualified)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for fault in &self.faults {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            f.write_str(&fault.message)?;
        }
        Ok(())
    }
}

const PREFIX: &str = "MSSanté send refused";
const SOURCE: &str = "regles-gestion-mssante";

/// The row `row`'s requirement on `flag`, not met by `value`, explained.
fn matrix_message(row: Row, flag: Flag, value: bool) -> String {
    let rule = row.rule();
    let id = RuleId::Matrix(row, flag);
    let (what, fix) = match (row, flag) {
        (Row::M1 | Row::M2, Flag::MasquePs) => (
            "a document masked to professionals (MASQUE_PS: Y) cannot be sent to a professional's, organisation's or applicative mailbox".to_owned(),
            "send it to the patient's mailbox only (row M3), or do not hide it from professionals",
        ),
        (Row::M1 | Row::M3, Flag::InvisiblePatient) => (
            "a document not visible to the patient (INVISIBLE_PATIENT: Y) cannot be sent to the patient's mailbox".to_owned(),
            "remove the patient's mailbox (to_patient, @patient.mssante.fr recipients), or make the document visible to the patient",
        ),
        (Row::M2, Flag::InvisiblePatient) => (
            "a document visible to the patient (INVISIBLE_PATIENT: N) is sent to professionals only: the matrix requires INVISIBLE_PATIENT: Y for row M2".to_owned(),
            "add the patient's mailbox (to_patient, MSSanté Citoyen: row M1), or hide the document from the patient",
        ),
        (Row::M1, Flag::InvisibleRepLegaux) => (
            "a document not visible to the legal representatives (INVISIBLE_REP_LEGAUX: Y) cannot be sent to professionals and the patient together".to_owned(),
            "send it to the patient only (row M3), or make it visible to the legal representatives",
        ),
        (Row::M2, Flag::InvisibleRepLegaux) => (
            "a document not visible to the legal representatives (INVISIBLE_REP_LEGAUX: Y) is not a combination of row M2 (professionals only)".to_owned(),
            "make it visible to the legal representatives, or send it to the patient only (row M3)",
        ),
        (Row::M3, Flag::ConnexionSecrete) => (
            "under the patient's secret connection (CONNEXION_SECRETE: Y) a document cannot be sent to the patient alone".to_owned(),
            "add a professional recipient (row M1), or do not send it to the patient's mailbox",
        ),
        (Row::M3, Flag::DestDmp) => (
            "a document also sent to the DMP (DESTDMP: Y) cannot go to the patient alone".to_owned(),
            "add a professional recipient (row M1), or send the message without depositing the document in the DMP",
        ),
        // Any other requirement the table may hold, in general terms.
        _ => (
            format!(
                "row {row} requires {}: {}, the request gives {}",
                flag.name(),
                match rule.admits(flag) {
                    Admits::N => "N",
                    Admits::Y => "Y",
                    Admits::Either => "N or Y",
                },
                if value { "Y" } else { "N" }
            ),
            "change the recipients or the document's flags to a combination of the matrix",
        ),
    };
    format!(
        "{PREFIX} (rule {id}, {SOURCE}): {what}; {fix}. Row {row}: {}",
        rule.result
    )
}

/// The faults of `flags` in row `row` (empty: the row admits them).
pub fn matrix_faults(row: Row, flags: &Flags) -> Vec<Fault> {
    row.rule()
        .flags
        .iter()
        .filter(|(flag, admits)| !admits.admits(flags.get(*flag)))
        .map(|&(flag, _)| Fault {
            rule: RuleId::Matrix(row, flag),
            message: matrix_message(row, flag, flags.get(flag)),
        })
        .collect()
}

/// The patient as the request gives them.
#[derive(Debug, Clone, Copy)]
pub enum PatientIns<'a> {
    /// No patient identity in the request.
    Absent,
    /// An identity whose INS is not qualified, and why.
    NotQualified(&'a NotQualified),
    Qualified(&'a QualifiedIns),
}

/// A send to judge.
#[derive(Debug, Clone, Copy)]
pub struct SendCase<'a> {
    pub to: &'a [MssAddress],
    pub cc: &'a [MssAddress],
    /// Also to the patient's own mailbox.
    pub to_patient: bool,
    pub patient: PatientIns<'a>,
    /// The flags of the document; `None`: no document, the matrix does not apply.
    pub document: Option<Flags>,
}

/// Where the messages go, by audience, once allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub row: Row,
    /// Whether the matrix was applied (a document is attached).
    pub matrix_applied: bool,
    /// The professionals' To and Cc, in the order given, each mailbox once (a mailbox in
    /// both stays in To).
    pub to: Vec<MssAddress>,
    pub cc: Vec<MssAddress>,
    /// The patient's mailbox, built from the qualified INS.
    pub patient: Option<PatientMailbox>,
}

/// Judges a send: the row it falls in, and where each message goes; or every rule at fault.
pub fn judge(send: &SendCase<'_>) -> Result<Decision, Refusal> {
    let mut faults = Vec::new();
    let fault = |rule: RuleId, message: String| Fault { rule, message };

    let patient_recipients: Vec<(&str, usize)> = [("to", send.to), ("cc", send.cc)]
        .into_iter()
        .flat_map(|(field, list)| {
            list.iter()
                .enumerate()
                .filter(|(_, a)| a.is_patient())
                .map(move |(i, _)| (field, i))
        })
        .collect();
    let professionals = send.to.iter().chain(send.cc).any(|a| !a.is_patient());
    let to_patient = send.to_patient || !patient_recipients.is_empty();

    let Some(row) = Row::of(professionals, to_patient) else {
        return Err(Refusal {
            faults: vec![fault(
                RuleId::NoRecipient,
                format!(
                    "{PREFIX} (rule M0.NO_RECIPIENT): no recipient; give at least one address in to or cc, or set to_patient"
                ),
            )],
        });
    };

    let mut mailbox = None;
    if to_patient {
        match send.patient {
            PatientIns::Absent => faults.push(fault(
                RuleId::NoPatient,
                format!(
                    "{PREFIX} (rule PAT.NO_PATIENT): a message to the patient's mailbox (MSSanté Citoyen) needs the patient's identity with a qualified INS; give patient"
                ),
            )),
            PatientIns::NotQualified(why) => faults.push(fault(
                RuleId::InsNotQualified,
                format!(
                    "{PREFIX} (rule PAT.INS_NOT_QUALIFIED): the patient's mailbox (MSSanté Citoyen) is reached only with a qualified INS: {why}"
                ),
            )),
            PatientIns::Qualified(ins) => {
                let own = PatientMailbox::of(ins);
                for &(field, i) in &patient_recipients {
                    let list = if field == "to" { send.to } else { send.cc };
                    if !own.is(&list[i]) {
                        faults.push(fault(
                            RuleId::AddressNotPatient,
                            format!(
                                "{PREFIX} (rule PAT.ADDRESS_NOT_PATIENT): one patient per message: {field}[{i}] is a patient's mailbox (@patient.mssante.fr) but not the mailbox of the document's patient; remove it, or send that patient a message of their own"
                            ),
                        ));
                    }
                }
                mailbox = Some(own);
            }
        }
    }

    if let Some(flags) = &send.document {
        faults.extend(matrix_faults(row, flags));
    }
    if !faults.is_empty() {
        return Err(Refusal { faults });
    }

    let mut to: Vec<MssAddress> = Vec::new();
    for a in send.to.iter().filter(|a| !a.is_patient()) {
        if !to.iter().any(|b| b.same_mailbox(a)) {
            to.push(a.clone());
        }
    }
    let mut cc: Vec<MssAddress> = Vec::new();
    for a in send.cc.iter().filter(|a| !a.is_patient()) {
        if !to.iter().chain(&cc).any(|b| b.same_mailbox(a)) {
            cc.push(a.clone());
        }
    }
    Ok(Decision {
        row,
        matrix_applied: send.document.is_some(),
        to,
        cc,
        patient: mailbox,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use passerelle_domain::{IdentityStatus, Ins, InsOid, PatientIdentity, Platform};

    /// The matrix as the official page prints it, one line per flag, the columns M1 M2 M3;
    /// read independently of [`MATRIX`], to check it cell by cell.
    const OFFICIAL: &str = "\
MASQUE_PS            | N      | N      | Y ou N
INVISIBLE_PATIENT    | N      | Y      | N
INVISIBLE_REP_LEGAUX | N      | N      | N ou Y
CONNEXION_SECRETE    | N ou Y | N ou Y | N
MODIF_CONF_CODE      | N ou Y | N ou Y | N ou Y
DESTDMP              | N ou Y | N ou Y | N
ACK_RECEPTION        | N ou Y | N ou Y | N ou Y
ACK_LECTURE_MSS      | N ou Y | N ou Y | N ou Y";

    fn official(row: Row, flag: Flag) -> Vec<bool> {
        let column = match row {
            Row::M1 => 1,
            Row::M2 => 2,
            Row::M3 => 3,
        };
        let line = OFFICIAL
            .lines()
            .find(|l| l.split('|').next().unwrap().trim() == flag.name())
            .unwrap();
        let cell = line.split('|').nth(column).unwrap().trim();
        match cell {
            "N" => vec![false],
            "Y" => vec![true],
            "N ou Y" | "Y ou N" => vec![false, true],
            other => panic!("cell {other:?}"),
        }
    }

    fn address(s: &str) -> MssAddress {
        MssAddress::parse(s).unwrap()
    }

    fn qualified() -> QualifiedIns {
        QualifiedIns::try_new(
            &PatientIdentity {
                ins: Ins::typed("2480392630010", "64", InsOid::Nir).unwrap(),
                traits: None,
                status: IdentityStatus::Qualifiee,
            },
            Platform::Production,
        )
        .unwrap()
    }

    const DOCTOR: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
    const PATIENT: &str = "248039263001064@patient.mssante.fr";

    /// Every cell: for each row, every one of the 2^8 combinations of the flags is allowed
    /// exactly when each flag's value is one the official cell admits; each refused
    /// combination names exactly the flags out of their cell.
    #[test]
    fn every_cell_of_the_matrix() {
        let ins = qualified();
        let doctor = [address(DOCTOR)];
        let none: [MssAddress; 0] = [];
        for row in [Row::M1, Row::M2, Row::M3] {
            let rule = row.rule();
            assert_eq!(Row::of(rule.professionals, rule.patient), Some(row));
            let to: &[MssAddress] = if rule.professionals { &doctor } else { &none };
            for bits in 0u32..(1 << Flag::ALL.len()) {
                let mut flags = Flags::default();
                for (i, flag) in Flag::ALL.into_iter().enumerate() {
                    flags.set(flag, bits & (1 << i) != 0);
                }
                let out_of_cell: Vec<String> = Flag::ALL
                    .into_iter()
                    .filter(|&f| !official(row, f).contains(&flags.get(f)))
                    .map(|f| format!("{row}.{}", f.name()))
                    .collect();
                let result = judge(&SendCase {
                    to,
                    cc: &[],
                    to_patient: rule.patient,
                    patient: PatientIns::Qualified(&ins),
                    document: Some(flags),
                });
                match result {
                    Ok(d) => {
                        assert!(out_of_cell.is_empty(), "{row} {flags:?} allowed");
                        assert_eq!(d.row, row);
                        assert!(d.matrix_applied);
                    }
                    Err(r) => {
                        assert_eq!(r.ids(), out_of_cell, "{row} {flags:?}");
                        for f in &r.faults {
                            let id = f.rule.id();
                            assert!(f.message.contains(&format!("rule {id}")), "{}", f.message);
                            assert!(f.message.contains(rule.result), "{}", f.message);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_recipients_choose_the_row_and_the_audiences() {
        let ins = qualified();
        let visible_to_all = Some(Flags::default());
        let hidden_from_patient = Some(Flags {
            invisible_patient: true,
            ..Flags::default()
        });
        let to = [address(DOCTOR), address(PATIENT)];
        let cc = [
            address("secretariat@passerelle-sandbox.mssante.fr"),
            address("Jean.Fouquerey@PASSERELLE-SANDBOX.mssante.fr"),
        ];
        // A patient's address among the recipients is the patient's audience (M1).
        let d = judge(&SendCase {
            to: &to,
            cc: &cc,
            to_patient: false,
            patient: PatientIns::Qualified(&ins),
            document: visible_to_all,
        })
        .unwrap();
        assert_eq!(d.row, Row::M1);
        assert_eq!(d.to, [address(DOCTOR)]);
        // The doctor's mailbox given twice (To and Cc, another case) stays in To only.
        assert_eq!(d.cc, [address("secretariat@passerelle-sandbox.mssante.fr")]);
        assert_eq!(d.patient.unwrap().address().as_str(), PATIENT);

        let d = judge(&SendCase {
            to: &to[..1],
            cc: &[],
            to_patient: false,
            patient: PatientIns::Absent,
            document: hidden_from_patient,
        })
        .unwrap();
        assert_eq!((d.row, d.patient), (Row::M2, None));

        let d = judge(&SendCase {
            to: &[],
            cc: &[],
            to_patient: true,
            patient: PatientIns::Qualified(&ins),
            document: visible_to_all,
        })
        .unwrap();
        assert_eq!(d.row, Row::M3);
        assert!(d.to.is_empty() && d.cc.is_empty());
    }

    #[test]
    fn without_a_document_the_matrix_does_not_apply() {
        // A plain message to a colleague: M2 would require INVISIBLE_PATIENT: Y of a
        // document, there is none.
        let d = judge(&SendCase {
            to: &[address(DOCTOR)],
            cc: &[],
            to_patient: false,
            patient: PatientIns::Absent,
            document: None,
        })
        .unwrap();
        assert_eq!(d.row, Row::M2);
        assert!(!d.matrix_applied);
    }

    #[test]
    fn no_recipient_is_refused() {
        let r = judge(&SendCase {
            to: &[],
            cc: &[],
            to_patient: false,
            patient: PatientIns::Absent,
            document: Some(Flags::default()),
        })
        .unwrap_err();
        assert_eq!(r.ids(), ["M0.NO_RECIPIENT"]);
        assert!(r.to_string().contains("no recipient"), "{r}");
    }

    #[test]
    fn every_rule_at_fault_is_listed() {
        // To the patient alone, not qualified, hidden from the patient, also in the DMP.
        let why = NotQualified::Status(IdentityStatus::Recuperee);
        let r = judge(&SendCase {
            to: &[],
            cc: &[],
            to_patient: true,
            patient: PatientIns::NotQualified(&why),
            document: Some(Flags {
                invisible_patient: true,
                dest_dmp: true,
                ..Flags::default()
            }),
        })
        .unwrap_err();
        assert_eq!(
            r.ids(),
            [
                "PAT.INS_NOT_QUALIFIED",
                "M3.INVISIBLE_PATIENT",
                "M3.DESTDMP"
            ]
        );
        assert_eq!(r.first(), Some(RuleId::InsNotQualified));
        assert!(!r.only_ins_not_qualified());
        let text = r.to_string();
        assert!(text.contains("high-trust document"), "{text}");
        assert!(
            text.contains("make the document visible to the patient"),
            "{text}"
        );
    }

    #[test]
    fn another_patients_mailbox_is_refused_without_naming_it() {
        let ins = qualified();
        let other = "109076322083489@patient.mssante.fr";
        let r = judge(&SendCase {
            to: &[address(DOCTOR)],
            cc: &[address(other)],
            to_patient: true,
            patient: PatientIns::Qualified(&ins),
            document: Some(Flags::default()),
        })
        .unwrap_err();
        assert_eq!(r.ids(), ["PAT.ADDRESS_NOT_PATIENT"]);
        let text = r.to_string();
        assert!(text.contains("cc[0]"), "{text}");
        assert!(!text.contains("1090763220"), "{text}");
    }

    #[test]
    fn a_patient_mailbox_needs_the_patient() {
        let r = judge(&SendCase {
            to: &[address(PATIENT)],
            cc: &[],
            to_patient: false,
            patient: PatientIns::Absent,
            document: None,
        })
        .unwrap_err();
        assert_eq!(r.ids(), ["PAT.NO_PATIENT"]);
        let why = NotQualified::TestOid;
        let r = judge(&SendCase {
            to: &[],
            cc: &[],
            to_patient: true,
            patient: PatientIns::NotQualified(&why),
            document: None,
        })
        .unwrap_err();
        assert!(r.only_ins_not_qualified());
    }
}
