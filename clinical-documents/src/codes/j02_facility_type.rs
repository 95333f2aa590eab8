//! Entries of J02 (code, code system OID, display) as published by the ANS in its NOS
//! value-set file `JDV_J02_…_CISIS.xml` (mos.esante.gouv.fr/NOS); see [`super`].

use super::Entry;

pub(crate) const J02: &[Entry] = &[
    (
        "EXP_PATIENT",
        "1.2.250.1.213.1.1.4.6",
        "Expression personnelle du patient",
    ),
    (
        "SNR",
        "1.2.250.1.213.1.1.4.6",
        "Service numérique référencé",
    ),
    (
        "SA01",
        "1.2.250.1.71.4.2.4",
        "Etablissement public de santé",
    ),
    (
        "SA02",
        "1.2.250.1.71.4.2.4",
        "Hôpital militaire du Service de santé des armées",
    ),
    ("SA03", "1.2.250.1.71.4.2.4", "Etablissement privé PSPH"),
    ("SA04", "1.2.250.1.71.4.2.4", "Etablissement privé non PSPH"),
    ("SA05", "1.2.250.1.71.4.2.4", "Centre de santé"),
    (
        "SA06",
        "1.2.250.1.71.4.2.4",
        "Autre structure du Service de santé des armées",
    ),
    ("SA07", "1.2.250.1.71.4.2.4", "Cabinet individuel"),
    ("SA08", "1.2.250.1.71.4.2.4", "Cabinet de groupe"),
    ("SA09", "1.2.250.1.71.4.2.4", "Exercice en société"),
    ("SA10", "1.2.250.1.71.4.2.4", "Transporteur sanitaire"),
    (
        "SA12",
        "1.2.250.1.71.4.2.4",
        "Etablissement de soins et prévention",
    ),
    (
        "SA13",
        "1.2.250.1.71.4.2.4",
        "Prévention et soins en entreprise",
    ),
    (
        "SA14",
        "1.2.250.1.71.4.2.4",
        "Etablissements scolaires, universitaires et de formation hors champ FINESS",
    ),
    (
        "SA15",
        "1.2.250.1.71.4.2.4",
        "PMI et Planification familiale",
    ),
    (
        "SA16",
        "1.2.250.1.71.4.2.4",
        "Etablissement pour personnes handicapées",
    ),
    (
        "SA17",
        "1.2.250.1.71.4.2.4",
        "Etablissement pour personnes âgées",
    ),
    (
        "SA18",
        "1.2.250.1.71.4.2.4",
        "Etablissement aide à la famille",
    ),
    (
        "SA19",
        "1.2.250.1.71.4.2.4",
        "Etablissements FINESS de formation aux professions sanitaires et sociales",
    ),
    (
        "SA20",
        "1.2.250.1.71.4.2.4",
        "Etablissement pour la protection de l'enfance",
    ),
    (
        "SA21",
        "1.2.250.1.71.4.2.4",
        "Etablissement d'hébergement et de réadaptation",
    ),
    ("SA22", "1.2.250.1.71.4.2.4", "Recherche"),
    ("SA23", "1.2.250.1.71.4.2.4", "Assurance privée"),
    (
        "SA24",
        "1.2.250.1.71.4.2.4",
        "Organisme de sécurité sociale",
    ),
    (
        "SA25",
        "1.2.250.1.71.4.2.4",
        "Laboratoire de biologie médicale",
    ),
    (
        "SA26",
        "1.2.250.1.71.4.2.4",
        "Ministère ou Service déconcentré",
    ),
    ("SA27", "1.2.250.1.71.4.2.4", "Collectivité territoriale"),
    (
        "SA28",
        "1.2.250.1.71.4.2.4",
        "Association ou organisme humanitaire",
    ),
    (
        "SA29",
        "1.2.250.1.71.4.2.4",
        "Laboratoire d'analyses et de biologie médicale",
    ),
    (
        "SA30",
        "1.2.250.1.71.4.2.4",
        "Autre établissement sanitaire",
    ),
    (
        "SA31",
        "1.2.250.1.71.4.2.4",
        "Répartition et Distribution de médicaments et dispositifs médicaux",
    ),
    (
        "SA32",
        "1.2.250.1.71.4.2.4",
        "Fabrication, Exploitation et Importation de médicaments et dispositifs médicaux",
    ),
    ("SA33", "1.2.250.1.71.4.2.4", "Pharmacie d'officine"),
    ("SA34", "1.2.250.1.71.4.2.4", "Centre de dialyse"),
    ("SA35", "1.2.250.1.71.4.2.4", "Para-pharmacie"),
    ("SA36", "1.2.250.1.71.4.2.4", "Centre anti-cancer"),
    (
        "SA37",
        "1.2.250.1.71.4.2.4",
        "Centre de transfusion sanguine",
    ),
    ("SA38", "1.2.250.1.71.4.2.4", "Pharmacie minière"),
    ("SA39", "1.2.250.1.71.4.2.4", "Pharmacie mutualiste"),
    (
        "SA40",
        "1.2.250.1.71.4.2.4",
        "Secteur privé, praticien hospitalier temps plein",
    ),
    (
        "SA41",
        "1.2.250.1.71.4.2.4",
        "Autre établissement du domaine social ou médico-social",
    ),
    ("SA42", "1.2.250.1.71.4.2.4", "Appareillage médical"),
    ("SA43", "1.2.250.1.71.4.2.4", "Secteur non défini"),
    ("SA44", "1.2.250.1.71.4.2.4", "Recrutement ou Gestion RH"),
    (
        "SA45",
        "1.2.250.1.71.4.2.4",
        "Communication, Marketing, Consulting, Média",
    ),
    (
        "SA46",
        "1.2.250.1.71.4.2.4",
        "Fabrication, Exploitation, Importation, Répartition, Distribution médicaments et dispositifs médicaux",
    ),
    ("SA47", "1.2.250.1.71.4.2.4", "Incendie et secours"),
    (
        "SA48",
        "1.2.250.1.71.4.2.4",
        "Entreprise industrielle et tertiaire hors industrie pharmaceutique",
    ),
    ("SA49", "1.2.250.1.71.4.2.4", "Entité Outre-Mer"),
    (
        "SA50",
        "1.2.250.1.71.4.2.4",
        "Permanence des soins ambulatoires hors cabinet",
    ),
    (
        "SA51",
        "1.2.250.1.71.4.2.4",
        "Structure de coopération avec autorisation de soins",
    ),
    (
        "SA52",
        "1.2.250.1.71.4.2.4",
        "Maison de santé ou Pôle de santé",
    ),
    (
        "SA53",
        "1.2.250.1.71.4.2.4",
        "Siège administratif d'un établissement de santé",
    ),
    (
        "SA54",
        "1.2.250.1.71.4.2.4",
        "Centre de dépistage et de prévention",
    ),
    (
        "SA55",
        "1.2.250.1.71.4.2.4",
        "Laboratoire pharmaceutique préparant et délivrant des allergènes",
    ),
    ("SA56", "1.2.250.1.71.4.2.4", "Propharmacie"),
    (
        "SA57",
        "1.2.250.1.71.4.2.4",
        "Structure de coopération avec mission de coordination de soins",
    ),
    ("SA58", "1.2.250.1.71.4.2.4", "Entreprise de taxis"),
    (
        "SA59",
        "1.2.250.1.71.4.2.4",
        "Laboratoire de biologie médicale hors catégorie standard",
    ),
    ("SA60", "1.2.250.1.71.4.2.4", "Centres médicaux SNCF"),
    (
        "SA61",
        "1.2.250.1.71.4.2.4",
        "Structure Dispensatrice à domicile d'Oxygène à usage médical",
    ),
    (
        "SA63",
        "1.2.250.1.71.4.2.4",
        "Communauté professionnelle territoriale de santé et équipe de soins spécialisés",
    ),
    ("SA64", "1.2.250.1.71.4.2.4", "Société de téléconsultation"),
    ("SA65", "1.2.250.1.71.4.2.4", "Antenne de pharmacie"),
    (
        "SA66",
        "1.2.250.1.71.4.2.4",
        "Services de Prévention et de Santé au Travail (SPST)",
    ),
    (
        "SA67",
        "1.2.250.1.71.4.2.4",
        "Maisons médicales de garde (MMG)",
    ),
    (
        "SA68",
        "1.2.250.1.71.4.2.4",
        "Services départementaux d'incendie et de secours",
    ),
    ("SA69", "1.2.250.1.71.4.2.4", "Maisons de naissance"),
];
