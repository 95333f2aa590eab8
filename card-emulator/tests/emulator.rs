//! The emulated cards at the APDU level, and the vpcd wire protocol against a stand-in vpcd
//! listener. (The full PC/SC path, through pcscd, is tested in `card-agent/tests/pcsc.rs`.)

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use card_emulator::cps::{
    CHIPDOC_AID, CPS2TER_AID, CPS3_ATR, CPS4_ATR, CpsCard, CpsSpec, IAS_AID, SituationSpec,
};
use card_emulator::vitale::{AID_VITALE, PersonSpec, VitaleCard};
use card_emulator::{Card, Emulator};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

fn key() -> RsaPrivateKey {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("k.pem");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&p)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    RsaPrivateKey::from_pkcs8_pem(&std::fs::read_to_string(&p).expect("read")).expect("pkcs8")
}

fn spec(auth: &RsaPrivateKey, sign: &RsaPrivateKey) -> CpsSpec {
    CpsSpec {
        serial: "0012345678".into(),
        id_type: "8".into(),
        id: "10001234567".into(),
        last_name: "FOUQUEREY".into(),
        first_name: "JEAN".into(),
        profession: "10".into(),
        profession_label: "Médecin".into(),
        specialty: "SM54".into(),
        situations: vec![SituationSpec::default()],
        pin: Zeroizing::new("1234".into()),
        auth_key: auth.clone(),
        auth_cert_der: vec![0x30, 0x01],
        sign_key: sign.clone(),
        sign_cert_der: vec![0x30, 0x02],
    }
}

fn cps(k: &RsaPrivateKey) -> CpsCard {
    CpsCard::new(spec(k, k))
}

