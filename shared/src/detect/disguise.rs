//! Text hidden from a reader rather than encoded for a machine: rotated by ROT13, written
//! backwards, or cut into labelled parts (`part 1/4: …`). No decoder marks where such text
//! begins, and rotating or reversing every layer would double the cost of every scan; so each
//! is looked for by its cues: the words and prefixes a credential is written beside
//! (`password`, `token`, `https://`, `ghp_`), as they read once rotated or reversed, looked
//! for only beside the layer's runs (a secret is a run, and its name is written next to it).
//! A cue found, the whole layer is walked undone once; the ordinary rules judge what it says.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use regex::bytes::Regex;

/// The largest layer walked rotated or reversed: past it, a disguised secret would ride in a
/// body larger than any config file or note.
pub(crate) const UNDONE_MAX: usize = 64 * 1024;
/// How far from a run its cue is looked for, on either side.
const REACH: usize = 48;
/// The most runs of a layer looked beside (a secret-dense body has thousands).
const MAX_RUNS: usize = 256;

/// Words and prefixes a credential is written beside, as written in the clear; each cue set
/// is these under one disguise. Words of four letters or more (or a prefix with its
/// punctuation), so that no ordinary text carries one by chance once it is disguised.
const CUES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "_key",
    "key_",
    "-key",
    "key-",
    "key=",
    "private",
    "credential",
    "authorization",
    "bearer",
    "https://",
    "http://",
    "postgres://",
    "mysql://",
    "mongodb",
    "begin",
    "ghp_",
    "gho_",
    "github_pat_",
    "glpat-",
    "npm_",
    "xoxb-",
    "xoxp-",
    "sk-ant-",
    "sk-proj-",
    "sk_live_",
    "akia",
    "asia",
    "aiza",
];

/// A disguise a layer may be undone from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disguise {
    Rot13,
    Reversed,
}

impl Disguise {
    const ALL: [Self; 2] = [Self::Rot13, Self::Reversed];

    /// What the disguise makes of `data` (and what undoes it: both are their own inverse).
    pub(crate) fn apply(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Rot13 => super::decode::base64::rot13(data),
            // Characters, not bytes, so that text around the secret stays text.
            Self::Reversed => match std::str::from_utf8(data) {
                Ok(text) => text.chars().rev().collect::<String>().into_bytes(),
                Err(_) => data.iter().rev().copied().collect(),
            },
        }
    }
}

/// Words a writer uses to say that a value is disguised (`"note": "rev"`, `reversed:`,
/// `rot13(…)`), each with the disguise it names and whether it must stand as a whole word
/// (`rev` inside `review` or `prev` names nothing). Looked for beside runs, as the cues are.
const STATED: &[(&str, Disguise, bool)] = &[
    ("rev", Disguise::Reversed, true),
    ("reverse", Disguise::Reversed, false),
    ("backward", Disguise::Reversed, false),
    ("rot13", Disguise::Rot13, false),
    ("rot-13", Disguise::Rot13, false),
    ("rot_13", Disguise::Rot13, false),
];

/// One pattern of the cue automaton: the disguise it reveals, and whether only a whole word
/// counts.
type CuePattern = (Disguise, bool);

/// The cues under every disguise, and the stated words, in one automaton (ASCII case
/// ignored), with what each pattern means. The cues are [`CUES`] and every rule's anchor of
/// four characters or more (`sk-or-v1-`, `glrt-`, `sq0csp-`): a token written backwards
/// ends with its vendor's prefix reversed, which no ordinary run does.
fn cues() -> &'static (AhoCorasick, Vec<CuePattern>) {
    static CUES_DISGUISED: OnceLock<(AhoCorasick, Vec<CuePattern>)> = OnceLock::new();
    CUES_DISGUISED.get_or_init(|| {
        let mut words: Vec<&str> = CUES.to_vec();
        for anchor in super::rules::RULES.iter().flat_map(|rule| rule.anchors) {
            if anchor.len() >= 4 && !words.iter().any(|w| w.eq_ignore_ascii_case(anchor)) {
                words.push(anchor);
            }
        }
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut meaning = Vec::new();
        for disguise in Disguise::ALL {
            for word in &words {
                patterns.push(disguise.apply(word.as_bytes()));
                meaning.push((disguise, false));
            }
        }
        for &(word, disguise, whole) in STATED {
            patterns.push(word.as_bytes().to_vec());
            meaning.push((disguise, whole));
        }
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns)
            .expect("a few hundred literals always compile"); // invariant: fixed input
        (automaton, meaning)
    })
}

