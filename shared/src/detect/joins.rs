//! More values cut into pieces that say how they go together, joined for the rules (called
//! from [`super::ordered::ordered_pieces`], each behind a cheap literal gate there):
//! a value wrapped over short lines of one width under a name line (`NAME:` then
//! `sk_26d2e8`, `c73f2a525`, …), a flat JSON object that states how to join its fields
//! (`{"a": …, "b": …, "join": "a+b"}`, `"concat": ["a", "b"]`), and numbered query or form
//! parameters (`?p0=…&p1=…`), each piece percent-decoded.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::ordered::{Join, in_order, named};

/// The most lines of one wrapped value, the widths a wrap may have, the longest join.
const MAX_LINES: usize = 64;
const WRAP_WIDTHS: std::ops::RangeInclusive<usize> = 4..=100;
const MAX_JOINED: usize = 2048;
/// The longest piece, and the most pieces, of a stated join or numbered parameters.
const MAX_PIECE: usize = 256;
const MAX_PIECES: usize = 32;

/// Bytes of a wrapped line: printable ASCII but spaces.
fn is_wrap_byte(b: u8) -> bool {
    b.is_ascii_graphic()
}

/// `NAME:` (or `NAME=`) alone on a line, then three lines or more of one width (the last
/// shorter or as long) with no space: joined as `NAME=joined`.
pub(crate) fn wrapped_lines(data: &[u8], joins: &mut Vec<Join>) {
    static NAME: OnceLock<Regex> = OnceLock::new();
    let name = NAME.get_or_init(|| {
        Regex::new(r"(?m)^[ \t]*([A-Za-z_][A-Za-z0-9_.-]{1,63})[ \t]*[:=][ \t]*\r?\n")
            .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in name.captures_iter(data) {
        let (Some(whole), Some(key)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let mut at = whole.end();
        let mut lines: Vec<&[u8]> = Vec::new();
        while lines.len() < MAX_LINES && at < data.len() {
            let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |p| at + p);
            let line = data[at..end].strip_suffix(b"\r").unwrap_or(&data[at..end]);
            let line = line.trim_ascii_start();
            if line.is_empty() || !line.iter().all(|&b| is_wrap_byte(b)) {
                break;
            }
            lines.push(line);
            at = end + 1;
        }
        // Lines of one width; the last no longer.
        let Some(&first) = lines.first() else {
            continue;
        };
        let width = first.len();
        let mut n = 1;
        while n < lines.len() && lines[n].len() == width {
            n += 1;
        }
        if n < lines.len() && lines[n].len() < width {
            n += 1;
        }
        if n < 3 || !WRAP_WIDTHS.contains(&width) {
            continue;
        }
        let joined: Vec<u8> = lines[..n].concat();
        if joined.len() > MAX_JOINED {
            continue;
        }
        joins.push((key.start(), [key.as_bytes(), b"=", &joined].concat()));
    }
}

/// A flat JSON object of strings with a key that states the order of the others
/// (`"join": "a+b+c"`, `"concat": "a,b,c"`, `"order": ["a", "b"]`): those values, joined.
pub(crate) fn stated_joins(data: &[u8], joins: &mut Vec<Join>) {
    static STATED: OnceLock<Regex> = OnceLock::new();
    static PAIR: OnceLock<Regex> = OnceLock::new();
    // One substring search per label word costs a pass over every JSON layer: `"join`
    // (also `"joined"`), `"concat"` and `"order"` are the words looked for first; the
    // pattern's rarer words count only beside one of them.
    const LABELS: &[&[u8]] = &[b"\"join", b"\"concat\"", b"\"order\""];
    if !LABELS.iter().any(|l| memchr::memmem::find(data, l).is_some()) {
        return;
    }
    let stated = STATED.get_or_init(|| {
        Regex::new(concat!(
            r#""(?:join|joined|concat|order|combine|assemble|reassemble)"\s*:\s*"#,
            r#"(?:"([A-Za-z0-9_]{1,16}(?:\s*[+,|. ]\s*[A-Za-z0-9_]{1,16}){1,31})""#,
            r#"|\[((?:\s*"[A-Za-z0-9_]{1,16}"\s*,){1,31}\s*"[A-Za-z0-9_]{1,16}"\s*)\])"#,
        ))
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    let pair = PAIR.get_or_init(|| {
        Regex::new(r#""([A-Za-z0-9_]{1,16})"\s*:\s*"([^"\\]{0,256})""#).expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in stated.captures_iter(data) {
        let Some(whole) = caps.get(0) else { continue };
        let list = caps
            .get(1)
            .or_else(|| caps.get(2))
            .map_or(&b""[..], |m| m.as_bytes());
        let names: Vec<&[u8]> = list
            .split(|&b| matches!(b, b'+' | b',' | b'|' | b'.' | b' ' | b'"'))
            .map(<[u8]>::trim_ascii)
            .filter(|n| !n.is_empty())
            .collect();
        // The flat object around the statement.
        let Some(open) = memchr::memrchr2(b'{', b'}', &data[..whole.start()]).filter(|&o| data[o] == b'{')
        else {
            continue;
        };
        let Some(close) = memchr::memchr2(b'{', b'}', &data[whole.end()..])
            .map(|p| whole.end() + p)
            .filter(|&c| data[c] == b'}')
        else {
            continue;
        };
        let object = &data[open..close];
        let fields: Vec<(&[u8], &[u8], usize)> = pair
            .captures_iter(object)
            .filter_map(|c| {
                Some((
                    c.get(1)?.as_bytes(),
                    c.get(2)?.as_bytes(),
                    open + c.get(2)?.start(),
                ))
            })
            .collect();
        let mut joined = Vec::new();
        let mut first = None;
        let mut complete = names.len() >= 2;
        for name in &names {
            match fields.iter().find(|(k, _, _)| k == name) {
                Some(&(_, v, at)) if v.len() <= MAX_PIECE => {
                    joined.extend_from_slice(v);
                    first = Some(first.map_or(at, |f: usize| f.min(at)));
                }
                _ => complete = false,
            }
        }
        if complete && !joined.is_empty() {
            joins.push((open, named(data, first.unwrap_or(open), joined)));
        }
    }
}

/// A stem, where its first piece is, and its numbered pieces.
type Group<'d> = (&'d [u8], usize, Vec<(usize, Vec<u8>)>);

/// Query or form parameters that end in a number (`p0=…&p1=…`, `part_1=…`, `c[0]=…`),
/// grouped by their stem and joined in the order of their numbers when every number from
/// the first (0 or 1) to the last is there, each piece percent-decoded. A stem of two
/// letters or more names the join (`token=joined`).
pub(crate) fn numbered_params(data: &[u8], joins: &mut Vec<Join>) {
    static PARAM: OnceLock<Regex> = OnceLock::new();
    let param = PARAM.get_or_init(|| {
        Regex::new(r#"(?:^|[?&;])([A-Za-z][A-Za-z_-]{0,15}?)[_\-\[]?([0-9]{1,2})\]?=([^&#\s"'<>]{1,256})"#)
            .expect("a fixed pattern compiles") // invariant: fixed input
    });
    let mut groups: Vec<Group<'_>> = Vec::new();
    for caps in param.captures_iter(data) {
        let (Some(stem), Some(n), Some(value)) = (caps.get(1), caps.get(2), caps.get(3)) else {
            continue;
        };
        let Some(n) = std::str::from_utf8(n.as_bytes())
            .ok()
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let stem = stem.as_bytes();
        let piece =
            super::decode::percent::decode(value.as_bytes()).unwrap_or_else(|| value.as_bytes().to_vec());
        match groups.iter_mut().find(|(s, _, _)| *s == stem) {
            Some((_, _, pieces)) => pieces.push((n, piece)),
            None => groups.push((stem, value.start(), vec![(n, piece)])),
        }
    }
    for (stem, at, pieces) in groups {
        let numbered = pieces.iter().map(|(n, p)| (*n, p.as_slice())).collect();
        let Some(joined) = in_order(numbered, MAX_PIECES) else {
            continue;
        };
        if joined.len() < 8 {
            continue;
        }
        let value = if stem.len() >= 2 {
            [stem, b"=", &joined].concat()
        } else {
            joined
        };
        joins.push((at, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&[u8], &mut Vec<Join>), data: &str) -> Vec<String> {
        let mut joins = Vec::new();
        f(data.as_bytes(), &mut joins);
        joins
            .into_iter()
            .map(|(_, j)| String::from_utf8_lossy(&j).into_owned())
            .collect()
    }

    #[test]
    fn wrapped_lines_under_a_name_are_joined() {
        let text = "intro\nAPI_KEY:\r\nsk_26d2e8\r\nc73f2a525\r\nf77020\r\n\r\nbye";
        assert_eq!(run(wrapped_lines, text), ["API_KEY=sk_26d2e8c73f2a525f77020"]);
        // A paragraph of short lines, lines of many widths, two lines only.
        assert!(run(wrapped_lines, "Note:\nthe cat sat\non the mat\nall day\n").is_empty());
        assert!(run(wrapped_lines, "List:\neggs\nmilk\nflour\nbutter\n").is_empty());
        assert!(run(wrapped_lines, "K:\nabcdefgh\nijklmnop\n").is_empty());
    }

    #[test]
    fn objects_that_state_their_join_are_joined() {
        assert_eq!(
            run(
                stated_joins,
                r#"{"a": "T232", "b": "201(", "c": "8)", "join": "a+b+c"}"#
            ),
            ["T232201(8)"]
        );
        assert_eq!(
            run(stated_joins, r#"{"x": "bb", "y": "aa", "concat": ["y", "x"]}"#),
            ["aabb"]
        );
        // A name that is not there; an ordinary order field.
        assert!(run(stated_joins, r#"{"a": "x", "join": "a+z"}"#).is_empty());
        assert!(run(stated_joins, r#"{"id": "1", "order": "desc"}"#).is_empty());
    }

    #[test]
    fn numbered_params_are_joined_percent_decoded() {
        assert_eq!(
            run(numbered_params, "https://h/s?p0=FR76%201909&p1=%2B699&p2=85"),
            ["FR76 1909+69985"]
        );
        assert_eq!(
            run(numbered_params, "token_1=abcd&token_2=efgh&x=1"),
            ["token=abcdefgh"]
        );
        // Pagination; a gap.
        assert!(run(numbered_params, "https://h/?p1=2&p2=3").is_empty());
        assert!(run(numbered_params, "https://h/?p0=abcdefgh&p2=ijklmnop").is_empty());
    }
}
