//! The whole system in one process: the sandbox (INSi simulator + test PKI) and every service,
//! on the in-process bus or on NATS. Used by `passerelle up` and `passerelle demo`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use card_agent::backend::software::SoftwareTokenConfig;
use card_agent::config::BackendKind;
use card_agent::{CardAgentConfig, RunningCardAgent};
use dmp_service::config::SignatureKey;
use dmp_service::{DmpSettings, RunningDmpService};
use ins_service::insi::{ClientIdentity, ClientTls, InsiClientConfig, LpsContext};
use ins_service::{InsSettings, RunningInsService};
use mss_service::{MssSettings, RunningMssService};
use passerelle_bus::{SharedBus, in_process::InProcessBus, nats::NatsBus};
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig, RunningDmpSandbox};
use passerelle_sandbox::insi::SANDBOX_IDAM;
use passerelle_sandbox::insi::{
    FaultInjection, InsiSandbox, InsiSandboxConfig, RunningInsiSandbox,
};
use passerelle_sandbox::mss::directory::{
    DirectorySandbox, DirectorySandboxConfig, RunningDirectorySandbox, SANDBOX_API_KEY,
};
use passerelle_sandbox::mss::{MssFault, MssSandbox, MssSandboxConfig, RunningMssSandbox};
use passerelle_sandbox::pki::{CPS_CARD_ID, TestPki};
use passerelle_service_kit::Roles;
use passerelle_service_kit::Shutdown;
use passerelle_service_kit::settings::KitSettings;
use share_service::{RunningShareService, ShareSettings};

/// Default gRPC ports, one per service.
pub const INS_PORT: u16 = 50051;
pub const DMP_PORT: u16 = dmp_service::GRPC_PORT;
pub const MSS_PORT: u16 = mss_service::GRPC_PORT;
pub const SHARE_PORT: u16 = share_service::GRPC_PORT;
pub const CARD_PORT: u16 = card_agent::config::DEFAULT_GRPC_PORT;
/// Workstation id of the embedded card-agent.
pub const CARD_WORKSTATION: &str = "local";

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub data_dir: PathBuf,
    pub nats_url: Option<String>,
    pub ins_listen: SocketAddr,
    pub insi_listen: SocketAddr,
    pub insi_latency: Duration,
    pub insi_fault: Option<FaultInjection>,
    pub card_listen: SocketAddr,
    pub dmp_listen: SocketAddr,
    pub dmp_sandbox_listen: SocketAddr,
    pub dmp_latency: Duration,
    pub dmp_fault: Option<FaultInjection>,
    pub mss_listen: SocketAddr,
    /// The MSSanté sandbox's SMTP submission (STARTTLS) address.
    pub mss_smtp_listen: SocketAddr,
    /// The MSSanté sandbox's SMTP submission with implicit TLS.
    pub mss_smtp_tls_listen: SocketAddr,
    /// The MSSanté sandbox's IMAP (STARTTLS) and IMAPS (implicit TLS) addresses.
    pub mss_imap_listen: SocketAddr,
    pub mss_imaps_listen: SocketAddr,
    /// The directory sandbox (Annuaire Santé FHIR API).
    pub directory_listen: SocketAddr,
    pub mss_latency: Duration,
    pub mss_faults: Vec<MssFault>,
    /// gRPC address of the share service.
    pub share_listen: SocketAddr,
}

/// The software identity the embedded DMP client declares (VIHF `LPS_*`, HL7v3 sender).
pub const LPS_ID: &str = "1.2.250.1.999.1.1";
/// The sandbox's DMP homologation number of Passerelle (a test value).
pub const LPS_HOMOLOGATION: &str = "PASSERELLE-SANDBOX";

pub struct Embedded {
    pub pki: TestPki,
    pub bus: SharedBus,
    pub insi: RunningInsiSandbox,
    pub ins: RunningInsService,
    pub dmp_sandbox: RunningDmpSandbox,
    pub dmp: RunningDmpService,
    pub mss_sandbox: RunningMssSandbox,
    pub directory: RunningDirectorySandbox,
    pub mss: RunningMssService,
    pub share: RunningShareService,
    pub card: RunningCardAgent,
    shutdown: Shutdown,
}

impl Embedded {
    pub async fn start(opts: &EmbeddedOptions, shutdown: Shutdown) -> anyhow::Result<Self> {
        Self::start_with_vitale(opts, None, shutdown).await
    }

