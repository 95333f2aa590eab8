//! Entries of J01 (code, code system OID, display) as published by the ANS in its NOS
//! value-set file `JDV_J01_…_CISIS.xml` (mos.esante.gouv.fr/NOS); see [`super`].

use super::Entry;

pub(crate) const J01: &[Entry] = &[
    (
        "ALIM_AM",
        "1.2.250.1.213.1.1.4.6",
        "Alimentation automatique à partir du Système d'Information de l'Assurance Maladie",
    ),
    ("DISPOSITIF", "1.2.250.1.213.1.1.4.6", "Dispositif médical"),
    (
        "EXP_PATIENT",
        "1.2.250.1.213.1.1.4.6",
        "Expression personnelle du patient",
    ),
    (
        "SECRETARIAT_MEDICAL",
        "1.2.250.1.213.1.1.4.6",
        "Secrétariat médical",
    ),
    ("AUTOMATE", "1.2.250.1.213.1.1.4.6", "Automate"),
    (
        "SNR",
        "1.2.250.1.213.1.1.4.6",
        "Service numérique référencé",
    ),
    (
        "LOGICIEL_DUI",
        "1.2.250.1.213.1.1.4.6",
        "Logiciel de Dossier Usager Informatisé",
    ),
    ("G15_10", "1.2.250.1.213.1.1.4.5", "Médecin"),
    (
        "G15_10/PAC00",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Qualification Praticien adjoint contractuel (PAC)",
    ),
    (
        "G15_10/SM01",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Anatomie et Cytologie pathologiques (SM)",
    ),
    (
        "G15_10/SM02",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Anesthésie-réanimation (SM)",
    ),
    (
        "G15_10/SM03",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biologie médicale (SM)",
    ),
    (
        "G15_10/SM04",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cardiologie et maladies vasculaires (SM)",
    ),
    (
        "G15_10/SM05",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie générale (SM)",
    ),
    (
        "G15_10/SM06",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie maxillo-faciale (SM)",
    ),
    (
        "G15_10/SM07",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie maxillo-faciale et Stomatologie (SM)",
    ),
    (
        "G15_10/SM08",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie orthopédique et Traumatologie (SM)",
    ),
    (
        "G15_10/SM09",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie infantile (SM)",
    ),
    (
        "G15_10/SM10",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie plastique reconstruct et esthétique (SM)",
    ),
    (
        "G15_10/SM11",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie thoracique et cardio-vasculaire (SM)",
    ),
    (
        "G15_10/SM12",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie urologique (SM)",
    ),
    (
        "G15_10/SM13",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie vasculaire (SM)",
    ),
    (
        "G15_10/SM14",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie viscérale et digestive (SM)",
    ),
    (
        "G15_10/SM15",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Dermatologie et Vénéréologie (SM)",
    ),
    (
        "G15_10/SM16",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Endocrinologie et métabolisme (SM)",
    ),
    (
        "G15_10/SM17",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Génétique médicale (SM)",
    ),
    (
        "G15_10/SM18",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gériatrie (SM)",
    ),
    (
        "G15_10/SM19",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gynécologie médicale (SM)",
    ),
    (
        "G15_10/SM20",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gynécologie-obstétrique (SM)",
    ),
    (
        "G15_10/SM21",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hématologie (SM)",
    ),
    (
        "G15_10/SM22",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hématologie, opt Maladie du sang (SM)",
    ),
    (
        "G15_10/SM23",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hématologie, opt Onco-hématologie (SM)",
    ),
    (
        "G15_10/SM24",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gastro-entérologie et hépatologie (SM)",
    ),
    (
        "G15_10/SM25",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine du travail (SM)",
    ),
    (
        "G15_10/SM26",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Qualifié en Médecine Générale (SM)",
    ),
    (
        "G15_10/SM27",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine interne (SM)",
    ),
    (
        "G15_10/SM28",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine nucléaire (SM)",
    ),
    (
        "G15_10/SM29",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine physique et réadaptation (SM)",
    ),
    (
        "G15_10/SM30",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Néphrologie (SM)",
    ),
    (
        "G15_10/SM31",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neuro-chirurgie (SM)",
    ),
    (
        "G15_10/SM32",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neurologie (SM)",
    ),
    (
        "G15_10/SM33",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neuro-psychiatrie (SM)",
    ),
    (
        "G15_10/SM34",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - ORL et Chirurgie cervico-faciale (SM)",
    ),
    (
        "G15_10/SM35",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Oncologie, opt Onco-hématologie (SM)",
    ),
    (
        "G15_10/SM36",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Oncologie, opt médicale (SM)",
    ),
    (
        "G15_10/SM37",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Oncologie, opt radiothérapie (SM)",
    ),
    (
        "G15_10/SM38",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Ophtalmologie (SM)",
    ),
    (
        "G15_10/SM39",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Oto-rhino-laryngologie (SM)",
    ),
    (
        "G15_10/SM40",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pédiatrie (SM)",
    ),
    (
        "G15_10/SM41",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pneumologie (SM)",
    ),
    (
        "G15_10/SM42",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Psychiatrie (SM)",
    ),
    (
        "G15_10/SM43",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Psychiatrie, opt enfant et adolescent (SM)",
    ),
    (
        "G15_10/SM44",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Radio-diagnostic (SM)",
    ),
    (
        "G15_10/SM45",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Radio-thérapie (SM)",
    ),
    (
        "G15_10/SM46",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine intensive-réanimation (SM)",
    ),
    (
        "G15_10/SM47",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Recherche médicale (SM)",
    ),
    (
        "G15_10/SM48",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Rhumatologie (SM)",
    ),
    (
        "G15_10/SM49",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Santé publique et Médecine sociale (SM)",
    ),
    (
        "G15_10/SM50",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Stomatologie (SM)",
    ),
    (
        "G15_10/SM51",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gynéco-obstétrique et Gynéco méd, opt Gyn-obs (SM)",
    ),
    (
        "G15_10/SM52",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gynéco-obstétrique et Gynéco méd, opt Gyn-méd (SM)",
    ),
    (
        "G15_10/SM53",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Spécialiste en Médecine Générale (SM)",
    ),
    (
        "G15_10/SM54",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine Générale (SM)",
    ),
    (
        "G15_10/SM55",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Radio-diagnostic et Radio-Thérapie (SM)",
    ),
    (
        "G15_10/SM56",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie orale (SM)",
    ),
    (
        "G15_10/SM57",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Allergologie (SM)",
    ),
    (
        "G15_10/SM58",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Maladies infectieuses et tropicales (SM)",
    ),
    (
        "G15_10/SM59",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine d'urgence (SM)",
    ),
    (
        "G15_10/SM60",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine légale et expertises médicales (SM)",
    ),
    (
        "G15_10/SM61",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine vasculaire (SM)",
    ),
    (
        "G15_10/SM62",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Endocrinologie, diabétologie, nutrition (SM)",
    ),
    (
        "G15_10/SM63",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biologie médicale option biologie générale (SM)",
    ),
    (
        "G15_10/SM64",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biologie médicale option médecine moléculaire, génétique et pharmacologie (SM)",
    ),
    (
        "G15_10/SM65",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biologie médicale option hématologie et immunologie (SM)",
    ),
    (
        "G15_10/SM66",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biologie médicale option agents infectieux (SM)",
    ),
    (
        "G15_10/SM67",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biologie médicale option biologie de la reproduction (SM)",
    ),
    (
        "G15_10/SM68",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie maxillo-faciale (réforme 2017) (SM)",
    ),
    (
        "G15_10/SM69",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie pédiatrique option chirurgie viscérale pédiatrique (SM)",
    ),
    (
        "G15_10/SM70",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie pédiatrique option orthopédie pédiatrique (SM)",
    ),
    (
        "G15_10/SM71",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hématologie (réforme 2017) (SM)",
    ),
    (
        "G15_10/SM72",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine interne et immunologie clinique (SM)",
    ),
    (
        "G15_10/SM73",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine cardiovasculaire (SM)",
    ),
    (
        "G15_10/SM74",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Radiologie et imagerie médicale (SM)",
    ),
    (
        "G15_10/SM75",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Santé publique (SM)",
    ),
    (
        "G15_10/SM76",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Anesthésie-réanimation option anesthésie-pédiatrique (SM)",
    ),
    (
        "G15_10/SM77",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie maxillo-faciale option orthodontie des dysmorphies maxillo-faciales (SM)",
    ),
    (
        "G15_10/SM78",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie viscérale et digestive option endoscopie chirurgicale (SM)",
    ),
    (
        "G15_10/SM79",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine cardiovasculaire option cardiologie interventionnelle (SM)",
    ),
    (
        "G15_10/SM80",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine cardiovasculaire option imagerie cardio d'expert (SM)",
    ),
    (
        "G15_10/SM81",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine cardiovasculaire option rythmologie interventionnelle et stimulation cardiaque (SM)",
    ),
    (
        "G15_10/SM82",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine intensive-réanimation option réanimation pédiatrique (SM)",
    ),
    (
        "G15_10/SM83",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Néphrologie option soins intensifs néphrologiques (SM)",
    ),
    (
        "G15_10/SM84",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neurologie option traitement interventionnel de l'ischémie cérébrale aigüe (SM)",
    ),
    (
        "G15_10/SM85",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Ophtalmo option chirurgie ophtalmopédiatrique et strabologique (SM)",
    ),
    (
        "G15_10/SM86",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - ORL et chirurgie cervico-faciale option audiophonologie (SM)",
    ),
    (
        "G15_10/SM87",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pédiatrie option néonatologie (SM)",
    ),
    (
        "G15_10/SM88",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pédiatrie option neuropédiatrie (SM)",
    ),
    (
        "G15_10/SM89",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pédiatrie option pneumopédiatrie (SM)",
    ),
    (
        "G15_10/SM90",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pédiatrie option réanimation pédiatrique (SM)",
    ),
    (
        "G15_10/SM91",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pneumologie option soins intensifs respiratoires (SM)",
    ),
    (
        "G15_10/SM92",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Psychiatrie option enfant et adolescent (SM)",
    ),
    (
        "G15_10/SM93",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Psychiatrie option psychiatrie personne âgée (SM)",
    ),
    (
        "G15_10/SM94",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Radiologie imagerie médicale option radiologie interventionnelle avancée (SM)",
    ),
    (
        "G15_10/SM95",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Santé publique option administration de la santé (SM)",
    ),
    (
        "G15_10/CEX22",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gynécologie médicale et obstétrique (CEX)",
    ),
    (
        "G15_10/CEX24",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gynécologie médicale (CEX)",
    ),
    (
        "G15_10/CEX26",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Obstétrique (CEX)",
    ),
    (
        "G15_10/CEX64",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Urologie (CEX)",
    ),
    (
        "G15_10/C01",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Anatomie et Cytologie pathologiques humaines (C)",
    ),
    (
        "G15_10/C03",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Anesthésie-réanimation (C)",
    ),
    (
        "G15_10/C05",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine appliquée aux sports (C)",
    ),
    (
        "G15_10/C07",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cardiologie (C)",
    ),
    (
        "G15_10/C09",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie plast reconstruct, esthétique (C)",
    ),
    (
        "G15_10/C10",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie maxillo-faciale (C)",
    ),
    (
        "G15_10/C11",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie thoracique (C)",
    ),
    (
        "G15_10/C12",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie orthopédique (C)",
    ),
    (
        "G15_10/C13",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Urologie (C)",
    ),
    (
        "G15_10/C15",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Dermato-vénéréologie (C)",
    ),
    (
        "G15_10/C20",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hémobiologie (C)",
    ),
    (
        "G15_10/C23",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gynécologie médicale et Obstétrique (C)",
    ),
    (
        "G15_10/C25",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gynécologie médicale (C)",
    ),
    (
        "G15_10/C27",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Obstétrique (C)",
    ),
    (
        "G15_10/C29",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Maladies de l'appareil digestif (C)",
    ),
    (
        "G15_10/C30",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Néphrologie (C)",
    ),
    (
        "G15_10/C31",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine exotique (C)",
    ),
    (
        "G15_10/C33",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Allergologie (C)",
    ),
    (
        "G15_10/C34",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Angéiologie (C)",
    ),
    (
        "G15_10/C35",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie (C)",
    ),
    (
        "G15_10/C36",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Diabétologie-nutrition (C)",
    ),
    (
        "G15_10/C37",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Endocrinologie (C)",
    ),
    (
        "G15_10/C38",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Maladies du sang (C)",
    ),
    (
        "G15_10/C39",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Réanimation (C)",
    ),
    (
        "G15_10/C40",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine légale (C)",
    ),
    (
        "G15_10/C41",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine du travail (C)",
    ),
    (
        "G15_10/C43",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neurologie (C)",
    ),
    (
        "G15_10/C45",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neuro-chirurgie (C)",
    ),
    (
        "G15_10/C47",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neuro-psychiatrie (C)",
    ),
    (
        "G15_10/C51",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pédiatrie (C)",
    ),
    (
        "G15_10/C52",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Phoniatrie (C)",
    ),
    (
        "G15_10/C54",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pneumologie (C)",
    ),
    (
        "G15_10/C57",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Psychiatrie (C)",
    ),
    (
        "G15_10/C58",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Psychiatrie, opt enfant et adolescent (C)",
    ),
    (
        "G15_10/C60",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine physique et réadaptation (C)",
    ),
    (
        "G15_10/C62",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Rhumatologie (C)",
    ),
    (
        "G15_10/C68",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie pédiatrique (C)",
    ),
    (
        "G15_10/C69",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine nucléaire (C)",
    ),
    (
        "G15_10/C71",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine thermale (C)",
    ),
    (
        "G15_10/C72",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Génétique médicale (C)",
    ),
    (
        "G15_10/C75",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Endocrinologie et Maladies métaboliques (C)",
    ),
    (
        "G15_10/C76",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Orthopédie dento-maxillo-faciale (C)",
    ),
    (
        "G15_10/C83",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie face et cou (C)",
    ),
    (
        "G15_10/CAPA01",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Addictologie clinique (CAPA)",
    ),
    (
        "G15_10/CAPA02",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Aide médicale urgente (CAPA)",
    ),
    (
        "G15_10/CAPA03",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Allergologie (CAPA)",
    ),
    (
        "G15_10/CAPA04",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Angéiologie (CAPA)",
    ),
    (
        "G15_10/CAPA05",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Evaluation et traitement de la douleur (CAPA)",
    ),
    (
        "G15_10/CAPA06",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gérontologie (CAPA)",
    ),
    (
        "G15_10/CAPA07",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hydrologie et climatologie médicales (CAPA)",
    ),
    (
        "G15_10/CAPA08",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine aérospatiale (CAPA)",
    ),
    (
        "G15_10/CAPA09",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine de catastrophe (CAPA)",
    ),
    (
        "G15_10/CAPA10",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine et biologie du sport (CAPA)",
    ),
    (
        "G15_10/CAPA11",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine de travail, prév risques prof (CAPA)",
    ),
    (
        "G15_10/CAPA12",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine pénitentiaire (CAPA)",
    ),
    (
        "G15_10/CAPA13",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine tropicale (CAPA)",
    ),
    (
        "G15_10/CAPA14",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pratiques médico-judiciaires (CAPA)",
    ),
    (
        "G15_10/CAPA15",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Technologie transfusionnelle (CAPA)",
    ),
    (
        "G15_10/CAPA16",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Toxicomanies et Alcoologies (CAPA)",
    ),
    (
        "G15_10/DSM200",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Addictologie (DNQ)",
    ),
    (
        "G15_10/DSM201",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Allergologie et Immunologie clinique (DNQ)",
    ),
    (
        "G15_10/DSM202",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Andrologie (DNQ)",
    ),
    (
        "G15_10/DSM203",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biochimie hormonale et métabolique (DNQ)",
    ),
    (
        "G15_10/DSM204",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biologie des agents infectieux (DNQ)",
    ),
    (
        "G15_10/DSM205",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Biologie moléculaire (DNQ)",
    ),
    (
        "G15_10/DSM206",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie (DNQ)",
    ),
    (
        "G15_10/DSM207",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie de la face et du cou (DNQ)",
    ),
    (
        "G15_10/DSM208",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie plastique et reconstructrice (DNQ)",
    ),
    (
        "G15_10/DSM209",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie vasculaire (DNQ)",
    ),
    (
        "G15_10/DSM210",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cytogénétique humaine (DNQ)",
    ),
    (
        "G15_10/DSM211",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Dermatopathologie (DNQ)",
    ),
    (
        "G15_10/DSM212",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Foetopathologie (DNQ)",
    ),
    (
        "G15_10/DSM213",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Gériatrie (DNQ)",
    ),
    (
        "G15_10/DSM214",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hématologie biologique (DNQ)",
    ),
    (
        "G15_10/DSM215",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hématologie maladies du sang (DNQ)",
    ),
    (
        "G15_10/DSM216",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hémobiologie-transfusion (DNQ)",
    ),
    (
        "G15_10/DSM217",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Immunologie et Immunopathologie (DNQ)",
    ),
    (
        "G15_10/DSM218",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine de la reproduction (DNQ)",
    ),
    (
        "G15_10/DSM219",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine du sport (DNQ)",
    ),
    (
        "G15_10/DSM220",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine d'urgence (DNQ)",
    ),
    (
        "G15_10/DSM221",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine légale et Expertises médicales (DNQ)",
    ),
    (
        "G15_10/DSM222",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine nucléaire (DNQ)",
    ),
    (
        "G15_10/DSM223",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine vasculaire (DNQ)",
    ),
    (
        "G15_10/DSM224",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Néonatalogie (DNQ)",
    ),
    (
        "G15_10/DSM225",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neuropathologie (DNQ)",
    ),
    (
        "G15_10/DSM226",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Nutrition (DNQ)",
    ),
    (
        "G15_10/DSM227",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Orthopédie dento-maxillo-faciale (DNQ)",
    ),
    (
        "G15_10/DSM228",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pathologie infect et trop, clin et bio (DNQ)",
    ),
    (
        "G15_10/DSM229",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pharmacocinétique et Métabolisme des méd (DNQ)",
    ),
    (
        "G15_10/DSM230",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pharmacologie clin et Eval thérapeutiq (DNQ)",
    ),
    (
        "G15_10/DSM231",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Psychiatrie de l'enfant et de l'ado (DNQ)",
    ),
    (
        "G15_10/DSM232",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Radiopharmacie et radiobiologie (DNQ)",
    ),
    (
        "G15_10/DSM233",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Réanimation médicale (DNQ)",
    ),
    (
        "G15_10/DSM234",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Toxicologie biologique (DNQ)",
    ),
    (
        "G15_10/DSM235",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine de la douleur et Méd palliative (DNQ)",
    ),
    (
        "G15_10/DSM236",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie, opt Trait méd des cancers (DNQ)",
    ),
    (
        "G15_10/DSM237",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie, opt Chir cancérologique (DNQ)",
    ),
    (
        "G15_10/DSM238",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie, opt Réseaux cancérologie (DNQ)",
    ),
    (
        "G15_10/DSM239",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie, opt Biologie cancérologie (DNQ)",
    ),
    (
        "G15_10/DSM240",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie, opt Imagerie cancérologie (DNQ)",
    ),
    ("G15_21", "1.2.250.1.213.1.1.4.5", "Pharmacien"),
    (
        "G15_21/A",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien titulaire d'officine",
    ),
    (
        "G15_21/B",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien d'entreprise - industrie",
    ),
    (
        "G15_21/C",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien d'entreprise - distribution",
    ),
    (
        "G15_21/D",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien adjoint, remplaçant ou gérant",
    ),
    ("G15_21/DA", "1.2.250.1.213.1.1.4.5", "Pharmacien adjoint"),
    (
        "G15_21/DM",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien mutualiste ou minier",
    ),
    (
        "G15_21/E",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien d'Outre-Mer",
    ),
    (
        "G15_21/EA",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien titulaire d'officine - OM",
    ),
    (
        "G15_21/EB",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien d'entreprise - industrie - OM",
    ),
    (
        "G15_21/EC",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien d'entreprise - distribution - OM",
    ),
    (
        "G15_21/ED",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien adjoint - OM",
    ),
    (
        "G15_21/EG",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien biologiste - OM",
    ),
    (
        "G15_21/EH",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien d'un établissement de santé - OM",
    ),
    ("G15_21/G", "1.2.250.1.213.1.1.4.5", "Pharmacien biologiste"),
    (
        "G15_21/H",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien d'établissement de santé",
    ),
    ("G15_21/M", "1.2.250.1.213.1.1.4.5", "Pharmacien militaire"),
    ("G15_26", "1.2.250.1.213.1.1.4.5", "Audioprothésiste"),
    ("G15_28", "1.2.250.1.213.1.1.4.5", "Opticien-Lunetier"),
    ("G15_31", "1.2.250.1.213.1.1.4.5", "Assistant dentaire"),
    ("G15_32", "1.2.250.1.213.1.1.4.5", "Physicien médical"),
    ("G15_35", "1.2.250.1.213.1.1.4.5", "Aide-soignant"),
    ("G15_36", "1.2.250.1.213.1.1.4.5", "Ambulancier"),
    (
        "G15_37",
        "1.2.250.1.213.1.1.4.5",
        "Auxiliaire de puériculture",
    ),
    (
        "G15_38",
        "1.2.250.1.213.1.1.4.5",
        "Préparateur en pharmacie hospitalière",
    ),
    (
        "G15_39",
        "1.2.250.1.213.1.1.4.5",
        "Préparateur en pharmacie (officine)",
    ),
    ("G15_40", "1.2.250.1.213.1.1.4.5", "Chirurgien-Dentiste"),
    (
        "G15_40/SCD01",
        "1.2.250.1.213.1.1.4.5",
        "Chirurgien-Dentiste - Orthopédie dento-faciale (SCD)",
    ),
    (
        "G15_40/SCD02",
        "1.2.250.1.213.1.1.4.5",
        "Chirurgien-Dentiste - Chirurgie orale (SCD)",
    ),
    (
        "G15_40/SCD03",
        "1.2.250.1.213.1.1.4.5",
        "Chirurgien-Dentiste - Médecine bucco-dentaire (SCD)",
    ),
    ("G15_50", "1.2.250.1.213.1.1.4.5", "Sage-Femme"),
    ("G15_60", "1.2.250.1.213.1.1.4.5", "Infirmier"),
    (
        "G15_60/SI01",
        "1.2.250.1.213.1.1.4.5",
        "Infirmier - Exercice infirmier en pratique avancée pathologies chroniques stabilisées (SI)",
    ),
    (
        "G15_60/SI02",
        "1.2.250.1.213.1.1.4.5",
        "Infirmier - Exercice infirmier en pratique avancée oncologie et hémato-oncologie (SI)",
    ),
    (
        "G15_60/SI03",
        "1.2.250.1.213.1.1.4.5",
        "Infirmier - Exerc. infirmier pratique avancée maladie rénale chroniq.,dialyse,transp. rénale (SI)",
    ),
    (
        "G15_60/SI04",
        "1.2.250.1.213.1.1.4.5",
        "Infirmier - Exercice infirmier en pratique avancée santé mentale (SI)",
    ),
    (
        "G15_60/SI05",
        "1.2.250.1.213.1.1.4.5",
        "Infirmier - Exercice infirmier en pratique avancée urgences (SI)",
    ),
    ("G15_69", "1.2.250.1.213.1.1.4.5", "Infirmier psychiatrique"),
    (
        "G15_70",
        "1.2.250.1.213.1.1.4.5",
        "Masseur-Kinésithérapeute",
    ),
    ("G15_80", "1.2.250.1.213.1.1.4.5", "Pédicure-Podologue"),
    ("G15_81", "1.2.250.1.213.1.1.4.5", "Orthoprothésiste"),
    ("G15_82", "1.2.250.1.213.1.1.4.5", "Podo-Orthésiste"),
    ("G15_83", "1.2.250.1.213.1.1.4.5", "Orthopédiste-Orthésiste"),
    ("G15_84", "1.2.250.1.213.1.1.4.5", "Oculariste"),
    ("G15_85", "1.2.250.1.213.1.1.4.5", "Epithésiste"),
    (
        "G15_86",
        "1.2.250.1.213.1.1.4.5",
        "Technicien de laboratoire médical",
    ),
    ("G15_91", "1.2.250.1.213.1.1.4.5", "Orthophoniste"),
    ("G15_92", "1.2.250.1.213.1.1.4.5", "Orthoptiste"),
    ("G15_94", "1.2.250.1.213.1.1.4.5", "Ergothérapeute"),
    ("G15_95", "1.2.250.1.213.1.1.4.5", "Diététicien"),
    ("G15_96", "1.2.250.1.213.1.1.4.5", "Psychomotricien"),
    ("G15_98", "1.2.250.1.213.1.1.4.5", "Manipulateur ERM"),
    ("G16_10", "1.2.250.1.213.1.1.4.5", "Médecin en formation"),
    ("G16_21", "1.2.250.1.213.1.1.4.5", "Pharmacien en formation"),
    (
        "G16_40",
        "1.2.250.1.213.1.1.4.5",
        "Chirurgien-Dentiste en formation",
    ),
    ("G16_50", "1.2.250.1.213.1.1.4.5", "Sage-Femme en formation"),
    (
        "G15_10/80",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Homéopathie (OP)",
    ),
    (
        "G15_10/81",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Acupuncture (OP)",
    ),
    (
        "G15_10/DEC01",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Addictologie (DEC)",
    ),
    (
        "G15_10/DEC02",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Allergologie et immunologie clinique (DEC)",
    ),
    (
        "G15_10/DEC03",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Andrologie (DEC)",
    ),
    (
        "G15_10/DEC04",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie option traitements médicaux des cancers (DEC)",
    ),
    (
        "G15_10/DEC05",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie option chirurgie cancérologique (DEC)",
    ),
    (
        "G15_10/DEC06",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie option réseaux de cancérologie (DEC)",
    ),
    (
        "G15_10/DEC07",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie option biologie en cancérologie (DEC)",
    ),
    (
        "G15_10/DEC08",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie option imagerie en cancérologie (DEC)",
    ),
    (
        "G15_10/DEC09",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Dermatopathologie (DEC)",
    ),
    (
        "G15_10/DEC10",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Foetopathologie (DEC)",
    ),
    (
        "G15_10/DEC11",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hémobiologie - tranfusion (DEC)",
    ),
    (
        "G15_10/DEC12",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine de la douleur et médecine palliative (DEC)",
    ),
    (
        "G15_10/DEC13",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine de la reproduction (DEC)",
    ),
    (
        "G15_10/DEC14",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine d'urgence (DEC)",
    ),
    (
        "G15_10/DEC15",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine du sport (DEC)",
    ),
    (
        "G15_10/DEC16",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine légale et expertises médicales (DEC)",
    ),
    (
        "G15_10/DEC17",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine vasculaire (DEC)",
    ),
    (
        "G15_10/DEC18",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Néonatologie (DEC)",
    ),
    (
        "G15_10/DEC19",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Neuropathologie (DEC)",
    ),
    (
        "G15_10/DEC20",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Nutrition (DEC)",
    ),
    (
        "G15_10/DEC21",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Orthopédie dento-maxillo-faciale (DEC)",
    ),
    (
        "G15_10/DEC22",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pathologie infectieuse et tropicale, clinique et biologique (DEC)",
    ),
    (
        "G15_10/DEC23",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pharmacologie clinique et évaluation des thérapeutiques (DEC)",
    ),
    (
        "G15_10/DEC24",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Psychiatrie de l'enfant et de l'adolescent (DEC)",
    ),
    (
        "G15_10/SST01",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Addictologie (SST)",
    ),
    (
        "G15_10/SST02",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Bio-informatique médicale (SST)",
    ),
    (
        "G15_10/SST03",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie déc. hémato-cancérologie pédiatrique (SST)",
    ),
    (
        "G15_10/SST04",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cancérologie traitements médicaux des cancers (SST)",
    ),
    (
        "G15_10/SST05",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Cardiologie pédiatrique et congénitale (SST)",
    ),
    (
        "G15_10/SST06",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie de la main (SST)",
    ),
    (
        "G15_10/SST07",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie en situation de guerre ou de catastrophe (SST)",
    ),
    (
        "G15_10/SST08",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Chirurgie orbito-palpébro-lacrymale (SST)",
    ),
    (
        "G15_10/SST09",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Douleur (SST)",
    ),
    (
        "G15_10/SST10",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Expertise médicale-préjudice corporel (SST)",
    ),
    (
        "G15_10/SST11",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Foetopathologie (SST)",
    ),
    (
        "G15_10/SST12",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Génétique et médecine moléculaire bioclinique (SST)",
    ),
    (
        "G15_10/SST13",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hématologie bioclinique (SST)",
    ),
    (
        "G15_10/SST14",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Hygiène-prévention de l'infection, résistances (SST)",
    ),
    (
        "G15_10/SST15",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Maladies allergiques (SST)",
    ),
    (
        "G15_10/SST16",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine hospitalière polyvalente (SST)",
    ),
    (
        "G15_10/SST17",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine palliative (SST)",
    ),
    (
        "G15_10/SST18",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine scolaire (SST)",
    ),
    (
        "G15_10/SST19",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine en situation de guerre ou en SSE (SST)",
    ),
    (
        "G15_10/SST20",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine et biologie de la reproduction-andrologie (SST)",
    ),
    (
        "G15_10/SST21",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Médecine du sport (SST)",
    ),
    (
        "G15_10/SST22",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Nutrition appliquée (SST)",
    ),
    (
        "G15_10/SST23",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Pharmacologie médicale/thérapeutique (SST)",
    ),
    (
        "G15_10/SST24",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Sommeil (SST)",
    ),
    (
        "G15_10/SST25",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Thérapie cellulaire/transfusion (SST)",
    ),
    (
        "G15_10/SST26",
        "1.2.250.1.213.1.1.4.5",
        "Médecin - Urgences pédiatriques (SST)",
    ),
    (
        "G15_21/FQ01",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien - Expérience prat. art. R.5124-16 du CSP Fabricant",
    ),
    (
        "G15_21/FQ02",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien - Expérience prat. art. R.5124-16 du CSP Exploitant",
    ),
    (
        "G15_21/FQ03",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien - Exp. prat. art. R.5124-16 du CSP Thérapie Cellulaire",
    ),
    (
        "G15_21/FQ04",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien - Expérience pratique article R.5124-18 du CSP",
    ),
    (
        "G15_21/FQ05",
        "1.2.250.1.213.1.1.4.5",
        "Pharmacien - Expérience pratique article R.5141-129 du CSP",
    ),
];
