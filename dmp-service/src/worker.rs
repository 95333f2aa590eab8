//! The bus face of the DMP service: which subject each operation of the core answers.

use passerelle_bus::subjects;
use passerelle_service_kit::Handlers;
use passerelle_service_kit::core_op as op;

use crate::service::DmpCore;

/// The DMP subjects, served in the `dmp-service` queue group by `core`.
pub fn handlers(core: DmpCore) -> Handlers {
    Handlers::new(subjects::DMP_QUEUE_GROUP)
        .on(subjects::DMP_STATUS, "dmp.status", op!(core, status))
        .on(
            subjects::DMP_SET_AUTHORIZATION,
            "dmp.set_authorization",
            op!(core, set_authorization),
        )
        .on(
            subjects::DMP_LIST_ACCESSIBLE,
            "dmp.list_accessible",
            op!(core, list_accessible),
        )
        .on(subjects::DMP_DEPOSIT, "dmp.deposit", op!(core, deposit))
        .on(
            subjects::DMP_DEPOSIT_VSM,
            "dmp.deposit_vsm",
            op!(core, deposit_vsm),
        )
        .on(
            subjects::DMP_LIST_DOCUMENTS,
            "dmp.list_documents",
            op!(core, list_documents),
        )
        .on(
            subjects::DMP_GET_DOCUMENT,
            "dmp.get_document",
            op!(core, get_document),
        )
        .on(
            subjects::DMP_CHANGE_VISIBILITY,
            "dmp.change_visibility",
            op!(core, change_visibility),
        )
        .on(
            subjects::DMP_CHANGE_STATUS,
            "dmp.change_status",
            op!(core, change_status),
        )
        .on_stopped(async move { core.flush().await })
}
