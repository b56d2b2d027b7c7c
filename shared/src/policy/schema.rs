//! The JSON Schema of the policy files, generated from the syntax types. The loader checks
//! every file against it before anything else, which is how *every* unknown key, missing key
//! and wrong type in a file is reported in one run (serde stops at the first).

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::diag::Reporter;
use super::pointer::{Pointer, Segment};
use super::syntax::{DefaultsFile, TenantFile};

/// Which kind of policy file a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Tenant,
    Defaults,
}

/// The schema of one kind of file, as JSON.
pub fn schema(kind: FileKind) -> Value {
    let schema = match kind {
        FileKind::Tenant => schemars::schema_for!(TenantFile),
        FileKind::Defaults => schemars::schema_for!(DefaultsFile),
    };
    let mut value = schema.to_value();
    strip_null(&mut value);
    value
}

/// TOML has no null: an optional key is absent, never `null`. Dropping the null branches
/// schemars adds for `Option` keeps optional tables plain `$ref`s, so the validator reports
/// errors inside them instead of one opaque "matches no branch of anyOf".
fn strip_null(value: &mut Value) {
    let Value::Object(map) = value else {
        if let Value::Array(items) = value {
            items.iter_mut().for_each(strip_null);
        }
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            map.insert("type".to_owned(), only);
        }
    }
    let is_null = |b: &Value| b.get("type") == Some(&Value::from("null"));
    if let Some(Value::Array(branches)) = map.get("anyOf")
        && branches.len() == 2
        && branches.iter().any(is_null)
        && let Some(Value::Object(kept)) = branches.iter().find(|b| !is_null(b)).cloned()
    {
        map.remove("anyOf");
        map.extend(kept);
    }
    map.values_mut().for_each(strip_null);
}

/// Reports every way `document` departs from the schema of `kind`, and returns a repaired
/// copy for the later stages when one can be made: unknown keys dropped, wrong values and
/// missing keys replaced by neutral ones. The pointers it touched are returned too, so that
/// later stages do not report the same mistake again.
pub(crate) fn check(
    kind: FileKind,
    document: &Value,
    reporter: &mut Reporter<'_>,
) -> Option<(Value, Vec<Pointer>)> {
    let (schema, validator) = compiled(kind);
    let mut repaired = document.clone();
    let mut touched = Vec::new();
    for round in 0..4 {
        let errors: Vec<_> = validator.iter_errors(&repaired).collect();
        if errors.is_empty() {
            return Some((repaired, touched));
        }
        let mut patches = Vec::new();
        for error in &errors {
            let at = to_pointer(error.instance_path());
            if round == 0 {
                report(
                    schema,
                    &at,
                    error.kind(),
                    error.instance(),
                    &error.to_string(),
                    reporter,
                );
            }
            patches.extend(repair(schema, &at, error.kind()));
        }
        for (at, value) in patches {
            apply(&mut repaired, &at, value);
            touched.push(at);
        }
    }
    None
}

/// How to take one schema error out of the document: the pointer to replace (or, with
/// `None`, remove) and the neutral value to put there.
fn repair(schema: &Value, at: &Pointer, kind: &ValidationErrorKind) -> Vec<(Pointer, Option<Value>)> {
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            unexpected.iter().map(|key| (at.key(key), None)).collect()
        }
        ValidationErrorKind::Required { property } => {
            let key = at.key(property.as_str().unwrap_or_default());
            let value = node_at(schema, &key).map_or(Value::Null, |n| neutral(schema, n));
            vec![(key, Some(value))]
        }
        _ => vec![(
            at.clone(),
            Some(node_at(schema, at).map_or(Value::Null, |n| neutral(schema, n))),
        )],
    }
}

fn apply(document: &mut Value, at: &Pointer, value: Option<Value>) {
    let Some((last, parent)) = at.segments().split_last() else {
        return;
    };
    let mut here = document;
    for segment in parent {
        let next = match segment {
            Segment::Key(key) => here.get_mut(key.as_str()),
            Segment::Index(index) => here.get_mut(*index),
        };
        match next {
            Some(next) => here = next,
            None => return,
        }
    }
    match (last, here, value) {
        (Segment::Key(key), Value::Object(map), Some(value)) => {
            map.insert(key.clone(), value);
        }
        (Segment::Key(key), Value::Object(map), None) => {
            map.remove(key);
        }
        (Segment::Index(index), Value::Array(items), Some(value)) if *index < items.len() => {
            items[*index] = value;
        }
        _ => {}
    }
}

