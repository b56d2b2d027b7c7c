//! The rule matcher: vectorised literal searchers (sixteen anchors each) find where an anchor
//! may start, one Aho-Corasick automaton over every rule's anchor literals confirms which
//! anchors start there, and each rule's regex then runs only in a small window around its
//! anchor. Clean text costs the vectorised searches; the automaton and the regexes run only
//! where a secret could begin.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind, Span, packed};
use regex::bytes::Regex;

use super::catalog::index_of;
use super::finding::Confidence;
use super::rules::checks::{
    base58check, github_crc, is_placeholder, is_well_known, looks_random, looks_random_body, mixed_case,
};
use super::rules::{Check, RULES, Rule, is_database_scheme};
use super::{DetectError, DetectorSet};

/// A secret's place in the scanned bytes, and the detector that found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub detector: usize,
    pub start: usize,
    pub end: usize,
    pub confidence: Confidence,
}

const MAX_RULES: usize = 64;
const _: () = assert!(RULES.len() <= MAX_RULES);

pub(crate) struct RuleSet {
    anchors: AhoCorasick,
    /// Where an anchor may start, found by vectorised searchers over sixteen anchors each (few
    /// enough that each has a bucket of its own, so a candidate is nearly always an anchor);
    /// `None` where the processor has no such searcher, and the automaton runs alone.
    starts: Option<Vec<packed::Searcher>>,
    /// The longest anchor: the automaton confirms a candidate within this many bytes.
    longest: usize,
    /// For each anchor pattern, the rules it starts.
    anchor_rules: Vec<Vec<usize>>,
    regexes: Vec<Regex>,
    detectors: Vec<usize>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.regexes.len())
            .field("anchors", &self.anchor_rules.len())
            .finish()
    }
}

impl RuleSet {
    pub(crate) fn new() -> Result<Self, DetectError> {
        let mut literals: Vec<&'static str> = Vec::new();
        let mut anchor_rules: Vec<Vec<usize>> = Vec::new();
        let mut regexes = Vec::with_capacity(RULES.len());
        let mut detectors = Vec::with_capacity(RULES.len());
        for (index, rule) in RULES.iter().enumerate() {
            let regex = Regex::new(rule.pattern).map_err(|e| DetectError::BadRule {
                rule: rule.name,
                message: e.to_string(),
            })?;
            regexes.push(regex);
            detectors.push(index_of(rule.detector).ok_or(DetectError::UnknownDetector {
                rule: rule.name,
                detector: rule.detector,
            })?);
            for anchor in rule.anchors {
                match literals.iter().position(|l| l == anchor) {
                    Some(at) => anchor_rules[at].push(index),
                    None => {
                        literals.push(anchor);
                        anchor_rules.push(vec![index]);
                    }
                }
            }
        }
        // Every occurrence of every anchor: one anchor must not hide another that starts
        // inside it (`sk.eyJ` and `eyJ`).
        // A DFA: a hundred anchors are too many for a vectorised prefilter, and the default
        // (a contiguous NFA) follows failure links byte by byte, several times slower.
        let anchors = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&literals)
            .map_err(|e| DetectError::BadRule {
                rule: "anchors",
                message: e.to_string(),
            })?;
        Ok(Self {
            anchors,
            starts: start_searchers(&literals),
            longest: literals.iter().map(|l| l.len()).max().unwrap_or(0),
            anchor_rules,
            regexes,
            detectors,
        })
    }

    /// Every rule match in `data` from an enabled detector.
    pub(crate) fn scan(&self, data: &[u8], enabled: DetectorSet, out: &mut Vec<Hit>) {
        // On the stack: scans of small decoded layers are frequent.
        let mut done_to = [0usize; MAX_RULES];
        // Short layers (decoded values, headers) are cheaper for the automaton alone than for
        // seven searches that each have a set-up cost.
        let starts = self.starts.as_ref().filter(|_| data.len() >= VECTORISED_FROM);
        let Some(starts) = starts else {
            for anchor in self.anchors.find_overlapping_iter(data) {
                self.anchored(
                    anchor.pattern().as_usize(),
                    data,
                    anchor.start(),
                    enabled,
                    &mut done_to,
                    out,
                );
            }
            return;
        };
        for at in candidates(starts, data) {
            let window = &data[at..(at + self.longest).min(data.len())];
            for anchor in self.anchors.find_overlapping_iter(window) {
                if anchor.start() == 0 {
                    self.anchored(anchor.pattern().as_usize(), data, at, enabled, &mut done_to, out);
                }
            }
        }
    }

    /// The rules of the anchor `pattern` found at `at`.
    fn anchored(
        &self,
        pattern: usize,
        data: &[u8],
        at: usize,
        enabled: DetectorSet,
        done_to: &mut [usize; MAX_RULES],
        out: &mut Vec<Hit>,
    ) {
        // `://` is everywhere; only an authority with `user:pass@` is worth a regex.
        if data[at..].starts_with(b"://") && !authority_has_password(&data[at..]) {
            return;
        }
        for &index in &self.anchor_rules[pattern] {
            if enabled.has_index(self.detectors[index]) {
                self.confirm(index, data, at, &mut done_to[index], out);
            }
        }
    }

    fn confirm(&self, index: usize, data: &[u8], at: usize, done_to: &mut usize, out: &mut Vec<Hit>) {
        let rule = &RULES[index];
        let from = at.saturating_sub(rule.before).max(*done_to);
        let to = (at + rule.after).min(data.len());
        if from >= to {
            return;
        }
        let regex = &self.regexes[index];
        let window = &data[from..to];
        // Capture groups cost a second engine; most rules have none.
        let spans: Vec<((usize, usize), (usize, usize))> = if regex.captures_len() == 1 {
            regex
                .find_iter(window)
                .map(|m| ((m.start(), m.end()), (m.start(), m.end())))
                .collect()
        } else {
            regex
                .captures_iter(window)
                .filter_map(|caps| {
                    let whole = caps.get(0)?;
                    let value = caps.iter().skip(1).flatten().last().unwrap_or(whole);
                    Some(((whole.start(), whole.end()), (value.start(), value.end())))
                })
                .collect()
        };
        for ((start, end), (value_start, value_end)) in spans {
            let (start, end) = (from + start, from + end);
            let (value_start, value_end) = (from + value_start, from + value_end);
            if rule.boundary && !at_boundary(data, start, end) {
                continue;
            }
            let sigv4 = rule.check == Check::AwsKeyId && is_sigv4_credential(&data[..start]);
            let passed = passes(rule, &data[start..end], &data[value_start..value_end]);
            if let Some(confidence) = passed.map(|c| if sigv4 { Confidence::Low } else { c }) {
                *done_to = end;
                out.push(Hit {
                    detector: self.detectors[index],
                    start: value_start,
                    end: value_end,
                    confidence,
                });
            }
        }
    }
}

