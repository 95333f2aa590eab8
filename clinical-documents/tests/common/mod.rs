#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

/// `$PASSERELLE_SHARED_DIR`, else `shared/` beside the project. Missing: the test fails.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("specs/cda/jeuxDeValeurs").is_dir() && dir.join("conformance").is_dir(),
        "shared test material not found at {}: set PASSERELLE_SHARED_DIR to the shared/ folder \
         (these tests must not pass without it)",
        dir.display()
    );
    dir
}

/// Runs a conformance script on a file; panics with its report unless valid.
pub fn check(script: &str, file: &Path) {
    let out = Command::new(shared_dir().join("conformance").join(script))
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    match out.status.code() {
        Some(0) => {}
        Some(1) => panic!(
            "{} not conformant:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        ),
        _ => panic!(
            "{script} setup error:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
