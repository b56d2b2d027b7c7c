//! Vendor-prefixed tokens split over the values of a container (JSON strings and array
//! elements, query and form values, path segments, cookie pairs, CSV cells) in pieces of any
//! length: a value that begins with a prefix no ordinary text has (`ghp_`, `sk-`, `AKIA`) but
//! is too short to be the token is joined with the sibling values after it (or before it, for
//! pieces in reverse order), and the ordinary rules judge the joins. Equal-length pieces are
//! joined by the walk already; these are the rest.

use std::sync::OnceLock;

/// The most sibling values joined to a prefix.
const MAX_PIECES: usize = 16;
/// The longest join: longer than any prefixed token the rules know.
const MAX_JOINED: usize = 200;
/// The most prefixed values in one layer that are joined (a body may list thousands).
const MAX_STARTS: usize = 32;
/// The longest key skipped between two values (`&p2=`, `","d":"`, `; _p1=`).
const MAX_KEY: usize = 16;
/// The longest AWS key ID; its secret follows in the same join after a space.
const AWS_ID: usize = 20;

/// A vendor prefix, the length of the shortest whole token it begins, and the token's alphabet.
struct Prefix {
    literal: &'static str,
    whole: usize,
    alphabet: fn(u8) -> bool,
}

fn alphanumeric(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn dashed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn dotted(b: u8) -> bool {
    dashed(b) || b == b'.'
}

fn aws_id(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn aws_secret(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'/' || b == b'+'
}

const PREFIXES: &[Prefix] = &[
    prefix("ghp_", 40, alphanumeric),
    prefix("gho_", 40, alphanumeric),
    prefix("ghu_", 40, alphanumeric),
    prefix("ghs_", 40, alphanumeric),
    prefix("ghr_", 40, alphanumeric),
    prefix("github_pat_", 82, dashed),
    prefix("sk-", 40, dashed),
    prefix("sk_live_", 32, alphanumeric_live),
    prefix("rk_live_", 32, alphanumeric_live),
    prefix("xoxb-", 40, dashed),
    prefix("xoxp-", 40, dashed),
    prefix("xoxa-", 40, dashed),
    prefix("xoxe-", 40, dashed),
    prefix("xoxs-", 40, dashed),
    prefix("xoxr-", 40, dashed),
    prefix("glpat-", 26, dashed),
    prefix("hf_", 33, alphanumeric),
    prefix("npm_", 40, alphanumeric),
    // Prefixes whose first three bytes open common words (`lin_api_`, `pplx-`) stay out: the
    // literal search verifies each place those three bytes occur.
    prefix("gsk_", 56, alphanumeric),
    prefix("r8_", 40, alphanumeric),
    prefix("AIza", 39, dashed),
    prefix("SG.", 69, dotted),
    prefix("AKIA", AWS_ID + 1, aws_id),
    prefix("ASIA", AWS_ID + 1, aws_id),
];

impl Prefix {
    /// An AWS key ID, whose secret may follow it in the same join.
    const fn aws(&self) -> bool {
        self.whole == AWS_ID + 1
    }
}

const fn prefix(literal: &'static str, whole: usize, alphabet: fn(u8) -> bool) -> Prefix {
    Prefix {
        literal,
        whole,
        alphabet,
    }
}

/// Stripe keys: `sk_live_` and the base62 after it.
fn alphanumeric_live(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Bytes between two values of a container: quotes, delimiters, a JSON escape, a space.
fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b'"' | b'\'' | b',' | b';' | b'&' | b'/' | b'|' | b' ' | b'\\' | b'\t'
    )
}

/// Separators that part two values; quotes and spaces alone do not (prose has them).
fn is_delimiter(b: u8) -> bool {
    matches!(b, b',' | b';' | b'&' | b'/' | b'|')
}

/// Bytes a value may end at.
fn closes(data: &[u8], end: usize) -> bool {
    data.get(end)
        .is_none_or(|&b| is_separator(b) || matches!(b, b']' | b'}' | b')' | b'\r' | b'\n' | b'#' | b'?'))
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The next value after the one ending at `at`: delimiters, then perhaps a key and its
/// `=` or `:`, then a run of the token's alphabet that ends where a value may end.
fn next_piece(data: &[u8], at: usize, alphabet: fn(u8) -> bool) -> Option<(usize, usize)> {
    let skip = |from: usize, max: usize, f: fn(u8) -> bool| {
        from + data[from..].iter().take(max).take_while(|&&b| f(b)).count()
    };
    let mut p = skip(at, 6, is_separator);
    let mut parted = data[at..p].iter().any(|&b| is_delimiter(b));
    let key_end = skip(p, MAX_KEY + 1, is_key_byte);
    if key_end > p && key_end - p <= MAX_KEY {
        let q = skip(key_end, 2, |b| matches!(b, b'"' | b'\'' | b'\\'));
        if matches!(data.get(q), Some(b'=' | b':')) {
            p = skip(q + 1, 3, |b| matches!(b, b'"' | b'\'' | b'\\' | b' '));
            parted = true;
        }
    }
    let end = skip(p, MAX_JOINED, alphabet);
    (parted && end > p && closes(data, end)).then_some((p, end))
}

/// The value before the one starting at `at`, for pieces in reverse order.
fn previous_piece(data: &[u8], at: usize, alphabet: fn(u8) -> bool) -> Option<(usize, usize)> {
    let back = |from: usize, max: usize, f: fn(u8) -> bool| {
        from - data[..from].iter().rev().take(max).take_while(|&&b| f(b)).count()
    };
    let mut p = back(at, 3, |b| matches!(b, b'"' | b'\'' | b'\\' | b' '));
    let mut parted = false;
    if p > 0 && matches!(data[p - 1], b'=' | b':') {
        let q = back(p - 1, 2, |b| matches!(b, b'"' | b'\'' | b'\\'));
        let key_start = back(q, MAX_KEY + 1, is_key_byte);
        if key_start == q || q - key_start > MAX_KEY {
            return None;
        }
        p = key_start;
        parted = true;
    } else {
        p = at;
    }
    let before = back(p, 6, is_separator);
    parted |= data[before..p].iter().any(|&b| is_delimiter(b));
    let start = back(before, MAX_JOINED, alphabet);
    let opens = start == 0 || !data[start - 1].is_ascii_alphanumeric();
    (parted && start < before && opens && closes(data, before)).then_some((start, before))
}

/// A piece that reads as a word (`download`, `Model`): split secrets are random.
fn is_word(piece: &[u8]) -> bool {
    piece.len() >= 3 && piece[0].is_ascii_alphabetic() && piece[1..].iter().all(u8::is_ascii_lowercase)
}

/// One prefixed value and the values joined to it: `joined` holds them all, and each of
/// `ends` is a length of `joined` the rules should judge (a join of one more piece each).
#[derive(Debug)]
pub(crate) struct Split {
    pub start: usize,
    pub joined: Vec<u8>,
    pub ends: Vec<usize>,
}

/// Whether the pieces after the prefix look like a random token's: most are no words, and
/// they mix two classes of characters at least (an AWS key ID has digits among its capitals).
fn random_rest(rest: &[u8], pieces: &[&[u8]], aws: bool) -> bool {
    let words = pieces.iter().filter(|p| is_word(p)).count();
    let has = |f: fn(&u8) -> bool| rest.iter().any(f);
    let mixed = if aws {
        rest.iter().filter(|b| b.is_ascii_digit()).count() >= 2
    } else {
        let classes = [
            has(u8::is_ascii_uppercase),
            has(u8::is_ascii_lowercase),
            has(u8::is_ascii_digit),
        ];
        classes.iter().filter(|&&c| c).count() >= 2
    };
    words * 2 <= pieces.len() && mixed
}

/// Joins of the pieces of `data` a vendor prefix begins, forward and in reverse order; calls
/// `f` with each, forward first: `f` returns whether the rules found a token in it, and the
/// reverse join is tried only when the forward one had none.
pub(crate) fn split_tokens(data: &[u8], mut f: impl FnMut(&Split) -> bool) {
    // The regex crate's literal search (Teddy) over the alternation: an Aho-Corasick
    // automaton walks every byte, since the prefixes open with common letters.
    static LITERALS: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let literals = LITERALS.get_or_init(|| {
        let alternation: Vec<String> = PREFIXES.iter().map(|p| regex::escape(p.literal)).collect();
        regex::bytes::Regex::new(&alternation.join("|")).expect("fixed prefix literals always compile") // invariant: fixed input
    });
    let mut starts = 0;
    for found in literals.find_iter(data) {
        let start = found.start();
        let Some(prefix) = PREFIXES.iter().find(|p| p.literal.as_bytes() == found.as_bytes()) else {
            continue;
        };
        if start > 0 && data[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let end = found.end()
            + data[found.end()..]
                .iter()
                .take(MAX_JOINED)
                .take_while(|&&b| (prefix.alphabet)(b))
                .count();
        if end - start >= prefix.whole || !closes(data, end) {
            continue;
        }
        starts += 1;
        if starts > MAX_STARTS {
            return;
        }
        let forward = join(data, (start, end), prefix, true);
        if forward.as_ref().is_some_and(&mut f) {
            continue;
        }
        if let Some(reverse) = join(data, (start, end), prefix, false) {
            f(&reverse);
        }
    }
}

/// The prefixed value at `start..end` and the values after it (`forward`) or before it.
fn join(data: &[u8], (start, end): (usize, usize), prefix: &Prefix, forward: bool) -> Option<Split> {
    let aws = prefix.aws();
    let literal = prefix.literal.len();
    let mut joined = data[start..end].to_vec();
    let mut alphabet = prefix.alphabet;
    let mut secret = false;
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut ends = Vec::new();
    let mut at = if forward { end } else { start };
    for _ in 0..MAX_PIECES {
        if aws && !secret && joined.len() == AWS_ID {
            joined.push(b' ');
            alphabet = aws_secret;
            secret = true;
        }
        let step = if forward { next_piece } else { previous_piece };
        let Some((s, e)) = step(data, at, alphabet) else {
            break;
        };
        let piece = &data[s..e];
        // An AWS key ID whole in its value, and its secret whole in the next: nothing split.
        if aws && secret && pieces.is_empty() && joined.len() == AWS_ID + 1 && piece.len() >= 40 {
            break;
        }
        if joined.len() + piece.len() > MAX_JOINED {
            break;
        }
        joined.extend_from_slice(piece);
        pieces.push(piece);
        let rest: Vec<u8> = joined[literal..].iter().copied().filter(|&b| b != b' ').collect();
        if random_rest(&rest, &pieces, aws) {
            ends.push(joined.len());
        }
        at = if forward { e } else { s };
    }
    (!ends.is_empty()).then_some(Split { start, joined, ends })
}

/// The most elements of one array joined, and the longest element.
const MAX_ELEMENTS: usize = 32;
const MAX_ELEMENT: usize = 64;

/// Arrays of short quoted strings (`["gsk", "_L7E6rj", "Yr3ld", …]`, Python's `['…', '…']`),
/// three elements or more, none with a space, joined in their order: a token cut into chunks
/// of any length, its prefix cut as well. Calls `f(start, joined)` for each; the rules judge
/// the join (a list of tags or names joins to no token).
pub(crate) fn string_arrays(data: &[u8], mut f: impl FnMut(usize, &[u8])) {
    let mut joined = Vec::new();
    for open in memchr::memchr_iter(b'[', data) {
        let Some(&quote @ (b'"' | b'\'')) = data.get(open + 1) else {
            continue;
        };
        joined.clear();
        let mut at = open + 1;
        let mut elements = 0;
        let closed = loop {
            // A quoted element: token characters only.
            if data.get(at) != Some(&quote) {
                break false;
            }
            let body = at + 1;
            let len = data[body..]
                .iter()
                .take(MAX_ELEMENT + 1)
                .take_while(|&&b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'/' | b'=')
                })
                .count();
            if len == 0 || len > MAX_ELEMENT || data.get(body + len) != Some(&quote) {
                break false;
            }
            joined.extend_from_slice(&data[body..body + len]);
            elements += 1;
            at = body + len + 1;
            // `, ` between elements, `]` after the last.
            at += data[at..].iter().take(3).take_while(|&&b| b == b' ').count();
            match data.get(at) {
                Some(b']') => break true,
                Some(b',') => at += 1 + data[at + 1..].iter().take(3).take_while(|&&b| b == b' ').count(),
                _ => break false,
            }
            if elements >= MAX_ELEMENTS || joined.len() > MAX_JOINED {
                break false;
            }
        };
        if closed && elements >= 3 && joined.len() >= 20 && joined.len() <= MAX_JOINED {
            f(open, &joined);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_string_arrays_are_joined_and_others_are_not() {
        let mut got = Vec::new();
        string_arrays(
            br#"{"tags": ["gsk", "_L7E6rjVf1FWmDSTx", "Yr", "3ldvUl1TQ6"], "x": 1}"#,
            |at, j| got.push((at, j.to_vec())),
        );
        assert_eq!(got, [(9, b"gsk_L7E6rjVf1FWmDSTxYr3ldvUl1TQ6".to_vec())]);
        got.clear();
        // Two elements, a spaced element, an unclosed array: nothing joined.
        for text in [
            &br#"["abcdefghijkl", "mnopqrstuvwxyz"]"#[..],
            br#"["ab", "c d", "efghijklmnopqrstuvw"]"#,
            br#"["abcdefgh", "ijklmnop", "qrstuvwx""#,
        ] {
            string_arrays(text, |at, j| got.push((at, j.to_vec())));
        }
        assert!(got.is_empty());
    }
}