/// Bytes from which the vectorised searchers pay for themselves.
const VECTORISED_FROM: usize = 512;

/// Sixteen anchors a searcher, `://` left out (every URL has one; [`url_candidates`] finds
/// those worth a look). `None` when the processor has no vectorised searcher.
fn start_searchers(literals: &[&str]) -> Option<Vec<packed::Searcher>> {
    let mut sorted: Vec<&str> = literals.iter().copied().filter(|l| *l != "://").collect();
    // Short anchors together: a searcher's fingerprint is as long as its shortest anchor.
    sorted.sort_by_key(|l| l.len());
    sorted
        .chunks(16)
        .map(|chunk| packed::Searcher::new(chunk.iter()))
        .collect()
}

/// Every offset at which an anchor may start, in order: each searcher's matches (a search
/// resumes one byte past a match's start, so an anchor starting inside another is found),
/// and the `://` of authorities that hold an `@`.
fn candidates(starts: &[packed::Searcher], data: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    for searcher in starts {
        let mut from = 0;
        while let Some(m) = searcher.find_in(data, Span::from(from..data.len())) {
            found.push(m.start());
            from = m.start() + 1;
        }
    }
    url_candidates(data, &mut found);
    found.sort_unstable();
    found.dedup();
    found
}

/// The `://` in front of each `@` that may close an authority's `user:pass`: the nearest one
/// before it with nothing between that ends an authority (what [`authority_has_password`]
/// reads forwards, read backwards from the `@`).
fn url_candidates(data: &[u8], out: &mut Vec<usize>) {
    for at in memchr::memchr_iter(b'@', data) {
        let floor = at.saturating_sub(URL_REACH);
        let back = data[floor..at]
            .iter()
            .rposition(|&b| ends_authority(b))
            .map_or(floor, |p| floor + p + 1);
        // The scheme's `://` ends where the authority starts: its `//` was the stop.
        if back >= 3 && data[..back].ends_with(b"//") && data[back - 3] == b':' {
            out.push(back - 3);
        }
    }
}

/// How far an authority is read forwards.
const AUTHORITY_LEN: usize = 256;

/// How far back from an `@` its `://` is looked for: the widest reach of the URL rules past
/// their anchor, so no `@` a rule could match through is missed (their user and password
/// exclude every byte that ends an authority).
const URL_REACH: usize = 320;

fn ends_authority(b: u8) -> bool {
    matches!(b, b'/' | b'?' | b'#' | b' ' | b'"' | b'\'' | b'<' | b'>' | b'\n')
}

fn is_sigv4_credential(before: &[u8]) -> bool {
    let tail = &before[before.len().saturating_sub(13)..];
    let lower = tail.to_ascii_lowercase();
    lower.ends_with(b"credential=") || lower.ends_with(b"credential%3d")
}

fn at_boundary(data: &[u8], start: usize, end: usize) -> bool {
    let left = start == 0 || !data[start - 1].is_ascii_alphanumeric();
    let right = end == data.len() || !data[end].is_ascii_alphanumeric();
    left && right
}