/// The disguises whose cues stand beside one of `runs` (spans of `data`), when the layer is
/// small enough to be walked undone. The walk passes the runs that are not hex digits and
/// dashes alone: those are the commonest (UUIDs, hashes), no rotated text is one, and a secret
/// reversed into one is hex still, for the hex rules.
pub(crate) fn cued(data: &[u8], runs: &[(usize, usize)]) -> Vec<Disguise> {
    let mut found = Vec::new();
    if data.len() > UNDONE_MAX {
        return found;
    }
    let (automaton, meaning) = cues();
    let letter = |at: usize| data.get(at).is_some_and(u8::is_ascii_alphanumeric);
    let mut searched = 0;
    for &(start, end) in runs.iter().take(MAX_RUNS) {
        let from = start.saturating_sub(REACH).max(searched);
        let to = (end + REACH).min(data.len());
        if from >= to {
            continue;
        }
        searched = to;
        for hit in automaton.find_iter(&data[from..to]) {
            let (disguise, whole) = meaning[hit.pattern().as_usize()];
            let (at, after) = (from + hit.start(), from + hit.end());
            if whole && ((at > 0 && letter(at - 1)) || letter(after)) {
                continue;
            }
            if !found.contains(&disguise) {
                found.push(disguise);
            }
        }
        if found.len() == Disguise::ALL.len() {
            break;
        }
    }
    found
}

/// The most parts joined; the longest part.
const MAX_PARTS: usize = 32;
const MAX_PART: usize = 512;
/// How far before its count a label begins (`fragmento # 1/4`).
const LABEL_REACH: usize = 24;

/// One labelled part: where its label starts, its number, the count, its value.
type Part<'d> = (usize, usize, usize, &'d [u8]);

/// The longest XOR key taken from the text.
const MAX_XOR_KEY: usize = 32;
/// How far from the cue a run XORed with its key may stand.
const XOR_REACH: usize = 1024;

/// Bytes XORed with a key the text states beside them (`"encoding": "xor with key 'proxy',
/// hex"`, `xor(data, key="k3y")`, `XOR key: s3cr`): the cue `xor` with a key after it, then
/// each hex or base64 run near the cue, decoded and XORed with the key repeated. Returns the
/// runs that come out as text, each with where it starts. A stated key makes the disguise a
/// lookup, not a search: nothing is guessed.
pub(crate) fn stated_xor(data: &[u8], runs: &[(usize, usize)]) -> Vec<(usize, Vec<u8>)> {
    let mut plain = Vec::new();
    let cue = ["xor", "XOR", "Xor"]
        .iter()
        .filter_map(|c| memchr::memmem::find(data, c.as_bytes()))
        .min();
    let Some(key) = cue.and_then(|at| stated_key(&data[at + 3..data.len().min(at + 3 + REACH)])) else {
        return plain;
    };
    let cue = cue.unwrap_or(0);
    for &(start, end) in runs.iter().take(MAX_RUNS) {
        if end - start < 16 || start.abs_diff(cue) > XOR_REACH {
            continue;
        }
        let run = &data[start..end];
        let bytes = if run.len() % 2 == 0 && run.iter().all(u8::is_ascii_hexdigit) {
            super::decode::base64::decode_hex_run(run)
        } else {
            super::decode::base64::decode_run(run)
        };
        let Some(bytes) = bytes else {
            continue;
        };
        let text: Vec<u8> = bytes.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k).collect();
        if super::decode::is_texty(&text, 95) {
            plain.push((start, text));
        }
    }
    plain
}

