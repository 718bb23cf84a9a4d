//! Offline admission: validates a polyfleet object (as JSON) the way the API server would, without
//! one: OpenAPI schema (types, enums, ranges, patterns), unknown fields (kubectl's default strict
//! field validation) and the CEL rules (`x-kubernetes-validations`, including transition rules
//! against the old object), after applying schema defaults.
//!
//! `polyfleet up` uses it so a local run rejects exactly what `kubectl apply` would, and the tests
//! use it on `manifests/examples/`. The API server stays the authority: this mirrors it with the
//! same schema, and the cluster end-to-end suite checks the two agree.

use std::collections::HashMap;
use std::sync::OnceLock;

use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use serde_json::Value;

/// Which layer of validation rejected a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The OpenAPI schema (type, enum, minimum, maximum, pattern, required, unknown field).
    Schema,
    /// A CEL rule.
    Cel,
}

/// One reason an object is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Violation {
    /// The layer that rejected it.
    pub layer: Layer,
    /// Dotted path of the offending field, e.g. `spec.mode` (empty for the root).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why an object could not be validated at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// apiVersion/kind is not one of polyfleet's.
    #[error("not a polyfleet.dev/v1alpha1 resource: apiVersion {api_version:?}, kind {kind:?}")]
    UnknownKind {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// The kind's own schema could not be prepared (a defect of this build, not of the object).
    #[error("the {kind} schema cannot be used: {reason}")]
    Schema {
        /// The kind.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// The object is invalid.
    #[error("{} violation(s): {}", .0.len(), .0.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Violation>),
}

struct KindSchema {
    raw: Value,
    schema: jsonschema::Validator,
    cel: CompiledSchema,
}

/// One kind's schema, prepared.
fn prepare(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Result<KindSchema, String> {
    let open_api = crd
        .spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .ok_or("the CRD carries no schema")?;
    let raw = serde_json::to_value(open_api).map_err(|e| e.to_string())?;
    let schema = jsonschema::validator_for(&raw).map_err(|e| e.to_string())?;
    let cel = compile_schema(&raw);
    Ok(KindSchema { raw, schema, cel })
}

fn schemas() -> &'static HashMap<String, Result<KindSchema, String>> {
    static SCHEMAS: OnceLock<HashMap<String, Result<KindSchema, String>>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crate::all_crds().into_iter().map(|file| (file.crd.spec.names.kind.clone(), prepare(&file.crd))).collect()
    })
}

fn kind_schema(object: &Value) -> Result<&'static KindSchema, ValidateError> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let expected = format!("{}/{}", crate::GROUP, crate::VERSION);
    match schemas().get(kind) {
        Some(Ok(s)) if api_version == expected => Ok(s),
        Some(Err(reason)) if api_version == expected => {
            Err(ValidateError::Schema { kind: kind.to_owned(), reason: reason.clone() })
        }
        _ => Err(ValidateError::UnknownKind { api_version: api_version.to_owned(), kind: kind.to_owned() }),
    }
}

/// Validates `object` (a whole resource with apiVersion, kind, metadata, spec) as a create, or as
/// an update of `old` when given (transition rules such as `self == oldSelf` then apply).
pub fn validate(object: &Value, old: Option<&Value>) -> Result<(), ValidateError> {
    let ks = kind_schema(object)?;
    let mut violations = Vec::new();
    for err in ks.schema.iter_errors(object) {
        violations.push(Violation {
            layer: Layer::Schema,
            field: pointer_to_dotted(&err.instance_path().to_string()),
            message: err.to_string(),
        });
    }
    unknown_fields(&ks.raw, object, String::new(), &mut violations);
    // CEL rules assume a structurally valid object, as on the API server.
    if violations.is_empty()
        && let Err(errors) = Validator::new().validate_compiled(&ks.cel, object, old)
    {
        for e in errors.into_vec() {
            violations.push(Violation { layer: Layer::Cel, field: e.field_path.clone(), message: e.message.clone() });
        }
    }
    if violations.is_empty() { Ok(()) } else { Err(ValidateError::Invalid(violations)) }
}

fn pointer_to_dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

fn unknown_fields(schema: &Value, value: &Value, path: String, out: &mut Vec<Violation>) {
    match value {
        Value::Object(map) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                if let Some(items) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                    for (k, v) in map {
                        unknown_fields(items, v, join(&path, k), out);
                    }
                }
                return;
            };
            for (k, v) in map {
                match props.get(k) {
                    Some(sub) => unknown_fields(sub, v, join(&path, k), out),
                    None if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") => {}
                    None => out.push(Violation {
                        layer: Layer::Schema,
                        field: join(&path, k),
                        message: format!("unknown field \"{}\"", join(&path, k)),
                    }),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    unknown_fields(item_schema, v, format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn venue(spec: Value) -> Value {
        json!({"apiVersion": "polyfleet.dev/v1alpha1", "kind": "Venue", "metadata": {"name": "v"}, "spec": spec})
    }

    #[test]
    fn accepts_minimal_venue_and_applies_defaults_for_cel() {
        validate(&venue(json!({"kind": "simulator"})), None).unwrap();
    }

    #[test]
    fn unknown_field_is_reported_with_its_path() {
        let err = validate(&venue(json!({"kind": "simulator", "sharding": {"assets": 3}})), None).unwrap_err();
        let ValidateError::Invalid(v) = err else { panic!("expected violations") };
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "spec.sharding.assets");
        assert_eq!(v[0].layer, Layer::Schema);
    }

    #[test]
    fn foreign_kind_is_refused() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        assert!(matches!(validate(&obj, None), Err(ValidateError::UnknownKind { .. })));
    }

    #[test]
    fn transition_rule_needs_the_old_object() {
        let old = venue(json!({"kind": "simulator"}));
        let new = venue(json!({"kind": "polymarket"}));
        validate(&new, None).unwrap();
        let ValidateError::Invalid(v) = validate(&new, Some(&old)).unwrap_err() else { panic!() };
        assert!(v.iter().any(|v| v.layer == Layer::Cel && v.message == "kind is immutable"), "{v:?}");
    }
}
