//! Diagnostics: every problem found in a policy set, with the file, line and column, the
//! entity it concerns and how to fix it. Errors stop a policy set from loading; lints are
//! warnings unless the caller asks for `--strict`.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;
use toml::Spanned;
use toml::de::DeTable;

use super::pointer::{Pointer, Segment};
use super::source::{LineCol, SourceFile, locate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// The lints: findings that are legal but probably wrong. `--strict` makes them errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lint {
    BroadWildcard,
    DuplicateRule,
    ShadowedRule,
    CredentialHostUnreachable,
    InjectOnTunnel,
    ZeroBudget,
    AbsurdBudget,
    MissingOwner,
}

impl Lint {
    pub fn as_str(self) -> &'static str {
        match self {
            Lint::BroadWildcard => "broad-wildcard",
            Lint::DuplicateRule => "duplicate-rule",
            Lint::ShadowedRule => "shadowed-rule",
            Lint::CredentialHostUnreachable => "credential-host-unreachable",
            Lint::InjectOnTunnel => "inject-on-tunnel",
            Lint::ZeroBudget => "zero-budget",
            Lint::AbsurdBudget => "absurd-budget",
            Lint::MissingOwner => "missing-owner",
        }
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, machine-readable code such as `unknown-key` or `shadowed-rule`.
    pub code: &'static str,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The entity concerned, in the words of the file: `tool "search" › rule "api" › hosts[1]`.
    pub entity: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The same finding raised to an error (for `--strict`).
    pub fn into_error(mut self) -> Self {
        self.severity = Severity::Error;
        self
    }

    fn sort_key(&self) -> (&PathBuf, usize, usize, &'static str) {
        (&self.file, self.line, self.column, self.code)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {severity}[{}]: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.code,
            self.entity,
            self.message
        )?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    fix: {fix}")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file and position so that output is stable and readable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Collects the diagnostics of one file, turning pointers into lines and columns.
pub(crate) struct Reporter<'a> {
    file: &'a SourceFile,
    root: &'a Spanned<DeTable<'a>>,
    json: &'a serde_json::Value,
    /// Values already reported by an earlier stage; later findings under them are dropped.
    suppressed: Vec<Pointer>,
    pub(crate) out: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(
        file: &'a SourceFile,
        root: &'a Spanned<DeTable<'a>>,
        json: &'a serde_json::Value,
    ) -> Self {
        Self {
            file,
            root,
            json,
            suppressed: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Drops later findings at or under these pointers (already reported differently).
    pub(crate) fn suppress(&mut self, pointers: Vec<Pointer>) {
        self.suppressed.extend(pointers);
    }

    /// An error about the value at `at`.
    pub(crate) fn error(&mut self, code: &'static str, at: &Pointer, message: String, fix: Option<String>) {
        self.push(Severity::Error, code, at, false, message, fix);
    }

    /// An error about the key that names the value at `at` (unknown or misplaced keys).
    pub(crate) fn error_at_key(
        &mut self,
        code: &'static str,
        at: &Pointer,
        message: String,
        fix: Option<String>,
    ) {
        self.push(Severity::Error, code, at, true, message, fix);
    }

    pub(crate) fn lint(&mut self, lint: Lint, at: &Pointer, message: String, fix: Option<String>) {
        self.push(Severity::Warning, lint.as_str(), at, false, message, fix);
    }

    /// Where the value at `at` was written.
    pub(crate) fn origin(&self, at: &Pointer) -> super::model::Origin {
        let located = locate(self.root, at);
        let LineCol { line, column } = LineCol::of(&self.file.text, located.value.start);
        super::model::Origin {
            file: self.file.name.clone(),
            line,
            column,
        }
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.out.iter().any(Diagnostic::is_error)
    }

    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        at: &Pointer,
        at_key: bool,
        message: String,
        fix: Option<String>,
    ) {
        if self.suppressed.iter().any(|p| at.starts_with(p)) {
            return;
        }
        let located = locate(self.root, at);
        let offset = match (at_key, located.key) {
            (true, Some(key)) => key.start,
            _ => located.value.start,
        };
        let LineCol { line, column } = LineCol::of(&self.file.text, offset);
        self.out.push(Diagnostic {
            severity,
            code,
            file: self.file.name.clone(),
            line,
            column,
            entity: describe(self.json, at),
            message,
            fix,
        });
    }
}

/// Names the entity a pointer reaches in the words of the file: `tool "search" › rule "api"`.
pub(crate) fn describe(json: &serde_json::Value, at: &Pointer) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut here = Some(json);
    let mut parent_key: Option<&str> = None;
    for segment in at.segments() {
        match segment {
            Segment::Key(key) => {
                here = here.and_then(|v| v.get(key));
                match key.as_str() {
                    "tenant" if parts.is_empty() => parts.push(named("tenant", here, "id", None)),
                    "invocation" | "session" if parent_key == Some("budgets") => {
                        parts.pop();
                        parts.push(format!("{key} budget"));
                    }
                    "tenant" if parent_key == Some("budgets") => {
                        parts.pop();
                        parts.push("tenant budget".to_owned());
                    }
                    _ => parts.push(key.clone()),
                }
                parent_key = Some(key);
            }
            Segment::Index(index) => {
                here = here.and_then(|v| v.get(index));
                let item = match parent_key {
                    Some("tools") => Some(named("tool", here, "name", Some(*index))),
                    Some("egress") => Some(named("rule", here, "id", Some(*index))),
                    Some("credentials") => Some(named("credential", here, "name", Some(*index))),
                    Some("tests") => Some(named("test", here, "name", Some(*index))),
                    Some("exemptions") => Some(format!("exemption #{}", index + 1)),
                    Some("deny") => Some(format!("deny entry #{}", index + 1)),
                    _ => None,
                };
                match (item, parts.last_mut()) {
                    (Some(item), Some(last)) => *last = item,
                    (_, Some(last)) => last.push_str(&format!("[{index}]")),
                    (_, None) => parts.push(format!("[{index}]")),
                }
                parent_key = None;
            }
        }
    }
    if parts.is_empty() {
        "file".to_owned()
    } else {
        parts.join(" › ")
    }
}

fn named(kind: &str, value: Option<&serde_json::Value>, field: &str, index: Option<usize>) -> String {
    match (value.and_then(|v| v.get(field)).and_then(|v| v.as_str()), index) {
        (Some(name), _) => format!("{kind} \"{name}\""),
        (None, Some(index)) => format!("{kind} #{}", index + 1),
        (None, None) => kind.to_owned(),
    }
}
