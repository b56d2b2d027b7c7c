//! Known-secret matching: exact values an operator lists and values Tollgate issued
//! (credentials and placeholders), per tenant or per invocation. Each value is also matched in
//! its base64 (both alphabets, all three alignments), hex and percent-encoded forms. Only these
//! exact byte strings match, so there are no false positives by construction.

use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use super::finding::Encoding;
use super::secret::SecretBytes;

/// Values shorter than this could occur by chance and are refused.
pub const MIN_KNOWN_LEN: usize = 8;

/// A set of exact values to catch, compiled for matching.
pub struct KnownSecrets {
    automaton: Option<AhoCorasick>,
    /// For each automaton pattern: which value, seen through which encoding.
    patterns: Vec<Pattern>,
    values: Vec<SecretBytes>,
}

impl fmt::Debug for KnownSecrets {
    // The automaton encodes the values; only counts are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnownSecrets")
            .field("values", &self.values.len())
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KnownSecretError {
    #[error("known secret #{index} is {len} bytes; values under {MIN_KNOWN_LEN} bytes would match by chance")]
    TooShort { index: usize, len: usize },
    #[error("cannot compile the known-secret matcher: {0}")]
    Build(String),
}

/// One automaton pattern: which value, through which encoding, and for base64 the bits the
/// value shares with the characters on either side.
#[derive(Debug, Clone, Copy)]
struct Pattern {
    value: usize,
    encoding: Option<Encoding>,
    edges: Edges,
}

/// In base64 a value embedded at an offset shares its first and last characters with the
/// data around it. The automaton matches only the characters the value fills alone; these
/// are the value's remaining bits, checked in the characters just before and after a match,
/// so that a value differing only in those bits does not match (no false positive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Edges {
    /// The value's top `head_bits` bits are the low bits of the character before the match.
    head_bits: u8,
    head: u8,
    /// The value's low `tail_bits` bits are the top bits of the character after the match.
    tail_bits: u8,
    tail: u8,
}

impl Edges {
    fn hold(self, data: &[u8], start: usize, end: usize) -> bool {
        let sextet_at = |i: Option<usize>| i.and_then(|i| data.get(i)).and_then(|&c| sextet(c));
        let head = self.head_bits == 0
            || sextet_at(start.checked_sub(1)).is_some_and(|s| s & ((1 << self.head_bits) - 1) == self.head);
        let tail = self.tail_bits == 0
            || sextet_at(Some(end)).is_some_and(|s| s >> (6 - self.tail_bits) == self.tail);
        head && tail
    }
}

/// The 6-bit value of a base64 character, either alphabet.
fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// A match of a known value: the bytes matched and the encoding they were in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KnownHit {
    pub value: usize,
    pub start: usize,
    pub encoding: Option<Encoding>,
}

impl KnownSecrets {
    pub fn new(values: impl IntoIterator<Item = SecretBytes>) -> Result<Self, KnownSecretError> {
        let values: Vec<SecretBytes> = values.into_iter().collect();
        let mut texts: Vec<Vec<u8>> = Vec::new();
        let mut patterns = Vec::new();
        for (index, value) in values.iter().enumerate() {
            if value.len() < MIN_KNOWN_LEN {
                return Err(KnownSecretError::TooShort {
                    index,
                    len: value.len(),
                });
            }
            for (text, encoding, edges) in variants(value.expose()) {
                if !texts.contains(&text) {
                    texts.push(text);
                    patterns.push(Pattern {
                        value: index,
                        encoding,
                        edges,
                    });
                }
            }
        }
        let automaton = if texts.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&texts)
                    .map_err(|e| KnownSecretError::Build(e.to_string()))?,
            )
        };
        Ok(Self {
            automaton,
            patterns,
            values,
        })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub(crate) fn value(&self, index: usize) -> &SecretBytes {
        &self.values[index]
    }

    pub(crate) fn scan(&self, data: &[u8], out: &mut Vec<KnownHit>) {
        let Some(automaton) = &self.automaton else { return };
        for m in automaton.find_iter(data) {
            let pattern = self.patterns[m.pattern().as_usize()];
            if pattern.edges.hold(data, m.start(), m.end()) {
                out.push(KnownHit {
                    value: pattern.value,
                    start: m.start(),
                    encoding: pattern.encoding,
                });
            }
        }
    }
}

