//! The bus face of the INS service: which subject each operation of the core answers.

use passerelle_bus::subjects;
use passerelle_service_kit::Handlers;
use passerelle_service_kit::core_op as op;

use crate::service::InsCore;

/// The INS subjects, served in the `ins-service` queue group by `core`.
pub fn handlers(core: InsCore) -> Handlers {
    let c = core.clone();
    let check = move |_, req| std::future::ready(c.check_matricule(&req));
    Handlers::new(subjects::INS_QUEUE_GROUP)
        .on(
            subjects::INS_SEARCH_BY_TRAITS,
            "ins.search_by_traits",
            op!(core, search_by_traits),
        )
        .on(
            subjects::INS_SEARCH_BY_VITALE,
            "ins.search_by_vitale",
            op!(core, search_by_vitale),
        )
        .on(subjects::INS_CHECK_MATRICULE, "ins.check_matricule", check)
        .on(subjects::INS_VERIFY, "ins.verify", op!(core, verify_ins))
        .on(
            subjects::INS_QUALIFY,
            "ins.qualify",
            op!(core, qualify_identity),
        )
        .on_stopped(async move { core.flush().await })
}
