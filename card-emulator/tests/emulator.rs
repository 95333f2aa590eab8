//! The emulated cards at the APDU level, and the vpcd wire protocol against a stand-in vpcd
//! listener. (The full PC/SC path, through pcscd, is tested in `card-agent/tests/pcsc.rs`.)

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use card_emulator::cps::{CPS3_ATR, CpsCard, CpsSpec, IAS_AID, SituationSpec};
use card_emulator::vitale::{AID_VITALE, PersonSpec, VitaleCard};
use card_emulator::{Card, Emulator};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
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

fn cps(k: &RsaPrivateKey) -> CpsCard {
    CpsCard::new(CpsSpec {
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
        auth_key: k.clone(),
        auth_cert_der: vec![0x30, 0x01],
        sign_key: k.clone(),
        sign_cert_der: vec![0x30, 0x02],
    })
}

fn sw(r: &[u8]) -> u16 {
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

fn run(card: &mut Card, apdu: &[u8]) -> Vec<u8> {
    card.process(apdu)
}

const DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

#[test]
fn cps_pin_counter_blocking_and_signature() {
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
    // PIN status, wrong PIN, good PIN.
    assert_eq!(sw(&run(&mut card, &[0, 0x20, 0, 0x81])), 0x63C3);
    let verify = |p: &[u8]| {
        let mut c = vec![0, 0x20, 0, 0x81, 8];
        c.extend_from_slice(p);
        c.resize(13, 0xFF);
        c
    };
    assert_eq!(sw(&run(&mut card, &verify(b"0000"))), 0x63C2);
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
    assert_eq!(
        sw(&run(
            &mut card,
            &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x42, 0x84, 1, 0x82]
        )),
        0x9000
    );
    // Signature refused before the PIN.
    let mut pso = vec![0, 0x2A, 0x9E, 0x9A, 32];
    pso.extend_from_slice(&[9; 32]);
    pso.push(0);
    assert_eq!(sw(&run(&mut card, &pso)), 0x6982);
    assert_eq!(sw(&run(&mut card, &verify(b"1234"))), 0x9000);
    // The old form (DigestInfo sent with algorithm 42) is refused.
    let mut old = vec![0, 0x2A, 0x9E, 0x9A, 51];
    old.extend_from_slice(&DIGEST_INFO);
    old.extend_from_slice(&[9; 32]);
    old.push(0);
    assert_eq!(sw(&run(&mut card, &old)), 0x6A80);
    let r = run(&mut card, &pso);
    assert_eq!(sw(&r), 0x9000);
    let sig = &r[..r.len() - 2];
    assert_eq!(sig.len(), k.size());
    let mut di = DIGEST_INFO.to_vec();
    di.extend_from_slice(&[9; 32]);
    k.to_public_key()
        .verify(Pkcs1v15Sign::new_unprefixed(), &di, sig)
        .expect("valid PKCS#1 v1.5 signature");
    // The authentication key: algorithm 02, INTERNAL AUTHENTICATE with the DigestInfo.
    assert_eq!(
        sw(&run(
            &mut card,
            &[0, 0x22, 0x41, 0xA4, 6, 0x80, 1, 0x02, 0x84, 1, 0x81]
        )),
        0x9000
    );
    let mut ia = vec![0, 0x88, 0, 0, 51];
    ia.extend_from_slice(&di);
    ia.push(0);
    let r = run(&mut card, &ia);
    assert_eq!(sw(&r), 0x9000);
    assert_eq!(r.len() - 2, k.size());
    // A reset loses the security state.
    card.reset();
    assert_eq!(sw(&run(&mut card, &[0, 0x20, 0, 0x81])), 0x63C3);
    // Three wrong PINs block the card; then even the right one is refused.
    assert_eq!(sw(&run(&mut card, &verify(b"1111"))), 0x63C2);
    assert_eq!(sw(&run(&mut card, &verify(b"2222"))), 0x63C1);
    assert_eq!(sw(&run(&mut card, &verify(b"3333"))), 0x6983);
    assert_eq!(sw(&run(&mut card, &verify(b"1234"))), 0x6983);
}

#[test]
fn cps_pkcs15_structure_as_opensc_walks_it() {
    let k = key();
    let mut card = Card::Cps(Box::new(cps(&k)));
    let read = |card: &mut Card| {
        let r = run(card, &[0, 0xB0, 0, 0, 0]);
        assert_eq!(sw(&r), 0x9000);
        r[..r.len() - 2].to_vec()
    };
    // EF.DIR: the PKCS#15 application is the IAS AID.
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x08, 0x0C, 2, 0x2F, 0x00])),
        0x9000
    );
    let dir = read(&mut card);
    assert_eq!(dir[0], 0x61);
    assert_eq!(&dir[2..4], &[0x4F, 13]);
    assert_eq!(&dir[4..17], &IAS_AID);
    // ODF at <application>/5031: A0 PrKDF, A4 CDF.
    let mut sel = vec![0, 0xA4, 0x04, 0x0C, IAS_AID.len() as u8];
    sel.extend_from_slice(&IAS_AID);
    assert_eq!(sw(&run(&mut card, &sel)), 0x9000);
    assert_eq!(
        sw(&run(&mut card, &[0, 0xA4, 0x02, 0x0C, 2, 0x50, 0x31])),
        0x9000
    );
    let odf = read(&mut card);
    assert_eq!(odf[0], 0xA0);
    assert_eq!(odf[odf[1] as usize + 2], 0xA4);
    // TokenInfo at <application>/5032, the certificates in the application.
    for fid in [
        [0x50, 0x32],
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
