//! Values cut into pieces that carry their own order, in JSON: objects of an index and a
//! piece (`{"items": [{"i": 1, "s": "…"}, {"i": 0, "s": "…"}]}`), a list of chunks with an
//! order beside it (`{"name": "API_KEY", "chunks": ["…", "…"], "order": [1, 0]}`), and
//! numbered keys (`{"part_1": "…", "p_2": "…"}`, `{"f0": "…", "f1": "…"}`). Each is joined
//! in the order it states, when every number from the first (0 or 1) to the last is there;
//! a `"name"` beside the pieces is kept in front of the join (`NAME=joined`), so that what
//! the join is called still judges it. Cutting a value and numbering its pieces is a
//! disguise: the joins are walked as layers, and random data in them is judged as such.

use std::sync::OnceLock;

use regex::bytes::Regex;

/// The longest piece, and the most pieces of one value.
const MAX_PIECE: usize = 256;
const MAX_PIECES: usize = 32;
/// The most bytes between two numbered keys of one object (`", "`, a newline and indent).
const MAX_GAP: usize = 16;

/// One join: where its first piece is, and the value (behind its name, when one is given).
pub(crate) type Join = (usize, Vec<u8>);

/// Every join of ordered pieces in `data`.
pub(crate) fn ordered_pieces(data: &[u8]) -> Vec<Join> {
    let mut joins = Vec::new();
    if memchr::memchr(b'=', data).is_some()
        && (memchr::memmem::find(data, b"1=").is_some() || memchr::memmem::find(data, b"1]=").is_some())
    {
        super::joins::numbered_params(data, &mut joins);
    }
    if memchr::memmem::find(data, b":\n").is_some() || memchr::memmem::find(data, b":\r\n").is_some() {
        super::joins::wrapped_lines(data, &mut joins);
    }
    if memchr::memchr(b'"', data).is_none() {
        return joins;
    }
    super::joins::stated_joins(data, &mut joins);
    if memchr::memmem::find(data, b"\"chunks\"").is_some() {
        chunk_lists(data, &mut joins);
    }
    // Each key a substring search over every JSON layer: the common ones only (`seq`, `n`
    // and `pos` are taken by the pattern beside one of these).
    if [&b"\"i\":"[..], b"\"idx\":", b"\"index\":"]
        .iter()
        .any(|k| memchr::memmem::find(data, k).is_some())
    {
        indexed_items(data, &mut joins);
    }
    if memchr::memmem::find(data, b"1\":").is_some() {
        numbered_keys(data, &mut joins);
    }
    joins
}

/// The pieces in the order of their numbers, when there are 2 to `max` and the numbers run
/// from 0 or 1 without a gap or a repeat.
pub(crate) fn in_order(mut pieces: Vec<(usize, &[u8])>, max: usize) -> Option<Vec<u8>> {
    if !(2..=max).contains(&pieces.len()) {
        return None;
    }
    pieces.sort_by_key(|&(n, _)| n);
    let first = pieces[0].0;
    let complete = first <= 1 && pieces.iter().enumerate().all(|(i, &(n, _))| n == first + i);
    complete.then(|| pieces.iter().flat_map(|(_, p)| p.iter().copied()).collect())
}

/// `"name": "X"` in the 96 bytes before `at`, as the join's name.
fn name_before(data: &[u8], at: usize) -> Option<&[u8]> {
    static NAME: OnceLock<Regex> = OnceLock::new();
    let name = NAME.get_or_init(|| {
        Regex::new(r#""(?:name|key|k|field|var)"\s*:\s*"([A-Za-z_][A-Za-z0-9_.-]{1,63})""#)
            .expect("a fixed pattern compiles") // invariant: fixed input
    });
    let window = &data[at.saturating_sub(96)..at];
    name.captures_iter(window)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| m.as_bytes())
}

pub(crate) fn named(data: &[u8], at: usize, joined: Vec<u8>) -> Vec<u8> {
    match name_before(data, at) {
        Some(name) => [name, b"=", &joined].concat(),
        None => joined,
    }
}