    /// As [`Embedded::start`], with a software carte Vitale (test/demo device, a TOML file of
    /// persons: `card_agent::backend::software::VitaleFile`) in a second reader of the
    /// card-agent.
    pub async fn start_with_vitale(
        opts: &EmbeddedOptions,
        vitale_file: Option<PathBuf>,
        shutdown: Shutdown,
    ) -> anyhow::Result<Self> {
        let pki_dir = opts.data_dir.join("pki");
        let pki = TestPki::ensure(&pki_dir)
            .with_context(|| format!("preparing the test PKI in {}", pki_dir.display()))?;
        let insi = InsiSandbox::start(
            InsiSandboxConfig {
                listen: opts.insi_listen,
                latency: opts.insi_latency,
                fault_injection: opts.insi_fault.clone(),
                ..Default::default()
            },
            &pki,
        )
        .await
        .context("starting the INSi sandbox")?;

        let bus: SharedBus = match opts.nats_url.as_deref() {
            Some(url) => {
                let nats = NatsBus::connect(url, Default::default())
                    .await
                    .with_context(|| format!("connecting to NATS at {url}"))?;
                // Events and audit records are kept by JetStream from the first one on.
                nats.ensure_events_stream()
                    .await
                    .context("creating the JetStream events stream")?;
                Arc::new(nats)
            }
            // Key-value entries, durable consumers and documents survive a restart.
            None => {
                let bus_dir = opts.data_dir.join("bus");
                Arc::new(InProcessBus::open(&bus_dir).with_context(|| {
                    format!("opening the embedded bus store in {}", bus_dir.display())
                })?)
            }
        };

        let kit = KitSettings::with_grpc_port(INS_PORT);
        let kit = KitSettings {
            grpc: passerelle_service_kit::settings::GrpcSettings {
                listen: opts.ins_listen,
                ..kit.grpc
            },
            ..kit
        };
        let cfg = InsSettings {
            insi: InsiClientConfig {
                endpoint: insi.url(),
                tls: ClientTls {
                    identity: ClientIdentity::Pem {
                        cert: pki.org_cert.clone(),
                        key: pki.org_key.clone(),
                    },
                    trusted_ca: vec![pki.ca_cert.clone()],
                },
                lps: LpsContext {
                    idam: SANDBOX_IDAM.to_owned(),
                    ..LpsContext::default()
                },
                emitter: "passerelle@sandbox.invalid".to_owned(),
                ..InsiClientConfig::default()
            },
            ..InsSettings::default()
        };
        let ins = ins_service::start(&kit, &cfg, bus.clone(), Roles::default(), shutdown.clone())
            .await
            .context("starting the INS service")?;

        let dmp_sandbox = DmpSandbox::start(
            DmpSandboxConfig {
                listen: opts.dmp_sandbox_listen,
                data_dir: opts.data_dir.join("dmp-sandbox"),
                latency: opts.dmp_latency,
                fault_injection: opts.dmp_fault.clone(),
                ..Default::default()
            },
            &pki,
        )
        .await
        .context("starting the DMP sandbox")?;
        let dmp_kit = KitSettings {
            grpc: passerelle_service_kit::settings::GrpcSettings {
                listen: opts.dmp_listen,
                ..KitSettings::with_grpc_port(DMP_PORT).grpc
            },
            ..KitSettings::with_grpc_port(DMP_PORT)
        };
        let dmp = dmp_service::start(
            &dmp_kit,
            &dmp_settings(&pki, &dmp_sandbox.url()),
            bus.clone(),
            Roles::default(),
            shutdown.clone(),
        )
        .await
        .context("starting the DMP service")?;

        let mss_sandbox = MssSandbox::start(
            MssSandboxConfig {
                starttls_listen: opts.mss_smtp_listen,
                implicit_tls_listen: opts.mss_smtp_tls_listen,
                imap_listen: opts.mss_imap_listen,
                imaps_listen: opts.mss_imaps_listen,
                data_dir: opts.data_dir.clone(),
                latency: opts.mss_latency,
                faults: opts.mss_faults.clone(),
                ..MssSandboxConfig::default()
            },
            &pki,
        )
        .await
        .context("starting the MSSanté sandbox")?;
        let directory = DirectorySandbox::start(
            DirectorySandboxConfig {
                listen: opts.directory_listen,
                ..DirectorySandboxConfig::default()
            },
            &pki,
        )
        .await
        .context("starting the directory sandbox")?;
        let mss_kit = KitSettings {
            grpc: passerelle_service_kit::settings::GrpcSettings {
                listen: opts.mss_listen,
                ..KitSettings::with_grpc_port(MSS_PORT).grpc
            },
            ..KitSettings::with_grpc_port(MSS_PORT)
        };
        let mss = mss_service::start(
            &mss_kit,
            &mss_settings(&pki, &mss_sandbox, &directory, &opts.data_dir),
            bus.clone(),
            Roles::default(),
            shutdown.clone(),
        )
        .await
        .context("starting the MSS service")?;
        let share_kit = KitSettings {
            grpc: passerelle_service_kit::settings::GrpcSettings {
                listen: opts.share_listen,
                ..KitSettings::with_grpc_port(SHARE_PORT).grpc
            },
            ..KitSettings::with_grpc_port(SHARE_PORT)
        };
        let share = share_service::start(
            &share_kit,
            &share_settings(),
            bus.clone(),
            Roles::default(),
            shutdown.clone(),
        )
        .await
        .context("starting the share service")?;

        // The card-agent of this workstation, on the sandbox's test CPS (PIN 1234).
        let mut card_cfg = CardAgentConfig {
            workstation: CARD_WORKSTATION.to_owned(),
            ..CardAgentConfig::default()
        };
        card_cfg.grpc.listen = opts.card_listen;
        card_cfg.backend.kind = BackendKind::Software;
        card_cfg.backend.software = SoftwareTokenConfig {
            card_serial: CPS_CARD_ID.to_owned(),
            vitale_file,
            ..SoftwareTokenConfig::sandbox_cps(
                &pki.cps_cert,
                &pki.cps_key,
                &pki.cps_sign_cert,
                &pki.cps_sign_key,
            )
        };
        let backend = card_agent::build_backend(&card_cfg)
            .await
            .context("opening the sandbox's test CPS")?;
        let card = card_agent::start(&card_cfg, backend, bus.clone(), shutdown.clone())
            .await
            .context("starting the card-agent")?;
        Ok(Self {
            pki,
            bus,
            insi,
            ins,
            dmp_sandbox,
            dmp,
            mss_sandbox,
            directory,
            mss,
            share,
            card,
            shutdown,
        })
    }

