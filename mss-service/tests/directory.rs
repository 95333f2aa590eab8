//! The directory: our FHIR client against the directory sandbox and against the ANS's official
//! example resources, the extraction file's import and its index, which source answers, the
//! owner of an address, the service's check of typed recipients and its import of the file,
//! and `curl` as an independent client of the sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use mss_service::directory::fhir::{self, FhirSettings};
use mss_service::directory::{
    Directory, DirectoryError, DirectoryProfessional, DirectorySettings, DirectorySource,
    ExtractionIndex, ExtractionSettings, FhirClient, FhirError, ImportError, MailboxType,
    Preference,
};
use passerelle_sandbox::mss::directory::{
    DirectorySandbox, DirectorySandboxConfig, RunningDirectorySandbox, SANDBOX_API_KEY,
};
use passerelle_sandbox::pki::TestPki;

/// One test PKI for every test of this file (generating RSA keys takes a while).
fn pki() -> &'static TestPki {
    static PKI: OnceLock<(tempfile::TempDir, TestPki)> = OnceLock::new();
    &PKI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
        (dir, pki)
    })
    .1
}

async fn sandbox() -> RunningDirectorySandbox {
    DirectorySandbox::start(DirectorySandboxConfig::default(), pki())
        .await
        .unwrap()
}

fn settings(base_url: &str, api_key: &str) -> FhirSettings {
    FhirSettings {
        base_url: base_url.to_owned(),
        api_key: api_key.to_owned(),
        trusted_ca: vec![pki().ca_cert.clone()],
        timeout: Duration::from_secs(10),
        ..FhirSettings::default()
    }
}

fn fhir_directory(settings: FhirSettings) -> Directory {
    Directory::new(&DirectorySettings {
        fhir: settings,
        extraction: ExtractionSettings::default(),
        ..DirectorySettings::default()
    })
    .unwrap()
}

/// (address, type code or "-", description) of each mailbox.
fn mailboxes(p: &DirectoryProfessional) -> Vec<(String, String, String)> {
    p.addresses
        .iter()
        .map(|m| {
            (
                m.address.clone(),
                m.mailbox_type
                    .map_or("-".to_owned(), |t| t.code().to_owned()),
                m.description.clone(),
            )
        })
        .collect()
}

fn row(address: &str, kind: &str, description: &str) -> (String, String, String) {
    (address.into(), kind.into(), description.into())
}

