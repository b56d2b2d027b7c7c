//! The repository's example policies and fixtures, loaded through the public API.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tollgate_shared::policy::schema::{FileKind, schema};
use tollgate_shared::policy::{Diagnostic, SourceFile, load_dir, load_sources};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("policies/defaults.toml")];
    let tenants = std::fs::read_dir(repo().join("policies/tenants")).expect("policies/tenants");
    files.extend(tenants.map(|e| e.expect("entry").path()));
    files.sort();
    files
}

fn codes(diagnostics: &[Diagnostic]) -> BTreeSet<&'static str> {
    diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn the_examples_are_clean_even_under_strict() {
    let loaded = load_dir(&repo().join("policies")).expect("policy dir").strict();
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let set = loaded.policies.expect("policies");
    assert_eq!(set.tenants.len(), 4);
}

/// Loads one example file with one change, the rest of the examples as they are.
fn load_with(changed: &Path, text: String) -> Vec<Diagnostic> {
    let read = |p: &PathBuf| SourceFile {
        name: p.clone(),
        text: std::fs::read_to_string(p).expect("read"),
    };
    let defaults_path = repo().join("policies/defaults.toml");
    let file = |p: &PathBuf| {
        if p == changed {
            SourceFile {
                name: p.clone(),
                text: text.clone(),
            }
        } else {
            read(p)
        }
    };
    let tenants = example_files()
        .iter()
        .filter(|p| **p != defaults_path)
        .map(file)
        .collect();
    load_sources(Some(file(&defaults_path)), tenants).diagnostics
}

/// Every table in a TOML document, inline ones and array-of-tables entries included,
/// visited in a stable order; `visit` returns true to stop.
fn for_each_table(
    item: &mut toml_edit::Item,
    visit: &mut dyn FnMut(&mut dyn toml_edit::TableLike) -> bool,
) -> bool {
    match item {
        toml_edit::Item::Table(table) => {
            visit(table) || table.iter_mut().any(|(_, child)| for_each_table(child, visit))
        }
        toml_edit::Item::ArrayOfTables(array) => array
            .iter_mut()
            .any(|table| visit(table) || table.iter_mut().any(|(_, child)| for_each_table(child, visit))),
        toml_edit::Item::Value(value) => for_each_value(value, visit),
        toml_edit::Item::None => false,
    }
}

fn for_each_value(
    value: &mut toml_edit::Value,
    visit: &mut dyn FnMut(&mut dyn toml_edit::TableLike) -> bool,
) -> bool {
    match value {
        toml_edit::Value::InlineTable(table) => {
            visit(table) || table.iter_mut().any(|(_, child)| for_each_value(child, visit))
        }
        toml_edit::Value::Array(array) => array.iter_mut().any(|child| for_each_value(child, visit)),
        _ => false,
    }
}

#[test]
fn an_unknown_key_in_any_table_of_any_example_is_rejected_where_it_stands() {
    const KEY: &str = "tollgate_unexpected";
    let mut mutations = 0;
    for path in example_files() {
        let original = std::fs::read_to_string(&path).expect("read");
        for target in 0.. {
            let mut doc: toml_edit::DocumentMut = original.parse().expect("example parses");
            let mut seen = 0;
            let root = doc.as_item_mut();
            let inserted = for_each_table(root, &mut |table| {
                seen += 1;
                if seen - 1 == target {
                    table.insert(KEY, toml_edit::value(1));
                    return true;
                }
                false
            });
            if !inserted {
                break;
            }
            let text = doc.to_string();
            let line = text
                .lines()
                .position(|l| l.contains(KEY))
                .expect("inserted key is in the text")
                + 1;
            let diagnostics = load_with(&path, text);
            let hit = diagnostics
                .iter()
                .find(|d| d.code == "unknown-key" && d.message.contains(KEY));
            let hit = hit.unwrap_or_else(|| {
                panic!(
                    "table #{target} of {}: not rejected: {diagnostics:#?}",
                    path.display()
                )
            });
            assert_eq!(hit.line, line, "table #{target} of {}", path.display());
            mutations += 1;
        }
    }
    // Guards the walk itself: the examples have dozens of tables.
    assert!(mutations > 40, "only {mutations} tables mutated");
}

#[test]
fn the_committed_json_schemas_match_the_syntax_types() {
    for (kind, file) in [
        (FileKind::Tenant, "tenant.schema.json"),
        (FileKind::Defaults, "defaults.schema.json"),
    ] {
        let path = repo().join("policies/schema").join(file);
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("schema file")).expect("json");
        assert!(
            committed == schema(kind),
            "{} is stale; regenerate it with `tollgate policy schema {}` > {}",
            path.display(),
            if kind == FileKind::Tenant {
                "tenant"
            } else {
                "defaults"
            },
            path.display()
        );
    }
}