    /// Stops every service (in-flight calls finish), then the sandbox.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.trigger();
        self.ins.wait().await.context("stopping the INS service")?;
        self.dmp.wait().await.context("stopping the DMP service")?;
        self.mss.wait().await.context("stopping the MSS service")?;
        self.share
            .wait()
            .await
            .context("stopping the share service")?;
        self.card.wait().await.context("stopping the card-agent")?;
        self.insi.shutdown().await;
        self.dmp_sandbox.shutdown().await;
        self.mss_sandbox.shutdown().await;
        self.directory.stop().await;
        Ok(())
    }

    pub fn card_endpoint(&self) -> String {
        self.card.endpoint()
    }

    pub fn dmp_endpoint(&self) -> String {
        self.dmp.endpoint().unwrap_or_default()
    }

    pub fn mss_endpoint(&self) -> String {
        self.mss.endpoint().unwrap_or_default()
    }

    pub fn share_endpoint(&self) -> String {
        self.share.endpoint().unwrap_or_default()
    }

    pub fn ins_endpoint(&self) -> String {
        self.ins.endpoint().unwrap_or_default()
    }
}

/// share-service like mss-service: a test platform (the test INS-NIR OID is qualified).
fn share_settings() -> ShareSettings {
    let mut settings = ShareSettings::default();
    settings.share.test_platform = true;
    settings
}

/// dmp-service on the sandbox: TLS with the organisation's authentication certificate, the
/// VIHF signed with its signature certificate (CPS mode: the card-agent's test CPS), a test
/// platform (the CNAM test patients' INS use the test OID).
fn dmp_settings(pki: &TestPki, endpoint: &str) -> DmpSettings {
    use dmp_service::client::{ClientIdentity as DmpIdentity, ClientTls as DmpTls, LpsConfig};
    DmpSettings {
        dmp: dmp_service::client::DmpClientConfig {
            endpoint: endpoint.to_owned(),
            tls: DmpTls {
                identity: Some(DmpIdentity::Pem {
                    cert: pki.org_cert.clone(),
                    key: pki.org_key.clone(),
                }),
                trusted_ca: vec![pki.ca_cert.clone()],
            },
            lps: LpsConfig {
                id: LPS_ID.to_owned(),
                homologation: LPS_HOMOLOGATION.to_owned(),
                ..LpsConfig::default()
            },
            test_platform: true,
            source_id: LPS_ID.to_owned(),
            ..Default::default()
        },
        organisation_signature: Some(SignatureKey::Pem {
            cert: pki.org_sign_cert.clone(),
            key: pki.org_sign_key.clone(),
        }),
        ..DmpSettings::default()
    }
}