/// After `://`: the authority (up to `/ ? #` or a space or quote) holds `:` and then `@`.
fn authority_has_password(rest: &[u8]) -> bool {
    let authority = rest
        .iter()
        .skip(3)
        .take(AUTHORITY_LEN)
        .position(|&b| ends_authority(b))
        .map_or(&rest[3.min(rest.len())..], |n| &rest[3..3 + n]);
    match memchr::memrchr(b'@', authority) {
        Some(at) => authority[..at].contains(&b':'),
        None => false,
    }
}

/// Whether a match is a finding, and how sure it is. Well-known example values always are, and
/// so is every match of a [prefixed](Rule::prefixed) rule: its check only sets the confidence.
fn passes(rule: &Rule, whole: &[u8], value: &[u8]) -> Option<Confidence> {
    if is_well_known(value) {
        return Some(Confidence::Low);
    }
    if rule.prefixed {
        return Some(prefixed_confidence(rule.check, value));
    }
    if is_placeholder(value) {
        return None;
    }
    let high = |ok: bool| ok.then_some(Confidence::High);
    match rule.check {
        Check::None | Check::AwsKeyId => Some(Confidence::High),
        Check::GithubCrc => github_crc(value).then_some(Confidence::Verified),
        Check::Base58 => base58check(value).then_some(Confidence::Verified),
        Check::Random => high(looks_random_body(value)),
        Check::MixedCase => high(mixed_case(value)),
        Check::Password => high(!is_weak_password(value)),
        Check::BasicAuth => high(basic_credentials(value)),
        Check::UrlAuthority => {
            let scheme_end = memchr::memmem::find(whole, b"://").unwrap_or(0);
            let scheme = String::from_utf8_lossy(&whole[..scheme_end]);
            high(!is_database_scheme(&scheme) && !is_weak_password(value))
        }
    }
}

/// A checksum that holds verifies a prefixed token; randomness (and no placeholder look) makes
/// it likely; anything else is the shape alone.
fn prefixed_confidence(check: Check, value: &[u8]) -> Confidence {
    let verified = match check {
        Check::GithubCrc => github_crc(value),
        Check::Base58 => base58check(value),
        _ => false,
    };
    let random = match check {
        Check::MixedCase => mixed_case(value),
        _ => looks_random(value),
    };
    if verified {
        Confidence::Verified
    } else if random && !is_placeholder(value) {
        Confidence::High
    } else {
        Confidence::Low
    }
}

/// Base64 (RFC 7617) of `user:password` with a password that is neither a documentation
/// stand-in nor a placeholder.
fn basic_credentials(value: &[u8]) -> bool {
    use base64::Engine as _;
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value) else {
        return false;
    };
    let printable = decoded
        .iter()
        .all(|b| b.is_ascii_graphic() || *b == b' ' || *b >= 0x80);
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    let password = &decoded[colon + 1..];
    printable && !password.is_empty() && !is_weak_password(password) && !is_placeholder(password)
}

/// Passwords that documentation uses; real ones are rarely these.
pub(crate) fn is_weak_password(value: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    // A mask of any length (`*****`, `•••`, `xxxx`) stands where the password was.
    let text = String::from_utf8_lossy(value);
    let mask = !text.is_empty()
        && text
            .chars()
            .all(|c| matches!(c, '*' | '•' | '●' | '…' | 'x' | 'X'));
    mask || matches!(
        lower.as_slice(),
        b"password" | b"pass" | b"passwd" | b"secret" | b"pwd" | b"pw" | b"changeme"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text with anchors (and `://` authorities) dropped at random offsets, some overlapping.
    fn seeded_text(literals: &[&str], seed: u64) -> Vec<u8> {
        let mut state = seed;
        let mut next = |bound: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % bound
        };
        let filler = b"ab Z9_-.:/@\"= \nxQ~eyJsk";
        let mut text = Vec::new();
        while text.len() < 4000 {
            match next(6) {
                0 => text.extend_from_slice(literals[next(literals.len())].as_bytes()),
                1 => text.extend_from_slice(b"https://u:p@h/ x://y@z "),
                _ => text.push(filler[next(filler.len())]),
            }
        }
        text
    }

    #[test]
    fn candidates_cover_every_anchor_the_automaton_finds() {
        let rules = RuleSet::new().expect("rules compile");
        let Some(starts) = &rules.starts else {
            return; // no vectorised searcher here: the automaton runs alone
        };
        let mut literals: Vec<&str> = RULES.iter().flat_map(|r| r.anchors.iter().copied()).collect();
        literals.dedup();
        for seed in 0..40 {
            let text = seeded_text(&literals, seed);
            let found = candidates(starts, &text);
            for anchor in rules.anchors.find_overlapping_iter(&text) {
                let at = anchor.start();
                let url = text[at..].starts_with(b"://");
                if url && !authority_has_password(&text[at..]) {
                    continue;
                }
                assert!(
                    found.binary_search(&at).is_ok(),
                    "seed {seed}: anchor at {at} missed"
                );
            }
        }
    }
}
