//! TD0.4: the DMPs this professional may access (`patientsSpecific/patientList`).

use passerelle_soap::{Element, Ns, XmlWriter};
use time::OffsetDateTime;

use super::error::DmpError;
use super::{Call, CallContext, DmpClient, Service};

pub const NS: &str = "urn:si-dmp-patients";
const PAT: Ns = Ns::new("", NS);
pub const ACTION: &str = "urn:si-dmp-patients:PatientSpecificEndPoint:patientList";
pub const RESPONSE_ACTION: &str = "urn:si-dmp-patients:PatientSpecificEndPoint:patientListResponse";
const CALL: Call<'static> = Call::new(Service::PatientsSpecific, ACTION, RESPONSE_ACTION);

/// Which date `since` applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateType {
    /// `LASTAUTORIZATION`: authorisations given since.
    LastAuthorization,
    /// `LASTDOC`: documents added since.
    LastDocument,
}

/// A `patientIdentifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalId {
    pub id: String,
    /// `nationalIdType`: the OID (INS-C `1.2.250.1.213.1.4.2`, INS-NIR …4.8, test …4.10…).
    pub oid: String,
}

/// One `patientlistData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessiblePatient {
    pub identifiers: Vec<NationalId>,
    pub last_name: String,
    pub birth_name: Option<String>,
    pub first_name: String,
    /// `yyyyMMdd`.
    pub birth_date: String,
    /// `MT`: this professional is the médecin traitant.
    pub attending_physician: bool,
    pub message: bool,
    /// `yyyyMMddHHmmss`.
    pub last_access: Option<String>,
    pub last_update: Option<String>,
    pub last_add: Option<String>,
}

/// The INS OIDs (INS-NIR, INS-NIA, test, demo).
const INS_OIDS: [&str; 4] = [
    "1.2.250.1.213.1.4.8",
    "1.2.250.1.213.1.4.9",
    "1.2.250.1.213.1.4.10",
    "1.2.250.1.213.1.4.11",
];

impl AccessiblePatient {
    /// The patient's INS (an identifier under an INS OID), if listed.
    pub fn ins(&self) -> Option<&NationalId> {
        self.identifiers
            .iter()
            .find(|i| INS_OIDS.contains(&i.oid.as_str()))
    }
}

pub fn write_request(
    w: &mut XmlWriter,
    since: Option<OffsetDateTime>,
    by: DateType,
) -> Result<(), DmpError> {
    w.start(PAT, "patientList", &[])?;
    if let Some(t) = since {
        w.leaf(PAT, "startDate", &[], &super::patients::hl7_time(t))?;
    }
    w.leaf(
        PAT,
        "dateType",
        &[],
        match by {
            DateType::LastAuthorization => "LASTAUTORIZATION",
            DateType::LastDocument => "LASTDOC",
        },
    )?;
    w.end()?;
    Ok(())
}

fn text(e: &Element, name: &str) -> Option<String> {
    e.child_text(NS, name)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub fn parse_response(payload: &Element) -> Result<Vec<AccessiblePatient>, DmpError> {
    if !payload.is(NS, "patientListResponse") {
        return Err(DmpError::not_xds(format!(
            "{} is not a patientListResponse",
            payload.name()
        )));
    }
    super::habilitations::output_status(payload, NS)?;
    let Some(output) = payload.child(NS, "output") else {
        return Ok(Vec::new());
    };
    Ok(output
        .children_named(NS, "patientlistData")
        .map(|d| AccessiblePatient {
            identifiers: d
                .children_named(NS, "patientIdentifier")
                .map(|i| NationalId {
                    id: i
                        .child_text(NS, "nationalId")
                        .unwrap_or_default()
                        .to_owned(),
                    oid: i
                        .child_text(NS, "nationalIdType")
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect(),
            last_name: text(d, "lastName").unwrap_or_default(),
            birth_name: text(d, "patronymicalName"),
            first_name: text(d, "firstName").unwrap_or_default(),
            birth_date: text(d, "dateOfBirth").unwrap_or_default(),
            attending_physician: d.child_text(NS, "MT") == Some("true"),
            message: d.child_text(NS, "message") == Some("true"),
            last_access: text(d, "lastAccessDate"),
            last_update: text(d, "lastUpdateDate"),
            last_add: text(d, "lastAddDate"),
        })
        .collect())
}

impl DmpClient {
    /// TD0.4: the VIHF carries no patient.
    pub async fn accessible_patients(
        &self,
        ctx: &CallContext,
        since: Option<OffsetDateTime>,
        by: DateType,
    ) -> Result<Vec<AccessiblePatient>, DmpError> {
        let response = self
            .call(ctx, CALL, |w| write_request(w, since, by), &[])
            .await?;
        parse_response(response.payload()?)
    }
}
