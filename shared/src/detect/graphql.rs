//! GraphQL requests that carry a value apart from its name: the operation names what is set
//! (`setSecret(name: "DB_PASSWORD", value: $v)`) and the `variables` object carries the
//! value (`{"v": "…"}`), so neither half alone reads as a credential. Each variable bound in
//! an argument list is written out beside the names that list gives it, as `NAME=value`
//! lines, for the ordinary rules to judge.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

/// The largest request parsed: past it, a GraphQL request is not a config call.
const MAX_REQUEST: usize = 64 * 1024;
/// Arguments bound to variables written out at most per request.
const MAX_BINDINGS: usize = 32;

/// An argument list: what stands between a field's parentheses (no nesting needed: the
/// arguments that name a value are scalars).
fn argument_list() -> &'static Regex {
    static LIST: OnceLock<Regex> = OnceLock::new();
    LIST.get_or_init(|| Regex::new(r"\(([^()]{1,1024})\)").expect("a fixed pattern compiles")) // invariant: fixed input
}

/// One argument: its label, then a variable (`$v`) or a string literal.
fn argument() -> &'static Regex {
    static ARGUMENT: OnceLock<Regex> = OnceLock::new();
    ARGUMENT.get_or_init(|| {
        Regex::new(
            r#"([A-Za-z_][A-Za-z0-9_]{0,63})\s*:\s*(?:\$([A-Za-z_][A-Za-z0-9_]{0,63})|"([^"\\]{1,128})")"#,
        )
        .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// The `NAME=value` lines of a GraphQL request in `data` (a JSON object with a `query`
/// string and a `variables` object), with the offset of its variables; nothing for any
/// other body. Each variable bound in an argument list is written under the argument's
/// label and under every string literal beside it in the same list.
pub(crate) fn bindings(data: &[u8]) -> Option<(usize, Vec<u8>)> {
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    if data[start] != b'{' || data.len() > MAX_REQUEST {
        return None;
    }
    let at = memchr::memmem::find(data, b"\"variables\"")?;
    memchr::memchr(b'$', data)?;
    let request: Value = serde_json::from_slice(data).ok()?;
    let query = request.get("query")?.as_str()?;
    let variables = request.get("variables")?.as_object()?;
    let mut out = Vec::new();
    let mut written = 0;
    // The operation's own signature (`mutation Set($v: String!)`) declares types, not values.
    for list in argument_list().captures_iter(query).skip(1) {
        let list = &list[1];
        let mut bound = Vec::new();
        let mut names = Vec::new();
        for argument in argument().captures_iter(list) {
            let label = &argument[1];
            if let Some(variable) = argument.get(2) {
                if let Some(Value::String(value)) = variables.get(variable.as_str()) {
                    bound.push((label.to_owned(), value.as_str()));
                }
            } else if let Some(literal) = argument.get(3) {
                names.push(literal.as_str().to_owned());
            }
        }
        for (label, value) in bound {
            for name in names.iter().chain(std::iter::once(&label)) {
                if written == MAX_BINDINGS {
                    break;
                }
                out.extend_from_slice(name.as_bytes());
                out.push(b'=');
                out.extend_from_slice(value.as_bytes());
                out.push(b'\n');
                written += 1;
            }
        }
    }
    (!out.is_empty()).then_some((at, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_is_written_under_the_names_its_argument_list_gives_it() {
        let request = br#"{"query": "mutation Set($v: String!) { setSecret(name: \"LD_API_TOKEN\", value: $v) { id } }", "variables": {"v": "api-6812ba17"}}"#;
        let (_, lines) = bindings(request).expect("a GraphQL request");
        assert_eq!(lines, b"LD_API_TOKEN=api-6812ba17\nvalue=api-6812ba17\n");
    }

    #[test]
    fn other_bodies_and_unbound_variables_give_nothing() {
        assert!(bindings(br#"{"query": "{ viewer { login } }", "variables": {}}"#).is_none());
        assert!(
            bindings(br#"{"query": "query Q($n: Int) { items(first: $n) { id } }", "variables": {"n": 5}}"#)
                .is_none()
        );
        assert!(bindings(br#"{"variables": {"v": "x"}, "note": "$5"}"#).is_none());
        assert!(bindings(b"variables $v").is_none());
    }
}