fn sw(r: &[u8]) -> u16 {
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

fn run(card: &mut Card, apdu: &[u8]) -> Vec<u8> {
    card.process(apdu)
}

/// The data of a successful answer.
fn data(r: &[u8]) -> Vec<u8> {
    assert_eq!(sw(r), 0x9000, "{r:02X?}");
    r[..r.len() - 2].to_vec()
}

fn apdu(header: [u8; 4], data: &[u8], le: Option<u8>) -> Vec<u8> {
    let mut c = header.to_vec();
    if !data.is_empty() {
        c.push(data.len() as u8);
        c.extend_from_slice(data);
    }
    c.extend(le);
    c
}

/// VERIFY with the PIN as the AODF says: ASCII digits padded with FF to 8 bytes.
fn verify(cla: u8, pin_ref: u8, pin: &[u8]) -> Vec<u8> {
    let mut p = pin.to_vec();
    p.resize(8, 0xFF);
    apdu([cla, 0x20, 0, pin_ref], &p, None)
}

/// GET DATA of the PIN counters, as the CPS3 reference driver sends it.
fn get_data(pin_ref: u8) -> Vec<u8> {
    vec![
        0, 0xCB, 0x3F, 0xFF, 0x0A, 0x4D, 0x08, 0x70, 0x06, 0xBF, 0x81, pin_ref, 0x02, 0xA0, 0x80, 0,
    ]
}

/// The GET DATA answer with `left` tries left (of 3).
fn counters(left: u8) -> Vec<u8> {
    vec![
        0x70, 0x0C, 0xBF, 0x81, 0x01, 0x08, 0xA0, 0x06, 0x9A, 0x01, 0x03, 0x9B, 0x01, left, 0x90,
        0x00,
    ]
}

const DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The AODF with the PIN object, for a PIN reference.
fn aodf(pin_ref: u8) -> Vec<u8> {
    vec![
        0x30, 0x26, // AuthenticationObject
        0x30, 0x05, 0x0C, 0x03, b'P', b'I', b'N', // label
        0x30, 0x03, 0x04, 0x01, 0x01, // authId
        0xA1, 0x18, 0x30, 0x16, // PinAttributes
        0x03, 0x02, 0x02, 0x0C, // initialized, needs-padding
        0x0A, 0x01, 0x01, // ascii-numeric
        0x02, 0x01, 0x04, 0x02, 0x01, 0x08, 0x02, 0x01, 0x08, // min, stored, max
        0x80, 0x01, pin_ref, // pinReference
        0x04, 0x01, 0xFF, // padChar
    ]
}

#[test]
fn cps3_pin_counter_blocking_and_signature() {
    let k = key();
    let mut card = Card::Cps(Box::new(cps(&k)));
    assert_eq!(card.atr(), CPS3_ATR.to_vec());
    // EF.SN.ICC carries the ANS issuer number.
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x08, 0x0C, 2, 0xD0, 0x03])),
        0x9000
    );
    let sn = run(&mut card, &[0, 0xB0, 0, 0, 0]);
    assert_eq!(&sn[2..7], &[0x80, 0x25, 0x00, 0x00, 0x01]);
    // CLA 00 only.
    assert_eq!(sw(&run(&mut card, &[1, 0xB0, 0, 0, 0])), 0x6E00);
    // The try counter by GET DATA; VERIFY without data is not a CPS3 command.
    assert_eq!(run(&mut card, &get_data(0x01)), counters(3));
    assert_eq!(sw(&run(&mut card, &[0, 0x20, 0, 0x01])), 0x6700);
    assert_eq!(sw(&run(&mut card, &get_data(0x81))), 0x6A88);
    let mut bad = get_data(0x01);
    bad[13] = 0xA1;
    assert_eq!(sw(&run(&mut card, &bad)), 0x6A80);
    // The PIN reference is the AODF's 01.
    assert_eq!(sw(&run(&mut card, &verify(0, 0x81, b"1234"))), 0x6A88);
    assert_eq!(sw(&run(&mut card, &verify(0, 0x01, b"0000"))), 0x63C2);
    assert_eq!(run(&mut card, &get_data(0x01)), counters(2));
    // The signature key wants algorithm 42 (SHA-256, DigestInfo built by the card), as the
    // reference driver sets it for a CPS3: 02 or no algorithm is refused.
    assert_eq!(
        sw(&run(&mut card, &[0, 0x22, 0x41, 0xB6, 3, 0x84, 1, 0x82])),
        0x6A80
    );
    assert_eq!(
        sw(&run(
            &mut card,
            &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x02, 0x84, 1, 0x82]
        )),
        0x6A80
    );
    // The authentication key wants 02.
    assert_eq!(
        sw(&run(
            &mut card,
            &[0, 0x22, 0x41, 0xA4, 6, 0x80, 1, 0x42, 0x84, 1, 0x81]
        )),
        0x6A80
    );
    let mse_sign = [0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x42, 0x84, 1, 0x82];
    assert_eq!(sw(&run(&mut card, &mse_sign)), 0x9000);
    // Signature refused before the PIN.
    let pso = apdu([0, 0x2A, 0x9E, 0x9A], &[9; 32], Some(0));
    assert_eq!(sw(&run(&mut card, &pso)), 0x6982);
    assert_eq!(sw(&run(&mut card, &verify(0, 0x01, b"1234"))), 0x9000);
    assert_eq!(run(&mut card, &get_data(0x01)), counters(3));
    // The old form (DigestInfo sent with algorithm 42) is refused.
    let mut di = DIGEST_INFO.to_vec();
    di.extend_from_slice(&[9; 32]);
    assert_eq!(
        sw(&run(&mut card, &apdu([0, 0x2A, 0x9E, 0x9A], &di, Some(0)))),
        0x6A80
    );
    let sig = data(&run(&mut card, &pso));
    assert_eq!(sig.len(), k.size());
    k.to_public_key()
        .verify(Pkcs1v15Sign::new_unprefixed(), &di, &sig)
        .expect("valid PKCS#1 v1.5 signature");
    // The authentication key: algorithm 02, INTERNAL AUTHENTICATE with the DigestInfo.
    assert_eq!(
        sw(&run(
            &mut card,
            &[0, 0x22, 0x41, 0xA4, 6, 0x80, 1, 0x02, 0x84, 1, 0x81]
        )),
        0x9000
    );
    let r = run(&mut card, &apdu([0, 0x88, 0, 0], &di, Some(0)));
    assert_eq!(data(&r).len(), k.size());
    // A reset loses the security state and the MSE SET choice.
    card.reset();
    assert_eq!(sw(&run(&mut card, &pso)), 0x6985);
    assert_eq!(sw(&run(&mut card, &mse_sign)), 0x9000);
    assert_eq!(sw(&run(&mut card, &pso)), 0x6982);
    // Three wrong PINs block the card; then even the right one is refused.
    assert_eq!(sw(&run(&mut card, &verify(0, 0x01, b"1111"))), 0x63C2);
    assert_eq!(sw(&run(&mut card, &verify(0, 0x01, b"2222"))), 0x63C1);
    assert_eq!(sw(&run(&mut card, &verify(0, 0x01, b"3333"))), 0x6983);
    assert_eq!(sw(&run(&mut card, &verify(0, 0x01, b"1234"))), 0x6983);
    assert_eq!(run(&mut card, &get_data(0x01)), counters(0));
}

