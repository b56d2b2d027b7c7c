//! How much unexplained data a request carries out in its names and URL, for the information
//! budget: a patient tool can leak a secret two characters at a time, each request innocent
//! on its own. The estimate, so that it can be argued about:
//!
//! - A request is cut into *pieces*: maximal runs of ASCII letters and digits in the hostname
//!   labels left of the registrable domain, the path, the query (names and values) and the
//!   header values (except headers whose values the protocol itself makes fresh or that carry
//!   the credentials the secret detectors judge: trace ids, dates, lengths, digests, keys).
//! - A piece already sent to the same destination by the same invocation costs nothing: a
//!   value repeated carries no new information.
//! - A piece that reads as a word (four letters or more, one case or capitalised, vowels and
//!   consonants as words have them) costs nothing: words are explained by language. A UUID is
//!   explained by its grammar.
//! - Any other piece costs `len × log2(alphabet)` bits, the alphabet being the smallest of
//!   digits (10), hex (16), one-case letters (26), one-case letters and digits (36),
//!   mixed-case letters (52) and letters and digits (62). That is the most it can carry, so
//!   the count is an upper bound for random data and near zero for ordinary traffic.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

/// Pieces remembered per destination; past this the oldest are not forgotten but new ones
/// are charged every time (a bound on memory, never a way to send for free).
const MAX_SEEN: usize = 8192;

/// What one invocation has sent to one destination so far.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    seen: HashSet<u64>,
    bits: f64,
}

impl Ledger {
    /// Bits charged so far.
    pub fn bits(&self) -> f64 {
        self.bits
    }

    /// What `pieces` would cost, without charging them.
    pub fn cost<'p>(&self, pieces: impl IntoIterator<Item = &'p [u8]>) -> f64 {
        let mut fresh = HashSet::new();
        pieces
            .into_iter()
            .filter(|p| {
                let key = key_of(p);
                !self.seen.contains(&key) && fresh.insert(key)
            })
            .map(bits_of)
            .sum()
    }

    /// Charges `pieces` and remembers them.
    pub fn charge<'p>(&mut self, pieces: impl IntoIterator<Item = &'p [u8]>) {
        for piece in pieces {
            let key = key_of(piece);
            if self.seen.contains(&key) {
                continue;
            }
            self.bits += bits_of(piece);
            if self.seen.len() < MAX_SEEN {
                self.seen.insert(key);
            }
        }
    }
}

/// The pieces of one request as a shared ledger charges them: each distinct piece once, with
/// the key that marks it seen and what it costs.
pub fn priced<'p>(pieces: impl IntoIterator<Item = &'p [u8]>) -> Vec<(u64, f64)> {
    let mut keys = HashSet::new();
    pieces
        .into_iter()
        .filter_map(|piece| {
            let key = key_of(piece);
            keys.insert(key).then(|| (key, bits_of(piece)))
        })
        .collect()
}

/// Pieces a shared ledger remembers per destination (the same bound as [`Ledger`]'s).
pub const SHARED_MAX_SEEN: usize = MAX_SEEN;

fn key_of(piece: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    piece.hash(&mut hasher);
    hasher.finish()
}

/// Headers whose values the protocol makes fresh on every request, or that carry the
/// credentials the secret detectors judge: not counted.
const EXPLAINED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "private-token",
    "traceparent",
    "tracestate",
    "baggage",
    "x-request-id",
    "x-correlation-id",
    "x-amzn-trace-id",
    "x-cloud-trace-context",
    "sentry-trace",
    "idempotency-key",
    "date",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "content-length",
    "content-md5",
    "digest",
    "content-digest",
    "if-none-match",
    "if-match",
    "sec-websocket-key",
    "host",
];

/// Whether a header's value is left out of the count.
pub fn explained_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    EXPLAINED_HEADERS.contains(&name.as_str()) || name.starts_with("x-b3-")
}

/// The pieces of `text` (one of a request's parts), UUIDs left out.
pub fn pieces(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    for token in text.split(|b| !b.is_ascii_alphanumeric() && *b != b'-') {
        if is_uuid(token) {
            continue;
        }
        out.extend(token.split(|b| *b == b'-').filter(|p| !p.is_empty()));
    }
    out
}

/// The labels of `host` left of its registrable domain: those are what a name carries.
pub fn host_pieces(host: &str) -> Vec<&[u8]> {
    let host = host.trim_end_matches('.');
    let registrable = psl::domain_str(host).unwrap_or(host);
    let sub = host.strip_suffix(registrable).unwrap_or("").trim_end_matches('.');
    pieces(sub.as_bytes())
}

