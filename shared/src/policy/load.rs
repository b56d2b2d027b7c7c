//! Loading a policy directory (`defaults.toml` and `tenants/*.toml`) into a [`PolicySet`],
//! collecting every diagnostic from every file in one pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use thiserror::Error;
use toml::de::DeTable;

use super::diag::{self, Diagnostic, Reporter, Severity};
use super::model::{DenyList, PolicySet, Tenant};
use super::pointer::Pointer;
use super::schema::{self, FileKind};
use super::source::{LineCol, SourceFile, table_to_json};
use super::validate::{self, Defaults};

/// Why a directory could not be read at all (as opposed to problems inside the files).
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} is not a policy directory: it has neither defaults.toml nor tenants/")]
    NotAPolicyDirectory(PathBuf),
}

/// The outcome of loading: the policy set if there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    pub policies: Option<PolicySet>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// Raises every lint to an error, and drops the policy set if any were raised.
    pub fn strict(mut self) -> Self {
        if self.diagnostics.iter().any(|d| !d.is_error()) {
            self.policies = None;
        }
        self.diagnostics = self.diagnostics.into_iter().map(Diagnostic::into_error).collect();
        self
    }
}

/// The newest modification time of any file in the directory tree: services poll it to
/// notice edits and reload.
pub fn newest_change(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    let own = meta.modified().ok();
    if !meta.is_dir() {
        return own;
    }
    let children = std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| newest_change(&e.path()));
    children.chain(own).max()
}

/// Reads `dir/defaults.toml` (optional) and every `dir/tenants/*.toml`.
pub fn load_dir(dir: &Path) -> Result<Loaded, LoadError> {
    let defaults_path = dir.join("defaults.toml");
    let tenants_dir = dir.join("tenants");
    if !defaults_path.is_file() && !tenants_dir.is_dir() {
        return Err(LoadError::NotAPolicyDirectory(dir.to_owned()));
    }
    let defaults = defaults_path
        .is_file()
        .then(|| read(&defaults_path))
        .transpose()?;
    let mut tenants = Vec::new();
    if tenants_dir.is_dir() {
        let entries = std::fs::read_dir(&tenants_dir).map_err(|source| LoadError::Io {
            path: tenants_dir.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| LoadError::Io {
                    path: tenants_dir.clone(),
                    source,
                })?
                .path();
            if path.extension().is_some_and(|e| e == "toml") {
                tenants.push(read(&path)?);
            }
        }
    }
    Ok(load_sources(defaults, tenants))
}

fn read(path: &Path) -> Result<SourceFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(SourceFile {
        name: path.to_owned(),
        text,
    })
}

/// Loads policy files already in memory (from disk or from a git revision).
pub fn load_sources(defaults: Option<SourceFile>, mut tenants: Vec<SourceFile>) -> Loaded {
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    let mut diagnostics = Vec::new();
    let defaults = match &defaults {
        Some(file) => parse(file, FileKind::Defaults, &mut diagnostics, validate::defaults),
        None => Some(Defaults {
            deny: Arc::new(DenyList::default()),
            ..builtin_defaults()
        }),
    };
    let defaults = defaults.unwrap_or_default();
    let mut set: BTreeMap<String, Tenant> = BTreeMap::new();
    for file in &tenants {
        let stem = file
            .name
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tenant = parse(file, FileKind::Tenant, &mut diagnostics, |syntax, r| {
            validate::tenant(syntax, &stem, &defaults, r)
        });
        if let Some(tenant) = tenant {
            set.insert(tenant.id.clone(), tenant);
        }
    }
    diag::sort(&mut diagnostics);
    let clean = !diagnostics.iter().any(Diagnostic::is_error);
    Loaded {
        policies: clean.then_some(PolicySet {
            tenants: set,
            deny: defaults.deny,
        }),
        diagnostics,
    }
}

/// Defaults when a directory has no `defaults.toml`: every default-on detector, no limits.
fn builtin_defaults() -> Defaults {
    let text = SourceFile {
        name: PathBuf::from("(built-in defaults)"),
        text: "version = 1\n".to_owned(),
    };
    parse(&text, FileKind::Defaults, &mut Vec::new(), validate::defaults).unwrap_or_default()
}

/// TOML syntax, then the schema, then serde, then validation: each stage runs only if the
/// one before found no errors, and reports everything it finds.
fn parse<T: DeserializeOwned, M>(
    file: &SourceFile,
    kind: FileKind,
    diagnostics: &mut Vec<Diagnostic>,
    validate: impl FnOnce(T, &mut Reporter<'_>) -> M,
) -> Option<M> {
    let (root, syntax_errors) = DeTable::parse_recoverable(&file.text);
    if !syntax_errors.is_empty() {
        diagnostics.extend(syntax_errors.iter().map(|e| syntax_diagnostic(file, e)));
        return None;
    }
    let json = table_to_json(root.get_ref());
    let mut reporter = Reporter::new(file, &root, &json);
    let model = schema::check(kind, &json, &mut reporter).and_then(|(repaired, touched)| {
        reporter.suppress(touched);
        match serde_json::from_value::<T>(repaired) {
            Ok(syntax) => Some(validate(syntax, &mut reporter)),
            Err(e) => {
                reporter.error("invalid-value", &Pointer::root(), e.to_string(), None);
                None
            }
        }
    });
    let failed = reporter.has_errors();
    diagnostics.append(&mut reporter.out);
    model.filter(|_| !failed)
}

fn syntax_diagnostic(file: &SourceFile, error: &toml::de::Error) -> Diagnostic {
    let at = LineCol::of(&file.text, error.span().map_or(0, |s| s.start));
    Diagnostic {
        severity: Severity::Error,
        code: "syntax",
        file: file.name.clone(),
        line: at.line,
        column: at.column,
        entity: "file".to_owned(),
        message: error.message().trim().to_owned(),
        fix: None,
    }
}