#[test]
fn cps3_pkcs15_structure_as_opensc_walks_it() {
    let k = key();
    let mut card = Card::Cps(Box::new(cps(&k)));
    let read = |card: &mut Card| data(&run(card, &[0, 0xB0, 0, 0, 0]));
    // EF.DIR: the PKCS#15 application is the IAS AID.
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x08, 0x0C, 2, 0x2F, 0x00])),
        0x9000
    );
    let dir = read(&mut card);
    assert_eq!(dir[0], 0x61);
    assert_eq!(&dir[2..4], &[0x4F, 13]);
    assert_eq!(&dir[4..17], &IAS_AID);
    // ODF at <application>/5031: A0 PrKDF, A4 CDF, A8 AODF.
    let sel = apdu([0, 0xA4, 0x04, 0x0C], &IAS_AID, None);
    assert_eq!(sw(&run(&mut card, &sel)), 0x9000);
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x02, 0x0C, 2, 0x50, 0x31])),
        0x9000
    );
    let odf = read(&mut card);
    assert_eq!(odf[0], 0xA0);
    assert_eq!(odf[odf[1] as usize + 2], 0xA4);
    assert!(odf.ends_with(&[0xA8, 6, 0x30, 4, 0x04, 2, 0x44, 0x01]));
    // TokenInfo at <application>/5032, the certificates in the application.
    for fid in [
        [0x50, 0x32],
        [0x44, 0x01],
        [0x44, 0x02],
        [0x44, 0x04],
        [0xC0, 0x00],
        [0xC0, 0x01],
    ] {
        assert_eq!(
            sw(&run(&mut card, &[0, 0xA4, 0x02, 0x0C, 2, fid[0], fid[1]])),
            0x9000
        );
    }
    // The reference's SELECT: P1=09 with the full path from the MF, P2=04 (FCP) or 0C.
    let r = run(
        &mut card,
        &[0, 0xA4, 0x09, 0x04, 4, 0x3F, 0x00, 0xD0, 0x03, 0],
    );
    assert_eq!(data(&r), vec![0x62, 4, 0x80, 2, 0, 12]);
    assert_eq!(
        sw(&run(
            &mut card,
            &[0, 0xA4, 0x09, 0x0C, 6, 0x3F, 0x00, 0x50, 0x15, 0x44, 0x01]
        )),
        0x9000
    );
    // The AODF: the PIN, reference 01, ASCII digits padded with FF to 8.
    assert_eq!(read(&mut card), aodf(0x01));
    // P1=09 without 3F00 is still relative to the current DF (here the application).
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x09, 0x0C, 2, 0x44, 0x02])),
        0x9000
    );
    // The MF as `cps3_get_pin_counter` selects it.
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x09, 0x0C, 2, 0x3F, 0x00])),
        0x9000
    );
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x09, 0x0C, 2, 0x44, 0x02])),
        0x6A82
    );
}

/// Opens channel 1 of a CPS4 as the reference driver does.
fn select_chipdoc(card: &mut Card) {
    let r = run(card, &apdu([0x01, 0xA4, 0x04, 0x0C], &CHIPDOC_AID, None));
    assert_eq!(sw(&r), 0x9000);
}