/// The JSON strings of a list's body (`"a", "b"`), when it holds strings only.
fn strings(list: &[u8]) -> Option<Vec<&[u8]>> {
    static STRING: OnceLock<Regex> = OnceLock::new();
    let string = STRING.get_or_init(|| {
        Regex::new(r#"\s*"([^"\\]{0,256})"\s*(?:,|$)"#).expect("a fixed pattern compiles") // invariant: fixed input
    });
    let mut out = Vec::new();
    let mut at = 0;
    for caps in string.captures_iter(list) {
        let whole = caps.get(0)?;
        if whole.start() != at {
            return None;
        }
        at = whole.end();
        out.push(caps.get(1)?.as_bytes());
    }
    (at == list.len() && !out.is_empty()).then_some(out)
}

/// `"chunks": ["…", …]`, in the order of an `"order": [n, …]` after it, or as listed.
fn chunk_lists(data: &[u8], joins: &mut Vec<Join>) {
    static CHUNKS: OnceLock<Regex> = OnceLock::new();
    let chunks = CHUNKS.get_or_init(|| {
        Regex::new(r#""chunks"\s*:\s*\[([^\[\]]{1,8192})\](?:\s*,\s*"order"\s*:\s*\[([0-9,\s]{1,256})\])?"#)
            .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in chunks.captures_iter(data) {
        let (Some(whole), Some(list)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let Some(pieces) = strings(list.as_bytes()) else {
            continue;
        };
        let order: Vec<usize> = match caps.get(2) {
            Some(order) => order
                .as_bytes()
                .split(|&b| b == b',')
                .filter_map(|n| std::str::from_utf8(n).ok()?.trim().parse().ok())
                .collect(),
            None => (0..pieces.len()).collect(),
        };
        if order.len() != pieces.len() || pieces.iter().any(|p| p.len() > MAX_PIECE) {
            continue;
        }
        // `order[k]` is the place of the k-th chunk.
        let numbered = order.into_iter().zip(pieces).collect();
        if let Some(joined) = in_order(numbered, MAX_PIECES) {
            joins.push((whole.start(), named(data, whole.start(), joined)));
        }
    }
}

/// Objects of an index and a piece, `{"i": 1, "s": "…"}` (either order), one after another.
fn indexed_items(data: &[u8], joins: &mut Vec<Join>) {
    static ITEM: OnceLock<Regex> = OnceLock::new();
    let item = ITEM.get_or_init(|| {
        Regex::new(concat!(
            r#"\{\s*"(?:i|idx|index|seq|n|pos)"\s*:\s*([0-9]{1,2})\s*,\s*"(?:s|d|v|c|val|value|data|chunk|part|piece|frag|seg|segment)"\s*:\s*"([^"\\]{1,256})"\s*\}"#,
            r#"|\{\s*"(?:s|d|v|c|val|value|data|chunk|part|piece|frag|seg|segment)"\s*:\s*"([^"\\]{1,256})"\s*,\s*"(?:i|idx|index|seq|n|pos)"\s*:\s*([0-9]{1,2})\s*\}"#,
        ))
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    let pieces = item.captures_iter(data).filter_map(|caps| {
        let whole = caps.get(0)?;
        let (n, piece) = match (caps.get(1), caps.get(2), caps.get(3), caps.get(4)) {
            (Some(n), Some(p), _, _) | (_, _, Some(p), Some(n)) => (n, p),
            _ => return None,
        };
        let n = std::str::from_utf8(n.as_bytes()).ok()?.parse().ok()?;
        Some((whole.start(), whole.end(), n, piece.as_bytes()))
    });
    join_neighbours(data, pieces, joins);
}

/// Joins each run of neighbouring pieces (`(start, end, number, piece)`, at most
/// [`MAX_GAP`] bytes apart) in the order of their numbers.
fn join_neighbours<'d>(
    data: &[u8],
    pieces: impl Iterator<Item = (usize, usize, usize, &'d [u8])>,
    joins: &mut Vec<Join>,
) {
    let mut run: Vec<(usize, &[u8])> = Vec::new();
    let (mut first, mut last) = (0, 0);
    let flush = |run: &mut Vec<(usize, &[u8])>, first: usize, joins: &mut Vec<Join>| {
        if let Some(joined) = in_order(std::mem::take(run), MAX_PIECES) {
            joins.push((first, named(data, first, joined)));
        }
    };
    for (start, end, n, piece) in pieces {
        if run.is_empty() || start - last > MAX_GAP {
            flush(&mut run, first, joins);
            first = start;
        }
        last = end;
        run.push((n, piece));
    }
    flush(&mut run, first, joins);
}

/// Keys that end in a number with a string each, one after another in an object
/// (`"chunk_1": "…", "p_2": "…"`, `"f0": "…", "f1": "…"`), joined in the keys' order.
fn numbered_keys(data: &[u8], joins: &mut Vec<Join>) {
    static KEY: OnceLock<Regex> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        Regex::new(r#""[A-Za-z]{0,12}[_-]?([0-9]{1,2})"\s*:\s*"([^"\\]{1,256})""#)
            .expect("a fixed pattern compiles") // invariant: fixed input
    });
    let pieces = key.captures_iter(data).filter_map(|caps| {
        let (whole, n, piece) = (caps.get(0)?, caps.get(1)?, caps.get(2)?);
        let n = std::str::from_utf8(n.as_bytes()).ok()?.parse().ok()?;
        Some((whole.start(), whole.end(), n, piece.as_bytes()))
    });
    join_neighbours(data, pieces, joins);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(data: &str) -> Vec<String> {
        ordered_pieces(data.as_bytes())
            .into_iter()
            .map(|(_, j)| String::from_utf8_lossy(&j).into_owned())
            .collect()
    }

    #[test]
    fn indexed_items_are_joined_by_their_index() {
        let data = r#"{"items": [{"i": 2, "s": "cc"}, {"i": 0, "s": "aa"}, {"i": 1, "s": "bb"}]}"#;
        assert_eq!(joined(data), ["aabbcc"]);
        let d = r#"{"chunks": [{"i": 0, "d": "aa"}, {"i": 1, "d": "bb"}]}"#;
        assert_eq!(joined(d), ["aabb"]);
        let swapped = r#"[{"s": "bb", "i": 1}, {"s": "aa", "i": 0}]"#;
        assert_eq!(joined(swapped), ["aabb"]);
        // A gap in the numbers.
        assert!(joined(r#"[{"i": 0, "s": "aa"}, {"i": 2, "s": "cc"}]"#).is_empty());
    }

    #[test]
    fn chunks_are_joined_in_their_order_behind_their_name() {
        let data = r#"{"name": "MYSQL_URL", "chunks": ["b", "a", "c"], "order": [1, 0, 2]}"#;
        assert_eq!(joined(data), ["MYSQL_URL=abc"]);
        assert_eq!(joined(r#"{"chunks": ["x", "y"]}"#), ["xy"]);
        // An order that does not fit the chunks.
        assert!(joined(r#"{"chunks": ["x", "y"], "order": [0]}"#).is_empty());
    }

    #[test]
    fn numbered_keys_are_joined_in_their_numbers_order() {
        assert_eq!(
            joined(r#"{"id": "7", "p_1": "redis://:a", "part_2": "bc", "p_3": "d@h:6379/0", "join": ""}"#),
            ["redis://:abcd@h:6379/0"]
        );
        assert_eq!(
            joined(r#"{"f0": "23-2", "f1": "22", "f2": "1-6"}"#),
            ["23-2221-6"]
        );
        // One numbered key; keys numbered apart from each other.
        assert!(joined(r#"{"line1": "Main St 5", "city": "Oslo"}"#).is_empty());
        assert!(
            joined(r#"{"a1": "x", "description": "a long text that stands between them", "a2": "y"}"#)
                .is_empty()
        );
    }
}