/// mss-service on the sandbox: SMTP submission with STARTTLS, authenticated by the
/// organisation's certificate (CPS mode: the card's authentication key), the organisation's
/// applicative mailbox as default sender, the directory sandbox as the Annuaire Santé, and
/// an extraction index in the data directory for `passerelle mss import-directory` (the API
/// first, the imported file for whom the API does not know).
fn mss_settings(
    pki: &TestPki,
    smtp: &RunningMssSandbox,
    directory: &RunningDirectorySandbox,
    data_dir: &std::path::Path,
) -> MssSettings {
    use mss_service::smtp::{ClientIdentity as SmtpIdentity, SmtpSettings, SmtpTls, TlsMode};
    let smtp_addr = smtp.starttls_addr();
    let mut settings = MssSettings::default();
    settings.mss.smtp = SmtpSettings {
        host: smtp_addr.ip().to_string(),
        port: Some(smtp_addr.port()),
        mode: TlsMode::Starttls,
        tls: SmtpTls {
            identity: Some(SmtpIdentity::Pem {
                cert: pki.org_cert.clone(),
                key: pki.org_key.clone(),
            }),
            trusted_ca: vec![pki.ca_cert.clone()],
            ..SmtpTls::default()
        },
        ..SmtpSettings::default()
    };
    settings.mss.default_from = Some(passerelle_sandbox::mss::LPS_APP.to_owned());
    settings.mss.source_id = LPS_ID.to_owned();
    settings.mss.test_platform = true;
    settings.mss.directory.fhir.base_url = directory.base_url();
    settings.mss.directory.fhir.api_key = SANDBOX_API_KEY.to_owned();
    settings.mss.directory.fhir.trusted_ca = vec![pki.ca_cert.clone()];
    settings.mss.directory.extraction.index_path = Some(data_dir.join("mss-directory.redb"));
    settings.mss.receiving = receiving_settings(pki, smtp);
    settings
}

/// Receiving on the sandbox's IMAP (STARTTLS): Dr FOUQUEREY's personal mailbox with his
/// sandbox account (IMAP LOGIN, and his account for the acknowledgements he sends back), the
/// organisation's secretariat with the organisation's certificate (SASL EXTERNAL). A short
/// lease: a restarted `passerelle up` takes its mailboxes back quickly.
fn receiving_settings(
    pki: &TestPki,
    sandbox: &RunningMssSandbox,
) -> mss_service::receiving::ReceivingSettings {
    use mss_service::imap::{ImapAuth, ImapSettings, ImapTls, TlsMode};
    use mss_service::receiving::{MailboxSettings, ReceivingSettings};
    use mss_service::smtp::{AuthSettings, ClientIdentity as ImapIdentity};
    use passerelle_sandbox::mss::{DEFAULT_MAILBOX_PASSWORD, JEAN_FOUQUEREY, SECRETARIAT};
    let imap_addr = sandbox.imap_addr();
    ReceivingSettings {
        imap: ImapSettings {
            host: imap_addr.ip().to_string(),
            port: Some(imap_addr.port()),
            mode: TlsMode::Starttls,
            auth: ImapAuth::External,
            tls: ImapTls {
                identity: Some(ImapIdentity::Pem {
                    cert: pki.org_cert.clone(),
                    key: pki.org_key.clone(),
                }),
                trusted_ca: vec![pki.ca_cert.clone()],
                ..ImapTls::default()
            },
            ..ImapSettings::default()
        },
        mailboxes: vec![
            MailboxSettings {
                imap_auth: Some(ImapAuth::Password {
                    user: JEAN_FOUQUEREY.to_owned(),
                    password: DEFAULT_MAILBOX_PASSWORD.to_owned(),
                }),
                smtp_auth: Some(AuthSettings::Password {
                    user: JEAN_FOUQUEREY.to_owned(),
                    password: DEFAULT_MAILBOX_PASSWORD.to_owned(),
                }),
                ..MailboxSettings::new(JEAN_FOUQUEREY)
            },
            MailboxSettings::new(SECRETARIAT),
        ],
        lease: Duration::from_secs(10),
        ..ReceivingSettings::default()
    }
}