/// The value and its encoded forms. Base64 of a value embedded in a longer encoded string
/// depends on its offset modulo 3, so each offset contributes the characters that depend on
/// the value's bytes alone.
fn variants(value: &[u8]) -> Vec<(Vec<u8>, Option<Encoding>, Edges)> {
    let plain = Edges::default();
    let mut out = vec![(value.to_vec(), None, plain)];
    for shift in 0..3usize {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(value);
        let encoded = STANDARD_NO_PAD.encode(&padded);
        let first = (shift * 8).div_ceil(6);
        let last = (padded.len() * 8) / 6;
        let core = encoded.as_bytes()[first..last].to_vec();
        let url = URL_SAFE_NO_PAD.encode(&padded).as_bytes()[first..last].to_vec();
        // Bit counts are below 8 and the masked values fit in a byte.
        let head_bits = (first * 6 - shift * 8) as u8;
        let tail_bits = (padded.len() * 8 - last * 6) as u8;
        let edges = Edges {
            head_bits,
            head: value
                .first()
                .map_or(0, |b| b.checked_shr(8 - u32::from(head_bits)).unwrap_or(0)),
            tail_bits,
            tail: value.last().map_or(0, |b| b & ((1u16 << tail_bits) - 1) as u8),
        };
        out.push((core, Some(Encoding::Base64), edges));
        out.push((url, Some(Encoding::Base64), edges));
    }
    let lower: Vec<u8> = value
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect();
    out.push((lower.to_ascii_uppercase(), Some(Encoding::Hex), plain));
    out.push((lower, Some(Encoding::Hex), plain));
    let all: Vec<u8> = value
        .iter()
        .flat_map(|b| format!("%{b:02X}").into_bytes())
        .collect();
    out.push((all.to_ascii_lowercase(), Some(Encoding::Percent), plain));
    out.push((all, Some(Encoding::Percent), plain));
    let reserved: Vec<u8> = value
        .iter()
        .flat_map(|&b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                vec![b]
            } else {
                format!("%{b:02X}").into_bytes()
            }
        })
        .collect();
    out.push((reserved, Some(Encoding::Percent), plain));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_check_the_bits_shared_with_neighbours() {
        let set = KnownSecrets::new([SecretBytes::new(b"secret-value-4417".to_vec())]).expect("long enough");
        for prefix in ["", "a", "ab"] {
            for (candidate, expected) in [
                ("secret-value-4417", 1),
                ("secret-value-4418", 0),
                ("tecret-value-4417", 0),
            ] {
                let blob = format!("{prefix}{candidate} and the rest");
                for encoded in [STANDARD_NO_PAD.encode(&blob), URL_SAFE_NO_PAD.encode(&blob)] {
                    let base64_hits = hits(&set, encoded.as_bytes())
                        .into_iter()
                        .filter(|e| *e == Some(Encoding::Base64))
                        .count();
                    assert_eq!(base64_hits, expected, "{candidate:?} after {prefix:?}");
                }
            }
        }
    }

    fn hits(set: &KnownSecrets, data: &[u8]) -> Vec<Option<Encoding>> {
        let mut out = Vec::new();
        set.scan(data, &mut out);
        out.iter().map(|h| h.encoding).collect()
    }

    #[test]
    fn matches_value_in_every_form_and_offset() {
        let value = b"tg-placeholder-7f3a9c1e";
        let set = KnownSecrets::new([SecretBytes::new(value.to_vec())]).expect("long enough");
        assert_eq!(hits(&set, b"x tg-placeholder-7f3a9c1e y"), vec![None]);
        for prefix in ["", "a", "ab", "abc"] {
            let mut blob = prefix.as_bytes().to_vec();
            blob.extend_from_slice(value);
            blob.extend_from_slice(b"tail");
            let b64 = STANDARD_NO_PAD.encode(&blob);
            assert_eq!(
                hits(&set, b64.as_bytes()),
                vec![Some(Encoding::Base64)],
                "prefix {prefix:?}"
            );
        }
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hits(&set, hex.as_bytes()), vec![Some(Encoding::Hex)]);
        let pct: String = value.iter().map(|b| format!("%{b:02x}")).collect();
        assert_eq!(hits(&set, pct.as_bytes()), vec![Some(Encoding::Percent)]);
        assert!(hits(&set, b"tg-placeholder-7f3a9c1f").is_empty());
    }

    #[test]
    fn short_values_are_refused_and_debug_hides_values() {
        let err = KnownSecrets::new([SecretBytes::new(b"short".to_vec())]).err();
        assert_eq!(err, Some(KnownSecretError::TooShort { index: 0, len: 5 }));
        let set = KnownSecrets::new([SecretBytes::new(b"supersecretvalue".to_vec())]).expect("ok");
        assert!(!format!("{set:?}").contains("supersecret"));
    }
}