#[test]
fn cps4_logical_channels() {
    let k = key();
    let mut card = Card::Cps(Box::new(CpsCard::new_cps4(spec(&k, &k))));
    assert_eq!(card.atr(), CPS4_ATR.to_vec());
    // Channel 1 is closed until the ChipDoc applet is selected on it.
    assert_eq!(sw(&run(&mut card, &[0x01, 0xB0, 0, 0, 0])), 0x6881);
    assert_eq!(sw(&run(&mut card, &[0x01, 0x20, 0, 0x81])), 0x6881);
    // The basic channel holds the CPS2ter applet: selectable, nothing else.
    let cps2ter = apdu([0x00, 0xA4, 0x04, 0x0C], &CPS2TER_AID, None);
    assert_eq!(sw(&run(&mut card, &cps2ter)), 0x9000);
    assert_eq!(sw(&run(&mut card, &[0x00, 0xB0, 0, 0, 0])), 0x6D00);
    assert_eq!(sw(&run(&mut card, &[0x00, 0x20, 0, 0x81])), 0x6D00);
    let chipdoc_on_0 = apdu([0x00, 0xA4, 0x04, 0x0C], &CHIPDOC_AID, None);
    assert_eq!(sw(&run(&mut card, &chipdoc_on_0)), 0x6A82);
    // Channels 2 and 3 are never opened; other CLA bits are refused.
    let chipdoc_on_2 = apdu([0x02, 0xA4, 0x04, 0x0C], &CHIPDOC_AID, None);
    assert_eq!(sw(&run(&mut card, &chipdoc_on_2)), 0x6881);
    assert_eq!(sw(&run(&mut card, &[0x81, 0xB0, 0, 0, 0])), 0x6E00);
    select_chipdoc(&mut card);
    assert_eq!(sw(&run(&mut card, &[0x01, 0x20, 0, 0x81])), 0x63C3);
    // Chaining is only for PSO DECIPHER.
    assert_eq!(sw(&run(&mut card, &[0x11, 0xB0, 0, 0, 0])), 0x6884);
    // The re-select of the reference (P2=04 after 6A86 or 6Exx) is accepted.
    let reselect = apdu([0x01, 0xA4, 0x04, 0x04], &CHIPDOC_AID, Some(0));
    assert_eq!(sw(&run(&mut card, &reselect)), 0x9000);
    // A reset closes channel 1.
    card.reset();
    assert_eq!(sw(&run(&mut card, &[0x01, 0x20, 0, 0x81])), 0x6881);
    select_chipdoc(&mut card);
    assert_eq!(sw(&run(&mut card, &[0x01, 0x20, 0, 0x81])), 0x63C3);
}

