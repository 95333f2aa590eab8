//! The VIHF subject roles the DMP accepts (value set JDV_J65 SubjectRole-DMP): codes only,
//! by code system. A professional's role is the profession, then the specialty for those who
//! have one; a user who is not a health professional has a role of the non-PS system.

/// Professions, TRE_G15 (`1.2.250.1.71.1.2.7`), the ones JDV_J65 lists.
pub const PROFESSION_SYSTEM: &str = "1.2.250.1.71.1.2.7";
/// Roles of users who are not health professionals (`1.2.250.1.213.1.1.4.6`).
pub const NON_PS_ROLE_SYSTEM: &str = "1.2.250.1.213.1.1.4.6";
/// Specialties (savoir-faire), TRE_R38 (`1.2.250.1.71.4.2.5`).
pub const SPECIALTY_SYSTEM: &str = "1.2.250.1.71.4.2.5";
/// Sections of the pharmacists' Ordre (`1.2.250.1.71.4.2.6`), a pharmacist's specialty.
pub const PHARMACIST_SECTION_SYSTEM: &str = "1.2.250.1.71.4.2.6";

pub(crate) const PROFESSIONS: &[&str] = &[
    "10", "21", "26", "28", "31", "32", "35", "36", "37", "38", "39", "40", "50", "60", "69", "70",
    "80", "81", "82", "83", "84", "85", "86", "91", "92", "94", "95", "96", "98",
];
pub(crate) const NON_PS_ROLES: &[&str] = &[
    "ALIM_AM",
    "DISPOSITIF",
    "EXP_PATIENT",
    "SECRETARIAT_MEDICAL",
    "AUTOMATE",
];
pub(crate) const PHARMACIST_SECTIONS: &[&str] = &[
    "A", "B", "C", "D", "DA", "DM", "E", "EA", "EB", "EC", "ED", "EG", "EH", "G", "H", "M",
];
pub(crate) const SPECIALTIES: &[&str] = &[
    "SCD01", "SCD02", "SCD03", "PAC00", "SM01", "SM02", "SM03", "SM04", "SM05", "SM06", "SM07",
    "SM08", "SM09", "SM10", "SM11", "SM12", "SM13", "SM14", "SM15", "SM16", "SM17", "SM18", "SM19",
    "SM20", "SM21", "SM22", "SM23", "SM24", "SM25", "SM26", "SM27", "SM28", "SM29", "SM30", "SM31",
    "SM32", "SM33", "SM34", "SM35", "SM36", "SM37", "SM38", "SM39", "SM40", "SM41", "SM42", "SM43",
    "SM44", "SM45", "SM46", "SM47", "SM48", "SM49", "SM50", "SM51", "SM52", "SM53", "SM54", "SM55",
    "SM56", "SM57", "SM58", "SM59", "SM60", "SM61", "SM62", "SM63", "SM64", "SM65", "SM66", "SM67",
    "SM68", "SM69", "SM70", "SM71", "SM72", "CEX22", "CEX24", "CEX26", "CEX64", "SCH01", "SCH02",
    "SCH03", "SCH04", "SCH05", "SCH06", "SCH07", "SCH08", "SCH09", "SCH10", "SCH11", "SCH12",
    "SCH13", "SCH14", "SCH15", "SCH16", "SCH17", "SCH18", "SCH19", "SCH20", "SCH21", "SCH22",
    "SCH23", "SCH24", "SCH25", "SCH26", "SCH27", "SCH28", "SCH29", "SCH30", "SCH31", "SCH32",
    "SCH33", "SCH34", "SCH35", "SCH36", "SCH37", "SCH38", "SCH39", "SCH40", "SCH41", "SCH42",
    "SCH43", "SCH44", "SCH45", "SCH46", "SCH47", "SCH48", "SCH49", "SCH50", "SCH51", "SCH52",
    "SCH53", "SCH54", "SCH55", "SCH56", "SCH57", "SCH58", "SCH59", "SCH60", "SI01", "SI02", "SI03",
    "SI04", "C01", "C03", "C05", "C07", "C09", "C10", "C11", "C12", "C13", "C15", "C20", "C23",
    "C25", "C27", "C29", "C30", "C31", "C33", "C34", "C35", "C36", "C37", "C38", "C39", "C40",
    "C41", "C43", "C45", "C47", "C51", "C52", "C54", "C57", "C58", "C60", "C62", "C68", "C69",
    "C71", "C72", "C75", "C76", "C83", "CAPA01", "CAPA02", "CAPA03", "CAPA04", "CAPA05", "CAPA06",
    "CAPA07", "CAPA08", "CAPA09", "CAPA10", "CAPA11", "CAPA12", "CAPA13", "CAPA14", "CAPA15",
    "CAPA16", "DSM200", "DSM201", "DSM202", "DSM203", "DSM204", "DSM205", "DSM206", "DSM207",
    "DSM208", "DSM209", "DSM210", "DSM211", "DSM212", "DSM213", "DSM214", "DSM215", "DSM216",
    "DSM217", "DSM218", "DSM219", "DSM220", "DSM221", "DSM222", "DSM223", "DSM224", "DSM225",
    "DSM226", "DSM227", "DSM228", "DSM229", "DSM230", "DSM231", "DSM232", "DSM233", "DSM234",
    "DSM235", "DSM236", "DSM237", "DSM238", "DSM239", "DSM240",
];
