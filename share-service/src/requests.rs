//! The concrete requests a share hands to dmp-service and mss-service, made from the
//! `ShareRequest`: pure. Every one carries the share id as its idempotency key, so running
//! it again (a redelivery, a retry) deposits or sends nothing new.

use passerelle_proto::dmp::v1 as dmp;
use passerelle_proto::mss::v1 as mss;
use passerelle_proto::share::v1::{
    Channel, DocumentKind, ShareDocument, ShareRequest, ShareRequested, share_requested,
};

/// The event of attempt `attempt` of share `share_id`, running `channels` (the PENDING ones).
pub fn requested(
    req: &ShareRequest,
    share_id: &str,
    attempt: u32,
    channels: &[Channel],
    request_id: &str,
) -> ShareRequested {
    let document = req.document.clone().unwrap_or_default();
    let dmp = channels
        .contains(&Channel::Dmp)
        .then(|| dmp_request(req, &document, share_id));
    let pro = channels.contains(&Channel::MssPro);
    let citizen = channels.contains(&Channel::MssCitizen);
    let mss = (pro || citizen).then(|| mss_request(req, &document, share_id, pro, citizen));
    ShareRequested {
        share_id: share_id.to_owned(),
        attempt,
        channels: channels.iter().map(|&c| c as i32).collect(),
        dmp,
        mss,
        request_id: request_id.to_owned(),
    }
}

fn access(req: &ShareRequest) -> dmp::Access {
    dmp::Access {
        actor: req.actor.clone(),
        mode: dmp::AccessMode::Normal as i32,
        reason: String::new(),
    }
}

fn dmp_request(req: &ShareRequest, d: &ShareDocument, share_id: &str) -> share_requested::Dmp {
    if d.kind == DocumentKind::Vsm as i32 {
        return share_requested::Dmp::DepositVsm(dmp::DepositVsmRequest {
            access: Some(access(req)),
            patient: req.patient.clone(),
            vsm_document_id: d.document_id.clone(),
            idempotency_key: share_id.to_owned(),
        });
    }
    share_requested::Dmp::Deposit(dmp::DepositRequest {
        access: Some(access(req)),
        patient: req.patient.clone(),
        document_id: d.document_id.clone(),
        options: Some(dmp::DepositOptions {
            title: d.title.clone(),
            type_code: d.type_code.clone(),
            confidentiality: d.confidentiality,
            hide_from_professionals: d.hide_from_professionals,
            hide_from_patient: d.hide_from_patient,
            hide_from_legal_representatives: d.hide_from_legal_representatives,
            idempotency_key: share_id.to_owned(),
        }),
        more: Vec::new(),
    })
}

/// The MSSanté confidentiality of the DMP's (the same codes, N R V).
fn mss_confidentiality(c: i32) -> i32 {
    match dmp::Confidentiality::try_from(c) {
        Ok(dmp::Confidentiality::Normal) => mss::Confidentiality::Normal as i32,
        Ok(dmp::Confidentiality::Restricted) => mss::Confidentiality::Restricted as i32,
        Ok(dmp::Confidentiality::VeryRestricted) => mss::Confidentiality::VeryRestricted as i32,
        _ => mss::Confidentiality::Unspecified as i32,
    }
}

