//! TD0.3: the professional declares himself authorised on the patient's DMP, or removes his
//! authorisation (optionally as médecin traitant).

use passerelle_soap::{Element, Ns, XmlWriter};

use super::error::DmpError;
use super::{Call, CallContext, DmpClient, Service};

pub const NS: &str = "urn:si-dmp-habilitations";
const HAB: Ns = Ns::new("", NS);
pub const ACTION: &str = "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization";
pub const RESPONSE_ACTION: &str =
    "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorizationResponse";
const CALL: Call<'static> = Call::new(Service::Habilitations, ACTION, RESPONSE_ACTION);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationAction {
    /// `AJOUT`.
    Add,
    /// `SUPPRESSION`.
    Remove,
}

/// What to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizationChange {
    pub action: AuthorizationAction,
    /// With `role` `MEDECIN_TRAITANT`.
    pub attending_physician: bool,
}

/// `output/{status, context}` of a `DMPOk` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationOutcome {
    pub status: String,
    /// The DMP's words, e.g. "Autorisation déjà présente aucune action effectuée".
    pub context: String,
}

pub fn write_request(w: &mut XmlWriter, change: AuthorizationChange) -> Result<(), DmpError> {
    w.start(HAB, "setAuthorization", &[])?;
    w.leaf(
        HAB,
        "action",
        &[],
        match change.action {
            AuthorizationAction::Add => "AJOUT",
            AuthorizationAction::Remove => "SUPPRESSION",
        },
    )?;
    if change.attending_physician {
        w.leaf(HAB, "role", &[], "MEDECIN_TRAITANT")?;
    }
    w.end()?;
    Ok(())
}

/// `output/status` and `output/context` of a DMP web-service answer; a status other than
/// `DMPOk` is [`DmpError::Hl7`] with that status as the code.
pub(crate) fn output_status(payload: &Element, ns: &str) -> Result<(String, String), DmpError> {
    let output = payload
        .child(ns, "output")
        .ok_or_else(|| DmpError::not_xds(format!("{} without output", payload.name())))?;
    let status = output
        .child_text(ns, "status")
        .unwrap_or_default()
        .to_owned();
    let context = output
        .child_text(ns, "context")
        .unwrap_or_default()
        .to_owned();
    if !status.eq_ignore_ascii_case("DMPOk") {
        return Err(DmpError::Hl7 {
            code: status,
            text: context,
        });
    }
    Ok((status, context))
}

pub fn parse_response(payload: &Element) -> Result<AuthorizationOutcome, DmpError> {
    if !payload.is(NS, "setAuthorizationResponse") {
        return Err(DmpError::not_xds(format!(
            "{} is not a setAuthorizationResponse",
            payload.name()
        )));
    }
    let (status, context) = output_status(payload, NS)?;
    Ok(AuthorizationOutcome { status, context })
}

impl DmpClient {
    /// TD0.3 for the patient of the VIHF claims.
    pub async fn set_authorization(
        &self,
        ctx: &CallContext,
        change: AuthorizationChange,
    ) -> Result<AuthorizationOutcome, DmpError> {
        if ctx.claims.patient.is_none() {
            return Err(DmpError::request(
                "TD0.3 needs the patient in the VIHF claims",
            ));
        }
        let response = self
            .call(ctx, CALL, |w| write_request(w, change), &[])
            .await?;
        parse_response(response.payload()?)
    }
}
