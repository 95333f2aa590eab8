//! Checks of a received message before it is accepted, written for the sandbox (nothing
//! shared with mss-service's message builder): the header fields an MSSanté operator
//! needs (`From`, `Date`, `Message-ID`), `From` one of the authenticated sender's
//! addresses, and what is only recorded (`X-MSS-MES`).

use super::mime;

/// What the checks learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub from: String,
    /// `X-MSS-MES` as sent (`FIN`: the patient may not reply).
    pub mss_mes: Option<String>,
}

/// A refused message: the reply line (code, enhanced code, text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused(pub String);

/// `allowed`: the addresses the session's identity may send as (normalised).
pub(crate) fn check(message: &[u8], allowed: &[String]) -> Result<Checked, Refused> {
    let (headers, _) = mime::split(message);
    let froms: Vec<&str> = headers.all("From").collect();
    let from = match froms.as_slice() {
        [one] => mime::addresses(one),
        [] => {
            return Err(Refused(
                "554 5.6.0 Message refused: no From header field".into(),
            ));
        }
        _ => {
            return Err(Refused(
                "554 5.6.0 Message refused: more than one From header field".into(),
            ));
        }
    };
    let from = match from.as_slice() {
        [one] => one.clone(),
        _ => {
            return Err(Refused(
                "554 5.6.0 Message refused: From must hold exactly one address".into(),
            ));
        }
    };
    if !allowed.contains(&from) {
        return Err(Refused(
            "550 5.7.1 Message refused: the From address is not one the authenticated sender may use"
                .into(),
        ));
    }
    for (field, name) in [("Date", "Date"), ("Message-ID", "Message-ID")] {
        match headers.all(field).count() {
            1 => {}
            0 => {
                return Err(Refused(format!(
                    "554 5.6.0 Message refused: no {name} header field"
                )));
            }
            _ => {
                return Err(Refused(format!(
                    "554 5.6.0 Message refused: more than one {name} header field"
                )));
            }
        }
    }
    let message_id = headers.get("Message-ID").unwrap_or("").trim();
    if !(message_id.starts_with('<') && message_id.ends_with('>') && message_id.contains('@')) {
        return Err(Refused(
            "554 5.6.0 Message refused: Message-ID is not <left@right>".into(),
        ));
    }
    Ok(Checked {
        from,
        mss_mes: headers.get("X-MSS-MES").map(|v| v.trim().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["lps@passerelle-sandbox.mssante.fr".into()]
    }

    #[test]
    fn a_complete_message_passes() {
        let m = b"From: LPS <LPS@passerelle-sandbox.mssante.fr>\r\nDate: Mon, 1 Jun 2026 10:00:00 +0200\r\nMessage-ID: <a@b>\r\nX-MSS-MES: FIN\r\n\r\nx\r\n";
        let c = check(m, &allowed());
        assert_eq!(
            c,
            Ok(Checked {
                from: "lps@passerelle-sandbox.mssante.fr".into(),
                mss_mes: Some("FIN".into())
            })
        );
    }

    #[test]
    fn missing_or_foreign_fields_are_refused() {
        let cases: [(&[u8], &str); 5] = [
            (b"Date: x\r\nMessage-ID: <a@b>\r\n\r\n", "no From"),
            (
                b"From: jeanne.medecin@passerelle-sandbox.mssante.fr\r\nDate: x\r\nMessage-ID: <a@b>\r\n\r\n",
                "550 5.7.1",
            ),
            (
                b"From: lps@passerelle-sandbox.mssante.fr\r\nMessage-ID: <a@b>\r\n\r\n",
                "no Date",
            ),
            (
                b"From: lps@passerelle-sandbox.mssante.fr\r\nDate: x\r\n\r\n",
                "no Message-ID",
            ),
            (
                b"From: lps@passerelle-sandbox.mssante.fr\r\nDate: x\r\nMessage-ID: nope\r\n\r\n",
                "<left@right>",
            ),
        ];
        for (m, expected) in cases {
            let Err(Refused(reply)) = check(m, &allowed()) else {
                panic!("accepted: {}", String::from_utf8_lossy(m));
            };
            assert!(reply.contains(expected), "{reply}");
        }
    }
}