fn mss_request(
    req: &ShareRequest,
    d: &ShareDocument,
    share_id: &str,
    pro: bool,
    citizen: bool,
) -> mss::SendRequest {
    let subject = if req.subject.trim().is_empty() {
        d.title.clone()
    } else {
        req.subject.clone()
    };
    let body = if req.body.trim().is_empty() {
        format!("Please find attached: {}.", d.title)
    } else {
        req.body.clone()
    };
    mss::SendRequest {
        actor: req.actor.clone(),
        patient: req.patient.clone(),
        from: req.from.clone(),
        to: if pro { req.to.clone() } else { Vec::new() },
        cc: if pro { req.cc.clone() } else { Vec::new() },
        to_patient: citizen,
        subject,
        body: Some(mss::Body {
            text: body,
            html: String::new(),
        }),
        patient_body: None,
        document: Some(mss::Document {
            document_id: d.document_id.clone(),
            vsm: d.kind == DocumentKind::Vsm as i32,
            title: d.title.clone(),
            type_code: d.type_code.clone(),
            confidentiality: mss_confidentiality(d.confidentiality),
            hide_from_professionals: d.hide_from_professionals,
            hide_from_patient: d.hide_from_patient,
            hide_from_legal_representatives: d.hide_from_legal_representatives,
        }),
        patient_may_not_reply: false,
        secret_connection: false,
        also_in_dmp: false,
        acknowledgement: req.acknowledgement,
        idempotency_key: share_id.to_owned(),
        check_recipients: false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn share(kind: DocumentKind) -> ShareRequest {
        ShareRequest {
            document: Some(ShareDocument {
                document_id: "doc-1".into(),
                kind: kind as i32,
                title: "Lettre de liaison".into(),
                type_code: "11490-0".into(),
                confidentiality: dmp::Confidentiality::Restricted as i32,
                hide_from_legal_representatives: true,
                ..Default::default()
            }),
            to: vec!["jean.fouquerey@passerelle-sandbox.mssante.fr".into()],
            cc: vec!["secretariat@passerelle-sandbox.mssante.fr".into()],
            acknowledgement: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_pdf_on_three_channels() {
        let all = [Channel::Dmp, Channel::MssPro, Channel::MssCitizen];
        let e = requested(&share(DocumentKind::Pdf), "S1", 1, &all, "r1");
        assert_eq!(e.channels, vec![1, 2, 3]);
        let Some(share_requested::Dmp::Deposit(d)) = e.dmp else {
            panic!("a deposit")
        };
        let o = d.options.unwrap();
        assert_eq!(o.idempotency_key, "S1");
        assert_eq!(o.type_code, "11490-0");
        assert!(o.hide_from_legal_representatives);
        assert_eq!(d.access.unwrap().mode, dmp::AccessMode::Normal as i32);
        let m = e.mss.unwrap();
        assert_eq!(m.idempotency_key, "S1");
        assert!(m.to_patient);
        assert_eq!(m.to.len(), 1);
        assert_eq!(m.cc.len(), 1);
        assert_eq!(m.subject, "Lettre de liaison");
        assert!(m.acknowledgement);
        let doc = m.document.unwrap();
        assert_eq!(doc.confidentiality, mss::Confidentiality::Restricted as i32);
        assert!(doc.hide_from_legal_representatives && !doc.vsm);
    }

    #[test]
    fn only_the_channels_that_run() {
        let e = requested(
            &share(DocumentKind::Pdf),
            "S1",
            2,
            &[Channel::MssCitizen],
            "r",
        );
        assert!(e.dmp.is_none());
        let m = e.mss.unwrap();
        assert!(m.to.is_empty() && m.cc.is_empty() && m.to_patient);
        let e = requested(&share(DocumentKind::Pdf), "S1", 2, &[Channel::MssPro], "r");
        assert!(!e.mss.unwrap().to_patient);
        let e = requested(&share(DocumentKind::Pdf), "S1", 2, &[Channel::Dmp], "r");
        assert!(e.mss.is_none() && e.dmp.is_some());
    }

    #[test]
    fn a_vsm_is_deposited_as_a_vsm() {
        let e = requested(
            &share(DocumentKind::Vsm),
            "S1",
            1,
            &[Channel::Dmp, Channel::MssPro],
            "r",
        );
        let Some(share_requested::Dmp::DepositVsm(v)) = e.dmp else {
            panic!("a VSM deposit")
        };
        assert_eq!(v.vsm_document_id, "doc-1");
        assert_eq!(v.idempotency_key, "S1");
        assert!(e.mss.unwrap().document.unwrap().vsm);
    }
}
