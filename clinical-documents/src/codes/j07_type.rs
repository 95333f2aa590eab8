//! Entries of J07 (code, code system OID, display) as published by the ANS in its NOS
//! value-set file `JDV_J07_…_CISIS.xml` (mos.esante.gouv.fr/NOS); see [`super`].

use super::Entry;

pub(crate) const J07: &[Entry] = &[
    (
        "ATTEST-ASS-COMPL",
        "1.2.250.1.213.1.1.4.12",
        "Attestation assurance complémentaire",
    ),
    (
        "ATTEST-RESID",
        "1.2.250.1.213.1.1.4.12",
        "Attestation de résidence",
    ),
    (
        "ATTEST-HEBGT",
        "1.2.250.1.213.1.1.4.12",
        "Attestation d'hébergement",
    ),
    (
        "ATTEST-DROITS-AM",
        "1.2.250.1.213.1.1.4.12",
        "Attestation de droits à l'assurance maladie",
    ),
    (
        "AUTORIS-SOINS",
        "1.2.250.1.213.1.1.4.12",
        "Autorisation de soins et actes non usuels sanitaires",
    ),
    (
        "BIL_AUTO",
        "1.2.250.1.213.1.1.4.12",
        "CR de bilan d'évaluation de la perte d'autonomie",
    ),
    (
        "CERT_DECL",
        "1.2.250.1.213.1.1.4.12",
        "Certificat, déclaration",
    ),
    ("DISP_AUT", "1.2.250.1.213.1.1.4.12", "Dispensation (autre)"),
    (
        "EXPPAT_1",
        "1.2.250.1.213.1.1.4.12",
        "Volontés et droits du patient",
    ),
    (
        "EXPPAT_2",
        "1.2.250.1.213.1.1.4.12",
        "Autre document du patient",
    ),
    (
        "EXPPAT_3",
        "1.2.250.1.213.1.1.4.12",
        "Directives anticipées",
    ),
    (
        "IMG-KOS",
        "1.2.250.1.213.1.1.4.12",
        "Reference d'objets d'un examen d'imagerie",
    ),
    (
        "PROT_ALD",
        "1.2.250.1.213.1.1.4.12",
        "Protocole de soins ALD",
    ),
    ("REMB", "1.2.250.1.213.1.1.4.12", "Données de remboursement"),
    ("SYNTH", "1.2.250.1.213.1.1.4.12", "Synthèse"),
    (
        "DOCPAT01",
        "1.2.250.1.213.1.1.4.12",
        "Synthèse déposée par le patient",
    ),
    (
        "DOCPAT02",
        "1.2.250.1.213.1.1.4.12",
        "Traitement ou document de soins déposé par le patient",
    ),
    (
        "DOCPAT03",
        "1.2.250.1.213.1.1.4.12",
        "CR déposé par le patient",
    ),
    (
        "DOCPAT04",
        "1.2.250.1.213.1.1.4.12",
        "Imagerie déposée par le patient",
    ),
    (
        "DOCPAT05",
        "1.2.250.1.213.1.1.4.12",
        "CR de biologie déposé par le patient",
    ),
    (
        "DOCPAT06",
        "1.2.250.1.213.1.1.4.12",
        "CR de prévention déposé par le patient",
    ),
    (
        "DOCPAT07",
        "1.2.250.1.213.1.1.4.12",
        "Certificat déposé par le patient",
    ),
    (
        "DOCPAT08",
        "1.2.250.1.213.1.1.4.12",
        "Profil médical Mon espace santé",
    ),
    (
        "DOCPAT09",
        "1.2.250.1.213.1.1.4.12",
        "Document administratif déposé par le patient",
    ),
    (
        "PIECE-IDENTITE",
        "1.2.250.1.213.1.1.4.12",
        "Copie pièce d'identité",
    ),
    (
        "PRESC-AAT",
        "1.2.250.1.213.1.1.4.12",
        "Prescription arrêt de travail",
    ),
    (
        "PRESC-BIO",
        "1.2.250.1.213.1.1.4.12",
        "Prescription d'actes de biologie médicale",
    ),
    (
        "PRESC-KINE",
        "1.2.250.1.213.1.1.4.12",
        "Prescription d'actes de kinésithérapie",
    ),
    (
        "PRESC-INF",
        "1.2.250.1.213.1.1.4.12",
        "Prescription d'actes infirmiers",
    ),
    (
        "PRESC-PEDI",
        "1.2.250.1.213.1.1.4.12",
        "Prescription d'actes de pédicurie",
    ),
    (
        "PRESC-ORTHOPHO",
        "1.2.250.1.213.1.1.4.12",
        "Prescription d'actes d'orthophonie",
    ),
    (
        "PRESC-ORTHOPTIE",
        "1.2.250.1.213.1.1.4.12",
        "Prescription d'actes d'orthoptie",
    ),
    (
        "FEUILLE-DE-STYLE",
        "1.2.250.1.213.1.1.4.12",
        "Feuille de style",
    ),
    ("FICHE-CONTACTS", "1.2.250.1.213.1.1.4.12", "Fiche contacts"),
    (
        "EXPORT_DUI",
        "1.2.250.1.213.1.1.4.12",
        "Export du Dossier Usager Informatisé",
    ),
    (
        "11369-6",
        "2.16.840.1.113883.6.1",
        "Historique des vaccinations",
    ),
    (
        "11488-4",
        "2.16.840.1.113883.6.1",
        "CR ou fiche de consultation ou de visite",
    ),
    (
        "11490-0",
        "2.16.840.1.113883.6.1",
        "Lettre de liaison à la sortie d'un établissement de soins",
    ),
    (
        "34112-3",
        "2.16.840.1.113883.6.1",
        "CR hospitalier (séjour)",
    ),
    (
        "11502-2",
        "2.16.840.1.113883.6.1",
        "CR d'examens biologiques",
    ),
    (
        "11505-5",
        "2.16.840.1.113883.6.1",
        "CR d'acte thérapeutique (autre)",
    ),
    (
        "11506-3",
        "2.16.840.1.113883.6.1",
        "CR ou fiche de suivi de soins par auxiliaire médical",
    ),
    (
        "15507-7",
        "2.16.840.1.113883.6.1",
        "CR de passage aux urgences",
    ),
    ("15508-5", "2.16.840.1.113883.6.1", "CR d'accouchement"),
    (
        "18776-5",
        "2.16.840.1.113883.6.1",
        "Plan personnalisé de soins",
    ),
    ("18748-4", "2.16.840.1.113883.6.1", "CR d'imagerie médicale"),
    (
        "18761-7",
        "2.16.840.1.113883.6.1",
        "Note de transfert (dont lettre de liaison à l'entrée en établissement de soins)",
    ),
    ("28617-9", "2.16.840.1.113883.6.1", "Bilan bucco-dentaire"),
    (
        "28653-4",
        "2.16.840.1.113883.6.1",
        "Document du secteur social / médico-social",
    ),
    (
        "29274-8",
        "2.16.840.1.113883.6.1",
        "Mesures de signes vitaux",
    ),
    (
        "34120-6",
        "2.16.840.1.113883.6.1",
        "Bilan par professionnel de santé",
    ),
    (
        "34133-9",
        "2.16.840.1.113883.6.1",
        "Synthèse d'épisode de soins",
    ),
    (
        "34749-2",
        "2.16.840.1.113883.6.1",
        "CR de consultation pré-anesthésique",
    ),
    (
        "34794-8",
        "2.16.840.1.113883.6.1",
        "CR de réunion de concertation pluridisciplinaire",
    ),
    (
        "34842-5",
        "2.16.840.1.113883.6.1",
        "Grille d'évaluation médico-social",
    ),
    ("34874-8", "2.16.840.1.113883.6.1", "CR opératoire"),
    (
        "34875-5",
        "2.16.840.1.113883.6.1",
        "Évaluation postopératoire et note de suivi",
    ),
    (
        "47420-5",
        "2.16.840.1.113883.6.1",
        "CR de bilan fonctionnel",
    ),
    ("51851-4", "2.16.840.1.113883.6.1", "Document administratif"),
    (
        "51969-4",
        "2.16.840.1.113883.6.1",
        "CR de génétique moléculaire",
    ),
    (
        "52040-3",
        "2.16.840.1.113883.6.1",
        "Document encapsulant une image d'illustration non DICOM",
    ),
    (
        "55115-0",
        "2.16.840.1.113883.6.1",
        "Demande d'actes d'imagerie",
    ),
    (
        "56445-0",
        "2.16.840.1.113883.6.1",
        "Bilan médicamenteux (Officine)",
    ),
    (
        "56446-8",
        "2.16.840.1.113883.6.1",
        "Notification de rendez-vous",
    ),
    ("57828-6", "2.16.840.1.113883.6.1", "Prescription (autre)"),
    ("57832-8", "2.16.840.1.113883.6.1", "Prescription de soins"),
    (
        "57833-6",
        "2.16.840.1.113883.6.1",
        "Prescription de produits de santé",
    ),
    (
        "59283-2",
        "2.16.840.1.113883.6.1",
        "CR d'examen de l'enfant",
    ),
    (
        "59284-0",
        "2.16.840.1.113883.6.1",
        "Attestation de consentement",
    ),
    (
        "60280-5",
        "2.16.840.1.113883.6.1",
        "Fiche de retour du service des urgences",
    ),
    (
        "60568-3",
        "2.16.840.1.113883.6.1",
        "CR d'anatomie et de cytologie pathologiques",
    ),
    ("60591-5", "2.16.840.1.113883.6.1", "Synthèse médicale"),
    (
        "60593-1",
        "2.16.840.1.113883.6.1",
        "Dispensation médicamenteuse",
    ),
    (
        "61357-0",
        "2.16.840.1.113883.6.1",
        "Intervention pharmaceutique",
    ),
    ("67851-6", "2.16.840.1.113883.6.1", "CR d'admission"),
    ("68599-0", "2.16.840.1.113883.6.1", "Synthèse psychiatrique"),
    (
        "68817-6",
        "2.16.840.1.113883.6.1",
        "Bilan de santé et de prévention de l'enfant",
    ),
    (
        "70004-7",
        "2.16.840.1.113883.6.1",
        "CR d'acte diagnostique (autre)",
    ),
    (
        "78341-5",
        "2.16.840.1.113883.6.1",
        "Fiche de transfert vers le service des urgences",
    ),
    (
        "74207-2",
        "2.16.840.1.113883.6.1",
        "Document de liaison d'urgence",
    ),
    ("74465-6", "2.16.840.1.113883.6.1", "Questionnaire patient"),
    (
        "75468-9",
        "2.16.840.1.113883.6.1",
        "Renouvellement ordonnance par pharmacien correspondant",
    ),
    (
        "75482-0",
        "2.16.840.1.113883.6.1",
        "CR d'acte thérapeutique à visée préventive",
    ),
    (
        "75492-9",
        "2.16.840.1.113883.6.1",
        "CR d'acte diagnostique à visée préventive ou de dépistage",
    ),
    (
        "75496-0",
        "2.16.840.1.113883.6.1",
        "Demande d'acte de télémédecine",
    ),
    ("77436-4", "2.16.840.1.113883.6.1", "CR d'anesthésie"),
    (
        "77604-7",
        "2.16.840.1.113883.6.1",
        "Planification thérapeutique",
    ),
    (
        "78513-9",
        "2.16.840.1.113883.6.1",
        "CR de consultation en ophtalmologie",
    ),
    (
        "78601-2",
        "2.16.840.1.113883.6.1",
        "CR d'entretien pharmaceutique",
    ),
    (
        "80565-5",
        "2.16.840.1.113883.6.1",
        "CR d'administration de médicaments",
    ),
    (
        "80771-9",
        "2.16.840.1.113883.6.1",
        "Projet d'accueil individualisé",
    ),
    (
        "80788-3",
        "2.16.840.1.113883.6.1",
        "Projet personnalisé d'accompagnement",
    ),
    (
        "80820-4",
        "2.16.840.1.113883.6.1",
        "Formulaire de conciliation médicamenteuse (Hôpital)",
    ),
    ("83836-7", "2.16.840.1.113883.6.1", "Schéma dentaire"),
    (
        "83869-8",
        "2.16.840.1.113883.6.1",
        "Plan personnalisé de prévention",
    ),
    ("83901-9", "2.16.840.1.113883.6.1", "Bilan psychologique"),
    (
        "83981-1",
        "2.16.840.1.113883.6.1",
        "Lettre de liaison à la sortie d'une structure sociale ou médico-sociale",
    ),
    ("85208-7", "2.16.840.1.113883.6.1", "CR de télémédecine"),
    ("86531-1", "2.16.840.1.113883.6.1", "Attestation de sortie"),
    ("87273-9", "2.16.840.1.113883.6.1", "Note de vaccination"),
    (
        "88348-8",
        "2.16.840.1.113883.6.1",
        "Lettre de liaison d'entrée en structure sociale ou médico-sociale",
    ),
    ("89601-9", "2.16.840.1.113883.6.1", "Certificat médical"),
    (
        "93024-8",
        "2.16.840.1.113883.6.1",
        "CR de consultation pharmaceutique",
    ),
    ("96349-6", "2.16.840.1.113883.6.1", "Lettre d'adressage"),
    (
        "96874-3",
        "2.16.840.1.113883.6.1",
        "COVID-19 Attestation de vaccination",
    ),
    (
        "96173-0",
        "2.16.840.1.113883.6.1",
        "Test rapide d'orientation diagnostique",
    ),
    ("57055-6", "2.16.840.1.113883.6.1", "Synthèse antepartum"),
    (
        "57057-2",
        "2.16.840.1.113883.6.1",
        "Synthèse Salle de Naissance Mère",
    ),
    (
        "57075-4",
        "2.16.840.1.113883.6.1",
        "Synthèse Salle de Naissance Enfant",
    ),
    (
        "89235-6",
        "2.16.840.1.113883.6.1",
        "Synthèse Suites de Couches Mère",
    ),
    (
        "78489-2",
        "2.16.840.1.113883.6.1",
        "Synthèse Enfant en Maternité",
    ),
    ("89233-1", "2.16.840.1.113883.6.1", "CR de grossesse"),
    ("101881-1", "2.16.840.1.113883.6.1", "Carte d'implant"),
    ("E1762", "ASTM", "Full Document"),
];
