//! The example manifests under `manifests/examples/` and what each invalid one promises.
//!
//! An invalid example starts with comment lines that say how it must be rejected:
//!
//! ```yaml
//! # rejected-by: schema | cel | cel-update
//! # field: spec.mode              (schema only: the offending field)
//! # message: Unsupported value: "yolo"   (a substring of the API server's message)
//! ```
//!
//! A `cel-update` example holds two documents: the stored object, then the update that must be
//! refused. The offline tests (crates `polyfleet-crds`) and the cluster end-to-end suite (crate
//! `polyfleet-operator`) both read the files through this module.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// How an invalid example must be rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectedBy {
    /// The OpenAPI schema.
    Schema,
    /// A CEL rule on create.
    Cel,
    /// A CEL transition rule on update (document 1 is stored, document 2 is the update).
    CelUpdate,
}

/// The promise an invalid example makes.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Which layer rejects it.
    pub rejected_by: RejectedBy,
    /// The offending field (schema rejections).
    pub field: Option<String>,
    /// A substring of the API server's error message.
    pub message: String,
}

/// One example file.
#[derive(Debug, Clone)]
pub struct Example {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its YAML documents as JSON values.
    pub docs: Vec<Value>,
    /// Present for invalid examples.
    pub expect: Option<Expectation>,
}

/// Why an example file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    /// The file could not be read.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The file is not YAML of a resource.
    #[error("{0}: {1}")]
    Yaml(PathBuf, Box<serde_saphyr::Error>),
    /// The file's header comment does not say what the example shows.
    #[error("{0}: bad header: {1}")]
    Header(PathBuf, String),
}

/// `manifests/examples/` of this source tree.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples")
}

/// Reads every `*.yaml` of `dir` (not recursive, `kustomization.yaml` excepted), sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Example>, ExampleError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ExampleError::Io(dir.to_owned(), e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
        .collect();
    paths.sort();
    paths.into_iter().map(|p| load_file(&p)).collect()
}

/// Reads one example file.
pub fn load_file(path: &Path) -> Result<Example, ExampleError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExampleError::Io(path.to_owned(), e))?;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).map_err(|e| ExampleError::Yaml(path.to_owned(), Box::new(e)))?;
    let expect = parse_header(&text).map_err(|e| ExampleError::Header(path.to_owned(), e))?;
    Ok(Example { path: path.to_owned(), docs, expect })
}

fn parse_header(text: &str) -> Result<Option<Expectation>, String> {
    let field_of = |key: &str| {
        text.lines()
            .take_while(|l| l.starts_with('#'))
            .find_map(|l| l.strip_prefix(&format!("# {key}:")).map(|v| v.trim().to_owned()))
    };
    let Some(by) = field_of("rejected-by") else { return Ok(None) };
    let rejected_by = match by.as_str() {
        "schema" => RejectedBy::Schema,
        "cel" => RejectedBy::Cel,
        "cel-update" => RejectedBy::CelUpdate,
        other => return Err(format!("unknown rejected-by {other:?}")),
    };
    let message = field_of("message").ok_or("rejected-by without message")?;
    let field = field_of("field");
    if rejected_by == RejectedBy::Schema && field.is_none() {
        return Err("a schema rejection names its field".into());
    }
    Ok(Some(Expectation { rejected_by, field, message }))
}