#[test]
fn cps4_files_pin_signature_and_authentication() {
    let (auth, sign) = (key(), key());
    let mut card = Card::Cps(Box::new(CpsCard::new_cps4(spec(&auth, &sign))));
    select_chipdoc(&mut card);
    // SELECT by path from the MF, without 3F00, P2=00: the FCI with the size.
    let r = run(&mut card, &[1, 0xA4, 0x08, 0x00, 2, 0xD0, 0x03, 0]);
    assert_eq!(
        data(&r),
        vec![0x6F, 11, 0x83, 2, 0xD0, 0x03, 0x82, 1, 0x01, 0x80, 2, 0, 12]
    );
    let sn = data(&run(&mut card, &[1, 0xB0, 0, 0, 12]));
    assert_eq!(&sn[..7], &[0x5A, 0x0A, 0x80, 0x25, 0x00, 0x00, 0x01]);
    // 3F00 is not repeated in a P1=08 path; P2 other than 00 and 0C is refused.
    assert_eq!(
        sw(&run(
            &mut card,
            &[1, 0xA4, 0x08, 0x00, 4, 0x3F, 0x00, 0xD0, 0x03, 0]
        )),
        0x6A82
    );
    assert_eq!(
        sw(&run(&mut card, &[1, 0xA4, 0x08, 0x04, 2, 0xD0, 0x03, 0])),
        0x6A86
    );
    // The MF (P1=00, 3F00) and the application by its AID: DF FCIs.
    let r = run(&mut card, &[1, 0xA4, 0x00, 0x00, 2, 0x3F, 0x00, 0]);
    assert_eq!(data(&r), vec![0x6F, 7, 0x83, 2, 0x3F, 0x00, 0x82, 1, 0x38]);
    let r = run(&mut card, &apdu([1, 0xA4, 0x04, 0x00], &IAS_AID, Some(0)));
    assert_eq!(data(&r), vec![0x6F, 7, 0x83, 2, 0x50, 0x15, 0x82, 1, 0x38]);
    // The AODF (reference 81) and the PrKDF (keys 20 decrypt+sign, 10 nonRepudiation).
    let select = |card: &mut Card, fid: [u8; 2]| {
        let r = run(card, &[1, 0xA4, 0x08, 0x0C, 4, 0x50, 0x15, fid[0], fid[1]]);
        assert_eq!(sw(&r), 0x9000);
        data(&run(card, &[1, 0xB0, 0, 0, 0]))
    };
    assert_eq!(select(&mut card, [0x44, 0x01]), aodf(0x81));
    let prkdf = select(&mut card, [0x44, 0x02]);
    let find = |w: &[u8]| prkdf.windows(w.len()).position(|x| x == w);
    let usage_auth = find(&[0x03, 2, 0x05, 0x60]).expect("decrypt + sign");
    assert_eq!(&prkdf[usage_auth + 4..usage_auth + 7], &[0x02, 1, 0x20]);
    let usage_sign = find(&[0x03, 3, 0x06, 0x00, 0x40]).expect("nonRepudiation");
    assert_eq!(&prkdf[usage_sign + 5..usage_sign + 8], &[0x02, 1, 0x10]);
    // No INTERNAL AUTHENTICATE, no GET DATA on ChipDoc.
    assert_eq!(
        sw(&run(&mut card, &apdu([1, 0x88, 0, 0], &[1; 51], Some(0)))),
        0x6D00
    );
    let mut gd = get_data(0x81);
    gd[0] = 1;
    assert_eq!(sw(&run(&mut card, &gd)), 0x6D00);
    // MSE SET: only the CPS4 forms.
    let cps3_form = [1, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x42, 0x84, 1, 0x90];
    assert_eq!(sw(&run(&mut card, &cps3_form)), 0x6A80);
    let pss = [1, 0x22, 0x81, 0xB6, 4, 0x91, 2, 0x2C, 0x90];
    assert_eq!(sw(&run(&mut card, &pss)), 0x6A80);
    let other_key = [1, 0x22, 0x41, 0xB8, 3, 0x83, 1, 0x21];
    assert_eq!(sw(&run(&mut card, &other_key)), 0x6A80);
    let mse_sign = [1, 0x22, 0x81, 0xB6, 4, 0x91, 2, 0x28, 0x90];
    let mse_auth = [1, 0x22, 0x41, 0xB8, 3, 0x83, 1, 0x20];
    assert_eq!(sw(&run(&mut card, &mse_sign)), 0x9000);
    // Signature refused before the PIN.
    let digest = Sha256::digest(b"ordonnance");
    let pso = apdu([1, 0x2A, 0x9E, 0x9A], &digest, Some(0));
    assert!(CpsCard::is_signature(&pso));
    assert_eq!(sw(&run(&mut card, &pso)), 0x6982);
    // VERIFY: the AODF's reference and padding; without data, the PIN status.
    assert_eq!(sw(&run(&mut card, &[1, 0x20, 0, 0x81])), 0x63C3);
    assert_eq!(sw(&run(&mut card, &verify(1, 0x01, b"1234"))), 0x6A88);
    assert_eq!(
        sw(&run(&mut card, &apdu([1, 0x20, 0, 0x81], b"1234", None))),
        0x6700
    );
    assert_eq!(sw(&run(&mut card, &[1, 0x20, 0, 0x81])), 0x63C3);
    assert_eq!(sw(&run(&mut card, &verify(1, 0x81, b"1234"))), 0x9000);
    assert_eq!(sw(&run(&mut card, &[1, 0x20, 0, 0x81])), 0x9000);
    // PSO CDS: the bare digest, signed by the signature key.
    assert_eq!(
        sw(&run(
            &mut card,
            &apdu([1, 0x2A, 0x9E, 0x9A], &digest[..31], Some(0))
        )),
        0x6A80
    );
    let sig = data(&run(&mut card, &pso));
    assert_eq!(sig.len(), 256);
    sign.to_public_key()
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .expect("signed by the signature key");
    // The authentication key: the host's PKCS#1 type 1 block, raw RSA by PSO DECIPHER.
    assert_eq!(sw(&run(&mut card, &mse_auth)), 0x9000);
    assert_eq!(sw(&run(&mut card, &pso)), 0x6985);
    let mut block = vec![0x00, 0x01];
    block.resize(256 - 1 - DIGEST_INFO.len() - 32, 0xFF);
    block.push(0x00);
    block.extend_from_slice(&DIGEST_INFO);
    block.extend_from_slice(&digest);
    assert_eq!(block.len(), 256);
    let first = apdu([0x11, 0x2A, 0x80, 0x86], &block[..255], None);
    let last = apdu([0x01, 0x2A, 0x80, 0x86], &block[255..], Some(0));
    assert!(!CpsCard::is_signature(&first));
    assert!(CpsCard::is_signature(&last));
    assert_eq!(sw(&run(&mut card, &first)), 0x9000);
    let sig = data(&run(&mut card, &last));
    assert_eq!(sig.len(), 256);
    auth.to_public_key()
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .expect("signed by the authentication key");
    // An incomplete block; a partial block discarded by MSE SET or SELECT; a block that is
    // not below the modulus.
    assert_eq!(sw(&run(&mut card, &last)), 0x6A80);
    assert_eq!(sw(&run(&mut card, &first)), 0x9000);
    assert_eq!(sw(&run(&mut card, &mse_auth)), 0x9000);
    assert_eq!(sw(&run(&mut card, &last)), 0x6A80);
    assert_eq!(sw(&run(&mut card, &first)), 0x9000);
    assert_eq!(
        sw(&run(&mut card, &[1, 0xA4, 0x00, 0x0C, 2, 0x3F, 0x00])),
        0x9000
    );
    assert_eq!(sw(&run(&mut card, &last)), 0x6A80);
    let ff = apdu([0x11, 0x2A, 0x80, 0x86], &[0xFF; 255], None);
    assert_eq!(sw(&run(&mut card, &ff)), 0x9000);
    assert_eq!(
        sw(&run(
            &mut card,
            &apdu([1, 0x2A, 0x80, 0x86], &[0xFF], Some(0))
        )),
        0x6A80
    );
    // A reset closes the channel and loses the PIN.
    card.reset();
    assert_eq!(sw(&run(&mut card, &[1, 0x20, 0, 0x81])), 0x6881);
    select_chipdoc(&mut card);
    assert_eq!(sw(&run(&mut card, &[1, 0x20, 0, 0x81])), 0x63C3);
    assert_eq!(sw(&run(&mut card, &mse_auth)), 0x9000);
    assert_eq!(sw(&run(&mut card, &first)), 0x6982);
    // Three wrong PINs block the card.
    assert_eq!(sw(&run(&mut card, &verify(1, 0x81, b"1111"))), 0x63C2);
    assert_eq!(sw(&run(&mut card, &verify(1, 0x81, b"2222"))), 0x63C1);
    assert_eq!(sw(&run(&mut card, &verify(1, 0x81, b"3333"))), 0x6983);
    assert_eq!(sw(&run(&mut card, &verify(1, 0x81, b"1234"))), 0x6983);
    assert_eq!(sw(&run(&mut card, &[1, 0x20, 0, 0x81])), 0x6983);
}

