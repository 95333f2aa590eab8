//! Building INSi requests: SOAP 1.2 document/literal envelopes with the `ContexteBAM`,
//! `ContexteLPS`, `wsa:Action` and `wsa:MessageID` headers, as the real service expects them
//! (see the requests captured from tlsi-ins), and the body in XSD order. Pure functions:
//! testable without network.

use passerelle_soap::{Ns, XmlWriter, write_envelope};
use time::OffsetDateTime;
use time::macros::format_description;

use super::config::LpsContext;
use super::{InsiError, TraitsQuery, VitaleQuery};

pub const NS_CTXBAM: &str = "urn:siram:bam:ctxbam";
pub const NS_CTXLPS: &str = "urn:siram:lps:ctxlps";
pub const NS_RECSANS: &str = "http://www.cnamts.fr/INSiRecSans";
pub const NS_RECVIT: &str = "http://www.cnamts.fr/INSiRecVit";
pub const NS_RESULTAT: &str = "http://www.cnamts.fr/INSiResultat";

const CTXBAM: Ns = Ns::new("ctxbam", NS_CTXBAM);
const CTXLPS: Ns = Ns::new("ctxlps", NS_CTXLPS);
const RECSANS: Ns = Ns::new("insi_recsans_ins", NS_RECSANS);
const RECVIT: Ns = Ns::new("insi_recvit_ins", NS_RECVIT);

/// The two INSi operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `rechercherInsAvecTraitsIdentite`, body `RECSANSVITALE`.
    SearchByTraits,
    /// `rechercherInsAvecCarteVitale`, body `RECVITALE`.
    SearchByVitale,
}

impl Operation {
    /// The WS-Addressing action, also the SOAP 1.2 `action` media-type parameter.
    pub fn action(self) -> &'static str {
        match self {
            Self::SearchByTraits => {
                "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
            }
            Self::SearchByVitale => {
                "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
            }
        }
    }

    /// The WSDL operation name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::SearchByTraits => "rechercherInsAvecTraitsIdentite",
            Self::SearchByVitale => "rechercherInsAvecCarteVitale",
        }
    }

    /// The HTTP `Content-Type` of the request.
    pub fn content_type(self) -> String {
        format!(
            "application/soap+xml; charset=utf-8; action=\"{}\"",
            self.action()
        )
    }
}

/// What goes into the headers of one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// `wsa:MessageID` (`uuid:…`) and the `Id` of both context headers.
    pub message_id: uuid::Uuid,
    /// `Temps` of both context headers.
    pub time: OffsetDateTime,
    /// `Emetteur` of both context headers.
    pub emitter: &'a str,
    pub lps: &'a LpsContext,
    /// A complete, signed `wsse:Security` header block (CPS mode); `None` in organisation
    /// mode, where the TLS client certificate authenticates.
    pub security: Option<&'a str>,
}

/// `2020-01-01T00:00:00.000Z`: UTC with milliseconds, as the captures show.
pub fn format_time(t: OffsetDateTime) -> Result<String, InsiError> {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .map_err(|e| InsiError::config(format!("cannot format the request time: {e}")))
}

fn write_headers(
    w: &mut XmlWriter,
    op: Operation,
    ctx: &RequestContext<'_>,
    temps: &str,
) -> Result<(), InsiError> {
    let id = ctx.message_id.to_string();

    w.start(CTXBAM, "ContexteBAM", &[("Version", "01_02")])?;
    w.leaf(CTXBAM, "Id", &[], &id)?;
    w.leaf(CTXBAM, "Temps", &[], temps)?;
    w.leaf(CTXBAM, "Emetteur", &[], ctx.emitter)?;
    w.leaf(CTXBAM, "COUVERTURE", &[], "")?;
    w.end()?;

    let lps = ctx.lps;
    w.start(
        CTXLPS,
        "ContexteLPS",
        &[("Nature", "CTXLPS"), ("Version", "01_00")],
    )?;
    w.leaf(CTXLPS, "Id", &[], &id)?;
    w.leaf(CTXLPS, "Temps", &[], temps)?;
    w.leaf(CTXLPS, "Emetteur", &[], ctx.emitter)?;
    w.start(CTXLPS, "LPS", &[])?;
    w.leaf(CTXLPS, "IDAM", &[("R", &lps.idam_r)], &lps.idam)?;
    w.leaf(CTXLPS, "Version", &[], &lps.software_version)?;
    w.leaf(CTXLPS, "Instance", &[], &lps.instance.to_string())?;
    w.leaf(
        CTXLPS,
        "Nom",
        &[],
        &format!("urn:lps:{}:{}", lps.software_name, lps.software_version),
    )?;
    w.end()?;
    w.end()?;

    w.leaf(Ns::WSA, "Action", &[], op.action())?;
    w.leaf(Ns::WSA, "MessageID", &[], &format!("uuid:{id}"))?;
    if let Some(security) = ctx.security {
        w.raw_element(security)?;
    }
    Ok(())
}

