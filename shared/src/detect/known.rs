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
    patterns: Vec<(usize, Option<Encoding>)>,
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
            for (text, encoding) in variants(value.expose()) {
                if !texts.contains(&text) {
                    texts.push(text);
                    patterns.push((index, encoding));
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
            let (value, encoding) = self.patterns[m.pattern().as_usize()];
            out.push(KnownHit {
                value,
                start: m.start(),
                encoding,
            });
        }
    }
}

/// The value and its encoded forms. Base64 of a value embedded in a longer encoded string
/// depends on its offset modulo 3, so each offset contributes the characters that depend on
/// the value's bytes alone.
fn variants(value: &[u8]) -> Vec<(Vec<u8>, Option<Encoding>)> {
    let mut out = vec![(value.to_vec(), None)];
    for shift in 0..3usize {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(value);
        let encoded = STANDARD_NO_PAD.encode(&padded);
        let first = (shift * 8).div_ceil(6);
        let last = (padded.len() * 8) / 6;
        let core = encoded.as_bytes()[first..last].to_vec();
        let url = URL_SAFE_NO_PAD.encode(&padded).as_bytes()[first..last].to_vec();
        out.push((core, Some(Encoding::Base64)));
        out.push((url, Some(Encoding::Base64)));
    }
    let lower: Vec<u8> = value
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect();
    out.push((lower.to_ascii_uppercase(), Some(Encoding::Hex)));
    out.push((lower, Some(Encoding::Hex)));
    let all: Vec<u8> = value
        .iter()
        .flat_map(|b| format!("%{b:02X}").into_bytes())
        .collect();
    out.push((all.to_ascii_lowercase(), Some(Encoding::Percent)));
    out.push((all, Some(Encoding::Percent)));
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
    out.push((reserved, Some(Encoding::Percent)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