#[test]
fn vitale_pointers_file_as_cardpeek_reads_it() {
    let mut card = Card::Vitale(VitaleCard::new(&[PersonSpec {
        matricule: "2480392630010".into(),
        key: "64".into(),
        used_name: "PAT-DOUZE".into(),
        first_name: "NATHALIE".into(),
        birth_date: "19480321".into(),
        birth_rank: 1,
        quality: "00".into(),
        ..Default::default()
    }]));
    let mut sel = vec![0, 0xA4, 0x04, 0x00, AID_VITALE.len() as u8];
    sel.extend_from_slice(&AID_VITALE);
    assert_eq!(sw(&run(&mut card, &sel)), 0x9000);
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x02, 0x0C, 2, 0x20, 0x01])),
        0x9000
    );
    let p = run(&mut card, &[0, 0xB0, 0, 0, 0]);
    assert_eq!(p[0], 0xE0);
    assert_eq!(p[2], 0xA0);
    // The file entry: name (8) ‖ entry (2) ‖ file id (2).
    let i = p
        .windows(8)
        .position(|w| w == b"BENEF001")
        .expect("file entry");
    assert_eq!(&p[i + 8..i + 12], &[0x00, 0x01, 0x20, 0x04]);
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x02, 0x0C, 2, 0x20, 0x04])),
        0x9000
    );
    let d = run(&mut card, &[0, 0xB0, 0, 0, 0]);
    assert_eq!(d[0], 0x65);
    assert!(d.windows(15).any(|w| w == b"248039263001064"));
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn read_frame(s: &mut std::net::TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0; 2];
    s.read_exact(&mut len)?;
    let mut v = vec![0; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut v)?;
    Ok(v)
}

