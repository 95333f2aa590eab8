//! The bus face of the share service: which subject each operation of the core answers.

use passerelle_bus::subjects;
use passerelle_service_kit::Handlers;
use passerelle_service_kit::core_op as op;

use crate::service::ShareCore;

/// The share subjects, served in the `share-service` queue group by `core`.
pub fn handlers(core: ShareCore) -> Handlers {
    Handlers::new(subjects::SHARE_QUEUE_GROUP)
        .on(subjects::SHARE_SHARE, "share.share", op!(core, share))
        .on(subjects::SHARE_GET, "share.get", op!(core, get_share))
        .on(subjects::SHARE_RETRY, "share.retry", op!(core, retry_share))
}
