//! `card-emulator [--port N] cps [--cps4] --cps-keys DIR | vitale | unknown`: puts one emulated
//! card in a vpcd slot until interrupted.
//!
//! `cps` is a CPS3, or with `--cps4` a CPS4 holding the same data. DIR holds `auth.key.pem`,
//! `auth.crt.der`, `sign.key.pem`, `sign.crt.der` (PKCS#8 PEM keys, DER certificates); the PIN
//! is `1234`. The holder is a test doctor.

use std::path::PathBuf;

use card_emulator::cps::{CpsCard, CpsSpec, SituationSpec};
use card_emulator::vitale::{PersonSpec, VitaleCard};
use card_emulator::{Card, DEFAULT_PORT, Emulator};
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use zeroize::Zeroizing;

fn usage() -> ! {
    eprintln!("usage: card-emulator [--port N] cps [--cps4] --cps-keys DIR | vitale | unknown");
    std::process::exit(2)
}

fn key(path: &PathBuf) -> Result<RsaPrivateKey, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() {
    let mut port = DEFAULT_PORT;
    let mut kind = None;
    let mut keys: Option<PathBuf> = None;
    let mut cps4 = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--cps-keys" => keys = args.next().map(PathBuf::from),
            "--cps4" => cps4 = true,
            "cps" | "vitale" | "unknown" => kind = Some(a),
            _ => usage(),
        }
    }
    let card = match kind.as_deref() {
        Some("cps") => {
            let dir = keys.unwrap_or_else(|| usage());
            let read =
                |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
            let spec = (|| -> Result<CpsSpec, String> {
                Ok(CpsSpec {
                    serial: "0012345678".into(),
                    id_type: "8".into(),
                    id: "10001234567".into(),
                    last_name: "FOUQUEREY".into(),
                    first_name: "JEAN".into(),
                    profession: "10".into(),
                    profession_label: "Médecin".into(),
                    specialty: "SM54".into(),
                    situations: vec![SituationSpec {
                        structure_id_type: "4".into(),
                        structure_id: "10B0123456".into(),
                        structure_name: "CENTRE DE SANTE".into(),
                        activity_sector: "SA07".into(),
                        billing_id: "101234567".into(),
                    }],
                    pin: Zeroizing::new("1234".into()),
                    auth_key: key(&dir.join("auth.key.pem"))?,
                    auth_cert_der: read("auth.crt.der")?,
                    sign_key: key(&dir.join("sign.key.pem"))?,
                    sign_cert_der: read("sign.crt.der")?,
                })
            })();
            match spec {
                Ok(s) if cps4 => Card::Cps(Box::new(CpsCard::new_cps4(s))),
                Ok(s) => Card::Cps(Box::new(CpsCard::new(s))),
                Err(e) => {
                    eprintln!("card-emulator: {e}");
                    std::process::exit(1)
                }
            }
        }
        // An identity of the INSi qualification test book, which the sandbox also knows.
        Some("vitale") => Card::Vitale(VitaleCard::new(&[PersonSpec {
            matricule: "2751263220749".into(),
            key: "74".into(),
            used_name: "ADRUN".into(),
            birth_name: String::new(),
            first_name: "ZOE".into(),
            birth_date: "19751231".into(),
            birth_rank: 1,
            quality: "00".into(),
        }])),
        Some(_) => Card::Unknown,
        None => usage(),
    };
    match Emulator::start(card, port) {
        Ok(_emulator) => {
            eprintln!(
                "card-emulator: card inserted in the vpcd slot on port {port}; Ctrl-C to stop"
            );
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("card-emulator: {e}");
            std::process::exit(1)
        }
    }
}