/// A value of the schema's type that carries no meaning of its own.
fn neutral(schema: &Value, node: &Value) -> Value {
    let node = resolve(schema, node);
    if let Some(first) = node.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match node.get("type") {
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        Some(t) => t.as_str(),
        None => None,
    };
    match kind {
        Some("string") => Value::from(""),
        Some("integer" | "number") => Value::from(node.get("minimum").and_then(Value::as_u64).unwrap_or(0)),
        Some("boolean") => Value::Bool(false),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => Value::Object(serde_json::Map::new()),
        _ => match node
            .get("anyOf")
            .or_else(|| node.get("oneOf"))
            .and_then(|b| b.get(0))
        {
            Some(branch) => neutral(schema, branch),
            None => Value::Null,
        },
    }
}

fn compiled(kind: FileKind) -> &'static (Value, jsonschema::Validator) {
    static TENANT: OnceLock<(Value, jsonschema::Validator)> = OnceLock::new();
    static DEFAULTS: OnceLock<(Value, jsonschema::Validator)> = OnceLock::new();
    let cell = match kind {
        FileKind::Tenant => &TENANT,
        FileKind::Defaults => &DEFAULTS,
    };
    cell.get_or_init(|| {
        let schema = schema(kind);
        // The schema is generated from our own types at build time; failing to compile it is
        // a programming error that every test would catch.
        #[allow(clippy::expect_used)]
        let validator = jsonschema::validator_for(&schema).expect("generated schema compiles");
        (schema, validator)
    })
}

fn to_pointer(location: &jsonschema::paths::Location) -> Pointer {
    let mut pointer = Pointer::root();
    for segment in location.segments() {
        pointer.push(match segment {
            LocationSegment::Property(key) => Segment::Key(key.into_owned()),
            LocationSegment::Index(index) => Segment::Index(index),
        });
    }
    pointer
}

fn report(
    schema: &Value,
    at: &Pointer,
    kind: &ValidationErrorKind,
    instance: &Value,
    fallback: &str,
    reporter: &mut Reporter<'_>,
) {
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_keys(schema, at);
            for key in unexpected {
                let fix = closest(key, known.iter().map(String::as_str))
                    .map(|k| format!("did you mean `{k}`?"))
                    .or_else(|| {
                        (!known.is_empty()).then(|| format!("allowed keys here: {}", known.join(", ")))
                    });
                reporter.error_at_key("unknown-key", &at.key(key), format!("unknown key `{key}`"), fix);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            reporter.error(
                "missing-key",
                at,
                format!("missing required key `{name}`"),
                Some(format!("add `{name} = ...`")),
            );
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
            };
            let message = format!(
                "expected {}, found {}",
                toml_type(&expected),
                found_type(instance)
            );
            reporter.error_at_key("wrong-type", at, message, None);
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<&str> = options
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let fix = instance
                .as_str()
                .and_then(|given| closest(given, options.iter().copied()))
                .map(|o| format!("did you mean \"{o}\"?"));
            let quoted: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
            reporter.error(
                "invalid-value",
                at,
                format!("expected one of {}", quoted.join(", ")),
                fix,
            );
        }
        ValidationErrorKind::Minimum { limit } | ValidationErrorKind::Maximum { limit } => {
            reporter.error(
                "out-of-range",
                at,
                format!("{instance} is out of range (limit {limit})"),
                None,
            );
        }
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
            let message = match instance {
                Value::Number(_) => "number out of range here".to_owned(),
                _ => format!(
                    "expected a byte count or a size such as \"10MiB\", found {}",
                    found_type(instance)
                ),
            };
            reporter.error("wrong-type", at, message, None);
        }
        _ => reporter.error("invalid-value", at, fallback.to_owned(), None),
    }
}

/// The keys the schema allows in the table at `at`, to suggest a fix for an unknown one.
fn known_keys(schema: &Value, at: &Pointer) -> Vec<String> {
    node_at(schema, at)
        .and_then(|node| resolve(schema, node).get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The subschema describing the value at `at`.
fn node_at<'s>(schema: &'s Value, at: &Pointer) -> Option<&'s Value> {
    let mut node = resolve(schema, schema);
    for segment in at.segments() {
        let next = match segment {
            Segment::Key(key) => node.get("properties").and_then(|p| p.get(key)),
            Segment::Index(_) => node.get("items"),
        }?;
        node = resolve(schema, next);
    }
    Some(node)
}

/// Follows `$ref` and the `anyOf: [X, null]` that optional fields become.
fn resolve<'s>(root: &'s Value, mut node: &'s Value) -> &'s Value {
    loop {
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let path = reference.trim_start_matches('#');
            match root.pointer(path) {
                Some(target) => node = target,
                None => return node,
            }
        } else if let Some(branch) = node.get("anyOf").and_then(Value::as_array).and_then(|branches| {
            branches
                .iter()
                .find(|b| b.get("type") != Some(&Value::from("null")))
        }) {
            node = branch;
        } else {
            return node;
        }
    }
}

/// The candidate closest to `given`, if it is close enough to be a likely typo.
pub(crate) fn closest<'c>(given: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn toml_type(json_type: &str) -> String {
    json_type.replace("object", "table").replace("number", "float")
}

fn found_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}