/// The key a cue's text states: the word `key`, then (past a quote that closes the word, a
/// `:` or `=`, spaces) a quoted string or a bare word of letters and digits.
fn stated_key(after: &[u8]) -> Option<&[u8]> {
    let at = after.windows(3).position(|w| w.eq_ignore_ascii_case(b"key"))? + 3;
    let mut rest = &after[at..];
    if matches!(rest, [b'"' | b'\'', b':' | b'=', ..]) {
        rest = &rest[1..];
    }
    let skip = rest
        .iter()
        .take_while(|b| matches!(b, b' ' | b':' | b'=' | b'\t'))
        .count();
    rest = &rest[skip..];
    let key = match rest.first() {
        Some(&quote @ (b'\'' | b'"' | b'`')) => {
            let body = &rest[1..];
            &body[..body.iter().take(MAX_XOR_KEY + 1).position(|&b| b == quote)?]
        }
        _ => &rest[..rest.iter().take_while(|b| b.is_ascii_alphanumeric()).count()],
    };
    (1..=MAX_XOR_KEY).contains(&key.len()).then_some(key)
}

/// Values cut into numbered parts, each behind its label (`part 1/4: …`, `chunk 2 of 5 = …`,
/// `[3/3] …`), joined in their order when every part from 1 to the count is there. The label
/// says the pieces make one value; what they make is for the rules to judge. Returns where the
/// first label starts and the joined value.
pub(crate) fn labelled_parts(data: &[u8]) -> Option<(usize, Vec<u8>)> {
    // The label is looked for only around a count (`1/4`, `2 of 5`): one byte search for `/`
    // and one for ` of `, then the pattern over the stretch each count may belong to.
    let mut parts: Vec<Part<'_>> = Vec::new();
    let mut searched = 0;
    let counts = memchr::memchr_iter(b'/', data)
        .filter(|&at| beside_digits(data, at, at + 1))
        .chain(memchr::memmem::find_iter(data, b" of ").filter(|&at| beside_digits(data, at, at + 4)));
    for at in counts.take(MAX_PARTS * 4) {
        let from = at.saturating_sub(LABEL_REACH).max(searched);
        let to = (at + LABEL_REACH + MAX_PART).min(data.len());
        if from < to {
            searched = to;
            collect_parts(data, from, to, &mut parts);
        }
    }
    parts.sort_unstable_by_key(|p| p.0);
    parts.dedup_by_key(|p| p.0);
    // The first count every part of which is there, joined in the order of its numbers.
    for &(_, _, n, _) in &parts {
        let numbered: Option<Vec<&Part<'_>>> = (1..=n)
            .map(|k| parts.iter().find(|p| p.1 == k && p.2 == n))
            .collect();
        if let Some(numbered) = numbered {
            let first = numbered.iter().map(|p| p.0).min().unwrap_or(0);
            return Some((first, numbered.iter().flat_map(|p| p.3.iter().copied()).collect()));
        }
    }
    None
}

/// A digit just before `before` and just after `after`, a space allowed between.
fn beside_digits(data: &[u8], before: usize, after: usize) -> bool {
    let near = |bytes: &mut dyn Iterator<Item = &u8>| {
        bytes
            .take(2)
            .find(|&&b| b != b' ')
            .is_some_and(u8::is_ascii_digit)
    };
    near(&mut data[..before].iter().rev()) && near(&mut data[after..].iter())
}

