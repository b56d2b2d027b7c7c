//! A policy file's text, its spanned TOML tree, and the mapping from a [`Pointer`] to the
//! line and column a person should look at.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::pointer::{Pointer, Segment};

/// One policy file as read from disk or from a git revision.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path shown in diagnostics, relative to the directory that was loaded.
    pub name: PathBuf,
    pub text: String,
}

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl LineCol {
    /// The line and column of a byte offset; past-the-end offsets clamp to the last position.
    pub fn of(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self { line, column }
    }
}

/// Where a pointer lands: the key that names the value (if any) and the value itself.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub(crate) key: Option<Range<usize>>,
    pub(crate) value: Range<usize>,
}

/// Finds the deepest existing value along `pointer`, so that an error about a missing or
/// malformed child still points into the right table.
pub(crate) fn locate(root: &Spanned<DeTable<'_>>, pointer: &Pointer) -> Located {
    let mut here = Located {
        key: None,
        value: root.span(),
    };
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
    for segment in pointer.segments() {
        let (key, value) = match (segment, table, array) {
            (Segment::Key(name), Some(t), _) => match t.get_key_value(name.as_str()) {
                Some((k, v)) => (Some(k.span()), v),
                None => break,
            },
            (Segment::Index(i), _, Some(a)) => match a.get(*i) {
                Some(v) => (None, v),
                None => break,
            },
            _ => break,
        };
        here = Located {
            key: key.or(here.key.filter(|_| matches!(segment, Segment::Index(_)))),
            value: value.span(),
        };
        table = value.get_ref().as_table();
        array = value.get_ref().as_array().map(|a| a.as_ref());
    }
    here
}

/// Converts the spanned tree into JSON, the form the schema validator and serde read.
pub(crate) fn to_json(value: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        DeValue::String(s) => J::String(s.to_string()),
        DeValue::Integer(i) => integer_to_json(i.as_str(), i.radix()),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(J::Null, J::Number),
        DeValue::Boolean(b) => J::Bool(*b),
        DeValue::Datetime(d) => J::String(d.to_string()),
        DeValue::Array(items) => J::Array(items.iter().map(|v| to_json(v.get_ref())).collect()),
        DeValue::Table(table) => table_to_json(table),
    }
}

pub(crate) fn table_to_json(table: &DeTable<'_>) -> serde_json::Value {
    serde_json::Value::Object(
        table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), to_json(v.get_ref())))
            .collect(),
    )
}

fn integer_to_json(digits: &str, radix: u32) -> serde_json::Value {
    match i64::from_str_radix(digits, radix) {
        Ok(n) => serde_json::Value::from(n),
        // Out of range for i64: keep it visible as a string so the schema rejects it.
        Err(_) => serde_json::Value::String(digits.to_owned()),
    }
}
