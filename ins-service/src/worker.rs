//! The bus face of the INS service: which subject each operation of the core answers.

use passerelle_bus::subjects;
use passerelle_service_kit::Handlers;

use crate::service::InsCore;

/// The INS subjects, served in the `ins-service` queue group by `core`.
pub fn handlers(core: InsCore) -> Handlers {
    let c = core.clone();
    let traits = move |id, req| {
        let c = c.clone();
        async move { c.search_by_traits(&id, req).await }
    };
    let c = core.clone();
    let vitale = move |id, req| {
        let c = c.clone();
        async move { c.search_by_vitale(&id, req).await }
    };
    let c = core.clone();
    let check = move |_, req| std::future::ready(c.check_matricule(&req));
    let c = core.clone();
    let verify = move |id, req| {
        let c = c.clone();
        async move { c.verify_ins(&id, req).await }
    };
    let c = core.clone();
    let qualify = move |id, req| {
        let c = c.clone();
        async move { c.qualify_identity(&id, req).await }
    };
    Handlers::new(subjects::INS_QUEUE_GROUP)
        .on(
            subjects::INS_SEARCH_BY_TRAITS,
            "ins.search_by_traits",
            traits,
        )
        .on(
            subjects::INS_SEARCH_BY_VITALE,
            "ins.search_by_vitale",
            vitale,
        )
        .on(subjects::INS_CHECK_MATRICULE, "ins.check_matricule", check)
        .on(subjects::INS_VERIFY, "ins.verify", verify)
        .on(subjects::INS_QUALIFY, "ins.qualify", qualify)
        .on_stopped(async move { core.flush().await })
}