#[tokio::test]
async fn by_rpps_the_cps_holder_and_dr_fouquerey_with_their_personal_mailboxes() {
    let sandbox = sandbox().await;
    let directory = fhir_directory(settings(&sandbox.base_url(), SANDBOX_API_KEY));

    let holder = directory.by_rpps("10001234565").await.unwrap();
    assert_eq!(holder.len(), 1, "{holder:?}");
    let holder = &holder[0];
    assert_eq!(
        (
            holder.rpps.as_str(),
            holder.national_id.as_str(),
            holder.last_name.as_str(),
            holder.first_name.as_str(),
            holder.profession.as_str(),
            holder.source
        ),
        (
            "10001234565",
            "810001234565",
            "MEDECIN SANDBOX0001",
            "Jeanne",
            "Médecin",
            DirectorySource::Fhir
        )
    );
    assert_eq!(
        mailboxes(holder),
        [row(
            "jeanne.medecin@passerelle-sandbox.mssante.fr",
            "PER",
            ""
        )]
    );
    assert_eq!(holder.addresses[0].rank, Some(1));

    // His personal mailbox is carried by his PractitionerRole (RPPS + his practice); the
    // IDNPS form of the RPPS finds him too.
    let fouquerey = directory.by_rpps("899900063480").await.unwrap();
    assert_eq!(fouquerey.len(), 1);
    assert_eq!(
        mailboxes(&fouquerey[0]),
        [row(
            "jean.fouquerey@passerelle-sandbox.mssante.fr",
            "PER",
            "CABINET DU DR FOUQUEREY"
        )]
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn several_mailboxes_from_both_carriers_and_no_other_email() {
    let sandbox = sandbox().await;
    let directory = fhir_directory(settings(&sandbox.base_url(), SANDBOX_API_KEY));
    // 99900123450 fails the RPPS check digit: the directory holds such numbers; kept.
    let found = directory.by_rpps("99900123450").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].last_name, "LEFÈVRE");
    assert_eq!(found[0].first_name, "Hélène Marie");
    // Personal by rank, the Practitioner's then the active PractitionerRole's; the practice
    // mailbox typed only by its e-mail type (no metadata: type unknown). Not listed: the
    // red-listed one, the inactive activity's, a plain e-mail, an APICRYPT address.
    assert_eq!(
        mailboxes(&found[0]),
        [
            row("helene.lefevre@passerelle-sandbox.mssante.fr", "PER", ""),
            row(
                "h.lefevre.cds@passerelle-sandbox.mssante.fr",
                "PER",
                "Consultations au centre de santé"
            ),
            row("cabinet.lefevre@passerelle-sandbox.mssante.fr", "-", ""),
        ]
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn by_name_homonyms_given_name_and_accents() {
    let sandbox = sandbox().await;
    let directory = fhir_directory(settings(&sandbox.base_url(), SANDBOX_API_KEY));

    let both = directory.by_name("fouquerey", None).await.unwrap();
    let names: Vec<_> = both
        .iter()
        .map(|p| {
            (
                p.first_name.as_str(),
                p.rpps.as_str(),
                p.profession.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Jean", "99900063480", "Médecin"),
            ("Pierre", "99900071236", "Pharmacien")
        ]
    );
    assert_eq!(
        both[0].addresses[0].address,
        "jean.fouquerey@passerelle-sandbox.mssante.fr"
    );

    let pierre = directory
        .by_name("FOUQUEREY", Some("pierre"))
        .await
        .unwrap();
    assert_eq!(pierre.len(), 1);
    // Metadata without the e-mail type extension (as the ANS's own Bundle example): a mailbox.
    assert_eq!(
        mailboxes(&pierre[0]),
        [row(
            "pierre.fouquerey@passerelle-sandbox.mssante.fr",
            "PER",
            ""
        )]
    );

    let lefevre = directory.by_name("Lefevre", Some("Helene")).await.unwrap();
    assert_eq!(lefevre.len(), 1);
    assert_eq!(lefevre[0].rpps, "99900123450");

    assert!(directory.by_name("NOBODY", None).await.unwrap().is_empty());
    assert!(matches!(
        directory.by_name("  ", None).await,
        Err(DirectoryError::EmptyName)
    ));
    sandbox.stop().await;
}

#[tokio::test]
async fn a_professional_without_mailbox_and_an_unknown_rpps() {
    let sandbox = sandbox().await;
    let directory = fhir_directory(settings(&sandbox.base_url(), SANDBOX_API_KEY));
    let bernard = directory.by_rpps("99900080013").await.unwrap();
    assert_eq!(bernard.len(), 1);
    assert_eq!(
        (
            bernard[0].last_name.as_str(),
            bernard[0].profession.as_str()
        ),
        ("BERNARD", "Infirmier")
    );
    assert!(bernard[0].addresses.is_empty(), "{bernard:?}");

    assert!(directory.by_rpps("10000000000").await.unwrap().is_empty());
    assert!(matches!(
        directory.by_rpps("1234").await,
        Err(DirectoryError::InvalidRpps { .. })
    ));
    sandbox.stop().await;
}

#[tokio::test]
async fn a_wrong_api_key_is_a_typed_error_saying_what_to_check() {
    let sandbox = sandbox().await;
    let directory = fhir_directory(settings(&sandbox.base_url(), "not-the-key"));
    let error = directory.by_rpps("10001234565").await.unwrap_err();
    assert!(
        matches!(
            &error,
            DirectoryError::Fhir(FhirError::Unauthorized { status: 401, .. })
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("refused the API key")
            && message.contains("mss.directory.fhir.api_key")
            && message.contains("the API key is not valid"),
        "{message}"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn pages_are_followed_and_too_many_results_are_refused() {
    let sandbox = sandbox().await;
    let directory = fhir_directory(FhirSettings {
        page_size: 1,
        ..settings(&sandbox.base_url(), SANDBOX_API_KEY)
    });
    let both = directory.by_name("FOUQUEREY", None).await.unwrap();
    assert_eq!(both.len(), 2);
    // Each page brings its professional's PractitionerRoles.
    assert_eq!(
        both[0].addresses[0].address,
        "jean.fouquerey@passerelle-sandbox.mssante.fr"
    );
    assert_eq!(
        both[1].addresses[0].address,
        "pierre.fouquerey@passerelle-sandbox.mssante.fr"
    );

    let narrow = fhir_directory(FhirSettings {
        page_size: 1,
        max_results: 1,
        ..settings(&sandbox.base_url(), SANDBOX_API_KEY)
    });
    let error = narrow.by_name("FOUQUEREY", None).await.unwrap_err();
    assert!(
        matches!(error, DirectoryError::TooManyResults { found: 2, limit: 1 }),
        "{error:?}"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn the_rate_limit_spaces_calls() {
    let sandbox = sandbox().await;
    let client = FhirClient::new(&FhirSettings {
        rate_per_sec: 10,
        ..settings(&sandbox.base_url(), SANDBOX_API_KEY)
    })
    .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..4 {
        client.by_rpps("10001234565").await.unwrap();
    }
    // Four calls at 10 a second: three intervals of 100 ms at least.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_a_tls_error() {
    let sandbox = sandbox().await;
    // The system's trust store does not hold the sandbox CA.
    let directory = fhir_directory(FhirSettings {
        trusted_ca: Vec::new(),
        ..settings(&sandbox.base_url(), SANDBOX_API_KEY)
    });
    let error = directory.by_rpps("10001234565").await.unwrap_err();
    assert!(
        matches!(&error, DirectoryError::Fhir(FhirError::Tls { reason }) if reason.contains("trusted CA")),
        "{error:?}"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn no_source_configured() {
    let directory = Directory::new(&DirectorySettings::default()).unwrap();
    assert!(matches!(
        directory.by_rpps("10001234565").await,
        Err(DirectoryError::NotConfigured)
    ));
    assert!(matches!(
        directory.import_extraction(Path::new("x.txt")).await,
        Err(ImportError::NotConfigured)
    ));
}

// --- The ANS's official examples (read from the shared specs, not copied) ---

fn example(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
        .join("specs/annuaire/examples");
    assert!(
        dir.is_dir(),
        "shared test material not found at {}: set PASSERELLE_SHARED_DIR",
        dir.display()
    );
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn official_bundle_of_personal_mailboxes() {
    let bundle = fhir::parse_bundle(&example("Bundle-mss-bundle-bal-per-full.json")).unwrap();
    assert_eq!(bundle.total, Some(2));
    let found = fhir::professionals(&[bundle]);
    let summary: Vec<_> = found
        .iter()
        .map(|p| {
            (
                p.rpps.as_str(),
                p.national_id.as_str(),
                p.last_name.as_str(),
                p.first_name.as_str(),
            )
        })
        .collect();
    // Identified by the IDNPS only: the RPPS is the IDNPS without its leading 8.
    assert_eq!(
        summary,
        [
            ("10003456789", "810003456789", "DUPONT", "Jean-Marie"),
            ("10007654321", "810007654321", "MARTIN", "Sophie")
        ]
    );
    // The metadata extension without the e-mail type extension: mailboxes all the same.
    assert_eq!(
        mailboxes(&found[0]),
        [row("jean-marie.dupont@infirmier.mssante.fr", "PER", "")]
    );
    assert_eq!(
        mailboxes(&found[1]),
        [row("sophie.martin@medecin.mssante.fr", "PER", "")]
    );
}

#[test]
fn official_practitioner_with_a_failing_check_digit_and_a_plain_email() {
    let practitioner: serde_json::Value =
        serde_json::from_slice(&example("Practitioner-3719500.json")).unwrap();
    let bundle = serde_json::json!({
        "resourceType": "Bundle", "type": "searchset", "total": 1,
        "entry": [{ "resource": practitioner, "search": { "mode": "match" } }]
    });
    let bundle = fhir::parse_bundle(&serde_json::to_vec(&bundle).unwrap()).unwrap();
    let found = fhir::professionals(&[bundle]);
    assert_eq!(found.len(), 1);
    let p = &found[0];
    assert_eq!(
        (
            p.rpps.as_str(),
            p.last_name.as_str(),
            p.first_name.as_str(),
            p.profession.as_str()
        ),
        ("10102727017", "CHATELIER", "David", "Pharmacien")
    );
    // davidchatelier@orange.fr is a plain contact e-mail, not a mailbox.
    assert_eq!(
        mailboxes(p),
        [row("davidchatelier@pro.mssante.fr", "PER", "")]
    );
    assert_eq!(p.addresses[0].rank, Some(1));
}

#[test]
fn official_organizations_mailboxes() {
    let nancy =
        fhir::resource_mailboxes(&example("Organization-example-organization-nancy.json")).unwrap();
    assert_eq!(nancy.len(), 1, "{nancy:?}");
    assert_eq!(nancy[0].address, "exemple.address@address.mssante.fr");
    assert_eq!(nancy[0].mailbox_type, Some(MailboxType::Organisational));
    assert_eq!(nancy[0].description, "Description-mss");
    let pharmacy = fhir::resource_mailboxes(&example("Organization-481677.json")).unwrap();
    assert_eq!(pharmacy.len(), 1);
    assert_eq!(pharmacy[0].mailbox_type, Some(MailboxType::Organisational));
}

// --- The extraction file ---

const HEADER: &str = "Type de BAL|Adresse BAL|Type Identifiant PP|Identifiant PP|Identification nationale PP|Type identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|Nom d'exercice|Prénom d'exercice|Catégorie profession|Libellé de catégorie profession|Code Profession|Libellé Profession|Code savoir-faire|Libellé savoir-faire|Dématérialisation|Raison Sociale structure BAL|Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION|L3COMPLEMENTDISTRIBUTION|L4NUMEROVOIE|L4COMPLEMENTNUMEROVOIE|NL4TYPEVOIE|L4LIBELLEVOIE|L5LIEUDITMENTION|L6LIGNEACHEMINEMENT|Code postal|Département|Pays|";

/// A line of the 31 columns.
#[allow(clippy::too_many_arguments)]
fn line(
    kind: &str,
    address: &str,
    rpps: &str,
    service: &str,
    last: &str,
    first: &str,
    profession: &str,
    structure: &str,
) -> String {
    let (id_type, national) = if rpps.is_empty() {
        (String::new(), String::new())
    } else {
        ("8".to_owned(), format!("8{rpps}"))
    };
    format!(
        "{kind}|{address}|{id_type}|{rpps}|{national}|1|1999000003|{service}|DR|{last}|{first}|C|Civil|10|{profession}|||O|{structure}||||||||||75001|75|FRANCE|"
    )
}

fn extraction_text() -> String {
    [
        HEADER.to_owned(),
        line(
            "PER",
            "jean.fouquerey@passerelle-sandbox.mssante.fr",
            "99900063480",
            "",
            "FOUQUEREY",
            "Jean",
            "Médecin",
            "CABINET DU DR FOUQUEREY",
        ),
        line(
            "PER",
            "pierre.fouquerey@passerelle-sandbox.mssante.fr",
            "99900071236",
            "",
            "FOUQUEREY",
            "Pierre",
            "Pharmacien",
            "PHARMACIE SANDBOX",
        ),
        // Line 4: cut short.
        "PER".to_owned(),
        line(
            "ORG",
            "secretariat@passerelle-sandbox.mssante.fr",
            "",
            "Secrétariat médical",
            "",
            "",
            "",
            "CENTRE DE SANTE PASSERELLE SANDBOX",
        ),
        // Line 6: the same address again (the first is kept).
        line(
            "PER",
            "Jean.Fouquerey@passerelle-sandbox.mssante.fr",
            "99900063480",
            "",
            "FOUQUEREY",
            "Jean",
            "Médecin",
            "AUTRE",
        ),
        // Line 7: not a mailbox type.
        line(
            "XYZ",
            "x@passerelle-sandbox.mssante.fr",
            "",
            "",
            "",
            "",
            "",
            "",
        ),
        String::new(),
        // Line 9: not an address; the RPPS check digit fails, which is no reason to reject.
        line(
            "PER",
            "helene.lefevre.passerelle-sandbox.mssante.fr",
            "99900123450",
            "",
            "LEFÈVRE",
            "Hélène",
            "Médecin",
            "",
        ),
        line(
            "PER",
            "helene.lefevre@passerelle-sandbox.mssante.fr",
            "99900123450",
            "",
            "LEFÈVRE",
            "Hélène",
            "Médecin",
            "",
        ),
    ]
    .join("\r\n")
        + "\r\n"
}

fn extraction_directory(index: &Path) -> Directory {
    Directory::from_sources(None, Some(ExtractionIndex::new(index, 50)))
}

#[tokio::test]
async fn the_extraction_is_imported_with_rejected_lines_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir
        .path()
        .join("Extraction_Correspondance_MSSante_202601050600.txt");
    std::fs::write(&file, extraction_text()).unwrap();
    let directory = extraction_directory(&dir.path().join("index/directory.redb"));

    assert!(matches!(
        directory.by_rpps("99900063480").await,
        Err(DirectoryError::NotImported { .. })
    ));

    let report = directory.import_extraction(&file).await.unwrap();
    assert_eq!(
        (
            report.lines,
            report.mailboxes,
            report.duplicates,
            report.rejected
        ),
        (8, 4, 1, 3)
    );
    let rejected: Vec<_> = report
        .rejected_lines
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(rejected[0].0, 4);
    assert!(rejected[0].1.contains("field(s)"), "{rejected:?}");
    assert_eq!(
        rejected[1],
        (7, "Type de BAL \"XYZ\" is not PER, ORG, APP or CAB")
    );
    assert_eq!(rejected[2], (9, "Adresse BAL: no @"));
    assert_eq!(
        report.source,
        "Extraction_Correspondance_MSSante_202601050600.txt"
    );

    let jean = directory.by_rpps("99900063480").await.unwrap();
    assert_eq!(jean.len(), 1);
    assert_eq!(jean[0].source, DirectorySource::Extraction);
    assert_eq!(
        (jean[0].last_name.as_str(), jean[0].profession.as_str()),
        ("FOUQUEREY", "Médecin")
    );
    assert_eq!(
        mailboxes(&jean[0]),
        [row(
            "jean.fouquerey@passerelle-sandbox.mssante.fr",
            "PER",
            "CABINET DU DR FOUQUEREY"
        )]
    );
    let names: Vec<_> = directory
        .by_name("Fouquerey", None)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.first_name)
        .collect();
    assert_eq!(names, ["Jean", "Pierre"]);
    let helene = directory.by_name("lefevre", Some("helene")).await.unwrap();
    assert_eq!(helene.len(), 1);
    assert_eq!(helene[0].rpps, "99900123450");
    assert!(directory.by_rpps("10001234565").await.unwrap().is_empty());

    let info = directory.extraction_info().await.unwrap().unwrap();
    assert_eq!(info.report, report);
}

#[tokio::test]
async fn a_zipped_extraction_replaces_the_previous_import_whole() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("directory.redb");
    let directory = extraction_directory(&index);
    let first = dir.path().join("first.txt");
    std::fs::write(&first, extraction_text()).unwrap();
    directory.import_extraction(&first).await.unwrap();
    assert_eq!(directory.by_rpps("99900071236").await.unwrap().len(), 1);

    // The zip as downloaded: one .txt inside; only Dr Jean FOUQUEREY now.
    let zip_path = dir
        .path()
        .join("Extraction_Correspondance_MSSante_202601060600.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        zip.start_file(
            "Extraction_Correspondance_MSSante_202601060600.txt",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        let text = format!(
            "{HEADER}\n{}\n",
            line(
                "PER",
                "jean.fouquerey@passerelle-sandbox.mssante.fr",
                "99900063480",
                "",
                "FOUQUEREY",
                "Jean",
                "Médecin",
                "",
            )
        );
        zip.write_all(text.as_bytes()).unwrap();
        zip.finish().unwrap();
    }
    let report = directory.import_extraction(&zip_path).await.unwrap();
    assert_eq!((report.lines, report.mailboxes), (1, 1));
    assert_eq!(
        report.source,
        "Extraction_Correspondance_MSSante_202601060600.txt"
    );
    assert!(directory.by_rpps("99900071236").await.unwrap().is_empty());
    assert_eq!(directory.by_rpps("99900063480").await.unwrap().len(), 1);

    // A file with no mailbox leaves the index as it was.
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, format!("{HEADER}\nPER|nope|\n")).unwrap();
    let error = directory.import_extraction(&bad).await.unwrap_err();
    assert!(
        matches!(
            error,
            ImportError::NothingImported {
                lines: 1,
                rejected: 1
            }
        ),
        "{error:?}"
    );
    // Not an extraction file at all.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, "Nom|Prénom\nA|B\n").unwrap();
    assert!(matches!(
        directory.import_extraction(&other).await,
        Err(ImportError::Extraction(_))
    ));
    assert_eq!(directory.by_rpps("99900063480").await.unwrap().len(), 1);
    // No file left behind by the failed imports.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("importing"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn the_extraction_answers_when_the_api_is_unavailable_not_when_it_refuses_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("extraction.txt");
    std::fs::write(&file, extraction_text()).unwrap();
    let index = ExtractionIndex::new(&dir.path().join("directory.redb"), 50);
    index.import(&file).await.unwrap();

    // Nobody listens on this port any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let down = FhirClient::new(&settings(
        &format!("https://{closed}/fhir/v2"),
        SANDBOX_API_KEY,
    ))
    .unwrap();
    let directory = Directory::from_sources(Some(down), Some(index.clone()));
    let found = directory.by_rpps("99900063480").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].source, DirectorySource::Extraction);

    let sandbox = sandbox().await;
    let refused = FhirClient::new(&settings(&sandbox.base_url(), "revoked-key")).unwrap();
    let directory = Directory::from_sources(Some(refused), Some(index));
    assert!(matches!(
        directory.by_rpps("99900063480").await,
        Err(DirectoryError::Fhir(FhirError::Unauthorized { .. }))
    ));
    sandbox.stop().await;
}

// --- The owner of an address ---

#[tokio::test]
async fn by_address_on_both_carriers_and_an_organisation() {
    let sandbox = sandbox().await;
    let directory = fhir_directory(settings(&sandbox.base_url(), SANDBOX_API_KEY));

    // On the Practitioner.
    let holder = directory
        .by_address("jeanne.medecin@passerelle-sandbox.mssante.fr")
        .await
        .unwrap();
    assert_eq!(holder.len(), 1, "{holder:?}");
    assert_eq!(
        (holder[0].rpps.as_str(), holder[0].source),
        ("10001234565", DirectorySource::Fhir)
    );

    // On his PractitionerRole; typed with capitals.
    let fouquerey = directory
        .by_address(" Jean.Fouquerey@Passerelle-Sandbox.MSSante.fr ")
        .await
        .unwrap();
    assert_eq!(fouquerey.len(), 1, "{fouquerey:?}");
    assert_eq!(
        (
            fouquerey[0].rpps.as_str(),
            fouquerey[0].last_name.as_str(),
            fouquerey[0].first_name.as_str()
        ),
        ("99900063480", "FOUQUEREY", "Jean")
    );

    // On one of her activities: she comes with all her published mailboxes, as by RPPS.
    let lefevre = directory
        .by_address("h.lefevre.cds@passerelle-sandbox.mssante.fr")
        .await
        .unwrap();
    assert_eq!(lefevre.len(), 1);
    assert_eq!(
        mailboxes(&lefevre[0]),
        mailboxes(&directory.by_rpps("99900123450").await.unwrap()[0])
    );
    assert_eq!(lefevre[0].addresses.len(), 3);

    // The health centre's applicative mailbox: the organisation, with its mailboxes.
    let centre = directory
        .by_address("lps@passerelle-sandbox.mssante.fr")
        .await
        .unwrap();
    assert_eq!(centre.len(), 1, "{centre:?}");
    let centre = &centre[0];
    assert_eq!(
        (
            centre.rpps.as_str(),
            centre.national_id.as_str(),
            centre.last_name.as_str(),
            centre.first_name.as_str()
        ),
        ("", "1999000003", "CENTRE DE SANTE PASSERELLE SANDBOX", "")
    );
    assert_eq!(
        mailboxes(centre),
        [
            row(
                "secretariat@passerelle-sandbox.mssante.fr",
                "ORG",
                "Secrétariat médical"
            ),
            row(
                "lps@passerelle-sandbox.mssante.fr",
                "APP",
                "Logiciel du centre (Passerelle)"
            )
        ]
    );
    let secretariat = directory
        .by_address("secretariat@passerelle-sandbox.mssante.fr")
        .await
        .unwrap();
    assert_eq!(
        secretariat[0].last_name,
        "CENTRE DE SANTE PASSERELLE SANDBOX"
    );

    // Not published: unknown, the start of a real address (the server's string search
    // matches it; the address is compared whole), red-listed, a closed activity's, a plain
    // e-mail.
    for address in [
        "nobody@passerelle-sandbox.mssante.fr",
        "jeanne.medecin@passerelle-sandbox.mssante",
        "jean.fouquerey@passerelle-sandbox.mssante",
        "lps@passerelle-sandbox.mssante",
        "h.lefevre.prive@passerelle-sandbox.mssante.fr",
        "h.lefevre.ancien@passerelle-sandbox.mssante.fr",
        "helene.lefevre@example.org",
    ] {
        assert!(
            directory.by_address(address).await.unwrap().is_empty(),
            "{address}"
        );
    }
    assert!(matches!(
        directory
            .by_address("fouquerey.passerelle-sandbox.mssante.fr")
            .await,
        Err(DirectoryError::InvalidAddress { .. })
    ));
    sandbox.stop().await;
}

#[tokio::test]
async fn by_address_in_the_extraction() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("extraction.txt");
    std::fs::write(&file, extraction_text()).unwrap();
    let directory = extraction_directory(&dir.path().join("directory.redb"));
    assert!(matches!(
        directory
            .by_address("jean.fouquerey@passerelle-sandbox.mssante.fr")
            .await,
        Err(DirectoryError::NotImported { .. })
    ));
    directory.import_extraction(&file).await.unwrap();

    let jean = directory
        .by_address("JEAN.FOUQUEREY@passerelle-sandbox.mssante.fr")
        .await
        .unwrap();
    assert_eq!(jean.len(), 1);
    assert_eq!(
        (
            jean[0].rpps.as_str(),
            jean[0].first_name.as_str(),
            jean[0].source
        ),
        ("99900063480", "Jean", DirectorySource::Extraction)
    );
    // An organisation's mailbox: named by its structure, as the API names an Organization.
    let centre = directory
        .by_address("secretariat@passerelle-sandbox.mssante.fr")
        .await
        .unwrap();
    assert_eq!(centre.len(), 1);
    assert_eq!(
        (
            centre[0].rpps.as_str(),
            centre[0].national_id.as_str(),
            centre[0].last_name.as_str()
        ),
        ("", "1999000003", "CENTRE DE SANTE PASSERELLE SANDBOX")
    );
    assert_eq!(
        mailboxes(&centre[0]),
        [row(
            "secretariat@passerelle-sandbox.mssante.fr",
            "ORG",
            "Secrétariat médical"
        )]
    );
    assert!(
        directory
            .by_address("lps@passerelle-sandbox.mssante.fr")
            .await
            .unwrap()
            .is_empty()
    );
}

// --- Both sources: the preferred one answers, the other fills in ---

/// Dr Jean FOUQUEREY as the file describes him, and Dr Émile ZOLA, in the file only.
fn file_with_a_newcomer() -> String {
    [
        HEADER.to_owned(),
        line(
            "PER",
            "jean.fouquerey@passerelle-sandbox.mssante.fr",
            "99900063480",
            "",
            "FOUQUEREY",
            "Jean",
            "Médecin",
            "CABINET (FICHIER)",
        ),
        line(
            "PER",
            "emile.zola@passerelle-sandbox.mssante.fr",
            "99900099990",
            "",
            "ZOLA",
            "Émile",
            "Médecin",
            "",
        ),
    ]
    .join("\n")
        + "\n"
}

#[tokio::test]
async fn with_both_sources_the_preferred_one_answers_and_the_other_fills_in() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("extraction.txt");
    std::fs::write(&file, file_with_a_newcomer()).unwrap();
    let index = ExtractionIndex::new(&dir.path().join("directory.redb"), 50);
    index.import(&file).await.unwrap();
    let sandbox = sandbox().await;
    let api = || FhirClient::new(&settings(&sandbox.base_url(), SANDBOX_API_KEY)).unwrap();
    let sources = |found: &[DirectoryProfessional]| -> Vec<DirectorySource> {
        found.iter().map(|p| p.source).collect()
    };

    // The API first (the default): it answers whom it knows; the file only whom it does not.
    let api_first = Directory::from_sources(Some(api()), Some(index.clone()));
    let both = api_first.by_name("FOUQUEREY", None).await.unwrap();
    assert_eq!(
        sources(&both),
        [DirectorySource::Fhir, DirectorySource::Fhir]
    );
    let zola = api_first.by_name("zola", None).await.unwrap();
    assert_eq!(sources(&zola), [DirectorySource::Extraction]);
    assert_eq!(zola[0].rpps, "99900099990");
    let zola = api_first
        .by_address("emile.zola@passerelle-sandbox.mssante.fr")
        .await
        .unwrap();
    assert_eq!(sources(&zola), [DirectorySource::Extraction]);
    assert!(api_first.by_name("NOBODY", None).await.unwrap().is_empty());

    // The file first: it answers whom it holds, the API the others.
    let file_first = Directory::from_sources(Some(api()), Some(index.clone()))
        .preferring(Preference::Extraction);
    let jean = file_first.by_rpps("99900063480").await.unwrap();
    assert_eq!(sources(&jean), [DirectorySource::Extraction]);
    assert_eq!(jean[0].addresses[0].description, "CABINET (FICHIER)");
    let holder = file_first.by_rpps("10001234565").await.unwrap();
    assert_eq!(sources(&holder), [DirectorySource::Fhir]);
    let centre = file_first
        .by_address("lps@passerelle-sandbox.mssante.fr")
        .await
        .unwrap();
    assert_eq!(sources(&centre), [DirectorySource::Fhir]);

    // A refused key is never hidden, even when the API only fills in.
    let refused = FhirClient::new(&settings(&sandbox.base_url(), "revoked-key")).unwrap();
    let file_first =
        Directory::from_sources(Some(refused), Some(index)).preferring(Preference::Extraction);
    assert_eq!(file_first.by_name("ZOLA", None).await.unwrap().len(), 1);
    assert!(matches!(
        file_first.by_rpps("10001234565").await,
        Err(DirectoryError::Fhir(FhirError::Unauthorized { .. }))
    ));

    // The setting.
    let settings: DirectorySettings = serde_json::from_str(r#"{"prefer": "extraction"}"#).unwrap();
    assert_eq!(settings.prefer, Preference::Extraction);
    assert_eq!(DirectorySettings::default().prefer, Preference::Fhir);
    sandbox.stop().await;
}

#[tokio::test]
async fn the_api_unreachable_and_nothing_imported_is_the_api_failure() {
    let dir = tempfile::tempdir().unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let down = FhirClient::new(&settings(
        &format!("https://{closed}/fhir/v2"),
        SANDBOX_API_KEY,
    ))
    .unwrap();
    let directory = Directory::from_sources(
        Some(down),
        Some(ExtractionIndex::new(&dir.path().join("directory.redb"), 50)),
    );
    assert!(matches!(
        directory.by_rpps("99900063480").await,
        Err(DirectoryError::Fhir(FhirError::Unavailable { .. }))
    ));
}

// --- The service: typed recipients checked, the extraction imported ---

mod service {
    use super::*;
    use std::sync::Arc;

    use futures::StreamExt;
    use mss_service::access::Resolver;
    use mss_service::errors::reasons;
    use mss_service::service::MssCore;
    use mss_service::smtp::{ClientIdentity, SmtpClient, SmtpSettings, SmtpTls};
    use mss_service::{MssSettings, directory::Preference};
    use passerelle_bus::SharedBus;
    use passerelle_bus::documents::{DocumentLimits, NewDocument, SharedDocumentStore};
    use passerelle_bus::in_process::InProcessBus;
    use passerelle_proto::common::v1 as common;
    use passerelle_proto::mss::v1 as api;
    use passerelle_service_kit::RequestId;
    use passerelle_service_kit::audit::InsHasher;
    use passerelle_service_kit::errors::summarise;
    use tonic::{Code, Status};

    pub const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";

    pub struct Service {
        pub core: MssCore,
        pub documents: SharedDocumentStore,
        _bus: SharedBus,
    }

    /// The service over `directory`, its SMTP server a closed port: a send that went past
    /// the checks fails to connect (SMTP_UNAVAILABLE).
    pub async fn service(directory: Directory) -> Service {
        let pki = pki();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let smtp = SmtpClient::new(&SmtpSettings {
            host: "127.0.0.1".to_owned(),
            port: Some(closed.port()),
            tls: SmtpTls {
                identity: Some(ClientIdentity::Pem {
                    cert: pki.org_cert.clone(),
                    key: pki.org_key.clone(),
                }),
                trusted_ca: vec![pki.ca_cert.clone()],
                ..SmtpTls::default()
            },
            ..SmtpSettings::default()
        })
        .unwrap();
        let mut settings = MssSettings::default();
        settings.mss.default_from = Some("lps@passerelle-sandbox.mssante.fr".to_owned());
        settings.mss.source_id = "1.2.250.1.999.1.1".to_owned();
        settings.mss.test_platform = true;
        let bus: SharedBus = Arc::new(InProcessBus::new());
        let documents = bus.documents(DocumentLimits::default()).await.unwrap();
        let core = MssCore::new(
            settings,
            Some(smtp),
            directory,
            Resolver {
                bus: bus.clone(),
                card_timeout: Duration::from_secs(2),
            },
            documents.clone(),
            InsHasher::from_settings(&Default::default()).unwrap(),
            None,
        );
        Service {
            core,
            documents,
            _bus: bus,
        }
    }

    fn organisation() -> Option<common::Actor> {
        Some(common::Actor {
            mode: Some(common::actor::Mode::Organisation(
                common::OrganisationMode {
                    on_behalf_of: "directory-tests".to_owned(),
                },
            )),
            professional: Some(common::Professional {
                id_type: common::ProfessionalIdType::Rpps as i32,
                id: "10001234565".to_owned(),
                family_name: "MEDECIN".to_owned(),
                given_name: "JEANNE".to_owned(),
                profession: "10".to_owned(),
                specialty: "SM54".to_owned(),
                structure: Some(common::Structure {
                    id_type: common::StructureIdType::Finess as i32,
                    id: "999000003".to_owned(),
                    name: "CENTRE DE SANTE PASSERELLE SANDBOX".to_owned(),
                }),
                activity_sector: "SA05".to_owned(),
            }),
        })
    }

    /// CPS mode on a workstation where no card-agent answers: a send reaching the card fails
    /// there.
    fn card_nobody_holds() -> Option<common::Actor> {
        Some(common::Actor {
            mode: Some(common::actor::Mode::Cps(common::CpsMode {
                workstation_id: "no-agent-here".to_owned(),
            })),
            professional: None,
        })
    }

    pub fn request(to: &[&str], cc: &[&str], check: bool) -> api::SendRequest {
        api::SendRequest {
            actor: organisation(),
            to: to.iter().map(|s| (*s).to_owned()).collect(),
            cc: cc.iter().map(|s| (*s).to_owned()).collect(),
            subject: "Courrier".to_owned(),
            body: Some(api::Body {
                text: "Bonjour".to_owned(),
                html: String::new(),
            }),
            check_recipients: check,
            ..api::SendRequest::default()
        }
    }

    fn id() -> RequestId {
        RequestId::parse("req-directory").unwrap()
    }

    fn reason(status: &Status) -> String {
        summarise(status).reason.unwrap_or_default()
    }

    #[tokio::test]
    async fn typed_recipients_are_checked_before_the_card_and_the_connection() {
        let sandbox = sandbox().await;
        let s = service(fhir_directory(settings(
            &sandbox.base_url(),
            SANDBOX_API_KEY,
        )))
        .await;

        // Every one published (a PractitionerRole's, a Practitioner's, an organisation's).
        let preview = s
            .core
            .preview(
                &id(),
                request(
                    &[FOUQUEREY, "Jeanne.Medecin@passerelle-sandbox.mssante.fr"],
                    &["secretariat@passerelle-sandbox.mssante.fr"],
                    true,
                ),
            )
            .await
            .unwrap();
        assert_eq!(preview.messages.len(), 1);

        // A typo and an unknown mailbox: named by their fields, never repeated; the card is
        // not asked and no connection is opened.
        let typo = "jean.fouqerey@passerelle-sandbox.mssante.fr";
        let mut req = request(
            &[FOUQUEREY, typo],
            &[
                "secretariat@passerelle-sandbox.mssante.fr",
                "nobody@passerelle-sandbox.mssante.fr",
            ],
            true,
        );
        req.actor = card_nobody_holds();
        let status = Status::from(s.core.send(&id(), req.clone()).await.unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(reason(&status), reasons::INVALID_ADDRESS);
        assert_eq!(summarise(&status).field.as_deref(), Some("to[1]"));
        let message = status.message();
        assert!(
            message.contains("to[1], cc[1] are not MSSanté mailboxes in the directory")
                && message.contains("passerelle mss directory"),
            "{message}"
        );
        assert!(
            !message.contains("fouqerey") && !message.contains("nobody"),
            "{message}"
        );

        // Without the check, the same send goes on to the card (and would reach the server).
        req.check_recipients = false;
        let status = Status::from(s.core.send(&id(), req.clone()).await.unwrap_err());
        assert_eq!(
            summarise(&status).field.as_deref(),
            Some("actor.cps"),
            "{status:?}"
        );
        // With the check and the right addresses, on to the card as well.
        req.check_recipients = true;
        req.to = vec![FOUQUEREY.to_owned()];
        req.cc = vec!["secretariat@passerelle-sandbox.mssante.fr".to_owned()];
        let past_the_check = Status::from(s.core.send(&id(), req).await.unwrap_err());
        assert_eq!(
            summarise(&past_the_check).field.as_deref(),
            Some("actor.cps"),
            "{past_the_check:?}"
        );

        // Organisation mode, past the check: the connection to the (closed) server.
        let status = Status::from(
            s.core
                .send(&id(), request(&[FOUQUEREY], &[], true))
                .await
                .unwrap_err(),
        );
        assert_eq!(reason(&status), reasons::SMTP_UNAVAILABLE, "{status:?}");
        sandbox.stop().await;
    }

    #[tokio::test]
    async fn the_patients_mailbox_is_never_looked_up_and_a_directory_down_is_said() {
        // No directory at all: any professional recipient cannot be checked...
        let s = service(Directory::from_sources(None, None)).await;
        let status = Status::from(
            s.core
                .preview(&id(), request(&[FOUQUEREY], &[], true))
                .await
                .unwrap_err(),
        );
        assert_eq!(reason(&status), reasons::MSS_CONFIGURATION, "{status:?}");
        // ...but the patient's mailbox alone is not looked up.
        let mut req = request(&["248039263001064@patient.mssante.fr"], &[], true);
        req.patient = Some(common::PatientIdentity {
            matricule: "2480392630010".to_owned(),
            key: "64".to_owned(),
            oid: "1.2.250.1.213.1.4.8".to_owned(),
            birth_name: "PAT-DOUZE".to_owned(),
            first_names: vec!["NATHALIE".to_owned()],
            sex: common::Sex::Female as i32,
            birth_date: "1948-03-21".to_owned(),
            status: common::IdentityStatus::Qualifiee as i32,
            ..common::PatientIdentity::default()
        });
        let preview = s.core.preview(&id(), req).await.unwrap();
        assert_eq!(preview.messages.len(), 1);

        // The API unreachable (and no file to answer instead).
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let down = FhirClient::new(&settings(
            &format!("https://{closed}/fhir/v2"),
            SANDBOX_API_KEY,
        ))
        .unwrap();
        let s = service(Directory::from_sources(Some(down), None)).await;
        let status = Status::from(
            s.core
                .preview(&id(), request(&[FOUQUEREY], &[], true))
                .await
                .unwrap_err(),
        );
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            reason(&status),
            reasons::DIRECTORY_UNAVAILABLE,
            "{status:?}"
        );
    }

    async fn upload(documents: &SharedDocumentStore, name: &str, content: Vec<u8>) -> String {
        let size = content.len() as u64;
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = content
            .chunks(7)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        documents
            .put(
                NewDocument {
                    media_type: "text/plain".to_owned(),
                    file_name: Some(name.to_owned()),
                    declared_size: Some(size),
                },
                futures::stream::iter(chunks).boxed(),
            )
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn the_extraction_is_imported_from_the_document_store() {
        let dir = tempfile::tempdir().unwrap();
        let index_dir = dir.path().join("index");
        let directory = Directory::from_sources(
            None,
            Some(ExtractionIndex::new(&index_dir.join("directory.redb"), 50)),
        )
        .preferring(Preference::Extraction);
        let s = service(directory).await;

        let id_of_file = upload(
            &s.documents,
            "Extraction_Correspondance_MSSante_202601050600.txt",
            extraction_text().into_bytes(),
        )
        .await;
        let report = s
            .core
            .import_directory(
                &id(),
                api::ImportDirectoryRequest {
                    document_id: id_of_file,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (
                report.source.as_str(),
                report.lines,
                report.mailboxes,
                report.duplicates,
                report.rejected
            ),
            (
                "Extraction_Correspondance_MSSante_202601050600.txt",
                8,
                4,
                1,
                3
            )
        );
        let rejected: Vec<u64> = report.rejected_lines.iter().map(|r| r.line).collect();
        assert_eq!(rejected, [4, 7, 9]);
        assert_eq!(report.rejected_lines[2].reason, "Adresse BAL: no @");
        // The uploaded copy is gone; only the index is left.
        let left: Vec<_> = std::fs::read_dir(&index_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["directory.redb"]);

        let found = s
            .core
            .search_directory(
                &id(),
                api::SearchDirectoryRequest {
                    by: Some(api::search_directory_request::By::Address(
                        "secretariat@passerelle-sandbox.mssante.fr".to_owned(),
                    )),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            found.professionals[0].last_name,
            "CENTRE DE SANTE PASSERELLE SANDBOX"
        );
        // The check answers from the imported file.
        s.core
            .preview(&id(), request(&[FOUQUEREY], &[], true))
            .await
            .unwrap();

        // Not an extraction file: INVALID_DOCUMENT with the reason; the index is unchanged.
        let other = upload(&s.documents, "notes.txt", b"Nom|Prenom\nA|B\n".to_vec()).await;
        let status = Status::from(
            s.core
                .import_directory(&id(), api::ImportDirectoryRequest { document_id: other })
                .await
                .unwrap_err(),
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason(&status), reasons::INVALID_DOCUMENT);
        assert!(status.message().contains("Type de BAL"), "{status:?}");
        assert!(
            !s.core
                .search_directory(
                    &id(),
                    api::SearchDirectoryRequest {
                        by: Some(api::search_directory_request::By::Rpps(
                            "99900063480".to_owned()
                        )),
                    },
                )
                .await
                .unwrap()
                .professionals
                .is_empty()
        );
        // A document that is not in the store.
        let status = Status::from(
            s.core
                .import_directory(
                    &id(),
                    api::ImportDirectoryRequest {
                        document_id: uuid_like(),
                    },
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");

        // No index configured.
        let s = service(Directory::from_sources(None, None)).await;
        let file = upload(&s.documents, "x.txt", extraction_text().into_bytes()).await;
        let status = Status::from(
            s.core
                .import_directory(&id(), api::ImportDirectoryRequest { document_id: file })
                .await
                .unwrap_err(),
        );
        assert_eq!(reason(&status), reasons::MSS_CONFIGURATION, "{status:?}");
        assert!(status.message().contains("index_path"), "{status:?}");
    }

    fn uuid_like() -> String {
        "00000000-0000-4000-8000-000000000000".to_owned()
    }
}

// --- curl, an independent client of the sandbox ---

/// `curl` against the sandbox: the HTTP status and the body as JSON.
fn curl(url: &str, api_key: Option<&str>) -> (u16, serde_json::Value) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "--cacert"])
        .arg(&pki().ca_cert)
        .args(["-w", "\n%{http_code}"]);
    if let Some(key) = api_key {
        cmd.args(["-H", &format!("ESANTE-API-KEY: {key}")]);
    }
    let out = cmd.arg(url).output().unwrap_or_else(|e| {
        panic!("curl could not be run ({e}): install it (Debian package curl)")
    });
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (
        status.trim().parse().unwrap(),
        serde_json::from_str(body).unwrap(),
    )
}

#[tokio::test]
async fn curl_sees_the_api_shape() {
    let sandbox = sandbox().await;
    let base = sandbox.base_url();
    let url = format!(
        "{base}/Practitioner?identifier=10001234565&_revinclude=PractitionerRole:practitioner"
    );
    let (status, bundle) = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || curl(&url, Some(SANDBOX_API_KEY)))
            .await
            .unwrap()
    };
    assert_eq!(status, 200);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["total"], 1);
    let entries = bundle["entry"].as_array().unwrap();
    // The Practitioner (match) and its PractitionerRole (include).
    let modes: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e["resource"]["resourceType"].as_str().unwrap(),
                e["search"]["mode"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        modes,
        [("Practitioner", "match"), ("PractitionerRole", "include")]
    );
    let practitioner = &entries[0]["resource"];
    let identifiers: Vec<_> = practitioner["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["system"].as_str().unwrap(),
                i["value"].as_str().unwrap(),
                i["type"]["coding"][0]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        identifiers,
        [
            ("urn:oid:1.2.250.1.71.4.2.1", "810001234565", "IDNPS"),
            ("https://rpps.esante.gouv.fr", "10001234565", "RPPS")
        ]
    );
    let telecom = &practitioner["telecom"][0];
    assert_eq!(telecom["system"], "email");
    assert_eq!(
        telecom["value"],
        "jeanne.medecin@passerelle-sandbox.mssante.fr"
    );
    assert_eq!(
        telecom["extension"][0],
        serde_json::json!({
            "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type",
            "valueCoding": {
                "system": "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie",
                "code": "MSSANTE"
            }
        })
    );
    assert_eq!(
        telecom["extension"][1]["url"],
        "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata"
    );
    assert_eq!(
        telecom["extension"][1]["extension"][0],
        serde_json::json!({
            "url": "type",
            "valueCodeableConcept": { "coding": [{
                "system": "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL",
                "code": "PER"
            }] }
        })
    );

    // The organisation's applicative and organisational mailboxes.
    let (status, orgs) = {
        let url = format!("{base}/Organization?identifier=999000003");
        tokio::task::spawn_blocking(move || curl(&url, Some(SANDBOX_API_KEY)))
            .await
            .unwrap()
    };
    assert_eq!(status, 200);
    let org_mailboxes =
        fhir::resource_mailboxes(&serde_json::to_vec(&orgs["entry"][0]["resource"]).unwrap())
            .unwrap();
    let kinds: Vec<_> = org_mailboxes
        .iter()
        .map(|m| (m.address.as_str(), m.mailbox_type))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "lps@passerelle-sandbox.mssante.fr",
                Some(MailboxType::Applicative)
            ),
            (
                "secretariat@passerelle-sandbox.mssante.fr",
                Some(MailboxType::Organisational)
            )
        ]
    );

    // Without the key: 401 and an OperationOutcome, as the gateway answers.
    let (status, outcome) = tokio::task::spawn_blocking(move || curl(&url, None))
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["severity"], "error");
    sandbox.stop().await;
}
