//! The bus face of the MSS service: which subject each operation of the core answers.

use passerelle_bus::subjects;
use passerelle_service_kit::Handlers;

use crate::service::MssCore;

/// Binds one operation of the core to a handler closure.
macro_rules! op {
    ($core:expr, $method:ident) => {{
        let c = $core.clone();
        move |id, req| {
            let c = c.clone();
            async move { c.$method(&id, req).await }
        }
    }};
}

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
        .on_stopped(async move { core.flush().await })
}
