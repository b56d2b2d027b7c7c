//! The rule matcher: one Aho-Corasick automaton over every rule's anchor literals finds the
//! few places worth a regex, and each rule's regex then runs only in a small window around
//! its anchor. Clean text costs one literal search; the regexes run only where a secret could
//! begin.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

use super::catalog::index_of;
use super::finding::Confidence;
use super::rules::checks::{
    base58check, github_crc, is_placeholder, is_well_known, looks_random, mixed_case,
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
        let anchors = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&literals)
            .map_err(|e| DetectError::BadRule {
                rule: "anchors",
                message: e.to_string(),
            })?;
        Ok(Self {
            anchors,
            anchor_rules,
            regexes,
            detectors,
        })
    }

    /// Every rule match in `data` from an enabled detector.
    pub(crate) fn scan(&self, data: &[u8], enabled: DetectorSet, out: &mut Vec<Hit>) {
        // On the stack: scans of small decoded layers are frequent.
        let mut done_to = [0usize; MAX_RULES];
        for anchor in self.anchors.find_overlapping_iter(data) {
            // `://` is everywhere; only an authority with `user:pass@` is worth a regex.
            let url = data[anchor.start()..].starts_with(b"://");
            if url && !authority_has_password(&data[anchor.start()..]) {
                continue;
            }
            for &index in &self.anchor_rules[anchor.pattern().as_usize()] {
                if enabled.has_index(self.detectors[index]) {
                    self.confirm(index, data, anchor.start(), &mut done_to[index], out);
                }
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
            if rule.check == Check::AwsKeyId && is_sigv4_credential(&data[..start]) {
                continue;
            }
            if let Some(confidence) = passes(rule, &data[start..end], &data[value_start..value_end]) {
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
        .take(256)
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b' ' | b'"' | b'\'' | b'<' | b'>' | b'\n'))
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
        Check::Random => high(looks_random(value)),
        Check::MixedCase => high(mixed_case(value)),
        Check::Password => high(!is_weak_password(value)),
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

/// Passwords that documentation uses; real ones are rarely these.
pub(crate) fn is_weak_password(value: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    matches!(
        lower.as_slice(),
        b"password" | b"pass" | b"passwd" | b"secret" | b"pwd" | b"pw" | b"changeme" | b"***"
    )
}