/// The labelled parts in `data[from..to]`, added to `parts`.
fn collect_parts<'d>(data: &'d [u8], from: usize, to: usize, parts: &mut Vec<Part<'d>>) {
    static LABEL: OnceLock<Regex> = OnceLock::new();
    let label = LABEL.get_or_init(|| {
        Regex::new(
            r"(?i)(?:\b(?:part|chunk|piece|segment|fragment|frag|fragmento|shard|slice|teil|partie|parte)\s*#?\s*|\[)([0-9]{1,2})\s*(?:/|of)\s*([0-9]{1,2})\s*(?:\]\s*)?[:=)\-]?[ \t]*([^\s\x22',;<>\\]{1,512})",
        )
        .expect("fixed label pattern always compiles") // invariant: fixed input
    });
    for caps in label.captures_iter(&data[from..to]) {
        let number = |i: usize| std::str::from_utf8(&caps[i]).ok()?.parse::<usize>().ok();
        let (Some(k), Some(n)) = (number(1), number(2)) else {
            continue;
        };
        if (2..=MAX_PARTS).contains(&n) && (1..=n).contains(&k) && parts.len() < MAX_PARTS * 4 {
            let start = from + caps.get(0).map_or(0, |m| m.start());
            let value = caps.get(3).map_or(&[][..], |m| m.as_bytes());
            parts.push((start, k, n, value));
        }
    }
}

/// The most literals of one concatenation joined.
const MAX_LITERALS: usize = 64;