#[test]
fn speaks_vpcd_and_removal_closes_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let em = Emulator::start(Card::Unknown, port).expect("start");
    let (mut s, _) = listener.accept().expect("emulator connects");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(&frame(&[1])).expect("power on");
    s.write_all(&frame(&[4])).expect("get ATR");
    assert_eq!(
        read_frame(&mut s).expect("ATR"),
        card_emulator::UNKNOWN_ATR.to_vec()
    );
    s.write_all(&frame(&[0, 0xA4, 0x04, 0x00, 1, 0xA0]))
        .expect("apdu");
    assert_eq!(read_frame(&mut s).expect("rapdu"), vec![0x6D, 0x00]);
    em.remove();
    assert!(
        read_frame(&mut s).is_err(),
        "removal closes the vpcd connection"
    );
    em.insert();
    let (mut s2, _) = listener.accept().expect("re-inserted card connects again");
    s2.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s2.write_all(&frame(&[4])).expect("get ATR");
    assert_eq!(
        read_frame(&mut s2).expect("ATR"),
        card_emulator::UNKNOWN_ATR.to_vec()
    );
    assert_eq!(em.connections(), 2);
}

#[test]
fn business_objects_in_the_dodf_and_situations_behind_the_pin() {
    let k = key();
    let mut card = Card::Cps(Box::new(cps(&k)));
    let read = |card: &mut Card| run(card, &[0, 0xB0, 0, 0, 0]);
    // The ODF lists the DODF (A7) at <application>/4403.
    let sel = apdu([0, 0xA4, 0x04, 0x0C], &IAS_AID, None);
    assert_eq!(sw(&run(&mut card, &sel)), 0x9000);
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x02, 0x0C, 2, 0x50, 0x31])),
        0x9000
    );
    let odf = data(&read(&mut card));
    assert!(
        odf.windows(8)
            .any(|w| w == [0xA7, 6, 0x30, 4, 0x04, 2, 0x44, 0x03])
    );
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x02, 0x0C, 2, 0x44, 0x03])),
        0x9000
    );
    let dodf = data(&read(&mut card));
    let text = String::from_utf8_lossy(&dodf);
    assert!(text.contains("CPS_NAME_PS"));
    // One object per situation on the card (one here).
    assert!(text.contains("CPS_ACTIVITY_01_PS"));
    assert!(!text.contains("CPS_ACTIVITY_02_PS"));
    // The holder's file is free; a situation needs the PIN (6982), then reads.
    let holder = [0, 0xA4, 0x09, 0x0C, 6, 0x3F, 0x00, 0x00, 0x01, 0x70, 0x01];
    assert_eq!(sw(&run(&mut card, &holder)), 0x9000);
    assert!(data(&read(&mut card)).starts_with(&[0x80, 1, b'8']));
    let situation = [0, 0xA4, 0x09, 0x0C, 6, 0x3F, 0x00, 0x00, 0x01, 0xD1, 0x20];
    assert_eq!(sw(&run(&mut card, &situation)), 0x9000);
    assert_eq!(sw(&read(&mut card)), 0x6982);
    assert_eq!(sw(&run(&mut card, &verify(0, 0x01, b"1234"))), 0x9000);
    assert_eq!(sw(&run(&mut card, &situation)), 0x9000);
    assert_eq!(sw(&read(&mut card)), 0x9000);
}
