//! Shared by the `up` suites: a private copy of `manifests/examples` to run and edit.

use std::path::{Path, PathBuf};

/// A fresh copy of the example resources in a temporary directory named for `name`.
pub fn copy_examples(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/examples");
    let dir = std::env::temp_dir().join(format!("polyfleet-up-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    dir
}