/// String literals joined by `+` (`'AWS_SECRE' + 'T_ACCESS_' + 'KEY=…'`, as code and
/// obfuscators write a value they do not want read whole), three or more, joined into the
/// string the code makes. Returns where each chain starts and what it makes.
pub(crate) fn concatenations(data: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    // The cheap test: a quote, then `+` after at most a few spaces.
    let glued = |at: usize| {
        let gap = &data[at..data.len().min(at + 8)];
        gap.iter()
            .position(|&b| b == b'+')
            .is_some_and(|p| gap[..p].iter().all(u8::is_ascii_whitespace))
    };
    if !memchr::memchr2_iter(b'\'', b'"', data).any(|at| glued(at + 1)) {
        return out;
    }
    static CHAIN: OnceLock<Regex> = OnceLock::new();
    static LITERAL: OnceLock<Regex> = OnceLock::new();
    let chain = CHAIN.get_or_init(|| {
        Regex::new(r#"(?:(?:'[^'\\\n]{0,128}'|"[^"\\\n]{0,128}")[ \t]*\+[ \t]*){2,}(?:'[^'\\\n]{0,128}'|"[^"\\\n]{0,128}")"#)
            .expect("a fixed pattern compiles") // invariant: fixed input
    });
    let literal = LITERAL.get_or_init(|| {
        Regex::new(r#"'([^'\\\n]{0,128})'|"([^"\\\n]{0,128})""#).expect("a fixed pattern compiles") // invariant: fixed input
    });
    for found in chain.find_iter(data).take(MAX_LITERALS) {
        let joined: Vec<u8> = literal
            .captures_iter(found.as_bytes())
            .take(MAX_LITERALS)
            .filter_map(|c| c.get(1).or(c.get(2)))
            .flat_map(|m| m.as_bytes().iter().copied())
            .collect();
        out.push((found.start(), joined));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cued_in(data: &[u8]) -> Vec<Disguise> {
        let mut runs = Vec::new();
        let hex = |run: &[u8]| run.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-');
        super::super::runs::for_each_run(data, |s, e| {
            if !hex(&data[s..e]) {
                runs.push((s, e))
            }
        });
        cued(data, &runs)
    }

    #[test]
    fn disguised_cues_beside_runs_are_found_and_plain_text_is_left() {
        let rotated = Disguise::Rot13
            .apply(b"//registry.npmjs.org/:_authToken=npm_MhcONIzxPENy0vvxHP3kW1iHhHodz06FEEzY");
        assert_eq!(cued_in(&rotated), [Disguise::Rot13]);
        let reversed = Disguise::Reversed.apply(b"AWS_SECRET_ACCESS_KEY=Y5KTP6ISN2AXBH5BAISA");
        assert_eq!(cued_in(&reversed), [Disguise::Reversed]);
        assert_eq!(
            Disguise::Reversed.apply(&reversed),
            b"AWS_SECRET_ACCESS_KEY=Y5KTP6ISN2AXBH5BAISA"
        );
        // Ordinary text and its runs carry none of the disguised cues.
        let plain = b"The quick brown fox (id 3b9ea89d-bf45-4a81-92ca-91c87a067a4c) jumps over the lazy dog.";
        assert!(cued_in(plain).is_empty());
        // Nor does a cue away from every run count.
        let far = [
            &Disguise::Rot13.apply(b"password")[..],
            &[b' '; 80],
            b"3b9ea89d-bf45-4a81-92ca-91c87a067a4c",
        ]
        .concat();
        assert!(cued_in(&far).is_empty());
    }

    #[test]
    fn a_stated_disguise_or_a_reversed_vendor_prefix_is_a_cue() {
        // The text says so: `rev` as a word, `reversed`, `rot13`.
        let token = Disguise::Reversed.apply(b"SK3aec31163251ccf842ff4f3a0e7d6475");
        let noted = [&br#"{"note": "rev", "v": ""#[..], &token, b"\"}"].concat();
        assert_eq!(cued_in(&noted), [Disguise::Reversed]);
        let rotated = [
            &b"rot13: "[..],
            &Disguise::Rot13.apply(b"SK3aec31163251ccf842ff4f3a0e7d6475"),
        ]
        .concat();
        assert_eq!(cued_in(&rotated), [Disguise::Rot13]);
        // `rev` inside a word names nothing.
        let review = [&b"review "[..], &token].concat();
        assert!(cued_in(&review).is_empty());
        // A token written backwards ends with its vendor's prefix reversed.
        let backwards = Disguise::Reversed
            .apply(b"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");
        assert_eq!(cued_in(&[&b"?v="[..], &backwards].concat()), [Disguise::Reversed]);
    }

    #[test]
    fn concatenated_literals_are_joined() {
        let code = br#"const t = 'AWS_SECRE' + 'T_ACCESS_' + "KEY=abc";"#;
        assert_eq!(
            concatenations(code),
            [(10, b"AWS_SECRET_ACCESS_KEY=abc".to_vec())]
        );
        assert!(concatenations(br#"x = 'a' + b; y = "it is" + " fine""#).is_empty());
    }

    fn runs(data: &[u8]) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        super::super::runs::for_each_run(data, |s, e| runs.push((s, e)));
        runs
    }

    #[test]
    fn data_xored_with_a_stated_key_is_undone() {
        let secret = b"postgres://app:Tq8vX2mLp9Rz@db.internal:5432/app";
        let hex: String = secret
            .iter()
            .zip(b"proxy".iter().cycle())
            .map(|(b, k)| format!("{:02x}", b ^ k))
            .collect();
        for text in [
            format!(r#"{{"data": "{hex}", "encoding": "xor with key 'proxy', hex"}}"#),
            format!(r#"{{"xor": {{"key": "proxy"}}, "blob": "{hex}"}}"#),
            format!("XOR key=proxy\n{hex}"),
        ] {
            let plain = stated_xor(text.as_bytes(), &runs(text.as_bytes()));
            assert!(plain.iter().any(|(_, p)| p == secret), "{text}");
        }
        // No key stated: nothing is guessed.
        let bare = format!("xor of the two hashes: {hex}");
        assert!(stated_xor(bare.as_bytes(), &runs(bare.as_bytes())).is_empty());
    }

    #[test]
    fn labelled_parts_are_joined_in_order_only_when_all_are_there() {
        let text = b"part 2/3: bbb\npart 1/3: aaa\npart 3/3: ccc\n";
        assert_eq!(labelled_parts(text), Some((0, b"aaabbbccc".to_vec())));
        assert_eq!(labelled_parts(b"[1/2] xx [2/2] yy"), Some((0, b"xxyy".to_vec())));
        assert_eq!(
            labelled_parts(b"DEBUG frag 1/2 ab\nDEBUG frag 2/2 cd"),
            Some((6, b"abcd".to_vec()))
        );
        assert_eq!(labelled_parts(b"part 1/3: aaa\npart 3/3: ccc"), None);
        assert_eq!(labelled_parts(b"page 1/3 of the report"), None);
    }
}