fn envelope(
    op: Operation,
    ctx: &RequestContext<'_>,
    body: impl FnOnce(&mut XmlWriter) -> Result<(), InsiError>,
) -> Result<Vec<u8>, InsiError> {
    let temps = format_time(ctx.time)?;
    let body_ns = match op {
        Operation::SearchByTraits => RECSANS,
        Operation::SearchByVitale => RECVIT,
    };
    // Every prefix on the Envelope, as the captured requests do.
    write_envelope(
        &[CTXBAM, CTXLPS, Ns::WSA, body_ns],
        |w| write_headers(w, op, ctx, &temps),
        body,
    )
}

/// Collapses runs of whitespace: the service compares traits literally.
fn single_spaced(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `rechercherInsAvecTraitsIdentite` request: `RECSANSVITALE` with NomNaissance, Prenom
/// (one element, as tlsi-ins sends it), Sexe, DateNaissance, LieuNaissance when known.
pub fn traits_request(q: &TraitsQuery, ctx: &RequestContext<'_>) -> Result<Vec<u8>, InsiError> {
    envelope(Operation::SearchByTraits, ctx, |w| {
        w.start(RECSANS, "RECSANSVITALE", &[])?;
        w.leaf(RECSANS, "NomNaissance", &[], q.birth_name.as_str())?;
        let first_names = single_spaced(&q.first_names);
        if !first_names.is_empty() {
            w.leaf(RECSANS, "Prenom", &[], &first_names)?;
        }
        w.leaf(RECSANS, "Sexe", &[], q.sex.code())?;
        w.leaf(RECSANS, "DateNaissance", &[], &q.birth_date.to_string())?;
        if let Some(place) = &q.birth_place {
            w.leaf(RECSANS, "LieuNaissance", &[], place.as_str())?;
        }
        w.end()?;
        Ok(())
    })
}

fn matricule(
    w: &mut XmlWriter,
    element: &str,
    m: &passerelle_domain::Matricule,
    k: passerelle_domain::Key,
) -> Result<(), InsiError> {
    w.start(RECVIT, element, &[])?;
    w.leaf(RECVIT, "NumIdentifiant", &[], m.as_str())?;
    w.leaf(RECVIT, "Cle", &[], &k.to_string())?;
    w.end()?;
    Ok(())
}

/// The `rechercherInsAvecCarteVitale` request: `RECVITALE` with MatriculeIndividu,
/// MatriculeOD (the insured person, when the beneficiary is not), NomNaissance,
/// DateNaissance, RangNaissance.
pub fn vitale_request(q: &VitaleQuery, ctx: &RequestContext<'_>) -> Result<Vec<u8>, InsiError> {
    envelope(Operation::SearchByVitale, ctx, |w| {
        w.start(RECVIT, "RECVITALE", &[])?;
        matricule(w, "MatriculeIndividu", &q.matricule, q.key)?;
        if let Some((m, k)) = &q.insured {
            matricule(w, "MatriculeOD", m, *k)?;
        }
        w.leaf(RECVIT, "NomNaissance", &[], q.birth_name.as_str())?;
        w.leaf(RECVIT, "DateNaissance", &[], &q.birth_date.to_string())?;
        w.leaf(RECVIT, "RangNaissance", &[], &q.birth_rank.to_string())?;
        w.end()?;
        Ok(())
    })
}