/// The destination a ledger is kept for: the registrable domain, so that every name under
/// one wildcard shares one budget.
pub fn destination(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&host).unwrap_or(&host).to_owned()
}

/// The most `piece` can carry, in bits; 0 for a word.
pub fn bits_of(piece: &[u8]) -> f64 {
    if is_word(piece) {
        return 0.0;
    }
    let digits = piece.iter().any(u8::is_ascii_digit);
    let lower = piece.iter().any(u8::is_ascii_lowercase);
    let upper = piece.iter().any(u8::is_ascii_uppercase);
    let hex = piece.iter().all(u8::is_ascii_hexdigit) && !(lower && upper);
    let alphabet: f64 = match (digits, lower, upper) {
        (true, false, false) => 10.0,
        _ if hex && digits => 16.0,
        (false, true, false) | (false, false, true) => 26.0,
        (true, true, false) | (true, false, true) => 36.0,
        (false, true, true) => 52.0,
        _ => 62.0,
    };
    piece.len() as f64 * alphabet.log2()
}

/// Four letters or more in one case (or capitalised), with vowels among them as words have:
/// no run of five consonants, no run of three equal letters, and between a fifth and
/// two thirds vowels.
pub(crate) fn is_word(piece: &[u8]) -> bool {
    if piece.len() < 4 || !piece.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let rest = &piece[1..];
    let one_case = rest.iter().all(u8::is_ascii_lowercase) || piece.iter().all(u8::is_ascii_uppercase);
    if !one_case {
        return false;
    }
    let vowel = |b: &u8| matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u' | b'y');
    let vowels = piece.iter().filter(|b| vowel(b)).count();
    let share = vowels * 100 / piece.len();
    let mut consonant_run = 0;
    for b in piece {
        consonant_run = if vowel(b) { 0 } else { consonant_run + 1 };
        if consonant_run >= 5 {
            return false;
        }
    }
    let tripled = piece
        .windows(3)
        .any(|w| w[0].eq_ignore_ascii_case(&w[1]) && w[1].eq_ignore_ascii_case(&w[2]));
    (20..=67).contains(&share) && !tripled
}

fn is_uuid(token: &[u8]) -> bool {
    token.len() == 36
        && token.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_repeats_are_free_and_random_pieces_cost_their_alphabet() {
        for word in ["search", "Documentation", "rust", "collections", "HashMap"] {
            let cost = bits_of(word.as_bytes());
            // `HashMap` is two words run together: mixed case costs.
            assert_eq!(cost == 0.0, word != "HashMap", "{word}: {cost}");
        }
        assert!((bits_of(b"7f") - 8.0).abs() < 1e-9);
        assert!((bits_of(b"42") - 2.0 * 10f64.log2()).abs() < 1e-9);
        assert!((bits_of(b"aZ") - 2.0 * 52f64.log2()).abs() < 1e-9);
        assert!(bits_of(b"xkcdqwrt") > 0.0, "no vowels: not a word");
        let mut ledger = Ledger::default();
        ledger.charge(pieces(b"/search?q=7f"));
        let first = ledger.bits();
        // `search` is a word; the name `q` and the value `7f` are not.
        assert!((first - (8.0 + 26f64.log2())).abs() < 1e-9, "{first}");
        assert_eq!(ledger.cost(pieces(b"/search?q=7f")), 0.0);
        ledger.charge(pieces(b"/search?q=7f"));
        assert_eq!(ledger.bits(), first);
    }

    #[test]
    fn uuids_and_the_registrable_domain_are_explained() {
        assert!(
            pieces(b"/items/0b7e9a3c-1d2f-4e5a-8b6c-7d8e9f0a1b2c")
                .iter()
                .all(|p| p == b"items")
        );
        assert_eq!(
            host_pieces("ab12.cd34.wild.example.com"),
            vec![&b"ab12"[..], b"cd34", b"wild"]
        );
        assert_eq!(destination("A.B.Example.co.uk."), "example.co.uk");
    }

    #[test]
    fn a_forty_character_key_costs_at_least_two_hundred_bits_in_pairs() {
        let key = b"ghp_R8v2Kq9ZtLm4Xw7Pb3Nc6Yd1Fh5Js0GaQeTu";
        let mut ledger = Ledger::default();
        for pair in key.chunks(2) {
            ledger.charge(pieces(pair));
        }
        assert!(ledger.bits() >= 200.0, "{}", ledger.bits());
    }
}