#[test]
fn a_policy_with_many_mistakes_reports_them_all_in_one_run() {
    let loaded = load_dir(&repo().join("tests/fixtures/broken")).expect("fixture dir");
    assert!(loaded.policies.is_none());
    let expected = [
        "invalid-value",
        "missing-key",
        "unknown-key",
        "out-of-range",
        "invalid-host",
        "invalid-method",
        "invalid-path",
        "invalid-cidr",
        "invalid-duration",
        "key-not-applicable",
        "unknown-detector",
        "invalid-size",
        "misplaced-budget",
        "unknown-tool",
        "invalid-request",
        "unknown-reason",
    ];
    let found = codes(&loaded.diagnostics);
    for code in expected {
        assert!(found.contains(code), "no {code} in {found:?}");
    }
    let positions: BTreeSet<(usize, usize, &str)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.code))
        .collect();
    assert_eq!(
        positions.len(),
        loaded.diagnostics.len(),
        "each finding is reported once"
    );
}

#[test]
fn every_lint_fires_on_the_lint_fixture_and_strict_turns_them_into_errors() {
    let loaded = load_dir(&repo().join("tests/fixtures/lints")).expect("fixture dir");
    assert!(loaded.policies.is_some(), "lints alone do not stop loading");
    let expected: BTreeSet<&str> = [
        "broad-wildcard",
        "duplicate-rule",
        "shadowed-rule",
        "credential-host-unreachable",
        "inject-on-tunnel",
        "zero-budget",
        "absurd-budget",
        "missing-owner",
    ]
    .into();
    assert_eq!(codes(&loaded.diagnostics), expected);
    let strict = loaded.strict();
    assert!(strict.policies.is_none());
    assert_eq!(strict.errors().count(), strict.diagnostics.len());
}

#[test]
fn toml_syntax_errors_are_located() {
    let text = "version = 1\n[tenant]\nid = \"x\"\nowner = \n".to_owned();
    let loaded = load_sources(
        None,
        vec![SourceFile {
            name: "tenants/x.toml".into(),
            text,
        }],
    );
    let error = loaded.errors().next().expect("syntax error");
    assert_eq!((error.code, error.line), ("syntax", 4));
}

#[test]
fn the_file_name_must_match_the_tenant_id() {
    let text = "version = 1\n[tenant]\nid = \"acme\"\nowner = \"o\"\n".to_owned();
    let loaded = load_sources(
        None,
        vec![SourceFile {
            name: "tenants/globex.toml".into(),
            text,
        }],
    );
    let error = loaded.errors().next().expect("mismatch");
    assert_eq!((error.code, error.line, error.column), ("id-mismatch", 3, 6));
    assert!(error.fix.as_deref().is_some_and(|f| f.contains("acme.toml")));
}

fn tenant_with_detectors(detectors: &str) -> tollgate_shared::policy::Loaded {
    let text = format!("version = 1\n[tenant]\nid = \"acme\"\nowner = \"o\"\n\n[detectors]\n{detectors}\n");
    load_sources(
        None,
        vec![SourceFile {
            name: "tenants/acme.toml".into(),
            text,
        }],
    )
}

#[test]
fn an_exemption_lets_values_through_by_fingerprint() {
    let fp = "fp:00112233445566778899aabbccddeeff";
    let loaded = tenant_with_detectors(&format!(
        "exemptions = [{{ hosts = [\"docs.example.com\"], fingerprints = [\"{fp}\"], reason = \"AWS's documented example key in a tutorial\" }}]"
    ));
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let set = loaded.policies.expect("policies");
    let exemption = &set.tenants["acme"].detectors.exemptions[0];
    assert_eq!(
        exemption
            .fingerprints
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>(),
        [fp]
    );
    assert!(exemption.detectors.is_empty());
}

#[test]
fn bad_and_empty_exemptions_are_errors() {
    let loaded = tenant_with_detectors(
        "exemptions = [\n  { hosts = [\"a.example.com\"], fingerprints = [\"fp:0123\"], reason = \"r\" },\n  { hosts = [\"b.example.com\"], reason = \"r\" },\n]",
    );
    let errors: Vec<(&str, usize)> = loaded.errors().map(|d| (d.code, d.line)).collect();
    assert!(errors.contains(&("invalid-fingerprint", 8)), "{errors:?}");
    assert!(errors.contains(&("empty-exemption", 9)), "{errors:?}");
}
