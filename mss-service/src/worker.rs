//! The bus face of the MSS service: which subject each operation of the core answers.

use passerelle_bus::subjects;
use passerelle_service_kit::Handlers;
use passerelle_service_kit::core_op as op;

use crate::service::MssCore;

/// The MSS subjects, served in the `mss-service` queue group by `core`.
pub fn handlers(core: MssCore) -> Handlers {
    Handlers::new(subjects::MSS_QUEUE_GROUP)
        .on(subjects::MSS_SEND, "mss.send", op!(core, send))
        .on(subjects::MSS_PREVIEW, "mss.preview", op!(core, preview))
        .on(
            subjects::MSS_DIRECTORY_SEARCH,
            "mss.directory.search",
            op!(core, search_directory),
        )
        .on(
            subjects::MSS_DIRECTORY_IMPORT,
            "mss.directory.import",
            op!(core, import_directory),
        )
        .on(
            subjects::MSS_INBOX_LIST,
            "mss.inbox.list",
            op!(core, list_messages),
        )
        .on(
            subjects::MSS_INBOX_GET,
            "mss.inbox.get",
            op!(core, get_message),
        )
}
